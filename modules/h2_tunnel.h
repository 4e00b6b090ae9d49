/*
 * h2_tunnel.h - CONNECT tunnels as HTTP/2 streams (RFC 9113 section 8.5)
 * over TLS connections to an https proxy, pooled so that several tunnels
 * share one connection.  Used by the https-proxy module.
 *
 * Three objects:
 *
 *   pool     one per configured [transport] section, that is one per
 *            proxy per configuration snapshot.  It lists the sessions
 *            that new tunnels may share, and the connection to the
 *            proxy being made, if any, that new tunnels may wait for.
 *   session  one TLS connection to the proxy running HTTP/2 (libnghttp2
 *            with mem_recv/mem_send over the sub-chain's send and recv,
 *            so it never touches the socket itself).  Reference-counted: each
 *            stream holds one reference.  When the last one goes, a
 *            healthy session stays in the pool, unused, for the pool's
 *            idle time (one such session a pool): the next tunnel to
 *            this proxy then needs no TCP, TLS or HTTP/2 set-up.  It is
 *            checked (pumped once) before reuse and closed when found
 *            too old or gone bad by the next tunnel, or when the pool
 *            is freed (there is no timer).
 *   stream   one tunnel: one CONNECT stream, owned by one connection
 *            layer, driven by that layer's connect/send/recv/close.
 *
 * A connection's calls come from its own thread, but streams of one
 * session belong to different connections and so maybe to different
 * threads: every call takes the session's mutex, and whoever holds it
 * pumps the whole session (reads the socket, hands DATA to the stream
 * it belongs to), the sub-chain driven by its own layer.  A stream whose
 * bytes or state another connection's pump changed is woken through its
 * own eventfd, which its layer names to the host besides the shared
 * socket.
 *
 * Every call that returns PS_AGAIN has recorded what to wait for: the
 * sub-chain's layers did for the socket (POLLIN, and POLLOUT while TLS
 * output is pending) during this call's pump, and the stream adds its
 * eventfd (POLLIN).
 */
#ifndef MODULES_H2_TUNNEL_H
#define MODULES_H2_TUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <proxystack/module.h>

/*
 * What the proxy may send on one stream before the tunnel's reader takes
 * it (our SETTINGS_INITIAL_WINDOW_SIZE): the bound of a stream's receive
 * buffer.  A reader that stops reading stops its stream, not the others.
 */
#define H2_STREAM_WINDOW (1024 * 1024)
/* Bytes a tunnel's writer may have queued before send says PS_AGAIN. */
#define H2_SEND_BUFFER_MAX (256 * 1024)
/* Body bytes of a refusal kept for the error message. */
#define H2_BODY_TEXT_MAX 2048

/*
 * h2_stream_connect() and the pool's open calls return this (not a ps
 * code, nothing recorded with ps_layer_fail) when the shared session
 * went away before the proxy answered this stream: GOAWAY, or the
 * connection failed.  The caller may retry on a new connection, or fail
 * with h2_stream_gone_reason().
 */
#define H2_SESSION_GONE 100

/* h2_pool_join(): the tunnel is a stream of a shared session now. */
#define H2_JOINED 101

struct h2_pool;
struct h2_stream;
struct h2_pending;

/*
 * A tunnel's place in the pool while it looks for a session (zero it
 * before the first h2_pool_join()).
 */
struct h2_join {
	struct h2_pending *pending; /* the connection waited for or made */
	int connector;              /* we make it: others may wait for us */
	int waited;                 /* never wait twice */
};

/* One regular request field; names must be lower-case (RFC 9113 8.2). */
struct h2_header {
	const char *name;
	const char *value;
	int sensitive;          /* never HPACK-indexed (credentials) */
};

/* A CONNECT request: ":method CONNECT", ":authority", regular fields. */
struct h2_request {
	const char *authority;  /* host:port, an IPv6 host in brackets */
	const struct h2_header *headers;
	size_t nheaders;
};

/* The proxy's final answer to CONNECT. */
struct h2_response {
	int status;                        /* :status, 200..599 */
	char authenticate[256];            /* proxy-authenticate, joined */
	char body[H2_BODY_TEXT_MAX + 1];   /* body bytes already received */
};

/*
 * A pool for the proxy named 'display' ("https://proxy:443", used in
 * messages) that keeps a session whose last tunnel closed for
 * 'idle_keep_ms' (0: close it with its last tunnel).  NULL when out of
 * memory.
 */
struct h2_pool *h2_pool_new(const char *display, long idle_keep_ms);

/*
 * Free a pool, closing its unused session (GOAWAY, close_notify, best
 * effort, never blocking).  Every stream must be closed already.
 */
