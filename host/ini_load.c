/*
 * ini_load.c - the configuration directory, read with inih.
 *
 * inih as packaged gives its handler no line number and reads lines of at
 * most 200 bytes (DEPS-NOTES.md).  We therefore parse through our own
 * ini_reader, which counts lines into the parse state that the handler
 * also sees, and rejects over-long lines before inih can split them.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ini_load.h"

/* The section kinds a configuration may use, and whether they are named. */
static const struct {
	const char *kind;
	int named;
} section_kinds[] = {
	{ "global", 0 }, { "default", 0 }, { "transport", 1 },
	{ "trust", 1 },  { "select", 1 },  { "stack", 1 },
	{ "route", 1 },  { "serve", 0 },
	{ "run", 0 },     /* proxystack run (preload/); snapshot.c checks it */
};

struct parse_state {
	FILE *fp;
	const char *path;      /* as stored in doc->files */
	int line;              /* number of the line inih is working on */
	struct ini_doc *doc;
	struct ini_section *sec;   /* current section */
	char cur_header[256];      /* the section text inih reported last */
	ps_error *err;
	int failed;
	char *line_buf;            /* getline()'s buffer */
	size_t line_cap;
	int read_errno;            /* a read failed (not the end) */
	int key_since_header;      /* inih's "previous name": indented
				      lines after a key continue it */
};

