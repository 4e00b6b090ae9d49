#!/bin/bash
# t_schemes.sh - modules claim proxy URL schemes (the schemes op, ABI
# 1.2): a test module claiming fake5:// serves proxy_url = fake5://...
# and ALL_PROXY=fake5://... without any `module =` line, with its own
# default port; `proxystack modules` lists every module's schemes; two
# modules claiming one scheme fail the configuration, naming both and
# their files; a scheme nobody claims is refused with a hint.
. "$(dirname "$0")/lib.sh"

start_echo echo --plain
ECHO=$ECHO_PORT

# A module directory with the shipped modules and fake5 (and fake5dup).
MODS=$TMP/modules
copy_modules "$MODS"
cp "$TEST_MODULE_DIR/fake5.so" "$MODS/" ||
	bail_out "fake5.so" "not built: $TEST_MODULE_DIR/fake5.so"
DUPS=$TMP/dups
copy_modules "$DUPS"
cp "$TEST_MODULE_DIR/fake5.so" "$TEST_MODULE_DIR/fake5dup.so" "$DUPS/" ||
	bail_out "fake5dup.so" "not built: $TEST_MODULE_DIR/fake5dup.so"
chmod 0755 "$MODS"/*.so "$DUPS"/*.so

make_conf "$TMP/empty" "module_path = $MODS"
printf 'through a claimed scheme\n' >"$TMP/hello"

# --- modules lists the schemes ----------------------------------------------
expect_exit 0 "modules: exit 0" -- "$PROXYSTACK" -c "$TMP/empty" modules &&
	expect_grep "^ +schemes: fake5 \(1085, names to the proxy\)$" "$OUT" \
		"modules: fake5's claim" &&
	expect_grep "^ +schemes: socks4 \(1080\), socks4a \(1080, names to the proxy\), socks5 \(1080\), socks5h \(1080, names to the proxy\)$" \
		"$OUT" "modules: socks's claims" &&
	expect_grep "^ +schemes: http \(1080, names to the proxy\)$" "$OUT" \
		"modules: http-connect's claim"

# --- proxy_url and ALL_PROXY reach the claiming module ------------------------
make_conf "$TMP/url" "module_path = $MODS"
printf '[default]\nproxy_url = fake5://127.0.0.1:%s\n' "$ECHO" |
	write_conf "$TMP/url" 10-proxy.conf
expect_exit 0 "proxy_url = fake5://: which exits 0" -- \
	"$PROXYSTACK" -c "$TMP/url" which "tcp://localhost:4242" &&
	expect_stdout "direct -> fake5(fake5://127.0.0.1:$ECHO)" \
		"proxy_url = fake5://: which shows the fake5 hop"
expect_exit 0 "proxy_url = fake5://: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/url" connect --half-close "tcp://localhost:4242" \
	<"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "proxy_url = fake5://: bytes through it"
expect_grep "fake5: fake5://127.0.0.1:$ECHO, names resolved by the proxy" \
	"$ERR" "proxy_url = fake5://: the module is told who resolves"

expect_exit 0 "ALL_PROXY=fake5://: exit 0" -- \
	env ALL_PROXY="fake5://127.0.0.1:$ECHO" \
	"$PROXYSTACK" -c "$TMP/empty" connect --half-close "tcp://localhost:4242" \
	<"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "ALL_PROXY=fake5://: bytes through it"

make_conf "$TMP/port" "module_path = $MODS"
printf '[default]\nproxy_url = fake5://127.0.0.1\n' | write_conf "$TMP/port" 10-proxy.conf
expect_exit 0 "fake5:// without a port: which exits 0" -- \
	"$PROXYSTACK" -c "$TMP/port" which "tcp://localhost:4242" &&
	expect_stdout "direct -> fake5(fake5://127.0.0.1:1085)" \
		"fake5:// without a port: the claimed default port"

# --- refusals ---------------------------------------------------------------
make_conf "$TMP/dup" "module_path = $DUPS"
expect_exit 2 "two modules claim fake5://: exit 2" -- \
	"$PROXYSTACK" -c "$TMP/dup" which "tcp://localhost:4242" &&
	expect_grep -F "config: scheme fake5:// is claimed by two modules: fake5 ($DUPS/fake5.so) and fake5dup ($DUPS/fake5dup.so)" \
		"$ERR" "two modules claim fake5://: both named, with their files" &&
	expect_grep "hint: remove one of the two modules" "$ERR" \
		"two modules claim fake5://: hint"

make_conf "$TMP/nope" "module_path = $MODS"
printf '[default]\nproxy_url = nope5://127.0.0.1:1\n' | write_conf "$TMP/nope" 10-proxy.conf
expect_exit 2 "a scheme nobody claims: exit 2" -- \
	"$PROXYSTACK" -c "$TMP/nope" which "tcp://localhost:4242" &&
	expect_grep "unsupported proxy scheme 'nope5://'" "$ERR" \
		"a scheme nobody claims: says so" &&
	expect_grep "proxystack modules. lists the schemes" "$ERR" \
		"a scheme nobody claims: hint names proxystack modules"

# --- show-config shows a claimed scheme's URL like any other -------------
make_conf "$TMP/show" "module_path = $MODS"
printf '[default]\nproxy_url = fake5://u:s3cret@127.0.0.1\n' |
	write_conf "$TMP/show" 10-proxy.conf
chmod 0600 "$TMP/show/10-proxy.conf"
expect_exit 0 "show-config with fake5://: exit 0" -- \
	"$PROXYSTACK" -c "$TMP/show" show-config "tcp://localhost:4242" &&
	expect_grep -F "proxy_url            = fake5://127.0.0.1:1085 (credentials <redacted>)" \
		"$OUT" "show-config with fake5://: the URL, its default port, credentials hidden" &&
	expect_no_grep "s3cret" "$OUT" "show-config with fake5://: no password"
