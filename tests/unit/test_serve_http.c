/*
 * test_serve_http.c - the request parser of proxystack serve on good and
 * hostile heads: CONNECT and absolute forms, every prefix of a valid head
 * (needs more, never an error), the limits (431), and malformed lines,
 * targets and headers (400, 501, 505); and the origin-form request it
 * builds, without hop-by-hop headers; the request's and the response's
 * body framing (Content-Length, chunked with extensions and trailers,
 * HEAD, 1xx/204/304, close-delimited, malformed and overflowing
 * lengths) and the response head the client gets.
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
	CHECK(strstr(out, "X-Secret") == NULL);
	CHECK(len > 28 &&
	      !strcmp(out + len - 28, "\r\nConnection: keep-alive\r\n\r\n"));
	CHECK(strstr(out, "keep-alive") == out + len - 14);
	free(out);

	CHECK(parse("GET http://h:8080 HTTP/1.1\r\n\r\n", &r) == 0);
	CHECK(r.port == 8080 && r.path_len == 1 && r.path[0] == '/');
	out = http_origin_request("GET http://h:8080 HTTP/1.1\r\n\r\n", &r,
				  &len);
	CHECK(out && strstr(out, "Host: h:8080\r\n"));
	free(out);
}

/* The head an HTTP proxy hop forwards: absolute form, port only when
 * not 80, IPv6 in brackets, the same headers as the origin form. */
