/*
 * confdir.h - a throw-away configuration directory for the unit tests
 * that build a snapshot (test_snapshot, test_route).
 *
 * confdir_new("name") makes /tmp/ps-test-NAME-PID-N holding only
 * 00-global.conf with the build's module path (PS_TEST_MODULE_DIR);
 * write_file() adds a file, remove_confdir() deletes the lot.
 */
#ifndef PS_CONFDIR_H
#define PS_CONFDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char confdir[256];
static int confdir_counter;

static inline void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", confdir, name);
	fp = fopen(path, "w");
	if (!fp) {
		perror(path);
		exit(2);
	}
	fputs(text, fp);
	fclose(fp);
	chmod(path, 0600);
}

static inline void confdir_new_in(const char *name, const char *module_dir)
{
	char global[512];

	snprintf(confdir, sizeof(confdir), "/tmp/ps-test-%s-%d-%d", name,
		 (int)getpid(), ++confdir_counter);
	mkdir(confdir, 0700);
	snprintf(global, sizeof(global),
		 "[global]\nmodule_path = %s\n", module_dir);
	write_file("00-global.conf", global);
}

static inline void confdir_new(const char *name)
{
	confdir_new_in(name, PS_TEST_MODULE_DIR);
}

/*
 * A new directory NAME whose configuration is [global] module_path =
 * module_dir, then 'text' in 10-test.conf (its leading keys, if any,
 * still in [global]).
 */
static inline void write_conf_in(const char *name,
				 const char *module_dir, const char *text)
{
	size_t n = strlen(text) + sizeof("[global]\n");
	char *conf = malloc(n);

	if (!conf)
		exit(2);
	snprintf(conf, n, "[global]\n%s", text);
	confdir_new_in(name, module_dir);
	write_file("10-test.conf", conf);
	free(conf);
}

static inline void remove_confdir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", confdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", confdir);
}

/* A ps_log_fn that drops everything: the tests read errors, not logs. */
static inline void quiet_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	(void)msg;
}

#endif
