#!/bin/bash
# t_h2_pool.sh - tunnels of one process share one HTTP/2 connection to an
# https proxy (a pool per proxy per configuration snapshot).
#
# nghttpx --http2-proxy in front of squid is the proxy; the TLS echo
# server is the destination.  tests/h2_pool_client (a check_PROGRAM) opens
# the tunnels with the public API in one process, counts its established
# TCP connections to the proxy in /proc, and round-trips data on all of
# them at once: with blocking connections, one thread each (the session's
# locking), and with non-blocking ones started at once and driven in one
# poll loop (tunnels waiting for the first one's handshake, and the
# per-stream eventfds that wake a tunnel whose bytes another one read).
# Then: one context per tunnel (nothing to share) and squid's https_port
# (HTTP/1.1, a connection per tunnel) for the timings; Basic auth learned
# once per pool; a graceful GOAWAY; the proxy dying under live tunnels.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"

HELPER=$PS_BUILD/tests/h2_pool_client
if [ ! -x "$HELPER" ]; then
	skip "h2 pool" "$HELPER is not built (make check builds it)"
	exit 0
fi
N=10

make_dest_and_proxy_certs

start_echo dest --cert "$CERTS/server-chain.pem" --key "$CERTS/server-key.pem"
URL=tls://localhost:$ECHO_PORT

start_squid squid
BACKEND=$SQUID_PORT
start_nghttpx h2proxy "$BACKEND" "$PCERT" "$PKEY"
NG=$NGHTTPX_PORT
start_squid tlssquid --https "$PCERT" "$PKEY"
SQTLS=$SQUID_PORT

make_htpasswd "$TMP/htpasswd" alice 'p@ss:w/rd%'
start_squid authsquid --basic "$TMP/htpasswd"
start_nghttpx h2auth "$SQUID_PORT" "$PCERT" "$PKEY"
NGAUTH=$NGHTTPX_PORT

# conf NAME PORT [LINE...]: $TMP/conf/NAME, [transport hp] = https-proxy
# at localhost:PORT with the proxy's CA, plus LINEs, routed for localhost.
conf() {
	local dir=$TMP/conf/$1 port=$2
	shift 2
	make_conf "$dir"
	{
		echo "[transport hp]"
		echo "module = https-proxy"
		echo "url = https://localhost:$port"
		echo "ca_file = $CERTS/proxy.pem"
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
		echo "[route r]"
		echo "match = localhost 127.0.0.1"
		echo "stack = hp"
	} | write_conf "$dir" 10-hp.conf
	echo "$dir"
}

# pool LABEL CONF PORT [helper options]: run the helper, its result lines
# count; its notes (timings) are kept for the summary.
pool() {
	local label=$1 dir=$2 port=$3
	shift 3
	"$HELPER" -c "$dir" -u "$URL" --ca-file "$DEST_CA" \
		--proxy-port "$port" --label "$label" "$@" \
		>"$TMP/pool.out" 2>"$TMP/pool.err"
	local rc=$?
	cat "$TMP/pool.out"
	cat "$TMP/pool.out" >>"$TMP/notes"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$TMP/pool.out"; then
		fail "$label: h2_pool_client exited $rc"
		show_file stderr "$TMP/pool.err"
	fi
}

# ms LABEL: the setup time the helper printed for LABEL.
ms() {
	sed -n "s/^# $1: [0-9]* tunnels in \([0-9.]*\) ms.*/\1/p" "$TMP/notes"
}

H2=$(conf h2 "$NG")
pool "h2, one after the other" "$H2" "$NG" -n "$N" --bytes 4194304 \
	--expect-connections 1
pool "h2, started at once" "$H2" "$NG" -n "$N" --parallel --bytes 1048576 \
	--expect-connections 1
pool "h2, a context each" "$H2" "$NG" -n "$N" --separate \
	--expect-connections "$N"
pool "h1 (squid https_port)" "$(conf h1 "$SQTLS")" "$SQTLS" -n "$N" \
	--bytes 65536 --expect-connections "$N"

