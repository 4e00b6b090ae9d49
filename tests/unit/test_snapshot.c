/*
 * test_snapshot.c - configuration loading, precedence, routes and
 * redaction, through the public API where it can say it and through the
 * snapshot where only the inside can (route actions).
 *
 * Each case writes a fresh configuration directory and sets the process
 * environment it needs; PS_TEST_MODULE_DIR is the build's modules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "confdir.h"
#include "ctx.h"
#include "route.h"

static const char *const env_vars[] = {
	"PROXYSTACK_PROXY_URL", "PROXYSTACK_PROXY_USERNAME",
	"PROXYSTACK_PROXY_PASSWORD", "PROXYSTACK_NO_PROXY",
	"PROXYSTACK_CA_FILE", "PROXYSTACK_INSECURE_TLS", "PROXYSTACK_CONF_DIR",
	"GATEWAY_CONNECT_PROXY_URL", "HTTPS_PROXY", "https_proxy",
	"HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
	"no_proxy", "REQUEST_METHOD",
};

static void clean_env(void)
{
	for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
		unsetenv(env_vars[i]);
}

/* A new directory with the module path already set, and no variables. */
static void new_confdir(void)
{
	confdir_new("snapshot");
	clean_env();
}

static ps_ctx *open_ctx_prefix(const char *prefix, ps_error *err)
{
	ps_ctx_options o;

	ps_ctx_options_init(&o);
	o.conf_dir = confdir;
	o.env_prefix = prefix;
	o.log_fn = quiet_log;
	return ps_ctx_new(&o, err);
}

static ps_ctx *open_ctx(ps_error *err)
{
	return open_ctx_prefix(NULL, err);
}

/* The `which` answer for url, or the error code name. */
static char *which(const char *url)
{
	ps_error err;
	ps_ctx *ctx = open_ctx(&err);
	char *out;

	if (!ctx)
		return strdup(ps_code_name(err.code));
	out = ps_ctx_which(ctx, url, &err);
	if (!out)
		out = strdup(ps_code_name(err.code));
	ps_ctx_free(ctx);
	return out;
}

#define CHECK_WHICH(url, want)                                            \
	do {                                                              \
		char *got_ = which(url);                                  \
		CHECK_STR(got_, want);                                    \
		free(got_);                                               \
	} while (0)

/* Expect ps_ctx_new to fail with code and a message holding 'needle'. */
static void expect_config_error(const char *what, int code,
				const char *needle)
{
	ps_error err;
	ps_ctx *ctx = open_ctx(&err);

	CHECK_MSG(!ctx && err.code == code && strstr(err.message, needle),
		  "%s: fails with %s mentioning '%s' (got %s: %s)", what,
		  ps_code_name(code), needle,
		  ctx ? "success" : ps_code_name(err.code),
		  ctx ? "" : err.message);
	ps_ctx_free(ctx);
}

/* ------------------------------------------------------------------ */

