#!/bin/bash
# t_module_sdk.sh - a third party's module, built out of tree.
#
# What a module author does, end to end: install proxystack's SDK (the
# library, its headers, proxystack.pc) into a staging directory, build
# docs/examples/passthrough.c with docs/examples/Makefile against that
# install only (pkg-config; no -I into this source or build tree), check
# that it exports nothing but its descriptor, drop it into a private
# module dir beside copies of the shipped modules, and drive it through
# real chains: modules, which, check, connect over tcp:// and tls://
# (TLS over the passthrough layer), -v logs, and an unknown key failing
# closed with file:line.
#
# The CLI is the build tree's ($PROXYSTACK): the module resolves the
# library's ps_* symbols from the libproxystack already in the process.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

for tool in make pkg-config nm readelf cc; do
	if ! command -v "$tool" >/dev/null; then
		skip "module SDK" "$tool not installed"
		exit 0
	fi
done

# Variables from an outer make (make check V=1 CFLAGS=...) must not leak
# into the two makes below.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

# --- install the SDK into a staging directory ----------------------------

# Only what a module author builds against: the library, the headers, the
# .pc file, and the documentation with the example module (automake's
# per-directory install targets).  A whole
# `make install` would also relink every shipped module in the shared
# build tree, for nothing this test uses.
DEST=$TMP/dest
if ! make -C "$PS_BUILD" DESTDIR="$DEST" install-libLTLIBRARIES \
	install-includeHEADERS install-pkgincludeHEADERS \
	install-pkgconfigDATA install-dist_docDATA \
	install-dist_docexamplesDATA >"$TMP/install.log" 2>&1; then
	show_file install.log "$TMP/install.log"
	bail_out "install: make install into $DEST"
fi
ok "install: SDK installed into a staging directory"

PC=$(find "$DEST" -name proxystack.pc -print -quit)
[ -n "$PC" ] || bail_out "install: proxystack.pc" "not under $DEST"
MODULE_H=$(find "$DEST" -path '*/proxystack/module.h' -print -quit)
[ -n "$MODULE_H" ] || bail_out "install: proxystack/module.h" "not under $DEST"
ok "install: proxystack.pc and proxystack/module.h installed"
EXAMPLES=$(find "$DEST" -path '*/doc/*/examples/passthrough.c' -print -quit)
EXAMPLES=${EXAMPLES%/passthrough.c}
[ -n "$EXAMPLES" ] && [ -f "$EXAMPLES/Makefile" ] ||
	bail_out "install: the example module" "no examples/ under $DEST"
DOCDIR=${EXAMPLES%/examples}
for f in LICENSE architecture.md module-guide.md; do
	[ -f "$DOCDIR/$f" ] || bail_out "install: $f" "not in $DOCDIR"
done
ok "install: the guide, the architecture, LICENSE and examples/ in docdir"

