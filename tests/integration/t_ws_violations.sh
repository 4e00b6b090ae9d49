#!/bin/bash
# t_ws_violations.sh - a scripted misbehaving server (bad_ws.py) against
# the websocket client, one scenario per case.
#
# Handshake: a wrong Sec-WebSocket-Accept, 200 or 426 instead of 101, a
# subprotocol or an extension nobody offered, no Upgrade header, no answer
# at all.  Frames: a masked frame, reserved bits, unknown opcodes 3 and
# 0xB, a fragmented or oversized (126 bytes) ping, invalid UTF-8 (whole
# and fragmented text, close reason), invalid close codes (1005 on the
# wire, 999, 1004, 2000, a 1-byte close), a 2^63 length, non-minimal
# lengths, a continuation without start, a new message inside a
# fragmented one, messages over ws_max_message (1000 here).  Each must
# fail the channel with PS_ERR_WEBSOCKET (websocket-handshake for the
# upgrade), exit 1 from the command line, a message naming the violation,
# and -- after the upgrade -- our close frame with 1002, 1007 or 1009 in
# the server's log, sent exactly once.
#
# Then what the client must accept (UTF-8 split across fragments, a ping
# between fragments, exactly ws_max_message bytes, close without a code,
# close 4000, which exits 1), bytes of the first frame in the same segment as the 101,
# a server that never answers our close (given up after 5 s), one that
# never pongs (pong timeout), and one that pings us and serves us only
# once our pong came back (within 2 s).
#
# connect_timeout = 3: every case ends well within the chain timeout.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

[ -x "$WS_CHECK" ] || bail_out "ws_check" "$WS_CHECK missing: make tests/ws_check"
# No case may take long: the slowest waits 5 s for a close answer.
CMD_TIMEOUT=12

start_bad_ws badws
BAD=$BAD_WS_PORT
EV=$BAD_WS_LOG

make_conf "$TMP/conf" "connect_timeout = 3" "ws_max_message = 1000"
PS=("$PROXYSTACK" -c "$TMP/conf")
CHECK=("$WS_CHECK" -c "$TMP/conf")
# The same, with keepalive every second and a 2 s pong timeout.
make_conf "$TMP/conf-ka" "connect_timeout = 3" "ws_ping_interval = 1" \
	"ws_pong_timeout = 2"

# stdin that stays open and silent: the CLI must end because of what the
# server did, not because its input ended (which would send our close 1000
# first).  Our shell holds the write side of the FIFO.
mkfifo "$TMP/stdin.fifo"
exec 7<>"$TMP/stdin.fifo"

url() {
	echo "ws://localhost:$BAD/$1"
}

# expect_event ERE TEST: a line of bad_ws.py's event log matches, within
# 3 s (it logs our close when it reads it).
expect_event() {
	local i
	for ((i = 0; i < 30; i++)); do
		grep -qE -e "$1" "$EV" && break
		sleep 0.1
	done
	expect_grep "$1" "$EV" "$2"
}

# count_events ERE: lines of the event log that match.
count_events() {
	grep -cE -e "$1" "$EV"
}

# elapsed_since START: whole tenths of seconds since START ($EPOCHREALTIME).
elapsed_since() {
	local now=$EPOCHREALTIME
	echo $(((${now/./} - ${1/./}) / 100000))
}

# expect_elapsed START MIN MAX TEST: between MIN and MAX tenths of seconds.
expect_elapsed() {
	local t
	t=$(elapsed_since "$1")
	if [ "$t" -ge "$2" ] && [ "$t" -le "$3" ]; then
		ok "$4"
	else
		fail "$4" "took $((t / 10)).$((t % 10)) s, want $(($2 / 10)).$(($2 % 10))..$(($3 / 10)).$(($3 % 10)) s"
	fi
}

# --- handshake -----------------------------------------------------------------

