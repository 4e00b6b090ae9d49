/*
 * serve_session.c - one client of proxystack serve, from its first byte
 * to its access-log line:
 *
 *   HEAD      the first byte picks the protocol: 0x05 is SOCKS5, anything
 *             else HTTP/1.1.  The head (or the SOCKS5 steps) must be
 *             complete within idle_timeout of the accept, however slowly
 *             it trickles, and within SERVE_HEAD_MAX bytes.  Then the
 *             allow list, client credentials and the per-client limit.
 *   BUILDING  ps_conn_start("tcp://host:port") and ps_conn_step() from the
 *             loop: the route, stack, credentials and trust are chosen
 *             per tunnel by the library, with the snapshot current now.
 *   RELAY     serve_tunnel.c, after the protocol's success answer; for
 *             an absolute-form http:// request, one exchange
 *             (serve_exchange.c): the request and its body up, the
 *             response down, framed.  When the response is whole the
 *             request is logged and the session goes back to HEAD
 *             (idle_timeout from now) if both the client and the
 *             response allow it, keeping the tunnel open while the next
 *             request goes to the same host:port; else LINGER.
 *   LINGER    after an error answer: our side is shut, the rest of the
 *             client's request is read and dropped for a moment, so that
 *             closing with unread bytes (a TCP reset) cannot destroy the
 *             answer before the client reads it.
 *
 * Failures answer in the client's protocol: HTTP status and a one-line
 * text body naming the code, the hop and the proxy's words (502, 504 for
 * timeouts, 403 for the allow list, 407 only for our own client auth);
 * SOCKS5 reply codes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "serve_session.h"

#define SESSION_LINGER_MS 2000
#define SESSION_LINGER_BYTES (4u << 20)
#define SESSION_STATUS_OK 200

/* ------------------------------------------------------------------ */
/* answers and the end                                                 */
/* ------------------------------------------------------------------ */

/* Small answers to a socket that has nothing queued: they fit its
 * buffer, so a short write means the client is gone. */
static int session_send_all(struct session *s, const void *p, size_t len)
{
	ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	return n == (ssize_t)len ? 0 : -1;
}

static void session_log(struct session *s)
{
	struct access_entry e = {
		.client = s->client,
		.proto = s->proto_name ? s->proto_name : "-",
		.dest = s->dest[0] ? s->dest : "-",
		.user = s->user[0] ? s->user : "-",
		.chain = s->conn ? ps_conn_describe(s->conn) : "-",
		.result = s->result ? s->result : "ok",
		.status = s->status,
		.up = s->nup >= s->prefix_up ? s->nup - s->prefix_up : 0,
		.down = s->ndown,
		.ms = serve_now_ms() - s->started_ms,
	};

	if (s->logged)
		return;
	s->logged = 1;
	access_log_write(s->srv->log, &e);
}

void session_finish(struct session *s, const char *result, int status)
{
	if (result && !s->result)
		s->result = result;
	if (status && s->status < 0)
		s->status = status;
	if (s->proto_name)
		session_log(s);
	s->state = SESSION_DONE;
}

/* Answer, shut our side, and drop what the client still sends. */
static void session_linger(struct session *s)
{
	shutdown(s->fd, SHUT_WR);
	if (s->proto_name)
		session_log(s);
	s->state = SESSION_LINGER;
	s->linger_until_ms = serve_now_ms() + SESSION_LINGER_MS;
	if (loop_client_events(s, EPOLLIN))
		session_finish(s, "internal", 0);
}

static void session_http_error(struct session *s, int status,
			       const char *result, const char *line)
{
	size_t len;
	char *answer = http_answer(status, line, &len);

	s->result = result;
	s->status = status;
	if (answer && len)
		session_send_all(s, answer, len);
	free(answer);
	session_linger(s);
}

static void session_socks_error(struct session *s, int rep,
				const char *result)
{
	uint8_t reply[10];

	socks_reply(reply, rep);
	s->result = result;
	s->status = rep;
	session_send_all(s, reply, sizeof(reply));
	session_linger(s);
}

