/*
 * test_serve_http.c - the request parser of proxystack serve on good and
 * hostile heads: CONNECT and absolute forms, every prefix of a valid head
 * (needs more, never an error), the limits (431), and malformed lines,
 * targets and headers (400, 501, 505); and the origin-form request it
 * builds, without hop-by-hop headers.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "serve.h"

static int parse(const char *head, struct http_request *r)
{
	char why[128];

	return http_parse_request(head, strlen(head), r, why, sizeof(why));
}

static void test_connect(void)
{
	struct http_request r;
	const char *h = "CONNECT example.com:443 HTTP/1.1\r\n"
			"Host: example.com:443\r\n"
			"Proxy-Authorization: Basic YTpi  \r\n\r\nTLS";

	CHECK(parse(h, &r) == 0);
	CHECK(r.kind == HTTP_CONNECT);
	CHECK_STR(r.host, "example.com");
	CHECK(r.port == 443);
	CHECK(r.head_len == strlen(h) - 3);
	CHECK(r.proxy_auth && r.proxy_auth_len == 10 &&
	      !memcmp(r.proxy_auth, "Basic YTpi", 10));
	CHECK(parse("CONNECT [::1]:8443 HTTP/1.1\n\n", &r) == 0);
	CHECK_STR(r.host, "::1");
	CHECK(r.host_is_v6 && r.port == 8443);
	CHECK(parse("CONNECT 10.1.2.3:22 HTTP/1.0\r\n\r\n", &r) == 0);
	CHECK(r.minor == 0);
}

static void test_absolute(void)
{
	struct http_request r;
	size_t len;
	char *out;
	const char *h = "GET http://example.com/a?b=c HTTP/1.1\r\n"
			"Host: example.com\r\n"
			"Proxy-Connection: keep-alive\r\n"
			"Connection: X-Secret, keep-alive\r\n"
			"X-Secret: 1\r\n"
			"Accept: */*\r\n\r\n";

	CHECK(parse(h, &r) == 0);
	CHECK(r.kind == HTTP_ABSOLUTE && r.port == 80);
	CHECK(r.path_len == 6 && !memcmp(r.path, "/a?b=c", 6));
	out = http_origin_request(h, &r, &len);
	CHECK(out != NULL);
	if (!out)
		return;
	out[len] = '\0';
	CHECK(!strncmp(out, "GET /a?b=c HTTP/1.1\r\n", 21));
	CHECK(strstr(out, "Host: example.com\r\n") != NULL);
	CHECK(strstr(out, "Accept: */*\r\n") != NULL);
	CHECK(strstr(out, "Proxy-Connection") == NULL);
	CHECK(strstr(out, "X-Secret: 1") == NULL);
	CHECK(strstr(out, "keep-alive") == NULL);
	CHECK(len > 4 && !strcmp(out + len - 23, "\r\nConnection: close\r\n\r\n"));
	free(out);

	CHECK(parse("GET http://h:8080 HTTP/1.1\r\n\r\n", &r) == 0);
	CHECK(r.port == 8080 && r.path_len == 1 && r.path[0] == '/');
	out = http_origin_request("GET http://h:8080 HTTP/1.1\r\n\r\n", &r,
				  &len);
	CHECK(out && strstr(out, "Host: h:8080\r\n"));
	free(out);
}

static void test_prefixes_need_more(void)
{
	const char *h = "CONNECT a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n";
	char why[128];
	struct http_request r;
	int all = 1;

	for (size_t n = 0; n < strlen(h); n++)
		all &= http_parse_request(h, n, &r, why, sizeof(why)) == 1;
	CHECK_MSG(all, "every proper prefix of a head needs more bytes");
}

static void test_limits(void)
{
	char *big = malloc(SERVE_HEAD_MAX + 64);
	struct http_request r;
	char why[128];

	memset(big, 'a', SERVE_HEAD_MAX + 64);
	memcpy(big, "GET http://x/", 13);
	CHECK(http_parse_request(big, SERVE_HEAD_MAX + 64, &r, why,
				 sizeof(why)) == 431);
	memcpy(big, "CONNECT x:1 HTTP/1.1\r\nA: ", 25);
	CHECK(http_parse_request(big, SERVE_HEAD_MAX + 64, &r, why,
				 sizeof(why)) == 431);
	free(big);
}

static void test_malformed(void)
{
	static const struct {
		const char *head;
		int status;
	} cases[] = {
		{ "\x16\x03\x01\x02\x05\x01\x01\xfc\x03\x03\n\n", 400 },
		{ "CONNECT example.com HTTP/1.1\r\n\r\n", 400 },
		{ "CONNECT example.com:0 HTTP/1.1\r\n\r\n", 400 },
		{ "CONNECT example.com:65536 HTTP/1.1\r\n\r\n", 400 },
		{ "CONNECT exa mple.com:1 HTTP/1.1\r\n\r\n", 400 },
		{ "CONNECT ex%41.com:1 HTTP/1.1\r\n\r\n", 400 },
		{ "CONNECT [::1:1 HTTP/1.1\r\n\r\n", 400 },
		{ "CONNECT [zz::1]:1 HTTP/1.1\r\n\r\n", 400 },
		{ "CONNECT a:1 HTTP/2.0\r\n\r\n", 505 },
		{ "CONNECT a:1 HTTP/1.1 x\r\n\r\n", 400 },
		{ "CONNECT a:1 HTTP/1.2\r\n\r\n", 505 },
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
		{ "GET https://a/ HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://u:p@a/ HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/#f HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/\x01 HTTP/1.1\r\n\r\n", 400 },
		{ "CONNECT a:1 HTTP/1.1\r\nNo colon\r\n\r\n", 400 },
		{ "CONNECT a:1 HTTP/1.1\r\nBad Name: x\r\n\r\n", 400 },
		{ "CONNECT a:1 HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400 },
		{ "CONNECT a:1 HTTP/1.1\r\nA: b\x01\r\n\r\n", 400 },
		{ "CONNECT a:1 HTTP/1.1\r\n: b\r\n\r\n", 400 },
		{ "VERYLONGMETHODNAMEOVERTWENTY http://a/ HTTP/1.1\r\n\r\n",
		  501 },
		{ " CONNECT a:1 HTTP/1.1\r\n\r\n", 400 },
	};
	struct http_request r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = parse(cases[i].head, &r);

		CHECK_MSG(got == cases[i].status, "malformed case %zu: %d"
			  " (want %d)", i, got, cases[i].status);
	}
}

static void test_answers(void)
{
	size_t len;
	char *a = http_answer(407, "proxystack: client-auth: x", &len);

	CHECK(a && !strncmp(a, "HTTP/1.1 407 Proxy Authentication Required"
			    "\r\n", 44));
	CHECK(a && strstr(a, "Proxy-Authenticate: Basic realm=\"proxystack\""));
	CHECK(a && len > 27 && !strcmp(a + len - 27,
				       "proxystack: client-auth: x\n"));
	free(a);
	CHECK(http_status_for_code(PS_ERR_TIMEOUT) == 504);
	CHECK(http_status_for_code(PS_ERR_PROXY_DENIED) == 502);
}

int main(void)
{
	test_connect();
	test_absolute();
	test_prefixes_need_more();
	test_limits();
	test_malformed();
	test_answers();
	return check_done();
}
