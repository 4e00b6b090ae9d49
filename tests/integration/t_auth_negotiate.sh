#!/bin/bash
# t_auth_negotiate.sh - Negotiate (Kerberos through GSSAPI/SPNEGO) proxy
# authentication against a real squid (negotiate_kerberos_auth) and a
# real MIT KDC that this script creates, unprivileged, on a free loopback
# port: its own KRB5_CONFIG and KRB5_KDC_PROFILE, realm PROXYSTACK.TEST,
# principals alice and HTTP/localhost, a keytab for squid.
#
# Single sign-on from a ticket cache (kinit into a private KRB5CCNAME, no
# password in our configuration), a keytab named in the configuration,
# tcp://, tls:// and wss:// on top, through http-connect and through
# squid's https_port (HTTP/1.1 only); squid's log names alice@REALM.
# Failures a person can act on: no ticket (a wrong password made kinit
# fail; the hint says kinit), an expired ticket, a proxy name the KDC
# has no HTTP/ principal for (the message names HTTP@host).

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/kdc.sh
. "$(dirname "$0")/kdc.sh"

kdc_need t_auth_negotiate --gssapi

start_kdc
make_ca dest
make_leaf dest server
make_ca proxyca
make_leaf proxyca proxy
CA=$CERTS/dest.pem
start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
TLS_DEST=$ECHO_PORT
start_echo plain --plain
TCP_DEST=$ECHO_PORT
start_ws_echo wss --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
WSS=$WS_PORT

start_squid neg --negotiate "$KDC/http.keytab" "$SPN"
NEG=$SQUID_PORT
start_squid negs --negotiate "$KDC/http.keytab" "$SPN" \
	--https "$CERTS/proxy-chain.pem" "$CERTS/proxy-key.pem"
NEGS=$SQUID_PORT
printf 'hello through Kerberos\n' >"$TMP/hello"


CC=FILE:$TMP/alice.cc
kdc_kinit "$CC"

# --- single sign-on from the ticket cache --------------------------------

conf_every sso http-connect "http://localhost:$NEG" "auth = negotiate"
squid_log_mark neg
expect_roundtrip "SSO, tcp://" "$TMP/hello" -- env KRB5CCNAME="$CC" \
	"$PROXYSTACK" -c "$TMP/conf/sso" connect -q 1 "tcp://127.0.0.1:$TCP_DEST"
expect_squid_log neg "TCP_TUNNEL/200 CONNECT 127.0.0.1:$TCP_DEST alice@$REALM " \
	"SSO, tcp://: squid names alice@$REALM"
# auth = negotiate: the ticket goes with the first request, as curl
# --proxy-negotiate sends it: one request, no 407.
expect_eq "$(squid_log_lines neg | grep -c "CONNECT 127.0.0.1:$TCP_DEST")" 1 \
	"SSO, tcp://: one request (the ticket with it)"
expect_roundtrip "SSO, tls://" "$TMP/hello" -- env KRB5CCNAME="$CC" \
	"$PROXYSTACK" -c "$TMP/conf/sso" connect --half-close \
	"tls://localhost:$TLS_DEST" --ca-file "$CA"
expect_squid_log neg "TCP_TUNNEL/200 CONNECT localhost:$TLS_DEST alice@$REALM " \
	"SSO, tls://: squid names alice@$REALM"
# No half-close: at the end of input a wss connect closes once the server
# has been quiet for a moment, so the echo is never cut short.
printf 'ws through Kerberos\n' |
	expect_exit 0 "SSO, wss://: connect exits 0" -- env KRB5CCNAME="$CC" \
		"$PROXYSTACK" -c "$TMP/conf/sso" connect \
		"wss://localhost:$WSS/k" --ca-file "$CA" &&
	expect_stdout "ws through Kerberos" "SSO, wss://: the message comes back"
expect_squid_log neg "TCP_TUNNEL/200 CONNECT localhost:$WSS alice@$REALM " \
	"SSO, wss://: squid names alice@$REALM"

# auto, no user name or password at all: Negotiate from the cache.
conf_every auto http-connect "http://localhost:$NEG"
expect_exit 0 "auto, no credentials configured: check exits 0" -- \
	env KRB5CCNAME="$CC" "$PROXYSTACK" -c "$TMP/conf/auto" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "auth Negotiate" "$OUT" "auto: check names Negotiate in its step"

# --- a keytab in the configuration --------------------------------------

