# tests/integration/pac_lib.sh - what the PAC scripts share.
#
# Sourced (bash) after lib.sh by the t_pac*.sh scripts:
#
#   need_duktape          skip the script (exit 77) when this build has no
#                         JavaScript engine (configured --without-duktape:
#                         test_pac_eval checks what it says instead)
#   pac_script            CA "pacca" with leaf "pacserver", and
#                         $TMP/proxy.pac answering
#                         "PROXY 127.0.0.1:3128; DIRECT"
#   start_pac_server NAME PORT [--tls] [pac_server.py options...]
#                         pac_server.py serving $TMP/proxy.pac on PORT
#                         (over TLS with pacserver's leaf when --tls), not
#                         waited for: wait_port PORT when it must be up

need_duktape() {
	if "$PROXYSTACK" modules 2>/dev/null | grep -q "built without duktape"; then
		skip "$(basename "$0")" "this build has no JavaScript engine"
		exit 77
	fi
}

pac_script() {
	make_ca pacca
	make_leaf pacca pacserver
	cat >"$TMP/proxy.pac" <<'PAC'
function FindProxyForURL(url, host) { return "PROXY 127.0.0.1:3128; DIRECT"; }
PAC
}

start_pac_server() {
	local name=$1 port=$2
	local -a tls=()
	shift 2
	if [ "${1:-}" = --tls ]; then
		tls=(--cert "$CERTS/pacserver-chain.pem" --key "$CERTS/pacserver-key.pem")
		shift
	fi
	start_bg "$name" "$PYTHON" -u "$PS_LIB_DIR/pac_server.py" --port "$port" \
		--script "$TMP/proxy.pac" "${tls[@]}" "$@"
}
