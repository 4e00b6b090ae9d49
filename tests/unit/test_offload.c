/*
 * test_offload.c - offload.c (a blocking call on a helper thread) and
 * resolve.c built on it.
 *
 * Who owns the job's argument, in each order of events: taken back after
 * the work returned (abandon never called); let go while the work still
 * runs (abandon called once, after the work); let go after the work
 * returned but before it was taken (abandon called at once).  The
 * helper thread blocks every signal.  An IP literal resolves with no
 * thread and no descriptor.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "offload.h"
#include "resolve.h"

struct job_arg {
	int gate[2];            /* the work waits until a byte comes */
	atomic_int worked;
	atomic_int abandoned;
	int signals_blocked;    /* what the work saw of its signal mask */
};

static void work(void *opaque)
{
	struct job_arg *a = opaque;
	sigset_t mask;
	char c;

	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	a->signals_blocked = sigismember(&mask, SIGTERM) == 1 &&
			     sigismember(&mask, SIGINT) == 1 &&
			     sigismember(&mask, SIGUSR1) == 1;
	while (read(a->gate[0], &c, 1) < 0)
		;
	atomic_store(&a->worked, 1);
}

static void abandon(void *opaque)
{
	struct job_arg *a = opaque;

	atomic_fetch_add(&a->abandoned, 1);
}

static struct job_arg *arg_new(void)
{
	struct job_arg *a = calloc(1, sizeof(*a));

	if (!a || pipe(a->gate) < 0)
		abort();
	return a;
}

static void arg_free(struct job_arg *a)
{
	close(a->gate[0]);
	close(a->gate[1]);
	free(a);
}

static void open_gate(struct job_arg *a)
{
	if (write(a->gate[1], "x", 1) != 1)
		abort();
}

/* Wait (10 s at most) until *flag is at least 'want'. */
static int wait_flag(atomic_int *flag, int want)
{
	for (int i = 0; i < 1000; i++) {
		if (atomic_load(flag) >= want)
			return 1;
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	return 0;
}

static void test_take_back(void)
{
	struct job_arg *a = arg_new();
	struct offload_job *job;
	struct pollfd pfd;

	CHECK(offload_start(work, abandon, a, &job) == 0);
	CHECK(offload_arg(job) == a);
	CHECK(!offload_done(job));
	pfd.fd = offload_fd(job);
	pfd.events = POLLIN;
	CHECK_MSG(poll(&pfd, 1, 0) == 0, "its fd is not readable while the work waits");
	open_gate(a);
	CHECK_MSG(poll(&pfd, 1, 10000) == 1 && (pfd.revents & POLLIN),
		  "its fd turns readable when the work has returned");
	CHECK(offload_done(job));
	CHECK_INT(atomic_load(&a->worked), 1);
	CHECK_MSG(a->signals_blocked, "the helper thread blocks every signal");
	offload_take(job);
	/* The thread lets go of its reference after signalling: give it
	 * time to, then abandon must still not have run. */
	nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	CHECK_MSG(atomic_load(&a->abandoned) == 0,
		  "taken back: abandon is never called");
	arg_free(a);
}

static void test_release_while_running(void)
{
	struct job_arg *a = arg_new();
	struct offload_job *job;

	CHECK(offload_start(work, abandon, a, &job) == 0);
	offload_release(job);
	CHECK_MSG(atomic_load(&a->abandoned) == 0,
		  "let go while the work runs: abandon waits for the work");
	open_gate(a);
	CHECK_MSG(wait_flag(&a->abandoned, 1),
		  "let go while the work runs: abandon once it has returned");
	CHECK_INT(atomic_load(&a->worked), 1);
	nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	CHECK_INT(atomic_load(&a->abandoned), 1);
	arg_free(a);
}

static void test_release_after_done(void)
{
	struct job_arg *a = arg_new();
	struct offload_job *job;
	struct pollfd pfd;

	CHECK(offload_start(work, abandon, a, &job) == 0);
	open_gate(a);
	pfd.fd = offload_fd(job);
	pfd.events = POLLIN;
	CHECK(poll(&pfd, 1, 10000) == 1);
	/* The thread may still hold its reference for a moment. */
	offload_release(job);
	CHECK_MSG(wait_flag(&a->abandoned, 1),
		  "let go after the work returned, not taken: abandon is called");
	nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	CHECK_INT(atomic_load(&a->abandoned), 1);
	arg_free(a);
}

static void test_resolve_literal(void)
{
	struct resolve_job *job;
	const struct addrinfo *res = NULL;
	int gai_error = -1;

	CHECK(resolve_start("127.0.0.1", 8080, &job) == 0);
	CHECK_MSG(resolve_fd(job) == -1,
		  "an IP literal: no thread, no descriptor");
	CHECK(resolve_result(job, &res, &gai_error) == 0);
	CHECK(res != NULL && res->ai_family == AF_INET);
	resolve_release(job);

	CHECK(resolve_start("::1", 443, &job) == 0);
	CHECK(resolve_fd(job) == -1);
	CHECK(resolve_result(job, &res, &gai_error) == 0);
	CHECK(res != NULL && res->ai_family == AF_INET6);
	resolve_release(job);
}

static void test_resolve_name(void)
{
	struct resolve_job *job;
	const struct addrinfo *res = NULL;
	struct pollfd pfd;
	int gai_error = -1;

	/* /etc/hosts answers localhost: no DNS leaves this machine. */
	CHECK(resolve_start("localhost", 80, &job) == 0);
	CHECK_MSG(resolve_fd(job) >= 0, "a name: looked up on a helper thread");
	pfd.fd = resolve_fd(job);
	pfd.events = POLLIN;
	CHECK(poll(&pfd, 1, 10000) == 1);
	CHECK(resolve_result(job, &res, &gai_error) == 0);
	CHECK(res != NULL);
	resolve_release(job);

	/* Let go while the lookup may still run: freed on its thread. */
	CHECK(resolve_start("localhost", 81, &job) == 0);
	resolve_release(job);
}

int main(void)
{
	test_take_back();
	test_release_while_running();
	test_release_after_done();
	test_resolve_literal();
	test_resolve_name();
	/* The last release's lookup finishes on its own: give it time, so
	 * that LeakSanitizer at exit sees it freed. */
	nanosleep(&(struct timespec){ .tv_nsec = 200000000 }, NULL);
	return check_done();
}
