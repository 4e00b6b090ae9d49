/*
 * schemes.h - which module serves which proxy URL scheme (internal).
 *
 * Per snapshot, every module of the module path is asked for the schemes
 * it claims (the schemes op of ABI 1.2; the shipped modules built before
 * it get their built-in claims).  A proxy URL's scheme then names its
 * module, and its default port and whether the proxy resolves names come
 * from the claim.  Two modules claiming one scheme fail the snapshot.
 */
#ifndef HOST_SCHEMES_H
#define HOST_SCHEMES_H

#include <stddef.h>

#include "loader.h"
#include "url.h"

struct scheme_claim {
	const char *name;                 /* in the module's memory */
	unsigned default_port;
	int resolve_remotely;
	const struct loaded_module *mod;  /* owned by the snapshot */
};

struct scheme_table {
	struct scheme_claim *claims;
	size_t n;
};

/* Longest scheme name a module may claim. */
#define SCHEME_NAME_MAX 16

/*
 * The table module 'm' claims: its schemes op's, else the built-in one of
 * a shipped module's name, else NULL.  Not checked (schemes_add does).
 */
const struct ps_scheme *schemes_of_module(const struct loaded_module *m);

/*
 * Add the claims of 'm'.  PS_OK; PS_ERR_MODULE for a malformed table
 * (bad name, port 0, unterminated past 64 entries); PS_ERR_CONFIG when
 * a scheme is already claimed by another module (both named, with their
 * files); PS_ERR_NOMEM.  The error is in *err.
 */
int schemes_add(struct scheme_table *t, const struct loaded_module *m,
		ps_error *err);

/* The claim of 'scheme' (lower-case), or NULL. */
const struct scheme_claim *schemes_find(const struct scheme_table *t,
					const char *scheme);

/*
 * The module that serves the proxy URL 'text': pac for a PAC URL, else
 * the claim of its scheme, else the built-in map (url_proxy_module), so
 * that a shipped module missing from the module path is still named in
 * the error.  NULL for a scheme nobody serves.
 */
const char *schemes_module_for_url(const struct scheme_table *t,
				   const char *text);

/* The claims as url.c's parser takes them (default ports). */
struct url_claims schemes_url_claims(const struct scheme_table *t);

/*
 * "socks4 (1080), socks5h (1080, names to the proxy)" for `proxystack
 * modules`, into out; "" for none.
 */
void schemes_describe(const struct ps_scheme *table, char *out,
		      size_t outsz);

void schemes_free(struct scheme_table *t);

#endif
