/*
 * ps_bench.c - measurements for bench/run: what proxystack costs, through
 * the public API only, in one process (as an agent would use it).
 *
 *   ps_bench -c DIR --ca-file CA seq URL N
 *       N sequential channels, each: connect, one HTTP/1.1 GET with
 *       Connection: close, read to the end, close.  Prints
 *       "seq N total_ms per_conn_ms".
 *   ps_bench -c DIR --ca-file CA bulk URL BYTES
 *       one channel to an echo server: send BYTES while reading the echo
 *       back.  Prints "bulk BYTES ms MB/s".
 *   ps_bench -c DIR --ca-file CA download URL PATH
 *       one channel to an HTTPS server: GET PATH, read to the end.
 *       Prints "download BYTES ms MB/s".
 *   ps_bench -c DIR --ca-file CA wsecho URL N
 *       N round trips of a 32-byte text message over one websocket.
 *       Prints "wsecho N ms round_trips_per_s".
 *   ps_bench -c DIR --ca-file CA wsbulk URL BYTES
 *       BYTES echoed as 1 MiB binary messages, one in flight.  Prints
 *       "wsbulk BYTES ms MB/s".
 *   ps_bench -c DIR --ca-file CA parallel URL N
 *       start N channels at once with the non-blocking API, drive them in
 *       one poll loop until all are up.  Prints "parallel N setup_ms".
 *   ps_bench -c DIR --ca-file CA wsidle URL N
 *       one websocket opened (blocking) and kept, VmRSS read, then N more
 *       started at once with the non-blocking API and driven in one poll
 *       loop until all are up, VmRSS read again.  Prints "wsidle N
 *       rss_before_kib rss_after_kib kib_per_conn setup_ms".
 *   ps_bench [--reload watch|poll|manual] reload DIR FILE [N]
 *       a context on DIR with automatic reload (default watch: inotify);
 *       FILE (in DIR) is replaced N times (default 20) by an atomic
 *       rename, its [default] proxy_url switching between two values, and
 *       the time from the rename until ps_ctx_which() shows the new value
 *       is measured (polled every 0.2 ms).  Prints "reload N median_ms
 *       worst_ms missed" (missed: changes not seen within 5 s).
 *
 * seq also prints, as a 5th and 6th field, how long ps_ctx_new() and
 * ps_ctx_free() took (ms).
 * --reload watch|poll|manual sets ps_ctx_options.reload for every mode
 * (default watch, the library's default).
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <proxystack.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double ctx_new_ms;	/* how long ps_ctx_new() took */
static int seq_count;		/* seq: printed after ps_ctx_free() */
static double seq_ms;

static void die(const char *what, const ps_error *err)
{
	fprintf(stderr, "ps_bench: %s: %s: %s\n", what,
		ps_code_name(err->code), err->message);
	exit(1);
}

static int write_all(ps_conn *c, const void *buf, size_t len)
{
	size_t n;

	return ps_conn_write(c, buf, len, &n) == PS_OK && n == len ? 0 : -1;
}

static void bench_seq(ps_ctx *ctx, const ps_connect_options *o,
		      const char *url, int count)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n"
				  "Connection: close\r\n\r\n";
	char buf[16384];
	double start = now_ms();
	ps_error err;

	for (int i = 0; i < count; i++) {
		ps_conn *c = ps_connect(ctx, url, o, &err);
		size_t n;

		if (!c)
			die("connect", &err);
		if (write_all(c, req, sizeof(req) - 1))
			die("write", ps_conn_error(c));
		while (ps_conn_read(c, buf, sizeof(buf), &n) == PS_OK && n > 0)
			;
		ps_conn_close(c);
	}
	seq_count = count;
	seq_ms = now_ms() - start;
}

static void bench_download(ps_ctx *ctx, const ps_connect_options *o,
			   const char *url, const char *path)
{
	static char buf[65536];
	char req[512];
	long long got = 0;
	double start;
	ps_error err;
	ps_conn *c = ps_connect(ctx, url, o, &err);
	size_t n;
	int len;

	if (!c)
		die("connect", &err);
	len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost"
		       "\r\nConnection: close\r\n\r\n", path);
	start = now_ms();
	if (write_all(c, req, (size_t)len))
		die("write", ps_conn_error(c));
	while (ps_conn_read(c, buf, sizeof(buf), &n) == PS_OK && n > 0)
		got += (long long)n;
	{
		double ms = now_ms() - start;

		printf("download %lld %.1f %.1f\n", got, ms,
		       got / 1e6 / (ms / 1e3));
	}
	ps_conn_close(c);
}

