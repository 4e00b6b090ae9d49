/*
 * dump.c - what the configuration says, for people and child processes:
 * ps_ctx_which, ps_ctx_dump_config (secrets redacted), ps_ctx_env_exports
 * and ps_ctx_list_modules.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_args.h"
#include "buf.h"
#include "chain.h"
#include "dump.h"
#include "error.h"
#include "modconfig.h"
#include "route.h"
#include "select.h"

#define REDACTED "<redacted>"

/* Keys whose values are secrets wherever they appear. */
static int key_is_secret(const char *key)
{
	size_t n = strlen(key);

	return strstr(key, "password") && !strstr(key, "password_file") ? 1
	       : (n >= 6 && !strcmp(key + n - 6, "secret")) ||
			 (n >= 5 && !strcmp(key + n - 5, "token"));
}

/* Keys whose values are URLs that may carry credentials. */
static int key_is_url(const char *key)
{
	size_t n = strlen(key);

	return n >= 3 && !strcmp(key + n - 3, "url");
}

/* Append a value as it may be shown: secrets and URL userinfo hidden. */
static void put_shown_value(struct buf *b, const struct snapshot *s,
			    const char *key, const char *value)
{
	struct url_claims claims;
	char *shown;

	if (!value) {
		buf_puts(b, "(unset)");
		return;
	}
	if (key_is_secret(key)) {
		buf_puts(b, REDACTED);
		return;
	}
	if (!key_is_url(key)) {
		buf_puts(b, value);
		return;
	}
	/* Schemes claimed by modules (fake5://) display as any other. */
	claims = schemes_url_claims(&s->schemes);
	shown = url_display_text_claimed(value, &claims);
	buf_puts(b, shown ? shown : REDACTED);
	if (shown && strchr(value, '@'))
		buf_puts(b, " (credentials " REDACTED ")");
	free(shown);
}

static void put_setting(struct buf *b, const struct snapshot *s,
			const char *key, const struct setting *st)
{
	buf_printf(b, "%-20s = ", key);
	if (st->secret && st->value && !key_is_url(key))
		buf_puts(b, REDACTED);
	else
		put_shown_value(b, s, key, st->value);
	buf_printf(b, "    ; %s\n", st->value || st->source[0]
					      ? st->source : "unset");
}

static void dump_files(struct buf *b, const struct snapshot *s)
{
	buf_printf(b, "# configuration directory: %s\n",
		   s->doc.dir ? s->doc.dir : "(none)");
	for (size_t i = 0; i < s->doc.nfiles; i++)
		buf_printf(b, "#   read %s\n", s->doc.files[i]);
	if (!s->doc.nfiles)
		buf_puts(b, "#   (no *.conf files)\n");
}

static void dump_global(struct buf *b, const struct snapshot *s)
{
	buf_puts(b, "\n[global]\n");
	put_setting(b, s, "module_path", &s->module_path);
	put_setting(b, s, "connect_timeout", &s->connect_timeout);
	put_setting(b, s, "ws_ping_interval", &s->ws_ping_interval);
	put_setting(b, s, "ws_pong_timeout", &s->ws_pong_timeout);
	put_setting(b, s, "ws_max_message", &s->ws_max_message);
	put_setting(b, s, "ca_file", &s->ca_file);
	put_setting(b, s, "client_cert_file", &s->client_cert_file);
	put_setting(b, s, "client_key_file", &s->client_key_file);
	put_setting(b, s, "insecure_tls", &s->insecure_tls);
}

static void put_env(struct buf *b, const struct snapshot *s,
		    const struct env_value *v)
{
	if (!v->value)
		return;
	buf_printf(b, "%-20s = ", v->name);
	put_shown_value(b, s, "proxy_url", v->value);
	buf_puts(b, "    ; system variable (fallback)\n");
}

/*
 * The proxy's password.  One read from proxy_password_file is as much a
 * password as one given inline: show that there is one, redacted, and
 * where it came from.  A built snapshot with a proxy URL has read the
 * file (configuring the proxy hop reads it, and fails if it cannot).
 */
static void put_default_password(struct buf *b, const struct snapshot *s)
{
	if (s->proxy_password.value || !s->proxy_password_file.value ||
	    !s->default_stack) {
		put_setting(b, s, "proxy_password", &s->proxy_password);
		return;
	}
	buf_printf(b, "%-20s = " REDACTED "    ; read from"
		   " proxy_password_file\n", "proxy_password");
}

