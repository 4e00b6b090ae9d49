#!/bin/bash
# t_stubs.sh - socks, and pac as a hop (a PAC URL as proxy_url): they
# load and check their keys (file:line
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

C=$(conf_with socks-default "[default]" "proxy_url = socks5://127.0.0.1:$PROXY")
refused "socks5 in [default]" "$C"
expect_exit 0 "socks5 in [default]: which exits 0" -- \
	"$PROXYSTACK" -c "$C" which "tcp://127.0.0.1:$DEST"
expect_stdout "direct -> socks(socks5://127.0.0.1:$PROXY)" \
	"socks5 in [default]: which shows the socks hop"

C=$(conf_with env)
refused "socks5h in PROXYSTACK_PROXY_URL" "$C" \
	"PROXYSTACK_PROXY_URL=socks5h://127.0.0.1:$PROXY"
refused "socks4 in ALL_PROXY" "$C" "ALL_PROXY=socks4://127.0.0.1:$PROXY"
refused "socks5 in HTTPS_PROXY" "$C" "HTTPS_PROXY=socks5://127.0.0.1:$PROXY"

C=$(conf_with socks-section "[transport s]" "module = socks" \
	"url = socks5://127.0.0.1:$PROXY" "username = alice" \
	"password = S0cks-S3cret" "[route all]" "match = *" "stack = s")
chmod 0600 "$C/10-stub.conf"
refused "socks [transport] with credentials" "$C"
expect_no_grep "S0cks-S3cret" "$ERR" "socks: the password is not shown"

C=$(conf_with socks-badkey "[transport s]" "module = socks" \
	"url = socks5://127.0.0.1:$PROXY" "colour = red")
expect_exit 2 "socks unknown key: exit 2" -- \
	"$PROXYSTACK" -c "$C" which "tcp://127.0.0.1:$DEST"
expect_grep "10-stub.conf:4: unknown key 'colour'" "$ERR" \
	"socks unknown key: named with file:line"

C=$(conf_with socks-badscheme "[transport s]" "module = socks" \
	"url = http://127.0.0.1:$PROXY")
expect_exit 2 "socks with an http URL: exit 2" -- \
	"$PROXYSTACK" -c "$C" which "tcp://127.0.0.1:$DEST"
expect_grep "10-stub.conf:3" "$ERR" "socks with an http URL: file:line"

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
