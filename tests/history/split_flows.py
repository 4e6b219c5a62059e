#!/usr/bin/env python3
"""Write the packets of chosen TCP connections of a pcap to a new pcap.

  split_flows.py IN.pcap OUT.pcap N[,N...]

Connections are numbered from 1 in order of their first packet, by their
unordered 4-tuple. Classic pcap (either byte order, us or ns), Ethernet
with optional 802.1Q tags, IPv4 or IPv6. Test tooling for tests/history.
"""
import struct
import sys


def tuple_of(frame):
	off = 12
	etype = struct.unpack(">H", frame[off:off + 2])[0]
	off += 2
	while etype in (0x8100, 0x88A8):
		etype = struct.unpack(">H", frame[off + 2:off + 4])[0]
		off += 4
	if etype == 0x0800:
		ihl = (frame[off] & 15) * 4
		if frame[off + 9] != 6:
			return None
		src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
		tcp = off + ihl
	elif etype == 0x86DD:
		if frame[off + 6] != 6:
			return None
		src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
		tcp = off + 40
	else:
		return None
	sp, dp = struct.unpack(">HH", frame[tcp:tcp + 4])
	return frozenset([(src, sp), (dst, dp)])


def main():
	src, dst, want = sys.argv[1], sys.argv[2], {int(n) for n in sys.argv[3].split(",")}
	data = open(src, "rb").read()
	magic = data[:4]
	if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
		end = "<"
	elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
		end = ">"
	else:
		sys.exit(f"{src}: not a classic pcap file")
	if struct.unpack(end + "I", data[20:24])[0] != 1:
		sys.exit(f"{src}: not Ethernet")
	out = [data[:24]]
	seen = {}
	pos = 24
	while pos + 16 <= len(data):
		_, _, incl, _ = struct.unpack(end + "IIII", data[pos:pos + 16])
		rec = data[pos:pos + 16 + incl]
		pos += 16 + incl
		t = tuple_of(rec[16:])
		if t is None:
			continue
		n = seen.setdefault(t, len(seen) + 1)
		if n in want:
			out.append(rec)
	open(dst, "wb").write(b"".join(out))


if __name__ == "__main__":
	main()
