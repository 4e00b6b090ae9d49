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
# _build/, and runs `make -j2 check`, then the long sweeps alone
# (`make check PS_LONG=1 TESTS=...`).  The last line of output is always
# "N passed, N failed, N skipped", both phases added up; the exit status
# is non-zero on any failure.  PS_TESTS (globs) runs a subset, as in
# tests/ps-driver.
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

# The whole suite in two phases under automake's harness: the fast set
# two tests at a time, then the long sweeps (PS_LONG=1: t_failalloc.sh,
# t_fuzz.sh) one after the other, since they run their own jobs in
# parallel and time every point.  With PS_TESTS the selection is the
# user's and one phase runs it.  The last line adds both phases up.
summary_re='^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$'
LONG_TESTS='tests/integration/t_failalloc.sh tests/integration/t_fuzz.sh'
total_pass=0
total_fail=0
total_skip=0
rc=0

# run_phase MAKE-ARGS...: make check with them, its output shown; adds its
# summary line to the totals (make stops before the summary when a test
# failed: `make check-summary` counts the results then).
run_phase() {
	local log phase_rc line
	log=$(mktemp)
	set +e
	make --no-print-directory check "$@" 2>&1 | tee "$log"
	phase_rc=${PIPESTATUS[0]}
	if [ "$phase_rc" -ne 0 ] && ! grep -qE "$summary_re" "$log"; then
		make -s --no-print-directory check-summary "$@" 2>&1 |
			tee -a "$log"
	fi
	set -e
	line=$(grep -E "$summary_re" "$log" | tail -n 1 || true)
	rm -f "$log"
	if [ -z "$line" ]; then
		# make check failed before any test ran (a test program did
		# not build): that is a failure of its own.
		line="0 passed, 1 failed, 0 skipped"
		[ "$phase_rc" -ne 0 ] || phase_rc=1
	fi
	read -r p _ f _ k _ <<<"${line//,/}"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + k))
	[ "$phase_rc" -eq 0 ] || rc=$phase_rc
}

if [ -n "${PS_TESTS:-}" ]; then
	run_phase -j2
else
	run_phase -j2
	run_phase PS_LONG=1 TESTS="$LONG_TESTS"
fi
summary="$total_pass passed, $total_fail failed, $total_skip skipped"
summary_printed=1
echo "$summary"
exit "$rc"