static void test_forward_request(void)
{
	struct http_request r;
	size_t len;
	char *out;
	const char *h = "POST http://example.com/a?b=c HTTP/1.1\r\n"
			"Host: example.com\r\n"
			"Proxy-Authorization: Basic c2VjcmV0\r\n"
			"Proxy-Connection: keep-alive\r\n"
			"Content-Length: 2\r\n\r\nhi";

	CHECK(parse(h, &r) == 0);
	out = http_forward_request(h, &r, &len);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK(len > 4 && !memcmp(out + len - 4, "\r\n\r\n", 4));
	out[len] = '\0';
	CHECK(!strncmp(out, "POST http://example.com/a?b=c HTTP/1.1\r\n",
		       40));
	CHECK(strstr(out, "Content-Length: 2\r\n") != NULL);
	CHECK(strstr(out, "Proxy-") == NULL);
	CHECK(strstr(out, "hi") == NULL);
	free(out);

	CHECK(parse("GET http://[::1]:8080 HTTP/1.0\r\n\r\n", &r) == 0);
	out = http_forward_request("GET http://[::1]:8080 HTTP/1.0\r\n\r\n",
				   &r, &len);
	CHECK(out && !strncmp(out, "GET http://[::1]:8080/ HTTP/1.0\r\n", 33));
	CHECK(out && strstr(out, "Host: [::1]:8080\r\n"));
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

/* The request's body framing and persistence. */
static void test_request_framing(void)
{
	struct http_request r;

	CHECK(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 12\r\n\r\n",
		    &r) == 0);
	CHECK(r.body.kind == BODY_LENGTH && r.body.left == 12 && r.keep);
	CHECK(parse("POST http://a/ HTTP/1.1\r\n"
		    "Transfer-Encoding: gzip, chunked\r\n\r\n", &r) == 0);
	CHECK(r.body.kind == BODY_CHUNKED && !r.body.done);
	CHECK(parse("GET http://a/ HTTP/1.1\r\n\r\n", &r) == 0);
	CHECK(r.body.done && r.keep);
	CHECK(parse("GET http://a/ HTTP/1.0\r\n\r\n", &r) == 0 && !r.keep);
	CHECK(parse("GET http://a/ HTTP/1.0\r\n"
		    "Proxy-Connection: Keep-Alive\r\n\r\n", &r) == 0 && r.keep);
	CHECK(parse("GET http://a/ HTTP/1.1\r\n"
		    "Proxy-Connection: close\r\n\r\n", &r) == 0 && !r.keep);
	CHECK(parse("GET http://a/ HTTP/1.1\r\n"
		    "Connection: foo, Close\r\n\r\n", &r) == 0 && !r.keep);
	CHECK(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n", &r) == 400);
	CHECK(parse("POST http://a/ HTTP/1.1\r\n"
		    "Transfer-Encoding: gzip\r\n\r\n", &r) == 501);
	CHECK(parse("POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		    &r) == 400);
	CHECK(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\n"
		    "Content-Length: 2\r\n\r\n", &r) == 400);
	CHECK(parse("POST http://a/ HTTP/1.1\r\n"
		    "Content-Length: 99999999999999999999\r\n\r\n", &r) == 400);
}

static int response(const char *head, int head_request,
		    struct http_response *r)
{
	return http_parse_response(head, strlen(head), head_request, r);
}

static void test_response_framing(void)
{
	struct http_response r;
	const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

	CHECK(response(h, 0, &r) == 0);
	CHECK(r.status == 200 && r.keep && r.body.kind == BODY_LENGTH &&
	      r.body.left == 5 && r.head_len == strlen(h) - 5);
	CHECK(response(h, 1, &r) == 0 && r.body.done && r.keep);
	for (size_t n = 0; n < strlen(h) - 5; n++)
		CHECK_MSG(http_parse_response(h, n, 0, &r) == 1,
			  "response prefix %zu needs more", n);
	CHECK(response("HTTP/1.1 204 No Content\r\n\r\n", 0, &r) == 0 &&
	      r.body.done && r.keep);
	CHECK(response("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n"
		       "\r\n", 0, &r) == 0 && r.body.done);
	CHECK(response("HTTP/1.1 100 Continue\r\n\r\n", 0, &r) == 0 &&
	      r.status == 100 && r.body.done);
	CHECK(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		       0, &r) == 0 && r.body.kind == BODY_CHUNKED && r.keep);
	CHECK(response("HTTP/1.1 200 OK\r\n\r\n", 0, &r) == 0 &&
	      r.body.kind == BODY_CLOSE && !r.keep);
	CHECK(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		       0, &r) == 0 && r.body.kind == BODY_CLOSE && !r.keep);
	CHECK(response("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0,
		       &r) == 0 && !r.keep);
	CHECK(response("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
		       "Connection: keep-alive\r\n\r\n", 0, &r) == 0 && r.keep);
	CHECK(response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		       "Connection: close\r\n\r\n", 0, &r) == 0 && !r.keep);
	CHECK(response("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", 0,
		       &r) == -1);
	CHECK(response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		       "Content-Length: 2\r\n\r\n", 0, &r) == -1);
	CHECK(response("HTTP/1.1 200 OK\r\n"
		       "Content-Length: 18446744073709551616\r\n\r\n", 0,
		       &r) == -1);
	CHECK(response("HTTP/1.1 2000 OK\r\n\r\n", 0, &r) == -1);
	CHECK(response("HTTP/2 200 OK\r\n\r\n", 0, &r) == -1);
	CHECK(response("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", 0, &r) == -1);
	CHECK(response("HTTP/1.1 200 OK\r\nBad\x01: b\r\n\r\n", 0, &r) == -1);
}

/* The client's head: hop-by-hop headers out, our Connection in. */
static void test_client_response(void)
{
	struct http_response r;
	const char *h = "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\n"
			"Keep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n";
	size_t len;
	char *out;

	CHECK(response(h, 0, &r) == 0);
	out = http_client_response(h, &r, 1, &len);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK(len == 62 && !memcmp(out, "HTTP/1.1 200 OK\r\n"
				   "Content-Length: 2\r\n"
				   "Connection: keep-alive\r\n\r\n", 62));
	free(out);
	out = http_client_response(h, &r, 0, &len);
	CHECK(out && len == 57 &&
	      !memcmp(out + 36, "Connection: close\r\n", 19));
	free(out);
}

