#!/bin/bash
# t_auth_kdc_wait.sh - Negotiate's ticket request to the KDC never blocks
# the thread that drives the chain.
#
# gss_init_sec_context() asks the KDC for the proxy's service ticket and
# waits for the answer.  proxystack runs it on a helper thread
# (ps_layer_offload), so while the KDC takes its time:
#   - proxystack serve (one event loop for every client) goes on serving
#     other clients: with client A's ticket request held at a relay in
#     front of the real KDC (kdc_hold.py, released when this script says),
#     client B's tunnel on a direct route opens (curl gets the origin's
#     answer within 10 s: Kerberos's retries would take 25), and A is
#     still waiting; once released, A's tunnel opens through squid, which
#     names alice.  No timing guess: the relay holds A until B is done.
#   - the chain's deadline holds: with a KDC that never answers,
#     proxystack connect with connect_timeout = 2 fails with timeout
#     (exit 6) in about 2 s, not after Kerberos's own retries.
# The real MIT KDC and squid's negotiate_kerberos_auth are on loopback,
# as in t_auth_negotiate.sh.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/kdc.sh
. "$(dirname "$0")/kdc.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

kdc_need t_auth_kdc_wait --gssapi

kdc_squid_alice neg
NEG=$SQUID_PORT
CC=FILE:$TMP/alice.cc
start_origin origin

# The relay, and a krb5.conf that sends proxystack's requests to it
# (kinit above used the KDC itself).
HOLD_PORT=$(free_port) || bail_out "kdc_hold" "no free port"
start_bg kdchold "$PYTHON" -u "$PS_LIB_DIR/kdc_hold.py" --port "$HOLD_PORT" \
	--kdc "$KDC_PORT" --held "$TMP/held" --release "$TMP/release"
wait_port "$HOLD_PORT"
sed "s/127.0.0.1:$KDC_PORT/127.0.0.1:$HOLD_PORT/" "$KRB5_CONFIG" >"$TMP/krb5-hold.conf"
expect_grep "kdc = 127.0.0.1:$HOLD_PORT" "$TMP/krb5-hold.conf" \
	"proxystack's krb5.conf names the relay"

# wait_held N: the relay holds its Nth request (10 s at most).
wait_held() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qx "held $1" "$TMP/held" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# --- serve: other clients go on while a ticket request waits --------------

serve_conf "$TMP/s_kdc.conf"
# The deadline is not what this part tests: room for a loaded machine.
sed -i 's/^connect_timeout = .*/connect_timeout = 30/' "$TMP/s_kdc.conf/00-global.conf"
printf '%s\n' "[transport corp]" "module = http-connect" \
	"url = http://localhost:$NEG" "auth = negotiate" \
	"[stack corp]" "transport = corp" \
	"[route local]" "match = localhost:$ORIGIN_PORT" "stack = direct" \
	"[route all]" "match = *" "stack = corp" |
	write_conf "$TMP/s_kdc.conf" 50-up.conf
SERVE_PREFIX=(env KRB5_CONFIG="$TMP/krb5-hold.conf" KRB5CCNAME="$CC")
start_serve s_kdc "$TMP/s_kdc.conf" -v

# curl through serve's tunnel (-p: CONNECT even for http://) to the
# origin's /; SECONDS bounds it.
via_serve() {
	local host=$1 seconds=$2
	curl -sS --max-time "$seconds" -x "http://127.0.0.1:$SERVE_PORT" -p \
		"http://$host:$ORIGIN_PORT/"
}

squid_log_mark neg
via_serve 127.0.0.1 60 >"$TMP/a.out" 2>"$TMP/a.err" &
A_PID=$!
if wait_held 1; then
	ok "client A: its ticket request waits at the relay"
else
	fail "client A: its ticket request waits at the relay" "$(cat "$TMP/a.err")"
fi
# 10 s: a bound on a hang, not a speed target (B needs no KDC; a thread
# stuck in Kerberos would keep it waiting 25 s, its retries included).
expect_exit 0 "client B (direct route) gets its tunnel while A's ticket request waits" -- \
	curl -sS --max-time 10 -x "http://127.0.0.1:$SERVE_PORT" -p \
	"http://localhost:$ORIGIN_PORT/"
expect_stdout "hello from origin" "client B: the origin's answer"
if pid_alive "$A_PID"; then
	ok "client A still waits for its ticket after B is done"
else
	fail "client A still waits for its ticket after B is done" \
		"A ended: $(cat "$TMP/a.out" "$TMP/a.err")"
fi
touch "$TMP/release"
a_rc=0
wait "$A_PID" || a_rc=$?
expect_eq "$a_rc $(cat "$TMP/a.out")" "0 hello from origin" \
	"client A: once the KDC answers, its tunnel opens and the origin answers"
expect_squid_log neg "TCP_TUNNEL/200 CONNECT 127.0.0.1:$ORIGIN_PORT alice@$REALM " \
	"client A: squid names alice@$REALM"
stop_serve s_kdc "serve with a ticket request that waited"

# --- the deadline holds while the KDC does not answer ----------------------

rm -f "$TMP/release"
conf_every slow http-connect "http://localhost:$NEG" "auth = negotiate"
sed -i 's/^connect_timeout = .*/connect_timeout = 2/' "$TMP/conf/slow/00-global.conf"
CC2=FILE:$TMP/alice2.cc
kdc_kinit "$CC2"
start=$(date +%s%N)
expect_exit 6 "a KDC that never answers: connect fails with timeout (exit 6)" -- \
	env KRB5_CONFIG="$TMP/krb5-hold.conf" KRB5CCNAME="$CC2" \
	"$PROXYSTACK" -c "$TMP/conf/slow" connect "tcp://127.0.0.1:$ORIGIN_PORT" </dev/null
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect_grep ": timeout: " "$ERR" "a KDC that never answers: the error is timeout"
# A bound on a hang, not a speed target: Kerberos's own retries would
# take 10 s and more; the deadline is 2 s.
if [ "$elapsed_ms" -lt 8000 ]; then
	ok "a KDC that never answers: the 2 s deadline holds ($elapsed_ms ms)"
else
	fail "a KDC that never answers: the 2 s deadline holds" "took $elapsed_ms ms"
fi
expect_no_grep 'Sanitizer|runtime error' "$ERR" "a KDC that never answers: no sanitizer report"
