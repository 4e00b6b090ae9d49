/*
 * test_chain.c - the chain driver (host/chain.c) on a fake peer layer:
 * route failover by control, whose error is reported, what to wait for,
 * the deadline, the reconnect limit, teardown order and the order of
 * bytes given back (ps_layer_unread); and the ABI 1.2 layer services:
 * queries to the layers below, layers detached into a sub-chain, layers
 * skipped for a connection.
 *
 * A real context is built from a temporary configuration directory
 * (PS_TEST_MODULE_DIR holds direct.so and http-connect.so), then the
 * per-connection ops of both loaded modules (open, connect, close) are
 * replaced in the snapshot by a fake whose connect() results are
 * scripted per instance: done, want-read, want-write, reconnect-below
 * or an error code.  configure/unconfigure stay the real ones, so the
 * instances are built and freed as usual.  Nothing touches the network.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "check.h"
#include "confdir.h"
#include "ctx.h"

/* Scripted results beyond the ps_code values. */
enum {
	FAKE_WANT_READ = 1000,   /* ps_layer_want(read end, POLLIN), PS_AGAIN */
	FAKE_WANT_WRITE,         /* ps_layer_want(write end, POLLOUT), PS_AGAIN */
	FAKE_RECONNECT,          /* ps_layer_reconnect_below() */
	FAKE_UNREAD,             /* give back "NAME-tail", then "NAME-head ";
				    PS_OK */
	FAKE_QUERY,              /* ask the layers below for ALPN (and for
				    something nobody knows); PS_OK */
	FAKE_DETACH              /* ps_layer_detach_below(); PS_OK */
};

#define FAKE_MAX_STEPS 8

/* One instance's script and what the driver did to it. */
struct fake {
	const char *name;                /* instance name: direct, a, b, c */
	int steps[FAKE_MAX_STEPS];       /* connect() results, in call order */
	size_t nsteps;                   /* the last one repeats */
	int opens, connects, closes;
	int skip_in_open;                /* ps_layer_skip_below() in open */
	int query_rc, query_unknown_rc;  /* FAKE_QUERY's two answers */
	char alpn[16];
	const char *answer;              /* its PS_QUERY_ALPN, or NULL */
	ps_subchain *sub;                /* FAKE_DETACH's */
};

static struct fake fakes[4];
static char trace[1024];             /* "open:a connect:a close:a ..." */
static int pipe_fds[2];

static void fake_reset(void)
{
	static const char *const names[] = { "direct", "a", "b", "c" };

	memset(fakes, 0, sizeof(fakes));
	for (size_t i = 0; i < 4; i++) {
		fakes[i].name = names[i];
		fakes[i].nsteps = 1;     /* PS_OK unless scripted */
	}
	trace[0] = '\0';
}

static struct fake *fake_named(const char *name)
{
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(fakes[i].name, name))
			return &fakes[i];
	fprintf(stderr, "no fake named %s\n", name);
	exit(2);
}

/* Script 'name': its connect() calls return these, the last repeating. */
static void fake_script(const char *name, size_t n, const int *steps)
{
	struct fake *f = fake_named(name);

	memcpy(f->steps, steps, n * sizeof(*steps));
	f->nsteps = n;
}

static void trace_add(const char *what, const struct fake *f)
{
	size_t len = strlen(trace);

	snprintf(trace + len, sizeof(trace) - len, "%s%s:%s",
		 len ? " " : "", what, f->name);
}

static int fake_open(ps_layer *layer, void *instance, void **state)
{
	struct fake *f = fake_named(layer->inst->name);

	(void)instance;
	f->opens++;
	trace_add("open", f);
	*state = f;
	return f->skip_in_open ? ps_layer_skip_below(layer) : PS_OK;
}

/* Two give-backs: the later one must be read first. */
static int give_back(ps_layer *layer, const struct fake *f)
{
	char text[32];
	int rc;

	snprintf(text, sizeof(text), "%s-tail", f->name);
	rc = ps_layer_unread(layer, text, strlen(text));
	snprintf(text, sizeof(text), "%s-head ", f->name);
	return rc != PS_OK ? rc : ps_layer_unread(layer, text, strlen(text));
}

