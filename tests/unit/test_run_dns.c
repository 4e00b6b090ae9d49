/*
 * test_run_dns.c - the fake-DNS map of `proxystack run`
 * (preload/preload_dns.c): stable addresses per name in 240.0.0.0/4 and
 * 100::/64, the way back from an address to its name, what is not ours,
 * names refused, the limit, threads and fork.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "preload.h"

static void addr_text(const struct sockaddr_storage *ss, char *out,
		      size_t n, unsigned *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)n);
		*port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, out, (socklen_t)n);
		*port = ntohs(sin6->sin6_port);
	}
}

/* The name behind 'text' (an address literal), or "" / "?" */
static int name_of_text(const char *text, char *name, size_t n)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, text, &sin.sin_addr) == 1)
		return dns_name_of((struct sockaddr *)&sin, sizeof(sin), name,
				   n);
	if (inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1)
		return dns_name_of((struct sockaddr *)&sin6, sizeof(sin6), name,
				   n);
	return -2;
}

static void test_stable_addresses(void)
{
	struct sockaddr_storage a, b, c;
	socklen_t la, lb, lc;
	char text[64], name[256];
	unsigned port;

	CHECK_INT(dns_fake_address("mqtt.example.com", AF_INET, 8883, &a, &la),
		  0);
	CHECK_INT(la, sizeof(struct sockaddr_in));
	addr_text(&a, text, sizeof(text), &port);
	CHECK_STR(text, "240.0.0.1");
	CHECK_INT(port, 8883);
	/* The same name (any case) gets the same address again. */
	CHECK_INT(dns_fake_address("MQTT.Example.COM", AF_INET, 1, &b, &lb), 0);
	addr_text(&b, text, sizeof(text), &port);
	CHECK_STR(text, "240.0.0.1");
	CHECK_INT(dns_fake_address("other.example.com", AF_INET, 0, &c, &lc),
		  0);
	addr_text(&c, text, sizeof(text), &port);
	CHECK_STR(text, "240.0.0.2");
	/* IPv6: the same index in 100::/64. */
	CHECK_INT(dns_fake_address("other.example.com", AF_INET6, 443, &c, &lc),
		  0);
	CHECK_INT(lc, sizeof(struct sockaddr_in6));
	addr_text(&c, text, sizeof(text), &port);
	CHECK_STR(text, "100::2");
	CHECK_INT(port, 443);
	/* And back, under the first spelling it was given. */
	CHECK_INT(dns_name_of((struct sockaddr *)&a, la, name, sizeof(name)), 1);
	CHECK_STR(name, "mqtt.example.com");
	CHECK_INT(name_of_text("100::2", name, sizeof(name)), 1);
	CHECK_STR(name, "other.example.com");
	CHECK_INT(name_of_text("::ffff:240.0.0.2", name, sizeof(name)), 1);
	CHECK_STR(name, "other.example.com");
}

static void test_not_ours(void)
{
	char name[256] = "";

	/* Outside the ranges: not fake. */
	CHECK_INT(name_of_text("10.1.2.3", name, sizeof(name)), 0);
	CHECK_INT(name_of_text("127.0.0.1", name, sizeof(name)), 0);
	CHECK_INT(name_of_text("239.255.255.255", name, sizeof(name)), 0);
	CHECK_INT(name_of_text("::1", name, sizeof(name)), 0);
	CHECK_INT(name_of_text("2001:db8::1", name, sizeof(name)), 0);
	CHECK_INT(name_of_text("100:0:0:1::1", name, sizeof(name)), 0);
	/* Inside, but never handed out (an exec'd program's inheritance). */
	CHECK_INT(name_of_text("240.0.0.0", name, sizeof(name)), -1);
	CHECK_INT(name_of_text("240.0.3.0", name, sizeof(name)), -1);
	CHECK_INT(name_of_text("255.255.255.255", name, sizeof(name)), -1);
	CHECK_INT(name_of_text("100::ffff:ffff:ffff", name, sizeof(name)), -1);
	/* Too small a buffer for the name: not given. */
	CHECK_INT(name_of_text("240.0.0.1", name, 4), -1);
	CHECK_STR(name, "");
}

static void test_bad_names(void)
{
	static const char *const bad[] = {
		"", ".example.com", "-x", "a b", "a\nb", "a\rb", "a/b",
		"a:b", "a%b", "ex\x7fmple", "caf\xc3\xa9",
	};
	char longname[300];
	struct sockaddr_storage ss;
	socklen_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECK_MSG(dns_fake_address(bad[i], AF_INET, 1, &ss, &len) < 0 &&
				  errno == EINVAL,
			  "name %zu refused with EINVAL", i);
	}
	memset(longname, 'a', 254);
	longname[254] = '\0';
	CHECK(!dns_name_valid(longname));
	longname[253] = '\0';
	CHECK(dns_name_valid(longname));
	CHECK(dns_name_valid("under_score-1.example"));
	errno = 0;
	CHECK(dns_fake_address("ok.example", AF_UNIX, 1, &ss, &len) < 0 &&
	      errno == EINVAL);
	CHECK(dns_fake_address("ok.example", AF_INET, 65536, &ss, &len) < 0);
}

static void test_limit(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char name[64];
	int rc = 0;

	dns_set_limit(10);
	for (int i = 0; i < 10 && rc == 0; i++) {
		snprintf(name, sizeof(name), "limit%d.example", i);
		rc = dns_fake_address(name, AF_INET, 1, &ss, &len);
	}
	/* Two names were mapped before: 8 more fit, the rest do not. */
	CHECK_INT(rc, -1);
	CHECK_INT(errno, ENOSPC);
	/* A name already mapped still answers. */
	CHECK_INT(dns_fake_address("limit0.example", AF_INET, 1, &ss, &len), 0);
	dns_set_limit(65536);
}

#define THREADS 4
#define PER_THREAD 200

static void *map_many(void *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char name[64], back[256];
	long bad = 0;

	for (int i = 0; i < PER_THREAD; i++) {
		/* Every thread maps the same names, racing for them. */
		snprintf(name, sizeof(name), "t%d.example", i);
		if (dns_fake_address(name, AF_INET, 1, &ss, &len) < 0 ||
		    dns_name_of((struct sockaddr *)&ss, len, back,
				sizeof(back)) != 1 ||
		    strcmp(back, name))
			bad++;
	}
	(void)arg;
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[THREADS];
	long bad = 0;
	void *r;

	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, map_many, NULL);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	CHECK_INT(bad, 0);
}

/* A child sees the names mapped before fork() and maps its own. */
static void test_fork(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int status = -1;
	pid_t pid;

	dns_fake_address("before.fork", AF_INET, 1, &ss, &len);
	pid = fork();
	if (pid == 0) {
		char name[256];
		struct sockaddr_storage s2;
		socklen_t l2;

		if (dns_name_of((struct sockaddr *)&ss, len, name,
				sizeof(name)) != 1 || strcmp(name, "before.fork"))
			_exit(1);
		if (dns_fake_address("in.child", AF_INET, 1, &s2, &l2) < 0)
			_exit(2);
		_exit(0);
	}
	CHECK(pid > 0);
	waitpid(pid, &status, 0);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child mapped and looked up (status %d)", status);
}

int main(void)
{
	test_stable_addresses();
	test_not_ours();
	test_bad_names();
	test_limit();
	test_threads();
	test_fork();
	return check_done();
}
