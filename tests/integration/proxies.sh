# tests/integration/proxies.sh - real proxies on loopback for the tests.
#
# Sourced (bash) after lib.sh by the t_proxy_*.sh scripts:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/proxies.sh"
#
# Every proxy listens on 127.0.0.1 only, on a port from free_port, runs in
# the foreground under start_bg (so lib.sh's exit trap stops it by PID,
# never by name) and keeps its files in $TMP/NAME/.  A start_* function
# returns once the port accepts connections, and bails out with the
# proxy's logs if the proxy dies or never listens.
#
#   start_squid NAME [OPTIONS]       squid 5 (squid-openssl); $SQUID_PORT
#       --basic HTPASSWD             Basic auth, basic_ncsa_auth over an
#                                    htpasswd file (make_htpasswd)
#       --digest FILE                Digest auth (MD5), digest_file_auth -c
#                                    over "user:realm:HA1" lines
#                                    (make_digest_file)
#       --ntlm                       NTLM auth, ntlm_fake_auth: any well-
#                                    formed Type 1/3 exchange made on one
#                                    connection passes (the password is not
#                                    checked); the log names the user
#                                    mangled ("CORP\\alice" shows as
#                                    "CORPa\\alicew" or so)
#       --negotiate KEYTAB PRINCIPAL Negotiate (Kerberos) auth with
#                                    negotiate_kerberos_auth -k KEYTAB -s
#                                    PRINCIPAL (KEYTAB readable by squid's
#                                    user); the log names user@REALM
#       --https CERT KEY             an https_port (TLS to the proxy) instead
#                                    of the http_port
#       --deny-port PORT             CONNECT to PORT gets 403 (even unauthed)
#       --line 'squid.conf line'     one more line, before the http_access
#                                    rules (repeatable)
#       --bump CA CAKEY DESTCA       intercept TLS (ssl-bump): every CONNECT
#                                    is peeked at step 1 and bumped; squid
#                                    connects to the destination first,
#                                    verifies it against DESTCA
#                                    (tls_outgoing_options cafile=, plus
#                                    the system store), and the client gets
#                                    a certificate minted by CA (keyUsage
#                                    keyCertSign) that copies the names of
#                                    the destination's.  A destination that
#                                    fails squid's check is refused (the
#                                    default sslproxy_cert_error deny): the
#                                    client gets a certificate for the name
#                                    it asked, then squid's error (a 503
#                                    page, or a closed tunnel).  Non-HTTP
#                                    bytes inside (a raw TLS echo) are
#                                    tunnelled.  Minted certificates are
#                                    kept in $TMP/NAME/ssldb
#       --no-upgrade                 no `http_upgrade_request_protocols`:
#                                    squid strips Upgrade from requests it
#                                    sees (bumped wss), the server says 426
#     Only destinations in 127.0.0.0/8 and ::1 are allowed, on any port.
#     Access log: $TMP/NAME/access.log, one line a request:
#       TIME CLIENT STATUS METHOD URL USER BYTES_IN BYTES_OUT
#       e.g. "... 127.0.0.1 TCP_TUNNEL/200 CONNECT localhost:4433 alice ..."
#   squid_log_mark NAME              look only at lines logged after this
#   squid_log_has NAME ERE           a line of its access log (since the
#                                    mark) matches; polls 3 s: squid logs a
#                                    tunnel when it ends
#   squid_log_lacks NAME ERE         none does, even after 3 s
#   expect_squid_log NAME ERE TEST, expect_no_squid_log NAME ERE TEST
#                                    the same as assertions
#   start_tinyproxy NAME [--basic USER PASS]      tinyproxy; $TINYPROXY_PORT
#                                    (log in $TMP/NAME.log)
#   start_nghttpx NAME BACKEND_PORT CERT KEY [OPT...]  nghttpx --http2-proxy in
#                                    front of a proxy on BACKEND_PORT (TLS,
#                                    ALPN h2 and http/1.1); $NGHTTPX_PORT
#   conf_every NAME MODULE URL LINE...  a config dir $TMP/conf/NAME sending
#                                    every destination through one
#                                    [transport] of MODULE with LINEs
#   make_dest_and_proxy_certs        CAs "dest" and "proxy", leaves "server"
#                                    (dest) and "proxysrv" (proxy); sets
#                                    DEST_CA, PROXY_CA, PCERT and PKEY (the
#                                    proxy's chain and key)
#   make_htpasswd FILE USER PASS     add USER to an htpasswd file (MD5)
#   make_digest_file FILE USER PASS  add USER to a digest_file_auth file
#   dead_port                        a free port nothing listens on
#   expect_roundtrip NAME FILE -- CMD...    CMD <FILE exits 0, echoes FILE
#   expect_parallel_roundtrips N NAME FILE -- CMD...   N of them at once
#   expect_no_secret NAME SECRET...  neither $OUT nor $ERR holds a SECRET
#
# squid and tinyproxy drop to unprivileged users when run as root, so the
# files they read at run time (htpasswd, digest file) must be readable by
# others and every directory above them traversable: $TMP becomes 0711.

