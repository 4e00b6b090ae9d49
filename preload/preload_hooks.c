/*
 * preload_hooks.c - the libc functions libproxystack-preload.so
 * interposes, each a thin decision in front of the real one
 * (dlsym(RTLD_NEXT)):
 *
 *   connect            TCP to a routed destination: preload_connect.c;
 *                      UDP: refused when [run] udp = refuse
 *   getaddrinfo,       a routed name: a fake address (preload_dns.c)
 *   gethostbyname, gethostbyname2, gethostbyname_r, gethostbyname2_r
 *   getpeername, getsockname, getsockopt, setsockopt
 *                      what a program asks of a descriptor we connected
 *   sendto, sendmsg,   UDP refused when [run] udp = refuse
 *   sendmmsg
 *   pthread_create     a thread started while working for proxystack
 *                      works for it too (the library's resolver)
 *
 * Everything else, and everything when the process runs with
 * AT_SECURE (setuid, setgid, file capabilities), reaches libc untouched.
 * Loopback destinations are always the real connect(); a name or an
 * address whose route is direct too.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "preload.h"

#define HOOK __attribute__((visibility("default")))

static struct preload_real hooks_real;
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *,
				  void *(*)(void *), void *);
static struct hostent *(*real_gethostbyname2)(const char *, int);
static int (*real_gethostbyname2_r)(const char *, int, struct hostent *,
				    char *, size_t, struct hostent **, int *);
static int (*real_sendmmsg)(int, struct mmsghdr *, unsigned int, int);
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static int hooks_secure;
static __thread int hooks_inside;

#define HOOKS_NEXT(field, name) \
	(*(void **)&(field) = dlsym(RTLD_NEXT, name))

static void hooks_init(void)
{
	hooks_secure = getauxval(AT_SECURE) != 0;
	HOOKS_NEXT(hooks_real.connect, "connect");
	HOOKS_NEXT(hooks_real.getaddrinfo, "getaddrinfo");
	HOOKS_NEXT(hooks_real.getsockopt, "getsockopt");
	HOOKS_NEXT(hooks_real.setsockopt, "setsockopt");
	HOOKS_NEXT(hooks_real.getpeername, "getpeername");
	HOOKS_NEXT(hooks_real.getsockname, "getsockname");
	HOOKS_NEXT(hooks_real.sendto, "sendto");
	HOOKS_NEXT(hooks_real.sendmsg, "sendmsg");
	HOOKS_NEXT(real_pthread_create, "pthread_create");
	HOOKS_NEXT(real_gethostbyname2, "gethostbyname2");
	HOOKS_NEXT(real_gethostbyname2_r, "gethostbyname2_r");
	HOOKS_NEXT(real_sendmmsg, "sendmmsg");
}

const struct preload_real *preload_real(void)
{
	pthread_once(&hooks_once, hooks_init);
	return &hooks_real;
}

/* Resolved before main(), while the program has one thread. */
__attribute__((constructor)) static void hooks_constructor(void)
{
	preload_real();
}

int preload_inside(void)
{
	return hooks_inside;
}

void preload_set_inside(int on)
{
	hooks_inside = on;
}

/* 1 when the hooks must step aside. */
static int hooks_off(void)
{
	preload_real();
	return hooks_secure || hooks_inside;
}

/* ---- threads ----------------------------------------------------------- */

struct hooks_thread {
	void *(*fn)(void *);
	void *arg;
};

static void *hooks_thread_start(void *p)
{
	struct hooks_thread t = *(struct hooks_thread *)p;

	free(p);
	hooks_inside = 1;
	return t.fn(t.arg);
}

HOOK int pthread_create(pthread_t *th, const pthread_attr_t *attr,
			void *(*fn)(void *), void *arg)
{
	struct hooks_thread *t;
	int rc;

	preload_real();
	if (hooks_secure || !hooks_inside)
		return real_pthread_create(th, attr, fn, arg);
	t = malloc(sizeof(*t));
	if (!t)
		return EAGAIN;
	t->fn = fn;
	t->arg = arg;
	rc = real_pthread_create(th, attr, hooks_thread_start, t);
	if (rc)
		free(t);
	return rc;
}

