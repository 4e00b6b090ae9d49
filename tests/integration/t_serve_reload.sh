#!/bin/bash
# t_serve_reload.sh - proxystack serve's configuration changes and stops:
# 100 clients fetch through squid A while the configuration moves to
# squid B and SIGHUP arrives in the middle: not one request fails, later
# ones go through B, and a tunnel opened before keeps A (its snapshot).  A
# broken file keeps the running configuration.  SIGTERM drains: new
# clients are refused, an open tunnel keeps working until it ends, then
# exit 0; with drain_timeout = 1 a tunnel that does not end is cut.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

start_origin origin
start_echo echo --plain
start_squid sqa
SQA=$SQUID_PORT
start_squid sqb
SQB=$SQUID_PORT

CONF=$TMP/conf
serve_conf "$CONF"
use_proxy() {
	printf '[default]\nproxy_url = http://127.0.0.1:%s\n' "$1" |
		write_conf "$CONF" 50-default.conf
}
use_proxy "$SQA"
start_serve serve "$CONF"
P=$SERVE_PORT

# A tunnel opened on A's snapshot, held across the reload: echo lines
# through it on demand (a line on stdin, the echo on stdout).
coproc TUN { "$PYTHON" -u -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"CONNECT 127.0.0.1:%s HTTP/1.1\r\n\r\n" % sys.argv[2].encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
print(head.split(b"\r\n")[0].decode(), flush=True)
for line in sys.stdin:
    s.sendall(line.encode())
    got = b""
    while not got.endswith(b"\n"):
        chunk = s.recv(100)
        if not chunk:
            break
        got += chunk
    print(got.decode().strip() or "closed", flush=True)
' "$P" "$ECHO_PORT"; }
read -r -t 10 line <&"${TUN[0]}"
expect_eq "$line" "HTTP/1.1 200 Connection established" "a tunnel opened before the reload"

squid_log_mark sqa
squid_log_mark sqb
"$PYTHON" "$PS_LIB_DIR/serve_load.py" "$P" "http://127.0.0.1:$ORIGIN_PORT/" \
	100 5 --mark "$TMP/reload-now" >"$TMP/load.out" 2>&1 &
LOAD=$!
for ((i = 0; i < 200; i++)); do
	[ -e "$TMP/reload-now" ] && break
	sleep 0.05
done
use_proxy "$SQB"
kill -HUP "$SERVE_PID"
load_rc=0
wait "$LOAD" || load_rc=$?
expect_eq "$load_rc" 0 "100 clients x 5 requests across a reload: none failed"
show_file load.out "$TMP/load.out"
expect_grep "configuration reloaded" "$TMP/serve.log" "SIGHUP: reloaded, logged"
expect_squid_log sqa "TCP_MISS/200 GET http://127.0.0.1:$ORIGIN_PORT/ " \
	"before the reload: through squid A"
expect_squid_log sqb "TCP_MISS/200 GET http://127.0.0.1:$ORIGIN_PORT/ " \
	"after the reload: through squid B"

echo "still here" >&"${TUN[1]}"
read -r -t 10 line <&"${TUN[0]}"
expect_eq "$line" "still here" "the tunnel opened before the reload still echoes"
squid_log_mark sqb
expect_exit 0 "a new request after the reload" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" -p "http://127.0.0.1:$ORIGIN_PORT/"
expect_squid_log sqb "TCP_TUNNEL/200 CONNECT 127.0.0.1:$ORIGIN_PORT " \
	"a new request goes through squid B"

printf '[default\nbroken\n' | write_conf "$CONF" 60-broken.conf
kill -HUP "$SERVE_PID"
for ((i = 0; i < 30; i++)); do
	grep -q "reload failed" "$TMP/serve.log" && break
	sleep 0.1
done
expect_grep "reload failed, the old configuration stays: config: .*60-broken.conf:1" \
	"$TMP/serve.log" "a broken file: the reload fails with file:line"
serve_alive serve "a broken file: serve keeps working on the old configuration"
rm -f "$CONF/60-broken.conf"

# --- SIGTERM drains --------------------------------------------------------------

kill -TERM "$SERVE_PID"
sleep 0.5
expect_exit 7 "draining: new clients are refused" -- curl -sS --max-time 5 \
	-x "http://127.0.0.1:$P" -p "http://127.0.0.1:$ORIGIN_PORT/"
echo "during the drain" >&"${TUN[1]}"
read -r -t 10 line <&"${TUN[0]}"
expect_eq "$line" "during the drain" "draining: an open tunnel keeps working"
pid_alive "$SERVE_PID" && ok "draining: serve waits for the open tunnel" ||
	fail "draining: serve waits for the open tunnel" "it exited"
eval "exec ${TUN[1]}>&-"
wait "$TUN_PID" 2>/dev/null
stop_serve serve "serve after the drain"
expect_access serve "dest=127.0.0.1:$ECHO_PORT .*result=ok .*chain=\"direct -> http-connect\(http://127.0.0.1:$SQA\)\"" \
	"the old tunnel is logged with squid A's chain, its snapshot"

serve_conf "$TMP/short" "drain_timeout = 1"
start_serve short "$TMP/short"
coproc HOLD2 { "$PYTHON" -u -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"CONNECT 127.0.0.1:%s HTTP/1.1\r\n\r\n" % sys.argv[2].encode())
print(s.recv(100).split(b"\r\n")[0].decode(), flush=True)
sys.stdin.read()' "$SERVE_PORT" "$ECHO_PORT"; }
read -r -t 10 line <&"${HOLD2[0]}"
expect_eq "$line" "HTTP/1.1 200 Connection established" "a tunnel that will not end"
start=$(date +%s%N)
stop_serve short "drain_timeout = 1"
took=$((($(date +%s%N) - start) / 1000000))
if [ "$took" -lt 3000 ]; then
	ok "drain_timeout = 1: serve exits after about a second (${took} ms)"
else
	fail "drain_timeout = 1: serve exits after about a second" "${took} ms"
fi
expect_access short "result=drained" "the cut tunnel is logged as drained"
eval "exec ${HOLD2[1]}>&-"
