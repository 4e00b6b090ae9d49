#!/bin/bash
# t_env_credentials.sh - `proxystack env` exports the credentials of the
# proxy the destination's route uses, wherever they are configured
# (proxystack(1), env): [default], a [transport] section of a route's
# stack (http-connect, https-proxy, socks), a section split over two
# files, a password_file (left out with a warning unless
# --include-password).  Nothing connects: the names are never resolved.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

echo 'pw-from-file' >"$TMP/pw"
chmod 0600 "$TMP/pw"
make_conf "$TMP/conf"
{
	printf '[default]\nproxy_url = http://default.test:3128\n'
	printf 'proxy_username = dora\nproxy_password = d0ra\n'
	# transport NAME MODULE URL MATCH [LINE...]
	transport() {
		printf '\n[transport %s]\nmodule = %s\nurl = %s\n' "$1" "$2" "$3"
		printf '%s\n' "${@:5}"
		printf '\n[stack %s]\ntransport = %s\n' "$1" "$1"
		printf '\n[route %s]\nmatch = %s\nstack = %s\n' "$1" "$4" "$1"
	}
	transport corp http-connect http://corp.test:8080 corp.test \
		'username = alice' 'password = p@ss:w'
	transport tls https-proxy https://tls.test:443 tls.test \
		'username = bob' 'password = b0b'
	transport sock socks socks5://sock.test:1080 sock.test \
		'username = carol' 'password = c4rol'
	transport file http-connect http://file.test:8080 file.test \
		'username = erin' "password_file = $TMP/pw"
	transport split http-connect http://split.test:8080 split.test
} | write_conf "$TMP/conf" 50-proxies.conf
printf '[transport split]\nusername = frank\npassword = fr4nk\n' |
	write_conf "$TMP/conf" 60-split.conf
chmod 0600 "$TMP/conf"/*.conf
PS=("$PROXYSTACK" -c "$TMP/conf")

# exports NAME URL WANT_PROXY [env options]: exit 0, all four variables
# hold WANT_PROXY.
exports() {
	local name=$1 url=$2 want=$3
	shift 3
	expect_exit 0 "$name: env exits 0" -- "${PS[@]}" env "$@" "$url" &&
		expect_eq "$(grep -c "^export [a-zA-Z_]*_proxy='$want'$\|^export [A-Z_]*_PROXY='$want'$" "$OUT")" 4 \
			"$name: the four proxy variables hold $want"
}

exports "[default]" https://elsewhere.test/ 'http://dora:d0ra@default.test:3128'
exports "route, http-connect" https://corp.test/ 'http://alice:p%40ss%3Aw@corp.test:8080'
exports "route, https-proxy" https://tls.test/ 'https://bob:b0b@tls.test:443'
exports "route, socks" https://sock.test/ 'socks5://carol:c4rol@sock.test:1080'
exports "route, section in two files" https://split.test/ 'http://frank:fr4nk@split.test:8080'
exports "route, password_file" https://file.test/ 'http://erin@file.test:8080' &&
	expect_grep "warning: the proxy password comes from $TMP/pw .*--include-password" \
		"$ERR" "route, password_file: a warning says it is left out"
exports "route, password_file, --include-password" https://file.test/ \
	'http://erin:pw-from-file@file.test:8080' --include-password
