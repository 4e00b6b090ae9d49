/*
 * codec.c - base64 and percent-decoding, the two encoding helpers the
 * host offers modules (declared in proxystack/module.h) and uses itself
 * for proxy credentials.
 *
 * Both run on secrets (Basic auth, passwords from URLs), so neither
 * leaves a partial copy of its input behind: percent-decoding checks the
 * whole input before it allocates anything.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <proxystack/module.h>

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Bytes ps_base64_encode() needs for 'len' input bytes, or 0 on overflow. */
static size_t base64_encoded_size(size_t len)
{
	size_t groups = len / 3 + (len % 3 != 0);

	if (groups > (SIZE_MAX - 1) / 4)
		return 0;
	return groups * 4 + 1;
}

size_t ps_base64_encode(const void *in, size_t len, char *out, size_t outsz)
{
	const unsigned char *src = in;
	size_t need = base64_encoded_size(len);
	size_t i, o = 0;

	if (need == 0 || out == NULL || outsz < need || (src == NULL && len)) {
		/* Never leave the caller an unterminated buffer. */
		if (out != NULL && outsz > 0)
			out[0] = '\0';
		return (size_t)-1;
	}

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 |
			     (uint32_t)src[i + 1] << 8 | src[i + 2];

		out[o++] = base64_alphabet[v >> 18 & 0x3f];
		out[o++] = base64_alphabet[v >> 12 & 0x3f];
		out[o++] = base64_alphabet[v >> 6 & 0x3f];
		out[o++] = base64_alphabet[v & 0x3f];
	}
	if (i < len) {
		uint32_t v = (uint32_t)src[i] << 16;
		int two = i + 1 < len;

		if (two)
			v |= (uint32_t)src[i + 1] << 8;
		out[o++] = base64_alphabet[v >> 18 & 0x3f];
		out[o++] = base64_alphabet[v >> 12 & 0x3f];
		out[o++] = two ? base64_alphabet[v >> 6 & 0x3f] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* The value of a base64 digit, -1 for anything else. */
static int base64_value(unsigned char c)
{
	const char *p = c ? strchr(base64_alphabet, c) : NULL;

	return p ? (int)(p - base64_alphabet) : -1;
}

long ps_base64_decode(const char *in, size_t len, void *out, size_t outsz)
{
	unsigned char *dst = out;
	size_t n = 0, digits = len;
	uint32_t acc = 0;
	int bits = 0;

	while (digits && in[digits - 1] == '=')
		digits--;
	if (len - digits > 2)
		return -1;
	for (size_t i = 0; i < digits; i++) {
		int v = base64_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = ((acc << 6) | (uint32_t)v) & 0xffffffu;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == outsz)
				return -1;
			dst[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* A lone digit carries no whole byte: not base64. */
	return bits >= 6 ? -1 : (long)n;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The byte an escape at 'p' ('%' followed by two hex digits) stands for,
 * or -1 when it is malformed.  Reading p[2] is safe: p[1] is checked
 * first, so a NUL there stops the evaluation.
 */
static int percent_escape_value(const char *p)
{
	int hi = hex_value(p[1]);
	int lo = hi < 0 ? -1 : hex_value(p[2]);

	if (lo < 0)
		return -1;
	return hi << 4 | lo;
}

/*
 * Validate before allocating: a malformed escape is rejected without a
 * half-decoded copy of a secret ever existing on the heap.  An encoded
 * NUL is refused because it would silently truncate the C string.
 */
static int percent_encoding_valid(const char *in)
{
	const char *p;

	for (p = in; *p; p++) {
		if (*p != '%')
			continue;
		if (percent_escape_value(p) <= 0)
			return 0;
		p += 2;
	}
	return 1;
}

/*
 * RFC 3986 only: '+' stays '+' (form encoding is not URL encoding).
 * errno is EINVAL for malformed input, ENOMEM when malloc failed.
 */
char *ps_percent_decode(const char *in)
{
	char *out, *o;
	const char *p;

	if (in == NULL || !percent_encoding_valid(in)) {
		errno = EINVAL;
		return NULL;
	}
	out = malloc(strlen(in) + 1);
	if (out == NULL)
		return NULL;

	for (p = in, o = out; *p; p++) {
		if (*p == '%') {
			*o++ = (char)percent_escape_value(p);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}
