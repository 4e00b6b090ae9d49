/*
 * test_route.c - the route builder and chooser (host/snapshot.c,
 * host/route.c) on the snapshot itself, with a fake environment through
 * snapshot_params.env_lookup, so no process variable is touched.
 *
 * Covers what test_snapshot.c does not: the first of several matching
 * routes wins, match ports and globs, no_proxy forms from [default],
 * a route without stack lines, every control form and line order, and
 * the environment's precedence seen from an injected table.
 */
#include <string.h>

#include "check.h"
#include "confdir.h"
#include "route.h"

/* The fake environment: NULL-terminated name/value pairs. */
static const char *const *fake_env;

static const char *fake_lookup(void *user, const char *name)
{
	(void)user;
	for (const char *const *p = fake_env; p && p[0]; p += 2)
		if (!strcmp(p[0], name))
			return p[1];
	return NULL;
}

/* A fresh directory with the module path, then 'conf'. */
static void new_confdir(const char *conf)
{
	confdir_new("route");
	write_file("10-test.conf", conf);
}

/* Build from confdir and 'env' (NULL: no environment at all). */
static struct snapshot *build(const char *const *env)
{
	struct snapshot_params p;
	struct snapshot *s = NULL;
	ps_error err;

	memset(&p, 0, sizeof(p));
	p.conf_dir = confdir;
	p.lg.fn = quiet_log;
	p.lg.level = 0;
	fake_env = env;
	p.env_lookup = env ? fake_lookup : NULL;
	if (snapshot_build(&p, &s, &err) != PS_OK) {
		CHECK_MSG(0, "snapshot builds (%s)", err.message);
		return NULL;
	}
	return s;
}

/* The proxy host a stack ends at, or "direct". */
static const char *stack_proxy(const struct stack *st)
{
	for (size_t i = st->nhops; i-- > 0;)
		if (st->hops[i]->proxy_host)
			return st->hops[i]->proxy_host;
	return "direct";
}

/*
 * "ROUTE/PROXY" for the first line chosen for url: ROUTE is the route's
 * name or "-" for the implicit one.
 */
static const char *chosen(const struct snapshot *s, const char *url,
			  struct route_choice *choice)
{
	static char out[200];
	struct url dest;
	ps_error err;
	char why[128];

	if (url_parse_dest(url, &dest, why, sizeof(why)))
		return "bad url";
	if (route_choose(s, &dest, choice, &err) != PS_OK) {
		snprintf(out, sizeof(out), "error %d", err.code);
	} else {
		snprintf(out, sizeof(out), "%s/%s",
			 choice->route ? choice->route->name : "-",
			 choice->nlines ? stack_proxy(choice->lines[0].stack)
					: "none");
	}
	url_clear(&dest);
	return out;
}

#define CHECK_CHOSEN(s, url, want)                                        \
	do {                                                              \
		struct route_choice c_;                                   \
		CHECK_MSG(!strcmp(chosen(s, url, &c_), want),             \
			  "%s -> %s (got %s)", url, want,                 \
			  chosen(s, url, &c_));                           \
	} while (0)

#define TRANSPORTS                                                        \
	"[transport p1]\nmodule = http-connect\nurl = http://p1:3128\n"   \
	"[transport p2]\nmodule = http-connect\nurl = http://p2:3128\n"   \
	"[transport p3]\nmodule = http-connect\nurl = http://p3:3128\n"

