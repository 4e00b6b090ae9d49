/*
 * pac_fetch.c - a PAC script from a file, or from one HTTP/1.1 GET
 * (Connection: close) over TCP or TLS with its own trust.
 *
 * Deliberately small: no proxies, no authentication, no compression.  A
 * script server is a plain static file server; anything else is
 * reported, never guessed at.  Redirects (301, 302, 303, 307, 308) are
 * followed, at most PAC_REDIRECTS_MAX of them, each a new connection
 * within the one deadline, never from https:// to http:// (the script
 * decides where every connection goes: it must arrive as verified as
 * the configured URL promised) and never back to a URL already visited.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <proxystack.h>

#include "pac_fetch.h"

/* The head may take this much on top of the body. */
#define HEAD_MAX 16384

struct fetch_url {
	int tls;
	char host[256];
	char port[8];
	char path[1024];
};

/* fetch_once(): the answer was a redirect, to c->location. */
#define FETCH_REDIRECT (-2)

struct fetch_conn {
	char location[PAC_URL_MAX];
	int status;        /* of a redirect */
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	long long deadline;
	char *why;
	size_t whysz;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct fetch_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct fetch_conn *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, c->whysz, fmt, ap);
	va_end(ap);
	return code;
}

/* ------------------------------------------------------------------ */
/* the URL                                                             */
/* ------------------------------------------------------------------ */

static int parse_url(const char *url, struct fetch_url *u)
{
	const char *rest, *end, *host_end;
	size_t hlen;

	memset(u, 0, sizeof(*u));
	if (!strncasecmp(url, "http://", 7)) {
		rest = url + 7;
		snprintf(u->port, sizeof(u->port), "80");
	} else if (!strncasecmp(url, "https://", 8)) {
		rest = url + 8;
		u->tls = 1;
		snprintf(u->port, sizeof(u->port), "443");
	} else {
		return -1;
	}
	end = rest + strcspn(rest, "/?#");
	if (memchr(rest, '@', (size_t)(end - rest)))
		return -1;	/* no credentials in a script URL */
	if (*rest == '[') {
		host_end = memchr(rest, ']', (size_t)(end - rest));
		if (!host_end)
			return -1;
		hlen = (size_t)(host_end - rest - 1);
		memcpy(u->host, rest + 1, hlen < 255 ? hlen : 0);
		host_end++;
	} else {
		host_end = memchr(rest, ':', (size_t)(end - rest));
		if (!host_end)
			host_end = end;
		hlen = (size_t)(host_end - rest);
		memcpy(u->host, rest, hlen < 255 ? hlen : 0);
	}
	if (hlen == 0 || hlen >= 255)
		return -1;
	if (host_end < end) {
		size_t plen = (size_t)(end - host_end - 1);

		if (*host_end != ':' || plen == 0 || plen > 5)
			return -1;
		memcpy(u->port, host_end + 1, plen);
		u->port[plen] = '\0';
		for (size_t i = 0; i < plen; i++)
			if (!isdigit((unsigned char)u->port[i]))
				return -1;
	}
	snprintf(u->path, sizeof(u->path), "%.*s", (int)strcspn(end, "#"),
		 *end == '/' ? end : "/");
	for (const char *p = u->path; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return -1;	/* nothing that could end the line */
	return 0;
}

/* ------------------------------------------------------------------ */
/* I/O with a deadline                                                 */
/* ------------------------------------------------------------------ */

/* Wait for 'events' on the fd.  0, or PS_ERR_TIMEOUT. */
static int wait_fd(struct fetch_conn *c, short events)
{
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = events };
		long long left = c->deadline - mono_ms();

		if (left <= 0)
			return fail(c, PS_ERR_TIMEOUT, "no answer in time");
		if (poll(&p, 1, (int)left) > 0)
			return 0;
		if (errno && errno != EINTR && errno != EAGAIN)
			return fail(c, PS_ERR_CONNECT, "poll: %s",
				    strerror(errno));
	}
}

static int tcp_connect(struct fetch_conn *c, const struct fetch_url *u)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	int gai, rc = PS_ERR_CONNECT, soerr = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(u->host, u->port, &hints, &res);
	if (gai)
		return fail(c, PS_ERR_RESOLVE, "%s does not resolve: %s",
			    u->host, gai_strerror(gai));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		socklen_t sl = sizeof(soerr);

		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
			       SOCK_CLOEXEC, ai->ai_protocol);
		if (c->fd < 0)
			continue;
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS &&
		     (rc = wait_fd(c, POLLOUT)) == 0 &&
		     getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0
		     && soerr == 0)) {
			rc = 0;
			break;
		}
		if (rc != PS_ERR_TIMEOUT)
			rc = fail(c, PS_ERR_CONNECT, "connect to %s port %s:"
				  " %s", u->host, u->port,
				  strerror(soerr ? soerr : errno));
		close(c->fd);
		c->fd = -1;
		if (rc == PS_ERR_TIMEOUT)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

