/*
 * pac_store.c - the last good PAC script per source, kept across
 * configuration reloads (see pac_store.h).
 *
 * A short list under one lock: a configuration has a handful of [select]
 * sections, and the store is touched once per configure, unconfigure
 * and successful fetch, never per connection.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pac_store.h"

struct pac_store_entry {
	struct pac_store_entry *next;
	char *key;
	int users;                  /* instances attached */
	struct pac_script *script;  /* the last good one, or NULL */
};

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pac_store_entry *store_head;

struct pac_script *pac_script_ref(struct pac_script *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void pac_script_unref(struct pac_script *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->text);
	free(s);
}

static struct pac_store_entry *store_find(const char *key)
{
	for (struct pac_store_entry *e = store_head; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

struct pac_store_entry *pac_store_attach(const char *key)
{
	struct pac_store_entry *e;

	pthread_mutex_lock(&store_lock);
	e = store_find(key);
	if (!e && (e = calloc(1, sizeof(*e))) != NULL) {
		e->key = strdup(key);
		if (!e->key) {
			free(e);
			e = NULL;
		} else {
			e->next = store_head;
			store_head = e;
		}
	}
	if (e)
		e->users++;
	pthread_mutex_unlock(&store_lock);
	return e;
}

void pac_store_detach(struct pac_store_entry *e)
{
	struct pac_store_entry **p;

	if (!e)
		return;
	pthread_mutex_lock(&store_lock);
	if (--e->users > 0) {
		pthread_mutex_unlock(&store_lock);
		return;
	}
	for (p = &store_head; *p != e; p = &(*p)->next)
		;
	*p = e->next;
	pthread_mutex_unlock(&store_lock);
	pac_script_unref(e->script);
	free(e->key);
	free(e);
}

struct pac_script *pac_store_get(struct pac_store_entry *e)
{
	struct pac_script *s;

	if (!e)
		return NULL;
	pthread_mutex_lock(&store_lock);
	s = pac_script_ref(e->script);
	pthread_mutex_unlock(&store_lock);
	return s;
}

void pac_store_put(struct pac_store_entry *e, struct pac_script *s)
{
	struct pac_script *old;

	if (!e)
		return;
	pac_script_ref(s);
	pthread_mutex_lock(&store_lock);
	old = e->script;
	e->script = s;
	pthread_mutex_unlock(&store_lock);
	pac_script_unref(old);
}
