/*
 * test_ws_frame.c - the pure RFC 6455 framing functions (host/ws_frame.c)
 * on fixed vectors: the examples of RFC 6455 section 5.7, every split
 * point of a header, the lengths the parser must refuse, and masking at
 * odd offsets, lengths and alignments against a byte-wise XOR.
 *
 * Refusing reserved bits, unknown opcodes, fragmented or long control
 * frames and masked server frames is the websocket layer's job (host/ws.c):
 * the parser must report those fields unchanged, and the layer, driven on
 * the fake peer of tests/fuzz/fuzz_ws.h, must fail with PS_ERR_WEBSOCKET,
 * say why, and send the server a close with 1002.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "fuzz_ws.h"
#include "ws_frame.h"

static const uint8_t rfc_mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* Section 5.7: a single-frame unmasked text message "Hello". */
static const uint8_t unmasked_hello[] = {
	0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f
};
/* Section 5.7: the same, masked with 37 fa 21 3d. */
static const uint8_t masked_hello[] = {
	0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
};
/* Section 5.7: a fragmented unmasked text message, "Hel" then "lo". */
static const uint8_t frag_first[] = { 0x01, 0x03, 0x48, 0x65, 0x6c };
static const uint8_t frag_last[] = { 0x80, 0x02, 0x6c, 0x6f };
/* Section 5.7: unmasked ping, masked pong, both carrying "Hello". */
static const uint8_t unmasked_ping[] = {
	0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f
};
static const uint8_t masked_pong[] = {
	0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
};
/* Section 5.7: 256 bytes and 64 KiB of binary data, headers only. */
static const uint8_t binary_256[] = { 0x82, 0x7e, 0x01, 0x00 };
static const uint8_t binary_64k[] = {
	0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00
};

struct want {
	const char *name;
	const uint8_t *buf;
	size_t len;
	int fin, opcode, masked;
	uint64_t length;
	size_t header_len;
};

static void check_parse(const struct want *w)
{
	struct ws_frame_header h;
	enum ws_parse_result r = ws_parse_header(w->buf, w->len, &h);

	CHECK_MSG(r == WS_PARSE_OK, "%s: parses (got %d)", w->name, (int)r);
	if (r != WS_PARSE_OK)
		return;
	CHECK_MSG(h.fin == w->fin && h.opcode == w->opcode && h.rsv == 0 &&
		  h.masked == w->masked && h.length == w->length &&
		  h.header_len == w->header_len,
		  "%s: fin %d opcode %d masked %d length %llu header %zu "
		  "(got %d %d %d %llu %zu)", w->name, w->fin, w->opcode,
		  w->masked, (unsigned long long)w->length, w->header_len,
		  h.fin, h.opcode, h.masked, (unsigned long long)h.length,
		  h.header_len);
	if (w->masked)
		CHECK_MSG(!memcmp(h.mask, rfc_mask, 4), "%s: the mask key",
			  w->name);
}

/* Every prefix shorter than the header says "need more", never more. */
static void check_splits(const struct want *w)
{
	struct ws_frame_header h;
	int bad = 0;

	for (size_t k = 0; k < w->header_len; k++)
		if (ws_parse_header(w->buf, k, &h) != WS_PARSE_NEED_MORE)
			bad++;
	CHECK_MSG(bad == 0, "%s: need more at each of %zu split points",
		  w->name, w->header_len);
}

