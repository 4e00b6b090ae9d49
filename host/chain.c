/*
 * chain.c - the chain driver: build the layers of a route line, connect
 * them bottom to top without blocking, fail over between route lines,
 * and tell the agent what to wait for.
 *
 * The whole walk is one loop (chain_step):
 *
 *   deadline passed?           -> fail with timeout
 *   layer not opened?          -> open it
 *   layer connect()            -> PS_OK: next layer / ready
 *                                 PS_AGAIN: return, the agent polls
 *                                 error: tear down; the route line's
 *                                 action for that class says try the
 *                                 next line or stop here
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "chain.h"
#include "error.h"
#include "select.h"

static int dest_is_websocket(const struct url *dest)
{
	return !strcmp(dest->scheme, "ws") || !strcmp(dest->scheme, "wss");
}

static int dest_needs_tls(const struct url *dest)
{
	return !strcmp(dest->scheme, "tls") || !strcmp(dest->scheme, "https") ||
	       !strcmp(dest->scheme, "wss");
}

/* ------------------------------------------------------------------ */
/* building the layers of one route line                               */
/* ------------------------------------------------------------------ */

static void layer_init(struct ps_conn *conn, size_t i, const char *name,
		       const struct ps_module_ops *ops, void *instance,
		       const struct instance *inst)
{
	struct ps_layer *l = &conn->layers[i];

	memset(l, 0, sizeof(*l));
	l->conn = conn;
	l->hop = (int)i;
	l->name = name;
	l->ops = ops;
	l->instance = instance;
	l->inst = inst;
	buf_init(&l->unread);
}

static void layer_set_target(struct ps_layer *l, const char *host,
			     unsigned port)
{
	snprintf(l->target_host, sizeof(l->target_host), "%s", host);
	l->target_port = port;
}

/*
 * The layers of a stack, bottom to top: each hop, with a tls layer under
 * a hop that asked for TLS to its proxy (ps_config_want_proxy_tls), that
 * layer's target the proxy's own address.  Returns the count, or 0 when
 * they do not fit.
 */
static size_t setup_hops(struct ps_conn *conn, const struct stack *st)
{
	size_t n = 0;

	for (size_t i = 0; i < st->nhops; i++) {
		const struct instance *inst = st->hops[i];

		/* Room for this hop, its TLS, the destination's tls and
		 * websocket layers. */
		if (n + (inst->proxy_tls ? 2 : 1) + 2 > CHAIN_MAX_LAYERS)
			return 0;
		if (inst->proxy_tls) {
			layer_init(conn, n, "tls", &tls_layer_ops,
				   inst->proxy_tls, NULL);
			layer_set_target(&conn->layers[n], inst->proxy_host,
					 inst->proxy_port);
			n++;
		}
		layer_init(conn, n++, inst->mod->name, &inst->mod->ops,
			   inst->state, inst);
	}
	return n;
}

/*
 * Each layer leads to where the layer above it starts: a proxy TLS
 * layer's target (the proxy), a proxy hop's own address, or, above a
 * hop that is not a proxy (a passthrough or filtering layer), that
 * hop's own target.  The top hop leads to the destination.  Worked out
 * top-down for that reason.
 */
static int setup_targets(struct ps_conn *conn, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		struct ps_layer *l = &conn->layers[i];
		const struct ps_layer *up = i + 1 < n ? &conn->layers[i + 1]
						      : NULL;

		if (!l->inst)
			continue;	/* a proxy's tls: set when built */
		if (!up) {
			layer_set_target(l, conn->dest.host, conn->dest.port);
		} else if (!up->inst) {
			layer_set_target(l, up->target_host, up->target_port);
		} else if (up->inst->proxy_host) {
			layer_set_target(l, up->inst->proxy_host,
					 up->inst->proxy_port);
		} else if (!(up->inst->mod->desc->caps & PS_CAP_PROXY)) {
			layer_set_target(l, up->target_host, up->target_port);
		} else {
			return err_set(&conn->err, PS_ERR_CONFIG, "chain",
				       (int)i + 1, "give the section a url",
				       "[transport %s] has no proxy address"
				       " for the hop below it to reach",
				       up->inst->name);
		}
	}
	return PS_OK;
}

