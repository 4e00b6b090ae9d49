/*
 * auth_negotiate.c - SPNEGO tokens for HTTP Negotiate through GSSAPI
 * (gss_init_sec_context with the SPNEGO mechanism, RFC 4178 and 4559).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "config.h"

/* tests/modules/nogss builds this file as a build without GSSAPI does
 * (t_auth_nogss.sh), so that path is tested without a second build. */
#ifdef PS_TEST_WITHOUT_GSSAPI
#undef HAVE_GSSAPI
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proxystack.h>

#include "auth_negotiate.h"

static void negotiate_set_error(struct negotiate_error *err, int code,
				const char *hint, const char *message)
{
	err->code = code;
	err->hint = hint;
	snprintf(err->message, sizeof(err->message), "%s", message);
}

#ifndef HAVE_GSSAPI

int negotiate_available(void)
{
	return 0;
}

struct negotiate_ctx *negotiate_new(const char *host, const char *keytab,
				    const char *ccache,
				    struct negotiate_error *err)
{
	(void)host;
	(void)keytab;
	(void)ccache;
	negotiate_set_error(err, PS_ERR_UNSUPPORTED,
			    "use a build with GSSAPI (libkrb5-dev at build"
			    " time), or another scheme the proxy offers",
			    "Negotiate (Kerberos): this build of proxystack"
			    " has no GSSAPI");
	return NULL;
}

int negotiate_step(struct negotiate_ctx *ctx, const unsigned char *in,
		   size_t inlen, unsigned char **out, size_t *outlen,
		   int *complete, struct negotiate_error *err)
{
	(void)ctx;
	(void)in;
	(void)inlen;
	(void)out;
	(void)outlen;
	(void)complete;
	negotiate_new(NULL, NULL, NULL, err);
	return -1;
}

const char *negotiate_target(const struct negotiate_ctx *ctx)
{
	(void)ctx;
	return "";
}

void negotiate_free(struct negotiate_ctx *ctx)
{
	(void)ctx;
}

#else /* HAVE_GSSAPI */

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

/* SPNEGO, 1.3.6.1.5.5.2 */
static gss_OID_desc negotiate_spnego_oid = { 6, (void *)"\x2b\x06\x01\x05\x05\x02" };

struct negotiate_ctx {
	char target[300];          /* "HTTP@host" */
	char ccache[64];           /* a private MEMORY: cache, or "" */
	gss_name_t name;
	gss_cred_id_t cred;
	gss_ctx_id_t ctx;
	int complete;
};

int negotiate_available(void)
{
	return 1;
}

/* GSSAPI's words for a status: major, then the mechanism's minor. */
static void negotiate_status_text(OM_uint32 major, OM_uint32 minor,
				  char *out, size_t outsz)
{
	size_t used = 0;

	out[0] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		OM_uint32 code = pass ? minor : major, more = 0, min;
		int type = pass ? GSS_C_MECH_CODE : GSS_C_GSS_CODE;

		if (pass && !minor)
			break;
		/* "Unspecified GSS failure": the minor status says more. */
		if (!pass && minor &&
		    GSS_ROUTINE_ERROR(major) == GSS_S_FAILURE)
			continue;
		do {
			gss_buffer_desc text = GSS_C_EMPTY_BUFFER;

			if (GSS_ERROR(gss_display_status(&min, code, type,
							 GSS_C_NO_OID, &more,
							 &text)))
				break;
			if (used < outsz)
				used += (size_t)snprintf(out + used,
							 outsz - used,
							 "%s%.*s",
							 used ? ": " : "",
							 (int)text.length,
							 (char *)text.value);
			gss_release_buffer(&min, &text);
		} while (more);
	}
}

/* 1 if the minor status is krb5's 'code', or GSSAPI's text of it (which
 * is what survives SPNEGO and the mechglue's remapping) holds 'words'. */
static int negotiate_is(OM_uint32 minor, const char *text, long code,
			const char *words)
{
	return minor == (OM_uint32)code || strstr(text, words) != NULL;
}

/* Turn a failed call into an error with a hint a person can act on. */
static void negotiate_fail(struct negotiate_ctx *ctx, OM_uint32 major,
			   OM_uint32 minor, struct negotiate_error *err)
{
	char text[200];
	const char *hint = "see the proxy's and the KDC's logs";
	const char *what = "Negotiate (Kerberos) failed";
	OM_uint32 routine = GSS_ROUTINE_ERROR(major);

	negotiate_status_text(major, minor, text, sizeof(text));
	if (negotiate_is(minor, text, KRB5KRB_AP_ERR_SKEW, "Clock skew")) {
		what = "clock skew: this host's clock and the KDC's differ by"
		       " more than Kerberos allows (5 minutes by default)";
		hint = "set this host's clock right (NTP, e.g. timedatectl"
		       " set-ntp true) against the domain's time";
	} else if (negotiate_is(minor, text, KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
				"Server ")) {
		what = "the KDC does not know the proxy's service principal";
		hint = "use the proxy's canonical host name in the URL (the"
		       " one its HTTP/ principal is registered for)";
	} else if (routine == GSS_S_CREDENTIALS_EXPIRED ||
		   negotiate_is(minor, text, KRB5KRB_AP_ERR_TKT_EXPIRED,
				"expired")) {
		what = "the Kerberos ticket has expired";
		hint = "renew it with kinit (or configure a keytab)";
	} else if (negotiate_is(minor, text, KRB5KDC_ERR_PREAUTH_FAILED,
				"Preauthentication failed") ||
		   negotiate_is(minor, text, KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN,
				"Client ") ||
		   negotiate_is(minor, text, KRB5_KT_NOTFOUND,
				"Key table")) {
		what = "the keytab's key was refused";
		hint = "check the keytab (klist -k) against the KDC";
	} else if (negotiate_is(minor, text, KRB5_KDC_UNREACH,
				"contact any KDC") ||
		   negotiate_is(minor, text, KRB5_REALM_UNKNOWN,
				"find KDC")) {
		what = "no KDC could be reached";
		hint = "check krb5.conf (KRB5_CONFIG) and the network to the"
		       " KDC";
	} else if (routine == GSS_S_NO_CRED ||
		   negotiate_is(minor, text, KRB5_FCC_NOFILE,
				"credentials cache") ||
		   negotiate_is(minor, text, KRB5_CC_NOTFOUND,
				"No Kerberos credentials")) {
		what = "no Kerberos ticket";
		hint = "run kinit (or set keytab in the proxy's section)";
	}
	err->code = PS_ERR_PROXY_AUTH;
	err->hint = hint;
	snprintf(err->message, sizeof(err->message), "%.110s, for %.60s: %.120s",
		 what, ctx ? ctx->target : "?", text);
}