static int fake_connect(ps_layer *layer, void *state)
{
	struct fake *f = state;
	size_t call = (size_t)f->connects++;
	int step = f->steps[call < f->nsteps ? call : f->nsteps - 1];

	trace_add("connect", f);
	switch (step) {
	case PS_OK:
		return PS_OK;
	case FAKE_WANT_READ:
		ps_layer_want(layer, pipe_fds[0], POLLIN);
		return PS_AGAIN;
	case FAKE_WANT_WRITE:
		ps_layer_want(layer, pipe_fds[1], POLLOUT);
		return PS_AGAIN;
	case FAKE_RECONNECT:
		return ps_layer_reconnect_below(layer);
	case FAKE_UNREAD:
		return give_back(layer, f);
	case FAKE_QUERY:
		f->query_rc = ps_layer_query_below(layer, PS_QUERY_ALPN,
						   f->alpn, sizeof(f->alpn));
		f->query_unknown_rc = ps_layer_query_below(layer, 999, f->alpn,
							   sizeof(f->alpn));
		return PS_OK;
	case FAKE_DETACH:
		f->sub = ps_layer_detach_below(layer);
		return f->sub ? PS_OK : PS_ERR_NOMEM;
	default:
		return ps_layer_fail(layer, step, "fake hint",
				     "fake %s failed with %s", f->name,
				     ps_code_name(step));
	}
}

/* The bottom layer's peer: "peer" on every read. */
static int fake_recv(ps_layer *layer, void *state, void *buf, size_t len,
		     size_t *n)
{
	(void)layer;
	(void)state;
	*n = len < 4 ? len : 4;
	memcpy(buf, "peer", *n);
	return PS_OK;
}

/* The query op: a fake that has an answer gives it for ALPN only. */
static int fake_query(ps_layer *layer, void *state, int what, void *out,
		      size_t size)
{
	struct fake *f = state;

	(void)layer;
	if (what != PS_QUERY_ALPN || !f->answer)
		return PS_ERR_UNSUPPORTED;
	snprintf(out, size, "%s", f->answer);
	return PS_OK;
}

static void fake_close(ps_layer *layer, void *state)
{
	struct fake *f = state;

	(void)layer;
	f->closes++;
	trace_add("close", f);
}

/*
 * Put the fake under every layer of both modules the config uses; only
 * direct reads (from the "peer"), http-connect layers are transparent.
 */
static void install_fake(ps_ctx *ctx)
{
	struct snapshot *s = ctx_snapshot(ctx);

	for (size_t i = 0; i < s->nmodules; i++) {
		struct ps_module_ops *ops = &s->modules[i]->ops;

		ops->open = fake_open;
		ops->connect = fake_connect;
		ops->close = fake_close;
		ops->send = NULL;
		ops->recv = strcmp(s->modules[i]->name, "direct") ? NULL
								  : fake_recv;
		ops->shutdown_write = NULL;
		ops->query = fake_query;
	}
	snapshot_unref(s);
}

/* ------------------------------------------------------------------ */
/* the context                                                          */
/* ------------------------------------------------------------------ */

#define TRANSPORT(n, port)                                                \
	"[transport " n "]\nmodule = http-connect\n"                      \
	"url = http://127.0.0.1:" port "\n"

static const char conf_text[] =
	"connect_timeout = 1\n"
	TRANSPORT("a", "1") TRANSPORT("b", "2") TRANSPORT("c", "3")
	"[route one]\nmatch = one.test\nstack = a\n"
	"[route suff]\nmatch = suff.test\n"
	"stack = a sufficient\nstack = b sufficient\nstack = c\n"
	"[route req]\nmatch = req.test\n"
	"stack = a requisite\nstack = b\n"
	"[stack ab]\ntransport = a b\n"
	"[route two]\nmatch = two.test\nstack = ab\n"
	"[route full]\nmatch = full.test\n"
	"stack = a [timeout=next proxy_auth=die default=die]\n"
	"stack = b [timeout=next proxy_auth=die default=die]\n"
	"stack = c\n";

