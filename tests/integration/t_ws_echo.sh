#!/bin/bash
# t_ws_echo.sh - ws:// and wss:// straight to a real websocket server.
#
# The peer is Debian's python3-websockets (ws_echo.py), not our own code.
# tests/ws_check drives the public message API: text and binary echoes of
# 0, 1, 125, 126 (first 16-bit length), 65535, 65536 (first 64-bit
# length) and 4 MiB, then the close handshake.  The CLI carries one text
# message per stdin line; `check` shows the upgrade as a step with its
# timing.  Subprotocols: AMQPWSB10 offered and chosen; an offer the server
# does not speak, or a choice we never offered, fails the handshake
# (websocket-handshake, exit 1).

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

[ -x "$WS_CHECK" ] || bail_out "ws_check" "$WS_CHECK missing: make tests/ws_check"

make_ca dest
make_ca other
make_leaf dest server
DEST_CA=$CERTS/dest.pem

start_ws_echo wsplain
WS=$WS_PORT
start_ws_echo wstls --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
WSS=$WS_PORT
start_ws_echo wsamqp --subprotocol AMQPWSB10
AMQP=$WS_PORT
start_bad_ws badws
BAD=$BAD_WS_PORT

make_conf "$TMP/conf"
PS=("$PROXYSTACK" -c "$TMP/conf")
CHECK=("$WS_CHECK" -c "$TMP/conf")
SIZES="0 1 125 126 65535 65536 4194304"

# expect_ws_check NAME WS_CHECK-ARGS...: ws_check exits 0, and its output
# holds an ok line for every echo size both ways and for the close.
expect_ws_check() {
	local name=$1 n t missing=""
	shift
	expect_exit 0 "$name: ws_check exits 0" -- "${CHECK[@]}" --label "$name" "$@" ||
		return 1
	for n in $SIZES; do
		for t in text binary; do
			grep -qxF "ok - $name: $t echo of bytes $n" "$OUT" ||
				missing="$missing $t/$n"
		done
	done
	if [ -z "$missing" ]; then
		ok "$name: text and binary echoes of $SIZES bytes"
	else
		fail "$name: text and binary echoes of $SIZES bytes" "missing:$missing"
		show_file stdout "$OUT"
	fi
	expect_grep -F "ok - $name: close handshake, code 1000" "$OUT" \
		"$name: close handshake, the server answers 1000" &&
		expect_no_grep "^not ok" "$OUT" "$name: no failed check"
}

# --- ws:// and wss:// echo, every size ----------------------------------------

expect_exit 0 "which ws://" -- "${PS[@]}" which "ws://localhost:$WS/" &&
	expect_stdout "direct -> websocket" "which ws:// names direct -> websocket"
expect_exit 0 "which wss://" -- "${PS[@]}" which "wss://localhost:$WSS/" &&
	expect_stdout "direct -> tls -> websocket" "which wss:// names direct -> tls -> websocket"

expect_ws_check "ws direct" "ws://localhost:$WS/echo"
expect_ws_check "wss direct" --ca-file "$DEST_CA" "wss://localhost:$WSS/echo"
expect_grep "open path=/echo " "$TMP/wsplain.log" "ws_echo saw the request path /echo"

# --- the command line ---------------------------------------------------------

# stdin stays open a moment after the lines: a websocket close is not a
# half-close, and python-websockets drops echoes it still owes once our
# close arrived (RFC 6455 lets it), so EOF at once would race the echoes.
{ printf 'hello\nworld\n'; sleep 1; } |
	expect_exit 0 "connect ws://: two lines, exit 0 after the close handshake" -- \
		"${PS[@]}" connect --half-close "ws://localhost:$WS/" &&
	expect_stdout $'hello\nworld' "connect ws://: each message back on its own line"
{ printf 'hello\nworld\n'; sleep 1; } |
	expect_exit 0 "connect wss://: two lines" -- \
		"${PS[@]}" connect --half-close "wss://localhost:$WSS/" --ca-file "$DEST_CA" &&
	expect_stdout $'hello\nworld' "connect wss://: each message back on its own line"
# UTF-8 and an empty line (an empty text message) survive.
{ printf 'caf\xc3\xa9 \xe2\x82\xac\n\nlast\n'; sleep 1; } |
	expect_exit 0 "connect ws://: UTF-8 and an empty line" -- \
		"${PS[@]}" connect --half-close "ws://localhost:$WS/utf8" &&
	expect_stdout $'caf\xc3\xa9 \xe2\x82\xac\n\nlast' \
		"connect ws://: UTF-8 and the empty message come back"
