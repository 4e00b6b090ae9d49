/*
 * test_connect_answer.c - the proxy's answer to CONNECT, as fixed cases:
 * every seed of tests/fuzz/corpus/fuzz_connect_answer/ replayed through
 * the fuzz target (the real http-connect module on a fake peer, with all
 * its invariant checks) and its outcome asserted against the table below,
 * so a change in how an answer is read shows up here, deterministically,
 * not only when the fuzzer happens to run (make check PS_LONG=1).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* What one connection of a replayed input ended in. */
struct seen {
	int rc;       /* chain_step's result */
	int requests; /* CONNECT requests sent */
	int opens;    /* connections to the proxy */
};

static struct seen seen[2];
static int nseen;

static void record(int rc, int requests, int opens)
{
	/* (a second connection, flag 0x80, is checked by the target itself) */
	if (nseen < 2)
		seen[nseen] = (struct seen){ rc, requests, opens };
	nseen++;
}

#define CONNECT_ANSWER_SEEN(rc, requests, opens) record(rc, requests, opens)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#include "fuzz_connect_answer.c"

/* One seed: its file and what its (first) connection must end in. */
struct expect {
	const char *file;
	int rc;
	int requests;
	int opens;
};

/*
 * Each seed's first connection, as it is today (byte 0 of a seed holds the
 * flags, byte 1 the chunking: see fuzz_connect_answer.c).  The seeds hand
 * the whole answer over at once: a 407 followed by a 200 in the same input
 * ends in "closed the connection without answering CONNECT", the 200 having
 * arrived before the retry was sent.
 */
static const struct expect expected[] = {
	{ "100-then-200", PS_ERR_PROXY_PROTOCOL, 1, 1 }, /* 1xx refused */
	{ "200", PS_OK, 1, 1 },
	{ "200-lf-only", PS_OK, 1, 1 },
	{ "200-tunnel-bytes", PS_OK, 1, 1 },
	{ "403-chunked", PS_ERR_PROXY_DENIED, 1, 1 },
	{ "407-basic-then-200", PS_ERR_PROXY_PROTOCOL, 2, 1 },
	{ "407-basic-twice", PS_ERR_PROXY_PROTOCOL, 2, 1 },
	{ "407-close-reconnect", PS_ERR_PROXY_AUTH, 1, 1 },
	{ "407-digest-control-byte", PS_ERR_PROXY_PROTOCOL, 1, 1 },
	{ "407-digest-md5", PS_ERR_PROXY_PROTOCOL, 2, 1 },
	{ "407-digest-quoted-pairs", PS_ERR_PROXY_PROTOCOL, 2, 1 },
	{ "407-digest-sha256-and-basic", PS_ERR_PROXY_PROTOCOL, 2, 1 },
	{ "407-none-configured", PS_ERR_PROXY_AUTH, 1, 1 },
	/* NTLM's Type 1 sent; the challenge had come too early (dropped) */
	{ "407-ntlm-handshake", PS_ERR_PROXY_AUTH, 2, 1 },
	{ "502-html", PS_ERR_PROXY_DENIED, 1, 1 },
	{ "bare-cr", PS_ERR_PROXY_PROTOCOL, 1, 1 },
	{ "folded-header", PS_ERR_PROXY_PROTOCOL, 2, 1 },
	{ "long-password", PS_ERR_CONFIG, 1, 1 }, /* over 511 bytes for Basic */
	{ "not-http", PS_ERR_PROXY_PROTOCOL, 1, 1 },
	{ "nul-header", PS_ERR_PROXY_PROTOCOL, 1, 1 },
};

enum { N_EXPECTED = sizeof(expected) / sizeof(expected[0]) };

/* read_file PATH, &LEN: the whole file (malloc'd), or NULL. */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)size + 1)) &&
	    fread(data, 1, (size_t)size, f) == (size_t)size)
		*len = (size_t)size;
	else {
		free(data);
		data = NULL;
	}
	fclose(f);
	return data;
}

static void replay(const char *dir, const struct expect *e)
{
	char path[4096];
	uint8_t *data;
	size_t len = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, e->file) >=
	    (int)sizeof(path)) {
		CHECK_MSG(0, "%s: path too long", e->file);
		return;
	}
	data = read_file(path, &len);
	CHECK_MSG(data != NULL, "%s: read %s", e->file, path);
	if (!data)
		return;
	nseen = 0;
	LLVMFuzzerTestOneInput(data, len);
	CHECK_MSG(nseen >= 1, "%s: a connection ran", e->file);
	CHECK_MSG(seen[0].rc == e->rc, "%s: ends in %d (got %d)", e->file,
		  e->rc, seen[0].rc);
	CHECK_MSG(seen[0].requests == e->requests,
		  "%s: %d CONNECT requests (got %d)", e->file, e->requests,
		  seen[0].requests);
	CHECK_MSG(seen[0].opens == e->opens, "%s: %d connections (got %d)",
		  e->file, e->opens, seen[0].opens);
	free(data);
}

/* Every seed in the corpus has a line in the table: a new seed without an
 * expectation is a test that asserts nothing. */
static void all_seeds_listed(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	size_t i;

	CHECK_MSG(d != NULL, "open the corpus %s", dir);
	if (!d)
		return;
	while ((ent = readdir(d))) {
		if (ent->d_name[0] == '.')
			continue;
		for (i = 0; i < N_EXPECTED; i++)
			if (!strcmp(expected[i].file, ent->d_name))
				break;
		CHECK_MSG(i < N_EXPECTED, "seed %s has an expectation",
			  ent->d_name);
	}
	closedir(d);
}

int main(void)
{
	const char *src = getenv("PS_SRC");
	char dir[2048];
	size_t i;

	if (snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/fuzz_connect_answer",
		     src && *src ? src : PS_TEST_SRCDIR) >= (int)sizeof(dir)) {
		CHECK_MSG(0, "corpus path too long");
		return check_done();
	}
	all_seeds_listed(dir);
	for (i = 0; i < N_EXPECTED; i++)
		replay(dir, &expected[i]);
	return check_done();
}
