/*
 * fuzz_config.c - reading one configuration file (host/ini_load.c over
 * inih), without giving the sections meaning: fast, no modules.
 * fuzz_snapshot does the whole build.
 *
 * The input is written to a file in a private directory and read with
 * ini_load_file().  Checks:
 *   - success, or PS_ERR_CONFIG with "FILE:LINE: ..." in the message;
 *   - a file holding a NUL byte is refused;
 *   - on success every section is a known kind, named exactly when its
 *     kind is named, with a valid name; every entry has a lower-case key
 *     and points at this file and a line that exists;
 *   - the same file read twice into one document gives the same
 *     sections (repeated sections merge), twice the entries;
 *   - ini_find/ini_get/ini_where/ini_add work on whatever was read.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "ini_load.h"

static char dir[64];
static char path[128];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/fuzz-config.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/50-fuzz.conf", dir);
	atexit(remove_dir);
	return 0;
}

static int name_ok(const char *name)
{
	if (!*name)
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return 0;
	return 1;
}

static void check_doc(const struct ini_doc *doc, int lines)
{
	/* Unnamed first (global .. run), then the named kinds. */
	static const char *const kinds[] = { "global", "default", "serve",
					     "run", "transport", "trust",
					     "select", "stack", "route" };

	for (size_t i = 0; i < doc->nsections; i++) {
		struct ini_section *s = &doc->sections[i];
		int known = -1;

		for (int k = 0; k < (int)(sizeof(kinds) / sizeof(kinds[0])); k++)
			if (!strcmp(s->kind, kinds[k]))
				known = k;
		FUZZ_CHECK(known >= 0, "section kind '%s'", s->kind);
		FUZZ_CHECK(known < 4 ? !s->name[0] : name_ok(s->name),
			   "section [%s %s]", s->kind, s->name);
		FUZZ_CHECK(ini_find(doc, s->kind, s->name) == s,
			   "section [%s %s] twice", s->kind, s->name);
		FUZZ_CHECK(s->n <= s->cap, "entries over capacity");
		for (size_t j = 0; j < s->n; j++) {
			struct ini_entry *e = &s->entries[j];
			char where[300];

			FUZZ_CHECK(e->key && e->value, "NULL key or value");
			for (const char *c = e->key; *c; c++)
				FUZZ_CHECK(!isupper((unsigned char)*c),
					   "key '%s' not lower-cased", e->key);
			FUZZ_CHECK(e->line >= 1 && e->line <= lines,
				   "entry line %d of %d", e->line, lines);
			FUZZ_CHECK(e->file && !strcmp(e->file, path),
				   "entry file");
			ini_where(e, where, sizeof(where));
			FUZZ_CHECK(strstr(where, path) == where, "ini_where");
			FUZZ_CHECK(ini_get(s, e->key) != NULL, "ini_get");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ini_doc doc, twice;
	ps_error err;
	FILE *fp = fopen(path, "w");
	int rc, lines = 1;

	if (!fp)
		abort();
	if (size && fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	memset(&doc, 0, sizeof(doc));
	ps_error_clear(&err);
	rc = ini_load_file(path, &doc, &err);
	if (rc != PS_OK) {
		FUZZ_CHECK(rc == PS_ERR_CONFIG || rc == PS_ERR_NOMEM,
			   "ini_load_file returned %d", rc);
		FUZZ_CHECK(err.code == rc, "error code %d, returned %d",
			   err.code, rc);
		FUZZ_CHECK(rc == PS_ERR_NOMEM || strstr(err.message, path),
			   "message '%s' does not name the file", err.message);
		ini_doc_free(&doc);
		return 0;
	}
	/*
	 * ini_load.c means to refuse a NUL byte ("NUL byte in the line"):
	 * one would hide the rest of its line from the parser, and past
	 * 4095 bytes make it a line of its own.
	 */
	FUZZ_CHECK_KNOWN("ini-nul-byte", !memchr(data, '\0', size),
			 "a file with a NUL byte was accepted");
	check_doc(&doc, memchr(data, '\0', size) ? INT32_MAX : lines);

	/* Reading it again merges into the same sections. */
	memset(&twice, 0, sizeof(twice));
	FUZZ_CHECK(ini_load_file(path, &twice, &err) == PS_OK,
		   "second read failed");
	FUZZ_CHECK(ini_load_file(path, &twice, &err) == PS_OK,
		   "third read failed");
	FUZZ_CHECK(twice.nsections == doc.nsections, "%zu sections, then %zu",
		   doc.nsections, twice.nsections);
	for (size_t i = 0; i < doc.nsections; i++)
		FUZZ_CHECK(twice.sections[i].n == 2 * doc.sections[i].n,
			   "section %zu: %zu entries, twice %zu", i,
			   doc.sections[i].n, twice.sections[i].n);
	ini_doc_free(&twice);

	/* The host adds sections from [default] and the environment. */
	FUZZ_CHECK(ini_add(&doc, "transport", "default-proxy", "url",
			   "http://proxy:3128", "environment HTTPS_PROXY",
			   0) == 0, "ini_add");
	FUZZ_CHECK(ini_find(&doc, "transport", "default-proxy") != NULL,
		   "ini_add did not add");
	if (doc.nsections)
		FUZZ_CHECK(ini_add(&doc, doc.sections[0].kind,
				   doc.sections[0].name, "extra", "1", path,
				   1) == 0, "ini_add to an existing section");
	ini_doc_free(&doc);
	return 0;
}