/* ---- addresses --------------------------------------------------------- */

static unsigned hooks_port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

static int hooks_is_loopback(const struct sockaddr *sa)
{
	const struct in6_addr *a6;

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >>
			24) == 127;
	a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(a6) ||
	       (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
}

/* The address as text, IPv4-mapped IPv6 as IPv4. */
static void hooks_addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	const struct in6_addr *a6;

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  out, (socklen_t)n);
		return;
	}
	a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6))
		inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)n);
	else
		inet_ntop(AF_INET6, a6, out, (socklen_t)n);
}

static int hooks_is_numeric(const char *node)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, node, buf) == 1 ||
	       inet_pton(AF_INET6, node, buf) == 1;
}

/* ---- connect ----------------------------------------------------------- */

/* A fake address whose route turned out direct: the real name's. */
static int hooks_connect_resolved(int fd, const char *host, unsigned port,
				  int family)
{
	struct addrinfo hints, *res, *ai;
	char service[8];
	int rc = -1, saved = EHOSTUNREACH;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = family == AF_INET6 ? AI_V4MAPPED : 0;
	snprintf(service, sizeof(service), "%u", port);
	if (hooks_real.getaddrinfo(host, service, &hints, &res) != 0) {
		preload_reportf("connect to %s:%u: %s does not resolve", host,
				port, host);
		errno = EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		rc = hooks_real.connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc == 0 || errno == EINPROGRESS || errno == EINTR)
			break;
		saved = errno;
	}
	if (rc != 0 && errno != EINPROGRESS && errno != EINTR)
		errno = saved;
	saved = errno;
	freeaddrinfo(res);
	errno = saved;
	return rc;
}

static int hooks_connect_tcp(int fd, const struct sockaddr *sa,
			     socklen_t len)
{
	char host[256];
	unsigned port = hooks_port_of(sa);
	int fake = dns_name_of(sa, len, host, sizeof(host));
	int direct;

	if (fake < 0) {
		hooks_addr_text(sa, host, sizeof(host));
		preload_reportf("connect to %s: a fake address that this"
				" process was not given (handed down across"
				" exec?): refused", host);
		errno = EHOSTUNREACH;
		return -1;
	}
	if (!fake) {
		if (hooks_is_loopback(sa))
			return hooks_real.connect(fd, sa, len);
		hooks_addr_text(sa, host, sizeof(host));
	}
	direct = route_is_direct(host, port);
	if (direct < 0) {
		errno = EACCES;
		return -1;
	}
	if (direct && fake)
		return hooks_connect_resolved(fd, host, port, sa->sa_family);
	if (direct)
		return hooks_real.connect(fd, sa, len);
	return connect_routed(fd, host, port, sa, len);
}

/* [run] udp = refuse: 1 (reported) when this datagram must not go. */
static int hooks_udp_refused(const struct sockaddr *sa, socklen_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (!sa || len < sizeof(sa_family_t) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    hooks_is_loopback(sa) || !preload_udp_refused())
		return 0;
	hooks_addr_text(sa, host, sizeof(host));
	preload_reportf("UDP to %s port %u refused ([run] udp = refuse)", host,
			hooks_port_of(sa));
	errno = EACCES;
	return 1;
}

static int hooks_socket_type(int fd)
{
	int type = -1;
	socklen_t len = sizeof(type);

	if (hooks_real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -1;
	return type;
}

/* connect() again on a descriptor we connected: what the kernel says. */
static int hooks_connect_again(const struct track_info *info)
{
	switch (info->state) {
	case TRACK_CONNECTING:
		errno = EALREADY;
		break;
	case TRACK_CONNECTED:
	case TRACK_HANDED:
		errno = EISCONN;
		break;
	case TRACK_FAILED:
		errno = info->error ? info->error : ECONNREFUSED;
		break;
	}
	return -1;
}

HOOK int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct track_info info;
	int type;

	if (hooks_inside && !hooks_secure)
		connect_note_inner(fd, sa);
	if (hooks_off() || !sa || len < sizeof(struct sockaddr_in) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    (sa->sa_family == AF_INET6 && len < sizeof(struct sockaddr_in6)))
		return hooks_real.connect(fd, sa, len);
	if (track_lookup(fd, &info, 1))
		return hooks_connect_again(&info);
	type = hooks_socket_type(fd);
	if (type == SOCK_DGRAM)
		return hooks_udp_refused(sa, len) ? -1
						  : hooks_real.connect(fd, sa, len);
	if (type != SOCK_STREAM)
		return hooks_real.connect(fd, sa, len);
	return hooks_connect_tcp(fd, sa, len);
}

