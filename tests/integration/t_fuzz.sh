#!/bin/bash
# t_fuzz.sh - every libFuzzer target (tests/fuzz/) runs briefly, so that a
# change that makes a parser crash, leak or hang on an input it used to
# survive fails the suite.  tests/fuzz/run-fuzzers builds the targets with
# clang (whatever compiler the build used), replays the known findings in
# tests/fuzz/crashes/ and fuzzes each target PS_FUZZ_SECONDS (default 20)
# on a copy of its seed corpus.  `make fuzz` is the long run.
#
# Skipped only when clang is missing; a missing libFuzzer runtime
# (libclang-rt-dev) is a failure, since the build then cannot fuzz.
# A long sweep: make check runs it with PS_LONG=1 (scripts/test.sh does).
# run-tests: long

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
	skip fuzz "${FUZZ_CC:-clang} not found"
	exit 0
fi

nresults=0
# lib.sh sets lastpipe: the loop runs in this shell, its counts stick.
# shellcheck disable=SC2030,SC2031
"$PS_SRC/tests/fuzz/run-fuzzers" "$PS_BUILD" "$PS_SRC" \
	"${PS_FUZZ_SECONDS:-20}" 2>&1 |
	while IFS= read -r line; do
		case $line in
		"ok - "*)
			ok "${line#ok - }"
			nresults=$((nresults + 1))
			;;
		"not ok - "*)
			line=${line#not ok - }
			fail "${line%%: *}" "${line#*: }"
			nresults=$((nresults + 1))
			;;
		"skip - "*)
			line=${line#skip - }
			skip "${line%%: *}" "${line#*: }"
			nresults=$((nresults + 1))
			;;
		"#"*) printf '%s\n' "$line" ;;
		*) printf '%s\n' "$line" | note ;;
		esac
	done
rc=${PIPESTATUS[0]}
# shellcheck disable=SC2031
if [ "$rc" -ne 0 ] && [ "$nresults" -eq 0 ]; then
	fail fuzz "run-fuzzers exited with $rc and said nothing"
fi
