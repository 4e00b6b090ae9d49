#!/bin/bash
# t_proxy_https.sh - https-proxy: TLS to squid's https_port, then CONNECT.
#
# Two trusts that must never mix: the proxy's certificate chains to one
# test CA (ca_file in the [transport] section), the destination's to
# another (--ca-file).  Right CAs: data round-trips, TLS inside TLS.  The
# wrong proxy CA, or the destination's CA offered for the proxy, or the
# proxy's CA offered for the destination: exit 5.  The proxy's own
# insecure_tls switch does not loosen the destination's check.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

make_ca dest           # destinations
make_ca proxy          # HTTPS proxies
make_ca other          # nobody's
make_leaf dest server
make_leaf proxy proxysrv
DEST_CA=$CERTS/dest.pem
PROXY_CA=$CERTS/proxy.pem

start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
DEST=$ECHO_PORT
URL=tls://localhost:$DEST
DENIED=$(free_port)
start_squid tlsproxy --https "$CERTS/proxysrv-chain.pem" "$CERTS/proxysrv-key.pem" \
	--deny-port "$DENIED"
SQ=$SQUID_PORT

# conf_https NAME [LINE...]: $TMP/conf/NAME with [transport corp] for the
# https proxy plus LINEs in that section, a stack and a route for
# localhost and 127.0.0.1.
conf_https() {
	local dir=$TMP/conf/$1
	shift
	make_conf "$dir"
	{
		echo "[transport corp]"
		echo "module = https-proxy"
		echo "url = https://localhost:$SQ"
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
		printf '\n[stack corp]\ntransport = corp\n'
		printf '\n[route local]\nmatch = localhost 127.0.0.1\nstack = corp\n'
	} | write_conf "$dir" 50-proxy.conf
}

conf_https good "ca_file = $PROXY_CA"
conf_https wrongca "ca_file = $CERTS/other.pem"
conf_https destca "ca_file = $DEST_CA"
conf_https noca
conf_https insecure "ca_file = $CERTS/other.pem" "insecure_tls = true"
GOOD=("$PROXYSTACK" -c "$TMP/conf/good")

printf 'z' >"$TMP/1b"
printf 'hello through an https proxy\n' >"$TMP/hello"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/1m"

WANT="direct -> tls(localhost:$SQ) -> https-proxy(https://localhost:$SQ) -> tls"
expect_exit 0 "which exits 0" -- "${GOOD[@]}" which "$URL" &&
	expect_stdout "$WANT" "which prints '$WANT'"

expect_exit 0 "check exits 0" -- "${GOOD[@]}" check "$URL" --ca-file "$DEST_CA" &&
	expect_grep '(^|[^[:alnum:]_-])https-proxy([^[:alnum:]_-]|$)' "$OUT" \
		"check prints an https-proxy step"
expect_grep "^ *\[1\] tls +proxy localhost:$SQ TLSv1\.[23] alpn none verified against ca_file $PROXY_CA" \
	"$OUT" "check prints the proxy's TLS as its own step (protocol, ALPN, trust)"
expect_squid_log tlsproxy "TCP_TUNNEL/200 CONNECT localhost:$DEST " \
	"squid (https_port) logged the CONNECT"

expect_roundtrip "1 byte" "$TMP/1b" -- "${GOOD[@]}" connect --half-close "$URL" --ca-file "$DEST_CA"
expect_roundtrip "1 MiB" "$TMP/1m" -- "${GOOD[@]}" connect --half-close "$URL" --ca-file "$DEST_CA"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$TMP/64m"
expect_roundtrip "64 MiB, TLS in TLS" "$TMP/64m" -- \
	"${GOOD[@]}" connect --half-close "$URL" --ca-file "$DEST_CA"
rm -f "$TMP/64m" "$OUT"

expect_parallel_roundtrips 5 "https proxy" "$TMP/1m" -- \
	"${GOOD[@]}" connect --half-close "$URL" --ca-file "$DEST_CA"

# An https:// proxy_url picks the same module.
make_conf "$TMP/conf/default"
write_conf "$TMP/conf/default" 50-default.conf <<EOF
[default]
proxy_url = https://localhost:$SQ
EOF
expect_exit 0 "[default] https:// proxy: which exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/default" which "$URL" &&
	expect_stdout "$WANT" "[default] https:// proxy: same chain as the explicit form"

# --- proxy trust and destination trust are kept apart ----------------------

expect_exit 5 "wrong proxy CA: connect exits 5" -- \
	"$PROXYSTACK" -c "$TMP/conf/wrongca" connect --half-close "$URL" --ca-file "$DEST_CA" \
	<"$TMP/hello" &&
	expect_stdout "" "wrong proxy CA: connect prints no data"
expect_grep -i "verify|certificate" "$ERR" "wrong proxy CA: stderr gives the verify failure"
expect_grep -i "proxy.*(verif|certificate)|(verif|certificate).*proxy" "$ERR" \
	"wrong proxy CA: stderr says it is the proxy's certificate"

expect_exit 5 "no proxy ca_file (system store): check exits 5" -- \
	"$PROXYSTACK" -c "$TMP/conf/noca" check "$URL" --ca-file "$DEST_CA"

# --ca-file is the destination's trust only: it must not make the proxy
# trusted (the proxy chains to another CA).
expect_exit 5 "destination's CA offered for the proxy: check exits 5" -- \
	"$PROXYSTACK" -c "$TMP/conf/destca" check "$URL" --ca-file "$DEST_CA"

# ...and the proxy's ca_file must not make the destination trusted.
squid_log_mark tlsproxy
expect_exit 5 "proxy's CA offered for the destination: check exits 5" -- \
	"${GOOD[@]}" check "$URL" --ca-file "$PROXY_CA"
# That failure is past the proxy: the CONNECT went through.
expect_squid_log tlsproxy "TCP_TUNNEL/200 CONNECT localhost:$DEST " \
	"proxy's CA for the destination: the tunnel itself was up"

expect_exit 0 "insecure_tls for the proxy: check exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/insecure" check "$URL" --ca-file "$DEST_CA"
expect_exit 5 "insecure_tls for the proxy does not cover the destination" -- \
	"$PROXYSTACK" -c "$TMP/conf/insecure" check "$URL" --ca-file "$CERTS/other.pem"

# --- refusal through TLS ---------------------------------------------------

expect_exit 4 "403 port through the https proxy: exits 4" -- \
	"${GOOD[@]}" check "tls://localhost:$DENIED" --ca-file "$DEST_CA"
expect_grep "403" "$ERR" "403 through the https proxy: stderr gives 403"

# --- the proxy's TLS files are loaded with the configuration ---------------

conf_https nofile "ca_file = $TMP/no-such-ca.pem"
expect_exit 2 "missing proxy ca_file: which exits 2 (configuration)" -- \
	"$PROXYSTACK" -c "$TMP/conf/nofile" which "$URL"
expect_grep -F "50-proxy.conf:4: [transport corp] ca_file: $TMP/no-such-ca.pem: No such file or directory" \
	"$ERR" "missing proxy ca_file: file:line, the section, the key and the OS reason"
conf_https keyonly "ca_file = $PROXY_CA" "client_key_file = $CERTS/proxysrv-key.pem"
expect_exit 2 "proxy client_key_file without a certificate: exits 2" -- \
	"$PROXYSTACK" -c "$TMP/conf/keyonly" which "$URL"
expect_grep -F "[transport corp] client_key_file: a key without client_cert_file" \
	"$ERR" "proxy client_key_file without a certificate: the key is named"
