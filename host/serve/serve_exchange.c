/*
 * serve_exchange.c - one absolute-form http:// request and its response
 * over the tunnel to the origin, so that the client's connection and
 * the tunnel can both carry the next request (keep-alive).
 *
 * Unlike a CONNECT tunnel, bytes are framed, one request at a time:
 *   up      the origin-form request (queued by the session), then the
 *           request body as its Content-Length or chunked framing says;
 *           bytes the client sends after the body (its next request)
 *           are kept in the session's head buffer, not sent.
 *   down    the response head is read whole (at most SERVE_HEAD_MAX),
 *           checked, and passed on without hop-by-hop headers and with
 *           our own Connection header; 1xx heads are passed on and the
 *           next head read.  Then the body, by Content-Length, chunked
 *           framing (trailers included) or until the origin closes.
 * The exchange is complete when the response has been relayed whole;
 * the session then logs it and reads the next request head, or ends the
 * client connection: a close-delimited response, the client's or the
 * origin's "close", a body not fully sent.  A malformed response is a
 * 502 while nothing has reached the client, else the end of it.
 * Copies go through the relay buffers (no splice: the framing must be
 * seen).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "serve_session.h"

struct exchange *exchange_new(const struct http_request *r)
{
	struct exchange *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return NULL;
	ex->req = r->body;
	ex->req_done = r->body.done;
	ex->head_request = !strcmp(r->method, "HEAD");
	ex->keep_client = r->keep;
	ex->has_body = !r->body.done;
	ex->reusable = 1;
	snprintf(ex->host, sizeof(ex->host), "%s", r->host);
	ex->port = r->port;
	ex->host_is_v6 = r->host_is_v6;
	return ex;
}

void exchange_free(struct exchange *ex)
{
	if (!ex)
		return;
	free(ex->rhead);
	free(ex->again);
	free(ex->fwd);
	free(ex);
}

/* A relay buffer big enough to read into (it is empty here). */
static int exchange_buffer(struct relay_dir *d)
{
	char *grown;

	if (d->cap >= SERVE_RELAY_BUFFER)
		return 0;
	grown = realloc(d->buf, SERVE_RELAY_BUFFER);
	if (!grown)
		return -1;
	d->buf = grown;
	d->cap = SERVE_RELAY_BUFFER;
	return 0;
}

/* Append p[0..len) to a buffer holding 'used' bytes, growing it. */
static int exchange_append(char **buf, size_t used, size_t *cap,
			   const char *p, size_t len)
{
	char *grown;

	if (len == 0)
		return 0;
	if (used + len > *cap) {
		grown = realloc(*buf, used + len);
		if (!grown)
			return -1;
		*buf = grown;
		*cap = used + len;
	}
	memcpy(*buf + used, p, len);
	return 0;
}

/* Keep the client's bytes after the request body for the next head. */
static int exchange_stash(struct session *s, const char *p, size_t len)
{
	if (exchange_append(&s->head, s->head_len, &s->head_cap, p, len))
		return -1;
	s->head_len += len;
	return 0;
}

/* ------------------------------------------------------------------ */
/* client -> origin                                                    */
/* ------------------------------------------------------------------ */

static int exchange_flush_up(struct session *s, int *progress)
{
	struct relay_dir *d = &s->up;

	while (d->start < d->end) {
		size_t n;
		enum io_result r = tunnel_upstream_write(s, d->buf + d->start,
							 d->end - d->start, &n);

		if (r == IO_AGAIN) {
			d->wait_dst = 1;
			return 1;
		}
		if (r != IO_DONE) {
			if (!s->result)
				s->result = "io";
			return -1;
		}
		d->start += n;
		s->nup += n;
		*progress = 1;
	}
	d->start = d->end = 0;
	return 0;
}

