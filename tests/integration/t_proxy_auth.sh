#!/bin/bash
# t_proxy_auth.sh - proxy authentication against a real squid.
#
# Basic (basic_ncsa_auth + htpasswd) with a password holding @ : / %, given
# percent-encoded in the proxy URL, as username + password_file, and from
# the environment; Digest (digest_file_auth).  Right credentials connect,
# wrong ones and missing ones exit 3 (proxy authentication) and say so,
# naming the scheme the proxy offered; the password never shows in what
# the CLI prints, not even with -v; squid's log shows who authenticated.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

USER1=alice
PASS='p@ss:w/rd%'
PASS_URL='p%40ss%3Aw%2Frd%25'
# What a leak could look like: the password, its URL form, the Basic token.
B64=$(printf '%s:%s' "$USER1" "$PASS" | base64 -w0)
SECRETS=("$PASS" "$PASS_URL" "$B64")

make_ca dest
make_leaf dest server
CA=$CERTS/dest.pem
start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
DEST=$ECHO_PORT
URL=tls://localhost:$DEST

make_htpasswd "$TMP/htpasswd" "$USER1" "$PASS"
make_htpasswd "$TMP/htpasswd" bob 'bobs-password'
start_squid basic --basic "$TMP/htpasswd"
BASIC=$SQUID_PORT

make_digest_file "$TMP/digest.users" carol "$PASS"
start_squid digest --digest "$TMP/digest.users"
DIGEST=$SQUID_PORT

printf 'hello through an authenticating proxy\n' >"$TMP/hello"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/1m"

# conf_default NAME LINE...: a config dir $TMP/conf/NAME whose [default]
# holds LINEs; 0600 like any file with a secret (proxystack warns otherwise).
conf_default() {
	local dir=$TMP/conf/$1
	shift
	make_conf "$dir"
	{
		echo "[default]"
		printf '%s\n' "$@"
	} | write_conf "$dir" 50-default.conf
	chmod 0600 "$dir/50-default.conf"
}

# password_file FILE PASS: a secret file, 0600, no trailing newline.
password_file() {
	printf '%s' "$2" >"$1"
	chmod 0600 "$1"
}

# --- Basic: credentials in the URL, percent-encoded ----------------------

conf_default inurl "proxy_url = http://$USER1:$PASS_URL@127.0.0.1:$BASIC"
expect_exit 0 "URL credentials: which exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/inurl" which "$URL" &&
	expect_stdout "direct -> http-connect(http://127.0.0.1:$BASIC) -> tls" \
		"URL credentials: which shows the proxy without them"
expect_no_secret "URL credentials: which prints no secret" "${SECRETS[@]}"

expect_roundtrip "Basic, URL credentials" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/inurl" connect --half-close "$URL" --ca-file "$CA"
expect_no_secret "Basic, URL credentials: connect prints no secret" "${SECRETS[@]}"
expect_squid_log basic "TCP_TUNNEL/200 CONNECT localhost:$DEST $USER1 " \
	"Basic, URL credentials: squid authenticated $USER1"
expect_roundtrip "Basic, URL credentials, 1 MiB" "$TMP/1m" -- \
	"$PROXYSTACK" -c "$TMP/conf/inurl" connect --half-close "$URL" --ca-file "$CA"

expect_exit 0 "Basic, URL credentials: check -v exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/inurl" -v check "$URL" --ca-file "$CA"
expect_no_secret "Basic, URL credentials: check -v prints no secret" "${SECRETS[@]}"
expect_exit 0 "Basic, URL credentials: show-config exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/inurl" -v show-config "$URL"
expect_no_secret "Basic, URL credentials: show-config prints no secret" "${SECRETS[@]}"

# --- Basic: username + password_file --------------------------------------

password_file "$TMP/alice.secret" "$PASS"
conf_default pwfile "proxy_url = http://127.0.0.1:$BASIC" \
	"proxy_username = $USER1" "proxy_password_file = $TMP/alice.secret"
