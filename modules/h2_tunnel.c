/*
 * h2_tunnel.c - CONNECT tunnels as HTTP/2 streams over a pooled TLS
 * connection to an https proxy (see h2_tunnel.h for the model).
 *
 * A stream's states:
 *
 *   WAITING -> (:status 2xx)      OPEN      tunnel bytes both ways
 *           -> (:status other)    ANSWERED  body kept for the message
 *   any     -> (stream closed)    CLOSED    END_STREAM both ways, or a
 *                                           reset; status != 0 tells
 *                                           whether an answer came first
 *
 * Locking.  The pool's mutex guards its list of sessions and each
 * session's reference count; a session's mutex guards everything else
 * of the session and of its streams (nghttp2, the sub-chain, buffers,
 * states).
 * Order: pool, then session; never the other way.  Streams' eventfds
 * are written only under the session's mutex, and a stream drains its
 * own only under it too, after checking its state: no wakeup is lost.
 *
 * Flow control.  Automatic WINDOW_UPDATE is off.  The connection window
 * is given back as soon as DATA arrives, the stream window only as the
 * tunnel's reader takes the bytes: a stream's receive buffer is bounded
 * by H2_STREAM_WINDOW, and a slow reader stalls its own stream only.
 * Sends go through a DATA provider that defers while the tunnel's send
 * buffer is empty and is resumed when the writer adds to it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerror_r returning char * */
#endif

#include <ctype.h>
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "h2_tunnel.h"

/* Our connection-level window: DATA is consumed at once, so this only
 * needs to keep the proxy from pausing between reads. */
#define H2_CONNECTION_WINDOW (16 * 1024 * 1024)
/* Frames serialized ahead of one send to TLS (about 4 TLS records). */
#define H2_WIRE_CHUNK (64 * 1024)
/* One TLS record. */
#define H2_READ_CHUNK (16 * 1024)
/* Stream ids are 31 bits and odd for a client. */
#define H2_LAST_STREAM_ID 0x7fffffffu

enum h2_stream_state {
	H2_STREAM_WAITING,  /* CONNECT sent, no final answer yet */
	H2_STREAM_ANSWERED, /* a final non-2xx answer: keep its body */
	H2_STREAM_OPEN,     /* 2xx: the tunnel carries bytes */
	H2_STREAM_CLOSED    /* nghttp2 closed the stream */
};

/* A byte queue: data[start..end) is unread. */
struct h2_bytes {
	unsigned char *data;
	size_t start, end, cap;
};

struct h2_stream {
	struct h2_session *session;
	struct h2_stream *prev, *next;   /* in session->streams */
	int32_t id;
	int evfd;                        /* "something changed for you" */
	int evfd_pending;                /* written, not drained yet */
	int news;                        /* changed during this pump */
	int shared;                      /* joined an existing session */
	enum h2_stream_state state;
	char authority[300];
	/* the answer */
	int status;                      /* final :status, 0 until then */
	int status_seen;                 /* :status of the header block */
	char authenticate[256];
	char body[H2_BODY_TEXT_MAX + 1];
	size_t body_len;
	/* the tunnel */
	struct h2_bytes in;              /* from the proxy, not yet read */
	struct h2_bytes out;             /* from the writer, not yet framed */
	int peer_ended;                  /* END_STREAM received */
	int eof_delivered;               /* recv returned 0 */
	int write_shut;                  /* END_STREAM after 'out' */
	int send_blocked;                /* send said PS_AGAIN: full */
	int read_hint_given;             /* told "call recv" since recv */
	int reset_by_peer;               /* RST_STREAM received */
	int out_of_memory;               /* we reset it: no buffer */
	uint32_t close_code;             /* from on_stream_close */
	char gone[900];                  /* why H2_SESSION_GONE */
	int gone_tls;                    /* ... because TLS failed */
};

struct h2_session {
	struct h2_pool *pool;
	struct h2_session *next;         /* in pool->sessions */
	unsigned refs;                   /* under pool->lock */
	long long idle_since;            /* refs fell to 0 then (ms) */

	pthread_mutex_t lock;            /* everything below */
	ps_subchain *sub;                /* the host's direct -> tls(proxy) */
	nghttp2_session *ng;
	struct h2_stream *streams;
	unsigned nstreams;               /* attached, not yet closed */
	unsigned char *wire;             /* frames not yet taken by TLS */
	size_t wire_len, wire_off, wire_cap;
	int ssl_wants_write;             /* TLS waits to send */
	int dead;                        /* no more I/O: 'why' says why */
	int ssl_failed;                  /* TLS to the proxy failed */
	char why[300];
	int goaway;                      /* the proxy takes no new streams */
	uint32_t goaway_code;
	int32_t goaway_last_id;
	ps_layer *layer;                 /* the caller: drives the I/O */
	struct h2_stream *caller;        /* its stream, never woken */
};

/*
 * A connection to the proxy being made by one tunnel (the connector)
 * that others wait for.  'evfd' is written once, when it is done, and
 * never drained: every waiter sees it readable.  Under pool->lock.
 */
struct h2_pending {
	int evfd;
	unsigned refs;                   /* the connector and the waiters */
	int done;
};

/*
 * The pool is the module instance's internally synchronized state: the
 * instance is otherwise read-only and shared by every connection of the
 * snapshot, and these fields change under 'lock' only.
 */
