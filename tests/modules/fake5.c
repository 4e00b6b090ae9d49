/*
 * fake5.c - a test module that claims the proxy URL scheme fake5://
 * (default port 1085, names resolved by the proxy) through the schemes
 * op of ABI 1.2, so that proxy_url = fake5://... and ALL_PROXY=fake5://
 * reach it without a `module =` line (t_schemes.sh).
 *
 * Its hop is a transparent tunnel: the layer below dials the "proxy"
 * (in the tests, an echo server), and bytes pass unchanged.  configure()
 * logs, as a warning for the test to read, the proxy the host resolved
 * and ps_proxy_info.resolve_remotely.
 *
 * Built a second time as fake5dup (FAKE5_MODULE_NAME), claiming the same
 * scheme: a module path holding both must fail the configuration.
 * Built, never installed.
 */
#include <proxystack/module.h>

#ifndef FAKE5_MODULE_NAME
#define FAKE5_MODULE_NAME "fake5"
#endif

static int fake5_configure(ps_config *cfg, void **instance)
{
	struct ps_proxy_info info;
	int rc;

	*instance = NULL;
	rc = ps_config_get_proxy(cfg, NULL, &info);
	if (rc != PS_OK)
		return rc;
	ps_config_log(cfg, PS_LOG_WARN, FAKE5_MODULE_NAME ": %s, names"
		      " resolved %s", info.display, info.resolve_remotely
		      ? "by the proxy" : "here");
	ps_proxy_info_clear(&info);
	return PS_OK;
}

static const struct ps_scheme *fake5_schemes(void)
{
	static const struct ps_scheme table[] = {
		{ "fake5", 1085, 1 }, { NULL, 0, 0 },
	};

	return table;
}

static const struct ps_module_ops fake5_ops = {
	.configure = fake5_configure,
	.schemes = fake5_schemes,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = FAKE5_MODULE_NAME,
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
	.summary = "test: claims fake5:// (a transparent hop)",
	.ops = &fake5_ops,
};
