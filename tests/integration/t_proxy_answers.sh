#!/bin/bash
# t_proxy_answers.sh - http-connect against proxies that answer CONNECT in
# every way a careful client must handle: dripped or coalesced heads,
# HTTP/1.0, any 2xx, folded headers, framing headers on a 2xx, tunnel bytes
# right behind the head, 407 (schemes named), 403 (body line kept), 502,
# garbage, silence, a head that never ends or is too long.
# The proxy is tests/integration/scripted_proxy.py, one per scenario.
. "$(dirname "$0")/lib.sh"

PROXY_PY=$PS_LIB_DIR/scripted_proxy.py

# use_scenario NAME [LINES]: a scripted proxy playing NAME, and CONF
# naming it as [transport corp] for every destination, with LINES (keys
# of that section) added.  Its requests are logged in
# $TMP/requests-NAME.log (emptied first).
use_scenario() {
	local port
	port=$(free_port)
	# The log holds this instance's requests only.
	: >"$TMP/requests-$1.log"
	start_bg "proxy-$1" "$PYTHON" -u "$PROXY_PY" --port "$port" \
		--scenario "$1" --log "$TMP/requests-$1.log"
	wait_port "$port"
	CONF=$TMP/conf-$1-$port
	make_conf "$CONF" "connect_timeout = 2"
	printf '[transport corp]\nmodule = http-connect\n%s\n%s\n%s\n' \
		"url = http://127.0.0.1:$port" "${2:-}" \
		"[route all]
match = *
stack = corp" | write_conf "$CONF" 10-proxy.conf
	chmod 0600 "$CONF/10-proxy.conf"
}

# through NAME TEXT: send TEXT through the tunnel (tcp://), output in $OUT.
through() {
	local name=$1 text=$2
	expect_exit 0 "$name: connect exits 0" -- \
		"$PROXYSTACK" -c "$CONF" connect --half-close tcp://example.test:7 \
		<<<"$text"
}

# elapsed_below SECONDS NAME CMD...: the command ends within SECONDS.
elapsed_below() {
	local limit=$1 name=$2 start end
	shift 2
	start=$(date +%s%N)
	"$@"
	end=$(date +%s%N)
	if [ $(((end - start) / 1000000)) -lt $((limit * 1000)) ]; then
		ok "$name: within ${limit}s"
	else
		fail "$name: within ${limit}s" "took $(((end - start) / 1000000)) ms"
	fi
}

# --- accepted tunnels ----------------------------------------------------
use_scenario ok
through "plain 200" "hello"
expect_stdout "hello" "plain 200: data round-trips"
expect_grep -F "CONNECT example.test:7 HTTP/1.1" "$TMP/requests-ok.log" \
	"plain 200: request line names the target"
expect_grep -F "Host: example.test:7" "$TMP/requests-ok.log" \
	"plain 200: Host header names the target"
expect_grep "^User-Agent: proxystack" "$TMP/requests-ok.log" \
	"plain 200: a User-Agent is sent"

use_scenario ok-drip
through "dripped head" "drip"
expect_stdout "drip" "dripped head: data round-trips"

use_scenario ok-early
through "tunnel bytes behind the head" "after"
expect_stdout "early-bytes
after" "tunnel bytes behind the head: kept, in order"

use_scenario http10
through "HTTP/1.0 200" "ten"
expect_stdout "ten" "HTTP/1.0 200: data round-trips"

use_scenario ok-201-lf
through "201 with bare LF" "lf"
expect_stdout "lf" "201 with bare LF: any 2xx is a tunnel"

use_scenario ok-framing
through "folded and framing headers on 200" "framed"
expect_stdout "framed" "folded and framing headers on 200: ignored"

# IPv6 destinations are bracketed; extra headers and User-Agent from config.
use_scenario ok "$(printf 'header = X-Agent-Id: gw-17\nuser_agent = gateway/2.1')"
expect_exit 0 "IPv6 target: connect exits 0" -- \
	"$PROXYSTACK" -c "$CONF" connect --half-close "tcp://[2001:db8::7]:443" <<<"v6"
expect_grep -F "CONNECT [2001:db8::7]:443 HTTP/1.1" "$TMP/requests-ok.log" \
	"IPv6 target: bracketed in the request line"
expect_grep -F "X-Agent-Id: gw-17" "$TMP/requests-ok.log" \
	"extra header from config is sent"
expect_grep -F "User-Agent: gateway/2.1" "$TMP/requests-ok.log" \
	"user_agent from config is sent"

