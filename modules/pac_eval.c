/*
 * pac_eval.c - FindProxyForURL(url, host) in a child process with a
 * fresh duktape heap, a memory budget and a time budget (pac_eval.h
 * says why a child).
 *
 * The child writes one record to a pipe: 'A' and the answer, or 'E' and
 * a one-line reason, then _exit()s (nothing of the parent's state is
 * flushed or freed twice).  The parent waits for the record at most the
 * time budget, kills the child by its PID when it is late, and always
 * reaps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pac_eval.h"

#ifdef HAVE_DUKTAPE
#include <duktape.h>

#include "pac_functions.h"
#endif

/* What the child may write: the tag, the text, nothing more. */
#define RECORD_MAX (PAC_ANSWER_MAX + 2)

int pac_eval_available(void)
{
#ifdef HAVE_DUKTAPE
	return 1;
#else
	return 0;
#endif
}

void pac_eval_set_lookup(pac_lookup_fn lookup)
{
#ifdef HAVE_DUKTAPE
	pac_functions_set_lookup(lookup);
#else
	(void)lookup;	/* no script runs, so nothing looks names up */
#endif
}

#ifdef HAVE_DUKTAPE
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* the child                                                           */
/* ------------------------------------------------------------------ */

/* Every block carries its size in front, so free and realloc can count. */
struct budget {
	size_t used, limit;
	int exhausted;
};

#define BLOCK_HEAD 16

static void *budget_alloc(void *udata, duk_size_t size)
{
	struct budget *b = udata;
	unsigned char *p;

	if (size == 0)
		return NULL;
	if (size > b->limit - b->used) {
		b->exhausted = 1;
		return NULL;
	}
	p = malloc(size + BLOCK_HEAD);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof(size));
	b->used += size;
	return p + BLOCK_HEAD;
}

static void budget_free(void *udata, void *ptr)
{
	struct budget *b = udata;
	unsigned char *p = ptr;
	size_t size;

	if (!p)
		return;
	p -= BLOCK_HEAD;
	memcpy(&size, p, sizeof(size));
	b->used -= size;
	free(p);
}

static void *budget_realloc(void *udata, void *ptr, duk_size_t size)
{
	struct budget *b = udata;
	unsigned char *p = ptr, *grown;
	size_t old;

	if (!p)
		return budget_alloc(udata, size);
	if (size == 0) {
		budget_free(udata, ptr);
		return NULL;
	}
	p -= BLOCK_HEAD;
	memcpy(&old, p, sizeof(old));
	if (size > old && size - old > b->limit - b->used) {
		b->exhausted = 1;
		return NULL;
	}
	grown = realloc(p, size + BLOCK_HEAD);
	if (!grown)
		return NULL;
	memcpy(grown, &size, sizeof(size));
	b->used = b->used - old + size;
	return grown + BLOCK_HEAD;
}

static int child_fd = -1;

