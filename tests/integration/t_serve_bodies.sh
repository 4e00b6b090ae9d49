#!/bin/bash
# t_serve_bodies.sh - proxystack serve and the bytes around a request:
# a malformed request body (bad chunk size, a chunk without its CRLF,
# garbage in Content-Length) is answered 400 with a one-line reason, not
# a silent close; a client that hangs up in the middle of a large
# response (absolute-form request, and a CONNECT tunnel) is noticed at
# once: the access-log line comes with the bytes so far, and the
# connection to the origin is closed, long before the response would end.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

start_origin origin
A=$ORIGIN_PORT
serve_conf "$TMP/conf"
start_serve serve "$TMP/conf" -v
P=$SERVE_PORT

# --- malformed bodies: 400 and one line -----------------------------------------

# bad_body NAME HEAD-AND-BODY REASON-ERE
bad_body() {
	raw_request "$1" "$P" "$2"
	expect_grep "^HTTP/1.1 400 " "$TMP/$1.raw" "$1: 400"
	expect_grep "$3" "$TMP/$1.raw" "$1: the one-line reason"
}
REQ="POST http://127.0.0.1:$A/echo HTTP/1.1\r\nHost: 127.0.0.1:$A\r\n"
bad_body "bad chunk size" \
	"${REQ}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" \
	"^proxystack: bad-request: malformed chunked request body"
bad_body "chunk without CRLF" \
	"${REQ}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" \
	"^proxystack: bad-request: malformed chunked request body"
bad_body "Content-Length garbage" \
	"${REQ}Content-Length: 12abc\r\n\r\nhello" \
	"^proxystack: bad-request: .*Content-Length"
expect_access serve "proto=http dest=127.0.0.1:$A .*result=bad-request status=400" \
	"malformed body: logged bad-request 400"

# The bad chunk comes after the chain is up (the body trickles in), to
# an origin that never answers (its listener never accepts).
start_blackhole hole
"$PYTHON" - "$P" "$BLACKHOLE_PORT" >"$TMP/late.out" 2>&1 <<'EOF'
import socket, sys, time
p, a = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", p), timeout=10)
s.sendall(("POST http://127.0.0.1:%s/echo HTTP/1.1\r\nHost: x\r\n"
           "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" % a).encode())
time.sleep(0.5)
s.sendall(b"nothex\r\n")
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
sys.stdout.write(data.decode("latin-1"))
EOF
expect_grep "^HTTP/1.1 400 " "$TMP/late.out" "bad chunk after the chain is up: 400"
expect_grep "malformed chunked request body" "$TMP/late.out" \
	"bad chunk after the chain is up: the reason"

# --- a client that hangs up in the middle of a large response ----------------

# hangup NAME MODE: read 1 MiB of a 4 GiB response, close; how long
# until serve's access log has the line, and its down= bytes.
hangup() {
	local name=$1 mode=$2
	"$PYTHON" - "$P" "$A" "$mode" "$TMP/serve.access" >"$TMP/$name.out" 2>&1 <<'EOF'
import re, socket, sys, time
p, a, mode, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
path = "/bytes/4294967296"
s = socket.create_connection(("127.0.0.1", p), timeout=10)
if mode == "tunnel":
    s.sendall(("CONNECT 127.0.0.1:%s HTTP/1.1\r\n\r\n" % a).encode())
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(1)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
else:
    s.sendall(("GET http://127.0.0.1:%s%s HTTP/1.1\r\nHost: x\r\n\r\n"
               % (a, path)).encode())
n = 0
while n < (1 << 20):
    n += len(s.recv(65536))
s.close()
closed = time.monotonic()
# A splice tunnel may meet the hang-up as a failed read or write of
# either socket first (EPIPE, ECONNRESET): io is as honest as
# client-closed there; an absolute-form exchange knows the side.
want = "dest=127.0.0.1:%s .*result=%s" % (
    a, "(client-closed|io)" if mode == "tunnel" else "client-closed")
while time.monotonic() - closed < 5:
    lines = [l for l in open(log) if re.search(want, l)]
    if lines and ("proto=connect" if mode == "tunnel" else "proto=http") in lines[-1]:
        down = int(re.search(r" down=(\d+)", lines[-1]).group(1))
        print("logged after %.0f ms, down=%d" % ((time.monotonic() - closed) * 1000, down))
        sys.exit(0)
    time.sleep(0.02)
print("no access-log line within 5 s")
sys.exit(1)
EOF
	expect_grep "^logged after" "$TMP/$name.out" "$name: the access-log line comes"
	show_file "$name" "$TMP/$name.out"
	local ms down
	ms=$(sed -n 's/^logged after \([0-9]*\) ms.*/\1/p' "$TMP/$name.out")
	down=$(sed -n 's/.*down=\([0-9]*\)$/\1/p' "$TMP/$name.out")
	# Long before the 4 GiB would end; loose for a loaded machine.
	expect_exit 0 "$name: within 3 s of the hang-up (${ms:-?} ms)" -- \
		test "${ms:-9999}" -lt 3000
	expect_exit 0 "$name: down= holds the bytes so far, not 4 GiB (${down:-?})" -- \
		test "${down:-0}" -ge 1048576 -a "${down:-0}" -lt 1073741824
	# No connection from serve to the origin is left open.
	sleep 0.3
	expect_eq "$(ss -Htn state established "( dport = :$A )" | wc -l)" 0 \
		"$name: the connection to the origin is closed"
}
hangup "hang-up, absolute-form" http
hangup "hang-up, CONNECT tunnel" tunnel

serve_alive serve "after the hang-ups: serve still answers"
stop_serve serve "serve"
