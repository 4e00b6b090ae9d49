/*
 * http-connect.c - the `http-connect` transport: a tunnel through an
 * HTTP/1.1 proxy with CONNECT, and Basic, Digest, NTLM or Negotiate proxy
 * authentication.
 *
 * Keys of [transport NAME] with module = http-connect:
 *
 *   url            http://[user[:password]@]host[:port]   (required)
 *   username       proxy user (credentials in the URL win)
 *   password       inline secret (prefer password_file)
 *   password_file  a file whose first line is the password
 *   auth           auto (default) | a list of basic, digest, ntlm,
 *                  negotiate (proxy_auth.h)
 *   domain, workstation   NTLM names (proxy_auth.h)
 *   keytab, ccache        Negotiate credentials (proxy_auth.h)
 *   user_agent     User-Agent of the CONNECT request
 *   header         "Name: value", repeatable, added to the request
 *
 * The layer below (direct, or another tunnel) reaches the proxy; this
 * layer's target is what CONNECT names.  Once the proxy said 2xx the
 * tunnel is transparent: no send/recv ops, bytes pass straight through.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdlib.h>
#include <string.h>

#include "http1_connect.h"

/* The configured instance, shared read-only by every connection. */
struct http_connect_config {
	struct ps_proxy_info proxy;
	struct h1_settings settings;
	char *user_agent;
	char **headers;
	size_t nheaders;
	atomic_int basic_accepted;
	struct proxy_auth_config auth;
};

/* ------------------------------------------------------------------ */
/* configuration                                                       */
/* ------------------------------------------------------------------ */

static int collect_header(void *user, const char *value)
{
	struct http_connect_config *c = user;
	char **grown;

	/* ps_config_get_header_each() checked the field: one line. */
	grown = realloc(c->headers, (c->nheaders + 1) * sizeof(*grown));
	if (!grown)
		return PS_ERR_NOMEM;
	c->headers = grown;
	c->headers[c->nheaders] = strdup(value);
	if (!c->headers[c->nheaders])
		return PS_ERR_NOMEM;
	c->nheaders++;
	return 0;
}

static void http_connect_unconfigure(void *instance)
{
	struct http_connect_config *c = instance;

	if (!c)
		return;
	ps_proxy_info_clear(&c->proxy);
	proxy_auth_config_clear(&c->auth);
	for (size_t i = 0; i < c->nheaders; i++)
		free(c->headers[i]);
	free(c->headers);
	free(c->user_agent);
	free(c);
}

/* Fill *c from the section; on failure the caller frees c. */
static int http_connect_read_section(ps_config *cfg,
				     struct http_connect_config *c)
{
	static const char *const schemes[] = { "http", NULL };
	const char *ua;
	int rc, policy = H1_AUTH_AUTO;

	rc = ps_config_get_proxy(cfg, schemes, &c->proxy);
	if (rc != PS_OK)
		return rc;
	rc = ps_config_get_user_agent(cfg, "user_agent", &ua);
	if (rc != PS_OK)
		return rc;
	c->user_agent = strdup(ua);
	if (!c->user_agent)
		return PS_ERR_NOMEM;
	rc = proxy_auth_configure(cfg, &c->auth, &policy);
	if (rc != PS_OK)
		return rc;
	rc = ps_config_get_header_each(cfg, "header", collect_header, c);
	if (rc)
		return rc;
	c->settings.proxy = &c->proxy;
	c->settings.user_agent = c->user_agent;
	c->settings.headers = c->headers;
	c->settings.nheaders = c->nheaders;
	c->settings.auth = (enum h1_auth_policy)policy;
	atomic_init(&c->basic_accepted, 0);
	c->settings.basic_accepted = &c->basic_accepted;
	c->settings.auth_cfg = &c->auth;
	return PS_OK;
}

/* A failed configure frees its own instance: the host does not. */
static int http_connect_configure(ps_config *cfg, void **instance)
{
	struct http_connect_config *c = calloc(1, sizeof(*c));
	int rc;

	*instance = NULL;
	if (!c)
		return PS_ERR_NOMEM;
	rc = http_connect_read_section(cfg, c);
	if (rc != PS_OK) {
		http_connect_unconfigure(c);
		return rc;
	}
	*instance = c;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* the connection                                                      */
/* ------------------------------------------------------------------ */

/*
 * A connection's state: the CONNECT exchange while it runs.  Its buffers
 * (request, answer head: some 28 KiB) are freed once the tunnel is up,
 * so an established tunnel costs this module a pointer.
 */
struct http_connect_state {
	struct h1_connect *exchange;    /* NULL once the tunnel is up */
};

static void http_connect_end_exchange(struct http_connect_state *st)
{
	if (!st->exchange)
		return;
	h1_connect_cleanup(st->exchange);
	free(st->exchange);
	st->exchange = NULL;
}

static int http_connect_open(ps_layer *layer, void *instance, void **state)
{
	struct http_connect_config *c = instance;
	struct http_connect_state *st = calloc(1, sizeof(*st));
	int rc;

	*state = st;
	if (st)
		st->exchange = malloc(sizeof(*st->exchange));
	if (!st || !st->exchange)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "out of memory");
	rc = h1_connect_init(st->exchange, layer, &c->settings);
	/* An HTTP request the agent asks us to forward (ABI 1.3). */
	return rc != PS_OK ? rc : h1_connect_forward(st->exchange);
}

static int http_connect_connect(ps_layer *layer, void *state)
{
	struct http_connect_state *st = state;
	int rc;

	(void)layer;
	if (!st->exchange)
		return PS_OK;
	rc = h1_connect_step(st->exchange);
	if (rc == PS_OK)
		http_connect_end_exchange(st);
	return rc;
}

static void http_connect_close(ps_layer *layer, void *state)
{
	(void)layer;
	if (!state)
		return;
	http_connect_end_exchange(state);
	free(state);
}

/* http:// proxies; 1080 without a port, as curl. */
static const struct ps_scheme *http_connect_schemes(void)
{
	static const struct ps_scheme table[] = {
		{ "http", 1080, 1 }, { NULL, 0, 0 },
	};

	return table;
}

static const struct ps_module_ops http_connect_ops = {
	.configure = http_connect_configure,
	.unconfigure = http_connect_unconfigure,
	.open = http_connect_open,
	.connect = http_connect_connect,
	.close = http_connect_close,
	/* send, recv, shutdown_write: NULL, the tunnel is transparent */
	.schemes = http_connect_schemes,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "http-connect",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
	.summary = "HTTP/1.1 CONNECT through a proxy, Basic, Digest, NTLM"
		   " and Negotiate auth",
	.ops = &http_connect_ops,
};
