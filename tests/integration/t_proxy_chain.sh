#!/bin/bash
# t_proxy_chain.sh - stacks of two proxies, and route failover, through
# real squids.
#
# Two hops: CONNECT through squid "first" to squid "second", then to the
# destination; both access logs must show their CONNECT.  Routes with
# several stack lines follow the PAM-like controls of proxystack.conf(5)
# (ROUTES AND CONTROLS; docs/architecture.md): a dead proxy on
# a `sufficient` line fails over to the next line; a `requisite` line ends
# the search with its own error; with [proxy_auth=die default=next] a 407
# stops the search (exit 3) while a dead proxy would not; and the error
# reported is that of the line that decided.  `which` shows the first
# alternative.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

make_ca dest
make_leaf dest server
CA=$CERTS/dest.pem
start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
DEST=$ECHO_PORT
URL=tls://localhost:$DEST
DEAD=$(dead_port)

start_squid first
FIRST=$SQUID_PORT
start_squid second
SECOND=$SQUID_PORT
make_htpasswd "$TMP/htpasswd" alice 'chain-p@ss'
start_squid authsq --basic "$TMP/htpasswd"
AUTHSQ=$SQUID_PORT

printf '%s' 'chain-p@ss' >"$TMP/right.secret"
printf '%s' 'not-it' >"$TMP/wrong.secret"
chmod 0600 "$TMP/right.secret" "$TMP/wrong.secret"

# The transports and stacks every scenario shares.
TRANSPORTS=$(
	cat <<EOF
[transport first]
module = http-connect
url = http://127.0.0.1:$FIRST

[transport second]
module = http-connect
url = http://127.0.0.1:$SECOND

[transport dead]
module = http-connect
url = http://127.0.0.1:$DEAD

[transport authgood]
module = http-connect
url = http://127.0.0.1:$AUTHSQ
username = alice
password_file = $TMP/right.secret

[transport authbad]
module = http-connect
url = http://127.0.0.1:$AUTHSQ
username = alice
password_file = $TMP/wrong.secret

[stack good]
transport = first

[stack two]
transport = first second

[stack twoauth]
transport = first authgood

[stack dead]
transport = dead

[stack badauth]
transport = authbad
EOF
)

# scenario NAME STACK-LINE...: $TMP/conf/NAME with the shared transports
# and one route for localhost whose stack lines are the arguments.
scenario() {
	local dir=$TMP/conf/$1
	shift
	make_conf "$dir"
	printf '%s\n' "$TRANSPORTS" | write_conf "$dir" 40-transports.conf
	{
		printf '[route local]\nmatch = localhost 127.0.0.1\n'
		printf 'stack = %s\n' "$@"
	} | write_conf "$dir" 50-route.conf
}

# mark_all: squid logs are read from here on.
mark_all() {
	squid_log_mark first
	squid_log_mark second
	squid_log_mark authsq
}

printf 'hello through two proxies\n' >"$TMP/hello"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/1m"

H_FIRST="http-connect(http://127.0.0.1:$FIRST)"
H_SECOND="http-connect(http://127.0.0.1:$SECOND)"

# --- two hops ----------------------------------------------------------------

scenario two two
expect_exit 0 "two hops: which exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/two" which "$URL" &&
	expect_stdout "direct -> $H_FIRST -> $H_SECOND -> tls" \
		"two hops: which lists both proxies, bottom to top"

mark_all
expect_roundtrip "two hops" "$TMP/1m" -- \
	"$PROXYSTACK" -c "$TMP/conf/two" connect --half-close "$URL" --ca-file "$CA"
expect_squid_log first "TCP_TUNNEL/200 CONNECT 127.0.0.1:$SECOND " \
	"two hops: the first squid tunneled to the second"
expect_squid_log second "TCP_TUNNEL/200 CONNECT localhost:$DEST " \
	"two hops: the second squid tunneled to the destination"
expect_no_squid_log first "CONNECT localhost:$DEST " \
	"two hops: the first squid never saw the destination"

expect_exit 0 "two hops: check exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/two" check "$URL" --ca-file "$CA"
# Step lines, not the chain summary (which holds " -> ").
steps=$(grep -E '(^|[^[:alnum:]_-])http-connect([^[:alnum:]_-]|$)' "$OUT" |
	grep -cvF -- ' -> ')
