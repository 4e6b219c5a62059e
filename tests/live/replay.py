#!/usr/bin/env python3
"""Send the frames of classic Ethernet pcap files out of one interface.

  replay.py IFACE FILE...

Frames go out in file order through an AF_PACKET socket, as captured (no
rewriting), a short pause between files.  Used by tests/live/fanout.sh on
a veth pair inside a namespace of its own; never on a real interface.
"""
import socket
import struct
import sys
import time


def frames(path):
	with open(path, "rb") as f:
		hdr = f.read(24)
		magic = struct.unpack("<I", hdr[:4])[0]
		endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
		if struct.unpack(endian + "I", hdr[20:24])[0] != 1:
			raise SystemExit(f"{path}: not an Ethernet capture")
		while True:
			rec = f.read(16)
			if len(rec) < 16:
				return
			_, _, caplen, _ = struct.unpack(endian + "IIII", rec)
			yield f.read(caplen)


def main():
	iface, paths = sys.argv[1], sys.argv[2:]
	s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
	s.bind((iface, 0))
	n = 0
	for p in paths:
		for fr in frames(p):
			s.send(fr)
			n += 1
			if n % 64 == 0:
				time.sleep(0.001)  # keep the receiving rings from overflowing
		time.sleep(0.02)
	print(n)


if __name__ == "__main__":
	main()
