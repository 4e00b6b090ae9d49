#!/bin/bash
# t_auth_skew.sh - Negotiate (Kerberos) when this host's clock is off:
# an error a person can act on.
#
# A real MIT KDC and squid (negotiate_kerberos_auth) on loopback, as in
# t_auth_negotiate.sh.  alice gets her ticket with the real clock; then
# proxystack runs under faketime 15 minutes ahead (libfaketime, an
# LD_PRELOAD library that moves every clock of the process), so the
# authenticator of its ticket request to the KDC is 15 minutes off,
# more than the 5 minutes Kerberos allows: the KDC answers
# KRB5KRB_AP_ERR_SKEW.  proxystack must say "clock skew", name the
# service, hint at the clock (NTP), carry proxy-auth and exit 3.  The
# same run 2 minutes ahead (within the allowed skew) authenticates: the
# fake clock, not something else, made the difference.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/kdc.sh
. "$(dirname "$0")/kdc.sh"

kdc_need t_auth_skew --gssapi faketime

start_echo plain --plain
TCP_DEST=$ECHO_PORT
kdc_squid_alice neg
NEG=$SQUID_PORT
CC=FILE:$TMP/alice.cc
conf_every sso http-connect "http://localhost:$NEG" "auth = negotiate"

# A sanitizer build's runtime must come first in the library list; with
# libfaketime preloaded it cannot, and that check is all that objects.
# FAKETIME_DONT_RESET: a child (the libtool wrapper's exec) keeps the
# offset instead of starting again from "now".
SKEWED=(env KRB5CCNAME="$CC" FAKETIME_DONT_RESET=1
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" faketime -f)

# faketime works on this host: date under it is 15 minutes ahead.
real=$(date +%s)
fake=$("${SKEWED[@]}" +15m date +%s)
ahead=$((fake - real))
if [ "$ahead" -ge 880 ] && [ "$ahead" -le 920 ]; then
	ok "faketime moves the clock 15 minutes ahead"
else
	fail "faketime moves the clock 15 minutes ahead" "date says $ahead s"
fi

expect_exit 3 "15 minutes ahead: check exits 3" -- \
	"${SKEWED[@]}" +15m "$PROXYSTACK" -c "$TMP/conf/sso" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep ": proxy-auth: .*clock skew" "$ERR" "15 minutes ahead: proxy-auth, says clock skew"
expect_grep "clock skew: .*for HTTP@localhost" "$ERR" "15 minutes ahead: names the service"
expect_grep "^hint: .*clock.*NTP" "$ERR" "15 minutes ahead: the hint says to set the clock (NTP)"
expect_grep "KDC" "$ERR" "15 minutes ahead: says whose clock differs (the KDC's)"
expect_grep "Clock skew too great" "$KDC/kdc.log" "the KDC logged the skew"

# Within the allowed skew it works: the fake clock, nothing else, made
# the difference.  (A cache of its own: that run stores a service ticket.)
CC2=FILE:$TMP/alice2.cc
kdc_kinit "$CC2"
SKEWED[1]=KRB5CCNAME=$CC2
expect_exit 0 "2 minutes ahead (within the allowed skew): check exits 0" -- \
	"${SKEWED[@]}" +2m "$PROXYSTACK" -c "$TMP/conf/sso" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep "auth Negotiate" "$OUT" "2 minutes ahead: authenticated with Negotiate"


# That cache now holds a ticket for HTTP/localhost: 15 minutes ahead, no
# request reaches the KDC, and squid's helper refuses the authenticator.
# HTTP Negotiate sends no Kerberos error back (squid answers a bare
# 407), so proxystack cannot know why: its hint names the clock among
# the causes.
expect_exit 3 "15 minutes ahead, service ticket cached: check exits 3" -- \
	"${SKEWED[@]}" +15m "$PROXYSTACK" -c "$TMP/conf/sso" check "tcp://127.0.0.1:$TCP_DEST"
expect_grep ": proxy-auth: .*the Negotiate credentials were rejected" "$ERR" \
	"service ticket cached: proxy-auth, the credentials were rejected"
expect_grep "^hint: .*clock" "$ERR" "service ticket cached: the hint names the clock"
