/*
 * ctx.h - the context: options and the current snapshot (internal).
 */
#ifndef HOST_CTX_H
#define HOST_CTX_H

#include <pthread.h>

#include "snapshot.h"

struct ps_ctx {
	pthread_mutex_t lock;        /* guards 'current' */
	pthread_mutex_t reload_lock; /* one reload at a time, build to swap */
	struct snapshot *current;
	struct snapshot_params params;
	char *conf_dir;
	char *env_prefix;
	struct reload_watcher *watcher;   /* NULL: manual reloads only */
};

/* A reference to the current snapshot (release with snapshot_unref). */
struct snapshot *ctx_snapshot(ps_ctx *ctx);

#endif
