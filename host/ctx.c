/*
 * ctx.c - the context: creation from options, the current snapshot and
 * its atomic replacement on reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_args.h"
#include "conn.h"
#include "ctx.h"
#include "dump.h"
#include "serve_config.h"
#include "error.h"
#include "reload.h"
#include "tls.h"

void ps_ctx_options_init(ps_ctx_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
	opts->log_level = PS_LOG_WARN;
}

void ps_free(void *p)
{
	free(p);
}

/* The directory: option, then <prefix>CONF_DIR, then the default. */
static char *choose_conf_dir(const ps_ctx_options *o, const char *prefix,
			     int *missing_ok)
{
	char name[128];
	const char *env;

	*missing_ok = 0;
	if (o->conf_dir)
		return strdup(o->conf_dir);
	snprintf(name, sizeof(name), "%sCONF_DIR", prefix);
	env = o->ignore_environment ? NULL : getenv(name);
	if (env && *env)
		return strdup(env);
	/* No configuration at all is a valid site: environment only. */
	*missing_ok = 1;
	return strdup(PS_CONF_DIR);
}

/*
 * The caller's options as this library's layout: each field the caller's
 * struct_size holds, the default for the others.  A size below the 1.0
 * layout is a caller that never ran ps_ctx_options_init().
 */
static int ctx_options_take(const ps_ctx_options *in, ps_ctx_options *out,
			    ps_error *err)
{
	ps_ctx_options_init(out);
	if (!in)
		return PS_OK;
	if (in->struct_size < PS_CTX_OPTIONS_SIZE_1_0)
		return api_struct_too_small("ps_ctx_options", in->struct_size,
					    PS_CTX_OPTIONS_SIZE_1_0, err);
	PS_TAKE_FIELD(ps_ctx_options, out, in, conf_dir);
	PS_TAKE_FIELD(ps_ctx_options, out, in, env_prefix);
	PS_TAKE_FIELD(ps_ctx_options, out, in, log_fn);
	PS_TAKE_FIELD(ps_ctx_options, out, in, log_user);
	PS_TAKE_FIELD(ps_ctx_options, out, in, log_level);
	PS_TAKE_FIELD(ps_ctx_options, out, in, ignore_environment);
	PS_TAKE_FIELD(ps_ctx_options, out, in, reload);
	return PS_OK;
}

/* The watcher's hooks: it reaches the context only through these. */
static struct snapshot *watcher_current(void *ctx)
{
	return ctx_snapshot(ctx);
}

static int watcher_reload(void *ctx, ps_error *err)
{
	return ps_ctx_reload(ctx, err);
}

static int start_watcher(ps_ctx *ctx, int force_polling)
{
	const struct reload_hooks hooks = {
		.conf_dir = ctx->conf_dir,
		.lg = &ctx->params.lg,
		.current = watcher_current,
		.reload = watcher_reload,
		.user = ctx,
	};

	return reload_watch_start(&hooks, force_polling, &ctx->watcher);
}

ps_ctx *ps_ctx_new(const ps_ctx_options *caller_opts, ps_error *err)
{
	ps_ctx_options taken;
	const ps_ctx_options *opts = &taken;
	ps_ctx *ctx;
	int rc;

	ps_error_clear(err);
	if (ctx_options_take(caller_opts, &taken, err) != PS_OK)
		return NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		err_nomem(err);
		return NULL;
	}
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->reload_lock, NULL);
	ctx->env_prefix = strdup(opts->env_prefix ? opts->env_prefix
						  : "PROXYSTACK_");
	if (ctx->env_prefix)
		ctx->conf_dir = choose_conf_dir(
			opts, ctx->env_prefix,
			&ctx->params.conf_dir_missing_ok);
	if (!ctx->env_prefix || !ctx->conf_dir) {
		err_nomem(err);
		ps_ctx_free(ctx);
		return NULL;
	}
	ctx->params.conf_dir = ctx->conf_dir;
	ctx->params.env_prefix = ctx->env_prefix;
	ctx->params.env_lookup = opts->ignore_environment ? NULL
							  : env_lookup_process;
	ctx->params.lg.fn = opts->log_fn;
	ctx->params.lg.user = opts->log_user;
	ctx->params.lg.level = opts->log_level;
	tls_warm_up();
	rc = snapshot_build(&ctx->params, &ctx->current, err);
	if (rc == PS_OK && opts->reload != PS_RELOAD_MANUAL)
		rc = start_watcher(ctx, opts->reload == PS_RELOAD_POLL);
	if (rc != PS_OK) {
		if (err && err->code == PS_OK)
			err_set(err, rc, NULL, -1, NULL, "cannot start the"
				" configuration watcher");
		ps_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

void ps_ctx_free(ps_ctx *ctx)
{
	if (!ctx)
		return;
	reload_watch_stop(ctx->watcher);
	snapshot_unref(ctx->current);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->reload_lock);
	free(ctx->conf_dir);
	free(ctx->env_prefix);
	free(ctx);
}

