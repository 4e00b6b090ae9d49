/*
 * proxysize.c - a test module that asks the host for its proxy with
 * ps_config_get_proxy_sized() and a given size, as a module built
 * against an older (or a broken) header would (test_abi_grow).
 *
 * Key "size": "1.0" passes PS_PROXY_INFO_SIZE_1_0 with guard bytes
 * right after it; the host must fill the fields and write nothing past
 * them (a module built for 1.0 has no more room), which the module logs
 * as a warning for the test to read.  "small" passes one byte less,
 * which the host must refuse.  Built, never installed.
 *
 * Key "tls" (ABI 1.2): ask for the host's TLS to the proxy with
 * ps_config_want_proxy_tls() and a struct ps_proxy_tls of the 1.2 size
 * ("1.2"), one byte less ("small", refused), or a larger one as a later
 * module would pass ("later", accepted).
 */
#include <string.h>

#include <proxystack/module.h>

#define GUARD 0xab

/* A 1.0-sized ps_proxy_info followed by what the module owns next. */
struct proxy_and_guard {
	unsigned char bytes[PS_PROXY_INFO_SIZE_1_0 + 32];
};

static int guard_intact(const struct proxy_and_guard *g)
{
	for (size_t i = PS_PROXY_INFO_SIZE_1_0; i < sizeof(g->bytes); i++)
		if (g->bytes[i] != GUARD)
			return 0;
	return 1;
}

/* A ps_proxy_tls of the 1.2 layout with room after it. */
struct tls_and_more {
	struct ps_proxy_tls tls;
	unsigned char later[32];
};

static int proxysize_want_tls(ps_config *cfg, const char *mode)
{
	struct tls_and_more t;

	memset(&t, 0, sizeof(t));
	t.tls.size = PS_PROXY_TLS_SIZE_1_2;
	if (!strcmp(mode, "small"))
		t.tls.size--;
	else if (!strcmp(mode, "later"))
		t.tls.size = sizeof(t);
	t.tls.alpn = "h2,http/1.1";
	return ps_config_want_proxy_tls(cfg, &t.tls);
}

static int proxysize_configure(ps_config *cfg, void **instance)
{
	const char *tls = ps_config_get(cfg, "tls");
	const char *mode = ps_config_get(cfg, "size");
	size_t size = PS_PROXY_INFO_SIZE_1_0;
	struct proxy_and_guard g;
	struct ps_proxy_info *info = (struct ps_proxy_info *)(void *)&g;
	int rc, intact;

	*instance = NULL;
	if (mode && !strcmp(mode, "small"))
		size--;
	memset(&g, GUARD, sizeof(g));
	rc = ps_config_get_proxy_sized(cfg, NULL, info, size);
	if (rc != PS_OK)
		return rc;
	intact = guard_intact(&g);
	ps_config_log(cfg, PS_LOG_WARN, "proxysize: %s:%u filled in %zu"
		      " bytes, %s", info->host, info->port, size,
		      intact ? "nothing written past them"
			     : "BYTES WRITTEN PAST THEM");
	ps_proxy_info_clear(info);
	if (rc == PS_OK && tls)
		rc = proxysize_want_tls(cfg, tls);
	if (rc != PS_OK)
		return rc;
	if (!guard_intact(&g))
		return ps_config_error(cfg, NULL, "ps_proxy_info_clear()"
				       " wrote past %zu bytes", size);
	return intact ? PS_OK
		      : ps_config_error(cfg, NULL, "the host wrote past"
					" %zu bytes", size);
}

static const struct ps_module_ops proxysize_ops = {
	.configure = proxysize_configure,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "proxysize",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
	.summary = "test: ps_config_get_proxy_sized() with a given size",
	.ops = &proxysize_ops,
};
