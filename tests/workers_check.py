#!/usr/bin/env python3
"""--workers N gives the same events as one worker, in one valid chain.

usage: workers_check.py STRIPWATCH PCAPS_DIR WORKDIR

For every capture in PCAPS_DIR, once for all of them read as one
timeline (several -r; sessions of one server then span files and the
in-run memory must follow them), and for that timeline 40 times over (the
rings wrap), run stripwatch with --workers 1 and with
--workers 2 and 3, and compare the multiset of events: alerts by (flow
endpoints, finding, severity, detail) and flow events by (endpoints,
app_proto, starttls, tls), and the stats counters that do not depend on
how flows were spread (packets, flows created, findings by kind).  Line
order may differ between worker counts; the events may not.  Then one
signed run with --workers 2 must pass `stripwatch verify`.  With --state
(one history store shared by the engines), 1, 2 and 3 workers agree on a
fresh store and on a second run over what the first one learnt.
Prints one line per mismatch and "workers: N runs compared, M failed".
"""
import glob
import json
import os
import subprocess
import sys


def run(sw, args):
    p = subprocess.run([sw, "--host", "workers"] + args, capture_output=True, text=True)
    if p.returncode != 0:
        shown = " ".join(args[:6]) + (" ... (%d arguments)" % len(args) if len(args) > 6 else "")
        raise RuntimeError("stripwatch %s exited %d: %s" % (shown, p.returncode, p.stderr.strip()[:2000]))
    return [json.loads(line) for line in p.stdout.splitlines()]


def flow_key(ev):
    return (ev.get("src_ip"), ev.get("src_port"), ev.get("dest_ip"), ev.get("dest_port"))


def summary(events):
    """What must not depend on the worker count."""
    alerts, flows, stats = [], [], None
    for ev in events:
        t = ev["event_type"]
        if t == "alert":
            a = ev["alert"]
            alerts.append((flow_key(ev), ev.get("finding"), a.get("severity"),
                           a.get("signature_id"), json.dumps(ev.get("starttls"), sort_keys=True)))
        elif t == "flow":
            flows.append((flow_key(ev), ev.get("app_proto"),
                          json.dumps(ev.get("starttls"), sort_keys=True),
                          json.dumps(ev.get("tls"), sort_keys=True)))
        elif t == "stats":
            s = ev["stats"]
            stats = (json.dumps(s["capture"], sort_keys=True), s["flows"]["created"],
                     s["flows"]["mail"], s["flows"]["tls"], json.dumps(s["findings"], sort_keys=True))
    return sorted(alerts), sorted(flows), stats


def compare(sw, name, inputs):
    base = summary(run(sw, ["--no-sign"] + inputs))
    failed = 0
    for n in (2, 3):
        got = summary(run(sw, ["--no-sign", "--workers", str(n)] + inputs))
        for what, a, b in zip(("alerts", "flows", "stats"), base, got):
            if a != b:
                print("FAIL %s --workers %d: %s differ:\n  1: %s\n  %d: %s" % (name, n, what, a, n, b))
                failed += 1
    return failed


def main():
    sw, pcaps_dir, work = sys.argv[1], sys.argv[2], sys.argv[3]
    pcaps = sorted(glob.glob(os.path.join(pcaps_dir, "*.pcap")))
    if not pcaps:
        print("workers: no captures in %s" % pcaps_dir)
        return 1
    runs = failed = 0
    for p in pcaps:
        runs += 1
        failed += compare(sw, os.path.basename(p), ["-r", p]) != 0
    all_r = [x for p in pcaps for x in ("-r", p)]
    runs += 1
    failed += compare(sw, "all captures as one timeline", all_r) != 0
    # 40 rounds of that (about 22 MB of frames): every worker's 4 MiB ring
    # wraps several times, through its skip entries.
    runs += 1
    failed += compare(sw, "all captures 40 times over", all_r * 40) != 0

    # History (--state): the engines share one store.  A fresh store, then a
    # second run that starts from what the first one wrote: each worker
    # count gets its own directory, the findings must agree.
    import shutil
    for n in (1, 2, 3):
        shutil.rmtree(os.path.join(work, "state%d" % n), ignore_errors=True)
    for rnd in ("fresh", "second"):
        base = None
        for n in (1, 2, 3):
            st = os.path.join(work, "state%d" % n)
            got = summary(run(sw, ["--no-sign", "--workers", str(n), "--state", st] + all_r))
            if base is None:
                base = got
                continue
            runs += 1
            for what, a, b in zip(("alerts", "flows", "stats"), base, got):
                if a != b:
                    print("FAIL --state (%s store) --workers %d: %s differ:\n  1: %s\n  %d: %s" %
                          (rnd, n, what, a, n, b))
                    failed += 1

    # The stripped-after-clean case across files must really be present.
    alerts = summary(run(sw, ["--no-sign", "--workers", "2"] + all_r))[0]
    if not any(a[1] == "starttls_stripped" for a in alerts):
        print("FAIL no starttls_stripped with --workers 2 over all captures")
        failed += 1

    # One signed chain with two workers.
    os.makedirs(work, exist_ok=True)
    sec, pub, out = (os.path.join(work, x) for x in ("w.key", "w.pub", "w.json"))
    for f in (sec, pub, out, out + ".minisig"):
        if os.path.exists(f):
            os.unlink(f)
    subprocess.run([sw, "keygen", "-s", sec, "-p", pub], check=True, capture_output=True)
    p = subprocess.run([sw, "--host", "workers", "--workers", "2", "-k", sec, "-o", out] + all_r,
                       capture_output=True, text=True)
    v = subprocess.run([sw, "verify", "-p", pub, out], capture_output=True, text=True)
    runs += 1
    if p.returncode != 0 or v.returncode != 0:
        print("FAIL signed --workers 2 run: exit %d, verify exit %d: %s %s" %
              (p.returncode, v.returncode, p.stderr.strip(), v.stdout.strip() + v.stderr.strip()))
        failed += 1
    print("workers: %d runs compared, %d failed" % (runs, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
