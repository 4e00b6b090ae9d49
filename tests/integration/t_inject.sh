#!/bin/bash
# t_inject.sh - credentials and headers are values, never syntax.
#
# A user name, password, header or User-Agent holding CR, LF, NUL or
# another control byte would end the header it is sent in and write
# headers of its own (PROXYSTACK_PROXY_USERNAME=$'bob"\r\nX-Injected: 1'
# went verbatim into Digest's username="...").  Through every source --
# the proxy URL (percent-encoded), the username/password/password_file
# keys, [default]'s proxy_* keys, PROXYSTACK_PROXY_USERNAME/PASSWORD,
# HTTPS_PROXY -- and both proxy modules (http-connect in front of squid
# with Basic and with Digest, https-proxy in front of squid over TLS, and
# a scripted proxy that records every request), the configuration is
# refused: exit 2, the source named (file:line or the variable), the
# value never printed, not even with -v, and the proxy never sees a
# request.  A user name with ':' is refused too (RFC 7617).  The
# User-Agent carries the real version.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

PROXY_PY=$PS_LIB_DIR/scripted_proxy.py
INJ=$'bob"\r\nX-Injected: 1\r\nA: "'   # the issue's attempt, for variables
INJ_CR=$'bob"\rX-Injected: 1'            # one line: what a .conf can hold
SECRET='S3cr3t-Pw'
PW_INJ="$SECRET"$'\r\nX-Injected: 1'
VERSION=$("$PROXYSTACK" --version | awk '{ print $2 }')

# The recording proxy: accepts every CONNECT, logs every request head.
REC_PORT=$(free_port)
REC_LOG=$TMP/recorded.log
: >"$REC_LOG"
start_bg recorder "$PYTHON" -u "$PROXY_PY" --port "$REC_PORT" --scenario ok \
	--log "$REC_LOG"
wait_port "$REC_PORT"

make_htpasswd "$TMP/htpasswd" alice 'alices-pw'
start_squid basic --basic "$TMP/htpasswd" \
	--line "logformat ua %>a %{User-Agent}>h" \
	--line "access_log stdio:$TMP/basic/ua.log logformat=ua"
BASIC=$SQUID_PORT
make_digest_file "$TMP/digest.users" carol 'carols-pw'
start_squid digest --digest "$TMP/digest.users"
DIGEST=$SQUID_PORT
make_ca proxy
make_leaf proxy proxysrv
start_squid tlsproxy --https "$CERTS/proxysrv-chain.pem" \
	"$CERTS/proxysrv-key.pem" \
	--line "logformat ua %>a %{User-Agent}>h" \
	--line "access_log stdio:$TMP/tlsproxy/ua.log logformat=ua"
HTTPS=$SQUID_PORT
PROXY_CA=$CERTS/proxy.pem
# What the proxies logged so far (start-up probes) is not ours.
squid_log_mark basic
squid_log_mark digest
squid_log_mark tlsproxy

# conf NAME LINE...: config dir $TMP/conf/NAME, LINEs in 10-proxy.conf
# (0600: it may hold a password).  $CONF names it.
conf() {
	CONF=$TMP/conf/$1
	shift
	make_conf "$CONF"
	printf '%s\n' "$@" | write_conf "$CONF" 10-proxy.conf
	chmod 0600 "$CONF/10-proxy.conf"
}

# transport MODULE URL LINE...: conf with [transport corp] routed for all.
transport() {
	local module=$1 url=$2
	shift 2
	conf "$module-$((++NCONF))" "[transport corp]" "module = $module" \
		"url = $url" "$@" "[route all]" "match = *" "stack = corp"
}
NCONF=0

# secret_file TEXT: a 0600 password file holding TEXT; $PWFILE.
secret_file() {
	PWFILE=$TMP/secret-$((++NCONF))
	printf '%s' "$1" >"$PWFILE"
	chmod 0600 "$PWFILE"
}

# refused NAME SOURCE [VAR=VALUE...]: with $CONF (and the variables),
# show-config and `-v check` both exit 2 naming SOURCE, never print the
# injected header or the secret, and no proxy saw a request.
refused() {
	local name=$1 source=$2 cmd
	shift 2
	for cmd in show-config "-v check"; do
		# shellcheck disable=SC2086  # "-v check": two words
		expect_exit 2 "$name: $cmd exits 2" -- \
			env "$@" "$PROXYSTACK" -c "$CONF" $cmd tcp://example.test:7
		expect_grep -F -- "$source" "$ERR" "$name: $cmd names $source"
		expect_no_secret "$name: $cmd echoes neither value nor secret" \
			"X-Injected" "$SECRET"
	done
	expect_eq "$(grep -c . "$REC_LOG")" 0 "$name: the proxy saw nothing"
	for p in basic digest tlsproxy; do
		squid_log_lines "$p" >"$TMP/squid.lines"
		expect_eq "$(grep -c . "$TMP/squid.lines")" 0 \
			"$name: squid $p saw nothing"
	done
}

