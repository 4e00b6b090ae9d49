/*
 * ws.c - the websocket layer (RFC 6455 client) and the message API.
 *
 * The layer sits on top of whatever the chain built (TCP, a CONNECT
 * tunnel, TLS).  Its connect() is the upgrade handshake:
 *
 *   SEND_UPGRADE -> READ_ANSWER -> OPEN
 *
 * After that the connection carries messages: ps_ws_recv() reads frames
 * into a buffer, answers pings, checks every rule a client must check,
 * and hands out whole messages; ps_ws_send() queues masked frames.  Both
 * also flush the queue and run the keepalive clock (ping every interval,
 * fail when the pong is late), so an agent that only polls and receives
 * keeps its channel alive.  Any violation by the server ends the channel
 * with a close frame (1002, 1007 or 1009) and PS_ERR_WEBSOCKET.
 */
#include <ctype.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chain.h"
#include "error.h"
#include "ws_frame.h"

#define WS_HEAD_MAX 16384
#define WS_FRAGMENT (256 * 1024)     /* payload per frame we send */
#define WS_QUEUE_MAX (32u << 20)     /* queued bytes before PS_AGAIN */
#define WS_CLOSE_WAIT_MS 5000
#define WS_READ_CHUNK 65536

enum ws_phase {
	WS_SEND_UPGRADE,
	WS_READ_ANSWER,
	WS_OPEN,
	WS_CLOSING,      /* we sent close, waiting for the peer's */
	WS_CLOSED        /* close handshake done, or failed */
};

struct ws_state {
	enum ws_phase phase;
	char key[32];
	char subprotocol[128];
	struct buf out;               /* bytes queued for the layer below */
	char *head;                   /* the 101 answer, WS_HEAD_MAX; */
	size_t head_filled;           /* freed once it checked out */

	struct buf in;                /* raw bytes not parsed yet */
	struct buf message;           /* data message being assembled */
	int message_opcode;           /* TEXT/BINARY in progress, 0: none */
	struct buf delivered;         /* what the caller's last message points to */

	long long next_ping_ms;       /* 0: keepalive off */
	long long pong_due_ms;        /* 0: no ping outstanding */
	long long close_due_ms;       /* 0: not closing */
	int peer_closed;
};

static const char *const phase_names[] = {
	"send-upgrade", "read-answer", "open", "closing", "closed",
};

static void ws_go_phase(ps_layer *layer, struct ws_state *ws,
			enum ws_phase next)
{
	ps_layer_log(layer, PS_LOG_DEBUG, "%s -> %s", phase_names[ws->phase],
		     phase_names[next]);
	ws->phase = next;
}

/* ------------------------------------------------------------------ */
/* sending                                                             */
/* ------------------------------------------------------------------ */

/* Send queued bytes; PS_OK when all went, PS_AGAIN, or an error. */
static int ws_flush(ps_layer *layer, struct ws_state *ws)
{
	while (buf_unread(&ws->out)) {
		size_t n;
		int rc = ps_layer_send_below(layer, ws->out.data +
							    ws->out.start,
					     buf_unread(&ws->out), &n);

		if (rc != PS_OK)
			return rc;
		ws->out.start += n;
	}
	ws->out.start = ws->out.len = 0;
	return PS_OK;
}

/* Queue one masked frame. */
static int ws_queue_frame(struct ws_state *ws, int fin, int opcode,
			  const void *data, size_t len)
{
	uint8_t header[WS_HEADER_MAX], mask[4];
	size_t hlen, at;

	if (RAND_bytes(mask, sizeof(mask)) != 1)
		return PS_ERR_INTERNAL;
	hlen = ws_build_header(header, fin, opcode, len, mask);
	if (buf_append(&ws->out, header, hlen) ||
	    buf_append(&ws->out, data, len))
		return PS_ERR_NOMEM;
	at = ws->out.len - len;
	ws_mask((uint8_t *)ws->out.data + at, len, mask, 0);
	return PS_OK;
}

