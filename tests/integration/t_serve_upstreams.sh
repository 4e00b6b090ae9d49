#!/bin/bash
# t_serve_upstreams.sh - proxystack serve in front of authenticating and
# TLS proxies, with curl as the client: squid with Basic and with Digest
# (serve carries the site's credentials, the client has none) and squid's
# https_port (TLS to the proxy: relayed by the chain's reads and writes,
# not splice; an http:// request forwarded over it).  Each success is
# also read from squid's access log.
# t_serve_routes.sh has HTTP/2, direct routes and failover.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

serve_tls_origin

make_htpasswd "$TMP/htpasswd" alice 'al1ce-pw'
start_squid basic --basic "$TMP/htpasswd"
BASIC=$SQUID_PORT
make_digest_file "$TMP/digest.pw" dave 'd4ve-pw'
start_squid digest --digest "$TMP/digest.pw"
DIGEST=$SQUID_PORT
start_squid tls --https "$CERTS/proxysrv-chain.pem" "$CERTS/proxysrv-key.pem"
TLSSQ=$SQUID_PORT

# --- Basic and Digest: the site's credentials, not the client's ------------

serve_with s_basic "[default]" "proxy_url = http://127.0.0.1:$BASIC" \
	"proxy_username = alice" "proxy_password = al1ce-pw"
squid_log_mark basic
curl_via "squid Basic"
expect_squid_log basic "TCP_TUNNEL/200 CONNECT localhost:$TLS_ORIGIN alice " \
	"squid Basic: squid authenticated alice"

serve_with s_digest "[default]" "proxy_url = http://127.0.0.1:$DIGEST" \
	"proxy_username = dave" "proxy_password = d4ve-pw"
squid_log_mark digest
curl_via "squid Digest"
expect_squid_log digest "TCP_TUNNEL/200 CONNECT localhost:$TLS_ORIGIN dave " \
	"squid Digest: squid authenticated dave"

# --- an HTTPS proxy: TLS to the proxy, so no splice -----------------------

serve_with s_tls "[transport corp]" "module = https-proxy" \
	"url = https://localhost:$TLSSQ" "ca_file = $CERTS/proxy.pem" \
	"[route all]" "match = *" "stack = corp"
squid_log_mark tls
curl_via "squid https_port"
expect_squid_log tls "TCP_TUNNEL/200 CONNECT localhost:$TLS_ORIGIN " \
	"squid https_port: squid logged the tunnel"
expect_grep "relayed by the chain's read/write" "$TMP/s_tls.log" \
	"squid https_port: relayed through the chain, not spliced"
expect_access s_tls "chain=\"direct -> tls\(localhost:$TLSSQ\) -> https-proxy\(https://localhost:$TLSSQ\)\"" \
	"squid https_port: the access log names the https proxy"
# An http:// request: forwarded over the TLS connection to the proxy
# (HTTP/1.1), as over plain TCP.
start_origin plain
squid_log_mark tls
expect_exit 0 "squid https_port: curl -x http://" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$SERVE_PORT" "http://127.0.0.1:$ORIGIN_PORT/"
expect_stdout "hello from origin" "squid https_port: the origin's answer"
expect_squid_log tls "TCP_MISS/200 GET http://127.0.0.1:$ORIGIN_PORT/ " \
	"squid https_port: the request was forwarded, not tunnelled"

for name in s_basic s_digest s_tls; do
	stop_serve "$name" "serve ($name)" "${SERVE_PIDS[$name]}"
done
