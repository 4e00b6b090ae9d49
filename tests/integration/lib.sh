# tests/integration/lib.sh - shared helpers of the integration scripts.
#
# Sourced (bash) by tests/integration/t_*.sh and by scripts/demo.sh.
#
# Each assertion prints one line that tests/ps-driver counts:
#
#   ok - NAME
#   not ok - NAME: DETAIL       (more detail follows on "#   " lines)
#   skip - NAME: WHY
#
# A script gets its own temporary directory $TMP.  At exit a trap stops
# every process the script started with start_bg (by PID, never by name),
# removes $TMP (kept when PS_KEEP_TMP=1) and makes the exit status 1 if any
# assertion failed, so a script run by hand tells the truth too.
#
# Environment: PS_BUILD (absolute build dir) and PS_SRC (absolute source
# dir) are set by make check; run by hand, the build defaults to
# _build/ (scripts/test.sh) if it exists, else the source tree.
# PS_CMD_TIMEOUT (default 30) bounds every command run by expect_exit, so
# one hang costs seconds, not the suite.  PS_KEY_ALG=rsa for RSA test keys.
#
# Helpers:
#   results     ok NAME, fail NAME [DETAIL], skip NAME WHY, bail_out, note
#   assertions  expect_exit WANT NAME -- CMD...  ($OUT, $ERR, $LAST_RC)
#               expect_grep [-i] [-F] [--] PATTERN FILE NAME, expect_no_grep
#               expect_line FILE NAME STRING..., expect_eq, expect_stdout,
#               expect_same_file
#   processes   start_bg NAME CMD... ($BG_PID, log $TMP/NAME.log),
#               stop_pid PID, show_bg_logs
#   network     free_port, wait_port PORT [HOST], have_ipv6,
#               start_echo NAME [tls_echo.py options] ($ECHO_PORT)
#   certs       make_ca NAME, make_leaf CA NAME [SAN] [DAYS|expired],
#               make_client CA NAME      (files in $CERTS)
#   config      make_conf DIR [LINE...], write_conf DIR FILE <<EOF,
#               copy_modules DIR
#   proxies     squid, tinyproxy, nghttpx on loopback: source proxies.sh
#               after this file (its header lists the helpers)

set -u
# Config and module directories must not be writable by group or others:
# the loader refuses loose permissions, and a CI umask of 002 must not make
# every test fail for that reason.
umask 022
# `printf x | expect_exit ...` then runs expect_exit in this shell.
shopt -s lastpipe

PS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PS_SRC=${PS_SRC:-$(cd "$PS_LIB_DIR/../.." && pwd)}
if [ -z "${PS_BUILD:-}" ]; then
	PS_BUILD=$PS_SRC
	[ -x "$PS_SRC/_build/proxystack" ] && PS_BUILD=$PS_SRC/_build
fi
# bin_PROGRAMS = proxystack: the libtool wrapper at the top of the build.
PROXYSTACK=${PROXYSTACK:-$PS_BUILD/proxystack}
MODULE_DIR=${MODULE_DIR:-$PS_BUILD/modules/.libs}
TEST_MODULE_DIR=${TEST_MODULE_DIR:-$PS_BUILD/tests/modules/.libs}
# Debian's python: another python3 earlier on PATH may lack its modules.
PYTHON=/usr/bin/python3
TLS_ECHO=$PS_LIB_DIR/tls_echo.py
CMD_TIMEOUT=${PS_CMD_TIMEOUT:-30}
# Key type of test certificates: "ec" (P-256, instant) or "rsa" (2048).
PS_KEY_ALG=${PS_KEY_ALG:-ec}
export PS_BUILD PS_SRC

# The tests decide which proxy settings exist; whatever the machine or the
# CI runner exports must not leak into them.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY \
	no_proxy NO_PROXY REQUEST_METHOD
while IFS= read -r ps_var; do
	case $ps_var in PROXYSTACK_*) unset "$ps_var" ;; esac
done < <(compgen -e)
unset ps_var

TMP=$(mktemp -d "${TMPDIR:-/tmp}/proxystack-test.XXXXXX") || {
	echo "not ok - $(basename "$0"): mktemp -d failed"
	exit 1
}
CERTS=$TMP/certs
# Failures and PIDs live in files, not variables, so that assertions and
# start_bg calls made in a subshell (a pipeline) still count at exit.
PS_FAILED_FILE=$TMP/.failed
PS_PIDS_FILE=$TMP/.pids
PS_PORTS_FILE=$TMP/.ports
: >"$PS_FAILED_FILE"
: >"$PS_PIDS_FILE"
: >"$PS_PORTS_FILE"

