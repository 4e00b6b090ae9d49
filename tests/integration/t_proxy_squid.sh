#!/bin/bash
# t_proxy_squid.sh - http-connect through a real squid, no authentication.
#
# A squid CONNECT proxy on loopback and a TLS echo server as destination:
# `which` names the chain without connecting, `check` prints its steps,
# `connect` carries 1 B, 1 MiB and 64 MiB byte-exact with TLS end to end
# (verified against the destination's CA, through the tunnel), squid's
# access log shows each CONNECT, and the refusals map to proxystack(1)'s
# exit statuses: 403 -> 4, nothing listening at the proxy -> 6.  The [default]
# section, PROXYSTACK_PROXY_URL and an explicit [transport]/[stack]/[route]
# must build the same chain.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

make_ca dest
make_ca other
make_leaf dest server
CA=$CERTS/dest.pem

start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
DEST=$ECHO_PORT
start_echo plain --plain
PLAIN=$ECHO_PORT
DENIED=$(free_port)
DEAD=$(dead_port)

start_squid squid --deny-port "$DENIED"
SQ=$SQUID_PORT

# [default]: the one-proxy case.
CONF=$TMP/conf
make_conf "$CONF"
write_conf "$CONF" 50-default.conf <<EOF
[default]
proxy_url = http://127.0.0.1:$SQ
EOF
PS=("$PROXYSTACK" -c "$CONF")

# The explicit form of the same thing.
EXPLICIT=$TMP/explicit
make_conf "$EXPLICIT"
write_conf "$EXPLICIT" 50-corp.conf <<EOF
[transport corp]
module = http-connect
url = http://127.0.0.1:$SQ

[stack corp]
transport = corp

[route local]
match = localhost 127.0.0.1
stack = corp
EOF

# A proxy that is not there.
DEADCONF=$TMP/dead
make_conf "$DEADCONF"
write_conf "$DEADCONF" 50-default.conf <<EOF
[default]
proxy_url = http://127.0.0.1:$DEAD
EOF

EMPTY=$TMP/empty
make_conf "$EMPTY"

printf 'x' >"$TMP/1b"
printf 'hello through squid\n' >"$TMP/hello"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/1m"

# --- which: the chain, without connecting -------------------------------

WANT="direct -> http-connect(http://127.0.0.1:$SQ) -> tls"
expect_exit 0 "[default]: which exits 0" -- \
	"${PS[@]}" which "tls://localhost:$DEST" &&
	expect_stdout "$WANT" "[default]: which prints '$WANT'"
expect_exit 0 "[default]: which tcp:// exits 0" -- \
	"${PS[@]}" which "tcp://127.0.0.1:$PLAIN" &&
	expect_stdout "direct -> http-connect(http://127.0.0.1:$SQ)" \
		"[default]: which tcp:// has no tls layer"
expect_exit 0 "explicit route: which exits 0" -- \
	"$PROXYSTACK" -c "$EXPLICIT" which "tls://localhost:$DEST" &&
	expect_stdout "$WANT" "explicit route: same chain as [default]"
expect_exit 0 "PROXYSTACK_PROXY_URL: which exits 0" -- \
	env PROXYSTACK_PROXY_URL="http://127.0.0.1:$SQ" \
	"$PROXYSTACK" -c "$EMPTY" which "tls://localhost:$DEST" &&
	expect_stdout "$WANT" "PROXYSTACK_PROXY_URL: same chain as [default]"

# --- check: each step on stdout ------------------------------------------

expect_exit 0 "check: exits 0" -- \
	"${PS[@]}" check "tls://localhost:$DEST" --ca-file "$CA" &&
	expect_grep '(^|[^[:alnum:]_-])http-connect([^[:alnum:]_-]|$)' "$OUT" \
		"check: prints an http-connect step" &&
	expect_grep '(^|[^[:alnum:]_-])tls([^[:alnum:]_-]|$)' "$OUT" \
		"check: prints a tls step"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$DEST " \
	"check: squid logged the CONNECT to the destination"

# --- connect: TLS end to end through the tunnel --------------------------

