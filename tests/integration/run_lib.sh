# tests/integration/run_lib.sh - helpers of the t_run_*.sh scripts
# (`proxystack run`), sourced after lib.sh and proxies.sh.
#
#   run_setup [start_squid options...]
#         squid "sq" with Basic auth (alice), the configuration directory
#         $RUN_CONF whose [default] proxy is that squid, and $RUN_CERT /
#         $RUN_KEY / $RUN_CA: a destination certificate for $RUN_HOST
#         (and localhost).  Destinations are named $RUN_HOST,
#         dest.proxystack.test: only squid can resolve it (its own hosts
#         file maps it to 127.0.0.1), so a program reaches it only if the
#         preload library gave it a fake address and the proxy resolved
#         the name; squid's access log shows "CONNECT dest...:PORT".
#         (Not "localhost": curl resolves that one itself, RFC 6761.)
#   "${PS_RUN[@]}" CMD ARGS...   (after run_setup; expect_exit takes it)
#         `proxystack -c $RUN_CONF run -- CMD ARGS...`.  In a sanitizer
#         build the preload library needs the ASan runtime loaded before
#         everything else (the programs run are not built with it): it is
#         put first in LD_PRELOAD, and leak checks are off for programs
#         we did not write (and for the context the library keeps for
#         the life of the process).
#   "${PS_RUN_PLAIN[@]}" CMD ARGS...
#         the same from a build without sanitizers, for programs that
#         cannot run with the ASan runtime preloaded: curl (Debian 12's)
#         deadlocks in its first setlocale() under it, with or without
#         proxystack.  The build is $PS_FAILALLOC_BUILD (scripts/test.sh
#         makes it), else $PS_SRC/_build-plain, else PS_BUILD itself when
#         it has no sanitizers; without one, run_need_plain skips.
#   expect_s_client_echo TEST PORT   openssl s_client under run to the
#         TLS echo server on $RUN_HOST:PORT, verifying it, sends a line
#         and gets it back; its input stays open until the echo is in
#         (s_client ends at end of input), at most 25 s
#   write_run_conf FILE <<EOF, remove_run_conf FILE
#         a file of both configuration directories (sanitized, plain)
#   expect_connect_logged PORT TEST   squid logged a tunnel to $RUN_HOST:PORT
#   expect_no_connect_logged PORT TEST
#   run_https_proxy_setup PROXY_HOST   (after run_setup) squid "hsq" with an
#         https_port whose certificate chains to the test CA "proxy", and
#         50-https.conf: [transport corp] (https-proxy to PROXY_HOST:$HSQ,
#         alice) for $RUN_HOST, by a [route]
#   run_https_proxy_conf URL   that 50-https.conf, the proxy at URL
#   expect_run_program NAME PROGRAM ARGS...   PROGRAM under run exits 0;
#         each of its own "ok - " / "not ok - " lines becomes a check
#         named "NAME: ..."

RUN_PRELOAD=$PS_BUILD/.libs/libproxystack-preload.so
[ -f "$RUN_PRELOAD" ] || bail_out "run_lib" "no $RUN_PRELOAD (build first)"
RUN_ASAN=$(ldd "$RUN_PRELOAD" | awk '/libasan/ { print $3 }')

RUN_HOST=dest.proxystack.test

run_setup() {
	make_htpasswd "$TMP/htpasswd" alice 'op3n s@same'
	# Read by squid after it dropped to its user: 0644 in a 0711 $TMP.
	printf '127.0.0.1 localhost %s\n' "$RUN_HOST" >"$TMP/hosts"
	chmod 0644 "$TMP/hosts"
	start_squid sq --basic "$TMP/htpasswd" \
		--line "hosts_file $TMP/hosts" "$@"
	RUN_CONF=$TMP/conf
	RUN_CONF_PLAIN=
	run_conf "$RUN_CONF" "$MODULE_DIR"
	make_ca dest
	make_leaf dest server "DNS:$RUN_HOST,DNS:localhost,IP:127.0.0.1"
	RUN_CA=$CERTS/dest.pem
	RUN_CERT=$CERTS/server.pem
	RUN_KEY=$CERTS/server-key.pem
	run_command
}

