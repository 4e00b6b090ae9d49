/*
 * schemes.c - the snapshot's map from proxy URL schemes to the modules
 * that claim them (schemes.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "schemes.h"

/* A table that long is a missing terminator, not a real module. */
#define SCHEMES_PER_MODULE_MAX 64

/*
 * What the shipped modules served before they could say so (ABI 1.0 and
 * 1.1 builds of them): the map the host used to hard-code.
 */
static const struct ps_scheme builtin_http_connect[] = {
	{ "http", 1080, 1 }, { NULL, 0, 0 }
};
static const struct ps_scheme builtin_https_proxy[] = {
	{ "https", 443, 1 }, { NULL, 0, 0 }
};
static const struct ps_scheme builtin_socks[] = {
	{ "socks4", 1080, 0 }, { "socks4a", 1080, 1 },
	{ "socks5", 1080, 0 }, { "socks5h", 1080, 1 }, { NULL, 0, 0 }
};

static const struct {
	const char *module;
	const struct ps_scheme *schemes;
} builtin_claims[] = {
	{ "http-connect", builtin_http_connect },
	{ "https-proxy", builtin_https_proxy },
	{ "socks", builtin_socks },
};

const struct ps_scheme *schemes_of_module(const struct loaded_module *m)
{
	if (m->ops.schemes)
		return m->ops.schemes();
	for (size_t i = 0; i < sizeof(builtin_claims) / sizeof(*builtin_claims);
	     i++)
		if (!strcmp(m->name, builtin_claims[i].module))
			return builtin_claims[i].schemes;
	return NULL;
}

static int scheme_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SCHEME_NAME_MAX || !islower((unsigned char)*name))
		return 0;
	for (const char *c = name; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) &&
		    !strchr("+-.", *c))
			return 0;
	return 1;
}

const struct scheme_claim *schemes_find(const struct scheme_table *t,
					const char *scheme)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->claims[i].name, scheme))
			return &t->claims[i];
	return NULL;
}

static int claim_one(struct scheme_table *t, const struct loaded_module *m,
		     const struct ps_scheme *sc, ps_error *err)
{
	const struct scheme_claim *other = schemes_find(t, sc->name);
	struct scheme_claim *grown;

	if (other)
		return err_set(err, PS_ERR_CONFIG, "modules", -1,
			       "remove one of the two modules from the module"
			       " path", "scheme %s:// is claimed by two"
			       " modules: %s (%s) and %s (%s)", sc->name,
			       other->mod->name, other->mod->path, m->name,
			       m->path);
	grown = realloc(t->claims, (t->n + 1) * sizeof(*grown));
	if (!grown)
		return err_nomem(err);
	t->claims = grown;
	t->claims[t->n++] = (struct scheme_claim){
		.name = sc->name,
		.default_port = sc->default_port,
		.resolve_remotely = sc->resolve_remotely != 0,
		.mod = m,
	};
	return PS_OK;
}

int schemes_add(struct scheme_table *t, const struct loaded_module *m,
		ps_error *err)
{
	const struct ps_scheme *table = schemes_of_module(m);
	size_t i;
	int rc;

	for (i = 0; table && table[i].name; i++) {
		if (i == SCHEMES_PER_MODULE_MAX)
			return err_set(err, PS_ERR_MODULE, "modules", -1,
				       "end the table with { NULL }",
				       "%s: the schemes op returns more than"
				       " %d schemes", m->path,
				       SCHEMES_PER_MODULE_MAX);
		if (!scheme_name_ok(table[i].name) ||
		    table[i].default_port == 0 ||
		    table[i].default_port > 65535)
			return err_set(err, PS_ERR_MODULE, "modules", -1,
				       "a scheme is lower-case, a letter then"
				       " letters, digits, + - or ., with a"
				       " default port 1-65535",
				       "%s: the schemes op declares a bad"
				       " scheme '%.40s' (port %u)", m->path,
				       table[i].name, table[i].default_port);
		rc = claim_one(t, m, &table[i], err);
		if (rc != PS_OK)
			return rc;
	}
	return PS_OK;
}

const char *schemes_module_for_url(const struct scheme_table *t,
				   const char *text)
{
	const char *builtin = url_proxy_module(text);
	const struct scheme_claim *c;
	char scheme[SCHEME_NAME_MAX + 1];
	size_t len;
	const char *sep = text ? strstr(text, "://") : NULL;

	if ((builtin && !strcmp(builtin, "pac")) || !sep)
		return builtin;
	len = (size_t)(sep - text);
	if (len > SCHEME_NAME_MAX)
		return builtin;
	for (size_t i = 0; i < len; i++)
		scheme[i] = (char)tolower((unsigned char)text[i]);
	scheme[len] = '\0';
	c = schemes_find(t, scheme);
	return c ? c->mod->name : builtin;
}

static unsigned claimed_port(const void *user, const char *scheme)
{
	const struct scheme_claim *c = schemes_find(user, scheme);

	return c ? c->default_port : 0;
}

struct url_claims schemes_url_claims(const struct scheme_table *t)
{
	return (struct url_claims){ .port_of = claimed_port, .user = t };
}

void schemes_describe(const struct ps_scheme *table, char *out, size_t outsz)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; table && table[i].name && i < SCHEMES_PER_MODULE_MAX
			   && used < outsz; i++) {
		int n = snprintf(out + used, outsz - used, "%s%.40s (%u%s)",
				 i ? ", " : "", table[i].name,
				 table[i].default_port,
				 table[i].resolve_remotely
					 ? ", names to the proxy" : "");
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

void schemes_free(struct scheme_table *t)
{
	free(t->claims);
	t->claims = NULL;
	t->n = 0;
}
