/*
 * tls_cache.c - SSL_CTXs shared by a snapshot's connections.
 *
 * A list, not a hash: a snapshot has a handful of trust and identity
 * combinations (one per stack with trust modules and target, plus the
 * caller-given CA files), and the lookup runs once per TLS handshake.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <proxystack.h>

#include "tls_cache.h"

struct tls_cache_entry {
	struct tls_cache_entry *next;
	char *key;
	SSL_CTX *ctx;
};

struct tls_cache {
	pthread_mutex_t lock;
	struct tls_cache_entry *head;
};

struct tls_cache *tls_cache_new(void)
{
	struct tls_cache *cache = calloc(1, sizeof(*cache));

	if (cache)
		pthread_mutex_init(&cache->lock, NULL);
	return cache;
}

static void entry_free(struct tls_cache_entry *e)
{
	SSL_CTX_free(e->ctx);
	free(e->key);
	free(e);
}

void tls_cache_free(struct tls_cache *cache)
{
	struct tls_cache_entry *e, *next;

	if (!cache)
		return;
	for (e = cache->head; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&cache->lock);
	free(cache);
}

static struct tls_cache_entry *find(struct tls_cache *cache, const char *key)
{
	struct tls_cache_entry *e;

	for (e = cache->head; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

/* A new entry for 'key' built by build(); PS_OK or the failure. */
static int add(struct tls_cache *cache, const char *key,
	       int (*build)(void *user, SSL_CTX **ctx), void *user,
	       struct tls_cache_entry **out)
{
	struct tls_cache_entry *e = calloc(1, sizeof(*e));
	int rc;

	if (!e || !(e->key = strdup(key))) {
		free(e);
		return PS_ERR_NOMEM;
	}
	rc = build(user, &e->ctx);
	if (rc != PS_OK) {
		free(e->key);
		free(e);
		return rc;
	}
	e->next = cache->head;
	cache->head = e;
	*out = e;
	return PS_OK;
}

int tls_cache_get(struct tls_cache *cache, const char *key,
		  int (*build)(void *user, SSL_CTX **ctx), void *user,
		  SSL_CTX **out)
{
	struct tls_cache_entry *e;
	int rc = PS_OK;

	*out = NULL;
	pthread_mutex_lock(&cache->lock);
	e = find(cache, key);
	if (!e)
		rc = add(cache, key, build, user, &e);
	if (rc == PS_OK) {
		SSL_CTX_up_ref(e->ctx);
		*out = e->ctx;
	}
	pthread_mutex_unlock(&cache->lock);
	return rc;
}

void tls_cache_evict(struct tls_cache *cache, SSL_CTX *ctx)
{
	struct tls_cache_entry *e, **link;

	pthread_mutex_lock(&cache->lock);
	for (link = &cache->head; (e = *link); link = &e->next) {
		if (e->ctx == ctx) {
			*link = e->next;
			entry_free(e);
			break;
		}
	}
	pthread_mutex_unlock(&cache->lock);
}
