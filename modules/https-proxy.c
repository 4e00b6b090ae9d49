/*
 * https-proxy.c - the `https-proxy` transport module: TLS to the proxy
 * itself, then a CONNECT tunnel inside that TLS session (HTTP/1.1, or
 * HTTP/2 where ALPN picks h2, several tunnels sharing one session).
 *
 * In this build the module loads and parses its keys, so that a
 * configuration naming it is checked in full, but every connection fails
 * with PS_ERR_UNSUPPORTED: TLS to the proxy and the tunnel come with the
 * https-proxy feature.  The pieces a real implementation needs are
 * already here: the parsed instance (proxy URL, credentials with the
 * URL's winning, the proxy's own TLS settings, extra headers) and the
 * per-connection state.
 *
 * Keys of [transport NAME] with module = https-proxy:
 *
 *   url               https://[user:password@]host[:port]   (required)
 *   username          Basic auth user (the URL's user wins)
 *   password          inline secret (prefer password_file)
 *   password_file     a file whose first line is the password
 *   ca_file           what the PROXY's certificate must chain to
 *                     (default: the system CAs); the destination's
 *                     trust is configured apart, in [global] and trust
 *   insecure_tls      skip verifying the proxy (never the default)
 *   client_cert_file  mutual TLS to the proxy: our certificate (PEM)
 *   client_key_file   its key (PEM; default: in client_cert_file)
 *   user_agent        User-Agent of the CONNECT request
 *   header            "Name: value", repeatable, added to the request
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

/* An https:// proxy without a port is on 443, as curl takes it. */
#define HTTPS_PROXY_DEFAULT_PORT 443

/* The configured instance; shared read-only by every connection. */
struct https_proxy_config {
	char *proxy_host;          /* from url, without brackets */
	unsigned proxy_port;
	char *url_username;        /* from the URL's userinfo, or NULL */
	const char *username;      /* url_username or the key, or NULL */
	char *password;            /* a secret: wipe with ps_secret_free */
	const char *ca_file;       /* NULL: the system CAs */
	int insecure_tls;          /* 1: the proxy is not verified */
	const char *client_cert_file;
	const char *client_key_file; /* NULL: the key is in the cert file */
	const char *user_agent;    /* NULL: the implementation's default */
	const char **headers;      /* "Name: value" lines as configured */
	size_t header_count;
};

/* One connection through the proxy. */
struct https_proxy {
	const struct https_proxy_config *config;
};

/* Wipe and free what may hold a secret before it was decoded. */
static void https_proxy_wipe_free(char *text)
{
	if (text == NULL)
		return;
	explicit_bzero(text, strlen(text));
	free(text);
}

/* A CR or LF in a value would let it inject request lines. */
static int https_proxy_has_line_break(const char *text)
{
	return strpbrk(text, "\r\n") != NULL;
}

/* ------------------------------------------------------------------ */
/* The proxy URL                                                        */
/* ------------------------------------------------------------------ */

/* 1 if 'text' is a scheme name (RFC 3986: ALPHA *( ALPHA/DIGIT/+-. )). */
static int https_proxy_is_scheme(const char *text, size_t len)
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
 * Only "https".  A bare "proxy:3128" means http to the host's proxy URL
 * parser and to curl, and other proxy schemes name other modules, so
 * say which.  The URL itself is never echoed: it may hold a password.
 */
static int https_proxy_check_scheme(ps_config *cfg, const char *url,
				    const char **rest)
{
	const char *sep = strstr(url, "://");
	size_t len;

	*rest = url;
	if (sep == NULL)
		return ps_config_error(cfg, "url", "no scheme, which means "
				       "http: write https://host:port for an "
				       "https proxy, or use module = "
				       "http-connect");
	len = (size_t)(sep - url);
	*rest = sep + 3;
	if (len == 5 && strncasecmp(url, "https", 5) == 0)
		return PS_OK;
	if (len == 4 && strncasecmp(url, "http", 4) == 0)
		return ps_config_error(cfg, "url", "an http:// proxy needs "
				       "module = http-connect, not "
				       "https-proxy");
	if (!https_proxy_is_scheme(url, len))
		return ps_config_error(cfg, "url", "not a URL: expected "
				       "https://host:port");
	return ps_config_error(cfg, "url", "scheme %.*s:// is not served "
			       "by https-proxy: expected https://host:port",
			       (int)len, url);
}

