#!/bin/bash
# t_auth_nogss.sh - a build without GSSAPI, when a proxy offers only
# Negotiate: it says so (the build has no GSSAPI, the proxy offers only
# Negotiate), with code unsupported and exit 7, and a hint a person can
# act on.  Offered NTLM as well, it uses NTLM.
#
# The module under test is tests/modules/nogss/http-connect.so: the
# sources of http-connect compiled once more with GSSAPI left out, as
# configure --without-gssapi (or a host without libkrb5-dev) builds them;
# not a second build of everything.  It sits in a module directory of its
# own beside the shipped direct.so.  The proxy is a real squid asking for
# Negotiate (negotiate_kerberos_auth with a keytab from a real KDC on
# loopback, kdc.sh); a second one asks for Negotiate or NTLM.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/kdc.sh
. "$(dirname "$0")/kdc.sh"

kdc_need t_auth_nogss
NOGSS=$PS_BUILD/tests/modules/nogss/.libs/http-connect.so
[ -f "$NOGSS" ] || bail_out "t_auth_nogss" "$NOGSS missing (make check builds it)"

MODS=$TMP/modules-nogss
mkdir -p "$MODS"
chmod 0755 "$MODS"
cp "$MODULE_DIR/direct.so" "$NOGSS" "$MODS"/
chmod 0755 "$MODS"/*.so
# The module really lacks GSSAPI: no gss_ symbol, no libgssapi.
if nm -D --undefined-only "$MODS/http-connect.so" | grep -q ' gss_'; then
	fail "the test module is built without GSSAPI" "it calls gss_* functions"
else
	ok "the test module is built without GSSAPI"
fi

start_kdc
start_echo plain --plain
DEST=tcp://127.0.0.1:$ECHO_PORT
start_squid neg --negotiate "$KDC/http.keytab" "$SPN"
NEG=$SQUID_PORT
start_squid both --negotiate "$KDC/http.keytab" "$SPN" --ntlm
BOTH=$SQUID_PORT

# nogss_conf NAME URL LINE...: conf_every with the module directory above.
nogss_conf() {
	local name=$1
	shift
	conf_every "$name" http-connect "$@"
	printf '[global]\nmodule_path = %s\n' "$MODS" |
		write_conf "$TMP/conf/$name" 10-modules.conf
}

nogss_conf only "http://localhost:$NEG" 'username = CORP\alice' "password = x"
squid_log_mark neg
expect_exit 7 "only Negotiate offered: exit 7" -- \
	"$PROXYSTACK" -c "$TMP/conf/only" check "$DEST"
expect_grep ": unsupported: .*407.*it offers: Negotiate;" "$ERR" \
	"only Negotiate offered: code unsupported, names what the proxy offers"
expect_grep "this build of proxystack has no GSSAPI" "$ERR" \
	"only Negotiate offered: says this build has no GSSAPI"
expect_grep "^hint: .*build with GSSAPI.*another scheme" "$ERR" \
	"only Negotiate offered: the hint says what to do"
expect_squid_log neg "TCP_DENIED/407 CONNECT 127.0.0.1:$ECHO_PORT " \
	"only Negotiate offered: squid answered 407"

# auth = negotiate named explicitly: the same error, before any token.
nogss_conf named "http://localhost:$NEG" "auth = negotiate"
expect_exit 7 "auth = negotiate: exit 7" -- \
	"$PROXYSTACK" -c "$TMP/conf/named" check "$DEST"
expect_grep ": unsupported: .*no GSSAPI" "$ERR" "auth = negotiate: says this build has no GSSAPI"

# Negotiate and NTLM offered: NTLM, on the same squid.
nogss_conf both "http://localhost:$BOTH" 'username = CORP\alice' "password = x"
expect_exit 0 "Negotiate and NTLM offered: check exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/both" check "$DEST"
expect_grep "auth NTLM" "$OUT" "Negotiate and NTLM offered: NTLM used"
