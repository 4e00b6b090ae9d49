#!/bin/bash
# t_run_relay.sh - `proxystack run` relays many connections with one
# thread: a program (tests/run_many.c) opens 50 connections at once
# through an HTTPS proxy (TLS to squid's https_port, so each is relayed
# through a socketpair), and has at most 2 more threads than before
# while all are open; every connection echoes its own line, then all
# at once send 64 KiB each and read it back, and each half-close is
# answered by an end of stream (the echo server closes).  Blocking
# connects (built inline, then relayed) and non-blocking ones built by
# the relay thread itself (PROXYSTACK_RUN_INLINE_MS=0), waited for with
# epoll.  After fork() the child's connection gets its own relay thread.
# The same through an HTTP/2 proxy, many tunnels on one connection.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

run_setup
SQ_PORT=$SQUID_PORT
run_https_proxy_setup 127.0.0.1
start_echo plain --plain
MANY=$PS_BUILD/tests/run_many

squid_log_mark hsq
expect_run_program "blocking x50" "$MANY" -f -d 65536 "$RUN_HOST" "$ECHO_PORT" 50 2
PROXYSTACK_RUN_INLINE_MS=0 \
expect_run_program "non-blocking x50, built by the relay thread" "$MANY" \
	-n -f -d 65536 "$RUN_HOST" "$ECHO_PORT" 50 2
expect_squid_log hsq "TCP_TUNNEL/200 CONNECT ${RUN_HOST//./\\.}:$ECHO_PORT alice" \
	"the https proxy tunnelled CONNECT $RUN_HOST:$ECHO_PORT"

# Through an HTTP/2 proxy (nghttpx in front of squid sq): the tunnels
# are streams of the pooled HTTP/2 connections of the https-proxy
# module, so several wait for one descriptor (the session's socket, the
# eventfd of a connection being made).  No half-close here: through
# nghttpx the echo server never sees it (nor with the relay thread per
# connection before).
start_nghttpx h2proxy "$SQ_PORT" "$CERTS/proxysrv-chain.pem" \
	"$CERTS/proxysrv-key.pem"
run_https_proxy_conf "https://127.0.0.1:$NGHTTPX_PORT"
squid_log_mark sq
PROXYSTACK_RUN_INLINE_MS=0 \
expect_run_program "h2 proxy x50" "$MANY" -n -D 65536 \
	"$RUN_HOST" "$ECHO_PORT" 50 2
expect_connect_logged "$ECHO_PORT" "h2: squid behind nghttpx tunnelled CONNECT $RUN_HOST:$ECHO_PORT"