struct h2_pool {
	pthread_mutex_t lock;
	struct h2_session *sessions;
	struct h2_pending *connecting;   /* NULL: nobody is connecting */
	int no_h2;                       /* the proxy's ALPN is not h2 */
	long long idle_keep_ms;          /* keep an unused session so long */
	char *display;
	int basic_wanted;
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

static size_t h2_bytes_len(const struct h2_bytes *b)
{
	return b->end - b->start;
}

/* Append, growing up to 'max' unread bytes; -1 when over or no memory. */
static int h2_bytes_append(struct h2_bytes *b, const void *p, size_t n,
			   size_t max)
{
	size_t len = h2_bytes_len(b);

	if (len + n > max)
		return -1;
	if (b->end + n > b->cap) {
		if (b->start > 0) {
			memmove(b->data, b->data + b->start, len);
			b->start = 0;
			b->end = len;
		}
		if (len + n > b->cap) {
			size_t cap = b->cap ? b->cap : 16 * 1024;
			unsigned char *grown;

			while (cap < len + n)
				cap *= 2;
			grown = realloc(b->data, cap);
			if (!grown)
				return -1;
			b->data = grown;
			b->cap = cap;
		}
	}
	memcpy(b->data + b->end, p, n);
	b->end += n;
	return 0;
}

static size_t h2_bytes_take(struct h2_bytes *b, void *out, size_t n)
{
	size_t len = h2_bytes_len(b);

	if (n > len)
		n = len;
	memcpy(out, b->data + b->start, n);
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
	return n;
}

static void h2_bytes_free(struct h2_bytes *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

__attribute__((format(printf, 3, 4)))
static void h2_log(struct h2_session *s, int level, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (!s->layer)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ps_layer_log(s->layer, level, "%s", msg);
}

static const char *h2_display(const struct h2_session *s)
{
	return s->pool->display;
}

/* ------------------------------------------------------------------ */
/* entering and leaving a session; waking other streams               */
/* ------------------------------------------------------------------ */

static void h2_session_enter(struct h2_session *s, ps_layer *layer,
			     struct h2_stream *caller)
{
	pthread_mutex_lock(&s->lock);
	s->layer = layer;
	s->caller = caller;
}

/* Wake every other stream something happened to, then unlock. */
static void h2_session_leave(struct h2_session *s)
{
	for (struct h2_stream *st = s->streams; st; st = st->next) {
		uint64_t one = 1;

		if (!st->news)
			continue;
		st->news = 0;
		if (st == s->caller || st->evfd_pending)
			continue;
		if (write(st->evfd, &one, sizeof(one)) == sizeof(one))
			st->evfd_pending = 1;
	}
	s->layer = NULL;
	s->caller = NULL;
	pthread_mutex_unlock(&s->lock);
}

/* Under the session's lock, after the stream's state was checked. */
static void h2_stream_drain(struct h2_stream *st)
{
	uint64_t value;

	if (!st->evfd_pending)
		return;
	if (read(st->evfd, &value, sizeof(value)) < 0 && errno != EAGAIN)
		ps_layer_log(st->session->layer, PS_LOG_DEBUG,
			     "stream %d: eventfd read failed", (int)st->id);
	st->evfd_pending = 0;
}

/*
 * Before PS_AGAIN, after this call pumped the session: the sub-chain's
 * layers recorded on the caller's connection what the socket waits for
 * (POLLIN, POLLOUT while TLS has output pending); add our eventfd.  It is
 * drained here, under the lock and after the caller looked at the
 * stream, so a wakeup meant for the other direction may have been
 * swallowed: that news is handed on as "call again at once", once, so
 * that an agent that only reads (or only writes) never spins on it.
 */
static int h2_stream_wait(struct h2_stream *st, ps_layer *layer, int recv)
{
	int now = 0;

	h2_stream_drain(st);
	if (recv) {
		if (st->send_blocked &&
		    h2_bytes_len(&st->out) < H2_SEND_BUFFER_MAX) {
			st->send_blocked = 0;
			now = 1;
		}
	} else if (!st->read_hint_given &&
		   (h2_bytes_len(&st->in) > 0 ||
		    (st->peer_ended && !st->eof_delivered))) {
		st->read_hint_given = 1;
		now = 1;
	}
	ps_layer_want(layer, st->evfd, POLLIN);
	if (now)
		ps_layer_wake_in(layer, 0);
	return PS_AGAIN;
}

/* The connection cannot carry anything more: tell every stream. */
__attribute__((format(printf, 2, 3)))
static void h2_session_die(struct h2_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->dead)
		return;
	s->dead = 1;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	h2_log(s, PS_LOG_INFO, "proxy %s: the HTTP/2 connection ended: %s",
	       h2_display(s), s->why);
	for (struct h2_stream *st = s->streams; st; st = st->next)
		st->news = 1;
}

/* The sub-chain failed or ended: the session with it. */
static void h2_session_fail_io(struct h2_session *s, int rc, const char *what)
{
	if (rc == PS_OK) {
		h2_session_die(s, "the proxy closed the connection%s",
			       s->goaway ? " after GOAWAY" : "");
		return;
	}
	s->ssl_failed = rc == PS_ERR_TLS || rc == PS_ERR_TLS_VERIFY;
	h2_session_die(s, "%s failed: %s", what, ps_subchain_why(s->sub));
}

/* ------------------------------------------------------------------ */
/* pumping: TLS <-> nghttp2                                            */
/* ------------------------------------------------------------------ */

static int h2_wire_reserve(struct h2_session *s, size_t more)
{
	size_t cap = s->wire_cap ? s->wire_cap : H2_WIRE_CHUNK + 32 * 1024;
	unsigned char *grown;

	if (s->wire_len + more <= s->wire_cap)
		return 0;
	while (cap < s->wire_len + more)
		cap *= 2;
	grown = realloc(s->wire, cap);
	if (!grown)
		return -1;
	s->wire = grown;
	s->wire_cap = cap;
	return 0;
}

static void h2_session_read(struct h2_session *s);

/*
 * Send what nghttp2 has, until TLS would block.  The wire buffer stays
 * untouched while TLS holds a partial write of it (OpenSSL wants the
 * same bytes again).
 */
static void h2_session_flush(struct h2_session *s)
{
	for (;;) {
		size_t written = 0;
		int rc;

		if (s->dead)
			return;
		if (s->wire_off == s->wire_len) {
			s->wire_off = s->wire_len = 0;
			while (s->wire_len < H2_WIRE_CHUNK) {
				const uint8_t *data;
				ssize_t n = nghttp2_session_mem_send(s->ng,
								     &data);

				if (n < 0) {
					h2_session_die(s, "HTTP/2: %s",
						       nghttp2_strerror(
							       (int)n));
					return;
				}
				if (n == 0)
					break;
				if (h2_wire_reserve(s, (size_t)n) < 0) {
					h2_session_die(s, "out of memory");
					return;
				}
				memcpy(s->wire + s->wire_len, data, (size_t)n);
				s->wire_len += (size_t)n;
			}
			if (s->wire_len == 0)
				return;
		}
		rc = ps_subchain_send(s->sub, s->layer, s->wire + s->wire_off,
				      s->wire_len - s->wire_off, &written);
		if (rc == PS_OK) {
			s->wire_off += written;
			continue;
		}
		if (rc == PS_AGAIN) {
			/* TLS holds the rest (or needs to read first): the
			 * layers below recorded what to wait for. */
			s->ssl_wants_write = 1;
			return;
		}
		/* The proxy may have said why before it closed (a TLS
		 * alert, GOAWAY): read that first, it is the better
		 * reason. */
		if (rc == PS_ERR_IO)
			h2_session_read(s);
		h2_session_fail_io(s, rc, "send");
		return;
	}
}

/* Read everything TLS has (buffered or on the socket), feed nghttp2. */
static void h2_session_read(struct h2_session *s)
{
	unsigned char buf[H2_READ_CHUNK];

	for (;;) {
		size_t n = 0;
		ssize_t used;
		int rc;

		if (s->dead)
			return;
		rc = ps_subchain_recv(s->sub, s->layer, buf, sizeof(buf), &n);
		if (rc == PS_OK && n > 0) {
			used = nghttp2_session_mem_recv(s->ng, buf, n);
			if (used < 0) {
				h2_session_die(s, "HTTP/2 protocol error: %s",
					       nghttp2_strerror((int)used));
				return;
			}
			continue;
		}
		if (rc == PS_AGAIN)
			return;
		h2_session_fail_io(s, rc, "receive");
		return;
	}
}

/* One turn: send what waits, read what came, send what that caused. */
static void h2_session_pump(struct h2_session *s)
{
	if (s->dead)
		return;
	s->ssl_wants_write = 0;
	h2_session_flush(s);
	h2_session_read(s);
	h2_session_flush(s);
	if (!s->dead && !nghttp2_session_want_read(s->ng) &&
	    !nghttp2_session_want_write(s->ng) && s->wire_off == s->wire_len)
		h2_session_die(s, "the proxy ended the connection (GOAWAY %s)",
			       nghttp2_http2_strerror(s->goaway_code));
}

/* ------------------------------------------------------------------ */
/* nghttp2 callbacks (under the session's lock)                        */
/* ------------------------------------------------------------------ */

static struct h2_stream *h2_stream_of(nghttp2_session *ng, int32_t id)
{
	return nghttp2_session_get_stream_user_data(ng, id);
}

static int h2_on_begin_headers(nghttp2_session *ng,
			       const nghttp2_frame *frame, void *user)
{
	struct h2_stream *st = h2_stream_of(ng, frame->hd.stream_id);

	(void)user;
	if (st && frame->hd.type == NGHTTP2_HEADERS)
		st->status_seen = 0;
	return 0;
}

/* Keep a header value in 'dst', printable bytes only, ", " between. */
static void h2_keep_value(char *dst, size_t size, const uint8_t *value,
			  size_t len)
{
	size_t used = strlen(dst);

	if (used && used + 2 < size) {
		memcpy(dst + used, ", ", 2);
		used += 2;
	}
	for (size_t i = 0; i < len && used + 1 < size; i++)
		dst[used++] = isprint(value[i]) ? (char)value[i] : '?';
	dst[used] = '\0';
}

static int h2_on_header(nghttp2_session *ng, const nghttp2_frame *frame,
			const uint8_t *name, size_t namelen,
			const uint8_t *value, size_t valuelen, uint8_t flags,
			void *user)
{
	struct h2_stream *st = h2_stream_of(ng, frame->hd.stream_id);

	(void)flags;
	(void)user;
	if (!st || frame->hd.type != NGHTTP2_HEADERS ||
	    st->state != H2_STREAM_WAITING)
		return 0;
	if (namelen == 7 && !memcmp(name, ":status", 7)) {
		/* nghttp2 checked it is three digits. */
		st->status_seen = valuelen == 3 ? (value[0] - '0') * 100 +
					  (value[1] - '0') * 10 +
					  (value[2] - '0')
						: 0;
	} else if (namelen == 18 && !memcmp(name, "proxy-authenticate", 18)) {
		h2_keep_value(st->authenticate, sizeof(st->authenticate),
			      value, valuelen);
	}
	return 0;
}

static int h2_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame,
			    void *user)
{
	struct h2_session *s = user;
	struct h2_stream *st;

	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
	case NGHTTP2_DATA:
		st = h2_stream_of(ng, frame->hd.stream_id);
		if (!st)
			break;
		if (frame->hd.type == NGHTTP2_HEADERS &&
		    st->state == H2_STREAM_WAITING && st->status_seen >= 200) {
			/* 1xx answers are interim: wait for the final one. */
			st->status = st->status_seen;
			st->state = st->status < 300 ? H2_STREAM_OPEN
						     : H2_STREAM_ANSWERED;
			st->news = 1;
			h2_log(s, PS_LOG_DEBUG, "stream %d: :status %d",
			       (int)st->id, st->status);
		}
		if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
			st->peer_ended = 1;
			st->news = 1;
		}
		break;
	case NGHTTP2_RST_STREAM:
		st = h2_stream_of(ng, frame->hd.stream_id);
		if (st)
			st->reset_by_peer = 1;
		break;
	case NGHTTP2_GOAWAY:
		s->goaway = 1;
		s->goaway_code = frame->goaway.error_code;
		s->goaway_last_id = frame->goaway.last_stream_id;
		h2_log(s, PS_LOG_INFO, "proxy %s sent GOAWAY (%s, last stream "
		       "%d): no new tunnels on this connection",
		       h2_display(s), nghttp2_http2_strerror(s->goaway_code),
		       (int)s->goaway_last_id);
		for (st = s->streams; st; st = st->next)
			st->news = 1;
		break;
	default:
		break;
	}
	return 0;
}

