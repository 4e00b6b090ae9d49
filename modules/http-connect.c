/*
 * http-connect.c - the `http-connect` transport module: a tunnel through
 * an HTTP/1.1 proxy with CONNECT (RFC 9110 section 9.3.6), Basic auth.
 *
 * In this build the module loads and parses its keys, so that a
 * configuration naming it is checked in full, but every connection fails
 * with PS_ERR_UNSUPPORTED: the CONNECT handshake itself comes with the
 * http-connect feature.  The pieces a real implementation needs are
 * already here: the parsed instance (proxy URL, credentials with the
 * URL's winning, extra headers) and the per-connection state.
 *
 * Keys of [transport NAME] with module = http-connect:
 *
 *   url            http://[user:password@]host[:port]   (required)
 *   username       Basic auth user (the URL's user wins)
 *   password       inline secret (prefer password_file)
 *   password_file  a file whose first line is the password
 *   user_agent     User-Agent of the CONNECT request
 *   header         "Name: value", repeatable, added to the request
 *
 * The layer below (direct, or another tunnel) is what reaches the proxy;
 * this layer's own target is the destination that CONNECT names.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strndup, memrchr, explicit_bzero */
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <proxystack/module.h>

/* curl's default port for an http:// proxy, which users expect. */
#define HTTP_CONNECT_DEFAULT_PORT 1080

/* The configured instance; shared read-only by every connection. */
struct http_connect_config {
	char *proxy_host;          /* from url, without brackets */
	unsigned proxy_port;
	char *url_username;        /* from the URL's userinfo, or NULL */
	const char *username;      /* url_username or the key, or NULL */
	char *password;            /* a secret: wipe with ps_secret_free */
	const char *user_agent;    /* NULL: the implementation's default */
	const char **headers;      /* "Name: value" lines as configured */
	size_t header_count;
};

/* One connection through the proxy. */
struct http_connect {
	const struct http_connect_config *config;
};

/* Wipe and free what may hold a secret before it was decoded. */
static void http_connect_wipe_free(char *text)
{
	if (text == NULL)
		return;
	explicit_bzero(text, strlen(text));
	free(text);
}

/* A CR or LF in a value would let it inject request lines. */
static int http_connect_has_line_break(const char *text)
{
	return strpbrk(text, "\r\n") != NULL;
}

/* ------------------------------------------------------------------ */
/* The proxy URL                                                        */
/* ------------------------------------------------------------------ */

/* 1 if 'text' is a scheme name (RFC 3986: ALPHA *( ALPHA/DIGIT/+-. )). */
static int http_connect_is_scheme(const char *text, size_t len)
{
	size_t i;

	if (len == 0 || !isalpha((unsigned char)text[0]))
		return 0;
	for (i = 1; i < len; i++)
		if (!isalnum((unsigned char)text[i]) &&
		    strchr("+-.", text[i]) == NULL)
			return 0;
	return 1;
}

/*
 * Only "http" (or no scheme: a bare "proxy:3128" is http, as the host's
 * proxy URL parser and curl take it).  Other proxy schemes name another
 * module, so say which.  The URL itself is never echoed: it may hold a
 * password.
 */
static int http_connect_check_scheme(ps_config *cfg, const char *url,
				     const char **rest)
{
	const char *sep = strstr(url, "://");
	size_t len;

	*rest = url;
	if (sep == NULL)
		return PS_OK;
	len = (size_t)(sep - url);
	*rest = sep + 3;
	if (len == 4 && strncasecmp(url, "http", 4) == 0)
		return PS_OK;
	if (len == 5 && strncasecmp(url, "https", 5) == 0)
		return ps_config_error(cfg, "url", "an https:// proxy needs "
				       "module = https-proxy, not "
				       "http-connect");
	if (!http_connect_is_scheme(url, len))
		return ps_config_error(cfg, "url", "not a URL: expected "
				       "http://host:port");
	return ps_config_error(cfg, "url", "scheme %.*s:// is not served "
			       "by http-connect: expected http://host:port",
			       (int)len, url);
}

/* Split "user[:password]" and percent-decode both halves. */
static int http_connect_parse_userinfo(ps_config *cfg,
				       struct http_connect_config *c,
				       const char *userinfo, size_t len)
{
	const char *colon = memchr(userinfo, ':', len);
	size_t user_len = colon ? (size_t)(colon - userinfo) : len;
	char *raw;

	if (user_len == 0)
		return ps_config_error(cfg, "url", "credentials without a "
				       "user name before '@'");
	raw = strndup(userinfo, user_len);
	if (raw == NULL)
		return ps_config_error(cfg, "url", "out of memory");
	c->url_username = ps_percent_decode(raw);
	http_connect_wipe_free(raw);
	if (c->url_username == NULL)
		return ps_config_error(cfg, "url", "bad percent-encoding in "
				       "the user name");
	if (colon == NULL)
		return PS_OK;
	raw = strndup(colon + 1, len - user_len - 1);
	if (raw == NULL)
		return ps_config_error(cfg, "url", "out of memory");
	c->password = ps_percent_decode(raw);
	http_connect_wipe_free(raw);
	if (c->password == NULL)
		return ps_config_error(cfg, "url", "bad percent-encoding in "
				       "the password");
	return PS_OK;
}

