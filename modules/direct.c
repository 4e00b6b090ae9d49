/*
 * direct.c - the `direct` transport module: a TCP connection of its own
 * to the layer's target.  It is the bottom of every chain, whether the
 * target is the destination itself or the first proxy.
 *
 * One state machine, every call of connect() advancing it as far as it
 * can without blocking:
 *
 *   INIT -> RESOLVE -> CONNECT -> CONNECTED
 *              |          |
 *              +----------+----> FAILED
 *
 *   RESOLVE    ps_layer_resolve() answers PS_AGAIN until the host's
 *              resolver thread is done; the host calls us again then.
 *   CONNECT    happy eyeballs (RFC 8305): the addresses are ordered v6,
 *              v4, v6, v4...; the first attempt starts at once, the next
 *              one 250 ms later or as soon as an attempt fails, so
 *              several sockets may be in flight.  The first to complete
 *              wins and the others are closed.
 *   CONNECTED  send/recv/shutdown_write run on the winning socket.
 *   FAILED     every address failed; the most useful error is recorded.
 *
 * There is no timer of our own for the whole connect: the host owns the
 * chain's deadline and stops calling us when it passes, and close() then
 * ends whatever is still in flight.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerror_r returning char *, SOCK_NONBLOCK */
#endif

#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <proxystack/module.h>

/* RFC 8305 section 5: the recommended "Connection Attempt Delay". */
#define DIRECT_ATTEMPT_DELAY_MS 250

/* "[fe80::1%eth0]:65535" fits with room to spare. */
#define DIRECT_ADDR_TEXT_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE + 16)

enum direct_state {
	DIRECT_INIT,      /* opened, nothing done yet */
	DIRECT_RESOLVE,   /* waiting for the host's resolver */
	DIRECT_CONNECT,   /* happy eyeballs: attempts in flight */
	DIRECT_CONNECTED, /* one socket won; channel I/O runs on it */
	DIRECT_FAILED     /* every address failed; error recorded */
};

static const char *const direct_state_names[] = {
	[DIRECT_INIT] = "INIT",
	[DIRECT_RESOLVE] = "RESOLVE",
	[DIRECT_CONNECT] = "CONNECT",
	[DIRECT_CONNECTED] = "CONNECTED",
	[DIRECT_FAILED] = "FAILED",
};

/* One address of the target and what became of trying it. */
struct direct_attempt {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[DIRECT_ADDR_TEXT_MAX]; /* "192.0.2.1:443", for logs */
	int fd;    /* the socket while in flight, else -1 */
	int error; /* errno that ended the attempt, 0 while none */
};

