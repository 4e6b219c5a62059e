#!/usr/bin/env python3
"""make_seeds.py OUTDIR CAPTURE_OR_DIR... - build the fuzz seed corpora.

Reads pcap/pcapng captures (directories are searched recursively for
*.pcap, *.pcapng, *.cap) and writes, under OUTDIR:
  fuzz_pcap/  small captures: the file itself when <= 128 KiB, else its
              first 40 frames rewritten as a pcap
  fuzz_mail/  one input per TCP flow in the fuzz_mail.c layout: a port byte,
              then one chunk per run of same-direction payload ("FUZZ"
              between chunks, a flags byte first: bit 0 = server side)
  fuzz_tls/   per TLS direction: its byte stream (mode 4) and each
              ClientHello / ServerHello body (modes 0 / 1; SSLv2 records:
              modes 2 / 3)
File names are the SHA-1 of the content.  Nothing here is committed: run it
at fuzz time (tests/fuzz/smoke.sh does).
"""
import hashlib
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "evasion"))
import pcapio  # noqa: E402

MAIL_MAX = 65536
TLS_STREAM_MAX = 16384
PCAP_MAX = 131072
PORT_SEL = {25: 0, 587: 1, 2525: 1, 143: 2, 110: 3, 443: 4, 465: 4, 993: 4, 995: 4}


def put(outdir, sub, data):
    d = os.path.join(outdir, sub)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
        return 1
    return 0


def in_order(segs, client):
    """[(dir, payload)] without retransmitted bytes, dir 1 = server side."""
    nxt, out = {}, []
    for t in segs:
        d = 0 if (t.src, t.sport) == client else 1
        if t.flags & 0x02:
            nxt[d] = (t.seq + 1) & 0xFFFFFFFF
            continue
        if not t.payload:
            continue
        start = nxt.get(d, t.seq)
        skip = (start - t.seq) & 0xFFFFFFFF
        if skip >= len(t.payload) and skip < 1 << 31:
            continue  # all old bytes
        if skip >= 1 << 31:
            skip = 0  # a gap: take it as is
        out.append((d, t.payload[skip:]))
        nxt[d] = (t.seq + len(t.payload)) & 0xFFFFFFFF
    return out


def tls_start(stream):
    for i in range(len(stream) - 5):
        if stream[i] == 0x16 and stream[i + 1] == 3 and stream[i + 2] <= 4:
            return i
    return -1


def hellos(stream):
    """Handshake message bodies of type 1/2 in a TLS stream's clear part."""
    hs, o = b"", 0
    while o + 5 <= len(stream):
        ct, ln = stream[o], int.from_bytes(stream[o + 3:o + 5], "big")
        if ct != 22:
            break
        hs += stream[o + 5:o + 5 + ln]
        o += 5 + ln
    out, o = [], 0
    while o + 4 <= len(hs):
        mt, ln = hs[o], int.from_bytes(hs[o + 1:o + 4], "big")
        if mt in (1, 2) and o + 4 + ln <= len(hs):
            out.append((mt, hs[o + 4:o + 4 + ln]))
        o += 4 + ln
    return out


def one_capture(path, outdir, counts):
    try:
        frames = pcapio.read(path)
    except (KeyError, OSError, IndexError, ValueError) as e:
        print("make_seeds: skip %s: %s" % (path, e), file=sys.stderr)
        return
    if not frames:
        return
    if os.path.getsize(path) <= PCAP_MAX:
        with open(path, "rb") as f:
            counts["fuzz_pcap"] += put(outdir, "fuzz_pcap", f.read())
    else:
        tmp = os.path.join(outdir, ".tmp-%d.pcap" % os.getpid())
        pcapio.write(tmp, [fr for fr in frames[:40] if fr.link == frames[0].link])
        with open(tmp, "rb") as f:
            counts["fuzz_pcap"] += put(outdir, "fuzz_pcap", f.read())
        os.unlink(tmp)
    fl, clients = pcapio.flows(frames)
    for k, segs in fl.items():
        client = clients[k]
        sport = k[1][1] if k[0] == client else k[0][1]
        parts = in_order(segs, client)
        if not parts:
            continue
        runs = []
        for d, p in parts:
            if runs and runs[-1][0] == d:
                runs[-1][1].extend(p)
            else:
                runs.append([d, bytearray(p)])
        sel = PORT_SEL.get(sport, 0xC5)  # unknown port: 2526, classified with nDPI
        body, size = [bytes([sel])], 1
        for d, p in runs:
            chunk = bytes([d]) + bytes(p)
            if size + len(chunk) + 4 > MAIL_MAX:
                chunk = chunk[:max(0, MAIL_MAX - size - 4)]
            if len(body) > 1:
                body.append(b"FUZZ")
            body.append(chunk)
            size += len(chunk) + 4
            if size >= MAIL_MAX:
                break
        counts["fuzz_mail"] += put(outdir, "fuzz_mail", b"".join(body))
        for d in (0, 1):
            stream = b"".join(p for dd, p in parts if dd == d)
            if stream[:1] and stream[0] & 0x80 and len(stream) > 3:
                counts["fuzz_tls"] += put(outdir, "fuzz_tls", bytes([2 + d]) + stream[:TLS_STREAM_MAX])
                counts["fuzz_tls"] += put(outdir, "fuzz_tls", b"\x04\x00" + stream[:TLS_STREAM_MAX])
                continue
            i = tls_start(stream)
            if i < 0:
                continue
            s = stream[i:]
            counts["fuzz_tls"] += put(outdir, "fuzz_tls", b"\x04\x00" + s[:TLS_STREAM_MAX])
            counts["fuzz_tls"] += put(outdir, "fuzz_tls", b"\x04\x03\x00\x04\x1f" + s[:TLS_STREAM_MAX])
            for mt, b in hellos(s):
                counts["fuzz_tls"] += put(outdir, "fuzz_tls", bytes([mt - 1]) + b)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    counts = {"fuzz_pcap": 0, "fuzz_mail": 0, "fuzz_tls": 0}
    for arg in sys.argv[2:]:
        if os.path.isdir(arg):
            for root, _, names in sorted(os.walk(arg)):
                for n in sorted(names):
                    if n.endswith((".pcap", ".pcapng", ".cap")):
                        one_capture(os.path.join(root, n), outdir, counts)
        elif os.path.exists(arg):
            one_capture(arg, outdir, counts)
    print("make_seeds: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