/* The chain failed: the code, the hop and the proxy's words. */
static void session_chain_failed(struct session *s, const ps_error *err)
{
	char line[PS_ERROR_MESSAGE_MAX + 128];
	int code = err->code >= PS_ERR_CONFIG ? err->code : PS_ERR_INTERNAL;

	if (s->proto == PROTO_SOCKS) {
		session_socks_error(s, socks_reply_for_code(code),
				    ps_code_name(code));
		return;
	}
	if (err->hop >= 0)
		snprintf(line, sizeof(line), "proxystack: %s: hop %d (%s): %s",
			 ps_code_name(code), err->hop, err->layer,
			 err->message);
	else
		snprintf(line, sizeof(line), "proxystack: %s: %s",
			 ps_code_name(code), err->message);
	session_http_error(s, http_status_for_code(code), ps_code_name(code),
			   line);
}

/* ------------------------------------------------------------------ */
/* the chain                                                           */
/* ------------------------------------------------------------------ */

static void session_enter_relay(struct session *s);
static void session_pumped(struct session *s, int rc);

static void session_step(struct session *s)
{
	int rc = ps_conn_step(s->conn);

	s->nwant = 0;
	s->wake_ms = 0;
	if (rc == PS_AGAIN) {
		ps_poll p;

		ps_conn_poll(s->conn, &p);
		if (p.fd >= 0) {
			s->want[0].fd = p.fd;
			s->want[0].events = p.events;
			s->nwant = 1;
		}
		if (p.timeout_ms >= 0)
			s->wake_ms = serve_now_ms() + p.timeout_ms;
		if (loop_upstream_sync(s))
			session_finish(s, "internal", 0);
		return;
	}
	if (rc != PS_OK) {
		session_chain_failed(s, ps_conn_error(s->conn));
		return;
	}
	session_enter_relay(s);
}

/* Start the chain to the request's destination. */
static void session_start_chain(struct session *s, const char *host,
				unsigned port, int v6)
{
	char url[SERVE_HOST_MAX + 32];
	ps_connect_options opts;
	ps_error err;

	snprintf(url, sizeof(url), v6 ? "tcp://[%s]:%u" : "tcp://%s:%u",
		 host, port);
	snprintf(s->dest, sizeof(s->dest), v6 ? "[%s]:%u" : "%s:%u", host,
		 port);
	ps_connect_options_init(&opts);
	if (s->ex && s->ex->fwd) {
		/* An HTTP proxy hop may forward the request as it is. */
		opts.forward_head = s->ex->fwd;
		opts.forward_head_len = s->ex->fwd_len;
		opts.forward_has_body = s->ex->has_body;
	}
	s->conn = ps_conn_start(s->srv->ctx, url, &opts, &err);
	if (!s->conn) {
		session_chain_failed(s, &err);
		return;
	}
	s->state = SESSION_BUILDING;
	/* While the chain builds, only the client's hang-up matters (a
	 * reset ends the session, a half-close waits for the relay). */
	if (loop_client_events(s, EPOLLRDHUP)) {
		session_finish(s, "internal", 0);
		return;
	}
	session_step(s);
}

static void session_head_consume(struct session *s, size_t n)
{
	memmove(s->head, s->head + n, s->head_len - n);
	s->head_len -= n;
}

/* Bytes for the upstream side before anything the client sends next. */
static int session_queue_up(struct session *s, const char *p, size_t len)
{
	char *grown;

	if (len == 0)
		return 0;
	grown = realloc(s->up.buf, s->up.end + len);
	if (!grown)
		return -1;
	memcpy(grown + s->up.end, p, len);
	s->up.buf = grown;
	s->up.end += len;
	s->up.cap = s->up.end;
	return 0;
}

/*
 * The proxy hop sent the request head itself (absolute form, with its
 * credentials): the origin-form head queued first is not sent, only the
 * body; the connection, authenticated for this one request, is not
 * reused.
 */
static void session_exchange_forwarded(struct session *s)
{
	memmove(s->up.buf, s->up.buf + s->prefix_up, s->up.end - s->prefix_up);
	s->up.end -= s->prefix_up;
	s->prefix_up = 0;	/* the hop sent the head: nup counts the body */
	s->ex->forwarded = 1;
	s->ex->reusable = 0;
}