/* Write the record and leave: nothing else of the process runs. */
static void child_finish(char tag, const char *text)
{
	char rec[RECORD_MAX];
	size_t n = strnlen(text, PAC_ANSWER_MAX + 1), off = 0;

	if (n > PAC_ANSWER_MAX) {
		tag = 'E';
		text = "the answer is longer than 4096 bytes";
		n = strlen(text);
	}
	rec[0] = tag;
	memcpy(rec + 1, text, n);
	n++;
	while (off < n) {
		ssize_t w = write(child_fd, rec + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	_exit(0);
}

/* duktape's last resort (an error outside any protected call). */
static void child_fatal(void *udata, const char *msg)
{
	struct budget *b = udata;
	char why[300];

	snprintf(why, sizeof(why), "%s", b->exhausted
		 ? "the script used more memory than its budget"
		 : msg ? msg : "fatal error in the script engine");
	child_finish('E', why);
}

/* The exception on top of the stack as one short line. */
static void child_fail_with_error(duk_context *ctx, struct budget *b,
				  const char *stage)
{
	char why[300];
	const char *msg;

	if (b->exhausted) {
		child_finish('E', "the script used more memory than its"
			     " budget");
	}
	msg = duk_safe_to_string(ctx, -1);
	snprintf(why, sizeof(why), "%s: %s", stage, msg ? msg : "error");
	for (char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	child_finish('E', why);
}

/*
 * Belts to the parent's braces: should the parent die before it kills
 * a late child, the child goes too, and never spins past a CPU limit.
 */
static void child_bound(const struct pac_limits *limits)
{
	struct rlimit cpu;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	cpu.rlim_cur = (rlim_t)(limits->time_ms / 1000 + 2);
	cpu.rlim_max = cpu.rlim_cur + 1;
	setrlimit(RLIMIT_CPU, &cpu);
}

static void child_run(const char *script, size_t len, const char *url,
		      const char *host, const struct pac_limits *limits)
{
	struct budget b = { .used = 0, .limit = limits->memory_bytes };
	duk_context *ctx;

	ctx = duk_create_heap(budget_alloc, budget_realloc, budget_free, &b,
			      child_fatal);
	if (!ctx)
		child_finish('E', "the script engine did not start within"
			     " the memory budget");
	if (pac_functions_install(ctx, limits->now) < 0)
		child_fail_with_error(ctx, &b, "PAC functions");
	duk_push_string(ctx, "pac");
	if (duk_pcompile_lstring_filename(ctx, 0, script, len) != 0)
		child_fail_with_error(ctx, &b, "the script does not compile");
	if (duk_pcall(ctx, 0) != 0)
		child_fail_with_error(ctx, &b, "the script failed");
	duk_pop(ctx);
	if (!duk_get_global_string(ctx, "FindProxyForURL") ||
	    !duk_is_function(ctx, -1))
		child_finish('E', "the script defines no function"
			     " FindProxyForURL(url, host)");
	duk_push_string(ctx, url);
	duk_push_string(ctx, host);
	if (duk_pcall(ctx, 2) != 0)
		child_fail_with_error(ctx, &b, "FindProxyForURL failed");
	if (!duk_is_string(ctx, -1))
		child_finish('E', "FindProxyForURL returned something other"
			     " than a string");
	child_finish('A', duk_get_string(ctx, -1));
}

/* ------------------------------------------------------------------ */
/* the parent                                                          */
/* ------------------------------------------------------------------ */

/* Read the record until EOF or the deadline.  0, or -1 when late. */
static int read_record(int fd, long long deadline, char *rec, size_t *len)
{
	*len = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -1;
		if (!p.revents)
			continue;
		n = read(fd, rec + *len, RECORD_MAX - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		*len += (size_t)n;
		if (*len == RECORD_MAX)
			return 0;
	}
}

static int parent_collect(pid_t pid, int fd, const struct pac_limits *limits,
			  char **answer, char *why, size_t whysz)
{
	char rec[RECORD_MAX + 1];
	size_t len;
	int late, status = 0;

	late = read_record(fd, now_ms() + limits->time_ms, rec, &len);
	if (late)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (late) {
		snprintf(why, whysz, "the script ran longer than its budget"
			 " of %ld ms", limits->time_ms);
		return -1;
	}
	if (len == 0) {
		snprintf(why, whysz, "the script's process ended without an"
			 " answer (%s %d)", WIFSIGNALED(status) ? "signal"
			 : "status", WIFSIGNALED(status) ? WTERMSIG(status)
			 : WEXITSTATUS(status));
		return -1;
	}
	rec[len] = '\0';
	if (rec[0] != 'A') {
		snprintf(why, whysz, "%s", rec + 1);
		return -1;
	}
	*answer = strdup(rec + 1);
	if (!*answer) {
		snprintf(why, whysz, "out of memory");
		return -1;
	}
	return 0;
}

int pac_eval_run(const char *script, size_t len, const char *url,
		 const char *host, const struct pac_limits *limits,
		 char **answer, char *why, size_t whysz)
{
	int fds[2], rc;
	pid_t pid;

	*answer = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(why, whysz, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, whysz, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		/* The child keeps only the pipe (as fd 3): none of the
		 * agent's connections stays open in it while it runs. */
		if (dup2(fds[1], 3) < 0)
			_exit(1);
		close_range(4, ~0u, 0);
		child_fd = 3;
		child_bound(limits);
		child_run(script, len, url, host, limits);
		_exit(1);	/* not reached: child_run always finishes */
	}
	close(fds[1]);
	rc = parent_collect(pid, fds[0], limits, answer, why, whysz);
	close(fds[0]);
	return rc;
}

#else /* !HAVE_DUKTAPE */

int pac_eval_run(const char *script, size_t len, const char *url,
		 const char *host, const struct pac_limits *limits,
		 char **answer, char *why, size_t whysz)
{
	(void)script, (void)len, (void)url, (void)host, (void)limits;
	*answer = NULL;
	snprintf(why, whysz, "this build of proxystack has no JavaScript"
		 " engine (it was configured without duktape)");
	return -1;
}

#endif