struct direct {
	enum direct_state state;
	int failure;                     /* the ps_code once FAILED */
	struct direct_attempt *attempts; /* in happy-eyeballs order */
	size_t attempt_count;
	size_t next_attempt;             /* index of the next to start */
	long long last_start_ms;         /* monotonic, latest start */
	struct pollfd *pollfds;          /* scratch, attempt_count long */
	size_t winner;                   /* index of the winning attempt */
	int fd;                          /* the channel once CONNECTED */
	int write_shut;                  /* shutdown_write() was done */
	char peer[DIRECT_ADDR_TEXT_MAX]; /* the winner's text */
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static long long direct_now_ms(void)
{
	struct timespec now;

	/* Monotonic: a wall clock step must not start or stall attempts. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* strerror() may share a buffer between threads; chains run in many. */
static const char *direct_strerror(int error, char *buf, size_t size)
{
	return strerror_r(error, buf, size);
}

/* "192.0.2.1:443" or "[2001:db8::1]:443", numeric, never resolving. */
static void direct_format_addr(const struct sockaddr *sa, socklen_t len,
			       char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char port[8];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, size, "(unprintable address)");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(out, size, "[%s]:%s", host, port);
	else
		snprintf(out, size, "%s:%s", host, port);
}

/* The target as the user named it, for messages about all addresses. */
static void direct_format_target(const ps_layer *layer, char *out,
				 size_t size)
{
	const char *host = ps_layer_target_host(layer);
	unsigned port = ps_layer_target_port(layer);

	if (strchr(host, ':') != NULL)
		snprintf(out, size, "[%s]:%u", host, port);
	else
		snprintf(out, size, "%s:%u", host, port);
}

/* Append to a message buffer, silently truncating when it is full. */
__attribute__((format(printf, 4, 5)))
static void direct_append(char *buf, size_t size, size_t *used,
			  const char *fmt, ...)
{
	va_list args;
	int n;

	if (*used >= size - 1)
		return;
	va_start(args, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, args);
	va_end(args);
	if (n < 0)
		return;
	*used += (size_t)n < size - *used ? (size_t)n : size - *used - 1;
}

static size_t direct_in_flight(const struct direct *d)
{
	size_t i, count = 0;

	for (i = 0; i < d->next_attempt; i++)
		if (d->attempts[i].fd >= 0)
			count++;
	return count;
}

static void direct_close_attempts(struct direct *d)
{
	size_t i;

	for (i = 0; i < d->attempt_count; i++) {
		if (d->attempts[i].fd >= 0) {
			close(d->attempts[i].fd);
			d->attempts[i].fd = -1;
		}
	}
}

/* ------------------------------------------------------------------ */
/* The state machine                                                    */
/* ------------------------------------------------------------------ */

/* Enter CONNECTED: keep the winner, close the slower attempts. */
static void direct_enter_connected(ps_layer *layer, struct direct *d)
{
	struct direct_attempt *won = &d->attempts[d->winner];
	char errbuf[128];
	int one = 1;
	size_t i;

	d->fd = won->fd;
	won->fd = -1;
	snprintf(d->peer, sizeof(d->peer), "%s", won->text);
	for (i = 0; i < d->attempt_count; i++) {
		if (d->attempts[i].fd < 0)
			continue;
		ps_layer_log(layer, PS_LOG_DEBUG,
			     "closing slower attempt to %s",
			     d->attempts[i].text);
		close(d->attempts[i].fd);
		d->attempts[i].fd = -1;
	}
	/*
	 * Handshakes above us (CONNECT, TLS) are small writes answered by
	 * the peer: Nagle would hold each one back for an ACK.
	 */
	if (setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		       sizeof(one)) != 0)
		ps_layer_log(layer, PS_LOG_DEBUG,
			     "TCP_NODELAY on %s failed: %s", d->peer,
			     direct_strerror(errno, errbuf, sizeof(errbuf)));
	ps_layer_set_detail(layer, "%s", d->peer);
	/* The channel is the socket's bytes: zero-copy relays may use it. */
	ps_layer_set_socket(layer, d->fd);
	ps_layer_log(layer, PS_LOG_DEBUG, "connected to %s", d->peer);
}

