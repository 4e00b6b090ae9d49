#!/bin/bash
# t_serve_connect.sh - proxystack serve in front of squid, with clients
# nobody here wrote: curl (CONNECT to an https origin, absolute-form
# http://, --socks5-hostname), wget, python3 urllib.request with
# HTTPS_PROXY, openssl s_client -proxy.  Every success shows in squid's
# access log and in serve's own; a plain CONNECT proxy below is relayed
# with splice(2).  Failures answer in the client's protocol: squid's 403
# becomes a 502 naming the code, the hop and squid's words, a proxy that
# never answers a 504, a dead proxy a 502 "connect", and SOCKS5 clients
# get reply codes.  SIGTERM: exit 0, sanitizers quiet.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

make_ca dest
make_leaf dest server
CA=$CERTS/dest.pem
start_origin tlsorigin --cert "$CERTS/server-chain.pem" \
	--key "$CERTS/server-key.pem"
TLS_ORIGIN=$ORIGIN_PORT
start_origin origin
DENIED=$(free_port)
start_squid squid --deny-port "$DENIED"
start_blackhole blackhole

CONF=$TMP/conf
serve_conf "$CONF"
write_conf "$CONF" 50-default.conf <<EOF2
[default]
proxy_url = http://127.0.0.1:$SQUID_PORT
EOF2
start_serve serve "$CONF" -v
P=$SERVE_PORT
CHAIN="direct -> http-connect(http://127.0.0.1:$SQUID_PORT)"
CHAIN_RE=$(printf '%s' "$CHAIN" | sed 's/[().]/\\&/g')

# --- successes ------------------------------------------------------------

squid_log_mark squid
expect_exit 0 "curl -x CONNECT to an https origin" -- curl -sS --max-time 10 \
	--cacert "$CA" -x "http://127.0.0.1:$P" "https://localhost:$TLS_ORIGIN/" &&
	expect_stdout "hello from origin" "curl CONNECT: the origin's answer"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$TLS_ORIGIN" \
	"curl CONNECT: squid logged the tunnel"
expect_access serve "proto=connect dest=localhost:$TLS_ORIGIN user=- result=ok status=200 up=[1-9][0-9]* down=[1-9][0-9]* ms=[0-9]+ chain=\"$CHAIN_RE\"" \
	"curl CONNECT: serve logged client, destination, chain, result, bytes"
expect_grep "relayed by splice" "$TMP/serve.log" \
	"a plain CONNECT chain is relayed with splice"

squid_log_mark squid
expect_exit 0 "curl -x absolute-form http://" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" -H "Proxy-Connection: keep-alive" \
	"http://127.0.0.1:$ORIGIN_PORT/headers" &&
	expect_grep "^GET /headers HTTP/1.1" "$OUT" \
		"absolute-form: the origin gets the origin form" &&
	expect_no_grep -i "^proxy-" "$OUT" \
		"absolute-form: Proxy-* headers are not passed on"
expect_squid_log squid "TCP_MISS/200 GET http://127.0.0.1:$ORIGIN_PORT/headers " \
	"absolute-form: forwarded to squid as a request, squid logged it"
expect_access serve "proto=http dest=127.0.0.1:$ORIGIN_PORT .*result=ok" \
	"absolute-form: serve logged it"

squid_log_mark squid
expect_exit 0 "curl --socks5-hostname" -- curl -sS --max-time 10 \
	--cacert "$CA" --socks5-hostname "127.0.0.1:$P" \
	"https://localhost:$TLS_ORIGIN/" &&
	expect_stdout "hello from origin" "socks5h: the origin's answer"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$TLS_ORIGIN" \
	"socks5h: the name reached squid unresolved"
expect_access serve "proto=socks5 dest=localhost:$TLS_ORIGIN .*result=ok status=0" \
	"socks5h: serve logged it"

squid_log_mark squid
expect_exit 0 "wget through HTTPS_PROXY" -- env \
	"https_proxy=http://127.0.0.1:$P" wget -q -O - \
	--ca-certificate="$CA" "https://localhost:$TLS_ORIGIN/" &&
	expect_stdout "hello from origin" "wget: the origin's answer"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$TLS_ORIGIN" \
	"wget: squid logged the tunnel"

squid_log_mark squid
expect_exit 0 "python3 urllib.request with HTTPS_PROXY" -- env \
	"HTTPS_PROXY=http://127.0.0.1:$P" "$PYTHON" -c '
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
print(urllib.request.urlopen(sys.argv[2], context=ctx, timeout=10).read().decode(), end="")' \
	"$CA" "https://localhost:$TLS_ORIGIN/" &&
	expect_stdout "hello from origin" "python3: the origin's answer"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$TLS_ORIGIN" \
	"python3: squid logged the tunnel"