/* "host", "host:port", "[v6]" or "[v6]:port" */
static int http_connect_parse_hostport(ps_config *cfg,
				       struct http_connect_config *c,
				       const char *text, size_t len)
{
	const char *end = text + len, *host = text, *port = NULL;
	size_t host_len, i;
	unsigned long value = HTTP_CONNECT_DEFAULT_PORT;
	char v6[INET6_ADDRSTRLEN + 1], probe[sizeof(struct in6_addr)];

	if (len > 0 && text[0] == '[') {
		const char *close = memchr(text, ']', len);

		if (close == NULL)
			return ps_config_error(cfg, "url", "'[' without ']' "
					       "around an IPv6 address");
		host = text + 1;
		host_len = (size_t)(close - host);
		if (host_len >= sizeof(v6))
			return ps_config_error(cfg, "url", "bad IPv6 address");
		memcpy(v6, host, host_len);
		v6[host_len] = '\0';
		if (inet_pton(AF_INET6, v6, probe) != 1)
			return ps_config_error(cfg, "url", "bad IPv6 address "
					       "%s", v6);
		if (close + 1 < end && close[1] != ':')
			return ps_config_error(cfg, "url", "expected ':port' "
					       "after ']'");
		if (close + 1 < end)
			port = close + 2;
	} else {
		const char *colon = memchr(text, ':', len);

		host_len = colon ? (size_t)(colon - text) : len;
		if (colon != NULL)
			port = colon + 1;
		for (i = 0; i < host_len; i++)
			if (!isalnum((unsigned char)host[i]) &&
			    strchr("-._", host[i]) == NULL)
				return ps_config_error(cfg, "url", "the proxy "
						       "host has a character "
						       "that no host name "
						       "has");
	}
	if (host_len == 0)
		return ps_config_error(cfg, "url", "no proxy host: expected "
				       "http://host:port");
	if (port != NULL) {
		if (port == end || (size_t)(end - port) > 5)
			return ps_config_error(cfg, "url", "bad port: "
					       "expected 1 to 65535");
		value = 0;
		for (; port < end; port++) {
			if (!isdigit((unsigned char)*port))
				return ps_config_error(cfg, "url", "bad port: "
						       "expected 1 to 65535");
			value = value * 10 + (unsigned long)(*port - '0');
		}
		if (value == 0 || value > 65535)
			return ps_config_error(cfg, "url", "bad port %lu: "
					       "expected 1 to 65535", value);
	}
	c->proxy_host = strndup(host, host_len);
	if (c->proxy_host == NULL)
		return ps_config_error(cfg, "url", "out of memory");
	c->proxy_port = (unsigned)value;
	return PS_OK;
}

/* http://[user[:password]@]host[:port][/] */
static int http_connect_parse_url(ps_config *cfg,
				  struct http_connect_config *c,
				  const char *url)
{
	const char *rest, *at;
	size_t authority_len;
	int rc;

	rc = http_connect_check_scheme(cfg, url, &rest);
	if (rc != PS_OK)
		return rc;
	authority_len = strcspn(rest, "/?#");
	if (rest[authority_len] != '\0' && strcmp(rest + authority_len, "/"))
		return ps_config_error(cfg, "url", "a proxy URL has no path "
				       "or query: keep only http://host:port");
	/* The last '@': a password may hold a raw '@' that users forget
	 * to percent-encode, a host never does. */
	at = memrchr(rest, '@', authority_len);
	if (at != NULL) {
		rc = http_connect_parse_userinfo(cfg, c, rest,
						 (size_t)(at - rest));
		if (rc != PS_OK)
			return rc;
		authority_len -= (size_t)(at + 1 - rest);
		rest = at + 1;
	}
	return http_connect_parse_hostport(cfg, c, rest, authority_len);
}

/* ------------------------------------------------------------------ */
/* The other keys                                                       */
/* ------------------------------------------------------------------ */

struct http_connect_header_walk {
	ps_config *cfg;
	struct http_connect_config *config;
	size_t index;
};

/* RFC 9110 tchar: what a header field name may be made of. */
static int http_connect_is_token(const char *text, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)text[i]) &&
		    strchr("!#$%&'*+-.^_`|~", text[i]) == NULL)
			return 0;
	return 1;
}

