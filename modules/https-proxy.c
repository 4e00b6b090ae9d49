/*
 * https-proxy.c - the `https-proxy` transport module: TLS to the proxy
 * itself, then a CONNECT tunnel inside that TLS session: HTTP/1.1, or an
 * HTTP/2 stream where ALPN picks h2, several tunnels sharing one
 * connection to the proxy.
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
 * The module opens its own connection (PS_CAP_BOTTOM): the proxy's
 * address comes from the URL, and this layer's target is the
 * destination that CONNECT names.  One state machine:
 *
 *   INIT -> JOIN -> (a shared HTTP/2 session has room)      H2_CONNECT
 *                -> (another tunnel is connecting: wait, JOIN again)
 *                -> RESOLVE -> TCP_CONNECT -> TLS_HANDSHAKE
 *                      -> (ALPN h2)                         H2_CONNECT
 *                      -> (ALPN http/1.1 or none)           H1_CONNECT
 *   H1_CONNECT, H2_CONNECT -> (2xx)                         TUNNEL
 *   any -> FAILED (the error recorded with ps_layer_fail)
 *
 *   JOIN           h2_pool_join(): a stream on a shared session, or
 *                  wait for the connection another tunnel is making to
 *                  this proxy (once), or make one ourselves.
 *   TCP_CONNECT    the proxy's addresses in the resolver's order,
 *                  non-blocking, TCP_NODELAY.
 *   TLS_HANDSHAKE  OpenSSL on our own socket: SNI and name checks for
 *                  the proxy's host, this section's trust, ALPN
 *                  "h2,http/1.1", TLS 1.2 at least.
 *   H1_CONNECT     the shared HTTP/1.1 exchange (http1_connect.c) over
 *                  the TLS session; the tunnel then runs over TLS.  A
 *                  proxy that closes after its 407 gets a new connection
 *                  (back to RESOLVE) and the same exchange goes on.
 *   H2_CONNECT     a CONNECT stream (h2_tunnel.c).  A session whose
 *                  handshake another connection made is shared: no TCP
 *                  and no TLS handshake at all.  If it goes away before
 *                  answering, we retry once on a connection of our own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerror_r returning char *, SOCK_NONBLOCK */
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "h2_tunnel.h"
#include "http1_connect.h"
#include "proxy_tls.h"

/*
 * Seconds an unused HTTP/2 connection to the proxy is kept for the next
 * tunnel: below the idle timeouts proxies commonly apply (so we rarely
 * pick a connection the proxy is closing), and a reused one is checked
 * first anyway.
 */
#define HTTPS_PROXY_H2_IDLE_DEFAULT 60

/* "[2001:db8::1]:65535" */
#define HTTPS_PROXY_ADDR_TEXT_MAX (INET6_ADDRSTRLEN + 16)

/* The configured instance, shared read-only by every connection (the
 * h2 pool inside synchronizes itself). */
struct https_proxy_config {
	char *section;                 /* NAME of [transport NAME] */
	struct ps_proxy_info proxy;
	int proxy_is_ip;               /* no SNI, an IP check */
	int insecure_tls;
	SSL_CTX *ssl_ctx;              /* the proxy's trust and our identity */
	BIO_METHOD *socket_bio;        /* proxy_tls.c's socket BIO */
	char *user_agent;
	char **headers;                /* "Name: value" as configured */
	size_t nheaders;
	struct h2_header *h2_headers;  /* the same for HTTP/2 */
	size_t nh2_headers;
	struct h1_settings h1;
	atomic_int basic_accepted;     /* HTTP/1.1: Basic went through once */
	struct h2_pool *pool;
	struct proxy_auth_config auth;
};

enum https_proxy_state {
	HTTPS_PROXY_INIT,
	HTTPS_PROXY_JOIN,
	HTTPS_PROXY_RESOLVE,
	HTTPS_PROXY_TCP_CONNECT,
	HTTPS_PROXY_TLS_HANDSHAKE,
	HTTPS_PROXY_H1_CONNECT,
	HTTPS_PROXY_H2_CONNECT,
	HTTPS_PROXY_TUNNEL,
	HTTPS_PROXY_FAILED
};

