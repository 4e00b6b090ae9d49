/*
 * ws_check.c - drives a websocket through the public API for the
 * integration scripts, and prints "ok - ..." / "not ok - ..." lines.
 *
 *   ws_check -c DIR [--ca-file CA] [--label L] [--subprotocol P]
 *            [--ping S] [--pong-timeout S] [--idle S] [--sizes LIST] URL
 *
 * Default: echo round trips of text and binary messages of the sizes in
 * LIST (default 0,1,125,126,65535,65536,4194304) against an echo server,
 * then a close handshake.  --idle S: stay silent S seconds (the library
 * keeps pinging every --ping seconds from inside ps_ws_recv), then prove
 * the channel still echoes.  Exit 0 when every check passed; the chain's
 * error code otherwise (printed).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proxystack.h>

static int failures;
static const char *label = "ws";

static void check(int ok, const char *what, long long n)
{
	if (!ok)
		failures++;
	printf("%s - %s: %s %lld\n", ok ? "ok" : "not ok", label, what, n);
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Text payloads mix one- and multi-byte UTF-8 ("é" is 2 bytes). */
static void fill(unsigned char *p, size_t n, int text)
{
	for (size_t i = 0; i < n; i++) {
		if (text && i + 1 < n && i % 7 == 3) {
			p[i++] = 0xc3;
			p[i] = 0xa9;
		} else {
			p[i] = text ? (unsigned char)('a' + i % 26)
				    : (unsigned char)(i * 131 + 7);
		}
	}
}

/* Wait for what ps_conn_poll names (non-blocking connections). */
static void wait_ready(ps_conn *c)
{
	ps_poll p;
	struct pollfd pfd;

	ps_conn_poll(c, &p);
	pfd.fd = p.fd;
	pfd.events = p.events;
	poll(&pfd, p.fd >= 0, p.timeout_ms < 0 || p.timeout_ms > 1000
				      ? 1000 : p.timeout_ms);
}

static int recv_one(ps_conn *c, ps_ws_message *msg)
{
	int rc;

	while ((rc = ps_ws_recv(c, msg)) == PS_AGAIN)
		wait_ready(c);
	return rc;
}

static int echo_one(ps_conn *c, int type, size_t size)
{
	unsigned char *out = calloc(1, size ? size : 1);
	ps_ws_message msg = { 0 };
	int rc, ok;

	if (!out)
		return PS_ERR_NOMEM;
	fill(out, size, type == PS_WS_TEXT);
	/* Never end a text payload in the middle of a character. */
	if (type == PS_WS_TEXT && size && out[size - 1] == 0xc3)
		out[size - 1] = 'z';
	while ((rc = ps_ws_send(c, type, out, size)) == PS_AGAIN)
		wait_ready(c);
	if (rc == PS_OK)
		rc = recv_one(c, &msg);
	ok = rc == PS_OK && msg.type == type && msg.len == size &&
	     (size == 0 || !memcmp(msg.data, out, size));
	check(ok, type == PS_WS_TEXT ? "text echo of bytes"
				     : "binary echo of bytes",
	      (long long)size);
	if (rc != PS_OK)
		printf("# %s: %s\n", ps_code_name(rc), ps_conn_error(c)->message);
	free(out);
	return rc;
}

/* Non-blocking receive loop for 'seconds' of silence from our side. */
static int stay_idle(ps_conn *c, double seconds)
{
	double end = now_s() + seconds;

	while (now_s() < end) {
		ps_ws_message msg;
		ps_poll p;
		struct pollfd pfd;
		int rc = ps_ws_recv(c, &msg), wait_ms;

		if (rc == PS_OK)
			continue;	/* an unexpected message: ignore */
		if (rc != PS_AGAIN)
			return rc;
		ps_conn_poll(c, &p);
		wait_ms = (int)((end - now_s()) * 1000) + 1;
		if (p.timeout_ms >= 0 && p.timeout_ms < wait_ms)
			wait_ms = p.timeout_ms;
		pfd.fd = p.fd;
		pfd.events = p.events;
		poll(&pfd, p.fd >= 0, wait_ms);
	}
	return PS_OK;
}