/* ---- UDP ------------------------------------------------------------- */

HOOK ssize_t sendto(int fd, const void *buf, size_t n, int flags,
		    const struct sockaddr *sa, socklen_t len)
{
	if (!hooks_off() && sa && hooks_udp_refused(sa, len))
		return -1;
	return hooks_real.sendto(fd, buf, n, flags, sa, len);
}

HOOK ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!hooks_off() && msg && msg->msg_name &&
	    hooks_udp_refused(msg->msg_name, msg->msg_namelen))
		return -1;
	return hooks_real.sendmsg(fd, msg, flags);
}

/*
 * Messages up to the first refused one go, as the kernel returns the
 * count it sent; a refused first message is -1 with EACCES.
 */
HOOK int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	unsigned int go = 0;

	if (hooks_off() || !vec)
		return real_sendmmsg(fd, vec, vlen, flags);
	while (go < vlen &&
	       !(vec[go].msg_hdr.msg_name &&
		 hooks_udp_refused(vec[go].msg_hdr.msg_name,
				   vec[go].msg_hdr.msg_namelen)))
		go++;
	if (go == 0 && vlen > 0)
		return -1;
	return real_sendmmsg(fd, vec, go, flags);
}

/* ---- names ----------------------------------------------------------- */

/* The port a service names (0 for none); 0 or an EAI_ code. */
static int hooks_service_port(const char *service,
			      const struct addrinfo *hints, unsigned *port)
{
	struct addrinfo h, *res;
	int rc;

	*port = 0;
	if (!service)
		return 0;
	memset(&h, 0, sizeof(h));
	h.ai_family = AF_INET;
	h.ai_socktype = hints ? hints->ai_socktype : 0;
	h.ai_flags = AI_PASSIVE | AI_NUMERICHOST |
		     (hints ? hints->ai_flags & AI_NUMERICSERV : 0);
	rc = hooks_real.getaddrinfo(NULL, service, &h, &res);
	if (rc)
		return rc;
	*port = hooks_port_of(res->ai_addr);
	freeaddrinfo(res);
	return 0;
}

/*
 * One entry laid out as glibc's own (the sockaddr in the same block, the
 * canonical name apart), so that libc's freeaddrinfo() frees ours.
 */
static struct addrinfo *hooks_ai_new(const struct sockaddr_storage *ss,
				     socklen_t sslen, int socktype,
				     int protocol)
{
	struct addrinfo *ai = calloc(1, sizeof(*ai) + sslen);

	if (!ai)
		return NULL;
	ai->ai_family = ss->ss_family;
	ai->ai_socktype = socktype;
	ai->ai_protocol = protocol;
	ai->ai_addrlen = sslen;
	ai->ai_addr = (struct sockaddr *)(ai + 1);
	memcpy(ai->ai_addr, ss, sslen);
	return ai;
}

static int hooks_fake_addrinfo(const char *node, unsigned port,
			       const struct addrinfo *hints,
			       struct addrinfo **res)
{
	static const int types[][2] = { { SOCK_STREAM, IPPROTO_TCP },
					{ SOCK_DGRAM, IPPROTO_UDP } };
	int family = hints && hints->ai_family == AF_INET6 ? AF_INET6 : AF_INET;
	int want = hints ? hints->ai_socktype : 0;
	struct addrinfo *head = NULL, **tail = &head;
	struct sockaddr_storage ss;
	socklen_t sslen;