static void test_rfc_vectors(void)
{
	const struct want cases[] = {
		{ "unmasked Hello", unmasked_hello, sizeof(unmasked_hello),
		  1, WS_OP_TEXT, 0, 5, 2 },
		{ "masked Hello", masked_hello, sizeof(masked_hello),
		  1, WS_OP_TEXT, 1, 5, 6 },
		{ "fragment Hel", frag_first, sizeof(frag_first),
		  0, WS_OP_TEXT, 0, 3, 2 },
		{ "fragment lo", frag_last, sizeof(frag_last),
		  1, WS_OP_CONTINUATION, 0, 2, 2 },
		{ "unmasked ping", unmasked_ping, sizeof(unmasked_ping),
		  1, WS_OP_PING, 0, 5, 2 },
		{ "masked pong", masked_pong, sizeof(masked_pong),
		  1, WS_OP_PONG, 1, 5, 6 },
		{ "256 bytes", binary_256, sizeof(binary_256),
		  1, WS_OP_BINARY, 0, 256, 4 },
		{ "64 KiB", binary_64k, sizeof(binary_64k),
		  1, WS_OP_BINARY, 0, 65536, 10 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_parse(&cases[i]);
		check_splits(&cases[i]);
	}
}

/* The masked payload of section 5.7 unmasks to "Hello", and back. */
static void test_rfc_payload_mask(void)
{
	uint8_t payload[5];

	memcpy(payload, masked_hello + 6, 5);
	ws_mask(payload, 5, rfc_mask, 0);
	CHECK(!memcmp(payload, "Hello", 5));
	ws_mask(payload, 5, rfc_mask, 0);
	CHECK(!memcmp(payload, masked_hello + 6, 5));
}

/* The client's header for each length encoding, byte for byte. */
static void test_build(void)
{
	uint8_t out[WS_HEADER_MAX];
	const uint8_t want_256[] = { 0x82, 0xfe, 0x01, 0x00,
				     0x37, 0xfa, 0x21, 0x3d };
	const uint8_t want_64k[] = { 0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0,
				     0x37, 0xfa, 0x21, 0x3d };
	const uint8_t want_frag[] = { 0x01, 0x83, 0x37, 0xfa, 0x21, 0x3d };
	size_t n;

	n = ws_build_header(out, 1, WS_OP_TEXT, 5, rfc_mask);
	CHECK_INT(n, 6);
	CHECK_MSG(!memcmp(out, masked_hello, 6),
		  "build: the RFC's masked Hello header");
	n = ws_build_header(out, 1, WS_OP_PONG, 5, rfc_mask);
	CHECK_MSG(n == 6 && !memcmp(out, masked_pong, 6),
		  "build: the RFC's masked pong header");
	n = ws_build_header(out, 0, WS_OP_TEXT, 3, rfc_mask);
	CHECK_MSG(n == 6 && !memcmp(out, want_frag, 6),
		  "build: a first fragment has FIN clear");
	n = ws_build_header(out, 1, WS_OP_BINARY, 256, rfc_mask);
	CHECK_MSG(n == 8 && !memcmp(out, want_256, 8),
		  "build: 256 bytes use the 16-bit length");
	n = ws_build_header(out, 1, WS_OP_BINARY, 65536, rfc_mask);
	CHECK_MSG(n == 14 && !memcmp(out, want_64k, 14),
		  "build: 64 KiB uses the 64-bit length");
	/* The boundaries of each encoding. */
	CHECK_INT(ws_build_header(out, 1, WS_OP_BINARY, 125, rfc_mask), 6);
	CHECK_INT(ws_build_header(out, 1, WS_OP_BINARY, 126, rfc_mask), 8);
	CHECK_INT(ws_build_header(out, 1, WS_OP_BINARY, 65535, rfc_mask), 8);
	CHECK_INT(ws_build_header(out, 1, WS_OP_BINARY, 65536, rfc_mask), 14);
}

/* What the builder writes, the parser reads back, at each boundary. */
static void test_build_parse_round_trip(void)
{
	const uint64_t lengths[] = { 0, 1, 125, 126, 127, 65535, 65536,
				     (uint64_t)1 << 32,
				     ((uint64_t)1 << 63) - 1 };
	uint8_t out[WS_HEADER_MAX];
	struct ws_frame_header h;

	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		size_t n = ws_build_header(out, 1, WS_OP_BINARY, lengths[i],
					   rfc_mask);
		enum ws_parse_result r = ws_parse_header(out, n, &h);

		CHECK_MSG(r == WS_PARSE_OK && h.length == lengths[i] &&
			  h.header_len == n && h.masked &&
			  !memcmp(h.mask, rfc_mask, 4),
			  "round trip of length %llu",
			  (unsigned long long)lengths[i]);
	}
}

static void expect_bad_length(const char *what, const uint8_t *buf,
			      size_t len)
{
	struct ws_frame_header h;

	CHECK_MSG(ws_parse_header(buf, len, &h) == WS_PARSE_BAD_LENGTH,
		  "refused as a bad length: %s", what);
}

