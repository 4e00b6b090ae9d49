/*
 * test_credential.c - the host's check of user names, passwords, header
 * fields and User-Agents (host/credential.c), and the Digest quoting of
 * the proxy modules (modules/http1_connect.c).
 */
#include <string.h>

#include "check.h"
#include "credential.h"
#include "http1_connect.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

struct check_case {
	const char *value;
	size_t len;            /* 0: strlen */
	enum credential_kind kind;
	int ok;
	const char *why;       /* a part of the reason, when refused */
};

static const struct check_case check_cases[] = {
	{ "alice", 0, CREDENTIAL_USERNAME, 1, NULL },
	{ "CORP\\alice", 0, CREDENTIAL_USERNAME, 1, NULL },
	{ "j\xc3\xb6rg", 0, CREDENTIAL_USERNAME, 1, NULL },
	{ "", 0, CREDENTIAL_USERNAME, 1, NULL },
	{ "a\"b", 0, CREDENTIAL_USERNAME, 1, NULL },
	{ "bob\"\r\nX-Injected: 1\r\nA: \"", 0, CREDENTIAL_USERNAME, 0,
	  "line break (CR)" },
	{ "bob\nX", 0, CREDENTIAL_USERNAME, 0, "line break (LF)" },
	{ "a:b", 0, CREDENTIAL_USERNAME, 0, "RFC 7617" },
	{ "a\tb", 0, CREDENTIAL_USERNAME, 0, "a tab" },
	{ "a\x7f", 0, CREDENTIAL_USERNAME, 0, "0x7f" },
	{ "a:b", 0, CREDENTIAL_PASSWORD, 1, NULL },
	{ "p@ss w0rd\"\\", 0, CREDENTIAL_PASSWORD, 1, NULL },
	{ "pa\0ss", 5, CREDENTIAL_PASSWORD, 0, "NUL" },
	{ "pa\x1bss", 0, CREDENTIAL_PASSWORD, 0, "0x1b" },
	{ "pass\r", 0, CREDENTIAL_PASSWORD, 0, "header injection" },
	{ "gateway/2.1 (linux)", 0, CREDENTIAL_FIELD_VALUE, 1, NULL },
	{ "a\tb", 0, CREDENTIAL_FIELD_VALUE, 1, NULL },
	{ "a\r\nb", 0, CREDENTIAL_FIELD_VALUE, 0, "CR" },
	{ "\x01", 0, CREDENTIAL_FIELD_VALUE, 0, "no HTTP header" },
};

static void test_check(void)
{
	for (size_t i = 0; i < N_ELEMENTS(check_cases); i++) {
		const struct check_case *c = &check_cases[i];
		size_t len = c->len ? c->len : strlen(c->value);
		char why[200] = "";
		int rc = credential_check(c->value, len, c->kind, why,
					  sizeof(why));

		CHECK_MSG((rc == 0) == c->ok, "check case %zu: %s", i,
			  c->ok ? "accepted" : "refused");
		if (c->why)
			CHECK_MSG(strstr(why, c->why) != NULL, "case %zu: the"
				  " reason says '%s' (got '%s')", i, c->why,
				  why);
		/* The reason never quotes the value. */
		if (!c->ok && len > 2)
			CHECK_MSG(strstr(why, c->value) == NULL, "case %zu:"
				  " the value is not in the reason", i);
	}
}

static void test_field(void)
{
	char why[200];

	CHECK(credential_check_field("X-Agent-Id: gw-17", why, sizeof(why))
	      == 0);
	CHECK(credential_check_field("X-Tab:\ta\tb", why, sizeof(why)) == 0);
	CHECK(credential_check_field("X-Empty:", why, sizeof(why)) == 0);
	CHECK(credential_check_field("no colon", why, sizeof(why)) < 0);
	CHECK(credential_check_field(": v", why, sizeof(why)) < 0);
	CHECK(credential_check_field("Bad Name: v", why, sizeof(why)) < 0);
	CHECK(credential_check_field("X-A\r\nX-Injected: 1", why,
				     sizeof(why)) < 0);
	CHECK(credential_check_field("X-A: v\r\nX-Injected: 1", why,
				     sizeof(why)) < 0);
	CHECK_MSG(strstr(why, "X-A") && !strstr(why, "Injected"),
		  "a bad value's field is named, its value not (%s)", why);
}

struct quote_case {
	const char *in;
	const char *want;      /* NULL: refused */
};

static const struct quote_case quote_cases[] = {
	{ "corp", "\"corp\"" },
	{ "", "\"\"" },
	{ "a\"b", "\"a\\\"b\"" },
	{ "a\\b", "\"a\\\\b\"" },
	{ "\"\\\"", "\"\\\"\\\\\\\"\"" },
	{ "tab\there", "\"tab\there\"" },
	{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
	{ "a\r\nb", NULL },
	{ "a\x01", NULL },
	{ "a\x7f", NULL },
};

static void test_quote(void)
{
	char out[64], tiny[5];

	for (size_t i = 0; i < N_ELEMENTS(quote_cases); i++) {
		const struct quote_case *c = &quote_cases[i];
		int rc = h1_quote_string(c->in, out, sizeof(out));

		if (c->want)
			CHECK_STR(rc == 0 ? out : "(refused)", c->want);
		else
			CHECK_MSG(rc < 0, "quote case %zu refused", i);
	}
	/* Never cut: a value that does not fit is refused whole. */
	CHECK(h1_quote_string("ab", tiny, sizeof(tiny)) == 0);
	CHECK(h1_quote_string("abc", tiny, sizeof(tiny)) < 0);
	CHECK(h1_quote_string("a\"", tiny, sizeof(tiny)) < 0);
}

static void test_digest_username(void)
{
	char out[128];

	CHECK(h1_digest_username_param("alice", out, sizeof(out)) == 0);
	CHECK_STR(out, "username=\"alice\"");
	CHECK(h1_digest_username_param("bob\"\\x", out, sizeof(out)) == 0);
	CHECK_STR(out, "username=\"bob\\\"\\\\x\"");
	/* RFC 8187 3.2.3's example character, and RFC 7616 3.9.2's name. */
	CHECK(h1_digest_username_param("J\xc3\xa4s\xc3\xb8n Doe", out,
				       sizeof(out)) == 0);
	CHECK_STR(out, "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe");
	CHECK(h1_digest_username_param("\xe2\x82\xac rates", out,
				       sizeof(out)) == 0);
	CHECK_STR(out, "username*=UTF-8''%E2%82%AC%20rates");
	/* Not UTF-8 (Latin-1, an overlong, a surrogate): refused. */
	CHECK(h1_digest_username_param("J\xe4son", out, sizeof(out)) < 0);
	CHECK(h1_digest_username_param("\xc0\xaf", out, sizeof(out)) < 0);
	CHECK(h1_digest_username_param("\xed\xa0\x80", out, sizeof(out)) < 0);
	/* A control byte is refused, whatever the form. */
	CHECK(h1_digest_username_param("a\r\nb", out, sizeof(out)) < 0);
	CHECK(h1_digest_username_param("\xc3\xa4\r\n", out, sizeof(out)) < 0);
}

int main(void)
{
	test_check();
	test_field();
	test_quote();
	test_digest_username();
	return check_done();
}
