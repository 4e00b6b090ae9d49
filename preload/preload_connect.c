/*
 * preload_connect.c - connect() of a routed destination: the chain is
 * built with the library, and the program gets its own descriptor back,
 * now one end of a socketpair whose other end a relay thread pumps to
 * and from the channel.
 *
 * Blocking sockets: the chain is built in connect() itself, which
 * returns 0 or -1 with the errno of the failure (connect_errno_of).
 * When the chain is transparent down to TCP (direct and http-connect
 * hops only, no byte waiting in a layer), the proxy's own socket is
 * handed over instead (dup2, the program's file flags kept): no relay,
 * no copy.  The library builds it on this thread, so the connect() hook
 * sees it opened (connect_note_inner).
 *
 * Non-blocking sockets: connect() swaps the socketpair in at once and
 * returns EINPROGRESS; the relay thread builds the chain.  Until it is
 * built the program's end must look like a TCP socket in SYN-SENT, not
 * readable and not writable, so that poll/select/epoll wait: its send
 * buffer is shrunk and filled with filler bytes the program never sees.
 * Once the chain is up the thread reads the filler away, which makes the
 * end writable (the wakeup epoll reports), and restores the buffer.  If
 * the chain fails, the thread records the errno for getsockopt(SO_ERROR)
 * (preload_hooks.c answers it from preload_track.c) and closes its end
 * with the filler unread: the program's end turns readable, writable,
 * POLLERR and POLLHUP, as a refused TCP socket does.  A program that
 * reads or writes instead of asking SO_ERROR gets ECONNRESET or EPIPE.
 *
 * The swap happens inside connect(), before the program can register
 * the descriptor with epoll after an EINPROGRESS; a descriptor added to
 * an epoll set before connect() loses that registration (the set
 * watched the old socket).  Socket options set before connect() stay on
 * the old socket; TCP-level ones set after it are accepted and ignored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload.h"

#define RELAY_BUF 16384
/* The program's send buffer while it waits (the kernel's minimum). */
#define RELAY_WAIT_SNDBUF 4096

struct relay {
	ps_conn *conn;          /* NULL until the thread built it */
	int fd;                 /* the program's descriptor (its number) */
	ino_t ino;              /* ... and its socket, for preload_track */
	int ours;               /* our end of the socketpair */
	int theirs;             /* a copy of the program's end, or -1 */
	size_t filler;          /* bytes to read away before relaying */
	int sndbuf;             /* the program end's SO_SNDBUF to restore */
	char url[300];
	char what[300];         /* "connect to HOST:PORT" for reports */
};

#define INNER_MAX 8

/* Sockets a chain being built on this thread connected. */
static __thread int inner_fds[INNER_MAX];
static __thread int inner_count;

void connect_note_inner(int fd)
{
	if (inner_count < INNER_MAX)
		inner_fds[inner_count++] = fd;
}

static void relay_free(struct relay *r)
{
	if (r->ours >= 0)
		close(r->ours);
	if (r->theirs >= 0)
		close(r->theirs);
	ps_conn_close(r->conn);
	free(r);
}

/* The chain to r->url, built on this thread; NULL with *err filled. */
static ps_conn *relay_build(const char *url, ps_error *err)
{
	ps_ctx *ctx = preload_ctx();
	ps_conn *conn;
	ps_poll p;
	int rc;

	if (!ctx) {
		ps_error_clear(err);
		err->code = PS_ERR_CONFIG;
		snprintf(err->message, sizeof(err->message),
			 "no usable configuration (reported above)");
		return NULL;
	}
	inner_count = 0;
	conn = ps_conn_start(ctx, url, NULL, err);
	if (!conn)
		return NULL;
	while ((rc = ps_conn_step(conn)) == PS_AGAIN) {
		struct pollfd pfd;

		ps_conn_poll(conn, &p);
		pfd.fd = p.fd;
		pfd.events = p.events;
		poll(&pfd, p.fd >= 0 ? 1 : 0, p.timeout_ms);
	}
	if (rc != PS_OK) {
		*err = *ps_conn_error(conn);
		ps_conn_close(conn);
		return NULL;
	}
	return conn;
}

/* ---- the relay --------------------------------------------------------- */

struct pump {
	char up[RELAY_BUF], down[RELAY_BUF];
	size_t up_len, up_off, down_len, down_off;
	int prog_eof, peer_eof, up_shut, dead;
	short conn_events, our_events;
	int conn_fd;
};

/* Note what the channel waits for after a PS_AGAIN. */
static void pump_wait_conn(struct pump *p, ps_conn *conn)
{
	ps_poll w;

	ps_conn_poll(conn, &w);
	if (w.fd >= 0) {
		p->conn_fd = w.fd;
		p->conn_events |= w.events;
	}
}