/* SSL_* result: 0 done, 1 retry after waiting, or an error code. */
static int tls_wait(struct fetch_conn *c, int ret)
{
	int e = SSL_get_error(c->ssl, ret);

	if (e == SSL_ERROR_WANT_READ)
		return wait_fd(c, POLLIN) ? PS_ERR_TIMEOUT : 1;
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_fd(c, POLLOUT) ? PS_ERR_TIMEOUT : 1;
	return -1;
}

static int tls_start(struct fetch_conn *c, const struct fetch_url *u,
		     const char *ca_file)
{
	int ret, w;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return fail(c, PS_ERR_NOMEM, "out of memory");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1
		    : SSL_CTX_set_default_verify_paths(c->ctx) != 1)
		return fail(c, PS_ERR_TLS, "cannot load the CA file %s",
			    ca_file ? ca_file : "(system)");
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return fail(c, PS_ERR_NOMEM, "out of memory");
	SSL_set_tlsext_host_name(c->ssl, u->host);
	if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host))
		SSL_set1_host(c->ssl, u->host);
	while ((ret = SSL_connect(c->ssl)) != 1) {
		w = tls_wait(c, ret);
		if (w == 1)
			continue;
		if (w > 1)
			return w;
		if (SSL_get_verify_result(c->ssl) != X509_V_OK)
			return fail(c, PS_ERR_TLS_VERIFY, "the certificate of"
				    " %s does not verify: %s", u->host,
				    X509_verify_cert_error_string(
					    SSL_get_verify_result(c->ssl)));
		return fail(c, PS_ERR_TLS, "TLS handshake with %s failed",
			    u->host);
	}
	return 0;
}

static int send_all(struct fetch_conn *c, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n;

		if (c->ssl) {
			int ret = SSL_write(c->ssl, buf + off, (int)(len - off));
			int w = ret > 0 ? 0 : tls_wait(c, ret);

			if (w == 1)
				continue;
			if (w)
				return w > 1 ? w : fail(c, PS_ERR_TLS,
							"TLS write failed");
			n = ret;
		} else {
			n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN) {
				if (wait_fd(c, POLLOUT))
					return PS_ERR_TIMEOUT;
				continue;
			}
			if (n < 0)
				return fail(c, PS_ERR_CONNECT, "send: %s",
					    strerror(errno));
		}
		off += (size_t)n;
	}
	return 0;
}

/* Read to EOF into a growing buffer, at most 'cap' bytes. */
static int read_all(struct fetch_conn *c, char **out, size_t *len, size_t cap)
{
	size_t have = 0, size = 16384;
	char *buf = malloc(size + 1);

	if (!buf)
		return fail(c, PS_ERR_NOMEM, "out of memory");
	for (;;) {
		ssize_t n;

		if (have == size) {
			char *grown;

			if (size >= cap) {
				free(buf);
				return fail(c, PS_ERR_PROXY_PROTOCOL, "the"
					    " script is larger than %u bytes",
					    PAC_SCRIPT_MAX);
			}
			size = size * 2 > cap ? cap : size * 2;
			grown = realloc(buf, size + 1);
			if (!grown) {
				free(buf);
				return fail(c, PS_ERR_NOMEM, "out of memory");
			}
			buf = grown;
		}
		if (c->ssl) {
			int ret = SSL_read(c->ssl, buf + have,
					   (int)(size - have)), w;

			if (ret > 0) {
				have += (size_t)ret;
				continue;
			}
			if (SSL_get_error(c->ssl, ret) == SSL_ERROR_ZERO_RETURN)
				break;
			w = tls_wait(c, ret);
			if (w == 1)
				continue;
			if (w < 0 && have > 0)
				break;	/* closed without close_notify */
			free(buf);
			return w > 1 ? w : fail(c, PS_ERR_TLS, "TLS read"
						" failed");
		}
		n = recv(c->fd, buf + have, size - have, 0);
		if (n == 0)
			break;
		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(c, POLLIN)) {
				free(buf);
				return PS_ERR_TIMEOUT;
			}
			continue;
		}
		if (n < 0) {
			free(buf);
			return fail(c, PS_ERR_CONNECT, "recv: %s",
				    strerror(errno));
		}
		have += (size_t)n;
	}
	buf[have] = '\0';
	*out = buf;
	*len = have;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the answer                                                          */
