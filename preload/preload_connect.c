/*
 * preload_connect.c - connect() of a routed destination: the chain is
 * built with the library inside connect(), on the program's own socket.
 *
 * While this thread builds the chain, the connect() hook shows us each
 * connect the library makes (connect_note_inner); the first TCP one of
 * the program's address family is given the program's socket instead
 * (dup3 onto the library's descriptor number), so the library connects
 * and speaks through it and the options and bind() the program set
 * before connect() stay.  When the chain is transparent down to TCP
 * (direct and http-connect hops only, no byte waiting in a layer), that
 * socket is the tunnel: the program's file flags and TCP_NODELAY are
 * given back and the library's number closes with the connection.  If
 * the chain ended on another socket (the other family, a failover), the
 * proxy's socket is put in place of the program's (dup2), with the
 * program's file flags and the options it set (preload_sockopt.c; only
 * bind() is lost).
 * Otherwise (TLS to a proxy, HTTP/2, early bytes) the program gets one
 * end of a socketpair whose other end the process's relay thread
 * (preload_relay.c: one thread, one epoll set, for every relayed
 * connection) pumps to and from the channel.
 *
 * Blocking sockets: connect() returns 0 or -1 with the errno of the
 * failure (connect_errno_of).
 *
 * Non-blocking sockets: the chain is built inline for CONNECT_INLINE_MS
 * (or PROXYSTACK_RUN_INLINE_MS) at most; then connect() says EINPROGRESS
 * and the socket is writable at once.  A slower chain is handed to the
 * relay thread, which goes on building it, and the program's descriptor
 * becomes the socketpair end before connect() returns EINPROGRESS.
 * Until the chain is built that end must look
 * like a TCP socket in SYN-SENT, not readable and not writable, so that
 * poll/select/epoll wait: its send buffer is shrunk and filled with
 * filler bytes the program never sees.  Once the chain is up the thread
 * reads the filler away, which makes the end writable (the wakeup epoll
 * reports), and restores the buffer.  If the chain fails, the thread
 * records the errno for getsockopt(SO_ERROR) (preload_hooks.c answers
 * it from preload_track.c) and closes its end with the filler unread:
 * the program's end turns readable, writable, POLLERR and POLLHUP, as a
 * refused TCP socket does.  A chain that fails inline leaves the
 * program's socket shut (writable, POLLHUP) with the errno in SO_ERROR.
 * A program that reads or writes instead of asking SO_ERROR gets
 * ECONNRESET, EPIPE or end of file.
 *
 * A swap happens inside connect(), before the program can register the
 * descriptor with epoll after an EINPROGRESS; a descriptor added to an
 * epoll set before connect() loses that registration if it is swapped
 * (the set watched the old socket).  TCP-level options set on a relayed
 * socketpair end are accepted and ignored.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

/* Bytes a server that speaks first may have sent with the tunnel. */
#define EARLY_BUF 16384
/* The program's send buffer while it waits (the kernel's minimum). */
#define RELAY_WAIT_SNDBUF 4096
/*
 * How long a non-blocking connect() may build the chain itself before it
 * hands the rest to the relay thread: a proxy on the LAN answers well
 * within it, and an event loop never stalls longer than this.
 * PRELOAD_ENV_INLINE_MS sets another bound, up to CONNECT_INLINE_MAX.
 */
#define CONNECT_INLINE_MS 20
#define CONNECT_INLINE_MAX 60000

#define INNER_MAX 8

/* Sockets a chain being built on this thread connected. */
static __thread int inner_fds[INNER_MAX];
static __thread int inner_count;

/*
 * The program's socket a chain built on this thread may run on: the
 * first TCP connect of the chain in the same family connects it instead
 * of the library's socket (adopt_lib then names it too).
 */
static __thread int adopt_fd = -1;
static __thread int adopt_family;
static __thread int adopt_lib = -1;

static int is_tcp_socket(int fd)
{
	int type = -1;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_STREAM;
}

/*
 * The library's socket 'fd' becomes another number for the program's:
 * the chain then connects the program's socket, with every option and
 * the bind() the program did before connect().  The file flags are
 * shared: non-blocking while the chain is built (connect_adopt_end
 * restores the program's).
 */
static void connect_adopt(int fd, const struct sockaddr *sa)
{
	int fl;

	if (adopt_fd < 0 || adopt_lib >= 0 || !sa ||
	    sa->sa_family != adopt_family || !is_tcp_socket(fd) ||
	    (fl = fcntl(adopt_fd, F_GETFL)) < 0 ||
	    dup3(adopt_fd, fd, O_CLOEXEC) < 0)
		return;
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	adopt_lib = fd;
}

