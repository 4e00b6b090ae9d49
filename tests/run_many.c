/*
 * run_many.c - many connections from one process, for
 * tests/integration/t_run_relay.sh to run under `proxystack run`.  It
 * knows nothing of proxystack.
 *
 *   run_many [-n] [-f] [-d BYTES | -D BYTES] HOST PORT COUNT MAX_NEW_THREADS
 *
 * Counts its threads (/proc/self/task), opens COUNT TCP connections to
 * the echo server at HOST:PORT and keeps them all open: blocking
 * connects, or with -n non-blocking ones waited for with one epoll set.
 * With all of them open it counts its threads again: at most
 * MAX_NEW_THREADS more than before.  Then each connection sends its own
 * line and must get that line back.  -d: then every connection at once
 * sends BYTES bytes of its own and reads them back, shuts its sending
 * side down, and must then see the end of stream (the server closes
 * when it sees ours).  -D: the same without the half-close.  -f: after
 * the lines, fork(); the child opens
 * one more connection, echoes a line and exits, and the parent checks
 * the child's status.  One "ok - " or "not ok - " line per check on
 * stdout; exit 0 when all passed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_check.h"

#define MAX_CONNS 1000
#define WAIT_MS 20000

/* The number of threads of this process. */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int connect_one(const struct addrinfo *ai, int nonblocking)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
					  (nonblocking ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
	    (nonblocking && errno == EINPROGRESS))
		return fd;
	close(fd);
	return -1;
}

/*
 * Wait with one epoll set until every fd is writable; the number that
 * failed (SO_ERROR) or never were, each said on stderr.
 */
static int wait_all_connected(const int *fds, int count)
{
	struct epoll_event ev, got[64];
	int ep = epoll_create1(EPOLL_CLOEXEC), left = count, bad = 0, n, err;
	socklen_t len;

	if (ep < 0)
		return -1;
	for (int i = 0; i < count; i++) {
		ev.events = EPOLLOUT;
		ev.data.u32 = (unsigned)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			bad++, left--;
	}
	while (left > 0 && ((n = epoll_wait(ep, got, 64, WAIT_MS)) > 0 ||
			    (n < 0 && errno == EINTR))) {
		for (int i = 0; i < n; i++) {
			int fd = fds[got[i].data.u32];

			len = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			if (err)
				fprintf(stderr, "run_many: fd %d (events %#x): "
					"SO_ERROR %s\n", fd, got[i].events,
					strerror(err));
			bad += err != 0;
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
			left--;
		}
	}
	if (left)
		fprintf(stderr, "run_many: %d never writable\n", left);
	close(ep);
	return bad + left;
}

/* Send "line N" on fd: 1 when exactly that came back, else 0 (why: stderr). */
static int echo_line(int fd, int n)
{
	char line[64], buf[64];
	int len = snprintf(line, sizeof(line), "line %d of this process\n", n);
	ssize_t got = 0, r;
	const char *why = NULL;

	if (send(fd, line, (size_t)len, MSG_NOSIGNAL) != len)
		why = "send";
	while (!why && got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, WAIT_MS) != 1)
			why = "poll (no echo within the time)";
		else if ((r = read(fd, buf + got, sizeof(buf) - (size_t)got)) < 0)
			why = "read";
		else if (r == 0)
			why = "read: end of stream";
		else
			got += r;
	}
	if (why)
		fprintf(stderr, "run_many: echo %d: %s: %s\n", n, why,
			strerror(errno));
	return !why && !memcmp(buf, line, (size_t)len);
}

/* A connection's byte number 'k', different on every connection. */
static unsigned char pattern(int conn, size_t k)
{
	return (unsigned char)(conn * 31 + k * 7 + (k >> 9));
}

struct bulk {
	size_t sent, got;
	int shut, eof, bad;
};

/* One step of connection 'i' of the bulk exchange; 1 when it is over. */
static int half_close = 1;

static int bulk_step(int fd, int i, struct bulk *b, size_t bytes, short ready)
{
	unsigned char buf[8192];
	ssize_t n;

	if ((ready & POLLOUT) && b->sent < bytes) {
		size_t len = bytes - b->sent < sizeof(buf) ? bytes - b->sent
							  : sizeof(buf);

		for (size_t k = 0; k < len; k++)
			buf[k] = pattern(i, b->sent + k);
		n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			b->bad = 1;
		if (n > 0)
			b->sent += (size_t)n;
	}
	if (ready & (POLLIN | POLLHUP | POLLERR)) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			b->eof = 1;
		else if (n < 0 && errno != EAGAIN)
			b->bad = 1;
		for (ssize_t k = 0; k < n; k++)
			b->bad |= b->got >= bytes ||
				  buf[k] != pattern(i, b->got + (size_t)k);
		if (n > 0)
			b->got += (size_t)n;
	}
	if (!half_close && b->got == bytes)
		return 1;
	if (!b->shut && b->got == bytes) {
		b->shut = 1;
		b->bad |= shutdown(fd, SHUT_WR) < 0;
	}
	return b->bad || b->eof;
}

