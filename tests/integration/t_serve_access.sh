#!/bin/bash
# t_serve_access.sh - who may use proxystack serve, and configuration that
# fails closed: an address outside [serve] allow gets 403 (SOCKS5 reply
# 2); with users_file, HTTP clients without or with wrong credentials get
# 407 and with them 200, SOCKS5 clients use RFC 1929; a hash it cannot
# check, a non-loopback listen without allow (in the file or with
# --listen), an unknown key or a bad number stop the load with file:line
# (exit 2), a port in use exits 1; max_tunnels_per_client answers 503.  Passwords never reach
# the logs.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

start_origin origin
ORIGIN=http://127.0.0.1:$ORIGIN_PORT/
SECRET='s3cret-Pw'

# --- allow ---------------------------------------------------------------------

serve_conf "$TMP/allow" "allow = 10.0.0.0/8, 192.168.1.1"
start_serve allowserve "$TMP/allow"
ALLOWPID=$SERVE_PID
expect_exit 56 "not in allow: curl fails" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$SERVE_PORT" -p "$ORIGIN" &&
	expect_grep "response 403" "$ERR" "not in allow: 403"
raw_request denied "$SERVE_PORT" "CONNECT localhost:1 HTTP/1.1\r\n\r\n"
expect_grep "^proxystack: client-denied: " "$TMP/denied.raw" \
	"not in allow: the body says client-denied"
expect_exit 97 "not in allow: socks5h fails" -- curl -sS --max-time 10 \
	--socks5-hostname "127.0.0.1:$SERVE_PORT" "$ORIGIN" &&
	expect_grep "\(2\)" "$ERR" "not in allow: SOCKS5 reply 2"
expect_access allowserve "client=127.0.0.1:[0-9]+ proto=connect .*result=client-denied status=403" \
	"not in allow: logged"
stop_serve allowserve "serve with an allow list" "$ALLOWPID"

# --- users_file ------------------------------------------------------------------

htpasswd -nbB alice "$SECRET" >"$TMP/users" 2>>"$TMP/htpasswd.log"
openssl passwd -6 "$SECRET" | sed 's/^/bob:/' >>"$TMP/users"
serve_conf "$TMP/auth" "users_file = $TMP/users"
start_serve authserve "$TMP/auth"
AUTHPID=$SERVE_PID
expect_exit 56 "no credentials: curl fails" -- curl -sS --max-time 10 \
	-x "http://127.0.0.1:$SERVE_PORT" -p "$ORIGIN" &&
	expect_grep "response 407" "$ERR" "no credentials: 407"
raw_request noauth "$SERVE_PORT" "CONNECT localhost:1 HTTP/1.1\r\n\r\n"
expect_grep '^Proxy-Authenticate: Basic realm="proxystack"' \
	"$TMP/noauth.raw" "407 carries a Basic challenge"
expect_exit 56 "wrong password: curl fails" -- curl -sS --max-time 10 \
	-U alice:wrong -x "http://127.0.0.1:$SERVE_PORT" -p "$ORIGIN" &&
	expect_grep "response 407" "$ERR" "wrong password: 407"
expect_exit 0 "bcrypt user with the password: 200" -- curl -sS --max-time 10 \
	-U "alice:$SECRET" -x "http://127.0.0.1:$SERVE_PORT" -p "$ORIGIN" &&
	expect_stdout "hello from origin" "bcrypt user: the origin's answer"
expect_exit 0 "SHA-crypt user, absolute-form: 200" -- curl -sS --max-time 10 \
	-U "bob:$SECRET" -x "http://127.0.0.1:$SERVE_PORT" "$ORIGIN" &&
	expect_stdout "hello from origin" "SHA-crypt user: the origin's answer"
expect_exit 0 "SOCKS5 with user/password (RFC 1929)" -- curl -sS \
	--max-time 10 -x "socks5h://alice:$SECRET@127.0.0.1:$SERVE_PORT" \
	"$ORIGIN" && expect_stdout "hello from origin" "SOCKS5 user: the answer"
expect_exit 97 "SOCKS5 without credentials: refused" -- curl -sS \
	--max-time 10 --socks5-hostname "127.0.0.1:$SERVE_PORT" "$ORIGIN"
expect_access authserve "user=alice result=ok status=200" \
	"the access log names the client user"
expect_no_grep -F "$SECRET" "$TMP/authserve.access" \
	"the password is not in the access log"
expect_no_grep -F "$SECRET" "$TMP/authserve.log" \
	"the password is not in serve's log"
stop_serve authserve "serve with users_file" "$AUTHPID"

