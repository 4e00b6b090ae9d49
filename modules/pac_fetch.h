/*
 * pac_fetch.h - getting a PAC script: a file, or one HTTP/1.1 GET over
 * TCP or TLS (internal to the pac module).
 *
 * Blocking, bounded by a deadline: the pac module runs on the host's
 * select helper thread (module.h, the select op), never on an agent's
 * event loop.  The script is fetched directly, never through a proxy,
 * as browsers fetch theirs.
 */
#ifndef MODULES_PAC_FETCH_H
#define MODULES_PAC_FETCH_H

#include <stddef.h>

/* The largest script accepted (browsers accept a few MB; 1 MiB is ample). */
#define PAC_SCRIPT_MAX (1u << 20)

/* The redirects one fetch follows, as browsers' PAC fetchers bound them. */
#define PAC_REDIRECTS_MAX 5

/* The longest script URL, configured or redirected to (with its NUL). */
#define PAC_URL_MAX 1024

struct pac_fetched {
	char *body;        /* malloc'd, NUL-terminated */
	size_t len;
	long max_age_s;    /* from Cache-Control max-age or Expires; -1: none */
	char url[PAC_URL_MAX]; /* where the script came from, after the
				  redirects ("": a file) */
	unsigned redirects;    /* how many were followed */
};

/*
 * GET 'url' (http:// or https://, no credentials) within 'timeout_ms',
 * following at most PAC_REDIRECTS_MAX redirects (301, 302, 303, 307,
 * 308; absolute or relative Location) within the same time.  https://
 * verifies each server against 'ca_file' (NULL: the system's CAs) and
 * its name.  Returns 0 with *out filled (free out->body), or a ps_code
 * (PS_ERR_RESOLVE, PS_ERR_CONNECT, PS_ERR_TIMEOUT, PS_ERR_TLS,
 * PS_ERR_TLS_VERIFY, PS_ERR_PROXY_PROTOCOL for a malformed or non-200
 * answer and for a refused redirect: too many, a loop, from https:// to
 * http://, to another scheme; PS_ERR_NOMEM) with a one-line reason in
 * 'why'.  Thread-safe (no shared state).
 */
int pac_fetch_url(const char *url, const char *ca_file, long timeout_ms,
		  struct pac_fetched *out, char *why, size_t whysz);

/* Read 'path' whole (at most PAC_SCRIPT_MAX).  0, or PS_ERR_CONFIG. */
int pac_fetch_file(const char *path, struct pac_fetched *out, char *why,
		   size_t whysz);

/*
 * The WPAD candidates for the search domains of a resolv.conf text
 * ('search' and 'domain' lines, the last such line winning, as in
 * resolv.conf(5)): for each domain, "http://wpad.<d>/wpad.dat" for
 * <d> the domain and each parent with at least two labels, most
 * specific first, no duplicates.  Fills up to 'max' malloc'd strings
 * into 'out'; returns how many.
 */
size_t pac_wpad_candidates(const char *resolv_conf, char **out, size_t max);

#endif
