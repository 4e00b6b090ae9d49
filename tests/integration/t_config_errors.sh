#!/bin/bash
# t_config_errors.sh - mistakes fail when the configuration loads, in the
# words the user wrote, without any network.
#
# TLS files named by [global], PROXYSTACK_CA_FILE or --ca-file/--cert/
# --key are loaded at once (file:line or the option, and the reason);
# an unknown module names its key's line and the modules there are; an
# empty section is reported for what it lacks; [default] errors use its
# keys; sections are cited at their header line; `env` says when it
# leaves out a password kept in a file, and --include-password adds it.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

make_ca dest
make_client dest alice
make_client dest bob
GARBAGE=$TMP/garbage.pem
echo "not a certificate" >"$GARBAGE"
NOFILE=$TMP/no-such.pem

# show_config_fails NAME DIR [ENV=VAL...]: show-config exits 2, nothing on
# stdout; $ERR holds the message.
show_config_fails() {
	local name=$1 dir=$2
	shift 2
	expect_exit 2 "$name: show-config exits 2" -- \
		env "$@" "$PROXYSTACK" -c "$dir" show-config &&
		expect_stdout "" "$name: nothing on stdout"
}

# new_conf NAME FILE: $TMP/NAME by make_conf, plus FILE from stdin.
new_conf() {
	make_conf "$TMP/$1"
	write_conf "$TMP/$1" "$2"
}

# which_fails NAME DIR [URL]: `which` exits 2; $ERR holds the message.
which_fails() {
	expect_exit 2 "$1: which exits 2" -- \
		"$PROXYSTACK" -c "$2" which "${3:-tcp://www.example.com:443}"
}

# --- [global] TLS files ---------------------------------------------------

CA_MISSING=$TMP/ca-missing
make_conf "$CA_MISSING" "ca_file = $NOFILE"
show_config_fails "missing ca_file" "$CA_MISSING"
expect_grep -F "00-global.conf:4: ca_file: $NOFILE: No such file or directory" \
	"$ERR" "missing ca_file: file:line and the OS reason"
expect_no_grep -F "system lib" "$ERR" "missing ca_file: no OpenSSL jargon"

CA_GARBAGE=$TMP/ca-garbage
make_conf "$CA_GARBAGE" "ca_file = $GARBAGE"
show_config_fails "ca_file that does not parse" "$CA_GARBAGE"
expect_grep -F "00-global.conf:4: ca_file: no certificate found in $GARBAGE" \
	"$ERR" "ca_file that does not parse: says no certificate was found"

CA_ENV=$TMP/ca-env
make_conf "$CA_ENV"
show_config_fails "PROXYSTACK_CA_FILE missing" "$CA_ENV" \
	PROXYSTACK_CA_FILE="$NOFILE"
expect_grep -F "environment PROXYSTACK_CA_FILE: ca_file: $NOFILE: No such file" \
	"$ERR" "PROXYSTACK_CA_FILE missing: names the variable"

mkfifo "$TMP/fifo"
show_config_fails "PROXYSTACK_CA_FILE naming a FIFO" "$CA_ENV" \
	PROXYSTACK_CA_FILE="$TMP/fifo"
expect_grep -F "environment PROXYSTACK_CA_FILE: ca_file: $TMP/fifo: not a regular file" \
	"$ERR" "PROXYSTACK_CA_FILE naming a FIFO: refused without hanging"

CERT_MISSING=$TMP/cert-missing
make_conf "$CERT_MISSING" "client_cert_file = $NOFILE" \
	"client_key_file = $CERTS/alice-key.pem"
show_config_fails "missing client_cert_file" "$CERT_MISSING"
expect_grep -F "00-global.conf:4: client_cert_file: $NOFILE: No such file or directory" \
	"$ERR" "missing client_cert_file: file:line and the OS reason"

KEY_GARBAGE=$TMP/key-garbage
make_conf "$KEY_GARBAGE" "client_cert_file = $CERTS/alice.pem" \
	"client_key_file = $CERTS/alice.pem"
show_config_fails "client_key_file holding a certificate" "$KEY_GARBAGE"
expect_grep -F "00-global.conf:5: client_key_file: no private key found in $CERTS/alice.pem" \
	"$ERR" "client_key_file holding a certificate: no private key found"

