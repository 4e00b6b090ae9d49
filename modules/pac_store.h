/*
 * pac_store.h - the pac module's scripts, and the process-wide store of
 * the last good one per source (internal to the pac module).
 *
 * A configuration reload configures a new pac instance while the old
 * one still serves; the store lets the new one start from the script
 * the old one fetched, so a reload while the script's server is down
 * keeps answering with the last good script instead of failing every
 * connection.  The store is reference counted by the instances that use
 * a source: the entry goes when the last instance of that source is
 * unconfigured (the old snapshot is freed only after the new one is
 * built, so a reload never drops it), and nothing remains at exit.
 *
 * Thread-safety: every function may be called from any thread; the
 * store has its own lock, a script is immutable once made.
 */
#ifndef MODULES_PAC_STORE_H
#define MODULES_PAC_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* One version of a script, immutable once made, reference counted. */
struct pac_script {
	atomic_int refs;
	char *text;
	size_t len;
	long long expires_ms;       /* monotonic: refresh after this */
	time_t fetched_at;          /* wall clock, for the log */
	struct timespec mtime;      /* file: the version read */
	off_t size;
	char origin[300];           /* where it came from */
};

/* Another reference to 's' (NULL allowed); returns 's'. */
struct pac_script *pac_script_ref(struct pac_script *s);

/* Drop a reference; the last one frees the script. NULL allowed. */
void pac_script_unref(struct pac_script *s);

/* One source's entry; opaque. */
struct pac_store_entry;

/*
 * The entry for 'key' (the source: URL or path, and the trust it was
 * fetched with), made when absent, with one more user.  NULL when out
 * of memory (the instance then simply has no remembered script).
 */
struct pac_store_entry *pac_store_attach(const char *key);

/* One user less; the last one frees the entry and its script. */
void pac_store_detach(struct pac_store_entry *e);

/* The entry's last good script with a reference, or NULL. */
struct pac_script *pac_store_get(struct pac_store_entry *e);

/* Remember 's' (takes a reference of its own) as the last good script. */
void pac_store_put(struct pac_store_entry *e, struct pac_script *s);

#endif