void connect_note_inner(int fd, const struct sockaddr *sa)
{
	if (inner_count < INNER_MAX)
		inner_fds[inner_count++] = fd;
	connect_adopt(fd, sa);
}

/* The chain built next on this thread may connect the program's 'fd'. */
static void connect_adopt_begin(int fd, int family)
{
	adopt_fd = fd;
	adopt_family = family;
	adopt_lib = -1;
}

/* 1 when the chain's first TCP connect was the program's socket's. */
static int connect_adopt_end(void)
{
	int adopted = adopt_lib >= 0;

	adopt_fd = adopt_lib = -1;
	return adopted;
}

/* A chain to 'url' started on this thread; NULL with *err filled. */
static ps_conn *chain_start(const char *url, ps_error *err)
{
	ps_ctx *ctx = preload_ctx();

	if (!ctx) {
		ps_error_clear(err);
		err->code = PS_ERR_CONFIG;
		snprintf(err->message, sizeof(err->message),
			 "no usable configuration (reported above)");
		return NULL;
	}
	inner_count = 0;
	return ps_conn_start(ctx, url, NULL, err);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Step 'conn' until it is established (PS_OK) or failed (its code), or
 * until 'budget_ms' passed (PS_AGAIN); -1: the chain's own deadline.
 */
static int chain_drive(ps_conn *conn, int budget_ms)
{
	long until = budget_ms >= 0 ? now_ms() + budget_ms : 0;
	struct pollfd pfd;
	ps_poll p;
	int rc, wait;

	while ((rc = ps_conn_step(conn)) == PS_AGAIN) {
		ps_conn_poll(conn, &p);
		wait = p.timeout_ms;
		if (budget_ms >= 0) {
			long left = until - now_ms();

			if (left <= 0)
				return PS_AGAIN;
			if (wait < 0 || wait > left)
				wait = (int)left;
		}
		pfd.fd = p.fd;
		pfd.events = p.events;
		poll(&pfd, p.fd >= 0 ? 1 : 0, wait);
	}
	return rc;
}

/* Make the program end look like a socket still connecting. */
static int relay_fill(struct relay *r)
{
	static const char filler[1024];
	int small = RELAY_WAIT_SNDBUF;
	socklen_t len = sizeof(r->sndbuf);
	ssize_t put;

	if (getsockopt(r->theirs, SOL_SOCKET, SO_SNDBUF, &r->sndbuf, &len) < 0 ||
	    setsockopt(r->theirs, SOL_SOCKET, SO_SNDBUF, &small,
		       sizeof(small)) < 0)
		return -1;
	/* The kernel doubles what it is given: store half back later. */
	r->sndbuf /= 2;
	for (;;) {
		put = send(r->theirs, filler, sizeof(filler),
			   MSG_DONTWAIT | MSG_NOSIGNAL);
		if (put > 0)
			r->filler += (size_t)put;
		else if (errno == EAGAIN)
			return 0;
		else if (errno != EINTR)
			return -1;
	}
}

/* What the program's socket was before connect(), given back to it. */
struct prog_socket {
	int fl, fdfl;           /* file status and descriptor flags */
	int nodelay;            /* TCP_NODELAY (direct turns it on) */
	ino_t ino;              /* the socket itself */
};

static int prog_socket_save(int fd, struct prog_socket *ps)
{
	socklen_t len = sizeof(ps->nodelay);
	struct stat st;

	ps->fl = fcntl(fd, F_GETFL);
	ps->fdfl = fcntl(fd, F_GETFD);
	if (ps->fl < 0 || ps->fdfl < 0 || fstat(fd, &st) < 0)
		return -1;
	ps->ino = st.st_ino;
	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &ps->nodelay, &len) < 0)
		ps->nodelay = 0;
	return 0;
}

/* Put 'sock' in place of the program's 'fd', its flags kept. */
static int swap_in(int fd, int sock, const struct prog_socket *ps,
		   ino_t *ino)
{
	struct stat st;

	if (dup2(sock, fd) < 0 || fcntl(fd, F_SETFL, ps->fl) < 0 ||
	    fcntl(fd, F_SETFD, ps->fdfl) < 0 || fstat(fd, &st) < 0)
		return -1;
	*ino = st.st_ino;
	return 0;
}

