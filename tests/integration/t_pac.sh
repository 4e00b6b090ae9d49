#!/bin/bash
# t_pac.sh - [select NAME] with module = pac, end to end.
#
# A PAC script served by python's http.server on loopback sends
# localhost through squid and 127.0.0.1 directly; a destination port of
# its own makes each failover case: the first proxy dead and squid
# second (failover), only dead proxies (fail closed: nothing leaves
# directly, though the destination listens), a dead proxy then DIRECT.
# `which` shows the answer and the chosen chain; the file = form gives
# the same answers; a broken answer is a configuration error; and one
# context keeps its last good script while the server is gone, and
# picks up a changed script once the server is back.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/pac_lib.sh
. "$(dirname "$0")/pac_lib.sh"
need_duktape
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

start_echo dest --plain
DEST=$ECHO_PORT
start_echo failover --plain
FAILOVER=$ECHO_PORT
start_echo closed --plain
CLOSED=$ECHO_PORT
CLOSED_LOG=$TMP/closed.log
start_echo withdirect --plain
WITHDIRECT=$ECHO_PORT
DEAD=$(dead_port)
DEAD2=$(dead_port)
start_squid squid
SQ=$SQUID_PORT

# pac_script RETURN_FOR_OTHERS: the script, written to stdout.
pac_script() {
	cat <<EOF
function FindProxyForURL(url, host) {
  if (host == "127.0.0.1") return "DIRECT";
  if (shExpMatch(url, "*:$FAILOVER/*"))
    return "PROXY 127.0.0.1:$DEAD; PROXY 127.0.0.1:$SQ";
  if (shExpMatch(url, "*:$CLOSED/*"))
    return "PROXY 127.0.0.1:$DEAD; PROXY 127.0.0.1:$DEAD2";
  if (shExpMatch(url, "*:$WITHDIRECT/*"))
    return "PROXY 127.0.0.1:$DEAD; DIRECT";
  if (host == "bad.answer") return "PROXY a b c";
  if (dnsDomainIs(host, "localhost") && isResolvable(host)) return "$1";
  return "DIRECT";
}
EOF
}

WWW=$TMP/www
mkdir -p "$WWW"
chmod 0755 "$WWW"
pac_script "PROXY 127.0.0.1:$SQ" >"$WWW/proxy.pac"
HTTP=$(free_port)
start_bg http "$PYTHON" -m http.server "$HTTP" --bind 127.0.0.1 \
	--directory "$WWW"
HTTP_PID=$BG_PID
wait_port "$HTTP"

# pac_conf DIR KEY=VALUE...: a [select auto] for every destination.
pac_conf() {
	local dir=$1
	shift
	make_conf "$dir"
	{
		echo "[select auto]"
		echo "module = pac"
		printf '%s\n' "$@"
		printf '[route all]\nmatch = *\nselect = auto\n'
	} | write_conf "$dir" 50-pac.conf
}
CONF=$TMP/conf
pac_conf "$CONF" "url = http://127.0.0.1:$HTTP/proxy.pac"
PS=("$PROXYSTACK" -c "$CONF")
printf 'hello through the PAC choice\n' >"$TMP/msg"

# which: the first alternative's chain, then the answer and the order.
expect_exit 0 "which localhost: exits 0" -- \
	"${PS[@]}" which "tcp://localhost:$DEST"
expect_line "$OUT" "which localhost: the chain through squid, first line" \
	"direct -> http-connect(http://127.0.0.1:$SQ)"
expect_grep -F "# select auto (pac) answered: PROXY 127.0.0.1:$SQ" "$OUT" \
	"which localhost: shows the PAC answer"
expect_exit 0 "which 127.0.0.1: exits 0" -- \
	"${PS[@]}" which "tcp://127.0.0.1:$DEST"
expect_stdout "direct
# select auto (pac) answered: DIRECT
#   1. direct" "which 127.0.0.1: DIRECT, the whole output"
expect_exit 0 "which failover: exits 0" -- \
	"${PS[@]}" which "tcp://localhost:$FAILOVER"
expect_grep -F "#   2. direct -> http-connect(http://127.0.0.1:$SQ)" \
	"$OUT" "which failover: squid is the second alternative"

# The PAC's choices, through squid or not.
squid_log_mark squid
expect_roundtrip "localhost via squid" "$TMP/msg" -- \
	"${PS[@]}" connect -q 1 "tcp://localhost:$DEST"
expect_squid_log squid "CONNECT localhost:$DEST" \
	"localhost: squid carried the tunnel"
expect_roundtrip "127.0.0.1 direct" "$TMP/msg" -- \
	"${PS[@]}" connect -q 1 "tcp://127.0.0.1:$DEST"
expect_no_squid_log squid "CONNECT 127.0.0.1:$DEST" \
	"127.0.0.1: squid saw nothing (DIRECT)"