static int h2_on_data_chunk(nghttp2_session *ng, uint8_t flags,
			    int32_t id, const uint8_t *data, size_t len,
			    void *user)
{
	struct h2_stream *st = h2_stream_of(ng, id);

	(void)flags;
	(void)user;
	/* The connection window is never what holds a stream back. */
	nghttp2_session_consume_connection(ng, len);
	if (!st || st->status == 0) {
		nghttp2_session_consume_stream(ng, id, len);
		return 0;
	}
	if (st->state == H2_STREAM_ANSWERED) {
		size_t room = H2_BODY_TEXT_MAX - st->body_len;

		memcpy(st->body + st->body_len, data, len < room ? len : room);
		st->body_len += len < room ? len : room;
		st->body[st->body_len] = '\0';
		nghttp2_session_consume_stream(ng, id, len);
		st->news = 1;
		return 0;
	}
	/* The stream window bounds this: nghttp2 refuses more. */
	if (h2_bytes_append(&st->in, data, len, 2 * H2_STREAM_WINDOW) < 0) {
		st->out_of_memory = 1;
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id,
					  NGHTTP2_INTERNAL_ERROR);
	}
	st->news = 1;
	return 0;
}

static int h2_on_stream_close(nghttp2_session *ng, int32_t id,
			      uint32_t error_code, void *user)
{
	struct h2_stream *st = h2_stream_of(ng, id);

	(void)user;
	if (!st)
		return 0;
	st->state = H2_STREAM_CLOSED;
	st->close_code = error_code;
	st->news = 1;
	return 0;
}

