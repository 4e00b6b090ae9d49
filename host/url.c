/*
 * url.c - destination and proxy URLs (internal; see url.h).
 *
 * One strict parser for both kinds.  Strict because these URLs come from
 * environment variables and config files and end up in request lines,
 * SNI, certificate checks and NO_PROXY decisions: anything two parsers
 * could read differently is refused rather than guessed at.  Concretely:
 *
 *   - no bytes <= 0x20, 0x7f or >= 0x80 anywhere (CRLF injection, IDN
 *     confusion); no '#' (fragments are never sent; RFC 6455 forbids them
 *     in ws URLs);
 *   - host names are [a-z0-9._-] labels (lower-cased, one trailing dot
 *     dropped); a name whose last label is numeric ("127.1", "0x7f000001")
 *     is refused because resolvers would read it as an IPv4 address that
 *     NO_PROXY and certificate checks would not;
 *   - IPv4 only as a dotted quad, IPv6 only in brackets, no zone ids;
 *   - ports are 1 to 65535, digits only, never empty after ':'.
 *
 * Error messages never quote user info (it may hold a password) and quote
 * only the parts of the URL that cannot contain it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <proxystack/module.h>

#include "credential.h"
#include "url.h"

#define URL_MAX_LEN 2048	/* far above any real proxy or endpoint URL */
#define SCHEME_MAX_LEN 16
#define HOST_NAME_MAX_LEN 253	/* RFC 1035, without the trailing dot */
#define LABEL_MAX_LEN 63
#define PORT_MAX_DIGITS 5

/* Like curl: an http:// proxy without a port is on 1080. */
#define HTTP_PROXY_DEFAULT_PORT 1080

enum url_kind { URL_DEST, URL_PROXY };

struct url_parser {
	enum url_kind kind;
	const struct url_claims *claims;  /* URL_PROXY: or NULL */
	struct url u;
	char *errbuf;
	size_t errlen;
};

struct scheme_port {
	const char *scheme;
	unsigned port;
};

/*
 * Destination defaults.  The socks and pac+ entries serve
 * url_default_port() callers; an http proxy's own default (1080) is
 * applied by the proxy parser, not here.
 */
static const struct scheme_port default_ports[] = {
	{ "tcp", 0 },	      { "tls", 0 },	   { "http", 80 },
	{ "https", 443 },     { "ws", 80 },	   { "wss", 443 },
	{ "socks4", 1080 },   { "socks4a", 1080 }, { "socks5", 1080 },
	{ "socks5h", 1080 },  { "pac+http", 80 },  { "pac+https", 443 },
};

static const char *const dest_schemes[] = {
	"tcp", "tls", "http", "https", "ws", "wss", NULL
};

static const char *const proxy_schemes[] = {
	"http", "https", "socks4", "socks4a", "socks5", "socks5h",
	"pac+http", "pac+https", NULL
};

static int url_fail(struct url_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int url_fail(struct url_parser *p, const char *fmt, ...)
{
	if (p->errbuf != NULL && p->errlen > 0) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(p->errbuf, p->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int scheme_in(const char *scheme, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(scheme, *list) == 0)
			return 1;
	return 0;
}

unsigned url_default_port(const char *scheme)
{
	size_t i;

	if (scheme == NULL)
		return 0;
	for (i = 0; i < sizeof(default_ports) / sizeof(default_ports[0]); i++)
		if (strcasecmp(scheme, default_ports[i].scheme) == 0)
			return default_ports[i].port;
	return 0;
}

/* A path (up to its query) naming a PAC file: "/proxy.pac", any case. */
static int path_is_pac(const char *path, size_t len)
{
	size_t end = strcspn(path, "?#");

	if (end > len)
		end = len;
	return end >= 4 && strncasecmp(path + end - 4, ".pac", 4) == 0;
}

static int scheme_is_pac(const char *scheme)
{
	return strcasecmp(scheme, "pac+http") == 0 ||
	       strcasecmp(scheme, "pac+https") == 0;
}

static int url_is_pac(const char *scheme, const char *path)
{
	if (scheme_is_pac(scheme))
		return 1;
	return (strcasecmp(scheme, "http") == 0 ||
		strcasecmp(scheme, "https") == 0) &&
	       path != NULL && path_is_pac(path, strlen(path));
}

/*
 * Find "scheme://" at the start of 'text'.  Returns the scheme's length
 * (0 when there is no "://"), or -1 when what precedes "://" is not a
 * scheme.  Only RFC 3986 scheme characters are accepted, so a returned
 * scheme can be quoted in errors: it cannot hold a password.
 */
static int find_scheme(const char *text)
{
	const char *sep = strstr(text, "://");
	size_t i, len;

	if (sep == NULL)
		return 0;
	len = (size_t)(sep - text);
	if (len == 0 || len > SCHEME_MAX_LEN ||
	    !isalpha((unsigned char)text[0]))
		return -1;
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (!isalnum(c) && c != '+' && c != '-' && c != '.')
			return -1;
	}
	return (int)len;
}

static char *lower_dup(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	size_t i;

	if (d == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		d[i] = (char)tolower((unsigned char)s[i]);
	d[len] = '\0';
	return d;
}

/* Refuse what no part of a URL may hold, before looking at structure. */
static int check_bytes(struct url_parser *p, const char *text)
{
	size_t len, i;

	if (text == NULL || *text == '\0')
		return url_fail(p, "empty URL");
	len = strlen(text);
	if (len > URL_MAX_LEN)
		return url_fail(p, "URL longer than %d bytes", URL_MAX_LEN);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c <= 0x20 || c == 0x7f)
			return url_fail(p, "space or control character at "
					"offset %zu of the URL", i);
		if (c >= 0x80)
			return url_fail(p, "non-ASCII byte at offset %zu of "
					"the URL (percent-encode it)", i);
		if (c == '#')
			return url_fail(p, "'#' in URL (a fragment is never "
					"sent; percent-encode it as %%23)");
	}
	return 0;
}