struct snapshot *ctx_snapshot(ps_ctx *ctx)
{
	struct snapshot *s;

	pthread_mutex_lock(&ctx->lock);
	s = snapshot_ref(ctx->current);
	pthread_mutex_unlock(&ctx->lock);
	return s;
}

int ps_ctx_reload(ps_ctx *ctx, ps_error *err)
{
	struct snapshot *fresh, *old;
	int rc;

	ps_error_clear(err);
	/*
	 * Build and swap as one step: two reloads at once (the watcher and
	 * the application) must not let the one that read the files first
	 * install its older snapshot last.
	 */
	pthread_mutex_lock(&ctx->reload_lock);
	rc = snapshot_build(&ctx->params, &fresh, err);
	if (rc != PS_OK) {
		pthread_mutex_unlock(&ctx->reload_lock);
		log_msg(&ctx->params.lg, PS_LOG_ERROR, "reload refused, the"
			" previous configuration stays: %s",
			err ? err->message : ps_code_name(rc));
		return rc;
	}
	pthread_mutex_lock(&ctx->lock);
	old = ctx->current;
	ctx->current = fresh;
	pthread_mutex_unlock(&ctx->lock);
	pthread_mutex_unlock(&ctx->reload_lock);
	/* Connections still holding 'old' keep it alive. */
	snapshot_unref(old);
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* what runs on the current snapshot                                   */
/* ------------------------------------------------------------------ */

/*
 * The context is the top of the core: these entry points take a
 * reference to the current snapshot and hand it down; nothing below
 * (connections, dumps, the watcher) knows struct ps_ctx.
 */

ps_conn *ps_conn_start(ps_ctx *ctx, const char *url,
		       const ps_connect_options *opts, ps_error *err)
{
	return conn_start(ctx_snapshot(ctx), url, opts, err);
}

ps_conn *ps_connect(ps_ctx *ctx, const char *url,
		    const ps_connect_options *opts, ps_error *err)
{
	return conn_connect(ctx_snapshot(ctx), url, opts, err);
}

char *ps_ctx_dump_config(ps_ctx *ctx, const char *url, ps_error *err)
{
	return dump_config(ctx_snapshot(ctx), url, err);
}

char *ps_ctx_which(ps_ctx *ctx, const char *url, ps_error *err)
{
	return dump_which(ctx_snapshot(ctx), url, err);
}

char *ps_ctx_env_exports(ps_ctx *ctx, const char *url, ps_error *err)
{
	return dump_env_exports(ctx_snapshot(ctx), url, 0, err);
}

char *ps_ctx_env_exports_opt(ps_ctx *ctx, const char *url, unsigned flags,
			     ps_error *err)
{
	return dump_env_exports(ctx_snapshot(ctx), url, flags, err);
}

char *ps_ctx_list_modules(ps_ctx *ctx, ps_error *err)
{
	return dump_modules(ctx_snapshot(ctx), err);
}

ps_serve_config *ps_ctx_serve_config(ps_ctx *ctx, ps_error *err)
{
	return serve_config_get(ctx_snapshot(ctx), err);
}
