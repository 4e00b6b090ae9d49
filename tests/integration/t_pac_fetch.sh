#!/bin/bash
# t_pac_fetch.sh - how the pac module gets its script: https:// verified
# against its own ca_file (and refused against the system's CAs), a
# chunked answer, and the refusals a person can act on (a 404, a script
# over 1 MiB, a server that is not there), each naming the URL, and
# nothing leaving directly when there is no script.  WPAD's lookups stay
# inside a mount namespace with the test's resolv.conf and hosts file.
# And the caller's event loop never waits: with a script server that
# never answers, ps_conn_start() returns at once with an fd to poll, and
# the chain fails when the fetch times out.  A select module built
# before the select op makes its route fail clearly, and the host
# refuses what a select module may not name (tests/modules/pickselect).

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/pac_lib.sh
. "$(dirname "$0")/pac_lib.sh"
need_duktape

pac_script
HTTPS=$(free_port)
start_pac_server https "$HTTPS" --tls
wait_port "$HTTPS"
HTTP=$(free_port)
start_pac_server http "$HTTP"
wait_port "$HTTP"

# which_with LABEL KEY=VALUE...: which through a [select] with those keys.
which_with() {
	local dir=$TMP/conf-$1
	shift
	make_conf "$dir"
	{
		printf '[select auto]\nmodule = pac\n'
		printf '%s\n' "$@"
		printf '[route all]\nmatch = *\nselect = auto\n'
	} | write_conf "$dir" 50-pac.conf
	WHICH=("$PROXYSTACK" -c "$dir" which "tcp://localhost:1")
}

which_with ca "url = https://localhost:$HTTPS/proxy.pac" \
	"ca_file = $CERTS/pacca.pem"
expect_exit 0 "https with its ca_file: which exits 0" -- "${WHICH[@]}"
expect_grep -F "answered: PROXY 127.0.0.1:3128; DIRECT" "$OUT" \
	"https with its ca_file: the script's answer"

which_with noca "url = https://localhost:$HTTPS/proxy.pac"
expect_exit 5 "https, system CAs only: exit 5 (tls_verify)" -- "${WHICH[@]}"
expect_grep -F "no PAC script: https://localhost:$HTTPS/proxy.pac" "$ERR" \
	"https, system CAs only: names the URL"
expect_grep -F "does not verify" "$ERR" \
	"https, system CAs only: says the certificate does not verify"

which_with chunked "url = http://127.0.0.1:$HTTP/chunked.pac"
expect_exit 0 "chunked answer: which exits 0" -- "${WHICH[@]}"
expect_grep -F "answered: PROXY 127.0.0.1:3128; DIRECT" "$OUT" \
	"chunked answer: the whole script"

which_with missing "url = http://127.0.0.1:$HTTP/missing.pac"
expect_exit 4 "404: exit 4" -- "${WHICH[@]}"
expect_grep -F "answered 404, not 200" "$ERR" "404: says so"

which_with huge "url = http://127.0.0.1:$HTTP/huge.pac"
expect_exit 4 "a script over 1 MiB: exit 4" -- "${WHICH[@]}"
expect_grep -F "larger than 1048576 bytes" "$ERR" \
	"a script over 1 MiB: says so"

DEAD=$(free_port)
which_with dead "url = http://127.0.0.1:$DEAD/proxy.pac" "fetch_timeout = 2"
expect_exit 6 "no server: exit 6" -- "${WHICH[@]}"
expect_grep -F "connect to 127.0.0.1 port $DEAD" "$ERR" \
	"no server: names where it tried"

which_with keys "url = http://127.0.0.1:$HTTP/proxy.pac" "colour = red"
expect_exit 2 "unknown key: exit 2" -- "${WHICH[@]}"
expect_grep -F "50-pac.conf:4: unknown key 'colour'" "$ERR" \
	"unknown key: file:line"

which_with relative "file = proxy.pac"
expect_exit 2 "relative file: exit 2" -- "${WHICH[@]}"
expect_grep -F "needs an absolute path" "$ERR" "relative file: says so"

# A server that takes connections and never answers.
SILENT=$(free_port)
start_bg silent "$PYTHON" -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
print("listening", flush=True); time.sleep(600)' "$SILENT"
wait_port "$SILENT"
which_with silent "url = http://127.0.0.1:$SILENT/proxy.pac" \
	"fetch_timeout = 2"
expect_exit 0 "silent server: the non-blocking path runs" -- \
	"$PS_BUILD/tests/pac_which" "$TMP/conf-silent" "tcp://localhost:1" \
	--start
START_MS=$(sed -n 's/^start \([0-9]*\) ms$/\1/p' "$OUT")
expect_eq "$([ "${START_MS:-9999}" -lt 500 ] && echo fast || echo "$START_MS ms")" \
	fast "silent server: ps_conn_start() returns at once"
STEP_MS=$(sed -n 's/^step \([0-9]*\) ms.*/\1/p' "$OUT")
expect_eq "$([ "${STEP_MS:-9999}" -lt 500 ] && echo fast || echo "$STEP_MS ms")" \
	fast "silent server: the first step returns at once"
expect_grep "poll fd yes$" "$OUT" "silent server: then an fd to poll"
expect_grep -F "result timeout: no PAC script:" "$OUT" \
	"silent server: the fetch's timeout fails the chain"

