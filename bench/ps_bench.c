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
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proxystack.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

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
	printf("seq %d %.1f %.3f\n", count, now_ms() - start,
	       (now_ms() - start) / count);
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

int main(int argc, char **argv)
{
	ps_ctx_options co;
	ps_connect_options o;
	ps_error err;
	ps_ctx *ctx;
	int i = 1;

	ps_ctx_options_init(&co);
	ps_connect_options_init(&o);
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-c"))
			co.conf_dir = argv[i + 1];
		else if (!strcmp(argv[i], "--ca-file"))
			o.ca_file = argv[i + 1];
		else
			break;
	}
	if (argc - i != 3) {
		fprintf(stderr, "usage: ps_bench [-c DIR] [--ca-file CA]"
			" seq|bulk|download|parallel|wsecho|wsbulk URL N|PATH\n");
		return 2;
	}
	ctx = ps_ctx_new(&co, &err);
	if (!ctx)
		die("context", &err);
	if (!strcmp(argv[i], "seq"))
		bench_seq(ctx, &o, argv[i + 1], atoi(argv[i + 2]));
	else if (!strcmp(argv[i], "wsecho"))
		bench_ws(ctx, &o, argv[i + 1], atoll(argv[i + 2]), 0);
	else if (!strcmp(argv[i], "wsbulk"))
		bench_ws(ctx, &o, argv[i + 1], atoll(argv[i + 2]), 1);
	else if (!strcmp(argv[i], "download"))
		bench_download(ctx, &o, argv[i + 1], argv[i + 2]);
	else if (!strcmp(argv[i], "bulk"))
		bench_bulk(ctx, &o, argv[i + 1], atoll(argv[i + 2]));
	else
		bench_parallel(ctx, &o, argv[i + 1], atoi(argv[i + 2]));
	ps_ctx_free(ctx);
	return 0;
}
