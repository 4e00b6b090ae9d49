/*
 * oldops.c - a test module built as for ABI 1.1: its ops_size ends
 * before the schemes op, although the table it points to has one that
 * claims "oldops://".  The host must read only ops_size bytes and so
 * never see that claim (test_abi_grow).  Built, never installed.
 */
#include <stddef.h>

#include <proxystack/module.h>

static const struct ps_scheme *oldops_schemes(void)
{
	static const struct ps_scheme table[] = {
		{ "oldops", 1, 1 }, { NULL, 0, 0 },
	};

	return table;
}

static const struct ps_module_ops oldops_ops = {
	.schemes = oldops_schemes,
};

const struct ps_module proxystack_module = {
	.magic = PS_MODULE_MAGIC,
	.abi_major = PS_MODULE_ABI_MAJOR,
	.abi_minor = 1,
	.ops_size = offsetof(struct ps_module_ops, schemes),
	.name = "oldops",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
	.summary = "test: an ABI 1.1 ops table (no schemes op)",
	.ops = &oldops_ops,
};
