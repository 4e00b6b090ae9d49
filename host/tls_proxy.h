/*
 * tls_proxy.h - TLS to a proxy hop, built at configure time (internal).
 */
#ifndef HOST_TLS_PROXY_H
#define HOST_TLS_PROXY_H

#include <stddef.h>
#include <openssl/ssl.h>

/*
 * What ps_config_want_proxy_tls() built for one proxy hop, owned by its
 * instance (struct instance.proxy_tls) and read-only once built: the
 * tls layer under the hop takes its context from here, never from the
 * connection's options.
 */
struct tls_proxy {
	SSL_CTX *ctx;          /* trust, identity, ALPN, TLS 1.2 at least */
	int insecure;
	int is_ip;             /* no SNI, an IP check */
	char *section;         /* NAME of [transport NAME], for hints */
	char *who;             /* "proxy host:port", for messages */
	char *trust;           /* "ca_file PATH" or "the system CAs" */
};

/* Free one (its SSL_CTX reference included).  NULL-safe. */
void tls_proxy_free(struct tls_proxy *p);

/*
 * "h2,http/1.1" in ALPN's wire form into wire[cap]; *len its length.
 * -1 for a malformed list (an empty or over-long name, a trailing comma,
 * no room).
 */
int tls_alpn_wire(const char *list, unsigned char *wire, size_t cap,
		  size_t *len);

#endif