static int parse_fail(struct parse_state *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int parse_fail(struct parse_state *ps, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (ps->failed)
		return 0;
	ps->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set(ps->err, PS_ERR_CONFIG, "config", -1,
		"fix the line; the configuration is refused as a whole",
		"%s:%d: %s", ps->path, ps->line, msg);
	return 0;
}

static struct ini_section *open_section(struct parse_state *ps,
					const char *header);
static void note_section_header(struct parse_state *ps, const char *line,
				size_t len);

/*
 * fgets-style reader for inih that counts lines and refuses long ones
 * and NUL bytes.  getline() gives the physical length, NULs included:
 * with fgets() and strlen() a NUL would hide the rest of a line, and a
 * line longer than the buffer would come back as two.
 */
static char *counting_reader(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;
	ssize_t got;
	size_t len;

	errno = 0;
	got = getline(&ps->line_buf, &ps->line_cap, ps->fp);
	if (got < 0) {
		/* Not the end but a failure (ENOMEM, EIO): the rest of the
		 * file would silently be missing from the configuration. */
		if (!feof(ps->fp))
			ps->read_errno = errno ? errno : EIO;
		return NULL;
	}
	ps->line++;
	len = (size_t)got;
	if (len && ps->line_buf[len - 1] == '\n')
		len--;
	if (len && ps->line_buf[len - 1] == '\r')
		len--;
	if (memchr(ps->line_buf, '\0', len)) {
		parse_fail(ps, "%s", "NUL byte in the line");
		len = 0;
	} else if (len > INI_LINE_MAX || len >= (size_t)num - 1) {
		parse_fail(ps, "line too long (%s): keep one setting per line",
			   "at most 198 characters");
		len = 0;
	}
	memcpy(str, ps->line_buf, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	note_section_header(ps, str, len);
	return str;
}

/*
 * inih calls its handler per key only, so a section is seen here, on its
 * header line: that is the line errors about the section cite, and a
 * section without keys exists (and can be reported for what it lacks)
 * instead of being missing.  The header text is cut as inih cuts it.
 */
static void note_section_header(struct parse_state *ps, const char *line,
				size_t len)
{
	const char *start = line, *end = line + len, *close;
	char header[sizeof(ps->cur_header)];

	if (ps->failed)
		return;
	if (ps->line == 1 && len >= 3 && !memcmp(start, "\xEF\xBB\xBF", 3))
		start += 3;
	while (start < end && isspace((unsigned char)*start))
		start++;
	/* inih reads an indented line after a key as a continuation. */
	if (start == end || *start != '[' ||
	    (start > line && ps->key_since_header))
		return;
	for (close = start + 1; close < end && *close != ']'; close++)
		if (*close == ';' && isspace((unsigned char)close[-1]))
			return;    /* inih's syntax error, reported by it */
	if (close == end || (size_t)(close - start - 1) >= sizeof(header))
		return;
	memcpy(header, start + 1, (size_t)(close - start - 1));
	header[close - start - 1] = '\0';
	ps->key_since_header = 0;
	snprintf(ps->cur_header, sizeof(ps->cur_header), "%s", header);
	ps->sec = open_section(ps, header);
	if (!ps->sec && !ps->failed) {
		ps->failed = 1;
		err_nomem(ps->err);
	}
}

static void lowercase(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int kind_is_named(const char *kind, int *named)
{
	for (size_t i = 0; i < sizeof(section_kinds) / sizeof(section_kinds[0]);
	     i++) {
		if (!strcmp(kind, section_kinds[i].kind)) {
			*named = section_kinds[i].named;
			return 1;
		}
	}
	return 0;
}

static int name_is_valid(const char *name)
{
	if (!*name)
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return 0;
	return 1;
}

struct ini_section *ini_find(const struct ini_doc *doc, const char *kind,
			     const char *name)
{
	for (size_t i = 0; i < doc->nsections; i++) {
		struct ini_section *s = &doc->sections[i];

		if (!strcmp(s->kind, kind) && !strcmp(s->name, name))
			return s;
	}
	return NULL;
}

/* Split "transport corp" into kind and name, find or add the section. */
static struct ini_section *open_section(struct parse_state *ps,
					const char *header)
{
	char kind[64] = "", name[192] = "", extra[8] = "";
	struct ini_doc *doc = ps->doc;
	struct ini_section *s, *grown;
	int named, fields;

	fields = sscanf(header, "%63s %191s %7s", kind, name, extra);
	lowercase(kind);
	if (fields < 1 || !kind_is_named(kind, &named)) {
		parse_fail(ps, "unknown section [%s] (expected global, default,"
			   " transport NAME, trust NAME, select NAME, stack NAME"
			   ", route NAME, serve or run)", header);
		return NULL;
	}
	if (fields == 3 || (named && fields != 2) || (!named && fields != 1)) {
		if (named)
			parse_fail(ps, "section [%s] needs exactly one name",
				   header);
		else
			parse_fail(ps, "section [%s] takes no name", header);
		return NULL;
	}
	if (named && !name_is_valid(name)) {
		parse_fail(ps, "bad section name in [%s]: use letters, digits,"
			   " '-', '_' and '.'", header);
		return NULL;
	}
	s = ini_find(doc, kind, name);
	if (s)
		return s;
	grown = realloc(doc->sections,
			(doc->nsections + 1) * sizeof(*doc->sections));
	if (!grown)
		return NULL;
	doc->sections = grown;
	s = &doc->sections[doc->nsections];
	memset(s, 0, sizeof(*s));
	s->kind = strdup(kind);
	s->name = strdup(name);
	s->file = ps->path;
	s->line = ps->line;
	if (!s->kind || !s->name) {
		free(s->kind);
		free(s->name);
		return NULL;
	}
	doc->nsections++;
	return s;
}

static int add_entry(struct ini_section *s, const char *key,
		     const char *value, const char *file, int line)
{
	struct ini_entry *e;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct ini_entry *grown = realloc(s->entries,
						  cap * sizeof(*grown));

		if (!grown)
			return -1;
		s->entries = grown;
		s->cap = cap;
	}
	e = &s->entries[s->n];
	e->key = strdup(key);
	e->value = strdup(value);
	e->file = file;
	e->line = line;
	e->used = 0;
	if (!e->key || !e->value) {
		free(e->key);
		free(e->value);
		return -1;
	}
	lowercase(e->key);
	s->n++;
	return 0;
}

static int on_key(void *user, const char *section, const char *key,
		  const char *value)
{
	struct parse_state *ps = user;

	if (ps->failed)
		return 1;
	ps->key_since_header = 1;
	if (!*section) {
		parse_fail(ps, "key '%s' outside of any section", key);
		return 1;
	}
	if (!ps->sec || strcmp(ps->cur_header, section)) {
		snprintf(ps->cur_header, sizeof(ps->cur_header), "%s", section);
		ps->sec = open_section(ps, section);
		if (!ps->sec) {
			if (!ps->failed) {
				ps->failed = 1;
				err_nomem(ps->err);
			}
			return 1;
		}
	}
	if (add_entry(ps->sec, key, value, ps->path, ps->line) < 0) {
		ps->failed = 1;
		err_nomem(ps->err);
	}
	return 1;
}

static int remember_file(struct ini_doc *doc, const char *path)
{
	char **grown = realloc(doc->files, (doc->nfiles + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	doc->files = grown;
	doc->files[doc->nfiles] = strdup(path);
	if (!doc->files[doc->nfiles])
		return -1;
	doc->nfiles++;
	return 0;
}

int ini_load_file(const char *path, struct ini_doc *doc, ps_error *err)
{
	struct parse_state ps;
	int rc;

	memset(&ps, 0, sizeof(ps));
	if (remember_file(doc, path) < 0)
		return err_nomem(err);
	ps.path = doc->files[doc->nfiles - 1];
	ps.doc = doc;
	ps.err = err;
	ps.fp = fopen(path, "re");
	if (!ps.fp && errno == ENOMEM)
		return err_nomem(err);
	if (!ps.fp)
		return err_set(err, PS_ERR_CONFIG, "config", -1,
			       "check the file's permissions",
			       "%s: cannot read: %s", path, strerror(errno));
	rc = ini_parse_stream(counting_reader, &ps, on_key, &ps);
	fclose(ps.fp);
	/* The last lines read may hold a password. */
	if (ps.line_buf)
		explicit_bzero(ps.line_buf, ps.line_cap);
	free(ps.line_buf);
	if (ps.failed)
		return err ? err->code : PS_ERR_CONFIG;
	if (ps.read_errno == ENOMEM)
		return err_nomem(err);
	if (ps.read_errno)
		return err_set(err, PS_ERR_CONFIG, "config", -1, NULL,
			       "%s:%d: cannot read: %s", path, ps.line + 1,
			       strerror(ps.read_errno));
	if (rc != 0) {
		/* inih's own syntax errors: it tells the line. */
		return err_set(err, PS_ERR_CONFIG, "config", -1,
			       "write 'key = value' lines under [section]"
			       " headers",
			       "%s:%d: syntax error (expected 'key = value' or"
			       " '[section]')", path, rc > 0 ? rc : 0);
	}
	return PS_OK;
}

int ini_is_conf_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".conf");
}

static int conf_name(const struct dirent *d)
{
	return ini_is_conf_name(d->d_name);
}

static int bytewise_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int ini_load_dir(const char *dir, int missing_ok, struct ini_doc *doc,
		 ps_error *err)
{
	struct dirent **names = NULL;
	char path[4096];
	int n, rc = PS_OK;

	memset(doc, 0, sizeof(*doc));
	doc->dir = strdup(dir);
	if (!doc->dir)
		return err_nomem(err);
	n = scandir(dir, &names, conf_name, bytewise_order);
	if (n < 0) {
		if (errno == ENOENT && missing_ok)
			return PS_OK;
		if (errno == ENOMEM)
			return err_nomem(err);
		return err_set(err, PS_ERR_CONFIG, "config", -1,
			       "create the directory or pass another with -c",
			       "configuration directory %s: %s", dir,
			       strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		if (rc == PS_OK) {
			snprintf(path, sizeof(path), "%s/%s", dir,
				 names[i]->d_name);
			rc = ini_load_file(path, doc, err);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

void ini_doc_free(struct ini_doc *doc)
{
	for (size_t i = 0; i < doc->nsections; i++) {
		struct ini_section *s = &doc->sections[i];

		for (size_t j = 0; j < s->n; j++) {
			char *v = s->entries[j].value;

			free(s->entries[j].key);
			/* Values hold passwords and URLs with credentials. */
			if (v)
				explicit_bzero(v, strlen(v));
			free(v);
		}
		free(s->entries);
		free(s->kind);
		free(s->name);
	}
	free(doc->sections);
	for (size_t i = 0; i < doc->nfiles; i++)
		free(doc->files[i]);
	free(doc->files);
	free(doc->dir);
	memset(doc, 0, sizeof(*doc));
}

struct ini_entry *ini_get(struct ini_section *sec, const char *key)
{
	struct ini_entry *found = NULL;

	if (!sec)
		return NULL;
	for (size_t i = 0; i < sec->n; i++) {
		if (!strcmp(sec->entries[i].key, key)) {
			sec->entries[i].used = 1;
			found = &sec->entries[i];
		}
	}
	return found;
}

void ini_where(const struct ini_entry *e, char *out, size_t outsz)
{
	if (e->line > 0)
		snprintf(out, outsz, "%s:%d", e->file, e->line);
	else
		snprintf(out, outsz, "%s", e->file);
}

static const char *intern_file(struct ini_doc *doc, const char *source)
{
	for (size_t i = 0; i < doc->nfiles; i++)
		if (!strcmp(doc->files[i], source))
			return doc->files[i];
	if (remember_file(doc, source) < 0)
		return NULL;
	return doc->files[doc->nfiles - 1];
}

int ini_add(struct ini_doc *doc, const char *kind, const char *name,
	    const char *key, const char *value, const char *source, int line)
{
	struct ini_section *s = ini_find(doc, kind, name), *grown;
	const char *file = intern_file(doc, source);

	if (!file)
		return -1;
	if (!s) {
		grown = realloc(doc->sections,
				(doc->nsections + 1) * sizeof(*grown));
		if (!grown)
			return -1;
		doc->sections = grown;
		s = &doc->sections[doc->nsections];
		memset(s, 0, sizeof(*s));
		s->kind = strdup(kind);
		s->name = strdup(name);
		s->file = file;
		s->line = line;
		if (!s->kind || !s->name) {
			free(s->kind);
			free(s->name);
			return -1;
		}
		doc->nsections++;
	}
	return add_entry(s, key, value, file, line);
}
