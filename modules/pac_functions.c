/*
 * pac_functions.c - the standard PAC functions (Netscape's set and
 * Microsoft's IPv6 "Ex" extensions) for a duktape heap.
 *
 * Those that touch the network or addresses are native C; the pure
 * string and date logic is JavaScript defined once per heap.  The date
 * functions follow the Netscape text and, where it is silent, the
 * behaviour browsers share; docs/proxystack.conf.5 (PAC) lists where
 * they differ from pacparser.
 */
#ifdef HAVE_DUKTAPE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pac_functions.h"

/* ------------------------------------------------------------------ */
/* addresses                                                           */
/* ------------------------------------------------------------------ */

struct addr_list {
	char text[1024];          /* "a;b;c" */
	size_t len;
};

static void addr_list_add(struct addr_list *l, const char *a)
{
	size_t n = strlen(a);
	const char *p = l->text;

	/* No duplicates: getaddrinfo repeats an address per socket type. */
	while (p && *p) {
		size_t seg = strcspn(p, ";");

		if (seg == n && !strncmp(p, a, n))
			return;
		p += seg + (p[seg] == ';');
	}
	if (l->len + n + 2 > sizeof(l->text))
		return;
	if (l->len)
		l->text[l->len++] = ';';
	memcpy(l->text + l->len, a, n + 1);
	l->len += n;
}

static int sockaddr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
	const void *raw = sa->sa_family == AF_INET
				  ? (const void *)&((const struct sockaddr_in *)
						    sa)->sin_addr
				  : (const void *)&((const struct sockaddr_in6 *)
						    sa)->sin6_addr;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return -1;
	return inet_ntop(sa->sa_family, raw, out, (socklen_t)outsz) ? 0 : -1;
}

/* Every name lookup of a script goes through this (tests replace it). */
static pac_lookup_fn pac_lookup = getaddrinfo;

void pac_functions_set_lookup(pac_lookup_fn lookup)
{
	pac_lookup = lookup ? lookup : getaddrinfo;
}

/* Addresses of 'host' of 'family' (AF_UNSPEC: all), in resolver order. */
static void resolve_into(const char *host, int family, int first_only,
			 struct addr_list *out)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char text[INET6_ADDRSTRLEN];

	out->len = 0;
	out->text[0] = '\0';
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	if (!host[0] || pac_lookup(host, NULL, &hints, &res) != 0)
		return;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (sockaddr_text(ai->ai_addr, text, sizeof(text)) < 0)
			continue;
		addr_list_add(out, text);
		if (first_only)
			break;
	}
	freeaddrinfo(res);
}

/*
 * The local address the kernel would use toward 'probe' (a documentation
 * address: connect() on a UDP socket sends nothing, it only routes).
 */
static int outbound_address(int family, const char *probe, char *out,
			    size_t outsz)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(9);
		inet_pton(AF_INET, probe, &sin->sin_addr);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(9);
		inet_pton(AF_INET6, probe, &sin6->sin6_addr);
		sl = sizeof(*sin6);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
		sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			rc = sockaddr_text((struct sockaddr *)&ss, out, outsz);
	}
	close(fd);
	return rc;
}

/* dnsResolve(host): the first IPv4 address, or null. */
static duk_ret_t pac_dns_resolve(duk_context *ctx)
{
	struct addr_list l;

	resolve_into(duk_safe_to_string(ctx, 0), AF_INET, 1, &l);
	if (l.len)
		duk_push_string(ctx, l.text);
	else
		duk_push_null(ctx);
	return 1;
}

/* dnsResolveEx(host): every address, ";"-separated, or "". */
static duk_ret_t pac_dns_resolve_ex(duk_context *ctx)
{
	struct addr_list l;

	resolve_into(duk_safe_to_string(ctx, 0), AF_UNSPEC, 0, &l);
	duk_push_string(ctx, l.text);
	return 1;
}

/* myIpAddress(): the outbound IPv4 address, else 127.0.0.1. */
static duk_ret_t pac_my_ip(duk_context *ctx)
{
	char text[INET6_ADDRSTRLEN];

	if (outbound_address(AF_INET, "198.51.100.1", text, sizeof(text)))
		snprintf(text, sizeof(text), "127.0.0.1");
	duk_push_string(ctx, text);
	return 1;
}

