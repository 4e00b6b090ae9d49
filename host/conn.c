/*
 * conn.c - the public connection API: start, step, poll, read, write,
 * close; the blocking forms are loops over the non-blocking ones.
 *
 * A connection works on the snapshot it was started with and never sees
 * the context: ctx.c's ps_conn_start()/ps_connect() hand it one.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_args.h"
#include "chain.h"
#include "conn.h"
#include "credential.h"
#include "error.h"
#include "select.h"

void ps_connect_options_init(ps_connect_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
}

static int dup_opt(char **dst, const char *src, const char *dflt)
{
	const char *v = src ? src : dflt;

	*dst = NULL;
	if (!v)
		return 0;
	*dst = strdup(v);
	return *dst ? 0 : -1;
}

static int dup_headers(char ***dst, const char *const *src)
{
	size_t n = 0;

	*dst = NULL;
	if (!src)
		return 0;
	while (src[n])
		n++;
	*dst = calloc(n + 1, sizeof(**dst));
	if (!*dst)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((*dst)[i] = strdup(src[i])))
			return -1;
	return 0;
}

static void free_headers(char **h)
{
	for (size_t i = 0; h && h[i]; i++)
		free(h[i]);
	free(h);
}

/*
 * No control byte (HTAB aside): a caller's string must not add lines to
 * a request.  The same check as for configured values (credential.c).
 */
static int one_line(const char *s)
{
	char why[160];

	return !s || !credential_check(s, strlen(s), CREDENTIAL_FIELD_VALUE,
				       why, sizeof(why));
}

static int header_line(const char *field)
{
	char why[200];

	return !credential_check_field(field, why, sizeof(why));
}

/*
 * The caller's options as this library's layout: each field the caller's
 * struct_size holds, the default for the others.  A size below the 1.0
 * layout is a caller that never ran ps_connect_options_init().
 */
static int conn_options_take(const ps_connect_options *in,
			     ps_connect_options *out, ps_error *err)
{
	typedef ps_connect_options T;

	ps_connect_options_init(out);
	if (!in)
		return PS_OK;
	if (in->struct_size < PS_CONNECT_OPTIONS_SIZE_1_0)
		return api_struct_too_small("ps_connect_options",
					    in->struct_size,
					    PS_CONNECT_OPTIONS_SIZE_1_0, err);
	PS_TAKE_FIELD(T, out, in, ca_file);
	PS_TAKE_FIELD(T, out, in, client_cert_file);
	PS_TAKE_FIELD(T, out, in, client_key_file);
	PS_TAKE_FIELD(T, out, in, insecure_tls);
	PS_TAKE_FIELD(T, out, in, alpn);
	PS_TAKE_FIELD(T, out, in, timeout_ms);
	PS_TAKE_FIELD(T, out, in, on_step);
	PS_TAKE_FIELD(T, out, in, step_user);
	PS_TAKE_FIELD(T, out, in, ws_subprotocols);
	PS_TAKE_FIELD(T, out, in, ws_origin);
	PS_TAKE_FIELD(T, out, in, ws_headers);
	PS_TAKE_FIELD(T, out, in, ws_ping_interval_s);
	PS_TAKE_FIELD(T, out, in, ws_pong_timeout_s);
	PS_TAKE_FIELD(T, out, in, ws_max_message);
	PS_TAKE_FIELD(T, out, in, forward_head);
	PS_TAKE_FIELD(T, out, in, forward_head_len);
	PS_TAKE_FIELD(T, out, in, forward_has_body);
	return PS_OK;
}

