/*
 * pac.c - the `pac` module, a stub by design: proxystack does not run
 * proxy auto-config scripts (that takes a JavaScript engine in every
 * agent, and a script that can route traffic anywhere).
 *
 * It exists so that a PAC URL in the configuration or the environment
 * (a .pac or pac+ proxy URL, or [select NAME] with module = pac) is
 * recognised, its keys are checked like any other module's, and every use
 * fails with a clear PS_ERR_UNSUPPORTED that says what to configure
 * instead, never with a silent direct connection.
 *
 * It serves two phases: select (a route with `select = NAME`, which the
 * host itself fails: ABI 1.x has no select op) and transport (a proxy URL
 * that names a PAC file ends up as a hop).
 *
 * Keys (exactly one of them):
 *
 *   url   http://, https:// or file:// (optionally pac+...) of the script
 *   file  an absolute path to the script
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct addrinfo in module.h (netdb.h), strncasecmp */
#endif

#include <string.h>
#include <strings.h>

#include <proxystack/module.h>

#define PAC_MESSAGE "proxy auto-config (PAC) is not supported"
#define PAC_HINT "name the proxy explicitly: proxy_url = " \
	"http://proxy:port in [default], or a [transport] + [stack]"

/* Where a PAC script may come from; "pac+" in front is allowed too. */
static const char *const pac_schemes[] = { "http", "https", "file" };

/* Cheap: a known scheme and something after it.  Never echo the URL. */
static int pac_check_url(ps_config *cfg, const char *url)
{
	const char *sep = strstr(url, "://");
	const char *scheme = url;
	size_t i, len;

	if (sep == NULL || sep[3] == '\0')
		return ps_config_error(cfg, "url", "expected the script's "
				       "URL: http://, https:// or file://");
	if (strncasecmp(scheme, "pac+", 4) == 0)
		scheme += 4;
	len = (size_t)(sep - scheme);
	for (i = 0; i < sizeof(pac_schemes) / sizeof(pac_schemes[0]); i++)
		if (strlen(pac_schemes[i]) == len &&
		    strncasecmp(scheme, pac_schemes[i], len) == 0)
			return PS_OK;
	return ps_config_error(cfg, "url", "a PAC script comes from "
			       "http://, https:// or file://");
}

static int pac_configure(ps_config *cfg, void **instance)
{
	const char *url = ps_config_get(cfg, "url");
	const char *file = ps_config_get(cfg, "file");
	int rc;

	*instance = NULL;
	if (url != NULL && file != NULL)
		return ps_config_error(cfg, "file", "set url or file, not "
				       "both");
	if (url == NULL && file == NULL)
		return ps_config_error(cfg, NULL, "set url (the PAC script's "
				       "URL) or file (its path)");
	if (url != NULL) {
		rc = pac_check_url(cfg, url);
		if (rc != PS_OK)
			return rc;
	} else if (file[0] != '/') {
		/* Relative to what? The agent's working directory is no
		 * place to look for configuration. */
		return ps_config_error(cfg, "file", "needs an absolute path");
	}
	/* At load, not only at use: a site should learn this early. */
	ps_config_log(cfg, PS_LOG_WARN, PAC_MESSAGE ": every use of this "
		      "section will fail");
	return PS_OK;
}

/* As a hop: fail before anything connects. */
static int pac_open(ps_layer *layer, void *instance, void **state)
{
	*state = NULL;
	return ps_layer_fail(layer, PS_ERR_UNSUPPORTED, PAC_HINT,
			     PAC_MESSAGE);
}

static const struct ps_module_ops pac_ops = {
	.configure = pac_configure,
	.open = pac_open,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "pac",
	.phases = PS_PHASE_SELECT | PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
	.summary = "proxy auto-config: recognised, not supported (fails "
		   "clearly)",
	.ops = &pac_ops,
};