	if (dns_fake_address(node, family, port, &ss, &sslen) < 0)
		return errno == ENOMEM ? EAI_MEMORY : EAI_FAIL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (want && want != types[i][0])
			continue;
		*tail = hooks_ai_new(&ss, sslen, types[i][0],
				     hints && hints->ai_protocol
					     ? hints->ai_protocol
					     : types[i][1]);
		if (!*tail)
			goto nomem;
		tail = &(*tail)->ai_next;
	}
	if (!head) {
		*tail = hooks_ai_new(&ss, sslen, want,
				     hints ? hints->ai_protocol : 0);
		if (!*tail)
			goto nomem;
	}
	if (hints && (hints->ai_flags & AI_CANONNAME) &&
	    !(head->ai_canonname = strdup(node)))
		goto nomem;
	*res = head;
	return 0;
nomem:
	freeaddrinfo(head);
	return EAI_MEMORY;
}

/* 1 when 'node' is a name a fake address could stand for. */
static int hooks_name_candidate(const char *node, int family)
{
	return !hooks_off() && node && dns_name_valid(node) &&
	       !hooks_is_numeric(node) &&
	       (family == AF_UNSPEC || family == AF_INET ||
		family == AF_INET6);
}

/*
 * 1 when a lookup of 'node' gets a fake address, 0 when it goes to libc;
 * *failed when there is no usable configuration (fail closed).
 */
static int hooks_name_routed(const char *node, int family, unsigned port,
			     int *failed)
{
	int direct;

	*failed = 0;
	if (!hooks_name_candidate(node, family))
		return 0;
	direct = route_is_direct(node, port);
	if (direct < 0)
		*failed = 1;
	return direct == 0;
}

HOOK int getaddrinfo(const char *node, const char *service,
		     const struct addrinfo *hints, struct addrinfo **res)
{
	int family = hints ? hints->ai_family : AF_UNSPEC;
	unsigned port;
	int rc, failed;

	preload_real();
	if (!res || (hints && (hints->ai_flags & AI_NUMERICHOST)) ||
	    !hooks_name_candidate(node, family))
		return hooks_real.getaddrinfo(node, service, hints, res);
	rc = hooks_service_port(service, hints, &port);
	if (rc)
		return rc;
	if (!hooks_name_routed(node, family, port, &failed))
		return failed ? EAI_FAIL
			      : hooks_real.getaddrinfo(node, service, hints,
						       res);
	return hooks_fake_addrinfo(node, port, hints, res);
}

/* The hostent of a fake address, laid out in 'buf'. */
struct hooks_hostent_buf {
	char name[256];
	char *aliases[1];
	char *addrs[2];
	struct in6_addr addr;
};

static int hooks_fake_hostent(const char *name, int af, struct hostent *he,
			      struct hooks_hostent_buf *b)
{
	struct sockaddr_storage ss;
	socklen_t sslen;