/* Every transition passes here, so a debug log tells the whole story. */
static void direct_go_state(ps_layer *layer, struct direct *d,
			    enum direct_state next)
{
	if (d->state == next)
		return;
	ps_layer_log(layer, PS_LOG_DEBUG, "state %s -> %s",
		     direct_state_names[d->state], direct_state_names[next]);
	d->state = next;
	switch (next) {
	case DIRECT_CONNECTED:
		direct_enter_connected(layer, d);
		break;
	case DIRECT_FAILED:
		direct_close_attempts(d);
		break;
	case DIRECT_INIT:
	case DIRECT_RESOLVE:
	case DIRECT_CONNECT:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* RESOLVE                                                              */
/* ------------------------------------------------------------------ */

static int direct_seen_address(const struct direct *d,
			       const struct addrinfo *ai)
{
	size_t i;

	/* Without socktype hints getaddrinfo repeats each address. */
	for (i = 0; i < d->attempt_count; i++)
		if (d->attempts[i].addr_len == ai->ai_addrlen &&
		    memcmp(&d->attempts[i].addr, ai->ai_addr,
			   ai->ai_addrlen) == 0)
			return 1;
	return 0;
}

static void direct_add_address(struct direct *d, const struct addrinfo *ai)
{
	struct direct_attempt *a = &d->attempts[d->attempt_count++];

	memcpy(&a->addr, ai->ai_addr, ai->ai_addrlen);
	a->addr_len = ai->ai_addrlen;
	a->fd = -1;
	a->error = 0;
	direct_format_addr(ai->ai_addr, ai->ai_addrlen, a->text,
			   sizeof(a->text));
}

/* The next address of 'family' after 'from' in the resolver's order. */
static const struct addrinfo *
direct_next_of_family(const struct addrinfo *from, int family)
{
	for (; from != NULL; from = from->ai_next)
		if (from->ai_family == family &&
		    from->ai_addrlen <= sizeof(struct sockaddr_storage))
			return from;
	return NULL;
}

/*
 * RFC 8305 section 4: interleave the families so that a broken v6 path
 * costs one attempt delay, not one per v6 address.  Within a family the
 * resolver's (RFC 6724) order is kept.
 */
static int direct_order_addresses(struct direct *d, const struct addrinfo *res)
{
	const struct addrinfo *v6, *v4, *ai;
	size_t total = 0;

	for (ai = res; ai != NULL; ai = ai->ai_next)
		total++;
	d->attempts = calloc(total ? total : 1, sizeof(*d->attempts));
	d->pollfds = calloc(total ? total : 1, sizeof(*d->pollfds));
	if (d->attempts == NULL || d->pollfds == NULL)
		return PS_ERR_NOMEM;
	v6 = direct_next_of_family(res, AF_INET6);
	v4 = direct_next_of_family(res, AF_INET);
	while (v6 != NULL || v4 != NULL) {
		if (v6 != NULL) {
			if (!direct_seen_address(d, v6))
				direct_add_address(d, v6);
			v6 = direct_next_of_family(v6->ai_next, AF_INET6);
		}
		if (v4 != NULL) {
			if (!direct_seen_address(d, v4))
				direct_add_address(d, v4);
			v4 = direct_next_of_family(v4->ai_next, AF_INET);
		}
	}
	return PS_OK;
}

static int direct_resolve(ps_layer *layer, struct direct *d)
{
	const char *host = ps_layer_target_host(layer);
	const struct addrinfo *res = NULL;
	size_t i;
	int rc;

	rc = ps_layer_resolve(layer, host, ps_layer_target_port(layer), &res);
	if (rc != PS_OK)
		return rc; /* PS_AGAIN, or the failure already recorded */
	if (direct_order_addresses(d, res) != PS_OK)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory ordering the addresses "
				     "of %s", host);
	if (d->attempt_count == 0)
		return ps_layer_fail(layer, PS_ERR_RESOLVE,
				     "check the host name, or the DNS "
				     "records it should have",
				     "%s has no IPv4 or IPv6 address", host);
	for (i = 0; i < d->attempt_count; i++)
		ps_layer_log(layer, PS_LOG_DEBUG, "%s: address %zu of %zu: %s",
			     host, i + 1, d->attempt_count,
			     d->attempts[i].text);
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* CONNECT: happy eyeballs                                              */
/* ------------------------------------------------------------------ */

static void direct_attempt_failed(ps_layer *layer,
				  struct direct_attempt *a, int error)
{
	char buf[128];

	a->error = error;
	if (a->fd >= 0) {
		close(a->fd);
		a->fd = -1;
	}
	ps_layer_log(layer, PS_LOG_DEBUG, "connect to %s failed: %s",
		     a->text, direct_strerror(error, buf, sizeof(buf)));
}

/*
 * Start one attempt.  Returns 1 when it connected at once, 0 when it is
 * in flight, -1 when it failed already (the next one may start now).
 */
static int direct_attempt_start(ps_layer *layer, struct direct *d,
				struct direct_attempt *a)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->addr;

	ps_layer_log(layer, PS_LOG_DEBUG, "trying %s (address %zu of %zu)",
		     a->text, (size_t)(a - d->attempts) + 1, d->attempt_count);
	a->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		       SOCK_CLOEXEC, IPPROTO_TCP);
	if (a->fd < 0) {
		direct_attempt_failed(layer, a, errno);
		return -1;
	}
	if (connect(a->fd, sa, a->addr_len) == 0)
		return 1;
	/* EINTR on a non-blocking socket: the connect goes on anyway. */
	if (errno == EINPROGRESS || errno == EINTR)
		return 0;
	direct_attempt_failed(layer, a, errno);
	return -1;
}

