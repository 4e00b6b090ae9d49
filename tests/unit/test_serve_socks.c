/*
 * test_serve_socks.c - the SOCKS5 parser of proxystack serve (RFC 1928,
 * RFC 1929): greetings with and without the methods we take, requests
 * for every address type, every prefix needing more bytes, and malformed
 * input with the reply code it earns; the reply codes failed chains map
 * to.
 */
#include <string.h>

#include "check.h"
#include "serve.h"

static void test_greeting(void)
{
	const uint8_t none[] = { 5, 2, 0x80, 0 }, pass[] = { 5, 1, 2 };
	size_t used = 0;
	int method = -1;

	CHECK(socks_parse_greeting(none, 1, 0, &used, &method) ==
	      SOCKS_NEED_MORE);
	CHECK(socks_parse_greeting(none, 3, 0, &used, &method) ==
	      SOCKS_NEED_MORE);
	CHECK(socks_parse_greeting(none, 4, 0, &used, &method) == SOCKS_DONE);
	CHECK(used == 4 && method == SOCKS_METHOD_NONE);
	CHECK(socks_parse_greeting(none, 4, 1, &used, &method) == SOCKS_DONE);
	CHECK(method == SOCKS_METHOD_REFUSED);
	CHECK(socks_parse_greeting(pass, 3, 0, &used, &method) == SOCKS_DONE);
	CHECK(method == SOCKS_METHOD_REFUSED);
	CHECK(socks_parse_greeting(pass, 3, 1, &used, &method) == SOCKS_DONE);
	CHECK(method == SOCKS_METHOD_USERPASS);
	CHECK(socks_parse_greeting((const uint8_t *)"\4\1", 2, 0, &used,
				   &method) == SOCKS_BAD);
	CHECK(socks_parse_greeting((const uint8_t *)"\5\0", 2, 0, &used,
				   &method) == SOCKS_BAD);
}

static void test_userpass(void)
{
	const uint8_t ok[] = { 1, 5, 'a', 'l', 'i', 'c', 'e', 2, 'p', 'w' };
	const uint8_t nul[] = { 1, 1, 0, 1, 'x' };
	char user[256], pass[256];
	size_t used;

	for (size_t n = 0; n < sizeof(ok); n++)
		CHECK_MSG(socks_parse_userpass(ok, n, &used, user, pass) ==
			  SOCKS_NEED_MORE, "userpass prefix %zu", n);
	CHECK(socks_parse_userpass(ok, sizeof(ok), &used, user, pass) ==
	      SOCKS_DONE);
	CHECK_STR(user, "alice");
	CHECK_STR(pass, "pw");
	CHECK(used == sizeof(ok));
	CHECK(socks_parse_userpass(nul, sizeof(nul), &used, user, pass) ==
	      SOCKS_BAD);
}

static void test_requests(void)
{
	const uint8_t v4[] = { 5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90 };
	const uint8_t v6[] = { 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0,
			       0, 0, 0, 0, 0, 0, 0, 1, 0, 22 };
	const uint8_t name[] = { 5, 1, 0, 3, 9, 'l', 'o', 'c', 'a', 'l', 'h',
				 'o', 's', 't', 1, 187 };
	struct socks_request r;
	size_t used;
	int reply, all = 1;

	CHECK(socks_parse_request(v4, sizeof(v4), &used, &r, &reply) ==
	      SOCKS_DONE);
	CHECK_STR(r.host, "127.0.0.1");
	CHECK(r.port == 8080 && used == sizeof(v4));
	CHECK(socks_parse_request(v6, sizeof(v6), &used, &r, &reply) ==
	      SOCKS_DONE);
	CHECK_STR(r.host, "::1");
	CHECK(r.host_is_v6 && r.port == 22);
	CHECK(socks_parse_request(name, sizeof(name), &used, &r, &reply) ==
	      SOCKS_DONE);
	CHECK_STR(r.host, "localhost");
	CHECK(r.port == 443 && !r.host_is_v6);
	for (size_t n = 0; n < sizeof(name); n++)
		all &= socks_parse_request(name, n, &used, &r, &reply) ==
		       SOCKS_NEED_MORE;
	CHECK_MSG(all, "every prefix of a request needs more bytes");
}

static void test_bad_requests(void)
{
	static const struct {
		uint8_t bytes[16];
		size_t len;
		int reply;
	} cases[] = {
		{ { 5, 2, 0, 1, 1, 2, 3, 4, 0, 80 }, 10, SOCKS_REP_COMMAND },
		{ { 5, 3, 0, 1, 1, 2, 3, 4, 0, 80 }, 10, SOCKS_REP_COMMAND },
		{ { 5, 1, 0, 9, 1, 2, 3, 4, 0, 80 }, 10, SOCKS_REP_ATYP },
		{ { 5, 1, 0, 1, 1, 2, 3, 4, 0, 0 }, 10, SOCKS_REP_GENERAL },
		{ { 5, 1, 1, 1, 1, 2, 3, 4, 0, 80 }, 10, SOCKS_REP_GENERAL },
		{ { 4, 1, 0, 1, 1, 2, 3, 4, 0, 80 }, 10, SOCKS_REP_GENERAL },
		{ { 5, 1, 0, 3, 0, 0, 80 }, 7, SOCKS_REP_HOST_UNREACHABLE },
		{ { 5, 1, 0, 3, 3, 'a', '/', 'b', 0, 80 }, 10,
		  SOCKS_REP_HOST_UNREACHABLE },
		{ { 5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80 }, 10,
		  SOCKS_REP_HOST_UNREACHABLE },
	};
	struct socks_request r;
	size_t used;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int reply = -1;
		int rc = socks_parse_request(cases[i].bytes, cases[i].len,
					     &used, &r, &reply);

		CHECK_MSG(rc == SOCKS_BAD && reply == cases[i].reply,
			  "bad request %zu: rc %d reply %d (want %d)", i, rc,
			  reply, cases[i].reply);
	}
}

static void test_replies(void)
{
	uint8_t out[10];

	socks_reply(out, SOCKS_REP_TTL_EXPIRED);
	CHECK(out[0] == 5 && out[1] == 6 && out[2] == 0 && out[3] == 1);
	CHECK(socks_reply_for_code(PS_ERR_TIMEOUT) == SOCKS_REP_TTL_EXPIRED);
	CHECK(socks_reply_for_code(PS_ERR_RESOLVE) ==
	      SOCKS_REP_HOST_UNREACHABLE);
	CHECK(socks_reply_for_code(PS_ERR_CONNECT) == SOCKS_REP_REFUSED);
	CHECK(socks_reply_for_code(PS_ERR_PROXY_DENIED) ==
	      SOCKS_REP_NOT_ALLOWED);
	CHECK(socks_reply_for_code(PS_ERR_TLS) == SOCKS_REP_GENERAL);
}

int main(void)
{
	test_greeting();
	test_userpass();
	test_requests();
	test_bad_requests();
	test_replies();
	return check_done();
}