/* Queue a whole message, split into frames. */
static int ws_queue_message(struct ws_state *ws, int opcode, const void *data,
			    size_t len)
{
	const uint8_t *p = data;
	int first = 1, rc;

	do {
		size_t take = len > WS_FRAGMENT ? WS_FRAGMENT : len;

		rc = ws_queue_frame(ws, take == len,
				    first ? opcode : WS_OP_CONTINUATION, p,
				    take);
		p += take;
		len -= take;
		first = 0;
	} while (rc == PS_OK && len > 0);
	return rc;
}

static int ws_queue_close(struct ws_state *ws, unsigned code,
			  const char *reason)
{
	uint8_t payload[125];
	size_t n = reason ? strlen(reason) : 0;

	if (n > 123)
		n = 123;
	payload[0] = (uint8_t)(code >> 8);
	payload[1] = (uint8_t)code;
	if (n)
		memcpy(payload + 2, reason, n);
	return ws_queue_frame(ws, 1, WS_OP_CLOSE, payload, n + 2);
}

/*
 * The server broke the protocol: say so with a close frame (best effort,
 * never waiting) and fail the channel.
 */
static int ws_fail(ps_layer *layer, struct ws_state *ws, unsigned code,
		   const char *fmt, const char *detail)
{
	/* One close per side: after ours, a violation only ends things. */
	if (ws->phase == WS_OPEN) {
		ws_queue_close(ws, code, "protocol error");
		ws_flush(layer, ws);
	}
	ws_go_phase(layer, ws, WS_CLOSED);
	return ps_layer_fail(layer, PS_ERR_WEBSOCKET,
			     "the server or a proxy on the way broke the"
			     " websocket protocol; see its logs",
			     "closed with %u: %s%s", code, fmt,
			     detail ? detail : "");
}

/* ------------------------------------------------------------------ */
/* the upgrade handshake                                               */
/* ------------------------------------------------------------------ */

static int ws_new_key(struct ws_state *ws)
{
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	return ps_base64_encode(raw, sizeof(raw), ws->key, sizeof(ws->key)) ==
			       (size_t)-1
		       ? -1
		       : 0;
}

static int ws_build_upgrade(ps_layer *layer, struct ws_state *ws)
{
	const struct ps_conn *conn = layer->conn;
	const struct url *d = &conn->dest;
	const struct conn_options *o = &conn->opt;
	char authority[300];

	if (ws_new_key(ws))
		return ps_layer_fail(layer, PS_ERR_INTERNAL, NULL,
				     "no random bytes for the key");
	/* Host carries the port only when it is not the scheme's default. */
	url_format_authority(d->host, d->port_given &&
			     d->port != url_default_port(d->scheme)
				     ? d->port : 0, authority,
			     sizeof(authority));
	buf_printf(&ws->out, "GET %s HTTP/1.1\r\nHost: %s\r\n"
		   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
		   d->path, authority, ws->key);
	if (o->ws_origin)
		buf_printf(&ws->out, "Origin: %s\r\n", o->ws_origin);
	if (o->ws_subprotocols)
		buf_printf(&ws->out, "Sec-WebSocket-Protocol: %s\r\n",
			   o->ws_subprotocols);
	for (size_t i = 0; o->ws_headers && o->ws_headers[i]; i++)
		buf_printf(&ws->out, "%s\r\n", o->ws_headers[i]);
	buf_puts(&ws->out, "\r\n");
	return ws->out.oom ? ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
					   "out of memory")
			   : PS_OK;
}

/* The value of header 'name' in an HTTP head, trimmed, into out. */
static int head_header(const char *head, const char *name, char *out,
		       size_t outsz)
{
	size_t nlen = strlen(name);
	const char *line = strchr(head, '\n');

	for (; line; line = strchr(line, '\n')) {
		const char *v, *end;

		line++;
		if (strncasecmp(line, name, nlen) || line[nlen] != ':')
			continue;
		for (v = line + nlen + 1; *v == ' ' || *v == '\t'; v++)
			;
		end = v + strcspn(v, "\r\n");
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		snprintf(out, outsz, "%.*s", (int)(end - v), v);
		return 1;
	}
	return 0;
}

