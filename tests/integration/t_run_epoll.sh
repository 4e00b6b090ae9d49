#!/bin/bash
# t_run_epoll.sh - `proxystack run` under a program with its own socket
# code (tests/run_epoll.c): a non-blocking connect answers EINPROGRESS,
# epoll then reports it writable and SO_ERROR is 0; through a proxy that
# answers late the socket is neither readable nor writable while the
# chain is built; getpeername() names the address the program connected
# to, and bytes go both ways.  Blocking connects too.  The program's own
# socket is the tunnel: the options and bind() it set before connect()
# are kept; an IPv6 socket replaced by squid's IPv4 one gets its options.  Failures carry the errno a program expects, from
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
	expect_run_program "$name" "$EPOLL" "$@"
}

squid_log_mark sq
expect_run_epoll "epoll: non-blocking connect" "$RUN_HOST" "$ECHO_PORT" ok
expect_connect_logged "$ECHO_PORT" "epoll: squid tunnelled CONNECT $RUN_HOST:$ECHO_PORT"
expect_run_epoll "blocking connect" -b "$RUN_HOST" "$ECHO_PORT" ok
# PROXYSTACK_RUN_INLINE_MS=0: never inline, the socket waits for the
# relay thread.
PROXYSTACK_RUN_INLINE_MS=0 \
expect_run_epoll "inline bound 0: built by the relay thread" -s "$RUN_HOST" "$ECHO_PORT" ok

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

# Through a plain CONNECT chain the program's own socket is the tunnel
# (its local address is real), blocking or not.  Both echo.  A loaded
# machine may take longer than the 20 ms a non-blocking connect() builds
# inline (then it is relayed): PROXYSTACK_RUN_INLINE_MS raises the bound
# here and below.
PROXYSTACK_RUN_INLINE_MS=10000 \
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
expect_grep "^20 127\.0\.0\.1 240\." "$OUT" "non-blocking: a real TCP socket too, the name's address as peer"

# expect_sockopts NAME FAMILY BOUND WHAT: run_sockopts.py's socket of
# FAMILY (4 or 6), blocking and not, reads back every option it set
# (SO_RCVBUF doubled, the traffic class as IP_TOS) and bound BOUND.
expect_sockopts() {
	local name=$1 family=$2 bound=$3 what=$4 mode
	PROXYSTACK_RUN_INLINE_MS=10000 \
	expect_exit 0 "$name" -- "${PS_RUN[@]}" "$PYTHON" \
		"$PS_LIB_DIR/run_sockopts.py" "$RUN_HOST" "$ECHO_PORT" "$family"
	for mode in None 20; do
		expect_grep "^$mode keepalive 1 nodelay 1 keepidle 77 usertimeout 4321 rcvbuf 65536 tos 32 bound $bound$" \
			"$OUT" "$name ($mode): $what"
	done
}

# The options and the bind() a program sets before connect() are those
# of the tunnel's socket: the chain ran on the program's own socket.
expect_sockopts "socket options set before connect() are kept" 4 True \
	"SO_KEEPALIVE, TCP_NODELAY, TCP_KEEPIDLE, TCP_USER_TIMEOUT, SO_RCVBUF, IP_TOS, bind()"
expect_grep "^default nodelay 0$" "$OUT" \
	"a program that did not ask for TCP_NODELAY keeps Nagle"
# An IPv6 socket to the name's IPv6 address while squid listens on
# 127.0.0.1: the chain cannot run on the program's socket (the other
# family), so squid's socket takes its place, with the options the
# program set but not a bind().
expect_sockopts "IPv6 socket, IPv4 proxy: the program's options carried over" 6 - \
	"SO_KEEPALIVE, TCP_NODELAY, TCP_KEEPIDLE, TCP_USER_TIMEOUT, SO_RCVBUF, IPV6_TCLASS as IP_TOS"

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
# A proxy answering later than connect() builds a chain itself: the
# socket waits, neither readable nor writable, until the tunnel is up
# (or its failure is in SO_ERROR).
early_proxy slow-ok
EARLY_RUN+=("$EPOLL")
expect_exit 0 "slow proxy: run_epoll" -- "${EARLY_RUN[@]}" -s anything.example 7 ok
expect_grep "^ok - not writable right after EINPROGRESS \\(epoll\\)" "$OUT" \
	"slow proxy: not writable right after EINPROGRESS (epoll)"
expect_grep "^ok - not readable or writable yet \\(poll\\)" "$OUT" \
	"slow proxy: not readable or writable yet (poll)"
expect_grep "^ok - a line echoed" "$OUT" "slow proxy: a line echoed"
early_proxy slow-503
EARLY_RUN+=("$EPOLL")
expect_exit 0 "slow proxy's 503: ECONNREFUSED in SO_ERROR" -- \
	"${EARLY_RUN[@]}" -s anything.example 7 ECONNREFUSED
expect_grep "^ok - not writable right after EINPROGRESS \\(epoll\\)" "$OUT" \
	"slow proxy's 503: not writable right after EINPROGRESS"
early_proxy garbage
EARLY_RUN+=("$EPOLL")
expect_exit 0 "a proxy answering nonsense: ECONNRESET" -- \
	"${EARLY_RUN[@]}" anything.example 7 ECONNRESET
expect_grep "proxy-protocol" "$ERR" "nonsense: the proxystack line names proxy-protocol"