# The first proxy is dead: the second one carries it.
expect_roundtrip "failover to squid" "$TMP/msg" -- \
	"${PS[@]}" -v connect -q 1 "tcp://localhost:$FAILOVER"
expect_grep -F "failed (connect:" "$ERR" \
	"failover: the dead proxy's failure is logged"
expect_squid_log squid "CONNECT localhost:$FAILOVER" \
	"failover: squid carried the tunnel"

# Only dead proxies: fail closed, though the destination listens.
CLOSED_BEFORE=$(grep -c ": connected" "$CLOSED_LOG")
expect_exit 6 "only dead proxies: exit 6" -- \
	"${PS[@]}" connect -q 1 "tcp://localhost:$CLOSED" </dev/null
expect_grep -F "127.0.0.1:$DEAD2" "$ERR" \
	"only dead proxies: the error names the last proxy tried"
expect_eq "$(grep -c ": connected" "$CLOSED_LOG")" "$CLOSED_BEFORE" \
	"only dead proxies: nothing left directly"

# A dead proxy, then DIRECT: the answer itself allows direct.
expect_roundtrip "dead proxy then DIRECT" "$TMP/msg" -- \
	"${PS[@]}" connect -q 1 "tcp://localhost:$WITHDIRECT"

# A malformed answer: a configuration error naming the entry.
expect_exit 2 "malformed answer: exit 2" -- \
	"${PS[@]}" connect -q 1 "tcp://bad.answer:$DEST" </dev/null
expect_grep -F "entry 1 of the answer" "$ERR" \
	"malformed answer: says which entry"

# file = PATH: the same answers.
FCONF=$TMP/fconf
pac_conf "$FCONF" "file = $WWW/proxy.pac"
expect_exit 0 "file form: which exits 0" -- \
	"$PROXYSTACK" -c "$FCONF" which "tcp://localhost:$DEST"
expect_line "$OUT" "file form: the same chain" \
	"direct -> http-connect(http://127.0.0.1:$SQ)"
expect_roundtrip "file form: localhost via squid" "$TMP/msg" -- \
	"$PROXYSTACK" -c "$FCONF" connect -q 1 "tcp://localhost:$DEST"

# No script at all: the error says so, nothing leaves.
NCONF=$TMP/nconf
pac_conf "$NCONF" "url = http://127.0.0.1:$DEAD/proxy.pac"
expect_exit 6 "no script: exit 6" -- \
	"$PROXYSTACK" -c "$NCONF" connect -q 1 "tcp://127.0.0.1:$DEST" </dev/null
expect_grep -F "no PAC script: http://127.0.0.1:$DEAD/proxy.pac" "$ERR" \
	"no script: the error names the URL"

# One context across refreshes (refresh = 1 s): the last good script
# stays while the server is gone; a changed script is picked up after.
RCONF=$TMP/rconf
pac_conf "$RCONF" "url = http://127.0.0.1:$HTTP/proxy.pac" "refresh = 1"
mkfifo "$TMP/which.in"
# Read-write: opening a FIFO so never waits for the other end.
exec 7<>"$TMP/which.in"
# start_bg gives its command /dev/null: the FIFO comes in by exec.
start_bg pac_which bash -c 'exec "$@" <"$0"' "$TMP/which.in" \
	"$PS_BUILD/tests/pac_which" "$RCONF" "tcp://localhost:$DEST"
WHICH_LOG=$TMP/pac_which.log
# ask N: one more answer; waits until the N-th "--" is in the log.
ask() {
	local n=$1 i
	echo "${2:-which}" >&7
	for i in $(seq 100); do
		[ "$(grep -c '^--$' "$WHICH_LOG")" -ge "$n" ] && return 0
		sleep 0.1
	done
	return 1
}
ask 1
expect_grep -F "answered: PROXY 127.0.0.1:$SQ" "$WHICH_LOG" \
	"refresh: the first answer"
stop_pid "$HTTP_PID"
sleep 1.2
ask 2
expect_eq "$(grep -c "answered: PROXY 127.0.0.1:$SQ" "$WHICH_LOG")" 2 \
	"refresh: server gone, the last good script answers"
expect_grep -F "keeping the last good script" "$WHICH_LOG" \
	"refresh: the failed fetch is logged"
pac_script "DIRECT" >"$WWW/proxy.pac"
start_bg http2 "$PYTHON" -m http.server "$HTTP" --bind 127.0.0.1 \
	--directory "$WWW"
wait_port "$HTTP"
sleep 1.2
ask 3
expect_eq "$(awk 'n == 2; /^--$/ { n++ }' "$WHICH_LOG" |
	grep -c 'answered: DIRECT')" 1 \
	"refresh: the changed script answers once the server is back"
exec 7>&-