static void test_bad_lengths(void)
{
	const uint8_t top_bit[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t all_ones[] = { 0x82, 0x7f, 0xff, 0xff, 0xff, 0xff,
				     0xff, 0xff, 0xff, 0xff };
	const uint8_t long_for_short[] = { 0x82, 0x7e, 0x00, 0x7d };
	const uint8_t long_for_126[] = { 0x82, 0x7e, 0x00, 0x00 };
	const uint8_t wide_for_16bit[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 0,
					   0xff, 0xff };
	const uint8_t wide_for_short[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 0,
					   0, 5 };

	expect_bad_length("a 64-bit length of 2^63", top_bit,
			  sizeof(top_bit));
	expect_bad_length("a 64-bit length of 2^64-1", all_ones,
			  sizeof(all_ones));
	expect_bad_length("125 in the 16-bit form", long_for_short,
			  sizeof(long_for_short));
	expect_bad_length("0 in the 16-bit form", long_for_126,
			  sizeof(long_for_126));
	expect_bad_length("65535 in the 64-bit form", wide_for_16bit,
			  sizeof(wide_for_16bit));
	expect_bad_length("5 in the 64-bit form", wide_for_short,
			  sizeof(wide_for_short));
}

/*
 * The fields the layer refuses on (reserved bits, opcode, the MASK bit,
 * FIN on a control frame, a control frame's length) come out as sent.
 */
static void test_fields_the_layer_checks(void)
{
	struct ws_frame_header h;
	const uint8_t rsv_all[] = { 0xf1, 0x00 };
	const uint8_t rsv1[] = { 0xc1, 0x00 };
	const uint8_t op3[] = { 0x83, 0x00 };
	const uint8_t opB[] = { 0x8b, 0x00 };
	const uint8_t ping_nofin[] = { 0x09, 0x00 };
	const uint8_t close_126[] = { 0x88, 0x7e, 0x00, 0x7e };

	CHECK(ws_parse_header(rsv_all, 2, &h) == WS_PARSE_OK && h.rsv == 7 &&
	      h.opcode == WS_OP_TEXT && h.fin == 1);
	CHECK(ws_parse_header(rsv1, 2, &h) == WS_PARSE_OK && h.rsv == 4);
	CHECK(ws_parse_header(op3, 2, &h) == WS_PARSE_OK && h.opcode == 3);
	CHECK(ws_parse_header(opB, 2, &h) == WS_PARSE_OK && h.opcode == 0xb);
	CHECK(ws_parse_header(ping_nofin, 2, &h) == WS_PARSE_OK &&
	      h.fin == 0 && h.opcode == WS_OP_PING);
	CHECK(ws_parse_header(close_126, 4, &h) == WS_PARSE_OK &&
	      h.opcode == WS_OP_CLOSE && h.length == 126);
	CHECK(ws_parse_header(masked_hello, 6, &h) == WS_PARSE_OK &&
	      h.masked == 1);
	/* A masked header lacking part of its key still needs more. */
	CHECK(ws_parse_header(masked_hello, 5, &h) == WS_PARSE_NEED_MORE);
}

static void ref_mask(uint8_t *d, size_t len, const uint8_t m[4],
		     uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		d[i] ^= m[(offset + i) & 3];
}

/* Word-at-a-time masking agrees with the byte-wise XOR everywhere. */
static void test_mask_against_reference(void)
{
	static uint8_t data[80], want[80];
	int bad = 0;

	for (size_t align = 0; align < 8; align++)
		for (size_t len = 0; len <= 37; len++)
			for (uint64_t off = 0; off < 6; off++) {
				for (size_t i = 0; i < sizeof(data); i++)
					data[i] = want[i] =
						(uint8_t)(i * 7 + 3);
				ws_mask(data + align, len, rfc_mask, off);
				ref_mask(want + align, len, rfc_mask, off);
				if (memcmp(data, want, sizeof(data)))
					bad++;
			}
	CHECK_MSG(bad == 0, "mask: word-wise equals byte-wise at 8 "
		  "alignments x 38 lengths x 6 offsets (%d differ)", bad);
}

/* Masking in odd-sized pieces equals masking at once, and undoes. */
static void test_mask_in_pieces(void)
{
	const size_t pieces[] = { 1, 3, 5, 7, 2, 11, 13, 1, 9 };
	uint8_t whole[52], parts[52], orig[52];
	uint64_t off = 0;
	size_t pos = 0;

	for (size_t i = 0; i < sizeof(orig); i++)
		orig[i] = (uint8_t)(0xa5 ^ i);
	memcpy(whole, orig, sizeof(orig));
	memcpy(parts, orig, sizeof(orig));
	ws_mask(whole, sizeof(whole), rfc_mask, 0);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		ws_mask(parts + pos, pieces[i], rfc_mask, off);
		pos += pieces[i];
		off += pieces[i];
	}
	CHECK_INT(pos, sizeof(parts));
	CHECK(!memcmp(whole, parts, sizeof(whole)));
	ws_mask(parts, sizeof(parts), rfc_mask, 0);
	CHECK(!memcmp(parts, orig, sizeof(orig)));
	/* An offset past 2^32 lines up by its low bits only. */
	memcpy(parts, orig, sizeof(orig));
	ws_mask(parts + 1, 17, rfc_mask, ((uint64_t)1 << 40) + 1);
	memcpy(whole, orig, sizeof(orig));
	ref_mask(whole + 1, 17, rfc_mask, 1);
	CHECK(!memcmp(whole, parts, sizeof(whole)));
}