static void ws_echo_loop(ps_conn *c, const void *msg, size_t len, long n)
{
	ps_ws_message in;

	for (long i = 0; i < n; i++) {
		if (ps_ws_send(c, PS_WS_BINARY, msg, len) != PS_OK ||
		    ps_ws_recv(c, &in) != PS_OK || in.len != len)
			die("websocket echo", ps_conn_error(c));
	}
}

static void bench_ws(ps_ctx *ctx, const ps_connect_options *o,
		     const char *url, long long amount, int bulk)
{
	static unsigned char payload[1 << 20];
	size_t len = bulk ? sizeof(payload) : 32;
	long n = bulk ? (long)(amount / (long long)len) : (long)amount;
	ps_error err;
	ps_conn *c = ps_connect(ctx, url, o, &err);
	double start, ms;

	if (!c)
		die("connect", &err);
	memset(payload, 'w', sizeof(payload));
	ws_echo_loop(c, payload, len, 10);	/* warm up */
	start = now_ms();
	ws_echo_loop(c, payload, len, n);
	ms = now_ms() - start;
	if (bulk)
		printf("wsbulk %lld %.1f %.1f\n", (long long)n * (long long)len,
		       ms, (double)n * (double)len / 1e6 / (ms / 1e3));
	else
		printf("wsecho %ld %.1f %.0f\n", n, ms, n / (ms / 1e3));
	ps_ws_close(c, 1000, NULL);
	ps_conn_close(c);
}

/* Interleave writes and reads on one non-blocking channel. */
static void bench_bulk(ps_ctx *ctx, const ps_connect_options *o,
		       const char *url, long long bytes)
{
	static char out[65536], in[65536];
	long long sent = 0, got = 0;
	double start;
	ps_error err;
	ps_conn *c = ps_conn_start(ctx, url, o, &err);
	int rc;

	if (!c)
		die("start", &err);
	while ((rc = ps_conn_step(c)) == PS_AGAIN) {
		ps_poll p;
		struct pollfd pfd;

		ps_conn_poll(c, &p);
		pfd.fd = p.fd;
		pfd.events = p.events;
		poll(&pfd, p.fd >= 0, p.timeout_ms);
	}
	if (rc != PS_OK)
		die("connect", ps_conn_error(c));
	memset(out, 'x', sizeof(out));
	start = now_ms();
	while (got < bytes) {
		size_t n;
		int progress = 0;
		ps_poll p;
		struct pollfd pfd;

		if (sent < bytes) {
			size_t want = bytes - sent < (long long)sizeof(out)
					      ? (size_t)(bytes - sent)
					      : sizeof(out);

			rc = ps_conn_write(c, out, want, &n);
			if (rc == PS_OK) {
				sent += (long long)n;
				progress = 1;
			} else if (rc != PS_AGAIN) {
				die("write", ps_conn_error(c));
			}
		}
		while ((rc = ps_conn_read(c, in, sizeof(in), &n)) == PS_OK) {
			if (n == 0)
				die("read: early end", ps_conn_error(c));
			got += (long long)n;
			progress = 1;
		}
		if (rc != PS_AGAIN)
			die("read", ps_conn_error(c));
		if (progress)
			continue;
		ps_conn_poll(c, &p);
		pfd.fd = p.fd;
		pfd.events = (short)(p.events | POLLIN |
				     (sent < bytes ? POLLOUT : 0));
		poll(&pfd, 1, 1000);
	}
	{
		double ms = now_ms() - start;

		printf("bulk %lld %.1f %.1f\n", bytes, ms,
		       bytes / 1e6 / (ms / 1e3));
	}
	ps_conn_close(c);
}

static void bench_parallel(ps_ctx *ctx, const ps_connect_options *o,
			   const char *url, int count)
{
	ps_conn **c = calloc((size_t)count, sizeof(*c));
	struct pollfd *pfd = calloc((size_t)count, sizeof(*pfd));
	int *done = calloc((size_t)count, sizeof(*done));
	double start = now_ms();
	int left = count;
	ps_error err;

	if (!c || !pfd || !done)
		exit(1);
	for (int i = 0; i < count; i++) {
		c[i] = ps_conn_start(ctx, url, o, &err);
		if (!c[i])
			die("start", &err);
	}
	while (left > 0) {
		int n = 0, timeout = 1000;

		for (int i = 0; i < count; i++) {
			ps_poll p;
			int rc;

			if (done[i])
				continue;
			rc = ps_conn_step(c[i]);
			if (rc == PS_OK) {
				done[i] = 1;
				left--;
				continue;
			}
			if (rc != PS_AGAIN)
				die("connect", ps_conn_error(c[i]));
			ps_conn_poll(c[i], &p);
			pfd[n].fd = p.fd;
			pfd[n].events = p.events;
			n++;
			if (p.timeout_ms >= 0 && p.timeout_ms < timeout)
				timeout = p.timeout_ms;
		}
		if (left > 0)
			poll(pfd, (nfds_t)n, timeout);
	}
	printf("parallel %d %.1f\n", count, now_ms() - start);
	for (int i = 0; i < count; i++)
		ps_conn_close(c[i]);
	free(c);
	free(pfd);
	free(done);
}