/*
 * Is 'token' one of the comma-separated items of 'list'?  Header tokens
 * (Connection: Upgrade) compare without case; subprotocol names exactly
 * (RFC 6455 4.1).
 */
static int list_has_cased(const char *list, const char *token, int nocase)
{
	size_t n = strlen(token);

	while (*list) {
		size_t len;

		while (*list == ' ' || *list == ',')
			list++;
		len = strcspn(list, ", ");
		if (len == n && !(nocase ? strncasecmp(list, token, n)
					 : strncmp(list, token, n)))
			return 1;
		list += len;
	}
	return 0;
}

static int list_has(const char *list, const char *token)
{
	return list_has_cased(list, token, 1);
}

/* First text line of the body after a refused upgrade, if already here. */
static void refusal_body_line(ps_layer *layer, char *out, size_t outsz)
{
	char body[512];
	size_t n = buf_take(&layer->unread, body, sizeof(body) - 1);
	char *p = body;

	body[n] = '\0';
	out[0] = '\0';
	while (*p == '\r' || *p == '\n' || *p == ' ')
		p++;
	p[strcspn(p, "\r\n")] = '\0';
	for (char *q = p; *q; q++)
		if (!isprint((unsigned char)*q))
			*q = '?';
	snprintf(out, outsz, "%.150s", p);
}

static int ws_handshake_fail(ps_layer *layer, const char *hint,
			     const char *what, const char *status)
{
	char line[160];

	refusal_body_line(layer, line, sizeof(line));
	return ps_layer_fail(layer, PS_ERR_WEBSOCKET_HANDSHAKE, hint,
			     "upgrade to websocket refused: %s (%.100s)%s%s",
			     what, status, line[0] ? ": " : "", line);
}

/* What a person can do about a status other than 101. */
static const char *upgrade_refusal_hint(const char *status)
{
	if (!strncmp(status, "HTTP/1.1 426", 12))
		return "a proxy on the way does not pass websocket upgrades"
		       " (squid needs http_upgrade_request_protocols)";
	if (!strncmp(status, "HTTP/1.1 5", 10) ||
	    !strncmp(status, "HTTP/1.0 5", 10))
		return "the server, or a proxy on the way (an inspecting"
		       " proxy answers for it), failed: see its error page"
		       " and logs";
	return "check the URL's path and the server's websocket endpoint";
}

static int ws_check_answer(ps_layer *layer, struct ws_state *ws)
{
	const struct conn_options *o = &layer->conn->opt;
	char status[128], value[256], accept[64];
	size_t sl = strcspn(ws->head, "\r\n");

	snprintf(status, sizeof(status), "%.*s", (int)sl, ws->head);
	if (strncmp(status, "HTTP/1.1 101", 12))
		return ws_handshake_fail(layer, upgrade_refusal_hint(status),
					 "status is not 101", status);
	if (!head_header(ws->head, "Upgrade", value, sizeof(value)) ||
	    strcasecmp(value, "websocket"))
		return ws_handshake_fail(layer, NULL, "no Upgrade: websocket",
					 status);
	if (!head_header(ws->head, "Connection", value, sizeof(value)) ||
	    !list_has(value, "upgrade"))
		return ws_handshake_fail(layer, NULL,
					 "no Connection: Upgrade", status);
	if (ws_accept_for_key(ws->key, accept, sizeof(accept)))
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "cannot"
				     " compute the expected"
				     " Sec-WebSocket-Accept");
	if (!head_header(ws->head, "Sec-WebSocket-Accept", value,
			 sizeof(value)) ||
	    strcmp(value, accept))
		return ws_handshake_fail(layer, "something on the way answers"
					 " for the server",
					 "wrong Sec-WebSocket-Accept", status);
	if (head_header(ws->head, "Sec-WebSocket-Protocol", value,
			sizeof(value))) {
		if (!o->ws_subprotocols ||
		    !list_has_cased(o->ws_subprotocols, value, 0))
			return ws_handshake_fail(layer, NULL, "the server chose"
						 " a subprotocol we did not"
						 " offer", status);
		snprintf(ws->subprotocol, sizeof(ws->subprotocol), "%.120s",
			 value);
	} else if (o->ws_subprotocols) {
		return ws_handshake_fail(layer, "does the server speak it?",
					 "the server accepted none of our"
					 " subprotocols", status);
	}
	if (head_header(ws->head, "Sec-WebSocket-Extensions", value,
			sizeof(value)))
		return ws_handshake_fail(layer, NULL, "the server chose an"
					 " extension we did not offer", status);
	return PS_OK;
}