/*
 * Every connection sends 'bytes' and reads them back at the same time,
 * then half-closes and waits for the end of stream.  The number of
 * connections that did all of it.
 */
static int bulk_all(const int *fds, int count, size_t bytes, int *echoed)
{
	struct pollfd pfd[MAX_CONNS];
	struct bulk b[MAX_CONNS];
	int left = count, good = 0;

	memset(b, 0, sizeof(b));
	for (int i = 0; i < count; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN | POLLOUT;
	}
	*echoed = 0;
	while (left > 0 && poll(pfd, (nfds_t)count, WAIT_MS) > 0) {
		for (int i = 0; i < count; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			if (!bulk_step(fds[i], i, &b[i], bytes, pfd[i].revents))
				pfd[i].events = b[i].sent < bytes ? POLLIN | POLLOUT
								  : POLLIN;
			else {
				good += !b[i].bad && b[i].got == bytes;
				pfd[i].fd = -1;
				left--;
			}
		}
	}
	for (int i = 0; i < count; i++)
		*echoed += b[i].got == bytes;
	return good;
}

/* fork(): the child opens its own connection, relayed by its own thread. */
static void check_fork(const struct addrinfo *ai, int nonblocking)
{
	int status = -1, fd;
	char detail[96];
	pid_t pid = fork();

	if (pid == 0) {
		fd = connect_one(ai, nonblocking);
		if (fd < 0)
			perror("run_many: the child's connect");
		if (fd >= 0 && nonblocking && wait_all_connected(&fd, 1) != 0)
			_exit(3);
		_exit(fd < 0 ? 2 : echo_line(fd, 4242) ? 0 : 1);
	}
	if (pid > 0 && waitpid(pid, &status, 0) != pid)
		status = -1;
	snprintf(detail, sizeof(detail), "the child's status %#x (exit 2: "
		 "connect, 3: SO_ERROR, 1: echo)", (unsigned)status);
	check(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "a child after fork() connects and echoes", detail);
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int nonblocking = 0, do_fork = 0, opt, count, max_new, before, during;
	size_t bulk_bytes = 0;
	int fds[MAX_CONNS], opened = 0, echoed = 0;
	char detail[128];

	while ((opt = getopt(argc, argv, "nfd:D:")) != -1) {
		switch (opt) {
		case 'n':
			nonblocking = 1;
			break;
		case 'f':
			do_fork = 1;
			break;
		case 'D':
			half_close = 0;
			/* fall through */
		case 'd':
			bulk_bytes = strtoul(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 4 || (count = atoi(argv[optind + 2])) <= 0 ||
	    count > MAX_CONNS) {
		fprintf(stderr, "usage: run_many [-n] [-f] [-d BYTES | -D BYTES] "
				"HOST PORT COUNT MAX_NEW_THREADS\n");
		return 2;
	}
	max_new = atoi(argv[optind + 3]);
	if (getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai) != 0) {
		check(0, "getaddrinfo", argv[optind]);
		return 1;
	}
	before = thread_count();
	for (; opened < count; opened++)
		if ((fds[opened] = connect_one(ai, nonblocking)) < 0)
			break;
	snprintf(detail, sizeof(detail), "%d of %d", opened, count);
	check(opened == count, "every connect() started", detail);
	if (nonblocking) {
		int bad = wait_all_connected(fds, opened);

		snprintf(detail, sizeof(detail), "%d failed or timed out", bad);
		check(bad == 0, "epoll: every connection writable, SO_ERROR 0",
		      detail);
	}
	during = thread_count();
	snprintf(detail, sizeof(detail), "%d threads before, %d with %d open",
		 before, during, opened);
	check(during >= 0 && during - before <= max_new,
	      "thread count bounded while all are open", detail);
	for (int i = 0; i < opened; i++)
		echoed += echo_line(fds[i], i);
	snprintf(detail, sizeof(detail), "%d of %d", echoed, opened);
	check(echoed == count, "every connection echoes its own line", detail);
	/*
	 * Fork while the relay thread is idle: under the sanitizers, a fork
	 * while another thread is inside the ASan allocator (a relay tearing
	 * connections down) can leave the child blocked on its lock.
	 */
	if (do_fork)
		check_fork(ai, nonblocking);
	if (bulk_bytes) {
		int back, good = bulk_all(fds, opened, bulk_bytes, &back);

		snprintf(detail, sizeof(detail),
			 "%d of %d (%d had all their bytes back)", good, opened,
			 back);
		check(good == count, half_close ?
		      "all at once: every connection's bytes back, then its "
		      "half-close answered by end of stream" :
		      "all at once: every connection's bytes back", detail);
	}
	for (int i = 0; i < opened; i++)
		close(fds[i]);
	freeaddrinfo(ai);
	return failures ? 1 : 0;
}
