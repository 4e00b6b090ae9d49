/*
 * serve_http.c - the HTTP/1.1 front of proxystack serve: the request
 * head parser (CONNECT authority-form and absolute-form http://), the
 * origin-form request it becomes, and the answers sent on failure.
 *
 * The origin's response head is parsed too (status, framing, keep-alive)
 * so that a persistent client connection can carry the next request:
 * http_body_scan() finds where a Content-Length or chunked body ends
 * without changing a byte of it.
 *
 * The parser is strict because the bytes come from any local program:
 * one request line, header lines of token names and visible values (no
 * control bytes but HTAB, no obsolete line folding), at most
 * SERVE_HEAD_MAX bytes and SERVE_HEADERS_MAX headers, and a target
 * whose host is a DNS name or an IP literal and whose port is 1-65535.
 * Nothing it accepts can add a line to what is sent upstream.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve.h"

#define HTTP_NEED_MORE 1

struct http_line {
	const char *p;
	size_t len;                 /* without CRLF or LF */
};

static int http_fail(char *why, size_t whysz, int status, const char *text)
{
	snprintf(why, whysz, "%s", text);
	return status;
}

/* The line starting at buf[at]; 0 when no LF yet. */
static int http_next_line(const char *buf, size_t len, size_t *at,
			  struct http_line *line)
{
	const char *lf = memchr(buf + *at, '\n', len - *at);
	size_t end;

	if (!lf)
		return 0;
	end = (size_t)(lf - buf);
	line->p = buf + *at;
	line->len = end - *at;
	if (line->len > 0 && line->p[line->len - 1] == '\r')
		line->len--;
	*at = end + 1;
	return 1;
}

static int http_is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

/* Visible bytes, spaces and tabs only (obs-text allowed). */
static int http_clean_value(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* A DNS name (letters, digits, '-', '_', '.'), at most 255 bytes. */
static int http_host_name_ok(const char *h, size_t len)
{
	if (len == 0 || len > SERVE_HOST_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return 0;
	}
	return 1;
}

static int http_parse_port(const char *p, size_t len, unsigned *port)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/*
 * "host:port", "[v6]:port", or without ":port" when 'dflt' is not 0.
 * Fills req->host, port, host_is_v6.
 */
static int http_parse_authority(const char *p, size_t len, unsigned dflt,
				struct http_request *req)
{
	const char *host = p, *port = NULL;
	size_t hlen, plen = 0;
	unsigned char bytes[16];

	if (len > 0 && p[0] == '[') {
		const char *close = memchr(p, ']', len);

		if (!close)
			return -1;
		host = p + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < p + len) {
			if (close[1] != ':')
				return -1;
			port = close + 2;
			plen = len - (size_t)(port - p);
		}
		if (hlen == 0 || hlen >= sizeof(req->host))
			return -1;
		memcpy(req->host, host, hlen);
		req->host[hlen] = '\0';
		if (inet_pton(AF_INET6, req->host, bytes) != 1)
			return -1;
		req->host_is_v6 = 1;
	} else {
		const char *colon = memchr(p, ':', len);

		hlen = colon ? (size_t)(colon - p) : len;
		if (colon) {
			port = colon + 1;
			plen = len - hlen - 1;
		}
		if (!http_host_name_ok(p, hlen))
			return -1;
		memcpy(req->host, p, hlen);
		req->host[hlen] = '\0';
	}
	if (port)
		return http_parse_port(port, plen, &req->port);
	if (!dflt)
		return -1;
	req->port = dflt;
	return 0;
}

/* "http://authority/path?query" (no userinfo, no fragment). */
static int http_parse_absolute(const char *t, size_t len,
			       struct http_request *req)
{
	const char *auth, *slash;
	size_t alen;