static const char *const https_proxy_state_names[] = {
	[HTTPS_PROXY_INIT] = "INIT",
	[HTTPS_PROXY_JOIN] = "JOIN",
	[HTTPS_PROXY_RESOLVE] = "RESOLVE",
	[HTTPS_PROXY_TCP_CONNECT] = "TCP_CONNECT",
	[HTTPS_PROXY_TLS_HANDSHAKE] = "TLS_HANDSHAKE",
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

	const struct addrinfo *next_addr;
	int addresses_tried;
	int last_errno;
	char last_addr[HTTPS_PROXY_ADDR_TEXT_MAX];
	int fd;
	char peer[HTTPS_PROXY_ADDR_TEXT_MAX]; /* the address we reached */

	SSL *ssl;                       /* ours until a session adopts it */
	int tls_failed;                 /* no close_notify at the end */
	int write_shut;

	struct h1_connect *h1;          /* HTTP/1.1 exchange, then NULL */
	int h1_reconnect;               /* it wants a new connection */
	struct h2_join join;            /* looking for a shared session */
	struct h2_stream *stream;       /* HTTP/2 tunnel */
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

/*
 * A file or store OpenSSL could not load.  An allocation failure is
 * nomem, not a bad file: OpenSSL 3.0 often reports it as a bare "PEM
 * lib", so errno (cleared before the call: 'load_errno') tells.
 */
static int https_proxy_openssl_error(ps_config *cfg, int load_errno,
				     const char *key, const char *what,
				     const char *path)
{
	unsigned long e, last = 0;
	char reason[200];
	int oom = load_errno == ENOMEM;

	/* Configuration runs outside any chain: nobody else's errors. */
	while ((e = ERR_get_error())) {
		last = e;
		oom |= ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE;
	}
	if (oom)
		return PS_ERR_NOMEM;
	ERR_error_string_n(last, reason, sizeof(reason));
	return ps_config_error(cfg, key, "%s %s: %s", what, path,
			       last ? reason : "unknown error");
}

/* The proxy's own TLS: whom to trust, who we are, what we speak. */
static int https_proxy_build_tls(ps_config *cfg, struct https_proxy_config *c)
{
	static const unsigned char alpn_h2[] = "\x02h2\x08http/1.1";
	static const unsigned char alpn_h1[] = "\x08http/1.1";
	int h1_only = proxy_auth_wants_http1(&c->auth);
	const char *ca_file = ps_config_get(cfg, "ca_file");
	const char *cert = ps_config_get(cfg, "client_cert_file");
	const char *key = ps_config_get(cfg, "client_key_file");
	SSL_CTX *ctx;
	int rc;

	rc = ps_config_get_bool(cfg, "insecure_tls", 0, &c->insecure_tls);
	if (rc != PS_OK)
		return rc;
	if (key != NULL && cert == NULL)
		return ps_config_error(cfg, "client_key_file", "a key without "
				       "client_cert_file: name the "
				       "certificate it belongs to");
	ctx = c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return PS_ERR_NOMEM;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* A proxy that ends a tunnel with a bare TCP close ends the stream,
	 * as over TCP: the bytes' framing is the application's. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_set_alpn_protos(ctx, h1_only ? alpn_h1 : alpn_h2,
				    h1_only ? sizeof(alpn_h1) - 1
					    : sizeof(alpn_h2) - 1) != 0)
		return PS_ERR_NOMEM;
	/* Never the destination's trust: the proxy's is its own. */
	errno = 0;
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_file(ctx, ca_file) != 1)
			return https_proxy_openssl_error(cfg, errno, "ca_file",
							 "cannot load CA file",
							 ca_file);
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		return https_proxy_openssl_error(cfg, errno, NULL,
						 "cannot load",
						 "the system CA store");
	}
	SSL_CTX_set_verify(ctx, c->insecure_tls ? SSL_VERIFY_NONE
						: SSL_VERIFY_PEER, NULL);
	if (cert != NULL) {
		const char *key_key = key ? "client_key_file"
					  : "client_cert_file";

		errno = 0;
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
			return https_proxy_openssl_error(
				cfg, errno, "client_cert_file",
				"cannot load certificate", cert);
		errno = 0;
		if (SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert,
						SSL_FILETYPE_PEM) != 1)
			return https_proxy_openssl_error(
				cfg, errno, key_key, "cannot load private key",
				key ? key : cert);
		if (SSL_CTX_check_private_key(ctx) != 1)
			return https_proxy_openssl_error(
				cfg, 0, "client_key_file", "the key does not "
				"belong to the certificate", cert);
	}
	if (c->insecure_tls)
		/* Loud on purpose: anyone on the path can then pose as the
		 * proxy and read the credentials sent to it. */
		ps_config_log(cfg, PS_LOG_WARN, "insecure_tls = true: the "
			      "proxy's certificate is NOT verified; anyone on "
			      "the network path can impersonate it%s",
			      c->proxy.username ? " and read its credentials"
						: "");
	return PS_OK;
}

