/*
 * proxy_auth.c - the authentication keys of the CONNECT modules and the
 * choice of a scheme among those a proxy offers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_ntlm.h"
#include "http1_connect.h"
#include "proxy_auth.h"

static const struct {
	const char *name;
	unsigned bit;
} proxy_auth_schemes[] = {
	{ "Negotiate", PROXY_AUTH_NEGOTIATE },
	{ "NTLM", PROXY_AUTH_NTLM },
	{ "Digest", PROXY_AUTH_DIGEST },
	{ "Basic", PROXY_AUTH_BASIC },
};

#define NSCHEMES (sizeof(proxy_auth_schemes) / sizeof(proxy_auth_schemes[0]))

unsigned proxy_auth_scheme_bit(const char *token, size_t len)
{
	for (size_t i = 0; i < NSCHEMES; i++)
		if (strlen(proxy_auth_schemes[i].name) == len &&
		    !strncasecmp(token, proxy_auth_schemes[i].name, len))
			return proxy_auth_schemes[i].bit;
	return 0;
}

const char *proxy_auth_scheme_name(unsigned scheme)
{
	for (size_t i = 0; i < NSCHEMES; i++)
		if (proxy_auth_schemes[i].bit == scheme)
			return proxy_auth_schemes[i].name;
	return "";
}

unsigned proxy_auth_choose(unsigned offered, unsigned allowed,
			   unsigned exclude, int have_user)
{
	unsigned usable = offered & allowed & ~exclude;

	if (!have_user)
		usable &= PROXY_AUTH_NEGOTIATE;
	/* The table is strongest first. */
	for (size_t i = 0; i < NSCHEMES; i++)
		if (usable & proxy_auth_schemes[i].bit)
			return proxy_auth_schemes[i].bit;
	return 0;
}

unsigned proxy_auth_preemptive(struct proxy_auth_config *a,
			       unsigned exclude, int have_user)
{
	unsigned want = a->listed ? a->schemes : atomic_load(&a->learned);

	want &= ~exclude;
	if (want & PROXY_AUTH_NEGOTIATE)
		return PROXY_AUTH_NEGOTIATE;
	if ((want & PROXY_AUTH_NTLM) && have_user)
		return PROXY_AUTH_NTLM;
	return 0;
}

int proxy_auth_wants_http1(const struct proxy_auth_config *a)
{
	return a->listed &&
	       (a->schemes & (PROXY_AUTH_NTLM | PROXY_AUTH_NEGOTIATE));
}

/* "basic, ntlm" or "negotiate ntlm" into a set of bits; 0 if bad. */
static unsigned parse_scheme_list(const char *text)
{
	unsigned set = 0;
	const char *p = text;

	for (;;) {
		size_t n;
		unsigned bit;

		p += strspn(p, ", \t");
		if (!*p)
			return set;
		n = strcspn(p, ", \t");
		bit = proxy_auth_scheme_bit(p, n);
		if (!bit)
			return 0;
		set |= bit;
		p += n;
	}
}

/* An optional string key, copied; PS_OK or PS_ERR_NOMEM. */
static int copy_key(ps_config *cfg, const char *key, char **out)
{
	const char *v = ps_config_get(cfg, key);

	if (!v || !*v)
		return PS_OK;
	*out = strdup(v);
	return *out ? PS_OK : PS_ERR_NOMEM;
}

