/*
 * select.h - routes through a select module (internal; module ABI 1.2).
 *
 * route_choose() marks a choice whose route says `select = NAME`
 * (choice->select) and gives it no lines.  The lines come from the
 * module's select op: on a connection it runs on a helper thread
 * (select_begin/select_step, driven by chain_step before any layer
 * exists); for which, show-config and env it runs on the caller's thread
 * (select_choose_blocking).  Each alternative the module names becomes a
 * line `stack = X [default=next]`: DIRECT the predefined direct stack, a
 * proxy URL a stack made for it (snapshot_proxy_stack).
 */
#ifndef HOST_SELECT_H
#define HOST_SELECT_H

#include "route.h"
#include "snapshot.h"
#include "url.h"

struct ps_conn;

/*
 * Start the selection of conn->choice on a helper thread and arm the
 * connection's deadline.  PS_OK or an error in conn->err.
 */
int select_begin(struct ps_conn *conn);

/*
 * From chain_step while the selection runs: PS_AGAIN (waiting: the
 * job's fd is wanted), PS_OK (the lines are set up: go on with the
 * layers), or an error (conn->state is CONN_FAILED).
 */
int select_step(struct ps_conn *conn);

/* Let go of a running selection (conn_free).  NULL-safe. */
void select_release(struct ps_conn *conn);

/*
 * route_choose(), then, for a select route, the selection on this
 * thread (blocking up to the snapshot's connect_timeout).  For which,
 * show-config and env.
 */
int select_choose_blocking(struct snapshot *s, const struct url *dest,
			   struct route_choice *out, ps_error *err);

#endif
