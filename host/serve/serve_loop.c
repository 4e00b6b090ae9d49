/*
 * serve_loop.c - the daemon of proxystack serve: one epoll loop for the
 * listeners, a signalfd and every session.
 *
 *   accept      up to SERVE_ACCEPT_BATCH connections per wakeup.  At
 *               max_clients, or when the process or system is out of fds
 *               (EMFILE, ENFILE) or memory, the listeners leave epoll:
 *               pending clients wait in the kernel's backlog, and a
 *               timer (SERVE_ACCEPT_PAUSE_MS) or a closing session brings
 *               them back.  Never a busy loop on a listener that cannot
 *               be served.
 *   sessions    a client socket in the loop's epoll; the chain's fds in a
 *               small epoll of the session's own, itself in the loop's
 *               epoll, so that whatever fds the library names (a socket,
 *               an eventfd, several while it races addresses) never clash
 *               with another session's.
 *   signals     SIGHUP reloads at once (ps_ctx_reload()); the library's
 *               watcher reloads on file changes; [serve] is read again
 *               every second (allow, users_file, limits; listen needs a
 *               restart).  Open tunnels keep their snapshot.  SIGTERM or
 *               SIGINT drain: listeners close, tunnels get drain_timeout
 *               to finish, then the daemon exits 0.
 *   timers      each session names its next deadline (head, idle, the
 *               library's wake-up); the loop sleeps until the nearest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve_session.h"

#define SERVE_EVENTS 256
#define SERVE_ACCEPT_BATCH 64
#define SERVE_ACCEPT_PAUSE_MS 100
#define SERVE_CONFIG_CHECK_MS 1000
#define SERVE_BACKLOG 1024
#define SERVE_IP_BUCKETS 256

struct listener {
	struct watch w;
	int fd;
	char text[64];
};

struct ip_count {
	struct ip_count *next;
	int n;
	char addr[48];
};

long long serve_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void loop_log(struct serve *srv, int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };
	va_list ap;

	if (level == PS_LOG_DEBUG && !srv->verbose)
		return;
	fprintf(stderr, "proxystack: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int serve_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	return sigprocmask(SIG_BLOCK, &set, NULL);
}

/* ------------------------------------------------------------------ */
/* epoll bookkeeping for sessions                                      */
/* ------------------------------------------------------------------ */

int loop_client_events(struct session *s, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &s->cw };
	/* The high bit says "registered", even with no events. */
	const unsigned registered = 0x80000000u;
	int op = s->cev & registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (s->cev == (events | registered))
		return 0;
	if (epoll_ctl(s->srv->epfd, op, s->fd, &ev) != 0)
		return -1;
	s->cev = events | registered;
	return 0;
}

static int upstream_has(const struct upstream_want *set, size_t n, int fd,
			short *events)
{
	for (size_t i = 0; i < n; i++)
		if (set[i].fd == fd) {
			*events = set[i].events;
			return 1;
		}
	return 0;
}

static unsigned poll_to_epoll(short events)
{
	return (events & POLLIN ? EPOLLIN : 0u) |
	       (events & POLLOUT ? EPOLLOUT : 0u);
}

/* The session's own epoll holds exactly the fds it waits for now. */
int loop_upstream_sync(struct session *s)
{
	short old;

	if (s->upfd < 0) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.ptr = &s->uw };

		s->upfd = epoll_create1(EPOLL_CLOEXEC);
		if (s->upfd < 0 ||
		    epoll_ctl(s->srv->epfd, EPOLL_CTL_ADD, s->upfd, &ev))
			return -1;
	}
	for (size_t i = 0; i < s->nreg; i++)
		if (!upstream_has(s->want, s->nwant, s->reg[i].fd, &old))
			/* Already closed by the library: nothing to do. */
			epoll_ctl(s->upfd, EPOLL_CTL_DEL, s->reg[i].fd, NULL);
	for (size_t i = 0; i < s->nwant; i++) {
		struct epoll_event ev = {
			.events = poll_to_epoll(s->want[i].events),
			.data.ptr = &s->uw,
		};
		int have = upstream_has(s->reg, s->nreg, s->want[i].fd, &old);

		/* While the chain builds, the library closes sockets and
		 * opens new ones (failover, another address), which often
		 * get the same number: epoll forgot the closed one, so the
		 * same number is registered again every time. */
		if (have && old == s->want[i].events &&
		    s->state != SESSION_BUILDING)
			continue;
		/* An fd number the library closed and reused is new to
		 * epoll: MOD fails with ENOENT, then ADD it. */
		if (epoll_ctl(s->upfd, have ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
			      s->want[i].fd, &ev) != 0 &&
		    epoll_ctl(s->upfd, have ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
			      s->want[i].fd, &ev) != 0)
			return -1;
	}
	memcpy(s->reg, s->want, sizeof(s->reg));
	s->nreg = s->nwant;
	return 0;
}

