/*
 * test_bytes.c - the byte-protocol helpers of module.h (host/layer.c):
 * ps_layer_send_all() and ps_layer_recv_exact() on a fake layer below
 * whose every call is scripted: a chunk of bytes, "would block", end of
 * stream, an error, or a send that takes only a few bytes.
 *
 * Checked: progress survives PS_AGAIN and is back at 0 after PS_OK; a
 * receive never reads past its length (the next message's bytes stay
 * below); bytes given back with ps_layer_unread() come first; a caller
 * may start with bytes already in hand; end of stream and errors below
 * are reported with their code and message; a layer that accepts
 * nothing without PS_AGAIN cannot make send_all spin.
 */
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "check.h"

/* What the fake layer below does on each call, in order. */
enum fake_kind { FAKE_BYTES, FAKE_AGAIN, FAKE_EOF, FAKE_ERROR, FAKE_NONE };

struct fake_step {
	enum fake_kind kind;
	const char *bytes;      /* FAKE_BYTES: what a recv returns */
	size_t take;            /* FAKE_BYTES on send: at most this many */
};

#define FAKE_MAX 16

static struct fake_step script[FAKE_MAX];
static size_t nscript, at, partial;
static char sent[256];
static size_t sent_len;
static int calls_below;

static void fake_script(size_t n, const struct fake_step *steps)
{
	if (n)
		memcpy(script, steps, n * sizeof(*steps));
	nscript = n;
	at = partial = sent_len = 0;
	calls_below = 0;
}

/* The current step; past the end of the script: would block. */
static const struct fake_step *fake_now(void)
{
	static const struct fake_step again = { FAKE_AGAIN, NULL, 0 };

	return at < nscript ? &script[at] : &again;
}

static int fake_recv(ps_layer *layer, void *state, void *buf, size_t len,
		     size_t *n)
{
	const struct fake_step *st = fake_now();
	size_t left;

	(void)state;
	calls_below++;
	*n = 0;
	switch (st->kind) {
	case FAKE_BYTES:
		/* A chunk bigger than asked stays for the next call. */
		left = strlen(st->bytes) - partial;
		*n = left < len ? left : len;
		memcpy(buf, st->bytes + partial, *n);
		partial += *n;
		if (partial == strlen(st->bytes)) {
			partial = 0;
			at++;
		}
		return PS_OK;
	case FAKE_EOF:
		at++;
		return PS_OK;
	case FAKE_ERROR:
		at++;
		return ps_layer_fail(layer, PS_ERR_IO, NULL, "fake reset");
	case FAKE_AGAIN:
	case FAKE_NONE:
		break;
	}
	at++;
	return PS_AGAIN;
}

static int fake_send(ps_layer *layer, void *state, const void *buf,
		     size_t len, size_t *n)
{
	const struct fake_step *st = fake_now();

	(void)state;
	calls_below++;
	at++;
	*n = 0;
	switch (st->kind) {
	case FAKE_BYTES:
		*n = len < st->take ? len : st->take;
		memcpy(sent + sent_len, buf, *n);
		sent_len += *n;
		return PS_OK;
	case FAKE_NONE:
		return PS_OK;
	case FAKE_ERROR:
		return ps_layer_fail(layer, PS_ERR_IO, NULL, "fake broken pipe");
	default:
		return PS_AGAIN;
	}
}

static const struct ps_module_ops fake_ops = {
	.recv = fake_recv,
	.send = fake_send,
};

static const struct ps_module_ops proto_ops = { 0 };

/* A connection of two layers: the fake, and "proto" above it. */
static struct ps_conn *conn_new(void)
{
	struct ps_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		abort();
	ps_error_clear(&conn->err);
	for (int i = 0; i < 2; i++) {
		struct ps_layer *l = &conn->layers[i];

		l->conn = conn;
		l->hop = i;
		l->name = i ? "proto" : "fake";
		l->ops = i ? &proto_ops : &fake_ops;
		buf_init(&l->unread);
	}
	conn->nlayers = 2;
	return conn;
}