# --- refusals --------------------------------------------------------------
use_scenario 407
expect_exit 3 "407 without credentials: exit 3" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "407" "$ERR" "407: the status is named"
expect_grep "offers: Basic.*NTLM" "$ERR" "407: the offered schemes are named"
expect_grep "supported: .*NTLM, Digest, Basic" "$ERR" "407: the supported ones too"
expect_grep "username" "$ERR" "407: the hint says what to configure"

use_scenario 407-loop "$(printf 'username = alice\npassword = Wr0ng-S3cret')"
expect_exit 3 "407 with rejected credentials: exit 3" -- \
	"$PROXYSTACK" -c "$CONF" -v check tcp://example.test:7
expect_grep "rejected" "$ERR" "407 with credentials: says they were rejected"
expect_no_grep "Wr0ng-S3cret" "$ERR" "407: the password is not in stderr"
expect_no_grep "Wr0ng-S3cret" "$OUT" "407: the password is not in stdout"
expect_grep "^Proxy-Authorization: Basic" "$TMP/requests-407-loop.log" \
	"407: the retry carried Basic credentials"

use_scenario 407-close-then-ok "$(printf 'username = alice\npassword = pw')"
through "407 that closes, then credentials on a new connection" "again"
expect_stdout "again" "407 that closes: the retry on a new connection tunnels"
expect_eq "$(grep -c '^CONNECT' "$TMP/requests-407-close-then-ok.log")" 2 \
	"407 that closes: exactly two requests, on two connections"

use_scenario 407-chunked
elapsed_below 5 "407 with a chunked 100 kB body" \
	expect_exit 3 "407 with a chunked body: exit 3" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "Negotiate" "$ERR" "407 chunked: names Negotiate as offered"

# Framing is per answer: after a chunked 407, the 407 that answers the
# retry on the same connection is framed by its Content-Length.
use_scenario 407-chunked-then-cl "$(printf 'username = alice\npassword = pw')"
elapsed_below 5 "chunked 407, then a Content-Length 407" \
	through "chunked 407, then a Content-Length 407" "third"
expect_stdout "third" \
	"chunked 407, then a Content-Length 407: the third request tunnels"
expect_eq "$(grep -c '^CONNECT' "$TMP/requests-407-chunked-then-cl.log")" 3 \
	"chunked 407, then a Content-Length 407: three requests"
expect_grep 'nonce="n2"' "$TMP/requests-407-chunked-then-cl.log" \
	"chunked 407, then a Content-Length 407: the stale nonce was renewed"

# Chunk extensions: their hex letters are no digits of the size.
use_scenario 407-chunk-ext "$(printf 'username = alice\npassword = pw')"
elapsed_below 5 "chunk-size lines with extensions" \
	through "chunk-size lines with extensions" "ext"
expect_stdout "ext" "chunk extensions: the retry on the same connection tunnels"
expect_eq "$(grep -c '^CONNECT' "$TMP/requests-407-chunk-ext.log")" 2 \
	"chunk extensions: two requests"

use_scenario 407-chunk-nodigit "$(printf 'username = alice\npassword = pw')"
elapsed_below 5 "chunk-size line without a digit" \
	expect_exit 4 "chunk-size line without a digit: proxy-protocol (exit 4)" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "malformed chunked body" "$ERR" \
	"chunk-size line without a digit: named malformed"

use_scenario 407-chunk-huge "$(printf 'username = alice\npassword = pw')"
elapsed_below 5 "absurd chunk size" \
	expect_exit 4 "absurd chunk size: proxy-protocol (exit 4)" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "malformed chunked body" "$ERR" "absurd chunk size: named malformed"

# Credentials are never cut short: too long is a configuration error,
# not "rejected" (Basic's user:password holds at most 511 bytes, as over
# HTTP/2; Digest's user:realm:password at most 1023).
LONG_PW=$(head -c 1000 /dev/zero | tr '\0' 'p')
printf '%s\n' "${LONG_PW:0:700}" >"$TMP/pw-700"
printf '%s\n' "$LONG_PW" >"$TMP/pw-1000"
printf '%s\n' "${LONG_PW:0:505}" >"$TMP/pw-505"
chmod 0600 "$TMP"/pw-*

use_scenario 407-loop "$(printf 'username = alice\npassword_file = %s' "$TMP/pw-700")"
expect_exit 2 "700-byte password, 407 Basic: configuration error (exit 2)" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "too long for Basic" "$ERR" "700-byte password, Basic: says too long"
expect_no_grep "rejected" "$ERR" "700-byte password, Basic: not 'rejected'"
expect_no_grep "ppppp" "$ERR" "700-byte password, Basic: not in stderr"
expect_eq "$(grep -c '^CONNECT' "$TMP/requests-407-loop.log")" 1 \
	"700-byte password, Basic: no retry without the credentials"

