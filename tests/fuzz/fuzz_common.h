/*
 * fuzz_common.h - what the libFuzzer targets share: failing loudly, a
 * silent logger, and a fake chain for the targets that drive real layers.
 *
 * The fake chain is the real one (chain_setup_line, chain_step, the real
 * layer services of layer.c) over a fake bottom layer, fake_peer: the
 * "network".  Its recv returns the peer's bytes (the fuzz input) in
 * chunks whose sizes, and the PS_AGAIN it returns in between, come from
 * a small generator seeded by the input, so every restartable state
 * machine above it sees its input cut at every place over time.  Its
 * send accepts everything (also in pieces) and keeps a copy, so a target
 * can check what the layers above said.
 *
 * Included by each target; everything here is static.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "chain.h"
#include "error.h"

#define FUZZ_UNUSED __attribute__((unused))

/* A broken invariant: say which, then abort so libFuzzer keeps the input. */
static FUZZ_UNUSED __attribute__((noreturn, format(printf, 1, 2))) void
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define FUZZ_CHECK(cond, ...)                                             \
	do {                                                              \
		if (!(cond))                                              \
			fuzz_fail(__VA_ARGS__);                           \
	} while (0)

/*
 * A check for a finding already reported (tests/fuzz/crashes/TARGET/ID.*
 * reproduces it).  run-fuzzers replays those files first; for the ones
 * that still fail it lists their IDs in PS_FUZZ_TOLERATE, so the timed
 * run looks for new problems instead of finding the known one again.
 */
static FUZZ_UNUSED int fuzz_tolerated(const char *id)
{
	const char *list = getenv("PS_FUZZ_TOLERATE");
	size_t n = strlen(id);

	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, id, n))
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

#define FUZZ_CHECK_KNOWN(id, cond, ...)                                   \
	do {                                                              \
		if (!(cond) && !fuzz_tolerated(id))                       \
			fuzz_fail("[" id "] " __VA_ARGS__);               \
	} while (0)

/* Logs are formatted (format bugs show up) but not printed. */
static FUZZ_UNUSED void fuzz_quiet_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	(void)msg;
}

/* Bytes of a string, for messages: at most 'max', escaped, into out. */
static FUZZ_UNUSED const char *fuzz_escape(const void *data, size_t len,
					   char *out, size_t outsz)
{
	const unsigned char *p = data;
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < outsz; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x",
					      p[i]);
	}
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------------------ */
/* the peer: a fake bottom layer                                       */
/* ------------------------------------------------------------------ */

struct fake_peer {
	const uint8_t *data;    /* what the peer says, in order */
	size_t len, pos;
	uint32_t rng;           /* chunking; 0: hand out all that fits */
	int end_again;          /* at the end: PS_AGAIN (silence) not EOF */
	int stalls;             /* times the silent end was hit */
	int last_again;         /* the previous call was a planned PS_AGAIN */
	struct buf sent;        /* everything the layers above sent */
	int opens;              /* connections made (a reconnect adds one) */
	/* Called at the first recv of each connection (data may change). */
	void (*on_first_recv)(struct fake_peer *peer);
	void *user;
	int recv_seen;
};

static FUZZ_UNUSED uint32_t fake_peer_next(struct fake_peer *p)
{
	/* xorshift32: cheap and fully determined by the seed */
	uint32_t x = p->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	p->rng = x;
	return x;
}

/* How many of 'avail' bytes this call moves (at least 1). */
static FUZZ_UNUSED size_t fake_peer_chunk(struct fake_peer *p, size_t avail)
{
	uint32_t r;
	size_t n;

	if (!p->rng)
		return avail;
	r = fake_peer_next(p);
	switch (r & 3) {
	case 0: n = 1; break;
	case 1: n = 1 + (r >> 8) % 16; break;
	case 2: n = 1 + (r >> 8) % 1024; break;
	default: n = avail; break;
	}
	return n < avail ? n : avail;
}

/* A planned "would block" now and then, never twice in a row. */
static FUZZ_UNUSED int fake_peer_blocks(struct fake_peer *p)
{
	if (!p->rng || p->last_again) {
		p->last_again = 0;
		return 0;
	}
	if (fake_peer_next(p) % 5 == 0) {
		p->last_again = 1;
		return 1;
	}
	return 0;
}

static int fake_open(ps_layer *layer, void *instance, void **state)
{
	struct fake_peer *p = instance;

	(void)layer;
	p->opens++;
	p->recv_seen = 0;
	*state = p;
	return PS_OK;
}

static int fake_send(ps_layer *layer, void *state, const void *buf,
		     size_t len, size_t *n)
{
	struct fake_peer *p = state;

	(void)layer;
	*n = 0;
	if (len == 0)
		return PS_OK;
	if (fake_peer_blocks(p))
		return PS_AGAIN;
	*n = fake_peer_chunk(p, len);
	if (buf_append(&p->sent, buf, *n))
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL, "fake peer");
	return PS_OK;
}

