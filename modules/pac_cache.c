/*
 * pac_cache.c - a pac instance's recent answers (see pac_cache.h).
 *
 * A fixed array searched linearly: 64 short string compares cost
 * nothing next to the fork and evaluation they save.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pac_cache.h"

void pac_cache_init(struct pac_cache *c, long ttl_ms)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->ttl_ms = ttl_ms;
}

static void slot_clear(struct pac_cached *e)
{
	free(e->key);
	free(e->answer);
	pac_script_unref(e->script);
	memset(e, 0, sizeof(*e));
}

void pac_cache_destroy(struct pac_cache *c)
{
	for (size_t i = 0; i < PAC_CACHE_MAX; i++)
		slot_clear(&c->slot[i]);
	pthread_mutex_destroy(&c->lock);
}

static char *cache_key(const char *url, const char *host)
{
	size_t n = strlen(url) + strlen(host) + 2;
	char *key = malloc(n);

	if (key)
		snprintf(key, n, "%s\n%s", url, host);
	return key;
}

char *pac_cache_get(struct pac_cache *c, const struct pac_script *script,
		    const char *url, const char *host, long long now_ms)
{
	char *key, *answer = NULL;

	if (!c->ttl_ms || !(key = cache_key(url, host)))
		return NULL;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < PAC_CACHE_MAX; i++) {
		struct pac_cached *e = &c->slot[i];

		if (e->key && e->script == script && now_ms < e->expires_ms &&
		    !strcmp(e->key, key)) {
			answer = strdup(e->answer);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	free(key);
	return answer;
}

/* An empty or expired slot, else the one that expires first. */
static struct pac_cached *slot_to_fill(struct pac_cache *c,
				       long long now_ms)
{
	struct pac_cached *victim = &c->slot[0];

	for (size_t i = 0; i < PAC_CACHE_MAX; i++) {
		struct pac_cached *e = &c->slot[i];

		if (!e->key || now_ms >= e->expires_ms)
			return e;
		if (e->expires_ms < victim->expires_ms)
			victim = e;
	}
	return victim;
}

void pac_cache_put(struct pac_cache *c, struct pac_script *script,
		   const char *url, const char *host, const char *answer,
		   long long now_ms)
{
	struct pac_cached fresh = { 0 }, old, *e;

	if (!c->ttl_ms)
		return;
	fresh.key = cache_key(url, host);
	fresh.answer = strdup(answer);
	if (!fresh.key || !fresh.answer) {
		free(fresh.key);
		free(fresh.answer);
		return;
	}
	fresh.script = pac_script_ref(script);
	fresh.expires_ms = now_ms + c->ttl_ms;
	if (fresh.expires_ms > script->expires_ms)
		fresh.expires_ms = script->expires_ms;
	pthread_mutex_lock(&c->lock);
	e = slot_to_fill(c, now_ms);
	/* Swap out under the lock, free after: never free while locked
	 * what another thread could be comparing. */
	old = *e;
	*e = fresh;
	pthread_mutex_unlock(&c->lock);
	free(old.key);
	free(old.answer);
	pac_script_unref(old.script);
}
