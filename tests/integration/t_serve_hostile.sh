#!/bin/bash
# t_serve_hostile.sh - proxystack serve against hostile clients: garbage
# (HTTP and SOCKS5), a head trickled byte by byte (closed at idle_timeout,
# however slowly it comes), a 1 MiB request line (431), half-open sockets,
# 10,000 connections opened and dropped at once (half with a reset), and a
# process out of file descriptors (accepting pauses, no busy loop, and
# resumes).  After each, another client is served; at the end SIGTERM
# exits 0 with the sanitizers quiet (no leak).

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

HOSTILE=$PS_LIB_DIR/serve_hostile.py
start_origin origin
# No proxy configured: serve goes direct, the hostile part is the client.
CONF=$TMP/conf
serve_conf "$CONF" "idle_timeout = 2"
start_serve serve "$CONF"
P=$SERVE_PORT

expect_exit 0 "garbage bytes: answered and closed" -- \
	"$PYTHON" "$HOSTILE" garbage "$P" &&
	expect_grep "^HTTP/1.1 400 Bad Request" "$OUT" "garbage bytes: 400"
serve_alive serve "after garbage: another client is served"

expect_exit 0 "SOCKS5 garbage: closed" -- \
	"$PYTHON" "$HOSTILE" socks-garbage "$P"
serve_alive serve "after SOCKS5 garbage: another client is served"

expect_exit 0 "a 1 MiB request line: answered" -- \
	"$PYTHON" "$HOSTILE" longline "$P" &&
	expect_grep "^HTTP/1.1 431 " "$OUT" "a 1 MiB request line: 431"
serve_alive serve "after a 1 MiB request line: another client is served"
expect_access serve "proto=http .*result=bad-request status=431" \
	"the 431 is logged"

expect_exit 0 "a head trickled byte by byte: closed" -- \
	"$PYTHON" "$HOSTILE" slow "$P"
read -r status_line secs <<<"$(sed 's/^HTTP\/1.1 \([0-9]*\).* \([0-9]*\)$/\1 \2/' "$OUT")"
expect_eq "$status_line" 408 "a trickled head gets 408"
if [ "${secs:-99}" -le 4 ]; then
	ok "a trickled head is cut at idle_timeout (${secs}s), not kept alive by each byte"
else
	fail "a trickled head is cut at idle_timeout" "took ${secs}s, idle_timeout = 2"
fi
serve_alive serve "after a slow client: another client is served"

expect_exit 0 "50 half-open sockets" -- "$PYTHON" "$HOSTILE" halfopen "$P" 50 &&
	expect_stdout "closed 50" "50 half-open sockets: each one closed by serve"
serve_alive serve "after half-open sockets: another client is served"

expect_exit 0 "a request, then a half-close (printf | nc)" -- \
	"$PYTHON" "$HOSTILE" halfclose-get "$P" "$ORIGIN_PORT" &&
	expect_stdout "hello from origin" "a half-close after the request: the answer still comes"

expect_exit 0 "10000 connections opened and dropped" -- \
	"$PYTHON" "$HOSTILE" flood "$P" 10000
serve_alive serve "after the flood: another client is served"
serve_alive serve "after the flood: and another"

# --- out of file descriptors -------------------------------------------------

FD=$TMP/fdconf
serve_conf "$FD" "idle_timeout = 30"
SERVE_PREFIX=(prlimit --nofile=40:40 --)
start_serve fdserve "$FD"
SERVE_PREFIX=()
FDPID=$SERVE_PID
coproc HOLD { "$PYTHON" "$HOSTILE" hold "$SERVE_PORT" 60; }
read -r -t 10 word count <&"${HOLD[0]}"
expect_eq "$word" connected "60 connections held against a 40-fd limit"
sleep 0.5
expect_grep "accept: Too many open files: not accepting" "$TMP/fdserve.log" \
	"out of fds: accepting pauses, logged"
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# The real binary under the libtool wrapper and prlimit.
real=$(pgrep -P "$FDPID" 2>/dev/null | head -n 1)
[ -n "$real" ] || real=$FDPID
before=$(ticks "$real")
sleep 2
after=$(ticks "$real")
if [ $((after - before)) -le 20 ]; then
	ok "out of fds: no busy loop ($((after - before)) ticks of CPU in 2 s)"
else
	fail "out of fds: no busy loop" "$((after - before)) ticks of CPU in 2 s"
fi
eval "exec ${HOLD[1]}>&-"
wait "$HOLD_PID" 2>/dev/null
sleep 0.5
P_SAVE=$SERVE_PORT
serve_alive fdserve "out of fds: once they close, clients are served again"
stop_serve fdserve "serve out of fds" "$FDPID"
SERVE_PORT=$P
: "$count" "$P_SAVE"

stop_serve serve "serve after hostile clients"
