#!/usr/bin/env python3
"""reseg.py IN.pcap OUT.pcap OP[,OP...] - rewrite the TCP segmentation of a
capture the way an evader (or an unlucky network) would, without changing
the byte stream either side delivers to its application.

Operations, applied left to right (pure python3, tests/evasion/pcapio.py):
  split[=N]      cut every payload segment into N-byte segments (default 1)
  reverse[=W]    reverse the order of data segments in windows of W
                 (default 8) inside each run of same-direction data segments
                 of a flow (a run ends where the other side sends payload);
                 packet times stay in capture order
  overlap        after every data segment, a retransmission of the same
                 sequence range with different bytes (first copy wins, so
                 findings must not change; a conflict anomaly is counted)
  tlsrec[=N]     re-frame the ClientHello's TLS record into records of N
                 body bytes each (default 16); later sequence and
                 acknowledgement numbers of the flow are shifted to match
  dataterm       cut each client segment holding the SMTP DATA terminator
                 CRLF.CRLF so that every byte of it is its own segment
  pipeline       merge consecutive client data segments (no server payload
                 between them) into one segment
  port=P         move every flow to server port P
Output is a nanosecond pcap with the input's link type; IPv4 and TCP
checksums are recomputed.  Frames that are not TCP pass unchanged.
"""
import sys

import pcapio

FIN_SYN_RST = 0x07


class Seg:
    """A packet of the output: either a raw frame or a TCP segment to rebuild."""
    __slots__ = ("ts", "frame", "t", "payload", "seq", "ack", "key", "dir", "port")


def load(frames):
    fl, clients = pcapio.flows(frames)
    where = {}
    for k, segs in fl.items():
        for t in segs:
            where[id(t.frame)] = (k, 0 if (t.src, t.sport) == clients[k] else 1)
    out = []
    for fr in frames:
        s = Seg()
        s.ts, s.frame, s.t, s.key, s.dir, s.port = fr.ts, fr, None, None, None, None
        t = pcapio.tcp(fr)
        if t is not None and id(fr) in where:
            s.t, s.payload, s.seq, s.ack = t, t.payload, t.seq, t.ack
            s.key, s.dir = where[id(fr)]
        out.append(s)
    return out


def clone(s, payload, seq, ts=None):
    n = Seg()
    n.ts, n.frame, n.t, n.key, n.dir = s.ts if ts is None else ts, s.frame, s.t, s.key, s.dir
    n.payload, n.seq, n.ack, n.port = payload, seq & 0xFFFFFFFF, s.ack, s.port
    return n


def data(s):
    return s.t is not None and s.payload and not s.t.flags & FIN_SYN_RST


def op_split(segs, n=1):
    out = []
    for s in segs:
        if not data(s):
            out.append(s)
            continue
        for i in range(0, len(s.payload), n):
            out.append(clone(s, s.payload[i:i + n], s.seq + i))
    return out


def op_reverse(segs, w=8):
    # Runs: per flow, consecutive same-direction data segments.
    runs, cur = [], {}
    for i, s in enumerate(segs):
        if not data(s):
            continue
        r = cur.get(s.key)
        if r is None or r[0] != s.dir:
            r = [s.dir, []]
            cur[s.key] = r
            runs.append(r[1])
        r[1].append(i)
    out = list(segs)
    for idx in runs:
        for j in range(0, len(idx), w):
            win = idx[j:j + w]
            for pos, src in zip(win, reversed(win)):
                out[pos] = clone(segs[src], segs[src].payload, segs[src].seq, ts=segs[pos].ts)
    return out


def op_overlap(segs):
    out = []
    for s in segs:
        out.append(s)
        if data(s):
            bad = bytes(b ^ 0x5A for b in s.payload)
            out.append(clone(s, bad, s.seq))
    return out


