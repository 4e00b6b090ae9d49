/*
 * url.h - destination and proxy URLs (internal).
 *
 * One parser for both: scheme://[user[:password]@]host[:port][/path?query].
 * IPv6 literals in brackets, userinfo percent-decoded, default ports by
 * scheme.  A proxy URL without a scheme ("proxy:3128") is taken as http.
 */
#ifndef HOST_URL_H
#define HOST_URL_H

#include <stddef.h>

struct url {
	char *scheme;     /* lower-case, never NULL after a successful parse */
	char *user;       /* percent-decoded, NULL if absent */
	char *password;   /* percent-decoded, NULL if absent; wiped by clear */
	char *host;       /* without brackets; names lower-cased */
	unsigned port;    /* explicit, else the scheme's default */
	int port_given;   /* 1 when the URL named the port */
	int host_is_ip;   /* 4 or 6 for IP literals, 0 for names */
	char *path;       /* path and query as given, "/" when absent */
};

/*
 * Parse a destination URL (tcp, tls, https, http, ws, wss).  tcp and tls
 * need an explicit port.  Userinfo is refused.  Returns 0, or -1 with a
 * message in errbuf.  *out must be cleared with url_clear().
 */
int url_parse_dest(const char *text, struct url *out, char *errbuf,
		      size_t errlen);

/*
 * Parse a proxy URL (http, https, socks4, socks4a, socks5, socks5h, pac+*,
 * or a URL ending in .pac).  No scheme means http.  Default ports follow
 * curl: http 1080, https 443, socks 1080.  A path other than "/" is
 * refused except for pac URLs.  Returns 0, or -1 with a message in errbuf.
 */
int url_parse_proxy(const char *text, struct url *out, char *errbuf,
		       size_t errlen);

/*
 * Proxy schemes that modules claim (schemes.h): port_of() returns a
 * claimed scheme's default port, 0 for a scheme nobody claims.
 */
struct url_claims {
	unsigned (*port_of)(const void *user, const char *scheme);
	const void *user;
};

/*
 * url_parse_proxy() that also accepts the schemes in 'claims' (NULL:
 * none), a claimed scheme's default port applying when the URL has none.
 */
int url_parse_proxy_claimed(const char *text, const struct url_claims *claims,
			    struct url *out, char *errbuf, size_t errlen);

/* Free the fields (wiping the password) and zero *u.  NULL-safe. */
void url_clear(struct url *u);

/*
 * Default port of a scheme, 0 if unknown or none (tcp, tls).  These are
 * destination defaults (http 80); url_parse_proxy() alone gives a plain
 * http proxy 1080.  socks* 1080, pac+http 80, pac+https 443.
 */
unsigned url_default_port(const char *scheme);

/*
 * The module that serves a proxy URL: "http-connect", "https-proxy",
 * "socks", "pac", or NULL for an unknown scheme.  'text' is the URL as
 * given (a ".pac" path or a "pac+" scheme selects pac).
 */
const char *url_proxy_module(const char *text);

/*
 * "scheme://host:port" (IPv6 bracketed) without credentials or path: the
 * form shown in logs, errors and `which`.  Caller frees.  NULL on ENOMEM.
 */
char *url_display(const struct url *u);

/*
 * The same for a URL given as text, for display when the text may hold
 * credentials: parses it as a proxy URL; on a parse failure returns
 * "<unparsable url>".  Caller frees.  NULL on ENOMEM.
 */
char *url_display_text(const char *text);

/* url_display_text() knowing the claimed schemes (NULL: none). */
char *url_display_text_claimed(const char *text,
			       const struct url_claims *claims);

/* Write host[:port] with IPv6 in brackets into out.  Returns 0 or -1. */
int url_format_authority(const char *host, unsigned port, char *out,
			    size_t outsz);

#endif
