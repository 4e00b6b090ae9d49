/*
 * ini_load.h - reading the configuration directory into sections
 * (internal).  No meaning is given to keys here; snapshot.c does that.
 *
 * Files "*.conf" are read in byte-wise lexical order.  A section that
 * appears again (in the same or a later file) is the same section: its
 * entries are appended, so for single-valued keys the last one wins and
 * repeated keys (stack = ..., header = ...) accumulate in file order.
 */
#ifndef HOST_INI_LOAD_H
#define HOST_INI_LOAD_H

#include <stddef.h>
#include <proxystack.h>

/* Longest line inih as packaged reads whole (INI_MAX_LINE 200 - CRLF). */
#define INI_LINE_MAX 198

struct ini_entry {
	char *key;
	char *value;
	const char *file;   /* points into ini_doc.files */
	int line;
	int used;           /* set when somebody read the key */
};

struct ini_section {
	char *kind;         /* global, default, transport, trust, select, stack, route */
	char *name;         /* "" for global and default */
	const char *file;
	int line;
	struct ini_entry *entries;
	size_t n, cap;
};

struct ini_doc {
	char *dir;
	char **files;       /* full paths, in reading order */
	size_t nfiles;
	struct ini_section *sections;
	size_t nsections;
};

/*
 * Whether a file of the configuration directory is read: *.conf, not
 * hidden.  The reload watcher asks the same.
 */
int ini_is_conf_name(const char *name);

/*
 * Read every *.conf in 'dir'.  Returns PS_OK, or PS_ERR_CONFIG with
 * "FILE:LINE: what" in *err.  A missing directory is an empty
 * configuration only when 'missing_ok'.  Free with ini_doc_free().
 */
int ini_load_dir(const char *dir, int missing_ok, struct ini_doc *doc,
		 ps_error *err);

/* Parse one file (tests, and the directory loader). */
int ini_load_file(const char *path, struct ini_doc *doc, ps_error *err);

void ini_doc_free(struct ini_doc *doc);

/* The section kind[name], or NULL. */
struct ini_section *ini_find(const struct ini_doc *doc, const char *kind,
			     const char *name);

/* The last entry for key in sec (marks it used), or NULL. */
struct ini_entry *ini_get(struct ini_section *sec, const char *key);

/* "file:line" of an entry into out. */
void ini_where(const struct ini_entry *e, char *out, size_t outsz);



/*
 * Add key = value to section kind[name] of 'doc' (created if needed),
 * citing 'source' (copied) as where it came from; line 0 means the
 * source is not a file line (an environment variable).  For sections the
 * host makes from [default] and the environment.  0 or -1 (ENOMEM).
 */
int ini_add(struct ini_doc *doc, const char *kind, const char *name,
	    const char *key, const char *value, const char *source, int line);
#endif
