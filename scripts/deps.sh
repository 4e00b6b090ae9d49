# scripts/deps.sh - sourced by scripts/test.sh and scripts/demo.sh: the
# Debian packages proxystack builds with and tests against, installed only
# when missing (apt-get update only then too).
#
# squid-openssl, never squid: only it has ssl-bump (the two conflict).
PACKAGES=(
	squid-openssl tinyproxy nghttp2-proxy nginx python3-websockets
	apache2-utils openssl curl ca-certificates python3
	build-essential autoconf automake libtool pkg-config
	libssl-dev libltdl-dev libinih-dev libnghttp2-dev
	clang libclang-rt-14-dev valgrind
	duktape-dev python3-pacparser
	libcrypt-dev wget cntlm   # proxystack serve: crypt_r; its tests and bench
	mosquitto mosquitto-clients openssh-server openssh-client proxychains4
	# Negotiate (Kerberos) proxy auth: GSSAPI to build, a KDC to test
	libkrb5-dev krb5-kdc krb5-admin-server krb5-user
	faketime   # t_auth_skew.sh: a client clock 15 minutes ahead
)
# SOCKS peers of tests/integration/t_socks*.sh.
PACKAGES+=(dante-server microsocks)

# install_missing: apt only for what dpkg does not already have.
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
