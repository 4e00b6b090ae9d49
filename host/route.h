/*
 * route.h - which stacks serve a destination (internal).
 *
 * Explicit [route] sections are tried first, in file order; the first
 * whose match list covers the destination wins.  Otherwise the implicit
 * default route: no_proxy -> direct; else the [default]/level-1 proxy;
 * else the system variables by scheme; else direct (no proxy at all).
 */
#ifndef HOST_ROUTE_H
#define HOST_ROUTE_H

#include <proxystack/module.h>

#include "snapshot.h"
#include "url.h"

struct route_choice {
	const struct route *route;       /* NULL: the implicit route */
	const struct route_line *lines;  /* alternatives, in order */
	size_t nlines;
	struct route_line implicit;      /* storage for the implicit line */
	char why[600];                   /* for show-config, no secrets */
	/* A route through a select module (select.h): route_choose() sets
	 * 'select' and no lines; the selection fills 'selected' and points
	 * 'lines' at it, and keeps the module's answer for which. */
	const struct instance *select;
	struct route_line selected[PS_SELECT_MAX_ALTERNATIVES];
	char answer[420];
};

/*
 * Choose for 'dest'.  PS_OK, or an error in *err (a select module
 * without a select op).  'out' points into 's': valid while the snapshot
 * is held.  A select route comes back with out->select set and no lines
 * yet (select.h fills them).
 */
int route_choose(const struct snapshot *s, const struct url *dest,
		 struct route_choice *out, ps_error *err);

/* What to do after a line failed with 'code': ACT_NEXT or ACT_DIE. */
enum route_action route_action_for(const struct route_line *line, int code);

#endif
