/*
 * preload.h - the parts of libproxystack-preload.so, the library that
 * `proxystack run` preloads into a program (internal).
 *
 *   preload_hooks.c    the interposed libc functions and the real ones
 *   preload_dns.c      remote DNS: fake addresses mapped back to names
 *   preload_track.c    the program's descriptors we connected ourselves
 *   preload_connect.c  a routed connect(): the chain, the hand-over or
 *                      the socketpair behind which it is relayed
 *   preload_relay.c    the relay thread: one per process, one epoll set,
 *                      every relayed connection a small state machine
 *   preload_sockopt.c  a program's socket options, carried over to the
 *                      proxy's socket that replaces its socket
 *   preload_errno.c    the errno a program gets for each failure
 *   preload_route.c    whether a destination goes out directly, kept
 *   preload_config.c   the process's context, [run] settings, error lines
 *
 * docs/architecture.md ("proxystack run") explains the design.
 */
#ifndef PRELOAD_PRELOAD_H
#define PRELOAD_PRELOAD_H

#include <netdb.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <proxystack.h>

/* The environment variable `proxystack run` sets to its -c DIR. */
#define PRELOAD_ENV_CONF_DIR "PROXYSTACK_RUN_CONF_DIR"
/*
 * Milliseconds a non-blocking connect() may build the chain inline
 * (0 to 60000, default 20; preload_connect.c).
 */
#define PRELOAD_ENV_INLINE_MS "PROXYSTACK_RUN_INLINE_MS"

/* ---- preload_hooks.c: the real libc functions ----------------------- */

struct preload_real {
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
};

/* The next definitions (dlsym(RTLD_NEXT)), resolved once. */
const struct preload_real *preload_real(void);

/*
 * 1 while this thread works for proxystack itself (building a chain, a
 * relay, a thread the library started from one): the hooks then step
 * aside, so the library's own connects and lookups reach libc.
 */
int preload_inside(void);
void preload_set_inside(int on);

/* ---- preload_dns.c: the fake address map ---------------------------- */

/* 240.0.0.0/4 for IPv4, 100::/64 (RFC 6666, discard-only) for IPv6. */
#define DNS_FAKE_V4_NET 0xf0000000u
#define DNS_FAKE_V4_MASK 0xf0000000u

/* A host name we would map: letters, digits, '-', '_', '.', <= 253. */
int dns_name_valid(const char *name);

/*
 * The fake address of 'name' (the same one each time, case-insensitive),
 * written to *out as a sockaddr_in or sockaddr_in6 of 'family' with
 * 'port' (host order).  0, or -1 with errno: EINVAL (bad name or
 * family), ENOSPC (the map is full), ENOMEM.  Thread-safe.
 */
int dns_fake_address(const char *name, int family, unsigned port,
		     struct sockaddr_storage *out, socklen_t *outlen);

/*
 * The name behind a fake address: 1 with 'name' filled, 0 when 'sa' is
 * not in a fake range, -1 when it is but no name was given it (in this
 * process or before its fork).  IPv4-mapped IPv6 addresses count as
 * IPv4.  Thread-safe.
 */
int dns_name_of(const struct sockaddr *sa, socklen_t len, char *name,
		size_t namesz);

/* Most names a process may map (tests lower it to check the limit). */
void dns_set_limit(size_t max_names);

/* ---- preload_track.c: descriptors we connected ---------------------- */

enum track_state {
	TRACK_CONNECTING,   /* non-blocking: the chain is being built */
	TRACK_CONNECTED,    /* a socketpair end, relayed */
	TRACK_HANDED,       /* the proxy's own TCP socket, handed over */
	TRACK_FAILED        /* 'error' waits for getsockopt(SO_ERROR) */
};

/*
 * Remember that the program's 'fd' (now the socket 'ino' of sockfs) is a
 * channel to 'peer'.  0, or -1 (ENOMEM).
 */
int track_add(int fd, ino_t ino, const struct sockaddr *peer,
	      socklen_t peerlen, enum track_state state);
