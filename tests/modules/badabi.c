/*
 * badabi.c - a module the host must refuse: built for the next ABI major.
 *
 * Everything else is right (magic, name matching the file), so the ABI
 * check alone has to catch it.  PS_MODULE_HEADER is spelled out because
 * overriding one of its fields would trip -Woverride-init.
 */
#include <proxystack/module.h>

static const struct ps_module_ops badabi_ops = { 0 };

const struct ps_module proxystack_module = {
	.magic = PS_MODULE_MAGIC,
	.abi_major = PS_MODULE_ABI_MAJOR + 1,
	.abi_minor = 0,
	.ops_size = sizeof(struct ps_module_ops),
	.name = "badabi",
	.phases = PS_PHASE_TRANSPORT,
	.caps = 0,
	.summary = "test: an ABI major this host does not speak",
	.ops = &badabi_ops,
};