/* Websocket options: the caller's, else the snapshot's settings. */
static int conn_set_ws_options(struct ps_conn *conn,
			       const ps_connect_options *o)
{
	const struct snapshot *s = conn->snap;
	struct conn_options *co = &conn->opt;
	int rc = 0;

	co->ws_ping_interval_ms = s->ws_ping_interval_s * 1000;
	co->ws_pong_timeout_ms = s->ws_pong_timeout_s * 1000;
	co->ws_max_message = (size_t)s->ws_max_message_bytes;
	if (!one_line(o->ws_subprotocols) || !one_line(o->ws_origin))
		return err_set(&conn->err, PS_ERR_USAGE, "websocket", -1, NULL,
			       "ws_subprotocols and ws_origin must be single"
			       " lines without control characters");
	for (size_t i = 0; o->ws_headers && o->ws_headers[i]; i++)
		if (!header_line(o->ws_headers[i]))
			return err_set(&conn->err, PS_ERR_USAGE, "websocket",
				       -1, "write \"Name: value\" on one line,"
				       " without control characters",
				       "ws_headers[%zu] is not a header line",
				       i);
	rc |= dup_opt(&co->ws_subprotocols, o->ws_subprotocols, NULL);
	rc |= dup_opt(&co->ws_origin, o->ws_origin, NULL);
	rc |= dup_headers(&co->ws_headers, o->ws_headers);
	if (rc)
		return err_nomem(&conn->err);
	if (o->ws_ping_interval_s > 0)
		co->ws_ping_interval_ms = o->ws_ping_interval_s * 1000L;
	else if (o->ws_ping_interval_s < 0)
		co->ws_ping_interval_ms = 0;
	if (o->ws_pong_timeout_s > 0)
		co->ws_pong_timeout_ms = o->ws_pong_timeout_s * 1000L;
	/* Capped so that the frame check (limit + 125) cannot wrap. */
	if (o->ws_max_message > 0)
		co->ws_max_message = o->ws_max_message < SIZE_MAX / 2
					     ? o->ws_max_message
					     : SIZE_MAX / 2;
	return PS_OK;
}

/*
 * The request head to forward (since 1.3): kept only for a tcp:// channel,
 * whole (ending with its empty line) and free of NUL bytes, which no hop
 * could send as they are.
 */
static int conn_set_forward(struct ps_conn *conn, const ps_connect_options *o)
{
	struct conn_options *co = &conn->opt;
	size_t len = o->forward_head_len;

	if (!o->forward_head)
		return PS_OK;
	if (len < 4 || memcmp(o->forward_head + len - 4, "\r\n\r\n", 4) ||
	    memchr(o->forward_head, '\0', len))
		return err_set(&conn->err, PS_ERR_USAGE, NULL, -1,
			       "pass a whole request head, ending with"
			       " its empty line",
			       "forward_head is not a complete request head");
	if (strcmp(conn->dest.scheme, "tcp"))
		return PS_OK;
	co->forward_head = malloc(len);
	if (!co->forward_head)
		return err_nomem(&conn->err);
	memcpy(co->forward_head, o->forward_head, len);
	co->forward_head_len = len;
	co->forward_has_body = o->forward_has_body != 0;
	return PS_OK;
}

/* Options: what the caller gave, else the snapshot's settings. */
static int conn_set_options(struct ps_conn *conn,
			    const ps_connect_options *caller_opts)
{
	const struct snapshot *s = conn->snap;
	ps_connect_options taken;
	const ps_connect_options *o = &taken;
	int rc = 0;

	if (conn_options_take(caller_opts, &taken, &conn->err) != PS_OK)
		return conn->err.code;
	rc |= dup_opt(&conn->opt.ca_file, o->ca_file, s->ca_file.value);
	if (o->client_cert_file || o->client_key_file) {
		rc |= dup_opt(&conn->opt.client_cert_file, o->client_cert_file,
			      NULL);
		rc |= dup_opt(&conn->opt.client_key_file, o->client_key_file,
			      NULL);
	} else {
		rc |= dup_opt(&conn->opt.client_cert_file, NULL,
			      s->client_cert_file.value);
		rc |= dup_opt(&conn->opt.client_key_file, NULL,
			      s->client_key_file.value);
	}
	rc |= dup_opt(&conn->opt.alpn, o->alpn, NULL);
	if (rc)
		return err_nomem(&conn->err);
	if (!!conn->opt.client_cert_file != !!conn->opt.client_key_file)
		return err_set(&conn->err, PS_ERR_USAGE, NULL, -1,
			       "give --cert and --key together",
			       "a client certificate needs its key");
	conn->opt.insecure = o->insecure_tls || s->insecure;
	conn->opt.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms
						 : s->connect_timeout_ms;
	conn->opt.on_step = o->on_step;
	conn->opt.step_user = o->step_user;
	if (conn_set_forward(conn, o) != PS_OK)
		return conn->err.code;
	return conn_set_ws_options(conn, o);
}

