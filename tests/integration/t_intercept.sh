#!/bin/bash
# t_intercept.sh - tls-intercept-trust against squid with ssl-bump.
#
# A TLS-inspecting proxy (squid-openssl, `ssl_bump peek step1` + `ssl_bump
# bump all`) re-signs every destination's certificate with its own root CA
# ("bump").  The destinations' certificates come from another CA ("dest"),
# which only squid trusts (tls_outgoing_options cafile=).  Proved here:
#
#   - with [trust corp-inspection] (module tls-intercept-trust, ca_file =
#     the bump CA) in the stack, tls:// and wss:// through the bump proxy
#     work, and squid's log shows it saw inside (the websocket GET);
#   - without it, the same connections exit 5 (tls-verify) naming the bump
#     CA as the issuer, with a hint that names tls-intercept-trust; the
#     destination's own CA alone fails too: squid re-signed;
#   - it weakens nothing else: a certificate for another name, passed on by
#     a lax proxy (sslproxy_cert_error allow all) whose minted copy keeps
#     that name, still exits 5 (hostname mismatch); a strict squid refuses
#     such a destination itself; a destination with an unknown CA reached
#     directly by a stack that carries the trust still exits 5;
#   - `match` limits the extra trust to the listed destinations;
#   - squid without `http_upgrade_request_protocols` strips the upgrade of
#     a bumped wss request: the server's 426 comes back as a
#     websocket-handshake failure.
#
# squid tears a bumped connection down as soon as the client's
# close_notify arrives (as it does a plain tunnel on a TCP half-close), so
# the echo tests keep standard input open a moment after the data.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

[ -x "$WS_CHECK" ] || bail_out "ws_check" "$WS_CHECK missing: make tests/ws_check"

make_ca dest          # destinations (trusted by squid only)
make_ca bump          # the inspecting proxy's root: keyCertSign (make_ca)
make_ca other         # nobody's
make_leaf dest server
make_leaf dest elsewhere "DNS:other.example"
make_leaf other stranger
DEST_CA=$CERTS/dest.pem
BUMP_CA=$CERTS/bump.pem
BUMP_ISSUER="issuer /CN=proxystack test CA bump"
# OpenSSL's reasons for a chain to a CA nobody here trusts (the servers
# send their CA along: "self-signed ... in certificate chain").
UNTRUSTED="self[- ]signed certificate in certificate chain|unable to get local issuer certificate"

start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
DEST=$ECHO_PORT
start_echo wrongname --cert "$CERTS/elsewhere-chain.pem" --key "$CERTS/elsewhere-key.pem"
WRONG=$ECHO_PORT
start_echo stranger --cert "$CERTS/stranger-chain.pem" --key "$CERTS/stranger-key.pem"
STRANGER=$ECHO_PORT
start_ws_echo wss --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
WSS=$WS_PORT
start_ws_echo wsswrong --cert "$CERTS/elsewhere-chain.pem" --key "$CERTS/elsewhere-key.pem"
WSSWRONG=$WS_PORT

BUMP=("$BUMP_CA" "$CERTS/bump-key.pem" "$DEST_CA")
start_squid bump --bump "${BUMP[@]}"
SQ=$SQUID_PORT
start_squid lax --bump "${BUMP[@]}" --line "sslproxy_cert_error allow all"
SQLAX=$SQUID_PORT
start_squid noupgrade --bump "${BUMP[@]}" --no-upgrade
SQNOUP=$SQUID_PORT

