/*
 * fuzz_snapshot.c - the whole configuration build (host/snapshot.c):
 * [global], [default], the environment, module instances configured by
 * the real modules, stacks and routes; then what the configuration is
 * shown as (ps_ctx_dump_config, ps_ctx_which, ps_ctx_env_exports).
 *
 * Input: the text of one configuration file; optionally a line "%%env"
 * and then NAME=VALUE lines, the environment the build sees (through
 * snapshot_params.env_lookup, never the process environment).
 *
 * Modules: the run-fuzzers script builds the shipped modules with the
 * sanitizers into the directory compiled in as PS_MODULE_DIR, and this
 * target loads each once at start-up and keeps it: later loads only
 * count references, nothing is unloaded per input, and module_path is
 * not fuzzed (an input that sets it is skipped: it would load arbitrary
 * shared objects).  So that no input can make the build read a device
 * or a FIFO and block, inputs naming paths outside the fixture directory
 * (the working directory: secret.txt, ca.pem, key.pem, client.pem,
 * cadir/) are skipped too; "@FIXTURES@" in the input stands for that
 * directory's absolute path (for modules that want absolute paths).  The
 * target changes into that directory at start-up: give libFuzzer
 * absolute paths (corpus, -artifact_prefix), as run-fuzzers does.
 *
 * Checks:
 *   - success, or PS_ERR_CONFIG / PS_ERR_MODULE with a message;
 *   - the canary password "Zq9xK7pW" (also the content of secret.txt),
 *     when the input uses it only where a secret goes (password keys,
 *     the user info of URLs, <prefix>PROXY_PASSWORD), never appears in a
 *     dump, a chain description, an error or a log line;
 *   - env exports are well-formed sh: export NAME='...' or unset lines.
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "fuzz_common.h"
#include "loader.h"
#include "snapshot.h"

#define CANARY "Zq9xK7pW"

static char workdir[PATH_MAX];
static char confdir[PATH_MAX + 16];
static char confpath[PATH_MAX + 32];

/* Log lines of the current input, checked for the canary. */
static int log_leaked;
static char log_leak_line[1100];

static void canary_log(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	if (strstr(msg, CANARY) && !log_leaked) {
		log_leaked = 1;
		snprintf(log_leak_line, sizeof(log_leak_line), "%s", msg);
	}
}

static void write_fixture(const char *name, const char *text)
{
	FILE *fp = fopen(name, "w");

	if (!fp || fputs(text, fp) < 0 || fclose(fp) != 0) {
		perror(name);
		abort();
	}
	chmod(name, 0600);
}

static const char ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBhzCCAS2gAwIBAgIUa7SPE92GLJ7HngkF7rwQ2GunGnUwCgYIKoZIzj0EAwIw\n"
	"GDEWMBQGA1UEAwwNZnV6eiBwcm94eSBDQTAgFw0yNjExMjMxNjE4MTVaGA8yMTI2\n"
	"MTAzMDE2MTgxNVowGDEWMBQGA1UEAwwNZnV6eiBwcm94eSBDQTBZMBMGByqGSM49\n"
	"AgEGCCqGSM49AwEHA0IABFcsfjkMxaUyTU4zNPlEYBNLHMTgKLJVREjRyN2SKqQk\n"
	"wW+7aDzjoUpssdlDR09V/bE6HVNIYKhVvryRsVWTeECjUzBRMB0GA1UdDgQWBBRZ\n"
	"5RI47IoMv5tMbT0pjIdNJHeRfzAfBgNVHSMEGDAWgBRZ5RI47IoMv5tMbT0pjIdN\n"
	"JHeRfzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCmFmHMr1pw\n"
	"8JlPRzwpxTQYoxygJSGhoxIhclQyFyfFggIgdf6+11D2ym2FTTMbUUWAGeSn6PZ6\n"
	"Co2Fjrbz4rQuOFA=\n"
	"-----END CERTIFICATE-----\n";

static const char key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9ikuSo2hZ97sGBc2\n"
	"UuwsGjCpyI3NyPWovQTcAzbTV7+hRANCAARXLH45DMWlMk1OMzT5RGATSxzE4Ciy\n"
	"VURI0cjdkiqkJMFvu2g846FKbLHZQ0dPVf2xOh1TSGCoVb68kbFVk3hA\n"
	"-----END PRIVATE KEY-----\n";

