#!/bin/bash
# t_pac_https_proxy.sh - an HTTPS proxy a PAC script names gets the trust
# and the credentials of the [transport] section whose url is that proxy:
# squid on an https_port with a certificate from a private CA and Basic
# auth, named by a PAC script ("HTTPS localhost:PORT").  With the
# section's ca_file and password_file, data round-trips and squid logs
# the user; without a section, the system's CAs refuse the proxy (exit
# 5); a wrong password is proxy_auth (exit 3); and a proxy the section
# does not name (another host for the same port) gets none of its keys.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/pac_lib.sh
. "$(dirname "$0")/pac_lib.sh"
need_duktape

make_ca dest
make_ca proxy
make_leaf dest server
make_leaf proxy proxysrv
make_htpasswd "$TMP/htpasswd" alice 'wonder land'
printf 'wonder land\n' >"$TMP/alice.pw"
printf 'not it\n' >"$TMP/wrong.pw"
chmod 0600 "$TMP/alice.pw" "$TMP/wrong.pw"
start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
DEST=$ECHO_PORT
start_squid pacsquid --https "$CERTS/proxysrv-chain.pem" \
	"$CERTS/proxysrv-key.pem" --basic "$TMP/htpasswd"
SQ=$SQUID_PORT

# pac_conf NAME ANSWER [LINE...]: $TMP/conf-NAME whose PAC script answers
# ANSWER for every destination, plus LINEs (a [transport] section); the
# command in PS.
pac_conf() {
	local dir=$TMP/conf-$1 script=$TMP/$1.pac
	printf 'function FindProxyForURL(url, host) { return "%s"; }\n' \
		"$2" >"$script"
	shift 2
	make_conf "$dir"
	{
		printf '[select auto]\nmodule = pac\nfile = %s\n' "$script"
		printf '[route all]\nmatch = *\nselect = auto\n'
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
	} | write_conf "$dir" 50-pac.conf
	PS=("$PROXYSTACK" -c "$dir")
}
# corp PASSWORD_FILE: the lines of [transport corp], squid with its keys.
corp() {
	CORP=("[transport corp]" "module = https-proxy"
		"url = https://localhost:$SQ" "ca_file = $CERTS/proxy.pem"
		"username = alice" "password_file = $1")
}
printf 'through the PAC-named https proxy\n' >"$TMP/hello"
# TLS to the destination: squid drops an answer still on its way when the
# client half-closes a plain tunnel.
URL=tls://localhost:$DEST
DEST_CA=(--ca-file "$CERTS/dest.pem")
CHAIN="direct -> tls(localhost:$SQ) -> https-proxy(https://localhost:$SQ) -> tls"

corp "$TMP/alice.pw"
pac_conf good "HTTPS localhost:$SQ" "${CORP[@]}"
expect_exit 0 "with [transport corp]: which exits 0" -- "${PS[@]}" which "$URL"
expect_grep -F "#   1. $CHAIN, as [transport corp] configures it" "$OUT" \
	"with [transport corp]: which names the section"
expect_roundtrip "with [transport corp]: data" "$TMP/hello" -- \
	"${PS[@]}" connect --half-close "$URL" "${DEST_CA[@]}"
expect_squid_log pacsquid "TCP_TUNNEL/200 CONNECT localhost:$DEST alice " \
	"with [transport corp]: squid logged alice's CONNECT"

# No section: what a PAC-named HTTPS proxy had before, the system's CAs.
pac_conf bare "HTTPS localhost:$SQ"
expect_exit 5 "no section: the private CA is not trusted (exit 5)" -- \
	"${PS[@]}" connect --half-close "$URL" "${DEST_CA[@]}" <"$TMP/hello"
expect_grep -F "localhost:$SQ" "$ERR" "no section: the error names the proxy"

corp "$TMP/wrong.pw"
pac_conf wrong "HTTPS localhost:$SQ" "${CORP[@]}"
expect_exit 3 "a wrong password: proxy_auth (exit 3)" -- \
	"${PS[@]}" connect --half-close "$URL" "${DEST_CA[@]}" <"$TMP/hello"
expect_grep -F "credentials were rejected" "$ERR" \
	"a wrong password: says the credentials were rejected"

# The script names 127.0.0.1, the section localhost: another proxy as
# far as the configuration knows, so neither CA file nor password goes.
corp "$TMP/alice.pw"
pac_conf other "HTTPS 127.0.0.1:$SQ" "${CORP[@]}"
expect_exit 0 "another host: which exits 0" -- "${PS[@]}" which "$URL"
expect_no_grep -F "configures it" "$OUT" "another host: no section named"
expect_exit 5 "another host: the section's CA is not used (exit 5)" -- \
	"${PS[@]}" connect --half-close "$URL" "${DEST_CA[@]}" <"$TMP/hello"

# Failover keeps each proxy's own keys: a dead one first, then squid.
DEAD=$(free_port)
pac_conf failover "HTTPS localhost:$DEAD; HTTPS localhost:$SQ" \
	"${CORP[@]}"
expect_roundtrip "failover to the configured proxy: data" "$TMP/hello" -- \
	"${PS[@]}" connect --half-close "$URL" "${DEST_CA[@]}"