# WPAD, in a mount namespace of its own whose resolv.conf the test
# writes and whose hosts file names the candidates on loopback (a
# nameserver where none listens): no lookup of a wpad name leaves the
# machine, whatever the machine's own resolv.conf says.
# "${IN_RESOLVER_NS[@]}" RESOLV_CONF CMD...: CMD with that resolv.conf
# and the hosts file below.
printf '%s\n' "127.0.0.1 localhost" "127.0.0.9 wpad.a.pac-test.example" \
	"127.0.0.9 wpad.pac-test.example" >"$TMP/wpad-hosts"
IN_RESOLVER_NS=(unshare -m /bin/sh -c 'mount --bind "$0" /etc/hosts &&
	mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
	"$TMP/wpad-hosts")
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
	>"$TMP/resolv-none"
{ cat "$TMP/resolv-none"; echo "search a.pac-test.example"; } \
	>"$TMP/resolv-search"
"${IN_RESOLVER_NS[@]}" "$TMP/resolv-none" true ||
	bail_out "wpad" "cannot make a mount namespace (unshare -m)"

which_with wpad "url = wpad"
expect_exit 6 "wpad without a search domain: exit 6" -- \
	"${IN_RESOLVER_NS[@]}" "$TMP/resolv-none" "${WHICH[@]}"
expect_grep -F "no PAC script: wpad: no search domain in /etc/resolv.conf" \
	"$ERR" "wpad without a search domain: says so"

# Both candidates of the search domain are asked, most specific first,
# at the addresses the hosts file gives (nothing listens there).
expect_exit 6 "wpad with a search domain: exit 6" -- \
	"${IN_RESOLVER_NS[@]}" "$TMP/resolv-search" \
	"$PROXYSTACK" -c "$TMP/conf-wpad" -v which "tcp://localhost:1"
expect_line "$ERR" "wpad with a search domain: the first candidate" \
	"WPAD http://wpad.a.pac-test.example/wpad.dat: connect to" \
	"port 80"
expect_line "$ERR" "wpad with a search domain: then its parent" \
	"WPAD http://wpad.pac-test.example/wpad.dat: connect to"
expect_no_grep -F "does not resolve" "$ERR" \
	"wpad with a search domain: the hosts file answered"

# A select module built before the select op: the route fails clearly
# (exit 7), and nothing goes direct.
MODS=$TMP/mods
copy_modules "$MODS"
cp "$TEST_MODULE_DIR/oldselect.so" "$MODS/" && chmod 0755 "$MODS/oldselect.so"
OLD=$TMP/conf-old
make_conf "$OLD" "module_path = $MODS"
printf '[select old]\nmodule = oldselect\n[route all]\nmatch = *\nselect = old\n' |
	write_conf "$OLD" 50-old.conf
expect_exit 7 "a select module without the op: connect exits 7" -- \
	"$PROXYSTACK" -c "$OLD" connect -q 1 "tcp://127.0.0.1:$HTTP" </dev/null
expect_grep -F "choosing stacks with a select module (oldselect) is not supported" \
	"$ERR" "a select module without the op: says so"
expect_exit 7 "a select module without the op: which exits 7" -- \
	"$PROXYSTACK" -c "$OLD" which "tcp://127.0.0.1:$HTTP"

# What the host takes from a select module (ps_select_add): DIRECT and
# scheme://host:port of the proxy schemes, nothing else.
cp "$TEST_MODULE_DIR/pickselect.so" "$MODS/" && chmod 0755 "$MODS/pickselect.so"
# picks LABEL ALT...: which through pickselect naming ALTs.
picks() {
	local dir=$TMP/conf-pick-$1 alt
	shift
	make_conf "$dir" "module_path = $MODS"
	{
		printf '[select pick]\nmodule = pickselect\n'
		for alt in "$@"; do printf 'alt = %s\n' "$alt"; done
		printf '[route all]\nmatch = *\nselect = pick\n'
	} | write_conf "$dir" 50-pick.conf
	WHICH=("$PROXYSTACK" -c "$dir" which "tcp://localhost:1")
}
picks ok "socks5://127.0.0.1:1080" "HTTPS://Proxy.Example:8443" "direct"
expect_exit 0 "select_add: good alternatives: exit 0" -- "${WHICH[@]}"
expect_stdout "direct -> socks(socks5://127.0.0.1:1080)
# select pick (pickselect) answered: as configured
#   1. direct -> socks(socks5://127.0.0.1:1080)
#   2. direct -> tls(proxy.example:8443) -> https-proxy(https://proxy.example:8443)
#   3. direct" "select_add: good alternatives: in order, normalised"
picks creds "http://user:secret@127.0.0.1:3128"
expect_exit 2 "select_add: credentials: refused" -- "${WHICH[@]}"
expect_grep -F "alternative 1 carries credentials or a path" "$ERR" \
	"select_add: credentials: says so"
expect_no_grep "secret" "$ERR" "select_add: credentials: not shown"
picks ftp "DIRECT" "ftp://127.0.0.1:21"
expect_exit 2 "select_add: ftp: refused" -- "${WHICH[@]}"
expect_grep -F "alternative 2 is not DIRECT or a proxy URL" "$ERR" \
	"select_add: ftp: names the position"
picks pacurl "http://127.0.0.1/proxy.pac"
expect_exit 2 "select_add: a PAC URL: refused" -- "${WHICH[@]}"
picks many $(for i in $(seq 17); do echo DIRECT; done)
expect_exit 2 "select_add: 17 alternatives: refused" -- "${WHICH[@]}"
expect_grep -F "more than 16 alternatives" "$ERR" \
	"select_add: 17 alternatives: says so"
picks none
expect_exit 1 "select: no alternative: exit 1" -- "${WHICH[@]}"
expect_grep -F "the module chose no alternative" "$ERR" \
	"select: no alternative: says so"
