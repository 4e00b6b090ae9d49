#!/bin/bash
# t_socks_replies.sh - the socks module against a scripted SOCKS proxy
# (socks_script.py): every SOCKS5 and SOCKS4 reply code maps to the code
# a person expects (proxy-denied, connect, proxy-auth) with the reply's
# meaning in words; every malformed reply (bad version, bad address
# type, unknown code, a method not offered, short, overlong, closed
# mid-reply) is a proxy-protocol error (exit 4, like every refusal by a
# proxy) that names the byte, or how much of the reply came.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/socks_lib.sh"

start_socks_script sp
SP=$SOCKS_PORT
socks_conf "$TMP/c5" "socks5h://127.0.0.1:$SP"
socks_conf "$TMP/c4" "socks4a://127.0.0.1:$SP"
DEST=tcp://localhost:4242

# answer CONF SCENARIO WANT_EXIT PATTERN NAME: the scripted proxy plays
# SCENARIO; connect exits WANT_EXIT and stderr matches PATTERN.
answer() {
	local conf=$1 sc=$2 want=$3 pattern=$4 name=$5
	scenario sp "$sc"
	expect_exit "$want" "$name: exit $want" -- \
		"$PROXYSTACK" -c "$TMP/$conf" connect "$DEST" </dev/null &&
		expect_grep -- "$pattern" "$ERR" "$name: code and message"
}

P5="SOCKS5 proxy socks5h://127.0.0.1:$SP"
P4="SOCKS4 proxy socks4a://127.0.0.1:$SP"

# --- granted: data flows, the bound address (a name) is read whole ----------
scenario sp ok
printf 'through the scripted proxy\n' >"$TMP/hello"
expect_exit 0 "socks5h granted: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/c5" connect --half-close "$DEST" <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "socks5h granted: echo round-trips"
scenario sp s4-ok
expect_exit 0 "socks4a granted: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/c4" connect --half-close "$DEST" <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "socks4a granted: echo round-trips"

# --- SOCKS5 reply codes (RFC 1928 section 6) ---------------------------------
answer c5 reply-01 4 "proxy-denied: $P5 refused CONNECT localhost:4242: general SOCKS server failure \(reply 0x01\)" \
	"socks5 reply 1"
answer c5 reply-02 4 "proxy-denied: .*connection not allowed by ruleset \(reply 0x02\)" \
	"socks5 reply 2"
expect_grep "hint: the proxy's rules forbid" "$ERR" "socks5 reply 2: hint"
answer c5 reply-03 6 "connect: .*refused CONNECT localhost:4242: network unreachable \(reply 0x03\)" \
	"socks5 reply 3"
answer c5 reply-04 6 "connect: .*host unreachable \(reply 0x04\)" "socks5 reply 4"
answer c5 reply-05 6 "connect: .*connection refused \(reply 0x05\)" "socks5 reply 5"
expect_grep "hint: nothing accepts connections" "$ERR" "socks5 reply 5: hint"
answer c5 reply-06 6 "connect: .*TTL expired \(reply 0x06\)" "socks5 reply 6"
answer c5 reply-07 4 "proxy-denied: .*command not supported \(reply 0x07\)" \
	"socks5 reply 7"
answer c5 reply-08 4 "proxy-denied: .*address type not supported \(reply 0x08\)" \
	"socks5 reply 8"
answer c5 reply-09 4 "proxy-protocol: $P5 sent a malformed reply: byte 1 is 0x09, expected a reply code 0x00-0x08" \
	"socks5 unassigned reply 9"
answer c5 reply-ff 4 "proxy-protocol: .*byte 1 is 0xff" "socks5 unassigned reply 0xff"

# --- SOCKS5 methods ----------------------------------------------------------
answer c5 no-method 3 "proxy-auth: $P5 refused every offered authentication method \(offered: none\): it wants credentials" \
	"socks5 no acceptable method"
expect_grep "hint: set username and password_file" "$ERR" \
	"socks5 no acceptable method: hint"
answer c5 wrong-method 4 "proxy-protocol: .*malformed method selection: byte 1 is 0x02, expected 0x00 \(the method offered\)" \
	"socks5 method not offered"
answer c5 method-ver 4 "proxy-protocol: .*malformed method selection: byte 0 is 0x04, expected 0x05" \
	"socks5 method selection with version 4"

# --- malformed SOCKS5 replies ------------------------------------------------
answer c5 reply-ver 4 "proxy-protocol: $P5 sent a malformed reply: byte 0 is 0x04, expected 0x05" \
	"socks5 reply with version 4"
answer c5 reply-atyp 4 "proxy-protocol: .*malformed reply: byte 3 is 0x07, expected an address type 0x01, 0x03 or 0x04" \
	"socks5 reply with address type 7"
answer c5 reply-short 4 "proxy-protocol: connection closed after 5 of 10 bytes of the SOCKS5 reply" \
	"socks5 short reply"
answer c5 reply-long 4 "proxy-protocol: connection closed after 15 of 207 bytes of the SOCKS5 reply" \
	"socks5 bound name longer than what came"
answer c5 close-mid 4 "proxy-protocol: connection closed after 1 of 2 bytes of the SOCKS5 reply" \
	"socks5 closed mid-reply"
answer c5 close-greet 4 "proxy-protocol: connection closed after 0 of 2 bytes of the SOCKS5 method selection" \
	"socks5 closed after the greeting"

# --- SOCKS4 reply codes ------------------------------------------------------
answer c4 s4-5b 4 "proxy-denied: $P4 refused CONNECT localhost:4242: request rejected or failed \(reply 0x5b\)" \
	"socks4 reply 0x5b"
answer c4 s4-5c 3 "proxy-auth: .*cannot reach an identd on this client \(reply 0x5c\)" \
	"socks4 reply 0x5c"
answer c4 s4-5d 3 "proxy-auth: .*identd reports another user id .*\(reply 0x5d\)" \
	"socks4 reply 0x5d"
answer c4 s4-77 4 "proxy-protocol: $P4 sent a malformed reply: byte 1 is 0x77, expected a reply code 0x5a-0x5d" \
	"socks4 unknown reply 0x77"
answer c4 s4-ver 4 "proxy-protocol: .*byte 0 is 0x04, expected 0x00" \
	"socks4 reply with version 4"