static ps_ctx *make_ctx(void)
{
	ps_ctx_options o;
	ps_error err;
	ps_ctx *ctx;

	write_conf_in("chain", PS_TEST_MODULE_DIR, conf_text);
	ps_ctx_options_init(&o);
	o.conf_dir = confdir;
	o.ignore_environment = 1;
	o.reload = PS_RELOAD_MANUAL;
	o.log_level = PS_LOG_ERROR;
	ctx = ps_ctx_new(&o, &err);
	if (!ctx) {
		fprintf(stderr, "ps_ctx_new: %s\n", err.message);
		exit(2);
	}
	install_fake(ctx);
	return ctx;
}

/* Start 'url' and step it (waiting as told) until it is not PS_AGAIN. */
static int drive(ps_ctx *ctx, const char *url, ps_conn **out)
{
	ps_error err;
	ps_conn *conn = ps_conn_start(ctx, url, NULL, &err);
	int rc;

	if (!conn) {
		printf("not ok - ps_conn_start %s: %s\n", url, err.message);
		exit(1);
	}
	*out = conn;
	while ((rc = ps_conn_step(conn)) == PS_AGAIN)
		chain_wait(conn);
	return rc;
}

static int msg_has(const ps_conn *conn, const char *part)
{
	return strstr(ps_conn_error(conn)->message, part) != NULL;
}

/*
 * Drive 'url' expecting it to fail with 'code' from hop 1 of line
 * 'line' (the fake's message names it).  The connection, to close.
 */
static ps_conn *expect_failure(ps_ctx *ctx, const char *url, int code,
			       const char *line)
{
	char want[64];
	ps_conn *conn;
	int rc = drive(ctx, url, &conn);

	snprintf(want, sizeof(want), "fake %s failed", line);
	CHECK_INT(rc, code);
	CHECK_INT(ps_conn_error(conn)->code, code);
	CHECK_INT(ps_conn_error(conn)->hop, 1);
	CHECK_MSG(msg_has(conn, want), "%s: error is line %s's: %s", url, line,
		  ps_conn_error(conn)->message);
	return conn;
}

/* ------------------------------------------------------------------ */
/* cases                                                                */
/* ------------------------------------------------------------------ */

static const int fails_connect[] = { PS_ERR_CONNECT };
static const int fails_auth[] = { PS_ERR_PROXY_AUTH };
static const int never_done[] = { FAKE_WANT_READ };

/* Opens all, connects bottom to top; closes top to bottom, once each. */
static void success_and_teardown(ps_ctx *ctx)
{
	ps_conn *conn;
	int rc;

	fake_reset();
	rc = drive(ctx, "tcp://one.test:80", &conn);
	CHECK_INT(rc, PS_OK);
	CHECK_STR(trace, "open:direct open:a connect:direct connect:a");
	ps_conn_close(conn);
	CHECK_STR(trace, "open:direct open:a connect:direct connect:a"
			 " close:a close:direct");
	CHECK_INT(fake_named("a")->closes, 1);
	CHECK_INT(fake_named("direct")->closes, 1);
}

/* sufficient: a and b fail, c (the last line) is used. */
static void sufficient_moves_on(ps_ctx *ctx)
{
	ps_conn *conn;
	int rc;

	fake_reset();
	fake_script("a", 1, fails_connect);
	fake_script("b", 1, fails_auth);
	rc = drive(ctx, "tcp://suff.test:80", &conn);
	CHECK_INT(rc, PS_OK);
	CHECK_INT(ps_conn_error(conn)->code, PS_OK);
	CHECK_INT(fake_named("a")->connects, 1);
	CHECK_INT(fake_named("b")->connects, 1);
	CHECK_INT(fake_named("c")->connects, 1);
	/* Each failed line is torn down, top first, before the next opens. */
	CHECK_STR(trace, "open:direct open:a connect:direct connect:a"
			 " close:a close:direct"
			 " open:direct open:b connect:direct connect:b"
			 " close:b close:direct"
			 " open:direct open:c connect:direct connect:c");
	ps_conn_close(conn);
	CHECK_INT(fake_named("c")->closes, 1);
	CHECK_INT(fake_named("direct")->closes, 3);
}

/* sufficient: the last line's failure is the one reported. */
static void sufficient_reports_last_error(ps_ctx *ctx)
{
	static const int c_fails[] = { PS_ERR_PROXY_DENIED };
	ps_conn *conn;

	fake_reset();
	fake_script("a", 1, fails_connect);
	fake_script("b", 1, fails_auth);
	fake_script("c", 1, c_fails);
	conn = expect_failure(ctx, "tcp://suff.test:80", PS_ERR_PROXY_DENIED,
			      "c");
	ps_conn_close(conn);
	CHECK_INT(fake_named("direct")->closes, 3);
}