# "${LOOPBACK_DNS_NS[@]}" HOSTS_FILE CMD...: CMD in a private mount
# namespace whose /etc/hosts is HOSTS_FILE and whose /etc/resolv.conf
# names 127.0.0.1, where no server listens: a name the file lacks fails
# at once and no lookup leaves the machine (a test of "does not resolve"
# must not ask the machine's DNS server).  $LOOPBACK_HOSTS holds only
# localhost.  unshare, env and sh exec in turn: start_bg records CMD's
# PID.
printf '%s\n' "nameserver 127.0.0.1" "options timeout:1 attempts:1" \
	>"$TMP/loopback-resolv.conf"
LOOPBACK_HOSTS=$TMP/loopback.hosts
printf '127.0.0.1 localhost\n' >"$LOOPBACK_HOSTS"
# shellcheck disable=SC2016  # $0, $@ and the variable are the inner shell's
LOOPBACK_DNS_NS=(env "PS_LOOPBACK_RESOLV=$TMP/loopback-resolv.conf"
	unshare -m /bin/sh -c 'mount --bind "$PS_LOOPBACK_RESOLV" /etc/resolv.conf &&
	mount --bind "$0" /etc/hosts && exec "$@"')

# ---------------------------------------------------------------------
# Results

ok() {
	printf 'ok - %s\n' "$1"
}

# fail NAME [DETAIL]: the first line of DETAIL goes on the result line, the
# rest on comment lines, so the runner's summary stays one line a failure.
fail() {
	local name=$1 detail=${2:-}
	local first=${detail%%$'\n'*}
	printf 'not ok - %s%s\n' "$name" "${first:+: $first}"
	if [ "$first" != "$detail" ]; then
		printf '%s\n' "${detail#*$'\n'}" | note
	fi
	echo "$name" >>"$PS_FAILED_FILE"
}

skip() {
	printf 'skip - %s: %s\n' "$1" "${2:-}"
}

# Comment lines: never counted, and indented so that a program's own
# output can never look like a result line.
note() {
	# awk ends every line, even a last one without a newline: the next
	# result line must start a line of its own or it would not count.
	awk '{ print "#   " $0 }'
}

# show_file LABEL FILE: up to 40 lines of FILE as comments, binary-safe.
show_file() {
	local label=$1 file=$2
	if [ ! -s "$file" ]; then
		printf '%s: (empty)\n' "$label" | note
		return 0
	fi
	{
		printf '%s:\n' "$label"
		head -c 4000 "$file" | cat -v | head -n 40
	} | note
}

# Stop a script that cannot go on (a server that never came up): the
# assertions after it would only repeat the same failure.
bail_out() {
	fail "$1" "${2:-}"
	exit 1
}

# ---------------------------------------------------------------------
# Assertions

# file_label FILE: "stdout"/"stderr" for the last command's, else its name.
file_label() {
	case $1 in
	"$TMP/last.out") echo stdout ;;
	"$TMP/last.err") echo stderr ;;
	*) basename -- "$1" ;;
	esac
}

# exit_matches RC WANT: WANT is a code ("5"), alternatives ("1|5") or "!0".
exit_matches() {
	local rc=$1 want=$2 alt
	if [ "$want" = "!0" ]; then
		[ "$rc" -ne 0 ]
		return
	fi
	local IFS='|'
	for alt in $want; do
		[ "$rc" = "$alt" ] && return 0
	done
	return 1
}

# expect_exit WANT NAME -- CMD...
# Runs CMD (stdin inherited: redirect it) under a timeout, its stdout in
# $OUT and its stderr in $ERR, sets LAST_RC, and asserts the exit status.
# Returns 0 when it passed, so that `expect_exit ... && expect_grep ...`
# reports only the first problem.
expect_exit() {
	local want=$1 name=$2
	shift 2
	[ "${1:-}" = "--" ] && shift
	OUT=$TMP/last.out
	ERR=$TMP/last.err
	local rc=0
	local -a tflags=(-k 5)
	# Not the foreground process group: a command reading a terminal
	# would stop.  Only matters when run by hand.
	[ -t 0 ] && tflags+=(--foreground)
	timeout "${tflags[@]}" "$CMD_TIMEOUT" "$@" >"$OUT" 2>"$ERR" || rc=$?
	# shellcheck disable=SC2034  # for the scripts that need the code
	LAST_RC=$rc
	if exit_matches "$rc" "$want"; then
		ok "$name"
		return 0
	fi
	local why="exit status $rc, want $want"
	case $rc in
	124 | 137) why="timed out after ${CMD_TIMEOUT}s (exit $rc), want $want" ;;
	esac
	fail "$name" "$why"
	printf 'command: %s\n' "$*" | note
	show_file stderr "$ERR"
	show_file stdout "$OUT"
	return 1
}