/* Program to channel; 1 when something moved. */
static int pump_up(struct pump *p, struct relay *r)
{
	size_t n;
	ssize_t got;
	int rc, moved = 0;

	if (!p->prog_eof && p->up_len == 0) {
		got = recv(r->ours, p->up, sizeof(p->up), MSG_DONTWAIT);
		if (got > 0) {
			p->up_len = (size_t)got;
			p->up_off = 0;
			moved = 1;
		} else if (got == 0) {
			p->prog_eof = moved = 1;
		} else if (errno != EAGAIN && errno != EINTR) {
			p->dead = 1;
		} else {
			p->our_events |= POLLIN;
		}
	}
	if (p->up_len > p->up_off) {
		rc = ps_conn_write(r->conn, p->up + p->up_off,
				   p->up_len - p->up_off, &n);
		if (rc == PS_OK) {
			p->up_off += n;
			if (p->up_off == p->up_len)
				p->up_len = p->up_off = 0;
			moved = 1;
		} else if (rc == PS_AGAIN) {
			pump_wait_conn(p, r->conn);
		} else {
			p->dead = 1;
		}
	}
	if (p->prog_eof && p->up_len == 0 && !p->up_shut) {
		rc = ps_conn_shutdown_write(r->conn);
		if (rc == PS_OK)
			p->up_shut = moved = 1;
		else if (rc == PS_AGAIN)
			pump_wait_conn(p, r->conn);
		else
			p->dead = 1;
	}
	return moved;
}

/* Channel to program; 1 when something moved. */
static int pump_down(struct pump *p, struct relay *r)
{
	size_t n;
	ssize_t put;
	int rc, moved = 0;

	if (!p->peer_eof && p->down_len == 0) {
		rc = ps_conn_read(r->conn, p->down, sizeof(p->down), &n);
		if (rc == PS_OK && n > 0) {
			p->down_len = n;
			p->down_off = 0;
			moved = 1;
		} else if (rc == PS_OK) {
			p->peer_eof = moved = 1;
			shutdown(r->ours, SHUT_WR);
		} else if (rc == PS_AGAIN) {
			pump_wait_conn(p, r->conn);
		} else {
			p->dead = 1;
		}
	}
	if (p->down_len > p->down_off) {
		put = send(r->ours, p->down + p->down_off,
			   p->down_len - p->down_off,
			   MSG_DONTWAIT | MSG_NOSIGNAL);
		if (put > 0) {
			p->down_off += (size_t)put;
			if (p->down_off == p->down_len)
				p->down_len = p->down_off = 0;
			moved = 1;
		} else if (put < 0 && (errno == EAGAIN || errno == EINTR)) {
			p->our_events |= POLLOUT;
		} else {
			p->dead = 1;    /* the program closed its end */
		}
	}
	return moved;
}

static void relay_pump(struct relay *r)
{
	struct pump *p = calloc(1, sizeof(*p));
	struct pollfd pfd[2];
	int moved;

	if (!p)
		return;
	while (!p->dead && !(p->peer_eof && p->down_len == 0 &&
			     (p->up_shut || p->prog_eof))) {
		p->conn_events = p->our_events = 0;
		p->conn_fd = -1;
		moved = pump_up(p, r);
		moved |= pump_down(p, r);
		if (moved || p->dead)
			continue;
		pfd[0].fd = r->ours;
		pfd[0].events = p->our_events;
		pfd[1].fd = p->conn_fd;
		pfd[1].events = p->conn_events;
		if (poll(pfd, p->conn_fd >= 0 ? 2 : 1, -1) < 0 &&
		    errno != EINTR)
			break;
	}
	free(p);
}

/* Read the filler away: the program's end turns writable. */
static int relay_release(struct relay *r)
{
	char sink[4096];
	ssize_t got;

	while (r->filler > 0) {
		got = recv(r->ours, sink,
			   r->filler < sizeof(sink) ? r->filler : sizeof(sink),
			   0);
		if (got == 0 || (got < 0 && errno != EINTR))
			return -1;
		if (got > 0)
			r->filler -= (size_t)got;
	}
	setsockopt(r->theirs, SOL_SOCKET, SO_SNDBUF, &r->sndbuf,
		   sizeof(r->sndbuf));
	close(r->theirs);
	r->theirs = -1;
	return 0;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	ps_error err;

	preload_set_inside(1);
	if (!r->conn) {
		r->conn = relay_build(r->url, &err);
		if (!r->conn) {
			track_finish(r->fd, r->ino, TRACK_FAILED,
				     connect_errno_of_error(&err));
			preload_report(r->what, &err);
			relay_free(r);  /* filler unread: ECONNRESET, HUP */
			return NULL;
		}
		track_finish(r->fd, r->ino, TRACK_CONNECTED, 0);
		if (relay_release(r) < 0) {
			relay_free(r);
			return NULL;
		}
	}
	relay_pump(r);
	relay_free(r);
	return NULL;
}