static void conn_free(struct ps_conn *conn)
{
	select_release(conn);
	chain_teardown(conn);
	if (conn->epfd >= 0)
		close(conn->epfd);
	free(conn->opt.ca_file);
	free(conn->opt.client_cert_file);
	free(conn->opt.client_key_file);
	free(conn->opt.alpn);
	free(conn->opt.ws_subprotocols);
	free(conn->opt.ws_origin);
	free_headers(conn->opt.ws_headers);
	free(conn->opt.forward_head);
	free(conn->description);
	url_clear(&conn->dest);
	snapshot_unref(conn->snap);
	free(conn);
}

static int conn_prepare(struct ps_conn *conn, const char *url,
			const ps_connect_options *opts)
{
	int rc = api_parse_dest(url, &conn->dest, &conn->err);

	if (rc == PS_OK)
		rc = conn_set_options(conn, opts);
	if (rc == PS_OK)
		rc = route_choose(conn->snap, &conn->dest, &conn->choice,
				  &conn->err);
	if (rc == PS_OK) {
		log_msg(&conn->snap->lg, PS_LOG_DEBUG, "%s", conn->choice.why);
		rc = conn->choice.select ? select_begin(conn)
					 : chain_setup_line(conn);
	}
	return rc;
}

struct ps_conn *conn_start(struct snapshot *snap, const char *url,
			   const ps_connect_options *opts, ps_error *err)
{
	struct ps_conn *conn = calloc(1, sizeof(*conn));

	ps_error_clear(err);
	if (!conn) {
		snapshot_unref(snap);
		err_nomem(err);
		return NULL;
	}
	conn->epfd = -1;
	ps_error_clear(&conn->err);
	conn->snap = snap;
	conn->nonblocking = 1;
	conn->started_us = clock_now_us();
	if (conn_prepare(conn, url, opts) != PS_OK) {
		err_copy(err, &conn->err);
		conn_free(conn);
		return NULL;
	}
	return conn;
}

int ps_conn_step(ps_conn *conn)
{
	return chain_step(conn);
}

void ps_conn_poll(const ps_conn *conn, ps_poll *p)
{
	chain_poll((struct ps_conn *)conn, &p->fd, &p->events,
		   &p->timeout_ms);
}


struct ps_conn *conn_connect(struct snapshot *snap, const char *url,
			     const ps_connect_options *opts, ps_error *err)
{
	struct ps_conn *conn = conn_start(snap, url, opts, err);
	int rc;

	if (!conn)
		return NULL;
	while ((rc = ps_conn_step(conn)) == PS_AGAIN)
		chain_wait(conn);
	if (rc != PS_OK) {
		err_copy(err, &conn->err);
		conn_free(conn);
		return NULL;
	}
	conn->nonblocking = 0;
	return conn;
}

static struct ps_layer *conn_top(struct ps_conn *conn)
{
	return &conn->layers[conn->nlayers - 1];
}

