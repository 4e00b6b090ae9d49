#!/bin/bash
# t_run_cli.sh - `proxystack run`: what the command line promises, the
# exit statuses of proxystack(1): the command's own, 127 when it is not
# found, 126 when it cannot be executed, 2 without a command or with a
# broken configuration; [run] udp = refuse with [run] log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

run_setup

# Exit statuses.
expect_exit 3 "run: the command's exit status" -- "${PS_RUN[@]}" sh -c 'exit 3'
expect_exit 127 "run: command not found is 127" -- \
	"${PS_RUN[@]}" no-such-command-ps-test
expect_grep "no-such-command-ps-test: No such file or directory" "$ERR" \
	"run: not found: says which command"
printf 'not a program\n' >"$TMP/notexec"
chmod 0644 "$TMP/notexec"
expect_exit 126 "run: a file that cannot be executed is 126" -- \
	"${PS_RUN[@]}" "$TMP/notexec"
expect_exit 2 "run: no command is a usage error" -- \
	"$PROXYSTACK" -c "$RUN_CONF" run --
expect_grep "run needs a command" "$ERR" "run: no command: says so"
write_conf "$RUN_CONF" 20-bad.conf <<'EOC'
[run]
udp = sometimes
EOC
expect_exit 2 "run: a bad [run] key fails the configuration" -- \
	"${PS_RUN[@]}" true
expect_grep "20-bad.conf:2: udp: bad value 'sometimes'" "$ERR" \
	"run: the bad value with file:line"
rm -f "$RUN_CONF/20-bad.conf"

# The command's arguments are its own, options included.
expect_exit 0 "run: options after the command are the command's" -- \
	"${PS_RUN[@]}" "$PYTHON" -c 'import sys; print(sys.argv[1:])' -v -c x
expect_grep -F "['-v', '-c', 'x']" "$OUT" "run: arguments passed as given"

# [run] udp = refuse: a datagram to a non-loopback address fails with
# EACCES and a line in [run] log; loopback UDP still goes.
write_conf "$RUN_CONF" 30-udp.conf <<EOC
[run]
udp = refuse
log = $TMP/run.log
EOC
expect_exit 0 "udp = refuse: sendto a remote address is refused" -- \
	"${PS_RUN[@]}" "$PYTHON" -c '
import errno, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"x", ("192.0.2.1", 53))
    raise SystemExit("sent")
except PermissionError as e:
    assert e.errno == errno.EACCES
s.sendto(b"x", ("127.0.0.1", 9))
try:
    s.connect(("198.51.100.7", 123))
    raise SystemExit("connected")
except PermissionError:
    pass
print("refused")
'
expect_grep "^refused$" "$OUT" "udp = refuse: EACCES for sendto and connect"
expect_grep -F "proxystack run: UDP to 192.0.2.1 port 53 refused ([run] udp = refuse)" \
	"$TMP/run.log" "udp = refuse: the line in [run] log"
expect_no_grep -F "UDP to 127.0.0.1" "$TMP/run.log" "udp = refuse: loopback UDP goes"
rm -f "$RUN_CONF/30-udp.conf"
