/*
 * env.h - the environment variables proxystack reads (internal).
 *
 * Level 1 (highest): <prefix>PROXY_URL, _PROXY_USERNAME, _PROXY_PASSWORD,
 * _NO_PROXY, _CA_FILE, _INSECURE_TLS (and _CONF_DIR, read by ctx.c).
 * Level 3 (fallback): HTTPS_PROXY, https_proxy, HTTP_PROXY, http_proxy,
 * ALL_PROXY, all_proxy, NO_PROXY, no_proxy.  HTTP_PROXY is ignored when
 * REQUEST_METHOD is set (CGI "httpoxy").
 */
#ifndef HOST_ENV_H
#define HOST_ENV_H

/* Look up a variable; NULL when unset.  Lets tests pass a fake table. */
typedef const char *(*env_lookup_fn)(void *user, const char *name);

/* getenv() as an env_lookup_fn. */
const char *env_lookup_process(void *user, const char *name);

/* One variable that was set: its value and its name (the source). */
struct env_value {
	char *value;      /* NULL when unset; owned */
	char name[80];    /* the variable's name, e.g. "HTTPS_PROXY" */
};

struct env_settings {
	/* level 1 */
	struct env_value proxy_url, proxy_username, proxy_password;
	struct env_value no_proxy, ca_file, insecure_tls;
	/* level 3, already reduced to the first one set of each family */
	struct env_value https_proxy;  /* HTTPS_PROXY, https_proxy */
	struct env_value http_proxy;   /* HTTP_PROXY (not under CGI), http_proxy */
	struct env_value all_proxy;    /* ALL_PROXY, all_proxy */
	struct env_value sys_no_proxy; /* NO_PROXY, no_proxy */
};

/*
 * Read the variables.  'prefix' as given by the host ("PROXYSTACK_").
 * Empty values count as unset.  Returns 0, or -1 on ENOMEM.
 */
int env_read(struct env_settings *es, const char *prefix,
	     env_lookup_fn lookup, void *user);

/* Free (wiping the password). */
void env_free(struct env_settings *es);

#endif