# handshake NAME WHAT-ERE: `check` exits 1, stderr gives the
# websocket-handshake failure at the websocket hop, naming WHAT.
handshake() {
	local name=$1 what=$2
	expect_exit 1 "$name: check exits 1" -- "${PS[@]}" check "$(url "$name")" &&
		expect_grep "^FAILED at hop 1 \(websocket\): websocket-handshake: upgrade to websocket refused: $what" \
			"$ERR" "$name: stderr names websocket-handshake: $what"
}

handshake wrong-accept "wrong Sec-WebSocket-Accept \(HTTP/1.1 101"
handshake status-200 "status is not 101 \(HTTP/1.1 200 OK\)"
expect_grep "\(HTTP/1.1 200 OK\): this is not a websocket endpoint$" "$ERR" \
	"status-200: the message quotes the first line of the body"
handshake status-426 "status is not 101 \(HTTP/1.1 426 Upgrade Required\)"
expect_grep ": websocket upgrades are not allowed here$" "$ERR" \
	"status-426: the message quotes the first line of the body"
expect_grep "^hint: .*http_upgrade_request_protocols" "$ERR" \
	"status-426: the hint names squid's http_upgrade_request_protocols"
handshake subprotocol "the server chose a subprotocol we did not offer"
handshake extension "the server chose an extension we did not offer"
handshake no-upgrade "no Upgrade: websocket"
: | expect_exit 1 "wrong-accept: connect exits 1 too" -- \
	"${PS[@]}" connect --half-close "$(url wrong-accept)" &&
	expect_grep "^proxystack: error: websocket-handshake: .*wrong Sec-WebSocket-Accept" "$ERR" \
		"wrong-accept: connect's stderr names websocket-handshake"
expect_no_grep "^(wrong-accept|subprotocol|extension|no-upgrade): client (text|binary|close)" "$EV" \
	"a failed upgrade sends no frame"

start=$EPOCHREALTIME
expect_exit 6 "no-answer: check exits 6 (timeout) at connect_timeout" -- \
	"${PS[@]}" check "$(url no-answer)" &&
	expect_grep "^FAILED.*: timeout: " "$ERR" "no-answer: stderr says timeout"
expect_elapsed "$start" 25 45 "no-answer: given up after connect_timeout = 3 s"

# --- frames that break the protocol -----------------------------------------------

# violation NAME CODE WHAT-ERE: connect (stdin open, silent) exits 1 with
# "websocket: closed with CODE: WHAT", prints nothing, and bad_ws.py
# reads our close CODE, once.
violation() {
	local name=$1 code=$2 what=$3 start=$EPOCHREALTIME
	expect_exit 1 "$name: connect exits 1" -- \
		"${PS[@]}" connect --half-close "$(url "$name")" <"$TMP/stdin.fifo" || return 1
	expect_grep "^proxystack: error: websocket: closed with $code: $what" "$ERR" \
		"$name: stderr: closed with $code: $what"
	expect_stdout "" "$name: the bad frame's payload never reaches stdout"
	expect_elapsed "$start" 0 30 "$name: failed at once"
	expect_event "^$name: client close $code " "$name: the server got our close $code"
	expect_eq "$(count_events "^$name: client close ")" 1 "$name: exactly one close frame from us"
}

violation masked 1002 "a masked frame from the server"
violation rsv1 1002 "reserved bits set without an extension"
violation rsv3 1002 "reserved bits set without an extension"
violation opcode-3 1002 "an unknown opcode"
violation opcode-b 1002 "an unknown opcode"
violation ping-fragmented 1002 "a fragmented control frame"
violation ping-126 1002 "a control frame over 125 bytes"
violation bad-utf8 1007 "a text message that is not UTF-8"
violation bad-utf8-frag 1007 "a text message that is not UTF-8"
violation close-1005 1002 "invalid close code"
violation close-999 1002 "invalid close code"
violation close-1004 1002 "invalid close code"
violation close-2000 1002 "invalid close code"
violation close-1byte 1002 "a close frame of 1 byte"
violation close-bad-utf8 1007 "close reason is not UTF-8"
violation len-2-63 1002 "a frame length that is not minimal or over 2\^63"
violation len-16-nonminimal 1002 "a frame length that is not minimal"
violation len-64-nonminimal 1002 "a frame length that is not minimal"
violation continuation-first 1002 "a continuation frame outside a message"
violation text-in-fragment 1002 "a new message inside a fragmented one"
violation too-big 1009 "a frame over the message limit"
violation too-big-1100 1009 "a message over the limit \(ws_max_message 1000\)"
violation too-big-frag 1009 "a message over the limit \(ws_max_message 1000\)"

