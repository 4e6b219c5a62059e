#!/usr/bin/env bash
# --policy on real captures: encrypt raises the violations at severity 1
# with the rule and its line, testing lowers them to 3, none silences the
# mail findings (not the TLS ones), name rules match the banner name, and a
# bad file stops the start with its line number (exit 2).
source "$(dirname "$0")/lib.bash"
need benign-smtp-no-starttls.client.pcap benign-smtp-starttls-ignored.client.pcap \
     benign-smtp-tls12-server-capped.client.pcap attack-tls-rc4.client.pcap benign-smtp-tls13.client.pcap

run() { # policy-text capture out
	printf '%s\n' "$1" > "$T/p.conf"
	"$SW" --no-sign --policy "$T/p.conf" -r "$PCAPS/$2" -o "$T/$3"
}

# A server that never offers STARTTLS, under encrypt: stripped (no history needed) and not_used.
run '# partners
[198.51.100.26]:25  encrypt
*                   may' benign-smtp-no-starttls.client.pcap enc.json
expect_count "$T/enc.json" '^starttls_stripped 1 [0-9]+ \[198\.51\.100\.26\]:25:2:encrypt:enforce \| the policy requires STARTTLS' 1 "encrypt: stripped"
expect_count "$T/enc.json" '^starttls_not_used 1 [0-9]+ \[198\.51\.100\.26\]:25:2:encrypt:enforce' 1 "encrypt: not_used"
expect_count "$T/enc.json" '.' 2 "encrypt: nothing else"
# verify is checked like encrypt (no certificate is parsed); a CIDR rule; mode=testing lowers to 3.
run '198.51.100.0/24 verify mode=testing' benign-smtp-no-starttls.client.pcap test.json
expect_count "$T/test.json" '^starttls_stripped 3 [0-9]+ 198\.51\.100\.0/24:1:verify:testing' 1 "testing: stripped at 3"
expect_count "$T/test.json" '^starttls_not_used 3 ' 1 "testing: not_used at 3"
# Without a policy the same capture is quiet; `may` is the default behaviour.
run '* may' benign-smtp-no-starttls.client.pcap may.json
expect_count "$T/may.json" '.' 0 "may: quiet"

# A client that ignores STARTTLS: 3 by default, 1 under encrypt matched by the banner name.
run '' benign-smtp-starttls-ignored.client.pcap none0.json
expect_count "$T/none0.json" '^starttls_not_used 3 [0-9]+ - ' 1 "no policy: not_used at 3"
run '.other.example  none
mx.lab.example   encrypt' benign-smtp-starttls-ignored.client.pcap name.json
expect_count "$T/name.json" '^starttls_not_used 1 [0-9]+ mx\.lab\.example:2:encrypt:enforce \| the policy requires' 1 "name rule"
# An Exchange connector with IgnoreSTARTTLS: none silences the mail findings.
run '[198.51.100.25]:25  none' benign-smtp-starttls-ignored.client.pcap none.json
expect_count "$T/none.json" '.' 0 "none: silent"
# ...but not the TLS findings: a weak cipher stays a weak cipher.
run '198.51.100.31 none' attack-tls-rc4.client.pcap rc4.json
expect_count "$T/rc4.json" '^tls_weak_cipher 2 [0-9]+ 198\.51\.100\.31:1:none:enforce' 1 "none keeps TLS findings"

# min_version: a server capped at TLS 1.2 while the client offered 1.3.
run '198.51.100.27 encrypt min_version=1.3' benign-smtp-tls12-server-capped.client.pcap minv.json
expect_count "$T/minv.json" '^tls_weak_version 1 [0-9]+ 198\.51\.100\.27:1:encrypt:enforce' 1 "min_version: weak version"
expect_count "$T/minv.json" '^tls_version_downgrade 1 ' 1 "min_version: downgrade"
grep -q '"min_version":"TLS 1.3"' "$T/minv.json" || fail "policy object names min_version"
# A compliant session under encrypt raises nothing.
run '* encrypt min_version=1.2' benign-smtp-tls13.client.pcap ok.json
expect_count "$T/ok.json" '.' 0 "compliant session"

# A bad file: exit 2, FILE:LINE, and no output written.
printf '* may\n[198.51.100.25]:25 encrpyt\n' > "$T/bad.conf"
set +e
"$SW" --no-sign --policy "$T/bad.conf" -r "$PCAPS/benign-smtp-tls13.client.pcap" -o "$T/bad.json" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad policy: exit $rc"
grep -q "bad.conf:2: unknown level 'encrpyt'" "$T/err" || { cat "$T/err" >&2; fail "bad policy: message"; }
[ ! -s "$T/bad.json" ] || fail "bad policy: output written"
echo "ok"
