#!/bin/sh
# minisig_test.sh - closed output files verify with stock minisign, and the
# chain verifier handles key rotation and --json.
#
# usage: minisig_test.sh STRIPWATCH SW_SIGN_GEN
# Exit 0 pass, 1 fail, 77 skip (minisign or python3 not installed).
set -u
SW=$1
GEN=$2
command -v minisign >/dev/null 2>&1 || { echo "minisign not installed: skipped"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "python3 not installed: skipped"; exit 77; }
T=$(mktemp -d /tmp/sw-minisig-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect_rc WANT CMD...: runs CMD, compares its exit status.
expect_rc() {
	want=$1; shift
	"$@" >out.txt 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$* -> $rc"; else bad "$* -> $rc, wanted $want"; cat out.txt; fi
}
# tc_field FILE KEY: a key=value from the .minisig's trusted comment.
tc_field() {
	sed -n 's/^trusted comment: //p' "$1.minisig" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# last_line_head FILE: base64(BLAKE2b-256(last line)), the chain's head.
last_line_head() {
	python3 -c 'import sys,hashlib,base64
l=open(sys.argv[1],"rb").read().rstrip(b"\n").split(b"\n")[-1]
print(base64.b64encode(hashlib.blake2b(l,digest_size=32).digest()).decode())' "$1"
}
last_seq() {
	tail -n 1 "$1" | sed 's/.*,"seq":\([0-9]*\),.*/\1/'
}

"$SW" keygen -s k.key -p k.pub 2>/dev/null || { echo "keygen failed"; exit 1; }

# 1. A closed file verifies with minisign; its trusted comment names it.
"$GEN" -k k.key -o eve.json -n 3000 -A 7 || exit 1
[ -f eve.json.minisig ] && ok ".minisig written" || bad "no eve.json.minisig"
expect_rc 0 minisign -Vm eve.json -p k.pub
[ "$(tc_field eve.json file)" = eve.json ] && ok "file=" || bad "file= is $(tc_field eve.json file)"
[ "$(tc_field eve.json first_seq)" = 0 ] && ok "first_seq=0" || bad "first_seq"
[ "$(tc_field eve.json last_seq)" = "$(last_seq eve.json)" ] && ok "last_seq" || bad "last_seq $(tc_field eve.json last_seq)"
[ "$(tc_field eve.json head)" = "$(last_line_head eve.json)" ] && ok "head" || bad "head"
tail -n 1 eve.json | grep -q "\"session\":\"$(tc_field eve.json session)\"" && ok "session" || bad "session"
expect_rc 0 "$SW" verify -p k.pub eve.json

# 2. Any change fails: one byte inside, a byte added, a byte cut, the trusted comment.
cp eve.json orig.json
cp eve.json.minisig orig.minisig
python3 -c 'import sys
b=bytearray(open("eve.json","rb").read()); i=len(b)//2; b[i]^=1; open("eve.json","wb").write(b)'
expect_rc 1 minisign -Vm eve.json -p k.pub
cp orig.json eve.json; printf 'x' >> eve.json
expect_rc 1 minisign -Vm eve.json -p k.pub
cp orig.json eve.json; truncate -s -1 eve.json
expect_rc 1 minisign -Vm eve.json -p k.pub
cp orig.json eve.json
sed 's/^trusted comment: file=eve.json/trusted comment: file=other.json/' orig.minisig > eve.json.minisig
expect_rc 1 minisign -Vm eve.json -p k.pub
cp orig.minisig eve.json.minisig
expect_rc 0 minisign -Vm eve.json -p k.pub

# 3. Appending rewrites the .minisig over the whole file; first_seq stays 0.
"$GEN" -a -k k.key -o eve.json -n 200 -A 5 || exit 1
expect_rc 0 minisign -Vm eve.json -p k.pub
[ "$(tc_field eve.json first_seq)" = 0 ] && ok "appended: first_seq=0" || bad "appended first_seq"
[ "$(tc_field eve.json last_seq)" = "$(last_seq eve.json)" ] && ok "appended: last_seq" || bad "appended last_seq"
expect_rc 0 "$SW" verify -p k.pub eve.json

# 4. Rotation (rename + reopen): each closed file gets its own .minisig under its new name.
rm -f eve.json eve.json.minisig
"$GEN" -k k.key -o eve.json -n 2000 -R eve.json.2@700 -R eve.json.1@1400 || exit 1
for f in eve.json.2 eve.json.1 eve.json; do
	expect_rc 0 minisign -Vm $f -p k.pub
	[ "$(tc_field $f file)" = "$f" ] && ok "$f: file=" || bad "$f: file= $(tc_field $f file)"
	[ "$(tc_field $f last_seq)" = "$(last_seq $f)" ] && ok "$f: last_seq" || bad "$f: last_seq"
done
f1=$(tc_field eve.json.1 first_seq); l2=$(tc_field eve.json.2 last_seq)
[ "$f1" -eq $((l2 + 1)) ] && ok "rotated files adjoin" || bad "first_seq $f1 after last_seq $l2"
expect_rc 0 "$SW" verify -p k.pub eve.json.2 eve.json.1 eve.json

# 5. Key rotation: keygen --force, then append with the new key.
cp k.pub old.pub
"$SW" keygen --force -s k.key -p k.pub 2>/dev/null || exit 1
"$GEN" -a -k k.key -o eve.json -n 300 -A 11 || exit 1
expect_rc 0 "$SW" verify -p old.pub -p k.pub eve.json.2 eve.json.1 eve.json
expect_rc 0 "$SW" verify -p k.pub -p old.pub eve.json
expect_rc 1 "$SW" verify -p old.pub eve.json
expect_rc 1 "$SW" verify -p k.pub eve.json
expect_rc 0 minisign -Vm eve.json -p k.pub
expect_rc 1 minisign -Vm eve.json -p old.pub

# 6. --json: one object, the fields a machine needs.
"$SW" verify --json -p old.pub -p k.pub eve.json > v.json; rc=$?
python3 - v.json "$rc" <<'PY' && ok "--json ok" || bad "--json ok: $(cat v.json)"
import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[2] == "0" and d["ok"] is True and d["first_error"] is None, d
assert d["lines"] > 300 and d["signed"] > 0 and d["sessions"] >= 2, d
PY
"$SW" verify --json -p old.pub eve.json > v.json; rc=$?
python3 - v.json "$rc" <<'PY' && ok "--json wrong key" || bad "--json wrong key: $(cat v.json)"
import json, sys
d = json.load(open(sys.argv[1]))
e = d["first_error"]
assert sys.argv[2] == "1" and d["ok"] is False, d
assert e["kind"] == "wrong_key" and e["file"] == "eve.json" and e["line"] > 1, d
PY
"$SW" verify --json -p k.pub nonexistent.json > v.json; rc=$?
python3 - v.json "$rc" <<'PY' && ok "--json io" || bad "--json io: $(cat v.json)"
import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[2] == "2" and d["ok"] is False and d["first_error"]["kind"] == "io", d
PY

# 7. The real program: a capture file in, a signed file and its .minisig out; none for stdout.
python3 - cap.pcap <<'PY'
import struct, sys
def pkt(ts, flags, seq, ack):
    ip_src, ip_dst = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
    tcp = struct.pack("!HHIIBBHHH", 40000, 25, seq, ack, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, ip_src, ip_dst)
    eth = b"\x00\x01\x02\x03\x04\x05" + b"\x00\x01\x02\x03\x04\x06" + b"\x08\x00"
    f = eth + ip + tcp
    return struct.pack("<IIII", ts, 0, len(f), len(f)) + f
with open(sys.argv[1], "wb") as o:
    o.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    o.write(pkt(1764227880, 0x02, 1, 0))
    o.write(pkt(1764227881, 0x12, 1, 2))
PY
expect_rc 0 "$SW" -r cap.pcap -o run.json -k k.key
expect_rc 0 minisign -Vm run.json -p k.pub
expect_rc 0 "$SW" verify -p k.pub run.json
"$SW" -r cap.pcap -o - -k k.key > stdout.json 2>/dev/null
[ ! -e ./-.minisig ] && [ ! -e stdout.json.minisig ] && ok "no .minisig for stdout" || bad ".minisig for stdout"
expect_rc 0 "$SW" verify -p k.pub stdout.json

echo "minisig_test: $fails failure(s)"
[ "$fails" -eq 0 ]
