/*
 * serve_config.h - the [serve] section's check at snapshot build
 * (internal; the public getter is ps_ctx_serve_config()).
 */
#ifndef HOST_SERVE_CONFIG_H
#define HOST_SERVE_CONFIG_H

#include <proxystack.h>

#include "ini_load.h"
#include "snapshot.h"

/*
 * Check [serve] of 'doc', if any: listen addresses (a non-loopback one
 * needs allow =), the allow list, paths, numbers, unknown keys.  PS_OK,
 * or PS_ERR_CONFIG with "file:line: ..." in *err.
 */
int serve_config_check(struct ini_doc *doc, ps_error *err);

/*
 * The body of ps_ctx_serve_config() on 's', whose reference it takes
 * over and releases.  One allocation to free with ps_free(), or NULL
 * with *err set (out of memory).
 */
ps_serve_config *serve_config_get(struct snapshot *s, ps_error *err);

#endif