/* Scan a whole body in pieces of 'step' bytes: bytes taken, or -1. */
static long scan_steps(struct http_body *b, const char *p, size_t step)
{
	size_t len = strlen(p), at = 0;

	while (at < len && !b->done) {
		size_t n = len - at < step ? len - at : step;
		long got = http_body_scan(b, p + at, n);

		if (got < 0)
			return -1;
		at += (size_t)got;
		if ((size_t)got < n)
			break;
	}
	return b->done ? (long)at : -2;
}

static void test_chunked(void)
{
	static const char good[] = "8;name=value\r\nchunked \r\n"
				   "3 ; x=\"y\"\r\nhel\r\n3\nlo\n\n"
				   "0\r\nX-Sum: 14\r\nY: 2\r\n\r\n";
	static const char *const bad[] = {
		"\r\n", "x\r\n", "3\r\nabcX\r\n", "1\x01\r\n",
		"11111111111111111\r\n", ";ext\r\n",
	};
	struct http_body b;

	for (size_t step = 1; step <= sizeof(good); step++) {
		memset(&b, 0, sizeof(b));
		b.kind = BODY_CHUNKED;
		CHECK_MSG(scan_steps(&b, good, step) == (long)strlen(good),
			  "chunked body in steps of %zu", step);
	}
	memset(&b, 0, sizeof(b));
	b.kind = BODY_CHUNKED;
	CHECK(http_body_scan(&b, "0\r\n\r\nGET", 8) == 5 && b.done);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&b, 0, sizeof(b));
		b.kind = BODY_CHUNKED;
		CHECK_MSG(scan_steps(&b, bad[i], 64) == -1, "bad chunked %zu",
			  i);
	}
}

static void test_length_and_close(void)
{
	struct http_body b = { .kind = BODY_LENGTH, .left = 5 };

	CHECK(http_body_scan(&b, "hel", 3) == 3 && !b.done);
	CHECK(http_body_scan(&b, "loGET", 5) == 2 && b.done);
	CHECK(http_body_scan(&b, "x", 1) == 0);
	b = (struct http_body){ .kind = BODY_CLOSE };
	CHECK(http_body_scan(&b, "anything", 8) == 8 && !b.done);
}

/* Random pieces of heads and chunked bodies: never a crash (ASan), an
 * answer in range, a scan that never takes more than it was given. */
static void test_random_framing(void)
{
	static const char *const bits[] = {
		"HTTP/1.1 200 OK\r\n", "HTTP/1.0 204 x\r\n", "\r\n", "\n",
		"Content-Length: ", "Transfer-Encoding: chunked", "1", "ff",
		"99999999999999999999", ";x=y", ":", " ", "\t", "\x01", "\xff",
		"Connection: close", "0", "a\r\n", "\r",
	};
	unsigned seed = 12345;
	int bad = 0;

	for (int i = 0; i < 20000; i++) {
		char buf[512];
		size_t len = 0;
		struct http_response r;
		struct http_body b = { .kind = BODY_CHUNKED };
		long n;
		int rc;

		while (len < 400) {
			const char *p;

			seed = seed * 1103515245u + 12345u;
			p = bits[(seed >> 16) %
				 (sizeof(bits) / sizeof(bits[0]))];
			memcpy(buf + len, p, strlen(p));
			len += strlen(p);
			if ((seed >> 8) % 13 == 0)
				break;
		}
		rc = http_parse_response(buf, len, (int)(seed & 1), &r);
		n = http_body_scan(&b, buf, len);
		bad += rc < -1 || rc > 1 || (rc == 0 && r.head_len > len) ||
		       n < -1 || n > (long)len;
	}
	CHECK_MSG(bad == 0, "random framing: %d answers out of range", bad);
}

int main(void)
{
	test_connect();
	test_absolute();
	test_forward_request();
	test_prefixes_need_more();
	test_limits();
	test_malformed();
	test_answers();
	test_request_framing();
	test_response_framing();
	test_client_response();
	test_chunked();
	test_length_and_close();
	test_random_framing();
	return check_done();
}
