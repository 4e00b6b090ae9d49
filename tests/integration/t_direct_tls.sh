#!/bin/bash
# t_direct_tls.sh - end-to-end TLS to the destination over direct TCP.
#
# Destination trust is what the tests vary: the right CA, a wrong one, a
# certificate for another name, an expired one, an IP SAN, --insecure,
# mutual TLS (flags and [global] keys), and ca_file from the config and
# the environment.  Verification failures must exit 5 with OpenSSL's
# reason on stderr.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

make_ca dest          # signs the destinations' certificates
make_ca other         # trusted by nobody here: the "wrong CA"
make_ca clients       # signs the agent's client certificate
make_leaf dest server
make_leaf dest elsewhere "DNS:other.example"
make_leaf dest stale "" expired
make_client clients agent

CA=$CERTS/dest.pem
CERT=$CERTS/agent.pem
KEY=$CERTS/agent-key.pem

start_echo good --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
GOOD=$ECHO_PORT
start_echo wrongname --cert "$CERTS/elsewhere.pem" --key "$CERTS/elsewhere-key.pem"
WRONGNAME=$ECHO_PORT
start_echo expired --cert "$CERTS/stale.pem" --key "$CERTS/stale-key.pem"
EXPIRED=$ECHO_PORT
start_echo mtls --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem" \
	--client-ca "$CERTS/clients.pem"
MTLS=$ECHO_PORT
# TLS 1.2 rejects a missing client certificate inside the handshake; 1.3
# only after the client thinks it is done.  Both must fail.
start_echo mtls12 --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem" \
	--client-ca "$CERTS/clients.pem" --max-tls 1.2
MTLS12=$ECHO_PORT

CONF=$TMP/conf
make_conf "$CONF"
PS=("$PROXYSTACK" -c "$CONF")

printf 'hello over tls\n' >"$TMP/hello"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/1m"

# --- the right CA ------------------------------------------------------

expect_exit 0 "right CA: connect exits 0" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$GOOD" --ca-file "$CA" <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "right CA: hello comes back"

expect_exit 0 "right CA: 1 MiB connect exits 0" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$GOOD" --ca-file "$CA" <"$TMP/1m" &&
	expect_same_file "$TMP/1m" "$OUT" "right CA: 1 MiB comes back exact"

# A server that ends with a bare TCP close (no close_notify): what came
# is printed, but the end may be a truncation, so it is an error (exit 1)
# naming the missing close_notify; t_tls_truncation.sh has the rest.
start_echo noclosenotify --cert "$CERTS/server-chain.pem" \
	--key "$CERTS/server-key.pem" --no-close-notify
expect_exit 1 "no close_notify: connect exits 1" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$ECHO_PORT" --ca-file "$CA" <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "no close_notify: hello comes back" &&
	expect_grep "^proxystack: error: tls: TLS read: the peer localhost closed without close_notify \(the answer may be truncated\)$" \
		"$ERR" "no close_notify: stderr names the truncation"

# Options may stand before the URL too.
expect_exit 0 "right CA: options before the URL" -- \
	"${PS[@]}" connect --ca-file "$CA" --half-close "tls://localhost:$GOOD" <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "options before the URL: hello comes back"

expect_exit 0 "check: exits 0" -- \
	"${PS[@]}" check "tls://localhost:$GOOD" --ca-file "$CA" &&
	expect_grep '(^|[^[:alnum:]_-])direct([^[:alnum:]_-]|$)' "$OUT" \
		"check: prints a direct step" &&
	expect_grep '(^|[^[:alnum:]_-])tls([^[:alnum:]_-]|$)' "$OUT" \
		"check: prints a tls step"

# https:// is tls:// with another default port.
expect_exit 0 "https:// URL with a port: check exits 0" -- \
	"${PS[@]}" check "https://localhost:$GOOD" --ca-file "$CA"

# --- failures of verification -----------------------------------------

expect_exit 5 "wrong CA: check exits 5" -- \
	"${PS[@]}" check "tls://localhost:$GOOD" --ca-file "$CERTS/other.pem"
expect_grep -i "unable to get local issuer certificate|certificate verify" \
	"$ERR" "wrong CA: stderr gives the verify failure"

expect_exit 5 "wrong CA: connect exits 5" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$GOOD" --ca-file "$CERTS/other.pem" \
	<"$TMP/hello" &&
	expect_stdout "" "wrong CA: connect prints no data"

