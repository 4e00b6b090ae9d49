#!/bin/bash
# t_config.sh - configuration, environment and the commands that explain
# them (show-config, which, env), without any network.
#
# Configuration fails closed with file:line; secrets never appear in what
# the CLI prints; the proxy is chosen by the documented precedence
# (PROXYSTACK_* > config dir > system variables, httpoxy guard); usage
# errors exit 2.  `which` never resolves, so *.example names are fine.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

SECRET=s3cr3t-PW

# which_is NAME WANT [ENV=VAL...] -- DIR URL: `which` prints exactly WANT.
which_is() {
	local name=$1 want=$2
	shift 2
	local -a envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	local dir=$1 url=$2
	expect_exit 0 "$name: which exits 0" -- \
		env "${envs[@]}" "$PROXYSTACK" -c "$dir" which "$url" &&
		expect_stdout "$want" "$name: which prints '$want'"
}

# --- configuration errors -----------------------------------------------

BAD=$TMP/bad
make_conf "$BAD"
write_conf "$BAD" 10-bad.conf <<'EOF'
; line 1 is a comment
[global]
this is not ini
EOF
expect_exit 2 "broken line: which exits 2" -- \
	"$PROXYSTACK" -c "$BAD" which tcp://example.com:443
expect_grep -F "10-bad.conf:3" "$ERR" "broken line: stderr names 10-bad.conf:3"
expect_stdout "" "broken line: nothing on stdout"

UNKNOWN=$TMP/unknown
make_conf "$UNKNOWN"
write_conf "$UNKNOWN" 10-unknown.conf <<'EOF'
[global]
connect_timeout = 7
frobnicate_level = 3
EOF
expect_exit 2 "unknown [global] key: which exits 2" -- \
	"$PROXYSTACK" -c "$UNKNOWN" which tcp://example.com:443
expect_grep -F "10-unknown.conf:3" "$ERR" "unknown [global] key: stderr names file:line"
expect_grep -F "frobnicate_level" "$ERR" "unknown [global] key: stderr names the key"

MODKEY=$TMP/modkey
make_conf "$MODKEY"
write_conf "$MODKEY" 20-corp.conf <<'EOF'
[transport corp]
module = http-connect
url = http://127.0.0.1:3128
bogus_setting = 1
EOF
expect_exit 2 "unknown key in [transport corp]: which exits 2" -- \
	"$PROXYSTACK" -c "$MODKEY" which tcp://example.com:443
expect_grep -F "bogus_setting" "$ERR" "unknown module key: stderr names the key"
expect_grep -F "20-corp.conf" "$ERR" "unknown module key: stderr names the file"

expect_exit 2 "missing config dir: exits 2" -- \
	"$PROXYSTACK" -c "$TMP/no-such-dir" which tcp://example.com:443
expect_grep -F "$TMP/no-such-dir" "$ERR" "missing config dir: stderr names it"

# --- show-config and secrets -------------------------------------------

PLAIN=$TMP/plain
make_conf "$PLAIN"
expect_exit 0 "show-config: exits 0" -- "$PROXYSTACK" -c "$PLAIN" show-config
expect_line "$OUT" "show-config: module_path with its value and file:line" \
	module_path "$MODULE_DIR" "00-global.conf:2"
expect_line "$OUT" "show-config: connect_timeout from 00-global.conf:3" \
	connect_timeout "00-global.conf:3"

SECRETS=$TMP/secrets
make_conf "$SECRETS"
write_conf "$SECRETS" 50-default.conf <<EOF
[default]
proxy_url = http://127.0.0.1:$(free_port)
proxy_username = alice
proxy_password = $SECRET
EOF

# no_secret NAME: neither stdout nor stderr of the last command holds it.
no_secret() {
	local n
	n=$(cat "$OUT" "$ERR" | grep -c -F -- "$SECRET")
	expect_eq "$n" 0 "$1: the password appears 0 times"
}

expect_exit 0 "secret in [default]: show-config exits 0" -- \
	"$PROXYSTACK" -c "$SECRETS" show-config
no_secret "show-config"
expect_grep -F "<redacted>" "$OUT" "show-config: prints <redacted>"
expect_line "$OUT" "show-config: proxy_username alice from 50-default.conf:3" \
	proxy_username alice "50-default.conf:3"

expect_exit 0 "secret in [default]: show-config URL exits 0" -- \
	"$PROXYSTACK" -c "$SECRETS" -v show-config tls://example.com:443
no_secret "show-config URL"

expect_exit 0 "secret in [default]: which exits 0" -- \
	"$PROXYSTACK" -c "$SECRETS" which tls://example.com:443
no_secret "which"