/*
 * Which attempts in flight completed since the last call?  The host only
 * says "call again", not which socket woke it, so ask the kernel with a
 * poll that does not wait.  Returns 1 with d->winner set when one
 * connected; sets *any_failed when one failed.
 */
static int direct_attempts_check(ps_layer *layer, struct direct *d,
				 int *any_failed)
{
	size_t i, n = 0;
	int error;
	socklen_t len;

	*any_failed = 0;
	for (i = 0; i < d->next_attempt; i++) {
		if (d->attempts[i].fd < 0)
			continue;
		d->pollfds[n].fd = d->attempts[i].fd;
		d->pollfds[n].events = POLLOUT;
		d->pollfds[n].revents = 0;
		n++;
	}
	if (n == 0 || poll(d->pollfds, n, 0) <= 0)
		return 0;
	for (i = 0, n = 0; i < d->next_attempt; i++) {
		struct direct_attempt *a = &d->attempts[i];
		short revents;

		if (a->fd < 0)
			continue;
		revents = d->pollfds[n++].revents;
		if (revents == 0)
			continue;
		error = 0;
		len = sizeof(error);
		if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
			error = errno;
		if (error == 0 && (revents & POLLOUT)) {
			d->winner = i;
			return 1;
		}
		direct_attempt_failed(layer, a, error ? error : ECONNABORTED);
		*any_failed = 1;
	}
	return 0;
}

/* How telling an errno is about the target: higher is more useful. */
static int direct_error_rank(int error)
{
	switch (error) {
	case ECONNREFUSED: /* the host answered: the port is the problem */
	case ECONNRESET:
	case ECONNABORTED:
	case ETIMEDOUT:
		return 3;
	case ENETUNREACH: /* mostly "this machine has no v6 route" */
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
	case EPROTONOSUPPORT:
		return 1;
	default:
		return 2;
	}
}

static void direct_failure_hint(int error, const char *where, char *hint,
				size_t size)
{
	switch (error) {
	case ECONNREFUSED:
		snprintf(hint, size, "is anything listening on %s? check the "
			 "host and port, or the firewall", where);
		break;
	case ETIMEDOUT:
		snprintf(hint, size, "nothing answered at %s: check the host "
			 "and port, or a firewall that drops packets", where);
		break;
	case ENETUNREACH:
	case EHOSTUNREACH:
		snprintf(hint, size, "no route to %s: check this machine's "
			 "network configuration and the firewall", where);
		break;
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
	case EPROTONOSUPPORT:
		snprintf(hint, size, "this machine cannot use the address "
			 "family of %s (no IPv6?): check its network "
			 "configuration", where);
		break;
	case EACCES:
	case EPERM:
		snprintf(hint, size, "a local firewall rule or security "
			 "policy refused the connection to %s", where);
		break;
	default:
		snprintf(hint, size, "check the host and port of %s, the "
			 "network and the firewall", where);
		break;
	}
}

/*
 * Every address failed: report the most useful error first (a refusal
 * says more than "no v6 route"), the latest among equals, then the
 * other addresses tried.
 */