static void test_config_errors(void)
{
	char line[400];

	new_confdir();
	write_file("10-bad.conf", "[global]\nconnect_timeout = 5\n"
		   "this is not ini\n");
	expect_config_error("syntax error", PS_ERR_CONFIG, "10-bad.conf:3");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[global]\nbogus_key = 1\n");
	expect_config_error("unknown global key", PS_ERR_CONFIG,
			    "10-bad.conf:2: unknown key 'bogus_key'");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[frobnicate]\nx = 1\n");
	expect_config_error("unknown section, at its header", PS_ERR_CONFIG,
			    "10-bad.conf:1: unknown section [frobnicate]");
	remove_confdir();

	/* A section is cited at its header, not at its first key. */
	new_confdir();
	write_file("10-bad.conf", "; corp\n[transport corp]\n\n; the proxy\n"
		   "url = http://p:1\n");
	expect_config_error("no module key, at the header", PS_ERR_CONFIG,
			    "10-bad.conf:2: [transport corp] has no module");
	remove_confdir();

	/* An empty section exists: what it lacks is the error. */
	new_confdir();
	write_file("10-bad.conf", "[stack corp]\n\n[route r]\nmatch = *\n"
		   "stack = corp\n");
	expect_config_error("empty stack", PS_ERR_CONFIG,
			    "10-bad.conf:1: [stack corp] has no transport");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[stack corp]\ntrust = nothere\n");
	expect_config_error("stack naming no trust section", PS_ERR_CONFIG,
			    "10-bad.conf:2: no [trust nothere] section");
	remove_confdir();

	new_confdir();
	memset(line, 'a', sizeof(line));
	memcpy(line, "[global]\nca_file = ", 19);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	write_file("10-bad.conf", line);
	expect_config_error("over-long line", PS_ERR_CONFIG,
			    "10-bad.conf:2: line too long");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[global]\nconnect_timeout = soon\n");
	expect_config_error("bad timeout", PS_ERR_CONFIG,
			    "10-bad.conf:2: connect_timeout: bad value");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[transport corp]\nmodule = http-connect\n"
		   "url = http://proxy:3128\ncolour = blue\n");
	expect_config_error("unknown module key", PS_ERR_CONFIG,
			    "10-bad.conf:4: unknown key 'colour'");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[transport corp]\nurl = http://p:1\n");
	expect_config_error("no module key", PS_ERR_CONFIG, "has no module");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[transport corp]\nmodule = nosuchmod\n");
	expect_config_error("missing module", PS_ERR_CONFIG,
			    "10-bad.conf:2: [transport corp]: no module named"
			    " 'nosuchmod'");
	expect_config_error("missing module: the modules there are",
			    PS_ERR_CONFIG, "direct, http-connect, https-proxy");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[transport direct]\nmodule = direct\n");
	expect_config_error("reserved name", PS_ERR_CONFIG, "reserved");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[route r]\nmatch = *.example.com\n"
		   "stack = nowhere\n");
	expect_config_error("unknown stack", PS_ERR_CONFIG,
			    "10-bad.conf:3: no stack or transport named");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[route r]\nmatch = *.example.com\n"
		   "stack = direct [timeout=next bogus=die]\n");
	expect_config_error("bad bracket control", PS_ERR_CONFIG,
			    "10-bad.conf:3: bad control 'bogus=die'");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[route r]\nmatch = *.example.com\n"
		   "stack = direct maybe\n");
	expect_config_error("bad control word", PS_ERR_CONFIG,
			    "unknown control 'maybe'");
	remove_confdir();

	new_confdir();
	write_file("10-bad.conf", "[default]\nno_proxy = 10.0.0.0/99\n");
	expect_config_error("bad no_proxy", PS_ERR_CONFIG, "no_proxy");
	remove_confdir();

	/* Our own settings fail closed ... */
	new_confdir();
	setenv("PROXYSTACK_PROXY_URL", "gopher://proxy:70", 1);
	expect_config_error("bad proxy scheme in the prefixed variable",
			    PS_ERR_CONFIG, "PROXYSTACK_PROXY_URL");
	remove_confdir();
	/*
	 * ... the system's, shared with every program, do not stop the
	 * context; but a destination they would serve fails instead of
	 * going direct, even when a lower variable of the family is fine.
	 */
	new_confdir();
	setenv("HTTPS_PROXY", "gopher://proxy:70", 1);
	setenv("https_proxy", "http://fine-proxy:3128", 1);
	setenv("NO_PROXY", "192.168.*", 1);
	CHECK_WHICH("tls://example.com:443", "config");
	CHECK_WHICH("http://example.com", "direct");
	remove_confdir();
}

static void test_file_order(void)
{
	ps_error err;
	ps_ctx *ctx;
	char *dump;

	new_confdir();
	write_file("10-a.conf", "[global]\nconnect_timeout = 7\n");
	write_file("20-b.conf", "; later files override\n"
		   "[global]\nconnect_timeout = 9\n");
	write_file("README", "not a conf file [\n");
	ctx = open_ctx(&err);
	CHECK_MSG(ctx != NULL, "later file overrides: context created (%s)",
		  ctx ? "" : err.message);
	dump = ctx ? ps_ctx_dump_config(ctx, NULL, &err) : NULL;
	CHECK(dump && strstr(dump, "connect_timeout      = 9"));
	CHECK(dump && strstr(dump, "20-b.conf:3"));
	free(dump);
	ps_ctx_free(ctx);
	remove_confdir();
}

