#!/bin/bash
# tests/live/soak.sh STRIPWATCH PCAP MBPS|top LOOPS DIR: a soak run, by hand (not a ctest test).
#
# Replays PCAP (e.g. a bench capture: make -C ../shared/bench O=/tmp/mbp &&
# /tmp/mbp/make-bench-pcap --bytes 200M --seed 1 -o /tmp/soak.pcap) LOOPS times
# at MBPS (or top speed) with tcpreplay into a veth pair between two network
# namespaces of its own (the capture's 127.x addresses never leave them);
# stripwatch -i captures on the peer (filter "tcp", stats every 10 s, history
# in DIR/state).  VmRSS is sampled every 5 s into DIR/rss ("seconds kB").
# Afterwards it runs the same capture LOOPS times in file mode (fresh history)
# and prints findings per kind for both, the kernel counters and the RSS
# samples.  Needs root and tcpreplay.
set -euo pipefail
sw=$(readlink -f "$1"); pcap=$(readlink -f "$2"); rate=$3; loops=$4; D=$5
na=swsoak$$-a
nb=swsoak$$-b
mkdir -p "$D"
rm -rf "$D/state" "$D/fstate"
spid= mpid=
cleanup() {
	for p in $spid $mpid; do kill "$p" 2>/dev/null || true; done
	ip netns del "$na" 2>/dev/null || true
	ip netns del "$nb" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$na"
ip netns add "$nb"
ip link add va netns "$na" mtu 9000 type veth peer name vb netns "$nb" mtu 9000
ip -n "$na" link set va up
ip -n "$nb" link set vb up
[ -f "$D/k" ] || "$sw" keygen -s "$D/k" -p "$D/k.pub" >/dev/null 2>&1
ip netns exec "$nb" "$sw" -i vb -k "$D/k" -o "$D/live.json" --host soak --stats-interval 10 \
	--state "$D/state" tcp 2>"$D/err" &
spid=$!
sleep 2
t0=$(date +%s)
(while kill -0 "$spid" 2>/dev/null; do
	echo "$(( $(date +%s) - t0 )) $(awk '/^VmRSS/ { print $2 }' "/proc/$spid/status")"
	sleep 5
done) >"$D/rss" 2>/dev/null &
mpid=$!
if [ "$rate" = top ]; then speed=--topspeed; else speed="--mbps $rate"; fi
ip netns exec "$na" tcpreplay -i va $speed --loop "$loops" "$pcap" >"$D/tcpreplay.out" 2>&1
sleep 3
kill -TERM "$spid"
wait "$spid"
spid=
files=()
for _ in $(seq "$loops"); do files+=(-r "$pcap"); done
"$sw" -k "$D/k" -o "$D/file.json" --state "$D/fstate" "${files[@]}"
grep -E "Actual|Rated" "$D/tcpreplay.out"
python3 - "$D" <<'PY'
import collections, json, sys
d = sys.argv[1]
def load(p):
	fc, flows, stats = collections.Counter(), 0, None
	for line in open(p):
		e = json.loads(line)
		if e["event_type"] == "alert":
			fc[e["finding"]] += 1
		elif e["event_type"] == "flow":
			flows += 1
		elif e["event_type"] == "stats":
			stats = e["stats"]
	return fc, flows, stats
f, l = load(f"{d}/file.json"), load(f"{d}/live.json")
print(f"{'finding':28} {'file':>8} {'live':>8}")
for k in sorted(set(f[0]) | set(l[0])):
	print(f"{k:28} {f[0][k]:8} {l[0][k]:8}")
print(f"{'flow events':28} {f[1]:8} {l[1]:8}")
c = l[2]["capture"]
print(f"live: kernel_received {c['kernel_received']} kernel_dropped {c['kernel_dropped']} "
      f"tcp {c['tcp']} caps_hit {l[2]['caps_hit']}")
PY
echo "VmRSS kB (s kB): $(tr '\n' ' ' <"$D/rss")"
