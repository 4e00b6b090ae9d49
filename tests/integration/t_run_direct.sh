#!/bin/bash
# t_run_direct.sh - `proxystack run`: what goes around the proxy.  A
# destination in no_proxy (localhost, by name) resolves to its real
# address and is connected directly, and a loopback address literal is
# never routed: squid sees no CONNECT for either.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

run_setup
start_echo plain --plain
TLS_PORT=$ECHO_PORT

# no_proxy: the same name on this one port goes out directly.
write_run_conf 10-noproxy.conf <<EOF
[default]
no_proxy = localhost
EOF
squid_log_mark sq
expect_exit 0 "python3: a no_proxy destination works" -- \
	"${PS_RUN[@]}" "$PYTHON" -c '
import socket, sys
with socket.create_connection(("localhost", int(sys.argv[1])), timeout=20) as s:
    print(s.getpeername()[0])
' "$TLS_PORT"
expect_grep "^127\.0\.0\.1$" "$OUT" "no_proxy: the real address of localhost"
expect_no_connect_logged "$TLS_PORT" "no_proxy: squid saw no CONNECT"
remove_run_conf 10-noproxy.conf

# A loopback address literal is never routed.
squid_log_mark sq
expect_exit 0 "python3: 127.0.0.1 goes out directly" -- \
	"${PS_RUN[@]}" "$PYTHON" -c '
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20).close()
' "$TLS_PORT"
expect_no_connect_logged "$TLS_PORT" "loopback literal: squid saw no CONNECT"