static void cleanup(void)
{
	static const char *const files[] = { "secret.txt", "empty.txt",
					     "ca.pem", "client.pem",
					     "key.pem" };

	if (chdir(workdir) != 0)
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	unlink(confpath);
	rmdir(confdir);
	rmdir("cadir");
	if (chdir("/") == 0)
		rmdir(workdir);
}

/* Loaded once, never closed: reachable, so no leak report at exit. */
static struct loaded_module *pinned[8];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const modules[] = {
		"direct", "http-connect", "https-proxy", "socks", "pac",
		"tls-intercept-trust",
	};
	char client[sizeof(ca_pem) + sizeof(key_pem)];
	ps_error err;

	(void)argc;
	(void)argv;
	snprintf(workdir, sizeof(workdir), "%s/fuzz-snapshot.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(workdir) || chdir(workdir) != 0) {
		perror("fuzz_snapshot: work directory");
		abort();
	}
	snprintf(confdir, sizeof(confdir), "%s/conf", workdir);
	snprintf(confpath, sizeof(confpath), "%s/50-fuzz.conf", confdir);
	if (mkdir(confdir, 0700) != 0 || mkdir("cadir", 0700) != 0)
		abort();
	write_fixture("secret.txt", CANARY "\n");
	write_fixture("empty.txt", "");
	write_fixture("ca.pem", ca_pem);
	write_fixture("key.pem", key_pem);
	snprintf(client, sizeof(client), "%s%s", ca_pem, key_pem);
	write_fixture("client.pem", client);
	atexit(cleanup);

	/* Pinned for the whole run (see the file comment). */
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		if (loader_open(PS_MODULE_DIR, modules[i], &pinned[i], &err) !=
		    PS_OK) {
			fprintf(stderr, "fuzz_snapshot: module %s: %s\n",
				modules[i], err.message);
			abort();
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* the input                                                           */
/* ------------------------------------------------------------------ */

struct env_table {
	char **names, **values;
	size_t n;
};

static const char *env_lookup(void *user, const char *name)
{
	const struct env_table *t = user;
	const char *found = NULL;

	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->names[i], name))
			found = t->values[i];
	return found;
}

/* NAME=VALUE lines; the text is split in place. */
static void env_parse(char *text, struct env_table *t)
{
	char *line, *save = NULL;

	memset(t, 0, sizeof(*t));
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq || eq == line || t->n >= 64)
			continue;
		if (!t->n) {
			t->names = calloc(64, sizeof(char *));
			t->values = calloc(64, sizeof(char *));
			if (!t->names || !t->values)
				abort();
		}
		*eq = '\0';
		t->names[t->n] = line;
		t->values[t->n] = eq + 1;
		t->n++;
	}
}

/* Paths that could reach a device, a FIFO or another process's files. */
static int names_foreign_path(const char *text)
{
	static const char *const roots[] = {
		"/dev", "/proc", "/sys", "/run", "/tmp", "/var", "/home",
		"/root", "/work", "/mnt", "/media", "/srv", "/opt", "/boot",
		"..",
	};

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (strstr(text, roots[i]))
			return 1;
	return strcasestr(text, "module_path") != NULL;
}

/* Every "@FIXTURES@" becomes the fixture directory's absolute path. */
static char *with_fixtures(char *text)
{
	static const char mark[] = "@FIXTURES@";
	struct buf b;
	const char *p = text, *m;

	if (!strstr(text, mark))
		return text;
	buf_init(&b);
	while ((m = strstr(p, mark)) != NULL) {
		buf_append(&b, p, (size_t)(m - p));
		buf_puts(&b, workdir);
		p = m + sizeof(mark) - 1;
	}
	buf_puts(&b, p);
	free(text);
	text = buf_steal(&b);
	if (!text)
		abort();
	return text;
}

/* ------------------------------------------------------------------ */
/* the canary oracle                                                   */
/* ------------------------------------------------------------------ */

static int key_is_secret(const char *key)
{
	size_t n = strlen(key);

	if (strstr(key, "password") && !strstr(key, "password_file"))
		return 1;
	return (n >= 6 && !strcmp(key + n - 6, "secret")) ||
	       (n >= 5 && !strcmp(key + n - 5, "token"));
}