/* VmRSS of this process in KiB, from /proc/self/status. */
static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kib = atol(line + 6);
			break;
		}
	fclose(f);
	return kib;
}

/*
 * N websockets opened at once and left idle: what each costs in resident
 * memory.  One connection is opened first and kept, so that what the
 * first one costs once per process (the TLS context, the CA file, the
 * library's lazy set-up) is not charged to the N.
 */
static void bench_wsidle(ps_ctx *ctx, const ps_connect_options *o,
			 const char *url, int count)
{
	ps_conn **c = calloc((size_t)count, sizeof(*c));
	struct pollfd *pfd = calloc((size_t)count, sizeof(*pfd));
	int *idx = calloc((size_t)count, sizeof(*idx));
	int *ready = calloc((size_t)count, sizeof(*ready));
	ps_error err;
	ps_conn *first;
	long before, after;
	double start;
	int left = count, npfd = 0, timed_out = 1;

	if (!c || !pfd || !idx || !ready)
		exit(1);
	first = ps_connect(ctx, url, o, &err);
	if (!first)
		die("connect", &err);
	before = rss_kib();
	start = now_ms();
	for (int i = 0; i < count; i++) {
		c[i] = ps_conn_start(ctx, url, o, &err);
		if (!c[i])
			die("start", &err);
	}
	/* Step only what poll() says is ready (all of them after a timeout). */
	for (int i = 0; i < count; i++)
		ready[i] = 1;
	while (left > 0) {
		int timeout = 1000;

		for (int k = 0; k < npfd; k++)
			if (pfd[k].revents)
				ready[idx[k]] = 1;
		npfd = 0;
		for (int i = 0; i < count; i++) {
			ps_poll p;
			int rc;

			if (!c[i] || ready[i] < 0)
				continue;
			if (ready[i] || timed_out) {
				rc = ps_conn_step(c[i]);
				ready[i] = 0;
				if (rc == PS_OK) {
					ready[i] = -1;	/* up */
					left--;
					continue;
				}
				if (rc != PS_AGAIN)
					die("connect", ps_conn_error(c[i]));
			}
			ps_conn_poll(c[i], &p);
			pfd[npfd].fd = p.fd;
			pfd[npfd].events = p.events;
			pfd[npfd].revents = 0;
			idx[npfd++] = i;
			if (p.timeout_ms >= 0 && p.timeout_ms < timeout)
				timeout = p.timeout_ms;
		}
		if (left > 0)
			timed_out = poll(pfd, (nfds_t)npfd, timeout) == 0;
	}
	{
		double ms = now_ms() - start;

		after = rss_kib();
		printf("wsidle %d %ld %ld %.1f %.1f\n", count, before, after,
		       (double)(after - before) / count, ms);
	}
	fflush(stdout);
	for (int i = 0; i < count; i++)
		ps_conn_close(c[i]);
	ps_conn_close(first);
	free(c);
	free(pfd);
	free(idx);
	free(ready);
}

static const char *const reload_proxy[2] = {
	"http://proxy-a.invalid:3128", "http://proxy-b.invalid:3128"
};

/* FILE gets [default] proxy_url = reload_proxy[which], by a rename. */
static void reload_write(const char *file, int which)
{
	char tmp[4096], text[256];
	int fd, len;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);	/* not *.conf */
	len = snprintf(text, sizeof(text), "[default]\nproxy_url = %s\n",
		       reload_proxy[which]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fchmod(fd, 0644) || write(fd, text, (size_t)len) != len ||
	    close(fd) || rename(tmp, file)) {
		perror(file);
		exit(1);
	}
}

