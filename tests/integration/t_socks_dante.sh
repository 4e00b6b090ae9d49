#!/bin/bash
# t_socks_dante.sh - the socks module against dante (danted), no
# authentication: tcp://, tls:// and wss:// through socks5h, socks5 and
# socks4 (dante has no 4a); who resolves the destination's name, proved with
# names only one side can resolve (a private /etc/hosts in a mount
# namespace); dante's refusals: its rules ("not allowed by ruleset",
# exit 4), a closed port ("connection refused", exit 6), a name it cannot
# resolve.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/socks_lib.sh"

start_socks_destinations --wss
BLOCKED=$(free_port)
DEAD=$(dead_port)

# Only dante resolves socksonly.test; only proxystack clientonly.test.
printf '127.0.0.1 localhost\n127.0.0.1 socksonly.test\n' >"$TMP/dante.hosts"
printf '127.0.0.1 localhost\n127.0.0.1 clientonly.test\n' >"$TMP/client.hosts"
start_dante dante --block-port "$BLOCKED" --hosts "$TMP/dante.hosts"
D=$SOCKS_PORT
for s in socks5h socks5 socks4; do
	socks_conf "$TMP/$s" "$s://127.0.0.1:$D"
done
head -c 100000 /dev/urandom >"$TMP/100k"
printf 'a websocket message through dante\n' >"$TMP/msg"

# --- tcp, tls, wss --------------------------------------------------------------
# dante speaks SOCKS4 without the 4a extension (it would dial 0.0.0.1):
# socks4a is tested against socks_script.py (t_socks_request.sh).
for s in socks5h socks5 socks4; do
	expect_exit 0 "$s tcp://: exit 0" -- \
		"$PROXYSTACK" -c "$TMP/$s" connect --half-close "tcp://localhost:$TCP" \
		<"$TMP/100k" &&
		expect_same_file "$TMP/100k" "$OUT" "$s tcp://: 100 kB echo"
done
for s in socks5h socks4; do
	expect_exit 0 "$s tls://: exit 0" -- \
		"$PROXYSTACK" -c "$TMP/$s" connect --half-close --ca-file "$CA" \
		"tls://localhost:$TLS" <"$TMP/100k" &&
		expect_same_file "$TMP/100k" "$OUT" "$s tls://: 100 kB echo, verified"
done
expect_exit 0 "socks5h wss://: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/socks5h" connect --ca-file "$CA" \
	"wss://localhost:$WSS/dante" <"$TMP/msg" &&
	expect_same_file "$TMP/msg" "$OUT" "socks5h wss://: the message comes back"
expect_exit 0 "socks5h check: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/socks5h" check "tcp://localhost:$TCP" &&
	expect_grep "socks +SOCKS5 CONNECT localhost:$TCP \(the proxy resolved the name\)" \
		"$OUT" "socks5h check: shows the name went to the proxy"
expect_exit 0 "socks5 check: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/socks5" check "tcp://localhost:$TCP" &&
	expect_grep "socks +SOCKS5 CONNECT 127.0.0.1:$TCP \(localhost resolved here\)" \
		"$OUT" "socks5 check: shows the name was resolved here"

# --- who resolves ----------------------------------------------------------------
printf 'resolved by the proxy\n' >"$TMP/hello"
for s in socks5h; do
	expect_exit 0 "$s to a name only dante resolves: exit 0" -- \
		"$PROXYSTACK" -c "$TMP/$s" connect --half-close "tcp://socksonly.test:$TCP" \
		<"$TMP/hello" &&
		expect_same_file "$TMP/hello" "$OUT" "$s to a name only dante resolves: echo"
done
# Resolved here: in the client's namespace, so the failed lookup never
# reaches the machine's DNS server.
for s in socks5 socks4; do
	expect_exit 6 "$s to a name only dante resolves: exit 6 (resolved here)" -- \
		"${HOSTS_NS[@]}" "$TMP/client.hosts" \
		"$PROXYSTACK" -c "$TMP/$s" connect "tcp://socksonly.test:$TCP" </dev/null &&
		expect_grep "resolve: cannot resolve socksonly.test" "$ERR" \
			"$s to a name only dante resolves: resolve error, here"
done
for s in socks5 socks4; do
	expect_exit 0 "$s to a name only proxystack resolves: exit 0" -- \
		"${HOSTS_NS[@]}" "$TMP/client.hosts" \
		"$PROXYSTACK" -c "$TMP/$s" connect --half-close "tcp://clientonly.test:$TCP" \
		<"$TMP/hello" &&
		expect_same_file "$TMP/hello" "$OUT" "$s to a name only proxystack resolves: echo"
done
expect_exit 6 "socks5h to a name only proxystack resolves: dante cannot" -- \
	"${HOSTS_NS[@]}" "$TMP/client.hosts" \
	"$PROXYSTACK" -c "$TMP/socks5h" connect "tcp://clientonly.test:$TCP" </dev/null &&
	expect_grep "connect: SOCKS5 proxy socks5h://127.0.0.1:$D refused CONNECT clientonly.test:$TCP: host unreachable \(reply 0x04\)" \
		"$ERR" "socks5h to a name only proxystack resolves: the name went to dante"

# --- dante's refusals ---------------------------------------------------------
expect_exit 4 "a port dante's rules block: exit 4" -- \
	"$PROXYSTACK" -c "$TMP/socks5h" connect "tcp://localhost:$BLOCKED" </dev/null &&
	expect_grep "proxy-denied: SOCKS5 proxy socks5h://127.0.0.1:$D refused CONNECT localhost:$BLOCKED: connection not allowed by ruleset \(reply 0x02\)" \
		"$ERR" "a port dante's rules block: not allowed by ruleset"
expect_exit 4 "socks4: a port dante's rules block: exit 4" -- \
	"$PROXYSTACK" -c "$TMP/socks4" connect "tcp://127.0.0.1:$BLOCKED" </dev/null &&
	expect_grep "proxy-denied: SOCKS4 proxy .* request rejected or failed \(reply 0x5b\)" \
		"$ERR" "socks4: a port dante's rules block: rejected"
expect_exit 6 "a closed port behind dante: exit 6" -- \
	"$PROXYSTACK" -c "$TMP/socks5" connect "tcp://127.0.0.1:$DEAD" </dev/null &&
	expect_grep "connect: SOCKS5 proxy .* refused CONNECT 127.0.0.1:$DEAD: connection refused \(reply 0x05\)" \
		"$ERR" "a closed port behind dante: connection refused"