/* The DATA provider: the writer's bytes, END_STREAM after shutdown. */
static ssize_t h2_read_data(nghttp2_session *ng, int32_t id, uint8_t *buf,
			    size_t length, uint32_t *data_flags,
			    nghttp2_data_source *source, void *user)
{
	struct h2_stream *st = h2_stream_of(ng, id);
	size_t n;

	(void)source;
	(void)user;
	if (!st) {
		/* Abandoned (RST_STREAM queued): end it, nothing more. */
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	if (st->state != H2_STREAM_OPEN && st->state != H2_STREAM_CLOSED)
		return NGHTTP2_ERR_DEFERRED;
	n = h2_bytes_take(&st->out, buf, length);
	if (n > 0 && st->send_blocked)
		st->news = 1;
	if (h2_bytes_len(&st->out) == 0 && st->write_shut)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	else if (n == 0)
		return NGHTTP2_ERR_DEFERRED;
	return (ssize_t)n;
}

/* ------------------------------------------------------------------ */
/* sessions                                                            */
/* ------------------------------------------------------------------ */

/* Room for one more tunnel: healthy, under the proxy's stream limit. */
static int h2_session_can_take(struct h2_session *s)
{
	uint32_t limit;

	if (s->dead || s->goaway)
		return 0;
	limit = nghttp2_session_get_remote_settings(
		s->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
	return s->nstreams < limit &&
	       nghttp2_session_get_next_stream_id(s->ng) <
		       H2_LAST_STREAM_ID - 2;
}

static int h2_session_setup(struct h2_session *s)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW },
	};
	int rc = -1;

	if (nghttp2_session_callbacks_new(&cbs) || nghttp2_option_new(&opt))
		goto out;
	nghttp2_session_callbacks_set_on_begin_headers_callback(
		cbs, h2_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
							     h2_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
		cbs, h2_on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(
		cbs, h2_on_stream_close);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	/* Until the proxy's SETTINGS say otherwise (RFC 9113 6.5.2). */
	nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
	if (nghttp2_session_client_new2(&s->ng, cbs, s, opt))
		goto out;
	if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, settings,
				    sizeof(settings) / sizeof(settings[0])) ||
	    nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
						  H2_CONNECTION_WINDOW))
		goto out;
	rc = 0;
out:
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	return rc;
}

