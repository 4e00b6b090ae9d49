#!/bin/bash
# t_pac_pacparser.sh - our PAC evaluator against pacparser
# (python3-pacparser), on a table of scripts x URLs.
#
# Each script returns what the standard functions say about the host, so
# one answer compares many calls.  Every difference is listed (a "#"
# line); a difference is accepted only when it is one of those
# proxystack.conf(5) documents under PAC (KNOWN below); any other fails.
# Time-dependent calls use ranges whose answer does not depend on the
# day, except the wrapping ones, which are documented differences.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/pac_lib.sh
. "$(dirname "$0")/pac_lib.sh"
need_duktape

"$PYTHON" -c 'import pacparser' 2>/dev/null ||
	bail_out "pacparser" "python3-pacparser is not installed"
CLI=$PS_BUILD/tests/pac_eval_cli

S=$TMP/scripts
mkdir -p "$S"
cat >"$S/hosts.pac" <<'EOF'
function FindProxyForURL(url, host) {
  return [isPlainHostName(host), dnsDomainIs(host, ".example.com"),
    dnsDomainIs(host, "example.com"),
    localHostOrDomainIs(host, "www.example.com"), dnsDomainLevels(host),
    shExpMatch(host, "*.example.*"), shExpMatch(url, "http://*"),
    shExpMatch(host, "?ww*")].join(" ");
}
EOF
cat >"$S/dns.pac" <<'EOF'
function FindProxyForURL(url, host) {
  return [dnsResolve(host), isResolvable(host),
    isInNet(host, "127.0.0.0", "255.0.0.0"),
    isInNet(host, "10.0.0.0", "255.0.0.0"),
    isInNet("10.1.2.3", "10.1.0.0", "255.255.0.0"),
    typeof myIpAddress()].join(" ");
}
EOF
cat >"$S/ex.pac" <<'EOF'
function FindProxyForURL(url, host) {
  return [dnsResolveEx(host), typeof dnsResolveEx(host),
    isInNetEx("10.1.2.3", "10.0.0.0/8"), isInNetEx("10.1.2.3", "11.0.0.0/8"),
    isInNetEx("2001:db8::1", "2001:db8::/32"),
    typeof myIpAddressEx()].join(" ");
}
EOF
# pacparser 1.3.6 has no sortIpAddressList and no getClientVersion:
# test_pac_eval checks ours.
cat >"$S/dates.pac" <<'EOF'
function FindProxyForURL(url, host) {
  return [weekdayRange("SUN", "SAT"), weekdayRange("SUN", "SAT", "GMT"),
    timeRange(0, 23), timeRange(0, 23, "GMT"),
    timeRange(0, 0, 23, 59), timeRange(0, 0, 0, 23, 59, 59),
    dateRange("JAN", "DEC"), dateRange(1, 31), dateRange(1900, 2999),
    dateRange("XYZ")].join(" ");
}
EOF
cat >"$S/routing.pac" <<'EOF'
function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || dnsDomainIs(host, ".internal.example"))
    return "DIRECT";
  if (isInNet(dnsResolve(host), "127.0.0.0", "255.0.0.0"))
    return "PROXY loopback.example:3128";
  if (shExpMatch(url, "https://*")) return "HTTPS tls.example:443; DIRECT";
  if (url.substring(0, 5) == "ws://") return "SOCKS5 socks.example:1080";
  return "PROXY a.example:3128; PROXY b.example:3128";
}
EOF
cat >"$S/throws.pac" <<'EOF'
function FindProxyForURL(url, host) {
  if (host == "throw.example") throw "no";
  if (host == "undefined.example") return undefinedName;
  return "DIRECT";
}
EOF
# Documented differences (proxystack.conf(5), PAC).
cat >"$S/regex.pac" <<'EOF'
function FindProxyForURL(url, host) {
  return [shExpMatch(host, "[w]ww.*"), shExpMatch("a+b", "a+b")].join(" ");
}
EOF
cat >"$S/wrap.pac" <<'EOF'
function FindProxyForURL(url, host) {
  return [timeRange(23, 22), dateRange("DEC", "NOV")].join(" ");
}
EOF
# pacparser's isResolvableEx compares dnsResolveEx (which gives "" for a
# name that does not resolve) with null, so it says true there.
cat >"$S/resolvable_ex.pac" <<'EOF'
function FindProxyForURL(url, host) {
  return String(isResolvableEx(host));
}
EOF
KNOWN="regex.pac resolvable_ex.pac wrap.pac"