int proxy_auth_configure(ps_config *cfg, struct proxy_auth_config *a,
			 int *policy)
{
	const char *auth = ps_config_get(cfg, "auth");
	int rc;

	memset(a, 0, sizeof(*a));
	atomic_init(&a->learned, 0);
	a->schemes = PROXY_AUTH_ALL;
	*policy = H1_AUTH_AUTO;
	if (auth && strcasecmp(auth, "auto")) {
		a->schemes = parse_scheme_list(auth);
		if (!a->schemes)
			return ps_config_error(cfg, "auth", "expected auto, or"
					       " a list of basic, digest, ntlm"
					       " and negotiate");
		a->listed = 1;
		if (a->schemes == PROXY_AUTH_BASIC)
			*policy = H1_AUTH_BASIC;
		else if (a->schemes == PROXY_AUTH_DIGEST)
			*policy = H1_AUTH_DIGEST;
	}
	rc = copy_key(cfg, "domain", &a->domain);
	if (rc == PS_OK)
		rc = copy_key(cfg, "workstation", &a->workstation);
	if (rc == PS_OK)
		rc = copy_key(cfg, "keytab", &a->keytab);
	if (rc == PS_OK)
		rc = copy_key(cfg, "ccache", &a->ccache);
	return rc;
}

void proxy_auth_config_clear(struct proxy_auth_config *a)
{
	free(a->domain);
	free(a->workstation);
	free(a->keytab);
	free(a->ccache);
	memset(a, 0, sizeof(*a));
}

long proxy_auth_base64_decode(const char *in, unsigned char *out,
			      size_t outsz)
{
	return ps_base64_decode(in, strlen(in), out, outsz);
}

int proxy_auth_ntlm_negotiate(char *out, size_t outsz)
{
	uint8_t msg[32];
	size_t n = ntlm_negotiate_message(msg, sizeof(msg));

	return ps_base64_encode(msg, n, out, outsz) == (size_t)-1 ? -1 : 0;
}

/* "DOMAIN\user" or the domain key, as NUL-terminated copies. */
static int ntlm_names(const struct ps_proxy_info *proxy,
		      const struct proxy_auth_config *a, char *domain,
		      const char **user)
{
	size_t dlen;

	*user = ntlm_split_user(proxy->username, &dlen);
	if (a && a->domain) {
		if (strlen(a->domain) >= NTLM_NAME_MAX)
			return -1;
		strcpy(domain, a->domain);
		return 0;
	}
	if (dlen >= NTLM_NAME_MAX)
		return -1;
	memcpy(domain, proxy->username, dlen);
	domain[dlen] = '\0';
	return 0;
}

static int ntlm_why(char *why, size_t whysz, int code, const char *text)
{
	snprintf(why, whysz, "%s", text);
	return code;
}

int proxy_auth_ntlm_authenticate(const char *challenge,
				 const struct ps_proxy_info *proxy,
				 const struct proxy_auth_config *a, char *out,
				 size_t outsz, char *why, size_t whysz)
{
	unsigned char raw[H1_TOKEN_MAX];
	uint8_t msg[NTLM_TYPE3_MAX], client_challenge[8], now[8];
	char domain[NTLM_NAME_MAX], parse_why[128];
	struct ntlm_challenge *ch = NULL;
	struct ntlm_identity id;
	struct ntlm_crypto *crypto;
	long rawlen = proxy_auth_base64_decode(challenge, raw, sizeof(raw));
	size_t n = 0;
	int rc = PS_OK;

	if (rawlen < 0)
		return ntlm_why(why, whysz, PS_ERR_PROXY_PROTOCOL,
				"its NTLM challenge is not base64");
	ch = malloc(sizeof(*ch));
	if (!ch)
		return ntlm_why(why, whysz, PS_ERR_NOMEM, "out of memory");
	if (ntlm_parse_challenge(raw, (size_t)rawlen, ch, parse_why,
				 sizeof(parse_why))) {
		snprintf(why, whysz, "NTLM: %s", parse_why);
		rc = PS_ERR_PROXY_PROTOCOL;
		goto out;
	}
	if (ntlm_names(proxy, a, domain, &id.user)) {
		rc = ntlm_why(why, whysz, PS_ERR_CONFIG, "NTLM: the domain"
			      " name is too long");
		goto out;
	}
	id.domain = domain;
	id.workstation = a && a->workstation ? a->workstation : "";
	id.password = proxy->password ? proxy->password : "";
	crypto = ntlm_crypto_get();
	if (!crypto) {
		rc = errno == ENOMEM
			? ntlm_why(why, whysz, PS_ERR_NOMEM, "out of memory")
			: ntlm_why(why, whysz, PS_ERR_INTERNAL, "NTLM: no MD4"
				   " from OpenSSL (is its legacy provider"
				   " installed?)");
		goto out;
	}
	if (RAND_bytes(client_challenge, sizeof(client_challenge)) != 1) {
		rc = ntlm_why(why, whysz, PS_ERR_NOMEM, "NTLM: no random"
			      " bytes (out of memory?)");
		goto out;
	}
	ntlm_filetime_now(now);
	n = ntlm_authenticate_message(crypto, ch, &id, client_challenge, now,
				      msg, sizeof(msg));
	if (!n && errno == ENOMEM)
		rc = ntlm_why(why, whysz, PS_ERR_NOMEM, "out of memory");
	else if (!n)
		rc = ntlm_why(why, whysz, PS_ERR_CONFIG, "NTLM: the user,"
			      " domain, workstation or password is not UTF-8"
			      " or is too long");
	else if (ps_base64_encode(msg, n, out, outsz) == (size_t)-1)
		rc = ntlm_why(why, whysz, PS_ERR_PROXY_PROTOCOL, "NTLM: the"
			      " answer to its challenge would be too long");
out:
	explicit_bzero(msg, sizeof(msg));
	free(ch);
	return rc;
}