	if (len < 8 || strncasecmp(t, "http://", 7))
		return -1;
	auth = t + 7;
	slash = memchr(auth, '/', len - 7);
	alen = slash ? (size_t)(slash - auth) : len - 7;
	if (memchr(auth, '@', alen) || memchr(auth, '?', alen) ||
	    memchr(auth, '#', alen))
		return -1;
	if (http_parse_authority(auth, alen, 80, req))
		return -1;
	req->path = slash ? slash : "/";
	req->path_len = slash ? len - 7 - alen : 1;
	return memchr(req->path, '#', req->path_len) ? -1 : 0;
}

/* "METHOD SP target SP HTTP/1.x" */
static int http_parse_request_line(const struct http_line *l,
				   struct http_request *req, char *why,
				   size_t whysz)
{
	const char *sp1 = memchr(l->p, ' ', l->len), *sp2, *target;
	size_t mlen, tlen, rest;

	if (!sp1 || sp1 == l->p)
		return http_fail(why, whysz, 400, "malformed request line");
	mlen = (size_t)(sp1 - l->p);
	for (size_t i = 0; i < mlen; i++)
		if (!http_is_tchar((unsigned char)l->p[i]))
			return http_fail(why, whysz, 400, "malformed method");
	if (mlen >= sizeof(req->method))
		return http_fail(why, whysz, 501, "method not supported");
	memcpy(req->method, l->p, mlen);
	req->method[mlen] = '\0';
	target = sp1 + 1;
	rest = l->len - mlen - 1;
	sp2 = memchr(target, ' ', rest);
	if (!sp2)
		return http_fail(why, whysz, 400, "malformed request line");
	tlen = (size_t)(sp2 - target);
	rest -= tlen + 1;
	if (memchr(sp2 + 1, ' ', rest))
		return http_fail(why, whysz, 400, "malformed request line");
	if (rest != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return http_fail(why, whysz, 505, "only HTTP/1.0 and 1.1");
	req->minor = sp2[8] - '0';
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)target[i] <= 0x20 || target[i] == 0x7f)
			return http_fail(why, whysz, 400, "malformed target");
	if (!strcmp(req->method, "CONNECT")) {
		req->kind = HTTP_CONNECT;
		if (http_parse_authority(target, tlen, 0, req))
			return http_fail(why, whysz, 400, "CONNECT wants"
					 " host:port");
		return 0;
	}
	req->kind = HTTP_ABSOLUTE;
	if (http_parse_absolute(target, tlen, req))
		return http_fail(why, whysz, 400, "a proxy request needs an"
				 " absolute http:// URL (https: use CONNECT)");
	return 0;
}

/* What the headers say about the body and the connection. */
struct http_framing {
	int has_length, bad_length, has_te, te_chunked;
	unsigned long long length;
	int close, keep_alive;      /* Connection / Proxy-Connection tokens */
};

/* "Name: value" split and checked; the value without blanks around. */
static int http_split_header(const struct http_line *l, size_t *nlen,
			     const char **v, size_t *vlen)
{
	const char *colon = memchr(l->p, ':', l->len);

	if (!colon || colon == l->p)
		return -1;
	*nlen = (size_t)(colon - l->p);
	for (size_t i = 0; i < *nlen; i++)
		if (!http_is_tchar((unsigned char)l->p[i]))
			return -1;
	if (!http_clean_value(colon + 1, l->len - *nlen - 1))
		return -1;
	*v = colon + 1;
	*vlen = l->len - *nlen - 1;
	while (*vlen && (**v == ' ' || **v == '\t'))
		(*v)++, (*vlen)--;
	while (*vlen && ((*v)[*vlen - 1] == ' ' || (*v)[*vlen - 1] == '\t'))
		(*vlen)--;
	return 0;
}

static int http_name_is(const char *p, size_t nlen, const char *name)
{
	return strlen(name) == nlen && !strncasecmp(p, name, nlen);
}

/* Is 'tok' one of the comma-separated tokens of v? 'last': the last. */
static int http_has_token(const char *v, size_t vlen, const char *tok,
			  int last)
{
	size_t tlen = strlen(tok), i = 0, found = 0;

	while (i < vlen) {
		size_t b = i, e;

		while (i < vlen && v[i] != ',')
			i++;
		e = i++;
		while (b < e && (v[b] == ' ' || v[b] == '\t'))
			b++;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e == b)
			continue;
		found = e - b == tlen && !strncasecmp(v + b, tok, tlen);
		if (found && !last)
			return 1;
	}
	return (int)found;
}

