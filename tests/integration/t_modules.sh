#!/bin/bash
# t_modules.sh - the module loader: what it lists, what it refuses.
#
# The loader must refuse, with exit 2 and a message naming the file, a
# module file or directory writable by others (as sshd refuses loose key
# files), a module built for another ABI major, and a module whose
# descriptor name differs from its file name.  Each case gets a private
# copy of the shipped modules, and a clean copy is shown to work first, so
# a refusal can only come from what the case changed.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

SHIPPED="direct http-connect https-proxy tls-intercept-trust socks pac"

# --- what is shipped -------------------------------------------------------

CONF=$TMP/conf
make_conf "$CONF"
expect_exit 0 "modules: exits 0" -- "$PROXYSTACK" -c "$CONF" modules
for name in $SHIPPED; do
	expect_grep "^[[:space:]]*${name}([[:space:]]|$)" "$OUT" "modules: lists $name"
	# The line of each module ends in its status, "ok" for a loaded one.
	expect_grep "^[[:space:]]*${name}[[:space:]].*(^|[[:space:]])ok([[:space:]]|$)" \
		"$OUT" "modules: $name is ok"
done

# case_conf NAME [LINE...]: CASE_CONF, a config dir whose module_path is
# a private copy of the shipped modules, $TMP/NAME-modules.  (A variable,
# not $(...): a failure's "not ok" line must reach stdout.)
case_conf() {
	local name=$1
	shift
	local mods=$TMP/$name-modules
	copy_modules "$mods"
	CASE_CONF=$TMP/$name-conf
	make_conf "$CASE_CONF" "module_path = $mods" "$@"
}

# --- a clean private copy works -----------------------------------------

case_conf clean
CLEAN=$CASE_CONF
expect_exit 0 "private copy: which exits 0" -- \
	"$PROXYSTACK" -c "$CLEAN" which tcp://127.0.0.1:443 &&
	expect_stdout direct "private copy: which prints direct"

# --- permissions -------------------------------------------------------

case_conf wfile
WFILE=$CASE_CONF
chmod o+w "$TMP/wfile-modules/direct.so"
expect_exit 2 "world-writable module file: which exits 2" -- \
	"$PROXYSTACK" -c "$WFILE" which tcp://127.0.0.1:443
expect_grep -F "direct.so" "$ERR" "world-writable module file: stderr names the file"
expect_grep -i "writable" "$ERR" "world-writable module file: stderr says writable"
expect_exit 2 "world-writable module file: check exits 2" -- \
	"$PROXYSTACK" -c "$WFILE" check tcp://127.0.0.1:443
expect_grep -F "direct.so" "$ERR" "world-writable module file: check names the file"

case_conf wdir
WDIR=$CASE_CONF
chmod o+w "$TMP/wdir-modules"
expect_exit 2 "world-writable module dir: which exits 2" -- \
	"$PROXYSTACK" -c "$WDIR" which tcp://127.0.0.1:443
expect_grep -F "$TMP/wdir-modules" "$ERR" \
	"world-writable module dir: stderr names the dir"
expect_grep -i "writable" "$ERR" "world-writable module dir: stderr says writable"

# --- modules that must be refused (tests/modules) ------------------------

# refused_module NAME PATTERN WHAT: tests/modules' NAME.so, named in a
# [transport x] section, is refused with exit 2 and PATTERN on stderr.
refused_module() {
	local name=$1 pattern=$2 what=$3 dir
	if [ ! -f "$TEST_MODULE_DIR/$name.so" ]; then
		fail "$what: $name.so" "not built: $TEST_MODULE_DIR/$name.so"
		return
	fi
	case_conf "$name"
	dir=$CASE_CONF
	cp "$TEST_MODULE_DIR/$name.so" "$TMP/$name-modules/"
	chmod 0755 "$TMP/$name-modules/$name.so"
	write_conf "$dir" 20-x.conf <<EOF
[transport x]
module = $name
EOF
	expect_exit 2 "$what: which exits 2" -- \
		"$PROXYSTACK" -c "$dir" which tcp://127.0.0.1:443
	expect_grep -F "$name" "$ERR" "$what: stderr names $name"
	expect_grep -i "$pattern" "$ERR" "$what: stderr says why"
}

refused_module badabi "abi" "other ABI major"
refused_module misnamed "mismatch|match|differ" "name differs from file"

# A module that is not there at all: configuration fails closed.
case_conf missing
MISSING=$CASE_CONF
write_conf "$MISSING" 20-x.conf <<'EOF'
[transport x]
module = no-such-module
EOF
expect_exit 2 "missing module: which exits 2" -- \
	"$PROXYSTACK" -c "$MISSING" which tcp://127.0.0.1:443
expect_grep -F "no-such-module" "$ERR" "missing module: stderr names it"