static void session_enter_relay(struct session *s)
{
	static const char established[] =
		"HTTP/1.1 200 Connection established\r\n\r\n";
	uint8_t reply[10];

	s->state = SESSION_RELAY;
	s->status = s->proto == PROTO_SOCKS ? SOCKS_REP_OK : SESSION_STATUS_OK;
	if (s->ex) {
		s->status = -1;
		s->last_io_ms = serve_now_ms();
		if (ps_conn_forwarded(s->conn))
			session_exchange_forwarded(s);
		session_pumped(s, tunnel_start(s));
		return;
	}
	if (!strcmp(s->proto_name, "connect") &&
	    session_send_all(s, established, sizeof(established) - 1)) {
		session_finish(s, "client-closed", 0);
		return;
	}
	if (s->proto == PROTO_SOCKS) {
		socks_reply(reply, SOCKS_REP_OK);
		if (session_send_all(s, reply, sizeof(reply))) {
			session_finish(s, "client-closed", 0);
			return;
		}
	}
	free(s->head);
	s->head = NULL;
	s->head_len = s->head_cap = 0;
	s->last_io_ms = serve_now_ms();
	if (!tunnel_start(s))
		session_finish(s, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */
/* ------------------------------------------------------------------ */

static int session_client_ok(struct session *s)
{
	return acl_client_allowed(&s->srv->acl, s->addr) ? 0 : -1;
}

/* Client credentials when users_file is set: 0 or -1 (answered 407). */
static int session_http_auth(struct session *s, const struct http_request *r)
{
	if (!s->srv->acl.users_file)
		return 0;
	if (r->proxy_auth && acl_check_basic(&s->srv->acl, r->proxy_auth,
					     r->proxy_auth_len, s->user))
		return 0;
	session_http_error(s, 407, "client-auth",
			   r->proxy_auth ? "proxystack: client-auth: wrong"
					   " user name or password"
					 : "proxystack: client-auth: this"
					   " proxy wants a user name and"
					   " password");
	return -1;
}

/* ------------------------------------------------------------------ */
/* absolute-form exchanges (keep-alive)                                */
/* ------------------------------------------------------------------ */

/* Close the tunnel of the last exchange: the next goes elsewhere. */
static void session_drop_conn(struct session *s)
{
	s->nwant = 0;
	loop_upstream_sync(s);
	s->nreg = 0;
	ps_conn_close(s->conn);
	s->conn = NULL;
	s->raw = -1;
	s->conn_dest[0] = '\0';
}

/* An answer of ours ends the exchange: the upstream side, kept for the
 * access log's chain, is no longer watched. */
static void session_quiet_conn(struct session *s)
{
	s->nwant = 0;
	s->wake_ms = 0;
	loop_upstream_sync(s);
}

/* The origin request, then the body bytes that came with the head; the
 * bytes after the body stay in the head buffer for the next request. */
static int session_exchange_queue(struct session *s,
				  const struct http_request *r)
{
	size_t len, rest = s->head_len - r->head_len;
	char *req = http_origin_request(s->head, r, &len);
	long body;

	s->up.start = s->up.end = 0;
	s->down.start = s->down.end = 0;
	if (!req || session_queue_up(s, req, len)) {
		free(req);
		return -1;
	}
	free(req);
	s->prefix_up = len;
	body = http_body_scan(&s->ex->req, s->head + r->head_len, rest);
	if (body < 0) {
		s->ex->bad_body = 1;
		return -1;
	}
	s->ex->req_done = s->ex->req.done;
	if (session_queue_up(s, s->head + r->head_len, (size_t)body))
		return -1;
	session_head_consume(s, r->head_len + (size_t)body);
	return 0;
}

/* The request body's chunked framing is broken: say so, in one line.
 * (A bad Content-Length is refused with the head, by the parser.) */
static void session_bad_body(struct session *s)
{
	session_quiet_conn(s);
	session_http_error(s, 400, "bad-request", "proxystack: bad-request:"
			   " malformed chunked request body (a bad chunk"
			   " size, or a chunk without its CRLF)");
}

/* On a reused tunnel the origin may have closed it while idle: keep the
 * request (when it is whole in the buffer) to send on a new one. */
static void session_exchange_keep_copy(struct session *s)
{
	struct exchange *ex = s->ex;

	ex->reused = 1;
	if (!ex->req_done || s->up.end == 0)
		return;
	ex->again = malloc(s->up.end);
	if (!ex->again)
		return;
	memcpy(ex->again, s->up.buf, s->up.end);
	ex->again_len = s->up.end;
}

/* The reused tunnel ended before a byte of the response: a new one. */
static int session_exchange_retry(struct session *s)
{
	struct exchange *ex = s->ex;

	if (!ex || !ex->reused || !ex->again || ex->head_done ||
	    ex->rhead_len || ex->sent || s->down.end)
		return 0;
	loop_log(s->srv, PS_LOG_DEBUG, "%s -> %s: the reused tunnel was"
		 " closed; the request goes on a new one", s->client, s->dest);
	session_drop_conn(s);
	s->up.start = s->up.end = 0;
	if (session_queue_up(s, ex->again, ex->again_len))
		return 0;
	ex->reused = 0;
	ex->reusable = 1;
	s->result = NULL;
	s->nup = 0;
	snprintf(s->conn_dest, sizeof(s->conn_dest), "%s", s->dest);
	session_start_chain(s, ex->host, ex->port, ex->host_is_v6);
	return 1;
}

static void session_exchange_start(struct session *s,
				   const struct http_request *r)
{
	exchange_free(s->ex);
	s->ex = exchange_new(r);
	if (s->ex && !s->srv->http_forward_tunnel &&
	    !(s->ex->fwd = http_forward_request(s->head, r,
						&s->ex->fwd_len))) {
		session_finish(s, "nomem", 0);
		return;
	}
	if (!s->ex) {
		session_finish(s, "nomem", 0);
		return;
	}
	if (session_exchange_queue(s, r)) {
		if (s->ex->bad_body)
			session_bad_body(s);
		else
			session_finish(s, "nomem", 0);
		return;
	}
	if (s->conn && !strcmp(s->conn_dest, s->dest)) {
		loop_log(s->srv, PS_LOG_DEBUG, "%s -> %s: tunnel reused",
			 s->client, s->dest);
		session_exchange_keep_copy(s);
		session_enter_relay(s);
		return;
	}
	if (s->conn)
		session_drop_conn(s);
	snprintf(s->conn_dest, sizeof(s->conn_dest), "%s", s->dest);
	session_start_chain(s, r->host, r->port, r->host_is_v6);
}

/* The response is relayed: log it, then the next request or the end. */
static void session_exchange_done(struct session *s)
{
	struct exchange *ex = s->ex;

	s->result = NULL;
	session_log(s);
	if (!ex->reusable || !ex->keep_client || s->srv->draining)
		session_drop_conn(s);
	if (!ex->keep_client || s->srv->draining) {
		session_linger(s);
		return;
	}
	s->state = SESSION_HEAD;
	s->proto_name = NULL;
	s->dest[0] = s->user[0] = '\0';
	s->result = NULL;
	s->status = -1;
	s->logged = 0;
	s->nup = s->ndown = s->prefix_up = 0;
	s->started_ms = s->last_io_ms = serve_now_ms();
	s->nwant = 0;
	/* A pipelined head already here is parsed from the timer, not from
	 * inside this call chain. */
	s->wake_ms = s->head_len ? s->started_ms : 0;
	if (loop_client_events(s, EPOLLIN) || loop_upstream_sync(s))
		session_finish(s, "internal", 0);
}

/*
 * The proxy hop's 407 to a forwarded request with a body: that body went
 * up once, so no challenge could be answered; it is the hop's failure,
 * not the client's to answer (407 is only for our own client auth).
 */
static void session_forward_407(struct session *s)
{
	char line[PS_ERROR_MESSAGE_MAX + 64];

	snprintf(line, sizeof(line), "proxystack: proxy-auth: %s answered"
		 " 407 to a request with a body, which is sent once without"
		 " waiting for a challenge: use auth = basic for this proxy,"
		 " or [serve] http_forward = tunnel",
		 ps_conn_describe(s->conn));
	session_quiet_conn(s);
	session_http_error(s, 502, "proxy-auth", line);
}

/* The relay ended early: a 502 if the client got nothing yet. */
static void session_relay_ended(struct session *s)
{
	struct exchange *ex = s->ex;

	if (session_exchange_retry(s))
		return;
	if (ex && ex->bad_body && ex->sent == 0 && !ex->head_done) {
		session_bad_body(s);
		return;
	}
	if (ex && ex->forwarded && ex->sent == 0 && s->result &&
	    !strcmp(s->result, "proxy-auth")) {
		session_forward_407(s);
		return;
	}
	if (ex && !ex->head_done && ex->sent == 0 && s->result &&
	    (!strcmp(s->result, "bad-response") || !strcmp(s->result, "io"))) {
		session_http_error(s, 502, "bad-response",
				   "proxystack: bad-response: the origin's"
				   " response was malformed or cut short");
		return;
	}
	session_finish(s, NULL, 0);
}

/* What tunnel_pump() said: 0 ended, 2 an exchange complete. */
static void session_pumped(struct session *s, int rc)
{
	if (rc == 0)
		session_relay_ended(s);
	else if (rc == 2)
		session_exchange_done(s);
}

static void session_http_request(struct session *s,
				 const struct http_request *r)
{
	const char *rest = s->head + r->head_len;
	size_t rest_len = s->head_len - r->head_len;

	s->proto_name = r->kind == HTTP_CONNECT ? "connect" : "http";
	snprintf(s->dest, sizeof(s->dest), r->host_is_v6 ? "[%s]:%u" : "%s:%u",
		 r->host, r->port);
	if (session_client_ok(s)) {
		session_http_error(s, 403, "client-denied",
				   "proxystack: client-denied: your address"
				   " is not in [serve] allow");
		return;
	}
	if (s->over_limit) {
		session_http_error(s, 503, "too-many-tunnels",
				   "proxystack: too-many-tunnels: [serve]"
				   " max_tunnels_per_client reached");
		return;
	}
	if (session_http_auth(s, r))
		return;
	if (r->kind == HTTP_ABSOLUTE) {
		session_exchange_start(s, r);
		return;
	}
	if (session_queue_up(s, rest, rest_len)) {
		session_finish(s, "nomem", 0);
		return;
	}
	session_start_chain(s, r->host, r->port, r->host_is_v6);
}

static void session_http_head(struct session *s)
{
	struct http_request r;
	char why[128], line[192];
	int rc = http_parse_request(s->head, s->head_len, &r, why, sizeof(why));

	if (rc == 1)
		return;
	if (rc != 0) {
		s->proto_name = "http";
		snprintf(line, sizeof(line), "proxystack: bad-request: %s",
			 why);
		session_http_error(s, rc, "bad-request", line);
		return;
	}
	session_http_request(s, &r);
}

/* ------------------------------------------------------------------ */
/* SOCKS5                                                              */
/* ------------------------------------------------------------------ */

static int session_socks_greeting(struct session *s)
{
	int method = SOCKS_METHOD_REFUSED, rc;
	uint8_t answer[2] = { 5, 0 };
	size_t used = 0;

	rc = socks_parse_greeting((const uint8_t *)s->head, s->head_len,
				  s->srv->acl.users_file != NULL, &used,
				  &method);
	if (rc != SOCKS_DONE)
		return rc;
	answer[1] = (uint8_t)method;
	session_head_consume(s, used);
	if (session_send_all(s, answer, sizeof(answer)))
		return SOCKS_BAD;
	if (method == SOCKS_METHOD_REFUSED) {
		s->result = "client-auth";
		return SOCKS_BAD;
	}
	s->socks = method == SOCKS_METHOD_USERPASS ? SOCKS_USERPASS
						   : SOCKS_REQUEST;
	return SOCKS_DONE;
}

static int session_socks_userpass(struct session *s)
{
	char pass[256];
	uint8_t answer[2] = { 1, 0 };
	size_t used = 0;
	int rc = socks_parse_userpass((const uint8_t *)s->head, s->head_len,
				      &used, s->user, pass);

	if (rc != SOCKS_DONE)
		return rc;
	session_head_consume(s, used);
	if (!acl_check_password(&s->srv->acl, s->user, pass))
		answer[1] = 1;
	explicit_bzero(pass, sizeof(pass));
	if (session_send_all(s, answer, sizeof(answer)) || answer[1]) {
		s->result = "client-auth";
		return SOCKS_BAD;
	}
	s->socks = SOCKS_REQUEST;
	return SOCKS_DONE;
}

static void session_socks_request(struct session *s)
{
	struct socks_request r;
	size_t used = 0;
	int reply, rc;

	rc = socks_parse_request((const uint8_t *)s->head, s->head_len, &used,
				 &r, &reply);
	if (rc == SOCKS_NEED_MORE)
		return;
	s->proto_name = "socks5";
	if (rc != SOCKS_DONE) {
		session_socks_error(s, reply, "bad-request");
		return;
	}
	snprintf(s->dest, sizeof(s->dest), r.host_is_v6 ? "[%s]:%u" : "%s:%u",
		 r.host, r.port);
	if (session_client_ok(s)) {
		session_socks_error(s, SOCKS_REP_NOT_ALLOWED, "client-denied");
		return;
	}
	if (s->over_limit) {
		session_socks_error(s, SOCKS_REP_GENERAL, "too-many-tunnels");
		return;
	}
	session_head_consume(s, used);
	if (session_queue_up(s, s->head, s->head_len)) {
		session_finish(s, "nomem", 0);
		return;
	}
	session_start_chain(s, r.host, r.port, r.host_is_v6);
}

static void session_socks_head(struct session *s)
{
	int rc = SOCKS_DONE;

	while (rc == SOCKS_DONE && s->state == SESSION_HEAD) {
		if (s->socks == SOCKS_GREETING)
			rc = session_socks_greeting(s);
		else if (s->socks == SOCKS_USERPASS)
			rc = session_socks_userpass(s);
		else {
			session_socks_request(s);
			return;
		}
	}
	if (rc == SOCKS_BAD) {
		s->proto_name = "socks5";
		if (!s->result)
			s->result = "bad-request";
		session_linger(s);
	}
}

/* ------------------------------------------------------------------ */
/* reading the head                                                    */
/* ------------------------------------------------------------------ */

static int session_grow_head(struct session *s)
{
	size_t cap = s->head_cap ? s->head_cap * 2 : SERVE_HEAD_FIRST;
	char *grown;

	if (cap > SERVE_HEAD_MAX + 1)
		cap = SERVE_HEAD_MAX + 1;
	grown = realloc(s->head, cap);
	if (!grown)
		return -1;
	s->head = grown;
	s->head_cap = cap;
	return 0;
}

static void session_read_head(struct session *s)
{
	while (s->state == SESSION_HEAD) {
		ssize_t n;

		if (s->head_len == s->head_cap &&
		    (s->head_cap > SERVE_HEAD_MAX || session_grow_head(s))) {
			/* Full: the parser has already answered 431. */
			session_finish(s, "bad-request", 0);
			return;
		}
		n = recv(s->fd, s->head + s->head_len,
			 s->head_cap - s->head_len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			session_finish(s, "client-closed", 0);
			return;
		}
		if (n < 0)
			return;
		s->head_len += (size_t)n;
		if (s->proto == PROTO_UNKNOWN)
			s->proto = s->head[0] == 5 ? PROTO_SOCKS : PROTO_HTTP;
		if (s->proto == PROTO_SOCKS)
			session_socks_head(s);
		else
			session_http_head(s);
	}
}

static void session_read_linger(struct session *s)
{
	char drop[4096];

	for (;;) {
		ssize_t n = recv(s->fd, drop, sizeof(drop), 0);

		if (n > 0 && (s->lingered += (size_t)n) < SESSION_LINGER_BYTES)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		session_finish(s, NULL, 0);
		return;
	}
}

/* ------------------------------------------------------------------ */
/* events from the loop                                                */
/* ------------------------------------------------------------------ */

void session_event(struct session *s, enum watch_kind from, unsigned events)
{
	int rc;

	switch (s->state) {
	case SESSION_HEAD:
		session_read_head(s);
		break;
	case SESSION_BUILDING:
		if (from == WATCH_CLIENT && (events & (EPOLLHUP | EPOLLERR))) {
			session_finish(s, "client-closed", 0);
			break;
		}
		if (from == WATCH_CLIENT) {
			/* A half-close after the request (printf ... | nc):
			 * the relay passes it on; stop watching until then. */
			if (loop_client_events(s, 0))
				session_finish(s, "internal", 0);
			break;
		}
		session_step(s);
		break;
	case SESSION_RELAY:
		rc = tunnel_pump(s);
		if (rc != 1)
			session_pumped(s, rc);
		else if (from == WATCH_CLIENT && !s->moved &&
			 (events & (EPOLLHUP | EPOLLERR)))
			/* Reported whatever we asked for: never spin on it. */
			session_finish(s, "client-closed", 0);
		break;
	case SESSION_LINGER:
		session_read_linger(s);
		break;
	case SESSION_DONE:
		break;
	}
}

long long session_deadline(const struct session *s)
{
	long long idle = s->srv->idle_ms, at;

	switch (s->state) {
	case SESSION_HEAD:
		return s->wake_ms ? s->wake_ms : s->started_ms + idle;
	case SESSION_BUILDING:
		return s->wake_ms ? s->wake_ms : -1;
	case SESSION_RELAY:
		at = s->last_io_ms + idle;
		return s->wake_ms && s->wake_ms < at ? s->wake_ms : at;
	case SESSION_LINGER:
		return s->linger_until_ms;
	case SESSION_DONE:
		break;
	}
	return -1;
}

void session_timer(struct session *s, long long now)
{
	switch (s->state) {
	case SESSION_HEAD:
		if (s->wake_ms) {
			/* The next request came with the last one. */
			s->wake_ms = 0;
			session_http_head(s);
			return;
		}
		if (now < s->started_ms + s->srv->idle_ms)
			return;
		if (s->proto == PROTO_HTTP && s->head_len > 0) {
			s->proto_name = "http";
			session_http_error(s, 408, "idle-timeout",
					   "proxystack: idle-timeout: the"
					   " request head did not arrive in"
					   " time");
			return;
		}
		if (s->proto == PROTO_SOCKS)
			s->proto_name = "socks5";
		session_finish(s, "idle-timeout", 0);
		return;
	case SESSION_BUILDING:
		session_step(s);
		return;
	case SESSION_RELAY:
		if (now >= s->last_io_ms + s->srv->idle_ms) {
			session_finish(s, "idle-timeout", 0);
			return;
		}
		session_pumped(s, tunnel_pump(s));
		return;
	case SESSION_LINGER:
		if (now >= s->linger_until_ms)
			session_finish(s, NULL, 0);
		return;
	case SESSION_DONE:
		return;
	}
}

/* ------------------------------------------------------------------ */
/* birth and death                                                     */
/* ------------------------------------------------------------------ */

static void session_peer_text(struct session *s,
			      const struct sockaddr_storage *peer)
{
	unsigned port = 0;

	if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)peer;
		static const unsigned char mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
		};

		if (!memcmp(&a->sin6_addr, mapped, sizeof(mapped)))
			inet_ntop(AF_INET, a->sin6_addr.s6_addr + 12, s->addr,
				  sizeof(s->addr));
		else
			inet_ntop(AF_INET6, &a->sin6_addr, s->addr,
				  sizeof(s->addr));
		port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const void *)peer;

		inet_ntop(AF_INET, &a->sin_addr, s->addr, sizeof(s->addr));
		port = ntohs(a->sin_port);
	}
	snprintf(s->client, sizeof(s->client),
		 strchr(s->addr, ':') ? "[%s]:%u" : "%s:%u", s->addr, port);
}

struct session *session_new(struct serve *srv, int fd,
			    const struct sockaddr_storage *peer)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->srv = srv;
	s->fd = fd;
	s->upfd = -1;
	s->raw = -1;
	s->status = -1;
	s->up.pipe[0] = s->up.pipe[1] = -1;
	s->down.pipe[0] = s->down.pipe[1] = -1;
	s->cw.kind = WATCH_CLIENT;
	s->cw.owner = s;
	s->uw.kind = WATCH_UPSTREAM;
	s->uw.owner = s;
	s->started_ms = serve_now_ms();
	session_peer_text(s, peer);
	return s;
}

void session_free(struct session *s)
{
	tunnel_free(s);
	exchange_free(s->ex);
	/* The chain's fds close with it, which also takes them out of the
	 * session's upstream epoll. */
	ps_conn_close(s->conn);
	if (s->upfd >= 0)
		close(s->upfd);
	close(s->fd);
	free(s->head);
	free(s);
}
