/*
 * http1_connect.h - the HTTP/1.1 CONNECT exchange, shared by the
 * http-connect module and the https-proxy module (whose layer below is
 * the host's TLS to the proxy).  Compiled into both.  It runs over the
 * layers below (ps_layer_send_below/recv_below), and a proxy that closes
 * after its 407 gets a fresh connection with ps_layer_reconnect_below().
 *
 * One restartable state machine:
 *
 *   SEND_REQUEST -> READ_HEAD -> (2xx)              DONE
 *                             -> (407, can retry)   DRAIN_BODY -> SEND_REQUEST
 *                             -> (407, closes)      RECONNECT -> SEND_REQUEST
 *                             -> (error answer)     READ_ERROR_BODY -> failed
 *
 * NTLM and Negotiate are connection-based: every round of their
 * handshake (NTLM: Type 1 -> 407 with Type 2 -> Type 3) runs on the one
 * connection that becomes the tunnel.  A RECONNECT may only come before
 * the first round; a proxy that closes in the middle is an error that
 * says so.
 *
 * Bytes that follow a 2xx head belong to the tunnel and are handed back
 * with ps_layer_unread(), never lost.
 */
#ifndef MODULES_HTTP1_CONNECT_H
#define MODULES_HTTP1_CONNECT_H

#include <stdatomic.h>
#include <stddef.h>
#include <proxystack/module.h>

#include "auth_negotiate.h"
#include "proxy_auth.h"

#define H1_HEAD_MAX (16 * 1024)       /* a longer answer head is hostile */
#define H1_REQUEST_MAX (40 * 1024)    /* a forwarded head and a Kerberos
					 ticket */
#define H1_FORWARD_MAX (16 * 1024)    /* the longest head forwarded */
#define H1_DRAIN_MAX (64 * 1024)      /* body of a 407 we read to retry */
#define H1_ERROR_TEXT_MAX 2048        /* body bytes kept for a message */
#define H1_CREDENTIALS_MAX 512        /* "user:password" and its NUL */
#define H1_TOKEN_MAX 4096             /* an NTLM/Negotiate token from a 407 */
#define H1_AUTH_OUT_MAX PROXY_AUTH_OUT_MAX /* base64 of the token we send */

/* Which authentication the client may use. */
enum h1_auth_policy {
	H1_AUTH_AUTO,    /* Basic sent only after the proxy asked for it */
	H1_AUTH_BASIC,   /* Basic sent with the first request, like curl */
	H1_AUTH_DIGEST   /* Digest only: the password never crosses in clear */
};

/* What the exchange needs from the module's configured instance. */
struct h1_settings {
	const struct ps_proxy_info *proxy;  /* address, credentials, display */
	const char *user_agent;             /* never NULL */
	char **headers;                     /* extra "Name: value" lines */
	size_t nheaders;
	enum h1_auth_policy auth;
	/*
	 * Set once this proxy accepted Basic credentials: later connections
	 * (auto policy) send them at once instead of waiting for a 407.
	 * Shared by every connection of the instance, hence atomic.
	 */
	atomic_int *basic_accepted;
	/* Schemes allowed, their keys and what this instance learned
	 * (proxy_auth.h); NULL: any scheme, none learned. */
	struct proxy_auth_config *auth_cfg;
};

enum h1_state {
	H1_RECONNECT,
	H1_SEND_REQUEST,
	H1_READ_HEAD,
	H1_DRAIN_BODY,
	H1_READ_ERROR_BODY,
	H1_DONE,
	H1_AUTH_TOKEN          /* after a 407: Negotiate's first token is
				  being made on a helper thread */
};

/* A parsed Digest challenge (RFC 7616). */
struct h1_digest {
	char realm[128];
	char nonce[192];
	char opaque[192];
	char algorithm[24];   /* "MD5", "SHA-256" (and -sess forms) */
	int qop_auth;         /* the proxy offers qop=auth */
	int stale;
	unsigned nc;
};

/* Body framing of the answer being read. */
struct h1_body {
	int chunked;
	long long left;       /* Content-Length bytes left, -1: unknown */
	int chunk_state;      /* for the chunked decoder */
	long long chunk_left;
	int size_digits;      /* the chunk-size line has a hex digit */
	size_t line_len;      /* bytes of the chunk-size line so far */
	size_t total;         /* body bytes seen */
	char text[H1_ERROR_TEXT_MAX + 1];
	size_t text_len;
};

struct h1_connect {
	enum h1_state state;
	const struct h1_settings *set;
	ps_layer *layer;        /* the exchange runs over the layers below */
	char target[300];      /* host:port, IPv6 in brackets */

