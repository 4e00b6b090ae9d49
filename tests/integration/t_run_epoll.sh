#!/bin/bash
# t_run_epoll.sh - `proxystack run` under a program with its own socket
# code (tests/run_epoll.c): a non-blocking connect answers EINPROGRESS,
# the socket is neither readable nor writable while the chain is built,
# epoll then reports it writable and SO_ERROR is 0; getpeername() names
# the address the program connected to, and bytes go both ways.  Blocking
# connects too.  Failures carry the errno a program expects, from
# connect() or from SO_ERROR, and one proxystack line on stderr: squid
# cannot reach the destination (503): ECONNREFUSED; squid forbids the
# port (403): EACCES.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

DENIED_PORT=$(free_port)
run_setup --deny-port "$DENIED_PORT"
start_echo plain --plain
EPOLL=$PS_BUILD/tests/run_epoll

# expect_run_epoll NAME ARGS...: run_epoll's own checks, each reported.
expect_run_epoll() {
	local name=$1
	shift
	expect_exit 0 "$name" -- "${PS_RUN[@]}" "$EPOLL" "$@"
	sed -n 's/^\(not \)\{0,1\}ok - /&'"$name"': /p' "$OUT" |
		while IFS= read -r line; do
			case $line in
			ok*) ok "${line#ok - }" ;;
			*) fail "${line#not ok - }" ;;
			esac
		done
}

squid_log_mark sq
expect_run_epoll "epoll: non-blocking connect" "$RUN_HOST" "$ECHO_PORT" ok
expect_connect_logged "$ECHO_PORT" "epoll: squid tunnelled CONNECT $RUN_HOST:$ECHO_PORT"
expect_run_epoll "blocking connect" -b "$RUN_HOST" "$ECHO_PORT" ok

REFUSED=$(dead_port)
expect_run_epoll "epoll: refused destination" "$RUN_HOST" "$REFUSED" ECONNREFUSED
expect_grep "^proxystack run: connect to $RUN_HOST:$REFUSED: proxy-denied: .* 503 " \
	"$ERR" "epoll: refused: one proxystack line with the code and squid's status"
expect_grep -F "(hint: " "$ERR" "epoll: refused: the line has a hint"
expect_run_epoll "blocking: refused destination" -b "$RUN_HOST" "$REFUSED" ECONNREFUSED

expect_run_epoll "epoll: squid 403" "$RUN_HOST" "$DENIED_PORT" EACCES
expect_grep "^proxystack run: connect to $RUN_HOST:$DENIED_PORT: proxy-denied: proxy http://127\.0\.0\.1:$SQUID_PORT refused CONNECT $RUN_HOST:$DENIED_PORT: 403 " \
	"$ERR" "epoll: 403: the proxy's refusal on stderr"
expect_grep -F "the proxy's rules forbid this destination or port" "$ERR" \
	"epoll: 403: the hint"
expect_run_epoll "blocking: squid 403" -b "$RUN_HOST" "$DENIED_PORT" EACCES
expect_no_grep -F "alice" "$ERR" "403: no credential in the message"
expect_no_grep -F "s@same" "$ERR" "403: no password in the message"
