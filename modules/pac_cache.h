/*
 * pac_cache.h - a pac instance's recent answers, so that connections to
 * one destination do not each pay a fork and an evaluation (internal to
 * the pac module).
 *
 * Keyed by what the script sees (the URL and the host) and by the
 * script that answered: an answer of an older script is never returned.
 * Bounded (PAC_CACHE_MAX entries, the oldest replaced) and short-lived
 * (a TTL, and never past the script's own freshness).  A script whose
 * answer depends on the clock or on DNS sees those at most TTL late.
 *
 * Thread-safety: all functions lock the cache; any thread may call them.
 */
#ifndef MODULES_PAC_CACHE_H
#define MODULES_PAC_CACHE_H

#include <pthread.h>

#include "pac_store.h"

#define PAC_CACHE_MAX 64

struct pac_cached {
	char *key;                    /* url "\n" host; NULL: empty slot */
	char *answer;
	struct pac_script *script;    /* a reference: no reuse of the address */
	long long expires_ms;         /* monotonic */
};

struct pac_cache {
	pthread_mutex_t lock;
	long ttl_ms;                  /* 0: caching off */
	struct pac_cached slot[PAC_CACHE_MAX];
};

void pac_cache_init(struct pac_cache *c, long ttl_ms);

/* Free every entry (and the lock). */
void pac_cache_destroy(struct pac_cache *c);

/*
 * The answer 'script' gave for (url, host), still fresh at 'now_ms':
 * a malloc'd copy (free it), or NULL (none, or out of memory).
 */
char *pac_cache_get(struct pac_cache *c, const struct pac_script *script,
		    const char *url, const char *host, long long now_ms);

/* Remember 'answer' (copied); a failure to allocate just skips it. */
void pac_cache_put(struct pac_cache *c, struct pac_script *script,
		   const char *url, const char *host, const char *answer,
		   long long now_ms);

#endif
