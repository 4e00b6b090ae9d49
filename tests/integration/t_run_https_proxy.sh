#!/bin/bash
# t_run_https_proxy.sh - `proxystack run` through an HTTPS proxy (TLS to
# squid's https_port, verified against the proxy's own CA, then CONNECT
# with Basic auth), chosen per destination by a [route]: the program's
# TLS runs inside the proxy's TLS.  The proxy itself is named
# "localhost": the library resolves it on its own thread, for real,
# while the program's names get fake addresses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

run_setup
run_https_proxy_setup localhost
start_echo tls --cert "$RUN_CERT" --key "$RUN_KEY"

squid_log_mark hsq
squid_log_mark sq
expect_exit 0 "python3: TLS inside the https proxy's TLS" -- \
	"${PS_RUN[@]}" "$PYTHON" "$PS_LIB_DIR/run_tls_client.py" "$RUN_CA" \
	"$RUN_HOST" "$ECHO_PORT" "through https proxy"
expect_grep "^through https proxy 240\." "$OUT" "python3: echo through the https proxy"
# The library's own warnings reach the program's stderr, once per process
# (the password in a file others may read), and nothing deadlocks there.
expect_grep "^proxystack run: warning: configuration file with a password" \
	"$ERR" "the library's warning as a proxystack run line"
expect_squid_log hsq "TCP_TUNNEL/200 CONNECT ${RUN_HOST//./\\.}:$ECHO_PORT alice" \
	"the https proxy tunnelled CONNECT $RUN_HOST:$ECHO_PORT"
expect_no_connect_logged "$ECHO_PORT" "the route chose it: the plain proxy saw nothing"

# openssl s_client the same way.
squid_log_mark hsq
expect_s_client_echo "openssl s_client through the https proxy" "$ECHO_PORT"
expect_squid_log hsq "TCP_TUNNEL/200 CONNECT ${RUN_HOST//./\\.}:$ECHO_PORT alice" \
	"s_client: the https proxy tunnelled it"