cat >"$TMP/urls" <<'EOF'
http://www/ www
http://www.example.com/index.html www.example.com
https://www.example.com/ www.example.com
http://home.example.com:8080/a home.example.com
http://localhost/ localhost
http://127.0.0.1:3128/ 127.0.0.1
ws://a.b.c.d/x a.b.c.d
http://intranet.internal.example/ intranet.internal.example
http://no-such-host.invalid/ no-such-host.invalid
http://throw.example/ throw.example
http://undefined.example/ undefined.example
EOF

cat >"$TMP/pacparser_answers.py" <<'EOF'
import sys
import pacparser

# The Ex functions are Microsoft's extensions: off by default there.
pacparser.enable_microsoft_extensions()
pacparser.init()
pacparser.parse_pac_file(sys.argv[1])
for line in sys.stdin:
    parts = line.split()
    if len(parts) != 2:
        continue
    try:
        print(pacparser.find_proxy(parts[0], parts[1]))
    except Exception:
        print("ERROR")
    sys.stdout.flush()
pacparser.cleanup()
EOF

# Both evaluators resolve names: in a mount namespace of their own, with
# a hosts file naming the test hosts on loopback and a resolv.conf that
# points at 127.0.0.1 (where no server listens), so that no lookup leaves
# the machine and every answer is the same from run to run.
printf '%s\n' "127.0.0.1 localhost" "127.0.0.2 www.example.com" \
	"127.0.0.3 home.example.com" "127.0.0.4 intranet.internal.example" \
	>"$TMP/hosts"
printf '%s\n' "nameserver 127.0.0.1" "options timeout:1 attempts:1" \
	>"$TMP/resolv.conf"
LOCAL_DNS=(unshare -m /bin/sh -c 'mount --bind "$0" /etc/hosts &&
	mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
	"$TMP/hosts" "$TMP/resolv.conf")
"${LOCAL_DNS[@]}" true ||
	bail_out "pacparser" "cannot make a mount namespace (unshare -m)"

total=0
for script in "$S"/*.pac; do
	name=$(basename "$script")
	"${LOCAL_DNS[@]}" "$CLI" "$script" <"$TMP/urls" >"$TMP/ours.$name" \
		2>"$TMP/ours.err" ||
		fail "$name: pac_eval_cli ran" "$(cat "$TMP/ours.err")"
	"${LOCAL_DNS[@]}" "$PYTHON" "$TMP/pacparser_answers.py" "$script" \
		<"$TMP/urls" >"$TMP/theirs.$name" 2>/dev/null ||
		fail "$name: pacparser ran"
	diffs=0
	while IFS=$'\t' read -r url ours theirs; do
		[ "$ours" = "$theirs" ] && continue
		diffs=$((diffs + 1))
		printf "difference: %s %s: ours '%s', pacparser '%s'\n" \
			"$name" "$url" "$ours" "$theirs" | note
	done < <(paste <(cut -d' ' -f1 "$TMP/urls") "$TMP/ours.$name" \
		"$TMP/theirs.$name")
	total=$((total + diffs))
	case " $KNOWN " in
	*" $name "*)
		expect_eq "$([ "$diffs" -gt 0 ] && echo some || echo none)" \
			some "$name: the documented difference shows" ;;
	*)
		expect_eq "$diffs" 0 "$name: the same answers as pacparser" ;;
	esac
	expect_eq "$(wc -l <"$TMP/ours.$name")" "$(wc -l <"$TMP/urls")" \
		"$name: one answer per URL"
done
echo "differences in all: $total (documented ones: $KNOWN)" | note
