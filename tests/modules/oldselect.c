/*
 * oldselect.c - a select-phase module built before ABI 1.2: its ops
 * table ends before the select op.  A route through it must fail with
 * PS_ERR_UNSUPPORTED, never go direct (t_pac_fetch.sh).
 */
#include <stddef.h>

#include <proxystack/module.h>

static const struct ps_module_ops oldselect_ops = { 0 };

const struct ps_module proxystack_module = {
	.magic = PS_MODULE_MAGIC,
	.abi_major = 1,
	.abi_minor = 1,
	/* The 1.1 table: everything before the select op. */
	.ops_size = offsetof(struct ps_module_ops, select),
	.name = "oldselect",
	.phases = PS_PHASE_SELECT,
	.caps = 0,
	.summary = "test: a select module from before the select op",
	.ops = &oldselect_ops,
};
