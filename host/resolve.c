/*
 * resolve.c - asynchronous name resolution with a thread per lookup.
 *
 * A thread per lookup is simple and lookups are rare (once per chain
 * hop); a libc without getaddrinfo_a, c-ares or a pool is not needed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "resolve.h"

struct resolve_job {
	atomic_int refs;
	atomic_int done;
	int efd;
	char *host;
	char port[8];
	struct addrinfo *res;
	int gai_error;
};

static void job_unref(struct resolve_job *job)
{
	if (atomic_fetch_sub(&job->refs, 1) != 1)
		return;
	if (job->res)
		freeaddrinfo(job->res);
	if (job->efd >= 0)
		close(job->efd);
	free(job->host);
	free(job);
}

static void job_lookup(struct resolve_job *job, int flags)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = flags;
	job->gai_error = getaddrinfo(job->host, job->port, &hints, &job->res);
	if (job->gai_error)
		job->res = NULL;
}

static void job_finish(struct resolve_job *job)
{
	uint64_t one = 1;

	atomic_store(&job->done, 1);
	/* The eventfd counter cannot overflow with one write. */
	if (write(job->efd, &one, sizeof(one)) < 0) {
		/* Nothing to do: the poller also checks 'done'. */
	}
}

static void *job_thread(void *arg)
{
	struct resolve_job *job = arg;

	job_lookup(job, AI_ADDRCONFIG);
	job_finish(job);
	job_unref(job);
	return NULL;
}

int resolve_start(const char *host, unsigned port, struct resolve_job **out)
{
	struct resolve_job *job = calloc(1, sizeof(*job));
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	*out = NULL;
	if (!job)
		return -1;
	atomic_init(&job->refs, 1);
	atomic_init(&job->done, 0);
	snprintf(job->port, sizeof(job->port), "%u", port);
	job->host = strdup(host);
	job->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!job->host || job->efd < 0)
		goto fail;
	/* Literals need no thread: ask getaddrinfo not to look anything up. */
	job_lookup(job, AI_NUMERICHOST);
	if (job->gai_error == 0) {
		job_finish(job);
		*out = job;
		return 0;
	}
	atomic_fetch_add(&job->refs, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, job_thread, job);
	pthread_attr_destroy(&attr);
	if (rc) {
		atomic_fetch_sub(&job->refs, 1);
		errno = rc;
		goto fail;
	}
	*out = job;
	return 0;
fail:
	rc = errno;
	job_unref(job);
	errno = rc;
	return -1;
}

int resolve_fd(const struct resolve_job *job)
{
	return job->efd;
}

int resolve_result(struct resolve_job *job, const struct addrinfo **res,
		   int *gai_error)
{
	if (!atomic_load(&job->done))
		return 1;
	*res = job->res;
	*gai_error = job->gai_error;
	return 0;
}

void resolve_release(struct resolve_job *job)
{
	if (job)
		job_unref(job);
}