/* myIpAddressEx(): the outbound IPv6 and IPv4 addresses, or "". */
static duk_ret_t pac_my_ip_ex(duk_context *ctx)
{
	struct addr_list l = { .len = 0 };
	char text[INET6_ADDRSTRLEN];

	l.text[0] = '\0';
	if (!outbound_address(AF_INET6, "2001:db8::1", text, sizeof(text)))
		addr_list_add(&l, text);
	if (!outbound_address(AF_INET, "198.51.100.1", text, sizeof(text)))
		addr_list_add(&l, text);
	duk_push_string(ctx, l.text);
	return 1;
}

/* ------------------------------------------------------------------ */
/* networks                                                            */
/* ------------------------------------------------------------------ */

/* isInNet(host, pattern, mask): IPv4 only; a name is resolved first. */
static duk_ret_t pac_is_in_net(duk_context *ctx)
{
	const char *host = duk_safe_to_string(ctx, 0);
	struct in_addr a, p, m;
	struct addr_list l;

	if (inet_pton(AF_INET, duk_safe_to_string(ctx, 1), &p) != 1 ||
	    inet_pton(AF_INET, duk_safe_to_string(ctx, 2), &m) != 1) {
		duk_push_false(ctx);
		return 1;
	}
	if (inet_pton(AF_INET, host, &a) != 1) {
		resolve_into(host, AF_INET, 1, &l);
		if (!l.len || inet_pton(AF_INET, l.text, &a) != 1) {
			duk_push_false(ctx);
			return 1;
		}
	}
	duk_push_boolean(ctx, (a.s_addr & m.s_addr) == (p.s_addr & m.s_addr));
	return 1;
}

struct ip_any {
	int family;
	unsigned char b[16];
};

static int ip_parse(const char *text, struct ip_any *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, text, ip->b) == 1)
		return ip->family = AF_INET, 0;
	if (inet_pton(AF_INET6, text, ip->b) == 1)
		return ip->family = AF_INET6, 0;
	return -1;
}

