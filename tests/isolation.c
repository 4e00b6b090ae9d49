/*
 * isolation.c - hostile peers must not touch an agent's other channels.
 * For tests/integration/t_hostile.sh.
 *
 *   isolation -c DIR [--ca-file CA] [--usage-then URL] GOOD_URL CODE:URL...
 *
 * Opens a channel to GOOD_URL (an echo server) and keeps it open; then
 * for each CODE:URL builds a channel that must fail with the ps_code
 * named CODE (e.g. "proxy-protocol"), within the configured timeout plus
 * one second; after each, the good channel must still echo.
 * --usage-then URL (a dead port): a non-blocking channel is read before
 * it is up (a usage error), then driven to its end: it must fail with
 * connect, not with the usage error the caller was given before.
 * Prints "ok - ..." / "not ok - ..." lines.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proxystack.h>

static int failures;

static void report(int ok, const char *what, const char *detail)
{
	failures += !ok;
	printf("%s - %s%s\n", ok ? "ok" : "not ok", what, detail);
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int echoes(ps_conn *c)
{
	char buf[16];
	size_t n, got = 0;

	if (ps_conn_write(c, "still-here", 10, &n) != PS_OK || n != 10)
		return 0;
	while (got < 10) {
		if (ps_conn_read(c, buf + got, sizeof(buf) - got, &n) != PS_OK ||
		    n == 0)
			return 0;
		got += n;
	}
	return !memcmp(buf, "still-here", 10);
}

/* A usage error must not become the connection's cause. */
static void usage_then_fail(ps_ctx *ctx, const char *url,
			    const ps_connect_options *o)
{
	ps_error err;
	ps_conn *c = ps_conn_start(ctx, url, o, &err);
	char buf[8];
	size_t n;
	int rc, early;

	if (!c) {
		report(0, "usage then failure: the channel starts", "");
		return;
	}
	early = ps_conn_read(c, buf, sizeof(buf), &n);
	report(early == PS_ERR_USAGE, "a read before the channel is up is a "
	       "usage error", "");
	while ((rc = ps_conn_step(c)) == PS_AGAIN) {
		ps_poll p;
		struct pollfd pfd;

		ps_conn_poll(c, &p);
		pfd.fd = p.fd;
		pfd.events = p.events;
		poll(&pfd, p.fd >= 0 ? 1 : 0, p.timeout_ms);
	}
	report(rc == PS_ERR_CONNECT &&
		       ps_conn_error(c)->code == PS_ERR_CONNECT,
	       "then the dead port ends in connect, not usage", "");
	if (rc != PS_ERR_CONNECT)
		printf("# got %s: %s\n", ps_code_name(rc),
		       ps_conn_error(c)->message);
	ps_conn_close(c);
}

int main(int argc, char **argv)
{
	ps_ctx_options co;
	ps_connect_options o;
	ps_error err;
	ps_ctx *ctx;
	ps_conn *good;
	const char *usage_url = NULL;
	int i = 1;
	double limit = 3 + 1;	/* t_hostile.sh sets connect_timeout = 3 */

	ps_ctx_options_init(&co);
	co.reload = PS_RELOAD_MANUAL;
	co.log_level = PS_LOG_ERROR;
	ps_connect_options_init(&o);
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-c"))
			co.conf_dir = argv[i + 1];
		else if (!strcmp(argv[i], "--ca-file"))
			o.ca_file = argv[i + 1];
		else if (!strcmp(argv[i], "--usage-then"))
			usage_url = argv[i + 1];
	}
	if (i >= argc) {
		fprintf(stderr, "usage: isolation -c DIR GOOD CODE:URL...\n");
		return 2;
	}
	ctx = ps_ctx_new(&co, &err);
	if (!ctx) {
		printf("not ok - context: %s\n", err.message);
		return 1;
	}
	if (usage_url)
		usage_then_fail(ctx, usage_url, &o);
	good = ps_connect(ctx, argv[i], &o, &err);
	report(good && echoes(good), "the good channel is up", "");
	for (i++; i < argc && good; i++) {
		char *spec = argv[i], *url = strchr(spec, ':');
		double t0 = now_s(), took;
		ps_conn *bad;
		char label[300];

		if (!url)
			continue;
		*url++ = '\0';
		bad = ps_connect(ctx, url, &o, &err);
		took = now_s() - t0;
		snprintf(label, sizeof(label), "%s fails with %s", url, spec);
		report(!bad && !strcmp(ps_code_name(err.code), spec) &&
			       took < limit,
		       label, bad ? " (it connected!)" : "");
		if (bad || strcmp(ps_code_name(err.code), spec) || took >= limit)
			printf("# got %s after %.1f s: %s\n",
			       bad ? "a channel" : ps_code_name(err.code), took,
			       bad ? "" : err.message);
		ps_conn_close(bad);
		snprintf(label, sizeof(label), "the good channel still echoes"
			 " after %s", url);
		report(echoes(good), label, "");
	}
	ps_conn_close(good);
	ps_ctx_free(ctx);
	return failures ? 1 : 0;
}