/* ------------------------------------------------------------------ */
/* clients per address                                                 */
/* ------------------------------------------------------------------ */

static size_t ip_hash(const char *addr)
{
	size_t h = 5381;

	while (*addr)
		h = h * 33 + (unsigned char)*addr++;
	return h % SERVE_IP_BUCKETS;
}

static struct ip_count *ip_take(struct serve *srv, const char *addr)
{
	struct ip_count **head = &srv->ip_table[ip_hash(addr)], *c;

	for (c = *head; c; c = c->next)
		if (!strcmp(c->addr, addr))
			break;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		snprintf(c->addr, sizeof(c->addr), "%s", addr);
		c->next = *head;
		*head = c;
	}
	c->n++;
	return c;
}

static void ip_release(struct serve *srv, struct ip_count *c)
{
	struct ip_count **p;

	if (!c || --c->n > 0)
		return;
	for (p = &srv->ip_table[ip_hash(c->addr)]; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			free(c);
			return;
		}
}

/* ------------------------------------------------------------------ */
/* listeners and accept                                                */
/* ------------------------------------------------------------------ */

static int listener_address(const char *text, struct sockaddr_storage *ss,
			    socklen_t *len)
{
	char host[64];
	const char *colon = text[0] == '[' ? strstr(text, "]:")
					   : strrchr(text, ':');
	size_t hlen;

	memset(ss, 0, sizeof(*ss));
	if (!colon || ps_serve_listen_kind(text) < 0)
		return -1;
	hlen = (size_t)(colon - text) - (text[0] == '[');
	memcpy(host, text + (text[0] == '['), hlen);
	host[hlen] = '\0';
	if (text[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((unsigned short)atoi(colon + 2));
		inet_pton(AF_INET6, host, &a->sin6_addr);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((unsigned short)atoi(colon + 1));
		inet_pton(AF_INET, host, &a->sin_addr);
		*len = sizeof(*a);
	}
	return 0;
}

static int listener_open(struct listener *l, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	snprintf(l->text, sizeof(l->text), "%s", text);
	l->w.kind = WATCH_LISTENER;
	l->w.owner = l;
	if (listener_address(text, &ss, &len))
		return -1;
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		       SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -1;
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			   sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&ss, len) ||
	    listen(l->fd, SERVE_BACKLOG))
		return -1;
	return 0;
}

static void listeners_watch(struct serve *srv, int on)
{
	if (srv->accepting == on)
		return;
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.ptr = &srv->listeners[i].w };

		epoll_ctl(srv->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
			  srv->listeners[i].fd, &ev);
	}
	srv->accepting = on;
}

static void listeners_close(struct serve *srv)
{
	listeners_watch(srv, 0);
	for (size_t i = 0; i < srv->nlisteners; i++)
		if (srv->listeners[i].fd >= 0)
			close(srv->listeners[i].fd);
	free(srv->listeners);
	srv->listeners = NULL;
	srv->nlisteners = 0;
}

static void serve_add_session(struct serve *srv, int fd,
			      const struct sockaddr_storage *peer)
{
	struct session *s = session_new(srv, fd, peer);
	int one = 1;

	if (!s) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->ipc = ip_take(srv, s->addr);
	if (!s->ipc || s->ipc->n > srv->max_per_client)
		s->over_limit = 1;
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	if (loop_client_events(s, EPOLLIN))
		session_finish(s, "internal", 0);
}

/* Out of fds or memory: stop accepting for a moment, log it once. */
static void serve_pause_accept(struct serve *srv, int err)
{
	if (!srv->accept_resume_ms)
		loop_log(srv, PS_LOG_WARN, "accept: %s: not accepting for"
			 " %d ms (%zu clients open)", strerror(err),
			 SERVE_ACCEPT_PAUSE_MS, srv->nsessions);
	srv->accept_resume_ms = serve_now_ms() + SERVE_ACCEPT_PAUSE_MS;
	listeners_watch(srv, 0);
}