	int requests;          /* requests sent on this connection */
	int sent_basic;
	int sent_digest;
	struct h1_digest digest;
	int have_digest;

	char out[H1_REQUEST_MAX];
	size_t out_len, out_sent;
	char in[H1_HEAD_MAX];
	size_t in_len;         /* bytes in 'in' */
	size_t head_len;       /* length of the head once complete */

	/* the answer */
	int status;
	char reason[128];
	int close_after;       /* Connection: close or HTTP/1.0 */
	char offered[256];     /* schemes from Proxy-Authenticate */
	unsigned offers;       /* the same as PROXY_AUTH_* bits */

	/* NTLM and Negotiate: the handshake in progress on this connection */
	unsigned use;          /* the scheme of the next request, or 0 */
	unsigned scheme;       /* PROXY_AUTH_NTLM, _NEGOTIATE or 0 */
	int rounds;            /* its requests sent so far */
	unsigned tried;        /* schemes that could not start (no ticket) */
	char ntlm_token[H1_TOKEN_MAX];       /* from this 407, base64 */
	char negotiate_token[H1_TOKEN_MAX];
	char auth_out[H1_AUTH_OUT_MAX];      /* what the next request sends */
	struct negotiate_ctx *gss;
	struct negotiate_error gss_error;    /* why Negotiate did not start */
	int gss_failed;
	/* Negotiate's first token, made by ps_layer_offload() (GSSAPI
	 * waits for the KDC): the host's while set, never freed here. */
	struct proxy_auth_negotiate_first *gss_job;
	enum h1_state gss_after;             /* H1_AUTH_TOKEN's next state */
	struct h1_body body;
	/* Forwarding (ABI 1.3, h1_connect_forward()): the request head the
	 * host gave, sent instead of CONNECT; NULL when tunnelling. */
	const char *fwd_head;
	size_t fwd_len;
	int fwd_has_body;
	char fwd_method[24];   /* its method and target, for Digest */
	char *fwd_uri;         /* malloc'd, freed by h1_connect_cleanup() */
	int failure_code;      /* the error to report after the body */
	char failure[400];
	const char *failure_hint;
};

/*
 * CONNECT's authority for 'layer's target: "host:port", an IPv6 host in
 * brackets, into out (300 bytes are enough).  The one check of the
 * target for both HTTP/1.1 and HTTP/2: only bytes a host name or an IP
 * literal can hold, a port in 1..65535.  PS_OK, or PS_ERR_USAGE via
 * ps_layer_fail().
 */
int h1_connect_authority(ps_layer *layer, char *out, size_t size);

/*
 * Prepare the exchange for 'layer' (whose target is the destination).
 * Returns PS_OK or an error via ps_layer_fail() (a target that could
 * inject bytes into the request).
 */
int h1_connect_init(struct h1_connect *h, ps_layer *layer,
		    const struct h1_settings *set);

/*
 * After h1_connect_init(): forward the request head the host offers
 * (ps_layer_forward_take(), ABI 1.3) instead of sending CONNECT.  The
 * head goes out with the Proxy-Authorization the proxy calls for; a
 * request without a body is sent again on a 407 challenge (Digest,
 * NTLM, Negotiate rounds on the same connection), one with a body only
 * once, with the credentials known before any challenge (Basic).  The
 * exchange is done once the head is written (with a body) or once an
 * answer other than a 407 we can satisfy has come, which is handed back
 * whole with ps_layer_unread().  PS_OK (forwarding, or nothing offered:
 * CONNECT as usual), or an error via ps_layer_fail().
 */
int h1_connect_forward(struct h1_connect *h);

/* Advance; PS_OK once the tunnel is up, PS_AGAIN, or an error. */
int h1_connect_step(struct h1_connect *h);

/* Wipe buffers that held credentials. */
void h1_connect_cleanup(struct h1_connect *h);

/*
 * The first line of text of a refusal's body, HTML tags (and style and
 * script elements) dropped, control bytes as '?': proxies say why there.
 */
void h1_first_text_line(const char *text, char *out, size_t outsz);

/*
 * RFC 9110 quoted-string of 'in' into out: '"' and '\' escaped with a
 * backslash.  Returns 0, or -1 when 'in' holds a byte no quoted-string
 * can carry (a control byte other than HTAB) or out is too small.
 */
int h1_quote_string(const char *in, char *out, size_t outsz);

/*
 * Digest's user name parameter (RFC 7616 3.4.4): username="..." quoted
 * as above for an ASCII name, username*=UTF-8''... (RFC 8187, percent-
 * encoded) beyond ASCII.  Returns 0, or -1 when it cannot be carried (a
 * control byte, not UTF-8, or out too small).
 */
int h1_digest_username_param(const char *user, char *out, size_t outsz);

#endif
