#!/bin/bash
# t_run_names.sh - `proxystack run`: the legacy resolver calls
# (gethostbyname2_r for both families, gethostbyname2, gethostbyname_r)
# give a routed name a fake address and a no_proxy name its real one; a
# buffer too small is ERANGE.  [run] udp = refuse covers sendmmsg():
# datagrams before the first refused one go, a refused first one is
# EACCES with a line in [run] log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

run_setup
NAMES=$PS_BUILD/tests/run_names
write_run_conf 10-names.conf <<EOF2
[default]
no_proxy = localhost
[run]
udp = refuse
log = $TMP/run.log
EOF2

expect_exit 0 "names: the lookups ran" -- \
	"${PS_RUN[@]}" "$NAMES" names "$RUN_HOST" localhost
expect_grep "^gethostbyname2_r/4 $RUN_HOST 240\.[0-9.]* $RUN_HOST$" "$OUT" \
	"gethostbyname2_r AF_INET: a routed name gets a 240/4 address"
expect_grep "^gethostbyname2_r/6 $RUN_HOST 100::[0-9a-f]* $RUN_HOST$" "$OUT" \
	"gethostbyname2_r AF_INET6: a routed name gets a 100::/64 address"
expect_grep "^gethostbyname_r $RUN_HOST 240\." "$OUT" \
	"gethostbyname_r: a routed name gets a fake address"
expect_grep "^gethostbyname2/6 $RUN_HOST 100::" "$OUT" \
	"gethostbyname2 AF_INET6: a routed name gets a fake address"
expect_grep "^gethostbyname2_r/4 localhost 127\.0\.0\.1 " "$OUT" \
	"gethostbyname2_r AF_INET: a no_proxy name resolves for real"
# Both families of the no_proxy name: libc's own answers, whatever the
# hosts file says (this machine's may have no ::1 line).
grep ' localhost ' "$OUT" >"$TMP/names-run"
"$NAMES" names "$RUN_HOST" localhost | grep ' localhost ' >"$TMP/names-libc"
if cmp -s "$TMP/names-run" "$TMP/names-libc"; then
	ok "every lookup of a no_proxy name is libc's own answer"
else
	fail "no_proxy name: answers differ from libc's: $(diff "$TMP/names-libc" "$TMP/names-run" | tr '\n' ' ')"
fi
expect_grep "^small-buffer $RUN_HOST ERANGE$" "$OUT" \
	"gethostbyname2_r: a buffer too small for the fake entry is ERANGE"

expect_exit 0 "sendmmsg: ran" -- "${PS_RUN[@]}" "$NAMES" mmsg
expect_grep "^mmsg 1 -$" "$OUT" \
	"sendmmsg: the loopback datagram before the refused one went (1 sent)"
expect_grep "^mmsg -1 Permission denied$" "$OUT" \
	"sendmmsg: a refused first datagram is EACCES"
expect_grep -F "proxystack run: UDP to 192.0.2.1 port 9 refused ([run] udp = refuse)" \
	"$TMP/run.log" "sendmmsg: the refusal in [run] log"
