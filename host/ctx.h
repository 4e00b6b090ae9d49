/*
 * ctx.h - the context: options and the current snapshot (internal).
 */
#ifndef HOST_CTX_H
#define HOST_CTX_H

#include <pthread.h>
#include <stddef.h>

#include "snapshot.h"
#include "url.h"

/*
 * Does the caller's structure 'opts', of type T with a struct_size first
 * field, hold 'field' wholly?  A caller built against an older header
 * passes a smaller struct_size: a field appended since is not there and
 * must not be read (proxystack.h, "Growing structures").
 */
#define PS_HAS_FIELD(T, opts, field)                                      \
	(offsetof(T, field) + sizeof(((T *)0)->field) <= (opts)->struct_size)

/* out->field = in->field when the caller's 'in' holds it. */
#define PS_TAKE_FIELD(T, out, in, field)                                  \
	do {                                                              \
		if (PS_HAS_FIELD(T, in, field))                           \
			(out)->field = (in)->field;                       \
	} while (0)

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

/*
 * Refuse a caller's options structure whose struct_size 'got' is below
 * its 1.0 layout 'min': PS_ERR_USAGE naming 'type' and both sizes.
 */
int ctx_struct_too_small(const char *type, size_t got, size_t min,
			 ps_error *err);

/* Parse a destination URL into *dest with a usage error in *err. */
int ctx_parse_dest(const char *url, struct url *dest, ps_error *err);

#endif
