#!/bin/bash
# t_serve_forward_ntlm.sh - absolute-form http:// requests forwarded by
# proxystack serve to a squid that allows CONNECT only to port 443 and
# wants NTLM (connection-based: the Type 1 and Type 3 rounds run on the
# one connection that carries the request; a POST, whose body goes up
# once, cannot answer the challenge: 502); and http_forward = tunnel,
# which such a squid refuses (CONNECT to a port other than 443).
# t_serve_forward.sh has Basic and Digest.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

start_origin origin
A=$ORIGIN_PORT
start_squid ntlm --ntlm --line "acl SSL_ports port 443" \
	--line "acl CONNECT method CONNECT" \
	--line "http_access deny CONNECT !SSL_ports"
NTLM=$SQUID_PORT

# --- NTLM: connection-based, every round on the forwarded connection ---------

serve_with s_ntlm "[transport corp]" "module = http-connect" \
	"url = http://127.0.0.1:$NTLM" 'username = CORP\alice' \
	"password = x" "auth = ntlm" "[route all]" "match = *" "stack = corp"
squid_log_mark ntlm
expect_exit 0 "NTLM: curl -x GET" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$SERVE_PORT" "http://127.0.0.1:$A/"
expect_stdout "hello from origin" "NTLM: the origin's answer"
expect_squid_log ntlm "TCP_MISS/200 GET http://127.0.0.1:$A/ [^ ]*alice" \
	"NTLM: squid logged GET http://... for the user"
expect_eq "$(squid_log_lines ntlm | grep -c "GET http://127.0.0.1:$A/ ")" 2 \
	"NTLM: two requests on one connection (Type 1, Type 3)"
# A body goes up once, with the Type 1: the Type 2 challenge cannot be
# answered, and the 407 is the hop's failure.
expect_post_407 "NTLM" "$NTLM"

# --- http_forward = tunnel: CONNECT, which squid's default rules refuse ------

serve_conf "$TMP/tun" "http_forward = tunnel"
printf '[default]\nproxy_url = http://127.0.0.1:%s\n' "$NTLM" |
	write_conf "$TMP/tun" 50-up.conf
chmod 0600 "$TMP/tun/50-up.conf"
start_serve s_tun "$TMP/tun" -v
SERVE_PIDS[s_tun]=$SERVE_PID
squid_log_mark ntlm
expect_exit 0 "http_forward = tunnel: curl" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$SERVE_PORT" -o /dev/null -w '%{http_code}\n' \
	"http://127.0.0.1:$A/"
expect_stdout "502" "http_forward = tunnel: 502 (squid refuses CONNECT to $A)"
expect_squid_log ntlm "TCP_DENIED/403 CONNECT 127.0.0.1:$A " \
	"http_forward = tunnel: squid logged the refused CONNECT"

serve_conf "$TMP/badfwd" "http_forward = sometimes"
expect_exit 2 "http_forward = sometimes: refused" -- "$PROXYSTACK" \
	-c "$TMP/badfwd" show-config
expect_grep "http_forward: not auto or tunnel: 'sometimes'" "$ERR" \
	"http_forward = sometimes: file:line and the value"

for name in s_ntlm s_tun; do
	stop_serve "$name" "serve ($name)" "${SERVE_PIDS[$name]}"
done