/* The default port a module's claim gives the proxy scheme, or 0. */
static unsigned claimed_port(const struct url_parser *p)
{
	if (p->kind != URL_PROXY || !p->claims || !p->claims->port_of)
		return 0;
	return p->claims->port_of(p->claims->user, p->u.scheme);
}

/* Set p->u.scheme and *after, the offset just past "://" (0 if none). */
static int parse_scheme(struct url_parser *p, const char *text, size_t *after)
{
	int len = find_scheme(text);
	const char *const *allowed;

	if (len < 0)
		return url_fail(p, "malformed scheme before '://'");
	if (len == 0) {
		if (p->kind == URL_DEST)
			return url_fail(p, "no scheme (use e.g. wss://host or "
					"tcp://host:port)");
		/* Like curl and the *_proxy variables: "proxy:3128". */
		p->u.scheme = strdup("http");
		*after = 0;
		return p->u.scheme ? 0 : url_fail(p, "out of memory");
	}
	p->u.scheme = lower_dup(text, (size_t)len);
	if (p->u.scheme == NULL)
		return url_fail(p, "out of memory");
	allowed = p->kind == URL_DEST ? dest_schemes : proxy_schemes;
	if (!scheme_in(p->u.scheme, allowed) && !claimed_port(p))
		return url_fail(p, p->kind == URL_DEST
			? "unsupported scheme '%s' (use tcp, tls, http, https, "
			  "ws or wss)"
			: "unsupported proxy scheme '%s' (use http, https, "
			  "socks4, socks4a, socks5, socks5h or a PAC URL)",
			p->u.scheme);
	*after = (size_t)len + 3;
	return 0;
}

/*
 * Percent-decode [s, s+len) into *out: 0, -1 for a bad escape, -2 when
 * out of memory (reported as such, not as a bad URL).  The encoded copy
 * is wiped: the encoded form of a password is as secret as the password.
 */
static int decode_span(const char *s, size_t len, char **out)
{
	char *copy = strndup(s, len);
	int bad_escape;

	if (copy == NULL)
		return -2;
	errno = 0;
	*out = ps_percent_decode(copy);
	bad_escape = errno == EINVAL;
	explicit_bzero(copy, len);
	free(copy);
	if (*out)
		return 0;
	return bad_escape ? -1 : -2;
}

/*
 * "user[:password]" in [s, s+len).  The user name ends at the first ':'
 * (a ':' in the user name must be encoded, and is then refused: Basic
 * auth could not carry it); the password is everything after it, so a
 * raw '@' or ':' in a password still works, as in curl.
 */
