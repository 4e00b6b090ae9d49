/*
 * test_codec.c - ps_base64_encode(), ps_base64_decode() and
 * ps_percent_decode().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <proxystack/module.h>

#include "check.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

struct base64_case {
	const char *in;
	size_t len;
	const char *want;
};

/* RFC 4648 section 10, RFC 7617's example, and all 64 symbols in use. */
static const struct base64_case base64_cases[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg==" },
	{ "fo", 2, "Zm8=" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg==" },
	{ "fooba", 5, "Zm9vYmE=" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "Aladdin:open sesame", 19, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==" },
	{ "\xff\xfe\x00", 3, "//4A" },
	{ "\xfb\xff", 2, "+/8=" },
	{ "\x00", 1, "AA==" },
	{ "\x00\x00\x00\x00", 4, "AAAAAA==" },
	{ "\x00\x10\x83\x10\x51\x87\x20\x92\x8b\x30\xd3\x8f\x41\x14\x93"
	  "\x51\x55\x97\x61\x96\x9b\x71\xd7\x9f\x82\x18\xa3\x92\x59\xa7"
	  "\xa2\x9a\xab\xb2\xdb\xaf\xc3\x1c\xb3\xd3\x5d\xb7\xe3\x9e\xbb"
	  "\xf3\xdf\xbf", 48,
	  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" },
};

static void test_base64_vectors(void)
{
	char out[128];
	size_t i;

	for (i = 0; i < N_ELEMENTS(base64_cases); i++) {
		const struct base64_case *c = &base64_cases[i];
		size_t n;

		memset(out, 'X', sizeof(out));
		n = ps_base64_encode(c->in, c->len, out, sizeof(out));
		CHECK_STR(out, c->want);
		CHECK_INT(n, strlen(c->want));
	}
}

/* The documented size, 4 * ((len + 2) / 3) + 1, is enough and needed. */
/* The same vectors back, unpadded too; then what is not base64. */
static void test_base64_decode(void)
{
	static const char *const bad[] = {
		"Zg===", "Z", "Zm9vY", "Zm9v!", "Zm 9v", "Zg=a",
	};
	unsigned char out[64];
	long n;

	for (size_t i = 0; i < N_ELEMENTS(base64_cases); i++) {
		const struct base64_case *c = &base64_cases[i];
		size_t len = strlen(c->want);

		n = ps_base64_decode(c->want, len, out, sizeof(out));
		CHECK_INT(n, (long)c->len);
		CHECK_MSG(n == (long)c->len && !memcmp(out, c->in, c->len),
			  "decode %s", c->want);
		while (len && c->want[len - 1] == '=')
			len--;
		CHECK_INT(ps_base64_decode(c->want, len, out, sizeof(out)),
			  (long)c->len);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		CHECK_MSG(ps_base64_decode(bad[i], strlen(bad[i]), out,
					   sizeof(out)) == -1,
			  "not base64: \"%s\"", bad[i]);
	/* "foobar" needs 6 bytes: 5 is no room, never an overflow. */
	CHECK_INT(ps_base64_decode("Zm9vYmFy", 8, out, 5), -1);
	CHECK_INT(ps_base64_decode("Zm9vYmFy", 8, out, 6), 6);
}

static void test_base64_buffer_size(void)
{
	char out[16];
	size_t len;

	for (len = 0; len <= 9; len++) {
		size_t need = 4 * ((len + 2) / 3) + 1;

		memset(out, 'X', sizeof(out));
		CHECK_INT(ps_base64_encode("abcdefghi", len, out, need),
			  need - 1);
		CHECK_INT(strlen(out), need - 1);
		memset(out, 'X', sizeof(out));
		CHECK_INT(ps_base64_encode("abcdefghi", len, out, need - 1),
			  (size_t)-1);
		/* A refused call still leaves a terminated, empty string. */
		CHECK_MSG(need - 1 == 0 || out[0] == '\0',
			  "short buffer for %zu bytes is left empty", len);
	}
	out[0] = 'X';
	CHECK_INT(ps_base64_encode("abc", 3, out, 0), (size_t)-1);
	CHECK(out[0] == 'X');
	CHECK_INT(ps_base64_encode("abc", 3, NULL, 10), (size_t)-1);
	CHECK_INT(ps_base64_encode(NULL, 0, out, sizeof(out)), 0);
	CHECK_STR(out, "");
	CHECK_INT(ps_base64_encode(NULL, 3, out, sizeof(out)), (size_t)-1);
	/* A length whose encoded size overflows size_t is refused, unread. */
	CHECK_INT(ps_base64_encode("x", SIZE_MAX, out, sizeof(out)),
		  (size_t)-1);
	CHECK_INT(ps_base64_encode("x", SIZE_MAX / 4 * 3, out, sizeof(out)),
		  (size_t)-1);
	/* 2^62 groups (on 64 bits): a naive 4 * groups + 1 wraps to 1. */
	CHECK_INT(ps_base64_encode("x", (SIZE_MAX / 4 + 1) * 3, out,
				   sizeof(out)),
		  (size_t)-1);
}

struct decode_case {
	const char *in;
	const char *want; /* NULL: refused */
};

static const struct decode_case decode_cases[] = {
	{ "", "" },
	{ "plain", "plain" },
	{ "p%40ss%3Aw%2Frd%25", "p@ss:w/rd%" },
	{ "%41%42%43", "ABC" },
	{ "%2f%2F", "//" },
	{ "a+b", "a+b" },	/* RFC 3986, not form encoding */
	{ "%20", " " },
	{ "%0D%0A", "\r\n" },
	{ "%e2%82%ac", "\xe2\x82\xac" },
	{ "%ff", "\xff" },
	{ "%2525", "%25" },	/* decoded once only */
	{ "%", NULL },
	{ "abc%", NULL },
	{ "%4", NULL },
	{ "abc%4", NULL },
	{ "%zz", NULL },
	{ "%g0", NULL },
	{ "%0g", NULL },
	{ "%%", NULL },
	{ "%%41", NULL },
	{ "% 41", NULL },
	{ "%00", NULL },
	{ "a%00b", NULL },
	{ "ok%41%zz", NULL },
	{ "%+1", NULL },
	{ "%-1", NULL },
};

static void test_percent_decode(void)
{
	size_t i;

	for (i = 0; i < N_ELEMENTS(decode_cases); i++) {
		const struct decode_case *c = &decode_cases[i];
		char *got;

		errno = 0;
		got = ps_percent_decode(c->in);
		/* Print the encoded input only: decoded bytes may be CR/LF. */
		CHECK_MSG(c->want == NULL
				  ? got == NULL
				  : got != NULL && !strcmp(got, c->want),
			  "ps_percent_decode(\"%s\") %s", c->in,
			  c->want ? "decodes as expected" : "is refused");
		if (c->want == NULL)
			CHECK_MSG(errno == EINVAL, "errno EINVAL for \"%s\"",
				  c->in);
		free(got);
	}
	CHECK(ps_percent_decode(NULL) == NULL);
}

/* Long input: every byte decoded, nothing read past the end. */
static void test_percent_decode_long(void)
{
	char in[3 * 1000 + 1], *got;
	size_t i;

	for (i = 0; i < 1000; i++)
		memcpy(in + 3 * i, "%7e", 3);
	in[3 * 1000] = '\0';
	got = ps_percent_decode(in);
	CHECK(got != NULL);
	if (got) {
		CHECK_INT(strlen(got), 1000);
		CHECK(strspn(got, "~") == 1000);
	}
	free(got);
}

int main(void)
{
	test_base64_vectors();
	test_base64_decode();
	test_base64_buffer_size();
	test_percent_decode();
	test_percent_decode_long();
	return check_done();
}