# A good message, then a violation, in one segment: the good one must
# still reach stdout before the error (nothing received is dropped).
expect_exit 1 "text-then-masked: connect exits 1" -- \
	"${PS[@]}" connect --half-close "$(url text-then-masked)" <"$TMP/stdin.fifo" &&
	expect_grep "^proxystack: error: websocket: closed with 1002: a masked frame" "$ERR" \
		"text-then-masked: stderr names the masked frame"
expect_stdout "before" "text-then-masked: the message before the violation is printed"

# The same through the API (ws_check, blocking): the error code is named.
expect_exit 1 "masked via the API: ws_check exits 1" -- \
	"${CHECK[@]}" --label api --sizes 5 "$(url masked)" &&
	expect_grep "^# websocket: closed with 1002: a masked frame from the server" "$OUT" \
		"masked via the API: PS_ERR_WEBSOCKET with the message"
expect_exit 1 "too-big via the API: ws_check exits 1" -- \
	"${CHECK[@]}" --label api --sizes 5 "$(url too-big)" &&
	expect_grep "^# websocket: closed with 1009: " "$OUT" \
		"too-big via the API: PS_ERR_WEBSOCKET, closed with 1009"

# A violation while our own close is out: we must not send a second close.
printf 'x\n' | expect_exit 1 "violation-after-close: connect exits 1" -- \
	"${PS[@]}" connect --half-close "$(url violation-after-close)" &&
	expect_grep "^proxystack: error: websocket: closed with 1002: a masked frame" "$ERR" \
		"violation-after-close: stderr names the masked frame"
expect_event "^violation-after-close: client close 1000 " \
	"violation-after-close: our close 1000 went first"
sleep 0.5
expect_no_grep "^violation-after-close: FAIL" "$EV" \
	"violation-after-close: no frame (no second close) after our close"

# The connection ends without a close frame.
expect_exit 1 "drop: connect exits 1" -- \
	"${PS[@]}" connect --half-close "$(url drop)" <"$TMP/stdin.fifo" &&
	expect_grep "^proxystack: error: websocket: .*closed without a close frame \(1006\)" "$ERR" \
		"drop: stderr says closed without a close frame (1006)"

# --- unusual but valid: the client must accept -----------------------------------

# accept NAME STDOUT [CLOSE]: connect (stdin open) exits 0 when the server
# closes, printed STDOUT, and answered the server's close with CLOSE.
accept() {
	local name=$1 want=$2 code=${3:-1000}
	expect_exit 0 "$name: connect exits 0" -- \
		"${PS[@]}" connect --half-close "$(url "$name")" <"$TMP/stdin.fifo" &&
		expect_stdout "$want" "$name: stdout is right"
	expect_event "^$name: client close $code " "$name: we answered the close with $code"
}

accept utf8-split "café"
accept ping-in-fragment "fragmented"
expect_event "^ping-in-fragment: client pong 3$" "ping-in-fragment: we ponged the ping between fragments"
accept max-ok "$(printf 'm%.0s' $(seq 1000))"
accept close-empty "" 1000
# A valid close 4000 is still answered in kind, but it is not a clean end:
# exit 1 (t_ws_close_status.sh has the message).
expect_exit 1 "close-4000: connect exits 1" -- \
	"${PS[@]}" connect --half-close "$(url close-4000)" <"$TMP/stdin.fifo"
expect_event "^close-4000: client close 4000 " "close-4000: we answered the close with 4000"