# The .pc names the configured prefix (/usr/local); the sysroot maps
# every -I and -L into the staging directory, whatever --libdir was.
# Keep -I/usr/include for a --prefix=/usr build: staged, it is not the
# system's.
export PKG_CONFIG_PATH=${PC%/*}
export PKG_CONFIG_LIBDIR=${PC%/*}
export PKG_CONFIG_SYSROOT_DIR=$DEST
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
expect_exit 0 "pkg-config: finds the staged proxystack" -- \
	pkg-config --cflags --libs proxystack &&
	expect_grep -F -- "-I$DEST/" "$OUT" "pkg-config: -I points into the staging dir"

# --- build the example out of tree ---------------------------------------

SDK=$TMP/sdk
mkdir -p "$SDK"
# From the installed copy, as a module author has it.  -MD: the .d file
# names every header the compiler really read.
if (cd "$SDK" && make -f "$EXAMPLES/Makefile" \
	CFLAGS="-O2 -g -Wall -Wextra -Werror" CPPFLAGS=-MD) \
	>"$TMP/sdk.log" 2>&1; then
	ok "build: the installed examples/Makefile builds passthrough.so"
else
	show_file sdk.log "$TMP/sdk.log"
	bail_out "build: the installed examples/Makefile builds passthrough.so"
fi
SO=$SDK/passthrough.so

# Every -I of the compile line is inside the staged install.
compile=$(grep -E -- '(^|[[:space:]])-c[[:space:]]' "$TMP/sdk.log" | head -n 1)
bad=
for word in $compile; do
	case $word in
	-I"$DEST"/*) ;;
	-I*) bad="$bad $word" ;;
	esac
done
if [ -n "$compile" ] && [ -z "$bad" ]; then
	ok "build: compile line has only -I into the staged install"
else
	fail "build: compile line has only -I into the staged install" \
		"foreign include paths:${bad:- (no compile line found)}"
	show_file sdk.log "$TMP/sdk.log"
fi
expect_grep -F -- "$MODULE_H" "$SDK/passthrough.d" \
	"build: the compiler read the installed module.h"
expect_no_grep -F -- "$PS_SRC/include" "$SDK/passthrough.d" \
	"build: the compiler read no header of the source tree"

# Exports: the descriptor, and nothing else.
nm -D --defined-only "$SO" | awk '{ print $NF }' >"$TMP/exports"
expect_eq "$(cat "$TMP/exports")" proxystack_module \
	"nm: proxystack_module is the only symbol exported"
readelf -d "$SO" >"$TMP/dynamic"
expect_grep -F "libproxystack.so" "$TMP/dynamic" "readelf: linked to libproxystack"
expect_grep "BIND_NOW|FLAGS_1.*NOW" "$TMP/dynamic" "readelf: bound at load (-z now)"

# --- a private module dir and a config that uses it ----------------------

MODS=$TMP/modules
copy_modules "$MODS"
cp "$SO" "$MODS/"
chmod 0755 "$MODS/passthrough.so"

start_echo plain --plain
PLAIN=$ECHO_PORT
make_ca dest
make_leaf dest server
start_echo tls --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
TLSPORT=$ECHO_PORT

CONF=$TMP/conf
make_conf "$CONF" "module_path = $MODS"
write_conf "$CONF" 20-pt.conf <<'EOF'
[transport pt]
module = passthrough
note = hello from the skeleton

[stack s]
transport = pt

[route r]
match = 127.0.0.1
stack = s
EOF
PS=("$PROXYSTACK" -c "$CONF")

expect_exit 0 "modules: exits 0" -- "${PS[@]}" modules &&
	expect_grep '^[[:space:]]*passthrough[[:space:]].*(^|[[:space:]])ok([[:space:]]|$)' \
		"$OUT" "modules: passthrough is listed ok"

expect_exit 0 "which tcp: exits 0" -- "${PS[@]}" which "tcp://127.0.0.1:$PLAIN" &&
	expect_stdout "direct -> passthrough" "which tcp: direct -> passthrough"
expect_exit 0 "which tls: exits 0" -- "${PS[@]}" which "tls://127.0.0.1:$TLSPORT" &&
	expect_stdout "direct -> passthrough -> tls" \
		"which tls: direct -> passthrough -> tls"

expect_exit 0 "check tcp: exits 0" -- "${PS[@]}" check "tcp://127.0.0.1:$PLAIN" &&
	expect_line "$OUT" "check tcp: a passthrough step with its detail" \
		passthrough "to 127.0.0.1:$PLAIN"

# --- data through the layer ----------------------------------------------

head -c 65536 /dev/urandom >"$TMP/64k"
expect_exit 0 "connect tcp: exits 0" -- \
	"${PS[@]}" connect --half-close "tcp://127.0.0.1:$PLAIN" <"$TMP/64k" &&
	expect_same_file "$TMP/64k" "$OUT" "connect tcp: 64 KiB come back exact"

expect_exit 0 "connect -v: exits 0" -- \
	"${PS[@]}" -v connect --half-close "tcp://127.0.0.1:$PLAIN" <"$TMP/64k" &&
	expect_same_file "$TMP/64k" "$OUT" "connect -v: 64 KiB come back exact"
expect_line "$ERR" "connect -v: logs its target and note" \
	passthrough "passing through to 127.0.0.1:$PLAIN" \
	"note: hello from the skeleton"
expect_line "$ERR" "connect -v: counts the bytes at close" \
	passthrough "closed after 65536 bytes sent, 65536 received"

printf 'hello over tls over passthrough\n' >"$TMP/hello"
expect_exit 0 "connect tls: exits 0" -- \
	"${PS[@]}" connect --half-close "tls://127.0.0.1:$TLSPORT" --ca-file "$CERTS/dest.pem" \
	<"$TMP/hello" &&
	expect_same_file "$TMP/hello" "$OUT" "connect tls: hello comes back"
expect_exit 0 "check tls: exits 0" -- \
	"${PS[@]}" check "tls://127.0.0.1:$TLSPORT" --ca-file "$CERTS/dest.pem" &&
	expect_line "$OUT" "check tls: a passthrough step" passthrough \
		"to 127.0.0.1:$TLSPORT" &&
	expect_grep '(^|[^[:alnum:]_-])tls([^[:alnum:]_-]|$)' "$OUT" \
		"check tls: a tls step above it"

# --- an unknown key fails closed -----------------------------------------

BAD=$TMP/bad
make_conf "$BAD" "module_path = $MODS"
write_conf "$BAD" 20-pt.conf <<'EOF'
[transport pt]
module = passthrough
note = fine
colour = blue

[stack s]
transport = pt
EOF
expect_exit 2 "unknown key: which exits 2" -- \
	"$PROXYSTACK" -c "$BAD" which "tcp://127.0.0.1:$PLAIN" &&
	expect_line "$ERR" "unknown key: stderr names file:line and the key" \
		"20-pt.conf:4" colour