/* The state of a tracked 'fd' after the chain finished. */
void track_finish(int fd, ino_t ino, enum track_state state, int error);

struct track_info {
	enum track_state state;
	int error;
	struct sockaddr_storage peer;
	socklen_t peerlen;
};

/*
 * 1 with *info filled when 'fd' is still the socket we tracked (same
 * inode: a closed and reused number is forgotten), else 0.  With
 * 'take_error', a pending error is returned once and cleared.
 */
int track_lookup(int fd, struct track_info *info, int take_error);

/* ---- preload_route.c: direct or through the stack ------------------- */

/*
 * 1 when host:port goes out directly, 0 when through the stack, -1 when
 * there is no usable configuration (reported; fail closed).  Port 0
 * (not known yet) asks for the route of port 1: a name routed there
 * but direct on its real port is resolved at connect().  Answers are
 * kept a few seconds.  Thread-safe.
 */
int route_is_direct(const char *host, unsigned port);

/* ---- preload_config.c: context, settings, messages ------------------ */

/* The process's context, created on first use; NULL if it failed. */
ps_ctx *preload_ctx(void);

/* 1 when [run] udp = refuse. */
int preload_udp_refused(void);

/*
 * One line "proxystack run: WHAT: CODE: MESSAGE (hint: HINT)" to stderr
 * or [run] log.  Control bytes are replaced.  Thread-safe.
 */
void preload_report(const char *what, const ps_error *err);
void preload_reportf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* ---- preload_sockopt.c: options carried to a replacing socket -------- */

/*
 * Copy the options a program sets before connect() from its socket
 * 'from' to the socket 'to' that will take its place (the list is in
 * preload_sockopt.c).  Best effort: nothing fails.
 */
void sockopt_carry(int from, int to);

/* ---- preload_connect.c, preload_errno.c: routed connects ------------ */

/* A connection connect() could not hand over as a socket: relayed. */
struct relay {
	ps_conn *conn;          /* the channel (being built, or built) */
	int fd;                 /* the program's descriptor (its number) */
	ino_t ino;              /* ... and its socket, for preload_track */
	int ours;               /* our end of the socketpair */
	int theirs;             /* a copy of the program's end, or -1 */
	size_t filler;          /* bytes to read away before relaying */
	int sndbuf;             /* the program end's SO_SNDBUF to restore */
	char url[300];
	char what[300];         /* "connect to HOST:PORT" for reports */
};

/*
 * Hand 'r' to the process's relay thread (preload_relay.c), started on
 * first use and again in a forked child.  'building': r->conn is still
 * being built and the program's end holds r->filler bytes of filler
 * (the thread finishes the chain, then reads them away); otherwise the
 * channel is up and the thread only pumps.  0: the thread owns 'r' and
 * frees it.  -1 with errno (ENOMEM, EAGAIN: no thread): 'r' is still
 * the caller's.  Thread-safe.
 */
int relay_submit(struct relay *r, int building);

/* Close everything 'r' holds and free it (NULL: nothing). */
void relay_free(struct relay *r);

/*
 * Connect the program's TCP socket 'fd' to host:port through the stack.
 * 'sa' is the address the program asked for (what getpeername reports).
 * Returns what connect() returns, errno set as the kernel would.
 */
int connect_routed(int fd, const char *host, unsigned port,
		   const struct sockaddr *sa, socklen_t salen);

/*
 * Called by the connect() hook for connects made while working for
 * proxystack: the sockets a chain built on this thread opened.
 */
void connect_note_inner(int fd, const struct sockaddr *sa);

/* The errno a program expects for a ps_code. */
int connect_errno_of(int code);

/*
 * The same for a whole error: a proxy's 502 or 503 is ECONNREFUSED, its
 * 504 ETIMEDOUT, other refusals (403) EACCES.
 */
int connect_errno_of_error(const ps_error *err);

#endif /* PRELOAD_PRELOAD_H */
