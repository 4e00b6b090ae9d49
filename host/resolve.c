/*
 * resolve.c - asynchronous name resolution: getaddrinfo on a helper
 * thread (offload.c), IP literals answered at once without one.
 *
 * A libc without getaddrinfo_a, c-ares or a pool is not needed: lookups
 * are rare (once per chain hop), and most proxies are named by address,
 * which costs neither a thread nor a descriptor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offload.h"
#include "resolve.h"

/* What the lookup needs and finds: the helper thread's until done. */
struct resolve_query {
	char *host;
	char port[8];
	struct addrinfo *res;
	int gai_error;
};

struct resolve_job {
	struct offload_job *thread;     /* NULL: no lookup (still) running */
	struct resolve_query *query;
};

static void query_free(void *arg)
{
	struct resolve_query *q = arg;

	if (q->res)
		freeaddrinfo(q->res);
	free(q->host);
	free(q);
}

static void query_lookup(struct resolve_query *q, int flags)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = flags;
	q->gai_error = getaddrinfo(q->host, q->port, &hints, &q->res);
	if (q->gai_error)
		q->res = NULL;
}

static void query_work(void *arg)
{
	query_lookup(arg, AI_ADDRCONFIG);
}

int resolve_start(const char *host, unsigned port, struct resolve_job **out)
{
	struct resolve_job *job = calloc(1, sizeof(*job));
	struct resolve_query *q = calloc(1, sizeof(*q));
	int e;

	*out = NULL;
	if (!job || !q || !(q->host = strdup(host)))
		goto fail;
	snprintf(q->port, sizeof(q->port), "%u", port);
	job->query = q;
	/* Literals need no thread: ask getaddrinfo not to look anything up. */
	query_lookup(q, AI_NUMERICHOST);
	if (q->gai_error == 0) {
		*out = job;
		return 0;
	}
	if (offload_start(query_work, query_free, q, &job->thread) < 0)
		goto fail;
	*out = job;
	return 0;
fail:
	e = errno;
	if (q)
		query_free(q);
	free(job);
	errno = e;
	return -1;
}

int resolve_fd(const struct resolve_job *job)
{
	return job->thread ? offload_fd(job->thread) : -1;
}

int resolve_result(struct resolve_job *job, const struct addrinfo **res,
		   int *gai_error)
{
	if (job->thread) {
		if (!offload_done(job->thread))
			return 1;
		offload_take(job->thread);
		job->thread = NULL;
	}
	*res = job->query->res;
	*gai_error = job->query->gai_error;
	return 0;
}

void resolve_release(struct resolve_job *job)
{
	if (!job)
		return;
	if (job->thread)
		offload_release(job->thread);   /* frees the query when done */
	else
		query_free(job->query);
	free(job);
}
