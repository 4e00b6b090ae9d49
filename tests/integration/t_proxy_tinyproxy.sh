#!/bin/bash
# t_proxy_tinyproxy.sh - http-connect through a real tinyproxy.
#
# tinyproxy is another HTTP/1 CONNECT implementation than squid's: it
# answers "HTTP/1.0 200 Connection established" and stalls small exchanges
# by ~40 ms (fine: this is about interoperation, not latency).  With
# BasicAuth it answers a missing Proxy-Authorization with an HTTP/1.0 407
# and closes the connection (so the credentials go on a new one), and a
# wrong one with "401 Unauthorized" and WWW-Authenticate (a tinyproxy 1.11
# quirk): proxystack may call that an authentication failure (3) or a
# refusal (4), but must fail, say 401 and leak nothing.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

make_ca dest
make_leaf dest server
CA=$CERTS/dest.pem
start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
DEST=$ECHO_PORT
start_echo plain --plain
PLAIN=$ECHO_PORT
URL=tls://localhost:$DEST

start_tinyproxy tiny
TINY=$TINYPROXY_PORT
# tinyproxy's BasicAuth cannot hold @ : / % in a password.
TPASS='tiny-Secret-42'
start_tinyproxy tinyauth --basic bob "$TPASS"
TINYAUTH=$TINYPROXY_PORT

CONF=$TMP/conf/plain
make_conf "$CONF"
write_conf "$CONF" 50-default.conf <<EOF
[default]
proxy_url = http://127.0.0.1:$TINY
EOF
PS=("$PROXYSTACK" -c "$CONF")

printf 'y' >"$TMP/1b"
printf 'hello through tinyproxy\n' >"$TMP/hello"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/1m"

expect_exit 0 "which exits 0" -- "${PS[@]}" which "$URL" &&
	expect_stdout "direct -> http-connect(http://127.0.0.1:$TINY) -> tls" \
		"which names tinyproxy"

expect_exit 0 "check exits 0" -- "${PS[@]}" check "$URL" --ca-file "$CA" &&
	expect_grep '(^|[^[:alnum:]_-])http-connect([^[:alnum:]_-]|$)' "$OUT" \
		"check prints an http-connect step"
expect_grep -F "Request (file descriptor" "$TMP/tiny.log" \
	"tinyproxy logged our request"
expect_grep -F "CONNECT localhost:$DEST " "$TMP/tiny.log" \
	"tinyproxy logged the CONNECT to the destination"

expect_roundtrip "1 byte" "$TMP/1b" -- "${PS[@]}" connect --half-close "$URL" --ca-file "$CA"
expect_roundtrip "1 MiB" "$TMP/1m" -- "${PS[@]}" connect --half-close "$URL" --ca-file "$CA"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$TMP/64m"
expect_roundtrip "64 MiB" "$TMP/64m" -- "${PS[@]}" connect --half-close "$URL" --ca-file "$CA"
rm -f "$TMP/64m" "$OUT"

# Like squid, tinyproxy does not pass a half-close on: at the client's
# FIN it flushes what it holds and closes both sides, so an answer still
# on its way is lost.  stdin stays open a second after the data.
{
	cat "$TMP/hello"
	sleep 1
} | expect_exit 0 "tcp://: connect exits 0" -- \
	"${PS[@]}" connect --half-close "tcp://127.0.0.1:$PLAIN" &&
	expect_same_file "$TMP/hello" "$OUT" "tcp://: the bytes come back exact"

expect_parallel_roundtrips 5 "tinyproxy" "$TMP/1m" -- \
	"${PS[@]}" connect --half-close "$URL" --ca-file "$CA"

# --- BasicAuth -------------------------------------------------------------

B64=$(printf 'bob:%s' "$TPASS" | base64 -w0)
printf '%s' "$TPASS" >"$TMP/bob.secret"
chmod 0600 "$TMP/bob.secret"
WRONG='not-the-Secret-7'
printf '%s' "$WRONG" >"$TMP/wrong.secret"
chmod 0600 "$TMP/wrong.secret"

# conf_tiny NAME [LINE...]: $TMP/conf/NAME with [transport tiny] for the
# authenticating tinyproxy, plus LINEs in that section.
conf_tiny() {
	local dir=$TMP/conf/$1
	shift
	make_conf "$dir"
	{
		echo "[transport tiny]"
		echo "module = http-connect"
		echo "url = http://127.0.0.1:$TINYAUTH"
		if [ $# -gt 0 ]; then printf '%s
' "$@"; fi
		printf '\n[stack tiny]\ntransport = tiny\n'
		printf '\n[route local]\nmatch = localhost 127.0.0.1\nstack = tiny\n'
	} | write_conf "$dir" 50-tiny.conf
}

# Default (auto) auth: proxystack asks first and answers the 407.  Here
# that 407 comes with "Connection: close", so the credentials must go on a
# new connection to the proxy, as curl does.
conf_tiny auto "username = bob" "password_file = $TMP/bob.secret"
expect_roundtrip "BasicAuth, right credentials, after a 407 that closes" \
	"$TMP/hello" -- "$PROXYSTACK" -c "$TMP/conf/auto" connect --half-close "$URL" --ca-file "$CA"

# auth = basic: credentials on the first request.
conf_tiny basic "username = bob" "password_file = $TMP/bob.secret" "auth = basic"
expect_roundtrip "BasicAuth, auth = basic" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/basic" connect --half-close "$URL" --ca-file "$CA"
expect_exit 0 "BasicAuth, auth = basic: check -v exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/basic" -v check "$URL" --ca-file "$CA"
expect_no_secret "BasicAuth: check -v prints no secret" "$TPASS" "$B64"

conf_tiny nocreds
expect_exit 3 "BasicAuth, no credentials: check exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/nocreds" check "$URL" --ca-file "$CA"
expect_grep "407" "$ERR" "BasicAuth, no credentials: stderr gives 407"
expect_grep -i "offer[^;]*basic" "$ERR" "BasicAuth, no credentials: stderr names Basic as offered"

conf_tiny wrong "username = bob" "password_file = $TMP/wrong.secret" "auth = basic"
expect_exit "3|4" "BasicAuth, wrong password (tinyproxy's 401): exits 3 or 4" -- \
	"$PROXYSTACK" -c "$TMP/conf/wrong" connect --half-close "$URL" --ca-file "$CA" <"$TMP/hello" &&
	expect_stdout "" "BasicAuth, wrong password: connect prints no data"
expect_grep "401" "$ERR" "BasicAuth, wrong password: stderr gives tinyproxy's 401"
expect_no_secret "BasicAuth, wrong password: no secret in the error" \
	"$WRONG" "$(printf 'bob:%s' "$WRONG" | base64 -w0)"