static void serve_accept(struct serve *srv, struct listener *l)
{
	for (int i = 0; i < SERVE_ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd;

		if (srv->nsessions >= (size_t)srv->max_clients) {
			listeners_watch(srv, 0);
			return;
		}
		fd = accept4(l->fd, (struct sockaddr *)&peer, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			serve_add_session(srv, fd, &peer);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			serve_pause_accept(srv, errno);
		else if (errno != EAGAIN && errno != EINTR &&
			 errno != ECONNABORTED)
			loop_log(srv, PS_LOG_WARN, "accept on %s: %s",
				 l->text, strerror(errno));
		return;
	}
}

/* Listeners come back once there is room and no pause is running. */
static void serve_resume_accept(struct serve *srv, long long now)
{
	if (srv->draining || srv->accepting)
		return;
	if (srv->accept_resume_ms && now < srv->accept_resume_ms)
		return;
	if (srv->nsessions >= (size_t)srv->max_clients)
		return;
	srv->accept_resume_ms = 0;
	listeners_watch(srv, 1);
}

/* ------------------------------------------------------------------ */
/* configuration                                                       */
/* ------------------------------------------------------------------ */

static int same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static long long file_mtime_ns(const char *path)
{
	struct stat st;

	if (!path || stat(path, &st))
		return 0;
	return (long long)st.st_mtim.tv_sec * 1000000000LL +
	       st.st_mtim.tv_nsec;
}

/* The allow list and users: rebuilt only when they changed (srv->log is
 * still NULL on the first call, at start: always built then). */
static int serve_apply_acl(struct serve *srv, const ps_serve_config *c,
			   ps_error *err)
{
	struct serve_acl acl;

	if (srv->log && same_text(srv->allow_text, c->allow) &&
	    same_text(srv->users_text, c->users_file) &&
	    file_mtime_ns(c->users_file) == srv->acl.users_mtime_ns)
		return PS_OK;
	if (acl_load(&acl, c->allow, c->users_file, err) != PS_OK)
		return err->code;
	acl_free(&srv->acl);
	srv->acl = acl;
	free(srv->allow_text);
	free(srv->users_text);
	srv->allow_text = c->allow ? strdup(c->allow) : NULL;
	srv->users_text = c->users_file ? strdup(c->users_file) : NULL;
	return PS_OK;
}

/* [serve] into the daemon; at start also the access log. */
static int serve_apply_config(struct serve *srv, ps_serve_config **keep,
			      ps_error *err)
{
	ps_serve_config *c = ps_ctx_serve_config(srv->ctx, err);
	int rc;

	if (!c)
		return err->code;
	rc = serve_apply_acl(srv, c, err);
	if (rc == PS_OK && !srv->log &&
	    access_log_open(c->access_log, &srv->log)) {
		snprintf(err->message, sizeof(err->message), "%s: %s",
			 c->access_log, strerror(errno));
		snprintf(err->hint, sizeof(err->hint),
			 "check access_log in [serve]");
		err->code = rc = PS_ERR_CONFIG;
	}
	if (rc == PS_OK) {
		srv->max_clients = c->max_clients;
		srv->max_per_client = c->max_tunnels_per_client;
		srv->idle_ms = c->idle_timeout_s * 1000;
		srv->drain_ms = c->drain_timeout_s * 1000;
		srv->http_forward_tunnel = c->http_forward_tunnel;
	}
	if (keep && rc == PS_OK)
		*keep = c;
	else
		ps_free(c);
	return rc;
}

static void serve_config_tick(struct serve *srv, long long now)
{
	ps_error err;

	if (now - srv->last_config_check_ms < SERVE_CONFIG_CHECK_MS)
		return;
	srv->last_config_check_ms = now;
	if (serve_apply_config(srv, NULL, &err) == PS_OK) {
		srv->last_error[0] = '\0';
		return;
	}
	/* Once per problem, not once a second while it lasts. */
	if (strcmp(srv->last_error, err.message)) {
		snprintf(srv->last_error, sizeof(srv->last_error), "%s",
			 err.message);
		loop_log(srv, PS_LOG_ERROR, "[serve] not applied, the old"
			 " settings stay: %s", err.message);
	}
}

static void serve_reload(struct serve *srv)
{
	ps_error err;

	if (ps_ctx_reload(srv->ctx, &err) != PS_OK) {
		loop_log(srv, PS_LOG_ERROR, "reload failed, the old"
			 " configuration stays: %s: %s",
			 ps_code_name(err.code), err.message);
		return;
	}
	srv->last_config_check_ms = 0;
	serve_config_tick(srv, serve_now_ms());
	loop_log(srv, PS_LOG_INFO, "configuration reloaded");
}

/* ------------------------------------------------------------------ */
/* signals and drain                                                   */
/* ------------------------------------------------------------------ */

static void serve_start_drain(struct serve *srv)
{
	if (srv->draining)
		return;
	srv->draining = 1;
	srv->drain_until_ms = serve_now_ms() + srv->drain_ms;
	listeners_close(srv);
	loop_log(srv, PS_LOG_INFO, "draining %zu open connections (up to"
		 " %d s)", srv->nsessions, srv->drain_ms / 1000);
	/* Nothing was asked of the stack yet: nothing to let finish. */
	for (struct session *s = srv->sessions; s; s = s->next)
		if (s->state == SESSION_HEAD || s->state == SESSION_LINGER)
			session_finish(s, "drained", 0);
}

static void serve_signal(struct serve *srv)
{
	struct signalfd_siginfo si;

	while (read(srv->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			serve_reload(srv);
		else
			serve_start_drain(srv);
	}
}

/* ------------------------------------------------------------------ */
/* the loop                                                            */
/* ------------------------------------------------------------------ */

static void serve_reap(struct serve *srv)
{
	struct session *s = srv->sessions, *next;

	for (; s; s = next) {
		next = s->next;
		if (s->state != SESSION_DONE)
			continue;
		if (s->prev)
			s->prev->next = s->next;
		else
			srv->sessions = s->next;
		if (s->next)
			s->next->prev = s->prev;
		ip_release(srv, s->ipc);
		srv->nsessions--;
		session_free(s);
	}
}

/* Run due timers; returns the ms until the next one (-1: none). */
static int serve_timers(struct serve *srv, long long now)
{
	long long next = now + SERVE_CONFIG_CHECK_MS;

	for (struct session *s = srv->sessions; s; s = s->next) {
		long long at = session_deadline(s);

		if (at >= 0 && at <= now) {
			session_timer(s, now);
			at = session_deadline(s);
			if (at >= 0 && at <= now)
				at = now + 1;
		}
		if (at >= 0 && s->state != SESSION_DONE && at < next)
			next = at;
	}
	if (srv->accept_resume_ms && srv->accept_resume_ms < next)
		next = srv->accept_resume_ms;
	if (srv->draining && srv->drain_until_ms < next)
		next = srv->drain_until_ms;
	return next > now ? (int)(next - now) : 0;
}

static void serve_dispatch(struct serve *srv, struct epoll_event *ev)
{
	struct watch *w = ev->data.ptr;
	struct session *s;

	switch (w->kind) {
	case WATCH_LISTENER:
		serve_accept(srv, w->owner);
		break;
	case WATCH_SIGNAL:
		serve_signal(srv);
		break;
	case WATCH_CLIENT:
	case WATCH_UPSTREAM:
		s = w->owner;
		if (s->state != SESSION_DONE)
			session_event(s, w->kind, ev->events);
		break;
	}
}

static void serve_drain_check(struct serve *srv, long long now)
{
	if (!srv->draining)
		return;
	if (srv->nsessions == 0) {
		srv->stop = 1;
		return;
	}
	if (now >= srv->drain_until_ms) {
		for (struct session *s = srv->sessions; s; s = s->next)
			session_finish(s, "drained", 0);
		srv->stop = 1;
	}
}

static void serve_loop(struct serve *srv)
{
	struct epoll_event events[SERVE_EVENTS];
	int timeout = 0;

	while (!srv->stop) {
		int n = epoll_wait(srv->epfd, events, SERVE_EVENTS, timeout);
		long long now;

		for (int i = 0; i < n; i++)
			serve_dispatch(srv, &events[i]);
		now = serve_now_ms();
		timeout = serve_timers(srv, now);
		serve_reap(srv);
		serve_config_tick(srv, now);
		serve_resume_accept(srv, now);
		serve_drain_check(srv, now);
		if (srv->stop)
			serve_reap(srv);
	}
}

/* ------------------------------------------------------------------ */
/* start and stop                                                      */
/* ------------------------------------------------------------------ */

/* More fds for more tunnels, as far as the hard limit allows. */
static void serve_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int serve_open_listeners(struct serve *srv, const ps_serve_config *c,
				const struct serve_options *o)
{
	size_t n = o->nlisten ? (size_t)o->nlisten : c->nlisten;

	srv->listeners = calloc(n, sizeof(*srv->listeners));
	if (!srv->listeners)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *text = o->nlisten ? o->listen[i] : c->listen[i];
		struct listener *l = &srv->listeners[i];

		l->fd = -1;
		srv->nlisteners++;
		if (listener_open(l, text)) {
			loop_log(srv, PS_LOG_ERROR, "cannot listen on %s: %s",
				 text, strerror(errno));
			return -1;
		}
	}
	listeners_watch(srv, 1);
	for (size_t i = 0; i < srv->nlisteners; i++)
		fprintf(stderr, "proxystack: listening on %s\n",
			srv->listeners[i].text);
	return 0;
}

/* --listen overrides [serve] listen, under the same open-proxy rule. */
static int serve_check_cli_listen(const ps_serve_config *c,
				  const struct serve_options *o, ps_error *err)
{
	for (int i = 0; i < o->nlisten; i++) {
		int kind = ps_serve_listen_kind(o->listen[i]);

		if (kind < 0 || (kind == 0 && !c->allow)) {
			err->code = PS_ERR_USAGE;
			snprintf(err->message, sizeof(err->message),
				 "--listen %.64s: %s", o->listen[i],
				 kind < 0 ? "not ADDR:PORT"
					  : "not a loopback address and no"
					    " allow = in [serve]: it would be"
					    " an open proxy");
			snprintf(err->hint, sizeof(err->hint), kind < 0
				 ? "an IP address and a port: 127.0.0.1:3128"
				   " or [::1]:3128"
				 : "set allow = the addresses of your clients"
				   " in [serve]");
			return PS_ERR_USAGE;
		}
	}
	return PS_OK;
}

static int serve_setup(struct serve *srv, const struct serve_options *o,
		       ps_error *err)
{
	ps_serve_config *c = NULL;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &srv->sigw };
	sigset_t set;
	int rc = serve_apply_config(srv, &c, err);

	if (rc == PS_OK)
		rc = serve_check_cli_listen(c, o, err);
	if (rc != PS_OK) {
		ps_free(c);
		return rc;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	srv->sigw.kind = WATCH_SIGNAL;
	srv->sigw.owner = srv;
	if (srv->epfd < 0 || srv->sigfd < 0 ||
	    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->sigfd, &ev) ||
	    serve_open_listeners(srv, c, o)) {
		ps_free(c);
		snprintf(err->message, sizeof(err->message),
			 "cannot start the local proxy");
		return err->code = PS_ERR_IO;
	}
	ps_free(c);
	return PS_OK;
}