static void dump_default(struct buf *b, const struct snapshot *s)
{
	buf_puts(b, "\n[default]\n");
	put_setting(b, s, "proxy_url", &s->proxy_url);
	put_setting(b, s, "proxy_username", &s->proxy_username);
	put_default_password(b, s);
	put_setting(b, s, "proxy_password_file", &s->proxy_password_file);
	put_setting(b, s, "no_proxy", &s->no_proxy);
	put_env(b, s, &s->env.https_proxy);
	put_env(b, s, &s->env.http_proxy);
	put_env(b, s, &s->env.all_proxy);
}

static void dump_section(struct buf *b, const struct snapshot *s,
			 const struct ini_section *sec)
{
	char where[SOURCE_MAX];

	buf_printf(b, "\n[%s %s]    ; %s:%d\n", sec->kind, sec->name,
		   sec->file, sec->line);
	for (size_t i = 0; i < sec->n; i++) {
		const struct ini_entry *e = &sec->entries[i];

		ini_where(e, where, sizeof(where));
		buf_printf(b, "%-20s = ", e->key);
		put_shown_value(b, s, e->key, e->value);
		buf_printf(b, "    ; %s\n", where);
	}
}

static void dump_sections(struct buf *b, const struct snapshot *s)
{
	for (size_t i = 0; i < s->doc.nsections; i++) {
		const struct ini_section *sec = &s->doc.sections[i];

		if (strcmp(sec->kind, "global") && strcmp(sec->kind, "default"))
			dump_section(b, s, sec);
	}
}

static void dump_stacks(struct buf *b, const struct snapshot *s)
{
	static const struct url plain = { .scheme = (char *)"tcp" };

	buf_puts(b, "\n# stacks (hops bottom to top)\n");
	for (size_t i = 0; i < s->nstacks; i++) {
		char *d = chain_describe_stack(s->stacks[i], &plain);

		buf_printf(b, "#   %-16s %s", s->stacks[i]->name,
			   d ? d : "?");
		for (size_t t = 0; t < s->stacks[i]->ntrusts; t++)
			buf_printf(b, "%s%s", t ? ", " : "  trust: ",
				   s->stacks[i]->trusts[t]->name);
		buf_puts(b, "\n");
		free(d);
	}
}

static void dump_choice(struct buf *b, struct snapshot *s,
			const struct url *dest, const char *url)
{
	struct route_choice choice;
	ps_error err;

	buf_printf(b, "\n# for %s://%s:%u\n", dest->scheme, dest->host,
		   dest->port);
	(void)url;
	if (select_choose_blocking(s, dest, &choice, &err) != PS_OK) {
		buf_printf(b, "#   no chain: %s: %s\n", ps_code_name(err.code),
			   err.message);
		return;
	}
	buf_printf(b, "#   chosen by: %s\n", choice.why);
	if (choice.select)
		buf_printf(b, "#   select %s answered: %s\n",
			   choice.select->name, choice.answer);
	for (size_t i = 0; i < choice.nlines; i++) {
		const struct route_line *rl = &choice.lines[i];
		char *d = chain_describe_stack(rl->stack, dest);

		buf_printf(b, "#   %zu. stack %s (%s, %s): %s\n", i + 1,
			   rl->stack->name, i + 1 == choice.nlines
						    ? "last line: requisite"
						    : rl->control,
			   rl->source, d ? d : "?");
		free(d);
	}
}

char *dump_config(struct snapshot *s, const char *url, ps_error *err)
{
	struct url dest = { 0 };
	struct buf b;

	ps_error_clear(err);
	if (url && api_parse_dest(url, &dest, err) != PS_OK) {
		snapshot_unref(s);
		return NULL;
	}
	buf_init(&b);
	buf_puts(&b, "# proxystack effective configuration; each line ends"
		 " with where it came from\n");
	dump_files(&b, s);
	dump_global(&b, s);
	dump_default(&b, s);
	dump_sections(&b, s);
	dump_stacks(&b, s);
	if (url)
		dump_choice(&b, s, &dest, url);
	url_clear(&dest);
	snapshot_unref(s);
	if (b.oom) {
		buf_free(&b);
		err_nomem(err);
		return NULL;
	}
	return buf_steal(&b);
}

