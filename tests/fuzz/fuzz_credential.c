/*
 * fuzz_credential.c - the host's check of user names, passwords and
 * header fields (host/credential.c) and the Digest quoting of the proxy
 * modules (h1_quote_string, h1_digest_username_param in
 * modules/http1_connect.c).
 *
 * Input: one byte choosing the kind (low two bits: user name, password,
 * field value, "Name: value" field), then the value (NULs included).
 * Besides memory safety the target checks:
 *   - credential_check() accepts exactly the values without a refused
 *     byte (control bytes, HTAB but in field values, ':' in user names),
 *     and its reason never quotes the value;
 *   - an accepted field "Name: value" holds no CR, LF or NUL;
 *   - h1_quote_string() of anything it accepts is one quoted-string:
 *     quotes at both ends, no bare '"' inside, no control byte but HTAB,
 *     and unescaping gives the input back; it refuses exactly the
 *     inputs with a control byte other than HTAB;
 *   - h1_digest_username_param() gives username="..." (ASCII) or
 *     username*=UTF-8''... of attr-chars and %XX that decodes to the
 *     input, never a control byte, and refuses only what it must.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "credential.h"
#include "fuzz_common.h"
#include "http1_connect.h"

static int refused_byte(unsigned char c, int kind)
{
	if (c == '\t')
		return kind != CREDENTIAL_FIELD_VALUE;
	return c < 0x20 || c == 0x7f ||
	       (kind == CREDENTIAL_USERNAME && c == ':');
}

static void check_validator(const char *v, size_t len, int kind)
{
	char why[200];
	int want = 0, rc;

	for (size_t i = 0; i < len; i++)
		want |= refused_byte((unsigned char)v[i], kind);
	rc = credential_check(v, len, (enum credential_kind)kind, why,
			      sizeof(why));
	if ((rc != 0) != want)
		fuzz_fail("credential_check kind %d said %d", kind, rc);
	if (rc && len >= 4 && memmem(why, strlen(why), v, len))
		fuzz_fail("the reason quotes the value: %s", why);
}

static void check_field(const char *field)
{
	char why[200];

	if (credential_check_field(field, why, sizeof(why)) == 0 &&
	    (strpbrk(field, "\r\n") || !strchr(field, ':')))
		fuzz_fail("a field with a line break or no colon accepted");
}

static int quotable(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static void check_quote(const char *in)
{
	size_t len = strlen(in), cap = 2 * len + 3, n = 0;
	char *out = malloc(cap), *back = malloc(len + 1);
	int want = 1, rc;

	if (!out || !back)
		fuzz_fail("out of memory");
	for (const char *p = in; *p; p++)
		want &= quotable((unsigned char)*p);
	rc = h1_quote_string(in, out, cap);
	if ((rc == 0) != want)
		fuzz_fail("h1_quote_string said %d", rc);
	if (rc == 0) {
		size_t olen = strlen(out);

		if (olen < 2 || out[0] != '"' || out[olen - 1] != '"')
			fuzz_fail("not one quoted-string: %s", out);
		for (size_t i = 1; i + 1 < olen; i++) {
			if (!quotable((unsigned char)out[i]))
				fuzz_fail("a control byte in the quoted form");
			if (out[i] == '"')
				fuzz_fail("a bare quote inside: %s", out);
			if (out[i] == '\\')
				i++;
			if (i + 1 >= olen)
				fuzz_fail("an escape eats the closing quote");
			back[n++] = out[i];
		}
		back[n] = '\0';
		if (strcmp(back, in))
			fuzz_fail("unquoting does not give the input back");
		/* One byte less never cuts it: it refuses. */
		if (h1_quote_string(in, out, olen) == 0)
			fuzz_fail("h1_quote_string cut the value");
	}
	free(out);
	free(back);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F'
						     ? c - 'A' + 10 : -1;
}

static void check_username_param(const char *user)
{
	static const char ext[] = "username*=UTF-8''";
	size_t len = strlen(user), cap = 3 * len + 32, n = 0;
	char *out = malloc(cap), *back = malloc(len + 1);
	int ascii = 1, clean = 1;

	if (!out || !back)
		fuzz_fail("out of memory");
	for (const char *p = user; *p; p++) {
		ascii &= (unsigned char)*p < 0x80;
		clean &= quotable((unsigned char)*p);
	}
	if (h1_digest_username_param(user, out, cap)) {
		if (clean && ascii)
			fuzz_fail("an ASCII name without control bytes"
				  " refused");
		goto done;
	}
	if (!clean)
		fuzz_fail("a name with a control byte accepted");
	if (ascii) {
		if (strncmp(out, "username=\"", 10))
			fuzz_fail("ASCII name not quoted: %s", out);
		goto done;
	}
	if (strncmp(out, ext, sizeof(ext) - 1))
		fuzz_fail("non-ASCII name without username*: %s", out);
	for (const char *p = out + sizeof(ext) - 1; *p; p++) {
		if (*p == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (lo < 0)
				fuzz_fail("a bad %%-escape: %s", out);
			back[n++] = (char)(hi * 16 + lo);
			p += 2;
		} else if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f
			   || strchr("\"\\%',;*()<>@:/[]?={}", *p)) {
			fuzz_fail("not an attr-char: %s", out);
		} else {
			back[n++] = *p;
		}
	}
	back[n] = '\0';
	if (strcmp(back, user))
		fuzz_fail("username* does not decode to the name");
done:
	free(out);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value;
	int kind;

	if (size < 1 || size > 4096)
		return 0;
	kind = data[0] & 3;
	value = malloc(size);
	if (!value)
		return 0;
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0';
	if (kind < 3)
		check_validator(value, size - 1, kind);
	else
		check_field(value);
	check_quote(value);
	check_username_param(value);
	free(value);
	return 0;
}