/* No other user is left: say goodbye without waiting, free it all. */
static void h2_session_destroy(struct h2_session *s)
{
	if (s->ng && !s->dead) {
		nghttp2_session_terminate_session(s->ng, NGHTTP2_NO_ERROR);
		h2_session_flush(s);
	}
	/* TLS sends its close_notify (one try) unless it failed. */
	ps_subchain_close(s->sub, s->layer);
	nghttp2_session_del(s->ng);
	free(s->wire);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void h2_pool_unlink(struct h2_pool *pool, struct h2_session *s)
{
	struct h2_session **p = &pool->sessions;

	while (*p && *p != s)
		p = &(*p)->next;
	if (*p)
		*p = s->next;
}

/*
 * Worth keeping once its last tunnel closed: healthy, stream ids left,
 * and no other unused session to this proxy (one is enough for the
 * next tunnel, and more would only hold connections open).  Under
 * pool->lock with refs == 0, so nobody else is inside the session.
 */
static int h2_session_keep_idle(struct h2_pool *pool, struct h2_session *s)
{
	if (pool->idle_keep_ms <= 0 || !h2_session_can_take(s))
		return 0;
	for (struct h2_session *o = pool->sessions; o; o = o->next)
		if (o != s && o->refs == 0)
			return 0;
	return 1;
}

/*
 * Drop a stream's reference.  The last one either parks the session in
 * the pool (idle, for the next tunnel: no TCP, TLS or HTTP/2 set-up at
 * all) or closes it.
 */
static void h2_session_release(struct h2_session *s)
{
	struct h2_pool *pool = s->pool;
	int destroy = 0;

	pthread_mutex_lock(&pool->lock);
	if (--s->refs == 0) {
		if (h2_session_keep_idle(pool, s)) {
			s->idle_since = ps_clock_ms();
		} else {
			h2_pool_unlink(pool, s);
			destroy = 1;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	if (destroy)
		h2_session_destroy(s);
}

/* ------------------------------------------------------------------ */
/* streams                                                             */
/* ------------------------------------------------------------------ */

static struct h2_stream *h2_stream_new(int shared)
{
	struct h2_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->evfd < 0) {
		free(st);
		return NULL;
	}
	st->shared = shared;
	return st;
}

static void h2_stream_free(struct h2_stream *st)
{
	if (st->evfd >= 0)
		close(st->evfd);
	h2_bytes_free(&st->in);
	h2_bytes_free(&st->out);
	free(st);
}

/* Forget the answer and the tunnel bytes of the previous request. */
static void h2_stream_reset_fields(struct h2_stream *st)
{
	st->id = 0;
	st->state = H2_STREAM_WAITING;
	st->status = st->status_seen = 0;
	st->authenticate[0] = '\0';
	st->body[0] = '\0';
	st->body_len = 0;
	st->in.start = st->in.end = 0;
	st->out.start = st->out.end = 0;
	st->peer_ended = st->eof_delivered = st->write_shut = 0;
	st->send_blocked = st->reset_by_peer = st->out_of_memory = 0;
	st->read_hint_given = 0;
	st->close_code = 0;
	st->gone[0] = '\0';
	st->gone_tls = 0;
}

/* Submit the CONNECT request; under the session's lock. */
static int h2_stream_submit(struct h2_session *s, struct h2_stream *st,
			    const struct h2_request *req)
{
	nghttp2_data_provider provider = { .read_callback = h2_read_data };
	size_t n = 0;
	nghttp2_nv *nva;
	int32_t id;

	/* Every value was checked once, where it came from: the header
	 * fields and user agent at configure (ps_config_get_header_each,
	 * ps_config_get_user_agent), credentials by ps_config_get_proxy,
	 * the authority by h1_connect_authority. */
	nva = calloc(req->nheaders + 2, sizeof(*nva));
	if (!nva)
		return ps_layer_fail(s->layer, PS_ERR_NOMEM, NULL,
				     "out of memory");
#define H2_NV(n_, v_, f_)                                                  \
	((nghttp2_nv){ (uint8_t *)(n_), (uint8_t *)(v_), strlen(n_),         \
		       strlen(v_), (f_) })
	/* RFC 9113 8.5: no :scheme, no :path. */
	nva[n++] = H2_NV(":method", "CONNECT", NGHTTP2_NV_FLAG_NONE);
	nva[n++] = H2_NV(":authority", req->authority, NGHTTP2_NV_FLAG_NONE);
	for (size_t i = 0; i < req->nheaders; i++)
		nva[n++] = H2_NV(req->headers[i].name, req->headers[i].value,
				 req->headers[i].sensitive
					 ? NGHTTP2_NV_FLAG_NO_INDEX
					 : NGHTTP2_NV_FLAG_NONE);
#undef H2_NV
	h2_stream_reset_fields(st);
	snprintf(st->authority, sizeof(st->authority), "%s", req->authority);
	provider.source.ptr = st;
	id = nghttp2_submit_request(s->ng, NULL, nva, n, &provider, st);
	free(nva);
	if (id < 0)
		return ps_layer_fail(s->layer, PS_ERR_INTERNAL, NULL,
				     "proxy %s: cannot submit CONNECT over "
				     "HTTP/2: %s", h2_display(s),
				     nghttp2_strerror(id));
	st->id = id;
	h2_log(s, PS_LOG_DEBUG, "stream %d: CONNECT %s (%s session)", (int)id,
	       st->authority, st->shared ? "shared" : "new");
	return PS_OK;
}

static void h2_stream_link(struct h2_session *s, struct h2_stream *st)
{
	st->session = s;
	st->prev = NULL;
	st->next = s->streams;
	if (s->streams)
		s->streams->prev = st;
	s->streams = st;
	s->nstreams++;
}

static void h2_stream_unlink(struct h2_session *s, struct h2_stream *st)
{
	if (st->prev)
		st->prev->next = st->next;
	else
		s->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	st->prev = st->next = NULL;
	s->nstreams--;
}

/* Drop the nghttp2 stream: RST_STREAM unless it already closed. */
static void h2_stream_abandon(struct h2_session *s, struct h2_stream *st)
{
	if (st->id <= 0 || st->state == H2_STREAM_CLOSED || s->dead)
		return;
	nghttp2_session_set_stream_user_data(s->ng, st->id, NULL);
	nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id,
				  NGHTTP2_CANCEL);
	h2_log(s, PS_LOG_DEBUG, "stream %d: RST_STREAM CANCEL", (int)st->id);
}

/* ------------------------------------------------------------------ */
/* the pool                                                            */
/* ------------------------------------------------------------------ */

struct h2_pool *h2_pool_new(const char *display, long idle_keep_ms)
{
	struct h2_pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return NULL;
	pool->idle_keep_ms = idle_keep_ms;
	pool->display = strdup(display);
	if (!pool->display || pthread_mutex_init(&pool->lock, NULL)) {
		free(pool->display);
		free(pool);
		return NULL;
	}
	return pool;
}

void h2_pool_free(struct h2_pool *pool)
{
	if (!pool)
		return;
	/* Connections hold the snapshot, so only unused sessions are left. */
	while (pool->sessions) {
		struct h2_session *s = pool->sessions;

		pool->sessions = s->next;
		h2_session_destroy(s);
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool->display);
	free(pool);
}

int h2_pool_basic_wanted(struct h2_pool *pool)
{
	int wanted;

	pthread_mutex_lock(&pool->lock);
	wanted = pool->basic_wanted;
	pthread_mutex_unlock(&pool->lock);
	return wanted;
}

void h2_pool_note_basic_wanted(struct h2_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->basic_wanted = 1;
	pthread_mutex_unlock(&pool->lock);
}

/*
 * An unused session (refs == 0, under pool->lock) before it is reused:
 * not kept past the pool's idle time, and pumped once, so that what the
 * proxy sent while nobody listened (GOAWAY, a PING, its close) is seen
 * before a tunnel is committed to it.  Whether it can take a tunnel.
 */
static int h2_session_idle_usable(struct h2_pool *pool, struct h2_session *s,
				  ps_layer *layer)
{
	long long idle = ps_clock_ms() - s->idle_since;
	int usable = 0;

	if (idle <= pool->idle_keep_ms) {
		h2_session_enter(s, layer, NULL);
		h2_session_pump(s);
		usable = h2_session_can_take(s);
		h2_session_leave(s);
	}
	ps_layer_log(layer, PS_LOG_DEBUG, "proxy %s: %s the HTTP/2 connection"
		     " unused for %lld ms", pool->display,
		     usable ? "reusing" : "closing", idle);
	return usable;
}

/* A stream on a session that has room: H2_JOINED, 0, or an error. */
static int h2_pool_take(struct h2_pool *pool, ps_layer *layer,
			const struct h2_request *req, struct h2_stream **out)
{
	struct h2_stream *st = h2_stream_new(1);
	struct h2_session *s, *next, *found = NULL, *doomed = NULL;
	int rc = PS_OK;

	*out = NULL;
	if (!st)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory (or eventfds) opening a "
				     "tunnel");
	pthread_mutex_lock(&pool->lock);
	for (s = pool->sessions; s && !found; s = next) {
		next = s->next;
		if (s->refs == 0 && !h2_session_idle_usable(pool, s, layer)) {
			h2_pool_unlink(pool, s);
			s->next = doomed;
			doomed = s;
			continue;
		}
		h2_session_enter(s, layer, st);
		if (h2_session_can_take(s)) {
			rc = h2_stream_submit(s, st, req);
			if (rc == PS_OK) {
				h2_stream_link(s, st);
				s->refs++;
				found = s;
			}
		}
		h2_session_leave(s);
		if (rc != PS_OK)
			break;
	}
	pthread_mutex_unlock(&pool->lock);
	for (; doomed; doomed = next) {
		next = doomed->next;
		h2_session_destroy(doomed);
	}
	if (!found) {
		h2_stream_free(st);
		return rc == PS_OK ? 0 : rc;
	}
	*out = st;
	return H2_JOINED;
}

