#!/bin/bash
# t_auth_ntlm.sh - NTLM proxy authentication (NTLMv2) against a real squid
# with ntlm_fake_auth, which passes any well-formed Type 1 / Type 3
# exchange made on one connection: tcp:// and tls:// through http-connect,
# and through squid's https_port with https-proxy (HTTP/1.1 only).  The
# NTLMv2 arithmetic itself is tests/unit/test_ntlm (MS-NLMP vectors).
# Then a scripted proxy for what squid cannot play: a Type 3 refused (a
# wrong password), a proxy that closes in the middle of the handshake, a
# challenge that offers LM only, one that is not base64, and one with
# MsvAvTimestamp.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

PASS='ntlm-S3cret'
make_ca dest
make_leaf dest server
make_ca proxyca
make_leaf proxyca proxy
CA=$CERTS/dest.pem
start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
TLS_DEST=$ECHO_PORT
start_echo plain --plain
TCP_DEST=$ECHO_PORT

make_htpasswd "$TMP/htpasswd" bob bobs-password
start_squid ntlm --ntlm --basic "$TMP/htpasswd"
NTLM=$SQUID_PORT
start_squid ntlms --ntlm --https "$CERTS/proxy-chain.pem" "$CERTS/proxy-key.pem"
NTLMS=$SQUID_PORT

printf 'hello through NTLM\n' >"$TMP/hello"
printf '%s' "$PASS" >"$TMP/alice.secret"
chmod 0600 "$TMP/alice.secret"


# tcp_roundtrip NAME CMD...: squid drops a tunnel at the client's
# half-close, answer or not: no half-close, and connect ends a second
# after the end of its input.
tcp_roundtrip() {
	expect_roundtrip "$1" "$TMP/hello" -- "${@:2}"
}

# --- squid, http_port ------------------------------------------------------

conf_every ntlm http-connect "http://127.0.0.1:$NTLM" 'username = CORP\alice' \
	"password_file = $TMP/alice.secret" "auth = ntlm"
squid_log_mark ntlm
tcp_roundtrip "NTLM, tcp://" \
	"$PROXYSTACK" -c "$TMP/conf/ntlm" connect -q 1 "tcp://127.0.0.1:$TCP_DEST"
expect_squid_log ntlm "TCP_TUNNEL/200 CONNECT 127.0.0.1:$TCP_DEST [^ ]*alice" \
	"NTLM, tcp://: squid names the user"
# One connect: auth = ntlm sends the Type 1 with the first request, as
# curl --proxy-ntlm does; squid logs the 407 that carried the Type 2,
# then the tunnel: two requests.
expect_eq "$(squid_log_lines ntlm | grep -c "CONNECT 127.0.0.1:$TCP_DEST")" 2 \
	"NTLM, tcp://: two requests (Type 1, Type 3)"

expect_roundtrip "NTLM, tls://" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/ntlm" connect --half-close \
	"tls://localhost:$TLS_DEST" --ca-file "$CA"
expect_squid_log ntlm "TCP_TUNNEL/200 CONNECT localhost:$TLS_DEST [^ ]*alice" \
	"NTLM, tls://: squid names the user"
expect_exit 0 "NTLM: check -v exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/ntlm" -v check "tls://localhost:$TLS_DEST" --ca-file "$CA"
expect_grep "auth NTLM" "$OUT" "NTLM: check names the scheme in its step"
expect_no_secret "NTLM: check -v prints no secret" "$PASS"

# auto: the proxy offers NTLM and Basic; NTLM is the stronger.
conf_every auto http-connect "http://127.0.0.1:$NTLM" 'username = CORP\alice' \
	"password_file = $TMP/alice.secret"
expect_exit 0 "auto: check exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/auto" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "auth NTLM" "$OUT" "auto: NTLM chosen over Basic"

# The domain key instead of DOMAIN\user, and a workstation name.
conf_every domain http-connect "http://127.0.0.1:$NTLM" 'username = alice' \
	"password_file = $TMP/alice.secret" "auth = ntlm" "domain = CORP" \
	"workstation = GW17"
squid_log_mark ntlm
tcp_roundtrip "NTLM, domain key" \
	"$PROXYSTACK" -c "$TMP/conf/domain" connect -q 1 "tcp://127.0.0.1:$TCP_DEST"