/* ------------------------------------------------------------------ */

/* The value of header 'name' in the head (up to its end), or NULL. */
static const char *header_value(const char *head, size_t head_len,
				const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', head_len), *end = head + head_len;

	while (p && ++p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v;

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    !strncasecmp(p, name, nlen)) {
			v = p + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			while (*vlen && isspace((unsigned char)v[*vlen - 1]))
				(*vlen)--;
			return v;
		}
		p = eol;
	}
	return NULL;
}

/* max-age from Cache-Control, else Expires - now; -1: neither. */
static long cache_lifetime(const char *head, size_t head_len)
{
	char text[128];
	size_t vlen;
	const char *v = header_value(head, head_len, "Cache-Control", &vlen);
	const char *age;
	struct tm tm = { 0 };

	if (v) {
		snprintf(text, sizeof(text), "%.*s", (int)vlen, v);
		if (strcasestr(text, "no-store") || strcasestr(text, "no-cache"))
			return 0;
		age = strcasestr(text, "max-age=");
		if (age)
			return strtol(age + 8, NULL, 10) > 0
				       ? strtol(age + 8, NULL, 10) : 0;
	}
	v = header_value(head, head_len, "Expires", &vlen);
	if (v) {
		snprintf(text, sizeof(text), "%.*s", (int)vlen, v);
		if (!strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm))
			return 0;	/* RFC 9111: invalid means expired */
		return timegm(&tm) > time(NULL)
			       ? (long)(timegm(&tm) - time(NULL)) : 0;
	}
	return -1;
}

/* Decode a chunked body in place.  0, or -1 when malformed. */
static int dechunk(char *body, size_t len, size_t *out_len)
{
	size_t in = 0, out = 0;

	for (;;) {
		char *end;
		unsigned long n = strtoul(body + in, &end, 16);
		char *eol = memchr(body + in, '\n', len - in);

		if (end == body + in || !eol)
			return -1;
		in = (size_t)(eol - body) + 1;
		if (n == 0)
			break;
		if (n > len - in || len - in - n < 2)
			return -1;
		memmove(body + out, body + in, n);
		out += n;
		in += n;
		in += body[in] == '\r' ? 2 : 1;
	}
	body[out] = '\0';
	*out_len = out;
	return 0;
}

/* ------------------------------------------------------------------ */
/* redirects                                                           */
/* ------------------------------------------------------------------ */

static int is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	       status == 307 || status == 308;
}

/* Keep the Location of a redirect in c->location: FETCH_REDIRECT. */
static int take_location(struct fetch_conn *c, const char *head,
			 size_t head_len, int status)
{
	size_t vlen;
	const char *v = header_value(head, head_len, "Location", &vlen);

	if (!v || vlen == 0)
		return fail(c, PS_ERR_PROXY_PROTOCOL, "the server answered"
			    " %d without a Location", status);
	if (vlen >= sizeof(c->location))
		return fail(c, PS_ERR_PROXY_PROTOCOL, "the server answered"
			    " %d with a Location of %zu bytes (at most %zu)",
			    status, vlen, sizeof(c->location) - 1);
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return fail(c, PS_ERR_PROXY_PROTOCOL, "the server"
				    " answered %d with a control byte in its"
				    " Location", status);
	memcpy(c->location, v, vlen);
	c->location[vlen] = '\0';
	c->status = status;
	return FETCH_REDIRECT;
}

/* The length of the path up to and with its last '/', the query aside. */
static size_t path_dir_len(const char *path)
{
	size_t len = strcspn(path, "?");

	while (len > 1 && path[len - 1] != '/')
		len--;
	return len;
}

/*
 * The absolute URL a Location names, relative to 'base' (RFC 3986,
 * section 5.2, for the forms servers send: absolute, "//authority/path",
 * "/path" and "path", which replaces the base's last segment).  0, or
 * -1 when it names another scheme or does not fit.
 */
