#!/bin/bash
# tests/live/syslog.sh STRIPWATCH SHARED_DIR
#
# --syslog sends every line, byte for byte, as one message to the local
# syslog socket with the chosen facility; alerts get a priority from their
# severity (1 warning, 2 notice, 3 info), flow, stats and chain lines info;
# without --syslog nothing is sent.  The real syslog(3) path is used: stripwatch runs in a private
# mount namespace whose /dev is a small tmpfs (null, zero, urandom bound in)
# where /dev/log is a datagram socket this test listens on, so no system
# syslog daemon is needed or touched.
#
# Input: bench seeds under SHARED_DIR/bench/seeds.  Exit 77 (skip) when not
# root, when mount namespaces are unavailable, or when the seeds are absent.
set -euo pipefail
sw=$1
shared=$2
here=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for a private mount namespace"
command -v unshare >/dev/null || skip "unshare (util-linux) missing"
unshare -m --propagation private true 2>/dev/null || skip "cannot create a mount namespace here"
seeds=()
for s in smtp-stripped-xxxx smtp-tls10 smtp-starttls-refused smtp-stripped; do
	[ -f "$shared/bench/seeds/$s.pcap" ] && seeds+=(-r "$shared/bench/seeds/$s.pcap")
done
[ ${#seeds[@]} -gt 0 ] || skip "no bench seeds under $shared/bench/seeds"

T=$(mktemp -d /tmp/sw-syslog.XXXXXX)
lpid=
cleanup() {
	if [ -n "$lpid" ]; then
		kill "$lpid" 2>/dev/null || true
		wait "$lpid" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/dev"

python3 "$here/syslog_listen.py" "$T/log.sock" "$T/got" 60 &
lpid=$!
for _ in $(seq 100); do [ -e "$T/log.sock.ready" ] && break; sleep 0.05; done
[ -e "$T/log.sock.ready" ] || { echo "FAIL: syslog listener did not start"; exit 1; }
"$sw" keygen -s "$T/k" -p "$T/k.pub" >/dev/null

# stripwatch ARGS... with /dev/log pointing at the test's socket.
in_private_dev() {
	unshare -m --propagation private sh -c '
		set -e
		t=$1; shift
		mount -t tmpfs -o mode=755,size=64k sw-dev "$t/dev"
		for n in null zero full random urandom; do
			: > "$t/dev/$n"
			mount --bind "/dev/$n" "$t/dev/$n"
		done
		ln -s "$t/log.sock" "$t/dev/log"
		mount --bind "$t/dev" /dev
		exec "$@"' sh "$T" "$@"
}

# lines in $T/got
count() { [ -f "$T/got" ] && wc -l < "$T/got" || echo 0; }
# wait until $T/got has at least $1 lines (the listener drains its socket)
wait_lines() {
	for _ in $(seq 100); do [ "$(count)" -ge "$1" ] && return 0; sleep 0.05; done
	return 0
}

# Check: the lines of $1, in order, are the messages from line $2 on, facility $3.
check() {
	python3 - "$1" "$T/got" "$2" "$3" <<'PY'
import json, re, sys
out, got, first, fac = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = [l.rstrip("\n") for l in open(out)]
alerts = [l for l in lines if json.loads(l)["event_type"] == "alert"]
msgs = open(got, "rb").read().decode().splitlines()[first:]
fail = []
if not alerts:
	fail.append("no alert lines in the output: the input raised nothing")
if len(msgs) != len(lines):
	fail.append(f"{len(lines)} lines in the file, {len(msgs)} syslog messages")
prio_of = {1: 4, 2: 5, 3: 6}
for a, m in zip(lines, msgs):
	# glibc syslog(3): <PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE
	r = re.fullmatch(r"<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d stripwatch\[(\d+)\]: (.*)", m)
	if not r:
		fail.append(f"not a syslog(3) message: {m[:120]!r}")
		continue
	pri, msg = int(r.group(1)), r.group(3)
	ev = json.loads(a)
	want = prio_of[ev["alert"]["severity"]] if ev["event_type"] == "alert" else 6
	if pri != fac * 8 + want:
		fail.append(f"PRI {pri}, want facility {fac} priority {want} ({ev['event_type']})")
	if msg != a:
		fail.append(f"message differs from the file's line:\n  {msg[:200]}\n  {a[:200]}")
for f in fail:
	print("FAIL:", f)
print(f"syslog: {len(msgs)} messages for {len(lines)} lines ({len(alerts)} alerts), facility {fac}")
sys.exit(1 if fail else 0)
PY
}

# 1. --syslog: facility local5 (21), every line once, identical to the file's line.
in_private_dev "$sw" --syslog -k "$T/k" -o "$T/a.json" "${seeds[@]}"
n_lines=$(wc -l < "$T/a.json")
wait_lines "$n_lines"
check "$T/a.json" 0 21
"$sw" verify -p "$T/k.pub" "$T/a.json" >/dev/null

# 2. --syslog=mail (2), without flow events.
base=$(count)
in_private_dev "$sw" --syslog=mail --no-flow -k "$T/k" -o "$T/b.json" "${seeds[@]}"
wait_lines $((base + $(wc -l < "$T/b.json")))
check "$T/b.json" "$base" 2

# 3. No --syslog: nothing is sent.
base=$(count)
in_private_dev "$sw" -k "$T/k" -o "$T/c.json" "${seeds[@]}"
sleep 0.3
[ "$(count)" = "$base" ] || { echo "FAIL: messages sent without --syslog"; exit 1; }

# 4. A facility that does not exist is a usage error.
rc=0
"$sw" --syslog=local9 -k "$T/k" -o "$T/d.json" "${seeds[@]}" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "bad --syslog facility" "$T/err" ||
	{ echo "FAIL: --syslog=local9 exited $rc"; cat "$T/err"; exit 1; }
echo "syslog: ok"
