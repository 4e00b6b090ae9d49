/*
 * env.c - reading proxy settings from the environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"

const char *env_lookup_process(void *user, const char *name)
{
	(void)user;
	return getenv(name);
}

/* Set *v from the first of 'names' that is set and non-empty. */
static int take_first(struct env_value *v, env_lookup_fn lookup, void *user,
		      const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *val = lookup(user, names[i]);

		if (val && *val) {
			v->value = strdup(val);
			snprintf(v->name, sizeof(v->name), "%s", names[i]);
			return v->value ? 0 : -1;
		}
	}
	return 0;
}

static int take_prefixed(struct env_value *v, const char *prefix,
			 const char *suffix, env_lookup_fn lookup, void *user)
{
	char name[80];
	const char *names[1] = { name };

	snprintf(name, sizeof(name), "%s%s", prefix, suffix);
	return take_first(v, lookup, user, names, 1);
}

int env_read(struct env_settings *es, const char *prefix,
	     env_lookup_fn lookup, void *user)
{
	static const char *const https_names[] = { "HTTPS_PROXY", "https_proxy" };
	static const char *const http_names[] = { "HTTP_PROXY", "http_proxy" };
	static const char *const cgi_http_names[] = { "http_proxy" };
	static const char *const all_names[] = { "ALL_PROXY", "all_proxy" };
	static const char *const no_names[] = { "NO_PROXY", "no_proxy" };
	const char *method;
	int rc = 0;

	memset(es, 0, sizeof(*es));
	if (!lookup)
		return 0;
	rc |= take_prefixed(&es->proxy_url, prefix, "PROXY_URL", lookup, user);
	rc |= take_prefixed(&es->proxy_username, prefix, "PROXY_USERNAME",
			    lookup, user);
	rc |= take_prefixed(&es->proxy_password, prefix, "PROXY_PASSWORD",
			    lookup, user);
	rc |= take_prefixed(&es->no_proxy, prefix, "NO_PROXY", lookup, user);
	rc |= take_prefixed(&es->ca_file, prefix, "CA_FILE", lookup, user);
	rc |= take_prefixed(&es->insecure_tls, prefix, "INSECURE_TLS", lookup,
			    user);
	rc |= take_first(&es->https_proxy, lookup, user, https_names, 2);
	/* httpoxy: under CGI, HTTP_PROXY may come from a request header. */
	method = lookup(user, "REQUEST_METHOD");
	if (method && *method)
		rc |= take_first(&es->http_proxy, lookup, user,
				 cgi_http_names, 1);
	else
		rc |= take_first(&es->http_proxy, lookup, user, http_names, 2);
	rc |= take_first(&es->all_proxy, lookup, user, all_names, 2);
	rc |= take_first(&es->sys_no_proxy, lookup, user, no_names, 2);
	if (rc) {
		env_free(es);
		return -1;
	}
	return 0;
}

static void value_free(struct env_value *v, int secret)
{
	if (v->value && secret)
		explicit_bzero(v->value, strlen(v->value));
	free(v->value);
	v->value = NULL;
}

void env_free(struct env_settings *es)
{
	value_free(&es->proxy_url, 1);	/* may hold credentials */
	value_free(&es->proxy_username, 0);
	value_free(&es->proxy_password, 1);
	value_free(&es->no_proxy, 0);
	value_free(&es->ca_file, 0);
	value_free(&es->insecure_tls, 0);
	value_free(&es->https_proxy, 1);
	value_free(&es->http_proxy, 1);
	value_free(&es->all_proxy, 1);
	value_free(&es->sys_no_proxy, 0);
}
