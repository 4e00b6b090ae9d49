#!/bin/bash
# t_socks_request.sh - what the socks module sends, as a scripted SOCKS
# proxy (socks_script.py) logs it: socks5h:// and socks4a:// send the
# destination's name, socks5:// and socks4:// resolve it here and send
# the address; IP literals (IPv6 too) go as addresses; the methods
# offered with and without credentials; RFC 1929 user/password accepted
# and refused (the password never shown); the SOCKS4 user id; and the
# configuration errors: RFC 1929's 255-byte limits, a password for
# SOCKS4, a password without a user, IPv6 over SOCKS4.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/socks_lib.sh"

start_socks_script sp
SP=$SOCKS_PORT
REQ=$TMP/sp.requests
printf 'request bytes\n' >"$TMP/hello"

# sends SCHEME DEST NAME PATTERN: a round trip through SCHEME://proxy to
# DEST, and the request the proxy logged matches PATTERN.
sends() {
	local scheme=$1 dest=$2 name=$3 pattern=$4
	socks_conf "$TMP/c-$scheme" "$scheme://127.0.0.1:$SP"
	: >"$REQ"
	expect_exit 0 "$name: exit 0" -- \
		"$PROXYSTACK" -c "$TMP/c-$scheme" connect --half-close "$dest" \
		<"$TMP/hello" &&
		expect_same_file "$TMP/hello" "$OUT" "$name: echo round-trips" &&
		expect_grep -- "$pattern" "$REQ" "$name: the request"
}

# --- who resolves -------------------------------------------------------------
scenario sp ok
sends socks5h tcp://localhost:4242 "socks5h sends the name" \
	"^request ver=5 cmd=1 atyp=3 addr=localhost port=4242$"
sends socks5 tcp://localhost:4242 "socks5 resolves here" \
	"^request ver=5 cmd=1 atyp=1 addr=127.0.0.1 port=4242$"
sends socks5h tcp://127.0.0.1:4243 "socks5h with an IPv4 literal" \
	"^request ver=5 cmd=1 atyp=1 addr=127.0.0.1 port=4243$"
sends socks5h "tcp://[::1]:4244" "socks5h with an IPv6 literal" \
	"^request ver=5 cmd=1 atyp=4 addr=::1 port=4244$"
sends socks5 "tcp://[2001:db8::7]:443" "socks5 with an IPv6 literal" \
	"^request ver=5 cmd=1 atyp=4 addr=2001:db8::7 port=443$"
expect_grep "^greeting methods=00$" "$REQ" \
	"without credentials only 'no authentication' is offered"

scenario sp s4-ok
sends socks4a tcp://localhost:4245 "socks4a sends the name" \
	"^request4 cmd=1 ip=0.0.0.1 port=4245 user= name=localhost$"
sends socks4 tcp://localhost:4246 "socks4 resolves here" \
	"^request4 cmd=1 ip=127.0.0.1 port=4246 user= name=$"

# A name nobody resolves: socks5 fails here (resolve, exit 6) before any
# request; socks5h hands it to the proxy.
: >"$REQ"
scenario sp ok
socks_conf "$TMP/c5-unres" "socks5://127.0.0.1:$SP"
expect_exit 6 "socks5 with an unresolvable name: exit 6" -- \
	"${HOSTS_NS[@]}" "$LOOPBACK_HOSTS" \
	"$PROXYSTACK" -c "$TMP/c5-unres" connect tcp://no-such-host.invalid:80 \
	</dev/null &&
	expect_grep "resolve: cannot resolve no-such-host.invalid" "$ERR" \
		"socks5 with an unresolvable name: resolve error"
expect_no_grep "^request" "$REQ" "socks5 with an unresolvable name: no request sent"

# --- SOCKS4: IPv6 cannot be said ---------------------------------------------
socks_conf "$TMP/c4-v6" "socks4a://127.0.0.1:$SP"
expect_exit 7 "socks4a to an IPv6 literal: exit 7" -- \
	"$PROXYSTACK" -c "$TMP/c4-v6" connect "tcp://[::1]:80" </dev/null &&
	expect_grep "unsupported: SOCKS4 cannot carry the IPv6 address of \[::1\]:80" \
		"$ERR" "socks4a to an IPv6 literal: says why"

# --- SOCKS4 user id -------------------------------------------------------------
scenario sp s4-ok
socks_conf "$TMP/c4-user" "socks4://127.0.0.1:$SP" "proxy_username = alice"
: >"$REQ"
expect_exit 0 "socks4 with a user id: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/c4-user" connect --half-close tcp://127.0.0.1:4247 \
	<"$TMP/hello" &&
	expect_grep "^request4 cmd=1 ip=127.0.0.1 port=4247 user=alice name=$" \
		"$REQ" "socks4 with a user id: sent"

