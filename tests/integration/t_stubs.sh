#!/bin/bash
# t_stubs.sh - pac as a hop (a PAC URL as proxy_url): it loads and checks
# its keys (file:line
# errors), every use fails with the unsupported code (exit 7) and a
# message saying what to configure instead, from every source of a proxy
# URL, and nothing leaves directly because of them: neither the
# destination nor the named proxy sees a connection.
. "$(dirname "$0")/lib.sh"

# A plain TCP listener standing for the destination, one for the proxy:
# their logs must stay free of connections.
start_echo dest --plain
DEST=$ECHO_PORT
DEST_LOG=$TMP/dest.log
start_echo fakeproxy --plain
PROXY=$ECHO_PORT
PROXY_LOG=$TMP/fakeproxy.log
# wait_port's readiness probe is each listener's only connection so far.
sleep 0.2
DEST_BEFORE=$(grep -c ": connected" "$DEST_LOG")
PROXY_BEFORE=$(grep -c ": connected" "$PROXY_LOG")

# refused LABEL CONF [ENV...]: connect through CONF fails with exit 7.
refused() {
	local label=$1 conf=$2
	shift 2
	expect_exit 7 "$label: connect exits 7 (unsupported)" -- \
		env "$@" "$PROXYSTACK" -c "$conf" connect --half-close "tcp://127.0.0.1:$DEST" \
		</dev/null
	expect_grep "not supported" "$ERR" "$label: says not supported"
	expect_grep "http://|https://|proxy_url" "$ERR" \
		"$label: says what to configure instead"
}

conf_with() {
	local dir=$TMP/conf-$1
	shift
	make_conf "$dir"
	printf '%s\n' "$@" | write_conf "$dir" 10-stub.conf
	echo "$dir"
}

C=$(conf_with pac-url "[default]" "proxy_url = pac+http://127.0.0.1:$PROXY/proxy.pac")
refused "pac+http proxy URL" "$C"
expect_exit 0 "pac proxy URL: which exits 0" -- \
	"$PROXYSTACK" -c "$C" which "tcp://127.0.0.1:$DEST"
expect_grep "^direct -> pac\(" "$OUT" "pac proxy URL: which shows the pac hop"

C=$(conf_with pac-path "[default]" "proxy_url = http://127.0.0.1:$PROXY/wpad.pac")
refused "a .pac URL" "$C"

# [select] with module = pac is real: t_pac.sh.

C=$(conf_with pac-both "[select auto]" "module = pac" \
	"url = http://127.0.0.1:$PROXY/proxy.pac" "file = /etc/proxy.pac")
expect_exit 2 "pac with url and file: exit 2" -- \
	"$PROXYSTACK" -c "$C" which "tcp://127.0.0.1:$DEST"
expect_grep "10-stub.conf" "$ERR" "pac with url and file: names the file"

C=$(conf_with pac-none "[select auto]" "module = pac")
expect_exit 2 "pac with neither url nor file: exit 2" -- \
	"$PROXYSTACK" -c "$C" which "tcp://127.0.0.1:$DEST"

# Nothing went anywhere: the echo servers log each connection they take.
expect_eq "$(grep -c ": connected" "$DEST_LOG")" "$DEST_BEFORE" \
	"the destination saw no connection (nothing left directly)"
expect_eq "$(grep -c ": connected" "$PROXY_LOG")" "$PROXY_BEFORE" \
	"the named proxy saw no connection either"
