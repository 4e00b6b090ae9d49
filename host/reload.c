/*
 * reload.c - automatic reload: a watcher thread per context that calls
 * its reload hook (the context's ps_ctx_reload()) when the configuration
 * directory, or a file the configuration names (password_file, ca_file,
 * certificates...), changes.
 *
 * inotify watches the configuration directory and the directories of the
 * named files (editors replace files by renaming, so watching the file
 * itself would lose track of it); where inotify is not available the
 * thread polls every second and compares a fingerprint of the same files.
 * Changes come in bursts (an editor writes, renames, chmods): the reload
 * runs once things have been quiet for RELOAD_SETTLE_MS.  A reload that
 * fails keeps the old snapshot and logs why (file:line), as
 * ps_ctx_reload() does.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "ini_load.h"
#include "reload.h"

#define RELOAD_SETTLE_MS 50
#define RELOAD_POLL_MS 1000
#define RELOAD_MAX_PATHS 64
/* After a reload that ran out of memory, try again this much later. */
#define RELOAD_RETRY_MS 1000

/* Paths to watch; dirs[0] is the configuration directory. */
struct path_set {
	char *dirs[RELOAD_MAX_PATHS]; /* watched directories */
	size_t ndirs;
	char *files[RELOAD_MAX_PATHS];/* named files (full paths) */
	size_t nfiles;
};

struct reload_watcher {
	struct reload_hooks hooks;
	pthread_t thread;
	int stop_fd;                  /* eventfd: ps_ctx_free wakes us */
	int inotify_fd;               /* -1: polling */
	struct path_set paths;        /* what the current snapshot names */
	int wds[RELOAD_MAX_PATHS];    /* inotify watch of paths.dirs[i] */
	uint64_t fingerprint;         /* polling mode */
};

/* ------------------------------------------------------------------ */
/* what to watch                                                       */
/* ------------------------------------------------------------------ */

static int key_names_file(const char *key)
{
	size_t n = strlen(key);

	return (n > 5 && !strcmp(key + n - 5, "_file")) ||
	       !strcmp(key, "ca_dir") || !strcmp(key, "file");
}

/* 0, or -1 when out of memory (a path past RELOAD_MAX_PATHS is left out). */
static int add_string(char **arr, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(arr[i], s))
			return 0;
	if (*n >= RELOAD_MAX_PATHS)
		return 0;
	arr[*n] = strdup(s);
	if (!arr[*n])
		return -1;
	(*n)++;
	return 0;
}

static int add_named_file(struct path_set *ps, const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (path[0] != '/' || !slash)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (add_string(ps->files, &ps->nfiles, path) < 0)
		return -1;
	return add_string(ps->dirs, &ps->ndirs, dir[0] ? dir : "/");
}

static int collect_from_doc(struct path_set *ps, const struct ini_doc *doc)
{
	for (size_t i = 0; i < doc->nsections; i++) {
		const struct ini_section *sec = &doc->sections[i];

		for (size_t j = 0; j < sec->n; j++)
			if (key_names_file(sec->entries[j].key) &&
			    add_named_file(ps, sec->entries[j].value) < 0)
				return -1;
	}
	return 0;
}

static void path_set_clear(struct path_set *ps)
{
	for (size_t i = 0; i < ps->ndirs; i++)
		free(ps->dirs[i]);
	for (size_t i = 0; i < ps->nfiles; i++)
		free(ps->files[i]);
	ps->ndirs = ps->nfiles = 0;
}

/*
 * The paths of the current snapshot, and inotify watches on them; -1
 * when out of memory, with the old paths kept (never a half-built list).
 *
 * Old watches stay: adding a watch on a directory again returns the same
 * descriptor, so events still queued from before a reload keep matching
 * (removing and re-adding gave them new ids, and a change made during a
 * reload was lost).  A directory no longer named only sends events that
 * match nothing.
 */
