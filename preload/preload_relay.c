/*
 * preload_relay.c - the relay thread: one per process, for every
 * connection connect() could not hand to the program as its own socket
 * (TLS or HTTP/2 to a proxy, bytes already read, a non-blocking chain
 * slower than the inline bound; see preload_connect.c).
 *
 * connect() hands a relay over (relay_submit) through a queue and an
 * eventfd; the thread is started on the first hand-over, with every
 * signal blocked so the program's handlers never run on it.  It drives
 * each relayed connection as a small state machine:
 *
 *   BUILDING   ps_conn_step() until PS_OK or an error, waiting for what
 *              ps_conn_poll() names (descriptor, events, timeout); a
 *              failure is recorded for SO_ERROR (preload_track.c),
 *              reported once, and our end is closed with the filler
 *              unread: the program's end turns POLLERR|POLLHUP;
 *   RELEASING  the filler read away: the program's end turns writable
 *              (the edge epoll reports), its send buffer restored;
 *   PUMPING    both directions, an end of stream on one side a shutdown
 *              on the other;
 *   DONE       everything closed and freed.
 *
 * One epoll set watches, level-triggered and one-shot, our ends of the
 * socketpairs and the descriptors the connections wait for.  Several
 * connections may wait for one descriptor (tunnels over one HTTP/2
 * session to a proxy), and the library may close a descriptor and get
 * its number back for another: so interest is kept per descriptor
 * number (struct relay_slot), the union of what its parties wait for,
 * every party is run when it fires, and a connection that names a
 * descriptor re-arms it (EPOLL_CTL_MOD, else ADD).  One-shot: a
 * registration whose descriptor the library closed while a copy lives
 * on (in a forked child) fires once at most, never in a loop.  A
 * connection that keeps moving bytes yields after a few rounds, so one
 * busy transfer cannot starve the others.
 *
 * fork(): the thread does not survive in the child, which starts its
 * own on its first relayed connect; the parent's relays are left as
 * they were (their memory kept reachable, their descriptors open, as
 * any descriptor a child inherits).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

#define RELAY_BUF 16384
/* Rounds a connection may move bytes before the others get a turn. */
#define PUMP_ROUNDS 8
#define EPOLL_BATCH 64
/* How soon a connection whose wait could not be registered runs again. */
#define RETRY_MS 10
/* epoll data of the eventfd: no descriptor number is that large. */
#define WAKE_TAG UINT64_MAX

enum relay_phase {
	RELAY_BUILDING,
	RELAY_RELEASING,
	RELAY_PUMPING,
	RELAY_DONE
};

struct pump {
	char up[RELAY_BUF], down[RELAY_BUF];
	size_t up_len, up_off, down_len, down_off;
	int prog_eof, peer_eof, up_shut, dead;
	/* What the last round waits for. */
	short conn_events, our_events;
	int conn_fd, conn_timeout_ms;
};

/* One relayed connection, as the thread drives it. */
struct relayed {
	struct relay *r;
	enum relay_phase phase;
	struct pump pump;
	struct relayed *next, *prev;    /* the queue, then the thread's list */
	struct relayed *run_next;       /* the run list */
	int queued;                     /* on the run list */
	/* What it waits for. */
	int conn_fd;                    /* -1: none */
	short conn_events, our_events;
	long deadline_ms;               /* -1: none */
	struct relayed *waiter_next, *waiter_prev;      /* in conn_fd's slot */
};

/* Interest in one descriptor number. */
struct relay_slot {
	struct relayed *owner;          /* whose socketpair end it is */
	struct relayed *waiters;        /* connections waiting for it */
	uint32_t armed;                 /* registered events, 0: none */
};

/* Shared with the threads that call connect(), under relay_lock. */
static pthread_mutex_t relay_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t relay_once = PTHREAD_ONCE_INIT;
static struct relayed *relay_queue;
static int relay_running;
/* Set before the thread starts, then only read. */
static int relay_epoll = -1, relay_wake = -1;

/* The thread's own. */
static struct relayed *relay_active;    /* every connection it drives */
static struct relayed *relay_runnable;  /* to run without waiting */
static struct relay_slot *relay_slots;  /* by descriptor number */
static size_t relay_nslots;

/*
 * A forked child's copies of the parent's state: kept reachable, never
 * touched (the parent's thread may have been changing them at fork).
 */
static struct relayed *orphan_active, *orphan_queue;
static struct relay_slot *orphan_slots;

static long relay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;         /* relay_new() found no memory */
	if (r->ours >= 0)
		close(r->ours);
	if (r->theirs >= 0)
		close(r->theirs);
	ps_conn_close(r->conn);
	free(r);
}

