#!/bin/bash
# t_run_tools.sh - `proxystack run`: programs that never read proxy
# settings reach a local TLS server through squid (Basic auth), by name:
# curl with every proxy variable unset, python3's socket.create_connection
# + ssl, openssl s_client.  squid's access log shows each CONNECT with the
# host name (the name was resolved by the proxy, not by the program).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

run_setup
# An HTTPS origin (openssl s_server -www answers GET with a page).
WEB_PORT=$(free_port)
start_bg web openssl s_server -accept "127.0.0.1:$WEB_PORT" \
	-cert "$RUN_CERT" -key "$RUN_KEY" -www -naccept 1000
wait_port "$WEB_PORT"
start_echo tls --cert "$RUN_CERT" --key "$RUN_KEY"
TLS_PORT=$ECHO_PORT

# curl: no proxy variable (lib.sh unsets them all), its own TLS.
if run_need_plain "curl: https by name through squid"; then
	squid_log_mark sq
	expect_exit 0 "curl: https by name through squid" -- \
		"${PS_RUN_PLAIN[@]}" curl -sS --max-time 20 --cacert "$RUN_CA" \
		"https://$RUN_HOST:$WEB_PORT/"
	expect_grep -F "Ciphers common between both SSL end points" "$OUT" \
		"curl: the origin's page"
	expect_connect_logged "$WEB_PORT" "curl: squid tunnelled CONNECT $RUN_HOST:$WEB_PORT"
fi

# python3: socket.create_connection + ssl, verification on.
squid_log_mark sq
expect_exit 0 "python3: create_connection + ssl through squid" -- \
	"${PS_RUN[@]}" "$PYTHON" "$PS_LIB_DIR/run_tls_client.py" "$RUN_CA" \
	"$RUN_HOST" "$TLS_PORT" "ping over tls"
expect_grep "^ping over tls 240\." "$OUT" \
	"python3: echo back, peer is the fake address of the name"
expect_connect_logged "$TLS_PORT" "python3: squid tunnelled CONNECT $RUN_HOST:$TLS_PORT"

# openssl s_client: verifies the chain and the name.
squid_log_mark sq
expect_s_client_echo "openssl s_client through squid" "$TLS_PORT"
expect_connect_logged "$TLS_PORT" "openssl s_client: squid tunnelled CONNECT $RUN_HOST:$TLS_PORT"
