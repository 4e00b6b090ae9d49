/*
 * dump.h - what a snapshot would do, in words, without connecting
 * (internal): the bodies of ps_ctx_dump_config(), ps_ctx_which(),
 * ps_ctx_env_exports_opt() and ps_ctx_list_modules(), which ctx.c calls
 * with a reference to its current snapshot.
 *
 * Each takes over the caller's reference to 's' and releases it before
 * returning.  Each returns a string to free with ps_free(), or NULL with
 * *err set.
 */
#ifndef HOST_DUMP_H
#define HOST_DUMP_H

#include <proxystack.h>

#include "snapshot.h"

char *dump_config(struct snapshot *s, const char *url, ps_error *err);
char *dump_which(struct snapshot *s, const char *url, ps_error *err);
char *dump_env_exports(struct snapshot *s, const char *url, unsigned flags,
		       ps_error *err);
char *dump_modules(struct snapshot *s, ps_error *err);

#endif
