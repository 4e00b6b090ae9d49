/*
 * ws_frame.h - RFC 6455 framing as pure functions (internal): frame
 * header parsing, frame building, masking, UTF-8 and close-code checks.
 * No I/O and no allocation, so the websocket layer stays small and these
 * can be fuzzed alone.
 */
#ifndef HOST_WS_FRAME_H
#define HOST_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
	WS_OP_CONTINUATION = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA
};

/* Largest frame header: 2 + 8 (length) + 4 (mask). */
#define WS_HEADER_MAX 14

struct ws_frame_header {
	int fin;
	int rsv;              /* the three reserved bits, as 0..7 */
	int opcode;
	int masked;
	uint8_t mask[4];
	uint64_t length;
	size_t header_len;    /* bytes the header took */
};

enum ws_parse_result {
	WS_PARSE_OK = 0,        /* *h filled */
	WS_PARSE_NEED_MORE = 1, /* not enough bytes yet */
	WS_PARSE_BAD_LENGTH = 2 /* a 64-bit length with the top bit set, or
				   a length not in its shortest form */
};

/* Parse a frame header from buf[0..len). */
enum ws_parse_result ws_parse_header(const uint8_t *buf, size_t len,
				     struct ws_frame_header *h);

/*
 * Write a client frame header (FIN as given, masked with 'mask') for a
 * payload of 'length' bytes into out (WS_HEADER_MAX bytes).  Returns the
 * header's length.
 */
size_t ws_build_header(uint8_t *out, int fin, int opcode, uint64_t length,
		       const uint8_t mask[4]);

/*
 * XOR data with the mask, 'offset' bytes into the frame's payload (so a
 * payload can be masked in pieces).  Works a machine word at a time.
 */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4],
	     uint64_t offset);

/* 1 if buf[0..len) is well-formed UTF-8 (RFC 3629), else 0. */
int ws_utf8_valid(const uint8_t *buf, size_t len);

/* 1 if a peer may send this close code (RFC 6455 7.4), else 0. */
int ws_close_code_valid(unsigned code);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key GUID)); out >= 29. */
int ws_accept_for_key(const char *key, char *out, size_t outsz);

#endif
