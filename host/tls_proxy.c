/*
 * tls_proxy.c - TLS to a proxy hop, built at configure time (ABI 1.2:
 * ps_config_want_proxy_tls).
 *
 * A proxy module (https-proxy) asks for the host's TLS layer under its
 * hop.  The context is built here, once per snapshot, with the proxy's
 * own trust and identity, so that a file that cannot be loaded fails
 * the configuration with file:line, and so that the proxy's trust and
 * the destination's never mix (the destination's contexts are in
 * tls_cache.c, keyed by the connection's options).  The tls layer
 * (tls.c) takes the result as its instance.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "modconfig.h"
#include "tls_files.h"
#include "tls_proxy.h"
#include "url.h"

/* ------------------------------------------------------------------ */
/* a proxy hop's TLS, built at configure time (ABI 1.2)                */
/* ------------------------------------------------------------------ */

void tls_proxy_free(struct tls_proxy *p)
{
	if (!p)
		return;
	SSL_CTX_free(p->ctx);
	free(p->section);
	free(p->who);
	free(p->trust);
	free(p);
}

int tls_alpn_wire(const char *list, unsigned char *wire, size_t cap,
		  size_t *len)
{
	const char *p = list;
	size_t n = 0;

	while (*p) {
		size_t item = strcspn(p, ",");

		if (item == 0 || item > 255 || n + 1 + item > cap)
			return -1;
		wire[n++] = (unsigned char)item;
		memcpy(wire + n, p, item);
		n += item;
		p += item;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	*len = n;
	return 0;
}

/* A file of the section: its key names it in the error, with file:line. */
static int proxy_tls_load(ps_config *cfg, SSL_CTX *ctx, const char *key,
			  enum tls_file_kind kind, const char *path)
{
	char why[PS_ERROR_MESSAGE_MAX];
	int rc = tls_load_one(ctx, kind, path, why, sizeof(why));

	ERR_clear_error();	/* configure runs outside any chain */
	if (rc == PS_ERR_NOMEM)
		return rc;
	if (rc != PS_OK)
		return ps_config_error(cfg, key, "%s", why);
	return PS_OK;
}

static int proxy_tls_identity(ps_config *cfg, SSL_CTX *ctx,
			      const struct ps_proxy_tls *o)
{
	const char *key = o->client_key_file;
	int rc;

	if (key && !o->client_cert_file)
		return ps_config_error(cfg, "client_key_file", "a key without "
				       "client_cert_file: name the "
				       "certificate it belongs to");
	if (!o->client_cert_file)
		return PS_OK;
	rc = proxy_tls_load(cfg, ctx, "client_cert_file", TLS_FILE_CERT,
			    o->client_cert_file);
	if (rc == PS_OK)
		rc = proxy_tls_load(cfg, ctx, key ? "client_key_file"
						  : "client_cert_file",
				    TLS_FILE_KEY, key ? key : o->client_cert_file);
	if (rc == PS_OK && SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		return ps_config_error(cfg, "client_key_file", "%s does not "
				       "match the certificate in %s",
				       key ? key : o->client_cert_file,
				       o->client_cert_file);
	}
	return rc;
}

static int proxy_tls_context(ps_config *cfg, struct tls_proxy *p,
			     const struct ps_proxy_tls *o)
{
	unsigned char wire[256];
	size_t wire_len = 0;
	SSL_CTX *ctx;
	int rc;

	if (o->alpn && tls_alpn_wire(o->alpn, wire, sizeof(wire), &wire_len))
		return ps_config_error(cfg, NULL, "bad ALPN list '%s' for the "
				       "proxy's TLS (e.g. h2,http/1.1)",
				       o->alpn);
	ctx = p->ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ERR_clear_error();
		return PS_ERR_NOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* A proxy that ends a tunnel with a bare TCP close ends the
	 * stream, as over TCP: the destination's TLS above (which treats
	 * it as truncation) vouches for the end, and tcp:// has no end
	 * to vouch for past the proxy anyway. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	if (wire_len && SSL_CTX_set_alpn_protos(ctx, wire,
						(unsigned)wire_len) != 0)
		return PS_ERR_NOMEM;
	/* Never the destination's trust: the proxy's is its own. */
	if (o->ca_file) {
		rc = proxy_tls_load(cfg, ctx, "ca_file", TLS_FILE_CA,
				    o->ca_file);
		if (rc != PS_OK)
			return rc;
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ERR_clear_error();
		return ps_config_error(cfg, NULL, "cannot load the system CA "
				       "store for the proxy: set ca_file");
	}
	SSL_CTX_set_verify(ctx, o->insecure ? SSL_VERIFY_NONE
					    : SSL_VERIFY_PEER, NULL);
	return proxy_tls_identity(cfg, ctx, o);
}

static int proxy_tls_names(ps_config *cfg, struct tls_proxy *p,
			   const struct ps_proxy_tls *o)
{
	const struct instance *inst = cfg->inst;
	char where[300];
	unsigned char probe[sizeof(struct in6_addr)];
	struct buf b;

	url_format_authority(inst->proxy_host, inst->proxy_port, where,
			     sizeof(where));
	p->is_ip = inet_pton(AF_INET, inst->proxy_host, probe) == 1 ||
		   inet_pton(AF_INET6, inst->proxy_host, probe) == 1;
	buf_init(&b);
	buf_printf(&b, "proxy %s", where);
	p->who = buf_steal(&b);
	buf_init(&b);
	if (o->ca_file)
		buf_printf(&b, "ca_file %s", o->ca_file);
	else
		buf_puts(&b, "the system CAs");
	p->trust = buf_steal(&b);
	p->section = strdup(inst->name);
	return p->who && p->trust && p->section ? PS_OK : PS_ERR_NOMEM;
}

int ps_config_want_proxy_tls(ps_config *cfg, const struct ps_proxy_tls *opts)
{
	struct instance *inst = cfg->inst;
	struct tls_proxy *p;
	int rc;

	/* Every field this host reads is in the 1.2 layout: a larger
	 * structure (a later module) is fine, its new fields unread. */
	if (!opts || opts->size < PS_PROXY_TLS_SIZE_1_2)
		return ps_config_error(cfg, NULL, "the module passed a struct "
				       "ps_proxy_tls of %zu bytes, below ABI "
				       "1.2's %zu", opts ? opts->size : 0,
				       (size_t)PS_PROXY_TLS_SIZE_1_2);
	if (!inst->proxy_host)
		return ps_config_error(cfg, "url", "TLS to a proxy needs the "
				       "proxy's address: set url");
	p = calloc(1, sizeof(*p));
	if (!p)
		return PS_ERR_NOMEM;
	p->insecure = opts->insecure;
	rc = proxy_tls_names(cfg, p, opts);
	if (rc == PS_OK)
		rc = proxy_tls_context(cfg, p, opts);
	if (rc != PS_OK) {
		tls_proxy_free(p);
		return rc;
	}
	if (p->insecure)
		/* Loud on purpose: anyone on the path can then pose as the
		 * proxy and read what is sent to it. */
		ps_config_log(cfg, PS_LOG_WARN, "insecure_tls = true: the "
			      "certificate of %s is NOT verified; anyone on "
			      "the network path can impersonate it and read "
			      "the credentials sent to it", p->who);
	tls_proxy_free(inst->proxy_tls);
	inst->proxy_tls = p;
	return PS_OK;
}

