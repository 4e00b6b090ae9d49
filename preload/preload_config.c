/*
 * preload_config.c - what the preloaded library knows of the site: the
 * process's ps_ctx (made on first use from the configuration directory
 * `proxystack run -c DIR` passed down in PROXYSTACK_RUN_CONF_DIR), the
 * [run] settings, and the one-line error reports.
 *
 * The library checks [run] (host/snapshot.c) but does not keep it: the
 * two keys are read here with inih, from the same files in the same
 * order, once ps_ctx_new() has accepted them.
 *
 * After fork() the child starts over with a new context on first use:
 * the parent's may have been locked by another thread at the fork.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"

struct run_settings {
	int udp_refuse;
	char log_path[512];
};

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static ps_ctx *config_ctx;
static int config_tried;
/*
 * Under their own lock: the library logs (config_log) while
 * preload_ctx() holds config_lock.
 */
static pthread_mutex_t settings_lock = PTHREAD_MUTEX_INITIALIZER;
static struct run_settings config_run;

static void config_atfork_prepare(void)
{
	pthread_mutex_lock(&config_lock);
	pthread_mutex_lock(&settings_lock);
}

static void config_atfork_parent(void)
{
	pthread_mutex_unlock(&settings_lock);
	pthread_mutex_unlock(&config_lock);
}

static void config_atfork_child(void)
{
	pthread_mutex_init(&config_lock, NULL);
	pthread_mutex_init(&settings_lock, NULL);
	config_ctx = NULL;      /* left as it is: see the header */
	config_tried = 0;
}

static pthread_once_t config_once = PTHREAD_ONCE_INIT;

static void config_init(void)
{
	pthread_atfork(config_atfork_prepare, config_atfork_parent,
		       config_atfork_child);
}

static const char *config_dir(void)
{
	const char *dir = getenv(PRELOAD_ENV_CONF_DIR);

	if (!dir || !*dir)
		dir = getenv("PROXYSTACK_CONF_DIR");
	if (!dir || !*dir)
		dir = PS_CONF_DIR;
	return dir;
}

/* ---- [run] ----------------------------------------------------------- */

static int config_run_key(void *user, const char *section, const char *key,
			  const char *value)
{
	struct run_settings *rs = user;

	if (strcmp(section, "run"))
		return 1;
	if (!strcmp(key, "udp"))
		rs->udp_refuse = !strcmp(value, "refuse");
	else if (!strcmp(key, "log"))
		snprintf(rs->log_path, sizeof(rs->log_path), "%s", value);
	return 1;
}

static int config_is_conf(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 &&
	       !strcmp(d->d_name + n - 5, ".conf");
}

/* Byte order, as the library reads them (host/ini_load.c). */
static int config_byte_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void config_read_run(const char *dir)
{
	struct run_settings rs;
	struct dirent **list;
	char path[4096];
	int n = scandir(dir, &list, config_is_conf, config_byte_order);

	memset(&rs, 0, sizeof(rs));
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		ini_parse(path, config_run_key, &rs);
		free(list[i]);
	}
	if (n >= 0)
		free(list);
	pthread_mutex_lock(&settings_lock);
	config_run = rs;
	pthread_mutex_unlock(&settings_lock);
}

/* ---- reports --------------------------------------------------------- */

/* One write, so that lines of several threads never interleave. */
static void config_emit(const char *line, size_t len)
{
	char path[sizeof(config_run.log_path)];
	int fd = STDERR_FILENO;
	ssize_t rc;

	pthread_mutex_lock(&settings_lock);
	memcpy(path, config_run.log_path, sizeof(path));
	pthread_mutex_unlock(&settings_lock);
	if (path[0])
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = STDERR_FILENO;
	rc = write(fd, line, len);
	(void)rc;
	if (fd != STDERR_FILENO)
		close(fd);
}

static void config_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void preload_reportf(const char *fmt, ...)
{
	char line[1200];
	va_list ap;
	int n;

	memcpy(line, "proxystack run: ", 16);
	va_start(ap, fmt);
	n = vsnprintf(line + 16, sizeof(line) - 17, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	config_sanitize(line);
	n = (int)strlen(line);
	line[n++] = '\n';
	config_emit(line, (size_t)n);
}

void preload_report(const char *what, const ps_error *err)
{
	if (err->hint[0])
		preload_reportf("%s: %s: %s (hint: %s)", what,
				ps_code_name(err->code), err->message,
				err->hint);
	else
		preload_reportf("%s: %s: %s", what, ps_code_name(err->code),
				err->message);
}

static void config_log(void *user, int level, const char *msg)
{
	(void)user;
	preload_reportf("%s: %s", level == PS_LOG_ERROR ? "error" : "warning",
			msg);
}

/* ---- the context ----------------------------------------------------- */

ps_ctx *preload_ctx(void)
{
	ps_ctx_options opts;
	ps_error err;
	ps_ctx *ctx;
	int was_inside = preload_inside();

	ps_error_clear(&err);
	pthread_once(&config_once, config_init);
	pthread_mutex_lock(&config_lock);
	if (!config_tried) {
		config_tried = 1;
		ps_ctx_options_init(&opts);
		opts.conf_dir = getenv(PRELOAD_ENV_CONF_DIR);
		opts.reload = PS_RELOAD_MANUAL;
		opts.log_fn = config_log;
		preload_set_inside(1);
		config_ctx = ps_ctx_new(&opts, &err);
		preload_set_inside(was_inside);
		if (config_ctx)
			config_read_run(config_dir());
	}
	ctx = config_ctx;
	pthread_mutex_unlock(&config_lock);
	/* Reported once, by the call that tried. */
	if (err.code != PS_OK)
		preload_report("configuration", &err);
	return ctx;
}

int preload_udp_refused(void)
{
	int refused;

	if (!preload_ctx())
		return 1;       /* no configuration: fail closed */
	pthread_mutex_lock(&settings_lock);
	refused = config_run.udp_refuse;
	pthread_mutex_unlock(&settings_lock);
	return refused;
}
