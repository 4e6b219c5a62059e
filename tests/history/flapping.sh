#!/usr/bin/env bash
# A server that omits STARTTLS in one session of three (a load-balanced pool
# with one member without TLS, here made of real sessions: benign ones and
# attack-smtp-stripped's clean+stripped pairs) must not alert on every miss
# once its history is known.
source "$(dirname "$0")/lib.bash"
need benign-smtp-tls13.server.pcap attack-smtp-stripped.client.pcap

python3 "$here/split_flows.py" "$PCAPS/attack-smtp-stripped.client.pcap" "$T/miss.pcap" 2
files=()
for i in 1 2 3 4; do
	files+=(-r "$PCAPS/benign-smtp-tls13.server.pcap" -r "$PCAPS/benign-smtp-tls13.server.pcap" -r "$T/miss.pcap")
done

# Without history the in-run rule alerts on every miss.
"$SW" --no-sign "${files[@]}" -o "$T/memo.json"
expect_count "$T/memo.json" '^starttls_stripped 1 ' 4 "in-run memory alone: every miss"

# With history: once three sessions are known the 67% rate decides (quiet);
# only misses before that may alert, and a second run is silent.
"$SW" --no-sign --state "$T/state" "${files[@]}" -o "$T/run1.json"
n=$(count "$T/run1.json" '^starttls_stripped ')
[ "$n" -le 1 ] || { alerts "$T/run1.json" >&2; fail "run 1: $n stripped alerts for a flapping server"; }
"$SW" --no-sign --state "$T/state" "${files[@]}" -o "$T/run2.json"
expect_count "$T/run2.json" '^starttls_stripped ' 0 "run 2: a known flapping server stays quiet"

# The same server with a clean record then one miss does alert (the rule has teeth).
"$SW" --no-sign --state "$T/clean" -r "$PCAPS/benign-smtp-tls13.server.pcap" \
	-r "$PCAPS/benign-smtp-tls13.server.pcap" -r "$PCAPS/benign-smtp-tls13.server.pcap" -o /dev/null
"$SW" --no-sign --state "$T/clean" -r "$T/miss.pcap" -o "$T/clean.json"
expect_count "$T/clean.json" '^starttls_stripped 1 .*\(history\)' 1 "clean history, one miss"
echo "ok"