/* requisite: stops with a's error, b is never opened. */
static void requisite_stops(ps_ctx *ctx)
{
	ps_conn *conn;

	fake_reset();
	fake_script("a", 1, fails_connect);
	conn = expect_failure(ctx, "tcp://req.test:80", PS_ERR_CONNECT, "a");
	CHECK_INT(fake_named("b")->opens, 0);
	CHECK_STR(trace, "open:direct open:a connect:direct connect:a"
			 " close:a close:direct");
	/* A failed connection stays failed, without calling the layers. */
	CHECK_INT(ps_conn_step(conn), PS_ERR_CONNECT);
	CHECK_INT(fake_named("a")->connects, 1);
	ps_conn_close(conn);
	CHECK_INT(fake_named("a")->closes, 1);
}

/* [proxy_auth=die]: a's 407 ends the search. */
static void full_form_auth_dies(ps_ctx *ctx)
{
	ps_conn *conn;

	fake_reset();
	fake_script("a", 1, fails_auth);
	conn = expect_failure(ctx, "tcp://full.test:80", PS_ERR_PROXY_AUTH,
			      "a");
	CHECK_INT(fake_named("b")->opens, 0);
	ps_conn_close(conn);
}

/* [default=die]: a connect failure (not named) ends the search too. */
static void full_form_default_dies(ps_ctx *ctx)
{
	ps_conn *conn;

	fake_reset();
	fake_script("a", 1, fails_connect);
	conn = expect_failure(ctx, "tcp://full.test:80", PS_ERR_CONNECT, "a");
	CHECK_INT(fake_named("b")->opens, 0);
	ps_conn_close(conn);
}

/* drive() with a layer 'a' that never completes; *took_ms: how long. */
static int drive_never_done(ps_ctx *ctx, const char *url, ps_conn **conn,
			    long long *took_ms)
{
	long long start = clock_now_ms();
	int rc;

	fake_script("a", 1, never_done);
	rc = drive(ctx, url, conn);
	*took_ms = clock_now_ms() - start;
	return rc;
}

/*
 * A layer that never completes: timeout within connect_timeout (1 s);
 * [timeout=next] moves on to b, whose 407 then dies: b's error, c unused.
 */
static void deadline_then_next(ps_ctx *ctx)
{
	long long took;
	ps_conn *conn;
	int rc;

	fake_reset();
	fake_script("b", 1, fails_auth);
	rc = drive_never_done(ctx, "tcp://full.test:80", &conn, &took);
	CHECK_INT(rc, PS_ERR_PROXY_AUTH);
	CHECK_MSG(msg_has(conn, "fake b failed"), "error is line b's: %s",
		  ps_conn_error(conn)->message);
	CHECK_INT(fake_named("c")->opens, 0);
	CHECK_INT(fake_named("a")->closes, 1);
	CHECK_MSG(took >= 900 && took < 5000, "a timed out after about 1 s"
		  " (took %lld ms)", took);
	ps_conn_close(conn);
}

/* The deadline alone: the timeout code, naming the layer and the time. */
static void deadline_times_out(ps_ctx *ctx)
{
	long long took;
	ps_conn *conn;
	int rc;

	fake_reset();
	rc = drive_never_done(ctx, "tcp://one.test:80", &conn, &took);
	CHECK_INT(rc, PS_ERR_TIMEOUT);
	CHECK_INT(ps_conn_error(conn)->hop, 1);
	CHECK_MSG(msg_has(conn, "within 1000 ms"), "timeout message: %s",
		  ps_conn_error(conn)->message);
	CHECK_MSG(took < 5000, "timed out within 5 s (took %lld ms)", took);
	CHECK_INT(fake_named("a")->closes, 1);
	CHECK_INT(fake_named("direct")->closes, 1);
	ps_conn_close(conn);
}

