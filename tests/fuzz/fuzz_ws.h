/*
 * fuzz_ws.h - the websocket server side of the fake peer, shared by
 * fuzz_ws_handshake and fuzz_ws_frames.
 *
 * The client's key is random, so the server's answer is made when the
 * peer first reads (the upgrade request has been sent by then): every
 * "@ACCEPT@" in the scripted answer becomes the right
 * Sec-WebSocket-Accept, and fuzz_ws_frames puts a correct 101 in front
 * of its frames the same way.
 */
#ifndef FUZZ_WS_H
#define FUZZ_WS_H

#include "fuzz_common.h"
#include "ws_frame.h"

#define WS_FUZZ_DEST "ws://example.com/chat"

struct ws_server {
	const uint8_t *script;  /* the server's bytes, with @ACCEPT@ */
	size_t script_len;
	const char *prefix;     /* text sent first, with @ACCEPT@ */
	struct buf stream;      /* what the peer really sends */
	char accept[64];
	size_t request_len;     /* the upgrade request, within sent */
};

/* Append 'text' with every @ACCEPT@ replaced. */
static FUZZ_UNUSED void ws_server_put(struct ws_server *ws,
				       const uint8_t *p, size_t n)
{
	static const char mark[] = "@ACCEPT@";
	const size_t ml = sizeof(mark) - 1;

	while (n) {
		const uint8_t *m = memmem(p, n, mark, ml);
		size_t take = m ? (size_t)(m - p) : n;

		buf_append(&ws->stream, p, take);
		p += take;
		n -= take;
		if (m) {
			buf_puts(&ws->stream, ws->accept);
			p += ml;
			n -= ml;
		}
	}
}

/* The upgrade request must be one clean head that names the key. */
static FUZZ_UNUSED void ws_server_on_request(struct fake_peer *peer)
{
	struct ws_server *ws = peer->user;
	const char *req = peer->sent.data, *key, *end;
	char keybuf[64], esc[300];
	size_t klen;

	FUZZ_CHECK(req && peer->sent.len > 4, "no upgrade request sent");
	end = memmem(req, peer->sent.len, "\r\n\r\n", 4);
	FUZZ_CHECK(end, "upgrade request without its end: %s",
		   fuzz_escape(req, peer->sent.len, esc, sizeof(esc)));
	ws->request_len = (size_t)(end + 4 - req);
	FUZZ_CHECK(!strncmp(req, "GET /chat HTTP/1.1\r\nHost: example.com\r\n",
			    39), "upgrade request line: %s",
		   fuzz_escape(req,
			       ws->request_len < 60 ? ws->request_len : 60,
			       esc, sizeof(esc)));
	for (size_t i = 0; i < ws->request_len; i++) {
		unsigned char c = (unsigned char)req[i];

		FUZZ_CHECK((c >= 0x20 && c < 0x7f) ||
				   (c == '\r' && req[i + 1] == '\n') ||
				   (c == '\n' && i && req[i - 1] == '\r'),
			   "byte 0x%02x in the upgrade request", c);
	}
	key = memmem(req, ws->request_len, "Sec-WebSocket-Key: ", 19);
	FUZZ_CHECK(key, "no Sec-WebSocket-Key");
	key += 19;
	klen = strcspn(key, "\r");
	FUZZ_CHECK(klen == 24, "key of %zu bytes", klen);
	memcpy(keybuf, key, klen);
	keybuf[klen] = '\0';
	FUZZ_CHECK(ws_accept_for_key(keybuf, ws->accept,
				     sizeof(ws->accept)) == 0,
		   "ws_accept_for_key");
	buf_free(&ws->stream);
	if (ws->prefix)
		ws_server_put(ws, (const uint8_t *)ws->prefix,
			      strlen(ws->prefix));
	ws_server_put(ws, ws->script, ws->script_len);
	peer->data = (const uint8_t *)ws->stream.data;
	peer->len = ws->stream.len;
	peer->pos = 0;
}

static FUZZ_UNUSED void ws_server_init(struct ws_server *ws,
					struct fake_peer *peer,
					const uint8_t *script, size_t len,
					const char *prefix)
{
	memset(ws, 0, sizeof(*ws));
	buf_init(&ws->stream);
	ws->script = script;
	ws->script_len = len;
	ws->prefix = prefix;
	peer->user = ws;
	peer->on_first_recv = ws_server_on_request;
}

/*
 * Every frame the client sent after its request: masked, no reserved
 * bits, a known opcode, control frames whole and short, close codes a
 * peer may send.  Returns the number of close frames.
 */
static FUZZ_UNUSED int ws_check_client_frames(const struct ws_server *ws,
					      const struct buf *sent)
{
	const uint8_t *p;
	size_t left;
	int closes = 0;

	if (!sent->data || sent->len < ws->request_len)
		return 0;
	p = (const uint8_t *)sent->data + ws->request_len;
	left = sent->len - ws->request_len;
	while (left) {
		struct ws_frame_header h;
		uint8_t payload[2];
		unsigned code;

		if (ws_parse_header(p, left, &h) == WS_PARSE_NEED_MORE)
			break;	/* the rest is still queued: fine */
		FUZZ_CHECK(h.header_len && h.masked && !h.rsv,
			   "client frame: masked %d rsv %d", h.masked, h.rsv);
		FUZZ_CHECK(h.opcode <= 2 || (h.opcode >= 8 && h.opcode <= 10),
			   "client frame opcode %d", h.opcode);
		if (h.opcode >= 8)
			FUZZ_CHECK(h.fin && h.length <= 125,
				   "client control frame fin %d length %llu",
				   h.fin, (unsigned long long)h.length);
		if (left - h.header_len < h.length)
			break;
		if (h.opcode == WS_OP_CLOSE) {
			closes++;
			FUZZ_CHECK(h.length >= 2, "client close without code");
			memcpy(payload, p + h.header_len, 2);
			ws_mask(payload, 2, h.mask, 0);
			code = (unsigned)payload[0] << 8 | payload[1];
			FUZZ_CHECK(ws_close_code_valid(code),
				   "client sent close code %u", code);
		}
		p += h.header_len + h.length;
		left -= h.header_len + (size_t)h.length;
	}
	return closes;
}

#endif