/* Does the chain for an https URL go through reload_proxy[which]? */
static int reload_shows(ps_ctx *ctx, int which)
{
	ps_error err;
	char *s = ps_ctx_which(ctx, "https://example.com/", &err);
	int yes;

	if (!s)
		die("which", &err);
	yes = strstr(s, reload_proxy[which] + 7) != NULL;	/* past http:// */
	ps_free(s);
	return yes;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void bench_reload(int mode, const char *dir, const char *file, int count)
{
	ps_ctx_options co;
	ps_error err;
	ps_ctx *ctx;
	double *ms = calloc((size_t)count, sizeof(*ms));
	int missed = 0;
	struct timespec gap = { 0, 0 };

	if (!ms)
		exit(1);
	reload_write(file, 0);
	ps_ctx_options_init(&co);
	co.conf_dir = dir;
	co.reload = mode;
	co.ignore_environment = 1;
	ctx = ps_ctx_new(&co, &err);
	if (!ctx)
		die("context", &err);
	if (!reload_shows(ctx, 0)) {
		fprintf(stderr, "ps_bench: reload: %s does not show %s\n", dir,
			reload_proxy[0]);
		exit(1);
	}
	srand(12345);
	for (int i = 0; i < count; i++) {
		int want = (i + 1) % 2;
		double start, deadline;
		struct timespec tick = { 0, 200000 };

		/*
		 * A pause before each change: past the watcher's own work after
		 * the last reload, and, polling, at a random point of its 1 s
		 * period (else every change would land at the same phase).
		 */
		gap.tv_nsec = (100 + rand() % (mode == PS_RELOAD_POLL ? 900 : 50))
			      * 1000000L;
		nanosleep(&gap, NULL);
		reload_write(file, want);
		start = now_ms();
		deadline = start + 5000;
		while (!reload_shows(ctx, want) && now_ms() < deadline)
			nanosleep(&tick, NULL);
		ms[i] = now_ms() - start;
		if (ms[i] >= 5000) {
			missed++;
			/* start the next one from a known state */
			reload_write(file, want);
			deadline = now_ms() + 5000;
			while (!reload_shows(ctx, want) && now_ms() < deadline)
				nanosleep(&tick, NULL);
			if (!reload_shows(ctx, want)) {
				fprintf(stderr, "ps_bench: reload: the context"
					" never showed %s\n", reload_proxy[want]);
				exit(1);
			}
		}
	}
	qsort(ms, (size_t)count, sizeof(*ms), cmp_double);
	printf("reload %d %.1f %.1f %d\n", count, ms[count / 2],
	       ms[count - 1], missed);
	ps_ctx_free(ctx);
	free(ms);
}

static int usage(void)
{
	fprintf(stderr, "usage: ps_bench [-c DIR] [--ca-file CA]"
		" seq|bulk|download|parallel|wsecho|wsbulk|wsidle URL N|PATH\n"
		"       ps_bench [--reload watch|poll|manual] reload DIR FILE [N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	ps_ctx_options co;
	ps_connect_options o;
	ps_error err;
	ps_ctx *ctx;
	const char *mode;
	int i = 1, reload = PS_RELOAD_WATCH;
	double start;

	ps_ctx_options_init(&co);
	ps_connect_options_init(&o);
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-c"))
			co.conf_dir = argv[i + 1];
		else if (!strcmp(argv[i], "--ca-file"))
			o.ca_file = argv[i + 1];
		else if (!strcmp(argv[i], "--reload"))
			reload = !strcmp(argv[i + 1], "poll") ? PS_RELOAD_POLL
				 : !strcmp(argv[i + 1], "manual")
					 ? PS_RELOAD_MANUAL
					 : PS_RELOAD_WATCH;
		else
			return usage();
	}
	if (argc - i < 3)
		return usage();
	mode = argv[i];
	if (!strcmp(mode, "reload")) {
		if (argc - i > 4)
			return usage();
		bench_reload(reload, argv[i + 1], argv[i + 2],
			     argc - i == 4 ? atoi(argv[i + 3]) : 20);
		return 0;
	}
	if (argc - i != 3)
		return usage();
	co.reload = reload;
	start = now_ms();
	ctx = ps_ctx_new(&co, &err);
	if (!ctx)
		die("context", &err);
	ctx_new_ms = now_ms() - start;
	if (!strcmp(mode, "seq"))
		bench_seq(ctx, &o, argv[i + 1], atoi(argv[i + 2]));
	else if (!strcmp(mode, "wsecho"))
		bench_ws(ctx, &o, argv[i + 1], atoll(argv[i + 2]), 0);
	else if (!strcmp(mode, "wsbulk"))
		bench_ws(ctx, &o, argv[i + 1], atoll(argv[i + 2]), 1);
	else if (!strcmp(mode, "wsidle"))
		bench_wsidle(ctx, &o, argv[i + 1], atoi(argv[i + 2]));
	else if (!strcmp(mode, "download"))
		bench_download(ctx, &o, argv[i + 1], argv[i + 2]);
	else if (!strcmp(mode, "bulk"))
		bench_bulk(ctx, &o, argv[i + 1], atoll(argv[i + 2]));
	else if (!strcmp(mode, "parallel"))
		bench_parallel(ctx, &o, argv[i + 1], atoi(argv[i + 2]));
	else
		return usage();
	start = now_ms();
	ps_ctx_free(ctx);
	if (seq_count)
		printf("seq %d %.1f %.3f %.1f %.1f\n", seq_count, seq_ms,
		       seq_ms / seq_count, ctx_new_ms, now_ms() - start);
	return 0;
}