# expect_grep [-i] [-F] [--] PATTERN FILE NAME: some line of FILE matches the
# extended regular expression (or fixed string with -F) PATTERN.
expect_grep() {
	local -a flags=(-E)
	while :; do
		case ${1:-} in
		-F) flags[0]=-F ;;
		-i) flags+=(-i) ;;
		--) shift; break ;;
		*) break ;;
		esac
		shift
	done
	local pattern=$1 file=$2 name=$3
	if grep -q "${flags[@]}" -e "$pattern" -- "$file" 2>/dev/null; then
		ok "$name"
		return 0
	fi
	fail "$name" "no line of $(file_label "$file") matches '$pattern'"
	show_file "$(file_label "$file")" "$file"
	return 1
}

# expect_no_grep [-i] [-F] [--] PATTERN FILE NAME: no line of FILE matches.
expect_no_grep() {
	local -a flags=(-E)
	while :; do
		case ${1:-} in
		-F) flags[0]=-F ;;
		-i) flags+=(-i) ;;
		--) shift; break ;;
		*) break ;;
		esac
		shift
	done
	local pattern=$1 file=$2 name=$3 count
	count=$(grep -c "${flags[@]}" -e "$pattern" -- "$file" 2>/dev/null)
	if [ "${count:-0}" -eq 0 ]; then
		ok "$name"
		return 0
	fi
	fail "$name" "$count line(s) of $(file_label "$file") match '$pattern'"
	grep -n "${flags[@]}" -e "$pattern" -- "$file" | head -n 10 | note
	return 1
}

# expect_line FILE NAME STRING...: one line of FILE holds every STRING
# (fixed strings, any order), e.g. a setting and the file:line it came from.
expect_line() {
	local file=$1 name=$2
	shift 2
	local line s all
	while IFS= read -r line || [ -n "$line" ]; do
		all=1
		for s in "$@"; do
			[[ $line == *"$s"* ]] || { all=0; break; }
		done
		if [ "$all" = 1 ]; then
			ok "$name"
			return 0
		fi
	done <"$file"
	fail "$name" "no line of $(file_label "$file") holds all of: $*"
	show_file "$(file_label "$file")" "$file"
	return 1
}

# expect_eq GOT WANT NAME: exact string equality.
expect_eq() {
	if [ "$1" = "$2" ]; then
		ok "$3"
		return 0
	fi
	fail "$3" "got '$1', want '$2'"
	return 1
}

# expect_stdout WANT NAME: the last command's whole stdout is WANT (one
# trailing newline ignored).
expect_stdout() {
	expect_eq "$(cat "$OUT")" "$1" "$2"
}

# expect_same_file WANT_FILE GOT_FILE NAME: byte-exact, by sha256.
expect_same_file() {
	local want got
	want=$(sha256sum <"$1" | cut -d' ' -f1)
	got=$(sha256sum <"$2" | cut -d' ' -f1)
	if [ "$want" = "$got" ]; then
		ok "$3"
		return 0
	fi
	local sizes
	sizes="sent $(stat -c %s "$1") bytes, got $(stat -c %s "$2") bytes"
	fail "$3" "sha256 differs: $sizes"
	return 1
}

# ---------------------------------------------------------------------
# Processes

# pid_alive PID: running and not a zombie (kill -0 succeeds on a zombie
# child that was not waited for yet).
pid_alive() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ]
}

# stop_pid PID [GRACE]: TERM, wait up to GRACE seconds (default 2), then
# KILL.  Only our own PIDs.
# Safe under set -e (scripts/demo.sh): a process may exit between the
# check and the kill, and wait returns the killed process's status.
stop_pid() {
	local pid=$1 grace=${2:-2} i
	if pid_alive "$pid"; then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < grace * 10; i++)); do
			pid_alive "$pid" || break
			sleep 0.1
		done
		if pid_alive "$pid"; then
			echo "# pid $pid ignored SIGTERM for $grace s: SIGKILL"
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
}