expect_exit 5 "wrong hostname: check exits 5" -- \
	"${PS[@]}" check "tls://localhost:$WRONGNAME" --ca-file "$CA"
expect_grep -i "hostname mismatch" "$ERR" "wrong hostname: stderr says hostname mismatch"

expect_exit 5 "expired: check exits 5" -- \
	"${PS[@]}" check "tls://localhost:$EXPIRED" --ca-file "$CA"
expect_grep -i "expired" "$ERR" "expired: stderr says expired"

# --- IP SAN, --insecure -----------------------------------------------

expect_exit 0 "IP SAN: connect tls://127.0.0.1 exits 0" -- \
	"${PS[@]}" connect --half-close "tls://127.0.0.1:$GOOD" --ca-file "$CA" <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "IP SAN: hello comes back"

# The wrong-name certificate has no IP SAN: an IP must not match its DNS name.
expect_exit 5 "IP without IP SAN: check exits 5" -- \
	"${PS[@]}" check "tls://127.0.0.1:$WRONGNAME" --ca-file "$CA"

expect_exit 0 "insecure: wrong CA connects" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$GOOD" --ca-file "$CERTS/other.pem" \
	--insecure <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "insecure: hello comes back"
expect_grep -i "insecure|verification" "$ERR" "insecure: stderr warns about it"

# --- mutual TLS -------------------------------------------------------

expect_exit 0 "mtls: --cert/--key accepted" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$MTLS" --ca-file "$CA" \
	--cert "$CERT" --key "$KEY" <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "mtls: hello comes back"
expect_grep -F "client=agent" "$TMP/mtls.log" "mtls: the server saw our certificate"

MTLS_CONF=$TMP/conf-mtls
make_conf "$MTLS_CONF" "ca_file = $CA" "client_cert_file = $CERT" \
	"client_key_file = $KEY"
expect_exit 0 "mtls: client_cert_file/client_key_file in [global]" -- \
	"$PROXYSTACK" -c "$MTLS_CONF" connect --half-close "tls://localhost:$MTLS" \
	<"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "mtls from config: hello comes back"

# TLS 1.3: the refusal arrives as an alert after the handshake, so the
# data exchange is what fails.  Not a verification of *our* trust: a TLS
# error (1) or a verify error (5), and stderr must say TLS.
expect_exit "1|5" "mtls: no client certificate is refused" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$MTLS" --ca-file "$CA" <"$TMP/hello"
expect_grep -i "tls" "$ERR" "mtls: the refusal is reported as TLS"
expect_no_grep -F "hello over tls" "$OUT" "mtls: refused connection echoes nothing"

expect_exit "1|5" "mtls TLS 1.2: no client certificate fails check" -- \
	"${PS[@]}" check "tls://localhost:$MTLS12" --ca-file "$CA"
expect_grep -i "tls" "$ERR" "mtls TLS 1.2: the refusal is reported as TLS"

expect_exit 0 "mtls TLS 1.2: with a certificate" -- \
	"${PS[@]}" connect --half-close "tls://localhost:$MTLS12" --ca-file "$CA" \
	--cert "$CERT" --key "$KEY" <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "mtls TLS 1.2: hello comes back"
expect_grep -F "TLSv1.2" "$TMP/mtls12.log" "mtls TLS 1.2: the server spoke TLS 1.2"

# --- destination trust from configuration and environment -------------

CA_CONF=$TMP/conf-ca
make_conf "$CA_CONF" "ca_file = $CA"
expect_exit 0 "ca_file in [global]: connect exits 0" -- \
	"$PROXYSTACK" -c "$CA_CONF" connect --half-close "tls://localhost:$GOOD" <"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "ca_file in [global]: hello comes back"

# Without any CA setting the system store knows nothing of our test CA.
expect_exit 5 "no ca_file: the system store refuses the test CA" -- \
	"${PS[@]}" check "tls://localhost:$GOOD"

expect_exit 0 "PROXYSTACK_CA_FILE: check exits 0" -- \
	env PROXYSTACK_CA_FILE="$CA" "${PS[@]}" check "tls://localhost:$GOOD"

# --ca-file overrides the configured ca_file.
expect_exit 5 "--ca-file beats ca_file in [global]" -- \
	"$PROXYSTACK" -c "$CA_CONF" check "tls://localhost:$GOOD" \
	--ca-file "$CERTS/other.pem"