int proxy_auth_negotiate_step(struct negotiate_ctx *ctx, const char *in,
			      char *out, size_t outsz, int *complete,
			      struct negotiate_error *err)
{
	unsigned char raw[H1_TOKEN_MAX], *token = NULL;
	size_t tlen = 0;
	long rawlen = 0;
	int rc;

	if (in) {
		rawlen = proxy_auth_base64_decode(in, raw, sizeof(raw));
		if (rawlen < 0) {
			err->code = PS_ERR_PROXY_PROTOCOL;
			err->hint = "see the proxy's logs";
			snprintf(err->message, sizeof(err->message),
				 "its Negotiate token is not base64");
			return -1;
		}
	}
	rc = negotiate_step(ctx, in ? raw : NULL, (size_t)rawlen, &token,
			    &tlen, complete, err);
	out[0] = '\0';
	if (rc == 0 && tlen &&
	    ps_base64_encode(token, tlen, out, outsz) == (size_t)-1) {
		err->code = PS_ERR_PROXY_AUTH;
		err->hint = "a Kerberos ticket this large does not fit in"
			    " a request";
		snprintf(err->message, sizeof(err->message), "the Negotiate"
			 " token is over %zu bytes", outsz * 3 / 4);
		rc = -1;
	}
	free(token);
	return rc;
}

struct proxy_auth_negotiate_first *
proxy_auth_negotiate_first_new(const char *host, const char *keytab,
			       const char *ccache)
{
	struct proxy_auth_negotiate_first *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->rc = -1;
	job->host = strdup(host);
	job->keytab = keytab ? strdup(keytab) : NULL;
	job->ccache = ccache ? strdup(ccache) : NULL;
	if (!job->host || (keytab && !job->keytab) ||
	    (ccache && !job->ccache)) {
		proxy_auth_negotiate_first_free(job);
		return NULL;
	}
	return job;
}

void proxy_auth_negotiate_first_run(void *arg)
{
	struct proxy_auth_negotiate_first *job = arg;
	int complete;

	job->ctx = negotiate_new(job->host, job->keytab, job->ccache,
				 &job->err);
	if (!job->ctx)
		return;
	job->rc = proxy_auth_negotiate_step(job->ctx, NULL, job->token,
					    sizeof(job->token), &complete,
					    &job->err);
}

void proxy_auth_negotiate_first_free(void *arg)
{
	struct proxy_auth_negotiate_first *job = arg;

	if (!job)
		return;
	negotiate_free(job->ctx);
	explicit_bzero(job->token, sizeof(job->token));
	free(job->host);
	free(job->keytab);
	free(job->ccache);
	free(job);
}
