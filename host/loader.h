/*
 * loader.h - finding, checking and loading modules with libltdl
 * (internal).
 *
 * A module NAME is the file MODULE_PATH/NAME.so, opened by absolute path
 * only, with local symbol scope.  Refused, with the reason in the error:
 * a relative module path, a file or directory writable by group or others
 * or owned by someone other than root or us, a missing PS_MODULE_SYMBOL,
 * a wrong magic or ABI major, a descriptor name that differs from the
 * file name, an ops table smaller than ABI 1.0's.  libltdl is not
 * thread-safe: every lt_dl* call is made under one lock.
 */
#ifndef HOST_LOADER_H
#define HOST_LOADER_H

#include <proxystack/module.h>

struct loaded_module {
	char *name;
	char *path;
	void *handle;                     /* lt_dlhandle */
	const struct ps_module *desc;     /* lives in the module's memory */
	struct ps_module_ops ops;         /* copy, zero-extended to ours */
};

/*
 * The module directory to use when module_path is not configured: this
 * build's modules/.libs when the running library is the one in its own
 * build tree's .libs (an uninstalled build), else the directory chosen at
 * configure time.  *source says which, for show-config.
 */
const char *loader_default_module_path(const char **source);

/* Load module 'name' from 'module_path'.  PS_OK or PS_ERR_MODULE. */
int loader_open(const char *module_path, const char *name,
		struct loaded_module **out, ps_error *err);

/* Drop our reference (libltdl unloads when the last one goes). */
void loader_close(struct loaded_module *m);

/*
 * One line per *.so in module_path: name, ABI, phases and "ok" or why it
 * is refused.  Caller frees.  NULL on ENOMEM.
 */
char *loader_list(const char *module_path);

struct buf;

/*
 * The names of the modules in module_path (its *.so files), joined by
 * ", " onto 'out' in byte order: how many, or -1 when the directory
 * cannot be read.
 */
int loader_names(const char *module_path, struct buf *out);

/*
 * Call fn(user, NAME) for each NAME.so of module_path, in byte order,
 * until fn returns non-zero; returns that value, or 0 (also when the
 * directory cannot be read: it holds no module then), or PS_ERR_NOMEM
 * when listing it ran out of memory.
 */
int loader_each(const char *module_path,
		int (*fn)(void *user, const char *name), void *user);

/*
 * Whether module_path may hold module 'name': 0 only when the name is
 * not a module name or NAME.so is not there (ENOENT).  Other reasons
 * are loader_open()'s to report.
 */
int loader_has(const char *module_path, const char *name);

/* "transport", "trust,transport", ... for the phase bits, into out. */
void loader_phase_names(unsigned phases, char *out, size_t outsz);

#endif