printf 'carol:$apr1$abcdefgh$0123456789abcdefghijkl\n' >"$TMP/apr1"
serve_conf "$TMP/apr1conf" "users_file = $TMP/apr1"
expect_exit 2 "an apr1 hash: serve does not start" -- "$PROXYSTACK" \
	-c "$TMP/apr1conf" serve --listen "127.0.0.1:$(free_port)" &&
	expect_grep "$TMP/apr1:1: unsupported password hash" "$ERR" \
		"an apr1 hash: file:line and why" &&
	expect_grep "htpasswd -B" "$ERR" "an apr1 hash: the hint says what works"

# --- configuration that fails closed ---------------------------------------------

serve_conf "$TMP/open" "listen = 0.0.0.0:3128"
expect_exit 2 "non-loopback listen without allow: the load fails" -- \
	"$PROXYSTACK" -c "$TMP/open" which tcp://example.com:443 &&
	expect_grep "90-serve.conf:2: \[serve\] listen: not a loopback address and no allow" \
		"$ERR" "non-loopback listen: file:line and why"
serve_conf "$TMP/openok" "listen = 0.0.0.0:3128" "allow = private"
expect_exit 0 "non-loopback listen with allow: loads" -- \
	"$PROXYSTACK" -c "$TMP/openok" which tcp://example.com:443
serve_conf "$TMP/unknown" "max_client = 5"
expect_exit 2 "an unknown key in [serve]" -- \
	"$PROXYSTACK" -c "$TMP/unknown" which tcp://example.com:443 &&
	expect_grep "90-serve.conf:2: unknown key 'max_client' in \[serve\]" \
		"$ERR" "an unknown key: file:line"
serve_conf "$TMP/badnum" "idle_timeout = 0"
expect_exit 2 "idle_timeout = 0" -- \
	"$PROXYSTACK" -c "$TMP/badnum" which tcp://example.com:443 &&
	expect_grep "90-serve.conf:2: \[serve\] idle_timeout: bad value '0'" \
		"$ERR" "idle_timeout = 0: file:line" &&
	expect_grep "from 1 to 86400" "$ERR" "idle_timeout = 0: the hint"
serve_conf "$TMP/plain"
expect_exit 2 "--listen 0.0.0.0 without allow" -- "$PROXYSTACK" \
	-c "$TMP/plain" serve --listen "0.0.0.0:$(free_port)" &&
	expect_grep "open proxy" "$ERR" "--listen 0.0.0.0: says why"
expect_exit 2 "--listen without a port" -- "$PROXYSTACK" \
	-c "$TMP/plain" serve --listen 127.0.0.1

if have_ipv6; then
	V6=$(free_port)
	start_bg v6serve "$PROXYSTACK" -c "$TMP/plain" serve --listen "[::1]:$V6"
	V6PID=$BG_PID
	wait_port "$V6" ::1
	expect_grep "listening on \[::1\]:$V6" "$TMP/v6serve.log" \
		"an IPv6 listener says where it listens"
	expect_exit 0 "an IPv6 listener serves ::1 clients" -- curl -sS \
		--max-time 10 -x "http://[::1]:$V6" -p "$ORIGIN" &&
		expect_stdout "hello from origin" "IPv6 listener: the origin's answer"
	stop_serve v6serve "serve on [::1]" "$V6PID"
else
	skip "an IPv6 listener" "no IPv6 on this machine"
fi

start_origin busy
expect_exit 1 "a port already in use: serve exits 1" -- "$PROXYSTACK" \
	-c "$TMP/plain" serve --listen "127.0.0.1:$ORIGIN_PORT" &&
	expect_grep "cannot listen on 127.0.0.1:$ORIGIN_PORT: Address already in use" \
		"$ERR" "a port already in use: says which and why"

# --- max_tunnels_per_client ------------------------------------------------------

serve_conf "$TMP/limit" "max_tunnels_per_client = 2"
start_serve limitserve "$TMP/limit"
coproc HOLD { "$PYTHON" "$PS_LIB_DIR/serve_hostile.py" hold "$SERVE_PORT" 2; }
read -r -t 10 word _ <&"${HOLD[0]}"
expect_eq "$word" connected "two connections held"
expect_exit 56 "a third connection from the address: refused" -- curl -sS \
	--max-time 10 -x "http://127.0.0.1:$SERVE_PORT" -p "$ORIGIN" &&
	expect_grep "response 503" "$ERR" "a third connection: 503"
eval "exec ${HOLD[1]}>&-"
wait "$HOLD_PID" 2>/dev/null
sleep 0.3
serve_alive limitserve "once they close, the client is served"
SERVE_STOP_SIGNAL=INT stop_serve limitserve "serve with max_tunnels_per_client"
