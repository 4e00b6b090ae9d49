/*
 * modconfig.c - the configuration services a module calls from its
 * configure hook, and the unknown-key check that makes configuration
 * fail closed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "credential.h"
#include "error.h"
#include "modconfig.h"
#include "url.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif
/* The User-Agent of every module that asks ps_config_get_user_agent(). */
#define MODCONFIG_USER_AGENT "proxystack/" PACKAGE_VERSION

const char *ps_config_name(const ps_config *cfg)
{
	return cfg->inst->name;
}

const char *ps_config_get(ps_config *cfg, const char *key)
{
	struct ini_entry *e = ini_get(cfg->sec, key);

	return e ? e->value : NULL;
}

int ps_config_get_each(ps_config *cfg, const char *key,
		       int (*fn)(void *user, const char *value), void *user)
{
	for (size_t i = 0; i < cfg->sec->n; i++) {
		struct ini_entry *e = &cfg->sec->entries[i];
		int rc;

		if (strcmp(e->key, key))
			continue;
		e->used = 1;
		rc = fn(user, e->value);
		if (rc)
			return rc;
	}
	return 0;
}

static struct ini_entry *last_entry(ps_config *cfg, const char *key)
{
	struct ini_entry *found = NULL;

	for (size_t i = 0; cfg->sec && i < cfg->sec->n; i++)
		if (!strcmp(cfg->sec->entries[i].key, key))
			found = &cfg->sec->entries[i];
	return found;
}

/*
 * [default] and the proxy variables become host-made instances
 * ([transport default], [transport env-https]...).  What is said about
 * them uses what the user wrote: "[default] proxy_url: ", or nothing
 * beyond the variable's name, which the source already gives.
 */
static void config_label(const ps_config *cfg, const char *key, char *out,
			 size_t outsz)
{
	static const char *const proxy_keys[] = {
		"url", "username", "password", "password_file",
	};
	const struct instance *inst = cfg->inst;
	const char *prefix = "";

	if (inst->builtin && !strcmp(inst->name, "default")) {
		for (size_t i = 0; key && i < 4; i++)
			if (!strcmp(key, proxy_keys[i]))
				prefix = "proxy_";
		snprintf(out, outsz, "[default]%s%s%s%s", key ? " " : "",
			 prefix, key ? key : "", key ? ":" : "");
	} else if (inst->builtin) {
		out[0] = '\0';
	} else {
		snprintf(out, outsz, "[%s %s]%s%s%s", inst->kind, inst->name,
			 key ? " " : "", key ? key : "", key ? ":" : "");
	}
}

static int config_errorv(ps_config *cfg, const char *key, const char *fmt,
			 va_list ap) __attribute__((format(printf, 3, 0)));

static int config_errorv(ps_config *cfg, const char *key, const char *fmt,
			 va_list ap)
{
	struct ini_entry *e = key ? last_entry(cfg, key) : NULL;
	char where[SOURCE_MAX], msg[400], label[160];

	if (e)
		ini_where(e, where, sizeof(where));
	else if (cfg->sec && cfg->sec->line > 0)
		snprintf(where, sizeof(where), "%s:%d", cfg->sec->file,
			 cfg->sec->line);
	else
		snprintf(where, sizeof(where), "%s", cfg->inst->source);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	config_label(cfg, key, label, sizeof(label));
	if (!cfg->failed) {
		cfg->failed = 1;
		err_set(cfg->err, PS_ERR_CONFIG, cfg->inst->mod->name, -1,
			"fix the setting; the configuration is refused as a"
			" whole", "%s: %s%s%s", where, label,
			label[0] ? " " : "", msg);
	}
	return PS_ERR_CONFIG;
}

int ps_config_error(ps_config *cfg, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_errorv(cfg, key, fmt, ap);
	va_end(ap);
	return PS_ERR_CONFIG;
}

static int config_error_value(ps_config *cfg, const char *key,
			      const char *want, const char *got)
{
	return ps_config_error(cfg, key, "expected %s, got '%.64s'", want,
			       got);
}

