/*
 * tls_cache.h - SSL_CTXs built once and shared by a snapshot's
 * connections (internal).
 *
 * A snapshot owns one cache; a TLS layer asks it for the SSL_CTX that
 * matches its trust and identity (the key), and the cache builds it on
 * first use with the caller's function.  Below the chain: it knows
 * SSL_CTXs and keys, nothing of layers or connections.
 */
#ifndef HOST_TLS_CACHE_H
#define HOST_TLS_CACHE_H

#include <openssl/ssl.h>

struct tls_cache;

/* An empty cache, or NULL when out of memory. */
struct tls_cache *tls_cache_new(void);

/* Free every SSL_CTX the cache still holds, and the cache.  NULL-safe. */
void tls_cache_free(struct tls_cache *cache);

/*
 * The cached SSL_CTX for 'key', built with build(user, &ctx) when there
 * is none (build returns PS_OK or an error code it has already reported;
 * the cache keeps nothing then).  On PS_OK *out holds a new reference:
 * SSL_CTX_free() it.  PS_ERR_NOMEM when the entry cannot be allocated
 * (not reported: the caller says it).  Thread-safe; build runs under the
 * cache's lock, so two connections never build the same SSL_CTX twice.
 */
int tls_cache_get(struct tls_cache *cache, const char *key,
		  int (*build)(void *user, SSL_CTX **ctx), void *user,
		  SSL_CTX **out);

/*
 * Forget 'ctx' (a failed allocation inside OpenSSL can leave it broken
 * for good): the next tls_cache_get() builds a fresh one.  References
 * already handed out stay valid.  Thread-safe.
 */
void tls_cache_evict(struct tls_cache *cache, SSL_CTX *ctx);

#endif
