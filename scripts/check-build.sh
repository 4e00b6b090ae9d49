#!/bin/bash
# scripts/check-build.sh - is a build directory really the build asked for?
#
#   scripts/check-build.sh sanitizers|plain BUILDDIR
#
# scripts/test.sh runs the suite only from a build that passes this:
# configure's options can change without make rebuilding anything, and a
# suite run on the old objects says nothing about the sanitizers it was
# meant to run under.  Checked, for "sanitizers" (for "plain", the
# opposite of each):
#
#   - config.status records --enable-sanitizers;
#   - libproxystack.so, every module and the proxystack program need the
#     ASan runtime (readelf: NEEDED libasan);
#   - every object of the library, the program and the modules (host/,
#     modules/) was compiled with AddressSanitizer: it refers to
#     __asan_init.  One stale object linked into a fresh library counts.
#
# Prints one line per problem on stderr ("check-build: BUILDDIR: ...") and
# exits 1 if there is any, 0 otherwise; 2 on a usage error.
set -u

usage() {
	echo "usage: $0 sanitizers|plain BUILDDIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
case $1 in
sanitizers) want_asan=1 want_text="wanted a sanitizer build" ;;
plain) want_asan=0 want_text="wanted a build without sanitizers" ;;
*) usage ;;
esac
dir=$2
problems=0

# problem TEXT: one line on stderr, and the exit status becomes 1.
problem() {
	echo "check-build: $dir: $*: $want_text" >&2
	problems=$((problems + 1))
}

# is_or_not YES: "" when YES is 1, "not " otherwise (for messages).
is_or_not() {
	[ "$1" = 1 ] || printf 'not '
}

# check_options: config.status records --enable-sanitizers, or not.
check_options() {
	local recorded has=0 word
	if [ ! -f "$dir/config.status" ]; then
		problem "no config.status: not a configured build directory"
		return
	fi
	recorded=$(cd "$dir" && ./config.status --config) || {
		problem "config.status --config failed"
		return
	}
	for word in $recorded; do
		case $word in
		--enable-sanitizers | "'--enable-sanitizers'") has=1 ;;
		esac
	done
	[ "$has" = "$want_asan" ] ||
		problem "configured with '$recorded'"
}

# check_linked FILE: FILE needs the ASan runtime, or not.
check_linked() {
	local file=$1 has=0
	if [ ! -f "$file" ]; then
		problem "${file#"$dir"/} is missing"
		return
	fi
	readelf -d "$file" 2>/dev/null | grep -q 'NEEDED.*\[libasan\.so' &&
		has=1
	[ "$has" = "$want_asan" ] ||
		problem "${file#"$dir"/} does $(is_or_not "$has")link the ASan" \
			"runtime (libasan)"
}

# check_objects: every object under host/ and modules/ compiled with
# AddressSanitizer, or none.
check_objects() {
	local obj has n=0
	while IFS= read -r -d '' obj; do
		n=$((n + 1))
		has=0
		nm -u "$obj" 2>/dev/null | grep -q '__asan_init' && has=1
		[ "$has" = "$want_asan" ] ||
			problem "${obj#"$dir"/} was $(is_or_not "$has")compiled" \
				"with AddressSanitizer"
	done < <(find "$dir/host" "$dir/modules" -name '*.o' -print0 2>/dev/null)
	[ "$n" -gt 0 ] || problem "no objects under host/ or modules/"
}

check_options
check_linked "$dir/.libs/libproxystack.so"
# The program libtool runs: .libs/proxystack, or lt-proxystack once
# relinked for fast install.
if [ -f "$dir/.libs/lt-proxystack" ]; then
	check_linked "$dir/.libs/lt-proxystack"
else
	check_linked "$dir/.libs/proxystack"
fi
shopt -s nullglob
modules=("$dir"/modules/.libs/*.so)
[ "${#modules[@]}" -gt 0 ] || problem "no modules in modules/.libs"
for so in "${modules[@]}"; do
	check_linked "$so"
done
check_objects
[ "$problems" -eq 0 ]
