#!/usr/bin/env python3
"""Run stripwatch over every capture of the public corpus and compare its
flow events with the corpus ground truth (MANIFEST.tsv).

usage: corpus_check.py STRIPWATCH [CORPUS_DIR] [--min-agree 0.95] [--explain FILE]

Prints one line per disagreeing row and "corpus: N/M rows agree".  Exits 0
when the share of agreeing rows reaches --min-agree, 1 when it does not,
and 77 (ctest's skip code) when the corpus is absent.  Rows listed in the
--explain file (file<TAB>stream<TAB>reason) still count as disagreements,
but their reason is printed beside them.
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys

SKIP = 77


def norm_version(v):
    """MANIFEST spelling -> stripwatch spelling ('TLS1.2' -> 'TLS 1.2')."""
    v = v.strip()
    if v in ("", "na"):
        return None
    m = re.fullmatch(r"TLS1\.(\d)", v)
    if m:
        return "TLS 1." + m.group(1)
    m = re.fullmatch(r"TLS1\.3-draft(\d+)", v)
    if m:
        return "TLS 1.3 draft " + m.group(1)
    if v == "SSLv2":
        return "SSL 2.0"
    if v == "SSLv3":
        return "SSL 3.0"
    return v


def endpoint(s):
    """'1.2.3.4:25' or '[v6]:25' -> (ip, port)."""
    if s.startswith("["):
        ip, port = s[1:].rsplit("]:", 1)
    else:
        ip, port = s.rsplit(":", 1)
    return ip, int(port)


def run(stripwatch, path):
    out = subprocess.run([stripwatch, "--no-sign", "-r", path], capture_output=True, timeout=120)
    flows, alerts = {}, {}
    for line in out.stdout.decode("utf-8", "replace").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if "src_ip" not in ev:
            continue
        key = (ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"])
        if ev.get("event_type") == "flow":
            flows.setdefault(key, []).append(ev)
        elif ev.get("event_type") == "alert":
            alerts.setdefault(key, set()).add(ev["finding"])
    return flows, alerts, out.returncode, out.stderr.decode("utf-8", "replace")


def compare(row, fl, al):
    """List of (column, expected, got) that disagree."""
    bad = []
    st = fl.get("starttls", {})
    tls = fl.get("tls", {})

    adv = row["starttls_advertised"]
    off = st.get("offered")
    if adv == "yes" and off is not True:
        bad.append(("starttls_advertised", adv, off))
    elif adv == "no" and off is not False:
        bad.append(("starttls_advertised", adv, off))
    elif adv == "mangled?" and "starttls_mangled" not in al:
        bad.append(("starttls_advertised", adv, "no starttls_mangled alert"))
    elif adv in ("na", "no(HELO)") and off is True:
        bad.append(("starttls_advertised", adv, off))

    sent = row["starttls_sent"]
    got = st.get("command_sent") is True
    if sent == "yes" and not got or sent == "no" and got:
        bad.append(("starttls_sent", sent, st.get("command_sent")))

    code = row["starttls_reply_code"]
    reply = st.get("reply", "")
    if code and code != "none":
        # SMTP and POP3 replies start with the code; IMAP's with the tag.
        words = reply.split(" ") + ["", ""]
        if code not in (words[0], words[1]):
            bad.append(("starttls_reply_code", code, reply))

    after = row["tls_after_starttls"]
    up = st.get("upgraded")
    if after == "yes" and up is not True:
        bad.append(("tls_after_starttls", after, up))
    elif after.startswith("no") and up is True:
        bad.append(("tls_after_starttls", after, up))

    for col, member in (("client_max_version", "client_max_version"),
                        ("server_selected_version", "version")):
        want = row[col]
        if "?" in want:
            continue  # the capture itself lacks the bytes
        want = norm_version(want)
        got = tls.get(member)
        if want != got:
            bad.append((col, want, got))

    for col, member in (("fallback_scsv", "fallback_scsv"),
                        ("downgrade_sentinel_in_server_random", "downgrade_sentinel")):
        want = row[col]
        if want == "na":
            continue
        want_b = want.startswith("yes")
        if bool(tls.get(member)) != want_b:
            bad.append((col, want, tls.get(member)))

    weak = row["weak_cipher_selected"]
    if weak not in ("", "na"):
        if weak == "no":
            if "tls_weak_cipher" in al:
                bad.append(("weak_cipher_selected", weak, "tls_weak_cipher raised"))
        else:
            if "tls_weak_cipher" not in al or tls.get("cipher") != weak:
                bad.append(("weak_cipher_selected", weak, tls.get("cipher")))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stripwatch")
    ap.add_argument("corpus", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus"))
    ap.add_argument("--min-agree", type=float, default=0.95)
    ap.add_argument("--explain", default=os.path.join(os.path.dirname(__file__), "corpus_explained.tsv"))
    args = ap.parse_args()

    manifest = os.path.join(args.corpus, "MANIFEST.tsv")
    if not os.path.exists(manifest):
        print("corpus: %s not found, skipping" % manifest)
        return SKIP

    explained = {}
    if os.path.exists(args.explain):
        with open(args.explain) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) == 3:
                    explained[(parts[0], parts[1])] = parts[2]

    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))

    cache = {}
    agree = 0
    for row in rows:
        path = os.path.join(args.corpus, row["file"])
        if row["file"] not in cache:
            cache[row["file"]] = run(args.stripwatch, path)
        flows, alerts, rc, err = cache[row["file"]]
        cip, cport = endpoint(row["client"])
        sip, sport = endpoint(row["server"])
        key = (cip, cport, sip, sport)
        fl = flows.get(key)
        why = explained.get((row["file"], row["stream"]))
        note = "  [explained: %s]" % why if why else ""
        if not fl:
            print("DISAGREE %s stream %s %s -> %s: no flow event%s" % (
                row["file"], row["stream"], row["client"], row["server"], note))
            continue
        bad = compare(row, fl[0], alerts.get(key, set()))
        if bad:
            print("DISAGREE %s stream %s %s -> %s: %s%s" % (
                row["file"], row["stream"], row["client"], row["server"],
                "; ".join("%s want %r got %r" % b for b in bad), note))
        else:
            agree += 1
    total = len(rows)
    print("corpus: %d/%d rows agree (%.1f%%)" % (agree, total, 100.0 * agree / max(total, 1)))
    return 0 if agree >= args.min_agree * total else 1


if __name__ == "__main__":
    sys.exit(main())