use_scenario 407-digest-loop "$(printf 'username = alice\npassword_file = %s' "$TMP/pw-1000")"
expect_exit 2 "1000-byte password, 407 Digest: configuration error (exit 2)" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "too long for Digest" "$ERR" "1000-byte password, Digest: says too long"
expect_no_grep "rejected" "$ERR" "1000-byte password, Digest: not 'rejected'"

# The longest credentials that fit cross whole.
use_scenario 407-close-then-ok "$(printf 'username = alice\npassword_file = %s' "$TMP/pw-505")"
through "511-byte user:password" "fits"
expect_stdout "fits" "511-byte user:password: the retry tunnels"
expect_eq "$(sed -n 's/^Proxy-Authorization: Basic \([^\r]*\)\r\?$/\1/p' \
	"$TMP/requests-407-close-then-ok.log" | base64 -d)" \
	"alice:${LONG_PW:0:505}" "511-byte user:password: sent whole"

use_scenario 407-loop "$(printf 'username = alice\npassword = pw\nauth = basic')"
elapsed_below 5 "407 loop with auth = basic" \
	expect_exit 3 "407 loop: exit 3, no endless retry" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "rejected" "$ERR" "407 loop: credentials reported rejected"

use_scenario 403
expect_exit 4 "403: exit 4" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "403 Forbidden" "$ERR" "403: status and reason"
expect_grep "403 Forbidden: Blocked by corporate policy 42" "$ERR" \
	"403: the body's first text line (HTML title) is in the message"
expect_no_grep "<" "$ERR" "403: no HTML tags in the message"

use_scenario 502
expect_exit 4 "502: exit 4" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "502 Bad Gateway: upstream connect failed" "$ERR" \
	"502: status, reason and body line"

# --- broken proxies --------------------------------------------------------
use_scenario garbage
expect_exit 4 "non-HTTP answer: proxy-protocol (exit 4)" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "proxy-protocol" "$ERR" "non-HTTP answer: named proxy-protocol"

use_scenario close
expect_exit 4 "closed without answer: exit 4" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "without answering" "$ERR" "closed without answer: says so"

use_scenario huge-head
expect_exit 4 "20 kB answer head: exit 4" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "longer than 16384" "$ERR" "20 kB head: the bound is named"

use_scenario silent
elapsed_below 5 "silent proxy" \
	expect_exit 6 "silent proxy: timeout (exit 6)" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "timeout" "$ERR" "silent proxy: named timeout"

use_scenario no-blank
elapsed_below 5 "200 without a blank line" \
	expect_exit 6 "200 without a blank line: timeout (exit 6)" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7


# --- bytes no head may hold (RFC 9112 2.2; curl refuses them too) ------------
use_scenario bare-cr
expect_exit 4 "bare CR in a header: exit 4 (proxy protocol)" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "bare CR" "$ERR" "bare CR in a header: says so"

use_scenario nul-header
expect_exit 4 "NUL in a header: exit 4 (proxy protocol)" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "NUL byte" "$ERR" "NUL in a header: says so"

use_scenario 407-digest-ctl "$(printf 'username = alice\npassword = pw')"
expect_exit 4 "control byte in a Digest challenge: exit 4" -- \
	"$PROXYSTACK" -c "$CONF" check tcp://example.test:7
expect_grep "control byte" "$ERR" "control byte in a Digest challenge: says so"
expect_eq "$(grep -c '^CONNECT' "$TMP/requests-407-digest-ctl.log")" 1 \
	"control byte in a Digest challenge: nothing echoed back"

# --- Digest values with quoted-pairs: hashed unescaped, echoed re-quoted ------
# The proxy checks the response with password "pw" (scripted_proxy.py).
use_scenario 407-digest-quoted \
	"$(printf 'username = bo"b\\x\npassword = pw\nauth = digest')"
through "Digest with '\"' and '\\' in every value" "quoted"
expect_stdout "quoted" "Digest quoted-pairs: the proxy accepted the answer"
expect_grep -F 'username="bo\"b\\x"' "$TMP/requests-407-digest-quoted.log" \
	"Digest quoted-pairs: the user name is quoted (RFC 7616)"
expect_grep -F 'realm="a \"q\" \\ r"' "$TMP/requests-407-digest-quoted.log" \
	"Digest quoted-pairs: the realm is quoted again"
expect_grep -F 'opaque="o\"p"' "$TMP/requests-407-digest-quoted.log" \
	"Digest quoted-pairs: the opaque is quoted again"