static int parse_userinfo(struct url_parser *p, const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	size_t user_len = colon ? (size_t)(colon - s) : len;
	char why[160];
	int rc;

	if (len == 0)
		return url_fail(p, "empty user info before '@'");
	if (user_len == 0)
		return url_fail(p, "empty user name before ':' in the URL's "
				"user info");
	rc = decode_span(s, user_len, &p->u.user);
	if (rc == -2)
		return url_fail(p, "out of memory");
	if (rc < 0)
		return url_fail(p, "bad percent-escape (or encoded NUL) in the "
				"URL's user name");
	/* Decoded, they go into HTTP headers: credential.c says what may. */
	if (credential_check(p->u.user, strlen(p->u.user),
			     CREDENTIAL_USERNAME, why, sizeof(why)))
		return url_fail(p, "the URL's user name %s", why);
	if (colon == NULL)
		return 0;
	rc = decode_span(colon + 1, len - user_len - 1, &p->u.password);
	if (rc == -2)
		return url_fail(p, "out of memory");
	if (rc < 0)
		return url_fail(p, "bad percent-escape (or encoded NUL) in the "
				"URL's password");
	if (credential_check(p->u.password, strlen(p->u.password),
			     CREDENTIAL_PASSWORD, why, sizeof(why)))
		return url_fail(p, "the URL's password %s", why);
	return 0;
}

static int parse_port(struct url_parser *p, const char *s, size_t len)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0)
		return url_fail(p, "empty port after ':'");
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return url_fail(p, "port is not a number");
	if (len <= PORT_MAX_DIGITS)
		for (i = 0; i < len; i++)
			v = v * 10 + (unsigned long)(s[i] - '0');
	if (len > PORT_MAX_DIGITS || v == 0 || v > 65535)
		return url_fail(p, "bad port '%.*s%s' (must be 1 to 65535)",
				(int)(len > 12 ? 12 : len), s,
				len > 12 ? "..." : "");
	p->u.port = (unsigned)v;
	p->u.port_given = 1;
	return 0;
}

static int parse_ipv6_literal(struct url_parser *p, const char *s, size_t len)
{
	struct in6_addr addr;
	char buf[INET6_ADDRSTRLEN];

	if (len == 0)
		return url_fail(p, "empty IPv6 address in brackets");
	if (len >= sizeof(buf))
		return url_fail(p, "bad IPv6 address in brackets");
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, &addr) != 1)
		return url_fail(p, "bad IPv6 address '%s' in brackets (zone "
				"ids are not supported)", buf);
	p->u.host = lower_dup(buf, len);
	if (p->u.host == NULL)
		return url_fail(p, "out of memory");
	p->u.host_is_ip = 6;
	return 0;
}

/*
 * The WHATWG URL rule: a host whose last label is a number is an IPv4
 * address to browsers and to getaddrinfo ("127.1", "0x7f000001"), so a
 * name like that that is not a plain dotted quad is refused.
 */
static int last_label_is_numeric(const char *name)
{
	const char *label = strrchr(name, '.');
	const char *c;

	label = label ? label + 1 : name;
	if (label[0] == '0' && (label[1] == 'x' || label[1] == 'X')) {
		for (c = label + 2; *c; c++)
			if (!isxdigit((unsigned char)*c))
				return 0;
		return 1;
	}
	for (c = label; *c; c++)
		if (!isdigit((unsigned char)*c))
			return 0;
	return 1;
}

static int host_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* Labels of 1 to 63 characters, no '-' at either end. */
static int check_host_name(struct url_parser *p, const char *name)
{
	const char *label = name;

	for (;;) {
		size_t len = strcspn(label, ".");
		size_t i;

		if (len == 0)
			return url_fail(p, "empty label in host name");
		if (len > LABEL_MAX_LEN)
			return url_fail(p, "host name label longer than %d",
					LABEL_MAX_LEN);
		for (i = 0; i < len; i++)
			if (!host_char_ok(label[i]))
				return url_fail(p, "character '%c' not allowed "
						"in a host name", label[i]);
		if (label[0] == '-' || label[len - 1] == '-')
			return url_fail(p, "host name label starts or ends "
					"with '-'");
		if (label[len] == '\0')
			break;
		label += len + 1;
	}
	if (last_label_is_numeric(name))
		return url_fail(p, "numeric host name that is not a "
				"dotted-quad IPv4 address");
	return 0;
}

static int parse_name_or_ipv4(struct url_parser *p, const char *s, size_t len)
{
	struct in_addr addr;
	char *host;

	if (len == 0)
		return url_fail(p, "empty host");
	/* "example.com." is the same host; SNI and certificates want no dot. */
	if (len > 1 && s[len - 1] == '.')
		len--;
	if (len > HOST_NAME_MAX_LEN)
		return url_fail(p, "host name longer than %d",
				HOST_NAME_MAX_LEN);
	host = lower_dup(s, len);
	if (host == NULL)
		return url_fail(p, "out of memory");
	p->u.host = host;
	if (inet_pton(AF_INET, host, &addr) == 1) {
		p->u.host_is_ip = 4;
		return 0;
	}
	return check_host_name(p, host);
}

