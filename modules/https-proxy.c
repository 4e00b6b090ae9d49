/*
 * https-proxy.c - the `https-proxy` transport module: a CONNECT tunnel
 * through an HTTPS proxy, over HTTP/1.1, or as an HTTP/2 stream when the
 * proxy's ALPN picks h2, several tunnels then sharing one connection.
 *
 * Keys of [transport NAME] with module = https-proxy:
 *
 *   url               https://[user:password@]host[:port]   (required)
 *   username          proxy user (credentials in the URL win)
 *   password          inline secret (prefer password_file)
 *   password_file     a file whose first line is the password
 *   auth              auto (default) | a list of basic, digest, ntlm,
 *                     negotiate (proxy_auth.h); naming ntlm or
 *                     negotiate offers ALPN http/1.1 only: HTTP/2
 *                     cannot carry connection-based authentication
 *   domain, workstation, keytab, ccache   as for http-connect
 *   ca_file           what the PROXY's certificate must chain to
 *                     (default: the system CAs); the destination's
 *                     trust is configured apart, in [global] and trust
 *   insecure_tls      skip verifying the proxy (never the default)
 *   client_cert_file  mutual TLS to the proxy: our certificate (PEM)
 *   client_key_file   its key (PEM; default: in client_cert_file)
 *   user_agent        User-Agent of the CONNECT request
 *   header            "Name: value", repeatable, added to the request
 *   h2_idle_timeout   seconds an HTTP/2 connection to the proxy may wait,
 *                     unused, for the next tunnel after its last one
 *                     closed (default 60, 0..3600; 0: close it at once);
 *                     older, it is closed by the next tunnel or with
 *                     the snapshot (no timer)
 *
 * The layers, as curl's connection filters: the host dials the proxy
 * (direct, or whatever hop is below: an HTTPS proxy can sit behind an
 * HTTP proxy), the host's TLS layer secures it with this section's
 * trust and offers ALPN "h2,http/1.1" (ps_config_want_proxy_tls), and
 * this layer speaks CONNECT over what TLS negotiated:
 *
 *   direct -> tls(proxy:443) -> https-proxy(https://proxy:443) -> ...
 *
 * One state machine per tunnel:
 *
 *   open():  a shared HTTP/2 session exists or is being made?
 *              yes: skip the layers below (no TCP, no TLS)      JOIN
 *              no:  connect them (we are the pool's connector)  PROTOCOL
 *   JOIN     -> (a stream on a shared session)                  H2_CONNECT
 *            -> (another tunnel is connecting: wait, JOIN again)
 *            -> (no room after all: build the layers below)     PROTOCOL
 *   PROTOCOL -> (ALPN h2: the layers below become the session)  H2_CONNECT
 *            -> (ALPN http/1.1 or none)                         H1_CONNECT
 *   H1_CONNECT, H2_CONNECT -> (2xx)                             TUNNEL
 *   any -> FAILED (the error recorded with ps_layer_fail)
 *
 *   H1_CONNECT  the exchange of http1_connect.c over the layers below, as
 *               http-connect does; a proxy that closes after its 407 gets
 *               the layers below built again (ps_layer_reconnect_below).
 *   H2_CONNECT  a CONNECT stream (h2_tunnel.c).  If a shared session goes
 *               away before answering, we retry once on a connection of
 *               our own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr, explicit_bzero */
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h2_tunnel.h"
#include "http1_connect.h"

/*
 * Seconds an unused HTTP/2 connection to the proxy is kept for the next
 * tunnel: below the idle timeouts proxies commonly apply (so we rarely
 * pick a connection the proxy is closing), and a reused one is checked
 * first anyway.
 */
#define HTTPS_PROXY_H2_IDLE_DEFAULT 60

/* The configured instance, shared read-only by every connection (the
 * h2 pool inside synchronizes itself). */
struct https_proxy_config {
	char *section;                 /* NAME of [transport NAME] */
	struct ps_proxy_info proxy;
	struct proxy_auth_config auth;
	char *user_agent;
	char **headers;                /* "Name: value" as configured */
	size_t nheaders;
	struct h2_header *h2_headers;  /* the same for HTTP/2 */
	size_t nh2_headers;
	struct h1_settings h1;
	atomic_int basic_accepted;     /* HTTP/1.1: Basic went through once */
	struct h2_pool *pool;
};

