/*
 * test_pac_eval - the PAC evaluator alone: every standard function, the
 * answer parser, the WPAD candidates, and the budgets against hostile
 * scripts.
 *
 * The date functions see a fixed time (pac_limits.now) in UTC:
 * Saturday 2026-12-05 12:30:15 UTC.  Names resolve through a table of
 * the test's own (test_lookup), never the machine's resolver: the
 * answers are the same everywhere and no lookup leaves the process.
 */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "pac_eval.h"
#include "pac_fetch.h"

#define FIXED_NOW ((time_t)1796473815) /* 2026-12-05 12:30:15 UTC, Sat */

static struct pac_limits limits = {
	.memory_bytes = 8u << 20, .time_ms = 3000, .now = FIXED_NOW,
};

/*
 * The names the scripts may resolve; any other name does not exist.  IP
 * literals are parsed, as getaddrinfo does without asking anyone.
 */
static int test_lookup(const char *node, const char *service,
		       const struct addrinfo *hints, struct addrinfo **res)
{
	static const char *const table[][2] = {
		{ "localhost", "127.0.0.1" },
		{ "pac-test.internal", "192.0.2.7" },
		{ "six.pac-test.internal", "2001:db8::7" },
	};
	struct addrinfo numeric = *hints;

	numeric.ai_flags |= AI_NUMERICHOST;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(node, table[i][0]))
			node = table[i][1];
	return getaddrinfo(node, service, &numeric, res) ? EAI_NONAME : 0;
}

/* FindProxyForURL returns String(expr); the result, or "ERR: why". */
static char *run_expr(const char *expr)
{
	static char out[PAC_ANSWER_MAX + 64];
	char script[2048], why[300], *answer = NULL;

	snprintf(script, sizeof(script), "function FindProxyForURL(url, host)"
		 " { return String(%s); }", expr);
	if (pac_eval_run(script, strlen(script), "http://www.example.com/",
			 "www.example.com", &limits, &answer, why,
			 sizeof(why)) < 0) {
		snprintf(out, sizeof(out), "ERR: %s", why);
		return out;
	}
	snprintf(out, sizeof(out), "%s", answer);
	free(answer);
	return out;
}

#define EXPR(expr, want) CHECK_STR(run_expr(expr), want)

static void test_host_functions(void)
{
	EXPR("isPlainHostName('www')", "true");
	EXPR("isPlainHostName('www.example.com')", "false");
	EXPR("dnsDomainIs('www.example.com', '.example.com')", "true");
	EXPR("dnsDomainIs('www', '.example.com')", "false");
	EXPR("dnsDomainIs('www.example.org', '.example.com')", "false");
	EXPR("localHostOrDomainIs('www.example.com', 'www.example.com')",
	     "true");
	EXPR("localHostOrDomainIs('www', 'www.example.com')", "true");
	EXPR("localHostOrDomainIs('www.example.org', 'www.example.com')",
	     "false");
	EXPR("localHostOrDomainIs('home.example.com', 'www.example.com')",
	     "false");
	EXPR("dnsDomainLevels('www')", "0");
	EXPR("dnsDomainLevels('www.example.com')", "2");
	EXPR("shExpMatch('http://home.example.com/people/x.html',"
	     " '*/people/*')", "true");
	EXPR("shExpMatch('www.example.com', '*.example.?om')", "true");
	EXPR("shExpMatch('www.example.com', '*.example.org')", "false");
	EXPR("shExpMatch('a.b', 'a?b')", "true");
	EXPR("shExpMatch('aXb', 'a.b')", "false");
	EXPR("shExpMatch('', '*')", "true");
	EXPR("getClientVersion()", "1.0");
}

static void test_dns_functions(void)
{
	EXPR("dnsResolve('localhost')", "127.0.0.1");
	EXPR("dnsResolve('127.0.0.7')", "127.0.0.7");
	EXPR("dnsResolve('no-such-host.invalid')", "null");
	/* Known only to test_lookup: the functions use the one injected. */
	EXPR("dnsResolve('pac-test.internal')", "192.0.2.7");
	EXPR("dnsResolve('six.pac-test.internal')", "null");
	EXPR("dnsResolveEx('six.pac-test.internal')", "2001:db8::7");
	EXPR("isInNet('pac-test.internal', '192.0.2.0', '255.255.255.0')",
	     "true");
	EXPR("isResolvable('localhost')", "true");
	EXPR("isResolvable('no-such-host.invalid')", "false");
	EXPR("isResolvableEx('localhost')", "true");
	EXPR("isResolvableEx('no-such-host.invalid')", "false");
	EXPR("dnsResolveEx('::1')", "::1");
	EXPR("dnsResolveEx('no-such-host.invalid')", "");
	EXPR("isInNet('localhost', '127.0.0.0', '255.0.0.0')", "true");
	EXPR("isInNet('10.1.2.3', '10.1.0.0', '255.255.0.0')", "true");
	EXPR("isInNet('10.2.2.3', '10.1.0.0', '255.255.0.0')", "false");
	EXPR("isInNet('no-such-host.invalid', '0.0.0.0', '0.0.0.0')",
	     "false");
	EXPR("isInNet('10.1.2.3', 'bad', '255.0.0.0')", "false");
	EXPR("isInNetEx('10.1.2.3', '10.0.0.0/8')", "true");
	EXPR("isInNetEx('11.1.2.3', '10.0.0.0/8')", "false");
	EXPR("isInNetEx('2001:db8::5', '2001:db8::/32')", "true");
	EXPR("isInNetEx('2001:db9::5', '2001:db8::/32')", "false");
	EXPR("isInNetEx('10.1.2.3', '2001:db8::/32')", "false");
	EXPR("isInNetEx('10.1.2.3', '10.0.0.0/33')", "false");
	EXPR("sortIpAddressList('10.2.0.1;::1;10.1.0.1;2001:db8::1')",
	     "::1;2001:db8::1;10.1.0.1;10.2.0.1");
	EXPR("sortIpAddressList('10.2.0.1;x')", "false");
	EXPR("/^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$/.test(myIpAddress())",
	     "true");
	EXPR("typeof myIpAddressEx()", "string");
}

