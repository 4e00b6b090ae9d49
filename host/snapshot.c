/*
 * snapshot.c - turning the configuration directory and the environment
 * into one immutable snapshot: settings with their sources, loaded
 * modules, configured instances, stacks and routes.
 *
 * Build order (each step fails the whole build):
 *   1. read *.conf (ini_load.c) and the environment (env.c)
 *   2. [global] and [default], level-1 variables overriding [default]
 *   3. instances: every [transport|trust|select] section, the implied
 *      direct, and the proxies named by [default] and the environment
 *   4. stacks, then routes, which refer to them by name
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "error.h"
#include "hostmatch.h"
#include "modconfig.h"
#include "serve_config.h"
#include "snapshot.h"
#include "tls_cache.h"
#include "tls_proxy.h"
#include "url.h"

#define DEFAULT_CONNECT_TIMEOUT_S 15
#define DEFAULT_WS_PING_INTERVAL_S 300

struct build {
	struct snapshot *s;
	ps_error *err;
	const struct snapshot_params *p;
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

static int build_fail(struct build *b, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int build_fail(struct build *b, const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(b->err, PS_ERR_CONFIG, "config", -1, hint, fmt, ap);
	va_end(ap);
	return PS_ERR_CONFIG;
}

static int setting_set(struct setting *st, const char *value,
		       const char *source)
{
	char *copy = value ? strdup(value) : NULL;

	if (value && !copy)
		return -1;
	if (st->value && st->secret)
		explicit_bzero(st->value, strlen(st->value));
	free(st->value);
	st->value = copy;
	snprintf(st->source, sizeof(st->source), "%s", source);
	return 0;
}

static void setting_free(struct setting *st)
{
	setting_set(st, NULL, "");
}

/* Take key from section into *st when present; 0 or -1 (ENOMEM). */
static int setting_from_ini(struct setting *st, struct ini_section *sec,
			    const char *key)
{
	struct ini_entry *e = ini_get(sec, key);
	char where[SOURCE_MAX];

	if (!e)
		return 0;
	ini_where(e, where, sizeof(where));
	return setting_set(st, e->value, where);
}

static int setting_from_env(struct setting *st, const struct env_value *v)
{
	char where[SOURCE_MAX];

	if (!v->value)
		return 0;
	snprintf(where, sizeof(where), "environment %s", v->name);
	return setting_set(st, v->value, where);
}

static int parse_bool_text(const char *v, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]))
			return *out = 1, 0;
		if (!strcasecmp(v, no[i]))
			return *out = 0, 0;
	}
	return -1;
}

static int parse_seconds(const char *v, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > max)
		return -1;
	*out = n;
	return 0;
}

