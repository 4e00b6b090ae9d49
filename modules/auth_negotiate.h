/*
 * auth_negotiate.h - HTTP Negotiate (RFC 4559): SPNEGO tokens from
 * GSSAPI (MIT krb5), one security context per CONNECT exchange.
 *
 * The target is the host-based service HTTP@<proxy host>.  Credentials
 * come from the user's ticket cache (single sign-on after kinit), or
 * from a client keytab and/or a named cache given in the configuration:
 * those are passed to gss_acquire_cred_from() as a credential store for
 * this one call, so no environment variable (KRB5_CLIENT_KTNAME,
 * KRB5CCNAME) is set and no other thread is affected.  Mutual
 * authentication is requested; the proxy's final token, when it sends
 * one, must complete the context.
 *
 * Built without GSSAPI (configure found no krb5-gssapi), negotiate_start
 * fails with PS_ERR_UNSUPPORTED and a message saying so.
 *
 * Thread-safety: a context is used by one connection (one thread at a
 * time); the functions keep no global state of their own.
 */
#ifndef MODULES_AUTH_NEGOTIATE_H
#define MODULES_AUTH_NEGOTIATE_H

#include <stddef.h>

/* What went wrong, for an error a person can act on. */
struct negotiate_error {
	int code;            /* a ps_code: PS_ERR_PROXY_AUTH, ...  */
	char message[300];   /* GSSAPI's own words included */
	const char *hint;    /* static text */
};

struct negotiate_ctx;

/* 1 if this build has GSSAPI. */
int negotiate_available(void);

/*
 * A context for HTTP@host with the configured keytab and ccache (NULL:
 * none, the user's cache).  NULL on failure (out of memory, or no
 * GSSAPI: err says which).
 */
struct negotiate_ctx *negotiate_new(const char *host, const char *keytab,
				    const char *ccache,
				    struct negotiate_error *err);

/*
 * One step: 'in' is the proxy's token (NULL/0 for the first one).
 * Returns 0 with *out (malloc'ed, the caller frees it) and *outlen set
 * when a token is to be sent (*out NULL: none), *complete once the
 * context is established; -1 with err filled: no ticket (hint kinit),
 * expired ticket, clock skew, unknown service principal (naming the
 * HTTP@host we used), or a token the proxy sent that fails.
 */
int negotiate_step(struct negotiate_ctx *ctx, const unsigned char *in,
		   size_t inlen, unsigned char **out, size_t *outlen,
		   int *complete, struct negotiate_error *err);

/* The target name in use, "HTTP@host". */
const char *negotiate_target(const struct negotiate_ctx *ctx);

void negotiate_free(struct negotiate_ctx *ctx);

#endif
