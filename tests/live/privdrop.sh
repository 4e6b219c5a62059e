#!/bin/bash
# tests/live/privdrop.sh STRIPWATCH
#
# -Z USER: stripwatch -i opens the capture, key and output as root, then runs
# as USER (nobody) for good: /proc/PID/status shows USER's uid and gid in all
# four slots, no supplementary groups, no effective or permitted
# capabilities, NoNewPrivs; it still captures (a TCP session to port 25 on
# a veth pair between two namespaces of its own becomes a flow event);
# SIGHUP after a logrotate-style rename reopens the output as USER; SIGTERM
# with a session still open writes it as a flow event (state open) before
# the stop record; the two files verify as one chain.  Exits 77 when not root or without ip netns.
set -euo pipefail
sw=$1
user=nobody

skip() { echo "SKIP: privdrop: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, packet capture)"
command -v ip >/dev/null || skip "ip (iproute2) missing"
uid=$(id -u "$user" 2>/dev/null) || skip "no user $user"
gid=$(id -g "$user")
na=swz$$-a
nb=swz$$-b
T=$(mktemp -d /tmp/sw-privdrop.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$na" 2>/dev/null || true
	ip netns del "$nb" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$na" 2>/dev/null || skip "ip netns is unavailable here"
ip netns add "$nb"
ip link add va netns "$na" type veth peer name vb netns "$nb"
ip -n "$na" addr add 192.0.2.1/24 dev va
ip -n "$nb" addr add 192.0.2.2/24 dev vb
for n in "$na" "$nb"; do ip -n "$n" link set lo up; done
ip -n "$na" link set va up
ip -n "$nb" link set vb up

fail() { echo "FAIL: privdrop: $*"; [ -f "$T/err" ] && cat "$T/err"; exit 1; }
chmod 755 "$T"
mkdir "$T/log"
chown "$uid:$gid" "$T/log"
"$sw" keygen -s "$T/k" -p "$T/k.pub" >/dev/null 2>&1

# Until the server in nb listens on port 25 (5 s at most).
wait_listen() {
	for _ in $(seq 100); do
		ip netns exec "$nb" ss -Hltn | grep -q '192.0.2.2:25 ' && return
		sleep 0.05
	done
}

# A one-connection SMTP-ish server in nb and a client in na.
serve() {
	ip netns exec "$nb" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", 25)); s.listen(1); s.settimeout(10)
c, _ = s.accept(); c.sendall(b"220 mx.example ESMTP\r\n"); c.recv(100)
c.sendall(b"221 bye\r\n"); c.close()' &
	pids+=($!)
	wait_listen
	ip netns exec "$na" python3 -c '
import socket
c = socket.create_connection(("192.0.2.2", 25), timeout=10)
c.recv(100); c.sendall(b"QUIT\r\n"); c.recv(100); c.close()'
	wait "${pids[-1]}"
}

mkdir "$T/state"
chown "$uid:$gid" "$T/state"
ip netns exec "$na" "$sw" -i va -Z "$user" -k "$T/k" -o "$T/log/eve.json" --host z \
	--state "$T/state" --stats-interval 3600 2>"$T/err" &
pid=$!
pids+=("$pid")
# ready once the SIGUSR1 handler is in: capture open, privileges dropped
for _ in $(seq 200); do
	cgt=$(awk '/^SigCgt:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
	[ $(( 0x$cgt & (1 << 9) )) != 0 ] && break
	kill -0 "$pid" 2>/dev/null || fail "stripwatch exited at start"
	sleep 0.05
done

st=/proc/$pid/status
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$st"; }
[ "$(field Uid)" = "$(printf '%s %s %s %s' "$uid" "$uid" "$uid" "$uid")" ] ||
	fail "Uid: $(field Uid), want $uid x4"
[ "$(field Gid)" = "$(printf '%s %s %s %s' "$gid" "$gid" "$gid" "$gid")" ] ||
	fail "Gid: $(field Gid), want $gid x4"
[ -z "$(field Groups)" ] || fail "Groups: $(field Groups)"
[ "$(field CapEff)" = 0000000000000000 ] || fail "CapEff: $(field CapEff)"
[ "$(field CapPrm)" = 0000000000000000 ] || fail "CapPrm: $(field CapPrm)"
[ "$(field NoNewPrivs)" = 1 ] || fail "NoNewPrivs: $(field NoNewPrivs)"
[ "$(stat -c %u "$T/log/eve.json")" = "$uid" ] || fail "the output file is not $user's"

serve
sleep 0.3
mv "$T/log/eve.json" "$T/log/eve.json.1"
kill -HUP "$pid"
for _ in $(seq 100); do [ -e "$T/log/eve.json" ] && break; sleep 0.05; done
[ -e "$T/log/eve.json" ] || fail "SIGHUP did not reopen the output"
[ "$(stat -c %u "$T/log/eve.json")" = "$uid" ] || fail "the reopened file is not $user's"
serve
# A session still open at SIGTERM: stop must write it as a flow event.
ip netns exec "$nb" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", 25)); s.listen(1); s.settimeout(10)
c, _ = s.accept(); c.sendall(b"220 mx.example ESMTP\r\n"); time.sleep(30)' &
pids+=($!)
wait_listen
ip netns exec "$na" python3 -c '
import socket, time
c = socket.create_connection(("192.0.2.2", 25), timeout=10)
c.recv(100); c.sendall(b"EHLO z\r\n"); time.sleep(30)' &
pids+=($!)
for _ in $(seq 100); do
	ip netns exec "$na" ss -Htn state established | grep -q '192.0.2.2:25 ' && break
	sleep 0.05
done
sleep 0.3
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "stripwatch exited $rc"

n1=$(grep -c '"event_type":"flow".*"dest_ip":"192.0.2.2","dest_port":25' "$T/log/eve.json.1" || true)
n2=$(grep -c '"event_type":"flow".*"dest_ip":"192.0.2.2","dest_port":25' "$T/log/eve.json" || true)
[ "$n1" = 1 ] && [ "$n2" = 2 ] || fail "flow events: $n1 before the rotation, $n2 after (want 1 and 2)"
grep '"event_type":"flow"' "$T/log/eve.json" | grep -q '"state":"open"' ||
	fail "the session open at SIGTERM was not written as an open flow"
tail -n 1 "$T/log/eve.json" | grep -q '"kind":"stop"' || fail "no stop record"
"$sw" verify -p "$T/k.pub" "$T/log/eve.json.1" "$T/log/eve.json" >"$T/verify" 2>&1 ||
	{ cat "$T/verify"; fail "verify"; }
echo "privdrop: ok (uid $uid gid $gid, CapEff 0, flows $n1+$n2 one open at stop, rotation verified)"
