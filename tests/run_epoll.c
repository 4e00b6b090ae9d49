/*
 * run_epoll.c - a program with its own socket code, as agents have, for
 * tests/integration/t_run_epoll.sh to run under `proxystack run`.  It
 * knows nothing of proxystack.
 *
 *   run_epoll [-b | -s] HOST PORT EXPECT
 *
 * Resolves HOST with getaddrinfo(), opens a TCP socket and connects:
 * non-blocking (the default) waits with epoll for writability, then
 * reads SO_ERROR; -b connects a blocking socket.  -s: the connect is
 * slow (a proxy that answers late), so the socket must be neither
 * readable nor writable right after EINPROGRESS.  EXPECT is "ok" (then
 * it sends a line to the echo server at HOST:PORT and checks the echo,
 * and that getpeername() names the address it connected to) or the
 * errno it must get ("ECONNREFUSED", "EACCES", ...).  One "ok - " or
 * "not ok - " line per check on stdout; exit 0 when all passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "run_check.h"

static const char *errno_name(int e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ 0, "ok" }, { ECONNREFUSED, "ECONNREFUSED" },
		{ EACCES, "EACCES" }, { ETIMEDOUT, "ETIMEDOUT" },
		{ EHOSTUNREACH, "EHOSTUNREACH" }, { ECONNRESET, "ECONNRESET" },
		{ ENETUNREACH, "ENETUNREACH" }, { EINPROGRESS, "EINPROGRESS" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].name;
	return strerror(e);
}

/*
 * Wait for writability with epoll; the SO_ERROR it then reports.  With
 * 'slow', first check that nothing is ready yet.
 */
static int wait_connected(int fd, int slow)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd }, got;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT | POLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), n, err = -1;
	socklen_t len = sizeof(err);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		check(0, "epoll_ctl", strerror(errno));
		return -1;
	}
	if (slow) {
		n = epoll_wait(ep, &got, 1, 0);
		check(n == 0, "not writable right after EINPROGRESS (epoll)",
		      "epoll_wait reported the socket ready at once");
		check(poll(&pfd, 1, 0) == 0,
		      "not readable or writable yet (poll)",
		      "poll reported the socket ready at once");
	}
	n = epoll_wait(ep, &got, 1, 10000);
	check(n == 1 && (got.events & EPOLLOUT), "epoll reports writable",
	      n == 1 ? "no EPOLLOUT" : "timed out after 10 s");
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	close(ep);
	return err;
}

static int echo_once(int fd)
{
	static const char line[] = "hello through the stack\n";
	char buf[64];
	size_t got = 0;
	ssize_t n;

	if (write(fd, line, sizeof(line) - 1) != (ssize_t)sizeof(line) - 1)
		return -1;
	while (got < sizeof(line) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 10000) != 1)
			return -1;
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return got == sizeof(line) - 1 && !memcmp(buf, line, got) ? 0 : -1;
}

static void check_peer(int fd, const struct addrinfo *ai)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	check(getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
		      len == ai->ai_addrlen &&
		      !memcmp(&ss, ai->ai_addr, ai->ai_addrlen),
	      "getpeername names the address connected to",
	      "another address or an error");
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int blocking = argc > 1 && !strcmp(argv[1], "-b");
	int slow = argc > 1 && !strcmp(argv[1], "-s");
	const char *host, *port, *expect;
	int fd, rc, err;

	if (argc != 4 + blocking + slow) {
		fprintf(stderr, "usage: run_epoll [-b | -s] HOST PORT EXPECT\n");
		return 2;
	}
	host = argv[1 + blocking + slow];
	port = argv[2 + blocking + slow];
	expect = argv[3 + blocking + slow];
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		check(0, "getaddrinfo", gai_strerror(rc));
		return 1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
				   (blocking ? 0 : SOCK_NONBLOCK), 0);
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	err = rc == 0 ? 0 : errno;
	if (!blocking) {
		check(rc < 0 && err == EINPROGRESS,
		      "non-blocking connect says EINPROGRESS", errno_name(err));
		if (rc < 0 && err == EINPROGRESS)
			err = wait_connected(fd, slow);
	}
	check(!strcmp(errno_name(err), expect), "the connect's result",
	      errno_name(err));
	if (!strcmp(expect, "ok") && err == 0) {
		check_peer(fd, ai);
		if (!blocking)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		check(echo_once(fd) == 0, "a line echoed", "no or wrong echo");
	}
	close(fd);
	freeaddrinfo(ai);
	return failures ? 1 : 0;
}
