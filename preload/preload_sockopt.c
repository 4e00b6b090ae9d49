/*
 * preload_sockopt.c - the options a program set on its socket, carried
 * over to the proxy's socket that replaces it.
 *
 * A routed connect() normally runs the chain on the program's own socket,
 * which keeps every option and bind().  When it cannot (the first hop is
 * of the other address family, or a failover ended on another socket),
 * the proxy's socket is put in place of the program's (dup2): this copies
 * what a program sets before connect() onto it first.  bind() cannot be
 * carried (the address belongs to the other socket).
 *
 *   copied as they are  SO_KEEPALIVE, SO_LINGER, SO_PRIORITY,
 *                       SO_OOBINLINE, TCP_NODELAY, TCP_KEEPIDLE,
 *                       TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT:
 *                       a default copied changes nothing
 *   if the program      SO_RCVBUF, SO_SNDBUF: setting one turns the
 *   changed them        kernel's autotuning off, so only a value that
 *                       differs from a fresh socket's is copied
 *   the traffic class   IP_TOS or IPV6_TCLASS, whichever the program's
 *                       family has, to whichever the proxy's has (the
 *                       same DSCP/ECN byte)
 *
 * Best effort: an option the kernel refuses is left as it is.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "preload.h"

struct int_option {
	int level, name;
	int only_if_changed;    /* SO_RCVBUF, SO_SNDBUF */
};

static const struct int_option int_options[] = {
	{ SOL_SOCKET, SO_KEEPALIVE, 0 },
	{ SOL_SOCKET, SO_PRIORITY, 0 },
	{ SOL_SOCKET, SO_OOBINLINE, 0 },
	{ IPPROTO_TCP, TCP_NODELAY, 0 },
	{ IPPROTO_TCP, TCP_KEEPIDLE, 0 },
	{ IPPROTO_TCP, TCP_KEEPINTVL, 0 },
	{ IPPROTO_TCP, TCP_KEEPCNT, 0 },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT, 0 },
	{ SOL_SOCKET, SO_RCVBUF, 1 },
	{ SOL_SOCKET, SO_SNDBUF, 1 },
};

static int get_int(int fd, int level, int name, int *value)
{
	socklen_t len = sizeof(*value);

	return getsockopt(fd, level, name, value, &len) == 0 &&
	       len == sizeof(*value);
}

static int family_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return AF_UNSPEC;
	return ss.ss_family;
}

/* The level and name of the traffic class option for 'family'. */
static int tclass_option(int family, int *level, int *name)
{
	if (family == AF_INET) {
		*level = IPPROTO_IP;
		*name = IP_TOS;
	} else if (family == AF_INET6) {
		*level = IPPROTO_IPV6;
		*name = IPV6_TCLASS;
	} else {
		return 0;
	}
	return 1;
}

static void copy_tclass(int from, int to)
{
	int from_level, from_name, to_level, to_name, value;

	if (tclass_option(family_of(from), &from_level, &from_name) &&
	    tclass_option(family_of(to), &to_level, &to_name) &&
	    get_int(from, from_level, from_name, &value))
		setsockopt(to, to_level, to_name, &value, sizeof(value));
}

/* SO_RCVBUF and SO_SNDBUF read back twice what was set (the kernel's
 * bookkeeping): set half, as the program did. */
static void copy_int(int from, int to, const struct int_option *o,
		     int fresh)
{
	int value, base;

	if (!get_int(from, o->level, o->name, &value))
		return;
	if (o->only_if_changed) {
		if (fresh < 0 || !get_int(fresh, o->level, o->name, &base) ||
		    base == value)
			return;
		value /= 2;
	}
	setsockopt(to, o->level, o->name, &value, sizeof(value));
}

void sockopt_carry(int from, int to)
{
	struct linger lg;
	socklen_t len = sizeof(lg);
	int fresh = socket(family_of(from), SOCK_STREAM | SOCK_CLOEXEC, 0);

	for (size_t i = 0; i < sizeof(int_options) / sizeof(int_options[0]);
	     i++)
		copy_int(from, to, &int_options[i], fresh);
	if (fresh >= 0)
		close(fresh);
	if (getsockopt(from, SOL_SOCKET, SO_LINGER, &lg, &len) == 0 &&
	    len == sizeof(lg))
		setsockopt(to, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	copy_tclass(from, to);
}