/*
 * For a select route: the first alternative's chain on the first line,
 * as for any route, then the module's answer and every alternative in
 * the order they would be tried, as comment lines.
 */
static char *which_selected(const struct route_choice *choice,
			    const struct url *dest)
{
	char *first = chain_describe_stack(choice->lines[0].stack, dest);
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s\n# select %s (%s) answered: %s\n",
		   first ? first : "", choice->select->name,
		   choice->select->mod->name, choice->answer);
	for (size_t i = 0; i < choice->nlines; i++) {
		const struct stack *st = choice->lines[i].stack;
		const struct instance *top = st->hops[st->nhops - 1];
		char *d = chain_describe_stack(st, dest);

		/* A proxy a configured section describes gets its keys. */
		if (top->builtin)
			buf_printf(&b, "#   %zu. %s\n", i + 1, d ? d : "?");
		else
			buf_printf(&b, "#   %zu. %s, as [%s %s] configures it"
				   "\n", i + 1, d ? d : "?", top->kind,
				   top->name);
		free(d);
	}
	if (!first) {
		buf_free(&b);
		return NULL;
	}
	free(first);
	return buf_steal(&b);
}

char *dump_which(struct snapshot *s, const char *url, ps_error *err)
{
	struct route_choice choice;
	struct url dest = { 0 };
	char *out = NULL;

	ps_error_clear(err);
	if (api_parse_dest(url, &dest, err) == PS_OK &&
	    select_choose_blocking(s, &dest, &choice, err) == PS_OK) {
		out = choice.select ? which_selected(&choice, &dest)
				    : chain_describe_stack(choice.lines[0].stack,
							   &dest);
		if (!out)
			err_nomem(err);
	}
	url_clear(&dest);
	snapshot_unref(s);
	return out;
}

/* ------------------------------------------------------------------ */
/* env                                                                 */
/* ------------------------------------------------------------------ */

/* Single-quote for sh: ' becomes '\''. */
static void put_sh_quoted(struct buf *b, const char *v)
{
	buf_puts(b, "'");
	for (; *v; v++) {
		if (*v == '\'')
			buf_puts(b, "'\\''");
		else
			buf_append(b, v, 1);
	}
	buf_puts(b, "'");
}

static const struct ini_entry *section_value(const struct snapshot *s,
					     const struct instance *inst,
					     const char *key)
{
	const struct ini_doc *docs[2] = { &s->doc, &s->synthetic };

	for (size_t d = 0; d < 2; d++) {
		struct ini_section *sec = ini_find(docs[d], inst->kind,
						   inst->name);
		const struct ini_entry *found = NULL;

		for (size_t i = 0; sec && i < sec->n; i++)
			if (!strcmp(sec->entries[i].key, key))
				found = &sec->entries[i];
		if (sec)
			return found;
	}
	return NULL;
}

static void put_percent_encoded(struct buf *b, const char *v)
{
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (isalnum(c) || strchr("-._~", c))
			buf_append(b, v, 1);
		else
			buf_printf(b, "%%%02X", c);
	}
}

/* The URL holds the proxy's password: wipe it before it is freed. */
static void url_buf_free(struct buf *url)
{
	if (url->data)
		explicit_bzero(url->data, url->len);
	buf_free(url);
}

/*
 * A password kept in a file is left out of the exports unless asked for:
 * the file exists to keep it out of environments.  Either way the user
 * is told, since a child without it gets 407.  PS_OK, or a code with
 * *err set.
 */
static int file_password_for_env(const struct snapshot *s,
				 const struct ini_entry *pw_file,
				 unsigned flags, char **out, ps_error *err)
{
	char where[SOURCE_MAX];
	int err_no;

	*out = NULL;
	ini_where(pw_file, where, sizeof(where));
	if (!(flags & PS_ENV_INCLUDE_PASSWORD)) {
		log_msg(&s->lg, PS_LOG_WARN, "the proxy password comes from %s"
			" (%s) and is not exported: a child process will get"
			" 407 from the proxy; proxystack env --include-password"
			" exports it", pw_file->value, where);
		return PS_OK;
	}
	*out = modconfig_read_secret_file(pw_file->value, &err_no);
	if (*out)
		return PS_OK;
	if (err_no == ENOMEM)
		return err_nomem(err);
	return err_set(err, PS_ERR_CONFIG, "config", -1, "check the file",
		       "%s: cannot read %s: %s", where, pw_file->value,
		       err_no == EILSEQ ? "it holds a control byte"
		       : err_no == EFBIG ? "its first line is too long"
					 : strerror(err_no));
}

