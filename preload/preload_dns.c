/*
 * preload_dns.c - remote DNS for `proxystack run`: a routed name gets a
 * fake address, and connect() maps it back, so the proxy resolves the
 * name and the program's resolver never sees it.
 *
 * Ranges.  IPv4: 240.0.0.0/4, reserved "for future use" (RFC 1112,
 * 3.2.1.1): no host may use it and Linux routes none of it, so a connect
 * that escapes us (a static binary, a raw syscall) fails with
 * ENETUNREACH instead of reaching some other host.  100.64.0.0/10 was
 * not taken because real networks (carrier NAT, Tailscale) use it.
 * IPv6: 100::/64, the discard-only prefix (RFC 6666).  The n-th name
 * gets 240.0.0.n (counting on past the last octet) and 100::n.
 *
 * The map lives in the process: threads share it under a mutex, and a
 * child made by fork() inherits a copy (names mapped after the fork are
 * not shared back).  A program that exec()s inherits nothing; an address
 * it was handed by its parent is refused at connect() with a message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "preload.h"

/* 2^28 addresses in 240.0.0.0/4 less network and broadcast. */
#define DNS_V4_CAPACITY ((1u << 28) - 2)

static pthread_mutex_t dns_lock = PTHREAD_MUTEX_INITIALIZER;
static char **dns_names;        /* dns_names[i] has index i + 1 */
static size_t dns_count, dns_alloc;
static size_t dns_limit = 65536;

static void dns_atfork_prepare(void)
{
	pthread_mutex_lock(&dns_lock);
}

static void dns_atfork_parent(void)
{
	pthread_mutex_unlock(&dns_lock);
}

/* The child has one thread: a fresh mutex is the safe unlock. */
static void dns_atfork_child(void)
{
	pthread_mutex_init(&dns_lock, NULL);
}

static pthread_once_t dns_once = PTHREAD_ONCE_INIT;

static void dns_init(void)
{
	pthread_atfork(dns_atfork_prepare, dns_atfork_parent,
		       dns_atfork_child);
}

void dns_set_limit(size_t max_names)
{
	pthread_mutex_lock(&dns_lock);
	dns_limit = max_names < DNS_V4_CAPACITY ? max_names : DNS_V4_CAPACITY;
	pthread_mutex_unlock(&dns_lock);
}

int dns_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 253 || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

/* The 1-based index of 'name', added if new; 0 with errno on failure. */
static size_t dns_index_locked(const char *name)
{
	char *copy;

	for (size_t i = 0; i < dns_count; i++)
		if (!strcasecmp(dns_names[i], name))
			return i + 1;
	if (dns_count >= dns_limit) {
		errno = ENOSPC;
		return 0;
	}
	if (dns_count == dns_alloc) {
		size_t grown = dns_alloc ? dns_alloc * 2 : 16;
		char **p = realloc(dns_names, grown * sizeof(*p));

		if (!p)
			return 0;
		dns_names = p;
		dns_alloc = grown;
	}
	copy = strdup(name);
	if (!copy)
		return 0;
	dns_names[dns_count++] = copy;
	return dns_count;
}

static void dns_fill(size_t index, int family, unsigned port,
		     struct sockaddr_storage *out, socklen_t *outlen)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(DNS_FAKE_V4_NET | (uint32_t)index);
		*outlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
		uint64_t v = index;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr.s6_addr[0] = 0x01;
		for (int i = 15; i >= 8; i--, v >>= 8)
			sin6->sin6_addr.s6_addr[i] = (unsigned char)v;
		*outlen = sizeof(*sin6);
	}
}

int dns_fake_address(const char *name, int family, unsigned port,
		     struct sockaddr_storage *out, socklen_t *outlen)
{
	size_t index;

	pthread_once(&dns_once, dns_init);
	if (!dns_name_valid(name) || (family != AF_INET && family != AF_INET6) ||
	    port > 65535) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&dns_lock);
	index = dns_index_locked(name);
	pthread_mutex_unlock(&dns_lock);
	if (!index)
		return -1;
	dns_fill(index, family, port, out, outlen);
	return 0;
}

/* The index a fake address carries, or 0 when it is not one. */
static size_t dns_index_of(const struct sockaddr *sa, socklen_t len)
{
	static const unsigned char v6_prefix[8] = { 0x01, 0, 0, 0, 0, 0, 0, 0 };
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0,
						  0, 0, 0, 0, 0xff, 0xff };
	const unsigned char *a;
	uint32_t v4;
	uint64_t v = 0;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		v4 = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		goto ipv4;
	}
	if (sa->sa_family != AF_INET6 || len < sizeof(struct sockaddr_in6))
		return 0;
	a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (!memcmp(a, mapped, sizeof(mapped))) {
		v4 = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 |
		     (uint32_t)a[14] << 8 | a[15];
		goto ipv4;
	}
	if (memcmp(a, v6_prefix, sizeof(v6_prefix)))
		return 0;
	for (int i = 8; i < 16; i++)
		v = v << 8 | a[i];
	/* Past the IPv4 range nothing was ever handed out: not ours. */
	return v > 0 && v <= DNS_V4_CAPACITY ? (size_t)v : (size_t)-1;
ipv4:
	if ((v4 & DNS_FAKE_V4_MASK) != DNS_FAKE_V4_NET)
		return 0;
	v4 &= ~DNS_FAKE_V4_MASK;
	return v4 > 0 && v4 <= DNS_V4_CAPACITY ? v4 : (size_t)-1;
}

int dns_name_of(const struct sockaddr *sa, socklen_t len, char *name,
		size_t namesz)
{
	size_t index = dns_index_of(sa, len);
	int found = 0;

	if (index == 0)
		return 0;
	pthread_mutex_lock(&dns_lock);
	if (index != (size_t)-1 && index <= dns_count &&
	    strlen(dns_names[index - 1]) < namesz) {
		strcpy(name, dns_names[index - 1]);
		found = 1;
	}
	pthread_mutex_unlock(&dns_lock);
	return found ? 1 : -1;
}