int chain_setup_line(struct ps_conn *conn)
{
	const struct stack *st = conn->choice.lines[conn->line].stack;
	size_t n = setup_hops(conn, st);

	if (n == 0 && st->nhops > 0)
		return err_set(&conn->err, PS_ERR_CONFIG, "chain", -1,
			       "use fewer hops", "stack %s has too many hops",
			       st->name);
	if (setup_targets(conn, n) != PS_OK)
		return conn->err.code;
	if (dest_needs_tls(&conn->dest)) {
		layer_init(conn, n, "tls", &tls_layer_ops, NULL, NULL);
		layer_set_target(&conn->layers[n], conn->dest.host,
				 conn->dest.port);
		n++;
	}
	if (dest_is_websocket(&conn->dest)) {
		layer_init(conn, n, "websocket", &ws_layer_ops, NULL, NULL);
		layer_set_target(&conn->layers[n], conn->dest.host,
				 conn->dest.port);
		n++;
	}
	conn->nlayers = n;
	conn->next = 0;
	conn->opt.forward_taken = 0;  /* a new line: no hop sent it yet */
	conn->reconnect_below = -1;
	conn->reconnects = 0;
	conn->deadline_ms = clock_now_ms() + conn->opt.timeout_ms;
	/* The description follows the route line really being tried. */
	free(conn->description);
	conn->description = chain_describe_stack(st, &conn->dest);
	if (!conn->description)
		return err_nomem(&conn->err);
	return PS_OK;
}

void chain_close_layers(struct ps_conn *conn, size_t count)
{
	for (size_t i = count; i-- > 0;) {
		struct ps_layer *l = &conn->layers[i];

		if (l->opened && l->ops->close)
			l->ops->close(l, l->state);
		l->state = NULL;
		l->opened = 0;
		l->established = 0;
		l->skipped = 0;
		buf_free(&l->unread);
		layer_release_jobs(l);
		l->detail[0] = '\0';
	}
}

void chain_teardown(struct ps_conn *conn)
{
	chain_close_layers(conn, conn->nlayers);
	conn->nlayers = 0;
	conn->next = 0;
	conn->nwants = 0;
	conn->wake_at_ms = 0;
	conn->reconnect_below = -1;
	conn->reconnects = 0;
}

/* A layer asked for a fresh connection below it (ps_layer_reconnect_below). */
static void rebuild_below(struct ps_conn *conn)
{
	size_t hop = (size_t)conn->reconnect_below;

	log_msg(&conn->snap->lg, PS_LOG_DEBUG, "[%zu] %s: reconnecting the"
		" layers below it", hop, conn->layers[hop].name);
	conn->reconnect_below = -1;
	chain_close_layers(conn, hop);
	conn->next = 0;
}

/* ------------------------------------------------------------------ */
/* stepping                                                            */
/* ------------------------------------------------------------------ */

void chain_clear_wants(struct ps_conn *conn)
{
	conn->nwants = 0;
	conn->wake_at_ms = 0;
}

static void report_step(struct ps_conn *conn, struct ps_layer *l)
{
	ps_step step = {
		.hop = l->hop,
		.layer = l->name,
		.detail = l->detail,
		.elapsed_us = (long)(clock_now_us() - conn->started_us),
	};

	log_msg(&conn->snap->lg, PS_LOG_DEBUG, "[%d] %s established %s",
		l->hop, l->name, l->detail);
	if (conn->opt.on_step)
		conn->opt.on_step(conn->opt.step_user, &step);
}

/*
 * Open every layer before any of them does I/O: a layer that cannot work
 * (socks, pac, a bad client key) fails here, so no traffic leaves for a
 * chain that could never be built.
 */
static int open_layers(struct ps_conn *conn)
{
	for (size_t i = 0; i < conn->nlayers; i++) {
		struct ps_layer *l = &conn->layers[i];
		int rc;

		if (l->opened)
			continue;	/* kept across a reconnect below */
		rc = l->ops->open ? l->ops->open(l, l->instance, &l->state)
				  : PS_OK;

		/* close() must see state from a failed open too. */
		l->opened = 1;
		if (rc != PS_OK) {
			conn->next = i;
			return rc;
		}
	}
	return PS_OK;
}

/* Fill in a generic error when a layer failed without saying why. */
static void ensure_error(struct ps_conn *conn, struct ps_layer *l, int rc)
{
	if (conn->err.code != PS_OK)
		return;
	err_set(&conn->err, rc, l ? l->name : "chain", l ? l->hop : -1, NULL,
		"%s failed (%s)", l ? l->name : "chain", ps_code_name(rc));
}

