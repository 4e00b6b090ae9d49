#!/bin/bash
# t_hostile.sh - misbehaving proxies and servers, in one agent process:
# each hostile channel fails with its exact error code within the chain
# timeout (3 s here), and a good channel the same process holds open
# keeps working after every one of them (tests/isolation).  More hostile
# answers are in t_proxy_answers.sh (proxies) and t_ws_violations.sh
# (websocket servers).
. "$(dirname "$0")/lib.sh"

ISOLATION=$PS_BUILD/tests/isolation
[ -x "$ISOLATION" ] || bail_out "t_hostile" "no $ISOLATION (make check builds it)"
PROXY_PY=$PS_LIB_DIR/scripted_proxy.py

make_ca dest
make_leaf dest server
make_leaf dest othername "DNS:other.example"
start_echo good --plain
GOOD=$ECHO_PORT

CONF=$TMP/conf
make_conf "$CONF" "connect_timeout = 3"
: >"$TMP/routes"
specs=()

# hostile_proxy NAME CODE: a scripted proxy playing NAME, routed for
# NAME.test, expected to fail with CODE.
hostile_proxy() {
	local name=$1 code=$2 port host
	port=$(free_port)
	start_bg "p-$name" "$PYTHON" -u "$PROXY_PY" --port "$port" \
		--scenario "$name"
	wait_port "$port"
	host=${name//[^a-z0-9]/-}.test
	printf '[transport %s]\nmodule = http-connect\nurl = http://127.0.0.1:%s\n' \
		"${name//[^a-z0-9]/-}" "$port" >>"$TMP/routes"
	printf 'username = alice\npassword = pw\n' >>"$TMP/routes"
	printf '[route %s]\nmatch = %s\nstack = %s\n' \
		"${name//[^a-z0-9]/-}" "$host" "${name//[^a-z0-9]/-}" >>"$TMP/routes"
	specs+=("$code:tcp://$host:7")
}

hostile_proxy reset-before-answer proxy-protocol
hostile_proxy reset-mid-head proxy-protocol
hostile_proxy endless-headers proxy-protocol
hostile_proxy mib-line proxy-protocol
hostile_proxy http09 proxy-protocol
hostile_proxy slow-drip timeout
hostile_proxy 407-huge-body proxy-protocol
hostile_proxy 407-loop proxy-auth
hostile_proxy garbage proxy-protocol
hostile_proxy no-blank timeout
hostile_proxy silent timeout
hostile_proxy 403 proxy-denied

# Destinations reached directly.
RESET_PORT=$(free_port)
start_bg tls-reset "$PYTHON" -u "$PROXY_PY" --port "$RESET_PORT" --scenario raw-reset
wait_port "$RESET_PORT"
start_echo othername --cert "$CERTS/othername-chain.pem" --key "$CERTS/othername-key.pem"
OTHER_PORT=$ECHO_PORT
ALERT_PORT=$(free_port)
start_bg tls-alert openssl s_server -quiet -accept "127.0.0.1:$ALERT_PORT" \
	-cert "$CERTS/server-chain.pem" -key "$CERTS/server-key.pem" \
	-no_tls1_2 -ciphersuites TLS_AES_128_CCM_8_SHA256
wait_port "$ALERT_PORT"
DEAD=$(free_port)
specs+=("tls:tls://localhost:$RESET_PORT"
	"tls-verify:tls://localhost:$OTHER_PORT"
	"tls:tls://localhost:$ALERT_PORT"
	"connect:tcp://127.0.0.1:$DEAD"
	"tls:tls://127.0.0.1:$GOOD")

write_conf "$CONF" 10-hostile.conf <"$TMP/routes"
chmod 0600 "$CONF/10-hostile.conf"

"$ISOLATION" -c "$CONF" --ca-file "$CERTS/dest.pem" \
	--usage-then "tcp://127.0.0.1:$(free_port)" "tcp://127.0.0.1:$GOOD" \
	"${specs[@]}" >"$TMP/isolation.out" 2>"$TMP/isolation.err"
rc=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" "see below" ;;
	*) printf '%s\n' "$line" | note ;;
	esac
done <"$TMP/isolation.out"
expect_eq "$rc" 0 "isolation exits 0"
expect_eq "$(grep -c '^ok - .* fails with ' "$TMP/isolation.out")" "${#specs[@]}" \
	"every hostile peer failed as expected (${#specs[@]} of them)"

# A reset during the handshake names the peer as host:port, an IPv6 one
# in brackets.
if have_ipv6; then
	V6_PORT=$(free_port)
	start_bg tls-reset-v6 "$PYTHON" -u "$PROXY_PY" --host ::1 \
		--port "$V6_PORT" --scenario raw-reset
	wait_port "$V6_PORT" ::1
	"$PROXYSTACK" -c "$CONF" check --ca-file "$CERTS/dest.pem" \
		"tls://[::1]:$V6_PORT" >"$TMP/v6.out" 2>"$TMP/v6.err"
	expect_grep -F "handshake with [::1]:$V6_PORT" "$TMP/v6.err" \
		"a reset in the handshake with ::1 names [::1]:port"
else
	skip "reset in the handshake with ::1" "no IPv6 loopback here"
fi
