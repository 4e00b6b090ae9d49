#!/bin/bash
# t_proxy_h2.sh - https-proxy over HTTP/2: nghttpx --http2-proxy in front
# of squid.
#
# nghttpx offers ALPN h2 and http/1.1; proxystack offers h2,http/1.1, so
# CONNECT must run as an HTTP/2 stream (RFC 9113 section 8.5) -- nghttpx's
# access log tells which ("CONNECT host:port HTTP/2").  A stdlib reference
# client (h2_connect.py) first proves the proxies work, so a failure below
# is proxystack's.  Data round-trips at every size, several processes
# tunnel at once (one proxy connection each: sharing one connection between
# tunnels of one process is tested elsewhere), and squid's 403 and 407,
# which come back as :status on the stream, exit 4 and 3.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

make_dest_and_proxy_certs

start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
DEST=$ECHO_PORT
URL=tls://localhost:$DEST
start_echo plain --plain
PLAIN=$ECHO_PORT
DENIED=$(free_port)

start_squid squid --deny-port "$DENIED"
start_nghttpx h2proxy "$SQUID_PORT" "$PCERT" "$PKEY"
NG=$NGHTTPX_PORT

# The same with Basic auth at the squid behind it.
make_htpasswd "$TMP/htpasswd" alice 'h2-p@ss'
start_squid authsquid --basic "$TMP/htpasswd"
start_nghttpx h2auth "$SQUID_PORT" "$PCERT" "$PKEY"
NGAUTH=$NGHTTPX_PORT

NGLOG=$TMP/h2proxy/access.log

# h2_log_count: CONNECT lines to the TLS destination over HTTP/2 so far.
h2_log_count() {
	grep -cF "\"CONNECT localhost:$DEST HTTP/2\"" "$NGLOG" 2>/dev/null
}

# expect_h2_count WANT TEST: h2_log_count reaches WANT within 3 s (nghttpx
# logs a stream when it closes) and stays there.
expect_h2_count() {
	local i
	for ((i = 0; i < 30; i++)); do
		[ "$(h2_log_count)" -ge "$1" ] && break
		sleep 0.1
	done
	expect_eq "$(h2_log_count)" "$1" "$2"
}

# --- the proxies work, without proxystack ---------------------------------

if "$PYTHON" "$PS_LIB_DIR/h2_connect.py" --proxy "localhost:$NG" \
	--ca "$PROXY_CA" --authority "127.0.0.1:$PLAIN" --streams 3 \
	>"$TMP/reference.out" 2>&1; then
	ok "reference h2 client: 3 CONNECT streams on one connection through nghttpx"
else
	show_file "h2_connect.py" "$TMP/reference.out"
	show_proxy_logs h2proxy
	bail_out "reference h2 client through nghttpx" "the proxies do not work"
fi

# conf_h2 NAME PORT [LINE...]: $TMP/conf/NAME with [transport h2] for the
# nghttpx on PORT (plus LINEs), a stack and a route for localhost.
conf_h2() {
	local dir=$TMP/conf/$1 port=$2
	shift 2
	make_conf "$dir"
	{
		echo "[transport h2]"
		echo "module = https-proxy"
		echo "url = https://localhost:$port"
		echo "ca_file = $PROXY_CA"
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
		printf '\n[stack h2]\ntransport = h2\n'
		printf '\n[route local]\nmatch = localhost 127.0.0.1\nstack = h2\n'
	} | write_conf "$dir" 50-h2.conf
	chmod 0600 "$dir/50-h2.conf"
}
conf_h2 plain "$NG"
PS=("$PROXYSTACK" -c "$TMP/conf/plain")

printf 'h' >"$TMP/1b"
printf 'hello over an h2 stream\n' >"$TMP/hello"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/1m"

expect_exit 0 "which exits 0" -- "${PS[@]}" which "$URL" &&
	expect_stdout "direct -> tls(localhost:$NG) -> https-proxy(https://localhost:$NG) -> tls" \
		"which names the h2 proxy"

before=$(h2_log_count)
expect_exit 0 "check exits 0" -- "${PS[@]}" check "$URL" --ca-file "$DEST_CA" &&
	expect_grep '(^|[^[:alnum:]_-])https-proxy([^[:alnum:]_-]|$)' "$OUT" \
		"check prints an https-proxy step"
expect_h2_count "$((before + 1))" \
	"check: nghttpx logged one CONNECT over HTTP/2 (ALPN picked h2)"

expect_roundtrip "1 byte over h2" "$TMP/1b" -- \
	"${PS[@]}" connect --half-close "$URL" --ca-file "$DEST_CA"
expect_roundtrip "1 MiB over h2" "$TMP/1m" -- \
	"${PS[@]}" connect --half-close "$URL" --ca-file "$DEST_CA"
# 64 MiB through a 64 KiB default stream window: flow control must work.
head -c $((64 * 1024 * 1024)) /dev/urandom >"$TMP/64m"
expect_roundtrip "64 MiB over h2" "$TMP/64m" -- \
	"${PS[@]}" connect --half-close "$URL" --ca-file "$DEST_CA"
rm -f "$TMP/64m" "$OUT"

before=$(h2_log_count)
expect_parallel_roundtrips 5 "h2 proxy" "$TMP/1m" -- \
	"${PS[@]}" connect --half-close "$URL" --ca-file "$DEST_CA"
expect_h2_count "$((before + 5))" \
	"5 concurrent: nghttpx logged 5 more CONNECTs over HTTP/2"

# The tunnel went on through squid.
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$DEST " \
	"squid behind nghttpx logged the CONNECT"

# --- refusals as :status on the stream ---------------------------------------

expect_exit 4 "squid's 403 over h2: exits 4" -- \
	"${PS[@]}" check "tls://localhost:$DENIED" --ca-file "$DEST_CA"
expect_grep "403" "$ERR" "403 over h2: stderr gives 403"
expect_grep -F "\"CONNECT localhost:$DENIED HTTP/2\" 403" "$TMP/h2proxy/access.log" \
	"403 over h2: nghttpx relayed it on an h2 stream"

conf_h2 noauth "$NGAUTH"
expect_exit 3 "squid's 407 over h2, no credentials: exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/noauth" check "$URL" --ca-file "$DEST_CA"
expect_grep "407" "$ERR" "407 over h2: stderr gives 407"

conf_h2 auth "$NGAUTH" "username = alice" "password = h2-p@ss"
expect_roundtrip "Basic auth over h2, right credentials" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/auth" connect --half-close "$URL" --ca-file "$DEST_CA"
expect_squid_log authsquid "TCP_TUNNEL/200 CONNECT localhost:$DEST alice " \
	"Basic auth over h2: squid authenticated alice"
expect_exit 0 "Basic auth over h2: check -v exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/auth" -v check "$URL" --ca-file "$DEST_CA"
expect_no_secret "Basic auth over h2: check -v prints no secret" 'h2-p@ss' \
	"$(printf 'alice:h2-p@ss' | base64 -w0)"

conf_h2 badauth "$NGAUTH" "username = alice" "password = wrong-one"
expect_exit 3 "Basic auth over h2, wrong password: exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/badauth" check "$URL" --ca-file "$DEST_CA"
expect_no_secret "Basic auth over h2, wrong password: no secret in the error" \
	'wrong-one' "$(printf 'alice:wrong-one' | base64 -w0)"
