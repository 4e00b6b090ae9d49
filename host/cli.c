/*
 * cli.c - the proxystack(1) command.
 *
 * A thin front end over the public API in proxystack.h and nothing else:
 * when the command line needs something the library does not offer, the
 * library is what should grow, so that every agent gets it too.  One
 * table names the commands; each command is a cli_run_* function that
 * returns the exit status.
 *
 * check and connect build their channel with the non-blocking API and a
 * poll() loop of their own, so the command line walks the same path an
 * agent's event loop does.
 *
 * The contract (proxystack(1), docs/proxystack.1): options stand anywhere,
 * usage errors exit 2, library errors exit by ps_code_exit_status(), and
 * errors read "proxystack: error: CODE: MESSAGE" plus a hint line.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <proxystack.h>

#include "run_cli.h"
#include "serve.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* Only for the help text: the library decides the real default. */
#ifdef PS_CONF_DIR
#define CLI_DEFAULT_CONF_DIR PS_CONF_DIR
#else
#define CLI_DEFAULT_CONF_DIR "/etc/proxystack.d"
#endif

#define CLI_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Exit statuses the command line decides itself (the rest come from
 * ps_code_exit_status()). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

/* One buffer a direction for connect: big enough that a 64 MiB copy is
 * a few thousand loop turns, small enough to be backpressure. */
#define CLI_BUFFER_SIZE (64 * 1024)
#define CLI_LINE_MAX 1024
/* Keeps --timeout and --linger in milliseconds inside an int. */
#define CLI_TIMEOUT_MAX_SECONDS 2000000.0
/*
 * ws:// and wss:// without -q end once the peer has been quiet this long
 * after the end of input: echoes and answers to the last lines come back
 * within it on any working path, and a bare close right at EOF would let
 * the server drop what it still owes us (RFC 6455 allows it).
 */
#define CLI_WS_QUIET_MS 1000
/* A pump turn waits for at most two channel operations (send or shut
 * down, and receive); one spare so a library surprise is an error, not
 * an overflow. */
#define CLI_MAX_CHANNEL_WAITS 3

/* ------------------------------------------------------------------ */
/* Output that a terminal can trust                                    */
/* ------------------------------------------------------------------ */

/*
 * Error messages may quote a proxy's answer, and step details a
 * certificate: a hostile proxy must not get escape sequences onto the
 * user's terminal, so control bytes are shown as \xNN.  'max' bounds the
 * walk for fixed-size ps_error fields.
 */
static void cli_put_sanitized(FILE *out, const char *text, size_t max)
{
	size_t i;

	for (i = 0; i < max && text[i] != '\0'; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			putc(c, out);
	}
}

/*
 * "HEAD TEXT\n" under one stream lock: the library may log from its
 * resolver thread, and half lines of two threads help nobody.
 */
static void cli_print_line(FILE *out, const char *head, const char *text,
			   size_t max)
{
	flockfile(out);
	fputs(head, out);
	cli_put_sanitized(out, text, max);
	putc('\n', out);
	funlockfile(out);
}

static const char *cli_level_name(int level)
{
	static const char *const names[] = {
		[PS_LOG_ERROR] = "error",
		[PS_LOG_WARN] = "warning",
		[PS_LOG_INFO] = "info",
		[PS_LOG_DEBUG] = "debug",
	};

	if (level < 0 || (size_t)level >= CLI_COUNT(names))
		return "log";
	return names[level];
}

/* The ps_log_fn: called from any library thread, hence one locked line. */
static void cli_log(void *user, int level, const char *msg)
{
	char head[48];

	(void)user;
	snprintf(head, sizeof(head), "proxystack: %s: ", cli_level_name(level));
	cli_print_line(stderr, head, msg ? msg : "", SIZE_MAX);
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Our own failures travel in a ps_error too, so one printer serves all. */
static void __attribute__((format(printf, 3, 4)))
cli_set_error(ps_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	ps_error_clear(err);
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* An error without a failure code is a library bug; say so, never exit 0. */
static int cli_error_code(const ps_error *err)
{
	if (err->code == PS_OK || err->code == PS_AGAIN)
		return PS_ERR_INTERNAL;
	return err->code;
}

static const char *cli_error_message(const ps_error *err)
{
	if (err->code == PS_OK || err->code == PS_AGAIN)
		return "the library reported a failure without details";
	if (err->message[0] == '\0')
		return "(no details)";
	return err->message;
}

/* Print *err the contract's way and return the exit status for it. */
static int cli_report_error(const ps_error *err)
{
	int code = cli_error_code(err);
	char head[64];

	snprintf(head, sizeof(head), "proxystack: error: %s: ",
		 ps_code_name(code));
	cli_print_line(stderr, head, cli_error_message(err),
		       sizeof(err->message));
	if (err->hint[0] != '\0')
		cli_print_line(stderr, "proxystack: hint: ", err->hint,
			       sizeof(err->hint));
	return ps_code_exit_status(code);
}

/* After a failed step/read/write the details live in the connection. */
static void cli_copy_conn_error(const ps_conn *conn, int rc, ps_error *err)
{
	const ps_error *conn_err = ps_conn_error(conn);

	if (conn_err && conn_err->code != PS_OK)
		*err = *conn_err;
	else
		cli_set_error(err, rc, "the channel failed without details");
}

/* ------------------------------------------------------------------ */
/* Process setup                                                       */
/* ------------------------------------------------------------------ */

/*
 * With fd 0, 1 or 2 closed, the library's first open() (a config file,
 * the channel's socket) would take its number and connect would copy
 * the channel into it.  Plug the holes with /dev/null.
 */
static int cli_ensure_standard_fds(void)
{
	int fd;

	for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY)
		    != fd)
			return -1;
	}
	return 0;
}

/* A reader that goes away must be an EPIPE we can handle, not a death. */
static void cli_ignore_sigpipe(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
}

static long long cli_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Buffered output can fail late (a full disk, a closed pipe): check it
 * before claiming success.  A reader that left (EPIPE) already knows, so
 * that one stays quiet.
 */
static int cli_finish_stdout(int status)
{
	ps_error err;

	if (fflush(stdout) == 0 && !ferror(stdout))
		return status;
	if (status != CLI_EXIT_OK)
		return status;
	if (errno == EPIPE)
		return ps_code_exit_status(PS_ERR_IO);
	cli_set_error(&err, PS_ERR_IO, "writing standard output: %s",
		      strerror(errno));
	return cli_report_error(&err);
}

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

struct cli_command;

struct cli_args {
	const char *conf_dir;        /* NULL: the library's default */
	const char *ca_file;         /* destination TLS overrides */
	const char *cert_file;
	const char *key_file;
	int insecure;
	int timeout_ms;              /* 0: the configured connect_timeout */
	int half_close;              /* connect: end our side at stdin EOF */
	int linger_ms;               /* connect -q: -1 when not given */
	int verbose;
	int include_password;        /* env: export a password_file's too */
	struct serve_options serve;  /* serve: --listen; env --serve */
	int env_serve;               /* env: point children at serve */
	int want_help;
	int want_version;
	const char *words[2];        /* command and URL, wherever they stood */
	int nwords;
	const char *extra_word;      /* the first word beyond those two */
	const struct cli_command *command;
	const char *url;             /* NULL when not given */
	char **run_argv;             /* run: CMD ARGS..., NULL-terminated */
};

enum cli_url_use {
	CLI_URL_NONE,
	CLI_URL_OPTIONAL,
	CLI_URL_REQUIRED,
	CLI_URL_COMMAND     /* run: a command line instead of a URL */
};

struct cli_command {
	const char *name;
	enum cli_url_use url;
	int (*run)(ps_ctx *ctx, const struct cli_args *args);
	const char *summary;
};

