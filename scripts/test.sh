#!/bin/bash
# scripts/test.sh - build proxystack with warnings as errors and run the
# whole test suite, on a fresh Debian 12 machine, as root.
#
#   ./scripts/test.sh
#
# Builds with warnings as errors and AddressSanitizer + UBSan (leaks
# checked), so every test, integration tests included, runs under them;
# the allocation-failure sweep, which needs its own malloc, runs from a
# second build without sanitizers in _build-plain/.
# Installs what is missing (the real proxies and servers the integration
# tests run against, and the build dependencies), builds out of tree in
# _build/, and runs `make -j2 check PS_LONG=1` (the long sweeps
# included).  The last line of output is always "N passed, N failed,
# N skipped"; the exit status is non-zero on any failure.  PS_TESTS (globs) runs a subset, as in tests/ps-driver.
#
# _build/ and _build-plain/ are this script's (scripts/demo.sh builds in
# _build-demo/): configured with other options before, by hand or by
# anything else, they are cleaned and rebuilt whole (scripts/build.sh).
# Before the suite runs, scripts/check-build.sh must find that each
# build is what was asked for, down to every object file, or nothing runs.
set -euo pipefail

cd "$(dirname "$0")/.."
# The module loader refuses group- or world-writable module directories:
# build them 0755 whatever umask the caller had.
umask 022

# shellcheck source=deps.sh
. scripts/deps.sh
# shellcheck source=build.sh
. scripts/build.sh

# A summary line even when the build breaks before the tests run, so the
# last line of output always says how it went.
summary_printed=0
# shellcheck disable=SC2317  # run by the EXIT trap
on_exit() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ "$summary_printed" = 0 ]; then
		echo "scripts/test.sh: failed before the test suite finished (exit $rc)"
		echo "0 passed, 1 failed, 0 skipped"
	fi
}
trap on_exit EXIT

install_missing
autoreconf -fi
# The allocation-failure sweep (t_failalloc.sh) preloads its own malloc,
# which ASan cannot share: it runs from a second build without the
# sanitizers, warnings still errors.
mkdir -p _build-plain
# (&&, not set -e: -e does not apply on the left of ||.)
{
	configure_build _build-plain --enable-werror &&
		make -C _build-plain -j2 --no-print-directory &&
		make -C _build-plain -j2 --no-print-directory \
			tests/failalloc.la tests/failalloc_chain
} >_build-plain/build.log 2>&1 || {
	cat _build-plain/build.log
	echo "scripts/test.sh: the build without sanitizers failed"
	exit 1
}
# Warnings are errors, and the whole suite (integration tests included)
# runs under AddressSanitizer (leak checking on) and UBSan.
configure_build _build --enable-werror --enable-sanitizers
make -C _build -j2

# refuse_unless BUILD KIND: the suite runs only from the builds asked for.
refuse_unless() {
	scripts/check-build.sh "$2" "$1" || {
		echo "scripts/test.sh: $1/ is not the build this script asked for" \
			"(above): not running the suite; remove $1/ and try again"
		exit 1
	}
}
refuse_unless _build-plain plain
refuse_unless _build sanitizers
export PS_FAILALLOC_BUILD=$PWD/_build-plain
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
cd _build

# The whole suite: the fast set and the long sweeps (PS_LONG=1), in
# parallel under automake's harness.  make prints its own lines after the
# summary (and more on failure): keep a copy of the output and repeat the
# summary last.  When a test failed, make stops before its summary:
# `make check-summary` counts the results then.
log=$(mktemp)
set +e
make -j2 --no-print-directory check PS_LONG=1 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary_re='^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$'
if [ "$rc" -ne 0 ] && ! grep -qE "$summary_re" "$log"; then
	make -s --no-print-directory check-summary 2>&1 | tee -a "$log"
fi
set -e
summary=$(grep -E "$summary_re" "$log" | tail -n 1 || true)
last=$(tail -n 1 "$log")
rm -f "$log"
if [ -z "$summary" ]; then
	# make check failed before any test ran (a test program did not
	# build): that is a failure of its own.
	summary="0 passed, 1 failed, 0 skipped"
	[ "$rc" -ne 0 ] || rc=1
fi
summary_printed=1
[ "$last" = "$summary" ] || echo "$summary"
exit "$rc"
