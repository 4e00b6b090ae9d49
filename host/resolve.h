/*
 * resolve.h - getaddrinfo on a helper thread (internal).
 *
 * The non-blocking path must never wait for DNS.  A job runs one
 * getaddrinfo on a helper thread (offload.c) that signals an eventfd when
 * done; the connection polls that fd.  The lookup is freed by whichever
 * of the thread and the connection lets go last, so a connection may be
 * closed while its lookup is still running.  An IP literal is answered
 * at once, without a thread or a descriptor.
 */
#ifndef HOST_RESOLVE_H
#define HOST_RESOLVE_H

#include <netdb.h>

struct resolve_job;

/*
 * Start resolving host:port (TCP).  IP literals are answered at once
 * (the job is done before this returns).  0, or -1 with errno.
 */
int resolve_start(const char *host, unsigned port, struct resolve_job **out);

/* The fd that becomes readable when the job is done (only while
 * resolve_result() says 1). */
int resolve_fd(const struct resolve_job *job);

/*
 * 1 while running; 0 when done: *res is the answer (owned by the job) or
 * NULL with *gai_error set (an EAI_* code).
 */
int resolve_result(struct resolve_job *job, const struct addrinfo **res,
		   int *gai_error);

/* Let go of the job (NULL-safe). */
void resolve_release(struct resolve_job *job);

#endif
