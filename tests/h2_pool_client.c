/*
 * h2_pool_client.c - opens several tunnels through one https proxy in
 * one process and checks what tests/integration/t_h2_pool.sh needs to
 * know: how many TCP connections to the proxy they use, that they all
 * carry data at the same time, how long opening them took, and what each
 * one reports when the proxy dies under them.
 *
 *   h2_pool_client -c DIR -u URL --ca-file CA --proxy-port PORT
 *                  [-n N] [--bytes B] [--parallel] [--separate]
 *                  [--expect-connections K] [--kill PID] [--label TEXT]
 *
 *   -n N           tunnels (default 10)
 *   --parallel     start all with ps_conn_start() and build them in one
 *                  poll loop (then round-trip in that loop too); default:
 *                  one blocking ps_connect() after the other, then one
 *                  thread per tunnel for the round trip
 *   --separate     one context per tunnel: one configuration snapshot,
 *                  so one pool, each (nothing to share)
 *   --bytes B      per tunnel, sent and compared as the echo comes back
 *   --expect-connections K   assert K established TCP connections from
 *                  this process to 127.0.0.1:PORT (counted in /proc)
 *   --kill PID     then SIGTERM PID (the proxy, started by the script)
 *                  and assert every tunnel's next I/O fails with
 *                  PS_ERR_IO naming the proxy
 *   --goaway PID   then SIGQUIT PID (nghttpx: graceful shutdown, GOAWAY)
 *                  and assert the tunnels still carry data and a new
 *                  tunnel does not join the session that got GOAWAY
 *   --one-at-a-time  open, round-trip and close each tunnel before the
 *                  next (one context), then assert:
 *     --expect-idle K    K connections to the proxy stay open after
 *                  each close (1: the session is kept for the next)
 *     --expect-reuse yes|no   every tunnel rode the TCP connection of
 *                  the first (same local port), or each its own
 *     --pause-ms M   wait M ms after each close
 *
 * Prints "ok - ..." / "not ok - ..." lines for tests/ps-driver and
 * "# ..." notes (timings); exits 1 if anything failed.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <proxystack.h>

#define MAX_TUNNELS 256
#define CHUNK (64 * 1024)
#define MAX_AHEAD (256 * 1024)   /* sent but not yet echoed */

struct options {
	const char *conf_dir, *url, *ca_file, *label;
	unsigned proxy_port;
	int count, parallel, separate, expect_connections;
	long long bytes;
	int kill_pid;
	int goaway_pid;
	int one_at_a_time, expect_idle, expect_reuse, pause_ms;
};

struct tunnel {
	int index;
	ps_ctx *ctx;
	ps_conn *conn;
	long long total, sent, received;
	int failed;
	char why[600];
	char proxy_step[200];   /* the https-proxy layer's detail */
};

static int failures;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void result(int ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		failures++;
}

/* The byte at offset 'i' of tunnel 'k': each tunnel has its own bytes. */
static unsigned char pattern(int k, long long i)
{
	return (unsigned char)(i * 31 + k * 7 + (i >> 9));
}

static void fill(int k, long long from, unsigned char *buf, size_t n)
{
	for (size_t j = 0; j < n; j++)
		buf[j] = pattern(k, from + (long long)j);
}

static int check(struct tunnel *t, const unsigned char *buf, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		if (buf[j] != pattern(t->index, t->received + (long long)j)) {
			snprintf(t->why, sizeof(t->why), "tunnel %d: byte %lld"
				 " differs", t->index,
				 t->received + (long long)j);
			t->failed = 1;
			return -1;
		}
	}
	t->received += (long long)n;
	return 0;
}

static void conn_failed(struct tunnel *t, const char *what)
{
	const ps_error *e = ps_conn_error(t->conn);

	snprintf(t->why, sizeof(t->why), "tunnel %d: %s: %s: %s", t->index,
		 what, ps_code_name(e->code), e->message);
	t->failed = 1;
}

/* ------------------------------------------------------------------ */
/* counting connections to the proxy                                   */
/* ------------------------------------------------------------------ */

