/*
 * misnamed.c - a module the host must refuse: a valid descriptor whose
 * name ("notmisnamed") is not its file's (misnamed.so), as when a module
 * is copied under another name to shadow a shipped one.
 */
#include <proxystack/module.h>

static const struct ps_module_ops misnamed_ops = { 0 };

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "notmisnamed",
	.phases = PS_PHASE_TRANSPORT,
	.caps = 0,
	.summary = "test: a descriptor name that differs from the file name",
	.ops = &misnamed_ops,
};