	if (strlen(name) >= sizeof(b->name) ||
	    dns_fake_address(name, af, 0, &ss, &sslen) < 0)
		return -1;
	memset(b, 0, sizeof(*b));
	strcpy(b->name, name);
	if (af == AF_INET)
		memcpy(&b->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(&b->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	b->addrs[0] = (char *)&b->addr;
	he->h_name = b->name;
	he->h_aliases = b->aliases;
	he->h_addrtype = af;
	he->h_length = af == AF_INET ? 4 : 16;
	he->h_addr_list = b->addrs;
	return 0;
}

HOOK struct hostent *gethostbyname2(const char *name, int af)
{
	static __thread struct hostent he;
	static __thread struct hooks_hostent_buf buf;
	int failed;

	if (!hooks_name_routed(name, af, 0, &failed) ||
	    (af != AF_INET && af != AF_INET6)) {
		if (failed) {
			h_errno = NO_RECOVERY;
			return NULL;
		}
		return real_gethostbyname2(name, af);
	}
	if (hooks_fake_hostent(name, af, &he, &buf) < 0) {
		h_errno = NO_RECOVERY;
		return NULL;
	}
	return &he;
}

HOOK struct hostent *gethostbyname(const char *name)
{
	return gethostbyname2(name, AF_INET);
}

/*
 * The reentrant lookups: the fake hostent is laid out in the caller's
 * buffer (ERANGE when it is too small, as glibc asks for a larger one).
 */
HOOK int gethostbyname2_r(const char *name, int af, struct hostent *ret,
			  char *buf, size_t buflen, struct hostent **result,
			  int *h_errnop)
{
	uintptr_t at = ((uintptr_t)buf + 15) & ~(uintptr_t)15;
	size_t skip = at - (uintptr_t)buf;
	int failed;

	*result = NULL;
	if (!hooks_name_routed(name, af, 0, &failed) ||
	    (af != AF_INET && af != AF_INET6)) {
		if (failed) {
			*h_errnop = NO_RECOVERY;
			return EAGAIN;
		}
		return real_gethostbyname2_r(name, af, ret, buf, buflen,
					     result, h_errnop);
	}
	if (buflen < skip + sizeof(struct hooks_hostent_buf))
		return ERANGE;
	if (hooks_fake_hostent(name, af, ret,
			       (struct hooks_hostent_buf *)at) < 0) {
		*h_errnop = NO_RECOVERY;
		return errno ? errno : EINVAL;
	}
	*result = ret;
	return 0;
}

HOOK int gethostbyname_r(const char *name, struct hostent *ret, char *buf,
			 size_t buflen, struct hostent **result, int *h_errnop)
{
	return gethostbyname2_r(name, AF_INET, ret, buf, buflen, result,
				h_errnop);
}

/* ---- descriptors we connected --------------------------------------- */

HOOK int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct track_info info;

	if (hooks_off() || !track_lookup(fd, &info, 0) || !sa || !len)
		return hooks_real.getpeername(fd, sa, len);
	if (info.state != TRACK_CONNECTED && info.state != TRACK_HANDED) {
		errno = ENOTCONN;
		return -1;
	}
	memcpy(sa, &info.peer, *len < info.peerlen ? *len : info.peerlen);
	*len = info.peerlen;
	return 0;
}

/* Our end is a socketpair: report an unspecified address of the family. */
HOOK int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct track_info info;
	struct sockaddr_storage any;
	socklen_t n;

	if (hooks_off() || !track_lookup(fd, &info, 0) || !sa || !len ||
	    info.state == TRACK_HANDED)
		return hooks_real.getsockname(fd, sa, len);
	memset(&any, 0, sizeof(any));
	any.ss_family = info.peer.ss_family;
	n = info.peer.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					    : sizeof(struct sockaddr_in);
	memcpy(sa, &any, *len < n ? *len : n);
	*len = n;
	return 0;
}

static int hooks_ip_level(int level)
{
	return level == IPPROTO_TCP || level == IPPROTO_IP ||
	       level == IPPROTO_IPV6;
}

HOOK int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct track_info info;
	int error;

	if (hooks_off() || !val || !len ||
	    !(hooks_ip_level(level) || (level == SOL_SOCKET && name == SO_ERROR)) ||
	    !track_lookup(fd, &info, level == SOL_SOCKET) ||
	    info.state == TRACK_HANDED)
		return hooks_real.getsockopt(fd, level, name, val, len);
	if (level != SOL_SOCKET) {
		/* TCP and IP options of a socketpair: all off. */
		memset(val, 0, *len);
		return 0;
	}
	if (hooks_real.getsockopt(fd, level, name, val, len) < 0)
		return -1;
	error = info.state == TRACK_FAILED ? info.error : 0;
	if (*len >= sizeof(int))
		memcpy(val, &error, sizeof(int));
	return 0;
}

HOOK int setsockopt(int fd, int level, int name, const void *val,
		    socklen_t len)
{
	struct track_info info;

	if (!hooks_off() && hooks_ip_level(level) &&
	    track_lookup(fd, &info, 0) && info.state != TRACK_HANDED)
		return 0;   /* TCP_NODELAY, IP_TOS...: no TCP socket here */
	return hooks_real.setsockopt(fd, level, name, val, len);
}