static void serve_teardown(struct serve *srv)
{
	for (struct session *s = srv->sessions; s; s = s->next)
		session_finish(s, "drained", 0);
	serve_reap(srv);
	listeners_close(srv);
	if (srv->sigfd >= 0)
		close(srv->sigfd);
	if (srv->epfd >= 0)
		close(srv->epfd);
	if (srv->log && srv->log != stderr)
		fclose(srv->log);
	acl_free(&srv->acl);
	free(srv->allow_text);
	free(srv->users_text);
	free(srv->ip_table);
}

int serve_run(ps_ctx *ctx, const struct serve_options *opts)
{
	struct serve srv;
	ps_error err;
	int rc;

	memset(&srv, 0, sizeof(srv));
	ps_error_clear(&err);
	srv.ctx = ctx;
	srv.epfd = srv.sigfd = -1;
	srv.verbose = opts->verbose;
	srv.ip_table = calloc(SERVE_IP_BUCKETS, sizeof(*srv.ip_table));
	serve_raise_fd_limit();
	rc = srv.ip_table ? serve_setup(&srv, opts, &err) : PS_ERR_NOMEM;
	if (rc != PS_OK) {
		fprintf(stderr, "proxystack: error: %s: %s\n",
			ps_code_name(rc), err.message);
		if (err.hint[0])
			fprintf(stderr, "proxystack: hint: %s\n", err.hint);
		serve_teardown(&srv);
		return rc == PS_ERR_IO ? 1 : ps_code_exit_status(rc);
	}
	srv.last_config_check_ms = serve_now_ms();
	serve_loop(&srv);
	serve_teardown(&srv);
	loop_log(&srv, PS_LOG_INFO, "stopped");
	return 0;
}

char *serve_first_listen(ps_ctx *ctx, const struct serve_options *opts,
			 ps_error *err)
{
	ps_serve_config *c;
	char *out;

	if (opts->nlisten)
		return strdup(opts->listen[0]);
	c = ps_ctx_serve_config(ctx, err);
	if (!c)
		return NULL;
	out = strdup(c->listen[0]);
	ps_free(c);
	return out;
}
