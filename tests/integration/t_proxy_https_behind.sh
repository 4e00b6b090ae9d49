#!/bin/bash
# t_proxy_https_behind.sh - an HTTPS proxy BEHIND an HTTP proxy: the
# https-proxy hop runs on the host's layers, so whatever is below it
# reaches the proxy:
#
#   direct -> http-connect(outer) -> tls(inner) -> https-proxy(inner) -> ...
#
# The outer proxy is a plain squid; the inner one is squid's https_port
# (CONNECT over HTTP/1.1) or nghttpx (ALPN h2, CONNECT as an HTTP/2
# stream; squid offers no ALPN, so HTTP/1.1).  tcp:// and tls:// on top; both proxies' logs must show their
# CONNECT (the outer one to the inner proxy, the inner one to the
# destination).  check prints the proxy's TLS as a step of its own, with
# protocol, ALPN and what it was verified against.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

make_dest_and_proxy_certs

start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
DEST=$ECHO_PORT
# tcp:// peer: answers a request and closes, so no half-close is
# needed (squid drops a tunnel's answer after one).
PLAIN=$(free_port) || bail_out "answer server" "no free port"
start_bg answer "$PYTHON" -u "$PS_LIB_DIR/answer_server.py" --port "$PLAIN" \
	--size 200000 --delay 0
wait_port "$PLAIN"

start_squid outer
OUTER=$SQUID_PORT
start_squid inner --https "$PCERT" "$PKEY"
INNER=$SQUID_PORT
start_squid backend
start_nghttpx h2proxy "$SQUID_PORT" "$PCERT" "$PKEY"
NG=$NGHTTPX_PORT

# conf NAME PORT: [transport outer] (http-connect) under [transport inner]
# (https-proxy at localhost:PORT with the proxy CA), routed for localhost.
conf() {
	local dir=$TMP/conf/$1 port=$2
	make_conf "$dir"
	write_conf "$dir" 50-behind.conf <<EOF
[transport outer]
module = http-connect
url = http://127.0.0.1:$OUTER

[transport inner]
module = https-proxy
url = https://localhost:$port
ca_file = $PROXY_CA

[stack behind]
transport = outer inner

[route local]
match = localhost 127.0.0.1
stack = behind
EOF
	echo "$dir"
}

printf 'hello behind two proxies\n' >"$TMP/hello"

# behind LABEL CONF PORT ALPN: the whole set for one inner proxy
# (ALPN: what check must show the proxy's TLS negotiated).
behind() {
	local label=$1 dir=$2 port=$3 alpn=$4
	local want="direct -> http-connect(http://127.0.0.1:$OUTER) -> tls(localhost:$port) -> https-proxy(https://localhost:$port) -> tls"

	expect_exit 0 "$label: which exits 0" -- \
		"$PROXYSTACK" -c "$dir" which "tls://localhost:$DEST" &&
		expect_stdout "$want" "$label: which shows the proxy's TLS as its own step"

	squid_log_mark outer
	expect_exit 0 "$label: check tls:// exits 0" -- \
		"$PROXYSTACK" -c "$dir" check "tls://localhost:$DEST" \
		--ca-file "$DEST_CA" &&
		expect_grep "^ *\[2\] tls +proxy localhost:$port TLSv1\.[23] alpn $alpn verified against ca_file $PROXY_CA" \
			"$OUT" "$label: check prints the proxy TLS step (protocol, ALPN $alpn, verified against)"
	expect_grep "^ *\[3\] https-proxy +CONNECT localhost:$DEST: 200" "$OUT" \
		"$label: check prints the CONNECT to the destination"
	expect_squid_log outer "TCP_TUNNEL/200 CONNECT localhost:$port " \
		"$label: the outer proxy logged the CONNECT to the inner one"

	printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >"$TMP/request"
	expect_exit 0 "$label: tcp:// request and answer" -- \
		"$PROXYSTACK" -c "$dir" connect "tcp://127.0.0.1:$PLAIN" \
		<"$TMP/request" &&
		expect_eq "$(head -n 1 "$OUT" | tr -d '\r')" "HTTP/1.1 200 OK" \
			"$label: tcp:// the answer's status line" &&
		expect_eq "$(($(wc -c <"$OUT") > 200000))" 1 \
			"$label: tcp:// the whole 200000-byte body"
	expect_roundtrip "$label: tls:// TLS in TLS in a tunnel" "$TMP/hello" -- \
		"$PROXYSTACK" -c "$dir" connect --half-close "tls://localhost:$DEST" \
		--ca-file "$DEST_CA"
}

behind "squid https_port (HTTP/1.1)" "$(conf h1 "$INNER")" "$INNER" none
expect_squid_log inner "TCP_TUNNEL/200 CONNECT localhost:$DEST " \
	"squid https_port logged the CONNECT to the TLS destination"
expect_squid_log inner "TCP_TUNNEL/200 CONNECT 127.0.0.1:$PLAIN " \
	"squid https_port logged the CONNECT to the tcp destination"

behind "nghttpx (HTTP/2)" "$(conf h2 "$NG")" "$NG" h2
expect_grep -F "\"CONNECT localhost:$DEST HTTP/2\" 200" "$TMP/h2proxy/access.log" \
	"nghttpx logged the CONNECT to the TLS destination over HTTP/2"
expect_grep -F "\"CONNECT 127.0.0.1:$PLAIN HTTP/2\" 200" "$TMP/h2proxy/access.log" \
	"nghttpx logged the CONNECT to the tcp destination over HTTP/2"

# The proxy's trust is its own behind another proxy too: the
# destination's CA does not make the inner proxy trusted.
make_conf "$TMP/conf/wrongca"
sed "s|ca_file = $PROXY_CA|ca_file = $DEST_CA|" "$TMP/conf/h1/50-behind.conf" |
	write_conf "$TMP/conf/wrongca" 50-behind.conf
expect_exit 5 "inner proxy with the wrong CA: check exits 5" -- \
	"$PROXYSTACK" -c "$TMP/conf/wrongca" check "tls://localhost:$DEST" \
	--ca-file "$DEST_CA"
expect_grep "proxy localhost:$INNER: certificate verify failed" "$ERR" \
	"inner proxy with the wrong CA: the error names the proxy's certificate"
expect_grep "ca_file in \[transport inner\]" "$ERR" \
	"inner proxy with the wrong CA: the hint names its section"