expect_grep "closed path=/utf8 after 3 messages, code=1000" "$TMP/wsplain.log" \
	"connect: ws_echo got 3 messages and our close 1000"

# ws_conn_log PATH: ws_echo's log lines of the one connection to PATH, in
# $TMP/conn.log.
ws_conn_log() {
	local who
	who=$(grep -m1 -F " open path=$1 " "$TMP/wsplain.log" | cut -d' ' -f1)
	grep -F "${who:-none} " "$TMP/wsplain.log" >"$TMP/conn.log"
}

# A line without its newline yet is held while stdin is read on: its end
# makes it a message, and so does EOF.  (The CLI once stopped reading
# stdin while it held a partial line, and hung.)  A line that EOF ends
# goes out just before our close, so its echo races the close (above):
# ws_echo's log says what it got instead.
printf 'hello' |
	expect_exit 0 "connect ws://: stdin ends without a newline, exit 0" -- \
		"${PS[@]}" connect --half-close "ws://localhost:$WS/partial"
ws_conn_log /partial
expect_grep -F ": text 5 bytes" "$TMP/conn.log" \
	"connect ws://: the unterminated line went out as a message" &&
	expect_grep "closed path=/partial after 1 messages, code=1000" "$TMP/conn.log" \
		"connect ws://: one message, then our close"
{ printf 'one\ntwo\nthr'; sleep 0.3; printf 'ee'; sleep 1; } |
	expect_exit 0 "connect ws://: a line split across reads, the last unterminated" -- \
		"${PS[@]}" connect --half-close "ws://localhost:$WS/lines" &&
	expect_eq "$(head -n 2 "$OUT")" $'one\ntwo' \
		"connect ws://: the lines before it come back"
ws_conn_log /lines
expect_grep -F ": text 5 bytes" "$TMP/conn.log" \
	"connect ws://: the split, unterminated line went out whole" &&
	expect_grep "closed path=/lines after 3 messages, code=1000" "$TMP/conn.log" \
		"connect ws://: three messages, then our close"
# A line longer than the CLI's 64 KiB first buffer is still one message
# (up to ws_max_message, 16 MiB here), UTF-8 whole (3-byte characters:
# 64 KiB is no multiple of 3).  Half the line, a pause, the rest: stdin
# must be read on mid-line.
head -c 200000 /dev/zero | tr '\0' a >"$TMP/long.want"
printf '\xe2\x82\xac%.0s' $(seq 70000) >"$TMP/euro.want"
for f in long euro; do
	size=$(stat -c %s "$TMP/$f.want")
	{ head -c 100000 "$TMP/$f.want"; sleep 0.3; tail -c +100001 "$TMP/$f.want"
	  echo; sleep 1; } |
		expect_exit 0 "connect ws://: one $f line of $size bytes" -- \
			"${PS[@]}" connect --half-close "ws://localhost:$WS/$f" || continue
	echo >>"$TMP/$f.want"
	expect_same_file "$TMP/$f.want" "$OUT" \
		"connect ws://: the $f line comes back as one line"
	ws_conn_log "/$f"
	expect_grep -F ": text $size bytes" "$TMP/conn.log" \
		"connect ws://: the $f line went out as one message"
done
# One read fills the buffer with a line and the first byte of a 2-byte
# character: that byte has all the room once moved to the front, so it
# waits for the rest of its line (the CLI once cut it to nothing and sent
# empty messages forever).
{ head -c 65534 /dev/zero | tr '\0' a; printf '\n\xc3\xa9\n'; } >"$TMP/tail.want"
{ cat "$TMP/tail.want"; sleep 1; } |
	expect_exit 0 "connect ws://: a character cut at the end of the buffer" -- \
		"${PS[@]}" connect --half-close "ws://localhost:$WS/" &&
	expect_same_file "$TMP/tail.want" "$OUT" \
		"connect ws://: both lines come back after a cut character"

# A line that is not UTF-8 cannot be a text message: ps_ws_send refuses
# it as the caller's error (usage), which the CLI maps to exit 2.
{ printf 'ok\n\xff\xfe\n'; sleep 1; } |
	expect_exit 2 "connect ws://: a stdin line that is not UTF-8 exits 2 (usage)" -- \
		"${PS[@]}" connect --half-close "ws://localhost:$WS/"
