#!/bin/bash
# scripts/test.sh - build proxystack with warnings as errors and run the
# whole test suite, on a fresh Debian 12 machine, as root.
#
#   ./scripts/test.sh
#
# Installs what is missing (the real proxies and servers the integration
# tests run against, and the build dependencies), builds out of tree in
# _build/, and runs `make check`.  The last line of output is always
# "N passed, N failed, N skipped"; the exit status is non-zero on any
# failure.  PS_TESTS (globs) runs a subset, as in tests/run-tests.
set -euo pipefail

cd "$(dirname "$0")/.."
# The module loader refuses group- or world-writable module directories:
# build them 0755 whatever umask the caller had.
umask 022

# Peers of the integration tests (shared/TEST-INFRA.md) and the build.
# squid-openssl, never squid: only it has ssl-bump (they conflict).
PACKAGES=(
	squid-openssl tinyproxy nghttp2-proxy nginx python3-websockets
	apache2-utils openssl curl ca-certificates python3
	build-essential autoconf automake libtool pkg-config
	libssl-dev libltdl-dev libinih-dev libnghttp2-dev
)

# install_missing: apt only for what dpkg does not already have, and
# `apt-get update` only when something must be installed.
install_missing() {
	local pkg
	local -a missing=()
	for pkg in "${PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
}

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
mkdir -p _build
cd _build
../configure --enable-werror
make -j2

# make prints its own lines after the runner's summary (and more on
# failure): keep a copy of the output and repeat the summary last.
log=$(mktemp)
set +e
make -j2 --no-print-directory check 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
summary_re='^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$'
summary=$(grep -E "$summary_re" "$log" | tail -n 1 || true)
last=$(tail -n 1 "$log")
rm -f "$log"
if [ -z "$summary" ]; then
	# make check failed before tests/run-tests printed anything (a test
	# program did not build): that is a failure of its own.
	summary="0 passed, 1 failed, 0 skipped"
	[ "$rc" -ne 0 ] || rc=1
fi
summary_printed=1
[ "$last" = "$summary" ] || echo "$summary"
exit "$rc"
