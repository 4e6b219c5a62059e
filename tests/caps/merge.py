#!/usr/bin/env python3
"""Merge pcap captures so that their connections overlap in time.

usage: merge.py OUT STAGGER_MS IN.pcap [IN.pcap ...]

Each input's timestamps are shifted so that its first packet comes STAGGER_MS
milliseconds after the previous input's first packet; the packets of all inputs
are then written to OUT (classic pcap, microseconds) in timestamp order (ties
keep input order). The captures in pcaps/ were made one after another, so
merging them by their own timestamps would keep their connections apart;
shifted, the sessions of many real captures run at once, which is what the
flow-table cap must cope with.

An input whose TCP connections (address and port pairs) are already in an
earlier input is left out and named on stderr, so no two sessions are mistaken
for one. Every input must be a classic pcap with the link type of the first.
Needs only the Python standard library (CI may have no mergecap).
"""
import struct
import sys

MAGICS = {0xA1B2C3D4: ("<", 1000), 0xD4C3B2A1: (">", 1000),
	  0xA1B23C4D: ("<", 1), 0x4D3CB2A1: (">", 1)}	# byte order, ns per tick


def read_pcap(path):
	"""Return (linktype, [(ts_ns, frame bytes, orig_len)])."""
	with open(path, "rb") as f:
		data = f.read()
	if len(data) < 24:
		raise ValueError(f"{path}: too short for a pcap header")
	magic = struct.unpack("<I", data[:4])[0]
	if magic not in MAGICS:
		raise ValueError(f"{path}: not a classic pcap file (magic {magic:#x})")
	order, ns_per_tick = MAGICS[magic]
	linktype = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
	out, p = [], 24
	while p + 16 <= len(data):
		sec, frac, incl, orig = struct.unpack(order + "IIII", data[p:p + 16])
		p += 16
		if incl > len(data) - p:
			raise ValueError(f"{path}: truncated record at offset {p - 16}")
		out.append((sec * 1_000_000_000 + frac * ns_per_tick, data[p:p + incl], orig))
		p += incl
	if p != len(data):
		raise ValueError(f"{path}: {len(data) - p} trailing bytes")
	return linktype, out


def connections(linktype, frames):
	"""The set of unordered (address, port) pairs of the TCP segments (Ethernet or raw IP)."""
	conns = set()
	for _, frame, _ in frames:
		ip = frame[14:] if linktype == 1 else frame
		if linktype == 1 and frame[12:14] not in (b"\x08\x00", b"\x86\xdd"):
			continue
		if len(ip) >= 20 and ip[0] >> 4 == 4 and ip[9] == 6:
			hl = (ip[0] & 15) * 4
			src, dst, tcp = ip[12:16], ip[16:20], ip[hl:]
		elif len(ip) >= 40 and ip[0] >> 4 == 6 and ip[6] == 6:
			src, dst, tcp = ip[8:24], ip[24:40], ip[40:]
		else:
			continue
		if len(tcp) < 4:
			continue
		a, b = (src, tcp[0:2]), (dst, tcp[2:4])
		conns.add((min(a, b), max(a, b)))
	return conns


def main(argv):
	if len(argv) < 4:
		sys.exit(__doc__)
	out_path, stagger_ns = argv[1], int(float(argv[2]) * 1_000_000)
	linktype, merged, seen, base, kept = None, [], set(), None, 0
	for path in argv[3:]:
		lt, frames = read_pcap(path)
		if not frames:
			continue
		if linktype is None:
			linktype = lt
		elif lt != linktype:
			raise ValueError(f"{path}: link type {lt}, not {linktype}")
		conns = connections(lt, frames)
		if conns & seen:
			print(f"merge.py: left out {path}: a connection of it is in an earlier input",
			      file=sys.stderr)
			continue
		seen |= conns
		if base is None:
			base = frames[0][0]
		shift = base + kept * stagger_ns - frames[0][0]
		merged += [(ts + shift, kept, i, fr, orig) for i, (ts, fr, orig) in enumerate(frames)]
		kept += 1
	if linktype is None:
		sys.exit("merge.py: no packets in the inputs")
	merged.sort(key=lambda r: r[:3])
	with open(out_path, "wb") as f:
		f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
		for ts, _, _, frame, orig in merged:
			f.write(struct.pack("<IIII", ts // 1_000_000_000, ts % 1_000_000_000 // 1000,
					    len(frame), orig) + frame)
	print(f"merge.py: {kept} captures, {len(merged)} packets -> {out_path}", file=sys.stderr)


if __name__ == "__main__":
	main(sys.argv)