squid_log_mark squid
# Python's TLS origin closes without close_notify, which s_client reports
# with exit 1 after printing the whole answer: the answer is the test.
printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
	expect_exit "0|1" "openssl s_client -proxy" -- openssl s_client -quiet \
		-ign_eof -verify_return_error -CAfile "$CA" \
		-proxy "127.0.0.1:$P" -connect "localhost:$TLS_ORIGIN" \
		-servername localhost &&
	expect_grep "hello from origin" "$OUT" "s_client: the origin's answer"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT localhost:$TLS_ORIGIN" \
	"s_client: squid logged the tunnel"

# 8 MiB both ways at once through the tunnel, byte-exact.
head -c 8388608 /dev/urandom >"$TMP/big"
expect_exit 0 "curl POST 8 MiB through CONNECT" -- curl -sS --max-time 20 \
	--cacert "$CA" -x "http://127.0.0.1:$P" --data-binary "@$TMP/big" \
	-o "$TMP/big.back" "https://localhost:$TLS_ORIGIN/echo" &&
	expect_same_file "$TMP/big" "$TMP/big.back" "8 MiB come back exact"

# --- failures, in the client's protocol -----------------------------------

raw_request denied "$P" "CONNECT 127.0.0.1:$DENIED HTTP/1.1\r\nHost: 127.0.0.1:$DENIED\r\n\r\n"
expect_grep "^HTTP/1.1 502 Bad Gateway" "$TMP/denied.raw" \
	"squid's 403 answers 502"
expect_grep "^proxystack: proxy-denied: hop 1 \(http-connect\): .*403" \
	"$TMP/denied.raw" "the 502 body names the code, the hop and squid's words"
expect_access serve "dest=127.0.0.1:$DENIED .*result=proxy-denied status=502" \
	"the refusal is logged with its code"

expect_exit 97 "socks5h to a refused port: curl says why" -- curl -sS \
	--max-time 10 --socks5-hostname "127.0.0.1:$P" "http://127.0.0.1:$DENIED/"
expect_grep "\(2\)" "$ERR" "socks5h: reply 2, not allowed by ruleset"

BH=$TMP/bh
serve_conf "$BH"
sed -i 's/^connect_timeout.*/connect_timeout = 2/' "$BH/00-global.conf"
write_conf "$BH" 50-default.conf <<EOF2
[default]
proxy_url = http://127.0.0.1:$BLACKHOLE_PORT
EOF2
start_serve bhserve "$BH"
BHPID=$SERVE_PID
raw_request timeout "$SERVE_PORT" "CONNECT localhost:443 HTTP/1.1\r\n\r\n"
expect_grep "^HTTP/1.1 504 Gateway Timeout" "$TMP/timeout.raw" \
	"a proxy that never answers: 504"
expect_grep "^proxystack: timeout: " "$TMP/timeout.raw" "the 504 body names the code"
expect_exit 97 "socks5h through a proxy that never answers" -- curl -sS \
	--max-time 10 --socks5-hostname "127.0.0.1:$SERVE_PORT" "http://localhost/"
expect_grep "\(6\)" "$ERR" "socks5h: reply 6, TTL expired, for a timeout"
stop_serve bhserve "serve in front of a silent proxy" "$BHPID"

DEAD=$TMP/dead
serve_conf "$DEAD"
write_conf "$DEAD" 50-default.conf <<EOF2
[default]
proxy_url = http://127.0.0.1:$(dead_port)
EOF2
start_serve deadserve "$DEAD"
DEADPID=$SERVE_PID
raw_request dead "$SERVE_PORT" "CONNECT localhost:443 HTTP/1.1\r\n\r\n"
expect_grep "^HTTP/1.1 502 " "$TMP/dead.raw" "a dead proxy: 502"
expect_grep "^proxystack: connect: hop 0 \(direct\): " "$TMP/dead.raw" \
	"the 502 body names connect and the direct hop"
stop_serve deadserve "serve in front of a dead proxy" "$DEADPID"

# --- env --serve ------------------------------------------------------------

expect_exit 0 "env --serve" -- "$PROXYSTACK" -c "$CONF" env --serve \
	--listen "127.0.0.1:$P" &&
	expect_grep "^export HTTPS_PROXY=http://127.0.0.1:$P$" "$OUT" \
		"env --serve: HTTPS_PROXY at the local port" &&
	expect_grep "^export ALL_PROXY=socks5h://127.0.0.1:$P$" "$OUT" \
		"env --serve: ALL_PROXY as socks5h"

stop_serve serve "serve in front of squid"