static int resolve_location(const struct fetch_url *base, const char *loc,
			    char *out, size_t outsz)
{
	const char *scheme = base->tls ? "https" : "http";
	int bracket = strchr(base->host, ':') != NULL, n;
	size_t colon = strcspn(loc, ":/?#");

	if (!strncasecmp(loc, "http://", 7) || !strncasecmp(loc, "https://", 8))
		n = snprintf(out, outsz, "%s", loc);
	else if (loc[colon] == ':')
		return -1;	/* ftp:, file:, javascript:... */
	else if (loc[0] == '/' && loc[1] == '/')
		n = snprintf(out, outsz, "%s:%s", scheme, loc);
	else if (loc[0] == '/')
		n = snprintf(out, outsz, "%s://%s%s%s:%s%s", scheme,
			     bracket ? "[" : "", base->host, bracket ? "]" : "",
			     base->port, loc);
	else
		n = snprintf(out, outsz, "%s://%s%s%s:%s%.*s%s", scheme,
			     bracket ? "[" : "", base->host, bracket ? "]" : "",
			     base->port,
			     (int)path_dir_len(base->path), base->path, loc);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static int parse_answer(struct fetch_conn *c, char *raw, size_t len,
			struct pac_fetched *out)
{
	char *body = strstr(raw, "\r\n\r\n");
	size_t head_len, body_len, vlen;
	const char *v;
	int status;

	if (!body || strncmp(raw, "HTTP/1.", 7) ||
	    sscanf(raw + 8, " %3d", &status) != 1)
		return fail(c, PS_ERR_PROXY_PROTOCOL, "not an HTTP answer");
	head_len = (size_t)(body - raw) + 2;
	if (is_redirect(status))
		return take_location(c, raw, head_len, status);
	if (status != 200)
		return fail(c, PS_ERR_PROXY_PROTOCOL, "the server answered"
			    " %d, not 200", status);
	body += 4;
	body_len = len - (size_t)(body - raw);
	v = header_value(raw, head_len, "Transfer-Encoding", &vlen);
	if (v && vlen == 7 && !strncasecmp(v, "chunked", 7)) {
		if (dechunk(body, body_len, &body_len) < 0)
			return fail(c, PS_ERR_PROXY_PROTOCOL, "a malformed"
				    " chunked body");
	} else if ((v = header_value(raw, head_len, "Content-Length", &vlen))) {
		unsigned long want = strtoul(v, NULL, 10);

		if (want > body_len)
			return fail(c, PS_ERR_PROXY_PROTOCOL, "the body ended"
				    " after %zu of %lu bytes", body_len, want);
		body_len = want;
	}
	out->max_age_s = cache_lifetime(raw, head_len);
	out->body = malloc(body_len + 1);
	if (!out->body)
		return fail(c, PS_ERR_NOMEM, "out of memory");
	memcpy(out->body, body, body_len);
	out->body[body_len] = '\0';
	out->len = body_len;
	return 0;
}

/* One GET of 'url': 0, FETCH_REDIRECT (c->location), or an error code. */
static int fetch_once(struct fetch_conn *c, const struct fetch_url *u,
		      const char *ca_file, struct pac_fetched *out)
{
	char request[1600], *raw = NULL;
	size_t raw_len = 0;
	int rc;

	snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: %s%s%s"
		 "%s%s\r\nUser-Agent: proxystack-pac\r\nAccept:"
		 " application/x-ns-proxy-autoconfig, */*\r\nConnection:"
		 " close\r\n\r\n", u->path, strchr(u->host, ':') ? "[" : "",
		 u->host, strchr(u->host, ':') ? "]" : "", ":", u->port);
	rc = tcp_connect(c, u);
	if (!rc && u->tls)
		rc = tls_start(c, u, ca_file);
	if (!rc)
		rc = send_all(c, request, strlen(request));
	if (!rc)
		rc = read_all(c, &raw, &raw_len, PAC_SCRIPT_MAX + HEAD_MAX);
	if (!rc)
		rc = parse_answer(c, raw, raw_len, out);
	free(raw);
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
	return rc;
}

/*
 * Where a redirect from 'from' (parsed in 'u', updated) leads: 0 with
 * 'next' filled, or an error code: another scheme, https:// to
 * http://, or a URL already visited (the first 'nvisited' of
 * 'visited').
 */
static int follow_redirect(struct fetch_conn *c, struct fetch_url *u,
			   const char *from, char visited[][PAC_URL_MAX],
			   size_t nvisited, char *next)
{
	int was_tls = u->tls;

	if (resolve_location(u, c->location, next, PAC_URL_MAX) < 0 ||
	    parse_url(next, u) < 0)
		return fail(c, PS_ERR_PROXY_PROTOCOL, "%s redirected (%d) to"
			    " \"%.200s\", not an http:// or https:// URL"
			    " without credentials", from, c->status,
			    c->location);
	if (was_tls && !u->tls)
		return fail(c, PS_ERR_PROXY_PROTOCOL, "%s redirected (%d) to"
			    " %s: a redirect from https:// to http:// is"
			    " refused (the script would arrive unverified)",
			    from, c->status, next);
	for (size_t i = 0; i < nvisited; i++)
		if (!strcmp(visited[i], next))
			return fail(c, PS_ERR_PROXY_PROTOCOL, "%s redirected"
				    " (%d) back to %s: a redirect loop", from,
				    c->status, next);
	return 0;
}