# The proxy port is closed: the first hop fails, after reading the secret.
expect_exit 6 "secret in [default]: check exits 6 (proxy down)" -- \
	"$PROXYSTACK" -c "$SECRETS" -v check tls://example.com:443
no_secret "check -v"

EMPTY=$TMP/empty
make_conf "$EMPTY"
expect_exit 0 "PROXYSTACK_PROXY_PASSWORD: show-config exits 0" -- \
	env PROXYSTACK_PROXY_URL=http://proxy.example:8080 \
	PROXYSTACK_PROXY_USERNAME=alice PROXYSTACK_PROXY_PASSWORD="$SECRET" \
	"$PROXYSTACK" -c "$EMPTY" show-config
no_secret "show-config (environment)"
expect_grep -F "<redacted>" "$OUT" "show-config (environment): prints <redacted>"
expect_grep -F "PROXYSTACK_PROXY_URL" "$OUT" \
	"show-config (environment): names the variable"

# A password read from proxy_password_file is a password all the same:
# show-config shows that there is one, redacted, and where it came from
# (it used to print "(unset)"), never the file's text.
FILEPW=$TMP/filepw
make_conf "$FILEPW"
printf '%s\n' "$SECRET" >"$TMP/corp.secret"
chmod 0600 "$TMP/corp.secret"
write_conf "$FILEPW" 50-default.conf <<EOF
[default]
proxy_url = http://127.0.0.1:$(free_port)
proxy_username = alice
proxy_password_file = $TMP/corp.secret
EOF
expect_exit 0 "proxy_password_file: show-config exits 0" -- \
	"$PROXYSTACK" -c "$FILEPW" -v show-config tls://example.com:443
no_secret "show-config (password file)"
expect_line "$OUT" "show-config (password file): proxy_password <redacted>, read from the file" \
	"proxy_password       = <redacted>" "; read from proxy_password_file"
expect_line "$OUT" "show-config (password file): proxy_password_file from 50-default.conf:4" \
	proxy_password_file "$TMP/corp.secret" "50-default.conf:4"

expect_exit 0 "password in the proxy URL: show-config exits 0" -- \
	env PROXYSTACK_PROXY_URL="http://alice:$SECRET@proxy.example:8080" \
	"$PROXYSTACK" -c "$EMPTY" show-config
no_secret "show-config (URL credentials)"

expect_exit 0 "password in the proxy URL: which exits 0" -- \
	env PROXYSTACK_PROXY_URL="http://alice:$SECRET@proxy.example:8080" \
	"$PROXYSTACK" -c "$EMPTY" which tls://example.com:443
no_secret "which (URL credentials)"

# --- which: the chain for a destination ---------------------------------

which_is "no proxy, tcp" "direct" -- "$EMPTY" tcp://example.com:443
which_is "no proxy, tls" "direct -> tls" -- "$EMPTY" tls://example.com:443

PROXY=$TMP/proxy
make_conf "$PROXY"
write_conf "$PROXY" 50-default.conf <<'EOF'
[default]
proxy_url = http://alice:pw@proxy.example:8080
no_proxy = localhost, 127.0.0.0/8
EOF
which_is "[default] proxy" \
	"direct -> http-connect(http://proxy.example:8080) -> tls" \
	-- "$PROXY" tls://example.com:443
which_is "[default] proxy, tcp" \
	"direct -> http-connect(http://proxy.example:8080)" \
	-- "$PROXY" tcp://example.com:443
which_is "[default] no_proxy 127.0.0.0/8" "direct" -- "$PROXY" tcp://127.0.0.1:443

NOPROXY=$TMP/noproxy
make_conf "$NOPROXY"
write_conf "$NOPROXY" 50-default.conf <<'EOF'
[default]
proxy_url = http://proxy.example:8080
no_proxy = .example.com
EOF
which_is "no_proxy .example.com" "direct -> tls" -- "$NOPROXY" tls://example.com:443
which_is "no_proxy .example.com, subdomain" "direct -> tls" \
	-- "$NOPROXY" tls://api.example.com:443
which_is "no_proxy .example.com, other domain" \
	"direct -> http-connect(http://proxy.example:8080) -> tls" \
	-- "$NOPROXY" tls://example.org:443

# Files are read in lexical order: a later file overrides.
write_conf "$PROXY" 60-override.conf <<'EOF'
[default]
proxy_url = http://later.example:3128
EOF
which_is "later file overrides" \
	"direct -> http-connect(http://later.example:3128) -> tls" \
	-- "$PROXY" tls://example.com:443
rm -f "$PROXY/60-override.conf"

which_is "PROXYSTACK_PROXY_URL beats [default]" \
	"direct -> http-connect(http://envproxy.example:3128) -> tls" \
	PROXYSTACK_PROXY_URL=http://envproxy.example:3128 \
	-- "$PROXY" tls://example.com:443