/* ---- interest per descriptor ------------------------------------------ */

static struct relay_slot *slot_of(int fd)
{
	size_t want = relay_nslots ? relay_nslots : 64;
	struct relay_slot *grown;

	if (fd < 0)
		return NULL;
	while ((size_t)fd >= want)
		want *= 2;
	if (want > relay_nslots) {
		grown = realloc(relay_slots, want * sizeof(*grown));
		if (!grown)
			return NULL;
		memset(grown + relay_nslots, 0,
		       (want - relay_nslots) * sizeof(*grown));
		relay_slots = grown;
		relay_nslots = want;
	}
	return &relay_slots[fd];
}

static uint32_t slot_wanted(const struct relay_slot *s)
{
	uint32_t ev = s->owner ? (uint32_t)s->owner->our_events : 0;

	for (const struct relayed *w = s->waiters; w; w = w->waiter_next)
		ev |= (uint32_t)w->conn_events;
	return ev;
}

/*
 * Register what slot 'fd' wants, one-shot (POLLIN and POLLOUT are
 * EPOLLIN and EPOLLOUT).  'force': re-arm even if it looks armed (its
 * number may name another file since).  0, or -1 when epoll refused the
 * descriptor.
 */
static int slot_sync(int fd, int force)
{
	struct relay_slot *s = &relay_slots[fd];
	struct epoll_event ev = { .data.u64 = (uint64_t)fd };
	uint32_t want = slot_wanted(s);

	if (want == s->armed && !force)
		return 0;
	if (!want) {
		if (s->armed)
			epoll_ctl(relay_epoll, EPOLL_CTL_DEL, fd, NULL);
		s->armed = 0;
		return 0;
	}
	ev.events = want | EPOLLONESHOT;
	if (epoll_ctl(relay_epoll, EPOLL_CTL_MOD, fd, &ev) < 0 &&
	    (errno != ENOENT ||
	     epoll_ctl(relay_epoll, EPOLL_CTL_ADD, fd, &ev) < 0)) {
		s->armed = 0;
		return -1;
	}
	s->armed = want;
	return 0;
}

/* Stop waiting for the connection's descriptor. */
static void wait_conn_drop(struct relayed *e)
{
	struct relay_slot *s;

	if (e->conn_fd < 0)
		return;
	s = &relay_slots[e->conn_fd];
	if (e->waiter_prev)
		e->waiter_prev->waiter_next = e->waiter_next;
	else
		s->waiters = e->waiter_next;
	if (e->waiter_next)
		e->waiter_next->waiter_prev = e->waiter_prev;
	e->waiter_next = e->waiter_prev = NULL;
	slot_sync(e->conn_fd, 0);
	e->conn_fd = -1;
	e->conn_events = 0;
}

/*
 * Wait for 'events' on 'fd' (the library's), re-armed in any case.  No
 * memory for the slot, or a descriptor epoll refuses: run again in a
 * while instead.
 */
static void wait_conn(struct relayed *e, int fd, short events)
{
	struct relay_slot *s;

	if (fd < 0 || !events) {
		wait_conn_drop(e);
		return;
	}
	if (e->conn_fd != fd) {
		wait_conn_drop(e);
		if (!(s = slot_of(fd))) {
			e->deadline_ms = relay_now_ms() + RETRY_MS;
			return;
		}
		e->conn_fd = fd;
		e->waiter_next = s->waiters;
		if (s->waiters)
			s->waiters->waiter_prev = e;
		s->waiters = e;
	}
	e->conn_events = events;
	if (slot_sync(fd, 1) < 0)
		e->deadline_ms = relay_now_ms() + RETRY_MS;
}

/* Wait for 'events' on our end of the pair (0: nothing). */
static void wait_ours(struct relayed *e, short events)
{
	e->our_events = events;
	if (slot_sync(e->r->ours, 0) < 0)
		e->deadline_ms = relay_now_ms() + RETRY_MS;
}

static void wait_deadline(struct relayed *e, int timeout_ms)
{
	e->deadline_ms = timeout_ms >= 0 ? relay_now_ms() + timeout_ms : -1;
}

/* ---- the run list ------------------------------------------------------ */

static void run_soon(struct relayed *e)
{
	if (e->queued)
		return;
	e->queued = 1;
	e->run_next = relay_runnable;
	relay_runnable = e;
}

/* Slot 'fd' fired: it is disarmed, and every party runs. */
static void slot_fired(int fd)
{
	struct relay_slot *s;

	if (fd < 0 || (size_t)fd >= relay_nslots)
		return;
	s = &relay_slots[fd];
	s->armed = 0;
	if (s->owner)
		run_soon(s->owner);
	for (struct relayed *w = s->waiters; w; w = w->waiter_next)
		run_soon(w);
}