# start_bg NAME CMD...: run CMD in the background with output in
# $TMP/NAME.log; its PID is in BG_PID and is stopped at exit.  Call it
# directly, not in $(...), so that BG_PID is set in this shell.
# PS_BG_GRACE=SECONDS start_bg ... gives a slow stopper (squid) that long
# after SIGTERM before the SIGKILL at exit (default 2).
start_bg() {
	local name=$1
	shift
	"$@" >"$TMP/$name.log" 2>&1 </dev/null &
	BG_PID=$!
	echo "$BG_PID ${PS_BG_GRACE:-2}" >>"$PS_PIDS_FILE"
}

# Dump every background process's log (when a server misbehaves).
show_bg_logs() {
	local log
	for log in "$TMP"/*.log; do
		[ -e "$log" ] && show_file "$(basename "$log")" "$log"
	done
}

ps_cleanup() {
	local rc=$?
	local pid grace
	trap - EXIT INT TERM
	# Newest first: a client-facing process before what it relies on.
	if [ -f "$PS_PIDS_FILE" ]; then
		while read -r pid grace; do
			[ -n "$pid" ] && stop_pid "$pid" "${grace:-2}"
		done < <(tac "$PS_PIDS_FILE")
	fi
	if [ -s "$PS_FAILED_FILE" ] && [ "$rc" -eq 0 ]; then
		rc=1
	fi
	if [ "${PS_KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap ps_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# ---------------------------------------------------------------------
# Network

have_ipv6() {
	"$PYTHON" - <<'EOF' 2>/dev/null
import socket
s = socket.socket(socket.AF_INET6)
s.bind(("::1", 0))
EOF
}

# free_port: a port the kernel says is free on 127.0.0.1 and, where IPv6
# works, on ::1 too (so one echo server can listen on both).  Never the
# same port twice in one script, though each was closed before use.
free_port() {
	local port tries
	for ((tries = 0; tries < 20; tries++)); do
		port=$("$PYTHON" - <<'EOF'
import socket
s4 = socket.socket()
s4.bind(("127.0.0.1", 0))
port = s4.getsockname()[1]
try:
    s6 = socket.socket(socket.AF_INET6)
except OSError:
    s6 = None
if s6 is not None:
    try:
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.bind(("::1", port))
    except OSError as e:
        import errno
        if e.errno == errno.EADDRINUSE:
            port = 0
print(port)
EOF
		) || continue
		[ "$port" != 0 ] || continue
		grep -qx "$port" "$PS_PORTS_FILE" && continue
		echo "$port" >>"$PS_PORTS_FILE"
		echo "$port"
		return 0
	done
	echo "free_port: no free port after 20 tries" >&2
	return 1
}

# wait_port PORT [HOST]: poll up to 10 s for a listener; bail out loudly
# (with every background log) if none comes.
wait_port() {
	local port=$1 host=${2:-127.0.0.1} i
	for ((i = 0; i < 100; i++)); do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	fail "wait_port $host:$port" "nothing listens on $host:$port after 10 s"
	show_bg_logs
	exit 1
}

# start_echo NAME [tls_echo.py options...]: an echo server on a free port
# (ECHO_PORT), up and listening when this returns; its PID in BG_PID.
start_echo() {
	local name=$1
	shift
	ECHO_PORT=$(free_port) || bail_out "start_echo $name" "no free port"
	start_bg "$name" "$PYTHON" -u "$TLS_ECHO" --port "$ECHO_PORT" "$@"
	wait_port "$ECHO_PORT"
}

# ---------------------------------------------------------------------
# Certificates (openssl CLI).  Files land in $CERTS:
#   NAME.pem  NAME-key.pem                     for make_ca and make_leaf
#   NAME-chain.pem (leaf then CA)              for make_leaf

ps_openssl() {
	local log=$CERTS/openssl.log
	if ! openssl "$@" >>"$log" 2>&1; then
		fail "openssl $1" "openssl $* failed"
		tail -n 20 "$log" | note
		exit 1
	fi
}

ps_newkey_args() {
	case $PS_KEY_ALG in
	rsa) echo "-newkey rsa:2048" ;;
	*) echo "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1" ;;
	esac
}

ps_certs_init() {
	[ -d "$CERTS" ] && return 0
	mkdir -p "$CERTS"
	# Our own minimal config: the system openssl.cnf adds extensions of
	# its own to `req -x509` that would clash with -addext.
	cat >"$CERTS/req.conf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
EOF
}

# make_ca NAME: a self-signed CA (CA:true, keyCertSign, cRLSign) that
# make_leaf can sign with.
make_ca() {
	local name=$1
	ps_certs_init
	# shellcheck disable=SC2046  # the key arguments are several words
	ps_openssl req -x509 -new $(ps_newkey_args) -nodes -sha256 -days 30 \
		-config "$CERTS/req.conf" -subj "/CN=proxystack test CA $name" \
		-keyout "$CERTS/$name-key.pem" -out "$CERTS/$name.pem" \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash"
	# State for `openssl ca`, which alone can back-date a certificate.
	local dir=$CERTS/$name.ca
	mkdir -p "$dir"
	: >"$dir/index.txt"
	echo 1000 >"$dir/serial"
	cat >"$dir/ca.conf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
dir = $dir
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $CERTS/$name.pem
private_key = $CERTS/$name-key.pem
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
commonName = supplied
EOF
}

# make_leaf CA NAME [SAN] [DAYS|expired]: a certificate for NAME signed by
# CA, usable by servers and clients.  SAN defaults to localhost, 127.0.0.1
# and ::1.  "expired" makes one valid only on 2020-01-01.
make_leaf() {
	local ca=$1 name=$2
	local san=${3:-DNS:localhost,IP:127.0.0.1,IP:::1}
	local days=${4:-30}
	local dir=$CERTS/$ca.ca
	[ -f "$dir/ca.conf" ] || bail_out "make_leaf $name" "no CA $ca (make_ca first)"
	cat >"$CERTS/$name.ext" <<EOF
[leaf_ext]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $san
EOF
	local -a validity=(-days "$days")
	if [ "$days" = expired ]; then
		validity=(-startdate 20200101000000Z -enddate 20200102000000Z)
	fi
	# shellcheck disable=SC2046
	ps_openssl req -new $(ps_newkey_args) -nodes -config "$CERTS/req.conf" \
		-subj "/CN=$name" -keyout "$CERTS/$name-key.pem" \
		-out "$CERTS/$name.csr"
	ps_openssl ca -batch -config "$dir/ca.conf" -notext \
		-in "$CERTS/$name.csr" -out "$CERTS/$name.pem" \
		-extfile "$CERTS/$name.ext" -extensions leaf_ext "${validity[@]}"
	cat "$CERTS/$name.pem" "$CERTS/$ca.pem" >"$CERTS/$name-chain.pem"
}

# make_client CA NAME: a client certificate for mutual TLS (CN=NAME).
make_client() {
	make_leaf "$1" "$2" "DNS:$2" "${3:-30}"
}

# ---------------------------------------------------------------------
# Configuration

# make_conf DIR [LINE...]: a config dir whose 00-global.conf is [global]
# with module_path = $MODULE_DIR and connect_timeout = 5, plus LINEs
# (which may replace either default: "module_path = /elsewhere").
make_conf() {
	local dir=$1
	shift
	local line has_path=0 has_timeout=0
	for line in "$@"; do
		case $line in
		module_path*) has_path=1 ;;
		connect_timeout*) has_timeout=1 ;;
		esac
	done
	mkdir -p "$dir"
	chmod 0755 "$dir"
	{
		echo "[global]"
		[ "$has_path" = 1 ] || echo "module_path = $MODULE_DIR"
		[ "$has_timeout" = 1 ] || echo "connect_timeout = 5"
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
	} >"$dir/00-global.conf"
	chmod 0644 "$dir/00-global.conf"
}

# write_conf DIR FILE: FILE in DIR from stdin (a here-document).
write_conf() {
	cat >"$1/$2"
	chmod 0644 "$1/$2"
}

# copy_modules DIR: a private module dir (0755) with the shipped modules,
# for tests that change permissions or add modules.
copy_modules() {
	local dir=$1
	mkdir -p "$dir"
	chmod 0755 "$dir"
	cp "$MODULE_DIR"/*.so "$dir"/ ||
		bail_out "copy_modules" "no modules in $MODULE_DIR"
	chmod 0755 "$dir"/*.so
}