static int collect_paths(struct reload_watcher *w)
{
	struct snapshot *s = w->hooks.current(w->hooks.user);
	struct path_set ps = { .ndirs = 0 };
	int rc = 0;

	if (add_string(ps.dirs, &ps.ndirs, w->hooks.conf_dir) < 0 ||
	    collect_from_doc(&ps, &s->doc) < 0 ||
	    collect_from_doc(&ps, &s->synthetic) < 0)
		rc = -1;
	snapshot_unref(s);
	if (rc < 0) {
		path_set_clear(&ps);
		return -1;
	}
	path_set_clear(&w->paths);
	w->paths = ps;
	for (size_t i = 0; i < ps.ndirs; i++)
		w->wds[i] = w->inotify_fd < 0 ? -1
			: inotify_add_watch(w->inotify_fd, ps.dirs[i],
					    IN_CLOSE_WRITE | IN_MOVED_TO |
					    IN_MOVED_FROM | IN_CREATE |
					    IN_DELETE | IN_ATTRIB |
					    IN_DELETE_SELF | IN_MOVE_SELF);
	return 0;
}

/* ------------------------------------------------------------------ */
/* noticing changes                                                    */
/* ------------------------------------------------------------------ */

/* Does an event in watched directory 'wd' about 'name' matter? */
static int event_matters(const struct reload_watcher *w, int wd,
			 const char *name)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < w->paths.ndirs; i++) {
		if (w->wds[i] != wd)
			continue;
		/* The configuration directory: a file it reads (or itself). */
		if (i == 0 && (!name[0] || ini_is_conf_name(name)))
			return 1;
		snprintf(path, sizeof(path), "%s/%s", w->paths.dirs[i], name);
		for (size_t f = 0; f < w->paths.nfiles; f++)
			if (!strcmp(w->paths.files[f], path))
				return 1;
	}
	return 0;
}

static int read_inotify(struct reload_watcher *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;
	ssize_t len;

	while ((len = read(w->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask & IN_Q_OVERFLOW ||
			    event_matters(w, ev->wd, ev->len ? ev->name : ""))
				changed = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return changed;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;	/* FNV-1a */
	return h;
}

static uint64_t mix_stat(uint64_t h, const char *path)
{
	struct stat st;

	h = mix(h, path, strlen(path));
	if (stat(path, &st) == 0) {
		h = mix(h, &st.st_mtim, sizeof(st.st_mtim));
		h = mix(h, &st.st_size, sizeof(st.st_size));
		h = mix(h, &st.st_ino, sizeof(st.st_ino));
		h = mix(h, &st.st_mode, sizeof(st.st_mode));
	}
	return h;
}

/* Polling: the *.conf files and the named files, by stat. */
static uint64_t fingerprint(const struct reload_watcher *w)
{
	uint64_t h = 14695981039346656037ULL;
	char path[PATH_MAX];
	DIR *d = opendir(w->paths.dirs[0]);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		if (ini_is_conf_name(e->d_name)) {
			snprintf(path, sizeof(path), "%s/%s", w->paths.dirs[0],
				 e->d_name);
			h = mix_stat(h, path);
		}
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < w->paths.nfiles; i++)
		h = mix_stat(h, w->paths.files[i]);
	return h;
}

/* ------------------------------------------------------------------ */
/* the thread                                                          */
/* ------------------------------------------------------------------ */

/*
 * Reload, then watch what the new snapshot names.  Returns 0, or -1
 * when either ran out of memory: the caller tries again later, or a
 * change made now would wait for the next one to be noticed.
 */
static int reload_now(struct reload_watcher *w)
{
	ps_error err;
	int rc;

	/* The fingerprint first: a change made while the reload reads the
	 * files then shows as a difference, and reloads again. */
	if (w->inotify_fd < 0)
		w->fingerprint = fingerprint(w);
	rc = w->hooks.reload(w->hooks.user, &err);

	if (rc == PS_OK)
		log_msg(w->hooks.lg, PS_LOG_INFO, "configuration"
			" reloaded from %s", w->hooks.conf_dir);
	/* New files may be named now (or old ones no longer). */
	if (collect_paths(w) < 0)
		rc = PS_ERR_NOMEM;
	if (rc != PS_ERR_NOMEM)
		return 0;
	log_msg(w->hooks.lg, PS_LOG_WARN, "reload of %s ran out of"
		" memory; trying again in %d ms", w->hooks.conf_dir,
		RELOAD_RETRY_MS);
	return -1;
}

static void *watch_loop(void *arg)
{
	struct reload_watcher *w = arg;
	long long settle_at = 0;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = w->stop_fd, .events = POLLIN },
			{ .fd = w->inotify_fd, .events = POLLIN },
		};
		long long now = clock_now_ms();
		int timeout = w->inotify_fd < 0 ? RELOAD_POLL_MS : -1;

		if (settle_at)
			timeout = settle_at > now ? (int)(settle_at - now) : 0;
		if (poll(pfd, w->inotify_fd < 0 ? 1 : 2, timeout) < 0 &&
		    errno != EINTR)
			break;
		if (pfd[0].revents)
			break;	/* the context is going away */
		if (w->inotify_fd >= 0 && (pfd[1].revents & POLLIN) &&
		    read_inotify(w))
			settle_at = clock_now_ms() + RELOAD_SETTLE_MS;
		if (w->inotify_fd < 0 && !settle_at &&
		    fingerprint(w) != w->fingerprint)
			settle_at = clock_now_ms() + RELOAD_SETTLE_MS;
		if (settle_at && clock_now_ms() >= settle_at) {
			settle_at = 0;
			if (reload_now(w) < 0)
				settle_at = clock_now_ms() + RELOAD_RETRY_MS;
		}
	}
	return NULL;
}