static void test_first_match_and_ports(void)
{
	struct snapshot *s;

	new_confdir(TRANSPORTS
		    "[route one]\nmatch = api.example.com:8443\nstack = p1\n"
		    "[route two]\nmatch = *.example.com\nstack = p2\n"
		    "[route three]\nmatch = api.example.com *\nstack = p3\n");
	s = build(NULL);
	if (s) {
		/* Both one and two match: the earlier section wins. */
		CHECK_CHOSEN(s, "tls://api.example.com:8443", "one/p1");
		/* The port restriction sends 443 to the next match. */
		CHECK_CHOSEN(s, "tls://api.example.com:443", "two/p2");
		/* A glob covers the apex and deeper names ... */
		CHECK_CHOSEN(s, "tcp://example.com:22", "two/p2");
		CHECK_CHOSEN(s, "tcp://a.b.example.com:22", "two/p2");
		/* ... on a label boundary only. */
		CHECK_CHOSEN(s, "tcp://badexample.com:22", "three/p3");
		CHECK_CHOSEN(s, "tcp://EXAMPLE.COM.:22", "two/p2");
		CHECK_CHOSEN(s, "tcp://192.0.2.1:22", "three/p3");
	}
	snapshot_unref(s);
	remove_confdir();
}

static void test_no_proxy_forms(void)
{
	struct snapshot *s;

	new_confdir("[default]\nproxy_url = http://dflt:3128\n"
		    "no_proxy = 10.0.0.0/8, .corp.example, db.example:5432,"
		    " fd00::/8\n");
	s = build(NULL);
	if (s) {
		CHECK_CHOSEN(s, "tcp://10.20.30.40:22", "-/direct");
		CHECK_CHOSEN(s, "tcp://11.0.0.1:22", "-/dflt");
		CHECK_CHOSEN(s, "tcp://corp.example:22", "-/direct");
		CHECK_CHOSEN(s, "tcp://x.corp.example:22", "-/direct");
		CHECK_CHOSEN(s, "tcp://notcorp.example:22", "-/dflt");
		CHECK_CHOSEN(s, "tcp://db.example:5432", "-/direct");
		CHECK_CHOSEN(s, "tcp://db.example:5433", "-/dflt");
		CHECK_CHOSEN(s, "tcp://[fd00::1]:22", "-/direct");
		CHECK_CHOSEN(s, "tcp://[fe80::1]:22", "-/dflt");
	}
	snapshot_unref(s);
	remove_confdir();
}

/*
 * A route without stack lines takes the default proxy, and its match is
 * explicit, so no_proxy does not send it direct.
 */
static void test_route_without_lines(void)
{
	struct route_choice c;
	struct snapshot *s;

	new_confdir("[default]\nproxy_url = http://dflt:3128\n"
		    "no_proxy = .example.com\n"
		    "[route bare]\nmatch = api.example.com\n");
	s = build(NULL);
	if (s) {
		CHECK_CHOSEN(s, "tls://api.example.com:443", "bare/dflt");
		chosen(s, "tls://api.example.com:443", &c);
		CHECK(c.nlines == 1 && c.lines[0].stack == s->default_stack);
		CHECK(strstr(c.why, "route bare") &&
		      strstr(c.why, "the default proxy"));
		CHECK(c.nlines == 1 &&
		      route_action_for(&c.lines[0], PS_ERR_CONNECT) == ACT_DIE);
		CHECK_CHOSEN(s, "tls://www.example.com:443", "-/direct");
	}
	snapshot_unref(s);
	remove_confdir();
}

static int all_actions(const struct route_line *l, enum route_action a)
{
	for (size_t c = 0; c < RC_COUNT; c++)
		if (l->action[c] != a)
			return 0;
	return 1;
}