/* want-read then want-write reach ps_conn_poll, then it completes. */
static void wants_reach_poll(ps_ctx *ctx)
{
	static const int steps[] = { FAKE_WANT_READ, FAKE_WANT_WRITE, PS_OK };
	ps_error err;
	ps_conn *conn;
	ps_poll p;

	fake_reset();
	fake_script("a", 3, steps);
	conn = ps_conn_start(ctx, "tcp://one.test:80", NULL, &err);
	CHECK(conn != NULL);
	if (!conn)
		return;
	CHECK_INT(ps_conn_step(conn), PS_AGAIN);
	ps_conn_poll(conn, &p);
	CHECK_INT(p.fd, pipe_fds[0]);
	CHECK_INT(p.events, POLLIN);
	CHECK_MSG(p.timeout_ms >= 0 && p.timeout_ms <= 1000,
		  "poll timeout within the deadline (%d ms)", p.timeout_ms);
	CHECK_INT(ps_conn_step(conn), PS_AGAIN);
	ps_conn_poll(conn, &p);
	CHECK_INT(p.fd, pipe_fds[1]);
	CHECK_INT(p.events, POLLOUT);
	CHECK_INT(ps_conn_step(conn), PS_OK);
	ps_conn_poll(conn, &p);
	CHECK_INT(p.fd, -1);
	CHECK_INT(p.timeout_ms, -1);
	/* The layers below were connected once, not again on each step. */
	CHECK_INT(fake_named("direct")->connects, 1);
	CHECK_INT(fake_named("a")->connects, 3);
	ps_conn_close(conn);
}

/* Three reconnects below are allowed; the fourth request fails. */
static void reconnect_limit(ps_ctx *ctx)
{
	static const int steps[] = { FAKE_RECONNECT };
	ps_conn *conn;
	int rc;

	fake_reset();
	fake_script("a", 1, steps);
	rc = drive(ctx, "tcp://one.test:80", &conn);
	CHECK_INT(rc, PS_ERR_PROXY_PROTOCOL);
	CHECK_MSG(msg_has(conn, "three times"), "reconnect limit message: %s",
		  ps_conn_error(conn)->message);
	CHECK_INT(fake_named("a")->connects, 4);
	/* The layer below is rebuilt each time; a itself stays open. */
	CHECK_INT(fake_named("direct")->opens, 4);
	CHECK_INT(fake_named("direct")->connects, 4);
	CHECK_INT(fake_named("direct")->closes, 4);
	CHECK_INT(fake_named("a")->opens, 1);
	CHECK_INT(fake_named("a")->closes, 1);
	ps_conn_close(conn);
}

/* Read len bytes of an established connection as a string. */
static const char *read_some(ps_conn *conn, size_t len)
{
	static char got[64];
	size_t n = 0;
	int rc = ps_conn_read(conn, got, len < sizeof(got) ? len : 63, &n);

	got[rc == PS_OK ? n : 0] = '\0';
	return got;
}

/*
 * Bytes given back come out before the peer's: the top layer's first
 * (the later give-back in front), then the bottom layer's, then the peer.
 */
static void unread_order(ps_ctx *ctx)
{
	static const int steps[] = { FAKE_UNREAD };
	ps_conn *conn;

	fake_reset();
	fake_script("direct", 1, steps);
	fake_script("a", 1, steps);
	CHECK_INT(drive(ctx, "tcp://one.test:80", &conn), PS_OK);
	CHECK_STR(read_some(conn, 4), "a-he");
	CHECK_STR(read_some(conn, 64), "ad a-tail");
	CHECK_STR(read_some(conn, 64), "direct-head direct-tail");
	CHECK_STR(read_some(conn, 64), "peer");
	ps_conn_close(conn);
}

/*
 * ps_layer_query_below: b asks, a (no answer) passes, direct answers;
 * a question nobody knows is PS_ERR_UNSUPPORTED, recorded nowhere.
 */