static void ws_arm_keepalive(ps_layer *layer, struct ws_state *ws)
{
	long interval = layer->conn->opt.ws_ping_interval_ms;

	ws->next_ping_ms = interval > 0 ? clock_now_ms() + interval : 0;
	ws->pong_due_ms = 0;
}

static int ws_connect(ps_layer *layer, void *state)
{
	struct ws_state *ws = state;
	int rc;

	for (;;) {
		switch (ws->phase) {
		case WS_SEND_UPGRADE:
			if (!buf_unread(&ws->out)) {
				rc = ws_build_upgrade(layer, ws);
				if (rc != PS_OK)
					return rc;
			}
			rc = ws_flush(layer, ws);
			if (rc != PS_OK)
				return rc;
			ws_go_phase(layer, ws, WS_READ_ANSWER);
			break;
		case WS_READ_ANSWER: {
			size_t head_len;

			if (!ws->head && !(ws->head = malloc(WS_HEAD_MAX)))
				return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
						     "out of memory");
			rc = ps_layer_read_head(layer, ws->head,
						WS_HEAD_MAX - 1,
						&ws->head_filled, &head_len);
			if (rc == PS_ERR_PROXY_PROTOCOL) {
				/* Not a proxy here: rename the failure,
				 * keeping its cause (copied: err_set
				 * clears the buffer it would read). */
				char cause[PS_ERROR_MESSAGE_MAX];

				snprintf(cause, sizeof(cause), "%s",
					 layer->conn->err.message);
				err_set(&layer->conn->err,
					PS_ERR_WEBSOCKET_HANDSHAKE, layer->name,
					layer->hop, "is this a websocket"
					" endpoint?", "upgrade answer: %.400s",
					cause);
				return PS_ERR_WEBSOCKET_HANDSHAKE;
			}
			if (rc != PS_OK)
				return rc;
			ws->head[head_len] = '\0';
			rc = ws_check_answer(layer, ws);
			if (rc != PS_OK)
				return rc;
			/* An open websocket keeps no handshake buffer. */
			free(ws->head);
			ws->head = NULL;
			ws_go_phase(layer, ws, WS_OPEN);
			ws_arm_keepalive(layer, ws);
			ps_layer_set_detail(layer, "101 Switching Protocols%s%s",
					    ws->subprotocol[0] ? ", protocol "
							       : "",
					    ws->subprotocol);
			return PS_OK;
		}
		default:
			return PS_OK;
		}
	}
}

/* ------------------------------------------------------------------ */
/* receiving                                                           */
/* ------------------------------------------------------------------ */

/* Read what is available below into ws->in. */
static int ws_fill(ps_layer *layer, struct ws_state *ws)
{
	char chunk[WS_READ_CHUNK];
	size_t n;
	int rc;

	/* Bytes that came with the 101 answer come first. */
	if (buf_unread(&layer->unread)) {
		n = buf_take(&layer->unread, chunk, sizeof(chunk));
		return buf_append(&ws->in, chunk, n) ? PS_ERR_NOMEM : PS_OK;
	}
	rc = ps_layer_recv_below(layer, chunk, sizeof(chunk), &n);
	if (rc != PS_OK)
		return rc;
	if (n == 0) {
		ws_go_phase(layer, ws, WS_CLOSED);
		return ps_layer_fail(layer, PS_ERR_WEBSOCKET,
				     "a proxy on the way may idle out silent"
				     " connections: lower ws_ping_interval",
				     "the connection closed without a close"
				     " frame (1006)");
	}
	return buf_append(&ws->in, chunk, n) ? PS_ERR_NOMEM : PS_OK;
}