/* Content-Length: digits only, below 2^60; repeats must agree. */
static void http_framing_length(struct http_framing *f, const char *v,
				size_t vlen)
{
	unsigned long long n = 0;

	if (vlen == 0 || vlen > 18)
		f->bad_length = 1;
	for (size_t i = 0; i < vlen && !f->bad_length; i++) {
		if (v[i] < '0' || v[i] > '9')
			f->bad_length = 1;
		n = n * 10 + (unsigned long long)(v[i] - '0');
	}
	if (n > (1ULL << 60) || (f->has_length && f->length != n))
		f->bad_length = 1;
	f->has_length = 1;
	f->length = n;
}

static void http_framing_header(struct http_framing *f, const char *name,
				size_t nlen, const char *v, size_t vlen)
{
	if (http_name_is(name, nlen, "Content-Length"))
		http_framing_length(f, v, vlen);
	else if (http_name_is(name, nlen, "Transfer-Encoding")) {
		f->has_te = 1;
		f->te_chunked = http_has_token(v, vlen, "chunked", 1);
	} else if (http_name_is(name, nlen, "Connection") ||
		   http_name_is(name, nlen, "Proxy-Connection")) {
		f->close |= http_has_token(v, vlen, "close", 0);
		f->keep_alive |= http_has_token(v, vlen, "keep-alive", 0);
	}
}

/* Does the connection live on after this message? */
static int http_framing_keep(const struct http_framing *f, int minor)
{
	if (f->close)
		return 0;
	return minor >= 1 || f->keep_alive;
}

/* One "Name: value" line: remembers what the proxy itself needs. */
static int http_parse_header(const struct http_line *l,
			     struct http_request *req, struct http_framing *f)
{
	const char *v;
	size_t nlen, vlen;

	if (http_split_header(l, &nlen, &v, &vlen))
		return -1;
	http_framing_header(f, l->p, nlen, v, vlen);
	if (nlen == 19 && !strncasecmp(l->p, "Proxy-Authorization", 19)) {
		req->proxy_auth = v;
		req->proxy_auth_len = vlen;
	}
	if (nlen == 4 && !strncasecmp(l->p, "Host", 4))
		req->has_host_header = 1;
	return 0;
}

/* The request's body and persistence from its headers: 0 or a status. */
static int http_request_framing(const struct http_framing *f,
				struct http_request *req, char *why,
				size_t whysz)
{
	req->keep = http_framing_keep(f, req->minor);
	if (f->has_te && f->has_length)
		return http_fail(why, whysz, 400, "both Content-Length and"
				 " Transfer-Encoding");
	if (f->has_te && !f->te_chunked)
		return http_fail(why, whysz, 501, "transfer-encoding not"
				 " supported");
	if (f->bad_length)
		return http_fail(why, whysz, 400, "malformed Content-Length");
	if (f->has_te)
		req->body.kind = BODY_CHUNKED;
	else if (f->has_length && f->length > 0) {
		req->body.kind = BODY_LENGTH;
		req->body.left = f->length;
	} else
		req->body.done = 1;
	return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req,
		       char *why, size_t whysz)
{
	struct http_line line;
	struct http_framing f = { 0 };
	size_t at = 0, headers = 0;
	int rc;

	memset(req, 0, sizeof(*req));
	/* Empty lines before a request are allowed (RFC 9112 2.2). */
	while (at < len && (buf[at] == '\r' || buf[at] == '\n'))
		at++;
	if (!http_next_line(buf, len, &at, &line))
		return len >= SERVE_HEAD_MAX
			       ? http_fail(why, whysz, 431,
					   "request line too long")
			       : HTTP_NEED_MORE;
	rc = http_parse_request_line(&line, req, why, whysz);
	if (rc)
		return rc;
	for (;;) {
		if (!http_next_line(buf, len, &at, &line))
			return len >= SERVE_HEAD_MAX
				       ? http_fail(why, whysz, 431,
						   "request head too large")
				       : HTTP_NEED_MORE;
		if (line.len == 0)
			break;
		if (line.p[0] == ' ' || line.p[0] == '\t')
			return http_fail(why, whysz, 400,
					 "folded header line");
		if (++headers > SERVE_HEADERS_MAX)
			return http_fail(why, whysz, 431, "too many headers");
		if (http_parse_header(&line, req, &f))
			return http_fail(why, whysz, 400,
					 "malformed header line");
	}
	if (at > SERVE_HEAD_MAX)
		return http_fail(why, whysz, 431, "request head too large");
	req->head_len = at;
	return http_request_framing(&f, req, why, whysz);
}

