"""swrun - run stripwatch on captures and read its JSON lines back."""
import collections
import json
import subprocess


def run(stripwatch, pcaps, extra=(), out=None):
    """Run stripwatch --no-sign on pcaps.  Returns (status, events, stderr).
    events: every JSON line parsed (a line that does not parse raises)."""
    cmd = [stripwatch, "--no-sign", "--host", "test"] + list(extra)
    for p in pcaps:
        cmd += ["-r", p]
    if out:
        cmd += ["-o", out]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    text = r.stdout.decode()
    if out:
        with open(out) as f:
            text = f.read()
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    return r.returncode, events, r.stderr.decode(errors="replace")


def findings_by_client(events):
    """{(client ip, client port): sorted finding names} for flow findings."""
    by = collections.defaultdict(list)
    for e in events:
        if e.get("event_type") == "alert" and "src_port" in e:
            by[(e["src_ip"], e["src_port"])].append(e["finding"])
    return {k: sorted(v) for k, v in by.items()}


def stats(events):
    s = [e["stats"] for e in events if e.get("event_type") == "stats"]
    return s[-1] if s else {}