# Unprivileged users the proxies switch to when started as root.
PS_SQUID_USER=proxy
# The realm squid offers for Basic and Digest (make_digest_file hashes it).
PS_SQUID_REALM=proxystack-test

# ps_proxy_dir NAME: $TMP/NAME, 0755, owned by squid's user when we are
# root (squid writes its pid file and logs there after dropping to it).
ps_proxy_dir() {
	local dir=$TMP/$1
	case $1 in
	*[!A-Za-z0-9]* | "") bail_out "proxy name '$1'" "must be alphanumeric" ;;
	esac
	# Traversable (not listable) by the users the proxies switch to.
	chmod 0711 "$TMP"
	if [ -e "$dir" ]; then
		bail_out "proxy $1" "$dir exists: one proxy per name, and no other file by that name"
	fi
	mkdir "$dir"
	chmod 0755 "$dir"
	if [ "$(id -u)" = 0 ] && id "$PS_SQUID_USER" >/dev/null 2>&1; then
		chown "$PS_SQUID_USER:" "$dir"
	fi
}

# wait_listen NAME PID PORT: poll up to 10 s until PORT on 127.0.0.1
# accepts; bail out with the logs as soon as PID dies.
wait_listen() {
	local name=$1 pid=$2 port=$3 i
	for ((i = 0; i < 100; i++)); do
		if ! pid_alive "$pid"; then
			fail "start $name" "exited before listening on port $port"
			show_bg_logs
			show_proxy_logs "$name"
			exit 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	fail "start $name" "nothing listens on 127.0.0.1:$port after 10 s"
	show_bg_logs
	show_proxy_logs "$name"
	exit 1
}