/* isInNetEx(ip, "prefix/len"): an address literal in a v4 or v6 block. */
static duk_ret_t pac_is_in_net_ex(duk_context *ctx)
{
	char prefix[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct ip_any a, p;
	long bits;
	int ok = 0;

	snprintf(prefix, sizeof(prefix), "%s", duk_safe_to_string(ctx, 1));
	slash = strchr(prefix, '/');
	if (slash) {
		*slash = '\0';
		bits = strtol(slash + 1, &end, 10);
		ok = end != slash + 1 && !*end &&
		     !ip_parse(duk_safe_to_string(ctx, 0), &a) &&
		     !ip_parse(prefix, &p) && a.family == p.family &&
		     bits >= 0 && bits <= (a.family == AF_INET ? 32 : 128);
	}
	for (long i = 0; ok && i < bits; i++) {
		unsigned bit = 0x80u >> (i % 8);

		ok = (a.b[i / 8] & bit) == (p.b[i / 8] & bit);
	}
	duk_push_boolean(ctx, ok);
	return 1;
}

/* IPv6 first, then IPv4, each ascending. */
static int ip_compare(const void *x, const void *y)
{
	const struct ip_any *a = x, *b = y;

	if (a->family != b->family)
		return a->family == AF_INET6 ? -1 : 1;
	return memcmp(a->b, b->b, sizeof(a->b));
}

/* sortIpAddressList("a;b"): sorted, or false for a bad list. */
static duk_ret_t pac_sort_ip_list(duk_context *ctx)
{
	struct ip_any ips[64];
	struct addr_list out = { .len = 0 };
	char copy[1024], *save = NULL, *tok, text[INET6_ADDRSTRLEN];
	size_t n = 0;

	out.text[0] = '\0';
	snprintf(copy, sizeof(copy), "%s", duk_safe_to_string(ctx, 0));
	for (tok = strtok_r(copy, ";", &save); tok;
	     tok = strtok_r(NULL, ";", &save)) {
		tok += strspn(tok, " \t");
		tok[strcspn(tok, " \t")] = '\0';
		if (n == 64 || ip_parse(tok, &ips[n])) {
			duk_push_false(ctx);
			return 1;
		}
		n++;
	}
	if (!n) {
		duk_push_false(ctx);
		return 1;
	}
	qsort(ips, n, sizeof(ips[0]), ip_compare);
	for (size_t i = 0; i < n; i++)
		if (inet_ntop(ips[i].family, ips[i].b, text, sizeof(text)))
			addr_list_add(&out, text);
	duk_push_string(ctx, out.text);
	return 1;
}

/* ------------------------------------------------------------------ */
/* strings                                                             */
/* ------------------------------------------------------------------ */

/*
 * Shell-style match: '*' any run, '?' one character, everything else
 * literal and case-sensitive.  Iterative, remembering only the last '*',
 * so a hostile pattern costs O(len(str) * len(pattern)) at worst.
 */
static int glob_match(const char *s, const char *p)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p == '?' || *p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static duk_ret_t pac_sh_exp_match(duk_context *ctx)
{
	duk_push_boolean(ctx, glob_match(duk_safe_to_string(ctx, 0),
					 duk_safe_to_string(ctx, 1)));
	return 1;
}

/* alert(): scripts call it to debug; the sandbox has no output. */
static duk_ret_t pac_alert(duk_context *ctx)
{
	(void)ctx;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the JavaScript half                                                 */
/* ------------------------------------------------------------------ */

/*
 * Called with the global object and the fixed time in ms (0: the real
 * clock).  Defined non-enumerable, writable: a script may redefine a
 * function, as browsers allow.
 */
static const char pac_prelude[] =
"(function (g, fixedMs) {\n"
"  function now() { return fixedMs ? new Date(fixedMs) : new Date(); }\n"
"  function def(name, fn) {\n"
"    Object.defineProperty(g, name, { value: fn, writable: true,\n"
"      configurable: true, enumerable: false });\n"
"  }\n"
"  function has(table, key) {\n"
"    return Object.prototype.hasOwnProperty.call(table, String(key));\n"
"  }\n"
"  var days = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5,\n"
"    SAT: 6 };\n"
"  var months = { JAN: 0, FEB: 1, MAR: 2, APR: 3, MAY: 4, JUN: 5,\n"
"    JUL: 6, AUG: 7, SEP: 8, OCT: 9, NOV: 10, DEC: 11 };\n"
"  /* Arguments without a final \"GMT\", and whether it was there. */\n"
"  function split(args) {\n"
"    var a = Array.prototype.slice.call(args);\n"
"    var gmt = a.length > 0 && a[a.length - 1] === 'GMT';\n"
"    if (gmt) a.pop();\n"
"    return { a: a, gmt: gmt };\n"
"  }\n"
"  function within(cur, start, end) {\n"
"    return start <= end ? start <= cur && cur <= end\n"
"                        : cur >= start || cur <= end;\n"
"  }\n"
"  def('isPlainHostName', function (host) {\n"
"    return String(host).indexOf('.') < 0;\n"
"  });\n"
"  def('dnsDomainIs', function (host, domain) {\n"
"    host = String(host); domain = String(domain);\n"
"    return host.length >= domain.length &&\n"
"      host.substring(host.length - domain.length) === domain;\n"
"  });\n"
"  def('localHostOrDomainIs', function (host, hostdom) {\n"
"    host = String(host); hostdom = String(hostdom);\n"
"    return host === hostdom || hostdom.lastIndexOf(host + '.', 0) === 0;\n"
"  });\n"
"  def('isResolvable', function (host) {\n"
"    return dnsResolve(host) !== null;\n"
"  });\n"
"  def('isResolvableEx', function (host) {\n"
"    return dnsResolveEx(host) !== '';\n"
"  });\n"
"  def('dnsDomainLevels', function (host) {\n"
"    return String(host).split('.').length - 1;\n"
"  });\n"
"  def('getClientVersion', function () { return '1.0'; });\n"
"  def('weekdayRange', function () {\n"
"    var p = split(arguments), d = now();\n"
"    var today = p.gmt ? d.getUTCDay() : d.getDay();\n"
"    if (p.a.length < 1 || p.a.length > 2) return false;\n"
"    var w1 = has(days, p.a[0]) ? days[p.a[0]] : -1;\n"
"    var w2 = p.a.length < 2 ? w1 : has(days, p.a[1]) ? days[p.a[1]] : -1;\n"
"    if (w1 < 0 || w2 < 0) return false;\n"
"    return within(today, w1, w2);\n"
"  });\n"
"  /* One dateRange argument: {m}, {d} or {y}; null when it is none. */\n"
"  function dateField(v) {\n"
"    if (has(months, v)) return { m: months[v] };\n"
"    if (typeof v !== 'number' && !/^[0-9]+$/.test(String(v)))\n"
"      return null;\n"
"    var n = Number(v);\n"
"    if (n !== Math.floor(n) || n < 1) return null;\n"
"    return n < 32 ? { d: n } : { y: n };\n"
"  }\n"
"  /* A half of the arguments as y*10000+m*100+d, gaps filled. */\n"
"  function dateKey(list, cur, isEnd) {\n"
"    var f = { y: -1, m: -1, d: -1 };\n"
"    for (var i = 0; i < list.length; i++) {\n"
"      var x = dateField(list[i]);\n"
"      if (!x) return null;\n"
"      for (var k in x) { if (f[k] !== -1) return null; f[k] = x[k]; }\n"
"    }\n"
"    var dayOnly = f.d !== -1 && f.m === -1;\n"
"    if (f.y === -1) f.y = cur.y;\n"
"    if (f.m === -1) f.m = dayOnly ? cur.m : isEnd ? 11 : 0;\n"
"    if (f.d === -1) f.d = isEnd ? 31 : 1;\n"
"    return { key: f.y * 10000 + f.m * 100 + f.d, year: list.some(\n"
"      function (v) { var x = dateField(v); return x && 'y' in x; }) };\n"
"  }\n"
"  def('dateRange', function () {\n"
"    var p = split(arguments), d = now(), a = p.a;\n"
"    var cur = p.gmt\n"
"      ? { y: d.getUTCFullYear(), m: d.getUTCMonth(), d: d.getUTCDate() }\n"
"      : { y: d.getFullYear(), m: d.getMonth(), d: d.getDate() };\n"
"    var now_key = cur.y * 10000 + cur.m * 100 + cur.d;\n"
"    if (a.length === 1) {\n"
"      var x = dateField(a[0]);\n"
"      if (!x) return false;\n"
"      return 'm' in x ? x.m === cur.m : 'd' in x ? x.d === cur.d\n"
"                                              : x.y === cur.y;\n"
"    }\n"
"    if (a.length !== 2 && a.length !== 4 && a.length !== 6) return false;\n"
"    var s = dateKey(a.slice(0, a.length / 2), cur, false);\n"
"    var e = dateKey(a.slice(a.length / 2), cur, true);\n"
"    if (!s || !e) return false;\n"
"    if (s.year || e.year) return s.key <= now_key && now_key <= e.key;\n"
"    return within(now_key, s.key, e.key);\n"
"  });\n"
"  def('timeRange', function () {\n"
"    var p = split(arguments), d = now(), a = p.a, v = [];\n"
"    var h = p.gmt ? d.getUTCHours() : d.getHours();\n"
"    var cur = h * 3600 + (p.gmt ? d.getUTCMinutes() : d.getMinutes()) * 60\n"
"      + (p.gmt ? d.getUTCSeconds() : d.getSeconds());\n"
"    for (var i = 0; i < a.length; i++) {\n"
"      var n = Number(a[i]);\n"
"      if (a[i] === '' || n !== Math.floor(n) || n < 0 || n > 59) return false;\n"
"      v.push(n);\n"
"    }\n"
"    switch (v.length) {\n"
"    case 1: return h === v[0];\n"
"    case 2: return within(cur, v[0] * 3600, v[1] * 3600 + 3599);\n"
"    case 4: return within(cur, v[0] * 3600 + v[1] * 60,\n"
"                          v[2] * 3600 + v[3] * 60 + 59);\n"
"    case 6: return within(cur, v[0] * 3600 + v[1] * 60 + v[2],\n"
"                          v[3] * 3600 + v[4] * 60 + v[5]);\n"
"    default: return false;\n"
"    }\n"
"  });\n"
"})\n";

static const struct {
	const char *name;
	duk_c_function fn;
	duk_idx_t nargs;
} pac_natives[] = {
	{ "dnsResolve", pac_dns_resolve, 1 },
	{ "dnsResolveEx", pac_dns_resolve_ex, 1 },
	{ "myIpAddress", pac_my_ip, 0 },
	{ "myIpAddressEx", pac_my_ip_ex, 0 },
	{ "isInNet", pac_is_in_net, 3 },
	{ "isInNetEx", pac_is_in_net_ex, 2 },
	{ "sortIpAddressList", pac_sort_ip_list, 1 },
	{ "shExpMatch", pac_sh_exp_match, 2 },
	{ "alert", pac_alert, DUK_VARARGS },
};

int pac_functions_install(duk_context *ctx, time_t now)
{
	duk_push_global_object(ctx);
	for (size_t i = 0; i < sizeof(pac_natives) / sizeof(pac_natives[0]);
	     i++) {
		duk_push_c_function(ctx, pac_natives[i].fn,
				    pac_natives[i].nargs);
		duk_put_prop_string(ctx, -2, pac_natives[i].name);
	}
	duk_pop(ctx);
	if (duk_peval_string(ctx, pac_prelude) != 0)
		return -1;
	duk_push_global_object(ctx);
	duk_push_number(ctx, (double)now * 1000.0);
	if (duk_pcall(ctx, 2) != 0)
		return -1;
	duk_pop(ctx);
	return 0;
}
#endif /* HAVE_DUKTAPE */