expect_eq "$steps" 2 "two hops: check prints two http-connect steps" ||
	show_file stdout "$OUT"

# Credentials belong to their hop: the second one here.
scenario twoauth twoauth
mark_all
expect_roundtrip "two hops, Basic auth at the second" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/twoauth" connect --half-close "$URL" --ca-file "$CA"
expect_squid_log authsq "TCP_TUNNEL/200 CONNECT localhost:$DEST alice " \
	"two hops, auth at the second: it authenticated alice"
expect_squid_log first "TCP_TUNNEL/200 CONNECT 127.0.0.1:$AUTHSQ - " \
	"two hops, auth at the second: the first got no credentials"

# --- failover ----------------------------------------------------------------

scenario failover "dead sufficient" "good requisite"
expect_exit 0 "failover: which exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/failover" which "$URL" &&
	expect_stdout "direct -> http-connect(http://127.0.0.1:$DEAD) -> tls" \
		"failover: which shows the first alternative"
mark_all
expect_roundtrip "dead sufficient, then good: fails over" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/failover" connect --half-close "$URL" --ca-file "$CA"
expect_squid_log first "TCP_TUNNEL/200 CONNECT localhost:$DEST " \
	"failover: the good proxy carried the tunnel"

scenario deadfirst "dead requisite" "good"
mark_all
expect_exit 6 "dead requisite, then good: no failover, exits 6" -- \
	"$PROXYSTACK" -c "$TMP/conf/deadfirst" check "$URL" --ca-file "$CA"
expect_grep -F "127.0.0.1:$DEAD" "$ERR" "dead requisite: stderr names the dead proxy"
expect_no_squid_log first "CONNECT localhost:$DEST " \
	"dead requisite: the next line was not tried"

scenario connectnext "dead [connect=next default=die]" "good"
expect_exit 0 "dead [connect=next default=die], then good: exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/connectnext" check "$URL" --ca-file "$CA"

scenario connectdie "dead [connect=die default=next]" "good"
expect_exit 6 "dead [connect=die default=next], then good: exits 6" -- \
	"$PROXYSTACK" -c "$TMP/conf/connectdie" check "$URL" --ca-file "$CA"

# A 407 is not a reason to try another proxy when the site says so...
scenario authdie "badauth [proxy_auth=die default=next]" "good"
expect_exit 0 "auth die: which exits 0" -- \
	"$PROXYSTACK" -c "$TMP/conf/authdie" which "$URL" &&
	expect_stdout "direct -> http-connect(http://127.0.0.1:$AUTHSQ) -> tls" \
		"auth die: which shows the first alternative, without credentials"
mark_all
expect_exit 3 "badauth [proxy_auth=die default=next], then good: exits 3" -- \
	"$PROXYSTACK" -c "$TMP/conf/authdie" connect --half-close "$URL" --ca-file "$CA" \
	<"$TMP/hello" &&
	expect_stdout "" "auth die: connect prints no data"
expect_grep -i "407|auth" "$ERR" "auth die: stderr gives the 407"
expect_no_secret "auth die: no secret in the error" 'not-it' 'chain-p@ss'
expect_no_squid_log first "CONNECT localhost:$DEST " \
	"auth die: the good proxy was not tried"

# ...while `sufficient` moves on after any failure, a 407 included.
scenario authnext "badauth sufficient" "good"
mark_all
expect_roundtrip "badauth sufficient, then good: fails over" "$TMP/hello" -- \
	"$PROXYSTACK" -c "$TMP/conf/authnext" connect --half-close "$URL" --ca-file "$CA"
expect_squid_log authsq "TCP_DENIED/407 CONNECT localhost:$DEST alice " \
	"badauth sufficient: the first line was tried"
expect_squid_log first "TCP_TUNNEL/200 CONNECT localhost:$DEST " \
	"badauth sufficient: the good proxy carried the tunnel"

# The error reported is the deciding line's: the last one here (6), not
# the 407 of the line before it.
scenario lasterr "badauth sufficient" "dead"
expect_exit 6 "badauth sufficient, then dead: exits 6 (the last line's error)" -- \
	"$PROXYSTACK" -c "$TMP/conf/lasterr" check "$URL" --ca-file "$CA"
expect_grep -F "127.0.0.1:$DEAD" "$ERR" "last line's error: stderr names the dead proxy"