/* Put the program end of the pair in place of 'fd', flags kept. */
static int relay_swap_in(struct relay *r, const struct sockaddr *sa,
			 socklen_t salen, const struct prog_socket *ps,
			 enum track_state state)
{
	if (swap_in(r->fd, r->theirs, ps, &r->ino) < 0)
		return -1;
	return track_add(r->fd, r->ino, sa, salen, state);
}

static struct relay *relay_new(int fd, const char *host, unsigned port)
{
	struct relay *r = calloc(1, sizeof(*r));
	int v6 = strchr(host, ':') != NULL;

	if (!r)
		return NULL;
	r->fd = fd;
	r->theirs = r->ours = -1;
	snprintf(r->url, sizeof(r->url), v6 ? "tcp://[%s]:%u" : "tcp://%s:%u",
		 host, port);
	snprintf(r->what, sizeof(r->what),
		 v6 ? "connect to [%s]:%u" : "connect to %s:%u", host, port);
	return r;
}

/* The socketpair the relay pumps, made only when one is needed. */
static int relay_pair(struct relay *r)
{
	int sv[2];

	if (r->ours >= 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	r->theirs = sv[0];
	r->ours = sv[1];
	return 0;
}

static int connect_fail(struct relay *r, int error)
{
	relay_free(r);
	errno = error;
	return -1;
}

/* 1 when every layer is direct or http-connect: bytes pass unchanged. */
static int chain_is_transparent(const char *desc)
{
	static const char *const plain[] = { "direct", "http-connect" };
	const char *p = desc;

	while (*p) {
		size_t n = strcspn(p, " (");
		int known = 0;

		for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
			known |= n == strlen(plain[i]) && !strncmp(p, plain[i], n);
		if (!known)
			return 0;
		p = strstr(p, " -> ");
		if (!p)
			return 1;
		p += 4;
	}
	return 0;
}

/* The one socket the chain opened that is still a connected TCP socket. */
static int chain_socket(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int found = -1;

	for (int i = 0; i < inner_count; i++) {
		if (!is_tcp_socket(inner_fds[i]))
			continue;
		len = sizeof(ss);
		if (getpeername(inner_fds[i], (struct sockaddr *)&ss, &len) < 0)
			continue;
		if (found >= 0 && found != inner_fds[i])
			return -1;      /* ambiguous: relay instead */
		found = inner_fds[i];
	}
	return found;
}

/*
 * The tunnel's socket becomes the program's: its own socket when the
 * chain ran on it (file flags and TCP_NODELAY given back), else the
 * proxy's socket put in its place.  0, or -1 to relay (then any byte
 * already read from the channel is queued for the program).
 */
static int connect_hand_over(struct relay *r, const struct sockaddr *sa,
			     socklen_t salen, const struct prog_socket *ps)
{
	char early[EARLY_BUF];
	size_t n = 0;
	int sock, rc;
	struct stat st;
	ino_t ino;

	if (!chain_is_transparent(ps_conn_describe(r->conn)) ||
	    (sock = chain_socket()) < 0 || fstat(sock, &st) < 0)
		return -1;
	/* A server that speaks first (SSH, SMTP) may have been read already. */
	rc = ps_conn_read(r->conn, early, sizeof(early), &n);
	if (rc != PS_AGAIN) {
		if (rc == PS_OK && n > 0 &&
		    (relay_pair(r) < 0 ||
		     send(r->ours, early, n, MSG_NOSIGNAL) != (ssize_t)n))
			return -1;
		return -1;
	}
	if (st.st_ino == ps->ino) {
		if (fcntl(r->fd, F_SETFL, ps->fl) < 0)
			return -1;
		setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &ps->nodelay,
			   sizeof(ps->nodelay));
		ino = ps->ino;
	} else {
		/* Another socket: the program's options go with it. */
		sockopt_carry(r->fd, sock);
		if (swap_in(r->fd, sock, ps, &ino) < 0)
			return -1;
	}
	return track_add(r->fd, ino, sa, salen, TRACK_HANDED) < 0 ? -1 : 0;
}

/*
 * The chain to r->url built on this thread, on the program's own socket
 * when its family is the first hop's, for at most 'budget_ms' (-1: the
 * chain's own deadline).  PS_OK (r->conn established), PS_AGAIN (r->conn
 * still being built), or the code of the failure with *err filled.
 * *adopted: whether the chain connected the program's socket.
 */
