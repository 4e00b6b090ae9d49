/*
 * reload.h - watching the configuration for changes (internal).
 */
#ifndef HOST_RELOAD_H
#define HOST_RELOAD_H

#include <proxystack.h>

struct reload_watcher;

/*
 * Start a thread that reloads 'ctx' when its configuration directory or
 * a file it names changes (inotify; polling every second when inotify
 * is unavailable or 'force_polling').  PS_OK or an error.
 */
int reload_watch_start(ps_ctx *ctx, int force_polling,
		       struct reload_watcher **out);

/* Stop the thread and free the watcher.  NULL-safe. */
void reload_watch_stop(struct reload_watcher *w);

#endif
