#!/bin/bash
# t_ws_close_status.sh - the server's Close code decides connect's exit.
#
# bad_ws.py over TLS (wss://) sends a text message, then a Close: 1000
# (normal) and 1001 (going away) exit 0; 1011 (internal error) exits 1
# with "websocket: the server closed the websocket with 1011: internal
# error" after printing the message; so does ws:// with a private 4000.
# Every wss case answers the server's Close with the same code.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

make_ca dest
make_leaf dest server
start_bad_ws badwss --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
WSS=$BAD_WS_PORT
WSS_LOG=$BAD_WS_LOG
start_bad_ws badws
WS=$BAD_WS_PORT

make_conf "$TMP/conf" "connect_timeout = 3"
PS=("$PROXYSTACK" -c "$TMP/conf")

# stdin open and silent: the session ends because of the server's Close.
mkfifo "$TMP/stdin.fifo"
exec 7<>"$TMP/stdin.fifo"

# answered NAME CODE: bad_ws.py read our Close CODE (within 3 s).
answered() {
	local i
	for i in $(seq 30); do
		grep -q "^$1: client close $2 " "$WSS_LOG" && break
		sleep 0.1
	done
	expect_grep "^$1: client close $2 " "$WSS_LOG" "$1: we answered with $2"
}

# closed_with WANT_EXIT URL NAME: connect's exit; "working" printed.
closed_with() {
	expect_exit "$1" "$3: connect exits $1" -- \
		"${PS[@]}" connect --ca-file "$CERTS/dest.pem" "$2" \
		<"$TMP/stdin.fifo" &&
		expect_stdout "working" "$3: the message before the close is printed"
}

closed_with 0 "wss://localhost:$WSS/close-1000" "wss close 1000" &&
	expect_no_grep . "$ERR" "wss close 1000: nothing on stderr"
answered close-1000 1000
closed_with 0 "wss://localhost:$WSS/close-1001" "wss close 1001" &&
	expect_no_grep . "$ERR" "wss close 1001: nothing on stderr"
answered close-1001 1001
closed_with 1 "wss://localhost:$WSS/close-1011" "wss close 1011" &&
	expect_grep "^proxystack: error: websocket: the server closed the websocket with 1011: internal error$" \
		"$ERR" "wss close 1011: stderr names the code and the reason" &&
	expect_grep "^proxystack: hint: see the server's logs" "$ERR" \
		"wss close 1011: a hint"
answered close-1011 1011
expect_exit 1 "ws close 4000: connect exits 1" -- \
	"${PS[@]}" connect "ws://localhost:$WS/close-4000" <"$TMP/stdin.fifo" &&
	expect_grep "^proxystack: error: websocket: the server closed the websocket with 4000: private$" \
		"$ERR" "ws close 4000: stderr names the code and the reason"