enum https_proxy_state {
	HTTPS_PROXY_JOIN,
	HTTPS_PROXY_PROTOCOL,
	HTTPS_PROXY_H1_CONNECT,
	HTTPS_PROXY_H2_CONNECT,
	HTTPS_PROXY_TUNNEL,
	HTTPS_PROXY_FAILED
};

static const char *const https_proxy_state_names[] = {
	[HTTPS_PROXY_JOIN] = "JOIN",
	[HTTPS_PROXY_PROTOCOL] = "PROTOCOL",
	[HTTPS_PROXY_H1_CONNECT] = "H1_CONNECT",
	[HTTPS_PROXY_H2_CONNECT] = "H2_CONNECT",
	[HTTPS_PROXY_TUNNEL] = "TUNNEL",
	[HTTPS_PROXY_FAILED] = "FAILED",
};

/* One tunnel through the proxy. */
struct https_proxy {
	const struct https_proxy_config *config;
	ps_layer *layer;
	enum https_proxy_state state;
	int failure;                    /* the ps code once FAILED */
	char authority[300];            /* host:port, IPv6 in brackets */

	struct h1_connect *h1;          /* HTTP/1.1 exchange, then NULL */
	struct h2_join join;            /* looking for a shared session */
	ps_subchain *sub;               /* detached, until a session has it */
	struct h2_stream *stream;       /* HTTP/2 tunnel */
	int joined;                     /* the stream's session is shared */
	int sent_basic;                 /* Basic went with the h2 request */
	int retried_own;                /* a shared session went away */
};

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/*
 * Fields HTTP/2 forbids (RFC 9113 8.2.2) or carries otherwise (Host is
 * :authority): kept for HTTP/1.1, left out of the HTTP/2 request.
 */