/* Credentials from the configured keytab and cache, for this call only. */
static int negotiate_acquire(struct negotiate_ctx *ctx, const char *keytab,
			     const char *ccache, struct negotiate_error *err)
{
	gss_key_value_element_desc elems[2];
	gss_key_value_set_desc store = { 0, elems };
	OM_uint32 major, minor;

	if (keytab) {
		elems[store.count].key = "client_keytab";
		elems[store.count++].value = keytab;
		if (!ccache) {
			/* Tickets from the keytab go to a cache of this
			 * context, not to the user's. */
			snprintf(ctx->ccache, sizeof(ctx->ccache),
				 "MEMORY:proxystack-%p", (void *)ctx);
			ccache = ctx->ccache;
		}
	}
	if (ccache) {
		elems[store.count].key = "ccache";
		elems[store.count++].value = ccache;
	}
	if (!store.count)
		return 0;	/* GSS_C_NO_CREDENTIAL: the default cache */
	major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
				      GSS_C_NO_OID_SET, GSS_C_INITIATE, &store,
				      &ctx->cred, NULL, NULL);
	if (GSS_ERROR(major)) {
		negotiate_fail(ctx, major, minor, err);
		return -1;
	}
	return 0;
}

struct negotiate_ctx *negotiate_new(const char *host, const char *keytab,
				    const char *ccache,
				    struct negotiate_error *err)
{
	struct negotiate_ctx *ctx = calloc(1, sizeof(*ctx));
	gss_buffer_desc name;
	OM_uint32 major, minor;

	if (!ctx) {
		negotiate_set_error(err, PS_ERR_NOMEM, NULL, "out of memory");
		return NULL;
	}
	ctx->name = GSS_C_NO_NAME;
	ctx->cred = GSS_C_NO_CREDENTIAL;
	ctx->ctx = GSS_C_NO_CONTEXT;
	snprintf(ctx->target, sizeof(ctx->target), "HTTP@%s", host);
	name.value = ctx->target;
	name.length = strlen(ctx->target);
	major = gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE,
				&ctx->name);
	if (GSS_ERROR(major)) {
		negotiate_fail(ctx, major, minor, err);
		negotiate_free(ctx);
		return NULL;
	}
	if (negotiate_acquire(ctx, keytab, ccache, err)) {
		negotiate_free(ctx);
		return NULL;
	}
	return ctx;
}

int negotiate_step(struct negotiate_ctx *ctx, const unsigned char *in,
		   size_t inlen, unsigned char **out, size_t *outlen,
		   int *complete, struct negotiate_error *err)
{
	gss_buffer_desc input = { inlen, (void *)in };
	gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
	OM_uint32 major, minor, flags = 0;

	*out = NULL;
	*outlen = 0;
	*complete = 0;
	major = gss_init_sec_context(&minor, ctx->cred, &ctx->ctx, ctx->name,
				     &negotiate_spnego_oid, GSS_C_MUTUAL_FLAG,
				     0, GSS_C_NO_CHANNEL_BINDINGS,
				     in ? &input : GSS_C_NO_BUFFER, NULL,
				     &output, &flags, NULL);
	if (GSS_ERROR(major)) {
		OM_uint32 ignored;

		gss_release_buffer(&ignored, &output);
		negotiate_fail(ctx, major, minor, err);
		return -1;
	}
	if (output.length) {
		*out = malloc(output.length);
		if (!*out) {
			gss_release_buffer(&minor, &output);
			negotiate_set_error(err, PS_ERR_NOMEM, NULL,
					    "out of memory");
			return -1;
		}
		memcpy(*out, output.value, output.length);
		*outlen = output.length;
	}
	gss_release_buffer(&minor, &output);
	ctx->complete = major == GSS_S_COMPLETE;
	*complete = ctx->complete;
	return 0;
}

const char *negotiate_target(const struct negotiate_ctx *ctx)
{
	return ctx->target;
}

void negotiate_free(struct negotiate_ctx *ctx)
{
	OM_uint32 minor;

	if (!ctx)
		return;
	if (ctx->ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&minor, &ctx->ctx, GSS_C_NO_BUFFER);
	if (ctx->cred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&minor, &ctx->cred);
	if (ctx->name != GSS_C_NO_NAME)
		gss_release_name(&minor, &ctx->name);
	if (ctx->ccache[0]) {
		/* The private cache dies with the context. */
		krb5_context k;
		krb5_ccache cc;

		if (!krb5_init_context(&k)) {
			if (!krb5_cc_resolve(k, ctx->ccache, &cc))
				krb5_cc_destroy(k, cc);
			krb5_free_context(k);
		}
	}
	free(ctx);
}

#endif /* HAVE_GSSAPI */