static void conn_free(struct ps_conn *conn)
{
	for (int i = 0; i < 2; i++)
		buf_free(&conn->layers[i].unread);
	free(conn);
}

static void test_recv_across_chunks(void)
{
	static const struct fake_step steps[] = {
		{ FAKE_BYTES, "ab", 0 }, { FAKE_AGAIN, NULL, 0 },
		{ FAKE_BYTES, "cdefgh", 0 },
	};
	struct ps_conn *conn = conn_new();
	struct ps_layer *proto = &conn->layers[1];
	struct ps_bytes_progress p = { 0 };
	char buf[8] = "";

	fake_script(3, steps);
	CHECK_INT(ps_layer_recv_exact(proto, buf, 5, &p, "x"), PS_AGAIN);
	CHECK_INT(p.done, 2);
	CHECK_INT(ps_layer_recv_exact(proto, buf, 5, &p, "x"), PS_OK);
	CHECK(!memcmp(buf, "abcde", 5));
	CHECK_INT(p.done, 0);
	/* The next message's bytes were not swallowed. */
	memset(buf, 0, sizeof(buf));
	CHECK_INT(ps_layer_recv_exact(proto, buf, 3, &p, "x"), PS_OK);
	CHECK_STR(buf, "fgh");
	CHECK_INT(conn->err.code, PS_OK);
	conn_free(conn);
}

static void test_recv_unread_first(void)
{
	static const struct fake_step steps[] = { { FAKE_BYTES, "ab", 0 } };
	struct ps_conn *conn = conn_new();
	struct ps_layer *proto = &conn->layers[1];
	struct ps_bytes_progress p = { 0 };
	char buf[8] = "";

	fake_script(1, steps);
	CHECK_INT(ps_layer_unread(proto, "XY", 2), PS_OK);
	CHECK_INT(ps_layer_recv_exact(proto, buf, 4, &p, NULL), PS_OK);
	CHECK_STR(buf, "XYab");
	conn_free(conn);
}

static void test_recv_with_bytes_in_hand(void)
{
	static const struct fake_step steps[] = { { FAKE_BYTES, "cde", 0 } };
	struct ps_conn *conn = conn_new();
	struct ps_layer *proto = &conn->layers[1];
	struct ps_bytes_progress p = { 2 };
	char buf[8] = "ab";

	fake_script(1, steps);
	CHECK_INT(ps_layer_recv_exact(proto, buf, 5, &p, NULL), PS_OK);
	CHECK_STR(buf, "abcde");
	conn_free(conn);
}

static void test_recv_end_of_stream(void)
{
	static const struct fake_step steps[] = {
		{ FAKE_BYTES, "ab", 0 }, { FAKE_EOF, NULL, 0 },
	};
	struct ps_conn *conn = conn_new();
	struct ps_layer *proto = &conn->layers[1];
	struct ps_bytes_progress p = { 0 };
	char buf[8];

	fake_script(2, steps);
	CHECK_INT(ps_layer_recv_exact(proto, buf, 5, &p, "the test reply"),
		  PS_ERR_PROXY_PROTOCOL);
	CHECK_STR(conn->err.message,
		  "connection closed after 2 of 5 bytes of the test reply");
	CHECK_STR(conn->err.layer, "proto");
	CHECK_INT(conn->err.hop, 1);
	conn_free(conn);

	conn = conn_new();
	fake_script(1, steps + 1);
	p.done = 0;
	CHECK_INT(ps_layer_recv_exact(&conn->layers[1], buf, 1, &p, NULL),
		  PS_ERR_PROXY_PROTOCOL);
	CHECK_STR(conn->err.message,
		  "connection closed after 0 of 1 bytes of the answer");
	conn_free(conn);
}

