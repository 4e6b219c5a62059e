#!/usr/bin/env python3
"""Golden tests: run stripwatch over every capture in pcaps/ and compare its
findings per flow with the expected-findings file beside the capture.

usage: golden.py STRIPWATCH PCAPS_DIR [NAME ...]

Expected file (pcaps/<scenario>.<vantage>.expect):
    # comments say why each expectation holds
    benign yes|no
    flow client=IP:PORT server=IP:PORT expect=f1,f2 allow=f3

Rules, per capture:
  - every flow line must match a flow event (by client and server endpoint);
  - every finding in expect= must be raised on that flow;
  - no severity-1 finding outside expect and allow on any flow;
  - a benign capture raises nothing of severity 1 or 2;
  - every output line is valid JSON and stripwatch exits 0.
Prints one line per capture and "golden: N passed, M failed".
"""
import json
import os
import subprocess
import sys


def endpoint(s):
    if s.startswith("["):
        ip, port = s[1:].rsplit("]:", 1)
    else:
        ip, port = s.rsplit(":", 1)
    return ip, int(port)


def parse_expect(path):
    benign = None
    flows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            words = line.split()
            if words[0] == "benign":
                benign = words[1] == "yes"
            elif words[0] == "flow":
                kv = dict(w.split("=", 1) for w in words[1:])
                flows.append({
                    "client": endpoint(kv["client"]),
                    "server": endpoint(kv["server"]),
                    "expect": [x for x in kv.get("expect", "").split(",") if x],
                    "allow": [x for x in kv.get("allow", "").split(",") if x],
                    "line": n,
                })
            else:
                raise ValueError("%s:%d: unknown line %r" % (path, n, line))
    if benign is None:
        raise ValueError("%s: no 'benign yes|no' line" % path)
    return benign, flows


def check(stripwatch, pcap, expect_path):
    benign, want = parse_expect(expect_path)
    p = subprocess.run([stripwatch, "--no-sign", "--host", "golden", "-r", pcap],
                       capture_output=True, timeout=120)
    errors = []
    if p.returncode != 0:
        errors.append("exit status %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip()))
    alerts = {}
    flows = set()
    for i, raw in enumerate(p.stdout.splitlines(), 1):
        try:
            ev = json.loads(raw)
        except ValueError as e:
            errors.append("line %d is not JSON: %s" % (i, e))
            continue
        if "src_ip" not in ev:
            continue
        key = ((ev["src_ip"], ev["src_port"]), (ev["dest_ip"], ev["dest_port"]))
        if ev["event_type"] == "flow":
            flows.add(key)
        elif ev["event_type"] == "alert":
            alerts.setdefault(key, []).append((ev["finding"], ev["alert"]["severity"]))
    listed = set()
    for w in want:
        key = (w["client"], w["server"])
        listed.add(key)
        if key not in flows:
            errors.append("line %d: no flow event for %s -> %s" % (w["line"], w["client"], w["server"]))
        got = alerts.get(key, [])
        names = {g[0] for g in got}
        for e in w["expect"]:
            if e not in names:
                errors.append("line %d: %s not raised (got %s)" % (w["line"], e, sorted(names) or "none"))
        for name, sev in got:
            if sev == 1 and name not in w["expect"] and name not in w["allow"]:
                errors.append("line %d: unexpected severity-1 %s" % (w["line"], name))
    for key, got in alerts.items():
        for name, sev in got:
            if benign and sev <= 2:
                errors.append("benign capture raised %s (severity %d) on %s" % (name, sev, key))
            elif key not in listed and sev == 1:
                errors.append("severity-1 %s on an unlisted flow %s" % (name, key))
    return errors


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    stripwatch, pcaps = sys.argv[1], sys.argv[2]
    names = sys.argv[3:]
    captures = sorted(f for f in os.listdir(pcaps) if f.endswith(".pcap") or f.endswith(".pcapng"))
    passed = failed = 0
    for cap in captures:
        base = cap.rsplit(".", 1)[0]
        if names and base not in names:
            continue
        exp = os.path.join(pcaps, base + ".expect")
        if not os.path.exists(exp):
            print("FAIL %s: no expected-findings file %s" % (cap, os.path.basename(exp)))
            failed += 1
            continue
        errs = check(stripwatch, os.path.join(pcaps, cap), exp)
        if errs:
            failed += 1
            print("FAIL %s" % cap)
            for e in errs:
                print("    " + e)
        else:
            passed += 1
            print("ok   %s" % cap)
    print("golden: %d passed, %d failed" % (passed, failed))
    if passed + failed == 0:
        print("golden: no captures found in %s" % pcaps)
        return 1
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