KEY_OTHER=$TMP/key-other
make_conf "$KEY_OTHER" "client_cert_file = $CERTS/alice.pem" \
	"client_key_file = $CERTS/bob-key.pem"
show_config_fails "key of another certificate" "$KEY_OTHER"
expect_grep -F "00-global.conf:5: client_key_file: $CERTS/bob-key.pem does not match the certificate in $CERTS/alice.pem" \
	"$ERR" "key of another certificate: names the pair"

GOOD_TLS=$TMP/good-tls
make_conf "$GOOD_TLS" "ca_file = $CERTS/dest.pem" \
	"client_cert_file = $CERTS/alice.pem" \
	"client_key_file = $CERTS/alice-key.pem"
expect_exit 0 "good TLS files: show-config exits 0" -- \
	"$PROXYSTACK" -c "$GOOD_TLS" show-config

TRUST_GARBAGE=$TMP/trust-garbage
new_conf trust-garbage 20-trust.conf <<EOF
[trust inspection]
module = tls-intercept-trust
ca_file = $GARBAGE
EOF
show_config_fails "trust ca_file that does not parse" "$TRUST_GARBAGE"
expect_grep -F "20-trust.conf:3: [trust inspection] ca_file: no certificate found in $GARBAGE" \
	"$ERR" "trust ca_file that does not parse: file:line and the reason"

# --- the same files as options: refused before any connection ----------

PLAIN=$TMP/plain
make_conf "$PLAIN"
PORT=$(free_port)
expect_exit 2 "--ca-file missing: exits 2" -- \
	"$PROXYSTACK" -c "$PLAIN" connect --ca-file "$NOFILE" \
	"tls://127.0.0.1:$PORT" </dev/null
expect_grep -F -- "--ca-file: $NOFILE: No such file or directory" "$ERR" \
	"--ca-file missing: names the option and the reason"
expect_no_grep -i "connect|refused" "$ERR" \
	"--ca-file missing: no connection was tried"

expect_exit 2 "--cert that does not parse: exits 2" -- \
	"$PROXYSTACK" -c "$PLAIN" check --cert "$GARBAGE" \
	--key "$CERTS/alice-key.pem" "tls://127.0.0.1:$PORT"
expect_grep -F -- "--cert: no certificate found in $GARBAGE" "$ERR" \
	"--cert that does not parse: names the option"

expect_exit 2 "--key of another certificate: exits 2" -- \
	"$PROXYSTACK" -c "$PLAIN" check --cert "$CERTS/alice.pem" \
	--key "$CERTS/bob-key.pem" "tls://127.0.0.1:$PORT"
expect_grep -F -- "--key: $CERTS/bob-key.pem does not match the certificate" \
	"$ERR" "--key of another certificate: names the option"

# --- a module that does not exist -----------------------------------------

NOMOD=$TMP/nomod
new_conf nomod 20-corp.conf <<'EOF'
[transport corp]
url = http://127.0.0.1:3128
module = http_connect
EOF
which_fails "module = http_connect" "$NOMOD" tcp://example.com:443
expect_grep -F "20-corp.conf:3: [transport corp]: no module named 'http_connect'" \
	"$ERR" "module = http_connect: file:line of the module key"
expect_grep -F "has: direct, http-connect, https-proxy" "$ERR" \
	"module = http_connect: lists the modules there are"
expect_grep -F "did you mean module = http-connect?" "$ERR" \
	"module = http_connect: suggests the spelling"
expect_no_grep -F "http_connect.so" "$ERR" \
	"module = http_connect: no .so path"

# --- empty sections and header lines --------------------------------------

EMPTY=$TMP/empty
new_conf empty 20-corp.conf <<'EOF'
; the corporate stack, to be filled in
[stack corp]

[route corp]
match = *.example.com
stack = corp
EOF
which_fails "empty [stack corp]" "$EMPTY"
expect_grep -F "20-corp.conf:2: [stack corp] has no transport" "$ERR" \
	"empty [stack corp]: says what it lacks, at its header"