/* In a URL, the canary only ever sits in the user info. */
static int url_hides_canary(const char *value)
{
	char *shown;
	int ok = 1;

	for (const char *p = value; (p = strstr(p, CANARY)) != NULL; p++)
		if (!strchr(p, '@'))
			ok = 0;
	shown = url_display_text(value);
	if (!shown || strstr(shown, CANARY))
		ok = 0;
	free(shown);
	return ok;
}

/* HTTPS_PROXY, http_proxy, ALL_PROXY, <prefix>PROXY_URL: URLs. */
static int env_is_url(const char *name)
{
	size_t n = strlen(name);

	if (strcasestr(name, "NO_PROXY"))
		return 0;
	return (n >= 6 && !strcasecmp(name + n - 6, "_PROXY")) ||
	       (n >= 9 && !strcmp(name + n - 9, "PROXY_URL"));
}

/*
 * 1 when the canary appears in the configuration only where a secret
 * goes, so that seeing it anywhere in what the library shows is a leak.
 */
static int canary_only_in_secrets(const struct ini_doc *doc,
				  const struct env_table *env)
{
	for (size_t i = 0; i < doc->nsections; i++) {
		const struct ini_section *s = &doc->sections[i];

		if (strstr(s->kind, CANARY) || strstr(s->name, CANARY))
			return 0;
		for (size_t j = 0; j < s->n; j++) {
			const struct ini_entry *e = &s->entries[j];
			size_t kl = strlen(e->key);

			if (strstr(e->key, CANARY))
				return 0;
			if (!strstr(e->value, CANARY) || key_is_secret(e->key))
				continue;
			if (kl >= 3 && !strcmp(e->key + kl - 3, "url") &&
			    url_hides_canary(e->value))
				continue;
			return 0;
		}
	}
	for (size_t i = 0; i < env->n; i++) {
		const char *n = env->names[i], *v = env->values[i];

		if (strstr(n, CANARY))
			return 0;
		if (!strstr(v, CANARY) || strstr(n, "PASSWORD"))
			continue;
		if (env_is_url(n) && url_hides_canary(v))
			continue;
		return 0;
	}
	return 1;
}

static void check_no_canary(const char *what, const char *text, int armed)
{
	const char *at;
	char esc[400];
	size_t from;

	if (!armed || !text || !(at = strstr(text, CANARY)))
		return;
	from = (size_t)(at - text) > 150 ? (size_t)(at - text) - 150 : 0;
	fuzz_fail("the secret leaks into %s: ...%s...", what,
		  fuzz_escape(text + from, strnlen(text + from, 300), esc,
			      sizeof(esc)));
}

/* export NAME='...' (with '\'' inside), unset ..., nothing else. */
static void check_exports(const char *text)
{
	char esc[400];

	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n'), *p;

		FUZZ_CHECK(end, "env exports: last line without newline");
		if (!strncmp(line, "unset ", 6)) {
			for (p = line + 6; p < end; p++)
				FUZZ_CHECK(isalnum((unsigned char)*p) ||
					   *p == '_' || *p == ' ',
					   "env exports: bad unset line");
		} else {
			FUZZ_CHECK(!strncmp(line, "export ", 7),
				   "env exports: line '%s'",
				   fuzz_escape(line, (size_t)(end - line), esc,
					       sizeof(esc)));
			for (p = line + 7; p < end && *p != '='; p++)
				FUZZ_CHECK(isalnum((unsigned char)*p) ||
					   *p == '_', "env exports: name");
			FUZZ_CHECK(p < end && p[1] == '\'',
				   "env exports: value not quoted");
			for (p += 2; p < end; p++) {
				if (*p != '\'')
					continue;
				if (!strncmp(p, "'\\''", 4)) {
					p += 3;
					continue;
				}
				FUZZ_CHECK(p + 1 == end,
					   "env exports: quote breaks out: %s",
					   fuzz_escape(line,
						       (size_t)(end - line),
						       esc, sizeof(esc)));
			}
			FUZZ_CHECK(end[-1] == '\'' && end - line > 9,
				   "env exports: unterminated quote");
		}
		line = end + 1;
	}
}