# The first frame came in the same TCP segment as the 101.
printf 'x\n' | expect_exit 0 "early-frame: connect exits 0" -- \
	"${PS[@]}" connect --half-close "$(url early-frame)" &&
	expect_stdout $'first-frame\nx' \
		"early-frame: the frame that came with the 101 is delivered, then the echo"

# stdin EOF at once: our close goes out behind the lines, and what the
# peer still sends before its close answer is printed.
printf 'a\nb\n' | expect_exit 0 "echo, EOF at once: connect exits 0" -- \
	"${PS[@]}" connect --half-close "$(url echo)" &&
	expect_stdout $'a\nb' "echo, EOF at once: both echoes printed before the close"

# --- over time ---------------------------------------------------------------------

# Our close goes unanswered: give up after 5 s with a clear error.
start=$EPOCHREALTIME
printf 'hi\n' | expect_exit 1 "no-close-answer: connect exits 1" -- \
	"${PS[@]}" connect --half-close "$(url no-close-answer)" &&
	expect_stdout "hi" "no-close-answer: the echo still printed" &&
	expect_grep "^proxystack: error: websocket: the server did not answer our close within 5 s" \
		"$ERR" "no-close-answer: stderr says the close went unanswered"
expect_elapsed "$start" 48 75 "no-close-answer: gave up after 5 s"

# No pong: ping every 1 s, pong timeout 2 s -> dead within ~3 s, not 10.
start=$EPOCHREALTIME
expect_exit 1 "silent: ws_check --ping 1 --pong-timeout 2 --idle 10 fails" -- \
	"${CHECK[@]}" --label silent --ping 1 --pong-timeout 2 --idle 10 "$(url silent)" &&
	expect_grep -F "not ok - silent: still up after idle seconds 10" "$OUT" \
		"silent: ws_check reports the channel down" &&
	expect_grep "^# websocket: no pong within 2 s of our ping" "$OUT" \
		"silent: the error says no pong within 2 s"
expect_elapsed "$start" 25 50 "silent: failed within 5 s"
expect_event "^silent: client ping 2$" "silent: the server saw our keepalive ping"
# The command line runs the same clock from its own poll loop (config).
start=$EPOCHREALTIME
expect_exit 1 "silent, CLI with ws_ping_interval 1, ws_pong_timeout 2: exits 1" -- \
	"$PROXYSTACK" -c "$TMP/conf-ka" connect --half-close "$(url silent)" <"$TMP/stdin.fifo" &&
	expect_grep "^proxystack: error: websocket: no pong within 2 s" "$ERR" \
		"silent, CLI: stderr says no pong within 2 s"
expect_elapsed "$start" 25 50 "silent, CLI: failed within 5 s"

# The server pings and serves us only after our pong (within 2 s).
ping_check() {
	local name=$1 mode=$2
	: >"$EV"
	case $mode in
	blocking)
		expect_exit 0 "$name, blocking API: ws_check echoes after our pong" -- \
			"${CHECK[@]}" --label "$name" --sizes 5 "$(url "$name")"
		;;
	nonblocking)
		expect_exit 0 "$name, non-blocking API (3 s idle): ws_check ok" -- \
			"${CHECK[@]}" --label "$name" --idle 3 "$(url "$name")"
		;;
	cli)
		# Nothing to send: the server closes once it has its pong
		# (1000), or at its 2 s deadline (1008); exit 0 either way.
		expect_exit 0 "$name, CLI: exits 0 when the server closes" -- \
			"${PS[@]}" connect --half-close "$(url "$name")?then=close" <"$TMP/stdin.fifo"
		;;
	esac
	expect_event "^$name: PASS pong" "$name, $mode: our pong came back within 2 s"
	expect_no_grep "^$name: FAIL" "$EV" "$name, $mode: the server found no fault"
}
ping_check ping-check blocking
ping_check ping-check-late blocking
ping_check ping-check-late nonblocking
ping_check ping-check-late cli

exec 7>&-