static int direct_fail_all(ps_layer *layer, struct direct *d)
{
	char message[PS_ERROR_MESSAGE_MAX], hint[PS_ERROR_HINT_MAX];
	char target[DIRECT_ADDR_TEXT_MAX + 256], errbuf[128];
	const struct direct_attempt *best = &d->attempts[0];
	const char *separator = "";
	size_t i, used = 0;

	for (i = 1; i < d->attempt_count; i++)
		if (direct_error_rank(d->attempts[i].error) >=
		    direct_error_rank(best->error))
			best = &d->attempts[i];
	direct_failure_hint(best->error, best->text, hint, sizeof(hint));
	if (d->attempt_count == 1) {
		direct_append(message, sizeof(message), &used,
			      "connect to %s failed: %s", best->text,
			      direct_strerror(best->error, errbuf,
					      sizeof(errbuf)));
	} else {
		direct_format_target(layer, target, sizeof(target));
		direct_append(message, sizeof(message), &used,
			      "connect to %s failed: %s (%s); also tried",
			      target,
			      direct_strerror(best->error, errbuf,
					      sizeof(errbuf)),
			      best->text);
		for (i = 0; i < d->attempt_count; i++) {
			const struct direct_attempt *a = &d->attempts[i];

			if (a == best)
				continue;
			direct_append(message, sizeof(message), &used,
				      "%s %s (%s)", separator, a->text,
				      direct_strerror(a->error, errbuf,
						      sizeof(errbuf)));
			separator = ",";
		}
	}
	return ps_layer_fail(layer, PS_ERR_CONNECT, hint, "%s", message);
}

/* One step of happy eyeballs: collect results, start what is due. */
static int direct_happy_eyeballs(ps_layer *layer, struct direct *d)
{
	long long now, waited;
	int any_failed, started;
	size_t i;

	if (direct_attempts_check(layer, d, &any_failed))
		return PS_OK;
	now = direct_now_ms();
	while (d->next_attempt < d->attempt_count &&
	       (any_failed || direct_in_flight(d) == 0 ||
		now - d->last_start_ms >= DIRECT_ATTEMPT_DELAY_MS)) {
		d->last_start_ms = now;
		started = direct_attempt_start(layer, d,
					       &d->attempts[d->next_attempt]);
		d->next_attempt++;
		if (started > 0) {
			d->winner = d->next_attempt - 1;
			return PS_OK;
		}
		/* A failure that fast makes way for the next address now. */
		any_failed = started < 0;
	}
	if (direct_in_flight(d) == 0)
		return direct_fail_all(layer, d);
	/* A want holds until the next call (module.h): name them all. */
	for (i = 0; i < d->next_attempt; i++)
		if (d->attempts[i].fd >= 0)
			ps_layer_want(layer, d->attempts[i].fd, POLLOUT);
	if (d->next_attempt < d->attempt_count) {
		waited = now - d->last_start_ms;
		ps_layer_wake_in(layer, DIRECT_ATTEMPT_DELAY_MS - waited);
	}
	return PS_AGAIN;
}

/* ------------------------------------------------------------------ */
/* The vtable                                                           */
/* ------------------------------------------------------------------ */

static int direct_open(ps_layer *layer, void *instance, void **state)
{
	struct direct *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory opening a connection");
	d->state = DIRECT_INIT;
	d->fd = -1;
	*state = d;
	return PS_OK;
}

/* A state's work finished with 'rc': on to 'next', or to FAILED. */
static void direct_step_done(ps_layer *layer, struct direct *d, int rc,
			     enum direct_state next)
{
	if (rc != PS_OK) {
		d->failure = rc;
		next = DIRECT_FAILED;
	}
	direct_go_state(layer, d, next);
}

static int direct_connect(ps_layer *layer, void *state)
{
	struct direct *d = state;
	int rc;

	for (;;) {
		switch (d->state) {
		case DIRECT_INIT:
			direct_go_state(layer, d, DIRECT_RESOLVE);
			break;
		case DIRECT_RESOLVE:
			rc = direct_resolve(layer, d);
			if (rc == PS_AGAIN)
				return PS_AGAIN;
			direct_step_done(layer, d, rc, DIRECT_CONNECT);
			break;
		case DIRECT_CONNECT:
			rc = direct_happy_eyeballs(layer, d);
			if (rc == PS_AGAIN)
				return PS_AGAIN;
			direct_step_done(layer, d, rc, DIRECT_CONNECTED);
			break;
		case DIRECT_CONNECTED:
			return PS_OK;
		case DIRECT_FAILED:
			return d->failure;
		}
	}
}

