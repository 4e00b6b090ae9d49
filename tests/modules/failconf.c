/*
 * failconf.c - a test module whose configure() fails after allocating,
 * and frees what it allocated, as module.h asks.  Its unconfigure()
 * frees the instance too: a host that called it after the failed
 * configure() would free the block twice, which AddressSanitizer turns
 * into a crash (tests/unit/test_abi_grow.c).  Built, never installed.
 */
#include <stdlib.h>

#include <proxystack/module.h>

struct failconf {
	int unused;
};

static int failconf_configure(ps_config *cfg, void **instance)
{
	struct failconf *c = calloc(1, sizeof(*c));

	if (!c)
		return PS_ERR_NOMEM;
	*instance = c; /* set, then failed: the host must ignore it */
	free(c);
	return ps_config_error(cfg, NULL, "failconf always fails");
}

static void failconf_unconfigure(void *instance)
{
	free(instance);
}

static const struct ps_module_ops failconf_ops = {
	.configure = failconf_configure,
	.unconfigure = failconf_unconfigure,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "failconf",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_BOTTOM,
	.summary = "test: configure fails after allocating",
	.ops = &failconf_ops,
};