/* A failure after redirects: say where it happened. */
static void note_where(struct fetch_conn *c, const char *where, size_t n)
{
	size_t len = strlen(c->why);

	snprintf(c->why + len, c->whysz - len, " (at %s, after %zu"
		 " redirect%s)", where, n, n == 1 ? "" : "s");
}

int pac_fetch_url(const char *url, const char *ca_file, long timeout_ms,
		  struct pac_fetched *out, char *why, size_t whysz)
{
	struct fetch_conn c = {
		.fd = -1, .deadline = mono_ms() + timeout_ms, .why = why,
		.whysz = whysz,
	};
	char visited[PAC_REDIRECTS_MAX + 1][PAC_URL_MAX];
	struct fetch_url u;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(url) >= PAC_URL_MAX || parse_url(url, &u) < 0)
		return fail(&c, PS_ERR_CONFIG, "not an http:// or https:// URL"
			    " without credentials");
	snprintf(visited[0], PAC_URL_MAX, "%s", url);
	while ((rc = fetch_once(&c, &u, ca_file, out)) == FETCH_REDIRECT) {
		if (n == PAC_REDIRECTS_MAX) {
			rc = fail(&c, PS_ERR_PROXY_PROTOCOL, "%s: more than"
				  " %d redirects (the last one from %s)",
				  url, PAC_REDIRECTS_MAX, visited[n]);
			break;
		}
		rc = follow_redirect(&c, &u, visited[n], visited, n + 1,
				     visited[n + 1]);
		if (rc)
			break;
		n++;
	}
	if (rc == 0) {
		snprintf(out->url, sizeof(out->url), "%s", visited[n]);
		out->redirects = (unsigned)n;
	} else if (n > 0 && !strstr(why, visited[n])) {
		note_where(&c, visited[n], n);
	}
	/* This thread's OpenSSL state goes now: on the host's select thread
	 * it would otherwise outlive the answer, and a process that ends
	 * right after would leak it. */
	ERR_clear_error();
	OPENSSL_thread_stop();
	return rc;
}

int pac_fetch_file(const char *path, struct pac_fetched *out, char *why,
		   size_t whysz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t have = 0;

	memset(out, 0, sizeof(*out));
	out->max_age_s = -1;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)PAC_SCRIPT_MAX) {
		snprintf(why, whysz, "%s: %s", path, fd < 0 ? strerror(errno)
			 : "not a regular file of at most 1 MiB");
		if (fd >= 0)
			close(fd);
		return PS_ERR_CONFIG;
	}
	out->body = malloc((size_t)st.st_size + 1);
	while (out->body && have < (size_t)st.st_size) {
		ssize_t n = read(fd, out->body + have, (size_t)st.st_size - have);

		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	if (!out->body) {
		snprintf(why, whysz, "out of memory");
		return PS_ERR_NOMEM;
	}
	out->body[have] = '\0';
	out->len = have;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* WPAD                                                                */
/* ------------------------------------------------------------------ */

static size_t add_candidate(char **out, size_t n, size_t max,
			    const char *domain)
{
	char url[300];

	snprintf(url, sizeof(url), "http://wpad.%s/wpad.dat", domain);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(out[i], url))
			return n;
	if (n < max && (out[n] = strdup(url)))
		n++;
	return n;
}

size_t pac_wpad_candidates(const char *resolv_conf, char **out, size_t max)
{
	char domains[512] = "", line[512], *save = NULL, *d;
	const char *p = resolv_conf;
	size_t n = 0;

	/* The last search or domain line wins (resolv.conf(5)). */
	while (p && *p) {
		size_t len = strcspn(p, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (p[len] == '\n');
		if ((!strncmp(line, "search", 6) || !strncmp(line, "domain", 6))
		    && isspace((unsigned char)line[6]))
			snprintf(domains, sizeof(domains), "%s", line + 7);
	}
	for (d = strtok_r(domains, " \t\r", &save); d;
	     d = strtok_r(NULL, " \t\r", &save)) {
		size_t len = strlen(d);

		if (len && d[len - 1] == '.')
			d[--len] = '\0';
		for (size_t i = 0; i < len; i++)
			if (!isalnum((unsigned char)d[i]) && d[i] != '-' &&
			    d[i] != '.')
				len = 0;
		/* Never "wpad.<tld>": whoever registers it gets the traffic. */
		while (len && strchr(d, '.')) {
			n = add_candidate(out, n, max, d);
			d = strchr(d, '.') + 1;
			len = strlen(d);
		}
	}
	return n;
}