void ps_config_log(ps_config *cfg, int level, const char *fmt, ...)
{
	char msg[512], label[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_label(cfg, NULL, label, sizeof(label));
	log_msg(&cfg->snap->lg, level, "%s%s%s", label, label[0] ? " " : "",
		msg);
}

int ps_config_get_bool(ps_config *cfg, const char *key, int dflt, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	const char *v = ps_config_get(cfg, key);

	*out = dflt;
	if (!v)
		return PS_OK;
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return PS_OK;
		}
		if (!strcasecmp(v, no[i])) {
			*out = 0;
			return PS_OK;
		}
	}
	return config_error_value(cfg, key, "true or false", v);
}

int ps_config_get_long(ps_config *cfg, const char *key, long dflt, long min,
		       long max, long *out)
{
	const char *v = ps_config_get(cfg, key);
	char *end;
	long n;

	*out = dflt;
	if (!v)
		return PS_OK;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max) {
		char want[96];

		snprintf(want, sizeof(want), "a whole number from %ld to %ld",
			 min, max);
		return config_error_value(cfg, key, want, v);
	}
	*out = n;
	return PS_OK;
}

int ps_config_get_user_agent(ps_config *cfg, const char *key,
			     const char **out)
{
	const char *v = ps_config_get(cfg, key);
	char why[160];

	*out = MODCONFIG_USER_AGENT;
	if (!v)
		return PS_OK;
	if (!*v)
		return ps_config_error(cfg, key, "empty: remove the key to send"
				       " %s", MODCONFIG_USER_AGENT);
	if (credential_check(v, strlen(v), CREDENTIAL_FIELD_VALUE, why,
			     sizeof(why)))
		return ps_config_error(cfg, key, "the value %s", why);
	*out = v;
	return PS_OK;
}

struct header_walk {
	ps_config *cfg;
	const char *key;
	int (*fn)(void *user, const char *field);
	void *user;
	size_t index;
};

static int header_walk_one(void *user, const char *value)
{
	struct header_walk *w = user;
	char why[200];

	w->index++;
	if (credential_check_field(value, why, sizeof(why)))
		return ps_config_error(w->cfg, w->key, "field %zu: %s",
				       w->index, why);
	return w->fn(w->user, value);
}

int ps_config_get_header_each(ps_config *cfg, const char *key,
			      int (*fn)(void *user, const char *field),
			      void *user)
{
	struct header_walk w = {
		.cfg = cfg, .key = key, .fn = fn, .user = user,
	};

	return ps_config_get_each(cfg, key, header_walk_one, &w);
}

void modconfig_warn_loose_secret(const struct logger *lg, const char *path,
				 const char *what)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & S_IROTH))
		log_msg(lg, PS_LOG_WARN, "%s %s is readable by others:"
			" chmod o-r it", what, path);
}

/* A secret file's first line may be this long (a secret, not a file). */
#define MODCONFIG_SECRET_LINE_MAX 4096

/*
 * The first line of 'path', without its LF (and a CR just before it, as
 * an editor on Windows writes), into *out; *len its length, which may
 * exceed strlen() when the line holds a NUL (the caller refuses that).
 * Returns 0, an errno value, or EFBIG for a first line over the limit
 * (bounded: password_file = /dev/zero must not eat the memory).
 */
static int read_first_line(const char *path, char **out, size_t *len)
{
	FILE *fp = fopen(path, "re");
	char *buf, *eol;
	size_t n;
	int err_no;

	*out = NULL;
	*len = 0;
	if (!fp)
		return errno;
	buf = malloc(MODCONFIG_SECRET_LINE_MAX + 1);
	if (!buf) {
		fclose(fp);
		return ENOMEM;
	}
	n = fread(buf, 1, MODCONFIG_SECRET_LINE_MAX + 1, fp);
	err_no = ferror(fp) ? (errno ? errno : EIO) : 0;
	fclose(fp);
	eol = memchr(buf, '\n', n);
	if (!err_no && !eol && n > MODCONFIG_SECRET_LINE_MAX)
		err_no = EFBIG;
	if (err_no) {
		explicit_bzero(buf, MODCONFIG_SECRET_LINE_MAX + 1);
		free(buf);
		return err_no;
	}
	if (eol)
		n = (size_t)(eol - buf);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	/* Terminate, and wipe what followed the line. */
	explicit_bzero(buf + n, MODCONFIG_SECRET_LINE_MAX + 1 - n);
	*out = buf;
	*len = n;
	return 0;
}

