# tests/integration/serve.sh - proxystack serve under test.
#
# Sourced (bash) after lib.sh (and proxies.sh) by t_serve_*.sh:
#
#   start_origin NAME [--cert F --key F]   http_origin.py; $ORIGIN_PORT
#   start_serve NAME CONF [ARGS...]        proxystack -c CONF serve on a
#                                          free loopback port, up when it
#                                          returns; $SERVE_PORT, $SERVE_PID,
#                                          its stderr in $TMP/NAME.log and
#                                          its access log $TMP/NAME.access
#                                          (CONF gets [serve] access_log)
#   serve_conf DIR [LINE...]               make_conf, plus a [serve] file
#                                          holding LINEs
#   stop_serve NAME TEST [PID]             SIGTERM (SERVE_STOP_SIGNAL=INT:
#                                          SIGINT); asserts exit 0 and a
#                                          log without sanitizer reports
#   expect_access NAME ERE TEST            a line of the access log matches
#                                          (polls 3 s: lines come at the end)
#   serve_with NAME LINES..., curl_via TEST, serve_tls_origin  (see below)
#   serve_alive NAME TEST                  another client still gets through
#                                          (CONNECT to $ORIGIN_PORT)
#   expect_post_407 TEST PROXY_PORT        a POST to $ORIGIN_PORT through
#                                          the serve started last, whose
#                                          proxy hop answers 407: our 502
#                                          naming the hop

start_origin() {
	local name=$1
	shift
	ORIGIN_PORT=$(free_port) || bail_out "start_origin $name" "no free port"
	start_bg "$name" "$PYTHON" -u "$PS_LIB_DIR/http_origin.py" \
		--port "$ORIGIN_PORT" "$@"
	wait_port "$ORIGIN_PORT"
}

# SERVE_PREFIX=(CMD...): start_serve runs serve under CMD (prlimit ...).
SERVE_PREFIX=()

serve_conf() {
	local dir=$1
	shift
	make_conf "$dir"
	{
		echo "[serve]"
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
	} >"$dir/90-serve.conf"
	chmod 0644 "$dir/90-serve.conf"
}

start_serve() {
	local name=$1 conf=$2 i
	shift 2
	SERVE_PORT=$(free_port) || bail_out "start_serve $name" "no free port"
	printf 'access_log = %s\n' "$TMP/$name.access" >>"$conf/90-serve.conf"
	start_bg "$name" "${SERVE_PREFIX[@]}" "$PROXYSTACK" -c "$conf" serve \
		--listen "127.0.0.1:$SERVE_PORT" "$@"
	SERVE_PID=$BG_PID
	for ((i = 0; i < 100; i++)); do
		grep -q "listening on 127.0.0.1:$SERVE_PORT" "$TMP/$name.log" \
			2>/dev/null && return 0
		pid_alive "$SERVE_PID" || break
		sleep 0.1
	done
	show_file "$name.log" "$TMP/$name.log"
	bail_out "start_serve $name" "no 'listening on' line within 10 s"
}

stop_serve() {
	local name=$1 test=$2 pid=${3:-$SERVE_PID} rc=0 i
	local sig=${SERVE_STOP_SIGNAL:-TERM}
	kill "-$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 150; i++)); do
		pid_alive "$pid" || break
		sleep 0.1
	done
	wait "$pid" || rc=$?
	expect_eq "$rc" 0 "$test: exits 0 after SIG$sig"
	expect_no_grep 'Sanitizer|runtime error|LeakSanitizer' \
		"$TMP/$name.log" "$test: no sanitizer report"
}

expect_access() {
	local name=$1 ere=$2 test=$3 i
	for ((i = 0; i < 30; i++)); do
		grep -qE -e "$ere" "$TMP/$name.access" 2>/dev/null && break
		sleep 0.1
	done
	expect_grep "$ere" "$TMP/$name.access" "$test"
}

serve_alive() {
	local name=$1 test=$2
	expect_exit 0 "$test" -- curl -sS --max-time 10 \
		-x "http://127.0.0.1:$SERVE_PORT" -p \
		"http://127.0.0.1:$ORIGIN_PORT/"
}

expect_post_407() {
	local test=$1 proxy=$2
	expect_exit 0 "$test: POST" -- curl -sS --max-time 10 \
		-x "http://127.0.0.1:$SERVE_PORT" --data-binary "hello" \
		-w '\n%{http_code}\n' "http://127.0.0.1:$ORIGIN_PORT/echo"
	expect_grep "^502$" "$OUT" "$test: 502, not the proxy's 407"
	expect_grep "proxy-auth: .*http-connect\(http://127.0.0.1:$proxy\) answered 407" \
		"$OUT" "$test: the answer names the hop"
}

# raw_request NAME PORT TEXT: send TEXT (printf format) on a new TCP
# connection, read until the server closes (10 s at most); the bytes in
# $TMP/NAME.raw.
raw_request() {
	local name=$1 port=$2 text=$3
	timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "$2" >&3; cat <&3' _ "$port" "$text" \
		>"$TMP/$name.raw" 2>/dev/null
}

# start_blackhole NAME: a TCP listener that never accepts: connects
# succeed (the backlog), nothing is ever answered.  $BLACKHOLE_PORT
start_blackhole() {
	BLACKHOLE_PORT=$(free_port) || bail_out "start_blackhole" "no free port"
	start_bg "$1" "$PYTHON" -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
time.sleep(3600)' "$BLACKHOLE_PORT"
	wait_port "$BLACKHOLE_PORT"
}

# serve_with NAME LINES...: a config dir holding LINES (sections and keys
# for the stack), serve started on it with -v; its PID in SERVE_PIDS[NAME].
serve_with() {
	local name=$1
	shift
	serve_conf "$TMP/$name.conf"
	printf '%s\n' "$@" | write_conf "$TMP/$name.conf" 50-up.conf
	chmod 0600 "$TMP/$name.conf/50-up.conf"
	start_serve "$name" "$TMP/$name.conf" -v
	SERVE_PIDS[$name]=$SERVE_PID
}
declare -A SERVE_PIDS

# curl_via TEST: curl fetches $URL (https, CA $CA) through the serve
# started last and gets the origin's hello.
curl_via() {
	expect_exit 0 "$1: curl CONNECT through serve" -- curl -sS \
		--max-time 15 --cacert "$CA" -x "http://127.0.0.1:$SERVE_PORT" \
		"$URL" && expect_stdout "hello from origin" "$1: the origin's answer"
}


# serve_tls_origin: CAs "dest" and "proxy" with leaves "server" and
# "proxysrv" (for proxies' TLS), an https origin; $CA (the origin's CA),
# $TLS_ORIGIN (its port) and $URL (https://localhost:PORT/) for curl_via.
serve_tls_origin() {
	make_ca dest
	make_ca proxy
	make_leaf dest server
	make_leaf proxy proxysrv
	CA=$CERTS/dest.pem
	start_origin tlsorigin --cert "$CERTS/server-chain.pem" \
		--key "$CERTS/server-key.pem"
	TLS_ORIGIN=$ORIGIN_PORT
	URL=https://localhost:$TLS_ORIGIN/
}
