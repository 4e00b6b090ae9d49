/*
 * layer.c - the services a layer may call (module.h), and I/O through a
 * chain of layers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* dladdr */
#endif

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chain.h"
#include "error.h"

const char *ps_layer_target_host(const ps_layer *layer)
{
	return layer->target_host;
}

unsigned ps_layer_target_port(const ps_layer *layer)
{
	return layer->target_port;
}

int ps_layer_hop(const ps_layer *layer)
{
	return layer->hop;
}

long ps_layer_remaining_ms(const ps_layer *layer)
{
	long long left = layer->conn->deadline_ms - clock_now_ms();

	return left > 0 ? (long)left : 0;
}

void ps_layer_want(ps_layer *layer, int fd, short events)
{
	struct ps_conn *conn = layer->conn;

	for (size_t i = 0; i < conn->nwants; i++) {
		if (conn->wants[i].fd == fd) {
			conn->wants[i].events |= events;
			return;
		}
	}
	if (conn->nwants < CHAIN_MAX_WANTS) {
		conn->wants[conn->nwants].fd = fd;
		conn->wants[conn->nwants].events = events;
		conn->nwants++;
		return;
	}
	/* No room to name this fd: look at it again soon instead of
	 * never (chain_poll falls back the same way). */
	ps_layer_wake_in(layer, 10);
}

void ps_layer_set_socket(ps_layer *layer, int fd)
{
	layer->socket_fd = fd;
	layer->has_socket = fd >= 0;
}

int ps_layer_forward_take(ps_layer *layer, size_t max_len,
			  const char **head, size_t *len, int *has_body)
{
	struct ps_conn *conn = layer->conn;
	struct conn_options *co = &conn->opt;

	/* Only the last layer reaches the destination with nothing above
	 * it, and only once per route line. */
	if (!co->forward_head || co->forward_taken || layer->sub ||
	    (size_t)layer->hop + 1 != conn->nlayers ||
	    co->forward_head_len > max_len)
		return PS_ERR_UNSUPPORTED;
	co->forward_taken = 1;
	*head = co->forward_head;
	*len = co->forward_head_len;
	*has_body = co->forward_has_body;
	return PS_OK;
}

void ps_layer_wake_in(ps_layer *layer, long ms)
{
	struct ps_conn *conn = layer->conn;
	long long at = clock_now_ms() + (ms > 0 ? ms : 0);

	if (!conn->wake_at_ms || at < conn->wake_at_ms)
		conn->wake_at_ms = at;
}

int ps_layer_fail(ps_layer *layer, int code, const char *hint,
		  const char *fmt, ...)
{
	/* A sub-chain's failure is its own: it outlives the connection
	 * that happens to drive it (ps_subchain_why tells the module). */
	ps_error *err = layer->sub ? &layer->sub->err : &layer->conn->err;
	va_list ap;

	/* The first failure is the cause; layers above only relay it. */
	if (err->code != PS_OK)
		return err->code;
	va_start(ap, fmt);
	err_setv(err, code, layer->name, layer->hop, hint, fmt, ap);
	va_end(ap);
	return code;
}

