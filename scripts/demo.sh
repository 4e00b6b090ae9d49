#!/bin/bash
# scripts/demo.sh - build proxystack and show it at work, on a fresh
# Debian 12 machine, as root.
#
#   ./scripts/demo.sh
#
# Installs what is missing and builds in _build-demo/, its own build
# directory (scripts/test.sh has _build/ and _build-plain/), all of it into
# _build-demo/build.log, of which it shows the end if the build fails.
# Then it sets up a small network
# on loopback — a TLS destination with its own test CA, and the proxy the
# traffic goes through (start_proxy) — writes a configuration directory
# for it, and runs the four commands an operator would:
#
#   proxystack show-config URL   what is configured, from where, and why
#   proxystack which URL         the chain, without connecting
#   proxystack check URL         the chain built, step by step, with timings
#   proxystack connect URL       bytes through the chain and back
#
# Everything it starts is stopped by PID at exit, and its temporary files
# removed.
set -euo pipefail

cd "$(dirname "$0")/.."
# The module loader refuses group- or world-writable module directories.
umask 022

# shellcheck source=deps.sh
. scripts/deps.sh
# shellcheck source=build.sh
. scripts/build.sh

BUILD_DIR=_build-demo
BUILD_LOG=$BUILD_DIR/build.log

# say TEXT: a heading between the demo's steps.
say() {
	printf '\n== %s\n' "$*"
}

# build: packages, autoreconf, configure and make, their output in
# BUILD_LOG; on failure its last lines, and the demo stops.
build() {
	mkdir -p "$BUILD_DIR"
	: >"$BUILD_LOG"
	say "installing what is missing and building in $BUILD_DIR/ (log: $BUILD_LOG)"
	# (&&, not set -e: -e does not apply on the left of ||.)
	{
		install_missing &&
			autoreconf -fi &&
			configure_build "$BUILD_DIR" &&
			make -C "$BUILD_DIR" -j2 --no-print-directory
	} >>"$BUILD_LOG" 2>&1 || {
		tail -n 30 "$BUILD_LOG"
		echo "demo: the build failed; its whole log is $BUILD_LOG"
		exit 1
	}
}

build

# The integration tests' helpers: certificates, background processes by
# PID, free ports, config directories, cleanup at exit.
PS_SRC=$PWD
PS_BUILD=$PWD/$BUILD_DIR
. tests/integration/lib.sh
. tests/integration/proxies.sh

# run ARGS...: show a proxystack command as a user would type it, run it.
run() {
	printf '$ proxystack -c %s %s\n' "$CONF" "$*"
	"$PROXYSTACK" -c "$CONF" "$@"
}

# run_piped TEXT ARGS...: the same, with TEXT (one line) on its stdin.
run_piped() {
	local text=$1
	shift
	printf '$ echo %s | proxystack -c %s %s\n' "$text" "$CONF" "$*"
	printf '%s\n' "$text" | "$PROXYSTACK" -c "$CONF" "$@"
}

# start_destination: a TLS echo server for localhost, signed by a CA that
# only our configuration trusts.  Sets DEST_URL and DEST_CA.
start_destination() {
	make_ca destination-ca
	make_leaf destination-ca destination
	start_echo destination --cert "$CERTS/destination-chain.pem" \
		--key "$CERTS/destination-key.pem"
	DEST_URL=tls://localhost:$ECHO_PORT
	DEST_CA=$CERTS/destination-ca.pem
	echo "TLS echo server on 127.0.0.1:$ECHO_PORT (pid $BG_PID)"
}

# start_proxy: the site's corporate proxy, a real squid that wants Basic
# credentials, as PROXY_URL; the password goes in a secret file.
start_proxy() {
	make_htpasswd "$TMP/squid.htpasswd" john.doe 'S3cret-demo'
	start_squid corpproxy --basic "$TMP/squid.htpasswd"
	PROXY_URL=http://127.0.0.1:$SQUID_PORT
	PROXY_SECRET=$TMP/corp.secret
	printf 'S3cret-demo\n' >"$PROXY_SECRET"
	chmod 0600 "$PROXY_SECRET"
	echo "squid with Basic auth on 127.0.0.1:$SQUID_PORT (pid $BG_PID)"
}

# write_config: the site's configuration directory, as an operator would
# write /etc/proxystack.d.  Sets CONF.  No module_path: an uninstalled
# build finds its own modules (show-config says so).
write_config() {
	CONF=$TMP/proxystack.d
	mkdir -p "$CONF"
	chmod 0755 "$CONF"
	write_conf "$CONF" 00-global.conf <<EOF
[global]
ca_file = $DEST_CA
EOF
	write_conf "$CONF" 50-default.conf <<EOF
[default]
proxy_url = $PROXY_URL
proxy_username = john.doe
proxy_password_file = $PROXY_SECRET
no_proxy = .internal.example.com
EOF
	local f
	for f in "$CONF"/*.conf; do
		printf -- '--- %s\n' "$f"
		cat "$f"
	done
}

say "the destination"
start_destination
say "the proxy"
start_proxy
say "the configuration"
write_config

say "what is configured, and why"
run show-config "$DEST_URL"
say "the chain, without connecting"
run which "$DEST_URL"
say "the chain, built step by step"
run check "$DEST_URL"
say "bytes through the chain and back"
# Like netcat, connect sends nothing at the end of its input and prints
# until the peer closes; this echo server closes once the client has
# finished (TLS close_notify), which --half-close sends at end of input.
run_piped "hello through proxystack" connect --half-close "$DEST_URL"

say "what squid saw (its access log)"
squid_log_has corpproxy "CONNECT localhost:$ECHO_PORT john.doe" &&
	grep "CONNECT" "$TMP/corpproxy/access.log"

say "done: the demo's processes are stopped and its files removed"
