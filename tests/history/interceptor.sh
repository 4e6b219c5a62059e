#!/usr/bin/env bash
# An interceptor's sessions never teach the server's history: in
# attack-smtp-path-changed (client link) five sessions go straight to the
# server, then a transparent proxy one hop closer answers two more in the
# server's name and strips STARTTLS from both.  Both stripped sessions must
# alert (severity 1) beside path_changed (severity 1): the first one,
# answered from the unknown path, must not lower the server's offer rate
# for the second.  The same sessions without interception stay quiet.
source "$(dirname "$0")/lib.bash"
need attack-smtp-path-changed.client.pcap benign-smtp-path-stable.client.pcap

"$SW" --no-sign --state "$T/a" -r "$PCAPS/attack-smtp-path-changed.client.pcap" -o "$T/attack.json"
expect_count "$T/attack.json" '^starttls_stripped 1 .*\(history\)' 2 "both intercepted sessions stripped, from history"
expect_count "$T/attack.json" '^path_changed 1 .*hops=0 ttl=64/64' 2 "both intercepted sessions answered one hop closer"
expect_count "$T/attack.json" '^(starttls_stripped|path_changed) 3 ' 0 "no low-severity leftovers"

"$SW" --no-sign --state "$T/b" -r "$PCAPS/benign-smtp-path-stable.client.pcap" -o "$T/benign.json"
expect_count "$T/benign.json" '.' 0 "the direct sessions alone"
echo "ok"