int reload_watch_start(const struct reload_hooks *hooks, int force_polling,
		       struct reload_watcher **out)
{
	struct reload_watcher *w = calloc(1, sizeof(*w));
	int stop_fd = -1, rc;

	*out = NULL;
	if (!w)
		return PS_ERR_NOMEM;
	w->hooks = *hooks;
	w->inotify_fd = force_polling ? -1
				      : inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	/* stop_fd stays -1 until the thread runs (see reload_watch_stop). */
	w->stop_fd = -1;
	stop_fd = eventfd(0, EFD_CLOEXEC);
	if (stop_fd < 0) {
		rc = errno;
		goto fail;
	}
	if (collect_paths(w) < 0) {
		rc = ENOMEM;
		goto fail;
	}
	if (w->inotify_fd < 0) {
		log_msg(hooks->lg, PS_LOG_INFO, "watching %s by polling"
			" every %d ms", hooks->conf_dir, RELOAD_POLL_MS);
		w->fingerprint = fingerprint(w);
	}
	w->stop_fd = stop_fd;
	rc = pthread_create(&w->thread, NULL, watch_loop, w);
	if (rc == 0) {
		*out = w;
		return PS_OK;
	}
	w->stop_fd = -1;
fail:
	if (stop_fd >= 0)
		close(stop_fd);
	reload_watch_stop(w);
	return rc == EAGAIN || rc == ENOMEM ? PS_ERR_NOMEM : PS_ERR_INTERNAL;
}

void reload_watch_stop(struct reload_watcher *w)
{
	uint64_t one = 1;

	if (!w)
		return;
	/* A valid stop_fd here means the thread runs (see start). */
	if (w->stop_fd >= 0) {
		if (write(w->stop_fd, &one, sizeof(one)) != sizeof(one))
			log_msg(w->hooks.lg, PS_LOG_ERROR,
				"cannot wake the reload thread");
		pthread_join(w->thread, NULL);
		close(w->stop_fd);
	}
	path_set_clear(&w->paths);
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	free(w);
}