static int fake_recv(ps_layer *layer, void *state, void *buf, size_t len,
		     size_t *n)
{
	struct fake_peer *p = state;

	(void)layer;
	*n = 0;
	if (!p->recv_seen) {
		p->recv_seen = 1;
		if (p->on_first_recv)
			p->on_first_recv(p);
	}
	if (p->pos >= p->len) {
		if (p->end_again) {
			p->stalls++;
			return PS_AGAIN;
		}
		return PS_OK;	/* orderly end of stream */
	}
	if (len == 0)
		return PS_OK;
	if (fake_peer_blocks(p))
		return PS_AGAIN;
	*n = fake_peer_chunk(p, len < p->len - p->pos ? len : p->len - p->pos);
	memcpy(buf, p->data + p->pos, *n);
	p->pos += *n;
	return PS_OK;
}

static const struct ps_module_ops fake_peer_ops = {
	.open = fake_open,
	.send = fake_send,
	.recv = fake_recv,
};

static const struct ps_module fake_peer_desc = {
	PS_MODULE_HEADER,
	.name = "fake-peer",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_BOTTOM,
	.summary = "the fuzz input as the network",
	.ops = &fake_peer_ops,
};

/* ------------------------------------------------------------------ */
/* the chain                                                           */
/* ------------------------------------------------------------------ */

struct fake_chain {
	struct snapshot *snap;           /* only its logger is used */
	struct loaded_module peer_mod;
	struct instance peer_inst;
	struct instance *hops[CHAIN_MAX_LAYERS];
	struct stack stack;
	struct route_line line;
	struct ps_conn *conn;
};

/* The snapshot a fake chain's layers log through (debug: all formatted). */
static FUZZ_UNUSED struct snapshot *fake_snapshot(void)
{
	static struct snapshot *snap;

	if (!snap) {
		snap = calloc(1, sizeof(*snap));
		if (!snap)
			abort();
		atomic_init(&snap->refs, 1);
		snap->lg.fn = fuzz_quiet_log;
		snap->lg.level = PS_LOG_DEBUG;
	}
	return snap;
}

/*
 * Build a connection to 'dest' over the peer, with 'extra' instances
 * (configured modules) as hops above it.  Options are the caller's to
 * set in fc->conn->opt afterwards; they are read only when stepping.
 */
static FUZZ_UNUSED void fake_chain_init(struct fake_chain *fc,
					struct fake_peer *peer,
					const char *dest,
					struct instance **extra,
					size_t nextra)
{
	char why[200];
	struct ps_conn *conn;

	memset(fc, 0, sizeof(*fc));
	fc->snap = fake_snapshot();
	fc->peer_mod.name = (char *)"fake-peer";
	fc->peer_mod.desc = &fake_peer_desc;
	fc->peer_mod.ops = fake_peer_ops;
	fc->peer_inst.kind = (char *)"transport";
	fc->peer_inst.name = (char *)"peer";
	fc->peer_inst.mod = &fc->peer_mod;
	fc->peer_inst.state = peer;
	fc->peer_inst.configured = 1;
	fc->peer_inst.display = (char *)"fake-peer";
	fc->hops[0] = &fc->peer_inst;
	for (size_t i = 0; i < nextra; i++)
		fc->hops[1 + i] = extra[i];
	fc->stack.name = (char *)"fuzz";
	fc->stack.origin = STACK_SECTION;
	fc->stack.hops = fc->hops;
	fc->stack.nhops = 1 + nextra;
	fc->line.stack = &fc->stack;	/* every action: die (0) */
	snprintf(fc->line.control, sizeof(fc->line.control), "requisite");

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		abort();
	fc->conn = conn;
	conn->epfd = -1;
	conn->snap = fc->snap;
	conn->nonblocking = 1;
	conn->started_us = clock_now_us();
	ps_error_clear(&conn->err);
	if (url_parse_dest(dest, &conn->dest, why, sizeof(why)) < 0)
		fuzz_fail("harness destination %s: %s", dest, why);
	conn->opt.timeout_ms = 1L << 30;	/* -timeout rules instead */
	conn->opt.ws_max_message = 16u << 20;
	conn->choice.lines = &fc->line;
	conn->choice.nlines = 1;
	if (chain_setup_line(conn) != PS_OK)
		fuzz_fail("chain_setup_line: %s", conn->err.message);
}

/*
 * Step the chain until it is up or failed.  PS_AGAIN means the peer went
 * silent at its end (a real chain would time out there).
 */
static FUZZ_UNUSED int fake_chain_run(struct fake_chain *fc,
				      struct fake_peer *peer)
{
	for (int i = 0; i < 1000000; i++) {
		int rc = chain_step(fc->conn);

		if (rc != PS_AGAIN)
			return rc;
		if (peer->stalls >= 2)
			return PS_AGAIN;
	}
	fuzz_fail("chain_step keeps returning PS_AGAIN without the peer"
		  " being silent: a busy loop");
}

/* What conn_free does, for a connection we built by hand. */
static FUZZ_UNUSED void fake_chain_free(struct fake_chain *fc)
{
	struct ps_conn *conn = fc->conn;

	if (!conn)
		return;
	chain_teardown(conn);
	if (conn->epfd >= 0)
		close(conn->epfd);
	free(conn->description);
	url_clear(&conn->dest);
	free(conn);
	fc->conn = NULL;
}

#endif
