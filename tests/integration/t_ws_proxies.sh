#!/bin/bash
# t_ws_proxies.sh - wss:// (and ws://) to a real websocket echo server
# (python3-websockets) through every kind of forward proxy:
#
#   squid CONNECT            http-connect
#   squid with Basic auth    http-connect, credentials in the proxy URL
#   squid's https_port       https-proxy (TLS to the proxy, CONNECT inside)
#   nghttpx HTTP/2 proxy     https-proxy, CONNECT as an h2 stream, in front
#                            of squid
#
# Each carries echoes of 0, 1, 125, 126, 65535, 65536 bytes and 4 MiB,
# text and binary, and the close handshake (tests/ws_check), and the
# proxy's log shows the tunnel.  squid allows CONNECT to any port on
# loopback (proxies.sh), and start_squid already has
# `http_upgrade_request_protocols websocket allow all` (needed only for
# upgrades squid itself sees, not inside CONNECT).

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

[ -x "$WS_CHECK" ] || bail_out "ws_check" "$WS_CHECK missing: make tests/ws_check"

make_dest_and_proxy_certs

start_ws_echo wss --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
WSS=$WS_PORT
start_ws_echo ws
WS=$WS_PORT
URL=wss://localhost:$WSS/through
SIZES="0 1 125 126 65535 65536 4194304"

start_squid squid
SQ=$SQUID_PORT
make_htpasswd "$TMP/htpasswd" alice 'ws-p@ss'
start_squid authsquid --basic "$TMP/htpasswd"
SQAUTH=$SQUID_PORT
start_squid tlssquid --https "$PCERT" "$PKEY"
SQTLS=$SQUID_PORT
start_nghttpx h2proxy "$SQ" "$PCERT" "$PKEY"
NG=$NGHTTPX_PORT

# conf NAME SECTION-LINES...: $TMP/conf/NAME routing localhost through
# [transport corp] made of the given lines.
conf() {
	local dir=$TMP/conf/$1
	shift
	make_conf "$dir"
	{
		echo "[transport corp]"
		printf '%s\n' "$@"
		printf '\n[stack corp]\ntransport = corp\n'
		printf '\n[route local]\nmatch = localhost 127.0.0.1\nstack = corp\n'
	} | write_conf "$dir" 50-proxy.conf
	chmod 0600 "$dir/50-proxy.conf"
}
conf squid "module = http-connect" "url = http://localhost:$SQ"
conf auth "module = http-connect" "url = http://alice:ws-p%40ss@localhost:$SQAUTH"
conf badauth "module = http-connect" "url = http://alice:wrong@localhost:$SQAUTH"
conf https "module = https-proxy" "url = https://localhost:$SQTLS" "ca_file = $PROXY_CA"
conf h2 "module = https-proxy" "url = https://localhost:$NG" "ca_file = $PROXY_CA"

# expect_ws_through LABEL CONF URL: ws_check through that config exits 0
# with an ok line for every size both ways and for the close.
expect_ws_through() {
	local label=$1 conf=$2 url=$3 n t missing=""
	expect_exit 0 "$label: ws_check exits 0" -- \
		"$WS_CHECK" -c "$TMP/conf/$conf" --ca-file "$DEST_CA" --label "$label" "$url" ||
		return 1
	for n in $SIZES; do
		for t in text binary; do
			grep -qxF "ok - $label: $t echo of bytes $n" "$OUT" ||
				missing="$missing $t/$n"
		done
	done
	if [ -z "$missing" ]; then
		ok "$label: text and binary echoes of $SIZES bytes"
	else
		fail "$label: text and binary echoes of $SIZES bytes" "missing:$missing"
		show_file stdout "$OUT"
	fi
	expect_grep -F "ok - $label: close handshake, code 1000" "$OUT" \
		"$label: close handshake, code 1000" &&
		expect_no_grep "^not ok" "$OUT" "$label: no failed check"
}

