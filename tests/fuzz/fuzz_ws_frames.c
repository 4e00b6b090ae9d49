/*
 * fuzz_ws_frames.c - what a websocket server sends after a valid 101:
 * the frame handling of the websocket layer (host/ws.c, through
 * ps_ws_recv/ps_ws_send/ps_ws_close on a fake chain) and the pure
 * framing functions under it (host/ws_frame.c).
 *
 * Input: byte 0 flags, byte 1 chunking seed, then the server's bytes
 * after its 101 (which the peer writes itself, with the right accept).
 *   flags & 3       ws_max_message: 16 MiB, 125, 1024, 65536 bytes
 *   flags & 4       the client offers "chat, superchat"; the 101 picks chat
 *   flags & 8       the server falls silent at the end (else it closes)
 *   flags & 0x10    the client sends a text and a binary message (and a
 *                   ping) after the first message it receives
 *   flags & 0x20    the client closes (1000) after the first message
 *   flags & 0x40    ... or before receiving anything
 *
 * Checks: no crash, leak or busy loop; every message delivered is within
 * ws_max_message, text is valid UTF-8 (by an independent decoder), a
 * close carries a code a peer may send (or 1005) and a UTF-8 reason, and
 * after it the channel says closed; failures are PS_ERR_WEBSOCKET; every
 * frame the client sent is masked and well-formed.  On the raw bytes:
 * ws_utf8_valid() agrees with the reference decoder, ws_mask() with a
 * byte-wise XOR at every offset and alignment, and ws_parse_header()
 * with ws_build_header().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ws.h"

/* RFC 3629 / Unicode table 3-7, written out independently. */
static int ref_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i], lo = 0x80, hi = 0xbf;
		size_t k;

		if (c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c == 0xe0) {
			k = 2;
			lo = 0xa0;
		} else if ((c >= 0xe1 && c <= 0xec) || c == 0xee ||
			   c == 0xef) {
			k = 2;
		} else if (c == 0xed) {
			k = 2;
			hi = 0x9f;
		} else if (c == 0xf0) {
			k = 3;
			lo = 0x90;
		} else if (c >= 0xf1 && c <= 0xf3) {
			k = 3;
		} else if (c == 0xf4) {
			k = 3;
			hi = 0x8f;
		} else {
			return 0;
		}
		if (n - i - 1 < k || s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

static void check_pure_functions(const uint8_t *data, size_t size)
{
	struct ws_frame_header h, h2;
	uint8_t hdr[WS_HEADER_MAX], mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t *a, *b;

	FUZZ_CHECK(ws_utf8_valid(data, size) == ref_utf8_valid(data, size),
		   "ws_utf8_valid says %d, the reference %d",
		   ws_utf8_valid(data, size), ref_utf8_valid(data, size));

	switch (ws_parse_header(data, size, &h)) {
	case WS_PARSE_OK:
		FUZZ_CHECK(h.header_len >= 2 &&
				   h.header_len <= WS_HEADER_MAX &&
				   h.header_len <= size,
			   "header_len %zu of %zu", h.header_len, size);
		FUZZ_CHECK(!(h.length >> 63), "length over 2^63");
		/* The shortest form of the same header parses back. */
		{
			size_t n = ws_build_header(hdr, h.fin, h.opcode,
						   h.length, mask);

			FUZZ_CHECK(ws_parse_header(hdr, n, &h2) ==
						   WS_PARSE_OK &&
					   h2.length == h.length &&
					   h2.fin == h.fin &&
					   h2.opcode == h.opcode &&
					   h2.masked && !h2.rsv &&
					   h2.header_len == n &&
					   !memcmp(h2.mask, mask, 4),
				   "build/parse round trip of length %llu",
				   (unsigned long long)h.length);
		}
		break;
	case WS_PARSE_NEED_MORE:
		FUZZ_CHECK(size < WS_HEADER_MAX, "need more with %zu bytes",
			   size);
		break;
	case WS_PARSE_BAD_LENGTH:
		break;
	default:
		fuzz_fail("ws_parse_header: unknown result");
	}

	/* Masking in one go, at any offset and alignment, equals XOR. */
	if (size > 4) {
		uint64_t offset = data[0] | (uint64_t)data[1] << 8;
		size_t skew = data[2] & 7, len = size - 4;

		memcpy(mask, data + size - 4, 4);
		a = malloc(len + 8);
		b = malloc(len);
		if (!a || !b)
			abort();
		memcpy(a + skew, data, len);
		memcpy(b, data, len);
		ws_mask(a + skew, len, mask, offset);
		for (size_t i = 0; i < len; i++)
			b[i] ^= mask[(offset + i) & 3];
		FUZZ_CHECK(!memcmp(a + skew, b, len),
			   "ws_mask differs from XOR (len %zu skew %zu"
			   " offset %llu)",
			   len, skew, (unsigned long long)offset);
		/* Masking in two pieces gives the same. */
		if (len > 1) {
			size_t cut = data[3] % len;

			memcpy(a + skew, data, len);
			ws_mask(a + skew, cut, mask, offset);
			ws_mask(a + skew + cut, len - cut, mask, offset + cut);
			FUZZ_CHECK(!memcmp(a + skew, b, len),
				   "ws_mask in pieces differs");
		}
		free(a);
		free(b);
	}
	for (unsigned c = 0; c < 5100; c += 1 + (size ? data[0] : 0) % 97)
		(void)ws_close_code_valid(c);
}

static void check_message(const ps_ws_message *m, size_t max)
{
	switch (m->type) {
	case PS_WS_TEXT:
		FUZZ_CHECK(ref_utf8_valid(m->data, m->len),
			   "a text message that is not UTF-8 was delivered");
		/* fall through */
	case PS_WS_BINARY:
		FUZZ_CHECK(m->len <= max, "message of %zu over the limit %zu",
			   m->len, max);
		FUZZ_CHECK(m->len == 0 || m->data, "message without data");
		break;
	case PS_WS_CLOSE:
		FUZZ_CHECK(m->close_code == 1005 ||
				   ws_close_code_valid(m->close_code),
			   "close code %u delivered", m->close_code);
		FUZZ_CHECK(m->len <= 123 && ref_utf8_valid(m->data, m->len),
			   "close reason");
		break;
	default:
		fuzz_fail("message type %d delivered", m->type);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { 16u << 20, 125, 1024, 65536 };
	static const char head[] =
		"HTTP/1.1 101 Switching Protocols\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: @ACCEPT@\r\n";
	static const char head_chat[] =
		"HTTP/1.1 101 Switching Protocols\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: @ACCEPT@\r\n"
		"Sec-WebSocket-Protocol: chat\r\n";
	struct fake_peer peer;
	struct fake_chain fc;
	struct ws_server ws;
	struct ps_conn *conn;
	unsigned flags;
	size_t max;
	char prefix[300];
	int rc, messages = 0, closed = 0, sent_extra = 0, we_closed = 0;

	if (size < 2)
		return 0;
	flags = data[0];
	check_pure_functions(data + 2, size - 2);

	memset(&peer, 0, sizeof(peer));
	peer.rng = data[1];
	peer.end_again = (flags & 8) != 0;
	buf_init(&peer.sent);
	snprintf(prefix, sizeof(prefix), "%s\r\n",
		 flags & 4 ? head_chat : head);
	ws_server_init(&ws, &peer, data + 2, size - 2, prefix);

	fake_chain_init(&fc, &peer, WS_FUZZ_DEST, NULL, 0);
	conn = fc.conn;
	max = limits[flags & 3];
	conn->opt.ws_max_message = max;
	if (flags & 4)
		conn->opt.ws_subprotocols = (char *)"chat, superchat";

	rc = fake_chain_run(&fc, &peer);
	FUZZ_CHECK(rc == PS_OK, "a valid 101 was refused: %s",
		   conn->err.message);
	FUZZ_CHECK(!strcmp(ps_ws_subprotocol(conn), flags & 4 ? "chat" : ""),
		   "subprotocol '%s'", ps_ws_subprotocol(conn));

	if (flags & 0x40) {
		rc = ps_ws_close(conn, 1000, "bye");
		FUZZ_CHECK(rc == PS_OK, "ps_ws_close: %d", rc);
		we_closed = 1;
	}
	for (int i = 0; i < 100000; i++) {
		ps_ws_message m;

		rc = ps_ws_recv(conn, &m);
		if (rc == PS_AGAIN) {
			if (peer.stalls >= 2)
				break;
			continue;
		}
		if (rc != PS_OK)
			break;
		check_message(&m, max);
		messages++;
		if (m.type == PS_WS_CLOSE) {
			closed = 1;
			rc = ps_ws_recv(conn, &m);
			FUZZ_CHECK(rc == PS_ERR_IO, "recv after close: %d",
				   rc);
			break;
		}
		if ((flags & 0x10) && !sent_extra && !we_closed) {
			sent_extra = 1;
			FUZZ_CHECK(ps_ws_send(conn, PS_WS_TEXT, "h\xc3\xa9llo",
					      6) == PS_OK, "send text");
			FUZZ_CHECK(ps_ws_send(conn, PS_WS_BINARY, data,
					      size) == PS_OK, "send binary");
			FUZZ_CHECK(ps_ws_send(conn, PS_WS_PING, "p", 1) ==
					   PS_OK, "send ping");
		}
		if ((flags & 0x20) && !we_closed) {
			we_closed = 1;
			FUZZ_CHECK(ps_ws_close(conn, 1000, NULL) == PS_OK,
				   "close");
		}
	}
	if (rc != PS_OK && rc != PS_AGAIN && !closed) {
		FUZZ_CHECK(rc == PS_ERR_WEBSOCKET, "ps_ws_recv failed with %d"
			   " (%s): %s", rc, ps_code_name(rc),
			   conn->err.message);
		FUZZ_CHECK(conn->err.code == rc && conn->err.message[0],
			   "failure without its error");
		FUZZ_CHECK(conn->state == CONN_FAILED,
			   "failed but not closed");
		FUZZ_CHECK(ps_ws_recv(conn, &(ps_ws_message){ 0 }) == rc,
			   "a failed channel answers something else");
	}
	(void)messages;
	ws_check_client_frames(&ws, &peer.sent);
	fake_chain_free(&fc);
	buf_free(&peer.sent);
	buf_free(&ws.stream);
	return 0;
}