static int fail_timeout(struct ps_conn *conn)
{
	struct ps_layer *l = &conn->layers[conn->next];
	char where[300];

	url_format_authority(l->target_host, l->target_port, where,
			     sizeof(where));
	return err_set(&conn->err, PS_ERR_TIMEOUT, l->name, l->hop,
		       "is the host or proxy reachable? raise connect_timeout"
		       " if the path is just slow",
		       "%s toward %s did not finish within %ld ms", l->name,
		       where, conn->opt.timeout_ms);
}

/*
 * The class of a failure while layer 'l' was handshaking: a layer below
 * that was already up reports a reset or an end as an I/O error, but to
 * a person (and to route controls) it is the handshake that failed.
 */
static int handshake_class(const struct ps_layer *l)
{
	if (l->ops == &tls_layer_ops)
		return PS_ERR_TLS;
	if (l->ops == &ws_layer_ops)
		return PS_ERR_WEBSOCKET_HANDSHAKE;
	if (l->inst && (l->inst->mod->desc->caps & PS_CAP_PROXY))
		return PS_ERR_PROXY_PROTOCOL;
	return PS_ERR_IO;
}

static void blame_handshake(struct ps_conn *conn, const struct ps_layer *l)
{
	char message[PS_ERROR_MESSAGE_MAX], where[300];
	int code = handshake_class(l);

	if (conn->err.code != PS_ERR_IO || conn->err.hop >= l->hop ||
	    code == PS_ERR_IO)
		return;
	snprintf(message, sizeof(message), "%s", conn->err.message);
	url_format_authority(l->target_host, l->target_port, where,
			     sizeof(where));
	err_set(&conn->err, code, l->name, l->hop,
		"the peer broke the connection during the handshake: see"
		" its logs", "%s handshake with %s: %s", l->name, where,
		message);
}

/* A line failed: next alternative or the end.  Returns the step result. */
static int line_failed(struct ps_conn *conn, int rc)
{
	const struct route_line *line = &conn->choice.lines[conn->line];
	ps_error cause;

	ensure_error(conn, conn->next < conn->nlayers
				   ? &conn->layers[conn->next] : NULL, rc);
	if (conn->next < conn->nlayers)
		blame_handshake(conn, &conn->layers[conn->next]);
	chain_teardown(conn);
	if (route_action_for(line, conn->err.code) == ACT_NEXT &&
	    conn->line + 1 < conn->choice.nlines) {
		cause = conn->err;
		log_msg(&conn->snap->lg, PS_LOG_INFO, "stack %s failed (%s: %s);"
			" trying %s (%s)", line->stack->name,
			ps_code_name(cause.code), cause.message,
			conn->choice.lines[conn->line + 1].stack->name,
			line->control);
		conn->line++;
		ps_error_clear(&conn->err);
		if (chain_setup_line(conn) == PS_OK)
			return PS_AGAIN;	/* the caller loops on */
	}
	conn->state = CONN_FAILED;
	return conn->err.code;
}

void chain_forget_usage_error(struct ps_conn *conn)
{
	if (conn->state != CONN_FAILED && conn->err.code == PS_ERR_USAGE)
		ps_error_clear(&conn->err);
}

int chain_step(struct ps_conn *conn)
{
	int rc;

	if (conn->state == CONN_READY)
		return PS_OK;
	if (conn->state == CONN_FAILED)
		return conn->err.code;
	chain_forget_usage_error(conn);
	if (conn->select_job) {
		/* A select route: its lines exist once the module chose. */
		rc = select_step(conn);
		if (rc != PS_OK)
			return rc;
	}
	for (;;) {
		struct ps_layer *l;

		if (conn->next == conn->nlayers) {
			conn->state = CONN_READY;
			chain_clear_wants(conn);
			return PS_OK;
		}
		chain_clear_wants(conn);
		l = &conn->layers[conn->next];
		if (!l->opened) {
			rc = open_layers(conn);
			if (rc == PS_OK)
				continue;	/* all open: now connect */
		} else if (clock_now_ms() >= conn->deadline_ms) {
			rc = fail_timeout(conn);
		} else {
			rc = l->ops->connect ? l->ops->connect(l, l->state)
					     : PS_OK;
		}
		if (rc == PS_OK) {
			l->established = 1;
			report_step(conn, l);
			conn->next++;
			continue;
		}
		if (rc == PS_AGAIN && conn->reconnect_below >= 0) {
			rebuild_below(conn);
			continue;
		}
		if (rc == PS_AGAIN)
			return PS_AGAIN;
		rc = line_failed(conn, rc);
		if (rc != PS_AGAIN)
			return rc;
	}
}