/* Saturday 2026-12-05 12:30:15 UTC. */
static void test_date_functions(void)
{
	EXPR("weekdayRange('SAT', 'GMT')", "true");
	EXPR("weekdayRange('MON', 'FRI', 'GMT')", "false");
	EXPR("weekdayRange('FRI', 'MON', 'GMT')", "true");
	EXPR("weekdayRange('sat', 'GMT')", "false");
	EXPR("weekdayRange()", "false");
	EXPR("dateRange(5, 'GMT')", "true");
	EXPR("dateRange('DEC', 'GMT')", "true");
	EXPR("dateRange(2026, 'GMT')", "true");
	EXPR("dateRange(2025, 'GMT')", "false");
	EXPR("dateRange(1, 15, 'GMT')", "true");
	EXPR("dateRange(6, 15, 'GMT')", "false");
	EXPR("dateRange('NOV', 'JAN', 'GMT')", "true");
	EXPR("dateRange('JAN', 'NOV', 'GMT')", "false");
	EXPR("dateRange(1, 'DEC', 31, 'DEC', 'GMT')", "true");
	EXPR("dateRange('DEC', 2026, 'JAN', 2027, 'GMT')", "true");
	EXPR("dateRange(1, 'DEC', 2025, 4, 'DEC', 2026, 'GMT')", "false");
	EXPR("dateRange('XYZ', 'GMT')", "false");
	EXPR("timeRange(12, 'GMT')", "true");
	EXPR("timeRange(9, 17, 'GMT')", "true");
	EXPR("timeRange(13, 17, 'GMT')", "false");
	EXPR("timeRange(22, 13, 'GMT')", "true");
	EXPR("timeRange(12, 30, 12, 31, 'GMT')", "true");
	EXPR("timeRange(12, 31, 13, 0, 'GMT')", "false");
	EXPR("timeRange(12, 30, 15, 12, 30, 15, 'GMT')", "true");
	EXPR("timeRange(12, 30, 16, 12, 30, 20, 'GMT')", "false");
	EXPR("timeRange(1, 2, 3)", "false");
}

static void check_answer(const char *text, size_t want_n,
			 const char *want_urls)
{
	struct pac_alternative alts[PAC_MAX_ALTERNATIVES];
	char why[300], urls[1024] = "", one[300];
	size_t n;
	int rc = pac_parse_answer(text, alts, PAC_MAX_ALTERNATIVES, &n, why,
				  sizeof(why));

	CHECK_MSG(rc == 0, "answer '%s' parses (%s)", text,
		  rc ? why : "ok");
	if (rc)
		return;
	for (size_t i = 0; i < n; i++) {
		CHECK(pac_alternative_url(&alts[i], one, sizeof(one)) > 0);
		if (i)
			strcat(urls, " ");
		strcat(urls, one);
	}
	CHECK_INT(n, want_n);
	CHECK_STR(urls, want_urls);
}

static void check_bad_answer(const char *text, const char *want_why)
{
	struct pac_alternative alts[PAC_MAX_ALTERNATIVES];
	char why[300] = "";
	size_t n;

	CHECK_MSG(pac_parse_answer(text, alts, PAC_MAX_ALTERNATIVES, &n, why,
				   sizeof(why)) < 0,
		  "answer '%s' is refused", text);
	CHECK_MSG(strstr(why, want_why) != NULL, "why '%s' has '%s'", why,
		  want_why);
}