enum cli_option_id {
	CLI_OPT_CONF_DIR,
	CLI_OPT_VERBOSE,
	CLI_OPT_INCLUDE_PASSWORD,
	CLI_OPT_CA_FILE,
	CLI_OPT_CERT,
	CLI_OPT_KEY,
	CLI_OPT_INSECURE,
	CLI_OPT_TIMEOUT,
	CLI_OPT_HALF_CLOSE,
	CLI_OPT_LINGER,
	CLI_OPT_HELP,
	CLI_OPT_VERSION,
	CLI_OPT_LISTEN,
	CLI_OPT_ENV_SERVE
};

struct cli_option {
	char short_name;             /* 0: long form only */
	const char *long_name;
	const char *value_name;      /* NULL: a flag without a value */
	enum cli_option_id id;
	const char *help;
};

static const struct cli_option cli_options[] = {
	{ 'c', "conf-dir", "DIR", CLI_OPT_CONF_DIR,
	  "configuration directory (default " CLI_DEFAULT_CONF_DIR ")" },
	{ 'v', "verbose", NULL, CLI_OPT_VERBOSE,
	  "log debug messages to stderr" },
	{ 0, "include-password", NULL, CLI_OPT_INCLUDE_PASSWORD,
	  "env: export a password kept in a password file too" },
	{ 0, "ca-file", "FILE", CLI_OPT_CA_FILE,
	  "destination TLS: trust only this CA bundle" },
	{ 0, "cert", "FILE", CLI_OPT_CERT,
	  "destination TLS: client certificate (PEM)" },
	{ 0, "key", "FILE", CLI_OPT_KEY,
	  "destination TLS: the certificate's key (PEM)" },
	{ 0, "insecure", NULL, CLI_OPT_INSECURE,
	  "destination TLS: do not verify the certificate" },
	{ 0, "timeout", "SECONDS", CLI_OPT_TIMEOUT,
	  "deadline for building the whole chain" },
	{ 0, "half-close", NULL, CLI_OPT_HALF_CLOSE,
	  "connect: at end of input send FIN, close_notify or Close" },
	{ 'q', "linger", "SECONDS", CLI_OPT_LINGER,
	  "connect: end SECONDS after end of input (0: at once)" },
	{ 'h', "help", NULL, CLI_OPT_HELP, "show this help" },
	{ 0, "version", NULL, CLI_OPT_VERSION, "show the version" },
	{ 0, "listen", "ADDR:PORT", CLI_OPT_LISTEN,
	  "serve: listen there instead of [serve] listen (repeatable)" },
	{ 0, "serve", NULL, CLI_OPT_ENV_SERVE,
	  "env: variables pointing children at proxystack serve" },
};

static int cli_run_show_config(ps_ctx *ctx, const struct cli_args *args);
static int cli_run_which(ps_ctx *ctx, const struct cli_args *args);
static int cli_run_check(ps_ctx *ctx, const struct cli_args *args);
static int cli_run_connect(ps_ctx *ctx, const struct cli_args *args);
static int cli_run_env(ps_ctx *ctx, const struct cli_args *args);
static int cli_run_modules(ps_ctx *ctx, const struct cli_args *args);
static int cli_run_run(ps_ctx *ctx, const struct cli_args *args);
static int cli_run_serve(ps_ctx *ctx, const struct cli_args *args);

/* The commands, in the order proxystack(1) lists them. */
static const struct cli_command cli_commands[] = {
	{ "show-config", CLI_URL_OPTIONAL, cli_run_show_config,
	  "effective settings and where each came from" },
	{ "which", CLI_URL_REQUIRED, cli_run_which,
	  "the chain that would be built, without connecting" },
	{ "check", CLI_URL_REQUIRED, cli_run_check,
	  "build the chain, print each step with its timing" },
	{ "connect", CLI_URL_REQUIRED, cli_run_connect,
	  "copy stdin to the channel and the channel to stdout" },
	{ "env", CLI_URL_REQUIRED, cli_run_env,
	  "export lines for child processes (holds credentials)" },
	{ "modules", CLI_URL_NONE, cli_run_modules,
	  "modules found, their ABI and phases" },
	{ "serve", CLI_URL_NONE, cli_run_serve,
	  "local proxy: HTTP CONNECT, http:// and SOCKS5" },
	{ "run", CLI_URL_COMMAND, cli_run_run,
	  "CMD with its TCP connects through the stack" },
};

static const char *cli_url_synopsis(enum cli_url_use use)
{
	switch (use) {
	case CLI_URL_OPTIONAL:
		return "[URL]";
	case CLI_URL_REQUIRED:
		return "URL";
	case CLI_URL_COMMAND:
		return "[--] CMD...";
	case CLI_URL_NONE:
		break;
	}
	return "";
}

static void cli_print_usage(FILE *out)
{
	char left[48];
	size_t i;

	fputs("usage: proxystack [options] COMMAND [URL]\n\ncommands:\n", out);
	for (i = 0; i < CLI_COUNT(cli_commands); i++) {
		const struct cli_command *cmd = &cli_commands[i];

		snprintf(left, sizeof(left), "%s %s", cmd->name,
			 cli_url_synopsis(cmd->url));
		fprintf(out, "  %-22s %s\n", left, cmd->summary);
	}
	fputs("\noptions (before or after the command and URL):\n", out);
	for (i = 0; i < CLI_COUNT(cli_options); i++) {
		const struct cli_option *opt = &cli_options[i];

		snprintf(left, sizeof(left), "%c%c%c --%s%s%s",
			 opt->short_name ? '-' : ' ',
			 opt->short_name ? opt->short_name : ' ',
			 opt->short_name ? ',' : ' ', opt->long_name,
			 opt->value_name ? " " : "",
			 opt->value_name ? opt->value_name : "");
		fprintf(out, "  %-22s %s\n", left, opt->help);
	}
	fputs("\nURL: tcp://HOST:PORT, tls://HOST:PORT, https://HOST[:PORT],\n"
	      "     ws://HOST[:PORT][/PATH], wss://HOST[:PORT][/PATH]\n"
	      "\nconnect: at end of input nothing is sent (see --half-close)"
	      " and the\n  answer prints until the peer closes (see -q);"
	      " ws and wss send a\n  line a message and close once the"
	      " peer is quiet 1 s after the input\n"
	      "\nexit status: 0 ok, 1 other failure, 2 usage or configuration,\n"
	      "  3 proxy authentication, 4 proxy refused, 5 TLS verification,\n"
	      "  6 resolve, connect or timeout, 7 unsupported\n"
	      "\nenvironment: PROXYSTACK_CONF_DIR, PROXYSTACK_PROXY_URL and the\n"
	      "  other settings of proxystack.conf(5)\n", out);
}

