#!/bin/bash
# t_socks_chain.sh - socks as any hop of a stack: behind a squid CONNECT
# (direct -> http-connect -> socks), in front of one (direct -> socks ->
# http-connect), and socks over socks (microsocks, then dante), with
# tls:// on top and verified end to end; squid's log shows what it was
# asked to reach.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/socks_lib.sh"

start_socks_destinations
start_squid squid
SQ=$SQUID_PORT
start_dante dante
D=$SOCKS_PORT
start_microsocks ms
MS=$SOCKS_PORT
head -c 200000 /dev/urandom >"$TMP/200k"

# stack_conf NAME HOPS: $TMP/NAME routes localhost through HOPS.
stack_conf() {
	make_conf "$TMP/$1"
	write_conf "$TMP/$1" 20-stack.conf <<EOF
[transport squid]
module = http-connect
url = http://127.0.0.1:$SQ

[transport dante]
module = socks
url = socks5h://127.0.0.1:$D

[transport ms]
module = socks
url = socks5://127.0.0.1:$MS

[stack hops]
transport = $2

[route local]
match = localhost
stack = hops
EOF
}

# through NAME WHICH: the stack is WHICH, and 200 kB go through it to
# the TLS echo and back, verified against the destination's CA.
through() {
	local name=$1 want=$2
	expect_exit 0 "$name: which exits 0" -- \
		"$PROXYSTACK" -c "$TMP/$name" which "tls://localhost:$TLS" &&
		expect_stdout "$want" "$name: which shows the stack"
	expect_exit 0 "$name: exit 0" -- \
		"$PROXYSTACK" -c "$TMP/$name" connect --half-close --ca-file "$CA" \
		"tls://localhost:$TLS" <"$TMP/200k" &&
		expect_same_file "$TMP/200k" "$OUT" "$name: 200 kB echo over TLS"
}

H_SQ="http-connect(http://127.0.0.1:$SQ)"
H_D="socks(socks5h://127.0.0.1:$D)"
H_MS="socks(socks5://127.0.0.1:$MS)"

stack_conf squid-then-socks "squid dante"
squid_log_mark squid
through squid-then-socks "direct -> $H_SQ -> $H_D -> tls"
expect_squid_log squid "CONNECT 127.0.0.1:$D " \
	"squid-then-socks: squid was asked for dante"

stack_conf socks-then-squid "dante squid"
squid_log_mark squid
through socks-then-squid "direct -> $H_D -> $H_SQ -> tls"
expect_squid_log squid "CONNECT localhost:$TLS " \
	"socks-then-squid: squid, reached through dante, was asked for the destination"

stack_conf socks-then-socks "ms dante"
through socks-then-socks "direct -> $H_MS -> $H_D -> tls"
