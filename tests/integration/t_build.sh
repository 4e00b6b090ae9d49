#!/bin/bash
# t_build.sh - the build under test: what an uninstalled build does, and
# that it is the build it was configured as.
#
# A proxystack built and not installed finds its own modules when
# module_path is not configured (its library lives in the build tree's
# .libs, so the default becomes the build's modules/.libs), and says so in
# show-config; a copy of the library anywhere else keeps the configured
# default.  scripts/check-build.sh, which scripts/test.sh runs before the
# suite, accepts this build as what config.status says it is, and refuses
# it asked the other way, or with one object compiled otherwise.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# --- an uninstalled build finds its own modules -----------------------------

# A config dir without module_path (make_conf always writes one).
NOPATH=$TMP/nopath
mkdir -p "$NOPATH"
chmod 0755 "$NOPATH"
write_conf "$NOPATH" 00-global.conf <<'EOF'
[global]
connect_timeout = 5
EOF

expect_exit 0 "no module_path: modules exits 0" -- \
	"$PROXYSTACK" -c "$NOPATH" modules
expect_line "$OUT" "no module_path: modules reads the build's modules/.libs" \
	"module path: $PS_BUILD/modules/.libs"
expect_grep "^direct[[:space:]].*[[:space:]]ok[[:space:]]" "$OUT" \
	"no module_path: direct is ok"

expect_exit 0 "no module_path: show-config exits 0" -- \
	"$PROXYSTACK" -c "$NOPATH" show-config
expect_line "$OUT" "no module_path: show-config names the build tree" \
	module_path "$PS_BUILD/modules/.libs" "; build tree (uninstalled)"

start_echo echo --plain
expect_exit 0 "no module_path: which exits 0" -- \
	"$PROXYSTACK" -c "$NOPATH" which "tcp://127.0.0.1:$ECHO_PORT" &&
	expect_stdout direct "no module_path: which prints direct"
expect_exit 0 "no module_path: check through direct exits 0" -- \
	"$PROXYSTACK" -c "$NOPATH" check "tcp://127.0.0.1:$ECHO_PORT"
expect_grep "^ok: direct" "$OUT" "no module_path: check built direct"

# A configured module_path always wins.
WITHPATH=$TMP/withpath
make_conf "$WITHPATH"
expect_exit 0 "module_path set: show-config exits 0" -- \
	"$PROXYSTACK" -c "$WITHPATH" show-config
expect_line "$OUT" "module_path set: show-config gives it from 00-global.conf:2" \
	module_path "$MODULE_DIR" "00-global.conf:2"

# The same program with a copy of the library outside the build tree: not
# an uninstalled build any more, so the default is the configured
# directory, whether it exists on this machine or not (then every command
# fails, naming it).  libtool's wrapper would put the build's .libs first
# on LD_LIBRARY_PATH: run the program it wraps.
program=$PS_BUILD/.libs/lt-proxystack
[ -x "$program" ] || program=$PS_BUILD/.libs/proxystack
if [ -x "$program" ] && [ -f "$PS_BUILD/.libs/libproxystack.so.1" ]; then
	mkdir -p "$TMP/lib"
	cp "$PS_BUILD/.libs/libproxystack.so.1" "$TMP/lib/"
	LD_LIBRARY_PATH="$TMP/lib" "$program" -c "$NOPATH" show-config \
		>"$TMP/copy.out" 2>&1
	expect_grep "module_path .*; default$|module directory /" \
		"$TMP/copy.out" "library copied elsewhere: the configured default"
	expect_no_grep -F "$PS_BUILD/modules/.libs" "$TMP/copy.out" \
		"library copied elsewhere: never the build's modules"
else
	skip "library copied elsewhere" \
		"no $program or .libs/libproxystack.so.1 (static build?)"
fi

# --- scripts/check-build.sh -----------------------------------------------

CHECK=$PS_SRC/scripts/check-build.sh
if grep -q -- '--enable-sanitizers' <(cd "$PS_BUILD" && ./config.status --config); then
	kind=sanitizers other=plain
else
	kind=plain other=sanitizers
fi

expect_exit 0 "check-build: this build is a $kind build" -- \
	"$CHECK" "$kind" "$PS_BUILD"
expect_exit 1 "check-build: this build is refused as a $other build" -- \
	"$CHECK" "$other" "$PS_BUILD"
expect_grep -F ".libs/libproxystack.so" "$ERR" \
	"check-build: the refusal names libproxystack.so"

# The case scripts/test.sh met after the demo's build: configured anew,
# objects of another build left behind.  A copy of this build with one
# object compiled the other way.
FAKE=$TMP/fake-build
mkdir -p "$FAKE/host" "$FAKE/modules"
cp "$PS_BUILD/config.status" "$FAKE/"
cp -a "$PS_BUILD/.libs" "$FAKE/.libs"
cp -a "$PS_BUILD/modules/.libs" "$FAKE/modules/.libs"
cp -a "$PS_BUILD/host/." "$FAKE/host/"
printf 'int stale(void);\nint stale(void) { return 1; }\n' >"$TMP/stale.c"
san_flags=()
[ "$kind" = plain ] && san_flags=(-fsanitize=address)
if cc "${san_flags[@]}" -c "$TMP/stale.c" -o "$FAKE/host/stale.o" 2>"$TMP/cc.err"; then
	expect_exit 1 "check-build: one object compiled the other way is refused" -- \
		"$CHECK" "$kind" "$FAKE"
	expect_grep -F "host/stale.o" "$ERR" "check-build: the refusal names host/stale.o"
	rm -f "$FAKE/host/stale.o"
	expect_exit 0 "check-build: the copy without it is accepted" -- \
		"$CHECK" "$kind" "$FAKE"
else
	skip "check-build: a stale object" "cc failed: $(head -n 1 "$TMP/cc.err")"
fi