static void https_proxy_unconfigure(void *instance)
{
	struct https_proxy_config *c = instance;

	if (c == NULL)
		return;
	h2_pool_free(c->pool);
	SSL_CTX_free(c->ssl_ctx);
	BIO_meth_free(c->socket_bio);
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

static int https_proxy_configure(ps_config *cfg, void **instance)
{
	static const char *const schemes[] = { "https", NULL };
	struct https_proxy_config *c = calloc(1, sizeof(*c));
	struct https_proxy_header_walk walk = { cfg, c, 0 };
	const char *ua;
	unsigned char probe[sizeof(struct in6_addr)];
	int rc, policy = H1_AUTH_AUTO;
	long idle;

	if (c == NULL)
		return PS_ERR_NOMEM;
	c->section = strdup(ps_config_name(cfg));
	if (c->section == NULL) {
		rc = PS_ERR_NOMEM;
		goto out;
	}
	rc = ps_config_get_proxy(cfg, schemes, &c->proxy);
	if (rc != PS_OK)
		goto out;
	c->proxy_is_ip = inet_pton(AF_INET, c->proxy.host, probe) == 1 ||
			 inet_pton(AF_INET6, c->proxy.host, probe) == 1;
	rc = proxy_auth_configure(cfg, &c->auth, &policy);
	if (rc != PS_OK)
		goto out;
	rc = ps_config_get_user_agent(cfg, "user_agent", &ua);
	if (rc != PS_OK)
		goto out;
	c->user_agent = strdup(ua);
	if (c->user_agent == NULL) {
		rc = PS_ERR_NOMEM;
		goto out;
	}
	rc = ps_config_get_header_each(cfg, "header", https_proxy_add_header,
				       &walk);
	if (rc != PS_OK)
		goto out;
	rc = https_proxy_build_tls(cfg, c);
	if (rc != PS_OK)
		goto out;
	rc = ps_config_get_long(cfg, "h2_idle_timeout",
				HTTPS_PROXY_H2_IDLE_DEFAULT, 0, 3600, &idle);
	if (rc != PS_OK)
		goto out;
	c->socket_bio = proxy_tls_bio_method();
	c->pool = h2_pool_new(c->proxy.display, idle * 1000);
	if (c->socket_bio == NULL || c->pool == NULL) {
		rc = PS_ERR_NOMEM;
		goto out;
	}
	c->h1.proxy = &c->proxy;
	c->h1.user_agent = c->user_agent;
	c->h1.headers = c->headers;
	c->h1.nheaders = c->nheaders;
	c->h1.auth = (enum h1_auth_policy)policy;
	/* auth = auto: once Basic got through, send it at once (as the
	 * HTTP/2 path does through its pool), not after a 407 each time. */
	atomic_init(&c->basic_accepted, 0);
	c->h1.basic_accepted = &c->basic_accepted;
	c->h1.auth_cfg = &c->auth;
	ps_config_log(cfg, PS_LOG_DEBUG, "proxy %s%s%s", c->proxy.display,
		      c->proxy.username ? " with credentials" : "",
		      ps_config_get(cfg, "ca_file") ? ", its own ca_file"
						    : "");
out:
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

static const char *https_proxy_strerror(int error, char *buf, size_t size)
{
	return strerror_r(error, buf, size);
}

static void https_proxy_format_addr(const struct sockaddr *sa,
				    socklen_t len, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, size, "(unprintable address)");
	else
		snprintf(out, size, sa->sa_family == AF_INET6 ? "[%s]:%s"
							      : "%s:%s",
			 host, port);
}

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

/* "host:port" for CONNECT; only bytes a host or IP literal can hold. */
static int https_proxy_make_authority(ps_layer *layer, struct https_proxy *hp)
{
	const char *host = ps_layer_target_host(layer);
	unsigned port = ps_layer_target_port(layer);

	for (const char *p = host; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-_:", *p))
			return ps_layer_fail(layer, PS_ERR_USAGE, NULL,
					     "refusing to CONNECT to a target "
					     "with unexpected characters");
	if (!*host || port == 0 || port > 65535)
		return ps_layer_fail(layer, PS_ERR_USAGE, NULL,
				     "refusing to CONNECT to an empty host or"
				     " port 0");
	snprintf(hp->authority, sizeof(hp->authority),
		 strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* RESOLVE and TCP_CONNECT                                              */
/* ------------------------------------------------------------------ */

static int https_proxy_resolve(ps_layer *layer, struct https_proxy *hp)
{
	const struct ps_proxy_info *p = &hp->config->proxy;
	const struct addrinfo *res = NULL;
	int rc = ps_layer_resolve(layer, p->host, p->port, &res);

	if (rc != PS_OK)
		return rc; /* PS_AGAIN, or the failure already recorded */
	hp->next_addr = res;
	return PS_OK;
}

static int https_proxy_connect_failed(ps_layer *layer, struct https_proxy *hp)
{
	const struct https_proxy_config *c = hp->config;
	char errbuf[128], hint[PS_ERROR_HINT_MAX];

	snprintf(hint, sizeof(hint), "is the proxy running and listening "
		 "there? check url in [transport %s]", c->section);
	if (hp->addresses_tried == 0)
		return ps_layer_fail(layer, PS_ERR_CONNECT, hint,
				     "proxy %s has no address to connect to",
				     c->proxy.display);
	return ps_layer_fail(layer, PS_ERR_CONNECT, hint,
			     "cannot connect to proxy %s at %s: %s%s",
			     c->proxy.display, hp->last_addr,
			     https_proxy_strerror(hp->last_errno, errbuf,
						  sizeof(errbuf)),
			     hp->addresses_tried > 1
				     ? " (every address tried)" : "");
}

/* Start connecting to the next address; PS_OK when connected at once. */
static int https_proxy_tcp_start(ps_layer *layer, struct https_proxy *hp)
{
	while (hp->next_addr != NULL) {
		const struct addrinfo *ai = hp->next_addr;
		int fd;

		hp->next_addr = ai->ai_next;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		hp->addresses_tried++;
		https_proxy_format_addr(ai->ai_addr, ai->ai_addrlen,
					hp->last_addr, sizeof(hp->last_addr));
		ps_layer_log(layer, PS_LOG_DEBUG, "connecting to proxy %s at "
			     "%s", hp->config->proxy.display, hp->last_addr);
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, IPPROTO_TCP);
		if (fd < 0) {
			hp->last_errno = errno;
			continue;
		}
		hp->fd = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return PS_OK;
		if (errno == EINPROGRESS || errno == EINTR) {
			ps_layer_want(layer, fd, POLLOUT);
			return PS_AGAIN;
		}
		hp->last_errno = errno;
		close(fd);
		hp->fd = -1;
	}
	return https_proxy_connect_failed(layer, hp);
}

static int https_proxy_tcp_connect(ps_layer *layer, struct https_proxy *hp)
{
	struct pollfd pfd = { .fd = hp->fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int error = 0, one = 1, rc;
	char errbuf[128];

	if (hp->fd < 0) {
		rc = https_proxy_tcp_start(layer, hp);
		if (rc != PS_OK)
			return rc;
	} else {
		/* Called again: did the attempt end?  Ask without waiting. */
		if (poll(&pfd, 1, 0) == 0) {
			ps_layer_want(layer, hp->fd, POLLOUT);
			return PS_AGAIN;
		}
		if (getsockopt(hp->fd, SOL_SOCKET, SO_ERROR, &error, &len))
			error = errno;
		if (error != 0) {
			hp->last_errno = error;
			close(hp->fd);
			hp->fd = -1;
			return https_proxy_tcp_connect(layer, hp);
		}
	}
	snprintf(hp->peer, sizeof(hp->peer), "%s", hp->last_addr);
	/* The TLS handshake and CONNECT are small writes answered by the
	 * proxy: Nagle would hold each one back for an ACK. */
	if (setsockopt(hp->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		ps_layer_log(layer, PS_LOG_DEBUG, "TCP_NODELAY: %s",
			     https_proxy_strerror(errno, errbuf,
						  sizeof(errbuf)));
	ps_layer_log(layer, PS_LOG_DEBUG, "connected to proxy %s at %s",
		     hp->config->proxy.display, hp->peer);
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* TLS_HANDSHAKE                                                        */
/* ------------------------------------------------------------------ */

static int https_proxy_tls_start(ps_layer *layer, struct https_proxy *hp)
{
	const struct https_proxy_config *c = hp->config;
	const char *host = c->proxy.host;
	BIO *bio;

	hp->ssl = SSL_new(c->ssl_ctx);
	bio = proxy_tls_bio_new(c->socket_bio, hp->fd);
	if (hp->ssl == NULL || bio == NULL) {
		BIO_free(bio);
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory starting TLS");
	}
	SSL_set_bio(hp->ssl, bio, bio);
	if (!c->insecure_tls &&
	    (c->proxy_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(
				      SSL_get0_param(hp->ssl), host) != 1
			    : SSL_set1_host(hp->ssl, host) != 1))
		return ps_layer_fail(layer, PS_ERR_TLS, NULL, "proxy %s: "
				     "cannot set the name to verify",
				     c->proxy.display);
	/* SNI carries names only, never addresses (RFC 6066). */
	if (!c->proxy_is_ip && SSL_set_tlsext_host_name(hp->ssl, host) != 1)
		return ps_layer_fail(layer, PS_ERR_TLS, NULL, "proxy %s: SNI",
				     c->proxy.display);
	if (c->insecure_tls)
		ps_layer_log(layer, PS_LOG_WARN, "insecure_tls: the "
			     "certificate of proxy %s is NOT verified",
			     c->proxy.display);
	SSL_set_connect_state(hp->ssl);
	return PS_OK;
}

static int https_proxy_fail_verify(ps_layer *layer, struct https_proxy *hp,
				   long result)
{
	const struct https_proxy_config *c = hp->config;
	X509 *cert = SSL_get0_peer_certificate(hp->ssl);
	char hint[PS_ERROR_HINT_MAX], issuer[256] = "";

	switch (result) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(hint, sizeof(hint), "the proxy's certificate does "
			 "not name %s: use a name it lists in url in "
			 "[transport %s], or fix the proxy's certificate",
			 c->proxy.host, c->section);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(hint, sizeof(hint), "renew the proxy's certificate "
			 "(or check this machine's clock)");
		break;
	default:
		snprintf(hint, sizeof(hint), "set ca_file in [transport %s] "
			 "to the CA of the proxy's certificate", c->section);
		break;
	}
	if (cert)
		X509_NAME_oneline(X509_get_issuer_name(cert), issuer,
				  sizeof(issuer));
	return ps_layer_fail(layer, PS_ERR_TLS_VERIFY, hint,
			     "proxy %s: certificate verify failed: %s%s%s%s",
			     c->proxy.display,
			     X509_verify_cert_error_string(result),
			     issuer[0] ? " (issuer " : "", issuer,
			     issuer[0] ? ")" : "");
}

static int https_proxy_tls_step(ps_layer *layer, struct https_proxy *hp,
				const struct proxy_tls_errors *errors)
{
	const struct https_proxy_config *c = hp->config;
	char reason[200], errbuf[128];
	int ret, err, sys;
	long verify;

	errno = 0;
	ret = SSL_connect(hp->ssl);
	sys = errno;
	if (ret == 1)
		return PS_OK;
	err = proxy_tls_result(hp->ssl, ret, errors);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		ps_layer_want(layer, hp->fd, err == SSL_ERROR_WANT_READ
						     ? POLLIN : POLLOUT);
		return PS_AGAIN;
	}
	hp->tls_failed = 1;
	verify = SSL_get_verify_result(hp->ssl);
	if (!c->insecure_tls && verify != X509_V_OK)
		return https_proxy_fail_verify(layer, hp, verify);
	if (err == SSL_ERROR_SSL)
		return ps_layer_fail(layer, PS_ERR_TLS,
				     "is the proxy speaking TLS on this port? "
				     "an http:// proxy needs module = "
				     "http-connect",
				     "proxy %s: TLS handshake failed: %s",
				     c->proxy.display,
				     proxy_tls_errors_reason(errors, "error",
							     reason,
							     sizeof(reason)));
	return ps_layer_fail(layer, PS_ERR_TLS,
			     "is the proxy speaking TLS on this port? see "
			     "its logs",
			     "proxy %s closed the connection during the TLS "
			     "handshake%s%s", c->proxy.display,
			     sys ? ": " : "",
			     sys ? https_proxy_strerror(sys, errbuf,
							sizeof(errbuf))
				 : "");
}

static int https_proxy_tls_handshake(ps_layer *layer, struct https_proxy *hp)
{
	struct proxy_tls_errors errors;
	int rc = PS_OK;

	proxy_tls_errors_mark(&errors);
	if (hp->ssl == NULL)
		rc = https_proxy_tls_start(layer, hp);
	if (rc == PS_OK)
		rc = https_proxy_tls_step(layer, hp, &errors);
	proxy_tls_errors_release(&errors);
	return rc;
}

/* ------------------------------------------------------------------ */
/* TLS channel I/O (HTTP/1.1 exchange and tunnel)                      */
/* ------------------------------------------------------------------ */

/*
 * A hint for a TLS failure after the handshake.  With TLS 1.3 a proxy
 * that wants a client certificate says so only then, with an alert.
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

/* Map an SSL I/O result.  PS_AGAIN only when TLS really waits for the
 * socket: bytes TLS already holds are returned first. */
static int https_proxy_tls_result(struct https_proxy *hp, int ret, int sys,
				  const struct proxy_tls_errors *errors,
				  const char *what)
{
	char reason[200], errbuf[128];

	switch (proxy_tls_result(hp->ssl, ret, errors)) {
	case SSL_ERROR_WANT_READ:
		ps_layer_want(hp->layer, hp->fd, POLLIN);
		return PS_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		ps_layer_want(hp->layer, hp->fd, POLLOUT);
		return PS_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return PS_OK; /* end of stream */
	case SSL_ERROR_SSL:
		proxy_tls_errors_reason(errors, "error", reason,
					sizeof(reason));
		break;
	default:
		if (!sys)
			return PS_OK; /* a bare TCP close: end of stream */
		snprintf(reason, sizeof(reason), "%s",
			 https_proxy_strerror(sys, errbuf, sizeof(errbuf)));
		break;
	}
	hp->tls_failed = 1;
	/* Before the tunnel is up, it is TLS to the proxy that failed. */
	if (hp->state != HTTPS_PROXY_TUNNEL)
		return ps_layer_fail(hp->layer, PS_ERR_TLS,
				     https_proxy_tls_hint(reason),
				     "proxy %s: TLS %s failed: %s",
				     hp->config->proxy.display, what, reason);
	return ps_layer_fail(hp->layer, PS_ERR_IO,
			     "the proxy or the network ended the connection",
			     "proxy %s: TLS %s failed: %s",
			     hp->config->proxy.display, what, reason);
}

/*
 * A send failed on a connection the proxy closed: did it send an alert
 * first (TLS 1.3 reports a refused client certificate that way)?  Then
 * the alert's error is queued and is what gets reported.
 */
static int https_proxy_alert_waiting(struct https_proxy *hp, int ret,
				     const struct proxy_tls_errors *errors)
{
	char byte;
	size_t got;

	if (proxy_tls_result(hp->ssl, ret, errors) != SSL_ERROR_SYSCALL)
		return 0;
	ret = SSL_read_ex(hp->ssl, &byte, 1, &got);
	return ret != 1 && proxy_tls_result(hp->ssl, ret, errors) ==
				   SSL_ERROR_SSL;
}

static int https_proxy_tls_send(void *ctx, const void *buf, size_t len,
				size_t *n)
{
	struct https_proxy *hp = ctx;
	struct proxy_tls_errors errors;
	int ret, sys;

	*n = 0;
	if (len == 0)
		return PS_OK;
	proxy_tls_errors_mark(&errors);
	errno = 0;
	ret = SSL_write_ex(hp->ssl, buf, len, n);
	sys = errno;
	/* Closed on us before the tunnel: a TLS alert may say why. */
	if (ret != 1 && sys && hp->state != HTTPS_PROXY_TUNNEL &&
	    https_proxy_alert_waiting(hp, ret, &errors))
		sys = 0;
	if (ret != 1) {
		ret = https_proxy_tls_result(hp, ret, sys, &errors, "send");
		/* TLS cannot send after the proxy's close_notify. */
		if (ret == PS_OK)
			ret = ps_layer_fail(hp->layer, PS_ERR_IO, NULL,
					    "proxy %s closed the tunnel",
					    hp->config->proxy.display);
	} else {
		ret = PS_OK;
	}
	proxy_tls_errors_release(&errors);
	return ret;
}

static int https_proxy_tls_recv(void *ctx, void *buf, size_t len, size_t *n)
{
	struct https_proxy *hp = ctx;
	struct proxy_tls_errors errors;
	int ret, sys;

	*n = 0;
	proxy_tls_errors_mark(&errors);
	errno = 0;
	ret = SSL_read_ex(hp->ssl, buf, len, n);
	sys = errno;
	if (ret != 1) {
		*n = 0;
		ret = https_proxy_tls_result(hp, ret, sys, &errors,
					     "receive");
	} else {
		ret = PS_OK;
	}
	proxy_tls_errors_release(&errors);
	return ret;
}

/* ------------------------------------------------------------------ */
/* H1_CONNECT                                                           */
/* ------------------------------------------------------------------ */

/*
 * The proxy closes the connection after its 407 (Connection: close):
 * drop this one; the state machine connects and shakes hands again, then
 * steps the same exchange on (its next request carries credentials).
 */
static int https_proxy_tls_reconnect(void *ctx)
{
	struct https_proxy *hp = ctx;
	struct proxy_tls_errors errors;

	proxy_tls_errors_mark(&errors);
	SSL_free(hp->ssl);
	proxy_tls_errors_release(&errors);
	hp->ssl = NULL;
	close(hp->fd);
	hp->fd = -1;
	hp->tls_failed = 0;
	hp->addresses_tried = 0;
	hp->h1_reconnect = 1;
	return PS_AGAIN;
}

static int https_proxy_h1_start(ps_layer *layer, struct https_proxy *hp)
{
	struct h1_io io = {
		.ctx = hp,
		.send = https_proxy_tls_send,
		.recv = https_proxy_tls_recv,
		.reconnect = https_proxy_tls_reconnect,
	};

	hp->h1 = malloc(sizeof(*hp->h1));
	if (hp->h1 == NULL)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory");
	return h1_connect_init(hp->h1, layer, &hp->config->h1, &io);
}

static int https_proxy_h1_connect(ps_layer *layer, struct https_proxy *hp)
{
	int rc = h1_connect_step(hp->h1);

	if (rc == PS_AGAIN && hp->h1_reconnect) {
		ps_layer_log(layer, PS_LOG_DEBUG, "proxy %s closed after "
			     "asking for credentials: connecting again",
			     hp->config->proxy.display);
		https_proxy_go_state(hp, HTTPS_PROXY_RESOLVE);
		return PS_OK;
	}
	if (rc != PS_OK)
		return rc;
	ps_layer_set_detail(layer, "proxy %s %s http/1.1: %d %s%s%s%s%s",
			    hp->peer, SSL_get_version(hp->ssl),
			    hp->h1->status, hp->h1->reason,
			    hp->h1->use ? ", auth " : "",
			    proxy_auth_scheme_name(hp->h1->use),
			    proxy_auth_wants_http1(&hp->config->auth)
				    ? " (HTTP/1.1 only: NTLM and Negotiate"
				      " cannot run over HTTP/2)"
				    : "",
			    hp->config->insecure_tls ? " (proxy NOT verified)"
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
	int fd = hp->fd;
	SSL *ssl = hp->ssl;

	/* The session adopts both, whatever happens. */
	hp->fd = -1;
	hp->ssl = NULL;
	return h2_pool_open_new(hp->config->pool, layer, fd, ssl, hp->peer,
				req, &hp->stream);
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
		ps_layer_set_detail(layer, "proxy %s%s", where,
				    c->insecure_tls ? " (proxy NOT verified)"
						    : "");
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
		https_proxy_go_state(hp, HTTPS_PROXY_H2_CONNECT);
		return PS_OK;
	}
	hp->sent_basic = 0; /* nothing was sent */
	if (rc != 0)
		return rc; /* PS_AGAIN (waiting) or an error */
	https_proxy_go_state(hp, HTTPS_PROXY_RESOLVE);
	return PS_OK;
}

/* TLS is up: ALPN decides the protocol. */
static int https_proxy_tls_done(ps_layer *layer, struct https_proxy *hp)
{
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;
	int rc;

	SSL_get0_alpn_selected(hp->ssl, &alpn, &alpn_len);
	ps_layer_log(layer, PS_LOG_DEBUG, "proxy %s: %s, ALPN %.*s",
		     hp->config->proxy.display, SSL_get_version(hp->ssl),
		     alpn_len ? (int)alpn_len : 4,
		     alpn_len ? (const char *)alpn : "none");
	if (alpn_len == 2 && !memcmp(alpn, "h2", 2) && !hp->h1_reconnect) {
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
	if (hp->h1_reconnect) {
		/* Connected again for the same HTTP/1.1 exchange. */
		hp->h1_reconnect = 0;
		https_proxy_go_state(hp, HTTPS_PROXY_H1_CONNECT);
		return PS_OK;
	}
	rc = https_proxy_h1_start(layer, hp);
	if (rc == PS_OK)
		https_proxy_go_state(hp, HTTPS_PROXY_H1_CONNECT);
	return rc;
}

/* The shared session went away before answering: once, our own. */
static int https_proxy_h2_gone(ps_layer *layer, struct https_proxy *hp)
{
	const char *why;

	/* No TCP connection of our own: the session was another's. */
	if (hp->peer[0] == '\0' && !hp->retried_own) {
		ps_layer_log(layer, PS_LOG_INFO, "%s; retrying on a new "
			     "connection", h2_stream_gone_reason(hp->stream));
		h2_stream_close(hp->stream, layer);
		hp->stream = NULL;
		hp->sent_basic = 0;
		hp->retried_own = 1;
		https_proxy_go_state(hp, HTTPS_PROXY_RESOLVE);
		return PS_OK;
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
	switch (hp->state) {
	case HTTPS_PROXY_INIT: {
		int rc = https_proxy_make_authority(layer, hp);

		if (rc == PS_OK)
			https_proxy_go_state(hp, HTTPS_PROXY_JOIN);
		return rc;
	}
	case HTTPS_PROXY_JOIN:
		return https_proxy_join(layer, hp);
	case HTTPS_PROXY_RESOLVE: {
		int rc = https_proxy_resolve(layer, hp);

		if (rc == PS_OK)
			https_proxy_go_state(hp, HTTPS_PROXY_TCP_CONNECT);
		return rc;
	}
	case HTTPS_PROXY_TCP_CONNECT: {
		int rc = https_proxy_tcp_connect(layer, hp);

		if (rc == PS_OK)
			https_proxy_go_state(hp, HTTPS_PROXY_TLS_HANDSHAKE);
		return rc;
	}
	case HTTPS_PROXY_TLS_HANDSHAKE: {
		int rc = https_proxy_tls_handshake(layer, hp);

		return rc == PS_OK ? https_proxy_tls_done(layer, hp) : rc;
	}
	case HTTPS_PROXY_H1_CONNECT: {
		int rc = https_proxy_h1_connect(layer, hp);

		if (rc == PS_OK)
			https_proxy_go_state(hp, HTTPS_PROXY_TUNNEL);
		return rc;
	}
	case HTTPS_PROXY_H2_CONNECT: {
		int rc = https_proxy_h2_connect(layer, hp);

		if (rc == H2_SESSION_GONE)
			return https_proxy_h2_gone(layer, hp);
		if (rc == PS_OK)
			https_proxy_go_state(hp, HTTPS_PROXY_TUNNEL);
		return rc;
	}
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

	*state = hp;
	if (hp == NULL)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory opening a tunnel");
	hp->config = instance;
	hp->layer = layer;
	hp->fd = -1;
	hp->state = HTTPS_PROXY_INIT;
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
	if (hp->write_shut)
		return ps_layer_fail(layer, PS_ERR_USAGE, NULL, "send after "
				     "the sending side was shut down");
	return https_proxy_tls_send(hp, buf, len, n);
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
	return https_proxy_tls_recv(hp, buf, len, n);
}

/* HTTP/2: END_STREAM.  HTTP/1.1: close_notify (TLS's half-close). */
static int https_proxy_shutdown_write(ps_layer *layer, void *state)
{
	struct https_proxy *hp = state;
	struct proxy_tls_errors errors;
	int ret, sys;

	hp->layer = layer;
	if (hp->state != HTTPS_PROXY_TUNNEL)
		return https_proxy_not_ready(layer, "shutdown");
	if (hp->stream)
		return h2_stream_shutdown_write(hp->stream, layer);
	if (hp->write_shut)
		return PS_OK;
	proxy_tls_errors_mark(&errors);
	errno = 0;
	ret = SSL_shutdown(hp->ssl);
	sys = errno;
	if (ret >= 0) {
		hp->write_shut = 1;
		ps_layer_log(layer, PS_LOG_DEBUG, "close_notify sent to proxy "
			     "%s", hp->config->proxy.display);
		ret = PS_OK;
	} else {
		ret = https_proxy_tls_result(hp, ret, sys, &errors,
					     "shutdown");
	}
	proxy_tls_errors_release(&errors);
	return ret;
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
	if (hp->h1) {
		h1_connect_cleanup(hp->h1);
		free(hp->h1);
	}
	if (hp->ssl) {
		struct proxy_tls_errors errors;

		/* One try at close_notify for an HTTP/1.1 tunnel, never
		 * waiting for it. */
		proxy_tls_errors_mark(&errors);
		if (hp->state == HTTPS_PROXY_TUNNEL && !hp->tls_failed &&
		    !hp->write_shut)
			SSL_shutdown(hp->ssl);
		SSL_free(hp->ssl);
		proxy_tls_errors_release(&errors);
	}
	if (hp->fd >= 0)
		close(hp->fd);
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
	.caps = PS_CAP_BOTTOM | PS_CAP_PROXY,
	.summary = "tunnel through an HTTPS proxy: TLS to the proxy, then "
		   "CONNECT over HTTP/1.1 or shared HTTP/2",
	.ops = &https_proxy_ops,
};
