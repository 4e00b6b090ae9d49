#!/bin/bash
# t_connect_eof.sh - `connect` never loses the answer: end of input.
#
# netcat's conventions (proxystack(1), connect): at stdin EOF nothing is
# sent and connect prints until the peer closes; --half-close sends FIN /
# close_notify / Close at EOF; -q SECONDS ends that long after EOF;
# ws:// and wss:// end once the peer has been quiet 1 s after EOF.
# Proved here against answer_server.py, which answers a request without
# waiting for our end of input, as an HTTP server does:
#
#   - a request piped to tcp:// through squid, and to tls:// through
#     squid with ssl-bump, prints the whole answer (squid drops a tunnel
#     on a half-close, and a bumped connection on close_notify: before,
#     nothing printed and the exit was 0);
#   - `printf 'hello\n' | connect ws://` prints hello (before, the Close
#     went out at once and the server dropped the echo it owed);
#   - --half-close still serves a server that answers at our EOF;
#   - -q 0 and -q 1 end that long after EOF (generous time bounds);
#   - a server that resets mid-answer is an error, not an exit 0;
#   - a 70000-byte line is one message; a line over ws_max_message is an
#     error naming the limit and the line's length;
#   - -q and --half-close stand before or after the URL; a bad -q value
#     is a usage error.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

ANSWER=$PS_LIB_DIR/answer_server.py
SIZE=100000

# start_answer NAME [answer_server.py options]: $ANSWER_PORT.
start_answer() {
	local name=$1
	shift
	ANSWER_PORT=$(free_port) || bail_out "start_answer $name" "no free port"
	start_bg "$name" "$PYTHON" -u "$ANSWER" --port "$ANSWER_PORT" "$@"
	wait_port "$ANSWER_PORT"
}

# elapsed_ms START_NS: milliseconds since START_NS (date +%s%N).
elapsed_ms() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

