#!/usr/bin/env python3
"""run.py STRIPWATCH WORKDIR [--handmade] [--need DIR] CAPTURE_OR_DIR... - the
evasion test.

  --handmade   also test the sessions make_sessions.py writes into WORKDIR
  --need DIR   exit 77 (skip) when DIR does not exist (e.g. ../shared)
  --benign-ok  pass even when no capture raises a finding (benign captures
               are always checked: they must stay without findings)
  a directory argument stands for the *.pcap / *.pcapng files inside it

For every capture: run stripwatch on it, then on each rewritten copy
(reseg.py operations below, written into WORKDIR), and require the findings
per client ip:port to be equal to the original's (none for a benign
capture).  The overlap rewrite must also count tcp overlap conflicts in the
stats line.  Unless --benign-ok, at least one capture must raise a finding
(else the test would prove nothing).
Exit 0 all equal; 1 a difference; 77 (skip) when no capture exists.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import pcapio  # noqa: E402
import reseg  # noqa: E402
import swrun  # noqa: E402

TRANSFORMS = ["split", "reverse=8", "split,reverse=16", "overlap", "split=7,overlap",
              "tlsrec=16", "tlsrec=16,split", "dataterm", "pipeline"]


def rewrite(src, dst, ops):
    frames = pcapio.read(src)
    segs = reseg.load(frames)
    for spec in ops.split(","):
        name, _, arg = spec.partition("=")
        fn, conv = reseg.OPS[name]
        segs = fn(segs, conv(arg)) if arg and conv else fn(segs)
    pcapio.write(dst, reseg.emit(segs), frames[0].link)


def conflicts(st):
    an = st.get("anomalies", {})
    return sum(v for k, v in an.items() if "overlap" in k or "conflict" in k)


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    sw, work, caps, args = argv[1], argv[2], [], argv[3:]
    require_findings = True
    os.makedirs(work, exist_ok=True)
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--handmade":
            import make_sessions
            make_sessions.main(["make_sessions", os.path.join(work, "handmade")])
            args.append(os.path.join(work, "handmade"))
        elif opt == "--benign-ok":
            require_findings = False
        elif opt == "--need":
            need = args.pop(0)
            if not os.path.isdir(need):
                print("evasion: %s missing: skipped" % need)
                return 77
    for a in args:
        if os.path.isdir(a):
            caps += sorted(os.path.join(a, n) for n in os.listdir(a) if n.endswith((".pcap", ".pcapng")))
        elif os.path.exists(a):
            caps.append(a)
    if not caps:
        print("evasion: no capture to test: skipped")
        return 77
    bad = with_findings = 0
    for cap in caps:
        rc, ev, err = swrun.run(sw, [cap], ["--no-flow"])
        want = swrun.findings_by_client(ev)
        name = os.path.basename(cap)
        if rc != 0:
            print("FAIL %s: original: exit %d %s" % (name, rc, err.strip()))
            bad += 1
            continue
        # A benign capture must stay without findings (no false positive).
        print("%s: %d flows with findings: %s" % (name, len(want),
              sorted(set(f for v in want.values() for f in v))))
        with_findings += bool(want)
        for ops in TRANSFORMS:
            out = os.path.join(work, "%s.%s.pcap" % (os.path.splitext(name)[0], ops.replace(",", "+").replace("=", "")))
            rewrite(cap, out, ops)
            rc, ev, err = swrun.run(sw, [out], ["--no-flow"])
            got = swrun.findings_by_client(ev)
            ok = rc == 0 and got == want
            note = ""
            if "overlap" in ops:
                n = conflicts(swrun.stats(ev))
                note = " (%d overlap conflicts)" % n
                ok = ok and n > 0
            if not ok:
                bad += 1
                lost = {k: v for k, v in want.items() if got.get(k) != v}
                extra = {k: v for k, v in got.items() if want.get(k) != v}
                print("  FAIL %-18s exit %d%s\n    expected %s\n    got      %s" %
                      (ops, rc, note, lost, {k: got.get(k) for k in lost} or extra))
            else:
                print("  ok   %-18s%s" % (ops, note))
    if require_findings and not with_findings:
        print("FAIL: no capture raised a finding: nothing was tested")
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