conf_every keytab http-connect "http://localhost:$NEG" "auth = negotiate" \
	"keytab = $KDC/alice.keytab"
squid_log_mark neg
expect_roundtrip "keytab, tls://" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/keytab" connect --half-close \
	"tls://localhost:$TLS_DEST" --ca-file "$CA"
expect_squid_log neg "TCP_TUNNEL/200 CONNECT localhost:$TLS_DEST alice@$REALM " \
	"keytab: squid names alice@$REALM"

# --- through squid's https_port: HTTP/1.1 only -----------------------------

conf_every https https-proxy "https://localhost:$NEGS" "auth = negotiate" \
	"ca_file = $CERTS/proxyca.pem"
squid_log_mark negs
expect_roundtrip "HTTPS proxy, tls://" "$TMP/hello" -- env KRB5CCNAME="$CC" \
	"$PROXYSTACK" -c "$TMP/conf/https" connect --half-close \
	"tls://localhost:$TLS_DEST" --ca-file "$CA"
expect_squid_log negs "TCP_TUNNEL/200 CONNECT localhost:$TLS_DEST alice@$REALM " \
	"HTTPS proxy: squid names alice@$REALM"
expect_exit 0 "HTTPS proxy: check exits 0" -- env KRB5CCNAME="$CC" \
	"$PROXYSTACK" -c "$TMP/conf/https" check "wss://localhost:$WSS/k" --ca-file "$CA"
expect_grep ": 200 .*over http/1.1, auth Negotiate.*HTTP/1.1 only" "$OUT" \
	"HTTPS proxy: check says Negotiate over HTTP/1.1 only"

# A ticket is there and auth names negotiate first, but this proxy offers
# only NTLM: the Negotiate token sent with the first request is dropped
# and NTLM runs on the same connection.
start_squid ntlmonly --ntlm
conf_every fallback http-connect "http://localhost:$SQUID_PORT" \
	"auth = negotiate, ntlm" 'username = CORP\alice' "password = x"
expect_exit 0 "Negotiate first, proxy offers NTLM only: check exits 0" -- \
	env KRB5CCNAME="$CC" "$PROXYSTACK" -c "$TMP/conf/fallback" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "auth NTLM" "$OUT" "Negotiate first, proxy offers NTLM only: NTLM used"

# --- failures ------------------------------------------------------------

# A wrong password: kinit fails, so there is no ticket.
BAD=FILE:$TMP/bad.cc
if echo 'wrong-Pw' | KRB5CCNAME=$BAD kinit alice >"$TMP/kinit-bad.out" 2>&1; then
	fail "kinit with a wrong password fails" "it succeeded"
else
	ok "kinit with a wrong password fails"
fi
expect_exit 3 "no ticket: exit 3" -- env KRB5CCNAME="$BAD" \
	"$PROXYSTACK" -c "$TMP/conf/sso" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "no Kerberos ticket, for HTTP@localhost" "$ERR" "no ticket: says so, naming the service"
expect_grep "hint: .*kinit" "$ERR" "no ticket: the hint says kinit"
expect_grep "it offers: Negotiate" "$ERR" "no ticket: names the offered schemes"

# An expired ticket.
EXP=FILE:$TMP/expired.cc
echo "$KDC_ALICE_PW" | KRB5CCNAME=$EXP kinit -l 2s alice >"$TMP/kinit-exp.out" 2>&1 ||
	bail_out "kinit -l 2s" "$(cat "$TMP/kinit-exp.out")"
sleep 3
expect_exit 3 "expired ticket: exit 3" -- env KRB5CCNAME="$EXP" \
	"$PROXYSTACK" -c "$TMP/conf/sso" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "expired" "$ERR" "expired ticket: says so"
expect_grep "hint: .*kinit" "$ERR" "expired ticket: the hint says kinit"

# The proxy by a name the KDC has no HTTP/ principal for.
conf_every byip http-connect "http://127.0.0.1:$NEG" "auth = negotiate"
expect_exit 3 "unknown service principal: exit 3" -- env KRB5CCNAME="$CC" \
	"$PROXYSTACK" -c "$TMP/conf/byip" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "does not know the proxy's service principal, for HTTP@127.0.0.1" "$ERR" \
	"unknown service principal: names the HTTP@host used"
expect_grep "hint: .*host name" "$ERR" "unknown service principal: the hint names the host name"