static void test_recv_error_below(void)
{
	static const struct fake_step steps[] = {
		{ FAKE_BYTES, "a", 0 }, { FAKE_ERROR, NULL, 0 },
	};
	struct ps_conn *conn = conn_new();
	struct ps_bytes_progress p = { 0 };
	char buf[8];

	fake_script(2, steps);
	CHECK_INT(ps_layer_recv_exact(&conn->layers[1], buf, 4, &p, NULL),
		  PS_ERR_IO);
	CHECK_STR(conn->err.message, "fake reset");
	CHECK_STR(conn->err.layer, "fake");
	conn_free(conn);
}

static void test_zero_and_bad_progress(void)
{
	struct ps_conn *conn = conn_new();
	struct ps_bytes_progress p = { 0 };
	char buf[4];

	fake_script(0, NULL);
	CHECK_INT(ps_layer_recv_exact(&conn->layers[1], buf, 0, &p, NULL),
		  PS_OK);
	CHECK_INT(ps_layer_send_all(&conn->layers[1], "", 0, &p), PS_OK);
	CHECK_INT(calls_below, 0);
	p.done = 5;
	CHECK_INT(ps_layer_recv_exact(&conn->layers[1], buf, 4, &p, NULL),
		  PS_ERR_INTERNAL);
	CHECK_INT(calls_below, 0);
	conn_free(conn);
}

static void test_send_in_pieces(void)
{
	static const struct fake_step steps[] = {
		{ FAKE_BYTES, NULL, 3 }, { FAKE_AGAIN, NULL, 0 },
		{ FAKE_BYTES, NULL, 2 }, { FAKE_AGAIN, NULL, 0 },
		{ FAKE_BYTES, NULL, 100 },
	};
	struct ps_conn *conn = conn_new();
	struct ps_layer *proto = &conn->layers[1];
	struct ps_bytes_progress p = { 0 };
	const char *msg = "hello, proxy";

	fake_script(5, steps);
	CHECK_INT(ps_layer_send_all(proto, msg, strlen(msg), &p), PS_AGAIN);
	CHECK_INT(p.done, 3);
	CHECK_INT(ps_layer_send_all(proto, msg, strlen(msg), &p), PS_AGAIN);
	CHECK_INT(p.done, 5);
	CHECK_INT(ps_layer_send_all(proto, msg, strlen(msg), &p), PS_OK);
	CHECK_INT(p.done, 0);
	CHECK_INT(sent_len, strlen(msg));
	CHECK(!memcmp(sent, msg, strlen(msg)));
	conn_free(conn);
}

static void test_send_failures(void)
{
	static const struct fake_step none[] = { { FAKE_NONE, NULL, 0 } };
	static const struct fake_step broken[] = {
		{ FAKE_BYTES, NULL, 1 }, { FAKE_ERROR, NULL, 0 },
	};
	struct ps_conn *conn = conn_new();
	struct ps_bytes_progress p = { 0 };

	fake_script(1, none);
	CHECK_INT(ps_layer_send_all(&conn->layers[1], "abc", 3, &p),
		  PS_ERR_IO);
	CHECK_STR(conn->err.message, "the layer below proto accepted no bytes");
	CHECK_INT(calls_below, 1);
	conn_free(conn);

	conn = conn_new();
	p.done = 0;
	fake_script(2, broken);
	CHECK_INT(ps_layer_send_all(&conn->layers[1], "abc", 3, &p),
		  PS_ERR_IO);
	CHECK_STR(conn->err.message, "fake broken pipe");
	CHECK_INT(p.done, 1);
	conn_free(conn);
}

int main(void)
{
	test_recv_across_chunks();
	test_recv_unread_first();
	test_recv_with_bytes_in_hand();
	test_recv_end_of_stream();
	test_recv_error_below();
	test_zero_and_bad_progress();
	test_send_in_pieces();
	test_send_failures();
	return check_done();
}