static void h2_pending_unref(struct h2_pending *p)
{
	if (--p->refs > 0)
		return;
	close(p->evfd);
	free(p);
}

/* The connection is made (or not): wake every waiter, for good. */
static void h2_pending_finish(struct h2_pool *pool, struct h2_pending *p)
{
	uint64_t one = 1;

	if (p->done)
		return;
	p->done = 1;
	if (write(p->evfd, &one, sizeof(one)) != sizeof(one))
		p->done = 1; /* cannot happen: the counter is 0 or 1 */
	if (pool->connecting == p)
		pool->connecting = NULL;
}

/*
 * Under pool->lock, nobody connecting: we connect, others may wait for
 * us.  Without memory for that, nobody waits for us: no harm.
 */
static void h2_pending_start(struct h2_pool *pool, struct h2_join *join)
{
	struct h2_pending *p = calloc(1, sizeof(*p));

	if (p)
		p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!p || p->evfd < 0) {
		free(p);
		return;
	}
	p->refs = 1;
	pool->connecting = p;
	join->pending = p;
	join->connector = 1;
}

int h2_pool_plan(struct h2_pool *pool, struct h2_join *join)
{
	int share = 0;

	pthread_mutex_lock(&pool->lock);
	if (!pool->no_h2) {
		share = pool->sessions != NULL || pool->connecting != NULL;
		if (!share)
			h2_pending_start(pool, join);
	}
	pthread_mutex_unlock(&pool->lock);
	return share;
}

int h2_pool_join(struct h2_pool *pool, ps_layer *layer,
		 const struct h2_request *req, struct h2_join *join,
		 struct h2_stream **out)
{
	int rc = h2_pool_take(pool, layer, req, out);