static void query_below(ps_ctx *ctx)
{
	static const int steps[] = { FAKE_QUERY };
	ps_conn *conn;

	fake_reset();
	fake_named("direct")->answer = "h2";
	fake_script("b", 1, steps);
	CHECK_INT(drive(ctx, "tcp://two.test:80", &conn), PS_OK);
	CHECK_INT(fake_named("b")->query_rc, PS_OK);
	CHECK_STR(fake_named("b")->alpn, "h2");
	CHECK_INT(fake_named("b")->query_unknown_rc, PS_ERR_UNSUPPORTED);
	CHECK_INT(ps_conn_error(conn)->code, PS_OK);
	ps_conn_close(conn);

	/* Nobody below answers: PS_ERR_UNSUPPORTED, the chain still up. */
	fake_reset();
	fake_script("b", 1, steps);
	CHECK_INT(drive(ctx, "tcp://two.test:80", &conn), PS_OK);
	CHECK_INT(fake_named("b")->query_rc, PS_ERR_UNSUPPORTED);
	ps_conn_close(conn);
}

/*
 * ps_layer_detach_below: the layers below a leave the connection (its
 * close no longer closes them), the sub-chain reads from them with a as
 * the driver and answers queries, and ps_subchain_close closes them.
 */
static void detach_below(ps_ctx *ctx)
{
	static const int steps[] = { FAKE_DETACH };
	struct fake *a, *direct;
	ps_subchain *sub;
	ps_conn *conn;
	char buf[16], alpn[16];
	size_t n = 0;

	fake_reset();
	a = fake_named("a");
	direct = fake_named("direct");
	direct->answer = "http/1.1";
	fake_script("a", 1, steps);
	CHECK_INT(drive(ctx, "tcp://one.test:80", &conn), PS_OK);
	sub = a->sub;
	CHECK(sub != NULL);
	if (!sub) {
		ps_conn_close(conn);
		return;
	}
	CHECK_INT(ps_subchain_recv(sub, &conn->layers[1], buf, 4, &n), PS_OK);
	CHECK_INT((int)n, 4);
	CHECK(!memcmp(buf, "peer", 4));
	CHECK_INT(ps_subchain_query(sub, &conn->layers[1], PS_QUERY_ALPN,
				    alpn, sizeof(alpn)), PS_OK);
	CHECK_STR(alpn, "http/1.1");
	CHECK_STR(ps_subchain_why(sub), "");
	ps_conn_close(conn);
	CHECK_INT(a->closes, 1);
	CHECK_INT(direct->closes, 0);
	ps_subchain_close(sub, NULL);
	CHECK_INT(direct->closes, 1);
	CHECK_STR(trace, "open:direct open:a connect:direct connect:a"
			 " close:a close:direct");
}

/*
 * ps_layer_skip_below from open(): direct is closed at once and never
 * connected; a reconnect below then builds it after all, and that does
 * not count against the limit of three.
 */
static void skip_below(ps_ctx *ctx)
{
	static const int rebuild[] = { FAKE_RECONNECT, PS_OK };
	ps_conn *conn;

	fake_reset();
	fake_named("a")->skip_in_open = 1;
	CHECK_INT(drive(ctx, "tcp://one.test:80", &conn), PS_OK);
	CHECK_STR(trace, "open:direct open:a close:direct connect:a");
	CHECK_INT(fake_named("direct")->connects, 0);
	ps_conn_close(conn);
	CHECK_INT(fake_named("direct")->closes, 1);

	fake_reset();
	fake_named("a")->skip_in_open = 1;
	fake_script("a", 2, rebuild);
	CHECK_INT(drive(ctx, "tcp://one.test:80", &conn), PS_OK);
	CHECK_STR(trace, "open:direct open:a close:direct connect:a"
			 " open:direct connect:direct connect:a");
	CHECK_INT(conn->reconnects, 0);
	ps_conn_close(conn);
	CHECK_INT(fake_named("direct")->closes, 2);
}

int main(void)
{
	ps_ctx *ctx;

	if (pipe(pipe_fds) != 0) {
		perror("pipe");
		return 2;
	}
	ctx = make_ctx();
	success_and_teardown(ctx);
	sufficient_moves_on(ctx);
	sufficient_reports_last_error(ctx);
	requisite_stops(ctx);
	full_form_auth_dies(ctx);
	full_form_default_dies(ctx);
	wants_reach_poll(ctx);
	reconnect_limit(ctx);
	unread_order(ctx);
	deadline_times_out(ctx);
	deadline_then_next(ctx);
	query_below(ctx);
	detach_below(ctx);
	skip_below(ctx);
	ps_ctx_free(ctx);
	remove_confdir();
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	return check_done();
}
