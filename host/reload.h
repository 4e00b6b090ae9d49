/*
 * reload.h - watching the configuration for changes (internal).
 */
#ifndef HOST_RELOAD_H
#define HOST_RELOAD_H

#include <proxystack.h>

#include "log.h"
#include "snapshot.h"

struct reload_watcher;

/*
 * What the watcher needs from its owner (the context).  The watcher sits
 * below the context: it never calls ps_ctx_* itself, only these hooks,
 * from its own thread.  Everything here must outlive the watcher.
 */
struct reload_hooks {
	const char *conf_dir;          /* the configuration directory */
	const struct logger *lg;       /* where "reloaded" and failures go */
	/* A reference to the snapshot in use (released with
	 * snapshot_unref): the files it names are watched too. */
	struct snapshot *(*current)(void *user);
	/* Build a new snapshot and swap it in; PS_OK or the error, which
	 * the hook has already logged. */
	int (*reload)(void *user, ps_error *err);
	void *user;
};

/*
 * Start a thread that calls hooks->reload when the configuration
 * directory or a file the current snapshot names changes (inotify;
 * polling every second when inotify is unavailable or 'force_polling').
 * *hooks is copied.  PS_OK or an error.
 */
int reload_watch_start(const struct reload_hooks *hooks, int force_polling,
		       struct reload_watcher **out);

/* Stop the thread and free the watcher.  NULL-safe. */
void reload_watch_stop(struct reload_watcher *w);

#endif