# --- RFC 1929 -------------------------------------------------------------------
PW='s0cks:p@ss/w0rd'
start_socks_script auth --user alice --password "$PW"
AP=$SOCKS_PORT
AREQ=$TMP/auth.requests
printf '%s\n' "$PW" >"$TMP/right.pw"
printf 'not-it\n' >"$TMP/wrong.pw"
chmod 0600 "$TMP/right.pw" "$TMP/wrong.pw"
socks_conf "$TMP/auth-good" "socks5h://127.0.0.1:$AP" \
	"proxy_username = alice" "proxy_password_file = $TMP/right.pw"
socks_conf "$TMP/auth-bad" "socks5h://127.0.0.1:$AP" \
	"proxy_username = alice" "proxy_password_file = $TMP/wrong.pw"
socks_conf "$TMP/auth-none" "socks5h://127.0.0.1:$AP"

expect_exit 0 "user/password accepted: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/auth-good" connect --half-close tcp://localhost:4248 \
	<"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "user/password accepted: echo"
expect_grep "^greeting methods=0002$" "$AREQ" \
	"with credentials 'no authentication' and user/password are offered"
expect_grep "^auth ver=1 user=alice good=1$" "$AREQ" \
	"user/password accepted: RFC 1929 message"

expect_exit 3 "wrong password: exit 3" -- \
	"$PROXYSTACK" -c "$TMP/auth-bad" connect tcp://localhost:4248 </dev/null &&
	expect_grep "proxy-auth: SOCKS5 proxy socks5h://127.0.0.1:$AP rejected the user name and password \(status 0x01\)" \
		"$ERR" "wrong password: says rejected" &&
	expect_grep "hint: check the user name and password" "$ERR" \
		"wrong password: hint"

expect_exit 3 "no credentials for a proxy that wants them: exit 3" -- \
	"$PROXYSTACK" -c "$TMP/auth-none" connect tcp://localhost:4248 </dev/null &&
	expect_grep "it wants credentials" "$ERR" \
		"no credentials: says the proxy wants them"

# Credentials in the URL (percent-encoded) work the same.
socks_conf "$TMP/auth-url" "socks5h://alice:s0cks%3Ap%40ss%2Fw0rd@127.0.0.1:$AP"
expect_exit 0 "credentials in the URL: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/auth-url" connect --half-close tcp://localhost:4249 \
	<"$TMP/hello"

scenario auth auth-ver
expect_exit 4 "user/password reply with version 5: exit 4" -- \
	"$PROXYSTACK" -c "$TMP/auth-good" connect tcp://localhost:4248 </dev/null &&
	expect_grep "proxy-protocol: .*malformed username/password reply: byte 0 is 0x05, expected 0x01" \
		"$ERR" "user/password reply with version 5: names the byte"
expect_no_grep -F "$PW" "$TMP/last.err" "the password is never shown"

# --- configuration errors ----------------------------------------------------
LONG=$(printf 'u%.0s' $(seq 256))
bad_conf() {
	local name=$1 pattern=$2
	shift 2
	make_conf "$TMP/bad-$name"
	printf '%s\n' "[transport s]" "module = socks" "$@" \
		"[route all]" "match = *" "stack = s" |
		write_conf "$TMP/bad-$name" 10-socks.conf
	expect_exit 2 "$name: exit 2" -- \
		"$PROXYSTACK" -c "$TMP/bad-$name" which tcp://localhost:1 &&
		expect_grep -- "$pattern" "$ERR" "$name: file:line and why"
}
# A configuration line holds at most 198 characters: the variable can.
socks_conf "$TMP/long-user" "socks5://127.0.0.1:$SP"
expect_exit 2 "a 256-byte user name: exit 2" -- \
	env PROXYSTACK_PROXY_USERNAME="$LONG" \
	"$PROXYSTACK" -c "$TMP/long-user" which tcp://localhost:1 &&
	expect_grep "the user name is 256 bytes; SOCKS5 \(RFC 1929\) carries at most 255" \
		"$ERR" "a 256-byte user name: says why"
printf '%s\n' "$LONG" >"$TMP/long.pw"
chmod 0600 "$TMP/long.pw"
bad_conf "a 256-byte password" \
	"password_file.*the password is 256 bytes; SOCKS5 \(RFC 1929\) carries at most 255" \
	"url = socks5://127.0.0.1:$SP" "username = alice" \
	"password_file = $TMP/long.pw"
bad_conf "a password for SOCKS4" "SOCKS4 sends only a user id, never a password" \
	"url = socks4://alice:pw@127.0.0.1:$SP"
bad_conf "a password without a user" "a password without a user name" \
	"url = socks5://127.0.0.1:$SP" "password_file = $TMP/right.pw"
bad_conf "an http URL for the socks module" "url.*scheme http:// is not served" \
	"url = http://127.0.0.1:$SP"
bad_conf "an unknown key" "10-socks.conf:3: unknown key 'colour'" \
	"colour = red" "url = socks5://127.0.0.1:$SP"