static int connect_build(struct relay *r, int family, int budget_ms,
			 ps_error *err, int *adopted)
{
	int rc;

	preload_set_inside(1);
	connect_adopt_begin(r->fd, family);
	r->conn = chain_start(r->url, err);
	rc = r->conn ? chain_drive(r->conn, budget_ms) : err->code;
	*adopted = connect_adopt_end();
	preload_set_inside(0);
	if (rc != PS_OK && rc != PS_AGAIN && r->conn) {
		*err = *ps_conn_error(r->conn);
		ps_conn_close(r->conn);
		r->conn = NULL;
	}
	return rc;
}

/*
 * The chain failed.  Blocking: connect() fails with the errno.  Non-
 * blocking: EINPROGRESS, then the socket is writable and SO_ERROR has the
 * errno, as the kernel reports a refused connect.  A socket the chain
 * ran on is shut, so that it neither reaches the proxy nor looks usable;
 * a second connect() gets the errno too.
 */
static int connect_failed(struct relay *r, const struct sockaddr *sa,
			  socklen_t salen, const struct prog_socket *ps,
			  const ps_error *err, int adopted)
{
	int error = connect_errno_of_error(err);
	int nonblocking = ps->fl & O_NONBLOCK;

	preload_report(r->what, err);
	if (adopted || nonblocking) {
		shutdown(r->fd, SHUT_RDWR);
		fcntl(r->fd, F_SETFL, ps->fl);
		if (track_add(r->fd, ps->ino, sa, salen, TRACK_FAILED) == 0)
			track_finish(r->fd, ps->ino, TRACK_FAILED, error);
	}
	return connect_fail(r, nonblocking ? EINPROGRESS : error);
}

/*
 * Non-blocking, the chain not built within the budget: the socketpair
 * end, not yet writable, in place of the program's socket, and the
 * relay thread goes on building (on the program's old socket if the
 * chain ran on it; it is the library's alone now).
 */
static int connect_later(struct relay *r, const struct sockaddr *sa,
			 socklen_t salen, const struct prog_socket *ps)
{
	if (relay_pair(r) < 0 || relay_fill(r) < 0 ||
	    relay_swap_in(r, sa, salen, ps, TRACK_CONNECTING) < 0)
		return connect_fail(r, ENOBUFS);
	if (relay_submit(r, 1) < 0)
		return connect_fail(r, errno);
	errno = EINPROGRESS;
	return -1;
}

/* The chain is up but transforms or holds bytes: relay it. */
static int connect_relayed(struct relay *r, const struct sockaddr *sa,
			   socklen_t salen, const struct prog_socket *ps)
{
	if (relay_pair(r) < 0 ||
	    relay_swap_in(r, sa, salen, ps, TRACK_CONNECTED) < 0)
		return connect_fail(r, ENOBUFS);
	close(r->theirs);
	r->theirs = -1;
	if (relay_submit(r, 0) < 0)
		return connect_fail(r, errno);
	return 0;
}

/* The inline bound of a non-blocking connect(), in milliseconds. */
static int connect_inline_ms(void)
{
	const char *text = getenv(PRELOAD_ENV_INLINE_MS);
	char *end;
	long ms;

	if (!text || !*text)
		return CONNECT_INLINE_MS;
	ms = strtol(text, &end, 10);
	if (*end || ms < 0 || ms > CONNECT_INLINE_MAX)
		return CONNECT_INLINE_MS;
	return (int)ms;
}

int connect_routed(int fd, const char *host, unsigned port,
		   const struct sockaddr *sa, socklen_t salen)
{
	struct relay *r = relay_new(fd, host, port);
	struct prog_socket ps;
	ps_error err;
	int rc, adopted, nonblocking;

	if (!r || prog_socket_save(fd, &ps) < 0)
		return connect_fail(r, r ? EBADF : ENOMEM);
	nonblocking = ps.fl & O_NONBLOCK;
	rc = connect_build(r, sa->sa_family,
			   nonblocking ? connect_inline_ms() : -1, &err,
			   &adopted);
	if (rc == PS_AGAIN)
		return connect_later(r, sa, salen, &ps);
	if (rc != PS_OK)
		return connect_failed(r, sa, salen, &ps, &err, adopted);
	if (connect_hand_over(r, sa, salen, &ps) == 0)
		relay_free(r);  /* the conn closes its number, not the socket */
	else if (connect_relayed(r, sa, salen, &ps) < 0)
		return -1;
	if (nonblocking) {
		/* Already connected: writable at once, SO_ERROR 0. */
		errno = EINPROGRESS;
		return -1;
	}
	return 0;
}