# expect_which CONF URL WANT: `which` prints WANT.
expect_which() {
	expect_exit 0 "$1: which exits 0" -- "$PROXYSTACK" -c "$TMP/conf/$1" which "$2" &&
		expect_stdout "$3" "$1: which prints '$3'"
}

# --- squid CONNECT ----------------------------------------------------------------

expect_which squid "$URL" "direct -> http-connect(http://localhost:$SQ) -> tls -> websocket"
squid_log_mark squid
expect_ws_through "squid wss" squid "$URL"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$WSS " "squid logged the wss CONNECT"
expect_ws_through "squid ws" squid "ws://localhost:$WS/plain"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$WS " \
	"squid logged the ws:// CONNECT too (a tunnel, not a forwarded GET)"
{ printf 'via squid\n'; sleep 1; } |
	expect_exit 0 "squid: connect wss:// with one line exits 0" -- \
		"$PROXYSTACK" -c "$TMP/conf/squid" connect --half-close "$URL" --ca-file "$DEST_CA" &&
	expect_stdout "via squid" "squid: connect wss:// echoes the line"
expect_exit 0 "squid: check wss:// exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/squid" check "$URL" --ca-file "$DEST_CA" &&
	expect_grep '^ *\[3\] websocket +101 Switching Protocols +[0-9.]+ ms$' "$OUT" \
		"squid: check shows the websocket step at hop 3"

# --- squid with Basic auth ---------------------------------------------------------

squid_log_mark authsquid
expect_ws_through "squid+basic wss" auth "$URL"
expect_squid_log authsquid "TCP_TUNNEL/200 CONNECT localhost:$WSS alice " \
	"authsquid logged the CONNECT as alice"
expect_exit 3 "squid+basic, wrong password: check wss:// exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/badauth" check "$URL" --ca-file "$DEST_CA"
expect_no_secret "squid+basic: the password is never shown" 'ws-p@ss' 'ws-p%40ss' wrong
expect_exit 1 "squid+basic, wrong password: ws_check exits 1" -- \
	"$WS_CHECK" -c "$TMP/conf/badauth" --ca-file "$DEST_CA" --label badauth "$URL" &&
	expect_grep "^# proxy-auth: " "$OUT" "squid+basic, wrong password: the API says proxy-auth"

# --- squid's https_port (https-proxy) -------------------------------------------------

expect_which https "$URL" "direct -> tls(localhost:$SQTLS) -> https-proxy(https://localhost:$SQTLS) -> tls -> websocket"
squid_log_mark tlssquid
expect_ws_through "https proxy wss" https "$URL"
expect_squid_log tlssquid "TCP_TUNNEL/200 CONNECT localhost:$WSS " \
	"squid's https_port logged the CONNECT"

# --- nghttpx HTTP/2 proxy ---------------------------------------------------------------

expect_which h2 "$URL" "direct -> tls(localhost:$NG) -> https-proxy(https://localhost:$NG) -> tls -> websocket"
squid_log_mark squid
expect_ws_through "h2 proxy wss" h2 "$URL"
h2_connects() {
	grep -cF "\"CONNECT localhost:$WSS HTTP/2\"" "$TMP/h2proxy/access.log" 2>/dev/null
}
for ((i = 0; i < 30; i++)); do
	[ "$(h2_connects)" -ge 1 ] && break
	sleep 0.1
done
if [ "$(h2_connects)" -ge 1 ]; then
	ok "nghttpx logged the CONNECT as an HTTP/2 stream"
else
	fail "nghttpx logged the CONNECT as an HTTP/2 stream" "no such line in its access log"
	show_file h2proxy/access.log "$TMP/h2proxy/access.log"
fi
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$WSS " \
	"squid behind nghttpx logged the CONNECT"

# Keepalive pings ride the h2 stream too: 3 silent seconds with a ping
# every second, then an echo.
expect_exit 0 "h2 proxy: keepalive pings for 3 idle seconds, then an echo" -- \
	"$WS_CHECK" -c "$TMP/conf/h2" --ca-file "$DEST_CA" --label h2idle \
	--ping 1 --idle 3 "$URL"
