/*
 * ws_frame.c - RFC 6455 framing, masking, UTF-8 and close codes.
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include <proxystack/module.h>

#include "ws_frame.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum ws_parse_result ws_parse_header(const uint8_t *buf, size_t len,
				     struct ws_frame_header *h)
{
	size_t need = 2;
	uint64_t n;

	if (len < 2)
		return WS_PARSE_NEED_MORE;
	memset(h, 0, sizeof(*h));
	h->fin = buf[0] >> 7;
	h->rsv = (buf[0] >> 4) & 7;
	h->opcode = buf[0] & 0x0f;
	h->masked = buf[1] >> 7;
	n = buf[1] & 0x7f;
	if (n == 126)
		need += 2;
	else if (n == 127)
		need += 8;
	if (h->masked)
		need += 4;
	if (len < need)
		return WS_PARSE_NEED_MORE;
	if (n == 126) {
		n = (uint64_t)buf[2] << 8 | buf[3];
		if (n < 126)
			return WS_PARSE_BAD_LENGTH;
	} else if (n == 127) {
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | buf[2 + i];
		if ((n >> 63) || n <= 0xffff)
			return WS_PARSE_BAD_LENGTH;
	}
	h->length = n;
	if (h->masked)
		memcpy(h->mask, buf + need - 4, 4);
	h->header_len = need;
	return WS_PARSE_OK;
}

size_t ws_build_header(uint8_t *out, int fin, int opcode, uint64_t length,
		       const uint8_t mask[4])
{
	size_t n = 2;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (length < 126) {
		out[1] = (uint8_t)(0x80 | length);
	} else if (length <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(length >> 8);
		out[3] = (uint8_t)length;
		n = 4;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(length >> (56 - 8 * i));
		n = 10;
	}
	memcpy(out + n, mask, 4);
	return n + 4;
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4],
	     uint64_t offset)
{
	uint8_t rot[4];
	uint64_t word;
	size_t i = 0;

	/* The mask as it lines up with data[0]. */
	for (int k = 0; k < 4; k++)
		rot[k] = mask[(offset + (uint64_t)k) & 3];
	/* Bytes until data is 8-byte aligned, then whole words. */
	for (; i < len && ((uintptr_t)(data + i) & 7); i++)
		data[i] ^= rot[i & 3];
	if (len - i >= 8) {
		uint8_t pattern[8];

		for (int k = 0; k < 8; k++)
			pattern[k] = rot[(i + (size_t)k) & 3];
		memcpy(&word, pattern, 8);
		for (; len - i >= 8; i += 8) {
			uint64_t v;

			memcpy(&v, data + i, 8);
			v ^= word;
			memcpy(data + i, &v, 8);
		}
	}
	for (; i < len; i++)
		data[i] ^= rot[i & 3];
}

int ws_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;	/* continuation byte, 0xc0/0xc1, > 0xf4 */
		}
		if (len - i <= n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n + 1;
	}
	return 1;
}

int ws_close_code_valid(unsigned code)
{
	if (code >= 3000 && code <= 4999)
		return 1;	/* registered and private use */
	switch (code) {
	case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
	case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
		return 1;
	default:
		return 0;	/* 1004-1006 and 1015 must never be sent */
	}
}

int ws_accept_for_key(const char *key, char *out, size_t outsz)
{
	unsigned char digest[SHA_DIGEST_LENGTH];
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	if (!SHA1((const unsigned char *)buf, (size_t)n, digest))
		return -1;
	return ps_base64_encode(digest, sizeof(digest), out, outsz) ==
			       (size_t)-1
		       ? -1
		       : 0;
}