which_is "PROXYSTACK_NO_PROXY beats [default]" "direct -> tls" \
	PROXYSTACK_NO_PROXY=example.com -- "$PROXY" tls://example.com:443

which_is "HTTPS_PROXY when nothing else names a proxy" \
	"direct -> http-connect(http://sys.example:3128) -> tls" \
	HTTPS_PROXY=http://sys.example:3128 -- "$EMPTY" tls://example.com:443
which_is "HTTPS_PROXY loses to [default]" \
	"direct -> http-connect(http://proxy.example:8080) -> tls" \
	HTTPS_PROXY=http://sys.example:3128 -- "$PROXY" tls://example.com:443
which_is "NO_PROXY with HTTPS_PROXY" "direct -> tls" \
	HTTPS_PROXY=http://sys.example:3128 NO_PROXY=example.com \
	-- "$EMPTY" tls://example.com:443
which_is "HTTP_PROXY serves tls when alone" \
	"direct -> http-connect(http://sys.example:3128) -> tls" \
	HTTP_PROXY=http://sys.example:3128 -- "$EMPTY" tls://example.com:443
which_is "HTTP_PROXY ignored under REQUEST_METHOD (httpoxy)" "direct -> tls" \
	HTTP_PROXY=http://sys.example:3128 REQUEST_METHOD=GET \
	-- "$EMPTY" tls://example.com:443

expect_exit 0 "PROXYSTACK_CONF_DIR: which exits 0" -- \
	env PROXYSTACK_CONF_DIR="$NOPROXY" "$PROXYSTACK" which tls://example.org:443 &&
	expect_stdout "direct -> http-connect(http://proxy.example:8080) -> tls" \
		"PROXYSTACK_CONF_DIR: the directory is read"

# --- socks: configured and used ------------------------------

SOCKS=$TMP/socks
make_conf "$SOCKS"
write_conf "$SOCKS" 50-default.conf <<'EOF'
[default]
proxy_url = socks5://127.0.0.1:1080
EOF
expect_exit 0 "socks5 proxy: which exits 0" -- \
	"$PROXYSTACK" -c "$SOCKS" which tls://example.com:443
expect_grep -F "socks(socks5://127.0.0.1:1080)" "$OUT" \
	"socks5 proxy: which shows socks(...)"
# Nothing listens on 1080 here: the hop below the socks proxy fails to
# reach it (t_socks*.sh talk to real SOCKS proxies).
expect_exit 6 "socks5 proxy: connect goes to the proxy (none there: exit 6)" -- \
	"$PROXYSTACK" -c "$SOCKS" connect --half-close tcp://example.com:443 </dev/null
expect_grep -F "127.0.0.1:1080" "$ERR" \
	"socks5 proxy: stderr names the proxy it could not reach"

# --- env -----------------------------------------------------------------

expect_exit 0 "env: exits 0" -- \
	"$PROXYSTACK" -c "$NOPROXY" env tls://example.org:443
# Every line is an export (or a comment, or empty): eval-able as is.
others=$(grep -cvE '^(export [A-Za-z_][A-Za-z0-9_]*=.*|#.*)?$' "$OUT")
expect_eq "$others" 0 "env: nothing but export lines"
expect_line "$OUT" "env: exports https_proxy" "export https_proxy=" "proxy.example:8080"
expect_line "$OUT" "env: exports HTTPS_PROXY" "export HTTPS_PROXY=" "proxy.example:8080"
expect_line "$OUT" "env: exports no_proxy" "export no_proxy=" "example.com"
# The lines must be valid shell: source them and read the variable back.
got=$(env -i /bin/sh -c ". '$OUT' && printf %s \"\$https_proxy\"")
expect_eq "$got" "http://proxy.example:8080" "env: the lines work in sh"

# --- usage errors --------------------------------------------------------

expect_exit 2 "no subcommand: exits 2" -- "$PROXYSTACK"
expect_grep -i "usage" "$ERR" "no subcommand: stderr shows usage"
expect_exit 2 "unknown option: exits 2" -- \
	"$PROXYSTACK" --no-such-option which tcp://example.com:443
expect_grep -F -- "--no-such-option" "$ERR" "unknown option: stderr names it"
expect_exit 2 "unknown subcommand: exits 2" -- \
	"$PROXYSTACK" -c "$EMPTY" frobnicate tcp://example.com:443
expect_exit 2 "which without URL: exits 2" -- "$PROXYSTACK" -c "$EMPTY" which
expect_exit 2 "bad URL: exits 2" -- "$PROXYSTACK" -c "$EMPTY" which "not a url"