# show_proxy_logs NAME: the logs a proxy keeps in $TMP/NAME/, as comments.
show_proxy_logs() {
	local f
	for f in "$TMP/$1"/*.log; do
		[ -e "$f" ] && show_file "$1/$(basename "$f")" "$f"
	done
	return 0
}

# dead_port: a port that was free a moment ago and that nothing here will
# listen on (free_port never hands it out again in this script).
dead_port() {
	free_port
}

# conf_every NAME MODULE URL LINE...: a configuration directory
# $TMP/conf/NAME whose [transport corp] (module MODULE, url URL, and the
# LINEs) carries every destination, 0600 (it may hold a secret).
conf_every() {
	local dir=$TMP/conf/$1 module=$2 url=$3
	shift 3
	make_conf "$dir"
	{
		echo "[transport corp]"
		echo "module = $module"
		echo "url = $url"
		printf '%s\n' "$@"
		echo
		echo "[stack corp]"
		echo "transport = corp"
		echo
		echo "[route all]"
		echo "match = *"
		echo "stack = corp"
	} | write_conf "$dir" 50-corp.conf
	chmod 0600 "$dir/50-corp.conf"
}

make_dest_and_proxy_certs() {
	make_ca dest
	make_ca proxy
	make_leaf dest server
	make_leaf proxy proxysrv
	DEST_CA=$CERTS/dest.pem
	PROXY_CA=$CERTS/proxy.pem
	PCERT=$CERTS/proxysrv-chain.pem
	PKEY=$CERTS/proxysrv-key.pem
}

# make_htpasswd FILE USER PASS: add (or replace) USER with an MD5 (apr1)
# hash.  The password is an argument, so any byte but NUL works, @ : / %
# included.  Readable by squid's helper, which runs as an unprivileged user.
make_htpasswd() {
	local file=$1 user=$2 pass=$3
	local -a create=()
	[ -e "$file" ] || create=(-c)
	htpasswd -b "${create[@]}" -m "$file" "$user" "$pass" \
		>>"$TMP/htpasswd.log" 2>&1 ||
		bail_out "make_htpasswd $user" "htpasswd failed: $(cat "$TMP/htpasswd.log")"
	chmod 0644 "$file"
}

# make_digest_file FILE USER PASS: add USER to a password file for squid's
# digest_file_auth.  Lines are "user:realm:HA1", HA1 = MD5(user:realm:pass),
# which the helper reads when run with -c (without -c it reads plaintext
# "user:password" lines, which cannot hold a ':' in the password).  So any
# password works, ':' included.
make_digest_file() {
	local file=$1 user=$2 pass=$3 ha1
	ha1=$(printf '%s:%s:%s' "$user" "$PS_SQUID_REALM" "$pass" | md5sum | cut -d' ' -f1)
	printf '%s:%s:%s\n' "$user" "$PS_SQUID_REALM" "$ha1" >>"$file"
	chmod 0644 "$file"
}

# start_squid NAME [--basic HTPASSWD] [--digest FILE] [--https CERT KEY]
#             [--deny-port PORT] [--line LINE]...
start_squid() {
	local name=$1
	shift
	local basic="" digest="" cert="" key="" deny="" ntlm="" negkt="" negspn=""
	local bumpca="" bumpkey="" bumpdest="" upgrade=1
	local -a extra=()
	while [ $# -gt 0 ]; do
		case $1 in
		--basic) basic=$2; shift 2 ;;
		--digest) digest=$2; shift 2 ;;
		--ntlm) ntlm=1; shift ;;
		--negotiate) negkt=$2; negspn=$3; shift 3 ;;
		--https) cert=$2; key=$3; shift 3 ;;
		--deny-port) deny=$2; shift 2 ;;
		--line) extra+=("$2"); shift 2 ;;
		--bump) bumpca=$2; bumpkey=$3; bumpdest=$4; shift 4 ;;
		--no-upgrade) upgrade=0; shift ;;
		*) bail_out "start_squid $name" "unknown option $1" ;;
		esac
	done
	ps_proxy_dir "$name"
	local dir=$TMP/$name conf=$TMP/$name/squid.conf
	SQUID_PORT=$(free_port) || bail_out "start_squid $name" "no free port"
	[ -n "$bumpca" ] && ps_squid_bump_db "$name"
	{
		if [ -n "$bumpca" ]; then
			echo "http_port 127.0.0.1:$SQUID_PORT ssl-bump tls-cert=$bumpca tls-key=$bumpkey generate-host-certificates=on dynamic_cert_mem_cache_size=4MB"
			echo "sslcrtd_program /usr/lib/squid/security_file_certgen -s $dir/ssldb -M 4MB"
			echo "sslcrtd_children 2 startup=1 idle=1"
			echo "acl step1 at_step SslBump1"
			echo "ssl_bump peek step1"
			echo "ssl_bump bump all"
			echo "tls_outgoing_options cafile=$bumpdest"
			echo "on_unsupported_protocol tunnel all"
		elif [ -n "$cert" ]; then
			echo "https_port 127.0.0.1:$SQUID_PORT tls-cert=$cert tls-key=$key"
		else
			echo "http_port 127.0.0.1:$SQUID_PORT"
		fi
		# Its own files only; nothing in /var, no disk cache, no DNS
		# server but a dead one (names come from /etc/hosts; any other
		# name fails in 2 s, not squid's default 30).
		cat <<EOF
visible_hostname proxystack-test-$name
pid_filename $dir/squid.pid
logformat ps %ts.%03tu %>a %Ss/%03>Hs %rm %ru %un %>st %<st
access_log stdio:$dir/access.log logformat=ps
cache_log $dir/cache.log
cache_store_log none
coredump_dir $dir
netdb_filename none
pinger_enable off
cache deny all
shutdown_lifetime 1 seconds
dns_nameservers 127.0.0.1
dns_timeout 2 seconds
hosts_file /etc/hosts
acl localdst dst 127.0.0.0/8 ::1
EOF
		[ "$upgrade" = 1 ] &&
			echo "http_upgrade_request_protocols websocket allow all"
		# The order of these lines is the order of the schemes in
		# Proxy-Authenticate: strongest first.
		if [ -n "$negkt" ]; then
			echo "auth_param negotiate program /usr/lib/squid/negotiate_kerberos_auth -k $negkt -s $negspn"
			echo "auth_param negotiate children 2"
		fi
		if [ -n "$ntlm" ]; then
			echo "auth_param ntlm program /usr/lib/squid/ntlm_fake_auth"
			echo "auth_param ntlm children 2"
		fi
		if [ -n "$digest" ]; then
			echo "auth_param digest program /usr/lib/squid/digest_file_auth -c $digest"
			echo "auth_param digest realm $PS_SQUID_REALM"
			echo "auth_param digest children 2"
		fi
		if [ -n "$basic" ]; then
			echo "auth_param basic program /usr/lib/squid/basic_ncsa_auth $basic"
			echo "auth_param basic realm $PS_SQUID_REALM"
			echo "auth_param basic children 2"
		fi
		if [ "${#extra[@]}" -gt 0 ]; then printf '%s\n' "${extra[@]}"; fi
		if [ -n "$deny" ]; then
			echo "acl deniedport port $deny"
			echo "http_access deny deniedport"
		fi
		echo "http_access deny !localdst"
		if [ -n "$basic$digest$ntlm$negkt" ]; then
			echo "acl auth proxy_auth REQUIRED"
			# The last ACL of a deny line being proxy_auth: 407.
			echo "http_access deny !auth"
		fi
		echo "http_access allow localdst"
		echo "http_access deny all"
	} >"$conf"
	chmod 0644 "$conf"
	# A service name of our own: squid names its shared memory
	# (/dev/shm/NAME-*.shm) after it, and removes it only when it exits
	# cleanly, which takes it about 2.5 s after SIGTERM: give it 5.
	PS_BG_GRACE=5 start_bg "$name" squid -N -f "$conf" -n "$name$$"
	wait_listen "$name" "$BG_PID" "$SQUID_PORT"
}

# ps_squid_bump_db NAME: the certificate database security_file_certgen
# keeps the minted certificates in, created with -c as the manual says,
# and owned by squid's user (the helper runs as it).
ps_squid_bump_db() {
	local db=$TMP/$1/ssldb
	/usr/lib/squid/security_file_certgen -c -s "$db" -M 4MB \
		>"$TMP/$1/certgen-init.log" 2>&1 ||
		bail_out "start_squid $1" "security_file_certgen -c failed: $(cat "$TMP/$1/certgen-init.log")"
	if [ "$(id -u)" = 0 ] && id "$PS_SQUID_USER" >/dev/null 2>&1; then
		chown -R "$PS_SQUID_USER:" "$db"
	fi
}

# squid_log_mark NAME: from now on squid_log_has and expect_squid_log look
# only at lines squid NAME logs after this point (to tell that THIS request
# went through, or that it did not).
squid_log_mark() {
	local n
	n=$(wc -l <"$TMP/$1/access.log" 2>/dev/null) || n=0
	echo "${n:-0}" >"$TMP/$1/.mark"
}

# squid_log_lines NAME: its access log since the mark (the whole log
# without one).
squid_log_lines() {
	local mark=0
	[ -f "$TMP/$1/.mark" ] && mark=$(cat "$TMP/$1/.mark")
	tail -n "+$((mark + 1))" "$TMP/$1/access.log" 2>/dev/null
}

# squid_log_has NAME ERE: some line of squid NAME's access log (since the
# mark) matches.  Squid writes a CONNECT line when the tunnel closes, a
# moment after the client saw the end: poll for up to 3 s.
squid_log_has() {
	local i
	for ((i = 0; i < 30; i++)); do
		# Not a pipe: under pipefail (scripts/demo.sh) grep -q quitting
		# early would fail the pipeline with tail's SIGPIPE.
		grep -qE -e "$2" <(squid_log_lines "$1") && return 0
		sleep 0.1
	done
	return 1
}

# squid_log_lacks NAME ERE: no line since the mark matches, after waiting
# the 3 s a late line could take.
squid_log_lacks() {
	! squid_log_has "$1" "$2"
}

# expect_squid_log NAME ERE TEST: squid_log_has as an assertion.
expect_squid_log() {
	if squid_log_has "$1" "$2"; then
		ok "$3"
		return 0
	fi
	fail "$3" "no line of $1/access.log matches '$2'"
	squid_log_lines "$1" >"$TMP/.squid-log-tail"
	show_file "$1/access.log (since the mark)" "$TMP/.squid-log-tail"
	return 1
}

# expect_no_squid_log NAME ERE TEST: squid_log_lacks as an assertion.
expect_no_squid_log() {
	if squid_log_lacks "$1" "$2"; then
		ok "$3"
		return 0
	fi
	fail "$3" "a line of $1/access.log matches '$2'"
	squid_log_lines "$1" | grep -E -e "$2" | head -n 5 | note
	return 1
}

# start_tinyproxy NAME [--basic USER PASS]: tinyproxy 1.11 in the
# foreground, logging to $TMP/NAME.log.  No ConnectPort line: CONNECT to
# any port is allowed (Debian's own config allows only 443 and 563).
# A BasicAuth password cannot hold @ : / % (tinyproxy's config syntax).
start_tinyproxy() {
	local name=$1
	shift
	local user="" pass=""
	while [ $# -gt 0 ]; do
		case $1 in
		--basic) user=$2; pass=$3; shift 3 ;;
		*) bail_out "start_tinyproxy $name" "unknown option $1" ;;
		esac
	done
	ps_proxy_dir "$name"
	local conf=$TMP/$name/tinyproxy.conf
	TINYPROXY_PORT=$(free_port) || bail_out "start_tinyproxy $name" "no free port"
	{
		# As root it must switch users; as anyone else it must not try.
		if [ "$(id -u)" = 0 ]; then
			echo "User nobody"
			echo "Group nogroup"
		fi
		cat <<EOF
Port $TINYPROXY_PORT
Listen 127.0.0.1
Timeout 60
MaxClients 64
LogLevel Connect
Allow 127.0.0.1
DisableViaHeader Yes
EOF
		if [ -n "$user" ]; then
			echo "BasicAuth $user $pass"
		fi
	} >"$conf"
	chmod 0644 "$conf"
	start_bg "$name" tinyproxy -d -c "$conf"
	wait_listen "$name" "$BG_PID" "$TINYPROXY_PORT"
}

# start_nghttpx NAME BACKEND_PORT CERT KEY [OPTION...]: an HTTP/2 forward
# proxy (TLS, ALPN h2 and http/1.1) that relays every CONNECT, h2 stream
# or HTTP/1.1, to the proxy on 127.0.0.1:BACKEND_PORT.  CERT is the chain
# to serve; OPTIONs go to nghttpx as they are.
# It runs a main and a worker process; stopping the main one (BG_PID)
# stops both.  Logs: $TMP/NAME/access.log and $TMP/NAME/error.log.
start_nghttpx() {
	local name=$1 backend=$2 cert=$3 key=$4
	shift 4
	ps_proxy_dir "$name"
	local dir=$TMP/$name
	NGHTTPX_PORT=$(free_port) || bail_out "start_nghttpx $name" "no free port"
	# --conf=/dev/null: not Debian's /etc/nghttpx/nghttpx.conf.  Not
	# --daemon: it stays in the foreground.  The default of 8 backend
	# connections per destination would queue the 9th tunnel.
	start_bg "$name" nghttpx --conf=/dev/null --http2-proxy \
		"--frontend=127.0.0.1,$NGHTTPX_PORT" \
		"--backend=127.0.0.1,$backend" \
		--backend-connections-per-host=1024 \
		--no-ocsp --workers=1 --log-level=WARN \
		"--accesslog-file=$dir/access.log" \
		"--errorlog-file=$dir/error.log" \
		"$@" "$key" "$cert"
	wait_listen "$name" "$BG_PID" "$NGHTTPX_PORT"
}

# ---------------------------------------------------------------------
# Assertions the proxy tests share

# expect_roundtrip NAME FILE -- CMD...: CMD (a `proxystack connect`) with
# FILE on stdin exits 0 and prints FILE back byte-exact (sha256).
expect_roundtrip() {
	local name=$1 file=$2
	shift 2
	[ "${1:-}" = "--" ] && shift
	expect_exit 0 "$name: connect exits 0" -- "$@" <"$file" &&
		expect_same_file "$file" "$OUT" "$name: the bytes come back exact"
}

# expect_parallel_roundtrips N NAME FILE -- CMD...: N copies of CMD run at
# once, each with FILE on stdin; every one exits 0 and echoes FILE exact.
# Each is bounded by the command timeout, as expect_exit's are.
expect_parallel_roundtrips() {
	local n=$1 name=$2 file=$3 i rc bad=0
	shift 3
	[ "${1:-}" = "--" ] && shift
	local -a pids=()
	for ((i = 1; i <= n; i++)); do
		timeout -k 5 "$CMD_TIMEOUT" "$@" <"$file" \
			>"$TMP/par$i.out" 2>"$TMP/par$i.err" &
		pids+=($!)
	done
	local -a failed=()
	for ((i = 1; i <= n; i++)); do
		rc=0
		wait "${pids[i - 1]}" || rc=$?
		if [ "$rc" -ne 0 ] || ! cmp -s "$file" "$TMP/par$i.out"; then
			bad=$((bad + 1))
			failed+=("$i:$rc")
		fi
	done
	if [ "$bad" -eq 0 ]; then
		ok "$name: $n concurrent tunnels echo exact"
		return 0
	fi
	fail "$name: $n concurrent tunnels echo exact" "$bad of $n failed"
	local f
	for f in "${failed[@]}"; do
		i=${f%%:*}
		printf 'tunnel %d: exit %d, %s bytes back of %s\n' "$i" "${f#*:}" \
			"$(stat -c %s "$TMP/par$i.out")" "$(stat -c %s "$file")" | note
		show_file "tunnel $i stderr" "$TMP/par$i.err"
	done
	return 1
}

# expect_no_secret NAME SECRET...: neither the last command's stdout nor
# its stderr holds any SECRET (fixed strings; pass the password, its
# percent-encoded form, the base64 of user:password...).
expect_no_secret() {
	local name=$1 s f found=""
	shift
	for s in "$@"; do
		[ -n "$s" ] || continue
		for f in "$OUT" "$ERR"; do
			if grep -qF -e "$s" -- "$f" 2>/dev/null; then
				found="$found $(file_label "$f")"
			fi
		done
	done
	if [ -z "$found" ]; then
		ok "$name"
		return 0
	fi
	# Never print the secret itself, not even in a failure.
	fail "$name" "a secret appears in:$found"
	return 1
}

# ---------------------------------------------------------------------
# Websocket peers (t_ws_*.sh)
#
#   WS_CHECK                          the ws_check driver (tests/ws_check.c)
#   start_ws_echo NAME [OPTIONS]      ws_echo.py (python3-websockets echo;
#                                     --cert F --key F for wss,
#                                     --subprotocol P); $WS_PORT
#   start_bad_ws NAME [OPTIONS]       bad_ws.py, a scripted misbehaving
#                                     server, scenario = URL path;
#                                     $BAD_WS_PORT, event log $BAD_WS_LOG;
#                                     --cert F --key F for wss
#   start_nginx_ws NAME BACKEND_PORT CERT KEY [READ_TIMEOUT]
#                                     nginx terminating TLS in front of a
#                                     plain ws server on BACKEND_PORT, with
#                                     the Upgrade/Connection map of the
#                                     usual guides and proxy_read_timeout
#                                     READ_TIMEOUT (default 3s);
#                                     $NGINX_PORT, logs in $TMP/NAME/

WS_CHECK=${WS_CHECK:-$PS_BUILD/tests/ws_check}

start_ws_echo() {
	local name=$1
	shift
	WS_PORT=$(free_port) || bail_out "start_ws_echo $name" "no free port"
	start_bg "$name" "$PYTHON" -u "$PS_LIB_DIR/ws_echo.py" \
		--port "$WS_PORT" "$@"
	wait_listen "$name" "$BG_PID" "$WS_PORT"
}

start_bad_ws() {
	local name=$1
	shift
	BAD_WS_PORT=$(free_port) || bail_out "start_bad_ws $name" "no free port"
	BAD_WS_LOG=$TMP/$name.events
	: >"$BAD_WS_LOG"
	start_bg "$name" "$PYTHON" -u "$PS_LIB_DIR/bad_ws.py" \
		--port "$BAD_WS_PORT" --log "$BAD_WS_LOG" "$@"
	wait_listen "$name" "$BG_PID" "$BAD_WS_PORT"
}

start_nginx_ws() {
	local name=$1 backend=$2 cert=$3 key=$4 rt=${5:-3s}
	ps_proxy_dir "$name"
	local dir=$TMP/$name
	NGINX_PORT=$(free_port) || bail_out "start_nginx_ws $name" "no free port"
	# Everything under DIR (-p), nothing in /var.  daemon off: the PID
	# we started is the master, and its worker stops with it.
	cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 256; }
http {
    access_log $dir/access.log;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      close;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        server_name localhost;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        location / {
            proxy_pass http://127.0.0.1:$backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$host;
            proxy_read_timeout $rt;
            proxy_send_timeout $rt;
        }
    }
}
EOF
	chmod 0644 "$dir/nginx.conf"
	start_bg "$name" nginx -p "$dir" -c "$dir/nginx.conf" \
		-e "$dir/error.log" -g 'daemon off;'
	wait_listen "$name" "$BG_PID" "$NGINX_PORT"
}