static int push_ptr(void ***arr, size_t *n, void *item)
{
	void **grown = realloc(*arr, (*n + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	grown[*n] = item;
	*arr = grown;
	(*n)++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* [global] and [default]                                              */
/* ------------------------------------------------------------------ */

/*
 * Load ca_file, client_cert_file and client_key_file now, as a
 * connection would: a missing or broken file fails the load with the
 * line that named it, not the first TLS connection with "system lib".
 */
static int check_tls_files(struct build *b)
{
	struct snapshot *s = b->s;
	const struct setting *which[] = {
		&s->ca_file, &s->client_cert_file, &s->client_key_file,
	};
	static const char *const names[] = {
		"ca_file", "client_cert_file", "client_key_file",
	};
	ps_error why;
	int rc;

	rc = ps_tls_check_files(s->ca_file.value, s->client_cert_file.value,
				s->client_key_file.value, &why);
	if (rc == PS_ERR_NOMEM)
		return err_nomem(b->err);
	for (size_t i = 0; rc != PS_OK && i < 3; i++)
		if (!strcmp(why.layer, names[i]))
			return build_fail(b, i ? "client_cert_file and"
					  " client_key_file want a PEM"
					  " certificate and its key"
					  : "ca_file wants a PEM bundle of CA"
					  " certificates",
					  "%s: %s: %s", which[i]->source,
					  names[i], why.message);
	return rc == PS_OK ? PS_OK
			   : build_fail(b, NULL, "%s", why.message);
}

static int read_global(struct build *b)
{
	struct snapshot *s = b->s;
	struct ini_section *g = ini_find(&s->doc, "global", "");
	const char *module_dir_source;
	const char *module_dir = loader_default_module_path(&module_dir_source);
	int rc = 0;

	rc |= setting_set(&s->module_path, module_dir, module_dir_source);
	rc |= setting_set(&s->connect_timeout, "15", "default");
	rc |= setting_set(&s->ws_ping_interval, "300", "default");
	rc |= setting_set(&s->ws_pong_timeout, "30", "default");
	rc |= setting_set(&s->ws_max_message, "16777216", "default");
	rc |= setting_set(&s->insecure_tls, "false", "default");
	rc |= setting_set(&s->ca_file, NULL, "default: system store");
	rc |= setting_from_ini(&s->module_path, g, "module_path");
	rc |= setting_from_ini(&s->connect_timeout, g, "connect_timeout");
	rc |= setting_from_ini(&s->ws_ping_interval, g, "ws_ping_interval");
	rc |= setting_from_ini(&s->ws_pong_timeout, g, "ws_pong_timeout");
	rc |= setting_from_ini(&s->ws_max_message, g, "ws_max_message");
	rc |= setting_from_ini(&s->ca_file, g, "ca_file");
	rc |= setting_from_ini(&s->client_cert_file, g, "client_cert_file");
	rc |= setting_from_ini(&s->client_key_file, g, "client_key_file");
	rc |= setting_from_ini(&s->insecure_tls, g, "insecure_tls");
	rc |= setting_from_env(&s->ca_file, &s->env.ca_file);
	rc |= setting_from_env(&s->insecure_tls, &s->env.insecure_tls);
	if (rc)
		return err_nomem(b->err);

	if (parse_seconds(s->connect_timeout.value, 3600,
			  &s->connect_timeout_ms))
		return build_fail(b, "seconds, from 1 to 3600",
				  "%s: connect_timeout: bad value '%.32s'",
				  s->connect_timeout.source,
				  s->connect_timeout.value);
	s->connect_timeout_ms *= 1000;
	if (parse_seconds(s->ws_ping_interval.value, 86400,
			  &s->ws_ping_interval_s))
		return build_fail(b, "seconds, from 1 to 86400",
				  "%s: ws_ping_interval: bad value '%.32s'",
				  s->ws_ping_interval.source,
				  s->ws_ping_interval.value);
	if (parse_seconds(s->ws_pong_timeout.value, 3600,
			  &s->ws_pong_timeout_s))
		return build_fail(b, "seconds, from 1 to 3600",
				  "%s: ws_pong_timeout: bad value '%.32s'",
				  s->ws_pong_timeout.source,
				  s->ws_pong_timeout.value);
	if (parse_seconds(s->ws_max_message.value, 1L << 30,
			  &s->ws_max_message_bytes))
		return build_fail(b, "bytes, from 1 to 1073741824",
				  "%s: ws_max_message: bad value '%.32s'",
				  s->ws_max_message.source,
				  s->ws_max_message.value);
	if (parse_bool_text(s->insecure_tls.value, &s->insecure))
		return build_fail(b, "true or false",
				  "%s: insecure_tls: bad value '%.32s'",
				  s->insecure_tls.source,
				  s->insecure_tls.value);
	if (!!s->client_cert_file.value != !!s->client_key_file.value)
		return build_fail(b, "set both client_cert_file and"
				  " client_key_file, or neither",
				  "%s: client certificate and key must be"
				  " given together",
				  s->client_cert_file.value
					  ? s->client_cert_file.source
					  : s->client_key_file.source);
	rc = check_tls_files(b);
	if (rc != PS_OK)
		return rc;
	if (s->insecure)
		log_msg(&s->lg, PS_LOG_WARN, "insecure_tls is on (%s):"
			" destination certificates are NOT verified",
			s->insecure_tls.source);
	return modconfig_check_unknown(g, "[global]", b->err);
}

static int read_default(struct build *b)
{
	struct snapshot *s = b->s;
	struct ini_section *d = ini_find(&s->doc, "default", "");
	int no_proxy_is_system = 0;
	char why[128];
	int rc = 0;

	s->proxy_password.secret = 1;
	s->proxy_url.secret = 1;	/* may hold credentials */
	rc |= setting_from_ini(&s->proxy_url, d, "proxy_url");
	rc |= setting_from_ini(&s->proxy_username, d, "proxy_username");
	rc |= setting_from_ini(&s->proxy_password, d, "proxy_password");
	rc |= setting_from_ini(&s->proxy_password_file, d,
			       "proxy_password_file");
	rc |= setting_from_ini(&s->no_proxy, d, "no_proxy");
	/* Level 1 overrides [default] key by key. */
	rc |= setting_from_env(&s->proxy_url, &s->env.proxy_url);
	rc |= setting_from_env(&s->proxy_username, &s->env.proxy_username);
	rc |= setting_from_env(&s->proxy_password, &s->env.proxy_password);
	rc |= setting_from_env(&s->no_proxy, &s->env.no_proxy);
	if (!s->no_proxy.value) {
		rc |= setting_from_env(&s->no_proxy, &s->env.sys_no_proxy);
		no_proxy_is_system = s->no_proxy.value != NULL;
	}
	if (rc)
		return err_nomem(b->err);
	if (s->env.proxy_password.value)
		setting_free(&s->proxy_password_file);
	if (s->proxy_password.value && s->proxy_password_file.value)
		return build_fail(b, "keep proxy_password_file only",
				  "%s: [default] gives both proxy_password"
				  " and proxy_password_file",
				  s->proxy_password_file.source);
	if (s->proxy_password.value && d && !s->env.proxy_password.value) {
		struct ini_entry *e = ini_get(d, "proxy_password");

		modconfig_warn_loose_secret(&s->lg, e->file,
					    "configuration file with a"
					    " password,");
	}
	if (s->no_proxy.value &&
	    hostmatch_validate(s->no_proxy.value, why, sizeof(why))) {
		/* Only entries that parse ever match, so a bad system
		 * NO_PROXY is safe to keep with a warning. */
		if (no_proxy_is_system)
			log_msg(&s->lg, PS_LOG_WARN, "%s: %s",
				s->no_proxy.source, why);
		else
			return build_fail(b, "see NO_PROXY in"
					  " proxystack.conf(5)",
					  "%s: no_proxy: %s",
					  s->no_proxy.source, why);
	}
	return modconfig_check_unknown(d, "[default]", b->err);
}

/* ------------------------------------------------------------------ */
/* modules and instances                                               */
/* ------------------------------------------------------------------ */

static int get_module(struct build *b, const char *name,
		      struct loaded_module **out)
{
	struct snapshot *s = b->s;
	struct loaded_module *m;
	int rc;

	for (size_t i = 0; i < s->nmodules; i++) {
		if (!strcmp(s->modules[i]->name, name)) {
			*out = s->modules[i];
			return PS_OK;
		}
	}
	rc = loader_open(s->module_path.value, name, &m, b->err);
	if (rc != PS_OK)
		return rc;
	if (push_ptr((void ***)&s->modules, &s->nmodules, m) < 0) {
		loader_close(m);
		return err_nomem(b->err);
	}
	*out = m;
	return PS_OK;
}

static unsigned phase_of_kind(const char *kind)
{
	if (!strcmp(kind, "transport"))
		return PS_PHASE_TRANSPORT;
	if (!strcmp(kind, "trust"))
		return PS_PHASE_TRUST;
	return PS_PHASE_SELECT;
}

/*
 * Ask every module of the module path which proxy URL schemes it
 * serves.  A module that does not load claims nothing here: its error
 * comes when a section names it.
 */
static int claim_schemes_of(void *user, const char *name)
{
	struct build *b = user;
	struct loaded_module *m;
	int rc = get_module(b, name, &m);

	if (rc == PS_ERR_NOMEM)
		return rc;
	if (rc != PS_OK) {
		log_msg(&b->s->lg, PS_LOG_DEBUG, "module %s claims no scheme:"
			" %s", name, b->err ? b->err->message : "refused");
		ps_error_clear(b->err);
		return 0;
	}
	return schemes_add(&b->s->schemes, m, b->err);
}

static int claim_schemes(struct build *b)
{
	int rc = loader_each(b->s->module_path.value, claim_schemes_of, b);

	if (rc == PS_ERR_NOMEM && b->err && b->err->code == PS_OK)
		return err_nomem(b->err);
	return rc;
}

/* A proxy hop's own address: what the hop below it must reach. */
static int set_proxy_address(const struct snapshot *s, struct instance *inst,
			     const char *url_text)
{
	struct url_claims claims = schemes_url_claims(&s->schemes);
	struct url u;
	char why[160];

	/* A bad URL is the module's to report, with its file:line. */
	if (url_parse_proxy_claimed(url_text, &claims, &u, why,
				    sizeof(why)) < 0)
		return strcmp(why, "out of memory") ? 0 : -1;
	inst->proxy_host = strdup(u.host);
	inst->proxy_port = u.port;
	url_clear(&u);
	return inst->proxy_host ? 0 : -1;
}

/* "module" or "module(url-without-credentials)", for which and logs. */
static int make_display(const struct snapshot *s, struct instance *inst,
			struct ini_section *sec)
{
	struct url_claims claims = schemes_url_claims(&s->schemes);
	struct ini_entry *url = NULL;
	char *shown;
	size_t n;

	for (size_t i = 0; i < sec->n; i++)
		if (!strcmp(sec->entries[i].key, "url"))
			url = &sec->entries[i];
	if (!(inst->mod->desc->caps & PS_CAP_PROXY) || !url) {
		inst->display = strdup(inst->mod->name);
		return inst->display ? 0 : -1;
	}
	if (set_proxy_address(s, inst, url->value) < 0)
		return -1;
	shown = url_display_text_claimed(url->value, &claims);
	if (!shown)
		return -1;
	n = strlen(inst->mod->name) + strlen(shown) + 3;
	inst->display = malloc(n);
	if (inst->display)
		snprintf(inst->display, n, "%s(%s)", inst->mod->name, shown);
	free(shown);
	return inst->display ? 0 : -1;
}

/*
 * Configure one instance of 'module' from 'sec'.  The section is passed
 * by kind and name because adding sections may move the array.
 */
static int add_instance(struct build *b, struct ini_doc *doc,
			const char *kind, const char *name,
			const char *module, struct instance **out)
{
	struct snapshot *s = b->s;
	struct ini_section *sec = ini_find(doc, kind, name);
	struct ini_section builtin = {
		.kind = (char *)kind, .name = (char *)name,
		.file = "built in",
	};
	struct instance *inst;
	int rc;

	/* Built-in instances (direct) have no keys and no section. */
	if (!sec)
		sec = &builtin;
	inst = calloc(1, sizeof(*inst));
	if (!inst || !(inst->kind = strdup(kind)) ||
	    !(inst->name = strdup(name)) ||
	    push_ptr((void ***)&s->instances, &s->ninstances, inst) < 0) {
		if (inst) {
			free(inst->kind);
			free(inst->name);
		}
		free(inst);
		return err_nomem(b->err);
	}
	if (sec->line > 0)
		snprintf(inst->source, sizeof(inst->source), "%s:%d",
			 sec->file, sec->line);
	else
		snprintf(inst->source, sizeof(inst->source), "%s", sec->file);
	inst->builtin = doc == &s->synthetic;
	rc = get_module(b, module, &inst->mod);
	if (rc != PS_OK)
		return rc;
	if (!(inst->mod->desc->phases & phase_of_kind(kind)))
		return build_fail(b, "pick a module that serves this phase"
				  " (proxystack modules)",
				  "%s: [%s %s]: module %s does not serve the"
				  " %s phase", inst->source, kind, name,
				  module, kind);
	if (make_display(s, inst, sec) < 0)
		return err_nomem(b->err);
	rc = modconfig_run(s, inst, sec, b->err);
	if (out)
		*out = inst;
	return rc;
}

static struct instance *find_instance(const struct snapshot *s,
				      const char *kind, const char *name)
{
	for (size_t i = 0; i < s->ninstances; i++)
		if (!strcmp(s->instances[i]->kind, kind) &&
		    !strcmp(s->instances[i]->name, name))
			return s->instances[i];
	return NULL;
}

/* "did you mean http-connect?" for http_connect, when that exists. */
static void suggest_module(const char *module_path, const char *name,
			   char *hint, size_t hintsz)
{
	char dashed[72];

	snprintf(dashed, sizeof(dashed), "%s", name);
	for (char *p = dashed; *p; p++)
		*p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
	if (strcmp(dashed, name) && loader_has(module_path, dashed))
		snprintf(hint, hintsz, "did you mean module = %s?", dashed);
	else
		snprintf(hint, hintsz, "pick one of the modules listed"
			 " (proxystack modules describes them)");
}

/*
 * "module = http_connect" names the key's line and the modules there
 * are, rather than a .so path.  A directory that cannot be read is the
 * loader's to report (module_path).
 */
static int check_module_exists(struct build *b, struct ini_section *sec,
			       const struct ini_entry *mod)
{
	const char *dir = b->s->module_path.value;
	char where[SOURCE_MAX], hint[128];
	struct buf names;
	int rc = PS_OK, n;

	if (!dir || dir[0] != '/' || loader_has(dir, mod->value))
		return PS_OK;
	buf_init(&names);
	n = loader_names(dir, &names);
	if (names.oom) {
		rc = err_nomem(b->err);
	} else if (n >= 0) {
		ini_where(mod, where, sizeof(where));
		suggest_module(dir, mod->value, hint, sizeof(hint));
		rc = build_fail(b, hint, "%s: [%s %s]: no module named"
				" '%.64s'; %s has: %s", where, sec->kind,
				sec->name, mod->value, dir,
				n ? names.data : "no modules");
	}
	buf_free(&names);
	return rc;
}

static int add_configured_sections(struct build *b)
{
	struct snapshot *s = b->s;

	for (size_t i = 0; i < s->doc.nsections; i++) {
		struct ini_section *sec = &s->doc.sections[i];
		struct ini_entry *mod;
		int rc;

		if (strcmp(sec->kind, "transport") && strcmp(sec->kind, "trust")
		    && strcmp(sec->kind, "select"))
			continue;
		if (!strcmp(sec->name, "direct") || !strcmp(sec->name, "default"))
			return build_fail(b, "pick another name",
					  "%s:%d: [%s %s]: the name '%s' is"
					  " reserved", sec->file, sec->line,
					  sec->kind, sec->name, sec->name);
		mod = ini_get(sec, "module");
		if (!mod)
			return build_fail(b, "add module = NAME (proxystack"
					  " modules lists them)",
					  "%s:%d: [%s %s] has no module key",
					  sec->file, sec->line, sec->kind,
					  sec->name);
		rc = check_module_exists(b, sec, mod);
		if (rc == PS_OK)
			rc = add_instance(b, &s->doc, sec->kind, sec->name,
					  mod->value, NULL);
		if (rc != PS_OK)
			return rc;
	}
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* stacks                                                              */
/* ------------------------------------------------------------------ */

static struct stack *new_stack(struct build *b, const char *name,
			       const char *source)
{
	struct snapshot *s = b->s;
	struct stack *st = calloc(1, sizeof(*st));

	if (!st || !(st->name = strdup(name)) ||
	    push_ptr((void ***)&s->stacks, &s->nstacks, st) < 0) {
		if (st)
			free(st->name);
		free(st);
		err_nomem(b->err);
		return NULL;
	}
	snprintf(st->source, sizeof(st->source), "%s", source);
	return st;
}

static int stack_push_hop(struct build *b, struct stack *st,
			  struct instance *inst)
{
	/* direct to the first hop is implied, unless it opens its own. */
	if (st->nhops == 0 && !(inst->mod->desc->caps & PS_CAP_BOTTOM)) {
		struct instance *direct = find_instance(b->s, "transport",
							"direct");

		if (push_ptr((void ***)&st->hops, &st->nhops, direct) < 0)
			return err_nomem(b->err);
	}
	if (st->nhops > 0 && (inst->mod->desc->caps & PS_CAP_BOTTOM))
		return build_fail(b, "put it first in the stack",
				  "%s: stack %s: %s opens its own connection"
				  " and can only be the first hop", st->source,
				  st->name, inst->name);
	if (push_ptr((void ***)&st->hops, &st->nhops, inst) < 0)
		return err_nomem(b->err);
	return PS_OK;
}

/* A stack of one proxy instance (the [default] and environment ones). */
static int proxy_stack(struct build *b, const char *name,
		       struct instance *inst, struct stack **out)
{
	struct stack *st = new_stack(b, name, inst->source);

	if (!st)
		return PS_ERR_NOMEM;
	*out = st;
	return stack_push_hop(b, st, inst);
}

struct words_ctx {
	struct build *b;
	struct stack *st;
	const char *kind;
	const struct ini_entry *e;
	int rc;
};

static int stack_add_words(struct words_ctx *w, const char *value)
{
	char copy[256], *save = NULL, *word;

	snprintf(copy, sizeof(copy), "%s", value);
	for (word = strtok_r(copy, " \t,", &save); word;
	     word = strtok_r(NULL, " \t,", &save)) {
		struct instance *inst;
		char where[SOURCE_MAX];

		ini_where(w->e, where, sizeof(where));
		if (!strcmp(w->kind, "transport") && !strcmp(word, "direct")) {
			if (w->st->nhops == 0)
				w->rc = stack_push_hop(w->b, w->st,
					find_instance(w->b->s, "transport",
						      "direct"));
			else
				w->rc = build_fail(w->b, NULL, "%s: direct can"
						   " only be the first hop",
						   where);
			if (w->rc)
				return w->rc;
			continue;
		}
		inst = find_instance(w->b->s, w->kind, word);
		if (!inst)
			return w->rc = build_fail(w->b, "define the section or"
						  " fix the name",
						  "%s: no [%s %s] section",
						  where, w->kind, word);
		if (!strcmp(w->kind, "transport"))
			w->rc = stack_push_hop(w->b, w->st, inst);
		else if (push_ptr((void ***)&w->st->trusts, &w->st->ntrusts,
				  inst) < 0)
			w->rc = err_nomem(w->b->err);
		if (w->rc)
			return w->rc;
	}
	return PS_OK;
}

static int read_stack_section(struct build *b, struct ini_section *sec)
{
	static const char *const kinds[] = { "transport", "trust" };
	char where[SOURCE_MAX], what[200];
	struct words_ctx w = { .b = b };

	snprintf(where, sizeof(where), "%s:%d", sec->file, sec->line);
	if (!strcmp(sec->name, "direct") || !strcmp(sec->name, "default"))
		return build_fail(b, "pick another name", "%s: [stack %s]: the"
				  " name is reserved", where, sec->name);
	/* An empty stack would quietly mean direct, which is never implied. */
	if (sec->n == 0)
		return build_fail(b, "add transport = NAME (a [transport NAME]"
				  " section), or transport = direct to leave"
				  " without a proxy", "%s: [stack %s] has no"
				  " transport", where, sec->name);
	w.st = new_stack(b, sec->name, where);
	if (!w.st)
		return PS_ERR_NOMEM;
	w.st->origin = STACK_SECTION;
	for (size_t k = 0; k < 2; k++) {
		w.kind = kinds[k];
		for (size_t i = 0; i < sec->n; i++) {
			w.e = &sec->entries[i];
			if (strcmp(w.e->key, w.kind))
				continue;
			sec->entries[i].used = 1;
			if (stack_add_words(&w, w.e->value))
				return w.rc;
		}
	}
	if (w.st->nhops == 0 &&
	    stack_push_hop(b, w.st, find_instance(b->s, "transport", "direct")))
		return PS_ERR_NOMEM;
	snprintf(what, sizeof(what), "[stack %s]", sec->name);
	return modconfig_check_unknown(sec, what, b->err);
}

/*
 * The one-proxy stacks from [default] and the environment: their
 * sections are synthetic, with sources naming the variable or line.
 */
static int add_proxy_source(struct build *b, const char *inst_name,
			    const struct setting *url,
			    const struct setting *user,
			    const struct setting *pw,
			    const struct setting *pw_file,
			    struct stack **out)
{
	struct snapshot *s = b->s;
	struct instance *inst;
	const char *module;
	int rc = 0;

	module = schemes_module_for_url(&s->schemes, url->value);
	if (!module)
		return build_fail(b, "no module in module_path serves it:"
				  " `proxystack modules` lists the schemes"
				  " each one serves",
				  "%s: %sunsupported proxy scheme '%.*s://'",
				  url->source, strcmp(inst_name, "default")
				  ? "" : "[default] proxy_url: ",
				  (int)strcspn(url->value, ":/"), url->value);
	rc |= ini_add(&s->synthetic, "transport", inst_name, "url", url->value,
		      url->source, 0);
	if (user && user->value)
		rc |= ini_add(&s->synthetic, "transport", inst_name,
			      "username", user->value, user->source, 0);
	if (pw && pw->value)
		rc |= ini_add(&s->synthetic, "transport", inst_name,
			      "password", pw->value, pw->source, 0);
	if (pw_file && pw_file->value)
		rc |= ini_add(&s->synthetic, "transport", inst_name,
			      "password_file", pw_file->value,
			      pw_file->source, 0);
	if (rc)
		return err_nomem(b->err);
	rc = add_instance(b, &s->synthetic, "transport", inst_name, module,
			  &inst);
	if (rc != PS_OK)
		return rc;
	return proxy_stack(b, inst_name, inst, out);
}

/*
 * System variables are shared with every other program: one that does
 * not parse here does not fail the context (our own settings, levels 1
 * and 2, do).  It becomes a broken stack instead: it still takes its
 * place in the precedence, and a connection that would use it fails with
 * the reason, never leaving directly.
 */
static int add_env_proxy(struct build *b, const char *name,
			 const struct env_value *v, struct stack **out)
{
	struct setting url = { 0 };
	int rc;

	if (!v->value)
		return PS_OK;
	if (setting_from_env(&url, v))
		return err_nomem(b->err);
	url.secret = 1;
	rc = add_proxy_source(b, name, &url, NULL, NULL, NULL, out);
	setting_free(&url);
	if (rc == PS_ERR_CONFIG || rc == PS_ERR_MODULE) {
		const char *why = b->err ? b->err->message : ps_code_name(rc);

		log_msg(&b->s->lg, PS_LOG_WARN, "%s does not parse (%s):"
			" connections that would use it will fail", v->name,
			why);
		*out = new_stack(b, name, v->name);
		if (!*out || !((*out)->broken = strdup(why)))
			return err_nomem(b->err);
		ps_error_clear(b->err);
		rc = PS_OK;
	}
	return rc;
}

static int add_stacks(struct build *b)
{
	struct snapshot *s = b->s;
	int rc;

	rc = add_instance(b, &s->synthetic, "transport", "direct", "direct",
			  NULL);
	if (rc == PS_OK) {
		s->direct_stack = new_stack(b, "direct", "built in");
		if (!s->direct_stack)
			return PS_ERR_NOMEM;
		rc = stack_push_hop(b, s->direct_stack,
				    find_instance(s, "transport", "direct"));
	}
	if (rc == PS_OK)
		rc = add_configured_sections(b);
	if (rc == PS_OK && s->proxy_url.value)
		rc = add_proxy_source(b, "default", &s->proxy_url,
				      &s->proxy_username, &s->proxy_password,
				      &s->proxy_password_file,
				      &s->default_stack);
	if (rc == PS_OK)
		rc = add_env_proxy(b, "env-https", &s->env.https_proxy,
				   &s->env_https_stack);
	if (rc == PS_OK)
		rc = add_env_proxy(b, "env-http", &s->env.http_proxy,
				   &s->env_http_stack);
	if (rc == PS_OK)
		rc = add_env_proxy(b, "env-all", &s->env.all_proxy,
				   &s->env_all_stack);
	for (size_t i = 0; rc == PS_OK && i < s->doc.nsections; i++)
		if (!strcmp(s->doc.sections[i].kind, "stack"))
			rc = read_stack_section(b, &s->doc.sections[i]);
	return rc;
}

struct stack *snapshot_find_stack(const struct snapshot *s, const char *name)
{
	if (!strcmp(name, "direct"))
		return s->direct_stack;
	if (!strcmp(name, "default"))
		return s->default_stack;
	/* [stack NAME] sections win over a transport used alone. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->nstacks; i++)
			if (s->stacks[i]->origin ==
				    (pass ? STACK_TRANSPORT : STACK_SECTION) &&
			    !strcmp(s->stacks[i]->name, name))
				return s->stacks[i];
	return NULL;
}

/* A route may name a [transport NAME] directly: a stack of that hop. */
static struct stack *find_or_make_stack(struct build *b, const char *name)
{
	struct stack *st = snapshot_find_stack(b->s, name);
	struct instance *inst;

	inst = find_instance(b->s, "transport", name);
	if (st || !inst || inst->builtin)
		return st;
	if (proxy_stack(b, name, inst, &st) != PS_OK)
		return NULL;
	st->origin = STACK_TRANSPORT;
	return st;
}

/* ------------------------------------------------------------------ */
/* routes                                                              */
/* ------------------------------------------------------------------ */

static const char *const class_names[RC_COUNT] = {
	"resolve", "connect", "timeout", "proxy_auth", "proxy_denied",
	"proxy_protocol", "tls_verify", "tls", "websocket", "unsupported",
	"default",
};

const char *result_class_name(enum result_class rc)
{
	return rc < RC_COUNT ? class_names[rc] : "default";
}

enum result_class result_class_of(int code)
{
	switch (code) {
	case PS_ERR_RESOLVE: return RC_RESOLVE;
	case PS_ERR_CONNECT: return RC_CONNECT;
	case PS_ERR_TIMEOUT: return RC_TIMEOUT;
	case PS_ERR_PROXY_AUTH: return RC_PROXY_AUTH;
	case PS_ERR_PROXY_DENIED: return RC_PROXY_DENIED;
	case PS_ERR_PROXY_PROTOCOL: return RC_PROXY_PROTOCOL;
	case PS_ERR_TLS_VERIFY: return RC_TLS_VERIFY;
	case PS_ERR_TLS: return RC_TLS;
	case PS_ERR_WEBSOCKET:
	case PS_ERR_WEBSOCKET_HANDSHAKE: return RC_WEBSOCKET;
	case PS_ERR_UNSUPPORTED: return RC_UNSUPPORTED;
	default: return RC_DEFAULT;
	}
}

/* "[timeout=next connect=next proxy_auth=die default=die]" */
static int parse_bracket_control(struct route_line *rl, char *text,
				 char *bad, size_t badsz)
{
	unsigned char dflt = ACT_DIE;
	int given[RC_COUNT] = { 0 };
	char *save = NULL, *word;

	for (word = strtok_r(text, " \t", &save); word;
	     word = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(word, '=');
		size_t c;

		if (!eq)
			goto bad_word;
		*eq = '\0';
		for (c = 0; c < RC_COUNT; c++)
			if (!strcmp(word, class_names[c]))
				break;
		if (c == RC_COUNT || given[c])
			goto bad_word;
		given[c] = 1;
		if (!strcmp(eq + 1, "next"))
			rl->action[c] = ACT_NEXT;
		else if (!strcmp(eq + 1, "die"))
			rl->action[c] = ACT_DIE;
		else
			goto bad_word;
		if (c == RC_DEFAULT)
			dflt = rl->action[c];
		continue;
bad_word:
		if (eq)
			*eq = '=';
		snprintf(bad, badsz, "%s", word);
		return -1;
	}
	for (size_t c = 0; c < RC_COUNT; c++)
		if (!given[c])
			rl->action[c] = dflt;
	return 0;
}

static int parse_route_line(struct build *b, struct route_line *rl,
			    const struct ini_entry *e)
{
	char copy[256], bad[64] = "", *name, *control, *save = NULL;
	unsigned char act = ACT_NEXT;

	ini_where(e, rl->source, sizeof(rl->source));
	snprintf(copy, sizeof(copy), "%s", e->value);
	control = strchr(copy, '[');
	if (control) {
		char *close = strchr(control, ']');

		if (!close || close[1])
			return build_fail(b, "write it as in stack = corp"
					  " [timeout=next default=die]",
					  "%s: the '[' control is not closed"
					  " by a final ']'",
					  rl->source);
		*close = '\0';
		*control++ = '\0';
	}
	name = strtok_r(copy, " \t", &save);
	if (!name)
		return build_fail(b, "write stack = corp, stack = corp"
				  " sufficient or stack = corp requisite",
				  "%s: stack line names no stack", rl->source);
	rl->stack = find_or_make_stack(b, name);
	if (!rl->stack && b->err && b->err->code == PS_ERR_NOMEM)
		return PS_ERR_NOMEM;
	if (!rl->stack)
		return build_fail(b, "define [stack NAME] or [transport NAME],"
				  " or use direct",
				  "%s: no stack or transport named '%.64s'",
				  rl->source, name);
	if (control) {
		snprintf(rl->control, sizeof(rl->control), "[%.60s]", control);
		if (strtok_r(NULL, " \t", &save) ||
		    parse_bracket_control(rl, control, bad, sizeof(bad)))
			return build_fail(b, "classes: resolve connect timeout"
					  " proxy_auth proxy_denied"
					  " proxy_protocol tls_verify tls"
					  " websocket unsupported default;"
					  " actions: next die",
					  "%s: bad control '%s'", rl->source,
					  bad);
		return PS_OK;
	}
	control = strtok_r(NULL, " \t", &save);
	if (control && !strcmp(control, "requisite"))
		act = ACT_DIE;
	else if (control && strcmp(control, "sufficient"))
		return build_fail(b, "use sufficient, requisite or a control"
				  " such as [timeout=next default=die]",
				  "%s: unknown control '%.32s'", rl->source,
				  control);
	if (strtok_r(NULL, " \t", &save))
		return build_fail(b, NULL, "%s: extra words after the control",
				  rl->source);
	snprintf(rl->control, sizeof(rl->control), "%s",
		 control ? control : "sufficient");
	memset(rl->action, act, sizeof(rl->action));
	return PS_OK;
}

static int read_route_section(struct build *b, struct ini_section *sec,
			      struct route *r)
{
	struct ini_entry *match, *select;
	char what[200], why[128];
	int rc;

	snprintf(r->source, sizeof(r->source), "%s:%d", sec->file, sec->line);
	r->name = strdup(sec->name);
	if (!r->name)
		return err_nomem(b->err);
	match = ini_get(sec, "match");
	if (!match)
		return build_fail(b, "add match = host patterns",
				  "%s: [route %s] has no match key", r->source,
				  sec->name);
	ini_where(match, what, sizeof(what));
	if (hostmatch_validate(match->value, why, sizeof(why)))
		return build_fail(b, "see ROUTES in proxystack.conf(5)",
				  "%s: match: %s", what, why);
	r->match = match->value;
	select = ini_get(sec, "select");
	if (select) {
		r->select = find_instance(b->s, "select", select->value);
		if (!r->select)
			return build_fail(b, NULL, "%s: no [select %.64s]"
					  " section", r->source, select->value);
	}
	for (size_t i = 0; i < sec->n; i++) {
		struct ini_entry *e = &sec->entries[i];
		struct route_line *grown;

		if (strcmp(e->key, "stack"))
			continue;
		e->used = 1;
		if (r->select)
			return build_fail(b, "use either select or stack lines",
					  "%s: [route %s] has both select and"
					  " stack lines", r->source, r->name);
		grown = realloc(r->lines, (r->nlines + 1) * sizeof(*grown));
		if (!grown)
			return err_nomem(b->err);
		r->lines = grown;
		memset(&r->lines[r->nlines], 0, sizeof(*grown));
		rc = parse_route_line(b, &r->lines[r->nlines++], e);
		if (rc != PS_OK)
			return rc;
	}
	snprintf(what, sizeof(what), "[route %s]", r->name);
	return modconfig_check_unknown(sec, what, b->err);
}

static int add_routes(struct build *b)
{
	struct snapshot *s = b->s;
	size_t n = 0;

	for (size_t i = 0; i < s->doc.nsections; i++)
		n += !strcmp(s->doc.sections[i].kind, "route");
	if (!n)
		return PS_OK;
	s->routes = calloc(n, sizeof(*s->routes));
	if (!s->routes)
		return err_nomem(b->err);
	for (size_t i = 0; i < s->doc.nsections; i++) {
		int rc;

		if (strcmp(s->doc.sections[i].kind, "route"))
			continue;
		rc = read_route_section(b, &s->doc.sections[i],
					&s->routes[s->nroutes++]);
		if (rc != PS_OK)
			return rc;
	}
	return PS_OK;
}

/*
 * [run] is read by the preload library of `proxystack run`
 * (preload/preload_config.c), not by the library: checked here all the
 * same, so that a typo fails the configuration like anywhere else.
 */
static int check_run_section(struct build *b)
{
	struct ini_section *sec = ini_find(&b->s->doc, "run", "");
	char where[SOURCE_MAX];

	for (size_t i = 0; sec && i < sec->n; i++) {
		struct ini_entry *e = &sec->entries[i];

		if (!strcmp(e->key, "log")) {
			e->used = 1;
		} else if (!strcmp(e->key, "udp")) {
			e->used = 1;
			if (strcmp(e->value, "allow") && strcmp(e->value, "refuse")) {
				ini_where(e, where, sizeof(where));
				return build_fail(b, "allow or refuse",
						  "%s: udp: bad value '%.32s'",
						  where, e->value);
			}
		}
	}
	return modconfig_check_unknown(sec, "[run]", b->err);
}

/* ------------------------------------------------------------------ */
/* stacks for select modules' alternatives (module ABI 1.2)            */
/* ------------------------------------------------------------------ */

#define PROXY_STACKS_MAX 64

/* The modules a selection may need, loaded with the snapshot: loading
 * later would grow s->modules under readers. */
static const char *const select_modules[] = {
	"http-connect", "https-proxy", "socks",
};

static int preload_select_modules(struct build *b)
{
	struct loaded_module *m;
	int wanted = 0;

	for (size_t i = 0; i < b->s->ninstances; i++)
		wanted |= !strcmp(b->s->instances[i]->kind, "select") &&
			  b->s->instances[i]->mod->ops.select != NULL;
	for (size_t i = 0; wanted && i < 3; i++) {
		/* One that is missing fails the alternatives that need it,
		 * with its own reason, not the whole configuration. */
		if (get_module(b, select_modules[i], &m) == PS_ERR_NOMEM)
			return PS_ERR_NOMEM;
		ps_error_clear(b->err);
	}
	return PS_OK;
}

struct proxy_stack {
	struct proxy_stack *next;
	char *url;
	struct ini_doc doc;               /* its one section: url = URL */
	struct instance *inst;
	int borrowed;                     /* inst is a [transport] section's:
					     the snapshot frees it */
	struct stack st;
};

/* Unconfigure (when configured) and free one instance.  NULL-safe. */
static void instance_free(struct instance *inst)
{
	if (!inst)
		return;
	if (inst->configured && inst->mod->ops.unconfigure)
		inst->mod->ops.unconfigure(inst->state);
	free(inst->kind);
	free(inst->name);
	free(inst->display);
	free(inst->proxy_host);
	tls_proxy_free(inst->proxy_tls);
	free(inst);
}

static void proxy_stack_free(struct proxy_stack *p)
{
	if (!p->borrowed)
		instance_free(p->inst);
	free(p->st.hops);
	free(p->url);
	ini_doc_free(&p->doc);
	free(p);
}

static void free_proxy_stacks(struct snapshot *s)
{
	while (s->proxy_stacks) {
		struct proxy_stack *next = s->proxy_stacks->next;

		proxy_stack_free(s->proxy_stacks);
		s->proxy_stacks = next;
	}
}

static struct loaded_module *find_loaded(const struct snapshot *s,
					 const char *name)
{
	for (size_t i = 0; i < s->nmodules; i++)
		if (!strcmp(s->modules[i]->name, name))
			return s->modules[i];
	return NULL;
}

/* Whether the section's url names the proxy 'want' is (credentials aside). */
static int section_names_proxy(const struct snapshot *s,
			       const struct ini_section *sec,
			       const struct url *want)
{
	struct url_claims claims = schemes_url_claims(&s->schemes);
	struct url u;
	char why[160];
	int same;

	for (size_t i = 0; i < sec->n; i++) {
		if (strcmp(sec->entries[i].key, "url") ||
		    url_parse_proxy_claimed(sec->entries[i].value, &claims, &u,
					    why, sizeof(why)) < 0)
			continue;
		same = !strcmp(u.scheme, want->scheme) &&
		       !strcasecmp(u.host, want->host) && u.port == want->port;
		url_clear(&u);
		if (same)
			return 1;
	}
	return 0;
}

/*
 * The first [transport NAME] section whose url is the proxy 'url' (same
 * scheme, host and port), or NULL: a select module's answer then gets
 * that section's trust, credentials and every other key, exactly as a
 * route naming the section would.  Only sections the site wrote count:
 * whatever a script names, credentials go only to the proxy they were
 * configured for.
 */
static struct instance *configured_proxy(const struct snapshot *s,
					 const char *url)
{
	struct url_claims claims = schemes_url_claims(&s->schemes);
	struct instance *found = NULL;
	struct url want;
	char why[160];

	if (url_parse_proxy_claimed(url, &claims, &want, why, sizeof(why)) < 0)
		return NULL;
	for (size_t i = 0; !found && i < s->ninstances; i++) {
		struct instance *inst = s->instances[i];
		const struct ini_section *sec;

		if (inst->builtin || !inst->configured ||
		    strcmp(inst->kind, "transport"))
			continue;
		sec = ini_find(&s->doc, "transport",
			       inst->name);
		if (sec && section_names_proxy(s, sec, &want))
			found = inst;
	}
	url_clear(&want);
	return found;
}

/* The instance of the URL's module, configured from its own section. */
static int proxy_stack_instance(struct snapshot *s, struct proxy_stack *p,
				ps_error *err)
{
	const char *module = schemes_module_for_url(&s->schemes, p->url);
	struct ini_section *sec;
	struct instance *inst;

	if (!module || !strcmp(module, "pac"))
		return err_set(err, PS_ERR_USAGE, "select", -1, NULL,
			       "%s is not a proxy URL", p->url);
	p->inst = configured_proxy(s, p->url);
	if (p->inst) {
		p->borrowed = 1;
		return PS_OK;
	}
	if (ini_add(&p->doc, "transport", p->url, "url", p->url,
		    "a select module's answer", 0) < 0 ||
	    !(sec = ini_find(&p->doc, "transport", p->url)))
		return err_nomem(err);
	inst = p->inst = calloc(1, sizeof(*inst));
	if (!inst || !(inst->kind = strdup("transport")) ||
	    !(inst->name = strdup(p->url)))
		return err_nomem(err);
	inst->builtin = 1;
	snprintf(inst->source, sizeof(inst->source), "%s",
		 "a select module's answer");
	inst->mod = find_loaded(s, module);
	if (!inst->mod)
		return err_set(err, PS_ERR_MODULE, module, -1,
			       "install it in module_path (proxystack"
			       " modules lists what is there)",
			       "module %s, needed for %s, is not loaded",
			       module, p->url);
	if (make_display(s, inst, sec) < 0)
		return err_nomem(err);
	return modconfig_run(s, inst, sec, err);
}

static int proxy_stack_make(struct snapshot *s, const char *url,
			    struct proxy_stack **out, ps_error *err)
{
	struct proxy_stack *p = calloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if (!p || !(p->url = strdup(url))) {
		free(p);
		return err_nomem(err);
	}
	rc = proxy_stack_instance(s, p, err);
	p->st.name = p->url;
	p->st.origin = STACK_BUILTIN;
	snprintf(p->st.source, sizeof(p->st.source), "%s",
		 "a select module's answer");
	if (rc == PS_OK) {
		/* direct to the proxy, unless its module dials itself. */
		p->st.hops = calloc(2, sizeof(*p->st.hops));
		if (!p->st.hops) {
			rc = err_nomem(err);
		} else {
			if (!(p->inst->mod->desc->caps & PS_CAP_BOTTOM))
				p->st.hops[p->st.nhops++] = find_instance(
					s, "transport", "direct");
			p->st.hops[p->st.nhops++] = p->inst;
		}
	}
	if (rc != PS_OK) {
		proxy_stack_free(p);
		return rc;
	}
	*out = p;
	return PS_OK;
}

int snapshot_proxy_stack(struct snapshot *s, const char *url,
			 struct stack **out, ps_error *err)
{
	struct proxy_stack *p;
	int rc = PS_OK, made = 0;

	pthread_mutex_lock(&s->proxy_lock);
	for (p = s->proxy_stacks; p; p = p->next)
		if (!strcmp(p->url, url))
			break;
	if (!p && s->nproxy_stacks >= PROXY_STACKS_MAX)
		rc = err_set(err, PS_ERR_UNSUPPORTED, "select", -1,
			     "fix the script, or reload to start afresh",
			     "a select module named more than %d different"
			     " proxies in one configuration",
			     PROXY_STACKS_MAX);
	else if (!p)
		rc = proxy_stack_make(s, url, &p, err), made = 1;
	if (rc == PS_OK && made) {
		p->next = s->proxy_stacks;
		s->proxy_stacks = p;
		s->nproxy_stacks++;
	}
	pthread_mutex_unlock(&s->proxy_lock);
	*out = rc == PS_OK ? &p->st : NULL;
	return rc;
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */
/* ------------------------------------------------------------------ */

int snapshot_build(const struct snapshot_params *p, struct snapshot **out,
		   ps_error *err)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct build b = { .s = s, .err = err, .p = p };
	int rc;

	*out = NULL;
	if (!s)
		return err_nomem(err);
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->proxy_lock, NULL);
	s->lg = p->lg;
	s->env_prefix = strdup(p->env_prefix ? p->env_prefix : "PROXYSTACK_");
	s->tls_cache = tls_cache_new();
	if (!s->env_prefix || !s->tls_cache ||
	    env_read(&s->env, s->env_prefix, p->env_lookup, p->env_user)) {
		snapshot_unref(s);
		return err_nomem(err);
	}
	rc = ini_load_dir(p->conf_dir, p->conf_dir_missing_ok, &s->doc, err);
	if (rc == PS_OK)
		rc = read_global(&b);
	if (rc == PS_OK)
		rc = read_default(&b);
	if (rc == PS_OK)
		rc = claim_schemes(&b);
	if (rc == PS_OK)
		rc = add_stacks(&b);
	if (rc == PS_OK)
		rc = add_routes(&b);
	if (rc == PS_OK)
		rc = preload_select_modules(&b);
	if (rc == PS_OK)
		rc = serve_config_check(&s->doc, err);
	if (rc == PS_OK)
		rc = check_run_section(&b);
	/* Sections of kinds nobody reads would be silently ignored. */
	if (rc != PS_OK) {
		snapshot_unref(s);
		return rc;
	}
	*out = s;
	return PS_OK;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

static void free_instances(struct snapshot *s)
{
	/* Unconfigure in reverse order of creation. */
	for (size_t i = s->ninstances; i-- > 0;)
		instance_free(s->instances[i]);
	free(s->instances);
}

static void free_stacks_and_routes(struct snapshot *s)
{
	for (size_t i = 0; i < s->nstacks; i++) {
		free(s->stacks[i]->hops);
		free(s->stacks[i]->trusts);
		free(s->stacks[i]->name);
		free(s->stacks[i]->broken);
		free(s->stacks[i]);
	}
	free(s->stacks);
	for (size_t i = 0; i < s->nroutes; i++) {
		free(s->routes[i].name);
		free(s->routes[i].lines);
	}
	free(s->routes);
}

static void free_settings(struct snapshot *s)
{
	struct setting *settings[] = {
		&s->module_path, &s->connect_timeout, &s->ws_ping_interval,
		&s->ws_pong_timeout, &s->ws_max_message,
		&s->ca_file, &s->client_cert_file, &s->client_key_file,
		&s->insecure_tls, &s->proxy_url, &s->proxy_username,
		&s->proxy_password, &s->proxy_password_file, &s->no_proxy,
	};

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		setting_free(settings[i]);
}

void snapshot_unref(struct snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	tls_cache_free(s->tls_cache);
	free_proxy_stacks(s);
	free_instances(s);
	free_stacks_and_routes(s);
	schemes_free(&s->schemes);
	for (size_t i = 0; i < s->nmodules; i++)
		loader_close(s->modules[i]);
	free(s->modules);
	free_settings(s);
	ini_doc_free(&s->doc);
	ini_doc_free(&s->synthetic);
	env_free(&s->env);
	free(s->env_prefix);
	pthread_mutex_destroy(&s->proxy_lock);
	free(s);
}