/* A secret, of 'len' bytes, must be a value in any HTTP header. */
static int check_secret(ps_config *cfg, const char *key, const char *path,
			char **secret, size_t len)
{
	char why[160];

	if (!credential_check(*secret, len, CREDENTIAL_PASSWORD, why,
			      sizeof(why)))
		return PS_OK;
	explicit_bzero(*secret, len);	/* a NUL may hide the rest */
	free(*secret);
	*secret = NULL;
	if (path)
		return ps_config_error(cfg, key, "the first line of %s %s",
				       path, why);
	return ps_config_error(cfg, key, "the value %s", why);
}

int ps_config_get_secret(ps_config *cfg, const char *key,
			 const char *file_key, char **out)
{
	struct ini_entry *inline_e = key ? ini_get(cfg->sec, key) : NULL;
	struct ini_entry *file_e = file_key ? ini_get(cfg->sec, file_key)
					    : NULL;
	size_t len;
	int err_no;

	*out = NULL;
	if (inline_e && file_e)
		return ps_config_error(cfg, file_key, "give either %s or %s,"
				       " not both", key, file_key);
	if (inline_e) {
		if (inline_e->line > 0)
			modconfig_warn_loose_secret(&cfg->snap->lg,
						    inline_e->file,
						    "configuration file with a"
						    " password,");
		*out = strdup(inline_e->value);
		if (!*out)
			return err_nomem(cfg->err);
		return check_secret(cfg, key, NULL, out, strlen(*out));
	}
	if (!file_e)
		return PS_OK;
	err_no = read_first_line(file_e->value, out, &len);
	if (err_no == ENOMEM)
		return err_nomem(cfg->err);
	if (err_no == EFBIG)
		return ps_config_error(cfg, file_key, "the first line of %s is"
				       " longer than %d bytes: is it the"
				       " password file?", file_e->value,
				       MODCONFIG_SECRET_LINE_MAX);
	if (err_no)
		return ps_config_error(cfg, file_key, "cannot read %s: %s",
				       file_e->value, strerror(err_no));
	modconfig_warn_loose_secret(&cfg->snap->lg, file_e->value,
				    "secret file");
	return check_secret(cfg, file_key, file_e->value, out, len);
}