static void test_precedence(void)
{
	new_confdir();
	CHECK_WHICH("tls://example.com:443", "direct -> tls");
	CHECK_WHICH("tcp://example.com:22", "direct");

	setenv("http_proxy", "http://lower-http:1", 1);
	CHECK_WHICH("https://example.com", "direct -> http-connect("
		    "http://lower-http:1) -> tls");
	setenv("HTTP_PROXY", "http://upper-http:2", 1);
	CHECK_WHICH("https://example.com", "direct -> http-connect("
		    "http://upper-http:2) -> tls");
	setenv("https_proxy", "http://lower-https:3", 1);
	CHECK_WHICH("https://example.com", "direct -> http-connect("
		    "http://lower-https:3) -> tls");
	setenv("HTTPS_PROXY", "http://upper-https:4", 1);
	CHECK_WHICH("https://example.com", "direct -> http-connect("
		    "http://upper-https:4) -> tls");
	/* ws and http use only the HTTP family. */
	CHECK_WHICH("http://example.com", "direct -> http-connect("
		    "http://upper-http:2)");
	/* httpoxy: under CGI, HTTP_PROXY is ignored, http_proxy is not. */
	setenv("REQUEST_METHOD", "GET", 1);
	CHECK_WHICH("http://example.com", "direct -> http-connect("
		    "http://lower-http:1)");
	unsetenv("http_proxy");
	CHECK_WHICH("http://example.com", "direct");
	unsetenv("REQUEST_METHOD");

	/* [default] beats the system variables ... */
	write_file("10-default.conf", "[default]\n"
		   "proxy_url = http://alice:pw@conf-proxy:8080\n");
	CHECK_WHICH("https://example.com", "direct -> http-connect("
		    "http://conf-proxy:8080) -> tls");
	/* ... and the prefixed variable beats [default]. */
	setenv("PROXYSTACK_PROXY_URL", "https://env-proxy:8443", 1);
	CHECK_WHICH("https://example.com", "direct -> tls(env-proxy:8443) "
		    "-> https-proxy(https://env-proxy:8443) -> tls");
	setenv("PROXYSTACK_PROXY_URL", "socks5://sock:1080", 1);
	CHECK_WHICH("tls://example.com:443", "direct -> socks("
		    "socks5://sock:1080) -> tls");

	/* no_proxy: the system one applies with system proxies too. */
	unsetenv("PROXYSTACK_PROXY_URL");
	setenv("NO_PROXY", ".example.com, 10.0.0.0/8", 1);
	CHECK_WHICH("https://www.example.com", "direct -> tls");
	CHECK_WHICH("tcp://10.1.2.3:22", "direct");
	CHECK_WHICH("https://example.org", "direct -> http-connect("
		    "http://conf-proxy:8080) -> tls");
	setenv("PROXYSTACK_NO_PROXY", "example.org", 1);
	CHECK_WHICH("https://www.example.com", "direct -> http-connect("
		    "http://conf-proxy:8080) -> tls");
	CHECK_WHICH("https://example.org", "direct -> tls");
	remove_confdir();
}

static void test_custom_prefix(void)
{
	ps_error err;
	ps_ctx *ctx;
	char *out;

	new_confdir();
	setenv("GATEWAY_CONNECT_PROXY_URL", "http://gw-proxy:3128", 1);
	setenv("PROXYSTACK_PROXY_URL", "http://ignored:1", 1);
	ctx = open_ctx_prefix("GATEWAY_CONNECT_", &err);
	out = ctx ? ps_ctx_which(ctx, "tls://example.com:443", &err) : NULL;
	CHECK_STR(out, "direct -> http-connect(http://gw-proxy:3128) -> tls");
	free(out);
	ps_ctx_free(ctx);
	remove_confdir();
}

