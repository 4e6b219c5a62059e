#!/usr/bin/env bash
# Two runs, one store: run 1 learns 198.51.100.25:25 from benign captures
# (client vantage: STARTTLS offered, TLS 1.3); run 2 sees only the stripped
# session of attack-smtp-stripped (its clean first session cut away), so the
# only memory that can tell stripping from "never offered" is the store.
source "$(dirname "$0")/lib.bash"
need benign-smtp-tls13.client.pcap benign-smtp-tls12.client.pcap benign-smtp-multi.client.pcap \
     attack-smtp-stripped.client.pcap

python3 "$here/split_flows.py" "$PCAPS/attack-smtp-stripped.client.pcap" "$T/stripped-only.pcap" 2

# Control: without history the lone stripped session looks like a server without STARTTLS.
"$SW" --no-sign -r "$T/stripped-only.pcap" -o "$T/alone.json"
expect_count "$T/alone.json" '^starttls_stripped ' 0 "no history"

"$SW" --no-sign --state "$T/state" -r "$PCAPS/benign-smtp-tls13.client.pcap" \
	-r "$PCAPS/benign-smtp-tls12.client.pcap" -r "$PCAPS/benign-smtp-multi.client.pcap" -o "$T/run1.json"
expect_count "$T/run1.json" '.' 0 "run 1 (benign) raises nothing"
[ -s "$T/state/history.db" ] || fail "no store written"

"$SW" --no-sign --state "$T/state" -r "$T/stripped-only.pcap" -o "$T/run2.json"
expect_count "$T/run2.json" '^starttls_stripped 1 .*offered STARTTLS in 3 of its last 3 sessions \(history\)' 1 \
	"run 2: stripped from history"
# The stripping proxy answered the SYN itself, one hop closer than the server:
# path_changed at severity 1 beside the loss, with both fingerprints.
expect_count "$T/run2.json" '^path_changed 1 .*SYN-ACK hops=0 ttl=64/64.*usual SYN-ACK hops=1 ttl=63/64' 1 \
	"run 2: path_changed severity 1"
expect_count "$T/run2.json" '.' 2 "run 2: nothing else"

# A threshold above what was learned: history undecided, and no in-run memory either.
"$SW" --no-sign --state "$T/state" --history-threshold 9 -r "$T/stripped-only.pcap" -o "$T/run3.json"
expect_count "$T/run3.json" '^starttls_stripped ' 0 "threshold 9: undecided"

# The table.
"$SW" history --state "$T/state" > "$T/table.txt"
grep -Eq '^server +198\.51\.100\.25:25 +mx\.lab\.example +[0-9]+ +[0-9]+% +1\.2,1\.3 ' "$T/table.txt" ||
	{ cat "$T/table.txt" >&2; fail "history table"; }
grep -q 'TLS_AES_256_GCM_SHA384' "$T/table.txt" || fail "ciphers in the table"
grep -Eq '^client .*192\.0\.2\.10 .*used STARTTLS in' "$T/table.txt" || fail "client row in the table"
"$SW" history --state "$T/nothing" 2>"$T/err" && fail "history of a missing store succeeded"
grep -q "history.db" "$T/err" || fail "missing store: message"
echo "ok"
