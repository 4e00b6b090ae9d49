/*
 * preload_route.c - whether a destination goes out directly: the answer
 * of ps_ctx_which(), kept for a few seconds.
 *
 * A routed connection asks twice (the name's lookup, then its connect()),
 * and a program often connects to one destination many times: each
 * ps_ctx_which() builds and describes the whole chain, far more work
 * than a lookup in a small table.  The process's context is never
 * reloaded, so an answer changes only where a select module (PAC) may
 * answer otherwise later: entries expire after ROUTE_TTL_MS.  A child
 * made by fork() starts with an empty table, as with its new context.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "preload.h"

#define ROUTE_SLOTS 64
#define ROUTE_TTL_MS 5000

struct route_entry {
	char host[256];
	unsigned port;
	int direct;
	long at_ms;             /* when it was asked; 0: a free slot */
};

static pthread_mutex_t route_lock = PTHREAD_MUTEX_INITIALIZER;
static struct route_entry route_table[ROUTE_SLOTS];
static size_t route_next;       /* the slot the next answer replaces */
static pthread_once_t route_once = PTHREAD_ONCE_INIT;

static void route_atfork_prepare(void)
{
	pthread_mutex_lock(&route_lock);
}

static void route_atfork_parent(void)
{
	pthread_mutex_unlock(&route_lock);
}

static void route_atfork_child(void)
{
	pthread_mutex_init(&route_lock, NULL);
	memset(route_table, 0, sizeof(route_table));
}

static void route_init(void)
{
	pthread_atfork(route_atfork_prepare, route_atfork_parent,
		       route_atfork_child);
}

static long route_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

/* The kept answer for host:port: 0 or 1, -1 when there is none. */
static int route_cached(const char *host, unsigned port, long now)
{
	int direct = -1;

	pthread_mutex_lock(&route_lock);
	for (size_t i = 0; i < ROUTE_SLOTS; i++) {
		const struct route_entry *e = &route_table[i];

		if (e->at_ms && now - e->at_ms < ROUTE_TTL_MS &&
		    e->port == port && !strcasecmp(e->host, host)) {
			direct = e->direct;
			break;
		}
	}
	pthread_mutex_unlock(&route_lock);
	return direct;
}

static void route_keep(const char *host, unsigned port, int direct,
		       long now)
{
	struct route_entry *e;

	if (strlen(host) >= sizeof(e->host))
		return;
	pthread_mutex_lock(&route_lock);
	e = &route_table[route_next];
	route_next = (route_next + 1) % ROUTE_SLOTS;
	strcpy(e->host, host);
	e->port = port;
	e->direct = direct;
	e->at_ms = now;
	pthread_mutex_unlock(&route_lock);
}

int route_is_direct(const char *host, unsigned port)
{
	ps_ctx *ctx = preload_ctx();
	long now = route_now_ms();
	int direct, was_inside;
	char url[300];
	ps_error err;
	char *chain;

	if (!ctx)
		return -1;
	pthread_once(&route_once, route_init);
	direct = route_cached(host, port, now);
	if (direct >= 0)
		return direct;
	snprintf(url, sizeof(url),
		 strchr(host, ':') ? "tcp://[%s]:%u" : "tcp://%s:%u", host,
		 port ? port : 1);
	was_inside = preload_inside();
	preload_set_inside(1);
	chain = ps_ctx_which(ctx, url, &err);
	preload_set_inside(was_inside);
	/* No answer: routed, and connect() reports why it fails. */
	if (!chain)
		return 0;
	direct = !strcmp(chain, "direct");
	ps_free(chain);
	route_keep(host, port, direct, now);
	return direct;
}