void ps_layer_log(ps_layer *layer, int level, const char *fmt, ...)
{
	char msg[800];
	va_list ap;

	/* Debug lines are many per connection: format only what is kept. */
	if (level > layer->conn->snap->lg.level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(&layer->conn->snap->lg, level, "[%d] %s: %s", layer->hop,
		layer->name, msg);
}

void ps_layer_set_detail(ps_layer *layer, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(layer->detail, sizeof(layer->detail), fmt, ap);
	va_end(ap);
}

int ps_layer_unread(ps_layer *layer, const void *buf, size_t len)
{
	struct buf *b = &layer->unread;

	if (len == 0)
		return PS_OK;
	/* Given-back bytes go in front of anything still unread. */
	if (buf_unread(b) == 0)
		return buf_append(b, buf, len) ? PS_ERR_NOMEM : PS_OK;
	{
		struct buf merged;

		buf_init(&merged);
		buf_append(&merged, buf, len);
		buf_append(&merged, b->data + b->start, buf_unread(b));
		if (merged.oom) {
			buf_free(&merged);
			return PS_ERR_NOMEM;
		}
		buf_free(b);
		*b = merged;
	}
	return PS_OK;
}

int ps_layer_reconnect_below(ps_layer *layer)
{
	struct ps_conn *conn = layer->conn;

	if (layer->hop == 0 || layer->sub)
		return ps_layer_fail(layer, PS_ERR_INTERNAL, NULL,
				     "%s has no layer below to reconnect",
				     layer->name);
	/* Building what ps_layer_skip_below() skipped is no reconnect. */
	if (conn->layers[0].skipped) {
		conn->reconnect_below = layer->hop;
		return PS_AGAIN;
	}
	if (conn->reconnects >= 3)
		return ps_layer_fail(layer, PS_ERR_PROXY_PROTOCOL,
				     "see the proxy's logs",
				     "the connection below %s was closed"
				     " three times during its handshake",
				     layer->name);
	conn->reconnects++;
	conn->reconnect_below = layer->hop;
	return PS_AGAIN;
}

int ps_layer_resolve(ps_layer *layer, const char *host, unsigned port,
		     const struct addrinfo **res)
{
	int gai_error;

	*res = NULL;
	if (!layer->resolve && resolve_start(host, port, &layer->resolve) < 0) {
		int e = errno;

		/* No memory, descriptor or thread for the lookup. */
		return ps_layer_fail(layer, e == ENOMEM || e == EAGAIN
					    ? PS_ERR_NOMEM : PS_ERR_RESOLVE, NULL,
				     "cannot start resolving %s: %s", host,
				     strerror(e));
	}
	if (resolve_result(layer->resolve, res, &gai_error)) {
		ps_layer_want(layer, resolve_fd(layer->resolve), POLLIN);
		return PS_AGAIN;
	}
	if (!*res)
		return ps_layer_fail(layer, PS_ERR_RESOLVE,
				     "check the host name, /etc/hosts and"
				     " /etc/resolv.conf",
				     "cannot resolve %s: %s", host,
				     gai_strerror(gai_error));
	return PS_OK;
}

/*
 * Keep the module whose code 'fn' is mapped for the rest of the process:
 * its work (or its abandon function) may still run on a helper thread
 * after the snapshot that loaded it is gone.  Best effort: when it fails
 * (the code is in the program itself), there is nothing to unload.
 */
static void pin_module_of(void (*fn)(void *))
{
	Dl_info info;
	void *self;

	if (!dladdr((const void *)(uintptr_t)fn, &info) || !info.dli_fname)
		return;
	/* RTLD_NOLOAD: only a library already mapped; the handle adds a
	 * reference that is never dropped, on top of RTLD_NODELETE. */
	self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
	(void)self;
}

static int offload_begin(ps_layer *layer, void (*work)(void *arg),
			 void (*abandon)(void *arg), void *arg)
{
	int e;

	if (offload_start(work, abandon, arg, &layer->offload) == 0) {
		if (layer->inst)
			pin_module_of(work);
		ps_layer_want(layer, offload_fd(layer->offload), POLLIN);
		return PS_AGAIN;
	}
	e = errno;
	/* Out of memory, threads or descriptors: resources, as NOMEM. */
	return ps_layer_fail(layer, PS_ERR_NOMEM,
			     e == EMFILE || e == ENFILE
				     ? "raise the limit on open files (ulimit -n)"
				     : NULL,
			     "%s: cannot start a helper thread: %s",
			     layer->name, strerror(e));
}

int ps_layer_offload(ps_layer *layer, void (*work)(void *arg),
		     void (*abandon)(void *arg), void *arg)
{
	if (!layer->offload)
		return offload_begin(layer, work, abandon, arg);
	if (offload_arg(layer->offload) != arg)
		return ps_layer_fail(layer, PS_ERR_INTERNAL, NULL,
				     "%s: a second offloaded job while one"
				     " runs", layer->name);
	if (!offload_done(layer->offload)) {
		ps_layer_want(layer, offload_fd(layer->offload), POLLIN);
		return PS_AGAIN;
	}
	offload_take(layer->offload);
	layer->offload = NULL;
	return PS_OK;
}

void layer_release_jobs(struct ps_layer *l)
{
	resolve_release(l->resolve);
	l->resolve = NULL;
	offload_release(l->offload);
	l->offload = NULL;
}

/* ------------------------------------------------------------------ */
/* I/O through the chain                                               */
/* ------------------------------------------------------------------ */

struct ps_layer *layer_below(struct ps_layer *l)
{
	if (l->hop <= 0)
		return NULL;
	return l->sub ? &l->sub->layers[l->hop - 1]
		      : &l->conn->layers[l->hop - 1];
}

int layer_send(struct ps_layer *l, const void *buf, size_t len, size_t *n)
{
	*n = 0;
	for (; l; l = layer_below(l)) {
		if (l->ops->send)
			return l->ops->send(l, l->state, buf, len, n);
	}
	return PS_ERR_INTERNAL;
}

int layer_recv(struct ps_layer *l, void *buf, size_t len, size_t *n)
{
	*n = 0;
	for (; l; l = layer_below(l)) {
		if (buf_unread(&l->unread)) {
			*n = buf_take(&l->unread, buf, len);
			return PS_OK;
		}
		if (l->ops->recv)
			return l->ops->recv(l, l->state, buf, len, n);
	}
	return PS_ERR_INTERNAL;
}

int layer_shutdown_write(struct ps_layer *l)
{
	for (; l; l = layer_below(l))
		if (l->ops->shutdown_write)
			return l->ops->shutdown_write(l, l->state);
	return PS_OK;
}

int ps_layer_send_below(ps_layer *layer, const void *buf, size_t len,
			size_t *n)
{
	struct ps_layer *below = layer_below(layer);

	*n = 0;
	if (!below)
		return ps_layer_fail(layer, PS_ERR_INTERNAL, NULL,
				     "no layer below %s", layer->name);
	return layer_send(below, buf, len, n);
}

int ps_layer_recv_below(ps_layer *layer, void *buf, size_t len, size_t *n)
{
	struct ps_layer *below = layer_below(layer);

	*n = 0;
	if (!below)
		return ps_layer_fail(layer, PS_ERR_INTERNAL, NULL,
				     "no layer below %s", layer->name);
	return layer_recv(below, buf, len, n);
}

int ps_layer_shutdown_below(ps_layer *layer)
{
	struct ps_layer *below = layer_below(layer);

	if (!below)
		return ps_layer_fail(layer, PS_ERR_INTERNAL, NULL,
				     "no layer below %s", layer->name);
	return layer_shutdown_write(below);
}

/* End of an HTTP head in buf[0..len): index past it, or 0. */
static size_t head_end(const char *buf, size_t len, size_t from)
{
	for (size_t i = from; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i >= 1 && buf[i - 1] == '\n')
			return i + 1;
		if (i >= 3 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

int ps_layer_read_head(ps_layer *layer, char *head, size_t cap,
		       size_t *filled, size_t *head_len)
{
	size_t n, end;
	int rc;

	*head_len = 0;
	for (;;) {
		if (*filled >= cap)
			return ps_layer_fail(layer, PS_ERR_PROXY_PROTOCOL,
					     "the proxy's answer is not HTTP or"
					     " is hostile",
					     "response head longer than %zu"
					     " bytes", cap);
		/* Our own given-back bytes first (a second head on the
		 * same connection, after a 407). */
		if (buf_unread(&layer->unread)) {
			n = buf_take(&layer->unread, head + *filled,
				     cap - *filled);
			rc = PS_OK;
		} else {
			rc = ps_layer_recv_below(layer, head + *filled,
						 cap - *filled, &n);
		}
		if (rc != PS_OK)
			return rc;
		if (n == 0)
			return ps_layer_fail(layer, PS_ERR_PROXY_PROTOCOL,
					     "the proxy closed the connection;"
					     " see its logs",
					     "connection closed after %zu bytes"
					     " of the response head", *filled);
		end = head_end(head, *filled + n, *filled > 3 ? *filled - 3 : 0);
		*filled += n;
		if (end) {
			*head_len = end;
			if (*filled > end &&
			    ps_layer_unread(layer, head + end, *filled - end))
				return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
						     "out of memory");
			return PS_OK;
		}
	}
}

/* ------------------------------------------------------------------ */
/* byte protocols (module.h, since ABI 1.2)                            */
/* ------------------------------------------------------------------ */

int ps_layer_send_all(ps_layer *layer, const void *buf, size_t len,
		      struct ps_bytes_progress *progress)
{
	const unsigned char *bytes = buf;
	size_t n;
	int rc;

	if (progress->done > len)
		return ps_layer_fail(layer, PS_ERR_INTERNAL, NULL,
				     "%s: send progress %zu past the message's"
				     " %zu bytes", layer->name, progress->done,
				     len);
	while (progress->done < len) {
		rc = ps_layer_send_below(layer, bytes + progress->done,
					 len - progress->done, &n);
		if (rc != PS_OK)
			return rc;
		/* Nothing taken and no PS_AGAIN: looping would spin. */
		if (n == 0)
			return ps_layer_fail(layer, PS_ERR_IO, NULL,
					     "the layer below %s accepted no"
					     " bytes", layer->name);
		progress->done += n;
	}
	progress->done = 0;
	return PS_OK;
}

/* One read for recv_exact: this layer's given-back bytes first. */
static int recv_some(ps_layer *layer, unsigned char *buf, size_t len,
		     size_t *n)
{
	if (buf_unread(&layer->unread)) {
		*n = buf_take(&layer->unread, buf, len);
		return PS_OK;
	}
	return ps_layer_recv_below(layer, buf, len, n);
}

int ps_layer_recv_exact(ps_layer *layer, void *buf, size_t len,
			struct ps_bytes_progress *progress, const char *what)
{
	unsigned char *bytes = buf;
	size_t n;
	int rc;

	if (progress->done > len)
		return ps_layer_fail(layer, PS_ERR_INTERNAL, NULL,
				     "%s: receive progress %zu past the"
				     " message's %zu bytes", layer->name,
				     progress->done, len);
	while (progress->done < len) {
		rc = recv_some(layer, bytes + progress->done,
			       len - progress->done, &n);
		if (rc != PS_OK)
			return rc;
		if (n == 0)
			return ps_layer_fail(layer, PS_ERR_PROXY_PROTOCOL,
					     "the peer closed the connection;"
					     " see its logs",
					     "connection closed after %zu of"
					     " %zu bytes of %s", progress->done,
					     len, what ? what : "the answer");
		progress->done += n;
	}
	progress->done = 0;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* ABI 1.2: queries, skipping the layers below, the clock              */
/* ------------------------------------------------------------------ */

int ps_layer_query_below(ps_layer *layer, int what, void *out, size_t size)
{
	for (struct ps_layer *l = layer_below(layer); l; l = layer_below(l)) {
		int rc;

		/* A skipped or detached layer has no state to ask. */
		if (!l->ops->query || !l->established || !l->state)
			continue;
		rc = l->ops->query(l, l->state, what, out, size);
		if (rc != PS_ERR_UNSUPPORTED)
			return rc;
	}
	return PS_ERR_UNSUPPORTED;
}

int ps_layer_skip_below(ps_layer *layer)
{
	struct ps_conn *conn = layer->conn;

	if (layer->hop == 0 || layer->sub)
		return ps_layer_fail(layer, PS_ERR_INTERNAL, NULL,
				     "%s has no layer below to skip",
				     layer->name);
	/* Opened bottom-up: those below are open, none is connected. */
	chain_close_layers(conn, (size_t)layer->hop);
	for (int i = 0; i < layer->hop; i++) {
		conn->layers[i].established = 1;
		conn->layers[i].skipped = 1;
	}
	conn->next = (size_t)layer->hop;
	ps_layer_log(layer, PS_LOG_DEBUG, "no connection below for this "
		     "tunnel: it rides one the module holds");
	return PS_OK;
}

long long ps_clock_ms(void)
{
	return clock_now_ms();
}
