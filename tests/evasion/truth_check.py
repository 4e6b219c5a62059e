#!/usr/bin/env python3
"""truth_check.py TRUTH.csv EVENTS.json - compare stripwatch's findings on a
make-bench-pcap capture with the generator's ground truth.

TRUTH.csv is make-bench-pcap --truth output (one row per session:
id,kind,flood,client,client_port,...).  EVENTS.json is stripwatch's output
on the same capture.  Findings are matched to sessions by client ip:port.

What each seed kind must raise (../shared/bench/README.md, "Seed kinds"):
  smtp-stripped-xxxx     starttls_mangled (250-XXXXXXXA where STARTTLS was)
  smtp-starttls-refused  starttls_refused (454 4.7.0 TLS not available)
  smtp-tls10             tls_weak_version (server pinned to TLS 1.0); the
                         sessions whose client is pinned to 1.0 as well also
                         raise tls_weak_client (allowed, not required)
  smtp-stripped          nothing of severity 1/2: no STARTTLS offered, and no
                         history (the stripping seeds use their own servers)
  smtp-tls12, smtp-tls13, https-*, http: nothing of severity 1/2
Flood rows (syn, tiny: a handshake and at most the first payload segment)
must raise nothing of severity 1/2.  Severity-3 findings are listed but not
counted as disagreement; any other finding of severity 1/2 is.
Prints a per-kind table; exit 0 on full agreement, 1 otherwise.
"""
import collections
import csv
import json
import sys

REQUIRED = {
    "smtp-stripped-xxxx": {"starttls_mangled"},
    "smtp-starttls-refused": {"starttls_refused"},
    "smtp-tls10": {"tls_weak_version"},
}
ALLOWED = {
    "smtp-tls10": {"tls_weak_client"},
}


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    found = collections.defaultdict(list)   # (ip, port) -> [(finding, severity)]
    sensor = []
    with open(argv[2]) as f:
        for line in f:
            e = json.loads(line)
            if e.get("event_type") != "alert":
                continue
            if "src_port" not in e:
                sensor.append(e.get("detail", ""))
                continue
            found[(e["src_ip"], int(e["src_port"]))].append((e["finding"], e["alert"]["severity"]))
    rows = collections.Counter()
    agree = collections.Counter()
    low = collections.Counter()
    bad = []
    seen = set()
    with open(argv[1]) as f:
        for r in csv.DictReader(f):
            kind = r["kind"] if not r["flood"] else "%s (%s)" % (r["kind"], r["flood"])
            key = (r["client"], int(r["client_port"]))
            seen.add(key)
            got = found.get(key, [])
            names = {n for n, s in got if s in (1, 2)}
            low.update(n for n, s in got if s == 3)
            req = REQUIRED.get(r["kind"], set()) if not r["flood"] else set()
            allow = req | (ALLOWED.get(r["kind"], set()) if not r["flood"] else set())
            rows[kind] += 1
            if req <= names and names <= allow:
                agree[kind] += 1
            else:
                bad.append((r["id"], kind, key, sorted(req), sorted(n for n, _ in got)))
    stray = [k for k in found if k not in seen]
    print("%-32s %9s %9s" % ("kind", "sessions", "agree"))
    for k in sorted(rows):
        print("%-32s %9d %9d" % (k, rows[k], agree[k]))
    total, ok = sum(rows.values()), sum(agree.values())
    print("total: %d sessions, %d agree, %d disagree; %d findings on unknown clients; "
          "severity-3 findings: %s; sensor-wide alerts: %d"
          % (total, ok, total - ok, len(stray), dict(low) or "none", len(sensor)))
    for b in bad[:20]:
        print("  disagree: id %s %s %s:%d expected %s got %s" % (b[0], b[1], b[2][0], b[2][1], b[3], b[4]))
    return 0 if ok == total and not stray else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
