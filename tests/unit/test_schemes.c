/*
 * test_schemes.c - the map from proxy URL schemes to modules
 * (host/schemes.c) on hand-made loaded modules: a module built before
 * ABI 1.2 (no schemes op) gets the built-in claims of its shipped name
 * and nothing for another name; a 1.2 module's claims are taken as
 * declared; a second claim of one scheme fails naming both modules and
 * files; malformed tables fail with PS_ERR_MODULE; a URL's module is
 * found through the claims, PAC URLs and unclaimed shipped schemes
 * through the built-in map.
 */
#include <string.h>

#include "check.h"
#include "schemes.h"

static const struct ps_scheme fake_table[] = {
	{ "fake5", 1085, 1 }, { "socks5", 9999, 0 }, { NULL, 0, 0 },
};
static const struct ps_scheme bad_name[] = {
	{ "Fake5", 1085, 1 }, { NULL, 0, 0 },
};
static const struct ps_scheme bad_port[] = {
	{ "fake6", 0, 1 }, { NULL, 0, 0 },
};

static const struct ps_scheme *fake_schemes(void)
{
	return fake_table;
}

static const struct ps_scheme *bad_name_schemes(void)
{
	return bad_name;
}

static const struct ps_scheme *bad_port_schemes(void)
{
	return bad_port;
}

/* A loaded module as the loader leaves it: ops zero past ops_size. */
static struct loaded_module module(const char *name, const char *path,
				   const struct ps_scheme *(*op)(void))
{
	struct loaded_module m;

	memset(&m, 0, sizeof(m));
	m.name = (char *)name;
	m.path = (char *)path;
	m.ops.schemes = op;
	return m;
}

static void old_modules_get_builtin_claims(void)
{
	struct loaded_module socks = module("socks", "/m/socks.so", NULL);
	struct loaded_module other = module("other", "/m/other.so", NULL);
	struct scheme_table t = { 0 };
	const struct scheme_claim *c;
	ps_error err;

	CHECK(schemes_of_module(&other) == NULL);
	CHECK_INT(schemes_add(&t, &socks, &err), PS_OK);
	CHECK_INT(schemes_add(&t, &other, &err), PS_OK);
	CHECK_INT(t.n, 4);
	c = schemes_find(&t, "socks5h");
	CHECK(c && c->mod == &socks && c->default_port == 1080 &&
	      c->resolve_remotely == 1);
	c = schemes_find(&t, "socks5");
	CHECK(c && c->resolve_remotely == 0);
	CHECK_STR(schemes_module_for_url(&t, "SOCKS4A://p:1"), "socks");
	/* http-connect is not loaded: the built-in map still names it. */
	CHECK_STR(schemes_module_for_url(&t, "http://p:3128"), "http-connect");
	CHECK_STR(schemes_module_for_url(&t, "http://p/proxy.pac"), "pac");
	CHECK(schemes_module_for_url(&t, "fake5://p") == NULL);
	schemes_free(&t);
}

static void claims_and_conflicts(void)
{
	struct loaded_module socks = module("socks", "/m/socks.so", NULL);
	struct loaded_module fake = module("fake", "/m/fake.so", fake_schemes);
	struct scheme_table t = { 0 };
	struct url_claims claims;
	ps_error err;

	ps_error_clear(&err);
	CHECK_INT(schemes_add(&t, &socks, &err), PS_OK);
	CHECK_INT(schemes_add(&t, &fake, &err), PS_ERR_CONFIG);
	CHECK_STR(err.message, "scheme socks5:// is claimed by two modules:"
		  " socks (/m/socks.so) and fake (/m/fake.so)");
	CHECK_STR(schemes_module_for_url(&t, "fake5://p"), "fake");
	claims = schemes_url_claims(&t);
	CHECK_INT(claims.port_of(claims.user, "fake5"), 1085);
	CHECK_INT(claims.port_of(claims.user, "nope"), 0);
	schemes_free(&t);
}

static void malformed_tables(void)
{
	struct loaded_module name = module("n", "/m/n.so", bad_name_schemes);
	struct loaded_module port = module("p", "/m/p.so", bad_port_schemes);
	struct scheme_table t = { 0 };
	ps_error err;

	CHECK_INT(schemes_add(&t, &name, &err), PS_ERR_MODULE);
	CHECK(strstr(err.message, "bad scheme 'Fake5'") != NULL);
	CHECK_INT(schemes_add(&t, &port, &err), PS_ERR_MODULE);
	CHECK(strstr(err.message, "bad scheme 'fake6' (port 0)") != NULL);
	CHECK_INT(t.n, 0);
	schemes_free(&t);
}

static void describe(void)
{
	char out[200];

	schemes_describe(fake_table, out, sizeof(out));
	CHECK_STR(out, "fake5 (1085, names to the proxy), socks5 (9999)");
	schemes_describe(NULL, out, sizeof(out));
	CHECK_STR(out, "");
}

int main(void)
{
	old_modules_get_builtin_claims();
	claims_and_conflicts();
	malformed_tables();
	describe();
	return check_done();
}