	if (rc != 0) {
		if (rc == H2_JOINED)
			h2_join_release(pool, join);
		return rc;
	}
	pthread_mutex_lock(&pool->lock);
	if (join->pending && !join->connector) {
		if (!join->pending->done) {
			ps_layer_want(layer, join->pending->evfd, POLLIN);
			rc = PS_AGAIN;
			goto out;
		}
		/* Its session is full or it was not h2: our own now. */
		h2_pending_unref(join->pending);
		join->pending = NULL;
		join->waited = 1;
	}
	if (pool->no_h2 || join->pending)
		goto out;
	if (pool->connecting && !join->waited) {
		join->pending = pool->connecting;
		join->pending->refs++;
		ps_layer_want(layer, join->pending->evfd, POLLIN);
		ps_layer_log(layer, PS_LOG_DEBUG, "waiting for another "
			     "tunnel's connection to proxy %s", pool->display);
		rc = PS_AGAIN;
		goto out;
	}
	if (!pool->connecting)
		h2_pending_start(pool, join);
out:
	pthread_mutex_unlock(&pool->lock);
	return rc;
}

void h2_join_done(struct h2_pool *pool, struct h2_join *join, int h2)
{
	pthread_mutex_lock(&pool->lock);
	if (!h2)
		pool->no_h2 = 1;
	pthread_mutex_unlock(&pool->lock);
	h2_join_release(pool, join);
}

void h2_join_release(struct h2_pool *pool, struct h2_join *join)
{
	if (!join->pending)
		return;
	pthread_mutex_lock(&pool->lock);
	if (join->connector)
		h2_pending_finish(pool, join->pending);
	h2_pending_unref(join->pending);
	join->pending = NULL;
	join->connector = 0;
	pthread_mutex_unlock(&pool->lock);
}

int h2_pool_open_new(struct h2_pool *pool, ps_layer *layer,
		     ps_subchain *sub, const struct h2_request *req,
		     struct h2_stream **out)
{
	struct h2_session *s = calloc(1, sizeof(*s));
	struct h2_stream *st = h2_stream_new(0);
	int rc;

	*out = NULL;
	if (!s || !st || pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		if (st)
			h2_stream_free(st);
		ps_subchain_close(sub, layer);
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory starting HTTP/2");
	}
	s->pool = pool;
	s->sub = sub;
	s->refs = 1;
	h2_session_enter(s, layer, st);
	if (h2_session_setup(s) < 0) {
		rc = ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				   "out of memory starting HTTP/2");
	} else {
		rc = h2_stream_submit(s, st, req);
		if (rc == PS_OK)
			h2_stream_link(s, st);
	}
	if (rc == PS_OK)
		h2_session_flush(s); /* preface, SETTINGS, HEADERS */
	h2_session_leave(s);
	if (rc != PS_OK) {
		h2_stream_free(st);
		s->dead = 1; /* nothing was sent worth ending politely */
		h2_session_destroy(s);
		return rc;
	}
	pthread_mutex_lock(&pool->lock);
	s->next = pool->sessions;
	pool->sessions = s;
	pthread_mutex_unlock(&pool->lock);
	*out = st;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* one tunnel                                                          */
/* ------------------------------------------------------------------ */

/* The stream ended without an answer because the session went away. */
static int h2_stream_session_gone(struct h2_stream *st)
{
	struct h2_session *s = st->session;

	st->gone_tls = s->dead && s->ssl_failed;
	if (s->dead)
		snprintf(st->gone, sizeof(st->gone), "proxy %.200s: the "
			 "HTTP/2 connection failed before it answered CONNECT"
			 " %.270s: %.300s", h2_display(s), st->authority,
			 s->why);
	else
		snprintf(st->gone, sizeof(st->gone), "proxy %.200s sent "
			 "GOAWAY (%s, last stream %d) before it answered "
			 "CONNECT %.270s on stream %d", h2_display(s),
			 nghttp2_http2_strerror(s->goaway_code),
			 (int)s->goaway_last_id, st->authority, (int)st->id);
	return H2_SESSION_GONE;
}

static int h2_stream_connect_result(struct h2_stream *st, ps_layer *layer,
				    struct h2_response *resp)
{
	struct h2_session *s = st->session;

	if (st->status != 0) {
		/* An answer, even if the stream closed right after it. */
		resp->status = st->status;
		snprintf(resp->authenticate, sizeof(resp->authenticate), "%s",
			 st->authenticate);
		memcpy(resp->body, st->body, st->body_len + 1);
		return PS_OK;
	}
	if (s->dead)
		return h2_stream_session_gone(st);
	if (st->state != H2_STREAM_CLOSED)
		return PS_AGAIN;
	if (s->goaway && st->id > s->goaway_last_id)
		return h2_stream_session_gone(st);
	return ps_layer_fail(layer, PS_ERR_PROXY_PROTOCOL,
			     "see the proxy's logs",
			     "proxy %s reset the CONNECT %s stream (HTTP/2 "
			     "stream %d, %s %s) before answering",
			     h2_display(s), st->authority, (int)st->id,
			     st->reset_by_peer ? "RST_STREAM" : "closed with",
			     nghttp2_http2_strerror(st->close_code));
}

int h2_stream_connect(struct h2_stream *st, ps_layer *layer,
		      struct h2_response *resp)
{
	struct h2_session *s = st->session;
	int rc;

	h2_session_enter(s, layer, st);
	if (st->status == 0)
		h2_session_pump(s);
	rc = h2_stream_connect_result(st, layer, resp);
	if (rc == PS_AGAIN)
		h2_stream_wait(st, layer, 0);
	h2_session_leave(s);
	return rc;
}

int h2_stream_retry(struct h2_stream *st, ps_layer *layer,
		    const struct h2_request *req)
{
	struct h2_session *s = st->session;
	int rc;

	h2_session_enter(s, layer, st);
	h2_stream_abandon(s, st);
	if (s->dead || s->goaway)
		rc = ps_layer_fail(layer, PS_ERR_IO, NULL, "proxy %s: the "
				   "HTTP/2 connection ended before CONNECT "
				   "could be retried with credentials",
				   h2_display(s));
	else
		rc = h2_stream_submit(s, st, req);
	if (rc == PS_OK)
		h2_session_flush(s);
	h2_session_leave(s);
	return rc;
}