static void ws_consume(struct ws_state *ws, size_t n)
{
	ws->in.start += n;
	if (ws->in.start == ws->in.len)
		ws->in.start = ws->in.len = 0;
}

static int ws_deliver(struct ws_state *ws, ps_ws_message *msg, int type,
		      const void *data, size_t len, unsigned code)
{
	buf_free(&ws->delivered);
	if (len && buf_append(&ws->delivered, data, len))
		return PS_ERR_NOMEM;
	msg->type = type;
	msg->data = (const unsigned char *)ws->delivered.data;
	msg->len = len;
	msg->close_code = code;
	return PS_OK;
}

static int ws_on_close(ps_layer *layer, struct ws_state *ws,
		       const uint8_t *p, size_t len, ps_ws_message *msg)
{
	unsigned code = 1005;

	if (len == 1)
		return ws_fail(layer, ws, 1002, "a close frame of 1 byte", NULL);
	if (len >= 2) {
		code = (unsigned)p[0] << 8 | p[1];
		if (!ws_close_code_valid(code))
			return ws_fail(layer, ws, 1002, "invalid close code",
				       NULL);
		if (!ws_utf8_valid(p + 2, len - 2))
			return ws_fail(layer, ws, 1007, "close reason is not"
				       " UTF-8", NULL);
	}
	ws->peer_closed = 1;
	if (ws->phase == WS_OPEN) {
		/* Echo the code, as RFC 6455 5.5.1 asks. */
		ws_queue_close(ws, code == 1005 ? 1000 : code, NULL);
		ws_flush(layer, ws);
	}
	ws_go_phase(layer, ws, WS_CLOSED);
	return ws_deliver(ws, msg, PS_WS_CLOSE, len > 2 ? p + 2 : NULL,
			  len > 2 ? len - 2 : 0, code);
}

static int ws_on_control(ps_layer *layer, struct ws_state *ws,
			 const struct ws_frame_header *h, const uint8_t *p,
			 ps_ws_message *msg, int *got)
{
	if (!h->fin || h->length > 125)
		return ws_fail(layer, ws, 1002, !h->fin
				       ? "a fragmented control frame"
				       : "a control frame over 125 bytes",
			       NULL);
	switch (h->opcode) {
	case WS_OP_PING:
		if (ws->phase == WS_OPEN &&
		    ws_queue_frame(ws, 1, WS_OP_PONG, p, (size_t)h->length))
			return PS_ERR_NOMEM;
		return PS_OK;
	case WS_OP_PONG:
		ws->pong_due_ms = 0;
		return PS_OK;
	default:
		*got = 1;
		return ws_on_close(layer, ws, p, (size_t)h->length, msg);
	}
}

static int ws_on_data(ps_layer *layer, struct ws_state *ws,
		      const struct ws_frame_header *h, const uint8_t *p,
		      ps_ws_message *msg, int *got)
{
	size_t max = layer->conn->opt.ws_max_message;

	if (h->opcode == WS_OP_CONTINUATION && !ws->message_opcode)
		return ws_fail(layer, ws, 1002, "a continuation frame outside"
			       " a message", NULL);
	if (h->opcode != WS_OP_CONTINUATION && ws->message_opcode)
		return ws_fail(layer, ws, 1002, "a new message inside a"
			       " fragmented one", NULL);
	if (h->opcode != WS_OP_CONTINUATION)
		ws->message_opcode = h->opcode;
	if (buf_unread(&ws->message) + h->length > max) {
		char limit[64];

		snprintf(limit, sizeof(limit), " (ws_max_message %zu)", max);
		return ws_fail(layer, ws, 1009, "a message over the limit",
			       limit);
	}
	if (buf_append(&ws->message, p, (size_t)h->length))
		return PS_ERR_NOMEM;
	if (!h->fin)
		return PS_OK;
	if (ws->message_opcode == WS_OP_TEXT &&
	    !ws_utf8_valid((const uint8_t *)ws->message.data,
			   buf_unread(&ws->message)))
		return ws_fail(layer, ws, 1007, "a text message that is not"
			       " UTF-8", NULL);
	*got = 1;
	{
		int type = ws->message_opcode == WS_OP_TEXT ? PS_WS_TEXT
							    : PS_WS_BINARY;
		int rc;

		/* The assembled message becomes the delivered one. */
		buf_free(&ws->delivered);
		ws->delivered = ws->message;
		buf_init(&ws->message);
		ws->message_opcode = 0;
		msg->type = type;
		msg->data = (const unsigned char *)ws->delivered.data;
		msg->len = buf_unread(&ws->delivered);
		msg->close_code = 0;
		rc = PS_OK;
		return rc;
	}
}