/* Connections whose deadline passed run; the wait until the next one. */
static int run_expired(void)
{
	long now = relay_now_ms(), next = -1;

	for (struct relayed *e = relay_active; e; e = e->next) {
		if (e->deadline_ms < 0)
			continue;
		if (e->deadline_ms <= now)
			run_soon(e);
		else if (next < 0 || e->deadline_ms < next)
			next = e->deadline_ms;
	}
	if (relay_runnable)
		return 0;
	return next < 0 ? -1 : (int)(next - now);
}

/* ---- the pump ---------------------------------------------------------- */

/* Note what the channel waits for after a PS_AGAIN. */
static void pump_wait_conn(struct pump *p, ps_conn *conn)
{
	ps_poll w;

	ps_conn_poll(conn, &w);
	if (w.fd >= 0) {
		p->conn_fd = w.fd;
		p->conn_events |= w.events;
	}
	if (w.timeout_ms >= 0 &&
	    (p->conn_timeout_ms < 0 || w.timeout_ms < p->conn_timeout_ms))
		p->conn_timeout_ms = w.timeout_ms;
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

static int pump_finished(const struct pump *p)
{
	return p->dead || (p->peer_eof && p->down_len == 0 &&
			   (p->up_shut || p->prog_eof));
}

/* A few rounds of both directions; the next phase. */
static enum relay_phase relay_pump(struct relayed *e)
{
	struct pump *p = &e->pump;

	for (int round = 0; round < PUMP_ROUNDS; round++) {
		p->conn_events = p->our_events = 0;
		p->conn_fd = p->conn_timeout_ms = -1;
		if (!(pump_up(p, e->r) | pump_down(p, e->r))) {
			if (pump_finished(p))
				return RELAY_DONE;
			wait_deadline(e, p->conn_timeout_ms);
			wait_conn(e, p->conn_fd, p->conn_events);
			wait_ours(e, p->our_events);
			return RELAY_PUMPING;
		}
		if (pump_finished(p))
			return RELAY_DONE;
	}
	run_soon(e);    /* still moving: after the others */
	return RELAY_PUMPING;
}

/* ---- building and releasing ------------------------------------------- */

/* The chain failed: SO_ERROR, the report; the pair is torn down next. */
static void relay_failed(struct relay *r)
{
	ps_error err = *ps_conn_error(r->conn);

	track_finish(r->fd, r->ino, TRACK_FAILED, connect_errno_of_error(&err));
	preload_report(r->what, &err);
}

static enum relay_phase relay_build(struct relayed *e)
{
	ps_poll w;
	int rc = ps_conn_step(e->r->conn);

	if (rc == PS_AGAIN) {
		ps_conn_poll(e->r->conn, &w);
		wait_deadline(e, w.timeout_ms);
		wait_conn(e, w.fd, w.events);
		return RELAY_BUILDING;
	}
	wait_conn_drop(e);
	e->deadline_ms = -1;
	if (rc != PS_OK) {
		relay_failed(e->r);
		return RELAY_DONE;      /* filler unread: ECONNRESET, HUP */
	}
	track_finish(e->r->fd, e->r->ino, TRACK_CONNECTED, 0);
	return RELAY_RELEASING;
}

/* Read the filler away: the program's end turns writable. */
static enum relay_phase relay_release(struct relayed *e)
{
	struct relay *r = e->r;
	char sink[4096];
	ssize_t got;

	while (r->filler > 0) {
		got = recv(r->ours, sink,
			   r->filler < sizeof(sink) ? r->filler : sizeof(sink),
			   MSG_DONTWAIT);
		if (got > 0) {
			r->filler -= (size_t)got;
		} else if (got < 0 && errno == EAGAIN) {
			wait_ours(e, POLLIN);
			return RELAY_RELEASING;
		} else if (got == 0 || errno != EINTR) {
			return RELAY_DONE;
		}
	}
	setsockopt(r->theirs, SOL_SOCKET, SO_SNDBUF, &r->sndbuf,
		   sizeof(r->sndbuf));
	close(r->theirs);
	r->theirs = -1;
	wait_ours(e, 0);
	return RELAY_PUMPING;
}

/* Everything closed, our end first out of the epoll set. */
static void relay_done(struct relayed *e)
{
	wait_conn_drop(e);
	wait_ours(e, 0);
	relay_slots[e->r->ours].owner = NULL;
	if (e->prev)
		e->prev->next = e->next;
	else
		relay_active = e->next;
	if (e->next)
		e->next->prev = e->prev;
	relay_free(e->r);
	free(e);
}

/* Run one connection as far as it goes without waiting. */
static void relay_run(struct relayed *e)
{
	enum relay_phase was;

	do {
		was = e->phase;
		switch (e->phase) {
		case RELAY_BUILDING:
			e->phase = relay_build(e);
			break;
		case RELAY_RELEASING:
			e->phase = relay_release(e);
			break;
		case RELAY_PUMPING:
			e->phase = relay_pump(e);
			break;
		case RELAY_DONE:
			break;
		}
	} while (e->phase != was && e->phase != RELAY_DONE);
	if (e->phase == RELAY_DONE)
		relay_done(e);
}

/* Run every runnable connection once; those that yield run next turn. */
static void run_all(void)
{
	struct relayed *list = relay_runnable, *e;

	relay_runnable = NULL;
	while ((e = list)) {
		list = e->run_next;
		e->queued = 0;
		relay_run(e);
	}
}

/* ---- the thread -------------------------------------------------------- */

/* Connections connect() handed over join the thread's list and run. */
static void take_handed_over(void)
{
	struct relayed *list, *e;
	uint64_t count;

	if (read(relay_wake, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&relay_lock);
	list = relay_queue;
	relay_queue = NULL;
	pthread_mutex_unlock(&relay_lock);
	while ((e = list)) {
		list = e->next;
		if (!slot_of(e->r->ours)) {
			relay_free(e->r);       /* the program's end: HUP */
			free(e);
			continue;
		}
		e->next = relay_active;
		e->prev = NULL;
		if (relay_active)
			relay_active->prev = e;
		relay_active = e;
		relay_slots[e->r->ours].owner = e;
		run_soon(e);
	}
}

static void *relay_main(void *arg)
{
	struct epoll_event ev[EPOLL_BATCH];
	int n, timeout;

	(void)arg;
	preload_set_inside(1);
	for (;;) {
		/* Even with connections to run: the others' events first. */
		timeout = run_expired();
		n = epoll_wait(relay_epoll, ev, EPOLL_BATCH, timeout);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == WAKE_TAG)
				take_handed_over();
			else
				slot_fired((int)ev[i].data.u64);
		}
		run_expired();
		run_all();
	}
	return NULL;
}

