#!/bin/bash
# t_pac_redirect.sh - the pac module follows its script's redirects:
# 301, 302, 303, 307 and 308, to an absolute URL, an absolute path, a
# relative path and a scheme-relative URL; a chain of 5 and no more; and
# it refuses, naming the URLs, a loop, a redirect from https:// to
# http://, one without a Location and one to another scheme.  `which -v`
# says where the script finally came from.  Against
# tests/integration/pac_server.py on loopback.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/pac_lib.sh
. "$(dirname "$0")/pac_lib.sh"
need_duktape

pac_script
HTTP=$(free_port)
HTTPS=$(free_port)
start_pac_server http "$HTTP" --other "https://localhost:$HTTPS/up/proxy.pac"
start_pac_server https "$HTTPS" --tls --other "http://127.0.0.1:$HTTP/proxy.pac"
wait_port "$HTTP"
wait_port "$HTTPS"
ANSWER="answered: PROXY 127.0.0.1:3128; DIRECT"

# which_with LABEL KEY=VALUE...: which -v through a [select] with those keys.
which_with() {
	local dir=$TMP/conf-$1
	shift
	make_conf "$dir"
	{
		printf '[select auto]\nmodule = pac\nca_file = %s\n' \
			"$CERTS/pacca.pem"
		printf '%s\n' "$@"
		printf '[route all]\nmatch = *\nselect = auto\n'
	} | write_conf "$dir" 50-pac.conf
	WHICH=("$PROXYSTACK" -c "$dir" -v which "tcp://localhost:1")
}

# followed LABEL URL FINAL: URL's redirects lead to FINAL's script.
followed() {
	which_with "$1" "url = $2"
	expect_exit 0 "$1: which exits 0" -- "${WHICH[@]}"
	expect_grep -F "$ANSWER" "$OUT" "$1: the script's answer"
	expect_grep -F "to $3" "$ERR" "$1: -v names the final URL"
}

for code in 301 302 303 307 308; do
	followed "$code absolute" "http://127.0.0.1:$HTTP/r/$code/abs" \
		"http://127.0.0.1:$HTTP/proxy.pac"
done
followed "absolute path" "http://127.0.0.1:$HTTP/r/302/path" \
	"http://127.0.0.1:$HTTP/proxy.pac"
followed "relative path" "http://127.0.0.1:$HTTP/r/307/rel" \
	"http://127.0.0.1:$HTTP/r/307/proxy.pac"
followed "scheme-relative, https stays https" \
	"https://localhost:$HTTPS/r/301/net" \
	"https://localhost:$HTTPS/proxy.pac"
followed "http to https" "http://127.0.0.1:$HTTP/other" \
	"https://localhost:$HTTPS/up/proxy.pac"
followed "5 redirects" "http://127.0.0.1:$HTTP/chain/5" \
	"http://127.0.0.1:$HTTP/chain/0"
expect_grep -F "followed 5 redirects" "$ERR" "5 redirects: counted"

# refused LABEL URL EXIT MESSAGE: URL's redirects fail with MESSAGE.
refused() {
	which_with "$1" "url = $2"
	expect_exit "$3" "$1: which exits $3" -- "${WHICH[@]}"
	expect_grep -F "$4" "$ERR" "$1: says so"
	expect_no_grep -F "$ANSWER" "$OUT" "$1: no answer"
}
refused "6 redirects" "http://127.0.0.1:$HTTP/chain/6" 4 \
	"http://127.0.0.1:$HTTP/chain/6: more than 5 redirects (the last one from http://127.0.0.1:$HTTP/chain/1)"
refused "loop" "http://127.0.0.1:$HTTP/loop/a" 4 \
	"http://127.0.0.1:$HTTP/loop/b redirected (302) back to http://127.0.0.1:$HTTP/loop/a: a redirect loop"
refused "https to http" "https://localhost:$HTTPS/other" 4 \
	"https://localhost:$HTTPS/other redirected (302) to http://127.0.0.1:$HTTP/proxy.pac: a redirect from https:// to http:// is refused"
refused "no Location" "http://127.0.0.1:$HTTP/nolocation" 4 \
	"answered 302 without a Location"
refused "ftp" "http://127.0.0.1:$HTTP/ftp" 4 \
	"redirected (302) to \"ftp://127.0.0.1/proxy.pac\", not an http:// or https:// URL"
refused "redirect to a 404" "http://127.0.0.1:$HTTP/gone" 4 \
	"answered 404, not 200 (at http://127.0.0.1:$HTTP/missing.pac, after 1 redirect)"
# The hint a person acts on comes with every refusal.
expect_grep -F "check that the PAC URL or file is reachable" "$ERR" \
	"ftp: the hint"