/* The request body from the client, as far as its framing goes. */
static int exchange_up(struct session *s, int *progress)
{
	struct exchange *ex = s->ex;
	struct relay_dir *d = &s->up;

	for (;;) {
		size_t got;
		long n;
		enum io_result r;
		int rc = exchange_flush_up(s, progress);

		if (rc)
			return rc < 0 ? -1 : 0;
		if (ex->req_done || ex->resp_done)
			return 0;
		if (exchange_buffer(d))
			return -1;
		r = tunnel_fd_result(recv(s->fd, d->buf, d->cap, 0), &got);
		if (r == IO_AGAIN) {
			d->wait_src = 1;
			return 0;
		}
		if (r != IO_DONE) {
			s->result = "client-closed";
			return -1;
		}
		n = http_body_scan(&ex->req, d->buf, got);
		if (n < 0) {
			s->result = "bad-request";
			ex->bad_body = 1;	/* answered 400 if still can */
			return -1;
		}
		ex->req_done = ex->req.done;
		if (exchange_stash(s, d->buf + n, got - (size_t)n))
			return -1;
		d->end = (size_t)n;
		*progress = 1;
	}
}

/* ------------------------------------------------------------------ */
/* origin -> client                                                    */
/* ------------------------------------------------------------------ */

static int exchange_flush_down(struct session *s, int *progress)
{
	struct relay_dir *d = &s->down;

	while (d->start < d->end) {
		size_t n;
		enum io_result r = tunnel_fd_result(
			send(s->fd, d->buf + d->start, d->end - d->start,
			     MSG_NOSIGNAL), &n);

		if (r == IO_AGAIN) {
			d->wait_dst = 1;
			return 1;
		}
		if (r != IO_DONE) {
			s->result = "client-closed";
			return -1;
		}
		d->start += n;
		s->ndown += n;
		s->ex->sent += n;
		*progress = 1;
	}
	d->start = d->end = 0;
	return 0;
}

/* Queue bytes for the client (the down buffer is empty or holds heads). */
static int exchange_queue_down(struct session *s, const char *p, size_t len)
{
	struct relay_dir *d = &s->down;

	if (exchange_append(&d->buf, d->end, &d->cap, p, len))
		return -1;
	d->end += len;
	return 0;
}

static void exchange_drop_head(struct exchange *ex, size_t n)
{
	memmove(ex->rhead, ex->rhead + n, ex->rhead_len - n);
	ex->rhead_len -= n;
}

/* A final head is complete: pass it on, with the body bytes after it. */
static int exchange_final_head(struct session *s)
{
	struct exchange *ex = s->ex;
	size_t len, rest;
	long n;
	char *head;

	if (ex->forwarded && ex->resp.status == 407) {
		s->result = "proxy-auth";  /* the hop's, answered 502 */
		return -1;
	}
	ex->head_done = 1;
	s->status = ex->resp.status;
	if (!ex->resp.keep)
		ex->reusable = 0;
	if (!ex->resp.keep && ex->resp.body.kind == BODY_CLOSE)
		ex->keep_client = 0;
	head = http_client_response(ex->rhead, &ex->resp,
				    ex->keep_client && ex->req_done, &len);
	if (!head || exchange_queue_down(s, head, len)) {
		free(head);
		return -1;
	}
	free(head);
	exchange_drop_head(ex, ex->resp.head_len);
	rest = ex->rhead_len;
	n = http_body_scan(&ex->resp.body, ex->rhead, rest);
	if (n < 0) {
		s->result = "bad-response";
		return -1;
	}
	if (exchange_queue_down(s, ex->rhead, (size_t)n))
		return -1;
	ex->resp_done = ex->resp.body.done;
	if ((size_t)n < rest)   /* bytes past the body: not to be trusted */
		ex->reusable = 0;
	ex->rhead_len = 0;
	return 0;
}

/* Parse what came of the head: 1xx heads pass on, then the final one. */
static int exchange_parse_heads(struct session *s)
{
	struct exchange *ex = s->ex;

	for (;;) {
		size_t len;
		char *head;
		int rc = http_parse_response(ex->rhead, ex->rhead_len,
					     ex->head_request, &ex->resp);

		if (rc == 1)
			return 0;
		if (rc < 0) {
			s->result = "bad-response";
			return -1;
		}
		if (ex->resp.status >= 200 || ex->resp.status == 101)
			return exchange_final_head(s);
		head = http_client_response(ex->rhead, &ex->resp, 0, &len);
		if (!head || exchange_queue_down(s, head, len)) {
			free(head);
			return -1;
		}
		free(head);
		exchange_drop_head(ex, ex->resp.head_len);
	}
}