const char *h2_stream_gone_reason(const struct h2_stream *st)
{
	return st->gone;
}

int h2_stream_gone_tls(const struct h2_stream *st)
{
	return st->gone_tls;
}

void h2_stream_describe(const struct h2_stream *st, char *buf, size_t size)
{
	snprintf(buf, size, "h2 stream %d (%s)", (int)st->id,
		 st->shared ? "shared" : "new connection");
}

/* An error for tunnel I/O on a stream that cannot carry bytes now. */
static int h2_stream_io_error(struct h2_stream *st, ps_layer *layer,
			      const char *op)
{
	struct h2_session *s = st->session;

	if (st->out_of_memory)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "tunnel to %s "
				     "through %s: out of memory buffering "
				     "what the proxy sent", st->authority,
				     h2_display(s));
	if (st->state == H2_STREAM_CLOSED && st->close_code != 0)
		return ps_layer_fail(layer, PS_ERR_IO,
				     "the proxy or the destination ended the "
				     "tunnel; see the proxy's logs",
				     "proxy %s reset the tunnel to %s (HTTP/2 "
				     "stream %d, %s %s)", h2_display(s),
				     st->authority, (int)st->id,
				     st->reset_by_peer ? "RST_STREAM"
						       : "closed with",
				     nghttp2_http2_strerror(st->close_code));
	if (s->dead)
		return ps_layer_fail(layer, PS_ERR_IO,
				     "the connection to the proxy was lost; "
				     "connect again",
				     "proxy %s: the shared HTTP/2 connection "
				     "failed (tunnel to %s, stream %d): %s",
				     h2_display(s), st->authority, (int)st->id,
				     s->why);
	return ps_layer_fail(layer, PS_ERR_IO, NULL, "tunnel to %s through "
			     "%s: %s after the tunnel was closed",
			     st->authority, h2_display(s), op);
}

int h2_stream_send(struct h2_stream *st, ps_layer *layer, const void *buf,
		   size_t len, size_t *n)
{
	struct h2_session *s = st->session;
	size_t room;
	int rc = PS_OK;

	*n = 0;
	h2_session_enter(s, layer, st);
	if (st->state != H2_STREAM_OPEN || s->dead || st->write_shut) {
		rc = h2_stream_io_error(st, layer, "send");
		goto out;
	}
	room = H2_SEND_BUFFER_MAX - h2_bytes_len(&st->out);
	if (room == 0) {
		/* The proxy's window is shut: see whether it opened. */
		h2_session_pump(s);
		if (st->state != H2_STREAM_OPEN || s->dead) {
			rc = h2_stream_io_error(st, layer, "send");
			goto out;
		}
		room = H2_SEND_BUFFER_MAX - h2_bytes_len(&st->out);
	}
	if (room == 0) {
		st->send_blocked = 1;
		rc = h2_stream_wait(st, layer, 0);
		goto out;
	}
	if (len > room)
		len = room;
	if (h2_bytes_append(&st->out, buf, len, H2_SEND_BUFFER_MAX) < 0) {
		rc = ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	st->send_blocked = 0;
	*n = len;
	nghttp2_session_resume_data(s->ng, st->id);
	h2_session_flush(s);
out:
	h2_session_leave(s);
	return rc;
}

int h2_stream_recv(struct h2_stream *st, ps_layer *layer, void *buf,
		   size_t len, size_t *n)
{
	struct h2_session *s = st->session;
	int rc = PS_OK;

	*n = 0;
	h2_session_enter(s, layer, st);
	st->read_hint_given = 0;
	for (int pumped = 0;; pumped = 1) {
		if (h2_bytes_len(&st->in) > 0) {
			*n = h2_bytes_take(&st->in, buf, len);
			/* Only now may the proxy send that much more. */
			if (st->state == H2_STREAM_OPEN && !s->dead) {
				nghttp2_session_consume_stream(s->ng, st->id,
							       *n);
				h2_session_flush(s);
			}
			break;
		}
		if (st->peer_ended) {
			st->eof_delivered = 1;
			break;
		}
		if (st->state != H2_STREAM_OPEN || s->dead) {
			rc = h2_stream_io_error(st, layer, "receive");
			break;
		}
		if (pumped) {
			rc = h2_stream_wait(st, layer, 1);
			break;
		}
		h2_session_pump(s);
	}
	h2_session_leave(s);
	return rc;
}

int h2_stream_shutdown_write(struct h2_stream *st, ps_layer *layer)
{
	struct h2_session *s = st->session;
	int rc = PS_OK;

	h2_session_enter(s, layer, st);
	if (st->write_shut) {
		/* done already */
	} else if (st->state != H2_STREAM_OPEN || s->dead) {
		rc = h2_stream_io_error(st, layer, "shutdown");
	} else {
		st->write_shut = 1;
		nghttp2_session_resume_data(s->ng, st->id);
		h2_session_flush(s);
		h2_log(s, PS_LOG_DEBUG, "stream %d: END_STREAM queued",
		       (int)st->id);
	}
	h2_session_leave(s);
	return rc;
}

void h2_stream_close(struct h2_stream *st, ps_layer *layer)
{
	struct h2_session *s;

	if (!st)
		return;
	s = st->session;
	if (!s) {
		h2_stream_free(st);
		return;
	}
	h2_session_enter(s, layer, st);
	h2_stream_abandon(s, st);
	h2_stream_unlink(s, st);
	if (!s->dead)
		h2_session_flush(s); /* best effort: the RST_STREAM */
	h2_session_leave(s);
	h2_stream_free(st);
	h2_session_release(s);
}
