#!/usr/bin/env python3
"""make_sessions.py OUTDIR - write small hand-written sessions as pcaps, for
tests that must run without ../shared (CI): each one raises a finding.

  smtp-mangled-25.pcap    EHLO reply with 250-XXXXXXXA     -> starttls_mangled
  smtp-mangled-2526.pcap  the same on port 2526 (no port hint: the flow is
                          recognised from its banner)
  smtp-refused-587.pcap   STARTTLS answered 454            -> starttls_refused
  imap-refused-143.pcap   STARTTLS offered, answered NO     -> starttls_refused
  pop3-refused-110.pcap   STLS offered, answered -ERR       -> starttls_refused
  tls-fallback-443.pcap   ClientHello TLS 1.0 + TLS_FALLBACK_SCSV, ServerHello
                          TLS 1.0                          -> tls_weak_version,
                          tls_fallback_scsv
All are Ethernet/IPv4 with valid checksums, one line or one TLS record per
segment, a SYN handshake and FINs.
"""
import os
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapio  # noqa: E402

CLI, SRV = bytes([192, 0, 2, 10]), bytes([198, 51, 100, 25])


def frame(src, dst, sport, dport, seq, ack, flags, payload, ts):
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 1, 0x4000, 64, 6, 0, src, dst)
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    fr = pcapio.Frame(ts, pcapio.LINK_ETHERNET, eth + ip + tcp)
    return pcapio.rebuild(pcapio.tcp(fr), payload=payload)


def session(port, exchange, cport=40001):
    """exchange: [(dir, bytes)], dir 0 client, 1 server."""
    ts, seq, out = 1800000000 * 10**9, [1000, 900000], []

    def send(d, flags, payload=b""):
        nonlocal ts
        ts += 10**6
        src, dst, sp, dp = (CLI, SRV, cport, port) if d == 0 else (SRV, CLI, port, cport)
        ack = 0 if flags == 0x02 else seq[1 - d]
        out.append(frame(src, dst, sp, dp, seq[d], ack, flags, payload, ts))
        seq[d] = (seq[d] + len(payload) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF

    send(0, 0x02)
    send(1, 0x12)
    send(0, 0x10)
    for d, p in exchange:
        send(d, 0x18, p)
        send(1 - d, 0x10)
    send(0, 0x11)
    send(1, 0x11)
    send(0, 0x10)
    return out


def smtp(masked, refused):
    ehlo = [b"250-mx.example.net Hello\r\n", b"250-PIPELINING\r\n", b"250-SIZE 52428800\r\n",
            b"250-XXXXXXXA\r\n" if masked else b"250-STARTTLS\r\n", b"250 8BITMIME\r\n"]
    ex = [(1, b"220 mx.example.net ESMTP\r\n"), (0, b"EHLO client.example.org\r\n"), (1, b"".join(ehlo))]
    if refused:
        ex += [(0, b"STARTTLS\r\n"), (1, b"454 4.7.0 TLS not available due to local problem\r\n")]
    ex += [(0, b"MAIL FROM:<a@example.org>\r\n"), (1, b"250 2.1.0 Ok\r\n"),
           (0, b"RCPT TO:<b@example.net>\r\n"), (1, b"250 2.1.5 Ok\r\n"),
           (0, b"DATA\r\n"), (1, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
           (0, b"Subject: test\r\n\r\nhello\r\n.\r\n"), (1, b"250 2.0.0 Ok: queued\r\n"),
           (0, b"QUIT\r\n"), (1, b"221 2.0.0 Bye\r\n")]
    return ex


def imap_refused():
    return [(1, b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] imap.example.net ready\r\n"),
            (0, b"a1 CAPABILITY\r\n"),
            (1, b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK done\r\n"),
            (0, b"a2 STARTTLS\r\n"), (1, b"a2 NO TLS not available\r\n"),
            (0, b"a3 LOGOUT\r\n"), (1, b"* BYE\r\na3 OK bye\r\n")]


def pop3_refused():
    return [(1, b"+OK pop.example.net ready\r\n"), (0, b"CAPA\r\n"),
            (1, b"+OK\r\nUSER\r\nSTLS\r\n.\r\n"),
            (0, b"STLS\r\n"), (1, b"-ERR TLS not available\r\n"),
            (0, b"QUIT\r\n"), (1, b"+OK bye\r\n")]


def tls_fallback():
    body = struct.pack(">H", 0x0301) + bytes(range(32)) + b"\x00" + \
        struct.pack(">HHH", 4, 0x002F, 0x5600) + b"\x01\x00"
    ch = b"\x01" + len(body).to_bytes(3, "big") + body
    sbody = struct.pack(">H", 0x0301) + bytes(range(32, 64)) + b"\x00" + struct.pack(">H", 0x002F) + b"\x00"
    sh = b"\x02" + len(sbody).to_bytes(3, "big") + sbody
    shd = b"\x0e\x00\x00\x00"
    rec = lambda p: b"\x16\x03\x01" + len(p).to_bytes(2, "big") + p  # noqa: E731
    return [(0, rec(ch)), (1, rec(sh + shd)), (0, b"\x14\x03\x01\x00\x01\x01")]


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    os.makedirs(argv[1], exist_ok=True)
    out = {
        "smtp-mangled-25.pcap": session(25, smtp(True, False)),
        "smtp-mangled-2526.pcap": session(2526, smtp(True, False)),
        "smtp-refused-587.pcap": session(587, smtp(False, True)),
        "tls-fallback-443.pcap": session(443, tls_fallback()),
        "imap-refused-143.pcap": session(143, imap_refused()),
        "pop3-refused-110.pcap": session(110, pop3_refused()),
    }
    for name, frames in out.items():
        pcapio.write(os.path.join(argv[1], name), frames)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
