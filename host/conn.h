/*
 * conn.h - starting connections on a snapshot (internal).  The context
 * (ctx.c) calls these with a reference to its current snapshot; the rest
 * of the connection API is public (proxystack.h) and lives in conn.c.
 */
#ifndef HOST_CONN_H
#define HOST_CONN_H

#include <proxystack.h>

#include "snapshot.h"

/*
 * ps_conn_start() on 'snap': takes over the caller's reference to it
 * (released when the connection closes, or here on failure).  NULL with
 * *err set on failure.
 */
struct ps_conn *conn_start(struct snapshot *snap, const char *url,
			   const ps_connect_options *opts, ps_error *err);

/* ps_connect() on 'snap': conn_start() then steps until established. */
struct ps_conn *conn_connect(struct snapshot *snap, const char *url,
			     const ps_connect_options *opts, ps_error *err);

#endif