/* Block until what chain_poll names is ready (or its timeout). */
void chain_wait(struct ps_conn *conn)
{
	struct pollfd pfd;
	ps_poll p;

	chain_poll(conn, &p.fd, &p.events, &p.timeout_ms);
	pfd.fd = p.fd;
	pfd.events = p.events;
	pfd.revents = 0;
	if (poll(&pfd, p.fd >= 0 ? 1 : 0, p.timeout_ms) < 0 && errno != EINTR)
		usleep(1000);	/* never spin hard on a poll failure */
}

int conn_is_websocket(const struct ps_conn *conn)
{
	return dest_is_websocket(&conn->dest);
}

/* ------------------------------------------------------------------ */
/* what to wait for                                                    */
/* ------------------------------------------------------------------ */

static int want_registered(const struct ps_conn *conn,
			   const struct chain_want *w)
{
	for (size_t i = 0; i < conn->nregistered; i++)
		if (conn->registered[i].fd == w->fd &&
		    conn->registered[i].events == w->events)
			return 1;
	return 0;
}

/* Make the epoll set equal to the wants; returns the epoll fd or -1. */
static int sync_epoll(struct ps_conn *conn)
{
	if (conn->epfd < 0) {
		conn->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (conn->epfd < 0)
			return -1;
	}
	for (size_t i = 0; i < conn->nregistered; i++)
		epoll_ctl(conn->epfd, EPOLL_CTL_DEL, conn->registered[i].fd,
			  NULL);
	conn->nregistered = 0;
	for (size_t i = 0; i < conn->nwants; i++) {
		struct chain_want *w = &conn->wants[i];
		struct epoll_event ev = { 0 };

		if (want_registered(conn, w))
			continue;
		ev.events = (w->events & POLLIN ? EPOLLIN : 0) |
			    (w->events & POLLOUT ? EPOLLOUT : 0);
		ev.data.fd = w->fd;
		if (epoll_ctl(conn->epfd, EPOLL_CTL_ADD, w->fd, &ev) == 0)
			conn->registered[conn->nregistered++] = *w;
	}
	return conn->epfd;
}

void chain_poll(struct ps_conn *conn, int *fd, short *events,
		int *timeout_ms)
{
	long long now = clock_now_ms(), until = -1;

	*fd = -1;
	*events = 0;
	if (conn->state == CONN_BUILDING)
		until = conn->deadline_ms;
	if (conn->wake_at_ms && (until < 0 || conn->wake_at_ms < until))
		until = conn->wake_at_ms;
	*timeout_ms = until < 0 ? -1 : until <= now ? 0 : (int)(until - now);
	if (conn->nwants == 1) {
		*fd = conn->wants[0].fd;
		*events = conn->wants[0].events;
	} else if (conn->nwants > 1) {
		/* Several sockets (happy eyeballs): one fd stands for all. */
		*fd = sync_epoll(conn);
		*events = POLLIN;
		if (*fd < 0)
			*timeout_ms = 10;	/* degrade to polling */
	}
}

/* ------------------------------------------------------------------ */
/* description                                                         */
/* ------------------------------------------------------------------ */

char *chain_describe_stack(const struct stack *st, const struct url *dest)
{
	struct buf b;

	buf_init(&b);
	/* A bottom proxy module dials its proxy itself, directly. */
	if (st->nhops && (st->hops[0]->mod->desc->caps & PS_CAP_BOTTOM) &&
	    (st->hops[0]->mod->desc->caps & PS_CAP_PROXY))
		buf_puts(&b, "direct -> ");
	for (size_t i = 0; i < st->nhops; i++) {
		const struct instance *inst = st->hops[i];
		char where[300];

		if (i)
			buf_puts(&b, " -> ");
		/* A proxy reached over TLS: that TLS is a step of its own. */
		if (inst->proxy_tls) {
			url_format_authority(inst->proxy_host,
					     inst->proxy_port, where,
					     sizeof(where));
			buf_printf(&b, "tls(%s) -> ", where);
		}
		buf_puts(&b, inst->display);
	}
	if (dest_needs_tls(dest))
		buf_puts(&b, " -> tls");
	if (dest_is_websocket(dest))
		buf_puts(&b, " -> websocket");
	return buf_steal(&b);
}