static int own_socket(const unsigned long *inodes, size_t n,
		      unsigned long inode)
{
	for (size_t i = 0; i < n; i++)
		if (inodes[i] == inode)
			return 1;
	return 0;
}

/*
 * Established TCP connections of this process to 'port' (v4 and v6);
 * *local_port (if not NULL) is the local port of the last one found.
 */
static int count_connections(unsigned port, unsigned *local_port)
{
	static const char *const tables[] = { "/proc/net/tcp",
					      "/proc/net/tcp6" };
	unsigned long inodes[4096];
	size_t ninodes = 0;
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	int count = 0;

	if (!dir)
		return -1;
	while ((d = readdir(dir)) && ninodes < 4096) {
		char path[300], link[64];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &inodes[ninodes]) == 1)
			ninodes++;
	}
	closedir(dir);
	for (size_t t = 0; t < 2; t++) {
		FILE *f = fopen(tables[t], "r");
		char line[512];

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char loc[64], rem[64];
			unsigned st, rport, lport;
			unsigned long inode;
			char *colon, *lcolon;

			/* sl local rem st tx:rx tr:when retr uid tmo inode */
			if (sscanf(line, " %*s %63s %63s %x %*s %*s %*s %*s "
				   "%*s %lu", loc, rem, &st, &inode) != 4)
				continue;
			colon = strrchr(rem, ':');
			lcolon = strrchr(loc, ':');
			if (!colon || sscanf(colon + 1, "%x", &rport) != 1 ||
			    !lcolon || sscanf(lcolon + 1, "%x", &lport) != 1)
				continue;
			if (st == 1 && rport == port &&
			    own_socket(inodes, ninodes, inode)) {
				count++;
				if (local_port)
					*local_port = lport;
			}
		}
		fclose(f);
	}
	return count;
}

/* ------------------------------------------------------------------ */
/* opening                                                             */
/* ------------------------------------------------------------------ */

static ps_ctx *new_ctx(const struct options *o)
{
	ps_ctx_options co;
	ps_error err;
	ps_ctx *ctx;

	ps_ctx_options_init(&co);
	co.conf_dir = o->conf_dir;
	co.ignore_environment = 1;
	ctx = ps_ctx_new(&co, &err);
	if (!ctx)
		fprintf(stderr, "h2_pool_client: %s: %s\n",
			ps_code_name(err.code), err.message);
	return ctx;
}

/* on_step: keep what the proxy layer says ("... h2 stream 3 (shared)"). */
static void note_step(void *user, const ps_step *step)
{
	struct tunnel *t = user;

	if (!strcmp(step->layer, "https-proxy"))
		snprintf(t->proxy_step, sizeof(t->proxy_step), "%s",
			 step->detail);
}

static int open_sequential(const struct options *o, struct tunnel *t,
			   const ps_connect_options *co)
{
	for (int i = 0; i < o->count; i++) {
		ps_connect_options mine = *co;
		ps_error err;

		mine.on_step = note_step;
		mine.step_user = &t[i];
		t[i].conn = ps_connect(t[i].ctx, o->url, &mine, &err);
		if (!t[i].conn) {
			result(0, "%s: tunnel %d: %s: %s (hint: %s)", o->label,
			       i, ps_code_name(err.code), err.message,
			       err.hint);
			return -1;
		}
	}
	return 0;
}

/* Add what a connection waits for to the poll set. */
static void note_wait(ps_conn *c, struct pollfd *fds, int *nfds,
		      int *timeout)
{
	ps_poll p;

	ps_conn_poll(c, &p);
	if (p.timeout_ms >= 0 && (*timeout < 0 || p.timeout_ms < *timeout))
		*timeout = p.timeout_ms;
	if (p.fd < 0)
		return;
	fds[*nfds].fd = p.fd;
	fds[*nfds].events = p.events;
	fds[*nfds].revents = 0;
	(*nfds)++;
}