expect_roundtrip "Basic, proxy_password_file in [default]" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/pwfile" connect --half-close "$URL" --ca-file "$CA"
expect_exit 0 "Basic, proxy_password_file: check -v exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/pwfile" -v check "$URL" --ca-file "$CA"
expect_no_secret "Basic, proxy_password_file: check -v prints no secret" "${SECRETS[@]}"

# The same in the explicit form: [transport] username + password_file.
make_conf "$TMP/conf/transport"
write_conf "$TMP/conf/transport" 50-corp.conf <<EOF
[transport corp]
module = http-connect
url = http://127.0.0.1:$BASIC
username = $USER1
password_file = $TMP/alice.secret

[stack corp]
transport = corp

[route local]
match = localhost 127.0.0.1
stack = corp
EOF
expect_roundtrip "Basic, [transport] username + password_file" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/transport" connect --half-close "$URL" --ca-file "$CA"
expect_exit 0 "Basic, [transport]: check -v exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/transport" -v check "$URL" --ca-file "$CA"
expect_no_secret "Basic, [transport]: check -v prints no secret" "${SECRETS[@]}"

# --- Basic: from the environment --------------------------------------------

make_conf "$TMP/conf/empty"
expect_roundtrip "Basic, PROXYSTACK_PROXY_USERNAME/PASSWORD" "$TMP/hello" -- \
	env PROXYSTACK_PROXY_URL="http://127.0.0.1:$BASIC" \
	PROXYSTACK_PROXY_USERNAME="$USER1" PROXYSTACK_PROXY_PASSWORD="$PASS" \
	"$PROXYSTACK" -c "$TMP/conf/empty" connect --half-close "$URL" --ca-file "$CA"
expect_no_secret "Basic, environment: connect prints no secret" "${SECRETS[@]}"

# --- Basic: wrong and missing credentials ------------------------------------

WRONG='Wr0ng-p@ss'
WRONG_SECRETS=("$WRONG" "$(printf '%s:%s' "$USER1" "$WRONG" | base64 -w0)")
password_file "$TMP/wrong.secret" "$WRONG"
conf_default wrong "proxy_url = http://127.0.0.1:$BASIC" \
	"proxy_username = $USER1" "proxy_password_file = $TMP/wrong.secret"
expect_exit 3 "Basic, wrong password: connect exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/wrong" connect --half-close "$URL" --ca-file "$CA" <"$TMP/hello" &&
	expect_stdout "" "Basic, wrong password: connect prints no data"
expect_grep -i "407|auth" "$ERR" "Basic, wrong password: stderr says 407 / authentication"
expect_no_secret "Basic, wrong password: no secret in the error" "${WRONG_SECRETS[@]}"
expect_squid_log basic "TCP_DENIED/407 CONNECT localhost:$DEST $USER1 " \
	"Basic, wrong password: squid refused $USER1"

expect_exit 3 "Basic, wrong password: check -v exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/wrong" -v check "$URL" --ca-file "$CA"
expect_no_secret "Basic, wrong password: check -v prints no secret" "${WRONG_SECRETS[@]}"

# Wrong credentials in the URL: the same, and not a word of them.
conf_default wrongurl "proxy_url = http://$USER1:Wr0ng-p%40ss@127.0.0.1:$BASIC"
expect_exit 3 "Basic, wrong URL password: check exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/wrongurl" check "$URL" --ca-file "$CA"
expect_no_secret "Basic, wrong URL password: no secret in the error" \
	"${WRONG_SECRETS[@]}" "Wr0ng-p%40ss"

# An unknown user.
conf_default nouser "proxy_url = http://mallory:$PASS_URL@127.0.0.1:$BASIC"
expect_exit 3 "Basic, unknown user: check exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/nouser" check "$URL" --ca-file "$CA"

