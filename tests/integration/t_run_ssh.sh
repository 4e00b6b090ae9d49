#!/bin/bash
# t_run_ssh.sh - `proxystack run ssh`: the OpenSSH client, which has no
# proxy support of its own but ProxyCommand, reaches a local sshd (started
# here with its own host key and an authorized key made for the test)
# through squid by a name only squid can resolve, and runs a command.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

run_setup
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || bail_out "sshd" "no $SSHD (openssh-server)"
# sshd insists on its privilege separation directory.
[ -d /run/sshd ] || mkdir -m 0755 /run/sshd ||
	bail_out "sshd" "cannot create /run/sshd"

D=$TMP/ssh
mkdir -m 0700 "$D"
ssh-keygen -q -t ed25519 -N '' -f "$D/host_key" -C host </dev/null
ssh-keygen -q -t ed25519 -N '' -f "$D/id" -C client </dev/null
cp "$D/id.pub" "$D/authorized_keys"
SSH_PORT=$(free_port)
cat >"$D/sshd_config" <<EOC
ListenAddress 127.0.0.1
HostKey $D/host_key
AuthorizedKeysFile $D/authorized_keys
PidFile $D/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $(id -un)
EOC
start_bg sshd "$SSHD" -D -e -f "$D/sshd_config" -p "$SSH_PORT"
wait_port "$SSH_PORT"

SSH=(ssh -F /dev/null -i "$D/id" -p "$SSH_PORT" -o BatchMode=yes
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o LogLevel=ERROR)

squid_log_mark sq
expect_exit 0 "ssh through squid runs a command" -- \
	"${PS_RUN[@]}" "${SSH[@]}" -o ConnectTimeout=20 "$(id -un)@$RUN_HOST" \
	echo hello-from-sshd
expect_grep "^hello-from-sshd$" "$OUT" "ssh: the command's output"
expect_connect_logged "$SSH_PORT" "ssh: squid tunnelled CONNECT $RUN_HOST:$SSH_PORT"

# Without ConnectTimeout ssh connects a blocking socket: the proxy's own
# socket is handed over, and sshd speaks first (its banner may already
# have been read with the proxy's answer: it must not be lost).
squid_log_mark sq
expect_exit 0 "ssh, blocking connect, through squid" -- \
	"${PS_RUN[@]}" "${SSH[@]}" "$(id -un)@$RUN_HOST" echo hello-again
expect_grep "^hello-again$" "$OUT" "ssh, blocking connect: the command's output"
expect_connect_logged "$SSH_PORT" "ssh, blocking connect: squid tunnelled it"

# Without proxystack the name does not even resolve: the proof above is
# the proxy's resolution, not the program's.  (Asked in a namespace whose
# DNS server is nowhere, so the lookup never leaves the machine.)
expect_exit 255 "ssh without proxystack cannot resolve the name" -- \
	"${LOOPBACK_DNS_NS[@]}" "$LOOPBACK_HOSTS" \
	"${SSH[@]}" "$(id -un)@$RUN_HOST" true
