#!/bin/bash
# t_serve_forward.sh - absolute-form http:// requests through proxystack
# serve and an HTTP proxy that, like squid's default configuration, allows
# CONNECT only to port 443 (http_access deny CONNECT !SSL_ports): serve
# hands the request head to the route's http-connect hop, which forwards
# it as "GET http://host/path" with the site's credentials (Basic at
# once when known, Digest after the 407 challenge, on the same
# connection).  Clients: curl -x and python3 urllib.  Each success is read
# from squid's access log (method, URL, user).  Also: keep-alive between
# forwarded requests, a POST, the proxy's own 403 relayed as its answer,
# a 407 nobody can satisfy (502 naming the hop).  NTLM and http_forward
# = tunnel: t_serve_forward_ntlm.sh.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

start_origin origin
A=$ORIGIN_PORT
# squid's default rules for CONNECT, before ours.
DEFAULT_ACL=(--line "acl SSL_ports port 443" --line "acl CONNECT method CONNECT"
	--line "http_access deny CONNECT !SSL_ports")
make_htpasswd "$TMP/htpasswd" alice 'al1ce-pw'
start_squid basic --basic "$TMP/htpasswd" "${DEFAULT_ACL[@]}"
BASIC=$SQUID_PORT
make_digest_file "$TMP/digest.pw" dave 'd4ve-pw'
start_squid digest --digest "$TMP/digest.pw" "${DEFAULT_ACL[@]}"
DIGEST=$SQUID_PORT
W='%{http_code} n=%{num_connects}\n'

# urllib NAME URL: python3 fetches URL through serve; body in $TMP/NAME.py
urllib() {
	expect_exit 0 "$1: python3 urllib through serve" -- "$PYTHON" -c '
import sys, urllib.request
proxy = urllib.request.ProxyHandler({"http": sys.argv[1]})
opener = urllib.request.build_opener(proxy)
with opener.open(sys.argv[2], timeout=10) as r:
    sys.stdout.write("%d %s" % (r.status, r.read().decode()))' \
		"http://127.0.0.1:$SERVE_PORT" "$2"
}

# --- Basic ------------------------------------------------------------------

serve_with s_basic "[default]" "proxy_url = http://127.0.0.1:$BASIC" \
	"proxy_username = alice" "proxy_password = al1ce-pw"
P=$SERVE_PORT
squid_log_mark basic
expect_exit 0 "Basic: curl -x GET" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" "http://127.0.0.1:$A/headers" &&
	expect_grep "^GET /headers HTTP/1.1" "$OUT" \
		"Basic: the origin got the request from squid" &&
	expect_no_grep -i "^proxy-auth" "$OUT" \
		"Basic: the credentials stop at squid"
expect_squid_log basic "TCP_MISS/200 GET http://127.0.0.1:$A/headers alice " \
	"Basic: squid logged GET http://... for alice"
expect_no_squid_log basic "CONNECT 127.0.0.1:$A" \
	"Basic: no CONNECT to port $A was tried"
expect_access s_basic "proto=http dest=127.0.0.1:$A .*result=ok status=200" \
	"Basic: serve logged the request"

urllib "Basic" "http://127.0.0.1:$A/" &&
	expect_stdout "200 hello from origin" "Basic: urllib got the origin's answer"
expect_squid_log basic "TCP_MISS/200 GET http://127.0.0.1:$A/ alice " \
	"Basic: squid logged urllib's request for alice"

expect_exit 0 "Basic: two URLs on one client connection" -- curl -sS \
	--max-time 10 -x "http://127.0.0.1:$P" -w "$W" -o /dev/null \
	"http://127.0.0.1:$A/" -o /dev/null "http://127.0.0.1:$A/bytes/100000"
expect_stdout "200 n=1
200 n=0" "Basic: keep-alive between forwarded requests"

head -c 200000 /dev/urandom >"$TMP/body"
squid_log_mark basic
expect_exit 0 "Basic: POST" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$P" --data-binary "@$TMP/body" -o "$TMP/back" \
	"http://127.0.0.1:$A/echo" &&
	expect_same_file "$TMP/body" "$TMP/back" "Basic: the POST body went up and back whole"
expect_squid_log basic "TCP_MISS/200 POST http://127.0.0.1:$A/echo alice " \
	"Basic: squid logged the POST for alice"

# The proxy's own refusal is its answer, relayed as it is.
expect_exit 0 "Basic: a destination squid forbids" -- curl -sS --max-time 10 \
	-o /dev/null -w '%{http_code}\n' -x "http://127.0.0.1:$P" \
	"http://10.255.255.1:$A/"
expect_stdout "403" "Basic: squid's 403 reaches the client as squid's"

# --- Digest -----------------------------------------------------------------

serve_with s_digest "[default]" "proxy_url = http://127.0.0.1:$DIGEST" \
	"proxy_username = dave" "proxy_password = d4ve-pw"
squid_log_mark digest
expect_exit 0 "Digest: curl -x GET" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$SERVE_PORT" "http://127.0.0.1:$A/"
expect_stdout "hello from origin" "Digest: the origin's answer"
expect_squid_log digest "TCP_MISS/200 GET http://127.0.0.1:$A/ dave " \
	"Digest: squid logged GET http://... for dave"
urllib "Digest" "http://127.0.0.1:$A/headers" &&
	expect_grep "^200 GET /headers HTTP/1.1" "$OUT" \
		"Digest: urllib got the origin's answer"
expect_squid_log digest "TCP_MISS/200 GET http://127.0.0.1:$A/headers dave " \
	"Digest: squid logged urllib's request for dave"

# A body is sent once: Digest's challenge cannot be answered for it.
expect_post_407 "Digest" "$DIGEST"
expect_access s_digest "proto=http .*result=proxy-auth status=502" \
	"Digest: serve logged proxy-auth"

# --- wrong credentials: the module's 407 failure, as for CONNECT -------------

serve_with s_wrong "[default]" "proxy_url = http://127.0.0.1:$BASIC" \
	"proxy_username = alice" "proxy_password = wrong"
expect_exit 0 "wrong password: curl" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$SERVE_PORT" -w '\n%{http_code}\n' \
	"http://127.0.0.1:$A/"
expect_grep "^502$" "$OUT" "wrong password: 502"
expect_grep "proxy-auth.*127.0.0.1:$BASIC.*rejected" "$OUT" \
	"wrong password: the answer names the proxy and the rejection"

for name in s_basic s_digest s_wrong; do
	stop_serve "$name" "serve ($name)" "${SERVE_PIDS[$name]}"
done