# run_conf DIR MODULE_DIR: the configuration: squid sq as [default].
run_conf() {
	make_conf "$1" "module_path = $2" "[default]" \
		"proxy_url = http://alice:op3n%20s%40same@127.0.0.1:$SQUID_PORT"
}

# write_run_conf FILE: FILE (stdin) in both configuration directories.
write_run_conf() {
	local text
	text=$(cat)
	write_conf "$RUN_CONF" "$1" <<<"$text"
	[ -z "$RUN_CONF_PLAIN" ] || write_conf "$RUN_CONF_PLAIN" "$1" <<<"$text"
}

# remove_run_conf FILE: the opposite.
remove_run_conf() {
	rm -f "$RUN_CONF/$1" ${RUN_CONF_PLAIN:+"$RUN_CONF_PLAIN/$1"}
}

run_command() {
	local plain
	PS_RUN=(env)
	[ -n "$RUN_ASAN" ] &&
		PS_RUN+=("LD_PRELOAD=$RUN_ASAN" "ASAN_OPTIONS=detect_leaks=0")
	PS_RUN+=("$PROXYSTACK" -c "$RUN_CONF" run --)
	PS_RUN_PLAIN=()
	for plain in ${RUN_ASAN:+"${PS_FAILALLOC_BUILD:-}" "$PS_SRC/_build-plain"} \
		${RUN_ASAN:-"$PS_BUILD"}; do
		[ -n "$plain" ] && [ -x "$plain/proxystack" ] &&
			[ -f "$plain/.libs/libproxystack-preload.so" ] || continue
		# Its own modules: a module built with ASan cannot load there.
		RUN_CONF_PLAIN=$TMP/conf-plain
		run_conf "$RUN_CONF_PLAIN" "$plain/modules/.libs"
		PS_RUN_PLAIN=("$plain/proxystack" -c "$RUN_CONF_PLAIN" run --)
		break
	done
}

# run_need_plain TEST: 0 when PS_RUN_PLAIN exists, else skip TEST.
run_need_plain() {
	[ "${#PS_RUN_PLAIN[@]}" -gt 0 ] && return 0
	skip "$1" "curl cannot run with the ASan runtime preloaded, and no" \
		"build without sanitizers was found (scripts/test.sh makes" \
		"_build-plain)"
	return 1
}

expect_s_client_echo() {
	local name=$1 port=$2 i
	rm -f "$TMP/last.out"
	{
		printf 'hello s_client\n'
		for ((i = 0; i < 250; i++)); do
			grep -qs "hello s_client" "$TMP/last.out" && break
			sleep 0.1
		done
	} | expect_exit 0 "$name" -- \
		"${PS_RUN[@]}" openssl s_client -connect "$RUN_HOST:$port" \
		-servername "$RUN_HOST" -verify_hostname "$RUN_HOST" \
		-CAfile "$RUN_CA" -verify_return_error -quiet -no_ign_eof
	expect_grep -F "hello s_client" "$OUT" "$name: the echo"
}

expect_connect_logged() {
	expect_squid_log sq "TCP_TUNNEL/200 CONNECT ${RUN_HOST//./\\.}:$1 alice" "$2"
}

expect_no_connect_logged() {
	expect_no_squid_log sq "CONNECT [^ ]*:$1 " "$2"
}

run_https_proxy_setup() {
	make_ca proxy
	make_leaf proxy proxysrv
	start_squid hsq --basic "$TMP/htpasswd" --line "hosts_file $TMP/hosts" \
		--https "$CERTS/proxysrv-chain.pem" "$CERTS/proxysrv-key.pem"
	HSQ=$SQUID_PORT
	run_https_proxy_conf "https://$1:$HSQ"
}

run_https_proxy_conf() {
	write_run_conf 50-https.conf <<EOC
[transport corp]
module = https-proxy
url = $1
username = alice
password = op3n s@same
ca_file = $CERTS/proxy.pem

[stack corp]
transport = corp

[route through-https]
match = $RUN_HOST
stack = corp
EOC
}

expect_run_program() {
	local name=$1 line
	shift
	expect_exit 0 "$name" -- "${PS_RUN[@]}" "$@"
	sed -n 's/^\(not \)\{0,1\}ok - /&'"$name"': /p' "$OUT" |
		while IFS= read -r line; do
			case $line in
			ok*) ok "${line#ok - }" ;;
			*) fail "${line#not ok - }" ;;
			esac
		done
}