/* Read into the response head buffer (SERVE_HEAD_MAX at most). */
static enum io_result exchange_read_head(struct session *s)
{
	struct exchange *ex = s->ex;
	size_t n;
	enum io_result r;

	if (!ex->rhead) {
		ex->rhead = malloc(SERVE_HEAD_MAX + 1);
		if (!ex->rhead)
			return IO_FAIL;
	}
	if (ex->rhead_len > SERVE_HEAD_MAX) {
		s->result = "bad-response";
		return IO_FAIL;
	}
	r = tunnel_upstream_read(s, ex->rhead + ex->rhead_len,
				 SERVE_HEAD_MAX + 1 - ex->rhead_len, &n);
	if (r == IO_DONE)
		ex->rhead_len += n;
	return r;
}

/* The origin ended its stream: the end of a close-delimited body. */
static int exchange_upstream_eof(struct session *s)
{
	struct exchange *ex = s->ex;

	ex->reusable = 0;
	if (ex->head_done && ex->resp.body.kind == BODY_CLOSE) {
		ex->resp_done = 1;
		ex->keep_client = 0;
		return 0;
	}
	if (!s->result)
		s->result = ex->head_done ? "io" : "bad-response";
	return -1;
}

/* One read from the origin: head bytes or body bytes. */
static int exchange_read_down(struct session *s, int *progress)
{
	struct exchange *ex = s->ex;
	struct relay_dir *d = &s->down;
	enum io_result r;
	size_t got = 0;
	long n;

	if (!ex->head_done)
		r = exchange_read_head(s);
	else if (exchange_buffer(d))
		return -1;
	else
		r = tunnel_upstream_read(s, d->buf, d->cap, &got);
	if (r == IO_AGAIN) {
		d->wait_src = 1;
		return 1;
	}
	if (r == IO_EOF)
		return exchange_upstream_eof(s);
	if (r != IO_DONE) {
		if (!s->result)
			s->result = "io";
		return -1;
	}
	*progress = 1;
	if (!ex->head_done)
		return exchange_parse_heads(s);
	n = http_body_scan(&ex->resp.body, d->buf, got);
	if (n < 0) {
		s->result = "bad-response";
		return -1;
	}
	ex->resp_done = ex->resp.body.done;
	if ((size_t)n < got)
		ex->reusable = 0;
	d->end = (size_t)n;
	return 0;
}

static int exchange_down(struct session *s, int *progress)
{
	for (;;) {
		int rc = exchange_flush_down(s, progress);

		if (rc)
			return rc < 0 ? -1 : 0;
		if (s->ex->resp_done)
			return 0;
		rc = exchange_read_down(s, progress);
		if (rc)
			return rc < 0 ? -1 : 0;
	}
}

/* ------------------------------------------------------------------ */
/* the exchange                                                        */
/* ------------------------------------------------------------------ */

int exchange_pump(struct session *s)
{
	struct exchange *ex = s->ex;
	int progress, moved = 0;

	do {
		progress = 0;
		s->nwant = 0;
		s->wake_ms = 0;
		s->up.wait_src = s->up.wait_dst = 0;
		s->down.wait_src = s->down.wait_dst = 0;
		if (exchange_up(s, &progress) || exchange_down(s, &progress)) {
			/* Every other failure named itself. */
			if (!s->result)
				s->result = "nomem";
			return 0;
		}
		moved |= progress;
	} while (progress && !(ex->resp_done && s->down.start == s->down.end));
	s->moved = moved;
	if (moved)
		s->last_io_ms = serve_now_ms();
	if (ex->resp_done && s->down.start == s->down.end) {
		if (!ex->req_done)
			ex->keep_client = ex->reusable = 0;
		return 2;
	}
	return tunnel_wait(s);
}