/* ------------------------------------------------------------------ */
/* the origin-form request                                             */
/* ------------------------------------------------------------------ */

/* Is 'name' listed in a Connection header value of the head? */
static int http_connection_names(const char *head, size_t head_len,
				 const char *name, size_t nlen)
{
	const char *p = head, *end = head + head_len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t llen = eol ? (size_t)(eol - p) : (size_t)(end - p);

		if (llen > 11 && !strncasecmp(p, "Connection:", 11)) {
			for (size_t i = 11; i + nlen <= llen; i++)
				if (!strncasecmp(p + i, name, nlen) &&
				    (i + nlen == llen ||
				     strchr(", \t\r", p[i + nlen])) &&
				    strchr(":, \t", p[i - 1]))
					return 1;
		}
		p += llen + 1;
	}
	return 0;
}

static int http_hop_by_hop(const char *head, size_t head_len, const char *p,
			   size_t nlen)
{
	static const char *const hop[] = {
		"Connection", "Proxy-Connection", "Proxy-Authorization",
		"Keep-Alive", "Proxy-Authenticate", "TE", "Upgrade",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strlen(hop[i]) == nlen && !strncasecmp(p, hop[i], nlen))
			return 1;
	return http_connection_names(head, head_len, p, nlen);
}

/* The head's header lines without hop-by-hop ones, appended at out+n
 * (room for them is the caller's); returns the new length. */
static size_t http_copy_end_to_end(const char *head, size_t head_len,
				   char *out, size_t n)
{
	struct http_line line;
	size_t at = 0;

	while (head[at] == '\r' || head[at] == '\n')
		at++;
	http_next_line(head, head_len, &at, &line);
	while (http_next_line(head, head_len, &at, &line) && line.len) {
		const char *colon = memchr(line.p, ':', line.len);

		if (http_hop_by_hop(head, head_len, line.p,
				    (size_t)(colon - line.p)))
			continue;
		memcpy(out + n, line.p, line.len);
		n += line.len;
		memcpy(out + n, "\r\n", 2);
		n += 2;
	}
	return n;
}

/* "http://host[:port]": the authority of an absolute-form target. */
static size_t http_absolute_prefix(const struct http_request *req, char *out,
				   size_t cap)
{
	char port[8] = "";

	if (req->port != 80)
		snprintf(port, sizeof(port), ":%u", req->port);
	return (size_t)snprintf(out, cap, req->host_is_v6 ? "http://[%s]%s"
							  : "http://%s%s",
				req->host, port);
}

/* The request line (absolute or origin form), then the end-to-end
 * headers, Host if missing and Connection: keep-alive. */
static char *http_rewrite_request(const char *head,
				  const struct http_request *req,
				  int absolute, size_t *outlen)
{
	size_t cap = req->head_len + 2 * SERVE_HOST_MAX + 160, n;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	n = (size_t)snprintf(out, cap, "%s ", req->method);
	if (absolute)
		n += http_absolute_prefix(req, out + n, cap - n);
	n += (size_t)snprintf(out + n, cap - n, "%.*s HTTP/1.%d\r\n",
			      (int)req->path_len, req->path, req->minor);
	n = http_copy_end_to_end(head, req->head_len, out, n);
	if (!req->has_host_header)
		n += (size_t)snprintf(out + n, cap - n,
				      req->host_is_v6 ? "Host: [%s]:%u\r\n"
						      : "Host: %s:%u\r\n",
				      req->host, req->port);
	n += (size_t)snprintf(out + n, cap - n,
			      "Connection: keep-alive\r\n\r\n");
	*outlen = n;
	return out;
}