static void test_answers(void)
{
	char many[2048] = "";

	check_answer("PROXY a:1; HTTPS b:2; SOCKS5 c:3; SOCKS d:4; DIRECT", 5,
		     "http://a:1 https://b:2 socks5h://c:3 socks4a://d:4"
		     " DIRECT");
	check_answer("DIRECT", 1, "DIRECT");
	check_answer("  proxy  squid.corp:3128 ;;direct;", 2,
		     "http://squid.corp:3128 DIRECT");
	check_answer("PROXY squid", 1, "http://squid:80");
	check_answer("HTTPS [2001:db8::1]:8443; SOCKS4 [::1]", 2,
		     "https://[2001:db8::1]:8443 socks4a://[::1]:1080");
	check_answer("HTTP 10.0.0.1:8080", 1, "http://10.0.0.1:8080");
	check_bad_answer("", "empty");
	check_bad_answer(" ; ;", "empty");
	check_bad_answer("PROXY", "entry 1");
	check_bad_answer("DIRECT; FTP a:1", "entry 2");
	check_bad_answer("PROXY a:0", "entry 1");
	check_bad_answer("PROXY a:65536", "entry 1");
	check_bad_answer("PROXY a:1x", "entry 1");
	check_bad_answer("PROXY a b:1", "entry 1");
	check_bad_answer("PROXY a\001b:1", "entry 1");
	check_bad_answer("PROXY a/b:1", "entry 1");
	check_bad_answer("PROXY [::1", "entry 1");
	check_bad_answer("PROXY [::1]x", "entry 1");
	check_bad_answer("DIRECT now", "entry 1");
	for (int i = 0; i < PAC_MAX_ALTERNATIVES + 1; i++)
		strcat(many, "DIRECT;");
	check_bad_answer(many, "more than 16");
}

static void check_script_fails(const char *name, const char *script,
			       const char *want_why, long max_ms)
{
	struct timespec t0, t1;
	char why[300] = "", *answer = NULL;
	long ms;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = pac_eval_run(script, strlen(script), "http://x/", "x", &limits,
			  &answer, why, sizeof(why));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK_MSG(rc < 0 && answer == NULL, "%s: refused", name);
	CHECK_MSG(strstr(why, want_why) != NULL, "%s: why '%s' has '%s'",
		  name, why, want_why);
	CHECK_MSG(ms <= max_ms, "%s: over in %ld ms (at most %ld)", name, ms,
		  max_ms);
	free(answer);
}

static void test_hostile_scripts(void)
{
	limits.time_ms = 500;
	check_script_fails("endless loop", "function FindProxyForURL(u, h)"
			   " { while (1) {} }", "longer than its budget of"
			   " 500 ms", 2000);
	check_script_fails("endless loop at load", "for (;;) {}",
			   "longer than its budget", 2000);
	limits.time_ms = 10000;
	check_script_fails("growing string", "function FindProxyForURL(u, h)"
			   " { var s = 'x'; while (1) { s = s + s; } }",
			   "more memory than its budget", 10000);
	check_script_fails("growing array", "var a = []; while (1)"
			   " a.push({ x: a.length });",
			   "more memory than its budget", 10000);
	limits.time_ms = 3000;
	check_script_fails("syntax error", "function FindProxyForURL(u, h) {",
			   "does not compile", 3000);
	check_script_fails("no function", "var x = 1;",
			   "defines no function FindProxyForURL", 3000);
	check_script_fails("throws", "function FindProxyForURL(u, h)"
			   " { throw new Error('boom\\nX'); }",
			   "FindProxyForURL failed: Error: boom X", 3000);
	check_script_fails("not a string", "function FindProxyForURL(u, h)"
			   " { return 42; }", "other than a string", 3000);
	check_script_fails("huge answer", "function FindProxyForURL(u, h)"
			   " { return new Array(5000).join('D'); }",
			   "longer than 4096", 3000);
	EXPR("typeof require + ' ' + typeof print + ' ' + typeof alert",
	     "undefined undefined function");
}

static void check_wpad(const char *conf, const char *want)
{
	char *cands[8], got[1024] = "";
	size_t n = pac_wpad_candidates(conf, cands, 8);

	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, cands[i]);
		free(cands[i]);
	}
	CHECK_STR(got, want);
}

static void test_wpad(void)
{
	check_wpad("nameserver 10.0.0.1\nsearch a.corp.example.com"
		   " corp.example.com\n",
		   "http://wpad.a.corp.example.com/wpad.dat"
		   " http://wpad.corp.example.com/wpad.dat"
		   " http://wpad.example.com/wpad.dat");
	check_wpad("domain old.example\nsearch new.example.\n",
		   "http://wpad.new.example/wpad.dat");
	check_wpad("search com\n", "");
	check_wpad("nameserver 10.0.0.1\n", "");
	check_wpad("search bad/name.example ok.example\n",
		   "http://wpad.ok.example/wpad.dat");
}

int main(void)
{
	/* The date functions' local time: UTC, so the cases hold anywhere. */
	setenv("TZ", "UTC", 1);
	tzset();
	pac_eval_set_lookup(test_lookup);
	if (!pac_eval_available()) {
		CHECK_STR(run_expr("1"), "ERR: this build of proxystack has no"
			  " JavaScript engine (it was configured without"
			  " duktape)");
		return check_done();
	}
	test_host_functions();
	test_dns_functions();
	test_date_functions();
	test_answers();
	test_wpad();
	test_hostile_scripts();
	return check_done();
}