def op_tlsrec(segs, n=16):
    by_flow = {}
    for i, s in enumerate(segs):
        if data(s) and s.dir == 0:
            by_flow.setdefault(s.key, []).append(i)
    out = list(segs)
    drop = set()
    for key, idx in by_flow.items():
        for k, i in enumerate(idx):
            p = segs[i].payload
            if not (len(p) >= 6 and p[0] == 0x16 and p[1] == 3 and p[5] == 1):
                continue
            rlen = 5 + int.from_bytes(p[3:5], "big")
            # Merge following in-sequence client segments until the record is whole.
            buf, m = bytearray(p), k + 1
            while len(buf) < rlen and m < len(idx) and \
                    segs[idx[m]].seq == (segs[i].seq + len(buf)) & 0xFFFFFFFF:
                buf += segs[idx[m]].payload
                drop.add(idx[m])
                m += 1
            if len(buf) < rlen:
                break
            body, ver = bytes(buf[5:rlen]), bytes(buf[1:3])
            recs = b"".join(b"\x16" + ver + len(body[j:j + n]).to_bytes(2, "big") + body[j:j + n]
                            for j in range(0, len(body), n))
            delta = len(recs) - rlen
            out[i] = clone(segs[i], recs + bytes(buf[rlen:]), segs[i].seq)
            base = (segs[i].seq + len(buf)) & 0xFFFFFFFF
            for j in range(i + 1, len(segs)):
                s = segs[j]
                if s.key != key or j in drop:
                    continue
                t = out[j] if out[j] is not s else clone(s, s.payload, s.seq)
                if s.dir == 0 and ((s.seq - base) & 0xFFFFFFFF) < 1 << 31:
                    t.seq = (s.seq + delta) & 0xFFFFFFFF
                if s.dir == 1 and s.t.flags & 0x10 and ((s.ack - base) & 0xFFFFFFFF) < 1 << 31:
                    t.ack = (s.ack + delta) & 0xFFFFFFFF
                out[j] = t
            break  # the first ClientHello of the flow
    return [s for j, s in enumerate(out) if j not in drop]


def op_dataterm(segs):
    out = []
    for s in segs:
        i = s.payload.find(b"\r\n.\r\n") if data(s) and s.dir == 0 else -1
        if i < 0:
            out.append(s)
            continue
        cuts = [0] + list(range(i, i + 6)) + [len(s.payload)]
        cuts = sorted(set(c for c in cuts if 0 <= c <= len(s.payload)))
        for a, b in zip(cuts, cuts[1:]):
            out.append(clone(s, s.payload[a:b], s.seq + a))
    return out


def op_pipeline(segs):
    out, open_run = [], {}
    for s in segs:
        if s.key is not None and data(s) and s.dir == 1:
            open_run.pop(s.key, None)
        if s.key is None or not data(s) or s.dir != 0:
            if s.t is not None and s.t.flags & FIN_SYN_RST:
                open_run.pop(s.key, None)
            out.append(s)
            continue
        j = open_run.get(s.key)
        if j is not None and (out[j].seq + len(out[j].payload)) & 0xFFFFFFFF == s.seq:
            out[j] = clone(out[j], out[j].payload + s.payload, out[j].seq)
            continue
        open_run[s.key] = len(out)
        out.append(s)
    return out


def op_port(segs, port):
    for s in segs:
        if s.t is not None and s.dir is not None:
            s.port = port
    return segs


OPS = {"port": (op_port, int), "split": (op_split, int), "reverse": (op_reverse, int), "overlap": (op_overlap, None),
       "tlsrec": (op_tlsrec, int), "dataterm": (op_dataterm, None), "pipeline": (op_pipeline, None)}


def emit(segs):
    frames, last = [], 0
    for s in segs:
        ts = max(s.ts, last)
        last = ts
        if s.t is None:
            fr = pcapio.Frame(ts, s.frame.link, s.frame.data, s.frame.orig_len)
        else:
            fr = pcapio.rebuild(s.t, payload=s.payload, seq=s.seq, ts=ts)
            if s.ack != s.t.ack or s.port is not None:
                d = bytearray(fr.data)
                o = s.t.l3 + s.t.hlen_ip
                d[o + 8:o + 12] = s.ack.to_bytes(4, "big")
                if s.port is not None:
                    o += 2 if s.dir == 0 else 0
                    d[o:o + 2] = s.port.to_bytes(2, "big")
                t2 = pcapio.tcp(pcapio.Frame(ts, fr.link, bytes(d)))
                fr = pcapio.rebuild(t2, ts=ts)
        frames.append(fr)
    return frames


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    frames = pcapio.read(argv[1])
    if not frames:
        print("reseg: %s: no frames" % argv[1], file=sys.stderr)
        return 1
    segs = load(frames)
    for spec in argv[3].split(","):
        name, _, arg = spec.partition("=")
        if name not in OPS:
            print("reseg: unknown operation '%s'" % name, file=sys.stderr)
            return 2
        fn, conv = OPS[name]
        segs = fn(segs, conv(arg)) if arg and conv else fn(segs)
    pcapio.write(argv[2], emit(segs), frames[0].link)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
