/*
 * proxy_auth.h - the proxy authentication keys shared by http-connect and
 * https-proxy, and which scheme a connection uses.
 *
 * Keys (of the module's [transport NAME] section):
 *
 *   auth         auto (default) | a list of basic, digest, ntlm,
 *                negotiate (commas or spaces).  auto picks the strongest
 *                scheme the proxy offers that we have credentials for:
 *                Negotiate > NTLM > Digest > Basic.  A list restricts the
 *                choice to its schemes (same order of strength).  "basic"
 *                alone sends Basic with the first request, without
 *                waiting for a 407.
 *   domain       NTLM domain (default: the part before '\' in the user
 *                name, "DOMAIN\user", else none)
 *   workstation  NTLM workstation name (default: none, so the host's name
 *                does not leave it; MS-NLMP allows an empty one)
 *   keytab       Negotiate: a client keytab to get tickets from (instead
 *                of the user's ticket cache)
 *   ccache       Negotiate: the credential cache to use (default: the
 *                user's, KRB5CCNAME; with keytab, a private in-memory
 *                cache per connection)
 *
 * Both are handed to GSSAPI per call (gss_acquire_cred_from's credential
 * store), never through the process environment: no other thread or
 * connection sees them.
 */
#ifndef MODULES_PROXY_AUTH_H
#define MODULES_PROXY_AUTH_H

#include <stdatomic.h>
#include <proxystack/module.h>

#include "auth_negotiate.h"

/* Schemes, as bits; a higher bit is a stronger scheme. */
#define PROXY_AUTH_BASIC 0x1u
#define PROXY_AUTH_DIGEST 0x2u
#define PROXY_AUTH_NTLM 0x4u
#define PROXY_AUTH_NEGOTIATE 0x8u
#define PROXY_AUTH_ALL 0xfu

/* The configured instance's authentication settings (read-only after
 * proxy_auth_configure: shared by every connection). */
struct proxy_auth_config {
	unsigned schemes;        /* allowed schemes (PROXY_AUTH_*) */
	int listed;              /* 'auth' named schemes (not auto) */
	char *domain;            /* NULL: from the user name, else none */
	char *workstation;       /* NULL: none */
	char *keytab;            /* NULL: none */
	char *ccache;            /* NULL: the default one */
	/*
	 * NTLM or Negotiate once a tunnel got through with it (auto): later
	 * connections start that handshake with their first request, one
	 * round trip less.  Shared by every connection, hence atomic.
	 */
	atomic_uint learned;
};

/*
 * Read the keys above.  *policy gets the http1_connect.h policy the list
 * means (H1_AUTH_BASIC for "basic" alone, H1_AUTH_DIGEST for "digest"
 * alone, else H1_AUTH_AUTO).  Returns PS_OK, or a ps_config_error()
 * naming the key; free with proxy_auth_config_clear() in both cases.
 */
int proxy_auth_configure(ps_config *cfg, struct proxy_auth_config *a,
			 int *policy);
void proxy_auth_config_clear(struct proxy_auth_config *a);

/*
 * 1 when this configuration may run a connection-based scheme (NTLM or
 * Negotiate named in 'auth'): such a proxy must be spoken to over
 * HTTP/1.1, since HTTP/2 multiplexes streams of several users on one
 * connection and cannot carry them.
 */
int proxy_auth_wants_http1(const struct proxy_auth_config *a);

/*
 * The connection-based scheme to start with the very first request,
 * before any 407 (as curl does with --proxy-ntlm or --proxy-negotiate):
 * Negotiate or NTLM when 'auth' names them (NTLM only with a user name),
 * else the one this instance learned; 0 for none.  Schemes in 'exclude'
 * are skipped.
 */
unsigned proxy_auth_preemptive(struct proxy_auth_config *a,
			       unsigned exclude, int have_user);

/*
 * The strongest scheme in 'offered' that 'allowed' permits and the
 * credentials allow (Negotiate needs no password; NTLM, Digest and
 * Basic need a user name), without the schemes in 'exclude' (tried
 * already).  0 if none.
 */
unsigned proxy_auth_choose(unsigned offered, unsigned allowed,
			   unsigned exclude, int have_user);

/* "Negotiate", "NTLM", "Digest", "Basic" for one bit; "" otherwise. */
const char *proxy_auth_scheme_name(unsigned scheme);

/* The scheme bit for an auth-scheme token (case-insensitive); 0 if none
 * we know. */
unsigned proxy_auth_scheme_bit(const char *token, size_t len);

/*
 * Decode the base64 (RFC 4648, padding optional) token of an NTLM or
 * Negotiate challenge into out.  Returns the byte count, or -1 for a
 * byte outside the alphabet, misplaced padding, or no room.
 */
long proxy_auth_base64_decode(const char *in, unsigned char *out,
			      size_t outsz);

/*
 * NTLM's Type 1 message, base64, into out.  Returns 0, or -1 if out is
 * too small.
 */
int proxy_auth_ntlm_negotiate(char *out, size_t outsz);

/*
 * NTLM's Type 3 (NTLMv2) answering the base64 Type 2 'challenge' for the
 * proxy's user and password (domain from "DOMAIN\user" or the domain
 * key, workstation from its key), base64, into out.  Returns PS_OK, or
 * a ps_code with 'why' set: PS_ERR_PROXY_PROTOCOL for a malformed or
 * LM/NTLMv1-only challenge, PS_ERR_CONFIG for names NTLM cannot carry,
 * PS_ERR_NOMEM, PS_ERR_INTERNAL (no MD4: OpenSSL's legacy provider).
 * Every copy of the secret-derived bytes is wiped.
 */
int proxy_auth_ntlm_authenticate(const char *challenge,
				 const struct ps_proxy_info *proxy,
				 const struct proxy_auth_config *a, char *out,
				 size_t outsz, char *why, size_t whysz);

/*
 * One Negotiate step: 'in' is the proxy's base64 token (NULL for the
 * first step).  The token to send goes to out in base64 ("" when there
 * is none).  Returns 0 (*complete once established), or -1 with err.
 */
int proxy_auth_negotiate_step(struct negotiate_ctx *ctx, const char *in,
			      char *out, size_t outsz, int *complete,
			      struct negotiate_error *err);

/* Room for the base64 of a token we send (a Kerberos ticket with a PAC). */
#define PROXY_AUTH_OUT_MAX (16 * 1024)

/*
 * Negotiate's first step, made off the connecting thread: there GSSAPI
 * asks the KDC for the proxy's service ticket and waits for its answer.
 * A job holds copies of what it needs, so that it can outlive the
 * connection that started it.  proxy_auth_negotiate_first_run() is the
 * work for ps_layer_offload(), proxy_auth_negotiate_first_free() the
 * abandon function (and what frees the job after it is taken back).
 */
struct proxy_auth_negotiate_first {
	char *host, *keytab, *ccache;        /* copies; NULL: none */
	int rc;                              /* 0: ctx and token are set */
	struct negotiate_ctx *ctx;           /* moved out by the taker */
	char token[PROXY_AUTH_OUT_MAX];      /* base64, to send */
	struct negotiate_error err;          /* rc -1: why */
};

/* A job for HTTP@host; NULL when out of memory. */
struct proxy_auth_negotiate_first *
proxy_auth_negotiate_first_new(const char *host, const char *keytab,
			       const char *ccache);

/* negotiate_new() and the first proxy_auth_negotiate_step(): blocks. */
void proxy_auth_negotiate_first_run(void *job);

/* Free the job, its context if still there, the token wiped.  NULL-safe. */
void proxy_auth_negotiate_first_free(void *job);

#endif
