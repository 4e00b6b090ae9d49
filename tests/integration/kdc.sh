# tests/integration/kdc.sh - a real MIT Kerberos KDC on loopback, made
# and run unprivileged by the test (krb5-kdc, krb5-admin-server for
# kadmin.local, krb5-user for kinit).
#
# Sourced (bash) after lib.sh and proxies.sh:
#
#   start_kdc        realm $REALM (PROXYSTACK.TEST) in $KDC ($TMP/kdc):
#                    its own KRB5_CONFIG and KRB5_KDC_PROFILE (exported,
#                    so every later command and proxy uses this realm and
#                    nothing of the machine's), a KDC on a free loopback
#                    port ($KDC_PORT, TCP and UDP), principals alice
#                    (password $KDC_ALICE_PW) and HTTP/localhost ($SPN),
#                    keytabs $KDC/http.keytab (readable by squid's user,
#                    for negotiate_kerberos_auth) and $KDC/alice.keytab
#                    (alice's key as it is: her password still works).
#                    KRB5CCNAME and KRB5_KTNAME point at files that do
#                    not exist: no ticket unless a test makes one.
#   kdc_kinit CACHE  alice's ticket into CACHE (FILE:...), with her
#                    password on stdin; bails out if kinit fails.
#   kdc_squid_alice NAME
#                    start_kdc, a squid NAME asking for Negotiate with
#                    the KDC's HTTP/localhost keytab ($SQUID_PORT; needs
#                    proxies.sh), and alice's ticket in FILE:$TMP/alice.cc.
#   kdc_need NAME [--gssapi] [TOOL...]
#                    skip the script NAME (exit 77) unless the KDC's
#                    tools, squid's Negotiate helper and each TOOL are
#                    installed, and with --gssapi unless this build has
#                    GSSAPI.

REALM=PROXYSTACK.TEST
KDC_ALICE_PW='alice-Pw1'
SPN=HTTP/localhost@$REALM

# kdc_run NAME CMD...: a KDC setup step; bail out with its output.
kdc_run() {
	local name=$1
	shift
	"$@" >"$KDC/$name.out" 2>&1 ||
		bail_out "kdc: $name" "$(tail -n 5 "$KDC/$name.out")"
}

# kdc_write_profiles: krb5.conf for the clients and kdc.conf for the KDC.
kdc_write_profiles() {
	cat >"$KRB5_CONFIG" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
[realms]
	$REALM = {
		kdc = 127.0.0.1:$KDC_PORT
	}
[domain_realm]
	localhost = $REALM
EOF
	cat >"$KRB5_KDC_PROFILE" <<EOF
[kdcdefaults]
	kdc_ports = $KDC_PORT
	kdc_tcp_ports = $KDC_PORT
[realms]
	$REALM = {
		database_name = $KDC/principal
		key_stash_file = $KDC/stash
		acl_file = $KDC/kadm5.acl
		kdc_listen = 127.0.0.1:$KDC_PORT
		kdc_tcp_listen = 127.0.0.1:$KDC_PORT
		max_life = 1h
	}
[logging]
	kdc = FILE:$KDC/kdc.log
EOF
	chmod 0644 "$KRB5_CONFIG" "$KRB5_KDC_PROFILE"
	: >"$KDC/kadm5.acl"
}

start_kdc() {
	KDC=$TMP/kdc
	mkdir -p "$KDC"
	chmod 0755 "$KDC"
	KDC_PORT=$(free_port) || bail_out "kdc" "no free port"
	export KRB5_CONFIG=$KDC/krb5.conf KRB5_KDC_PROFILE=$KDC/kdc.conf
	# Nothing of the machine's: no default cache, no default keytab.
	export KRB5CCNAME=FILE:$TMP/no-such-cache
	export KRB5_KTNAME=FILE:$TMP/no-such-keytab
	kdc_write_profiles
	kdc_run create kdb5_util create -s -r "$REALM" -P 'master-key-Pw1'
	kdc_run alice kadmin.local -q "addprinc -pw $KDC_ALICE_PW alice"
	kdc_run http kadmin.local -q "addprinc -randkey HTTP/localhost"
	kdc_run ktadd-http kadmin.local -q "ktadd -k $KDC/http.keytab HTTP/localhost"
	kdc_run ktadd-alice kadmin.local -q "ktadd -norandkey -k $KDC/alice.keytab alice"
	# squid's helper runs as squid's user: it reads the service keytab.
	if [ "$(id -u)" = 0 ] && id "$PS_SQUID_USER" >/dev/null 2>&1; then
		chown "$PS_SQUID_USER:" "$KDC/http.keytab"
	fi
	start_bg kdc krb5kdc -n -r "$REALM"
	wait_port "$KDC_PORT"
}

kdc_kinit() {
	echo "$KDC_ALICE_PW" | KRB5CCNAME=$1 kinit alice >"$KDC/kinit.out" 2>&1 ||
		bail_out "kinit alice" "$(cat "$KDC/kinit.out")"
}

kdc_squid_alice() {
	start_kdc
	start_squid "$1" --negotiate "$KDC/http.keytab" "$SPN"
	kdc_kinit "FILE:$TMP/alice.cc"
}

kdc_need() {
	local name=$1 gss=0 tool
	shift
	[ "${1:-}" = --gssapi ] && gss=1 && shift
	for tool in krb5kdc kdb5_util kadmin.local kinit \
		/usr/lib/squid/negotiate_kerberos_auth "$@"; do
		command -v "$tool" >/dev/null 2>&1 && continue
		echo "skip - $name: $tool missing (krb5-kdc, krb5-user${1:+, $*})"
		exit 77
	done
	if [ "$gss" = 1 ] &&
		! grep -q '^#define HAVE_GSSAPI 1' "$PS_BUILD/config.h" 2>/dev/null; then
		echo "skip - $name: this build has no GSSAPI"
		exit 77
	fi
}