/* ---- connect() --------------------------------------------------------- */

static int relay_start(struct relay *r)
{
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, relay_main, r);
	pthread_attr_destroy(&attr);
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

/* Put the program end of the pair in place of 'fd', flags kept. */
static int relay_swap_in(struct relay *r, const struct sockaddr *sa,
			 socklen_t salen, enum track_state state)
{
	int fl = fcntl(r->fd, F_GETFL), fdfl = fcntl(r->fd, F_GETFD);
	struct stat st;

	if (fl < 0 || fdfl < 0 || dup2(r->theirs, r->fd) < 0 ||
	    fcntl(r->fd, F_SETFL, fl) < 0 || fcntl(r->fd, F_SETFD, fdfl) < 0 ||
	    fstat(r->fd, &st) < 0)
		return -1;
	r->ino = st.st_ino;
	return track_add(r->fd, r->ino, sa, salen, state);
}

static struct relay *relay_new(int fd, const char *host, unsigned port)
{
	struct relay *r = calloc(1, sizeof(*r));
	int sv[2];
	int v6 = strchr(host, ':') != NULL;

	if (!r)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(r);
		return NULL;
	}
	r->fd = fd;
	r->theirs = sv[0];
	r->ours = sv[1];
	snprintf(r->url, sizeof(r->url), v6 ? "tcp://[%s]:%u" : "tcp://%s:%u",
		 host, port);
	snprintf(r->what, sizeof(r->what),
		 v6 ? "connect to [%s]:%u" : "connect to %s:%u", host, port);
	return r;
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
	int found = -1, type;

	for (int i = 0; i < inner_count; i++) {
		len = sizeof(type);
		if (getsockopt(inner_fds[i], SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
		    type != SOCK_STREAM)
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
 * Hand the proxy's socket over to the program: 0, or -1 to relay (then
 * any byte already read from the channel is queued for the program).
 */
static int connect_hand_over(struct relay *r, const struct sockaddr *sa,
			     socklen_t salen)
{
	char early[RELAY_BUF];
	size_t n = 0;
	int sock, rc, fl, fdfl;
	struct stat st;

	if (!chain_is_transparent(ps_conn_describe(r->conn)) ||
	    (sock = chain_socket()) < 0)
		return -1;
	/* A server that speaks first (SSH, SMTP) may have been read already. */
	rc = ps_conn_read(r->conn, early, sizeof(early), &n);
	if (rc != PS_AGAIN) {
		if (rc == PS_OK && n > 0 &&
		    send(r->ours, early, n, MSG_NOSIGNAL) != (ssize_t)n)
			return -1;
		return -1;
	}
	fl = fcntl(r->fd, F_GETFL);
	fdfl = fcntl(r->fd, F_GETFD);
	if (fl < 0 || fdfl < 0 || dup2(sock, r->fd) < 0 ||
	    fcntl(r->fd, F_SETFL, fl) < 0 || fcntl(r->fd, F_SETFD, fdfl) < 0 ||
	    fstat(r->fd, &st) < 0)
		return -1;
	return track_add(r->fd, st.st_ino, sa, salen, TRACK_HANDED) < 0 ? -1 : 0;
}

int connect_routed(int fd, const char *host, unsigned port,
		   const struct sockaddr *sa, socklen_t salen)
{
	struct relay *r = relay_new(fd, host, port);
	int fl = fcntl(fd, F_GETFL);
	ps_error err;

	if (!r || fl < 0)
		return connect_fail(r, r ? EBADF : ENOMEM);
	if (fl & O_NONBLOCK) {
		if (relay_fill(r) < 0 ||
		    relay_swap_in(r, sa, salen, TRACK_CONNECTING) < 0)
			return connect_fail(r, ENOBUFS);
		if (relay_start(r) != 0)
			return connect_fail(r, EAGAIN);
		errno = EINPROGRESS;
		return -1;
	}
	preload_set_inside(1);
	r->conn = relay_build(r->url, &err);
	preload_set_inside(0);
	if (!r->conn) {
		preload_report(r->what, &err);
		return connect_fail(r, connect_errno_of_error(&err));
	}
	if (connect_hand_over(r, sa, salen) == 0) {
		relay_free(r);  /* the conn closes its number, not the socket */
		return 0;
	}
	if (relay_swap_in(r, sa, salen, TRACK_CONNECTED) < 0)
		return connect_fail(r, ENOBUFS);
	close(r->theirs);
	r->theirs = -1;
	if (relay_start(r) != 0)
		return connect_fail(r, EAGAIN);
	return 0;
}