expect_squid_log ntlm "TCP_TUNNEL/200 CONNECT 127.0.0.1:$TCP_DEST [^ ]*CORP[^ ]*alice" \
	"NTLM, domain key: squid names the domain and user"

# No credentials, auth = ntlm: exit 3, and it says what to configure.
conf_every nocreds http-connect "http://127.0.0.1:$NTLM" "auth = ntlm"
expect_exit 3 "NTLM without credentials: exit 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/nocreds" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "it offers: NTLM" "$ERR" "NTLM without credentials: names the offered schemes"
expect_grep "username" "$ERR" "NTLM without credentials: the hint names username"

# --- squid, https_port -------------------------------------------------------

conf_every https https-proxy "https://localhost:$NTLMS" 'username = CORP\alice' \
	"password_file = $TMP/alice.secret" "auth = ntlm" \
	"ca_file = $CERTS/proxyca.pem"
squid_log_mark ntlms
expect_roundtrip "NTLM over an HTTPS proxy, tls://" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/https" connect --half-close \
	"tls://localhost:$TLS_DEST" --ca-file "$CA"
expect_squid_log ntlms "TCP_TUNNEL/200 CONNECT localhost:$TLS_DEST [^ ]*alice" \
	"NTLM over an HTTPS proxy: squid names the user"
expect_exit 0 "NTLM over an HTTPS proxy: check -v exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/https" -v check "tcp://127.0.0.1:$TCP_DEST"
expect_grep ": 200 .*over http/1.1, auth NTLM.*HTTP/1.1 only" "$OUT" \
	"NTLM over an HTTPS proxy: check says HTTP/1.1 only"

# --- a scripted proxy: what squid cannot play --------------------------------

# scripted NAME SCENARIO: ntlm_proxy.py playing SCENARIO; $SCRIPTED_PORT
scripted() {
	SCRIPTED_PORT=$(free_port) || bail_out "scripted $1" "no free port"
	start_bg "$1" "$PYTHON" -u "$PS_LIB_DIR/ntlm_proxy.py" \
		--port "$SCRIPTED_PORT" --scenario "$2" --log "$TMP/$1.requests"
	wait_port "$SCRIPTED_PORT"
	conf_every "$1" http-connect "http://127.0.0.1:$SCRIPTED_PORT" \
		'username = CORP\alice' "password_file = $TMP/alice.secret"
}

scripted reject reject
expect_exit 3 "Type 3 refused: exit 3 (proxy authentication)" -- \
	"$PROXYSTACK" -c "$TMP/conf/reject" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "NTLM credentials were rejected" "$ERR" "Type 3 refused: says the credentials were rejected"
expect_grep "password" "$ERR" "Type 3 refused: the hint names the password"
expect_eq "$(grep -c '^# connection' "$TMP/reject.requests")" 3 \
	"Type 3 refused: three requests"
expect_eq "$(grep '^# connection' "$TMP/reject.requests" | sort -u | wc -l)" 1 \
	"Type 3 refused: all three on one connection"
expect_no_secret "Type 3 refused: no secret printed" "$PASS"

scripted closes close
expect_exit 3 "closed after Type 2: exit 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/closes" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "in the middle of the NTLM handshake" "$ERR" \
	"closed after Type 2: says the handshake was cut"
expect_eq "$(grep -c '^# connection' "$TMP/closes.requests")" 2 \
	"closed after Type 2: no reconnection between rounds"

scripted lmonly lm-only
expect_exit 4 "LM-only challenge: exit 4 (refused)" -- \
	"$PROXYSTACK" -c "$TMP/conf/lmonly" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "offers LM only" "$ERR" "LM-only challenge: says why"
expect_eq "$(grep -c '^# connection' "$TMP/lmonly.requests")" 2 \
	"LM-only challenge: no Type 3 sent"

scripted garbage garbage
expect_exit 4 "challenge not base64: exit 4" -- \
	"$PROXYSTACK" -c "$TMP/conf/garbage" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "not base64" "$ERR" "challenge not base64: says so"

scripted stamp accept-ts
expect_roundtrip "challenge with MsvAvTimestamp" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/stamp" connect --half-close "tcp://127.0.0.1:$TCP_DEST"
expect_grep "^Proxy-Authorization: NTLM TlRMTVNTUAADAAAAGAAYA" "$TMP/stamp.requests" \
	"challenge with MsvAvTimestamp: a Type 3 with a 24-byte LM field"
