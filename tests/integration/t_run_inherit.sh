#!/bin/bash
# t_run_inherit.sh - `proxystack run` covers what the command starts: a
# program it executes (through a shell) and a child it forks, which
# connects after its parent did (with a context of its own); but not a
# set-group-ID program.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

run_setup
start_echo plain --plain
PLAIN_PORT=$ECHO_PORT

# Children inherit it: a program started by a shell (exec), and a forked
# child that connects after its parent did (its own context).
start_echo tls --cert "$RUN_CERT" --key "$RUN_KEY"
squid_log_mark sq
expect_exit 0 "run: a program the command executes is covered" -- \
	"${PS_RUN[@]}" sh -c '"$0" "$1" "$2" "$3" "$4" exec-child' \
	"$PYTHON" "$PS_LIB_DIR/run_tls_client.py" "$RUN_CA" "$RUN_HOST" "$ECHO_PORT"
expect_grep "^exec-child 240\." "$OUT" "run: exec: echo through the fake address"
expect_exit 0 "run: parent and forked child both connect" -- \
	"${PS_RUN[@]}" "$PYTHON" -c '
import os, socket, sys
def once(tag):
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20) as s:
        s.sendall(tag + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            data += s.recv(100)
        assert data == tag + b"\n", data
once(b"parent")
pid = os.fork()
if pid == 0:
    once(b"child")
    os._exit(0)
_, status = os.waitpid(pid, 0)
once(b"parent-again")
print("fork ok", status)
' "$RUN_HOST" "$PLAIN_PORT"
expect_grep "^fork ok 0$" "$OUT" "run: fork: parent, child and parent again"
TUNNELS=$(squid_log_lines sq | grep -c "TCP_TUNNEL/200 CONNECT ${RUN_HOST//./\\.}:$PLAIN_PORT alice")
expect_eq "$TUNNELS" 3 "run: fork: all three through squid"

# A set-group-ID program (AT_SECURE) is not touched: the dynamic loader
# ignores the preload path in secure mode, and the library would step
# aside (getauxval(AT_SECURE)) if it were loaded another way.
cp "$(readlink -f "$PYTHON")" "$TMP/python-sg"
chgrp nogroup "$TMP/python-sg" && chmod 2755 "$TMP/python-sg"
CHECK_PRELOAD='import socket, sys
print("mapped" if "libproxystack-preload" in open("/proc/self/maps").read() else "absent")
try:
    print(socket.getaddrinfo(sys.argv[1], 1)[0][4][0])
except socket.gaierror:
    print("no-address")'
if [ "$("$TMP/python-sg" -c 'import os; print(os.getegid() != os.getgid())')" = True ]; then
	# Its real lookup of the name runs where no DNS server answers.
	expect_exit 0 "setgid: runs" -- "${LOOPBACK_DNS_NS[@]}" "$LOOPBACK_HOSTS" \
		"${PS_RUN[@]}" "$TMP/python-sg" -c "$CHECK_PRELOAD" "$RUN_HOST"
	expect_grep "^absent$" "$OUT" "setgid: the preload library is not mapped"
	expect_grep "^no-address$" "$OUT" "setgid: the name is not faked"
	expect_exit 0 "the same program, not setgid" -- \
		"${PS_RUN[@]}" "$PYTHON" -c "$CHECK_PRELOAD" "$RUN_HOST"
	expect_grep "^240\." "$OUT" "not setgid: the name gets a fake address"
else
	skip "setgid: not touched" "$TMP is mounted nosuid: no set-group-ID program can run there"
fi
