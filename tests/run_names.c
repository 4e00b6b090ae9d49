/*
 * run_names.c - the legacy resolver calls and sendmmsg() of a program
 * that knows nothing of proxystack, for tests/integration/t_run_names.sh
 * to run under `proxystack run`.
 *
 *   run_names names ROUTED DIRECT   gethostbyname2_r (AF_INET, AF_INET6),
 *                                   gethostbyname2, gethostbyname_r of
 *                                   each name: one line per call,
 *                                   "CALL NAME ADDRESS" or "CALL NAME
 *                                   error N"; ERANGE from a small buffer
 *   run_names mmsg                  sendmmsg() of three UDP datagrams:
 *                                   127.0.0.1, 192.0.2.1, 127.0.0.1;
 *                                   then one to 192.0.2.1 alone: prints
 *                                   "mmsg RESULT ERRNO" for each call
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void print_hostent(const char *call, const char *name,
			  const struct hostent *he, int error)
{
	char text[INET6_ADDRSTRLEN];

	if (!he || !he->h_addr_list[0]) {
		printf("%s %s error %d\n", call, name, error);
		return;
	}
	inet_ntop(he->h_addrtype, he->h_addr_list[0], text, sizeof(text));
	printf("%s %s %s %s\n", call, name, text, he->h_name);
}

static void lookups(const char *name)
{
	char buf[2048];
	struct hostent he, *res;
	int herr = 0, rc;

	rc = gethostbyname2_r(name, AF_INET, &he, buf, sizeof(buf), &res,
			      &herr);
	print_hostent("gethostbyname2_r/4", name, rc ? NULL : res, rc);
	rc = gethostbyname2_r(name, AF_INET6, &he, buf, sizeof(buf), &res,
			      &herr);
	print_hostent("gethostbyname2_r/6", name, rc ? NULL : res, rc);
	rc = gethostbyname_r(name, &he, buf, sizeof(buf), &res, &herr);
	print_hostent("gethostbyname_r", name, rc ? NULL : res, rc);
	print_hostent("gethostbyname2/6", name, gethostbyname2(name, AF_INET6),
		      h_errno);
	rc = gethostbyname2_r(name, AF_INET, &he, buf, 8, &res, &herr);
	printf("small-buffer %s %s\n", name, rc == ERANGE ? "ERANGE" : "other");
}

static struct sockaddr_in udp_to(const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(9) };

	inet_pton(AF_INET, ip, &sin.sin_addr);
	return sin;
}

static void mmsg(void)
{
	static const char *const to[] = { "127.0.0.1", "192.0.2.1",
					  "127.0.0.1" };
	struct sockaddr_in sin[3];
	struct mmsghdr vec[3];
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	memset(vec, 0, sizeof(vec));
	for (int i = 0; i < 3; i++) {
		sin[i] = udp_to(to[i]);
		vec[i].msg_hdr.msg_name = &sin[i];
		vec[i].msg_hdr.msg_namelen = sizeof(sin[i]);
		vec[i].msg_hdr.msg_iov = &iov;
		vec[i].msg_hdr.msg_iovlen = 1;
	}
	errno = 0;
	rc = sendmmsg(fd, vec, 3, 0);
	printf("mmsg %d %s\n", rc, rc < 0 ? strerror(errno) : "-");
	errno = 0;
	rc = sendmmsg(fd, vec + 1, 1, 0);
	printf("mmsg %d %s\n", rc, rc < 0 ? strerror(errno) : "-");
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "names")) {
		lookups(argv[2]);
		lookups(argv[3]);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "mmsg")) {
		mmsg();
		return 0;
	}
	fprintf(stderr, "usage: run_names names ROUTED DIRECT | mmsg\n");
	return 2;
}