conf_default nocreds "proxy_url = http://127.0.0.1:$BASIC"
expect_exit 3 "Basic, no credentials: connect exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/nocreds" connect --half-close "$URL" --ca-file "$CA" <"$TMP/hello"
expect_grep "407" "$ERR" "Basic, no credentials: stderr gives the status 407"
# "it offers: Basic; supported: ..." or the like: the offered scheme must
# be named as offered, not only in a list of what proxystack supports.
expect_grep -i "offer[^;]*basic" "$ERR" \
	"Basic, no credentials: stderr names the offered scheme Basic"

# --- Digest -------------------------------------------------------------------

password_file "$TMP/carol.secret" "$PASS"
conf_default digest "proxy_url = http://127.0.0.1:$DIGEST" \
	"proxy_username = carol" "proxy_password_file = $TMP/carol.secret"
expect_roundtrip "Digest, right credentials" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/digest" connect --half-close "$URL" --ca-file "$CA"
expect_squid_log digest "TCP_TUNNEL/200 CONNECT localhost:$DEST carol " \
	"Digest: squid authenticated carol"
expect_roundtrip "Digest, 1 MiB" "$TMP/1m" -- \
	"$PROXYSTACK" -c "$TMP/conf/digest" connect --half-close "$URL" --ca-file "$CA"
expect_exit 0 "Digest: check -v exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/digest" -v check "$URL" --ca-file "$CA"
expect_no_secret "Digest: check -v prints no secret" "$PASS" "$PASS_URL"

conf_default digesturl "proxy_url = http://carol:$PASS_URL@127.0.0.1:$DIGEST"
expect_roundtrip "Digest, URL credentials" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/digesturl" connect --half-close "$URL" --ca-file "$CA"

conf_default digestwrong "proxy_url = http://127.0.0.1:$DIGEST" \
	"proxy_username = carol" "proxy_password_file = $TMP/wrong.secret"
expect_exit 3 "Digest, wrong password: connect exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/digestwrong" connect --half-close "$URL" --ca-file "$CA" \
	<"$TMP/hello" &&
	expect_stdout "" "Digest, wrong password: connect prints no data"
expect_grep -i "407|auth" "$ERR" "Digest, wrong password: stderr says 407 / authentication"
expect_no_secret "Digest, wrong password: no secret in the error" "$WRONG"

conf_default digestnone "proxy_url = http://127.0.0.1:$DIGEST"
expect_exit 3 "Digest, no credentials: check exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/digestnone" check "$URL" --ca-file "$CA"
expect_grep -i "offer[^;]*digest" "$ERR" \
	"Digest, no credentials: stderr names the offered scheme Digest"
expect_no_grep -i "offer[^;]*basic" "$ERR" \
	"Digest, no credentials: Basic is not named as offered"

# --- both schemes offered (two Proxy-Authenticate headers) ------------------

make_htpasswd "$TMP/both.htpasswd" carol "$PASS"
start_squid both --digest "$TMP/digest.users" --basic "$TMP/both.htpasswd"
BOTH=$SQUID_PORT
conf_default both "proxy_url = http://127.0.0.1:$BOTH" \
	"proxy_username = carol" "proxy_password_file = $TMP/carol.secret"
expect_roundtrip "Digest and Basic offered: right credentials" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/both" connect --half-close "$URL" --ca-file "$CA"
expect_squid_log both "TCP_TUNNEL/200 CONNECT localhost:$DEST carol " \
	"Digest and Basic offered: squid authenticated carol"
conf_default bothnone "proxy_url = http://127.0.0.1:$BOTH"
expect_exit 3 "Digest and Basic offered, no credentials: check exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/bothnone" check "$URL" --ca-file "$CA"
expect_grep -i "offer[^;]*digest" "$ERR" \
	"Digest and Basic offered: stderr names Digest as offered"
expect_grep -i "offer[^;]*basic" "$ERR" \
	"Digest and Basic offered: stderr names Basic as offered"
