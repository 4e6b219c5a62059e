#!/usr/bin/env python3
"""A syslog socket for tests: binds a unix datagram socket at PATH and
appends every datagram it receives to OUT as one line (bytes as received,
a newline added).  Writes PATH.ready once bound; exits on SIGTERM or after
TIMEOUT seconds (default 60), whichever comes first.

  syslog_listen.py PATH OUT [TIMEOUT]
"""
import os
import signal
import socket
import sys
import time


def main():
	path, out = sys.argv[1], sys.argv[2]
	deadline = time.time() + (float(sys.argv[3]) if len(sys.argv) > 3 else 60.0)
	signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind(path)
	os.chmod(path, 0o666)
	s.settimeout(0.2)
	with open(path + ".ready", "w"):
		pass
	with open(out, "ab", buffering=0) as f:
		while time.time() < deadline:
			try:
				data = s.recv(1 << 20)
			except socket.timeout:
				continue
			f.write(data.rstrip(b"\n") + b"\n")


if __name__ == "__main__":
	main()
