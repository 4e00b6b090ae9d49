#!/bin/bash
# t_tls_truncation.sh - a TLS destination that ends its TCP connection
# without close_notify has perhaps cut its answer short: `connect` prints
# what came, then fails with tls (exit 1) naming the missing close_notify,
# directly and through an HTTPS proxy (the proxy hop's own TLS, the same
# host/tls.c, must not hide the destination's bare close).  A destination
# that sends close_notify, and a tcp:// tunnel through the HTTPS proxy
# to a server that answers and closes (the proxy's TLS does not vouch for
# that end), exit 0.
#
# tls_echo.py echoes, and at our close_notify ends with its own
# close_notify, or with --no-close-notify a bare TCP close.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

make_dest_and_proxy_certs

start_echo clean --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
CLEAN=$ECHO_PORT
start_echo bare --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem" \
	--no-close-notify
BARE=$ECHO_PORT
# A plain server that answers a request and closes (FIN): squid then ends
# the tunnel's TLS to us, with or without close_notify.
ANSWER_PORT=$(free_port) || bail_out "answer_server" "no free port"
start_bg answer "$PYTHON" -u "$PS_LIB_DIR/answer_server.py" \
	--port "$ANSWER_PORT" --size 700 --delay 0
wait_port "$ANSWER_PORT"
start_squid tlsproxy --https "$CERTS/proxysrv-chain.pem" "$CERTS/proxysrv-key.pem"
SQ=$SQUID_PORT

make_conf "$TMP/direct"
make_conf "$TMP/proxied"
{
	printf '[transport corp]\nmodule = https-proxy\n'
	printf 'url = https://localhost:%s\nca_file = %s\n' "$SQ" "$CERTS/proxy.pem"
	printf '\n[stack corp]\ntransport = corp\n'
	printf '\n[route local]\nmatch = localhost 127.0.0.1\nstack = corp\n'
} | write_conf "$TMP/proxied" 50-proxy.conf

printf 'hello over tls\n' >"$TMP/hello"
TRUNCATED='^proxystack: error: tls: TLS read: the peer localhost closed without close_notify \(the answer may be truncated\)$'

# truncated NAME CONF PORT: exit 1, hello printed, the stable message.
truncated() {
	expect_exit 1 "$1: connect exits 1" -- \
		"$PROXYSTACK" -c "$2" connect --half-close "tls://localhost:$3" \
		--ca-file "$DEST_CA" <"$TMP/hello" || return 1
	expect_same_file "$TMP/hello" "$OUT" "$1: what came is printed"
	expect_grep "$TRUNCATED" "$ERR" "$1: stderr names the missing close_notify"
	expect_grep '^proxystack: hint: .*without ending TLS' "$ERR" "$1: a hint"
}

# clean NAME CONF URL: exit 0, hello echoed, nothing on stderr.
clean() {
	expect_exit 0 "$1: connect exits 0" -- \
		"$PROXYSTACK" -c "$2" connect --half-close "$3" \
		--ca-file "$DEST_CA" <"$TMP/hello" || return 1
	expect_same_file "$TMP/hello" "$OUT" "$1: hello comes back"
	expect_no_grep . "$ERR" "$1: nothing on stderr"
}

clean "direct, close_notify" "$TMP/direct" "tls://localhost:$CLEAN"
truncated "direct, bare close" "$TMP/direct" "$BARE"
clean "https proxy, close_notify" "$TMP/proxied" "tls://localhost:$CLEAN"
truncated "https proxy, bare close" "$TMP/proxied" "$BARE"
# No --half-close here: squid drops a tunnel on a TCP half-close.
printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' >"$TMP/request"
expect_exit 0 "https proxy, tcp://: connect exits 0 when the server closes" -- \
	"$PROXYSTACK" -c "$TMP/proxied" connect "tcp://localhost:$ANSWER_PORT" \
	<"$TMP/request" &&
	expect_grep '^HTTP/1.1 200 OK' "$OUT" "https proxy, tcp://: the answer is printed" &&
	expect_eq "$(grep -c '^answer$' "$OUT")" 100 "https proxy, tcp://: all of its body" &&
	expect_no_grep . "$ERR" "https proxy, tcp://: nothing on stderr"
