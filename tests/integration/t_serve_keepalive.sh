#!/bin/bash
# t_serve_keepalive.sh - absolute-form http:// requests through proxystack
# serve on persistent client connections: curl fetching two and three
# URLs in one run reuses its connection to serve (num_connects 0), serve
# reuses its tunnel through squid to the same origin and opens another
# for a different one; Content-Length, chunked (extensions, trailer),
# HEAD, a POST body (length and chunked), a close-delimited body (the
# client connection ends), HTTP/1.0 without keep-alive and
# Proxy-Connection: close (it ends), a tunnel the origin closed while
# idle (the next request goes on a new one), a pipelined pair held until the
# first answer is out, malformed responses (502 before anything was
# sent, the end of the connection after).  Squid's access log
# shows the tunnels, serve's one line per request.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

start_origin origin
A=$ORIGIN_PORT
B=$(free_port) || bail_out "chunked origin" "no free port"
start_bg borigin "$PYTHON" -u "$PS_LIB_DIR/chunked_origin.py" --port "$B"
wait_port "$B"
start_squid squid

CONF=$TMP/conf
# Over tunnels (t_serve_forward.sh has requests forwarded to the proxy).
serve_conf "$CONF" "http_forward = tunnel"
write_conf "$CONF" 50-default.conf <<EOF2
[default]
proxy_url = http://127.0.0.1:$SQUID_PORT
EOF2
start_serve serve "$CONF" -v
P=$SERVE_PORT
W='%{http_code} n=%{num_connects}\n'

# b_connections: how many connections the chunked origin has accepted.
b_connections() {
	grep -c '^connection' "$TMP/borigin.log" 2>/dev/null || true
}
# expect_out TEST LINES...: curl's stdout is exactly LINES.
expect_out() {
	local test=$1
	shift
	printf '%s\n' "$@" >"$TMP/want"
	if cmp -s "$TMP/want" "$OUT"; then
		ok "$test"
	else
		fail "$test" "stdout differs"
		show_file "wanted" "$TMP/want"
		show_file "got" "$OUT"
	fi
}
# access_count ERE: lines of serve's access log matching.
access_count() {
	grep -cE -e "$1" "$TMP/serve.access" 2>/dev/null || true
}

# --- one origin, two and three requests --------------------------------------

squid_log_mark squid
expect_exit 0 "curl: two URLs of one origin" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" -w "$W" "http://127.0.0.1:$A/" \
	"http://127.0.0.1:$A/" &&
	expect_out "two URLs: both bodies, the second on the same connection" \
		"hello from origin" "200 n=1" "hello from origin" "200 n=0"
expect_grep "tunnel reused" "$TMP/serve.log" "two URLs: serve reused its tunnel"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT 127.0.0.1:$A" \
	"two URLs: squid logged the tunnel"
sleep 0.3
expect_eq "$(access_count "proto=http dest=127.0.0.1:$A .*result=ok status=200")" \
	2 "two URLs: serve logged one line per request"

before=$(b_connections)
expect_exit 0 "curl: chunked, length, HEAD on one origin" -- curl -sS \
	--max-time 10 -x "http://127.0.0.1:$P" -w "$W" \
	"http://127.0.0.1:$B/chunked" "http://127.0.0.1:$B/len" &&
	expect_out "chunked then length: bodies right, one connection" \
		"chunked hello" "200 n=1" "length hello" "200 n=0"
expect_eq "$(($(b_connections) - before))" 1 \
	"chunked then length: the origin saw one tunnel"
expect_exit 0 "curl -I then GET" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" -o /dev/null -w "$W" -I \
	"http://127.0.0.1:$B/len" -o /dev/null "http://127.0.0.1:$B/len" &&
	expect_out "HEAD has no body: the next request follows on" \
		"200 n=1" "200 n=0"

# --- different origins -------------------------------------------------------

squid_log_mark squid
expect_exit 0 "curl: three URLs, two origins" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" -w "$W" "http://127.0.0.1:$A/" \
	"http://127.0.0.1:$B/chunked" "http://127.0.0.1:$A/" &&
	expect_out "three URLs: bodies right, one client connection" \
		"hello from origin" "200 n=1" "chunked hello" "200 n=0" \
		"hello from origin" "200 n=0"
expect_squid_log squid "TCP_TUNNEL/200 CONNECT 127.0.0.1:$B" \
	"three URLs: squid logged the tunnel to the second origin"

# --- request bodies ----------------------------------------------------------