/* Values are never echoed: a header may carry a token. */
static int http_connect_add_header(void *user, const char *value)
{
	struct http_connect_header_walk *walk = user;
	struct http_connect_config *c = walk->config;
	const char *colon = strchr(value, ':');
	const char **grown;

	walk->index++;
	if (colon == NULL || !http_connect_is_token(value,
						    (size_t)(colon - value)))
		return ps_config_error(walk->cfg, "header", "header %zu: "
				       "expected \"Name: value\"",
				       walk->index);
	if (http_connect_has_line_break(value))
		return ps_config_error(walk->cfg, "header", "header %zu: a "
				       "line break would inject a request "
				       "line", walk->index);
	grown = realloc(c->headers, (c->header_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return ps_config_error(walk->cfg, "header", "out of memory");
	c->headers = grown;
	c->headers[c->header_count++] = value; /* lives with the snapshot */
	return PS_OK;
}

static int http_connect_read_credentials(ps_config *cfg,
					 struct http_connect_config *c)
{
	const char *username = ps_config_get(cfg, "username");
	const char *from = c->url_username ? "url" : "username";
	char *key_password = NULL;
	int rc;

	rc = ps_config_get_secret(cfg, "password", "password_file",
				  &key_password);
	if (rc != PS_OK)
		return rc;
	if (c->url_username != NULL) {
		/* DESIGN: credentials in a proxy URL win. */
		if (username != NULL || key_password != NULL)
			ps_config_log(cfg, PS_LOG_WARN, "the url carries "
				      "credentials: username, password and "
				      "password_file are ignored");
		ps_secret_free(key_password);
		c->username = c->url_username;
	} else {
		c->username = username;
		c->password = key_password;
	}
	if (c->password != NULL && c->username == NULL)
		return ps_config_error(cfg, ps_config_get(cfg, "password") ?
				       "password" : "password_file",
				       "a password needs a username");
	if (c->username != NULL && strchr(c->username, ':') != NULL)
		return ps_config_error(cfg, from, "Basic auth cannot carry a "
				       "user name with ':' (RFC 7617)");
	if ((c->username && http_connect_has_line_break(c->username)) ||
	    (c->password && http_connect_has_line_break(c->password)))
		return ps_config_error(cfg, from, "credentials cannot hold a "
				       "line break");
	return PS_OK;
}

static void http_connect_unconfigure(void *instance)
{
	struct http_connect_config *c = instance;

	if (c == NULL)
		return;
	free(c->proxy_host);
	ps_free(c->url_username);
	ps_secret_free(c->password);
	free(c->headers);
	free(c);
}

static int http_connect_configure(ps_config *cfg, void **instance)
{
	struct http_connect_config *c = calloc(1, sizeof(*c));
	struct http_connect_header_walk walk = { cfg, c, 0 };
	const char *url;
	int rc, v6;

	if (c == NULL)
		return ps_config_error(cfg, NULL, "out of memory");
	url = ps_config_get(cfg, "url");
	if (url == NULL || *url == '\0') {
		rc = ps_config_error(cfg, "url", "required: the proxy, e.g. "
				     "url = http://proxy.example.com:3128");
		goto out;
	}
	rc = http_connect_parse_url(cfg, c, url);
	if (rc != PS_OK)
		goto out;
	rc = http_connect_read_credentials(cfg, c);
	if (rc != PS_OK)
		goto out;
	c->user_agent = ps_config_get(cfg, "user_agent");
	if (c->user_agent != NULL &&
	    http_connect_has_line_break(c->user_agent)) {
		rc = ps_config_error(cfg, "user_agent", "a line break would "
				     "inject a request line");
		goto out;
	}
	rc = ps_config_get_each(cfg, "header", http_connect_add_header, &walk);
	if (rc != PS_OK)
		goto out;
	v6 = strchr(c->proxy_host, ':') != NULL;
	ps_config_log(cfg, PS_LOG_DEBUG,
		      "proxy http://%s%s%s:%u%s",
		      v6 ? "[" : "", c->proxy_host, v6 ? "]" : "",
		      c->proxy_port, c->username ? " with Basic auth" : "");
out:
	if (rc != PS_OK) {
		http_connect_unconfigure(c);
		return rc;
	}
	*instance = c;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* Per connection                                                       */
/* ------------------------------------------------------------------ */

static int http_connect_open(ps_layer *layer, void *instance, void **state)
{
	struct http_connect *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory opening a tunnel");
	h->config = instance;
	*state = h;
	return PS_OK;
}

/*
 * Where the CONNECT state machine goes (send the request, read the head
 * with ps_layer_read_head(), answer a 407 once with credentials, hand
 * tunnel bytes back with ps_layer_unread()).
 */
static int http_connect_connect(ps_layer *layer, void *state)
{
	return ps_layer_fail(layer, PS_ERR_UNSUPPORTED,
			     "HTTP CONNECT tunnelling (the http-connect "
			     "feature) is not in this build yet: use a "
			     "proxystack build that has it",
			     "http-connect: CONNECT is not implemented in "
			     "this build yet");
}

static void http_connect_close(ps_layer *layer, void *state)
{
	free(state);
}

static const struct ps_module_ops http_connect_ops = {
	.configure = http_connect_configure,
	.unconfigure = http_connect_unconfigure,
	.open = http_connect_open,
	.connect = http_connect_connect,
	/* send, recv, shutdown_write: NULL, a CONNECT tunnel is
	 * transparent once established. */
	.close = http_connect_close,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "http-connect",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
	.summary = "tunnel through an HTTP proxy with CONNECT (not yet "
		   "implemented)",
	.ops = &http_connect_ops,
};
