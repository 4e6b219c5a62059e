#!/usr/bin/env bash
# SIGUSR2 reloads --policy in a live run (stripwatch -i lo in a network
# namespace of its own; a tiny SMTP exchange on that lo without STARTTLS):
#   policy A ([127.0.0.1]:25 encrypt, line 2) -> session 1: starttls_stripped, policy line 2
#   broken file + SIGUSR2 -> stderr and a sensor_degraded event name FILE:LINE;
#                            session 2 still judged by A
#   policy B ([127.0.0.1]:25 none) + SIGUSR2 -> "reloaded"; session 3 silent
source "$(dirname "$0")/lib.bash"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespace, capture)"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: ip (iproute2) missing"; exit 77; }
ns=swpol$$
ip netns add "$ns" 2>/dev/null || { echo "SKIP: ip netns is unavailable here"; exit 77; }
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ip -n "$ns" link set lo up

session() { # one SMTP exchange on 127.0.0.1:25 inside the namespace, server never offers STARTTLS
	ip netns exec "$ns" timeout 10 python3 - <<'PY'
import socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 25))
srv.listen(1)
def serve():
    c, _ = srv.accept()
    f = c.makefile("rb")
    c.sendall(b"220 mx.reload.example ESMTP\r\n")
    for line in f:
        cmd = line.strip().upper()
        if cmd.startswith(b"EHLO"):
            c.sendall(b"250-mx.reload.example\r\n250 PIPELINING\r\n")
        elif cmd == b"QUIT":
            c.sendall(b"221 bye\r\n")
            break
        else:
            c.sendall(b"250 ok\r\n")
    c.close()
t = threading.Thread(target=serve)
t.start()
s = socket.create_connection(("127.0.0.1", 25))
f = s.makefile("rb")
f.readline()
for cmd in (b"EHLO client.reload.example", b"MAIL FROM:<a@reload.example>", b"QUIT"):
    s.sendall(cmd + b"\r\n")
    while True:
        l = f.readline()
        if not l or l[3:4] != b"-":
            break
s.close()
t.join()
srv.close()
PY
}

wait_for() { # file pattern what
	for _ in $(seq 100); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1" >&2 || true
	fail "timed out waiting for $3"
}

printf '# reload test\n[127.0.0.1]:25 encrypt\n* may\n' > "$T/p.conf"
ip netns exec "$ns" "$SW" --no-sign --no-flow -i lo --policy "$T/p.conf" --state "$T/state" \
	-o "$T/out.json" 'tcp port 25' 2>"$T/err" &
pid=$!
sleep 1.5
kill -0 "$pid" || { cat "$T/err" >&2; fail "stripwatch did not start"; }

session
wait_for "$T/out.json" '"finding":"starttls_stripped"' "session 1 alert"
expect_count "$T/out.json" '^starttls_stripped 1 [0-9]+ \[127\.0\.0\.1\]:25:2:encrypt:enforce' 1 "session 1 under policy A"

printf '[127.0.0.1]:25 encrypt\n[127.0.0.1]:25 nonsense\n' > "$T/p.conf"
kill -USR2 "$pid"
wait_for "$T/err" "policy reload failed" "the reload error"
grep -q "p.conf:2: unknown level 'nonsense'" "$T/err" || fail "reload error names FILE:LINE"
wait_for "$T/out.json" '"finding":"sensor_degraded"' "the sensor_degraded event"
grep '"finding":"sensor_degraded"' "$T/out.json" | grep -q "previous policy stays in force.*p.conf:2" ||
	fail "sensor_degraded detail"
session
for _ in $(seq 50); do [ "$(count "$T/out.json" '^starttls_stripped ')" = 2 ] && break; sleep 0.1; done
expect_count "$T/out.json" '^starttls_stripped 1 [0-9]+ \[127\.0\.0\.1\]:25:2:encrypt:enforce' 2 "session 2: the old policy in force"

printf '# B\n[127.0.0.1]:25 none\n' > "$T/p.conf"
kill -USR2 "$pid"
wait_for "$T/err" "reloaded (1 rules)" "the reload"
session
sleep 1.5
kill -TERM "$pid"
wait "$pid" || fail "stripwatch exit status $?"
pid=
expect_count "$T/out.json" '^starttls_stripped ' 2 "session 3 silenced by none"
expect_count "$T/out.json" '^starttls_not_used ' 2 "session 3: no mail finding (sessions 1 and 2 only)"
echo "ok"
