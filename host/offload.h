/*
 * offload.h - one blocking call on a helper thread (internal).
 *
 * The connecting thread never blocks (module.h: a layer never waits), yet
 * some libraries only offer calls that do: getaddrinfo(), and GSSAPI's
 * gss_init_sec_context(), which sends its Kerberos request to the KDC and
 * waits for the answer.  A job runs one such call, work(arg), on a
 * detached thread and signals an eventfd when it has returned; the
 * connection polls that fd.
 *
 * Ownership of 'arg' follows one rule: from offload_start() it is the
 * job's, and it comes back to the starter only through offload_take()
 * after the work has returned.  Otherwise, when both the thread and the
 * starter have let go (offload_release()), abandon(arg) is called exactly
 * once, on whichever thread lets go last: a connection may be closed
 * while its work still runs, and nobody waits for it.
 */
#ifndef HOST_OFFLOAD_H
#define HOST_OFFLOAD_H

struct offload_job;

/*
 * Start work(arg) on a helper thread that blocks every signal (the
 * program's handlers never run on it).  abandon may be NULL (nothing to
 * free).  0 with *out set, or -1 with errno (ENOMEM, EAGAIN: no thread,
 * EMFILE: no descriptor); on failure 'arg' is still the caller's and
 * nothing was called.
 */
int offload_start(void (*work)(void *arg), void (*abandon)(void *arg),
		  void *arg, struct offload_job **out);

/* The fd that becomes readable when the work has returned. */
int offload_fd(const struct offload_job *job);

/* 1 once the work has returned. */
int offload_done(const struct offload_job *job);

/* The argument the job was started with (to match a caller's). */
const void *offload_arg(const struct offload_job *job);

/*
 * After offload_done(): 'arg' is the caller's again, and the job is
 * freed (do not use it afterwards; abandon is never called).
 */
void offload_take(struct offload_job *job);

/* Let go without taking 'arg' back (see above).  NULL-safe. */
void offload_release(struct offload_job *job);

#endif