/*
 * Handle every complete frame in ws->in until a message is ready (*got)
 * or more bytes are needed.
 */
static int ws_parse(ps_layer *layer, struct ws_state *ws, ps_ws_message *msg,
		    int *got)
{
	*got = 0;
	while (!*got && ws->phase != WS_CLOSED) {
		size_t avail = buf_unread(&ws->in);
		const uint8_t *p;
		struct ws_frame_header h;
		int rc;

		if (avail == 0)
			return PS_OK;	/* nothing read yet: no buffer either */
		p = (const uint8_t *)ws->in.data + ws->in.start;

		switch (ws_parse_header(p, avail, &h)) {
		case WS_PARSE_NEED_MORE:
			return PS_OK;
		case WS_PARSE_BAD_LENGTH:
			return ws_fail(layer, ws, 1002, "a frame length that is"
				       " not minimal or over 2^63", NULL);
		default:
			break;
		}
		if (h.masked)
			return ws_fail(layer, ws, 1002, "a masked frame from"
				       " the server", NULL);
		if (h.rsv)
			return ws_fail(layer, ws, 1002, "reserved bits set"
				       " without an extension", NULL);
		if ((h.opcode > WS_OP_BINARY && h.opcode < WS_OP_CLOSE) ||
		    h.opcode > WS_OP_PONG)
			return ws_fail(layer, ws, 1002, "an unknown opcode",
				       NULL);
		if (h.length > layer->conn->opt.ws_max_message + 125)
			return ws_fail(layer, ws, 1009, "a frame over the"
				       " message limit", NULL);
		if (avail - h.header_len < h.length)
			return PS_OK;	/* the payload is still coming */
		p += h.header_len;
		rc = h.opcode >= WS_OP_CLOSE
			     ? ws_on_control(layer, ws, &h, p, msg, got)
			     : ws_on_data(layer, ws, &h, p, msg, got);
		if (rc != PS_OK)
			return rc;
		ws_consume(ws, h.header_len + (size_t)h.length);
	}
	return PS_OK;
}

