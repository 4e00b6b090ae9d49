/*
 * socks.c - the `socks` transport module, a stub by design: proxystack
 * does not speak SOCKS.
 *
 * It exists so that a SOCKS proxy in the configuration or the proxy URL
 * (socks5://...) is recognised, its keys are checked like any other
 * module's, and every connection fails with a clear PS_ERR_UNSUPPORTED
 * that names the proxy and what to configure instead, rather than an
 * "unknown module" or, worse, a silent direct connection.
 *
 * Keys of [transport NAME] with module = socks:
 *
 *   url            socks4|socks4a|socks5|socks5h://[user:pw@]host[:port]
 *   username       accepted and checked, never used
 *   password       likewise (never kept, never shown)
 *   password_file  likewise
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strndup, memrchr */
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <proxystack/module.h>

/* The SOCKS port by convention (RFC 1928), as curl defaults it. */
#define SOCKS_DEFAULT_PORT "1080"

struct socks_config {
	/* "socks5://proxy:1080" without credentials, for the error. */
	char *display_url;
	/* Where it came from, for the error: the section's name. */
	char *section;
};

static const char *const socks_schemes[] = {
	"socks4", "socks4a", "socks5", "socks5h"
};

/* Which of socks_schemes the URL starts with, or NULL. */
static const char *socks_scheme_of(const char *url, const char **rest)
{
	const char *sep = strstr(url, "://");
	size_t i, len;

	if (sep == NULL)
		return NULL;
	len = (size_t)(sep - url);
	for (i = 0; i < sizeof(socks_schemes) / sizeof(socks_schemes[0]); i++)
		if (strlen(socks_schemes[i]) == len &&
		    strncasecmp(url, socks_schemes[i], len) == 0) {
			*rest = sep + 3;
			return socks_schemes[i];
		}
	return NULL;
}

/*
 * Check the URL cheaply and keep "scheme://host:port" for the error.
 * The URL itself is never echoed: it may hold a password.
 */
static int socks_parse_url(ps_config *cfg, struct socks_config *c,
			   const char *url)
{
	const char *scheme, *rest, *at, *host, *p;
	size_t authority_len, host_len, size;
	int has_port;

	scheme = socks_scheme_of(url, &rest);
	if (scheme == NULL)
		return ps_config_error(cfg, "url", "expected socks4://, "
				       "socks4a://, socks5:// or socks5h:// "
				       "followed by host:port");
	authority_len = strcspn(rest, "/?#");
	if (rest[authority_len] != '\0' && strcmp(rest + authority_len, "/"))
		return ps_config_error(cfg, "url", "a proxy URL has no path "
				       "or query: keep only %s://host:port",
				       scheme);
	at = memrchr(rest, '@', authority_len);
	host = at ? at + 1 : rest;
	host_len = authority_len - (size_t)(host - rest);
	if (host_len == 0 || *host == ':')
		return ps_config_error(cfg, "url", "no proxy host: expected "
				       "%s://host:port", scheme);
	for (p = host; p < host + host_len; p++)
		if (!isalnum((unsigned char)*p) &&
		    strchr("-._:[]%", *p) == NULL)
			return ps_config_error(cfg, "url", "the proxy host "
					       "has a character that no host "
					       "name has");
	/* The port is after a ':' that follows the IPv6 brackets, if any. */
	p = memrchr(host, ']', host_len);
	if (p == NULL)
		p = host;
	has_port = memchr(p, ':', host_len - (size_t)(p - host)) != NULL;
	size = strlen(scheme) + 3 + host_len + sizeof(":" SOCKS_DEFAULT_PORT);
	c->display_url = malloc(size);
	if (c->display_url == NULL)
		return ps_config_error(cfg, "url", "out of memory");
	snprintf(c->display_url, size, "%s://%.*s%s", scheme, (int)host_len,
		 host, has_port ? "" : ":" SOCKS_DEFAULT_PORT);
	return PS_OK;
}

static void socks_unconfigure(void *instance)
{
	struct socks_config *c = instance;

	if (c == NULL)
		return;
	free(c->display_url);
	free(c->section);
	free(c);
}

static int socks_configure(ps_config *cfg, void **instance)
{
	struct socks_config *c = calloc(1, sizeof(*c));
	const char *url, *name;
	char *password = NULL;
	int rc;

	if (c == NULL)
		return ps_config_error(cfg, NULL, "out of memory");
	url = ps_config_get(cfg, "url");
	if (url == NULL || *url == '\0') {
		rc = ps_config_error(cfg, "url", "required: the SOCKS proxy, "
				     "e.g. url = socks5://proxy:1080");
		goto out;
	}
	rc = socks_parse_url(cfg, c, url);
	if (rc != PS_OK)
		goto out;
	/* Read so that they are known keys and a bad password_file is
	 * reported; the secret itself is dropped at once. */
	(void)ps_config_get(cfg, "username");
	rc = ps_config_get_secret(cfg, "password", "password_file",
				  &password);
	ps_secret_free(password);
	if (rc != PS_OK)
		goto out;
	name = ps_config_name(cfg);
	c->section = strdup(name ? name : "?");
	if (c->section == NULL) {
		rc = ps_config_error(cfg, NULL, "out of memory");
		goto out;
	}
	/* At load, not only at use: a site should learn this early. */
	ps_config_log(cfg, PS_LOG_WARN, "SOCKS proxies are not supported: "
		      "every connection through %s will fail",
		      c->display_url);
out:
	if (rc != PS_OK) {
		socks_unconfigure(c);
		return rc;
	}
	*instance = c;
	return PS_OK;
}

/* Fail at open: no point connecting to a proxy we cannot talk to. */
static int socks_open(ps_layer *layer, void *instance, void **state)
{
	const struct socks_config *c = instance;

	*state = NULL;
	return ps_layer_fail(layer, PS_ERR_UNSUPPORTED,
			     "use an HTTP CONNECT proxy (http://...) or an "
			     "HTTPS proxy (https://...) instead; proxystack "
			     "never falls back to a direct connection",
			     "SOCKS proxies are not supported (%s from "
			     "[transport %s] or the proxy URL)",
			     c->display_url, c->section);
}

static const struct ps_module_ops socks_ops = {
	.configure = socks_configure,
	.unconfigure = socks_unconfigure,
	.open = socks_open,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "socks",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
	.summary = "SOCKS proxies: recognised, not supported (fails clearly)",
	.ops = &socks_ops,
};