expect_no_grep -F "no stack or transport named" "$ERR" \
	"empty [stack corp]: not reported as missing"

HEADER=$TMP/header
new_conf header 20-corp.conf <<'EOF'
; the corporate proxy

[transport corp]
; where it is
url = http://127.0.0.1:3128
EOF
which_fails "[transport corp] without module" "$HEADER" tcp://example.com:443
expect_grep -F "20-corp.conf:3: [transport corp] has no module key" "$ERR" \
	"[transport corp] without module: cited at its header line"

# --- [default] in its own words -------------------------------------------

DEFPW=$TMP/defpw
new_conf defpw 10-default.conf <<EOF
[default]
proxy_url = http://127.0.0.1:3128
proxy_username = alice
proxy_password_file = $NOFILE
EOF
which_fails "missing proxy_password_file" "$DEFPW" tcp://example.com:443
expect_grep -F "10-default.conf:4: [default] proxy_password_file: cannot read $NOFILE: No such file" \
	"$ERR" "missing proxy_password_file: the key as written"
expect_no_grep -F "[transport default]" "$ERR" \
	"missing proxy_password_file: no internal section name"

DEFFTP=$TMP/defftp
new_conf defftp 10-default.conf <<'EOF'
[default]
proxy_url = ftp://127.0.0.1:21
EOF
which_fails "ftp:// proxy_url" "$DEFFTP" tcp://example.com:443
expect_grep -F "10-default.conf:2: [default] proxy_url: unsupported proxy scheme 'ftp://'" \
	"$ERR" "ftp:// proxy_url: names the scheme"
expect_no_grep -i "socks|pac" "$ERR" \
	"ftp:// proxy_url: recommends no unsupported scheme"

DEFUSER=$TMP/defuser
new_conf defuser 10-default.conf <<EOF
[default]
proxy_url = http://127.0.0.1:3128
proxy_password_file = $GARBAGE
EOF
which_fails "password without user name" "$DEFUSER" tcp://example.com:443
expect_grep -F "set proxy_username too" "$ERR" \
	"password without user name: names proxy_username"

CONTROL=$TMP/control
new_conf control 20-route.conf <<'EOF'
[route r]
match = *.example.com
stack = direct maybe
EOF
which_fails "unknown control word" "$CONTROL"
expect_no_grep -F "[...]" "$ERR" "unknown control word: hint shows real syntax"
expect_grep -F "[timeout=next default=die]" "$ERR" \
	"unknown control word: hint gives a real control"

# --- env and a password kept in a file ------------------------------------

PWFILE=$TMP/proxy.secret
printf "p'w@rd x\n" >"$PWFILE"
chmod 0600 "$PWFILE"
ENVPW=$TMP/envpw
new_conf envpw 10-default.conf <<EOF
[default]
proxy_url = http://127.0.0.1:3128
proxy_username = alice
proxy_password_file = $PWFILE
EOF
expect_exit 0 "env, password in a file: exits 0" -- \
	"$PROXYSTACK" -c "$ENVPW" env tcp://example.com:443
expect_grep -F "export http_proxy='http://alice@127.0.0.1:3128'" "$OUT" \
	"env, password in a file: exports the user only"
expect_grep -F "warning: the proxy password comes from $PWFILE" "$ERR" \
	"env, password in a file: says the password is left out"
expect_grep -F -- "--include-password" "$ERR" \
	"env, password in a file: names the option that includes it"

expect_exit 0 "env --include-password: exits 0" -- \
	"$PROXYSTACK" -c "$ENVPW" env --include-password tcp://example.com:443
expect_grep -F "export https_proxy='http://alice:p%27w%40rd%20x@127.0.0.1:3128'" \
	"$OUT" "env --include-password: the password, percent-encoded"
expect_no_grep -F "warning" "$ERR" "env --include-password: no warning"
got=$(sh -c ". '$OUT' && printf %s \"\$http_proxy\"")
expect_eq "$got" "http://alice:p%27w%40rd%20x@127.0.0.1:3128" \
	"env --include-password: sh reads the exported line back"

expect_exit 2 "--include-password outside env: usage error" -- \
	"$PROXYSTACK" -c "$ENVPW" which --include-password tcp://example.com:443