/* Common entry for byte I/O: only on a ready, non-websocket channel. */
static int conn_io_check(struct ps_conn *conn)
{
	if (conn->state == CONN_READY && conn_is_websocket(conn))
		return err_set(&conn->err, PS_ERR_USAGE, NULL, -1,
			       "use ps_ws_send() and ps_ws_recv()",
			       "a websocket carries messages, not bytes");
	if (conn->state == CONN_READY) {
		chain_forget_usage_error(conn);
		return PS_OK;
	}
	if (conn->state == CONN_FAILED)
		return conn->err.code;
	return err_set(&conn->err, PS_ERR_USAGE, NULL, -1,
		       "finish ps_conn_step() first",
		       "the channel is not established yet");
}

/* An I/O error ends the channel for good. */
static int conn_io_result(struct ps_conn *conn, int rc)
{
	if (rc != PS_OK && rc != PS_AGAIN) {
		if (conn->err.code == PS_OK)
			err_set(&conn->err, rc, NULL, -1, NULL, "%s",
				ps_code_name(rc));
		conn->state = CONN_FAILED;
	}
	return rc;
}

int ps_conn_read(ps_conn *conn, void *buf, size_t len, size_t *nread)
{
	int rc = conn_io_check(conn);

	*nread = 0;
	while (rc == PS_OK) {
		chain_clear_wants(conn);
		rc = conn_io_result(conn, layer_recv(conn_top(conn), buf, len,
						     nread));
		if (rc != PS_AGAIN || conn->nonblocking)
			break;
		chain_wait(conn);
		rc = PS_OK;
	}
	return rc;
}

int ps_conn_write(ps_conn *conn, const void *buf, size_t len,
		  size_t *nwritten)
{
	const char *p = buf;
	size_t done = 0, n;
	int rc = conn_io_check(conn);

	*nwritten = 0;
	while (rc == PS_OK && done < len) {
		chain_clear_wants(conn);
		rc = conn_io_result(conn, layer_send(conn_top(conn), p + done,
						     len - done, &n));
		if (rc == PS_OK) {
			done += n;
			if (conn->nonblocking)
				break;
			continue;
		}
		if (rc == PS_AGAIN && !conn->nonblocking) {
			chain_wait(conn);
			rc = PS_OK;
		}
	}
	*nwritten = done;
	/* Progress is success even if the next chunk would block. */
	return done > 0 && rc == PS_AGAIN ? PS_OK : rc;
}

int ps_conn_shutdown_write(ps_conn *conn)
{
	int rc = conn_io_check(conn);

	while (rc == PS_OK) {
		chain_clear_wants(conn);
		rc = conn_io_result(conn,
				    layer_shutdown_write(conn_top(conn)));
		if (rc != PS_AGAIN || conn->nonblocking)
			break;
		chain_wait(conn);
		rc = PS_OK;
	}
	return rc;
}

const char *ps_conn_describe(const ps_conn *conn)
{
	return conn->description ? conn->description : "";
}

/*
 * The bottom socket, when nothing above it transforms or holds bytes:
 * a layer with its own send/recv (TLS, an HTTP/2 stream, a websocket)
 * or bytes given back with ps_layer_unread() make it -1.
 */
int ps_conn_fd(const ps_conn *conn)
{
	if (!conn || conn->state != CONN_READY || conn->nlayers == 0 ||
	    !conn->layers[0].has_socket || conn_is_websocket(conn))
		return -1;
	for (size_t i = 0; i < conn->nlayers; i++) {
		const struct ps_layer *l = &conn->layers[i];

		if (buf_unread(&l->unread))
			return -1;
		if (i > 0 && (l->ops->send || l->ops->recv))
			return -1;
	}
	return conn->layers[0].socket_fd;
}

int ps_conn_forwarded(const ps_conn *conn)
{
	return conn && conn->state == CONN_READY && conn->opt.forward_taken;
}

const ps_error *ps_conn_error(const ps_conn *conn)
{
	return &conn->err;
}

void ps_conn_close(ps_conn *conn)
{
	if (conn)
		conn_free(conn);
}
