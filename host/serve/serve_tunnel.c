/*
 * serve_tunnel.c - relaying an established tunnel both ways.
 *
 * Two paths, chosen once when the chain is up:
 *   splice   ps_conn_fd() gave the raw socket (the chain is transparent
 *            down to TCP: direct, or CONNECT through a plain proxy):
 *            bytes go socket -> pipe -> socket with splice(2) and never
 *            enter user space.
 *   chain    anything else (TLS to an https proxy, an HTTP/2 stream):
 *            ps_conn_read()/ps_conn_write() through a buffer of
 *            SERVE_RELAY_BUFFER bytes per direction.
 * Either way a direction first sends the bytes queued in its buffer (the
 * origin-form request, bytes the client sent right after its request),
 * stops reading its source while its sink is full (backpressure: at most
 * a buffer or a pipe per direction is held), and passes an end of stream
 * on as a half-close, so the other direction keeps flowing.  A tunnel is
 * done when both directions have ended.
 *
 * Every try that would block says what it waits for (wait_src/wait_dst,
 * and for the chain its ps_conn_poll()), and the loop registers exactly
 * that: no readiness is watched that nothing is waiting for.
 *
 * An absolute-form http:// request is not a tunnel but an exchange
 * (serve_exchange.c): tunnel_pump() hands it over, and may then return
 * 2 when the response has been relayed whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve_session.h"

/* ------------------------------------------------------------------ */
/* the upstream side: the raw socket or the chain                      */
/* ------------------------------------------------------------------ */

static void tunnel_want(struct session *s, int fd, short events)
{
	for (size_t i = 0; i < s->nwant; i++)
		if (s->want[i].fd == fd) {
			s->want[i].events |= events;
			return;
		}
	if (s->nwant < 2) {
		s->want[s->nwant].fd = fd;
		s->want[s->nwant++].events = events;
	}
}

/* After PS_AGAIN from the chain: what it waits for, and until when. */
static void tunnel_want_chain(struct session *s)
{
	ps_poll p;

	ps_conn_poll(s->conn, &p);
	if (p.fd >= 0)
		tunnel_want(s, p.fd, p.events);
	if (p.timeout_ms >= 0) {
		long long at = serve_now_ms() + p.timeout_ms;

		if (!s->wake_ms || at < s->wake_ms)
			s->wake_ms = at;
	}
}

static enum io_result tunnel_chain_result(struct session *s, int rc)
{
	if (rc == PS_AGAIN) {
		tunnel_want_chain(s);
		return IO_AGAIN;
	}
	if (!s->result)
		s->result = ps_code_name(rc);
	return IO_FAIL;
}

enum io_result tunnel_fd_result(ssize_t n, size_t *done)
{
	if (n > 0) {
		*done = (size_t)n;
		return IO_DONE;
	}
	if (n == 0)
		return IO_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return IO_AGAIN;
	return IO_FAIL;
}

enum io_result tunnel_upstream_read(struct session *s, void *buf, size_t len,
				    size_t *n)
{
	int rc;

	*n = 0;
	if (s->raw >= 0)
		return tunnel_fd_result(recv(s->raw, buf, len, 0), n);
	rc = ps_conn_read(s->conn, buf, len, n);
	if (rc == PS_OK)
		return *n ? IO_DONE : IO_EOF;
	return tunnel_chain_result(s, rc);
}

enum io_result tunnel_upstream_write(struct session *s, const void *buf,
				     size_t len, size_t *n)
{
	int rc;

	*n = 0;
	if (s->raw >= 0)
		return tunnel_fd_result(send(s->raw, buf, len, MSG_NOSIGNAL),
					n);
	rc = ps_conn_write(s->conn, buf, len, n);
	return rc == PS_OK ? IO_DONE : tunnel_chain_result(s, rc);
}

static enum io_result upstream_shutdown(struct session *s)
{
	int rc;

	if (s->raw >= 0)
		return shutdown(s->raw, SHUT_WR) == 0 ? IO_DONE : IO_FAIL;
	rc = ps_conn_shutdown_write(s->conn);
	return rc == PS_OK ? IO_DONE : tunnel_chain_result(s, rc);
}

/* ------------------------------------------------------------------ */
/* one direction                                                       */
/* ------------------------------------------------------------------ */

