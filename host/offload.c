/*
 * offload.c - one blocking call on a detached helper thread.
 *
 * A thread per job is simple, and jobs are rare (a name lookup per hop,
 * a Kerberos ticket per Negotiate handshake): a pool would only add a
 * queue and a lifetime to get wrong.  The job is shared by the thread and
 * its starter, each holding a reference; the last one out frees it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "offload.h"

struct offload_job {
	atomic_int refs;
	atomic_int done;
	int taken;              /* the starter took 'arg' back */
	int efd;
	void (*work)(void *arg);
	void (*abandon)(void *arg);
	void *arg;
};

static void job_unref(struct offload_job *job)
{
	/* The atomic decrement orders the other side's writes ('taken',
	 * what work() wrote) before whatever the last one out reads. */
	if (atomic_fetch_sub(&job->refs, 1) != 1)
		return;
	if (!job->taken && job->abandon)
		job->abandon(job->arg);
	close(job->efd);
	free(job);
}

static void *job_thread(void *opaque)
{
	struct offload_job *job = opaque;
	uint64_t one = 1;

	job->work(job->arg);
	atomic_store(&job->done, 1);
	/* One write cannot overflow the counter; if it failed anyway the
	 * starter still sees 'done' at its next wake-up (the deadline). */
	if (write(job->efd, &one, sizeof(one)) < 0) {
		/* nothing more to do */
	}
	job_unref(job);
	return NULL;
}

/* A detached thread with every signal blocked. */
static int start_thread(struct offload_job *job)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	sigfillset(&all);
	rc = pthread_attr_init(&attr);
	if (rc)
		return rc;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, &attr, job_thread, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return rc;
}

int offload_start(void (*work)(void *arg), void (*abandon)(void *arg),
		  void *arg, struct offload_job **out)
{
	struct offload_job *job = calloc(1, sizeof(*job));
	int rc;

	*out = NULL;
	if (!job)
		return -1;
	job->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (job->efd < 0) {
		rc = errno;
		free(job);
		errno = rc;
		return -1;
	}
	atomic_init(&job->refs, 2);     /* the thread's and the starter's */
	atomic_init(&job->done, 0);
	job->work = work;
	job->abandon = abandon;
	job->arg = arg;
	rc = start_thread(job);
	if (rc) {
		close(job->efd);
		free(job);
		errno = rc;
		return -1;
	}
	*out = job;
	return 0;
}

int offload_fd(const struct offload_job *job)
{
	return job->efd;
}

int offload_done(const struct offload_job *job)
{
	return atomic_load(&job->done);
}

const void *offload_arg(const struct offload_job *job)
{
	return job->arg;
}

void offload_take(struct offload_job *job)
{
	job->taken = 1;
	job_unref(job);
}

void offload_release(struct offload_job *job)
{
	if (job)
		job_unref(job);
}