head -c 300000 /dev/urandom >"$TMP/body"
expect_exit 0 "curl POST (length) then GET" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" --data-binary "@$TMP/body" \
	-o "$TMP/back1" -w "$W" "http://127.0.0.1:$B/echo" \
	-o /dev/null "http://127.0.0.1:$B/len" &&
	expect_out "POST: then the GET on the same connection" \
		"200 n=1" "200 n=0" &&
	expect_same_file "$TMP/body" "$TMP/back1" "POST (length): the body arrived whole"
expect_exit 0 "curl POST (chunked) then GET" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" -H "Transfer-Encoding: chunked" \
	--data-binary "@$TMP/body" -o "$TMP/back2" -w "$W" \
	"http://127.0.0.1:$B/echo" -o /dev/null "http://127.0.0.1:$B/len" &&
	expect_out "chunked POST: then the GET on the same connection" \
		"200 n=1" "200 n=0" &&
	expect_same_file "$TMP/body" "$TMP/back2" "POST (chunked): the body arrived whole"

expect_exit 0 "curl: the origin closes the tunnel after a response" -- \
	curl -sS --max-time 10 -x "http://127.0.0.1:$P" -w "$W" \
	"http://127.0.0.1:$B/once" "http://127.0.0.1:$B/len" &&
	expect_out "a tunnel closed while idle: the request goes on a new one" \
		"once" "200 n=1" "length hello" "200 n=0"
expect_grep "the request goes on a new one" "$TMP/serve.log" \
	"a tunnel closed while idle: serve noticed and retried"

# --- the connection ends -----------------------------------------------------

expect_exit 0 "curl: close-delimited then length" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" -w "$W" "http://127.0.0.1:$B/close" \
	"http://127.0.0.1:$B/len" &&
	expect_out "close-delimited: body right, the next needs a new connection" \
		"closed hello" "200 n=1" "length hello" "200 n=1"
expect_exit 0 "curl Proxy-Connection: close" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" -H "Proxy-Connection: close" -w "$W" \
	"http://127.0.0.1:$A/" "http://127.0.0.1:$A/" &&
	expect_out "Proxy-Connection: close ends the client connection" \
		"hello from origin" "200 n=1" "hello from origin" "200 n=1"

start=$(date +%s)
raw_request h10 "$P" "GET http://127.0.0.1:$A/ HTTP/1.0\r\n\r\n"
expect_grep "^hello from origin" "$TMP/h10.raw" "HTTP/1.0: the answer"
expect_grep "^Connection: close" "$TMP/h10.raw" "HTTP/1.0: Connection: close"
expect_eq "$(( $(date +%s) - start < 5 ))" 1 "HTTP/1.0 without keep-alive: serve closes"

raw_request pipe "$P" "GET http://127.0.0.1:$B/len HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET http://127.0.0.1:$B/chunked HTTP/1.1\r\nProxy-Connection: close\r\n\r\n"
expect_eq "$(grep -c '^HTTP/1.1 200' "$TMP/pipe.raw")" 2 \
	"pipelined pair: two answers, then close"
expect_grep "^Connection: keep-alive" "$TMP/pipe.raw" \
	"HTTP/1.0 keep-alive: the answer says keep-alive"
expect_grep "^X-Sum: 14" "$TMP/pipe.raw" "chunked: the trailer is passed on"

raw_request bad "$P" "GET http://127.0.0.1:$B/bad HTTP/1.1\r\n\r\n"
expect_grep "^HTTP/1.1 502 Bad Gateway" "$TMP/bad.raw" \
	"a malformed Content-Length from the origin: 502"
expect_access serve "dest=127.0.0.1:$B .*result=bad-response status=502" \
	"the malformed response is logged"

raw_request bighead "$P" "GET http://127.0.0.1:$B/bighead HTTP/1.1\r\n\r\n"
expect_grep "^HTTP/1.1 502 Bad Gateway" "$TMP/bighead.raw" \
	"a response head over 16 KiB: 502"
start=$(date +%s)
raw_request badchunk "$P" "GET http://127.0.0.1:$B/badchunk HTTP/1.1\r\n\r\n"
expect_no_grep "zz" "$TMP/badchunk.raw" "a malformed chunk: not passed on"
expect_eq "$(( $(date +%s) - start < 5 ))" 1 \
	"a malformed chunk after the head: the client connection ends"
expect_access serve "dest=127.0.0.1:$B .*result=bad-response status=200" \
	"the malformed chunk is logged"

stop_serve serve "serve with keep-alive"