/* Keepalive and close deadlines; schedules the next wake-up. */
static int ws_run_clock(ps_layer *layer, struct ws_state *ws)
{
	const struct conn_options *o = &layer->conn->opt;
	long long now = clock_now_ms(), next = 0;

	if (ws->close_due_ms && now >= ws->close_due_ms) {
		ws_go_phase(layer, ws, WS_CLOSED);
		return ps_layer_fail(layer, PS_ERR_WEBSOCKET, NULL,
				     "the server did not answer our close"
				     " within %d s", WS_CLOSE_WAIT_MS / 1000);
	}
	if (ws->pong_due_ms && now >= ws->pong_due_ms) {
		ws_go_phase(layer, ws, WS_CLOSED);
		return ps_layer_fail(layer, PS_ERR_WEBSOCKET,
				     "the path to the server is dead, or a"
				     " proxy holds the connection open"
				     " without passing data",
				     "no pong within %ld s of our ping",
				     o->ws_pong_timeout_ms / 1000);
	}
	if (ws->phase == WS_OPEN && ws->next_ping_ms &&
	    now >= ws->next_ping_ms) {
		if (ws_queue_frame(ws, 1, WS_OP_PING, "ps", 2))
			return PS_ERR_NOMEM;
		if (!ws->pong_due_ms)
			ws->pong_due_ms = now + o->ws_pong_timeout_ms;
		ws->next_ping_ms = now + o->ws_ping_interval_ms;
	}
	if (ws->close_due_ms)
		next = ws->close_due_ms;
	if (ws->pong_due_ms && (!next || ws->pong_due_ms < next))
		next = ws->pong_due_ms;
	if (ws->next_ping_ms && (!next || ws->next_ping_ms < next))
		next = ws->next_ping_ms;
	if (next)
		ps_layer_wake_in(layer, (long)(next - now));
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* the layer's life                                                    */
/* ------------------------------------------------------------------ */

static int ws_open(ps_layer *layer, void *instance, void **state)
{
	struct ws_state *ws = calloc(1, sizeof(*ws));

	(void)instance;
	*state = ws;
	if (!ws)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "out of memory");
	buf_init(&ws->out);
	buf_init(&ws->in);
	buf_init(&ws->message);
	buf_init(&ws->delivered);
	return PS_OK;
}

static void ws_close_layer(ps_layer *layer, void *state)
{
	struct ws_state *ws = state;

	(void)layer;
	if (!ws)
		return;
	buf_free(&ws->out);
	buf_free(&ws->in);
	buf_free(&ws->message);
	buf_free(&ws->delivered);
	free(ws->head);
	free(ws);
}

const struct ps_module_ops ws_layer_ops = {
	.open = ws_open,
	.connect = ws_connect,
	.close = ws_close_layer,
};

/* ------------------------------------------------------------------ */
/* the message API                                                     */
/* ------------------------------------------------------------------ */

/* The websocket layer of a ready ws connection, or NULL (error set). */
static ps_layer *ws_layer_of(ps_conn *conn, int *rc)
{
	if (conn->state == CONN_FAILED) {
		*rc = conn->err.code;
		return NULL;
	}
	if (conn->state != CONN_READY || !conn_is_websocket(conn)) {
		*rc = err_set(&conn->err, PS_ERR_USAGE, NULL, -1, NULL,
			      conn_is_websocket(conn)
				      ? "the websocket is not open yet"
				      : "not a ws:// or wss:// connection");
		return NULL;
	}
	chain_forget_usage_error(conn);
	*rc = PS_OK;
	return &conn->layers[conn->nlayers - 1];
}

static int ws_end(ps_conn *conn, int rc)
{
	if (rc != PS_OK && rc != PS_AGAIN) {
		if (conn->err.code == PS_OK)
			err_set(&conn->err, rc, "websocket", -1, NULL, "%s",
				ps_code_name(rc));
		conn->state = CONN_FAILED;
	}
	return rc;
}

int ps_ws_recv(ps_conn *conn, ps_ws_message *msg)
{
	int rc, got = 0;
	ps_layer *layer = ws_layer_of(conn, &rc);
	struct ws_state *ws;

	memset(msg, 0, sizeof(*msg));
	if (!layer)
		return rc;
	ws = layer->state;
	if (ws->phase == WS_CLOSED)
		return err_set(&conn->err, PS_ERR_IO, "websocket", -1, NULL,
			       "the websocket is closed");
	for (;;) {
		chain_clear_wants(conn);
		rc = ws_run_clock(layer, ws);
		if (rc == PS_OK) {
			rc = ws_flush(layer, ws);
			if (rc == PS_AGAIN)
				rc = PS_OK;	/* keep reading meanwhile */
		}
		if (rc == PS_OK)
			rc = ws_parse(layer, ws, msg, &got);
		if (rc == PS_OK) {
			/* A pong or close echo the parse queued goes now: a
			 * server may wait for our pong before it says more. */
			rc = ws_flush(layer, ws);
			if (rc == PS_AGAIN)
				rc = PS_OK;
		}
		if (rc == PS_OK && got)
			return PS_OK;
		if (rc == PS_OK)
			rc = ws_fill(layer, ws);
		if (rc == PS_OK)
			continue;
		if (rc != PS_AGAIN || conn->nonblocking)
			return ws_end(conn, rc);
		chain_wait(conn);
	}
}