/* Channel I/O before CONNECTED is a host bug, not a network error. */
static int direct_not_connected(ps_layer *layer, const char *op)
{
	return ps_layer_fail(layer, PS_ERR_INTERNAL,
			     "this is a bug in proxystack: please report it",
			     "%s on a connection that is not established", op);
}

static int direct_send(ps_layer *layer, void *state, const void *buf,
		       size_t len, size_t *n)
{
	struct direct *d = state;
	char errbuf[128];
	ssize_t sent;

	*n = 0;
	if (d->state != DIRECT_CONNECTED)
		return direct_not_connected(layer, "send");
	if (len == 0)
		return PS_OK;
	do {
		/* MSG_NOSIGNAL: a peer that went away is an error, not a
		 * SIGPIPE that kills the agent. */
		sent = send(d->fd, buf, len, MSG_NOSIGNAL);
	} while (sent < 0 && errno == EINTR);
	if (sent >= 0) {
		*n = (size_t)sent;
		return PS_OK;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ps_layer_want(layer, d->fd, POLLOUT);
		return PS_AGAIN;
	}
	return ps_layer_fail(layer, PS_ERR_IO,
			     "the peer or something on the way closed the "
			     "connection",
			     "send to %s failed: %s", d->peer,
			     direct_strerror(errno, errbuf, sizeof(errbuf)));
}

static int direct_recv(ps_layer *layer, void *state, void *buf, size_t len,
		       size_t *n)
{
	struct direct *d = state;
	char errbuf[128];
	ssize_t got;

	*n = 0;
	if (d->state != DIRECT_CONNECTED)
		return direct_not_connected(layer, "recv");
	do {
		got = recv(d->fd, buf, len, 0);
	} while (got < 0 && errno == EINTR);
	if (got >= 0) {
		*n = (size_t)got; /* 0: the peer's orderly end of stream */
		return PS_OK;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ps_layer_want(layer, d->fd, POLLIN);
		return PS_AGAIN;
	}
	return ps_layer_fail(layer, PS_ERR_IO,
			     "the peer or something on the way closed the "
			     "connection",
			     "receive from %s failed: %s", d->peer,
			     direct_strerror(errno, errbuf, sizeof(errbuf)));
}

static int direct_shutdown_write(ps_layer *layer, void *state)
{
	struct direct *d = state;
	char errbuf[128];

	if (d->state != DIRECT_CONNECTED)
		return direct_not_connected(layer, "shutdown");
	if (d->write_shut)
		return PS_OK;
	if (shutdown(d->fd, SHUT_WR) != 0)
		return ps_layer_fail(layer, PS_ERR_IO,
				     "the peer already closed the connection",
				     "shutdown of %s failed: %s", d->peer,
				     direct_strerror(errno, errbuf,
						     sizeof(errbuf)));
	d->write_shut = 1;
	ps_layer_log(layer, PS_LOG_DEBUG, "sending side to %s closed",
		     d->peer);
	return PS_OK;
}

static void direct_close(ps_layer *layer, void *state)
{
	struct direct *d = state;

	if (d == NULL)
		return;
	/* Attempts still in flight when the deadline passed end here. */
	if (d->attempts != NULL)
		direct_close_attempts(d);
	if (d->fd >= 0)
		close(d->fd);
	free(d->attempts);
	free(d->pollfds);
	free(d);
}

static const struct ps_module_ops direct_ops = {
	/* No configure: a [transport] of module direct takes no keys. */
	.open = direct_open,
	.connect = direct_connect,
	.send = direct_send,
	.recv = direct_recv,
	.shutdown_write = direct_shutdown_write,
	.close = direct_close,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "direct",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_BOTTOM,
	.summary = "TCP to the target, happy eyeballs over IPv6 and IPv4",
	.ops = &direct_ops,
};
