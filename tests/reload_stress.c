/*
 * reload_stress.c - hot reload under load, for tests/integration/
 * t_reload.sh.  One thread connects in a loop through whatever proxy the
 * configuration names; the main thread rewrites the configuration file
 * ROUNDS times, alternating a valid file naming proxy A, a broken file,
 * a valid file naming proxy B, a broken file...  The context reloads by
 * itself (inotify).  Prints "ok - ..." / "not ok - ..." lines:
 *
 *   - not one connection failed (a broken file keeps the old snapshot);
 *   - after each valid change, new connections use the new proxy within
 *     one second (by the chain description, which names the proxy);
 *   - connections open across reloads keep working (one long-lived
 *     channel echoes before and after all the rewrites).
 *
 *   reload_stress DIR FILE URL CA PROXY_A PROXY_B ROUNDS [poll]
 *
 * With "poll" the context watches by polling (every second), and the
 * bound for a change to reach new connections is 2.5 s instead of 1 s.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <proxystack.h>

struct shared {
	ps_ctx *ctx;
	const char *url;
	ps_connect_options opts;
	atomic_int stop;
	atomic_int connections;
	atomic_int failures;
	pthread_mutex_t lock;
	char last_chain[512];          /* the newest connection's chain */
	char first_error[600];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int echo_once(ps_conn *c)
{
	char buf[8];
	size_t n;

	return ps_conn_write(c, "ping", 4, &n) == PS_OK && n == 4 &&
	       ps_conn_read(c, buf, sizeof(buf), &n) == PS_OK && n > 0;
}

static void *connect_loop(void *arg)
{
	struct shared *sh = arg;

	while (!atomic_load(&sh->stop)) {
		ps_error err;
		ps_conn *c = ps_connect(sh->ctx, sh->url, &sh->opts, &err);
		int ok = c && echo_once(c);

		atomic_fetch_add(&sh->connections, 1);
		pthread_mutex_lock(&sh->lock);
		if (ok) {
			snprintf(sh->last_chain, sizeof(sh->last_chain), "%s",
				 ps_conn_describe(c));
		} else {
			atomic_fetch_add(&sh->failures, 1);
			if (!sh->first_error[0])
				snprintf(sh->first_error,
					 sizeof(sh->first_error), "%s: %s",
					 ps_code_name(c ? ps_conn_error(c)->code
							: err.code),
					 c ? ps_conn_error(c)->message
					   : err.message);
		}
		pthread_mutex_unlock(&sh->lock);
		ps_conn_close(c);
	}
	return NULL;
}

/* Replace the file as an editor would: write a temporary, rename it. */
static void write_config(const char *file, const char *text)
{
	char tmp[1024];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	fp = fopen(tmp, "w");
	if (!fp || fputs(text, fp) < 0 || fclose(fp) != 0) {
		perror(tmp);
		exit(2);
	}
	if (rename(tmp, file) != 0) {
		perror(file);
		exit(2);
	}
}

/* Wait until the newest connection's chain names 'proxy'; -1 if never. */
static double wait_for_chain(struct shared *sh, const char *proxy,
			     double since)
{
	while (now_ms() - since < 3000) {
		int seen;

		pthread_mutex_lock(&sh->lock);
		seen = strstr(sh->last_chain, proxy) != NULL;
		pthread_mutex_unlock(&sh->lock);
		if (seen)
			return now_ms() - since;
		usleep(2000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct shared sh = { 0 };
	ps_ctx_options co;
	ps_conn *longlived;
	pthread_t tid;
	ps_error err;
	double worst = 0, bound_ms;
	int rounds, late = 0;

	if (argc < 8) {
		fprintf(stderr, "usage: reload_stress DIR FILE URL CA PROXY_A"
			" PROXY_B ROUNDS [poll]\n");
		return 2;
	}
	rounds = atoi(argv[7]);
	ps_ctx_options_init(&co);
	co.conf_dir = argv[1];
	co.reload = argc > 8 ? PS_RELOAD_POLL : PS_RELOAD_WATCH;
	bound_ms = argc > 8 ? 2500 : 1000;
	co.log_level = PS_LOG_ERROR;
	ps_connect_options_init(&sh.opts);
	sh.opts.ca_file = argv[4];
	sh.url = argv[3];
	pthread_mutex_init(&sh.lock, NULL);
	sh.ctx = ps_ctx_new(&co, &err);
	if (!sh.ctx) {
		printf("not ok - context: %s\n", err.message);
		return 1;
	}
	longlived = ps_connect(sh.ctx, sh.url, &sh.opts, &err);
	printf("%s - a long-lived channel is open before the rewrites\n",
	       longlived && echo_once(longlived) ? "ok" : "not ok");
	pthread_create(&tid, NULL, connect_loop, &sh);
	for (int i = 0; i < rounds; i++) {
		const char *proxy = (i / 2) % 2 ? argv[6] : argv[5];
		char text[512];
		double t0, took;

		if (i % 2) {
			/* Broken: the old snapshot must stay. */
			write_config(argv[2], "[default]\nproxy_url = http://"
				     "127.0.0.1:1\nthis line is broken\n");
			/* Long enough for a poller (1 s) to see it too. */
			usleep((useconds_t)(argc > 8 ? 1500 : 100) * 1000);
			continue;
		}
		snprintf(text, sizeof(text), "[default]\nproxy_url = %s\n",
			 proxy);
		t0 = now_ms();
		write_config(argv[2], text);
		took = wait_for_chain(&sh, proxy, t0);
		if (took < 0 || took > bound_ms)
			late++;
		if (took > worst || took < 0)
			worst = took < 0 ? 9999 : took;
	}
	atomic_store(&sh.stop, 1);
	pthread_join(tid, NULL);
	printf("%s - %d connections during %d rewrites, %d failed%s%s\n",
	       atomic_load(&sh.failures) == 0 &&
			       atomic_load(&sh.connections) > rounds
		       ? "ok" : "not ok",
	       atomic_load(&sh.connections), rounds,
	       atomic_load(&sh.failures), sh.first_error[0] ? ": " : "",
	       sh.first_error);
	printf("%s - every valid change reached new connections within"
	       " %.0f ms (worst %.0f ms, %d late)\n", late ? "not ok" : "ok",
	       bound_ms, worst, late);
	printf("%s - the long-lived channel still works after the reloads\n",
	       longlived && echo_once(longlived) ? "ok" : "not ok");
	ps_conn_close(longlived);
	ps_ctx_free(sh.ctx);
	pthread_mutex_destroy(&sh.lock);
	return 0;
}