# expect_between LOW_MS HIGH_MS GOT_MS NAME
expect_between() {
	if [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; then
		ok "$4"
		return 0
	fi
	fail "$4" "took $3 ms, want $1..$2 ms"
	return 1
}

make_ca dest
make_ca bump
make_leaf dest server
DEST_CA=$CERTS/dest.pem
BUMP_CA=$CERTS/bump.pem

start_answer plain
PLAIN=$ANSWER_PORT
start_answer tls --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
TLS=$ANSWER_PORT
start_answer slow --delay 3
SLOW=$ANSWER_PORT
start_answer ateof --mode at-eof
ATEOF=$ANSWER_PORT
start_answer ateoftls --mode at-eof --cert "$CERTS/server-chain.pem" \
	--key "$CERTS/server-key.pem"
ATEOFTLS=$ANSWER_PORT
start_answer reset --mode reset
RESET=$ANSWER_PORT
start_ws_echo ws
WS=$WS_PORT
start_ws_echo wss --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
WSS=$WS_PORT

start_squid plainsquid
SQ=$SQUID_PORT
start_squid bumpsquid --bump "$BUMP_CA" "$CERTS/bump-key.pem" "$DEST_CA"
SQBUMP=$SQUID_PORT

make_conf "$TMP/direct"
make_conf "$TMP/squid"
printf '[default]\nproxy_url = http://127.0.0.1:%s\n' "$SQ" |
	write_conf "$TMP/squid" 50-default.conf
make_conf "$TMP/bump"
printf '[default]\nproxy_url = http://127.0.0.1:%s\n' "$SQBUMP" |
	write_conf "$TMP/bump" 50-default.conf
make_conf "$TMP/small" "ws_max_message = 65536"
make_conf "$TMP/tiny" "ws_max_message = 10"
DIRECT=("$PROXYSTACK" -c "$TMP/direct")
SQUID=("$PROXYSTACK" -c "$TMP/squid")
BUMP=("$PROXYSTACK" -c "$TMP/bump")

printf 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n' >"$TMP/request"
yes answer | head -c "$SIZE" >"$TMP/body"
{
	printf 'HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' "$SIZE"
	cat "$TMP/body"
} >"$TMP/answer"

# --- the default: nothing sent at EOF, print until the peer closes --------

expect_exit 0 "tcp:// through squid: a piped request, exit 0" -- \
	"${SQUID[@]}" connect "tcp://127.0.0.1:$PLAIN" <"$TMP/request" &&
	expect_same_file "$TMP/answer" "$OUT" \
		"tcp:// through squid: the whole answer after stdin ended"
# squid reads the bumped request as HTTP: it goes where Host says, and
# the answer's head is squid's own (Via...), the body the server's.
printf 'GET /x HTTP/1.1\r\nHost: localhost:%s\r\nConnection: close\r\n\r\n' "$TLS" |
	expect_exit 0 "tls:// through squid ssl-bump: a piped request, exit 0" -- \
		"${BUMP[@]}" connect "tls://localhost:$TLS" --ca-file "$BUMP_CA" &&
	expect_grep "^HTTP/1.1 200 OK" "$OUT" "tls:// through squid ssl-bump: the answer's status" &&
	tail -c "$SIZE" "$OUT" >"$TMP/bumped.body" &&
	expect_same_file "$TMP/body" "$TMP/bumped.body" \
		"tls:// through squid ssl-bump: the whole body after stdin ended"
expect_exit 0 "tls:// direct: a piped request, exit 0" -- \
	"${DIRECT[@]}" connect --ca-file "$DEST_CA" "tls://localhost:$TLS" <"$TMP/request" &&
	expect_same_file "$TMP/answer" "$OUT" "tls:// direct: the whole answer"

# --- websocket: linger until the peer is quiet, then Close 1000 -----------

start=$(date +%s%N)
printf 'hello\n' |
	expect_exit 0 "ws:// echo: hello piped, exit 0" -- \
		"${DIRECT[@]}" connect "ws://localhost:$WS/hello" &&
	expect_stdout "hello" "ws:// echo: hello comes back before the close"
expect_between 500 10000 "$(elapsed_ms "$start")" \
	"ws:// echo: ends about 1 s after the peer went quiet"
expect_grep "closed path=/hello after 1 messages, code=1000" "$TMP/ws.log" \
	"ws:// echo: then our Close 1000, answered"
printf 'one\ntwo\n' |
	expect_exit 0 "wss:// echo through squid ssl-bump: two lines, exit 0" -- \
		"${BUMP[@]}" connect "wss://localhost:$WSS/two" --ca-file "$BUMP_CA" &&
	expect_stdout $'one\ntwo' "wss:// echo through squid ssl-bump: both come back"
printf 'quick\n' |
	expect_exit 0 "ws:// --half-close: Close at EOF, exit 0" -- \
		"${DIRECT[@]}" connect "ws://localhost:$WS/halfclose" --half-close
expect_grep "closed path=/halfclose after 1 messages, code=1000" "$TMP/ws.log" \
	"ws:// --half-close: the server got the line and our Close 1000"

# One line is one message, up to ws_max_message (16 MiB by default).
head -c 70000 /dev/zero | tr '\0' a >"$TMP/line70k"
echo >>"$TMP/line70k"
expect_exit 0 "ws:// a 70000-byte line: exit 0" -- \
	"${DIRECT[@]}" connect "ws://localhost:$WS/big" <"$TMP/line70k" &&
	expect_same_file "$TMP/line70k" "$OUT" "ws:// a 70000-byte line comes back whole"
expect_grep -F ": text 70000 bytes" "$TMP/ws.log" \
	"ws:// a 70000-byte line: the server got one message of 70000 bytes"
expect_no_grep -F ": text 65536 bytes" "$TMP/ws.log" \
	"ws:// a 70000-byte line: no 65536-byte piece"
expect_exit 1 "ws:// a line over ws_max_message: exit 1" -- \
	"$PROXYSTACK" -c "$TMP/small" connect "ws://localhost:$WS/over" <"$TMP/line70k" &&
	expect_grep "proxystack: error: websocket: stdin line 1 is (70000|more than 65536) bytes, over ws_max_message 65536" \
		"$ERR" "ws:// a line over ws_max_message: the error names the length and the limit" &&
	expect_grep -F "hint: raise ws_max_message" "$ERR" \
		"ws:// a line over ws_max_message: the hint says what to raise"
printf 'short\n%020d\n' 0 |
	expect_exit 1 "ws:// the second line over ws_max_message 10: exit 1" -- \
		"$PROXYSTACK" -c "$TMP/tiny" connect "ws://localhost:$WS/tiny" &&
	expect_grep -F "proxystack: error: websocket: stdin line 2 is 20 bytes, over ws_max_message 10: one line is one message" \
		"$ERR" "ws:// the second line over ws_max_message 10: its number and length"
{ head -c 200000 /dev/zero | tr '\0' b; sleep 5; } |
	expect_exit 1 "ws:// an endless line over ws_max_message: exit 1 before its end" -- \
		"$PROXYSTACK" -c "$TMP/small" connect "ws://localhost:$WS/endless" &&
	expect_grep -F "stdin line 1 is more than 65536 bytes, over ws_max_message 65536" \
		"$ERR" "ws:// an endless line: refused without waiting for its end"

# --- --half-close: for servers that answer at our end of input -------------

printf 'abc' |
	expect_exit 0 "tcp:// --half-close: exit 0" -- \
		"${DIRECT[@]}" connect --half-close "tcp://127.0.0.1:$ATEOF" &&
	expect_stdout "got 3 bytes" "tcp:// --half-close: the answer to our FIN"
printf 'abcd' |
	expect_exit 0 "tls:// --half-close: exit 0" -- \
		"${DIRECT[@]}" connect "tls://localhost:$ATEOFTLS" --ca-file "$DEST_CA" --half-close &&
	expect_stdout "got 4 bytes" "tls:// --half-close: the answer to our close_notify"

# --- -q SECONDS: end that long after EOF ----------------------------------

start=$(date +%s%N)
expect_exit 0 "-q 0: exit 0 at EOF" -- \
	"${DIRECT[@]}" connect "tcp://127.0.0.1:$SLOW" -q 0 <"$TMP/request" &&
	expect_stdout "" "-q 0: the answer 3 s later is not waited for"
expect_between 0 2500 "$(elapsed_ms "$start")" "-q 0: ends at once"
start=$(date +%s%N)
expect_exit 0 "--linger 1: exit 0" -- \
	"${DIRECT[@]}" connect --linger 1 "tcp://127.0.0.1:$SLOW" <"$TMP/request" &&
	expect_stdout "" "--linger 1: the answer 3 s later is not waited for"
expect_between 900 2900 "$(elapsed_ms "$start")" "--linger 1: ends about 1 s after EOF"
printf 'abc' |
	expect_exit 0 "-q 1 at a server that needs a half-close: exit 0" -- \
		"${DIRECT[@]}" connect -q 1 "tcp://127.0.0.1:$ATEOF"
expect_exit 0 "-q 10: the peer closes first, exit 0" -- \
	"${SQUID[@]}" connect -q 10 "tcp://127.0.0.1:$PLAIN" <"$TMP/request" &&
	expect_same_file "$TMP/answer" "$OUT" "-q 10: the whole answer"
start=$(date +%s%N)
printf 'hello\n' |
	expect_exit 0 "ws:// -q 0: exit 0" -- \
		"${DIRECT[@]}" connect -q 0 "ws://localhost:$WS/q0"
expect_between 0 4000 "$(elapsed_ms "$start")" "ws:// -q 0: no quiet linger"
expect_grep "closed path=/q0 after 1 messages, code=1000" "$TMP/ws.log" \
	"ws:// -q 0: the line, then our Close 1000"

# --- a peer that vanished is an error -------------------------------------

expect_exit 1 "a server that resets mid-answer: exit 1" -- \
	"${DIRECT[@]}" connect "tcp://127.0.0.1:$RESET" <"$TMP/request" &&
	expect_grep "proxystack: error: io: .*(reset|Connection reset)" "$ERR" \
		"a server that resets mid-answer: the error says reset"

# --- options ---------------------------------------------------------------

for bad in -1 abc inf; do
	expect_exit 2 "-q $bad: usage error" -- \
		"${DIRECT[@]}" connect "tcp://127.0.0.1:$PLAIN" -q "$bad" </dev/null &&
		expect_grep -F -- "-q/--linger wants a number of seconds (0 or more), not '$bad'" \
			"$ERR" "-q $bad: the message names the value"
done
expect_exit 0 "--help lists --half-close and -q" -- "$PROXYSTACK" --help &&
	expect_grep -- "--half-close" "$OUT" "--help: --half-close" &&
	expect_grep -- "-q, --linger SECONDS" "$OUT" "--help: -q, --linger SECONDS"
