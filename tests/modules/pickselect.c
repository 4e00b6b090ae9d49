/*
 * pickselect.c - a select module that hands the host whatever its `alt`
 * keys say, in order, so that t_pac_fetch.sh can check what the host
 * accepts from a select module (ps_select_add) and what it refuses.
 */
#include <stdlib.h>
#include <string.h>

#include <proxystack/module.h>

#define PICK_MAX 32

struct pick {
	char *alts[PICK_MAX];
	size_t n;
};

static int pick_one(void *user, const char *value)
{
	struct pick *p = user;

	if (p->n == PICK_MAX)
		return PS_ERR_CONFIG;
	p->alts[p->n] = strdup(value);
	return p->alts[p->n++] ? 0 : PS_ERR_NOMEM;
}

static void pick_unconfigure(void *instance)
{
	struct pick *p = instance;

	for (size_t i = 0; p && i < p->n; i++)
		free(p->alts[i]);
	free(p);
}

static int pick_configure(ps_config *cfg, void **instance)
{
	struct pick *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return PS_ERR_NOMEM;
	rc = ps_config_get_each(cfg, "alt", pick_one, p);
	if (rc) {
		pick_unconfigure(p);
		return rc == PS_ERR_NOMEM ? rc
			: ps_config_error(cfg, "alt", "too many");
	}
	*instance = p;
	return PS_OK;
}

static int pick_select(ps_select *sel, void *instance, const char *url,
		       const char *host)
{
	struct pick *p = instance;

	ps_select_set_answer(sel, "as configured");
	for (size_t i = 0; i < p->n; i++) {
		int rc = ps_select_add(sel, p->alts[i]);

		if (rc != PS_OK)
			return rc;
	}
	return PS_OK;
}

static const struct ps_module_ops pick_ops = {
	.configure = pick_configure,
	.unconfigure = pick_unconfigure,
	.select = pick_select,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "pickselect",
	.phases = PS_PHASE_SELECT,
	.caps = 0,
	.summary = "test: a select module that names its alt keys",
	.ops = &pick_ops,
};
