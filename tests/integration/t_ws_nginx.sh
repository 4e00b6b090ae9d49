#!/bin/bash
# t_ws_nginx.sh - wss:// to nginx, a TLS-terminating reverse proxy in front
# of a plain ws echo server (python3-websockets), configured as the usual
# production guides prescribe: the $connection_upgrade map,
# proxy_http_version 1.1, Upgrade/Connection/Host headers passed on, and
# here a short proxy_read_timeout (3 s) so the keepalive test is quick.
#
# Echoes of every size go through it.  KEEPALIVE: nginx closes an
# upgraded connection once neither side sent anything for
# proxy_read_timeout.  With a ping every second the connection survives
# 10 silent seconds; with keepalive off (ws_ping_interval_s = -1) nginx
# drops it after 3 s and the client reports the 1006 close.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

[ -x "$WS_CHECK" ] || bail_out "ws_check" "$WS_CHECK missing: make tests/ws_check"
command -v nginx >/dev/null || { skip "nginx" "nginx is not installed"; exit 0; }

make_ca dest
make_leaf dest server
DEST_CA=$CERTS/dest.pem

start_ws_echo wsbackend
BACKEND=$WS_PORT
start_nginx_ws nginx "$BACKEND" "$CERTS/server-chain.pem" "$CERTS/server-key.pem" 3s
NG=$NGINX_PORT
URL=wss://localhost:$NG/app

make_conf "$TMP/conf"
PS=("$PROXYSTACK" -c "$TMP/conf")
CHECK=("$WS_CHECK" -c "$TMP/conf" --ca-file "$DEST_CA")
SIZES="0 1 125 126 65535 65536 4194304"

# --- echo through the reverse proxy -------------------------------------------

expect_exit 0 "check through nginx exits 0" -- "${PS[@]}" check "$URL" --ca-file "$DEST_CA" &&
	expect_grep '^ *\[2\] websocket +101 Switching Protocols +[0-9.]+ ms$' "$OUT" \
		"check: nginx passed the upgrade (101 at the websocket step)"
expect_grep "open path=/app " "$TMP/wsbackend.log" \
	"the backend got the upgrade with the path, through nginx"

expect_exit 0 "echo of every size through nginx: ws_check exits 0" -- \
	"${CHECK[@]}" --label nginx "$URL"
missing=""
for n in $SIZES; do
	for t in text binary; do
		grep -qxF "ok - nginx: $t echo of bytes $n" "$OUT" || missing="$missing $t/$n"
	done
done
if [ -z "$missing" ]; then
	ok "nginx: text and binary echoes of $SIZES bytes"
else
	fail "nginx: text and binary echoes of $SIZES bytes" "missing:$missing"
	show_file stdout "$OUT"
fi
expect_grep -F "ok - nginx: close handshake, code 1000" "$OUT" \
	"nginx: the close handshake goes through"

{ printf 'through\nnginx\n'; sleep 1; } |
	expect_exit 0 "connect through nginx: two lines" -- \
		"${PS[@]}" connect --half-close "$URL" --ca-file "$DEST_CA" &&
	expect_stdout $'through\nnginx' "connect through nginx: both lines come back"

# nginx's access log: the upgrade as a 101.
expect_grep '"GET /app HTTP/1.1" 101 ' "$TMP/nginx/access.log" \
	"nginx logged the upgrade as 101"

# --- keepalive ------------------------------------------------------------------

# Pings every second: never 3 s of silence both ways; the echo after the
# idle time proves the channel is still up.
start=$SECONDS
expect_exit 0 "keepalive on (--ping 1): 10 silent seconds through nginx (3 s timeout)" -- \
	"${CHECK[@]}" --label keepalive --ping 1 --idle 10 "$URL/keepalive" &&
	expect_grep -F "ok - keepalive: still up after idle seconds 10" "$OUT" \
		"keepalive on: still up after 10 s" &&
	expect_grep -F "ok - keepalive: text echo of bytes 5" "$OUT" \
		"keepalive on: the channel still echoes after the idle time" &&
	expect_no_grep "^not ok" "$OUT" "keepalive on: no failed check"
took=$((SECONDS - start))
if [ "$took" -ge 10 ]; then
	ok "keepalive on: it really idled 10 s (took $took s)"
else
	fail "keepalive on: it really idled 10 s" "took $took s"
fi
# The backend saw no message in the idle time: only pings kept it alive.
expect_grep "closed path=/app/keepalive after 2 messages, code=1000" "$TMP/wsbackend.log" \
	"keepalive on: the backend got only the 2 echo messages (pings are control frames)"

# No pings: nginx times the tunnel out after 3 s of silence both ways.
start=$SECONDS
expect_exit 1 "keepalive off (--ping -1): the connection is dropped" -- \
	"${CHECK[@]}" --label nokeepalive --ping -1 --idle 10 "$URL/nokeepalive" &&
	expect_grep -F "not ok - nokeepalive: still up after idle seconds 10" "$OUT" \
		"keepalive off: ws_check reports the channel down" &&
	expect_grep "^# websocket: .*(closed without a close frame \(1006\)|1006)" "$OUT" \
		"keepalive off: the error names the 1006 close"
took=$((SECONDS - start))
if [ "$took" -ge 2 ] && [ "$took" -le 7 ]; then
	ok "keepalive off: dropped near nginx's 3 s proxy_read_timeout (after $took s)"
else
	fail "keepalive off: dropped near nginx's 3 s proxy_read_timeout" "after $took s"
fi
expect_grep "upstream timed out" "$TMP/nginx/error.log" \
	"keepalive off: nginx's error log says the upstream timed out"
