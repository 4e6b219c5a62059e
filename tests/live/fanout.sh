#!/bin/bash
# tests/live/fanout.sh STRIPWATCH PCAPDIR
#
# -i IF --workers 2: two sockets in one PACKET_FANOUT group split the
# interface by server endpoint in the kernel (capture/fanout.c).  The lab's
# client-side captures (real postfix, exim4, dovecot, swaks, openssl...)
# are sent over a veth pair inside a namespace of this test's own while
# stripwatch -i --workers 2 --state DIR listens on the far end.  Then:
#   - the kernel accepted the program and both workers got packets (the
#     per-worker lines stripwatch prints at exit);
#   - the live run raised exactly the findings a single-engine run of
#     stripwatch -r over the same files raises, each with a fresh --state
#     (kind and 4-tuple, as a multiset; sensor_degraded aside), so no
#     session was split between workers and no server's in-run memory or
#     history was lost (the workers share one history store);
#   - SIGUSR1 while it runs writes a stats event from the workers'
#     snapshots; a rename and SIGHUP continue the chain in a new file, and
#     the two files verify as one chain.
# Exits 77 when not root or without ip netns.
set -euo pipefail
sw=$1
pcaps=$2
here=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: fanout: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, packet capture)"
command -v ip >/dev/null || skip "ip (iproute2) missing"
ns=swfo$$
T=$(mktemp -d /tmp/sw-fanout.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$ns" 2>/dev/null || skip "ip netns is unavailable here"
ip -n "$ns" link add fa type veth peer name fb
ip -n "$ns" link set fa up
ip -n "$ns" link set fb up
fail() { echo "FAIL: fanout: $*"; cat "$T/err" 2>/dev/null; exit 1; }

"$sw" keygen -s "$T/k" -p "$T/k.pub" >/dev/null 2>&1
mapfile -t files < <(ls "$pcaps"/*.client.pcap | sort)
[ "${#files[@]}" -ge 20 ] || fail "only ${#files[@]} captures in $pcaps"

ip netns exec "$ns" "$sw" -i fb --workers 2 --state "$T/state" -k "$T/k" -o "$T/live.json" \
	2>"$T/err" &
pids+=($!)
swpid=$!
# Ready when both packet sockets are in the namespace's table (header + 2 lines).
for _ in $(seq 100); do
	[ "$(ip netns exec "$ns" cat /proc/net/packet | wc -l)" -ge 3 ] && break
	kill -0 "$swpid" 2>/dev/null || fail "stripwatch exited at start"
	sleep 0.05
done
[ "$(ip netns exec "$ns" cat /proc/net/packet | wc -l)" -ge 3 ] || fail "stripwatch did not open its sockets"
sleep 0.3
half=$(( ${#files[@]} / 2 ))
sent1=$(ip netns exec "$ns" python3 "$here/replay.py" fa "${files[@]:0:$half}")
sleep 0.5
# SIGUSR1 while the workers run: a stats event from their snapshots.
kill -USR1 "$swpid"
for _ in $(seq 40); do
	grep -q '"event_type":"stats"' "$T/live.json" 2>/dev/null && break
	sleep 0.05
done
grep -q '"event_type":"stats"' "$T/live.json" || fail "no stats event after SIGUSR1"
# logrotate: rename, SIGHUP, and the rest goes to a new file of the same chain.
mv "$T/live.json" "$T/live.1.json"
kill -HUP "$swpid"
for _ in $(seq 40); do [ -e "$T/live.json" ] && break; sleep 0.05; done
sent2=$(ip netns exec "$ns" python3 "$here/replay.py" fa "${files[@]:$half}")
sent=$((sent1 + sent2))
sleep 1
kill -TERM "$swpid"
wait "$swpid" || fail "stripwatch -i --workers 2 exited $?"
pids=()

rargs=()
for f in "${files[@]}"; do rargs+=(-r "$f"); done
"$sw" "${rargs[@]}" --state "$T/refstate" --no-sign -o "$T/ref.json" 2>"$T/ref.err" || fail "stripwatch -r failed"
"$sw" verify -p "$T/k.pub" "$T/live.1.json" "$T/live.json" >"$T/verify" 2>&1 ||
	{ cat "$T/verify"; fail "verify"; }
cat "$T/live.1.json" "$T/live.json" >"$T/live.all.json"
python3 - "$T/live.all.json" "$T/ref.json" "$T/err" "$sent" <<'PY' || fail "see above"
import collections, json, re, sys
live, ref, err, sent = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

stats = [json.loads(l)["stats"] for l in open(live) if '"event_type":"stats"' in l]
if len(stats) < 2 or stats[0]["capture"]["frames"] == 0:
	print("  the SIGUSR1 stats event counted no frames: %s" % (stats[:1],))
	sys.exit(1)

def findings(path):
	c = collections.Counter()
	for line in open(path):
		e = json.loads(line)
		if e.get("event_type") != "alert":
			continue
		kind = e["finding"]
		if kind == "sensor_degraded":
			continue
		c[(kind, e.get("src_ip"), e.get("src_port"), e.get("dest_ip"), e.get("dest_port"))] += 1
	return c

a, b = findings(live), findings(ref)
workers = [int(m.group(2)) for m in re.finditer(r"worker (\d+): (\d+) packets", open(err).read())]
bad = []
if len(workers) != 2 or min(workers) == 0:
	bad.append(f"the workers' packets were {workers}: the split did not happen")
if sum(workers) != sent:
	bad.append(f"{sent} frames sent, the workers took {sum(workers)}")
if a != b:
	for k in sorted(set(a) | set(b), key=str):
		if a[k] != b[k]:
			bad.append(f"{k}: live {a[k]}, file {b[k]}")
if not b:
	bad.append("the file run raised nothing: the captures are not the lab's")
for x in bad:
	print("  " + x)
print(f"fanout: {sent} frames, workers {workers}, {sum(b.values())} findings in both runs" if not bad else "")
sys.exit(1 if bad else 0)
PY
echo "PASS: fanout"