/* RFC 6455 section 1.3's handshake example. */
static void test_accept_key(void)
{
	char out[64];

	CHECK_INT(ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", out,
				    sizeof(out)), 0);
	CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* ------------------------------------------------------------------ */
/* the websocket layer on a fake server                                */
/* ------------------------------------------------------------------ */

/* What the layer made of the server's frames after a valid 101. */
struct outcome {
	int rc;                 /* the last ps_ws_recv result */
	char message[600];      /* conn->err.message when it failed */
	char text[64];          /* the first message delivered, if any */
	unsigned close_sent;    /* the code of the client's close, or 0 */
};

/* The code of the last close frame the client sent, or 0. */
static unsigned client_close_code(const struct ws_server *ws,
				  const struct buf *sent)
{
	const uint8_t *p = (const uint8_t *)sent->data + ws->request_len;
	size_t left = sent->len - ws->request_len;
	struct ws_frame_header h;
	unsigned code = 0;

	while (ws_parse_header(p, left, &h) == WS_PARSE_OK &&
	       left - h.header_len >= h.length) {
		if (h.opcode == WS_OP_CLOSE && h.length >= 2) {
			uint8_t c[2] = { p[h.header_len], p[h.header_len + 1] };

			ws_mask(c, 2, h.mask, 0);
			code = (unsigned)c[0] << 8 | c[1];
		}
		p += h.header_len + h.length;
		left -= h.header_len + (size_t)h.length;
	}
	return code;
}

static void serve(const uint8_t *frames, size_t len, struct outcome *out)
{
	static const char head[] =
		"HTTP/1.1 101 Switching Protocols\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: @ACCEPT@\r\n\r\n";
	struct fake_peer peer;
	struct fake_chain fc;
	struct ws_server ws;
	ps_ws_message m;

	memset(out, 0, sizeof(*out));
	memset(&peer, 0, sizeof(peer));
	peer.end_again = 1;	/* silence after the frames, not EOF */
	buf_init(&peer.sent);
	ws_server_init(&ws, &peer, frames, len, head);
	fake_chain_init(&fc, &peer, WS_FUZZ_DEST, NULL, 0);
	out->rc = fake_chain_run(&fc, &peer);
	while (out->rc == PS_OK) {
		out->rc = ps_ws_recv(fc.conn, &m);
		if (out->rc == PS_AGAIN && peer.stalls < 2)
			out->rc = PS_OK;
		else if (out->rc == PS_OK && !out->text[0])
			snprintf(out->text, sizeof(out->text), "%.*s",
				 (int)m.len, (const char *)m.data);
	}
	if (out->rc != PS_AGAIN)
		snprintf(out->message, sizeof(out->message), "%s",
			 fc.conn->err.message);
	out->close_sent = client_close_code(&ws, &peer.sent);
	fake_chain_free(&fc);
	buf_free(&peer.sent);
	buf_free(&ws.stream);
}