/* Split "user[:password]" and percent-decode both halves. */
static int https_proxy_parse_userinfo(ps_config *cfg,
				       struct https_proxy_config *c,
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
	https_proxy_wipe_free(raw);
	if (c->url_username == NULL)
		return ps_config_error(cfg, "url", "bad percent-encoding in "
				       "the user name");
	if (colon == NULL)
		return PS_OK;
	raw = strndup(colon + 1, len - user_len - 1);
	if (raw == NULL)
		return ps_config_error(cfg, "url", "out of memory");
	c->password = ps_percent_decode(raw);
	https_proxy_wipe_free(raw);
	if (c->password == NULL)
		return ps_config_error(cfg, "url", "bad percent-encoding in "
				       "the password");
	return PS_OK;
}

/* "host", "host:port", "[v6]" or "[v6]:port" */
static int https_proxy_parse_hostport(ps_config *cfg,
				       struct https_proxy_config *c,
				       const char *text, size_t len)
{
	const char *end = text + len, *host = text, *port = NULL;
	size_t host_len, i;
	unsigned long value = HTTPS_PROXY_DEFAULT_PORT;
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
				       "https://host:port");
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

/* https://[user[:password]@]host[:port][/] */
static int https_proxy_parse_url(ps_config *cfg,
				  struct https_proxy_config *c,
				  const char *url)
{
	const char *rest, *at;
	size_t authority_len;
	int rc;

	rc = https_proxy_check_scheme(cfg, url, &rest);
	if (rc != PS_OK)
		return rc;
	authority_len = strcspn(rest, "/?#");
	if (rest[authority_len] != '\0' && strcmp(rest + authority_len, "/"))
		return ps_config_error(cfg, "url", "a proxy URL has no path "
				       "or query: keep only "
				       "https://host:port");
	/* The last '@': a password may hold a raw '@' that users forget
	 * to percent-encode, a host never does. */
	at = memrchr(rest, '@', authority_len);
	if (at != NULL) {
		rc = https_proxy_parse_userinfo(cfg, c, rest,
						 (size_t)(at - rest));
		if (rc != PS_OK)
			return rc;
		authority_len -= (size_t)(at + 1 - rest);
		rest = at + 1;
	}
	return https_proxy_parse_hostport(cfg, c, rest, authority_len);
}

/* ------------------------------------------------------------------ */
/* The other keys                                                       */
/* ------------------------------------------------------------------ */

struct https_proxy_header_walk {
	ps_config *cfg;
	struct https_proxy_config *config;
	size_t index;
};

/* RFC 9110 tchar: what a header field name may be made of. */
static int https_proxy_is_token(const char *text, size_t len)
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
static int https_proxy_add_header(void *user, const char *value)
{
	struct https_proxy_header_walk *walk = user;
	struct https_proxy_config *c = walk->config;
	const char *colon = strchr(value, ':');
	const char **grown;

	walk->index++;
	if (colon == NULL || !https_proxy_is_token(value,
						    (size_t)(colon - value)))
		return ps_config_error(walk->cfg, "header", "header %zu: "
				       "expected \"Name: value\"",
				       walk->index);
	if (https_proxy_has_line_break(value))
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

static int https_proxy_read_credentials(ps_config *cfg,
					 struct https_proxy_config *c)
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
	if ((c->username && https_proxy_has_line_break(c->username)) ||
	    (c->password && https_proxy_has_line_break(c->password)))
		return ps_config_error(cfg, from, "credentials cannot hold a "
				       "line break");
	return PS_OK;
}

