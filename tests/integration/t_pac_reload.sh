#!/bin/bash
# t_pac_reload.sh - a configuration reload keeps the PAC script it had.
#
# proxystack serve runs a [select] with module = pac whose script (served
# by python's http.server, refresh = 3 s) sends localhost through squid.
# Two curls get through squid, the second on the first one's cached
# answer (FindProxyForURL ran once); then the script's server stops, the script
# goes stale, and an unrelated configuration file changes, so serve
# reloads and configures a new pac instance.  That instance starts from
# the last good script of the same URL: curl still goes through squid
# (without it, every connection would fail until a fetch succeeds), and
# the failed refresh is logged with the time of the script kept.  An
# answer_cache out of range is refused.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/pac_lib.sh
. "$(dirname "$0")/pac_lib.sh"
need_duktape
# shellcheck source=tests/integration/proxies.sh
. "$(dirname "$0")/proxies.sh"
# shellcheck source=tests/integration/serve.sh
. "$(dirname "$0")/serve.sh"

start_origin origin
start_squid squid
SQ=$SQUID_PORT

WWW=$TMP/www
mkdir -p "$WWW"
chmod 0755 "$WWW"
cat >"$WWW/proxy.pac" <<PAC
function FindProxyForURL(url, host) {
  if (host == "localhost") return "PROXY 127.0.0.1:$SQ";
  return "DIRECT";
}
PAC
HTTP=$(free_port)
start_bg http "$PYTHON" -m http.server "$HTTP" --bind 127.0.0.1 \
	--directory "$WWW"
HTTP_PID=$BG_PID
wait_port "$HTTP"

CONF=$TMP/conf
serve_conf "$CONF"
printf '%s\n' "[select auto]" "module = pac" \
	"url = http://127.0.0.1:$HTTP/proxy.pac" "refresh = 3" \
	"[route all]" "match = *" "select = auto" |
	write_conf "$CONF" 50-pac.conf
start_serve serve "$CONF" -v

# fetch TEST: curl through serve to the origin, and squid carried it.
fetch() {
	squid_log_mark squid
	expect_exit 0 "$1: curl through serve exits 0" -- curl -sS \
		--max-time 15 -p -x "http://127.0.0.1:$SERVE_PORT" \
		"http://localhost:$ORIGIN_PORT/"
	expect_squid_log squid "CONNECT localhost:$ORIGIN_PORT" \
		"$1: squid carried it (the PAC's answer)"
}
fetch "before the reload"
fetch "again, before the reload"
expect_eq "$(grep -c "running FindProxyForURL for localhost" "$TMP/serve.log")" 1 \
	"answer cache: two connections to one host, the script ran once"
expect_eq "$(grep -c "PAC answer for localhost from the cache" "$TMP/serve.log")" 1 \
	"answer cache: the second answer came from the cache"

stop_pid "$HTTP_PID"
sleep 3.2
RELOADS=$(grep -c "reloaded" "$TMP/serve.log")
printf '# changed to force a reload\n' | write_conf "$CONF" 60-unrelated.conf
for ((i = 0; i < 50; i++)); do
	[ "$(grep -c "reloaded" "$TMP/serve.log")" -gt "$RELOADS" ] && break
	sleep 0.1
done
expect_eq "$(grep -c "reloaded" "$TMP/serve.log")" "$((RELOADS + 1))" \
	"the unrelated change reloaded the configuration"

fetch "after the reload, script server down"
expect_grep "PAC script from http://127.0.0.1:$HTTP/proxy.pac: .*; keeping the last good script, from [0-9-]+ [0-9:]+ UTC" \
	"$TMP/serve.log" "the failed refresh names the time of the script kept"
stop_serve serve "serve"

# answer_cache out of range: a configuration error naming the key.
BAD=$TMP/bad
make_conf "$BAD"
printf '%s\n' "[select auto]" "module = pac" "file = $WWW/proxy.pac" \
	"answer_cache = 4000" "[route all]" "match = *" "select = auto" |
	write_conf "$BAD" 50-pac.conf
expect_exit 2 "answer_cache = 4000: exit 2" -- \
	"$PROXYSTACK" -c "$BAD" which "tcp://localhost:$ORIGIN_PORT"
expect_grep -F "[select auto] answer_cache: expected a whole number from 0 to 3600, got '4000'" \
	"$ERR" "answer_cache = 4000: the message names key and range"