struct endpoint_ops {
	enum io_result (*read)(struct session *s, void *buf, size_t len,
			       size_t *n);
	enum io_result (*write)(struct session *s, const void *buf,
				size_t len, size_t *n);
	enum io_result (*shutdown)(struct session *s);
	int (*fd)(const struct session *s);     /* for splice; -1: none */
};

static enum io_result client_read(struct session *s, void *buf, size_t len,
				  size_t *n)
{
	*n = 0;
	return tunnel_fd_result(recv(s->fd, buf, len, 0), n);
}

/* A write to the client that fails: the client hung up. */
static enum io_result client_gone(struct session *s, enum io_result r)
{
	if (r == IO_FAIL && !s->result)
		s->result = "client-closed";
	return r;
}

static enum io_result client_write(struct session *s, const void *buf,
				   size_t len, size_t *n)
{
	*n = 0;
	return client_gone(s, tunnel_fd_result(send(s->fd, buf, len,
						    MSG_NOSIGNAL), n));
}

static enum io_result client_shutdown(struct session *s)
{
	return shutdown(s->fd, SHUT_WR) == 0 ? IO_DONE : IO_FAIL;
}

static int client_fd(const struct session *s)
{
	return s->fd;
}

static int upstream_fd(const struct session *s)
{
	return s->raw;
}

static const struct endpoint_ops client_ops = {
	client_read, client_write, client_shutdown, client_fd,
};
static const struct endpoint_ops upstream_ops = {
	tunnel_upstream_read, tunnel_upstream_write, upstream_shutdown,
	upstream_fd,
};

/* Send what the buffer holds; IO_DONE when it is empty. */
static enum io_result dir_flush(struct session *s, struct relay_dir *d,
				const struct endpoint_ops *dst,
				unsigned long long *count, int *progress)
{
	while (d->start < d->end) {
		size_t n;
		enum io_result r = dst->write(s, d->buf + d->start,
					      d->end - d->start, &n);

		if (r == IO_AGAIN)
			d->wait_dst = 1;
		if (r != IO_DONE)
			return r == IO_EOF ? IO_FAIL : r;
		d->start += n;
		*count += n;
		*progress = 1;
	}
	d->start = d->end = 0;
	return IO_DONE;
}

/* Note what a read from the source said: it would block, or it ended. */
static enum io_result dir_read_result(struct relay_dir *d, enum io_result r)
{
	if (r == IO_AGAIN)
		d->wait_src = 1;
	if (r == IO_EOF)
		d->src_eof = 1;
	return r;
}

/* The read/write path: fill the buffer from the source, then flush. */
static enum io_result dir_copy(struct session *s, struct relay_dir *d,
			       const struct endpoint_ops *src,
			       const struct endpoint_ops *dst,
			       unsigned long long *count, int *progress)
{
	for (;;) {
		enum io_result r = dir_flush(s, d, dst, count, progress);
		size_t n;

		if (r != IO_DONE || d->src_eof)
			return r;
		if (d->cap < SERVE_RELAY_BUFFER) {
			/* Empty here: a buffer that held a first request
			 * only grows to the copy size. */
			char *grown = realloc(d->buf, SERVE_RELAY_BUFFER);

			if (!grown)
				return IO_FAIL;
			d->buf = grown;
			d->cap = SERVE_RELAY_BUFFER;
		}
		r = dir_read_result(d, src->read(s, d->buf, d->cap, &n));
		if (r != IO_DONE)
			return r == IO_EOF ? IO_DONE : r;
		d->end = n;
		*progress = 1;
	}
}

static int dir_make_pipe(struct relay_dir *d)
{
	if (d->pipe[0] >= 0)
		return 0;
	return pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC);
}