void ps_secret_free(char *secret)
{
	if (!secret)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

int modconfig_check_unknown(struct ini_section *sec, const char *what,
			    ps_error *err)
{
	char where[SOURCE_MAX];

	for (size_t i = 0; sec && i < sec->n; i++) {
		struct ini_entry *e = &sec->entries[i];

		if (e->used)
			continue;
		ini_where(e, where, sizeof(where));
		return err_set(err, PS_ERR_CONFIG, "config", -1,
			       "remove it or check its spelling; unknown keys"
			       " are errors, not warnings",
			       "%s: unknown key '%.64s' in %s", where, e->key,
			       what);
	}
	return PS_OK;
}

int modconfig_run(struct snapshot *snap, struct instance *inst,
		  struct ini_section *sec, ps_error *err)
{
	struct ps_config cfg = {
		.snap = snap, .inst = inst, .sec = sec, .err = err,
	};
	char what[200];
	int rc = PS_OK;

	ini_get(sec, "module");
	if (inst->mod->ops.configure)
		rc = inst->mod->ops.configure(&cfg, &inst->state);
	if (rc != PS_OK) {
		/*
		 * A failed configure() freed what it built (module.h): calling
		 * unconfigure() too would free it twice.  Whatever *instance
		 * holds is forgotten, never passed anywhere.
		 */
		inst->state = NULL;
		if (!cfg.failed && rc != PS_ERR_NOMEM)
			ps_config_error(&cfg, NULL, "module %s refused its"
					" configuration (%s)",
					inst->mod->name, ps_code_name(rc));
		else if (rc == PS_ERR_NOMEM && !cfg.failed)
			err_nomem(err);
		return rc == PS_ERR_NOMEM ? rc : PS_ERR_CONFIG;
	}
	inst->configured = 1;
	snprintf(what, sizeof(what), "[%s %s] (module %s)", inst->kind,
		 inst->name, inst->mod->name);
	return modconfig_check_unknown(sec, what, err);
}

/* ------------------------------------------------------------------ */
/* proxy hops                                                          */
/* ------------------------------------------------------------------ */

void ps_proxy_info_clear(struct ps_proxy_info *p)
{
	if (!p)
		return;
	free(p->scheme);
	free(p->host);
	free(p->username);
	ps_secret_free(p->password);
	free(p->display);
	/* Only the 1.0 layout: a module built for 1.0 has no more room. */
	memset(p, 0, PS_PROXY_INFO_SIZE_1_0);
}

static int scheme_allowed(const char *scheme, const char *const *schemes)
{
	if (!schemes)
		return 1;
	for (; *schemes; schemes++)
		if (!strcmp(scheme, *schemes))
			return 1;
	return 0;
}

/*
 * A user name or password about to be handed to a module: refused with
 * its source ('key' of the section, or the variable 'env_name') when it
 * could break out of the header it goes into.  The value is never shown.
 */
static int check_credential(ps_config *cfg, const char *key,
			    const char *env_name, const char *what,
			    const char *value, enum credential_kind kind)
{
	char why[160];

	if (!value || !credential_check(value, strlen(value), kind, why,
					sizeof(why)))
		return PS_OK;
	if (env_name)
		return ps_config_error(cfg, NULL, "%s from environment %s %s",
				       what, env_name, why);
	return ps_config_error(cfg, key, "%s %s", what, why);
}

/*
 * user and password: the URL's, else the keys', else the environment's;
 * each checked where it came from (the URL's by url_parse_proxy(), the
 * password keys inside ps_config_get_secret()).
 */
static int proxy_credentials(ps_config *cfg, struct url *u,
			     struct ps_proxy_info *out)
{
	const struct env_settings *env = &cfg->snap->env;
	const char *user = ps_config_get(cfg, "username");
	char *pw = NULL;
	int rc = ps_config_get_secret(cfg, "password", "password_file", &pw);

	/* The URL's were checked as it was parsed (url.c, same check). */
	if (rc == PS_OK)
		rc = check_credential(cfg, "username", NULL, "the user name",
				      user, CREDENTIAL_USERNAME);
	if (rc != PS_OK)
		goto out;
	if (u->user) {
		out->username = u->user;
		u->user = NULL;
	} else if (user) {
		out->username = strdup(user);
	} else if (env->proxy_username.value) {
		rc = check_credential(cfg, NULL, env->proxy_username.name,
				      "the user name",
				      env->proxy_username.value,
				      CREDENTIAL_USERNAME);
		if (rc != PS_OK)
			goto out;
		out->username = strdup(env->proxy_username.value);
	}
	if ((user || env->proxy_username.value) && !out->username)
		goto nomem;
	if (u->password) {
		out->password = u->password;
		u->password = NULL;
	} else if (pw) {
		out->password = pw;
		pw = NULL;
	} else if (env->proxy_password.value) {
		rc = check_credential(cfg, NULL, env->proxy_password.name,
				      "the password",
				      env->proxy_password.value,
				      CREDENTIAL_PASSWORD);
		if (rc != PS_OK)
			goto out;
		out->password = strdup(env->proxy_password.value);
		if (!out->password)
			goto nomem;
	}
	if (out->password && !out->username)
		rc = ps_config_error(cfg, "password", "a password without a"
				     " user name: set %s too",
				     cfg->inst->builtin ? "proxy_username"
							: "username");
out:
	ps_secret_free(pw);
	return rc;
nomem:
	ps_secret_free(pw);
	return err_nomem(cfg->err);
}

/*
 * ABI 1.0's entry point, called by modules built before the sized one:
 * their structure has the 1.0 layout.  The parentheses keep the header's
 * macro of the same name from expanding here.
 */
int (ps_config_get_proxy)(ps_config *cfg, const char *const *schemes,
			  struct ps_proxy_info *out)
{
	return ps_config_get_proxy_sized(cfg, schemes, out,
					 PS_PROXY_INFO_SIZE_1_0);
}

/* Does a ps_proxy_info of 'size' bytes hold 'field' wholly? */
#define PROXY_INFO_HOLDS(size, field)                                     \
	(offsetof(struct ps_proxy_info, field) +                          \
		 sizeof(((struct ps_proxy_info *)0)->field) <= (size))

/*
 * Whether the proxy resolves destination names, by the claim of the
 * scheme; a scheme nobody claims (a module given by name) resolves
 * remotely unless it is socks4 or socks5.
 */
static int resolves_remotely(const struct snapshot *s, const char *scheme)
{
	const struct scheme_claim *c = schemes_find(&s->schemes, scheme);

	if (c)
		return c->resolve_remotely;
	return strcmp(scheme, "socks4") && strcmp(scheme, "socks5");
}

int ps_config_get_proxy_sized(ps_config *cfg, const char *const *schemes,
			      struct ps_proxy_info *out, size_t out_size)
{
	struct url_claims claims;
	const char *text;
	struct url u;
	char why[200];
	int rc;

	/*
	 * Every field of this host's layout is in the 1.0 one: past the
	 * size check, all of them fit.  A field appended later is written
	 * only when offsetof + sizeof <= out_size.
	 */
	memset(out, 0, out_size < sizeof(*out) ? out_size : sizeof(*out));
	if (out_size < PS_PROXY_INFO_SIZE_1_0)
		return ps_config_error(cfg, NULL, "module %s passed a"
				       " ps_proxy_info of %zu bytes, smaller"
				       " than the 1.0 layout (%zu): rebuild"
				       " it against this proxystack's"
				       " headers", cfg->inst->mod->name,
				       out_size,
				       (size_t)PS_PROXY_INFO_SIZE_1_0);
	text = ps_config_get(cfg, "url");
	if (!text)
		return ps_config_error(cfg, NULL, "url is required");
	claims = schemes_url_claims(&cfg->snap->schemes);
	if (url_parse_proxy_claimed(text, &claims, &u, why, sizeof(why)) < 0)
		return strcmp(why, "out of memory")
			       ? ps_config_error(cfg, "url", "%s", why)
			       : err_nomem(cfg->err);
	if (!scheme_allowed(u.scheme, schemes)) {
		rc = ps_config_error(cfg, "url", "scheme %s:// is not served"
				     " by module %s", u.scheme,
				     cfg->inst->mod->name);
		url_clear(&u);
		return rc;
	}
	if (PROXY_INFO_HOLDS(out_size, resolve_remotely))
		out->resolve_remotely = resolves_remotely(cfg->snap, u.scheme);
	out->display = url_display(&u);
	out->scheme = u.scheme;
	out->host = u.host;
	out->port = u.port;
	u.scheme = u.host = NULL;
	rc = out->display ? proxy_credentials(cfg, &u, out)
			  : err_nomem(cfg->err);
	url_clear(&u);
	if (rc != PS_OK)
		ps_proxy_info_clear(out);
	return rc;
}

char *modconfig_read_secret_file(const char *path, int *err_no)
{
	char *secret, why[120];
	size_t len;

	*err_no = read_first_line(path, &secret, &len);
	if (*err_no)
		return NULL;
	/* The file may have changed since the load checked it. */
	if (credential_check(secret, len, CREDENTIAL_PASSWORD, why,
			     sizeof(why))) {
		ps_secret_free(secret);
		*err_no = EILSEQ;
		return NULL;
	}
	return secret;
}
