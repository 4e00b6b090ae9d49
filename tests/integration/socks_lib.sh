# tests/integration/socks_lib.sh - helpers of the t_socks*.sh scripts.
#
# Sourced (bash) after lib.sh:
#
#   start_socks_destinations [--wss]
#       the destinations behind the proxies: a TLS echo ($TLS) with a
#       certificate of the test CA $CA, a plain echo on 127.0.0.1 and,
#       where IPv6 works, ::1 ($TCP), and with --wss a websocket echo
#       over TLS ($WSS)
#   start_socks_script NAME [socks_script.py options]
#       the scripted SOCKS proxy (socks_script.py) on a free port
#       ($SOCKS_PORT), playing the scenario in $TMP/NAME.scenario (set it
#       with `scenario NAME SCENARIO`); what it was sent goes to
#       $TMP/NAME.requests, one line a message
#   start_microsocks NAME [-u USER -P PASSWORD]   microsocks; $SOCKS_PORT
#   start_dante NAME [--block-port PORT] [--hosts FILE]
#       dante (danted) on a free port ($SOCKS_PORT), no authentication,
#       logging to $TMP/NAME/danted.log; --block-port refuses CONNECT to
#       that port ("not allowed by ruleset"); --hosts runs it with FILE as
#       its /etc/hosts (see HOSTS_NS)
#   socks_conf DIR PROXY_URL [LINE...]
#       a configuration directory whose [default] proxy_url is PROXY_URL
#       (extra LINEs go into [default])
#   "${HOSTS_NS[@]}" HOSTS_FILE CMD...
#       CMD in a private mount namespace whose /etc/hosts is HOSTS_FILE
#       and whose resolv.conf names 127.0.0.1 (lib.sh, LOOPBACK_DNS_NS)
#       (a command prefix, so expect_exit and start_bg can run it): a name
#       that only one side can resolve proves who resolved a destination

SOCKS_SCRIPT=$PS_LIB_DIR/socks_script.py

start_socks_destinations() {
	local -a hosts=(--host 127.0.0.1)
	have_ipv6 && hosts+=(--host ::1)
	make_ca dest
	make_leaf dest server
	CA=$CERTS/dest.pem
	start_echo plain --plain "${hosts[@]}"
	TCP=$ECHO_PORT
	start_echo tls --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
	TLS=$ECHO_PORT
	if [ "${1:-}" = --wss ]; then
		start_ws_echo wss --cert "$CERTS/server-chain.pem" \
			--key "$CERTS/server-key.pem"
		WSS=$WS_PORT
	fi
}

start_socks_script() {
	local name=$1
	shift
	SOCKS_PORT=$(free_port) || bail_out "start_socks_script $name" "no free port"
	echo ok >"$TMP/$name.scenario"
	: >"$TMP/$name.requests"
	start_bg "$name" "$PYTHON" -u "$SOCKS_SCRIPT" --port "$SOCKS_PORT" \
		--scenario-file "$TMP/$name.scenario" \
		--log "$TMP/$name.requests" "$@"
	wait_port "$SOCKS_PORT"
}

# scenario NAME SCENARIO: what the scripted proxy NAME plays from now on.
scenario() {
	echo "$2" >"$TMP/$1.scenario"
}

start_microsocks() {
	local name=$1
	shift
	command -v microsocks >/dev/null ||
		bail_out "start_microsocks $name" "microsocks is not installed (scripts/deps.sh)"
	SOCKS_PORT=$(free_port) || bail_out "start_microsocks $name" "no free port"
	start_bg "$name" microsocks -i 127.0.0.1 -p "$SOCKS_PORT" "$@"
	wait_port "$SOCKS_PORT"
}

start_dante() {
	local name=$1 block="" hosts=""
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--block-port) block=$2; shift ;;
		--hosts) hosts=$2; shift ;;
		*) bail_out "start_dante $name" "unknown option $1" ;;
		esac
		shift
	done
	command -v danted >/dev/null ||
		bail_out "start_dante $name" "danted is not installed (scripts/deps.sh)"
	SOCKS_PORT=$(free_port) || bail_out "start_dante $name" "no free port"
	local dir=$TMP/$name
	mkdir -p "$dir"
	{
		echo "logoutput: $dir/danted.log"
		echo "internal: 127.0.0.1 port = $SOCKS_PORT"
		echo "external: 127.0.0.1"
		echo "clientmethod: none"
		echo "socksmethod: none"
		echo "user.privileged: root"
		echo "user.unprivileged: nobody"
		echo "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }"
		if [ -n "$block" ]; then
			echo "socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 port = $block"
			echo "  log: error connect }"
		fi
		echo "socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8"
		echo "  command: connect"
		echo "  log: error connect }"
		echo "socks block { from: 0.0.0.0/0 to: 0.0.0.0/0"
		echo "  log: error }"
	} >"$dir/danted.config"
	local -a prefix=()
	[ -n "$hosts" ] && prefix=("${HOSTS_NS[@]}" "$hosts")
	start_bg "$name" "${prefix[@]}" danted -f "$dir/danted.config" \
		-p "$dir/danted.pid"
	wait_port "$SOCKS_PORT"
}

socks_conf() {
	local dir=$1 url=$2
	shift 2
	make_conf "$dir"
	{
		echo "[default]"
		echo "proxy_url = $url"
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
	} | write_conf "$dir" 10-socks.conf
}

# lib.sh's namespace: the hosts file, and no DNS server off the machine.
HOSTS_NS=("${LOOPBACK_DNS_NS[@]}")