static int https_proxy_h2_forbidden(const char *name)
{
	static const char *const names[] = {
		"connection", "proxy-connection", "keep-alive",
		"transfer-encoding", "upgrade", "te", "host", NULL,
	};

	for (size_t i = 0; names[i]; i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

struct https_proxy_header_walk {
	ps_config *cfg;
	struct https_proxy_config *config;
	size_t index;
};

/* Values are never echoed: a header may carry a token. */
static int https_proxy_add_header(void *user, const char *value)
{
	struct https_proxy_header_walk *walk = user;
	struct https_proxy_config *c = walk->config;
	const char *colon = strchr(value, ':');
	struct h2_header *h2;
	char **grown, *name;
	size_t name_len;

	/* ps_config_get_header_each() checked the field: a token name,
	 * a colon, a value on one line. */
	walk->index++;
	grown = realloc(c->headers, (c->nheaders + 1) * sizeof(*grown));
	if (grown == NULL)
		return PS_ERR_NOMEM;
	c->headers = grown;
	c->headers[c->nheaders] = strdup(value);
	if (c->headers[c->nheaders] == NULL)
		return PS_ERR_NOMEM;
	c->nheaders++;

	name_len = (size_t)(colon - value);
	name = strndup(value, name_len);
	if (name == NULL)
		return PS_ERR_NOMEM;
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (https_proxy_h2_forbidden(name)) {
		ps_config_log(walk->cfg, PS_LOG_DEBUG, "header %zu (%s) is "
			      "not sent over HTTP/2", walk->index, name);
		free(name);
		return PS_OK;
	}
	h2 = realloc(c->h2_headers, (c->nh2_headers + 1) * sizeof(*h2));
	if (h2 == NULL) {
		free(name);
		return PS_ERR_NOMEM;
	}
	c->h2_headers = h2;
	colon++;
	while (*colon == ' ' || *colon == '\t')
		colon++;
	h2[c->nh2_headers].name = name;
	h2[c->nh2_headers].value = colon; /* inside headers[], same life */
	h2[c->nh2_headers].sensitive = !strcmp(name, "authorization") ||
				       !strcmp(name, "proxy-authorization") ||
				       !strcmp(name, "cookie");
	c->nh2_headers++;
	return PS_OK;
}


/* The proxy's TLS is the host's: this section's trust and identity. */
static int https_proxy_want_tls(ps_config *cfg,
				const struct https_proxy_config *c)
{
	struct ps_proxy_tls tls = PS_PROXY_TLS_INIT;
	int rc;

	tls.ca_file = ps_config_get(cfg, "ca_file");
	tls.client_cert_file = ps_config_get(cfg, "client_cert_file");
	tls.client_key_file = ps_config_get(cfg, "client_key_file");
	/* NTLM and Negotiate need the connection itself: HTTP/1.1. */
	tls.alpn = proxy_auth_wants_http1(&c->auth) ? "http/1.1"
						    : "h2,http/1.1";
	rc = ps_config_get_bool(cfg, "insecure_tls", 0, &tls.insecure);
	if (rc != PS_OK)
		return rc;
	return ps_config_want_proxy_tls(cfg, &tls);
}

static void https_proxy_unconfigure(void *instance)
{
	struct https_proxy_config *c = instance;

	if (c == NULL)
		return;
	h2_pool_free(c->pool);
	ps_proxy_info_clear(&c->proxy);
	proxy_auth_config_clear(&c->auth);
	for (size_t i = 0; i < c->nheaders; i++)
		free(c->headers[i]);
	free(c->headers);
	for (size_t i = 0; i < c->nh2_headers; i++)
		free((char *)c->h2_headers[i].name);
	free(c->h2_headers);
	free(c->user_agent);
	free(c->section);
	free(c);
}

/* Fill *c from the section; on failure the caller frees c. */
static int https_proxy_read_section(ps_config *cfg,
				    struct https_proxy_config *c)
{
	static const char *const schemes[] = { "https", NULL };
	struct https_proxy_header_walk walk = { cfg, c, 0 };
	const char *ua;
	int rc, policy = H1_AUTH_AUTO;
	long idle;

	c->section = strdup(ps_config_name(cfg));
	if (c->section == NULL)
		return PS_ERR_NOMEM;
	rc = ps_config_get_proxy(cfg, schemes, &c->proxy);
	if (rc != PS_OK)
		return rc;
	rc = proxy_auth_configure(cfg, &c->auth, &policy);
	if (rc != PS_OK)
		return rc;
	rc = ps_config_get_user_agent(cfg, "user_agent", &ua);
	if (rc != PS_OK)
		return rc;
	c->user_agent = strdup(ua);
	if (c->user_agent == NULL)
		return PS_ERR_NOMEM;
	rc = ps_config_get_header_each(cfg, "header", https_proxy_add_header,
				       &walk);
	if (rc == PS_OK)
		rc = https_proxy_want_tls(cfg, c);
	if (rc == PS_OK)
		rc = ps_config_get_long(cfg, "h2_idle_timeout",
					HTTPS_PROXY_H2_IDLE_DEFAULT, 0, 3600,
					&idle);
	if (rc != PS_OK)
		return rc;
	c->pool = h2_pool_new(c->proxy.display, idle * 1000);
	if (c->pool == NULL)
		return PS_ERR_NOMEM;
	c->h1.proxy = &c->proxy;
	c->h1.user_agent = c->user_agent;
	c->h1.headers = c->headers;
	c->h1.nheaders = c->nheaders;
	c->h1.auth = (enum h1_auth_policy)policy;
	c->h1.auth_cfg = &c->auth;
	/* auth = auto: once Basic got through, send it at once (as the
	 * HTTP/2 path does through its pool), not after a 407 each time. */
	atomic_init(&c->basic_accepted, 0);
	c->h1.basic_accepted = &c->basic_accepted;
	ps_config_log(cfg, PS_LOG_DEBUG, "proxy %s%s%s", c->proxy.display,
		      c->proxy.username ? " with credentials" : "",
		      ps_config_get(cfg, "ca_file") ? ", its own ca_file"
						    : "");
	return PS_OK;
}

/* A failed configure frees its own instance: the host does not. */
static int https_proxy_configure(ps_config *cfg, void **instance)
{
	struct https_proxy_config *c = calloc(1, sizeof(*c));
	int rc;

	*instance = NULL;
	if (c == NULL)
		return PS_ERR_NOMEM;
	rc = https_proxy_read_section(cfg, c);
	if (rc != PS_OK) {
		https_proxy_unconfigure(c);
		return rc;
	}
	*instance = c;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

/* Every transition passes here, so a debug log tells the whole story. */
static void https_proxy_go_state(struct https_proxy *hp,
				 enum https_proxy_state next)
{
	if (hp->state == next)
		return;
	ps_layer_log(hp->layer, PS_LOG_DEBUG, "state %s -> %s",
		     https_proxy_state_names[hp->state],
		     https_proxy_state_names[next]);
	hp->state = next;
}

/*
 * A hint for a TLS failure of the shared connection.  With TLS 1.3 a
 * proxy that wants a client certificate says so only after the
 * handshake, with an alert.
 */
static const char *https_proxy_tls_hint(const char *reason)
{
	if (strstr(reason, "certificate required") ||
	    strstr(reason, "unknown ca") || strstr(reason, "bad certificate"))
		return "the proxy refused our TLS client identity: set "
		       "client_cert_file and client_key_file in its "
		       "[transport] section to a certificate it accepts";
	return "see the proxy's logs";
}

/* ------------------------------------------------------------------ */
/* H1_CONNECT                                                           */
/* ------------------------------------------------------------------ */

static int https_proxy_h1_start(ps_layer *layer, struct https_proxy *hp)
{
	int rc;

	hp->h1 = malloc(sizeof(*hp->h1));
	if (hp->h1 == NULL)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory");
	rc = h1_connect_init(hp->h1, layer, &hp->config->h1);
	/* Over HTTP/1.1 a request may be forwarded as over plain TCP. */
	return rc != PS_OK ? rc : h1_connect_forward(hp->h1);
}

static int https_proxy_h1_connect(ps_layer *layer, struct https_proxy *hp)
{
	int rc = h1_connect_step(hp->h1);

	if (rc != PS_OK)
		return rc; /* PS_AGAIN includes "build the layers below" */
	ps_layer_set_detail(layer, "CONNECT %s: %d %s over http/1.1%s%s%s",
			    hp->authority, hp->h1->status, hp->h1->reason,
			    hp->h1->use ? ", auth " : "",
			    proxy_auth_scheme_name(hp->h1->use),
			    proxy_auth_wants_http1(&hp->config->auth)
				    ? " (HTTP/1.1 only: NTLM and Negotiate"
				      " cannot run over HTTP/2)"
				    : "");
	h1_connect_cleanup(hp->h1);
	free(hp->h1);
	hp->h1 = NULL;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* H2_CONNECT                                                           */
/* ------------------------------------------------------------------ */

/* Whether the next HTTP/2 request carries Basic credentials. */
static int https_proxy_h2_use_basic(const struct https_proxy *hp)
{
	const struct https_proxy_config *c = hp->config;

	if (c->proxy.username == NULL)
		return 0;
	if (c->h1.auth == H1_AUTH_BASIC)
		return 1;
	return c->h1.auth == H1_AUTH_AUTO && h2_pool_basic_wanted(c->pool);
}

/*
 * Build the CONNECT request (user-agent, the configured fields, Basic
 * credentials if asked) and hand it to 'submit', which copies it; the
 * credentials are wiped after.  Returns what 'submit' returns.
 */
static int https_proxy_h2_request(ps_layer *layer, struct https_proxy *hp,
				  int with_basic,
				  int (*submit)(struct https_proxy *hp,
						ps_layer *layer,
						const struct h2_request *req))
{
	const struct https_proxy_config *c = hp->config;
	const struct ps_proxy_info *p = &c->proxy;
	struct h2_header *fields;
	struct h2_request req = { .authority = hp->authority };
	char plain[512], basic[720];
	size_t n = 0;
	int rc, len;

	fields = calloc(c->nh2_headers + 2, sizeof(*fields));
	if (fields == NULL)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory");
	fields[n++] = (struct h2_header){ "user-agent", c->user_agent, 0 };
	for (size_t i = 0; i < c->nh2_headers; i++)
		fields[n++] = c->h2_headers[i];
	basic[0] = '\0';
	if (with_basic) {
		len = snprintf(plain, sizeof(plain), "%s:%s", p->username,
			       p->password ? p->password : "");
		memcpy(basic, "Basic ", 6);
		if (len < 0 || (size_t)len >= sizeof(plain) ||
		    ps_base64_encode(plain, (size_t)len, basic + 6,
				     sizeof(basic) - 6) == (size_t)-1) {
			explicit_bzero(plain, sizeof(plain));
			free(fields);
			return ps_layer_fail(layer, PS_ERR_CONFIG,
					     "shorten the user name or "
					     "password", "proxy %s: the "
					     "credentials are too long for "
					     "Basic", p->display);
		}
		explicit_bzero(plain, sizeof(plain));
		fields[n++] = (struct h2_header){ "proxy-authorization",
						  basic, 1 };
		hp->sent_basic = 1;
	}
	req.headers = fields;
	req.nheaders = n;
	rc = submit(hp, layer, &req);
	explicit_bzero(basic, sizeof(basic));
	free(fields);
	return rc;
}

/* Submitters for https_proxy_h2_request(). */
static int https_proxy_submit_join(struct https_proxy *hp, ps_layer *layer,
				   const struct h2_request *req)
{
	return h2_pool_join(hp->config->pool, layer, req, &hp->join,
			    &hp->stream);
}

static int https_proxy_submit_new(struct https_proxy *hp, ps_layer *layer,
				  const struct h2_request *req)
{
	ps_subchain *sub = hp->sub;

	/* The session adopts it, whatever happens. */
	hp->sub = NULL;
	return h2_pool_open_new(hp->config->pool, layer, sub, req,
				&hp->stream);
}

static int https_proxy_submit_retry(struct https_proxy *hp, ps_layer *layer,
				    const struct h2_request *req)
{
	return h2_stream_retry(hp->stream, layer, req);
}

/*
 * Scheme names from Proxy-Authenticate values joined with ", ", e.g.
 * 'Digest realm="r", nonce="n", Basic realm="r"' -> "Digest, Basic": a
 * scheme starts a comma-separated part and holds no '='.
 */
static void https_proxy_schemes(const char *values, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (const char *p = values; *p;) {
		size_t part, word;

		while (*p == ',' || *p == ' ')
			p++;
		part = strcspn(p, ",");
		word = strcspn(p, " ,");
		if (word && memchr(p, '=', word) == NULL &&
		    used + word + 3 < size)
			used += (size_t)snprintf(out + used, size - used,
						 "%s%.*s", used ? ", " : "",
						 (int)word, p);
		p += part;
	}
}

static int https_proxy_h2_auth_required(ps_layer *layer,
					struct https_proxy *hp,
					const struct h2_response *resp)
{
	const struct https_proxy_config *c = hp->config;
	int offers_basic = strcasestr(resp->authenticate, "Basic") != NULL;
	char offered[200], hint[PS_ERROR_HINT_MAX];
	const char *why;

	if (c->proxy.username && !hp->sent_basic && offers_basic &&
	    c->h1.auth != H1_AUTH_DIGEST) {
		/* Later tunnels of this pool send Basic at once. */
		h2_pool_note_basic_wanted(c->pool);
		ps_layer_log(layer, PS_LOG_DEBUG, "proxy %s asks for "
			     "credentials: CONNECT again with Basic",
			     c->proxy.display);
		return https_proxy_h2_request(layer, hp, 1,
					      https_proxy_submit_retry);
	}
	https_proxy_schemes(resp->authenticate, offered, sizeof(offered));
	if (!c->proxy.username) {
		why = "authentication required, none configured";
		snprintf(hint, sizeof(hint), "set username and password_file "
			 "in [transport %s] (or credentials in its URL)",
			 c->section);
	} else if (hp->sent_basic) {
		why = "the credentials were rejected";
		snprintf(hint, sizeof(hint), "check the user name and "
			 "password");
	} else if (c->h1.auth == H1_AUTH_DIGEST) {
		why = "auth = digest, and Digest authentication over HTTP/2 "
		      "is not supported";
		snprintf(hint, sizeof(hint), "the proxy chose HTTP/2 by ALPN:"
			 " use auth = auto or basic if it accepts Basic (the "
			 "password travels inside TLS to the proxy), or a "
			 "proxy endpoint that speaks only http/1.1");
	} else if (!offers_basic) {
		why = "Digest authentication over HTTP/2 is not supported";
		snprintf(hint, sizeof(hint), "the proxy chose HTTP/2 by ALPN:"
			 " use auth = basic if it accepts Basic (the password"
			 " travels inside TLS to the proxy), or a proxy "
			 "endpoint that speaks only http/1.1");
	} else {
		why = "no usable authentication scheme";
		snprintf(hint, sizeof(hint), "proxystack supports Basic over "
			 "HTTP/2");
	}
	return ps_layer_fail(layer, PS_ERR_PROXY_AUTH, hint,
			     "proxy %s answered 407 over HTTP/2: %s; it "
			     "offers: %s; supported over HTTP/2: Basic",
			     c->proxy.display, why,
			     offered[0] ? offered : "(no proxy-authenticate)");
}

/* The reason phrase HTTP/2 does not carry, for messages. */
static const char *https_proxy_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/* The proxy's final answer: tunnel, retry with credentials, or fail. */
static int https_proxy_h2_answer(ps_layer *layer, struct https_proxy *hp,
				 const struct h2_response *resp)
{
	const struct https_proxy_config *c = hp->config;
	char line[200], where[200];

	if (resp->status >= 200 && resp->status < 300) {
		h2_stream_describe(hp->stream, where, sizeof(where));
		ps_layer_set_detail(layer, "CONNECT %s: %d over %s",
				    hp->authority, resp->status, where);
		return PS_OK;
	}
	if (resp->status == 407) {
		int rc = https_proxy_h2_auth_required(layer, hp, resp);

		return rc == PS_OK ? PS_AGAIN : rc;
	}
	h1_first_text_line(resp->body, line, sizeof(line));
	return ps_layer_fail(layer, resp->status < 600 ? PS_ERR_PROXY_DENIED
						       : PS_ERR_PROXY_PROTOCOL,
			     resp->status == 403
				     ? "the proxy's rules forbid this "
				       "destination or port: ask its "
				       "administrators, or route it elsewhere"
				     : "see the proxy's message and logs",
			     "proxy %s refused CONNECT %s over HTTP/2: %d%s%s"
			     "%s%s", c->proxy.display, hp->authority,
			     resp->status,
			     *https_proxy_reason(resp->status) ? " " : "",
			     https_proxy_reason(resp->status),
			     line[0] ? ": " : "", line);
}

static int https_proxy_h2_connect(ps_layer *layer, struct https_proxy *hp)
{
	struct h2_response *resp = malloc(sizeof(*resp));
	int rc;

	if (resp == NULL)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory");
	for (;;) {
		rc = h2_stream_connect(hp->stream, layer, resp);
		if (rc != PS_OK)
			break;
		rc = https_proxy_h2_answer(layer, hp, resp);
		if (rc != PS_AGAIN)
			break; /* PS_AGAIN: asked again with credentials */
	}
	free(resp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The state machine                                                    */
/* ------------------------------------------------------------------ */

/* JOIN: a tunnel on a shared session, or a connection of our own. */
static int https_proxy_join(ps_layer *layer, struct https_proxy *hp)
{
	int rc = https_proxy_h2_request(layer, hp,
					https_proxy_h2_use_basic(hp),
					https_proxy_submit_join);

	if (rc == H2_JOINED) {
		hp->joined = 1;
		https_proxy_go_state(hp, HTTPS_PROXY_H2_CONNECT);
		return PS_OK;
	}
	hp->sent_basic = 0; /* nothing was sent */
	if (rc != 0)
		return rc; /* PS_AGAIN (waiting) or an error */
	/* No room after all: have the host build what open() skipped. */
	https_proxy_go_state(hp, HTTPS_PROXY_PROTOCOL);
	return ps_layer_reconnect_below(layer);
}

/* TLS to the proxy is up: its ALPN decides the protocol. */
static int https_proxy_protocol(ps_layer *layer, struct https_proxy *hp)
{
	char alpn[32] = "";
	int rc = ps_layer_query_below(layer, PS_QUERY_ALPN, alpn,
				      sizeof(alpn));

	ps_layer_log(layer, PS_LOG_DEBUG, "proxy %s: ALPN %s",
		     hp->config->proxy.display,
		     rc == PS_OK && alpn[0] ? alpn : "none");
	if (rc == PS_OK && !strcmp(alpn, "h2")) {
		hp->sub = ps_layer_detach_below(layer);
		if (hp->sub == NULL)
			return PS_ERR_NOMEM; /* recorded */
		rc = https_proxy_h2_request(layer, hp,
					    https_proxy_h2_use_basic(hp),
					    https_proxy_submit_new);
		if (rc != PS_OK)
			return rc; /* FAILED releases the waiters */
		/* In the pool: the waiters may join it now. */
		h2_join_done(hp->config->pool, &hp->join, 1);
		https_proxy_go_state(hp, HTTPS_PROXY_H2_CONNECT);
		return PS_OK;
	}
	h2_join_done(hp->config->pool, &hp->join, 0);
	rc = https_proxy_h1_start(layer, hp);
	if (rc == PS_OK)
		https_proxy_go_state(hp, HTTPS_PROXY_H1_CONNECT);
	return rc;
}

/* The shared session went away before answering: once, our own. */
static int https_proxy_h2_gone(ps_layer *layer, struct https_proxy *hp)
{
	const char *why;

	if (hp->joined && !hp->retried_own) {
		ps_layer_log(layer, PS_LOG_INFO, "%s; retrying on a new "
			     "connection", h2_stream_gone_reason(hp->stream));
		h2_stream_close(hp->stream, layer);
		hp->stream = NULL;
		hp->joined = 0;
		hp->sent_basic = 0;
		hp->retried_own = 1;
		https_proxy_go_state(hp, HTTPS_PROXY_PROTOCOL);
		return ps_layer_reconnect_below(layer);
	}
	why = h2_stream_gone_reason(hp->stream);
	if (h2_stream_gone_tls(hp->stream))
		return ps_layer_fail(layer, PS_ERR_TLS,
				     https_proxy_tls_hint(why), "%s", why);
	return ps_layer_fail(layer, PS_ERR_PROXY_PROTOCOL,
			     "see the proxy's logs", "%s", why);
}

static int https_proxy_step(ps_layer *layer, struct https_proxy *hp)
{
	int rc;

	switch (hp->state) {
	case HTTPS_PROXY_JOIN:
		return https_proxy_join(layer, hp);
	case HTTPS_PROXY_PROTOCOL:
		return https_proxy_protocol(layer, hp);
	case HTTPS_PROXY_H1_CONNECT:
		rc = https_proxy_h1_connect(layer, hp);
		if (rc == PS_OK)
			https_proxy_go_state(hp, HTTPS_PROXY_TUNNEL);
		return rc;
	case HTTPS_PROXY_H2_CONNECT:
		rc = https_proxy_h2_connect(layer, hp);
		if (rc == H2_SESSION_GONE)
			return https_proxy_h2_gone(layer, hp);
		if (rc == PS_OK)
			https_proxy_go_state(hp, HTTPS_PROXY_TUNNEL);
		return rc;
	case HTTPS_PROXY_TUNNEL:
	case HTTPS_PROXY_FAILED:
		break;
	}
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* The vtable                                                           */
/* ------------------------------------------------------------------ */

static int https_proxy_open(ps_layer *layer, void *instance, void **state)
{
	struct https_proxy *hp = calloc(1, sizeof(*hp));
	int rc;

	*state = hp;
	if (hp == NULL)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory opening a tunnel");
	hp->config = instance;
	hp->layer = layer;
	rc = h1_connect_authority(layer, hp->authority, sizeof(hp->authority));
	if (rc != PS_OK)
		return rc;
	/* A session to share (or one being made): no TCP, no TLS of our
	 * own; else we connect, and others may wait for us. */
	if (h2_pool_plan(hp->config->pool, &hp->join)) {
		hp->state = HTTPS_PROXY_JOIN;
		return ps_layer_skip_below(layer);
	}
	hp->state = HTTPS_PROXY_PROTOCOL;
	return PS_OK;
}

static int https_proxy_connect(ps_layer *layer, void *state)
{
	struct https_proxy *hp = state;

	hp->layer = layer;
	while (hp->state != HTTPS_PROXY_TUNNEL) {
		int rc;

		if (hp->state == HTTPS_PROXY_FAILED)
			return hp->failure;
		rc = https_proxy_step(layer, hp);
		if (rc == PS_AGAIN)
			return PS_AGAIN;
		if (rc != PS_OK) {
			hp->failure = rc;
			/* Tunnels waiting for our connection go their way. */
			h2_join_release(hp->config->pool, &hp->join);
			https_proxy_go_state(hp, HTTPS_PROXY_FAILED);
		}
	}
	return PS_OK;
}

/* Channel I/O before TUNNEL is a host bug, not a network error. */
static int https_proxy_not_ready(ps_layer *layer, const char *op)
{
	return ps_layer_fail(layer, PS_ERR_INTERNAL,
			     "this is a bug in proxystack: please report it",
			     "%s on a tunnel that is not established", op);
}

/* HTTP/2: the stream.  HTTP/1.1: the tunnel is the TLS below us. */
static int https_proxy_send(ps_layer *layer, void *state, const void *buf,
			    size_t len, size_t *n)
{
	struct https_proxy *hp = state;

	*n = 0;
	hp->layer = layer;
	if (hp->state != HTTPS_PROXY_TUNNEL)
		return https_proxy_not_ready(layer, "send");
	if (hp->stream)
		return h2_stream_send(hp->stream, layer, buf, len, n);
	return ps_layer_send_below(layer, buf, len, n);
}

static int https_proxy_recv(ps_layer *layer, void *state, void *buf,
			    size_t len, size_t *n)
{
	struct https_proxy *hp = state;

	*n = 0;
	hp->layer = layer;
	if (hp->state != HTTPS_PROXY_TUNNEL)
		return https_proxy_not_ready(layer, "recv");
	if (hp->stream)
		return h2_stream_recv(hp->stream, layer, buf, len, n);
	return ps_layer_recv_below(layer, buf, len, n);
}

/* HTTP/2: END_STREAM.  HTTP/1.1: the layers below (TLS: close_notify). */
static int https_proxy_shutdown_write(ps_layer *layer, void *state)
{
	struct https_proxy *hp = state;

	hp->layer = layer;
	if (hp->state != HTTPS_PROXY_TUNNEL)
		return https_proxy_not_ready(layer, "shutdown");
	if (hp->stream)
		return h2_stream_shutdown_write(hp->stream, layer);
	return ps_layer_shutdown_below(layer);
}

static void https_proxy_close(ps_layer *layer, void *state)
{
	struct https_proxy *hp = state;

	if (hp == NULL)
		return;
	if (hp->config)
		h2_join_release(hp->config->pool, &hp->join);
	if (hp->stream)
		h2_stream_close(hp->stream, layer);
	ps_subchain_close(hp->sub, layer);
	if (hp->h1) {
		h1_connect_cleanup(hp->h1);
		free(hp->h1);
	}
	free(hp);
}

/* https:// proxies, 443 without a port. */
static const struct ps_scheme *https_proxy_url_schemes(void)
{
	static const struct ps_scheme table[] = {
		{ "https", 443, 1 }, { NULL, 0, 0 },
	};

	return table;
}

static const struct ps_module_ops https_proxy_ops = {
	.configure = https_proxy_configure,
	.unconfigure = https_proxy_unconfigure,
	.open = https_proxy_open,
	.connect = https_proxy_connect,
	.send = https_proxy_send,
	.recv = https_proxy_recv,
	.shutdown_write = https_proxy_shutdown_write,
	.close = https_proxy_close,
	.schemes = https_proxy_url_schemes,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "https-proxy",
	.phases = PS_PHASE_TRANSPORT,
	/* Not BOTTOM: the host dials the proxy and puts its TLS under us. */
	.caps = PS_CAP_PROXY,
	.summary = "tunnel through an HTTPS proxy: CONNECT over HTTP/1.1 or "
		   "shared HTTP/2, on the host's TLS to the proxy",
	.ops = &https_proxy_ops,
};