/*
 * The proxy URL with credentials, as child processes expect it: PS_OK,
 * -1 when the instance has no URL, or a code with *err set.
 */
static int proxy_url_for_env(const struct snapshot *s,
			     const struct instance *inst, unsigned flags,
			     struct buf *out, ps_error *err)
{
	const struct ini_entry *url = section_value(s, inst, "url");
	const struct ini_entry *user = section_value(s, inst, "username");
	const struct ini_entry *pw = section_value(s, inst, "password");
	const struct ini_entry *pw_file = section_value(s, inst,
							"password_file");
	char *from_file = NULL;
	const char *sep;

	int rc;

	if (!url)
		return -1;
	sep = strstr(url->value, "://");
	if (!user || strchr(url->value, '@') || !sep) {
		buf_puts(out, url->value);
		return PS_OK;
	}
	if (!pw && pw_file) {
		rc = file_password_for_env(s, pw_file, flags, &from_file, err);
		if (rc != PS_OK)
			return rc;
	}
	buf_append(out, url->value, (size_t)(sep + 3 - url->value));
	put_percent_encoded(out, user->value);
	if (pw || from_file) {
		buf_puts(out, ":");
		put_percent_encoded(out, pw ? pw->value : from_file);
	}
	ps_secret_free(from_file);
	buf_puts(out, "@");
	buf_puts(out, sep + 3);
	return PS_OK;
}

static void put_export(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, "export %s=", name);
	put_sh_quoted(b, value);
	buf_puts(b, "\n");
}

static int env_for_stack(const struct snapshot *s, const struct stack *st,
			 unsigned flags, struct buf *b, ps_error *err)
{
	static const char *const proxy_vars[] = {
		"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
	};
	const struct instance *proxy = NULL;
	struct buf url;
	size_t nproxies = 0;
	int rc;

	for (size_t i = 0; i < st->nhops; i++) {
		if (st->hops[i]->mod->desc->caps & PS_CAP_PROXY) {
			proxy = st->hops[i];
			nproxies++;
		}
	}
	if (nproxies == 0) {
		buf_puts(b, "unset http_proxy https_proxy HTTP_PROXY"
			 " HTTPS_PROXY all_proxy ALL_PROXY\n");
		return PS_OK;
	}
	buf_init(&url);
	rc = nproxies > 1 ? -1 : proxy_url_for_env(s, proxy, flags, &url, err);
	if (rc > 0) {
		url_buf_free(&url);
		return rc;
	}
	if (rc < 0) {
		url_buf_free(&url);
		return err_set(err, PS_ERR_UNSUPPORTED, NULL, -1,
			       "child processes need a single proxy URL",
			       "stack %s (%zu proxies) cannot be expressed in"
			       " http_proxy variables", st->name, nproxies);
	}
	if (url.oom) {
		url_buf_free(&url);
		return err_nomem(err);
	}
	for (size_t i = 0; i < 4; i++)
		put_export(b, proxy_vars[i], url.data);
	url_buf_free(&url);
	return PS_OK;
}

char *dump_env_exports(struct snapshot *s, const char *url, unsigned flags,
		       ps_error *err)
{
	struct route_choice choice;
	struct url dest = { 0 };
	struct buf b;
	int rc;

	ps_error_clear(err);
	buf_init(&b);
	rc = api_parse_dest(url, &dest, err);
	if (rc == PS_OK)
		rc = select_choose_blocking(s, &dest, &choice, err);
	if (rc == PS_OK)
		rc = env_for_stack(s, choice.lines[0].stack, flags, &b, err);
	if (rc == PS_OK && s->no_proxy.value) {
		put_export(&b, "no_proxy", s->no_proxy.value);
		put_export(&b, "NO_PROXY", s->no_proxy.value);
	}
	url_clear(&dest);
	snapshot_unref(s);
	if (rc == PS_OK && b.oom)
		rc = err_nomem(err);
	if (rc != PS_OK) {
		if (b.data)
			explicit_bzero(b.data, b.len);
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

char *dump_modules(struct snapshot *s, ps_error *err)
{
	char *out = loader_list(s->module_path.value);

	ps_error_clear(err);
	snapshot_unref(s);
	if (!out)
		err_nomem(err);
	return out;
}
