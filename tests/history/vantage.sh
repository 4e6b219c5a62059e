#!/usr/bin/env bash
# path_changed needs a stable history and a closer (or different) answerer:
# learned at the server's link (0 hops), a benign capture of the same
# server from the client's link (1 hop farther, same stack) raises nothing;
# learned at the client's link, the stripping proxy (0 hops: closer) raises
# path_changed, severity 3 for its clean relayed session and 1 beside the
# stripping.
source "$(dirname "$0")/lib.bash"
need benign-smtp-tls13.server.pcap benign-smtp-tls12.server.pcap benign-smtp-multi.server.pcap \
     benign-smtp-tls13.client.pcap benign-smtp-tls12.client.pcap benign-smtp-multi.client.pcap \
     benign-smtp-mta.client.pcap attack-smtp-stripped.client.pcap attack-smtp-stripped.server.pcap

"$SW" --no-sign --state "$T/srv" -r "$PCAPS/benign-smtp-tls13.server.pcap" -r "$PCAPS/benign-smtp-tls12.server.pcap" \
	-r "$PCAPS/benign-smtp-multi.server.pcap" -o "$T/learn-srv.json"
"$SW" --no-sign --state "$T/srv" -r "$PCAPS/benign-smtp-mta.client.pcap" -o "$T/other-vantage.json"
expect_count "$T/other-vantage.json" '.' 0 "benign capture from another vantage"
# The attack seen at the server's link: the real server answers, no path change.
"$SW" --no-sign --state "$T/srv" -r "$PCAPS/attack-smtp-stripped.server.pcap" -o "$T/attack-srv.json"
expect_count "$T/attack-srv.json" '^path_changed ' 0 "server vantage of the attack"

"$SW" --no-sign --state "$T/cli" -r "$PCAPS/benign-smtp-tls13.client.pcap" -r "$PCAPS/benign-smtp-tls12.client.pcap" \
	-r "$PCAPS/benign-smtp-multi.client.pcap" -o "$T/learn-cli.json"
expect_count "$T/learn-cli.json" '.' 0 "learning"
"$SW" --no-sign --state "$T/cli" -r "$PCAPS/attack-smtp-stripped.client.pcap" -o "$T/attack-cli.json"
alerts "$T/attack-cli.json" > "$T/a.txt"
first=$(awk '$1 == "starttls_stripped" { print $3 }' "$T/a.txt")
[ -n "$first" ] || { cat "$T/a.txt" >&2; fail "no starttls_stripped"; }
expect_count "$T/attack-cli.json" "^path_changed 1 $first .*hops=0 ttl=64/64.*usual SYN-ACK hops=1 ttl=63/64" 1 \
	"path_changed 1 on the stripped session"
expect_count "$T/attack-cli.json" '^path_changed 3 ' 1 "path_changed 3 on the relayed clean session"
# Without history there is no path to compare: no path_changed.
"$SW" --no-sign -r "$PCAPS/attack-smtp-stripped.client.pcap" -o "$T/nohist.json"
expect_count "$T/nohist.json" '^path_changed ' 0 "no history, no path_changed"
echo "ok"