# --- the proxy URL ---------------------------------------------------------
transport http-connect "http://bob%0d%0aX-Injected:%201@127.0.0.1:$REC_PORT"
refused "URL user name with %0d%0a" "10-proxy.conf:3"
transport http-connect \
	"http://bob:$SECRET%0d%0aX-Injected:%201@127.0.0.1:$REC_PORT"
refused "URL password with %0d%0a" "10-proxy.conf:3"
transport https-proxy "https://bob%0d%0aX-Injected:%201@127.0.0.1:$HTTPS" \
	"ca_file = $PROXY_CA"
refused "https-proxy: URL user name with %0d%0a" "10-proxy.conf:3"

# --- username / password / password_file keys -----------------------------
transport http-connect "http://127.0.0.1:$REC_PORT" "username = $INJ_CR" \
	"password = pw"
refused "username key with CR (recorder)" "10-proxy.conf:4"
transport http-connect "http://127.0.0.1:$BASIC" "username = $INJ_CR" \
	"password = pw" "auth = basic"
refused "username key with CR (squid Basic)" "10-proxy.conf:4"
transport http-connect "http://127.0.0.1:$DIGEST" "username = $INJ_CR" \
	"password = pw" "auth = digest"
refused "username key with CR (squid Digest)" "10-proxy.conf:4"
transport https-proxy "https://127.0.0.1:$HTTPS" "ca_file = $PROXY_CA" \
	"username = $INJ_CR" "password = pw"
refused "https-proxy: username key with CR" "10-proxy.conf:5"
transport http-connect "http://127.0.0.1:$DIGEST" "username = carol" \
	"password = $SECRET"$'\rX-Injected: 1' "auth = digest"
refused "password key with CR (squid Digest)" "10-proxy.conf:5"
transport http-connect "http://127.0.0.1:$REC_PORT" "username = a:b" \
	"password = pw"
refused "user name with ':'" "10-proxy.conf:4"
expect_grep -F "RFC 7617" "$ERR" "user name with ':': says why (RFC 7617)"

secret_file "$SECRET"$'\rX-Injected: 1\n'
transport http-connect "http://127.0.0.1:$BASIC" "username = alice" \
	"password_file = $PWFILE"
refused "password_file with an embedded CR (squid Basic)" "10-proxy.conf:5"
expect_grep -F "$PWFILE" "$ERR" "password_file with a CR: the file is named"
transport https-proxy "https://127.0.0.1:$HTTPS" "ca_file = $PROXY_CA" \
	"username = alice" "password_file = $PWFILE"
refused "https-proxy: password_file with an embedded CR" "10-proxy.conf:6"
secret_file ""
printf '%s\000X-Injected: 1\n' "$SECRET" >"$PWFILE"   # bash strings hold no NUL
transport http-connect "http://127.0.0.1:$REC_PORT" "username = alice" \
	"password_file = $PWFILE"
refused "password_file with a NUL" "10-proxy.conf:5"
expect_grep -F "NUL" "$ERR" "password_file with a NUL: says so"
# A Windows line end is no injection: CRLF ends the line.
secret_file "alices-pw"$'\r\n'
transport http-connect "http://127.0.0.1:$BASIC" "username = alice" \
	"password_file = $PWFILE"
expect_exit 0 "password_file ending in CRLF: check exits 0" -- \
	"$PROXYSTACK" -c "$CONF" check "tcp://127.0.0.1:$REC_PORT"
expect_squid_log basic "TCP_TUNNEL/200 CONNECT 127.0.0.1:$REC_PORT alice " \
	"password_file ending in CRLF: squid authenticated alice"
squid_log_mark basic

# --- [default] keys and the variables ---------------------------------------
conf default-user "[default]" "proxy_url = http://127.0.0.1:$BASIC" \
	"proxy_username = $INJ_CR"
refused "[default] proxy_username with CR" "10-proxy.conf:3"
secret_file "$SECRET"$'\rX-Injected: 1'
conf default-pwfile "[default]" "proxy_url = http://127.0.0.1:$DIGEST" \
	"proxy_username = carol" "proxy_password_file = $PWFILE"
refused "[default] proxy_password_file with CR" "10-proxy.conf:4"

conf env-default "[default]" "proxy_url = http://127.0.0.1:$DIGEST"
refused "PROXYSTACK_PROXY_USERNAME (the issue's attempt, squid Digest)" \
	"PROXYSTACK_PROXY_USERNAME" PROXYSTACK_PROXY_USERNAME="$INJ" \
	PROXYSTACK_PROXY_PASSWORD=pw
conf env-basic "[default]" "proxy_url = http://127.0.0.1:$BASIC"
refused "PROXYSTACK_PROXY_PASSWORD with CR LF (squid Basic)" \
	"PROXYSTACK_PROXY_PASSWORD" PROXYSTACK_PROXY_USERNAME=alice \
	PROXYSTACK_PROXY_PASSWORD="$PW_INJ"
conf env-url
refused "PROXYSTACK_PROXY_URL with %0d%0a" "PROXYSTACK_PROXY_URL" \
	PROXYSTACK_PROXY_URL="http://bob%0d%0aX-Injected:%201@127.0.0.1:$REC_PORT"