static void expect_refused(const char *what, const uint8_t *frames,
			   size_t len, const char *reason)
{
	struct outcome o;

	serve(frames, len, &o);
	CHECK_MSG(o.rc == PS_ERR_WEBSOCKET && strstr(o.message, reason),
		  "%s: PS_ERR_WEBSOCKET, '%s' (got %s: %s)", what, reason,
		  ps_code_name(o.rc), o.message);
	CHECK_MSG(o.close_sent == 1002, "%s: the client closes with 1002"
		  " (got %u)", what, o.close_sent);
}

static void test_layer_refusals(void)
{
	const uint8_t rsv1[] = { 0xc1, 0x00 };
	const uint8_t op3[] = { 0x83, 0x00 };
	const uint8_t opB[] = { 0x8b, 0x00 };
	const uint8_t ping_nofin[] = { 0x09, 0x00 };
	const uint8_t huge[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t not_minimal[] = { 0x82, 0x7e, 0x00, 0x05,
					'H', 'e', 'l', 'l', 'o' };
	uint8_t long_ping[4 + 126] = { 0x89, 0x7e, 0x00, 0x7e };

	const struct {
		const char *what;
		const uint8_t *frames;
		size_t len;
		const char *reason;
	} cases[] = {
#define FRAMES(a) a, sizeof(a)
		{ "RSV1 without an extension", FRAMES(rsv1),
		  "closed with 1002: reserved bits set" },
		{ "opcode 3", FRAMES(op3), "closed with 1002: an unknown opcode" },
		{ "opcode 0xB", FRAMES(opB),
		  "closed with 1002: an unknown opcode" },
		{ "a fragmented ping", FRAMES(ping_nofin),
		  "closed with 1002: a fragmented control frame" },
		{ "a 126-byte ping", FRAMES(long_ping),
		  "closed with 1002: a control frame over 125 bytes" },
		{ "a 2^63 length", FRAMES(huge), "not minimal or over 2^63" },
		{ "5 in the 16-bit form", FRAMES(not_minimal),
		  "not minimal or over 2^63" },
		{ "the RFC's masked Hello from a server", FRAMES(masked_hello),
		  "closed with 1002: a masked frame from the server" },
#undef FRAMES
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].what, cases[i].frames, cases[i].len,
			       cases[i].reason);
}

/* The RFC's unmasked examples are taken, fragmented or not. */
static void test_layer_accepts_rfc_examples(void)
{
	uint8_t frag[sizeof(frag_first) + sizeof(unmasked_ping) +
		     sizeof(frag_last)];
	struct outcome o;

	serve(unmasked_hello, sizeof(unmasked_hello), &o);
	CHECK_MSG(o.rc == PS_AGAIN && !strcmp(o.text, "Hello"),
		  "layer: unmasked Hello delivered (%d %s)", o.rc, o.message);
	/* A ping may come between fragments (RFC 6455 5.4). */
	memcpy(frag, frag_first, sizeof(frag_first));
	memcpy(frag + sizeof(frag_first), unmasked_ping,
	       sizeof(unmasked_ping));
	memcpy(frag + sizeof(frag_first) + sizeof(unmasked_ping), frag_last,
	       sizeof(frag_last));
	serve(frag, sizeof(frag), &o);
	CHECK_MSG(o.rc == PS_AGAIN && !strcmp(o.text, "Hello"),
		  "layer: Hel + ping + lo delivered as Hello (%d %s)", o.rc,
		  o.message);
	CHECK_INT(o.close_sent, 0);
}

int main(void)
{
	test_rfc_vectors();
	test_rfc_payload_mask();
	test_build();
	test_build_parse_round_trip();
	test_bad_lengths();
	test_fields_the_layer_checks();
	test_mask_against_reference();
	test_mask_in_pieces();
	test_accept_key();
	test_layer_refusals();
	test_layer_accepts_rfc_examples();
	return check_done();
}
