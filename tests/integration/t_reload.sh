#!/bin/bash
# t_reload.sh - hot reload without dropping connections, against two real
# squids: tests/reload_stress connects in a loop while it rewrites the
# configuration 100 times (valid naming squid A, broken, valid naming
# squid B, broken, ...); the context reloads by itself.  Then the same
# with the polling fallback, and the access logs must show both proxies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"

STRESS=$PS_BUILD/tests/reload_stress
[ -x "$STRESS" ] || bail_out "t_reload" "no $STRESS (make check builds it)"

make_ca dest
make_leaf dest server
start_echo echo --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
start_squid sqa
PORT_A=$SQUID_PORT
start_squid sqb
PORT_B=$SQUID_PORT

CONF=$TMP/conf
make_conf "$CONF"
printf '[default]\nproxy_url = http://127.0.0.1:%s\n' "$PORT_A" |
	write_conf "$CONF" 10-proxy.conf

# run_stress LABEL ROUNDS [poll]: the program's ok/not ok lines, labelled.
run_stress() {
	local label=$1
	shift
	timeout 120 "$STRESS" "$CONF" "$CONF/10-proxy.conf" \
		"tls://localhost:$ECHO_PORT" "$CERTS/dest.pem" \
		"http://127.0.0.1:$PORT_A" "http://127.0.0.1:$PORT_B" "$@" \
		>"$TMP/$label.out" 2>"$TMP/$label.err"
	local rc=$?
	sed -e "s/^ok - /ok - $label: /" -e "s/^not ok - /not ok - $label: /" \
		"$TMP/$label.out" | while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" "see $label.err" ;;
		*) echo "$line" | note ;;
		esac
	done
	[ "$rc" = 0 ] || fail "$label: reload_stress exits 0" "exit $rc"
	# Broken files are reported through the log callback with file:line.
	expect_grep "reload refused, the previous configuration stays: .*10-proxy.conf:3: syntax error" \
		"$TMP/$label.err" "$label: each broken file is reported with file:line"
	return 0
}

run_stress inotify 100
expect_grep "TCP_TUNNEL/200 CONNECT localhost:$ECHO_PORT" "$TMP/sqa/access.log" \
	"squid A carried tunnels"
expect_grep "TCP_TUNNEL/200 CONNECT localhost:$ECHO_PORT" "$TMP/sqb/access.log" \
	"squid B carried tunnels"

printf '[default]\nproxy_url = http://127.0.0.1:%s\n' "$PORT_A" |
	write_conf "$CONF" 10-proxy.conf
run_stress polling 6 poll