conf env-https "[default]" "proxy_url = https://127.0.0.1:$HTTPS"
refused "https-proxy: PROXYSTACK_PROXY_USERNAME" "PROXYSTACK_PROXY_USERNAME" \
	PROXYSTACK_PROXY_USERNAME="$INJ" PROXYSTACK_PROXY_PASSWORD=pw
# A [transport] without credentials takes the variables: checked too.
transport http-connect "http://127.0.0.1:$REC_PORT"
refused "PROXYSTACK_PROXY_USERNAME for a [transport]" \
	"PROXYSTACK_PROXY_USERNAME" PROXYSTACK_PROXY_USERNAME="$INJ"

# HTTPS_PROXY is shared with other programs: it does not fail the load,
# but a connection that would use it fails with exit 2, never direct.
conf sysvar
for cmd in check "-v check"; do
	# shellcheck disable=SC2086
	expect_exit 2 "HTTPS_PROXY with %0d%0a: $cmd exits 2" -- env \
		HTTPS_PROXY="http://bob%0d%0aX-Injected:%201@127.0.0.1:$BASIC" \
		"$PROXYSTACK" -c "$CONF" $cmd "tls://localhost:443"
	expect_grep -F "HTTPS_PROXY" "$ERR" "HTTPS_PROXY with %0d%0a: $cmd names it"
	expect_no_secret "HTTPS_PROXY with %0d%0a: $cmd does not echo it" \
		"X-Injected"
done
expect_no_squid_log basic "CONNECT" "HTTPS_PROXY with %0d%0a: squid saw nothing"

# --- header and user_agent keys -------------------------------------------
transport http-connect "http://127.0.0.1:$REC_PORT" \
	"header = X-Token: $SECRET"$'\rX-Injected: 1'
refused "header key with CR" "10-proxy.conf:4"
transport https-proxy "https://127.0.0.1:$HTTPS" "ca_file = $PROXY_CA" \
	"user_agent = agent/1"$'\x01'
refused "https-proxy: user_agent with a control byte" "10-proxy.conf:5"
transport http-connect "http://127.0.0.1:$REC_PORT" \
	"user_agent = agent/1"$'\rX-Injected: 1'
refused "http-connect: user_agent with CR" "10-proxy.conf:4"

# --- the User-Agent carries the real version --------------------------------
# expect_logged TEXT FILE NAME: squid logs a tunnel when it ends, a moment
# after the client is done: wait up to 3 s for TEXT in FILE.
expect_logged() {
	local i
	for ((i = 0; i < 30; i++)); do
		grep -qF -- "$1" "$2" 2>/dev/null && break
		sleep 0.1
	done
	expect_grep -F -- "$1" "$2" "$3"
}

if [[ $VERSION =~ ^[0-9]+\.[0-9]+ ]]; then
	ok "proxystack --version gives a version ($VERSION)"
else
	fail "proxystack --version gives a version" "got '$VERSION'"
fi
transport http-connect "http://127.0.0.1:$REC_PORT"
expect_exit 0 "default User-Agent: connect exits 0" -- \
	"$PROXYSTACK" -c "$CONF" connect -q 0 tcp://example.test:7 <<<"hi"
expect_grep -F "User-Agent: proxystack/$VERSION"$'\r' "$REC_LOG" \
	"the recorder sees User-Agent: proxystack/$VERSION"
transport http-connect "http://127.0.0.1:$BASIC" "username = alice" \
	"password = alices-pw"
expect_exit 0 "default User-Agent through squid: check exits 0" -- \
	"$PROXYSTACK" -c "$CONF" check "tcp://127.0.0.1:$REC_PORT"
expect_logged "proxystack/$VERSION" "$TMP/basic/ua.log" \
	"squid logs User-Agent proxystack/$VERSION"
transport https-proxy "https://127.0.0.1:$HTTPS" "ca_file = $PROXY_CA"
expect_exit 0 "https-proxy default User-Agent: check exits 0" -- \
	"$PROXYSTACK" -c "$CONF" check "tcp://127.0.0.1:$REC_PORT"
expect_logged "proxystack/$VERSION" "$TMP/tlsproxy/ua.log" \
	"https-proxy: squid's https_port logs User-Agent proxystack/$VERSION"

# --- values a program passes through the API (ps_connect_options) ----------
# The websocket Origin, subprotocols and headers go through the same check.
conf api
: >"$REC_LOG"
for v in $'chat\x01' $'chat\rX-Injected: 1'; do
	expect_exit 1 "ws_subprotocols with a control byte: refused" -- \
		"$PS_BUILD/tests/ws_check" -c "$CONF" --subprotocol "$v" \
		"ws://127.0.0.1:$REC_PORT/"
	expect_grep -F "without control characters" "$OUT" \
		"ws_subprotocols with a control byte: says why"
done
expect_eq "$(grep -c . "$REC_LOG")" 0 \
	"ws_subprotocols with a control byte: nothing reached the network"