static void relay_atfork_prepare(void)
{
	pthread_mutex_lock(&relay_lock);
}

static void relay_atfork_parent(void)
{
	pthread_mutex_unlock(&relay_lock);
}

static void relay_atfork_child(void)
{
	pthread_mutex_init(&relay_lock, NULL);
	if (!relay_running)
		return;
	close(relay_epoll);
	close(relay_wake);
	relay_epoll = relay_wake = -1;
	relay_running = 0;
	orphan_active = relay_active;
	orphan_queue = relay_queue;
	orphan_slots = relay_slots;
	relay_active = relay_runnable = relay_queue = NULL;
	relay_slots = NULL;
	relay_nslots = 0;
}

static void relay_init(void)
{
	pthread_atfork(relay_atfork_prepare, relay_atfork_parent,
		       relay_atfork_child);
}

/* The thread, its epoll set and eventfd; under relay_lock.  0 or -1. */
static int relay_start_thread(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WAKE_TAG };
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	relay_epoll = epoll_create1(EPOLL_CLOEXEC);
	relay_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (relay_epoll < 0 || relay_wake < 0 ||
	    epoll_ctl(relay_epoll, EPOLL_CTL_ADD, relay_wake, &ev) < 0)
		goto fail;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, relay_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0) {
		relay_running = 1;
		return 0;
	}
fail:
	if (relay_epoll >= 0)
		close(relay_epoll);
	if (relay_wake >= 0)
		close(relay_wake);
	relay_epoll = relay_wake = -1;
	return -1;
}

int relay_submit(struct relay *r, int building)
{
	struct relayed *e = calloc(1, sizeof(*e));
	static const uint64_t one = 1;
	int rc = 0;

	if (!e) {
		errno = ENOMEM;
		return -1;
	}
	e->r = r;
	e->phase = building ? RELAY_BUILDING : RELAY_PUMPING;
	e->conn_fd = -1;
	e->deadline_ms = -1;
	pthread_once(&relay_once, relay_init);
	pthread_mutex_lock(&relay_lock);
	if (!relay_running && relay_start_thread() < 0) {
		rc = -1;
	} else {
		e->next = relay_queue;
		relay_queue = e;
	}
	pthread_mutex_unlock(&relay_lock);
	if (rc < 0) {
		free(e);
		errno = EAGAIN;
		return -1;
	}
	if (write(relay_wake, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the thread wakes anyway. */
	}
	return 0;
}