# conf NAME SQUID_PORT [TRUST-SECTION-LINE...]: $TMP/conf/NAME routing
# localhost and 127.0.0.1 through [stack corp] (http-connect to squid on
# SQUID_PORT), whose trust is [trust corp-inspection] made of the lines
# (no [trust] section without them).  localhost:$STRANGER goes direct
# through [stack directtrust], which carries the same trust.
# CORP_TRUST=0 conf ...: the section is there, but [stack corp] does not
# name it.
conf() {
	local name=$1 port=$2 dir=$TMP/conf/$1
	shift 2
	make_conf "$dir"
	{
		printf '[transport corp]\nmodule = http-connect\n'
		printf 'url = http://127.0.0.1:%s\n\n' "$port"
		if [ $# -gt 0 ]; then
			printf '[trust corp-inspection]\nmodule = tls-intercept-trust\n'
			printf '%s\n' "$@"
			printf '\n[stack directtrust]\ntrust = corp-inspection\n'
			printf '\n[route stranger]\nmatch = localhost:%s\n' "$STRANGER"
			printf 'stack = directtrust\n'
		fi
		printf '\n[stack corp]\ntransport = corp\n'
		[ $# -gt 0 ] && [ "${CORP_TRUST:-1}" = 1 ] &&
			printf 'trust = corp-inspection\n'
		printf '\n[route r]\nmatch = localhost 127.0.0.1\nstack = corp\n'
	} | write_conf "$dir" 50-corp.conf
}
conf corp "$SQ" "ca_file = $BUMP_CA"
conf nosection "$SQ"
CORP_TRUST=0 conf notrust "$SQ" "ca_file = $BUMP_CA"
conf lax "$SQLAX" "ca_file = $BUMP_CA"
conf match "$SQ" "ca_file = $BUMP_CA" "match = example.com, LocalHost."
conf nomatch "$SQ" "ca_file = $BUMP_CA" "match = example.com 192.0.2.1 .localdomain"
conf ipmatch "$SQLAX" "ca_file = $BUMP_CA" "match = 127.0.0.1"
conf noupgrade "$SQNOUP" "ca_file = $BUMP_CA"
make_conf "$TMP/conf/direct"
CORP=("$PROXYSTACK" -c "$TMP/conf/corp")
NOTRUST=("$PROXYSTACK" -c "$TMP/conf/notrust")
URL=tls://localhost:$DEST
WURL=wss://localhost:$WSS/bumped

printf 'hello through an inspecting proxy\n' >"$TMP/hello"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/1m"

# echo_input FILE: FILE, then input left open until as many bytes are back
# in $TMP/last.out (expect_exit's stdout), 15 s at most: squid drops a
# bumped connection at our close_notify, so the end of input must wait for
# the echo.  A fixed second was not enough under load (make -j2 check with
# the sanitizers).
echo_input() {
	local want i
	want=$(stat -c %s "$1")
	cat "$1"
	for ((i = 0; i < 150; i++)); do
		[ "$(stat -c %s "$TMP/last.out" 2>/dev/null || echo 0)" -ge "$want" ] &&
			return 0
		sleep 0.1
	done
}

# expect_echo NAME FILE -- CMD...: CMD with FILE (echo_input), exits 0 and
# prints FILE back exact.
expect_echo() {
	local name=$1 file=$2
	shift 2
	[ "${1:-}" = "--" ] && shift
	# (no stale output for echo_input to count)
	rm -f "$TMP/last.out"
	echo_input "$file" |
		expect_exit 0 "$name: connect exits 0" -- "$@" &&
		expect_same_file "$file" "$OUT" "$name: the bytes come back exact"
}

# expect_verify_fail NAME WHAT -- CMD...: exit 5 and stderr names WHAT
# (an ERE) as the reason; no data on stdout.
expect_verify_fail() {
	local name=$1 what=$2 label=$2
	shift 2
	[ "${1:-}" = "--" ] && shift
	[ "$what" = "$UNTRUSTED" ] && label="an untrusted issuer"
	expect_exit 5 "$name: exits 5" -- "$@" <"$TMP/hello" || return 1
	expect_grep "tls-verify: certificate verify failed for [^ ]+: ($what)" "$ERR" \
		"$name: stderr says tls-verify: $label"
	local a
	for a in "$@"; do
		[ "$a" = connect ] && expect_stdout "" "$name: no data"
	done
	return 0
}

# --- with the trust module: tls:// and wss:// through the bump ------------

expect_exit 0 "which through the bump proxy" -- "${CORP[@]}" which "$URL" &&
	expect_stdout "direct -> http-connect(http://127.0.0.1:$SQ) -> tls" \
		"which: http-connect to squid, then tls"
expect_exit 0 "trust module: check tls:// exits 0" -- "${CORP[@]}" check "$URL" &&
	expect_grep '^ *\[2\] tls .* verified ' "$OUT" "trust module: the tls step is verified"
squid_log_mark bump
expect_echo "trust module: one line" "$TMP/hello" -- "${CORP[@]}" connect --half-close "$URL"
expect_echo "trust module: 1 MiB" "$TMP/1m" -- "${CORP[@]}" connect --half-close "$URL"
# The destination's own CA as --ca-file: the module adds to it.
expect_echo "trust module plus --ca-file of the destination" "$TMP/hello" -- \
	"${CORP[@]}" connect --half-close "$URL" --ca-file "$DEST_CA"
expect_squid_log bump "CONNECT localhost:$DEST " "squid logged the CONNECT"
# Squid could only parse our bytes (and refuse them as a request) after
# decrypting them.
expect_squid_log bump "error:invalid-request" \
	"squid read the decrypted bytes (invalid-request, then tunnelled)"

squid_log_mark bump
expect_exit 0 "trust module: ws_check wss:// exits 0" -- \
	"$WS_CHECK" -c "$TMP/conf/corp" --label bumped "$WURL" &&
	expect_grep -F "ok - bumped: close handshake, code 1000" "$OUT" \
		"trust module: wss echoes, then the close handshake" &&
	expect_no_grep "^not ok" "$OUT" "trust module: every wss echo matched"
expect_squid_log bump "/101 GET https://localhost:$WSS/bumped " \
	"squid saw the websocket GET inside TLS (101)"
printf 'over wss\n' >"$TMP/overwss"
rm -f "$TMP/last.out"
echo_input "$TMP/overwss" |
	expect_exit 0 "trust module: connect wss:// exits 0" -- \
		"${CORP[@]}" connect --half-close "$WURL" &&
	expect_stdout "over wss" "trust module: connect wss:// echoes the line"

# --- without it: exit 5, the bump CA named, the module hinted --------------

# Control: the destination and its CA are fine when reached directly.
expect_exit 0 "control: direct with the destination's CA exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/direct" check "$URL" --ca-file "$DEST_CA"

# "notrust" defines [trust corp-inspection] (another stack uses it), but
# [stack corp] does not name it: only the stacks that name it get it.
expect_verify_fail "no [trust] section at all: tls://" "$UNTRUSTED" -- \
	"$PROXYSTACK" -c "$TMP/conf/nosection" connect --half-close "$URL" --ca-file "$DEST_CA"

for how in "system store" "destination CA"; do
	args=()
	[ "$how" = "destination CA" ] && args=(--ca-file "$DEST_CA")
	expect_verify_fail "no trust module, $how: tls://" "$UNTRUSTED" -- \
		"${NOTRUST[@]}" connect --half-close "$URL" "${args[@]}" &&
		expect_grep -F "$BUMP_ISSUER" "$ERR" \
			"no trust module, $how: tls:// names the bump CA as issuer" &&
		expect_grep '^proxystack: hint: .*tls-intercept-trust' "$ERR" \
			"no trust module, $how: tls:// hint names tls-intercept-trust"
	expect_exit 5 "no trust module, $how: check wss:// exits 5" -- \
		"${NOTRUST[@]}" check "$WURL" "${args[@]}" &&
		expect_grep -F "$BUMP_ISSUER" "$ERR" \
			"no trust module, $how: wss:// names the bump CA as issuer" &&
		expect_grep '^hint: .*tls-intercept-trust' "$ERR" \
			"no trust module, $how: wss:// hint names tls-intercept-trust"
done
expect_exit 1 "no trust module: ws_check wss:// fails" -- \
	"$WS_CHECK" -c "$TMP/conf/notrust" --ca-file "$DEST_CA" --label notrust "$WURL" &&
	expect_grep "^# tls-verify: .*$BUMP_ISSUER" "$OUT" \
		"no trust module: the API reports tls-verify naming the bump CA"

# --- hostname verification stays on ----------------------------------------

# A lax proxy passes a destination's certificate errors on: its minted copy
# of a certificate for other.example keeps that name.  Trusting the bump CA
# must not make it good for localhost.
expect_echo "lax proxy, trust module, right name (control)" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/lax" connect --half-close "$URL"
expect_verify_fail "lax proxy, certificate for another name" "hostname mismatch" -- \
	"$PROXYSTACK" -c "$TMP/conf/lax" connect --half-close "tls://localhost:$WRONG" &&
	expect_grep -F "subject /CN=elsewhere, $BUMP_ISSUER" "$ERR" \
		"another name: the minted copy of CN=elsewhere is what was refused" &&
	expect_grep '^proxystack: hint: the certificate does not name this host' "$ERR" \
		"another name: the hint is about the name, not about trust"
expect_verify_fail "lax proxy, another name, wss://" "hostname mismatch" -- \
	"$PROXYSTACK" -c "$TMP/conf/lax" check "wss://localhost:$WSSWRONG/x"

# A strict squid (sslproxy_cert_error's default: deny) refuses the wrong
# name itself and mints a certificate for the name we asked: our handshake
# verifies, then squid sends its error page instead of any byte of the
# destination's.
WRONG_MARK=$(wc -l <"$TMP/wrongname.log")
WSSWRONG_MARK=$(wc -l <"$TMP/wsswrong.log")
{ printf 'for a wrong name\n'; sleep 1; } |
	expect_exit "0|1" "strict proxy, another name: connect tls:// ends" -- \
		"${CORP[@]}" connect --half-close "tls://localhost:$WRONG"
expect_stdout "" "strict proxy, another name: nothing comes back"
tail -n "+$((WRONG_MARK + 1))" "$TMP/wrongname.log" >"$TMP/wrongname.new"
expect_no_grep "after [1-9][0-9]* bytes" "$TMP/wrongname.new" \
	"strict proxy, another name: the destination got no byte"
expect_exit 1 "strict proxy, another name: wss:// fails" -- \
	"${CORP[@]}" check "wss://localhost:$WSSWRONG/x" &&
	expect_grep "websocket-handshake: .*503" "$ERR" \
		"strict proxy, another name: squid's 503 is the reason"
tail -n "+$((WSSWRONG_MARK + 1))" "$TMP/wsswrong.log" >"$TMP/wsswrong.new"
expect_no_grep "open path=" "$TMP/wsswrong.new" \
	"strict proxy, another name: no websocket was opened on the destination"

# squid 5.7 does not match a destination's IP SAN against a CONNECT to an
# address, counts it as a wrong name and mints a certificate naming the
# address as a DNS name only: an IP check must refuse it.  The lax proxy
# copies the real IP SAN, and then it passes.
expect_verify_fail "strict proxy, tls://127.0.0.1" "IP address mismatch" -- \
	"${CORP[@]}" connect --half-close "tls://127.0.0.1:$DEST"
expect_echo "lax proxy, tls://127.0.0.1 (copied IP SAN)" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/lax" connect --half-close "tls://127.0.0.1:$DEST"

# --- an unrelated bad certificate still fails --------------------------------

expect_exit 0 "stranger is routed direct, through the stack with the trust" -- \
	"${CORP[@]}" which "tls://localhost:$STRANGER" &&
	expect_stdout "direct -> tls" "stranger: which prints 'direct -> tls'"
expect_verify_fail "stranger (unknown CA) direct, trust module in the stack" \
	"$UNTRUSTED" -- \
	"${CORP[@]}" connect --half-close "tls://localhost:$STRANGER" &&
	expect_grep -F "issuer /CN=proxystack test CA other" "$ERR" \
		"stranger: its own issuer is named"
expect_verify_fail "stranger direct, trust module plus --ca-file" \
	"$UNTRUSTED" -- \
	"${CORP[@]}" connect --half-close "tls://localhost:$STRANGER" --ca-file "$DEST_CA"
expect_exit 0 "stranger with its CA (control): check exits 0" -- \
	"${CORP[@]}" check "tls://localhost:$STRANGER" --ca-file "$CERTS/other.pem"

# --- match ----------------------------------------------------------------------

expect_echo "match lists LocalHost.: trusted" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/match" connect --half-close "$URL"
expect_verify_fail "match excludes localhost: tls://" "$UNTRUSTED" -- \
	"$PROXYSTACK" -c "$TMP/conf/nomatch" connect --half-close "$URL" &&
	expect_grep -F "$BUMP_ISSUER" "$ERR" "match excludes localhost: the bump CA is named"
expect_exit 5 "match excludes localhost: check wss:// exits 5" -- \
	"$PROXYSTACK" -c "$TMP/conf/nomatch" check "$WURL"
expect_echo "match = 127.0.0.1: tls://127.0.0.1 trusted" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/ipmatch" connect --half-close "tls://127.0.0.1:$DEST"
expect_verify_fail "match = 127.0.0.1: not for the name localhost" "$UNTRUSTED" -- \
	"$PROXYSTACK" -c "$TMP/conf/ipmatch" connect --half-close "$URL"

# --- squid without http_upgrade_request_protocols: 426 ------------------------

squid_log_mark noupgrade
expect_exit 1 "no upgrade permission: check wss:// exits 1" -- \
	"$PROXYSTACK" -c "$TMP/conf/noupgrade" check "$WURL" &&
	expect_grep '^ *\[2\] tls .* verified ' "$OUT" \
		"no upgrade permission: the bumped TLS itself verified" &&
	expect_grep "websocket-handshake: .*426" "$ERR" \
		"no upgrade permission: websocket-handshake names 426" &&
	expect_grep '^hint: .*http_upgrade_request_protocols' "$ERR" \
		"no upgrade permission: the hint names http_upgrade_request_protocols"
expect_exit 1 "no upgrade permission: ws_check fails" -- \
	"$WS_CHECK" -c "$TMP/conf/noupgrade" --label noupgrade "$WURL" &&
	expect_grep "^# websocket-handshake: .*426" "$OUT" \
		"no upgrade permission: the API reports websocket-handshake 426"
expect_squid_log noupgrade "/426 GET https://localhost:$WSS/bumped " \
	"no upgrade permission: squid logged the 426 of the bumped GET"

# --- configuration ----------------------------------------------------------------

bad_trust() {
	local name=$1 dir=$TMP/conf/bad$2
	shift 2
	make_conf "$dir"
	{
		printf '[trust t]\nmodule = tls-intercept-trust\n'
		printf '%s\n' "$@"
		printf '\n[stack s]\ntrust = t\n'
	} | write_conf "$dir" 50-trust.conf
	expect_exit 2 "$name: exits 2" -- "$PROXYSTACK" -c "$dir" which tcp://example.com:443 &&
		expect_grep "50-trust\.conf:[0-9]+" "$ERR" "$name: file:line on stderr"
}
bad_trust "trust without ca_file or ca_dir" 1
bad_trust "trust ca_file that does not exist" 2 "ca_file = $TMP/nope.pem"
bad_trust "trust ca_file relative" 3 "ca_file = bump.pem"
bad_trust "trust match with a CIDR block" 4 "ca_file = $BUMP_CA" "match = 10.0.0.0/8"
bad_trust "trust match with a port" 5 "ca_file = $BUMP_CA" "match = localhost:443"

# A ca_file that holds no certificate fails the load, naming the section
# and the file, never a quiet fallback to weaker trust.
printf 'not a certificate\n' >"$TMP/garbage.pem"
conf garbage "$SQ" "ca_file = $TMP/garbage.pem"
expect_exit 2 "trust ca_file without a certificate: connect exits 2" -- \
	"$PROXYSTACK" -c "$TMP/conf/garbage" connect --half-close "$URL" <"$TMP/hello" &&
	expect_grep -F "[trust corp-inspection] ca_file: no certificate found in $TMP/garbage.pem" "$ERR" \
		"trust ca_file without a certificate: the section and file are named"