static void test_controls_and_order(void)
{
	struct route_choice c;
	struct snapshot *s;
	const struct route_line *l;

	new_confdir(TRANSPORTS
		    "[route r]\nmatch = *\n"
		    "stack = p3\n"
		    "stack = p1 sufficient\n"
		    "stack = p2 [default=next tls_verify=die]\n"
		    "stack = p1 requisite\n"
		    "stack = direct [timeout=next]\n");
	s = build(NULL);
	if (s) {
		chosen(s, "tls://example.com:443", &c);
		CHECK_INT(c.nlines, 5);
	}
	if (s && c.nlines == 5) {
		l = c.lines;
		CHECK_STR(stack_proxy(l[0].stack), "p3");
		CHECK_STR(stack_proxy(l[1].stack), "p1");
		CHECK_STR(stack_proxy(l[2].stack), "p2");
		CHECK_STR(stack_proxy(l[3].stack), "p1");
		CHECK_STR(stack_proxy(l[4].stack), "direct");
		/* No control means sufficient: every failure tries on. */
		CHECK_STR(l[0].control, "sufficient");
		CHECK(all_actions(&l[0], ACT_NEXT));
		CHECK(all_actions(&l[1], ACT_NEXT));
		/* default=next covers every class not named. */
		CHECK_STR(l[2].control, "[default=next tls_verify=die]");
		CHECK_INT(route_action_for(&l[2], PS_ERR_TLS_VERIFY), ACT_DIE);
		CHECK_INT(route_action_for(&l[2], PS_ERR_TLS), ACT_NEXT);
		CHECK_INT(route_action_for(&l[2], PS_ERR_RESOLVE), ACT_NEXT);
		CHECK_STR(l[3].control, "requisite");
		CHECK(all_actions(&l[3], ACT_DIE));
		/* Without default=, the classes not named die. */
		CHECK_INT(route_action_for(&l[4], PS_ERR_TIMEOUT), ACT_NEXT);
		CHECK_INT(route_action_for(&l[4], PS_ERR_CONNECT), ACT_DIE);
		CHECK_INT(route_action_for(&l[4], PS_ERR_WEBSOCKET_HANDSHAKE),
			  ACT_DIE);
	}
	snapshot_unref(s);
	remove_confdir();
}

static void test_env_precedence(void)
{
	static const char *const sys_only[] = {
		"HTTPS_PROXY", "http://sys:1", NULL
	};
	static const char *const sys_and_ours[] = {
		"HTTPS_PROXY", "http://sys:1",
		"PROXYSTACK_PROXY_URL", "http://ours:2", NULL
	};
	static const char *const all_only[] = {
		"ALL_PROXY", "http://all:3", NULL
	};
	struct route_choice c;
	struct snapshot *s;

	/* No [default]: the system variable, then ours over it. */
	new_confdir("; nothing\n");
	s = build(sys_only);
	if (s)
		CHECK_CHOSEN(s, "tls://example.com:443", "-/sys");
	snapshot_unref(s);
	s = build(sys_and_ours);
	if (s)
		CHECK_CHOSEN(s, "tls://example.com:443", "-/ours");
	snapshot_unref(s);
	/* ALL_PROXY serves every scheme when nothing closer is set. */
	s = build(all_only);
	if (s) {
		CHECK_CHOSEN(s, "tls://example.com:443", "-/all");
		CHECK_CHOSEN(s, "http://example.com", "-/all");
	}
	snapshot_unref(s);
	/* No environment at all (env_lookup NULL): direct. */
	s = build(NULL);
	if (s)
		CHECK_CHOSEN(s, "tls://example.com:443", "-/direct");
	snapshot_unref(s);
	remove_confdir();

	/* [default] beats the system variable, ours beats [default]. */
	new_confdir("[default]\nproxy_url = http://conf:4\n");
	s = build(sys_only);
	if (s) {
		CHECK_CHOSEN(s, "tls://example.com:443", "-/conf");
		chosen(s, "tls://example.com:443", &c);
		CHECK(strstr(c.why, "10-test.conf:2") != NULL);
	}
	snapshot_unref(s);
	s = build(sys_and_ours);
	if (s) {
		CHECK_CHOSEN(s, "tls://example.com:443", "-/ours");
		chosen(s, "tls://example.com:443", &c);
		CHECK_MSG(strstr(c.why, "PROXYSTACK_PROXY_URL") != NULL,
			  "why names the variable (%s)", c.why);
	}
	snapshot_unref(s);
	remove_confdir();
}

int main(void)
{
	test_first_match_and_ports();
	test_no_proxy_forms();
	test_route_without_lines();
	test_controls_and_order();
	test_env_precedence();
	return check_done();
}