/* The argument is quoted back sanitized: it may hold anything. */
static void __attribute__((format(printf, 1, 2)))
cli_usage_error(const char *fmt, ...)
{
	char message[CLI_LINE_MAX];
	char head[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	snprintf(head, sizeof(head), "proxystack: error: %s: ",
		 ps_code_name(PS_ERR_USAGE));
	cli_print_line(stderr, head, message, sizeof(message));
	putc('\n', stderr);
	cli_print_usage(stderr);
}

/*
 * Seconds, fractions allowed, in milliseconds.  A sign or "inf" is a
 * typo.  --timeout must be above 0 (0 would silently mean "as
 * configured" to the library); -q 0 means "at once", as nc's does.
 */
static int cli_parse_seconds(const char *text, int allow_zero, int *out_ms)
{
	char *end;
	double seconds;
	double ms;

	if (!isdigit((unsigned char)text[0]) && text[0] != '.')
		return -1;
	errno = 0;
	seconds = strtod(text, &end);
	if (end == text || *end != '\0' || errno == ERANGE ||
	    !(seconds >= 0.0) || seconds > CLI_TIMEOUT_MAX_SECONDS ||
	    (seconds == 0.0 && !allow_zero))
		return -1;
	ms = seconds * 1000.0 + 0.5;
	*out_ms = ms < 1.0 && !allow_zero ? 1 : (int)ms;
	return 0;
}

static int cli_apply_option(struct cli_args *args,
			    const struct cli_option *opt, const char *value)
{
	if (value && value[0] == '\0') {
		cli_usage_error("option --%s needs a non-empty %s",
				opt->long_name, opt->value_name);
		return -1;
	}
	switch (opt->id) {
	case CLI_OPT_CONF_DIR:
		args->conf_dir = value;
		break;
	case CLI_OPT_VERBOSE:
		args->verbose = 1;
		break;
	case CLI_OPT_INCLUDE_PASSWORD:
		args->include_password = 1;
		break;
	case CLI_OPT_CA_FILE:
		args->ca_file = value;
		break;
	case CLI_OPT_CERT:
		args->cert_file = value;
		break;
	case CLI_OPT_KEY:
		args->key_file = value;
		break;
	case CLI_OPT_INSECURE:
		args->insecure = 1;
		break;
	case CLI_OPT_TIMEOUT:
		if (cli_parse_seconds(value, 0, &args->timeout_ms) != 0) {
			cli_usage_error("--timeout wants a number of seconds "
					"greater than 0, not '%s'", value);
			return -1;
		}
		break;
	case CLI_OPT_HALF_CLOSE:
		args->half_close = 1;
		break;
	case CLI_OPT_LINGER:
		if (cli_parse_seconds(value, 1, &args->linger_ms) != 0) {
			cli_usage_error("-q/--linger wants a number of seconds "
					"(0 or more), not '%s'", value);
			return -1;
		}
		break;
	case CLI_OPT_HELP:
		args->want_help = 1;
		break;
	case CLI_OPT_VERSION:
		args->want_version = 1;
		break;
	case CLI_OPT_LISTEN:
		if (args->serve.nlisten == SERVE_LISTEN_MAX) {
			cli_usage_error("at most %d --listen", SERVE_LISTEN_MAX);
			return -1;
		}
		args->serve.listen[args->serve.nlisten++] = value;
		break;
	case CLI_OPT_ENV_SERVE:
		args->env_serve = 1;
		break;
	}
	return 0;
}

static const struct cli_option *cli_find_long_option(const char *name,
						     size_t len)
{
	size_t i;

	for (i = 0; i < CLI_COUNT(cli_options); i++)
		if (strlen(cli_options[i].long_name) == len &&
		    strncmp(cli_options[i].long_name, name, len) == 0)
			return &cli_options[i];
	return NULL;
}

static const struct cli_option *cli_find_short_option(char name)
{
	size_t i;

	for (i = 0; i < CLI_COUNT(cli_options); i++)
		if (cli_options[i].short_name == name)
			return &cli_options[i];
	return NULL;
}

/* "--name", "--name=value" or "--name value"; *i moves past a value. */
static int cli_parse_long_option(struct cli_args *args, int argc,
				 char **argv, int *i)
{
	const char *name = argv[*i] + 2;
	const char *equals = strchr(name, '=');
	size_t len = equals ? (size_t)(equals - name) : strlen(name);
	const struct cli_option *opt = cli_find_long_option(name, len);
	const char *value = NULL;

	if (!opt) {
		cli_usage_error("unknown option '--%.*s'", (int)len, name);
		return -1;
	}
	if (!opt->value_name) {
		if (equals) {
			cli_usage_error("option --%s takes no value",
					opt->long_name);
			return -1;
		}
	} else if (equals) {
		value = equals + 1;
	} else if (*i + 1 < argc) {
		value = argv[++*i];
	} else {
		cli_usage_error("option --%s needs a %s", opt->long_name,
				opt->value_name);
		return -1;
	}
	return cli_apply_option(args, opt, value);
}

/* "-v", "-vc DIR", "-cDIR": getopt's rules, without getopt's global
 * state and its POSIXLY_CORRECT stop at the first word. */
static int cli_parse_short_options(struct cli_args *args, int argc,
				   char **argv, int *i)
{
	const char *cluster = argv[*i];
	size_t j;

	for (j = 1; cluster[j] != '\0'; j++) {
		const struct cli_option *opt = cli_find_short_option(cluster[j]);
		const char *value;

		if (!opt) {
			cli_usage_error("unknown option '-%c'", cluster[j]);
			return -1;
		}
		if (!opt->value_name) {
			if (cli_apply_option(args, opt, NULL) != 0)
				return -1;
			continue;
		}
		if (cluster[j + 1] != '\0') {
			value = cluster + j + 1;
		} else if (*i + 1 < argc) {
			value = argv[++*i];
		} else {
			cli_usage_error("option -%c needs a %s", cluster[j],
					opt->value_name);
			return -1;
		}
		return cli_apply_option(args, opt, value);
	}
	return 0;
}

static void cli_add_word(struct cli_args *args, const char *word)
{
	if (args->nwords < (int)CLI_COUNT(args->words))
		args->words[args->nwords++] = word;
	else if (!args->extra_word)
		args->extra_word = word;
}

/* Options anywhere, "--" ends them; 0, or -1 after a usage message. */
static int cli_parse_args(int argc, char **argv, struct cli_args *args)
{
	int only_words = 0;
	int i;

	memset(args, 0, sizeof(*args));
	args->linger_ms = -1;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int rc = 0;

		if (args->nwords == 0 && strcmp(arg, "run") == 0) {
			/* The rest is the command's, options and all. */
			cli_add_word(args, arg);
			i += i + 1 < argc && strcmp(argv[i + 1], "--") == 0;
			args->run_argv = &argv[i + 1];
			break;
		}
		if (only_words || arg[0] != '-' || arg[1] == '\0')
			cli_add_word(args, arg);
		else if (strcmp(arg, "--") == 0)
			only_words = 1;
		else if (arg[1] == '-')
			rc = cli_parse_long_option(args, argc, argv, &i);
		else
			rc = cli_parse_short_options(args, argc, argv, &i);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* --listen is for serve, --serve for env (and takes no URL). */
static int cli_check_serve_options(const struct cli_args *args)
{
	int is_env = !strcmp(args->command->name, "env");

	if (args->serve.nlisten && strcmp(args->command->name, "serve") &&
	    !(is_env && args->env_serve)) {
		cli_usage_error("--listen is for serve and env --serve only");
		return -1;
	}
	if (args->env_serve && !is_env) {
		cli_usage_error("--serve is for env only");
		return -1;
	}
	if (args->env_serve && args->url) {
		cli_usage_error("env --serve takes no URL");
		return -1;
	}
	return 0;
}

/* Map the words onto a command and its URL; 0, or -1 after usage. */
static int cli_select_command(struct cli_args *args)
{
	size_t i;

	if (args->nwords == 0) {
		cli_usage_error("missing command");
		return -1;
	}
	for (i = 0; i < CLI_COUNT(cli_commands); i++)
		if (strcmp(cli_commands[i].name, args->words[0]) == 0)
			args->command = &cli_commands[i];
	if (!args->command) {
		cli_usage_error("unknown command '%s'", args->words[0]);
		return -1;
	}
	if (args->extra_word) {
		cli_usage_error("unexpected argument '%s'", args->extra_word);
		return -1;
	}
	args->url = args->nwords > 1 ? args->words[1] : NULL;
	if (cli_check_serve_options(args) != 0)
		return -1;
	if (args->command->url == CLI_URL_REQUIRED && !args->url &&
	    !args->env_serve) {
		cli_usage_error("%s needs a URL", args->command->name);
		return -1;
	}
	if (args->command->url == CLI_URL_NONE && args->url) {
		cli_usage_error("%s takes no URL", args->command->name);
		return -1;
	}
	if (args->include_password && strcmp(args->command->name, "env")) {
		cli_usage_error("--include-password is for env only");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Context and connection options                                      */
/* ------------------------------------------------------------------ */

/* A context that fails to build prints why; *status gets the exit. */
static ps_ctx *cli_open_context(const struct cli_args *args, int *status)
{
	ps_ctx_options opts;
	ps_error err;
	ps_ctx *ctx;

	ps_ctx_options_init(&opts);
	ps_error_clear(&err);
	opts.conf_dir = args->conf_dir;
	/* One command, one configuration: no watcher thread; the daemon
	 * follows the directory. */
	opts.reload = strcmp(args->command->name, "serve") ? PS_RELOAD_MANUAL
							   : PS_RELOAD_WATCH;
	opts.log_fn = cli_log;
	opts.log_user = NULL;
	opts.log_level = args->verbose ? PS_LOG_DEBUG : PS_LOG_WARN;
	ctx = ps_ctx_new(&opts, &err);
	if (!ctx)
		*status = cli_report_error(&err);
	return ctx;
}

static void cli_fill_connect_options(const struct cli_args *args,
				     ps_connect_options *opts)
{
	ps_connect_options_init(opts);
	opts->ca_file = args->ca_file;
	opts->client_cert_file = args->cert_file;
	opts->client_key_file = args->key_file;
	opts->insecure_tls = args->insecure;
	opts->timeout_ms = args->timeout_ms;
}

/*
 * --ca-file, --cert and --key are loaded before anything else happens,
 * so a wrong path fails now with the option's name, not at the TLS step.
 */
static int cli_check_tls_options(const struct cli_args *args)
{
	static const char *const settings[] = {
		"ca_file", "client_cert_file", "client_key_file",
	};
	static const char *const options[] = { "--ca-file", "--cert", "--key" };
	ps_error err;

	if (ps_tls_check_files(args->ca_file, args->cert_file, args->key_file,
			       &err) == PS_OK)
		return 0;
	for (size_t i = 0; i < 3; i++) {
		if (!strcmp(err.layer, settings[i])) {
			char message[sizeof(err.message) + 16];

			snprintf(message, sizeof(message), "%s: %s",
				 options[i], err.message);
			memcpy(err.message, message, sizeof(err.message) - 1);
			err.message[sizeof(err.message) - 1] = '\0';
		}
	}
	return cli_report_error(&err);
}

/* "[0] direct       127.0.0.1:8443            0.4 ms", time since start. */
static void cli_format_step(const ps_step *step, char *line, size_t size)
{
	snprintf(line, size, "[%d] %-12s %-25s %.1f ms", step->hop,
		 step->layer ? step->layer : "?",
		 step->detail ? step->detail : "",
		 (double)step->elapsed_us / 1000.0);
}

/* on_step for check: the steps are the report, so stdout, at once. */
static void cli_print_step(void *user, const ps_step *step)
{
	char line[CLI_LINE_MAX];

	(void)user;
	cli_format_step(step, line, sizeof(line));
	cli_print_line(stdout, "  ", line, sizeof(line));
	fflush(stdout);
}

/* on_step for connect -v: stdout carries the channel, so the log. */
static void cli_log_step(void *user, const ps_step *step)
{
	char line[CLI_LINE_MAX];

	cli_format_step(step, line, sizeof(line));
	cli_log(user, PS_LOG_DEBUG, line);
}

/* ------------------------------------------------------------------ */
/* Waiting for the channel                                             */
/* ------------------------------------------------------------------ */

/*
 * What the channel asked for after each PS_AGAIN of one loop turn.  A
 * read and a write can each be blocked, and on different events (TLS may
 * need to read in order to write), and ps_conn_poll() only describes the
 * last call: so it is asked after every PS_AGAIN and the answers are
 * merged.  The timeouts are "from now" and the wait follows at once, so
 * the smallest is the one to honour.
 */
struct cli_channel_wait {
	struct pollfd fds[CLI_MAX_CHANNEL_WAITS];
	int nfds;
	int timeout_ms;              /* -1: no deadline */
};

static void cli_channel_wait_reset(struct cli_channel_wait *wait)
{
	wait->nfds = 0;
	wait->timeout_ms = -1;
}

static int cli_channel_wait_note(struct cli_channel_wait *wait,
				 const ps_conn *conn, ps_error *err)
{
	ps_poll want;
	int i;

	ps_conn_poll(conn, &want);
	/* Waiting for nothing, forever, would hang us silently. */
	if ((want.fd < 0 || want.events == 0) && want.timeout_ms < 0) {
		cli_set_error(err, PS_ERR_INTERNAL,
			      "the channel asked to wait without an fd or a "
			      "deadline");
		return PS_ERR_INTERNAL;
	}
	if (want.timeout_ms >= 0 &&
	    (wait->timeout_ms < 0 || want.timeout_ms < wait->timeout_ms))
		wait->timeout_ms = want.timeout_ms;
	if (want.fd < 0)
		return PS_OK;
	for (i = 0; i < wait->nfds; i++) {
		if (wait->fds[i].fd == want.fd) {
			wait->fds[i].events |= want.events;
			return PS_OK;
		}
	}
	if (wait->nfds == CLI_MAX_CHANNEL_WAITS) {
		cli_set_error(err, PS_ERR_INTERNAL,
			      "the channel asked to wait on too many fds");
		return PS_ERR_INTERNAL;
	}
	wait->fds[wait->nfds].fd = want.fd;
	wait->fds[wait->nfds].events = want.events;
	wait->fds[wait->nfds].revents = 0;
	wait->nfds++;
	return PS_OK;
}

/* A closed fd polls "ready" forever: stop instead of spinning. */
static int cli_channel_fds_valid(const struct pollfd *fds, int nfds,
				 ps_error *err)
{
	int i;

	for (i = 0; i < nfds; i++) {
		if (fds[i].revents & POLLNVAL) {
			cli_set_error(err, PS_ERR_INTERNAL,
				      "the channel's fd %d is not open",
				      fds[i].fd);
			return PS_ERR_INTERNAL;
		}
	}
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* show-config, which, env, modules: text from the library             */
/* ------------------------------------------------------------------ */

/*
 * Print text the library made and free it.  'secret' text (env exports
 * carry proxy credentials) is wiped before it goes back to the heap.
 */
static int cli_emit_text(char *text, const ps_error *err, int secret)
{
	size_t len;

	if (!text)
		return cli_report_error(err);
	len = strlen(text);
	fputs(text, stdout);
	if (len > 0 && text[len - 1] != '\n')
		putc('\n', stdout);
	if (secret)
		explicit_bzero(text, len);
	ps_free(text);
	return CLI_EXIT_OK;
}

static int cli_run_show_config(ps_ctx *ctx, const struct cli_args *args)
{
	ps_error err;

	ps_error_clear(&err);
	return cli_emit_text(ps_ctx_dump_config(ctx, args->url, &err), &err,
			     0);
}

static int cli_run_which(ps_ctx *ctx, const struct cli_args *args)
{
	ps_error err;

	ps_error_clear(&err);
	return cli_emit_text(ps_ctx_which(ctx, args->url, &err), &err, 0);
}

/* env --serve: a child's proxy variables, all at the local proxy. */
static int cli_run_env_serve(ps_ctx *ctx, const struct cli_args *args)
{
	static const char *const names[][2] = {
		{ "http_proxy", "http" }, { "https_proxy", "http" },
		{ "all_proxy", "socks5h" }, { "HTTP_PROXY", "http" },
		{ "HTTPS_PROXY", "http" }, { "ALL_PROXY", "socks5h" },
	};
	ps_error err;
	char *at = serve_first_listen(ctx, &args->serve, &err);
	int wildcard;

	if (!at)
		return cli_report_error(&err);
	/* A wildcard listener is reached on loopback. */
	wildcard = !strncmp(at, "0.0.0.0:", 8);
	for (size_t i = 0; i < CLI_COUNT(names); i++)
		printf("export %s=%s://%s%s\n", names[i][0], names[i][1],
		       wildcard ? "127.0.0.1:" : "", wildcard ? at + 8 : at);
	puts("export no_proxy=localhost,127.0.0.1,::1");
	puts("export NO_PROXY=localhost,127.0.0.1,::1");
	free(at);
	return CLI_EXIT_OK;
}

static int cli_run_serve(ps_ctx *ctx, const struct cli_args *args)
{
	struct serve_options o = args->serve;

	o.verbose = args->verbose;
	return serve_run(ctx, &o);
}

static int cli_run_env(ps_ctx *ctx, const struct cli_args *args)
{
	ps_error err;

	if (args->env_serve)
		return cli_run_env_serve(ctx, args);
	ps_error_clear(&err);
	return cli_emit_text(ps_ctx_env_exports_opt(ctx, args->url,
						    args->include_password
						    ? PS_ENV_INCLUDE_PASSWORD
						    : 0, &err), &err, 1);
}

static int cli_run_modules(ps_ctx *ctx, const struct cli_args *args)
{
	ps_error err;

	(void)args;
	ps_error_clear(&err);
	return cli_emit_text(ps_ctx_list_modules(ctx, &err), &err, 0);
}

/* ------------------------------------------------------------------ */
/* check: build the chain step by step                                 */
/* ------------------------------------------------------------------ */

static int cli_wait_for_chain(const ps_conn *conn, ps_error *err)
{
	struct cli_channel_wait wait;
	int rc;

	cli_channel_wait_reset(&wait);
	rc = cli_channel_wait_note(&wait, conn, err);
	if (rc != PS_OK)
		return rc;
	if (poll(wait.fds, (nfds_t)wait.nfds, wait.timeout_ms) < 0) {
		if (errno == EINTR)
			return PS_OK;
		cli_set_error(err, PS_ERR_INTERNAL, "poll: %s",
			      strerror(errno));
		return PS_ERR_INTERNAL;
	}
	return cli_channel_fds_valid(wait.fds, wait.nfds, err);
}

/* Step until the chain is up or failed; the library keeps the deadline. */
static int cli_drive_chain(ps_conn *conn, ps_error *err)
{
	for (;;) {
		int rc = ps_conn_step(conn);

		if (rc == PS_OK)
			return PS_OK;
		if (rc != PS_AGAIN) {
			cli_copy_conn_error(conn, rc, err);
			return rc;
		}
		rc = cli_wait_for_chain(conn, err);
		if (rc != PS_OK)
			return rc;
	}
}

/*
 * Steps go to stderr, a failure to stderr like every other error, so a
 * script can keep the trace and still see why it failed.
 */
static int cli_print_check_failure(const ps_error *err)
{
	int code = cli_error_code(err);

	fflush(stdout);
	flockfile(stderr);
	fputs("FAILED", stderr);
	if (err->hop >= 0) {
		fprintf(stderr, " at hop %d", err->hop);
		if (err->layer[0] != '\0') {
			fputs(" (", stderr);
			cli_put_sanitized(stderr, err->layer,
					  sizeof(err->layer));
			putc(')', stderr);
		}
	}
	fprintf(stderr, ": %s: ", ps_code_name(code));
	cli_put_sanitized(stderr, cli_error_message(err),
			  sizeof(err->message));
	putc('\n', stderr);
	funlockfile(stderr);
	if (err->hint[0] != '\0')
		cli_print_line(stderr, "hint: ", err->hint, sizeof(err->hint));
	return ps_code_exit_status(code);
}

static void cli_print_check_success(const ps_conn *conn, long long took_us)
{
	const char *chain = ps_conn_describe(conn);

	flockfile(stdout);
	fputs("ok: ", stdout);
	cli_put_sanitized(stdout, chain ? chain : "?", SIZE_MAX);
	fprintf(stdout, " in %.1f ms\n", (double)took_us / 1000.0);
	funlockfile(stdout);
}

static int cli_run_check(ps_ctx *ctx, const struct cli_args *args)
{
	ps_connect_options opts;
	ps_error err;
	ps_conn *conn;
	long long started;
	int status;

	cli_fill_connect_options(args, &opts);
	opts.on_step = cli_print_step;
	ps_error_clear(&err);
	started = cli_now_us();
	conn = ps_conn_start(ctx, args->url, &opts, &err);
	if (!conn)
		/* Nothing was tried (bad URL, no route): a plain error. */
		return cli_report_error(&err);
	if (cli_drive_chain(conn, &err) == PS_OK) {
		cli_print_check_success(conn, cli_now_us() - started);
		status = CLI_EXIT_OK;
	} else {
		status = cli_print_check_failure(&err);
	}
	ps_conn_close(conn);
	return status;
}

/* ------------------------------------------------------------------ */
/* connect: stdin/stdout <-> the channel                               */
/* ------------------------------------------------------------------ */

/*
 * How stdin and stdout map onto the channel.  ws:// and wss:// carry one
 * text message per stdin line and print each received message on its
 * own line; everything else carries bytes as they are.
 */
enum cli_framing {
	CLI_FRAMING_BYTES,           /* tcp, tls, https: bytes both ways */
	CLI_FRAMING_WS_LINES         /* ws, wss: a line per text message */
};

static enum cli_framing cli_framing_for_url(const char *url)
{
	if (strncasecmp(url, "ws://", 5) == 0 ||
	    strncasecmp(url, "wss://", 6) == 0)
		return CLI_FRAMING_WS_LINES;
	return CLI_FRAMING_BYTES;
}

/* Bytes held between one side and the other: data[start, end) of size. */
struct cli_buffer {
	unsigned char *data;
	size_t size;
	size_t start;
	size_t end;
};

static size_t cli_buffer_pending(const struct cli_buffer *b)
{
	return b->end - b->start;
}

static size_t cli_buffer_room(const struct cli_buffer *b)
{
	return b->size - b->end;
}

/* Drained buffers start over at 0, so room comes back without memmove. */
static void cli_buffer_consume(struct cli_buffer *b, size_t n)
{
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

/* Move what is pending to the front, so that it can grow in place. */
static void cli_buffer_compact(struct cli_buffer *b)
{
	if (b->start == 0)
		return;
	memmove(b->data, b->data + b->start, cli_buffer_pending(b));
	b->end -= b->start;
	b->start = 0;
}

static int cli_buffer_init(struct cli_buffer *b, size_t size)
{
	b->data = malloc(size);
	b->size = b->data ? size : 0;
	b->start = b->end = 0;
	return b->data ? 0 : -1;
}

/* Double the buffer, up to 'limit' bytes; -1 when it cannot grow. */
static int cli_buffer_grow(struct cli_buffer *b, size_t limit)
{
	size_t size = b->size < limit / 2 ? b->size * 2 : limit;
	unsigned char *data;

	if (size <= b->size)
		return -1;
	data = realloc(b->data, size);
	if (!data)
		return -1;
	b->data = data;
	b->size = size;
	return 0;
}

/*
 * End of input follows netcat.  By default nothing is sent at stdin EOF:
 * proxies such as squid tear a tunnel down on a TCP half-close, and a
 * bumped connection on close_notify, losing the answer still on its
 * way.  So the session runs until the peer ends it, or:
 *
 *   --half-close   at EOF, send FIN / close_notify / Close (the peer
 *                  must answer and end, as an echo server does);
 *   -q SECONDS     end SECONDS after EOF, closing cleanly;
 *   ws, wss        end once the peer has been quiet CLI_WS_QUIET_MS
 *                  after EOF: each line is a request, a websocket has no
 *                  half-close, and servers rarely close first.
 *
 * "Closing cleanly" is a Close handshake for a websocket (the server's
 * Close is awaited, messages before it still print) and a best-effort
 * FIN / close_notify otherwise.
 */
struct cli_session {
	ps_conn *conn;
	enum cli_framing framing;
	int verbose;
	int half_close;              /* --half-close */
	int linger_ms;               /* -q; -1: not given */
	int connected;               /* ps_conn_step() said PS_OK */
	int stdin_open;              /* no EOF on stdin yet */
	int write_shut;              /* FIN, close_notify or Close sent */
	int peer_open;               /* no end of stream from the peer yet */
	int lingered;                /* the linger ran out: close now */
	int ended;                   /* we ended the session: stop reading */
	int stdout_gone;             /* EPIPE: the reader left, exit quietly */
	size_t stdout_chunk;         /* largest write(1) that cannot block */
	long long started_us;
	long long input_done_us;     /* stdin ended and all of it sent; 0: not
					yet */
	long long last_heard_us;     /* websocket: the last message received */
	struct cli_channel_wait wait;
	ps_error err;
	struct cli_buffer to_channel; /* read from stdin, not yet sent */
	struct cli_buffer to_stdout;  /* received, not yet written */
	/* websocket: a stdin line is one message of at most this */
	size_t ws_line_max;
	unsigned long long ws_lines_sent;
	/* websocket: the received message still being copied to stdout */
	const unsigned char *ws_msg;
	size_t ws_msg_left;
	int ws_newline_due;
	/* websocket: to_channel holds only a partial line, stdin reads on */
	int ws_line_held;
};

/*
 * stdout stays blocking (it is shared with whoever started us, so
 * O_NONBLOCK would leak into their shell).  After POLLOUT a pipe has room
 * for PIPE_BUF bytes at least and a socket or terminal far more than
 * that, so one write of at most PIPE_BUF never blocks.  A regular file
 * never waits: give it everything.
 */
static size_t cli_stdout_chunk(void)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode))
		return CLI_BUFFER_SIZE;
	return PIPE_BUF;
}

static void __attribute__((format(printf, 2, 3)))
cli_session_debug(const struct cli_session *s, const char *fmt, ...)
{
	char line[CLI_LINE_MAX];
	va_list ap;

	if (!s->verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cli_log(NULL, PS_LOG_DEBUG, line);
}

static int cli_session_wait_for_channel(struct cli_session *s)
{
	return cli_channel_wait_note(&s->wait, s->conn, &s->err);
}

static int cli_session_channel_failed(struct cli_session *s, int rc)
{
	cli_copy_conn_error(s->conn, rc, &s->err);
	return rc;
}

static int cli_session_build_chain(struct cli_session *s)
{
	int rc = ps_conn_step(s->conn);

	if (rc == PS_AGAIN)
		return cli_session_wait_for_channel(s);
	if (rc != PS_OK)
		return cli_session_channel_failed(s, rc);
	s->connected = 1;
	cli_session_debug(s, "connected: %s in %.1f ms",
			  ps_conn_describe(s->conn),
			  (double)(cli_now_us() - s->started_us) / 1000.0);
	return PS_OK;
}

/* Send one stdin line (without its newline) as a text message. */
static int cli_session_send_line(struct cli_session *s, const unsigned char *p,
				 size_t len)
{
	int rc = ps_ws_send(s->conn, PS_WS_TEXT, p, len);

	if (rc == PS_AGAIN) {
		/* Not queued (the peer is not reading): send it again once
		 * the channel can take it. */
		rc = cli_session_wait_for_channel(s);
		return rc == PS_OK ? PS_AGAIN : rc;
	}
	if (rc != PS_OK)
		return cli_session_channel_failed(s, rc);
	s->ws_lines_sent++;
	return PS_OK;
}

/* A line that no message may carry: cutting it would change its meaning
 * for the server, so the session ends instead. */
static int cli_session_line_too_long(struct cli_session *s, size_t len,
				     int more)
{
	cli_set_error(&s->err, PS_ERR_WEBSOCKET,
		      "stdin line %llu is %s%zu bytes, over ws_max_message "
		      "%zu: one line is one message",
		      s->ws_lines_sent + 1, more ? "more than " : "", len,
		      s->ws_line_max);
	snprintf(s->err.hint, sizeof(s->err.hint),
		 "raise ws_max_message in [global] (proxystack.conf(5)), or "
		 "send shorter lines");
	return PS_ERR_WEBSOCKET;
}

/*
 * Websocket: each complete line held is one message, "\r\n" or "\n"
 * ended.  A partial line waits for its end (to_channel grows up to the
 * longest line allowed), unless stdin ended.
 */
static int cli_session_send_lines(struct cli_session *s)
{
	struct cli_buffer *b = &s->to_channel;

	s->ws_line_held = 0;
	while (cli_buffer_pending(b) > 0) {
		const unsigned char *p = b->data + b->start;
		size_t pending = cli_buffer_pending(b);
		const unsigned char *nl = memchr(p, '\n', pending);
		size_t len = nl ? (size_t)(nl - p) : pending;
		size_t text = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
		int rc;

		if (!nl && s->stdin_open) {
			/* Room for the longest line, its "\r" and its "\n". */
			if (pending > s->ws_line_max + 1)
				return cli_session_line_too_long(s, s->ws_line_max,
								 1);
			s->ws_line_held = 1;
			break;
		}
		if (text > s->ws_line_max)
			return cli_session_line_too_long(s, text, 0);
		rc = cli_session_send_line(s, p, text);
		if (rc == PS_AGAIN)
			return PS_OK;	/* the line stays for the next turn */
		if (rc != PS_OK)
			return rc;
		cli_buffer_consume(b, nl ? len + 1 : len);
	}
	/* Keep a partial line at the front so it can grow. */
	cli_buffer_compact(b);
	return PS_OK;
}

/* Everything read from stdin goes out; the channel says when to stop. */
static int cli_session_send(struct cli_session *s)
{
	struct cli_buffer *b = &s->to_channel;

	if (s->framing == CLI_FRAMING_WS_LINES)
		return cli_session_send_lines(s);
	while (cli_buffer_pending(b) > 0) {
		size_t pending = cli_buffer_pending(b);
		size_t sent = 0;
		int rc = ps_conn_write(s->conn, b->data + b->start, pending,
				       &sent);

		if (rc == PS_AGAIN)
			return cli_session_wait_for_channel(s);
		if (rc != PS_OK)
			return cli_session_channel_failed(s, rc);
		if (sent == 0 || sent > pending) {
			/* Looping on a write that moves nothing would spin. */
			cli_set_error(&s->err, PS_ERR_INTERNAL,
				      "ps_conn_write() reported %zu of %zu "
				      "bytes written", sent, pending);
			return PS_ERR_INTERNAL;
		}
		cli_buffer_consume(b, sent);
	}
	return PS_OK;
}

/* Tell the peer we are done: a Close frame (the peer answers with its
 * own), or FIN / close_notify. */
static int cli_session_shut_sending(struct cli_session *s)
{
	int rc;

	if (s->write_shut || !s->peer_open)
		return PS_OK;
	rc = s->framing == CLI_FRAMING_WS_LINES
		     ? ps_ws_close(s->conn, 1000, NULL)
		     : ps_conn_shutdown_write(s->conn);
	if (rc == PS_AGAIN)
		return cli_session_wait_for_channel(s);
	if (rc != PS_OK)
		return cli_session_channel_failed(s, rc);
	s->write_shut = 1;
	cli_session_debug(s, "sending side shut down");
	return PS_OK;
}

/* At stdin EOF, once all of it is sent: note the time the linger counts
 * from, and with --half-close (or a websocket's linger run out) close. */
static int cli_session_end_of_input(struct cli_session *s)
{
	if (s->stdin_open || cli_buffer_pending(&s->to_channel) > 0)
		return PS_OK;
	if (!s->input_done_us) {
		s->input_done_us = cli_now_us();
		cli_session_debug(s, "stdin ended, all of it sent");
	}
	if (s->half_close || s->lingered)
		return cli_session_shut_sending(s);
	return PS_OK;
}

/* When the session ends by itself after the end of input; 0: never. */
static long long cli_session_deadline_us(const struct cli_session *s)
{
	long long quiet_from;

	if (!s->input_done_us || s->lingered)
		return 0;
	if (s->linger_ms >= 0)
		return s->input_done_us + (long long)s->linger_ms * 1000;
	if (s->framing != CLI_FRAMING_WS_LINES || s->half_close)
		return 0;
	quiet_from = s->last_heard_us > s->input_done_us ? s->last_heard_us
							 : s->input_done_us;
	return quiet_from + (long long)CLI_WS_QUIET_MS * 1000;
}

/*
 * The linger ran out.  A websocket whose Close is already out ends now;
 * otherwise cli_session_end_of_input() sends it and the peer's answer
 * ends the session.  A byte stream gets one try at FIN / close_notify
 * (we are leaving either way) and ends.
 */
static void cli_session_linger(struct cli_session *s)
{
	long long deadline = cli_session_deadline_us(s);

	if (!deadline || cli_now_us() < deadline)
		return;
	s->lingered = 1;
	cli_session_debug(s, "%s after end of input: closing",
			  s->linger_ms >= 0 ? "-q ran out" : "peer quiet");
	if (s->framing == CLI_FRAMING_WS_LINES) {
		s->ended = s->write_shut;
		return;
	}
	if (!s->write_shut && s->peer_open &&
	    ps_conn_shutdown_write(s->conn) == PS_OK)
		s->write_shut = 1;
	s->ended = 1;
}

/* Copy the held message, then its newline, into to_stdout as room allows. */
static void cli_session_copy_message(struct cli_session *s)
{
	struct cli_buffer *b = &s->to_stdout;
	size_t take = s->ws_msg_left < cli_buffer_room(b)
			      ? s->ws_msg_left : cli_buffer_room(b);

	if (take)	/* an empty message has no data pointer */
		memcpy(b->data + b->end, s->ws_msg, take);
	b->end += take;
	s->ws_msg += take;
	s->ws_msg_left -= take;
	if (s->ws_msg_left == 0 && s->ws_newline_due &&
	    cli_buffer_room(b) > 0) {
		b->data[b->end++] = '\n';
		s->ws_newline_due = 0;
	}
}

/*
 * The server's Close says how the session went: 1000 (normal), 1001
 * (going away) and none (1005) are a clean end; any other code (1011
 * internal error, an application's 4xxx) means the work failed, so
 * connect must not exit 0.  The reason is the peer's UTF-8 text.
 */
static int cli_session_ws_close_status(struct cli_session *s,
				       const ps_ws_message *msg)
{
	unsigned code = msg->close_code;

	if (code == 1000 || code == 1001 || code == 1005)
		return PS_OK;
	cli_set_error(&s->err, PS_ERR_WEBSOCKET,
		      "the server closed the websocket with %u: %.*s", code,
		      (int)(msg->len > 123 ? 123 : msg->len),
		      msg->len ? (const char *)msg->data : "(no reason)");
	snprintf(s->err.hint, sizeof(s->err.hint), "%s",
		 "see the server's logs: it ended the session with an error");
	return PS_ERR_WEBSOCKET;
}

/*
 * Websocket: each message received prints on a line of its own.  The
 * message's bytes stay valid only until the next ps_ws_recv(), so one is
 * copied out completely before the next is asked for.  A connection
 * that ends without a Close frame is an error the library reports
 * (1006): the peer vanished, and what it still owed us is lost.
 */
static int cli_session_receive_messages(struct cli_session *s)
{
	while (s->peer_open) {
		ps_ws_message msg;
		int rc;

		cli_session_copy_message(s);
		if (s->ws_msg_left > 0 || s->ws_newline_due)
			return PS_OK;	/* stdout must drain first */
		rc = ps_ws_recv(s->conn, &msg);
		if (rc == PS_AGAIN)
			return cli_session_wait_for_channel(s);
		if (rc != PS_OK)
			return cli_session_channel_failed(s, rc);
		if (msg.type == PS_WS_CLOSE) {
			s->peer_open = 0;
			cli_session_debug(s, "the peer closed the websocket"
					  " (%u)", msg.close_code);
			return cli_session_ws_close_status(s, &msg);
		}
		s->last_heard_us = cli_now_us();
		s->ws_msg = msg.data;
		s->ws_msg_left = msg.len;
		s->ws_newline_due = 1;
	}
	return PS_OK;
}

/*
 * Read until the channel says PS_AGAIN, not just once per readiness: TLS
 * may already hold decrypted bytes that no fd readiness will announce.
 * A full to_stdout stops the reading, which is our backpressure toward
 * the peer; the next turn reads again as soon as there is room.  A reset
 * is an error from the library, never an end of stream.
 */
static int cli_session_receive(struct cli_session *s)
{
	struct cli_buffer *b = &s->to_stdout;

	if (s->framing == CLI_FRAMING_WS_LINES)
		return cli_session_receive_messages(s);
	while (s->peer_open && cli_buffer_room(b) > 0) {
		size_t room = cli_buffer_room(b);
		size_t got = 0;
		int rc = ps_conn_read(s->conn, b->data + b->end, room, &got);

		if (rc == PS_AGAIN)
			return cli_session_wait_for_channel(s);
		if (rc != PS_OK)
			return cli_session_channel_failed(s, rc);
		if (got > room) {
			cli_set_error(&s->err, PS_ERR_INTERNAL,
				      "ps_conn_read() reported %zu bytes "
				      "into %zu", got, room);
			return PS_ERR_INTERNAL;
		}
		if (got == 0) {
			s->peer_open = 0;
			cli_session_debug(s, "the peer closed the channel"
					  " (%zu bytes from stdin unsent)",
					  cli_buffer_pending(&s->to_channel));
			break;
		}
		b->end += got;
	}
	return PS_OK;
}

/*
 * One turn of channel work, tried every time round the loop whether or
 * not its fd woke us: the calls are non-blocking, an unneeded one costs a
 * PS_AGAIN, and it spares us guessing which direction an fd event or a
 * deadline (keepalive, linger) was for.
 */
static int cli_session_pump(struct cli_session *s)
{
	int rc;

	cli_channel_wait_reset(&s->wait);
	if (!s->connected) {
		rc = cli_session_build_chain(s);
		if (rc != PS_OK || !s->connected)
			return rc;
	}
	cli_session_linger(s);
	if (s->ended)
		return PS_OK;
	rc = cli_session_send(s);
	if (rc == PS_OK)
		rc = cli_session_end_of_input(s);
	if (rc == PS_OK)
		rc = cli_session_receive(s);
	return rc;
}

/* Done when the peer or we ended, and all it sent reached stdout. */
static int cli_session_finished(const struct cli_session *s)
{
	return s->connected && (!s->peer_open || s->ended) &&
	       cli_buffer_pending(&s->to_stdout) == 0;
}

/*
 * Read stdin only into an empty to_channel: we never hold more than one
 * buffer the channel has not taken (backpressure toward our writer).
 * Stdin is read while the chain is still being built, too.  A websocket
 * partial line is read on into the same buffer until its newline (or
 * EOF) lets it go as a message.
 */
static int cli_session_wants_stdin(const struct cli_session *s)
{
	return s->stdin_open && s->peer_open &&
	       (cli_buffer_pending(&s->to_channel) == 0 || s->ws_line_held);
}

/* A partial line filled to_channel: make it bigger, up to a line of
 * ws_line_max plus "\r\n" (cli_session_send_lines refuses longer). */
static int cli_session_room_for_line(struct cli_session *s)
{
	struct cli_buffer *b = &s->to_channel;

	if (cli_buffer_room(b) > 0)
		return PS_OK;
	cli_buffer_compact(b);
	if (cli_buffer_room(b) > 0 ||
	    cli_buffer_grow(b, s->ws_line_max + 2) == 0)
		return PS_OK;
	if (b->size >= s->ws_line_max + 2)
		return cli_session_line_too_long(s, s->ws_line_max, 1);
	cli_set_error(&s->err, PS_ERR_NOMEM,
		      "out of memory for a stdin line of %zu bytes",
		      cli_buffer_pending(b));
	return PS_ERR_NOMEM;
}

/* One read() per readiness: it returns what is there without blocking. */
static int cli_session_read_stdin(struct cli_session *s)
{
	struct cli_buffer *b = &s->to_channel;
	int rc = cli_session_room_for_line(s);
	ssize_t n;

	if (rc != PS_OK)
		return rc;
	n = read(STDIN_FILENO, b->data + b->end, cli_buffer_room(b));
	if (n > 0) {
		b->end += (size_t)n;
		return PS_OK;
	}
	if (n == 0) {
		s->stdin_open = 0;
		return PS_OK;
	}
	if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
		return PS_OK;
	cli_set_error(&s->err, PS_ERR_IO, "reading standard input: %s",
		      strerror(errno));
	return PS_ERR_IO;
}

/* One write() per readiness, small enough not to block (see chunk). */
static int cli_session_write_stdout(struct cli_session *s)
{
	struct cli_buffer *b = &s->to_stdout;
	size_t len = cli_buffer_pending(b);
	ssize_t n;

	if (len > s->stdout_chunk)
		len = s->stdout_chunk;
	n = write(STDOUT_FILENO, b->data + b->start, len);
	if (n > 0) {
		cli_buffer_consume(b, (size_t)n);
		return PS_OK;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN ||
		      errno == EWOULDBLOCK))
		return PS_OK;
	if (n < 0 && errno == EPIPE)
		s->stdout_gone = 1;
	cli_set_error(&s->err, PS_ERR_IO, "writing standard output: %s",
		      n < 0 ? strerror(errno) : "nothing written");
	return PS_ERR_IO;
}

/* The poll timeout: the channel's, or sooner the linger's (rounded up,
 * so that the wake-up finds it passed). */
static int cli_session_timeout_ms(const struct cli_session *s)
{
	long long deadline = cli_session_deadline_us(s);
	long long left_ms;

	if (!deadline || s->ended)
		return s->wait.timeout_ms;
	left_ms = (deadline - cli_now_us() + 999) / 1000;
	if (left_ms < 0)
		left_ms = 0;
	if (s->wait.timeout_ms >= 0 && s->wait.timeout_ms < left_ms)
		return s->wait.timeout_ms;
	return (int)left_ms;
}

/* Sleep until stdin, stdout or the channel can move, or a deadline. */
static int cli_session_wait(struct cli_session *s)
{
	struct pollfd fds[2 + CLI_MAX_CHANNEL_WAITS];
	int timeout_ms = cli_session_timeout_ms(s);
	int stdin_at = -1;
	int stdout_at = -1;
	int channel_at;
	int nfds = 0;
	int rc;
	int i;

	if (cli_session_wants_stdin(s)) {
		stdin_at = nfds;
		fds[nfds].fd = STDIN_FILENO;
		fds[nfds++].events = POLLIN;
	}
	if (cli_buffer_pending(&s->to_stdout) > 0) {
		stdout_at = nfds;
		fds[nfds].fd = STDOUT_FILENO;
		fds[nfds++].events = POLLOUT;
	}
	channel_at = nfds;
	for (i = 0; i < s->wait.nfds; i++)
		fds[nfds++] = s->wait.fds[i];
	for (i = 0; i < nfds; i++)
		fds[i].revents = 0;
	if (nfds == 0 && timeout_ms < 0) {
		cli_set_error(&s->err, PS_ERR_INTERNAL,
			      "connect has nothing left to wait for");
		return PS_ERR_INTERNAL;
	}

	if (poll(fds, (nfds_t)nfds, timeout_ms) < 0) {
		if (errno == EINTR)
			return PS_OK;
		cli_set_error(&s->err, PS_ERR_INTERNAL, "poll: %s",
			      strerror(errno));
		return PS_ERR_INTERNAL;
	}
	rc = cli_channel_fds_valid(fds + channel_at, nfds - channel_at,
				   &s->err);
	/* POLLHUP and POLLERR count too: the read or write then says why. */
	if (rc == PS_OK && stdin_at >= 0 && fds[stdin_at].revents != 0)
		rc = cli_session_read_stdin(s);
	if (rc == PS_OK && stdout_at >= 0 && fds[stdout_at].revents != 0)
		rc = cli_session_write_stdout(s);
	/* Channel readiness needs no handling: the next pump retries. */
	return rc;
}

static int cli_session_run(struct cli_session *s)
{
	for (;;) {
		int rc = cli_session_pump(s);

		if (rc != PS_OK)
			return rc;
		if (cli_session_finished(s))
			return PS_OK;
		rc = cli_session_wait(s);
		if (rc != PS_OK)
			return rc;
	}
}

/*
 * The channel failed: what arrived before the failure still goes to
 * stdout (a good message just before a bad frame, say).  stdout stays
 * blocking, so plain writes do.
 */
static void cli_session_drain_stdout(struct cli_session *s)
{
	while (cli_buffer_pending(&s->to_stdout) > 0) {
		ssize_t n = write(STDOUT_FILENO,
				  s->to_stdout.data + s->to_stdout.start,
				  cli_buffer_pending(&s->to_stdout));

		if (n <= 0 && errno != EINTR)
			return;
		if (n > 0)
			cli_buffer_consume(&s->to_stdout, (size_t)n);
	}
}

static void cli_session_free(struct cli_session *s)
{
	ps_conn_close(s->conn);
	free(s->to_channel.data);
	free(s->to_stdout.data);
	free(s);
}

/* A session with its buffers, not yet connected; NULL when out of memory. */
static struct cli_session *cli_session_new(const struct cli_args *args)
{
	struct cli_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (cli_buffer_init(&s->to_channel, CLI_BUFFER_SIZE) != 0 ||
	    cli_buffer_init(&s->to_stdout, CLI_BUFFER_SIZE) != 0) {
		cli_session_free(s);
		return NULL;
	}
	s->framing = cli_framing_for_url(args->url);
	s->verbose = args->verbose;
	s->half_close = args->half_close;
	s->linger_ms = args->linger_ms;
	s->stdin_open = 1;
	s->peer_open = 1;
	s->stdout_chunk = cli_stdout_chunk();
	ps_error_clear(&s->err);
	return s;
}

static int cli_run_connect(ps_ctx *ctx, const struct cli_args *args)
{
	ps_connect_options opts;
	struct cli_session *s;
	ps_error err;
	int status;

	s = cli_session_new(args);
	if (!s) {
		cli_set_error(&err, PS_ERR_NOMEM, "out of memory");
		return cli_report_error(&err);
	}
	cli_fill_connect_options(args, &opts);
	if (args->verbose)
		opts.on_step = cli_log_step;
	s->started_us = cli_now_us();
	s->conn = ps_conn_start(ctx, args->url, &opts, &s->err);
	if (!s->conn) {
		status = cli_report_error(&s->err);
		cli_session_free(s);
		return status;
	}
	s->ws_line_max = ps_ws_max_message(s->conn);

	if (cli_session_run(s) == PS_OK) {
		status = CLI_EXIT_OK;
	} else if (s->stdout_gone) {
		status = ps_code_exit_status(PS_ERR_IO);
	} else {
		cli_session_drain_stdout(s);
		status = cli_report_error(&s->err);
	}
	cli_session_free(s);
	return status;
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

/*
 * run: the context was only made to check the configuration (exit 2 on
 * an error, as every command); the command gets its own.
 */
static int cli_run_run(ps_ctx *ctx, const struct cli_args *args)
{
	(void)ctx;
	return run_cli_exec(args->conf_dir, args->run_argv);
}

int main(int argc, char **argv)
{
	struct cli_args args;
	ps_ctx *ctx;
	int status = CLI_EXIT_FAILURE;

	if (cli_ensure_standard_fds() != 0)
		return CLI_EXIT_FAILURE;
	cli_ignore_sigpipe();

	if (cli_parse_args(argc, argv, &args) != 0)
		return CLI_EXIT_USAGE;
	if (args.want_help) {
		cli_print_usage(stdout);
		return cli_finish_stdout(CLI_EXIT_OK);
	}
	if (args.want_version) {
		puts("proxystack " PACKAGE_VERSION);
		return cli_finish_stdout(CLI_EXIT_OK);
	}
	if (cli_select_command(&args) != 0)
		return CLI_EXIT_USAGE;

	if (args.ca_file || args.cert_file || args.key_file) {
		status = cli_check_tls_options(&args);
		if (status != CLI_EXIT_OK)
			return status;
	}
	/* Before any thread starts: the daemon takes its signals from a
	 * signalfd, so no thread may have them unblocked. */
	if (!strcmp(args.command->name, "serve") && serve_block_signals()) {
		perror("proxystack: sigprocmask");
		return CLI_EXIT_FAILURE;
	}
	ctx = cli_open_context(&args, &status);
	if (!ctx)
		return status;
	status = args.command->run(ctx, &args);
	ps_ctx_free(ctx);
	return cli_finish_stdout(status);
}