int ps_ws_send(ps_conn *conn, int type, const void *data, size_t len)
{
	int rc;
	ps_layer *layer = ws_layer_of(conn, &rc);
	struct ws_state *ws;

	if (!layer)
		return rc;
	ws = layer->state;
	if (ws->phase != WS_OPEN)
		return err_set(&conn->err, PS_ERR_USAGE, "websocket", -1, NULL,
			       "the websocket is closing or closed");
	if (type != PS_WS_TEXT && type != PS_WS_BINARY && type != PS_WS_PING &&
	    type != PS_WS_PONG)
		return err_set(&conn->err, PS_ERR_USAGE, "websocket", -1,
			       "use ps_ws_close() to close",
			       "cannot send message type %d", type);
	if ((type == PS_WS_PING || type == PS_WS_PONG) && len > 125)
		return err_set(&conn->err, PS_ERR_USAGE, "websocket", -1, NULL,
			       "a ping or pong carries at most 125 bytes");
	if (type == PS_WS_TEXT && !ws_utf8_valid(data, len))
		return err_set(&conn->err, PS_ERR_USAGE, "websocket", -1, NULL,
			       "text messages must be UTF-8");
	if (buf_unread(&ws->out) > WS_QUEUE_MAX) {
		chain_clear_wants(conn);
		rc = ws_flush(layer, ws);
		if (rc != PS_OK)
			return ws_end(conn, rc);
	}
	rc = ws_queue_message(ws, type, data, len);
	while (rc == PS_OK) {
		chain_clear_wants(conn);
		rc = ws_flush(layer, ws);
		if (rc != PS_AGAIN)
			break;
		if (conn->nonblocking) {
			/* Queued (ps_ws_recv flushes on), unless the clock
			 * just ended the websocket (a pong overdue). */
			rc = ws_run_clock(layer, ws);
			return rc == PS_OK ? PS_OK : ws_end(conn, rc);
		}
		chain_wait(conn);
		rc = PS_OK;
	}
	return ws_end(conn, rc);
}

int ps_ws_close(ps_conn *conn, unsigned code, const char *reason)
{
	int rc;
	ps_layer *layer = ws_layer_of(conn, &rc);
	struct ws_state *ws;

	if (!layer)
		return rc;
	ws = layer->state;
	if (ws->phase != WS_OPEN)
		return PS_OK;
	if (!ws_close_code_valid(code) ||
	    (reason && (strlen(reason) > 123 ||
			!ws_utf8_valid((const uint8_t *)reason,
				       strlen(reason)))))
		return err_set(&conn->err, PS_ERR_USAGE, "websocket", -1, NULL,
			       "bad close code or reason");
	rc = ws_queue_close(ws, code, reason);
	if (rc != PS_OK)
		return ws_end(conn, rc);
	ws_go_phase(layer, ws, WS_CLOSING);
	ws->close_due_ms = clock_now_ms() + WS_CLOSE_WAIT_MS;
	ws->next_ping_ms = 0;
	for (;;) {
		chain_clear_wants(conn);
		rc = ws_flush(layer, ws);
		if (rc != PS_AGAIN)
			break;
		if (conn->nonblocking)
			return PS_OK;	/* ps_ws_recv flushes the rest */
		chain_wait(conn);
	}
	return ws_end(conn, rc);
}

const char *ps_ws_subprotocol(const ps_conn *conn)
{
	const struct ps_layer *l;

	if (conn->state != CONN_READY || !conn_is_websocket(conn))
		return "";
	l = &conn->layers[conn->nlayers - 1];
	return ((const struct ws_state *)l->state)->subprotocol;
}

size_t ps_ws_max_message(const ps_conn *conn)
{
	return conn ? conn->opt.ws_max_message : 0;
}