void h2_pool_free(struct h2_pool *pool);

/*
 * Whether a proxy of this pool asked for Basic credentials (a 407 over
 * HTTP/2): later tunnels then send them at once (auth = auto).
 */
int h2_pool_basic_wanted(struct h2_pool *pool);
void h2_pool_note_basic_wanted(struct h2_pool *pool);

/*
 * From open(), before any connection is made: 1 when this tunnel should
 * expect to share a session (one exists, or another tunnel is making
 * one): the caller skips the layers below (ps_layer_skip_below) and
 * calls h2_pool_join() from connect().  0 when it connects itself: it is
 * then the connector others may wait for (unless the proxy is known not
 * to speak h2).
 */
int h2_pool_plan(struct h2_pool *pool, struct h2_join *join);

/*
 * Find a session for a new tunnel:
 *
 *   H2_JOINED a session that is established, healthy (no GOAWAY, not
 *             failed) and under the proxy's stream limit took the
 *             request: *out is the tunnel, no handshake at all;
 *   PS_AGAIN  another tunnel is connecting to this proxy: we wait for
 *             it (its eventfd is wanted) and then share its session;
 *   0         connect yourself (h2_pool_open_new() if ALPN says h2);
 *             join->connector says whether others now wait for you;
 *   or an error via ps_layer_fail().
 *
 * A tunnel waits at most once; a proxy that answered ALPN without h2 is
 * remembered, so later tunnels never wait for it.
 */
int h2_pool_join(struct h2_pool *pool, ps_layer *layer,
		 const struct h2_request *req, struct h2_join *join,
		 struct h2_stream **out);

/*
 * The connector's TLS handshake is over: 'h2' says whether its session
 * is now in the pool.  Wakes the tunnels that waited.  Safe for any
 * join, connector or not, and more than once.
 */
void h2_join_done(struct h2_pool *pool, struct h2_join *join, int h2);

/*
 * Leave the pool's waiting list (a failure, a close): a connector that
 * never finished wakes its waiters, who then connect themselves.  Safe
 * to call more than once.
 */
void h2_join_release(struct h2_pool *pool, struct h2_join *join);

/*
 * Start a session on an established connection to the proxy whose ALPN
 * is h2 (the layers below 'layer', detached into 'sub'), publish it in
 * the pool, and open the first tunnel on it.  The session adopts 'sub'
 * in every case (closed on failure).  Returns PS_OK with *out set, or
 * an error via ps_layer_fail().
 */
int h2_pool_open_new(struct h2_pool *pool, ps_layer *layer,
		     ps_subchain *sub, const struct h2_request *req,
		     struct h2_stream **out);

/*
 * Wait for the proxy's final answer.  PS_OK with *resp filled (any
 * status: the caller decides what a refusal means), PS_AGAIN,
 * H2_SESSION_GONE, or an error via ps_layer_fail() (the proxy reset the
 * stream).
 */
int h2_stream_connect(struct h2_stream *st, ps_layer *layer,
		      struct h2_response *resp);

/*
 * After a refusal (407), ask again on a new stream of the same session
 * (RST_STREAM on the old one).  PS_OK or an error via ps_layer_fail().
 */
int h2_stream_retry(struct h2_stream *st, ps_layer *layer,
		    const struct h2_request *req);

/*
 * Why h2_stream_connect() said H2_SESSION_GONE, and whether TLS failed
 * (an alert from the proxy, such as "certificate required").
 */
const char *h2_stream_gone_reason(const struct h2_stream *st);
int h2_stream_gone_tls(const struct h2_stream *st);

/*
 * "h2 stream 3 (shared)", for the layer's detail (the steps below say
 * where the connection goes and how it is secured).
 */
void h2_stream_describe(const struct h2_stream *st, char *buf, size_t size);

/* Tunnel I/O once the proxy said 2xx; same results as the layer ops. */
int h2_stream_send(struct h2_stream *st, ps_layer *layer, const void *buf,
		   size_t len, size_t *n);
int h2_stream_recv(struct h2_stream *st, ps_layer *layer, void *buf,
		   size_t len, size_t *n);

/* Half-close: END_STREAM after the bytes already queued. */
int h2_stream_shutdown_write(struct h2_stream *st, ps_layer *layer);

/*
 * Close the tunnel: RST_STREAM (CANCEL) unless both sides already ended
 * it with END_STREAM, then drop the session reference; the last one
 * closes the connection (GOAWAY, close_notify, best effort, never
 * blocking).  'layer' may be NULL.  NULL 'st' is allowed.
 */
void h2_stream_close(struct h2_stream *st, ps_layer *layer);

#endif
