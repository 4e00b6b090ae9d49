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

# A blocking connect through a plain CONNECT chain gets the proxy's own
# socket (its local address is real); a non-blocking one a relayed
# socketpair end (no local address).  Both echo.
expect_exit 0 "blocking: the proxy's socket is handed over" -- \
	"${PS_RUN[@]}" "$PYTHON" -c '
import socket, sys
for timeout in (None, 20):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=timeout)
    s.sendall(b"x")
    assert s.recv(1) == b"x"
    print(timeout, s.getsockname()[0], s.getpeername()[0])
    s.close()
' "$RUN_HOST" "$ECHO_PORT"
expect_grep "^None 127\.0\.0\.1 240\." "$OUT" "blocking: a real TCP socket, the name's address as peer"
expect_grep "^20 0\.0\.0\.0 240\." "$OUT" "non-blocking: relayed, the name's address as peer"

# A proxy whose answer carries the first tunnel bytes in the same
# segment (a server that speaks first): nothing is lost, blocking
# (handed over) or not (relayed).  A proxy answering nonsense:
# ECONNRESET.
early_proxy() {
	local port
	port=$(free_port)
	start_bg "sp-$1" "$PYTHON" -u "$PS_LIB_DIR/scripted_proxy.py" \
		--port "$port" --scenario "$1"
	wait_port "$port"
	make_conf "$TMP/conf-$1" "[default]" "proxy_url = http://127.0.0.1:$port"
	EARLY_RUN=("${PS_RUN[@]}")
	EARLY_RUN[${#EARLY_RUN[@]} - 3]=$TMP/conf-$1
}
early_proxy ok-early
expect_exit 0 "early tunnel bytes reach the program" -- \
	"${EARLY_RUN[@]}" "$PYTHON" -c '
import socket, sys
for timeout in (None, 20):
    s = socket.create_connection(("anything.example", 7), timeout=timeout)
    data = b""
    while not data.endswith(b"\n"):
        data += s.recv(100)
    s.sendall(b"ping\n")
    back = b""
    while not back.endswith(b"\n"):
        back += s.recv(100)
    print(timeout, data.decode().strip(), back.decode().strip())
    s.close()
'
expect_grep "^None early-bytes ping$" "$OUT" "early bytes: blocking (handed over)"
expect_grep "^20 early-bytes ping$" "$OUT" "early bytes: non-blocking (relayed)"
early_proxy garbage
EARLY_RUN+=("$EPOLL")
expect_exit 0 "a proxy answering nonsense: ECONNRESET" -- \
	"${EARLY_RUN[@]}" anything.example 7 ECONNRESET
expect_grep "proxy-protocol" "$ERR" "nonsense: the proxystack line names proxy-protocol"