# Tunnels one after the other, each closed before the next: the HTTP/2
# connection outlives its last tunnel (h2_idle_timeout, default 60 s)
# and the next tunnel rides it, no TCP or TLS handshake; with
# h2_idle_timeout = 0 it closes with its tunnel.
pool "h2, one at a time" "$H2" "$NG" -n 5 --bytes 65536 --one-at-a-time \
	--expect-idle 1 --expect-reuse yes
pool "h2, one at a time, h2_idle_timeout = 0" \
	"$(conf noidle "$NG" "h2_idle_timeout = 0")" "$NG" -n 3 --bytes 65536 \
	--one-at-a-time --expect-idle 0 --expect-reuse no
# A proxy that closes an idle connection (nghttpx: GOAWAY, then the
# close, after 1 s without a frame): the kept session is checked before
# reuse, and the next tunnel gets a connection of its own, no error.
start_nghttpx h2short "$BACKEND" "$PCERT" "$PKEY" \
	--frontend-http2-read-timeout=1s
pool "h2, the proxy closed the idle connection" \
	"$(conf short "$NGHTTPX_PORT")" "$NGHTTPX_PORT" -n 3 --bytes 65536 \
	--one-at-a-time --pause-ms 2000 --expect-reuse no
# The key's range is checked.
expect_exit 2 "h2_idle_timeout out of range is a config error (exit 2)" -- \
	"$PROXYSTACK" -c "$(conf badidle "$NG" "h2_idle_timeout = 3601")" \
	which "$URL"
expect_grep 'h2_idle_timeout' "$ERR" "h2_idle_timeout out of range: the key is named"

# auth = auto: the first tunnel learns that the proxy wants Basic, the
# others of the pool send it at once: one 407 for N tunnels.
AUTH=$(conf auth "$NGAUTH" "username = alice" "password_file = $TMP/pw")
printf '%s\n' 'p@ss:w/rd%' >"$TMP/pw"
chmod 0600 "$TMP/pw"
pool "h2 with Basic" "$AUTH" "$NGAUTH" -n "$N" --bytes 65536 \
	--expect-connections 1
n407=$(grep -c '" 407 ' "$TMP/h2auth/access.log" 2>/dev/null)
expect_eq "${n407:-0}" 1 "h2 with Basic: one 407 for $N tunnels of one pool"
# The same over HTTP/1.1 (squid's https_port): once Basic went through,
# the next tunnels of the context send it at once.
start_squid tlsauth --https "$PCERT" "$PKEY" --basic "$TMP/htpasswd"
pool "h1 with Basic (squid https_port)" \
	"$(conf authtls "$SQUID_PORT" "username = alice" "password_file = $TMP/pw")" \
	"$SQUID_PORT" -n "$N" --bytes 65536 --expect-connections "$N"
n407=$(grep -c 'TCP_DENIED/407 CONNECT' "$TMP/tlsauth/access.log" 2>/dev/null)
expect_eq "${n407:-0}" 1 "h1 over TLS with Basic: one 407 for $N tunnels of one context"

# A graceful shutdown: the live tunnels go on, new ones do not join.
start_nghttpx h2goaway "$BACKEND" "$PCERT" "$PKEY"
pool "h2 GOAWAY" "$(conf goaway "$NGHTTPX_PORT")" "$NGHTTPX_PORT" -n 4 \
	--bytes 65536 --expect-connections 1 --goaway "$BG_PID"

# The proxy dies: every tunnel's next I/O fails, naming the proxy.
start_nghttpx h2dies "$BACKEND" "$PCERT" "$PKEY"
pool "h2 proxy dies" "$(conf dies "$NGHTTPX_PORT")" "$NGHTTPX_PORT" -n 4 \
	--bytes 65536 --expect-connections 1 --kill "$BG_PID"

shared=$(ms "h2, one after the other")
atonce=$(ms "h2, started at once")
separate=$(ms "h2, a context each")
h1=$(ms "h1 (squid https_port)")
echo "# $N tunnels, setup: h2 shared ${shared:-?} ms (started at once" \
	"${atonce:-?} ms), h2 a connection each ${separate:-?} ms," \
	"HTTP/1.1 a connection each ${h1:-?} ms"