static int open_parallel(const struct options *o, struct tunnel *t,
			 const ps_connect_options *co)
{
	struct pollfd fds[MAX_TUNNELS];
	int up = 0, done[MAX_TUNNELS] = { 0 };

	for (int i = 0; i < o->count; i++) {
		ps_error err;

		t[i].conn = ps_conn_start(t[i].ctx, o->url, co, &err);
		if (!t[i].conn) {
			result(0, "%s: start %d: %s", o->label, i,
			       err.message);
			return -1;
		}
	}
	while (up < o->count) {
		int nfds = 0, timeout = -1;

		for (int i = 0; i < o->count; i++) {
			int rc;

			if (done[i])
				continue;
			rc = ps_conn_step(t[i].conn);
			if (rc == PS_AGAIN) {
				note_wait(t[i].conn, fds, &nfds, &timeout);
				continue;
			}
			if (rc != PS_OK) {
				const ps_error *e = ps_conn_error(t[i].conn);

				result(0, "%s: tunnel %d: %s: %s", o->label,
				       i, ps_code_name(e->code), e->message);
				return -1;
			}
			done[i] = 1;
			up++;
		}
		if (up < o->count && poll(fds, (nfds_t)nfds, timeout) < 0 &&
		    errno != EINTR)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* round trips                                                         */
/* ------------------------------------------------------------------ */

/* Blocking connection, own thread: send a chunk, read its echo. */
static void *round_trip_thread(void *arg)
{
	struct tunnel *t = arg;
	unsigned char *out = malloc(CHUNK), *in = malloc(CHUNK);

	if (!out || !in) {
		snprintf(t->why, sizeof(t->why), "out of memory");
		t->failed = 1;
	}
	while (!t->failed && t->received < t->total) {
		size_t n = t->total - t->sent < CHUNK ? (size_t)(t->total -
								 t->sent)
						      : CHUNK;
		long long want;

		fill(t->index, t->sent, out, n);
		if (ps_conn_write(t->conn, out, n, &n) != PS_OK) {
			conn_failed(t, "write");
			break;
		}
		t->sent += (long long)n;
		want = t->sent;
		while (!t->failed && t->received < want) {
			size_t got;

			if (ps_conn_read(t->conn, in, CHUNK, &got) != PS_OK) {
				conn_failed(t, "read");
				break;
			}
			if (got == 0) {
				snprintf(t->why, sizeof(t->why), "tunnel %d: "
					 "end of stream after %lld bytes",
					 t->index, t->received);
				t->failed = 1;
				break;
			}
			check(t, in, got);
		}
	}
	free(out);
	free(in);
	return NULL;
}

static void round_trip_threads(const struct options *o, struct tunnel *t)
{
	pthread_t threads[MAX_TUNNELS];

	for (int i = 0; i < o->count; i++)
		pthread_create(&threads[i], NULL, round_trip_thread, &t[i]);
	for (int i = 0; i < o->count; i++)
		pthread_join(threads[i], NULL);
}

/* Non-blocking connections, one poll loop for all of them. */
static void round_trip_loop(const struct options *o, struct tunnel *t)
{
	unsigned char *buf = malloc(CHUNK);
	int left = o->count;
	double deadline = now_ms() + 120000;

	while (buf && left > 0 && now_ms() < deadline) {
		struct pollfd fds[2 * MAX_TUNNELS];
		int nfds = 0, timeout = -1;

		left = 0;
		for (int i = 0; i < o->count; i++) {
			struct tunnel *x = &t[i];
			int rc;

			if (x->failed || x->received >= x->total)
				continue;
			left++;
			if (x->sent < x->total &&
			    x->sent - x->received < MAX_AHEAD) {
				size_t n = x->total - x->sent < CHUNK
						   ? (size_t)(x->total -
							      x->sent)
						   : CHUNK;

				fill(x->index, x->sent, buf, n);
				rc = ps_conn_write(x->conn, buf, n, &n);
				if (rc == PS_OK)
					x->sent += (long long)n;
				else if (rc == PS_AGAIN)
					note_wait(x->conn, fds, &nfds,
						  &timeout);
				else
					conn_failed(x, "write");
			}
			while (!x->failed && x->received < x->sent) {
				size_t got;

				rc = ps_conn_read(x->conn, buf, CHUNK, &got);
				if (rc == PS_AGAIN) {
					note_wait(x->conn, fds, &nfds,
						  &timeout);
					break;
				}
				if (rc != PS_OK) {
					conn_failed(x, "read");
				} else if (got == 0) {
					snprintf(x->why, sizeof(x->why),
						 "tunnel %d: end of stream",
						 x->index);
					x->failed = 1;
				} else {
					check(x, buf, got);
				}
			}
		}
		if (left > 0 && nfds > 0)
			poll(fds, (nfds_t)nfds, timeout < 0 ? 1000 : timeout);
	}
	for (int i = 0; i < o->count; i++)
		if (!t[i].failed && t[i].received < t[i].total) {
			snprintf(t[i].why, sizeof(t[i].why), "tunnel %d: "
				 "%lld of %lld bytes back after 120 s", i,
				 t[i].received, t[i].total);
			t[i].failed = 1;
		}
	free(buf);
}

/* ------------------------------------------------------------------ */
/* the proxy dies under the tunnels                                    */
/* ------------------------------------------------------------------ */

static void proxy_dies(const struct options *o, struct tunnel *t)
{
	int all = 1;
	char first[600] = "";

	if (kill(o->kill_pid, SIGTERM) != 0) {
		result(0, "%s: kill %d: %s", o->label, o->kill_pid,
		       strerror(errno));
		return;
	}
	/* Its worker goes a moment later: wait for our connection to end
	 * (it leaves ESTABLISHED when the proxy's side closes). */
	for (int i = 0; i < 100 && count_connections(o->proxy_port, NULL) > 0; i++)
		usleep(50 * 1000);
	for (int i = 0; i < o->count; i++) {
		const ps_error *e;
		unsigned char byte = 'x';
		size_t n;
		int rc = ps_conn_write(t[i].conn, &byte, 1, &n);

		if (rc == PS_OK) {
			/* Blocking: returns when the session's end is seen. */
			rc = ps_conn_read(t[i].conn, &byte, 1, &n);
			if (rc == PS_OK)
				rc = n == 0 ? -1 : -2;
		}
		e = ps_conn_error(t[i].conn);
		if (rc != PS_ERR_IO || !strstr(e->message, "proxy https://")) {
			all = 0;
			printf("#   tunnel %d: rc %d: %s: %s\n", i, rc,
			       ps_code_name(e->code), e->message);
		} else if (!first[0]) {
			snprintf(first, sizeof(first), "%s", e->message);
		}
	}
	result(all, "%s: after the proxy died, each of %d tunnels got "
	       "PS_ERR_IO naming the proxy on its next I/O", o->label,
	       o->count);
	if (first[0])
		printf("#   e.g. \"%s\"\n", first);
}

/* A graceful shutdown: GOAWAY, then the live streams run to their end. */
static void proxy_goes_away(const struct options *o, struct tunnel *t)
{
	ps_connect_options co;
	ps_error err;
	ps_conn *extra;
	int bad = 0;

	if (kill(o->goaway_pid, SIGQUIT) != 0) {
		result(0, "%s: kill -QUIT %d: %s", o->label, o->goaway_pid,
		       strerror(errno));
		return;
	}
	usleep(300 * 1000); /* GOAWAY, and nghttpx's PING round trip */
	for (int i = 0; i < o->count; i++) {
		t[i].failed = 0;
		t[i].total += 64 * 1024;
	}
	round_trip_threads(o, t);
	for (int i = 0; i < o->count; i++)
		if (t[i].failed) {
			if (!bad)
				printf("#   %s\n", t[i].why);
			bad++;
		}
	result(bad == 0, "%s: after GOAWAY the %d open tunnels still carry "
	       "data", o->label, o->count);
	/* nghttpx stopped listening: a tunnel that joined the old session
	 * would come up; one that correctly dials anew is refused. */
	ps_connect_options_init(&co);
	co.ca_file = o->ca_file;
	extra = ps_connect(t[0].ctx, o->url, &co, &err);
	result(extra == NULL && err.code == PS_ERR_CONNECT, "%s: a new "
	       "tunnel does not join the session that got GOAWAY (%s)",
	       o->label, extra ? "it joined" : err.message);
	ps_conn_close(extra);
}

/*
 * Tunnels one at a time, each closed before the next opens: does the
 * HTTP/2 connection outlive its last tunnel, and is it reused?
 */
static void one_at_a_time(const struct options *o, struct tunnel *t,
			  const ps_connect_options *co)
{
	unsigned first_port = 0, port;
	int reused = 0, idle_ok = 0, up = 0;
	double start = now_ms();

	for (int i = 0; i < o->count; i++) {
		ps_error err;
		int conns;

		t[i].conn = ps_connect(t[i].ctx, o->url, co, &err);
		if (!t[i].conn) {
			result(0, "%s: tunnel %d: %s: %s (hint: %s)", o->label,
			       i, ps_code_name(err.code), err.message,
			       err.hint);
			return;
		}
		port = 0;
		count_connections(o->proxy_port, &port);
		if (i == 0)
			first_port = port;
		reused += i > 0 && port == first_port;
		round_trip_thread(&t[i]);
		if (t[i].failed) {
			result(0, "%s: tunnel %d: %s", o->label, i, t[i].why);
			return;
		}
		printf("#   tunnel %d: local port %u, %s\n", i, port,
		       ps_conn_describe(t[i].conn));
		ps_conn_close(t[i].conn);
		t[i].conn = NULL;
		up++;
		conns = count_connections(o->proxy_port, NULL);
		idle_ok += conns == o->expect_idle;
		if (o->expect_idle >= 0 && conns != o->expect_idle)
			printf("#   after closing tunnel %d: %d connection(s) "
			       "to the proxy, want %d\n", i, conns,
			       o->expect_idle);
		if (o->pause_ms > 0)
			usleep((useconds_t)o->pause_ms * 1000);
	}
	printf("# %s: %d tunnels in %.1f ms, one at a time\n", o->label, up,
	       now_ms() - start);
	result(1, "%s: %d tunnels, one at a time, each round-trips %lld "
	       "bytes", o->label, up, o->bytes);
	if (o->expect_idle >= 0)
		result(idle_ok == up, "%s: %d connection(s) to the proxy left "
		       "open after each close (%d of %d)", o->label,
		       o->expect_idle, idle_ok, up);
	if (o->expect_reuse >= 0)
		result(o->expect_reuse ? reused == up - 1 : reused == 0,
		       "%s: %s (%d of %d later tunnels on the first one's "
		       "local port %u)", o->label, o->expect_reuse
		       ? "every tunnel rode the first one's TCP connection"
		       : "every tunnel had a TCP connection of its own",
		       reused, up - 1, first_port);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static int usage(void)
{
	fprintf(stderr, "usage: h2_pool_client -c DIR -u URL --ca-file CA "
		"--proxy-port PORT [-n N] [--bytes B] [--parallel] "
		"[--separate] [--expect-connections K] [--kill PID] "
		"[--goaway PID] [--one-at-a-time [--expect-idle K] "
		"[--expect-reuse yes|no] [--pause-ms M]] "
		"[--label TEXT]\n");
	return 2;
}

static int parse(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->count = 10;
	o->expect_connections = -1;
	o->expect_idle = -1;
	o->expect_reuse = -1;
	o->label = "tunnels";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--parallel")) {
			o->parallel = 1;
			continue;
		}
		if (!strcmp(a, "--separate")) {
			o->separate = 1;
			continue;
		}
		if (!strcmp(a, "--one-at-a-time")) {
			o->one_at_a_time = 1;
			continue;
		}
		if (!v)
			return -1;
		i++;
		if (!strcmp(a, "-c"))
			o->conf_dir = v;
		else if (!strcmp(a, "-u"))
			o->url = v;
		else if (!strcmp(a, "--ca-file"))
			o->ca_file = v;
		else if (!strcmp(a, "--label"))
			o->label = v;
		else if (!strcmp(a, "--proxy-port"))
			o->proxy_port = (unsigned)atoi(v);
		else if (!strcmp(a, "-n"))
			o->count = atoi(v);
		else if (!strcmp(a, "--bytes"))
			o->bytes = atoll(v);
		else if (!strcmp(a, "--expect-connections"))
			o->expect_connections = atoi(v);
		else if (!strcmp(a, "--kill"))
			o->kill_pid = atoi(v);
		else if (!strcmp(a, "--goaway"))
			o->goaway_pid = atoi(v);
		else if (!strcmp(a, "--expect-idle"))
			o->expect_idle = atoi(v);
		else if (!strcmp(a, "--expect-reuse"))
			o->expect_reuse = !strcmp(v, "yes");
		else if (!strcmp(a, "--pause-ms"))
			o->pause_ms = atoi(v);
		else
			return -1;
	}
	if (!o->conf_dir || !o->url || !o->proxy_port || o->count < 1 ||
	    o->count > MAX_TUNNELS)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct tunnel *t;
	ps_connect_options co;
	double start, took;
	int rc, conns;

	if (parse(argc, argv, &o) < 0)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	t = calloc((size_t)o.count, sizeof(*t));
	if (!t)
		return 1;
	for (int i = 0; i < o.count; i++) {
		t[i].index = i;
		t[i].total = o.bytes;
		t[i].ctx = o.separate || i == 0 ? new_ctx(&o) : t[0].ctx;
		if (!t[i].ctx)
			return 1;
	}
	ps_connect_options_init(&co);
	co.ca_file = o.ca_file;
	if (o.one_at_a_time) {
		one_at_a_time(&o, t, &co);
		ps_ctx_free(t[0].ctx);
		free(t);
		return failures ? 1 : 0;
	}
	start = now_ms();
	rc = o.parallel ? open_parallel(&o, t, &co)
			: open_sequential(&o, t, &co);
	took = now_ms() - start;
	if (rc == 0) {
		result(1, "%s: %d tunnels up (%s, %s)", o.label, o.count,
		       o.parallel ? "started at once" : "one after the other",
		       o.separate ? "a context each" : "one context");
		printf("# %s: %d tunnels in %.1f ms (%.2f ms each)\n", o.label,
		       o.count, took, took / o.count);
		printf("#   chain: %s\n", ps_conn_describe(t[0].conn));
		conns = count_connections(o.proxy_port, NULL);
		printf("# %s: %d TCP connection(s) to the proxy's port %u\n",
		       o.label, conns, o.proxy_port);
		if (o.expect_connections >= 0)
			result(conns == o.expect_connections, "%s: %d tunnels "
			       "use %d TCP connection(s) to the proxy (want "
			       "%d)", o.label, o.count, conns,
			       o.expect_connections);
		/* Which tunnel made a connection of its own, and why. */
		if (o.expect_connections >= 0 && conns != o.expect_connections)
			for (int i = 0; i < o.count; i++)
				printf("#   tunnel %d: %s\n", i,
				       t[i].proxy_step[0] ? t[i].proxy_step
							  : "(no detail)");
	}
	if (rc == 0 && o.bytes > 0) {
		int bad = 0;

		start = now_ms();
		if (o.parallel)
			round_trip_loop(&o, t);
		else
			round_trip_threads(&o, t);
		took = now_ms() - start;
		for (int i = 0; i < o.count; i++)
			if (t[i].failed) {
				if (!bad)
					printf("#   %s\n", t[i].why);
				bad++;
			}
		result(bad == 0, "%s: %d tunnels round-trip %lld bytes each "
		       "at the same time%s (%d failed)", o.label, o.count,
		       o.bytes, o.parallel ? " in one poll loop"
					   : ", one thread each", bad);
		printf("# %s: %.1f MB echoed in %.1f ms\n", o.label,
		       (double)o.bytes * o.count / 1e6, took);
	}
	if (rc == 0 && o.goaway_pid > 0)
		proxy_goes_away(&o, t);
	if (rc == 0 && o.kill_pid > 0)
		proxy_dies(&o, t);
	for (int i = 0; i < o.count; i++)
		ps_conn_close(t[i].conn);
	for (int i = 0; i < o.count; i++)
		if (o.separate || i == 0)
			ps_ctx_free(t[i].ctx);
	free(t);
	return failures ? 1 : 0;
}
