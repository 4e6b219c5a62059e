#!/usr/bin/env python3
"""badfiles.py STRIPWATCH WORKDIR [CAPTURE_OR_DIR] - hostile capture files.

From one good capture (the first *.pcap in CAPTURE_OR_DIR that raises a
finding, else a hand-written session from make_sessions.py) this builds, in
WORKDIR:
  trunc-record.pcap     cut inside the last packet's data      -> exit 1
  trunc-rechdr.pcap     cut inside the last record header      -> exit 1
  trunc-filehdr.pcap    10 bytes of the file header            -> exit 1 or 2
  empty.pcap            0 bytes                                -> exit 1 or 2
  bad-magic.pcap        first 4 bytes wrong                    -> exit 1 or 2
  huge-caplen.pcap      the last record claims caplen 0x7fffffff -> exit 1
  caplen-gt-snaplen.pcap  file snaplen 64, packets longer      -> exit 0 or 1
  zero-length.pcap      a 0-byte record after every packet     -> exit 0
  trunc.pcapng          a pcapng cut inside its last block     -> exit 1
  multi-if-same.pcapng  two Ethernet interfaces, packets alternate -> exit 0
  multi-if.pcapng       two interfaces, Ethernet and raw IP, packets
                        alternate between them: exit 0 with the good file's
                        findings, or 1 (libpcap 1.10 refuses mixed link
                        types in one section)
and checks for each: the exit status; with status 1, stderr has one line
that names the file (and, for a cut inside the packets, a packet number);
no sanitizer report; stdout is well-formed JSON lines ending in the chain
stop record; the findings of a file cut at its end equal the good file's;
multi-if.pcapng and zero-length.pcap give the good file's findings.
Exit 0 when all hold, 1 otherwise.
"""
import json
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import pcapio  # noqa: E402
import swrun  # noqa: E402


def run(sw, path):
    r = subprocess.run([sw, "--no-sign", "--no-flow", "--host", "test", "-r", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    sw, work = argv[1], argv[2]
    os.makedirs(work, exist_ok=True)
    src, cands = None, []
    if len(argv) > 3:
        a = argv[3]
        if os.path.isdir(a):
            cands = [os.path.join(a, n) for n in sorted(os.listdir(a)) if n.endswith(".pcap")]
        elif os.path.exists(a):
            cands = [a]
    for c in cands:  # the first capture that raises a finding
        rc, out, _ = run(sw, c)
        if rc == 0 and '"event_type":"alert"' in out:
            src = c
            break
    if src is None:
        import make_sessions
        make_sessions.main(["make_sessions", os.path.join(work, "good")])
        src = os.path.join(work, "good", "smtp-mangled-25.pcap")
    frames = pcapio.read(src)
    good = os.path.join(work, "good.pcap")
    pcapio.write(good, frames)
    with open(good, "rb") as f:
        img = f.read()
    last = len(img) - len(frames[-1].data) - 16  # offset of the last record header
    n = len(frames)

    def put(name, data):
        p = os.path.join(work, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    hdr = bytearray(img[:24])
    small = bytearray(img)
    struct.pack_into("<I", small, 16, 64)
    huge = bytearray(img)
    struct.pack_into("<I", huge, last + 8, 0x7FFFFFFF)
    zero = bytearray(img[:24])
    for fr in frames:
        zero += struct.pack("<IIII", fr.ts // 10**9, fr.ts % 10**9, len(fr.data), fr.orig_len) + fr.data
        zero += struct.pack("<IIII", fr.ts // 10**9, fr.ts % 10**9, 0, 0)
    ng = pcapio.pcapng_bytes([(0, fr) for fr in frames], [frames[0].link])
    multi = []
    for i, fr in enumerate(frames):
        raw = pcapio.strip_link(fr)
        multi.append((1, raw) if i % 2 and raw is not None else (0, fr))
    multi_img = pcapio.pcapng_bytes(multi, [frames[0].link, pcapio.LINK_RAW])
    multi_same = pcapio.pcapng_bytes([(i % 2, fr) for i, fr in enumerate(frames)],
                                     [frames[0].link, frames[0].link])

    # name, data, allowed exit codes, packet number expected in the message,
    # findings must equal the good file's
    cases = [
        ("trunc-record.pcap", img[:-3], {1}, n, True),
        ("trunc-rechdr.pcap", img[:last + 7], {1}, n, True),
        ("trunc-filehdr.pcap", img[:10], {1, 2}, None, False),
        ("empty.pcap", b"", {1, 2}, None, False),
        ("bad-magic.pcap", b"\x00\x01\x02\x03" + img[4:], {1, 2}, None, False),
        ("huge-caplen.pcap", bytes(huge), {1}, n, True),
        ("caplen-gt-snaplen.pcap", bytes(small), {0, 1}, None, False),
        ("zero-length.pcap", bytes(zero), {0}, None, True),
        ("trunc.pcapng", ng[:-7], {1}, None, True),
        ("multi-if-same.pcapng", multi_same, {0}, None, True),
        # libpcap 1.10 refuses interfaces of different link types in one
        # pcapng: a clear error (1) is as right as reading it (0).
        ("multi-if.pcapng", multi_img, {0, 1}, None, "if0"),
    ]
    rc0, out0, err0 = run(sw, good)
    want = swrun.findings_by_client([json.loads(x) for x in out0.splitlines()])
    if rc0 != 0 or not want:
        print("FAIL good file: exit %d, findings %s, %s" % (rc0, want, err0.strip()))
        return 1
    bad = 0
    for name, data, codes, pkt, same in cases:
        p = put(name, data)
        rc, out, err = run(sw, p)
        problems = []
        if rc not in codes:
            problems.append("exit %d, want %s" % (rc, sorted(codes)))
        if re.search(r"Sanitizer|runtime error|Segmentation|Aborted", err):
            problems.append("sanitizer/crash report")
        lines = [x for x in err.splitlines() if x.strip()]
        if rc != 0:
            if len(lines) != 1:
                problems.append("%d stderr lines, want 1" % len(lines))
            elif p not in lines[0] and os.path.basename(p) not in lines[0]:
                problems.append("stderr does not name the file")
            elif pkt is not None and not re.search(r"\b%d\b" % pkt, lines[0]):
                problems.append("stderr does not name packet %d" % pkt)
        events = []
        try:
            events = [json.loads(x) for x in out.splitlines() if x.strip()]
        except ValueError as e:
            problems.append("stdout is not JSON lines: %s" % e)
        if rc in (0, 1) and (not events or events[-1].get("chain", {}).get("kind") != "stop"):
            problems.append("no chain stop record at the end")
        got = swrun.findings_by_client(events)
        if (same is True or (same == "if0" and rc == 0)) and got != want:
            problems.append("findings %s, want %s" % (got, want))
        print("%s %-24s exit %d  %s%s" % ("FAIL" if problems else "ok  ", name, rc,
              lines[0][:110] if lines else "", "".join("\n     - " + x for x in problems)))
        bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
