/*
 * pac_which.c - one context kept alive across several `which` answers,
 * for tests/integration/t_pac.sh: a PAC script's cache and refresh live
 * in the context's snapshot, which one `proxystack` run never keeps.
 *
 *   pac_which DIR URL
 *   pac_which DIR URL --start
 *
 * For each line read on stdin, prints ps_ctx_which(URL) (or
 * "error CODE: message"), then a line "--"; a line "reload" first
 * reloads the configuration (ps_ctx_reload: a new snapshot).  Logs go to stderr at the
 * info level (the refresh and keep-the-last-good messages).
 *
 * --start: the non-blocking path instead: how long ps_conn_start() took
 * ("start N ms"), how long the first ps_conn_step() took and whether
 * ps_conn_poll() then named an fd ("step N ms, poll fd yes"), then steps
 * and polls until the chain is up or failed ("result CODE: message").
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proxystack.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int start_nonblocking(ps_ctx *ctx, const char *url)
{
	long long t0 = now_ms();
	ps_error err;
	ps_conn *conn = ps_conn_start(ctx, url, NULL, &err);
	ps_poll p;
	int rc;

	printf("start %lld ms\n", now_ms() - t0);
	if (!conn) {
		printf("result %s: %s\n", ps_code_name(err.code), err.message);
		return 1;
	}
	t0 = now_ms();
	rc = ps_conn_step(conn);
	ps_conn_poll(conn, &p);
	printf("step %lld ms, poll fd %s\n", now_ms() - t0,
	       rc == PS_AGAIN && p.fd >= 0 ? "yes" : "no");
	while (rc == PS_AGAIN) {
		struct pollfd pfd = { .fd = p.fd, .events = p.events };

		poll(&pfd, p.fd >= 0 ? 1 : 0, p.timeout_ms);
		rc = ps_conn_step(conn);
		ps_conn_poll(conn, &p);
	}
	printf("result %s: %s\n", ps_code_name(rc),
	       rc ? ps_conn_error(conn)->message : "");
	ps_conn_close(conn);
	return 0;
}

int main(int argc, char **argv)
{
	ps_ctx_options o;
	ps_error err;
	char line[64];
	ps_ctx *ctx;

	if (argc != 3 && (argc != 4 || strcmp(argv[3], "--start"))) {
		fprintf(stderr, "usage: pac_which DIR URL [--start]\n");
		return 2;
	}
	ps_ctx_options_init(&o);
	o.conf_dir = argv[1];
	o.log_level = PS_LOG_INFO;
	o.reload = PS_RELOAD_MANUAL;
	ctx = ps_ctx_new(&o, &err);
	if (!ctx) {
		printf("error %s: %s\n", ps_code_name(err.code), err.message);
		return 1;
	}
	if (argc == 4) {
		int rc = start_nonblocking(ctx, argv[2]);

		ps_ctx_free(ctx);
		return rc;
	}
	while (fgets(line, sizeof(line), stdin)) {
		char *text;

		if (!strcmp(line, "reload\n") && ps_ctx_reload(ctx, &err))
			printf("reload error %s: %s\n",
			       ps_code_name(err.code), err.message);
		text = ps_ctx_which(ctx, argv[2], &err);

		if (text)
			printf("%s", text);
		else
			printf("error %s: %s\n", ps_code_name(err.code),
			       err.message);
		printf("--\n");
		fflush(stdout);
		ps_free(text);
	}
	ps_ctx_free(ctx);
	return 0;
}