/* host[:port] in [s, s+len): "[v6]", "[v6]:port", "name:port"... */
static int parse_host_port(struct url_parser *p, const char *s, size_t len)
{
	const char *end = s + len;
	const char *colon;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL)
			return url_fail(p, "unclosed '[' in IPv6 address");
		if (parse_ipv6_literal(p, s + 1, (size_t)(close - s - 1)) < 0)
			return -1;
		if (close + 1 == end)
			return 0;
		if (close[1] != ':')
			return url_fail(p, "unexpected text after ']' "
					"(expected ':port')");
		return parse_port(p, close + 2, (size_t)(end - close - 2));
	}
	colon = memchr(s, ':', len);
	if (colon == NULL)
		return parse_name_or_ipv4(p, s, len);
	if (memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL)
		return url_fail(p, "IPv6 address must be in brackets "
				"(e.g. [::1]:443)");
	if (parse_name_or_ipv4(p, s, (size_t)(colon - s)) < 0)
		return -1;
	return parse_port(p, colon + 1, (size_t)(end - colon - 1));
}

static int check_path_escapes(struct url_parser *p, const char *path)
{
	for (; *path; path++) {
		if (*path != '%')
			continue;
		if (!isxdigit((unsigned char)path[1]) ||
		    !isxdigit((unsigned char)path[2]))
			return url_fail(p, "bad percent-escape in the URL's "
					"path");
		path += 2;
	}
	return 0;
}

/* Path and query as given; "?q" alone becomes "/?q"; nothing is "/". */
static int parse_path(struct url_parser *p, const char *s)
{
	if (check_path_escapes(p, s) < 0)
		return -1;
	if (*s == '\0')
		p->u.path = strdup("/");
	else if (*s == '/')
		p->u.path = strdup(s);
	else if (asprintf(&p->u.path, "/%s", s) < 0)
		p->u.path = NULL;
	return p->u.path ? 0 : url_fail(p, "out of memory");
}

/* What only one kind of URL requires, after the common parse. */
static int finish_dest(struct url_parser *p)
{
	if (p->u.port_given)
		return 0;
	p->u.port = url_default_port(p->u.scheme);
	if (p->u.port == 0)
		return url_fail(p, "%s:// URLs need a port "
				"(e.g. %s://host:443)", p->u.scheme,
				p->u.scheme);
	return 0;
}

static int finish_proxy(struct url_parser *p)
{
	int pac = url_is_pac(p->u.scheme, p->u.path);

	if (!pac && strcmp(p->u.path, "/") != 0)
		return url_fail(p, "a proxy URL has no path or query (only a "
				"PAC URL ending in .pac does)");
	if (p->u.port_given)
		return 0;
	/* A PAC file comes from a web server, not from a proxy port. */
	if (!pac && claimed_port(p))
		p->u.port = claimed_port(p);
	else if (!pac && strcmp(p->u.scheme, "http") == 0)
		p->u.port = HTTP_PROXY_DEFAULT_PORT;
	else
		p->u.port = url_default_port(p->u.scheme);
	return 0;
}

static int parse_authority(struct url_parser *p, const char *auth,
			   size_t auth_len)
{
	const char *at = NULL, *c;

	/* The last '@' ends the user info, as in curl. */
	for (c = auth; c < auth + auth_len; c++)
		if (*c == '@')
			at = c;
	if (at == NULL)
		return parse_host_port(p, auth, auth_len);
	if (p->kind == URL_DEST)
		return url_fail(p, "user info ('user@') is not allowed in a "
				"destination URL");
	if (parse_userinfo(p, auth, (size_t)(at - auth)) < 0)
		return -1;
	return parse_host_port(p, at + 1, auth_len - (size_t)(at - auth) - 1);
}

static int url_parse(const char *text, enum url_kind kind,
		     const struct url_claims *claims, struct url *out,
		     char *errbuf, size_t errlen)
{
	struct url_parser p = { .kind = kind, .claims = claims,
				.errbuf = errbuf, .errlen = errlen };
	const char *auth;
	size_t after = 0, auth_len;
	int rc = -1;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (check_bytes(&p, text) < 0 || parse_scheme(&p, text, &after) < 0)
		goto out;
	auth = text + after;
	auth_len = strcspn(auth, "/?");
	/*
	 * An '@' after the host means a '/' or '?' in a password that was
	 * not percent-encoded: refuse it before the host or port parser
	 * could quote a piece of the password in an error.
	 */
	if (kind == URL_PROXY && strchr(auth + auth_len, '@') != NULL) {
		url_fail(&p, "'@' after the host: percent-encode '/' and '?' "
			 "in the user name and password (%%2F, %%3F)");
		goto out;
	}
	if (parse_authority(&p, auth, auth_len) < 0 ||
	    parse_path(&p, auth + auth_len) < 0)
		goto out;
	rc = kind == URL_DEST ? finish_dest(&p) : finish_proxy(&p);
out:
	if (rc < 0)
		url_clear(&p.u);
	*out = p.u;
	return rc;
}