/* ------------------------------------------------------------------ */
/* one input                                                           */
/* ------------------------------------------------------------------ */

static const char *const dests[] = {
	"tls://gateway-manager.example.com:443", "wss://gw.itential.io/ws",
	"tcp://10.1.2.3:22", "https://[2001:db8::1]/", "http://localhost/",
	"ws://api.partner.example.net:8080/x",
};

static void show(struct snapshot *s, int armed)
{
	struct ps_ctx ctx;
	ps_error err;
	char *out;

	memset(&ctx, 0, sizeof(ctx));
	pthread_mutex_init(&ctx.lock, NULL);
	ctx.current = s;

	out = ps_ctx_dump_config(&ctx, NULL, &err);
	FUZZ_CHECK(out, "dump failed: %s", err.message);
	check_no_canary("the configuration dump", out, armed);
	free(out);
	for (size_t i = 0; i < sizeof(dests) / sizeof(dests[0]); i++) {
		out = ps_ctx_dump_config(&ctx, dests[i], &err);
		FUZZ_CHECK(out, "dump for %s failed: %s", dests[i],
			   err.message);
		check_no_canary("the configuration dump", out, armed);
		free(out);
		out = ps_ctx_which(&ctx, dests[i], &err);
		if (out) {
			check_no_canary("which", out, armed);
			free(out);
		} else {
			FUZZ_CHECK(err.code != PS_OK && err.message[0],
				   "which failed without an error");
			check_no_canary("a which error", err.message, armed);
		}
		out = ps_ctx_env_exports(&ctx, dests[i], &err);
		if (out) {
			check_exports(out);
			free(out);
		} else {
			FUZZ_CHECK(err.code != PS_OK, "exports: no error");
			check_no_canary("an env exports error", err.message,
					armed);
		}
	}
	pthread_mutex_destroy(&ctx.lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot_params p;
	struct snapshot *s = NULL;
	struct env_table env;
	struct ini_doc doc;
	char *text, *envpart;
	ps_error err;
	FILE *fp;
	int rc, armed;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strlen(text) != size || names_foreign_path(text)) {
		free(text);
		return 0;
	}
	text = with_fixtures(text);
	envpart = strstr(text, "%%env\n");
	if (envpart) {
		*envpart = '\0';
		envpart += 6;
	}
	fp = fopen(confpath, "w");
	if (!fp || fputs(text, fp) < 0 || fclose(fp) != 0)
		abort();
	env_parse(envpart ? envpart : (char *)"", &env);

	/* Where the canary is, read the way the build will read it. */
	memset(&doc, 0, sizeof(doc));
	ps_error_clear(&err);
	armed = ini_load_file(confpath, &doc, &err) == PS_OK &&
		canary_only_in_secrets(&doc, &env);
	ini_doc_free(&doc);

	memset(&p, 0, sizeof(p));
	p.conf_dir = confdir;
	p.env_prefix = "PROXYSTACK_";
	p.env_lookup = env_lookup;
	p.env_user = &env;
	p.lg.fn = canary_log;
	p.lg.level = PS_LOG_DEBUG;
	log_leaked = 0;
	ps_error_clear(&err);
	rc = snapshot_build(&p, &s, &err);
	if (rc != PS_OK) {
		FUZZ_CHECK(!s, "a failed build returned a snapshot");
		FUZZ_CHECK(rc == PS_ERR_CONFIG || rc == PS_ERR_MODULE ||
				   rc == PS_ERR_NOMEM,
			   "snapshot_build returned %d (%s)", rc, err.message);
		FUZZ_CHECK(err.code == rc && err.message[0],
			   "build failed (%d) with error %d '%s'", rc,
			   err.code, err.message);
		check_no_canary("a configuration error", err.message, armed);
		check_no_canary("a configuration hint", err.hint, armed);
	} else {
		FUZZ_CHECK(s && s->direct_stack, "no direct stack");
		show(s, armed);
		snapshot_unref(s);
	}
	if (armed && log_leaked)
		fuzz_fail("the secret leaks into a log line: %s",
			  log_leak_line);
	free(env.names);
	free(env.values);
	free(text);
	return 0;
}