/* The splice path: source -> pipe -> sink, after the buffer is sent. */
static enum io_result dir_splice(struct session *s, struct relay_dir *d,
				 const struct endpoint_ops *src,
				 const struct endpoint_ops *dst,
				 unsigned long long *count, int *progress)
{
	enum io_result r = dir_flush(s, d, dst, count, progress);
	size_t n;

	if (r != IO_DONE)
		return r;
	if (dir_make_pipe(d))
		return IO_FAIL;
	for (;;) {
		if (d->in_pipe > 0) {
			r = tunnel_fd_result(splice(d->pipe[0], NULL,
						    dst->fd(s), NULL,
						    d->in_pipe,
						    SPLICE_F_MOVE |
						    SPLICE_F_NONBLOCK), &n);
			if (dst == &client_ops)
				client_gone(s, r);
			if (r == IO_AGAIN)
				d->wait_dst = 1;
			if (r != IO_DONE)
				return r == IO_EOF ? IO_FAIL : r;
			d->in_pipe -= n;
			*count += n;
			*progress = 1;
			continue;
		}
		if (d->src_eof)
			return IO_DONE;
		r = dir_read_result(d, tunnel_fd_result(splice(src->fd(s), NULL,
						       d->pipe[1], NULL,
						       SERVE_PIPE_CHUNK,
						       SPLICE_F_MOVE |
						       SPLICE_F_NONBLOCK),
						&n));
		if (r != IO_DONE)
			return r == IO_EOF ? IO_DONE : r;
		d->in_pipe += n;
		*progress = 1;
	}
}

/* One direction as far as it goes; IO_FAIL ends the tunnel. */
static enum io_result dir_pump(struct session *s, struct relay_dir *d,
			       const struct endpoint_ops *src,
			       const struct endpoint_ops *dst,
			       unsigned long long *count, int *progress)
{
	enum io_result r;

	if (d->shut)
		return IO_DONE;
	d->wait_src = d->wait_dst = 0;
	r = s->raw >= 0 ? dir_splice(s, d, src, dst, count, progress)
			: dir_copy(s, d, src, dst, count, progress);
	if (r == IO_FAIL)
		return IO_FAIL;
	if (d->src_eof && d->start == d->end && d->in_pipe == 0) {
		r = dst->shutdown(s);
		if (r == IO_AGAIN)
			return IO_AGAIN;
		/* A peer already gone cannot take our FIN: not a failure
		 * of the tunnel, the other direction may still finish. */
		d->shut = 1;
		*progress = 1;
	}
	return IO_DONE;
}

/* ------------------------------------------------------------------ */
/* the tunnel                                                          */
/* ------------------------------------------------------------------ */

int tunnel_start(struct session *s)
{
	s->raw = ps_conn_fd(s->conn);
	loop_log(s->srv, PS_LOG_DEBUG, "%s -> %s: relayed by %s", s->client,
		 s->dest, s->ex ? "http exchanges"
		 : s->raw >= 0 ? "splice" : "the chain's read/write");
	return tunnel_pump(s);
}

/*
 * Move what can move without blocking, then tell the loop what to wait
 * for.  Returns 1 while the tunnel lives, 0 when it ended (the session
 * then finishes with s->result).
 */
int tunnel_pump(struct session *s)
{
	int progress, moved = 0;

	if (s->ex)
		return exchange_pump(s);

	do {
		progress = 0;
		s->nwant = 0;
		s->wake_ms = 0;
		if (dir_pump(s, &s->up, &client_ops, &upstream_ops, &s->nup,
			     &progress) == IO_FAIL ||
		    dir_pump(s, &s->down, &upstream_ops, &client_ops,
			     &s->ndown, &progress) == IO_FAIL) {
			if (!s->result)
				s->result = "io";
			return 0;
		}
		moved |= progress;
	} while (progress);
	s->moved = moved;
	if (moved)
		s->last_io_ms = serve_now_ms();
	if (s->up.shut && s->down.shut)
		return 0;
	return tunnel_wait(s);
}

int tunnel_wait(struct session *s)
{
	unsigned events = 0;

	if (s->raw >= 0) {
		if (s->down.wait_src)
			tunnel_want(s, s->raw, POLLIN);
		if (s->up.wait_dst)
			tunnel_want(s, s->raw, POLLOUT);
	}
	if (s->up.wait_src)
		events |= EPOLLIN;
	if (s->down.wait_dst)
		events |= EPOLLOUT;
	if (loop_client_events(s, events) || loop_upstream_sync(s)) {
		s->result = "internal";
		return 0;
	}
	return 1;
}

static void dir_free(struct relay_dir *d)
{
	if (d->pipe[0] >= 0) {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	d->pipe[0] = d->pipe[1] = -1;
	free(d->buf);
	d->buf = NULL;
}

void tunnel_free(struct session *s)
{
	dir_free(&s->up);
	dir_free(&s->down);
}
