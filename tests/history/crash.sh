#!/usr/bin/env bash
# kill -9 while the store is being written, then a restart reads it and
# keeps detecting.  A long timeline of two captures made 32 s apart makes
# every file switch a flush (packet time moves by more than 30 s), so the
# kill lands among writes.
source "$(dirname "$0")/lib.bash"
need benign-smtp-tls13.client.pcap benign-smtp-tls12-server-capped.client.pcap attack-smtp-stripped.client.pcap

python3 "$here/split_flows.py" "$PCAPS/attack-smtp-stripped.client.pcap" "$T/stripped-only.pcap" 2
args=()
for i in $(seq 2000); do
	args+=(-r "$PCAPS/benign-smtp-tls13.client.pcap" -r "$PCAPS/benign-smtp-tls12-server-capped.client.pcap")
done
for round in 1 2 3; do
	"$SW" --no-sign --no-flow --state "$T/state" "${args[@]}" -o /dev/null &
	pid=$!
	# Once the first rows are committed, kill at a random moment among later writes.
	for _ in $(seq 500); do
		"$SW" history --state "$T/state" 2>/dev/null | grep -q '^server ' && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.005
	done
	sleep "0.0$((RANDOM % 5))"
	kill -0 "$pid" 2>/dev/null || fail "round $round: the run ended before the kill"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null && fail "round $round: not killed"
	# The store opens (SQLite quick_check) and holds what was committed.
	"$SW" history --state "$T/state" > "$T/table.txt" || fail "round $round: store unreadable"
	grep -Eq '^server +198\.51\.100\.25:25 +mx\.lab\.example +[0-9]+ +100% ' "$T/table.txt" ||
		{ cat "$T/table.txt" >&2; fail "round $round: learned rows missing"; }
done
# After the crashes: the stripped session alone alerts from the store.
"$SW" --no-sign --state "$T/state" -r "$T/stripped-only.pcap" -o "$T/after.json"
expect_count "$T/after.json" '^starttls_stripped 1 .*\(history\)' 1 "detection after kill -9"
echo "ok"