static ps_conn *start(ps_ctx *ctx, const char *url,
		      const ps_connect_options *o, int nonblocking)
{
	ps_error err;
	ps_conn *c;
	int rc = PS_OK;

	c = nonblocking ? ps_conn_start(ctx, url, o, &err)
			: ps_connect(ctx, url, o, &err);
	if (!c) {
		printf("# %s: %s\n", ps_code_name(err.code), err.message);
		return NULL;
	}
	while (nonblocking && (rc = ps_conn_step(c)) == PS_AGAIN) {
		ps_poll p;
		struct pollfd pfd;

		ps_conn_poll(c, &p);
		pfd.fd = p.fd;
		pfd.events = p.events;
		poll(&pfd, p.fd >= 0, p.timeout_ms);
	}
	if (nonblocking && rc != PS_OK) {
		printf("# %s: %s\n", ps_code_name(rc),
		       ps_conn_error(c)->message);
		ps_conn_close(c);
		return NULL;
	}
	return c;
}

int main(int argc, char **argv)
{
	static const char *default_sizes = "0,1,125,126,65535,65536,4194304";
	const char *sizes = default_sizes, *subprotocol = NULL;
	ps_ctx_options co;
	ps_connect_options o;
	double idle = 0;
	ps_error err;
	ps_ctx *ctx;
	ps_conn *c;
	int i, rc = PS_OK;

	ps_ctx_options_init(&co);
	ps_connect_options_init(&o);
	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		const char *v = argv[i + 1];

		if (!strcmp(argv[i], "-c"))
			co.conf_dir = v;
		else if (!strcmp(argv[i], "--ca-file"))
			o.ca_file = v;
		else if (!strcmp(argv[i], "--label"))
			label = v;
		else if (!strcmp(argv[i], "--subprotocol"))
			o.ws_subprotocols = subprotocol = v;
		else if (!strcmp(argv[i], "--ping"))
			o.ws_ping_interval_s = atoi(v);
		else if (!strcmp(argv[i], "--pong-timeout"))
			o.ws_pong_timeout_s = atoi(v);
		else if (!strcmp(argv[i], "--idle"))
			idle = atof(v);
		else if (!strcmp(argv[i], "--sizes"))
			sizes = v;
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: ws_check [options] URL\n");
		return 2;
	}
	ctx = ps_ctx_new(&co, &err);
	if (!ctx) {
		printf("not ok - %s: context: %s\n", label, err.message);
		return 2;
	}
	c = start(ctx, argv[i], &o, idle > 0);
	check(c != NULL, "connected, attempts", 1);
	if (!c) {
		ps_ctx_free(ctx);
		return 1;
	}
	if (subprotocol)
		check(!strcmp(ps_ws_subprotocol(c), subprotocol),
		      "the server chose our subprotocol, offers", 1);
	if (idle > 0) {
		rc = stay_idle(c, idle);
		check(rc == PS_OK, "still up after idle seconds", (long long)idle);
		if (rc != PS_OK)
			printf("# %s: %s\n", ps_code_name(rc),
			       ps_conn_error(c)->message);
		sizes = "5";
	}
	for (const char *p = sizes; rc == PS_OK && *p;) {
		size_t n = strtoul(p, NULL, 10);

		rc = echo_one(c, PS_WS_TEXT, n);
		if (rc == PS_OK)
			rc = echo_one(c, PS_WS_BINARY, n);
		p += strcspn(p, ",");
		p += *p == ',';
	}
	if (rc == PS_OK) {
		ps_ws_message msg;

		rc = ps_ws_close(c, 1000, "done");
		if (rc == PS_OK)
			rc = recv_one(c, &msg);
		check(rc == PS_OK && msg.type == PS_WS_CLOSE, "close handshake,"
		      " code", rc == PS_OK ? (long long)msg.close_code : -1);
	}
	ps_conn_close(c);
	ps_ctx_free(ctx);
	return failures ? 1 : 0;
}