/* The proxy's own TLS session: who it must be, and who we are. */
static int https_proxy_read_tls(ps_config *cfg, struct https_proxy_config *c)
{
	int rc;

	c->ca_file = ps_config_get(cfg, "ca_file");
	c->client_cert_file = ps_config_get(cfg, "client_cert_file");
	c->client_key_file = ps_config_get(cfg, "client_key_file");
	rc = ps_config_get_bool(cfg, "insecure_tls", 0, &c->insecure_tls);
	if (rc != PS_OK)
		return rc;
	if (c->client_key_file != NULL && c->client_cert_file == NULL)
		return ps_config_error(cfg, "client_key_file", "a key without "
				       "client_cert_file: name the "
				       "certificate it belongs to");
	if (c->insecure_tls)
		/* Loud on purpose: anyone on the path can then pose as the
		 * proxy and read the credentials sent to it. */
		ps_config_log(cfg, PS_LOG_WARN, "insecure_tls = true: the "
			      "proxy's certificate is NOT verified; anyone on "
			      "the network path can impersonate it%s",
			      c->username ? " and read its credentials" : "");
	return PS_OK;
}

static void https_proxy_unconfigure(void *instance)
{
	struct https_proxy_config *c = instance;

	if (c == NULL)
		return;
	free(c->proxy_host);
	ps_free(c->url_username);
	ps_secret_free(c->password);
	free(c->headers);
	free(c);
}

static int https_proxy_configure(ps_config *cfg, void **instance)
{
	struct https_proxy_config *c = calloc(1, sizeof(*c));
	struct https_proxy_header_walk walk = { cfg, c, 0 };
	const char *url;
	int rc, v6;

	if (c == NULL)
		return ps_config_error(cfg, NULL, "out of memory");
	url = ps_config_get(cfg, "url");
	if (url == NULL || *url == '\0') {
		rc = ps_config_error(cfg, "url", "required: the proxy, e.g. "
				     "url = https://proxy.example.com:443");
		goto out;
	}
	rc = https_proxy_parse_url(cfg, c, url);
	if (rc != PS_OK)
		goto out;
	rc = https_proxy_read_credentials(cfg, c);
	if (rc != PS_OK)
		goto out;
	rc = https_proxy_read_tls(cfg, c);
	if (rc != PS_OK)
		goto out;
	c->user_agent = ps_config_get(cfg, "user_agent");
	if (c->user_agent != NULL &&
	    https_proxy_has_line_break(c->user_agent)) {
		rc = ps_config_error(cfg, "user_agent", "a line break would "
				     "inject a request line");
		goto out;
	}
	rc = ps_config_get_each(cfg, "header", https_proxy_add_header, &walk);
	if (rc != PS_OK)
		goto out;
	v6 = strchr(c->proxy_host, ':') != NULL;
	ps_config_log(cfg, PS_LOG_DEBUG,
		      "proxy https://%s%s%s:%u%s",
		      v6 ? "[" : "", c->proxy_host, v6 ? "]" : "",
		      c->proxy_port, c->username ? " with Basic auth" : "");
out:
	if (rc != PS_OK) {
		https_proxy_unconfigure(c);
		return rc;
	}
	*instance = c;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* Per connection                                                       */
/* ------------------------------------------------------------------ */

static int https_proxy_open(ps_layer *layer, void *instance, void **state)
{
	struct https_proxy *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory opening a tunnel");
	h->config = instance;
	*state = h;
	return PS_OK;
}

/*
 * Where the state machine goes: TLS to the proxy over the layer below
 * (verify it, ALPN h2 or http/1.1), then CONNECT as in http-connect, or
 * as an HTTP/2 stream.
 */
static int https_proxy_connect(ps_layer *layer, void *state)
{
	return ps_layer_fail(layer, PS_ERR_UNSUPPORTED,
			     "tunnels through an https:// proxy (the "
			     "https-proxy feature) are not in this build "
			     "yet: use a proxystack build that has it",
			     "https-proxy: TLS to the proxy and CONNECT are "
			     "not implemented in this build yet");
}

static void https_proxy_close(ps_layer *layer, void *state)
{
	free(state);
}

static const struct ps_module_ops https_proxy_ops = {
	.configure = https_proxy_configure,
	.unconfigure = https_proxy_unconfigure,
	.open = https_proxy_open,
	.connect = https_proxy_connect,
	/* send, recv, shutdown_write: the real module provides them (the
	 * tunnel runs inside TLS to the proxy); this stub never connects. */
	.close = https_proxy_close,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "https-proxy",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
	.summary = "tunnel through an HTTPS proxy: TLS to the proxy, then "
		   "CONNECT (not yet implemented)",
	.ops = &https_proxy_ops,
};