static void test_routes(void)
{
	const struct route_line *line;
	struct route_choice choice;
	struct snapshot *s;
	struct url dest;
	ps_error err;
	ps_ctx *ctx;
	char why[128];

	new_confdir();
	write_file("20-routes.conf",
		   "[transport corp]\nmodule = http-connect\n"
		   "url = http://corp-proxy:8080\n"
		   "[transport backup]\nmodule = http-connect\n"
		   "url = http://backup-proxy:3128\n"
		   "[stack corp]\ntransport = corp\n"
		   "[route control-plane]\n"
		   "match = gw.example.com:443 *.itential.io\n"
		   "stack = corp [timeout=next connect=next proxy_auth=die"
		   " default=die]\n"
		   "stack = backup sufficient\n"
		   "stack = direct requisite\n"
		   "[route internal]\nmatch = .internal.example.com\n"
		   "stack = direct\n");
	ctx = open_ctx(&err);
	CHECK_MSG(ctx != NULL, "route config loads (%s)",
		  ctx ? "" : err.message);
	if (!ctx)
		return;
	CHECK_WHICH("wss://api.itential.io/ws", "direct -> http-connect("
		    "http://corp-proxy:8080) -> tls -> websocket");
	CHECK_WHICH("tls://gw.example.com:443", "direct -> http-connect("
		    "http://corp-proxy:8080) -> tls");
	/* The port restriction: another port does not match the route. */
	CHECK_WHICH("tls://gw.example.com:8443", "direct -> tls");
	CHECK_WHICH("tcp://db.internal.example.com:5432", "direct");

	s = ctx_snapshot(ctx);
	CHECK(url_parse_dest("tls://gw.example.com:443", &dest, why,
			     sizeof(why)) == 0);
	CHECK_INT(route_choose(s, &dest, &choice, &err), PS_OK);
	CHECK_INT(choice.nlines, 3);
	if (choice.nlines == 3) {
		line = &choice.lines[0];
		CHECK_INT(route_action_for(line, PS_ERR_TIMEOUT), ACT_NEXT);
		CHECK_INT(route_action_for(line, PS_ERR_CONNECT), ACT_NEXT);
		CHECK_INT(route_action_for(line, PS_ERR_PROXY_AUTH), ACT_DIE);
		CHECK_INT(route_action_for(line, PS_ERR_TLS_VERIFY), ACT_DIE);
		line = &choice.lines[1];
		CHECK_INT(route_action_for(line, PS_ERR_PROXY_AUTH), ACT_NEXT);
		CHECK_STR(line->stack->name, "backup");
		line = &choice.lines[2];
		CHECK_INT(route_action_for(line, PS_ERR_CONNECT), ACT_DIE);
		CHECK(strstr(choice.why, "route control-plane") != NULL);
	}
	url_clear(&dest);
	snapshot_unref(s);
	ps_ctx_free(ctx);
	remove_confdir();
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_redaction(void)
{
	ps_error err;
	ps_ctx *ctx;
	char *dump;

	new_confdir();
	write_file("10-default.conf", "[default]\n"
		   "proxy_url = http://alice:Url-S3cret@proxy:3128\n"
		   "proxy_username = bob\n");
	write_file("20-corp.conf", "[transport corp]\nmodule = http-connect\n"
		   "url = http://carol:Sect-S3cret@corp:8080\n");
	setenv("PROXYSTACK_PROXY_PASSWORD", "Env-S3cret", 1);
	setenv("HTTPS_PROXY", "http://dave:Sys-S3cret@sys:1", 1);
	ctx = open_ctx(&err);
	CHECK_MSG(ctx != NULL, "redaction config loads (%s)",
		  ctx ? "" : err.message);
	dump = ctx ? ps_ctx_dump_config(ctx, "tls://example.com:443", &err)
		   : NULL;
	CHECK(dump != NULL);
	CHECK_INT(count(dump, "S3cret"), 0);
	CHECK(count(dump, "<redacted>") >= 3);
	CHECK(dump && strstr(dump, "environment PROXYSTACK_PROXY_PASSWORD"));
	CHECK(dump && strstr(dump, "10-default.conf:2"));
	CHECK(dump && strstr(dump, "chosen by: the default proxy"));
	free(dump);
	dump = ctx ? ps_ctx_which(ctx, "tls://example.com:443", &err) : NULL;
	CHECK_INT(count(dump, "S3cret") + count(dump, "alice"), 0);
	free(dump);
	/* env exports carry credentials on purpose; the URL's win. */
	dump = ctx ? ps_ctx_env_exports(ctx, "https://example.com", &err)
		   : NULL;
	CHECK(dump && strstr(dump, "export https_proxy='http://alice:"
			     "Url-S3cret@proxy:3128'"));
	free(dump);
	ps_ctx_free(ctx);
	remove_confdir();
}

/*
 * A CA file that breaks is caught by a reload too, which then keeps the
 * snapshot in use, as for any other error.
 */
static void test_reload_keeps_snapshot_on_bad_ca_file(void)
{
	ps_error err;
	ps_ctx *ctx;
	char *dump;

	new_confdir();
	write_file("10-default.conf", "[default]\n"
		   "proxy_url = http://proxy.example:3128\n");
	ctx = open_ctx(&err);
	CHECK_MSG(ctx != NULL, "reload: first config loads (%s)",
		  ctx ? "" : err.message);
	if (!ctx) {
		remove_confdir();
		return;
	}
	write_file("20-ca.conf", "[global]\nca_file = /nonexistent/ca.pem\n");
	CHECK(ps_ctx_reload(ctx, &err) == PS_ERR_CONFIG);
	CHECK_MSG(strstr(err.message, "20-ca.conf:2: ca_file: "
			 "/nonexistent/ca.pem: No such file or directory"),
		  "reload: the bad ca_file is named (%s)", err.message);
	dump = ps_ctx_which(ctx, "tcp://example.com:443", &err);
	CHECK_MSG(dump && strstr(dump, "http-connect(http://proxy.example"),
		  "reload: the old snapshot stays (%s)",
		  dump ? dump : err.message);
	ps_free(dump);
	ps_ctx_free(ctx);
	remove_confdir();
}

int main(void)
{
	test_config_errors();
	test_file_order();
	test_precedence();
	test_custom_prefix();
	test_routes();
	test_redaction();
	test_reload_keeps_snapshot_on_bad_ca_file();
	clean_env();
	return check_done();
}
