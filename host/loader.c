/*
 * loader.c - module loading with the refusals proxystack-module(7)
 * lists (bad magic, another ABI major, a name mismatch, a short ops
 * table, no phase, unsafe owner or mode).
 */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <ltdl.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "loader.h"
#include "schemes.h"

/* The smallest ops table a 1.x module may carry: ABI 1.0's, up to its
 * last slot (the select op then, reserved now). */
#define OPS_SIZE_1_0                                                      \
	(offsetof(struct ps_module_ops, reserved_1_0) +                   \
	 sizeof(((struct ps_module_ops *)0)->reserved_1_0))

static pthread_mutex_t ltdl_lock = PTHREAD_MUTEX_INITIALIZER;
static int ltdl_ready;

static int loader_fail(ps_error *err, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int loader_fail(ps_error *err, const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(err, PS_ERR_MODULE, "loader", -1, hint, fmt, ap);
	va_end(ap);
	return PS_ERR_MODULE;
}

#if defined(PS_BUILD_LIBDIR) && defined(PS_BUILD_MODULE_DIR)
/*
 * Is the library running now the one in its build tree's .libs, where
 * libtool leaves it before `make install`?  Asked of the library's own
 * address, never of the environment: a variable could point an installed
 * agent at someone else's modules.  Both sides through realpath(), so a
 * build reached through a symbolic link still counts; stack buffers, so
 * no allocation can fail here.
 */
static int running_from_build_tree(void)
{
	char lib[PATH_MAX], build_libdir[PATH_MAX];
	char *slash;
	Dl_info info;

	if (!dladdr((void *)loader_default_module_path, &info) ||
	    !info.dli_fname || !realpath(info.dli_fname, lib) ||
	    !realpath(PS_BUILD_LIBDIR, build_libdir))
		return 0;
	slash = strrchr(lib, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	return !strcmp(lib, build_libdir);
}
#endif

const char *loader_default_module_path(const char **source)
{
#if defined(PS_BUILD_LIBDIR) && defined(PS_BUILD_MODULE_DIR)
	if (running_from_build_tree()) {
		*source = "build tree (uninstalled)";
		return PS_BUILD_MODULE_DIR;
	}
#endif
	*source = "default";
	return PS_MODULE_DIR;
}

static int name_is_valid(const char *name)
{
	if (!*name || strlen(name) > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '-' && *p != '_')
			return 0;
	return 1;
}

/*
 * Like sshd with key files: someone who can write the module (or swap it
 * in the directory) can run code in every agent.
 */
static int check_owner_and_mode(const char *path, const char *what,
				ps_error *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return loader_fail(err, "check module_path in [global]",
				   "%s %s: %s", what, path, strerror(errno));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return loader_fail(err, "chown it to root",
				   "%s %s is owned by uid %u, not by root or"
				   " us: refused", what, path,
				   (unsigned)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return loader_fail(err, "chmod go-w it",
				   "%s %s is writable by group or others:"
				   " refused", what, path);
	return PS_OK;
}

static int ltdl_init_locked(ps_error *err)
{
	if (ltdl_ready)
		return PS_OK;
	if (lt_dlinit() != 0) {
		int rc = loader_fail(err, NULL, "libltdl init failed: %s",
				     lt_dlerror());

		/* lt_dlinit counted itself done: undo it, or the next
		 * call is a no-op over half-built loaders (and crashes). */
		lt_dlexit();
		return rc;
	}
	ltdl_ready = 1;
	return PS_OK;
}

/* NULL with *no_memory set when libltdl could not even start. */
static lt_dlhandle open_local(const char *path, int *no_memory)
{
	lt_dladvise advise;
	lt_dlhandle h = NULL;

	*no_memory = 0;
	if (lt_dladvise_init(&advise)) {
		*no_memory = 1;	/* it only allocates */
		return NULL;
	}
	if (!lt_dladvise_local(&advise))
		h = lt_dlopenadvise(path, advise);
	lt_dladvise_destroy(&advise);
	return h;
}

static int loader_nomem(ps_error *err, const char *path, const char *why)
{
	return err_set(err, PS_ERR_NOMEM, "loader", -1,
		       "free some memory, or raise the agent's memory limit",
		       "%s: cannot load: out of memory (%s)", path, why);
}

static int is_memory_error(const char *why)
{
	return why && (strstr(why, "Cannot allocate memory") ||
		       strstr(why, "out of memory") ||
		       strstr(why, "not enough memory"));
}

/*
 * libltdl names most failures "file not found" (its last loader's
 * verdict), an allocation failure included.  The file passed
 * check_owner_and_mode() a moment ago, so ask the dynamic loader
 * itself: its own reason, or, when the file loads now, a failure that
 * went away, which for a file that is there is memory running out.
 * Called with ltdl_lock held (dlerror() is per thread; libltdl's state
 * is not).
 */
static int loader_open_failed(const char *path, int no_memory,
			      ps_error *err)
{
	const char *ltdl_why = lt_dlerror();
	const char *why;
	void *probe;

	if (no_memory || is_memory_error(ltdl_why))
		return loader_nomem(err, path, ltdl_why ? ltdl_why
							: "libltdl");
	(void)dlerror();
	probe = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (probe) {
		dlclose(probe);
		return loader_nomem(err, path, "it loads on a second try");
	}
	why = dlerror();
	if (is_memory_error(why))
		return loader_nomem(err, path, why);
	return loader_fail(err, NULL, "%s: cannot load: %s", path,
			   why ? why : ltdl_why ? ltdl_why : "unknown error");
}

static int check_descriptor(const struct ps_module *d, const char *name,
			    const char *path, ps_error *err)
{
	if (d->magic != PS_MODULE_MAGIC)
		return loader_fail(err, "is it a proxystack module?",
				   "%s: bad descriptor magic 0x%08x", path,
				   (unsigned)d->magic);
	if (d->abi_major != PS_MODULE_ABI_MAJOR)
		return loader_fail(err, "rebuild the module against this"
				   " proxystack's headers",
				   "%s: module ABI %u.%u, host ABI %u.%u: major"
				   " version differs, refused", path,
				   d->abi_major, d->abi_minor,
				   PS_MODULE_ABI_MAJOR, PS_MODULE_ABI_MINOR);
	if (!d->name || strcmp(d->name, name))
		return loader_fail(err, "rename the file to match the module,"
				   " or fix the descriptor",
				   "%s: module calls itself '%.64s' but the file"
				   " is named '%s': name mismatch, refused",
				   path, d->name ? d->name : "(null)", name);
	if (!d->ops || d->ops_size < OPS_SIZE_1_0)
		return loader_fail(err, NULL, "%s: module ops table missing"
				   " or too small", path);
	if (!(d->phases & (PS_PHASE_SELECT | PS_PHASE_TRANSPORT |
			   PS_PHASE_TRUST)))
		return loader_fail(err, NULL, "%s: module serves no phase",
				   path);
	return PS_OK;
}

int loader_open(const char *module_path, const char *name,
		struct loaded_module **out, ps_error *err)
{
	struct loaded_module *m;
	const struct ps_module *desc;
	char path[4096];
	int rc;

	*out = NULL;
	if (!module_path || module_path[0] != '/')
		return loader_fail(err, "set module_path in [global] to an"
				   " absolute directory",
				   "module path '%s' is not absolute",
				   module_path ? module_path : "");
	if (!name_is_valid(name))
		return loader_fail(err, "module names use a-z, 0-9, '-', '_'",
				   "bad module name '%.64s'", name);
	snprintf(path, sizeof(path), "%s/%s.so", module_path, name);
	rc = check_owner_and_mode(module_path, "module directory", err);
	if (rc == PS_OK)
		rc = check_owner_and_mode(path, "module", err);
	if (rc != PS_OK)
		return rc;

	m = calloc(1, sizeof(*m));
	if (!m || !(m->name = strdup(name)) || !(m->path = strdup(path))) {
		loader_close(m);
		return err_nomem(err);
	}
	pthread_mutex_lock(&ltdl_lock);
	rc = ltdl_init_locked(err);
	if (rc == PS_OK) {
		int no_memory;

		m->handle = open_local(path, &no_memory);
		if (!m->handle)
			rc = loader_open_failed(path, no_memory, err);
	}
	if (rc == PS_OK) {
		desc = lt_dlsym((lt_dlhandle)m->handle, PS_MODULE_SYMBOL);
		if (!desc)
			rc = loader_fail(err, "a module exports one symbol, "
					 PS_MODULE_SYMBOL,
					 "%s: no symbol %s", path,
					 PS_MODULE_SYMBOL);
		else
			rc = check_descriptor(desc, name, path, err);
		if (rc == PS_OK)
			m->desc = desc;
	}
	pthread_mutex_unlock(&ltdl_lock);
	if (rc != PS_OK) {
		loader_close(m);
		return rc;
	}
	memcpy(&m->ops, m->desc->ops,
	       m->desc->ops_size < sizeof(m->ops) ? m->desc->ops_size
						  : sizeof(m->ops));
	*out = m;
	return PS_OK;
}

void loader_close(struct loaded_module *m)
{
	if (!m)
		return;
	if (m->handle) {
		pthread_mutex_lock(&ltdl_lock);
		lt_dlclose((lt_dlhandle)m->handle);
		pthread_mutex_unlock(&ltdl_lock);
	}
	free(m->name);
	free(m->path);
	free(m);
}

void loader_phase_names(unsigned phases, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s%s%s",
		 phases & PS_PHASE_SELECT ? "select," : "",
		 phases & PS_PHASE_TRANSPORT ? "transport," : "",
		 phases & PS_PHASE_TRUST ? "trust," : "");
	if (*out)
		out[strlen(out) - 1] = '\0';
}

static int so_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 3 && !strcmp(d->d_name + n - 3, ".so");
}

static int bytewise_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void list_one(struct buf *out, const char *module_path,
		     const char *file)
{
	char name[256], phases[64], schemes[512];
	struct loaded_module *m;
	ps_error err;

	snprintf(name, sizeof(name), "%.*s", (int)(strlen(file) - 3), file);
	if (loader_open(module_path, name, &m, &err) != PS_OK) {
		buf_printf(out, "%-20s refused: %s\n", name, err.message);
		return;
	}
	loader_phase_names(m->desc->phases, phases, sizeof(phases));
	buf_printf(out, "%-20s abi %u.%u  %-16s ok  %s\n", name,
		   m->desc->abi_major, m->desc->abi_minor, phases,
		   m->desc->summary ? m->desc->summary : "");
	schemes_describe(schemes_of_module(m), schemes, sizeof(schemes));
	if (schemes[0])
		buf_printf(out, "%-20s schemes: %s\n", "", schemes);
	loader_close(m);
}

char *loader_list(const char *module_path)
{
	struct dirent **names = NULL;
	struct buf out;
	int n;

	buf_init(&out);
	buf_printf(&out, "module path: %s\n", module_path);
	n = scandir(module_path, &names, so_name, bytewise_order);
	if (n < 0) {
		buf_printf(&out, "cannot read: %s\n", strerror(errno));
		return buf_steal(&out);
	}
	for (int i = 0; i < n; i++) {
		list_one(&out, module_path, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return buf_steal(&out);
}

int loader_each(const char *module_path,
		int (*fn)(void *user, const char *name), void *user)
{
	struct dirent **names = NULL;
	char name[256];
	int n = scandir(module_path, &names, so_name, bytewise_order);
	int rc = 0;

	if (n < 0)	/* no directory: no modules to ask */
		return errno == ENOMEM ? PS_ERR_NOMEM : 0;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%.*s",
			 (int)(strlen(names[i]->d_name) - 3),
			 names[i]->d_name);
		if (rc == 0)
			rc = fn(user, name);
		free(names[i]);
	}
	free(names);
	return rc;
}

int loader_names(const char *module_path, struct buf *out)
{
	struct dirent **names = NULL;
	int n = scandir(module_path, &names, so_name, bytewise_order);

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		buf_printf(out, "%s%.*s", i ? ", " : "",
			   (int)(strlen(names[i]->d_name) - 3),
			   names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return n;
}

int loader_has(const char *module_path, const char *name)
{
	char path[4096];
	struct stat st;

	if (!name_is_valid(name))
		return 0;
	snprintf(path, sizeof(path), "%s/%s.so", module_path, name);
	return stat(path, &st) == 0 || errno != ENOENT;
}
