/*
 * run_cli.c - `proxystack [-c DIR] run [--] CMD ARGS...`: run CMD with
 * libproxystack-preload.so preloaded (host/cli.c dispatches here).
 *
 * The preload library is installed next to libproxystack.so, and libtool
 * leaves both in the same .libs directory of a build tree: it is looked
 * for in the directory of the libproxystack.so this process runs with,
 * so an installed command finds the installed library and an uninstalled
 * one its own build's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <proxystack.h>

#include "run_cli.h"

#define RUN_PRELOAD_NAME "libproxystack-preload.so"
#define RUN_ENV_CONF_DIR "PROXYSTACK_RUN_CONF_DIR"

/* The preload library beside our libproxystack.so; 0 or -1 (reported). */
static int run_find_preload(char *out, size_t outsz)
{
	Dl_info info;
	char lib[PATH_MAX];
	char *slash;

	if (!dladdr((void *)ps_ctx_new, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, lib) || !(slash = strrchr(lib, '/'))) {
		fprintf(stderr, "proxystack: run: cannot tell where"
			" libproxystack.so is\n");
		return -1;
	}
	*slash = '\0';
	if ((size_t)snprintf(out, outsz, "%s/%s", lib, RUN_PRELOAD_NAME) >=
	    outsz || access(out, R_OK) != 0) {
		fprintf(stderr, "proxystack: run: %s/%s: %s\nhint: install"
			" proxystack whole (make install puts the preload"
			" library next to libproxystack.so)\n", lib,
			RUN_PRELOAD_NAME, strerror(errno));
		return -1;
	}
	return 0;
}

/* LD_PRELOAD with ours appended: a preloaded runtime stays first. */
static int run_set_preload(const char *path)
{
	const char *old = getenv("LD_PRELOAD");
	char *value;
	int rc;

	if (!old || !*old)
		return setenv("LD_PRELOAD", path, 1);
	if (asprintf(&value, "%s:%s", old, path) < 0)
		return -1;
	rc = setenv("LD_PRELOAD", value, 1);
	free(value);
	return rc;
}

/* The program may change directory: pass -c DIR as an absolute path. */
static int run_set_conf_dir(const char *conf_dir)
{
	char abs[PATH_MAX];

	if (!conf_dir)
		return 0;
	if (!realpath(conf_dir, abs)) {
		fprintf(stderr, "proxystack: run: %s: %s\n", conf_dir,
			strerror(errno));
		return -1;
	}
	return setenv(RUN_ENV_CONF_DIR, abs, 1);
}

int run_cli_exec(const char *conf_dir, char **argv)
{
	char preload[PATH_MAX];

	if (!argv || !argv[0]) {
		fprintf(stderr, "proxystack: run needs a command: proxystack"
			" run [--] CMD [ARGS...]\n");
		return 2;
	}
	if (run_find_preload(preload, sizeof(preload)) < 0)
		return 1;
	if (run_set_preload(preload) < 0 || run_set_conf_dir(conf_dir) < 0)
		return 1;
	fflush(stdout);
	execvp(argv[0], argv);
	fprintf(stderr, "proxystack: run: %s: %s\n", argv[0], strerror(errno));
	/* The shell's statuses: 127 not found, 126 found but not run. */
	return errno == ENOENT || errno == ENOTDIR ? 127 : 126;
}
