#!/bin/bash
# t_socks_microsocks.sh - the socks module against microsocks, a second
# SOCKS5 implementation: without authentication (tcp://, an IPv6
# destination, wss://), with RFC 1929 user and password (tls://; a wrong
# password and none at all are proxy-auth, exit 3, the password never
# shown), and SOCKS proxies taken from the environment: ALL_PROXY,
# HTTPS_PROXY and PROXYSTACK_PROXY_URL with socks URLs.
#
# microsocks ends both directions when the client ends its sending side,
# so the round trips read the echo for a second (-q 1) instead of
# half-closing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/socks_lib.sh"

start_socks_destinations --wss

start_microsocks open
OPEN=$SOCKS_PORT
PW='m1cro:s0cks@pw'
start_microsocks auth -u alice -P "$PW"
AUTH=$SOCKS_PORT
printf 'through microsocks\n' >"$TMP/hello"

# roundtrip NAME CONF URL [ENV...]: hello comes back through CONF.
roundtrip() {
	local name=$1 conf=$2 url=$3
	shift 3
	expect_exit 0 "$name: exit 0" -- \
		env "$@" "$PROXYSTACK" -c "$conf" connect -q 1 --ca-file "$CA" "$url" \
		<"$TMP/hello" &&
		expect_same_file "$TMP/hello" "$OUT" "$name: echo"
}

socks_conf "$TMP/open" "socks5h://127.0.0.1:$OPEN"
roundtrip "no auth, tcp://" "$TMP/open" "tcp://localhost:$TCP"
roundtrip "no auth, tls://" "$TMP/open" "tls://localhost:$TLS"
if have_ipv6; then
	roundtrip "no auth, an IPv6 destination" "$TMP/open" "tcp://[::1]:$TCP"
	expect_grep "^::1:[0-9]+: connected|^\[?::1\]?.*connected" "$TMP/plain.log" \
		"no auth, an IPv6 destination: the echo saw ::1"
else
	skip "no auth, an IPv6 destination" "no IPv6 on loopback"
fi
expect_exit 0 "no auth, wss://: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/open" connect --ca-file "$CA" "wss://localhost:$WSS/ms" \
	<"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "no auth, wss://: the message comes back"

# --- RFC 1929 -------------------------------------------------------------------
printf '%s\n' "$PW" >"$TMP/pw"
chmod 0600 "$TMP/pw"
socks_conf "$TMP/auth" "socks5://127.0.0.1:$AUTH" "proxy_username = alice" \
	"proxy_password_file = $TMP/pw"
roundtrip "user/password, tls://" "$TMP/auth" "tls://localhost:$TLS"
roundtrip "user/password, tcp://" "$TMP/auth" "tcp://localhost:$TCP"

socks_conf "$TMP/wrong" "socks5://alice:wrong@127.0.0.1:$AUTH"
expect_exit 3 "a wrong password: exit 3" -- \
	"$PROXYSTACK" -c "$TMP/wrong" connect "tcp://localhost:$TCP" </dev/null &&
	expect_grep "proxy-auth: SOCKS5 proxy socks5://127.0.0.1:$AUTH rejected the user name and password" \
		"$ERR" "a wrong password: rejected"
socks_conf "$TMP/none" "socks5://127.0.0.1:$AUTH"
expect_exit 3 "no credentials: exit 3" -- \
	"$PROXYSTACK" -c "$TMP/none" connect "tcp://localhost:$TCP" </dev/null &&
	expect_grep "proxy-auth: .*refused every offered authentication method \(offered: none\): it wants credentials" \
		"$ERR" "no credentials: says the proxy wants some"
expect_exit 0 "show-config with a SOCKS password: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/auth" show-config "tcp://localhost:$TCP"
expect_no_grep -F "$PW" "$OUT" "show-config never shows the SOCKS password"

# --- from the environment ----------------------------------------------------
make_conf "$TMP/empty"
expect_exit 0 "ALL_PROXY=socks5h://: which exits 0" -- \
	env ALL_PROXY="socks5h://127.0.0.1:$OPEN" \
	"$PROXYSTACK" -c "$TMP/empty" which "tcp://localhost:$TCP" &&
	expect_stdout "direct -> socks(socks5h://127.0.0.1:$OPEN)" \
		"ALL_PROXY=socks5h://: which shows the socks hop"
roundtrip "ALL_PROXY=socks5h://" "$TMP/empty" "tcp://localhost:$TCP" \
	ALL_PROXY="socks5h://127.0.0.1:$OPEN"
roundtrip "HTTPS_PROXY=socks5:// with credentials, tls://" "$TMP/empty" \
	"tls://localhost:$TLS" \
	HTTPS_PROXY="socks5://alice:m1cro%3As0cks%40pw@127.0.0.1:$AUTH"
roundtrip "PROXYSTACK_PROXY_URL=socks5h://" "$TMP/empty" "tcp://localhost:$TCP" \
	PROXYSTACK_PROXY_URL="socks5h://127.0.0.1:$OPEN"
