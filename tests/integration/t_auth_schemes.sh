#!/bin/bash
# t_auth_schemes.sh - which scheme the CONNECT modules pick, against a
# real squid offering NTLM and Basic: auth = basic sends Basic with the
# first request (no 407 round trip: squid logs no 407 for it, where auto
# pays one), a list restricts the choice (basic alone never sends NTLM,
# ntlm alone never Basic), a list without a scheme the proxy offers
# fails with exit 3 naming what it offers, and an unknown scheme in
# `auth` is a configuration error (exit 2) naming the key.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

PASS='sch3mes-Pw'
start_echo plain --plain
DEST=$ECHO_PORT
make_htpasswd "$TMP/htpasswd" alice "$PASS"
start_squid both --ntlm --basic "$TMP/htpasswd"
SQ=$SQUID_PORT
printf '%s' "$PASS" >"$TMP/alice.secret"
chmod 0600 "$TMP/alice.secret"
URL=tcp://127.0.0.1:$DEST

# count_status STATUS: CONNECTs squid logged with STATUS since the mark.
count_status() {
	squid_log_lines both | grep -c "/$1 CONNECT 127.0.0.1:$DEST "
}

# through NAME CONF: check through squid; waits for squid's log line.
through() {
	squid_log_mark both
	expect_exit 0 "$1: check exits 0" -- \
		"$PROXYSTACK" -c "$TMP/conf/$2" check "$URL"
	squid_log_has both "TCP_TUNNEL/200 CONNECT 127.0.0.1:$DEST " || true
}

# --- preemptive Basic: one round trip less ---------------------------------

conf_every basic http-connect "http://127.0.0.1:$SQ" "username = alice" \
	"password_file = $TMP/alice.secret" "auth = basic"
through "auth = basic" basic
expect_grep "auth Basic" "$OUT" "auth = basic: check names Basic"
expect_squid_log both "TCP_TUNNEL/200 CONNECT 127.0.0.1:$DEST alice " \
	"auth = basic: squid names alice (Basic, not NTLM's mangled name)"
expect_eq "$(count_status 407)" 0 "auth = basic: no 407, the first request carried Basic"
expect_eq "$(count_status 200)" 1 "auth = basic: one request in all"

conf_every auto http-connect "http://127.0.0.1:$SQ" "username = alice" \
	"password_file = $TMP/alice.secret" "auth = basic, digest"
through "auth = basic, digest (not preemptive)" auto
expect_eq "$(count_status 407)" 1 "auth = basic, digest: one 407 first"
expect_grep "auth Basic" "$OUT" "auth = basic, digest: Basic chosen (NTLM not listed)"

# --- a list restricts the choice ------------------------------------------

conf_every ntlm http-connect "http://127.0.0.1:$SQ" 'username = CORP\alice' \
	"password_file = $TMP/alice.secret" "auth = ntlm"
through "auth = ntlm" ntlm
expect_grep "auth NTLM" "$OUT" "auth = ntlm: NTLM chosen"

conf_every digest http-connect "http://127.0.0.1:$SQ" "username = alice" \
	"password_file = $TMP/alice.secret" "auth = digest, negotiate"
expect_exit 3 "auth = digest, negotiate against NTLM and Basic: exit 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/digest" check "$URL"
expect_grep "it offers: NTLM, Basic" "$ERR" "no scheme in common: names what the proxy offers"

# --- configuration ----------------------------------------------------------

conf_every bad http-connect "http://127.0.0.1:$SQ" "auth = kerberos"
expect_exit 2 "auth = kerberos: configuration error (exit 2)" -- \
	"$PROXYSTACK" -c "$TMP/conf/bad" check "$URL"
expect_grep "50-corp.conf:[0-9]+.*auth.*basic, digest, ntlm and negotiate" "$ERR" \
	"auth = kerberos: names the file, line, key and the schemes"
