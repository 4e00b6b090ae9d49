#!/bin/bash
# t_direct_tcp.sh - plain TCP through the direct module, no proxy.
#
# `proxystack connect tcp://...` against a local echo server: the bytes
# must come back byte-exact at any size (the CLI must read while it writes,
# or 64 MiB deadlocks), the channel must half-close at stdin EOF (or the
# echo server never closes and connect hangs), and a refused port must exit
# 6 naming the address.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

CONF=$TMP/conf
make_conf "$CONF"

hosts=(--host 127.0.0.1)
if have_ipv6; then
	hosts+=(--host ::1)
fi
start_echo echo --plain "${hosts[@]}"
PORT=$ECHO_PORT

# connect_roundtrip NAME URL FILE: FILE through `connect URL` comes back
# byte-exact.
connect_roundtrip() {
	local name=$1 url=$2 file=$3
	expect_exit 0 "$name: connect exits 0" -- \
		"$PROXYSTACK" -c "$CONF" connect --half-close "$url" <"$file" &&
		expect_same_file "$file" "$OUT" "$name: bytes come back exact"
}

printf 'hello' >"$TMP/hello"
expect_exit 0 "hello: connect exits 0" -- \
	"$PROXYSTACK" -c "$CONF" connect --half-close "tcp://127.0.0.1:$PORT" <"$TMP/hello" &&
	expect_stdout hello "hello: prints hello"

head -c 1 /dev/urandom >"$TMP/1b"
connect_roundtrip "1 byte" "tcp://127.0.0.1:$PORT" "$TMP/1b"

head -c $((1024 * 1024)) /dev/urandom >"$TMP/1m"
connect_roundtrip "1 MiB" "tcp://127.0.0.1:$PORT" "$TMP/1m"

head -c $((64 * 1024 * 1024)) /dev/urandom >"$TMP/64m"
connect_roundtrip "64 MiB" "tcp://127.0.0.1:$PORT" "$TMP/64m"
rm -f "$TMP/64m" "$OUT"

# An empty stdin: half-close at once, the server closes, connect ends.
expect_exit 0 "empty stdin: connect exits 0" -- \
	"$PROXYSTACK" -c "$CONF" connect --half-close "tcp://127.0.0.1:$PORT" </dev/null &&
	expect_stdout "" "empty stdin: prints nothing"

if have_ipv6; then
	printf 'hello6' >"$TMP/hello6"
	expect_exit 0 "ipv6: connect tcp://[::1] exits 0" -- \
		"$PROXYSTACK" -c "$CONF" connect --half-close "tcp://[::1]:$PORT" \
		<"$TMP/hello6" &&
		expect_stdout hello6 "ipv6: prints hello6"
	expect_grep -F "::1" "$TMP/echo.log" "ipv6: the server saw a ::1 client"
else
	skip "ipv6: connect tcp://[::1]" "no IPv6 loopback on this machine"
fi

# Nothing listens on a port we were handed and never used.
DEAD=$(free_port)
expect_exit 6 "refused: connect exits 6" -- \
	"$PROXYSTACK" -c "$CONF" connect --half-close "tcp://127.0.0.1:$DEAD" </dev/null
expect_grep -F "127.0.0.1" "$ERR" "refused: stderr names the address"
expect_grep -F "$DEAD" "$ERR" "refused: stderr names the port"
expect_grep -i "refused" "$ERR" "refused: stderr says refused"

expect_exit 6 "refused: check exits 6" -- \
	"$PROXYSTACK" -c "$CONF" check "tcp://127.0.0.1:$DEAD"
expect_grep -F "$DEAD" "$ERR" "refused: check names the port"