expect_roundtrip "1 byte" "$TMP/1b" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$DEST" --ca-file "$CA"
expect_roundtrip "1 MiB" "$TMP/1m" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$DEST" --ca-file "$CA"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$TMP/64m"
expect_roundtrip "64 MiB" "$TMP/64m" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$DEST" --ca-file "$CA"
# Squid counts the tunnel's bytes: the 64 MiB went through it, not around.
expect_squid_log squid \
	"TCP_TUNNEL/200 CONNECT localhost:$DEST - [0-9]{8,} [0-9]{8,}$" \
	"64 MiB: squid logged a tunnel of more than 64 MiB each way"
rm -f "$TMP/64m" "$OUT"

# tcp:// stops after the transport: the proxy carries plain bytes.  Squid
# 5 does not pass a half-close on: when the client's FIN arrives it closes
# the whole tunnel, and an answer still on its way is lost.  So stdin stays
# open a second after the data, as an interactive client's would.
{
	cat "$TMP/hello"
	sleep 1
} | expect_exit 0 "tcp:// through squid: connect exits 0" -- \
	"${PS[@]}" connect --half-close "tcp://127.0.0.1:$PLAIN" &&
	expect_same_file "$TMP/hello" "$OUT" "tcp:// through squid: the bytes come back exact"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT 127.0.0.1:$PLAIN " \
	"tcp://: squid logged the CONNECT"

expect_roundtrip "explicit route" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$EXPLICIT" connect --half-close "tls://localhost:$DEST" --ca-file "$CA"
expect_roundtrip "PROXYSTACK_PROXY_URL" "$TMP/hello" -- \
	env PROXYSTACK_PROXY_URL="http://127.0.0.1:$SQ" \
	"$PROXYSTACK" -c "$EMPTY" connect --half-close "tls://localhost:$DEST" --ca-file "$CA"
expect_roundtrip "HTTPS_PROXY" "$TMP/hello" -- \
	env HTTPS_PROXY="http://127.0.0.1:$SQ" \
	"$PROXYSTACK" -c "$EMPTY" connect --half-close "tls://localhost:$DEST" --ca-file "$CA"

# Several tunnels at once, each its own process and proxy connection.
expect_parallel_roundtrips 5 "squid" "$TMP/1m" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$DEST" --ca-file "$CA"

# --- the destination's trust still applies inside the tunnel ------------

expect_exit 5 "wrong destination CA through squid: check exits 5" -- \
	"${PS[@]}" check "tls://localhost:$DEST" --ca-file "$CERTS/other.pem"
expect_grep -i "verify|certificate" "$ERR" \
	"wrong destination CA: stderr gives the verify failure"

# --- refusals --------------------------------------------------------------

expect_exit 4 "403 port: connect exits 4" -- \
	"${PS[@]}" connect --half-close "tcp://127.0.0.1:$DENIED" <"$TMP/hello" &&
	expect_stdout "" "403 port: connect prints no data"
expect_grep "403" "$ERR" "403 port: stderr gives the status 403"
expect_grep -i "forbidden|denied|refused" "$ERR" \
	"403 port: stderr says the proxy refused"
expect_squid_log squid "TCP_DENIED/403 CONNECT 127.0.0.1:$DENIED " \
	"403 port: squid logged its refusal"

expect_exit 4 "403 port: check exits 4" -- \
	"${PS[@]}" check "tls://localhost:$DENIED" --ca-file "$CA"
expect_grep "403" "$ERR" "403 port: check's stderr gives 403"

# A destination squid must not reach (not on loopback): 403 as well.
expect_exit 4 "non-loopback destination: squid refuses, exit 4" -- \
	"${PS[@]}" check "tcp://192.0.2.1:443"

expect_exit 6 "dead proxy: connect exits 6" -- \
	"$PROXYSTACK" -c "$DEADCONF" connect --half-close "tls://localhost:$DEST" \
	--ca-file "$CA" <"$TMP/hello" &&
	expect_stdout "" "dead proxy: connect prints no data"
expect_grep -F "127.0.0.1:$DEAD" "$ERR" "dead proxy: stderr names the proxy address"

# Exit 6, not 0: a dead proxy is never a reason to go direct.
expect_exit 6 "dead proxy: check exits 6" -- \
	"$PROXYSTACK" -c "$DEADCONF" check "tls://localhost:$DEST" --ca-file "$CA"