int url_parse_dest(const char *text, struct url *out, char *errbuf,
		   size_t errlen)
{
	return url_parse(text, URL_DEST, NULL, out, errbuf, errlen);
}

int url_parse_proxy(const char *text, struct url *out, char *errbuf,
		    size_t errlen)
{
	return url_parse(text, URL_PROXY, NULL, out, errbuf, errlen);
}

int url_parse_proxy_claimed(const char *text, const struct url_claims *claims,
			    struct url *out, char *errbuf, size_t errlen)
{
	return url_parse(text, URL_PROXY, claims, out, errbuf, errlen);
}

void url_clear(struct url *u)
{
	if (u == NULL)
		return;
	if (u->password != NULL) {
		explicit_bzero(u->password, strlen(u->password));
		free(u->password);
	}
	free(u->scheme);
	free(u->user);
	free(u->host);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

/*
 * Only the scheme and the path decide, so that the host can pick the
 * module before the module's own parse reports what else is wrong.
 */
const char *url_proxy_module(const char *text)
{
	char scheme[SCHEME_MAX_LEN + 1];
	const char *rest;
	int len;

	if (text == NULL)
		return NULL;
	len = find_scheme(text);
	if (len < 0)
		return NULL;
	if (len == 0) {
		strcpy(scheme, "http");
		rest = text;
	} else {
		memcpy(scheme, text, (size_t)len);
		scheme[len] = '\0';
		rest = text + len + 3;
	}
	rest += strcspn(rest, "/?#");
	if (scheme_is_pac(scheme))
		return "pac";
	if (strcasecmp(scheme, "http") == 0 ||
	    strcasecmp(scheme, "https") == 0) {
		if (path_is_pac(rest, strlen(rest)))
			return "pac";
		return strcasecmp(scheme, "http") == 0 ? "http-connect"
						       : "https-proxy";
	}
	if (strcasecmp(scheme, "socks4") == 0 ||
	    strcasecmp(scheme, "socks4a") == 0 ||
	    strcasecmp(scheme, "socks5") == 0 ||
	    strcasecmp(scheme, "socks5h") == 0)
		return "socks";
	return NULL;
}

int url_format_authority(const char *host, unsigned port, char *out,
			 size_t outsz)
{
	int bracket, n;

	if (out == NULL || outsz == 0)
		return -1;
	out[0] = '\0';
	if (host == NULL)
		return -1;
	bracket = strchr(host, ':') != NULL;
	if (port == 0)
		n = snprintf(out, outsz, bracket ? "[%s]" : "%s", host);
	else
		n = snprintf(out, outsz, bracket ? "[%s]:%u" : "%s:%u", host,
			     port);
	if (n < 0 || (size_t)n >= outsz) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * A PAC URL keeps its path (it names the file) but not its query, which
 * may carry a token.
 */
char *url_display(const struct url *u)
{
	const char *path = "";
	size_t path_len = 0;
	char *out;
	int bracket, n;

	if (u == NULL || u->scheme == NULL || u->host == NULL)
		return NULL;
	if (url_is_pac(u->scheme, u->path)) {
		path = u->path;
		path_len = strcspn(path, "?");
	}
	bracket = strchr(u->host, ':') != NULL;
	n = asprintf(&out, bracket ? "%s://[%s]:%u%.*s" : "%s://%s:%u%.*s",
		     u->scheme, u->host, u->port, (int)path_len, path);
	return n < 0 ? NULL : out;
}

char *url_display_text(const char *text)
{
	return url_display_text_claimed(text, NULL);
}

char *url_display_text_claimed(const char *text,
			       const struct url_claims *claims)
{
	struct url u;
	char *out;
	const char *rest = text ? strstr(text, "://") : NULL;

	/*
	 * Text meant to carry user info ('@' after the scheme) that the
	 * proxy parser refuses must not be read as a destination: that
	 * would show the user name as a host and the password as a port.
	 */
	if (url_parse_proxy_claimed(text, claims, &u, NULL, 0) < 0 &&
	    ((rest && strchr(rest, '@')) || url_parse_dest(text, &u, NULL, 0) < 0))
		return strdup("<unparsable url>");
	out = url_display(&u);
	url_clear(&u);
	return out;
}
