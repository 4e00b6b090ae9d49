#!/bin/bash
# t_serve_routes.sh - proxystack serve in front of nghttpx as an HTTP/2
# proxy (10 clients' tunnels open at once ride ONE TCP connection to it,
# counted with ss, and nghttpx logs 10 streams), a route that goes direct
# (squid never sees it), and failover when the first proxy is dead (the
# second one's log shows the tunnel).

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

serve_tls_origin
start_echo echo --plain

start_squid plain
PLAIN=$SQUID_PORT
start_nghttpx h2 "$PLAIN" "$CERTS/proxysrv-chain.pem" "$CERTS/proxysrv-key.pem"
NG=$NGHTTPX_PORT

# --- HTTP/2: many clients' tunnels over one connection ---------------------

serve_with s_h2 "[transport h2]" "module = https-proxy" \
	"url = https://localhost:$NG" "ca_file = $CERTS/proxy.pem" \
	"[route all]" "match = *" "stack = h2"
curl_via "nghttpx HTTP/2"
expect_exit 0 "nghttpx HTTP/2: 10 tunnels open at once, each echoes" -- \
	"$PYTHON" - "$SERVE_PORT" "$ECHO_PORT" "$NG" <<'PY'
import socket, subprocess, sys
serve, echo, ng = (int(a) for a in sys.argv[1:4])
tunnels = []
for i in range(10):
    s = socket.create_connection(("127.0.0.1", serve), timeout=10)
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % echo)
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    s.sendall(b"tunnel %d\n" % i)
    got = b""
    while not got.endswith(b"\n"):
        got += s.recv(100)
    assert got == b"tunnel %d\n" % i, got
    tunnels.append(s)
out = subprocess.run(["ss", "-Htn", "state", "established",
                      "dst", "127.0.0.1:%d" % ng],
                     capture_output=True, text=True).stdout
print(len([l for l in out.splitlines() if l.strip()]))
# A reset, not a FIN: a FIN is a half-close that serve passes on, and
# the tunnels would stay open for the server's side.
import struct
for s in tunnels:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
expect_stdout 1 "nghttpx HTTP/2: one TCP connection to the proxy (ss)"
h2_lines=$(grep -c "\"CONNECT 127.0.0.1:$ECHO_PORT HTTP/2\"" \
	"$TMP/h2/access.log" 2>/dev/null)
for ((i = 0; i < 30 && h2_lines < 10; i++)); do
	sleep 0.1
	h2_lines=$(grep -c "\"CONNECT 127.0.0.1:$ECHO_PORT HTTP/2\"" \
		"$TMP/h2/access.log" 2>/dev/null)
done
expect_eq "$h2_lines" 10 "nghttpx HTTP/2: its log shows 10 CONNECT streams"

# --- a direct route, and failover --------------------------------------------

serve_with s_route "[default]" "proxy_url = http://127.0.0.1:$PLAIN" \
	"[route local]" "match = localhost:$TLS_ORIGIN" "stack = direct"
squid_log_mark plain
curl_via "direct route"
expect_access s_route "dest=localhost:$TLS_ORIGIN .*result=ok .*chain=\"direct\"" \
	"direct route: the access log says direct"
expect_no_squid_log plain "CONNECT localhost:$TLS_ORIGIN" \
	"direct route: squid never saw it"

serve_with s_failover "[transport dead]" "module = http-connect" \
	"url = http://127.0.0.1:$(dead_port)" \
	"[transport good]" "module = http-connect" \
	"url = http://127.0.0.1:$PLAIN" \
	"[route all]" "match = *" "stack = dead sufficient" \
	"stack = good requisite"
squid_log_mark plain
curl_via "failover"
expect_squid_log plain "TCP_TUNNEL/200 CONNECT localhost:$TLS_ORIGIN " \
	"failover: the second proxy carried it"
expect_access s_failover "result=ok .*chain=\"direct -> http-connect\(http://127.0.0.1:$PLAIN\)\"" \
	"failover: the access log names the proxy that worked"

for name in s_h2 s_route s_failover; do
	stop_serve "$name" "serve ($name)" "${SERVE_PIDS[$name]}"
done