char *http_origin_request(const char *head, const struct http_request *req,
			  size_t *outlen)
{
	return http_rewrite_request(head, req, 0, outlen);
}

char *http_forward_request(const char *head, const struct http_request *req,
			   size_t *outlen)
{
	return http_rewrite_request(head, req, 1, outlen);
}

/* ------------------------------------------------------------------ */
/* the origin's response                                               */
/* ------------------------------------------------------------------ */

/* "HTTP/1.x DDD reason" */
static int http_parse_status_line(const struct http_line *l,
				  struct http_response *r)
{
	if (l->len < 12 || memcmp(l->p, "HTTP/1.", 7) ||
	    (l->p[7] != '0' && l->p[7] != '1') || l->p[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (l->p[i] < '0' || l->p[i] > '9')
			return -1;
	if (l->len > 12 && l->p[12] != ' ')
		return -1;
	if (!http_clean_value(l->p, l->len))
		return -1;
	r->minor = l->p[7] - '0';
	r->status = (l->p[9] - '0') * 100 + (l->p[10] - '0') * 10 +
		    (l->p[11] - '0');
	return r->status >= 100 ? 0 : -1;
}

/* The body after the status, the request and the framing headers. */
static int http_response_framing(const struct http_framing *f,
				 int head_request, struct http_response *r)
{
	r->keep = http_framing_keep(f, r->minor);
	if (f->bad_length && !f->has_te)
		return -1;
	if (head_request || r->status == 204 || r->status == 304 ||
	    (r->status < 200 && r->status != 101)) {
		r->body.done = 1;
		return 0;
	}
	if (r->status == 101 || (f->has_te && !f->te_chunked) ||
	    (!f->has_te && !f->has_length)) {
		r->body.kind = BODY_CLOSE;
		r->keep = 0;
	} else if (f->has_te) {
		r->body.kind = BODY_CHUNKED;
		/* Both: the length is a lie to some hop (RFC 9112 6.3). */
		r->keep = r->keep && !f->has_length;
	} else {
		r->body.kind = BODY_LENGTH;
		r->body.left = f->length;
		r->body.done = f->length == 0;
	}
	return 0;
}

int http_parse_response(const char *buf, size_t len, int head_request,
			struct http_response *r)
{
	struct http_framing f = { 0 };
	struct http_line line;
	size_t at = 0, headers = 0;

	memset(r, 0, sizeof(*r));
	if (!http_next_line(buf, len, &at, &line))
		return len >= SERVE_HEAD_MAX ? -1 : HTTP_NEED_MORE;
	if (http_parse_status_line(&line, r))
		return -1;
	for (;;) {
		const char *v;
		size_t nlen, vlen;

		if (!http_next_line(buf, len, &at, &line))
			return len >= SERVE_HEAD_MAX ? -1 : HTTP_NEED_MORE;
		if (line.len == 0)
			break;
		if (line.p[0] == ' ' || line.p[0] == '\t' ||
		    ++headers > SERVE_HEADERS_MAX ||
		    http_split_header(&line, &nlen, &v, &vlen))
			return -1;
		http_framing_header(&f, line.p, nlen, v, vlen);
	}
	if (at > SERVE_HEAD_MAX)
		return -1;
	r->head_len = at;
	return http_response_framing(&f, head_request, r);
}

char *http_client_response(const char *head, const struct http_response *r,
			   int keep, size_t *outlen)
{
	const char *eol = memchr(head, '\n', r->head_len);
	size_t first = eol ? (size_t)(eol - head) : 0, n;
	char *out = malloc(r->head_len + 64);

	if (!out || !eol) {
		free(out);
		return NULL;
	}
	if (first && head[first - 1] == '\r')
		first--;
	memcpy(out, head, first);
	n = first;
	memcpy(out + n, "\r\n", 2);
	n = http_copy_end_to_end(head, r->head_len, out, n + 2);
	if (r->status >= 200 || r->status == 101)
		n += (size_t)sprintf(out + n, "Connection: %s\r\n",
				     keep ? "keep-alive" : "close");
	memcpy(out + n, "\r\n", 2);
	*outlen = n + 2;
	return out;
}

/* ------------------------------------------------------------------ */
/* bodies                                                              */
/* ------------------------------------------------------------------ */

enum chunk_phase { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_END, CH_TRAILER };

static int http_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The size line ended: data next, or the trailer after the last chunk. */
static int http_chunk_size_done(struct http_body *b)
{
	if (b->line == 0)
		return -1;
	b->phase = b->left ? CH_DATA : CH_TRAILER;
	b->line = 0;
	return 0;
}

/* One framing byte of a chunked body: 0, or -1 when malformed. */
static int http_chunk_byte(struct http_body *b, unsigned char c)
{
	int d = http_hex(c);

	if (++b->line > SERVE_HEAD_MAX)
		return -1;
	switch (b->phase) {
	case CH_SIZE:
		if (d >= 0) {
			if (b->left >> 56)
				return -1;
			b->left = b->left * 16 + (unsigned)d;
			return 0;
		}
		b->line--;
		if (c == '\n')
			return http_chunk_size_done(b);
		if (b->line == 0 || !strchr(";\r \t", c))
			return -1;
		b->phase = CH_EXT;
		return 0;
	case CH_EXT:
		if (c == '\n') {
			b->line = 1;
			return http_chunk_size_done(b);
		}
		if (c == 0x7f || (c < 0x20 && c != '\t' && c != '\r'))
			return -1;
		return 0;
	case CH_DATA_END:
		if (c == '\r' && b->line == 1)
			return 0;
		if (c != '\n')
			return -1;
		b->phase = CH_SIZE;
		b->line = 0;
		return 0;
	default: /* CH_TRAILER */
		if (c == '\n') {
			b->done = b->line == 1 ||
				  (b->line == 2 && b->left == '\r');
			b->line = 0;
		}
		b->left = c;    /* the byte before LF, for a bare CRLF line */
		return 0;
	}
}

long http_body_scan(struct http_body *b, const char *p, size_t len)
{
	size_t i = 0;

	if (b->done)
		return 0;
	if (b->kind == BODY_CLOSE)
		return (long)len;
	if (b->kind == BODY_LENGTH) {
		size_t n = b->left < len ? (size_t)b->left : len;

		b->left -= n;
		b->done = b->left == 0;
		return (long)n;
	}
	while (i < len && !b->done) {
		if (b->phase == CH_DATA) {
			size_t n = b->left < len - i ? (size_t)b->left
						     : len - i;

			b->left -= n;
			i += n;
			if (b->left == 0) {
				b->phase = CH_DATA_END;
				b->line = 0;
			}
			continue;
		}
		if (http_chunk_byte(b, (unsigned char)p[i++]))
			return -1;
	}
	return (long)i;
}

/* ------------------------------------------------------------------ */
/* answers                                                             */
/* ------------------------------------------------------------------ */

static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "Connection established";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

char *http_answer(int status, const char *body_line, size_t *outlen)
{
	size_t cap = strlen(body_line) + 512;
	char *out = malloc(cap);
	int n;

	if (!out)
		return NULL;
	n = snprintf(out, cap,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\n"
		     "%s"
		     "Connection: close\r\n\r\n%s\n",
		     status, http_reason(status), strlen(body_line) + 1,
		     status == 407 ? "Proxy-Authenticate: Basic realm=\""
				     SERVE_REALM "\"\r\n" : "",
		     body_line);
	*outlen = n > 0 && (size_t)n < cap ? (size_t)n : 0;
	return out;
}

int http_status_for_code(int code)
{
	return code == PS_ERR_TIMEOUT ? 504 : 502;
}