expect_grep "^proxystack: error: usage: .*UTF-8" "$ERR" \
	"connect ws://: stderr says the line is not UTF-8"

expect_exit 0 "check wss:// exits 0" -- \
	"${PS[@]}" check "wss://localhost:$WSS/" --ca-file "$DEST_CA" &&
	expect_grep '^ *\[2\] websocket +101 Switching Protocols +[0-9]+\.[0-9] ms$' "$OUT" \
		"check wss:// prints the websocket step (hop 2) with its timing" &&
	expect_grep '^ *\[1\] tls +.*[0-9]+\.[0-9] ms$' "$OUT" \
		"check wss:// prints the tls step with its timing" &&
	expect_grep "^ok: direct -> tls -> websocket in [0-9]+\.[0-9] ms$" "$OUT" \
		"check wss:// ends with the chain and the total time"
expect_exit 0 "check ws:// exits 0" -- "${PS[@]}" check "ws://localhost:$WS/" &&
	expect_grep '^ *\[1\] websocket +101 Switching Protocols +[0-9]+\.[0-9] ms$' "$OUT" \
		"check ws:// prints the websocket step (hop 1)"

# Destination trust applies to wss:// as to tls://.
expect_exit 5 "wss:// with the wrong CA: check exits 5" -- \
	"${PS[@]}" check "wss://localhost:$WSS/" --ca-file "$CERTS/other.pem"
expect_grep "tls-verify" "$ERR" "wss:// with the wrong CA: stderr says tls-verify"
# wss:// to a plain ws server: the TLS handshake fails, not the upgrade.
expect_exit 1 "wss:// to a plain ws port: check exits 1 (tls)" -- \
	"${PS[@]}" check "wss://localhost:$WS/" --ca-file "$DEST_CA"
expect_grep "FAILED at hop 1 \(tls\): tls:" "$ERR" "wss:// to a plain port: the tls layer fails"
DEAD=$(dead_port)
expect_exit 6 "ws:// to a dead port: check exits 6" -- "${PS[@]}" check "ws://localhost:$DEAD/"

# --- subprotocols ---------------------------------------------------------------

expect_exit 0 "AMQPWSB10 offered: ws_check exits 0" -- \
	"${CHECK[@]}" --label amqp --subprotocol AMQPWSB10 --sizes 0,1,126,65536 \
	"ws://localhost:$AMQP/" &&
	expect_grep -F "ok - amqp: the server chose our subprotocol" "$OUT" \
		"AMQPWSB10 offered and chosen (ps_ws_subprotocol)" &&
	expect_no_grep "^not ok" "$OUT" "AMQPWSB10: every echo and the close ok"
expect_grep "offered=AMQPWSB10 chosen=AMQPWSB10" "$TMP/wsamqp.log" \
	"ws_echo saw AMQPWSB10 offered and chose it"

expect_exit 1 "a subprotocol the server does not speak: ws_check exits 1" -- \
	"${CHECK[@]}" --label mqtt --subprotocol mqtt "ws://localhost:$AMQP/" &&
	expect_grep -F "not ok - mqtt: connected" "$OUT" \
		"a subprotocol the server does not speak: no connection" &&
	expect_grep "^# websocket-handshake: .*accepted none of our subprotocols" "$OUT" \
		"a subprotocol the server does not speak: websocket-handshake, named"

# The command line offers no subprotocol: a server that picks one anyway
# fails the handshake, and the CLI maps websocket-handshake to exit 1.
expect_exit 1 "server picks a subprotocol we did not offer: check exits 1" -- \
	"${PS[@]}" check "ws://localhost:$BAD/subprotocol"
expect_grep "websocket-handshake: .*subprotocol we did not offer" "$ERR" \
	"server picks an unoffered subprotocol: stderr names websocket-handshake and why"
: | expect_exit 1 "server picks an unoffered subprotocol: connect exits 1" -- \
	"${PS[@]}" connect --half-close "ws://localhost:$BAD/subprotocol"
expect_grep "^proxystack: error: websocket-handshake: " "$ERR" \
	"connect: stderr names websocket-handshake"
# No offer, server that speaks one: fine, no subprotocol.
expect_exit 0 "no offer to a server with a subprotocol: check exits 0" -- \
	"${PS[@]}" check "ws://localhost:$AMQP/"
