/*
 * http1_connect.c - the HTTP/1.1 CONNECT exchange (RFC 9110 9.3.6),
 * with Basic (RFC 7617), Digest (RFC 7616: MD5, SHA-256, qop=auth), NTLM
 * (NTLMv2 only, auth_ntlm.c) and Negotiate (RFC 4559, auth_negotiate.c)
 * proxy authentication on the same connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1_connect.h"
#include "proxy_auth.h"

/* Internal step result: state changed, keep stepping (never returned). */
#define H1_CONTINUE 1000
/* Internal: this scheme cannot start (no ticket); choose another. */
#define H1_TRY_NEXT (-1)

/* chunked decoder states */
enum {
	CHUNK_SIZE,      /* the hex digits of a chunk-size line */
	CHUNK_EXT,       /* the rest of that line (BWS, chunk extensions) */
	CHUNK_DATA,
	CHUNK_DATA_END,
	CHUNK_TRAILER,
	CHUNK_DONE
};

/* A larger chunk in an answer to CONNECT is hostile (or a bad parse). */
#define CHUNK_SIZE_MAX (1LL << 40)
/* A longer chunk-size line (extensions included) is hostile. */
#define CHUNK_LINE_MAX 4096

static const char *const state_names[] = {
	"reconnect", "send-request", "read-head", "drain-body", "read-error-body", "done",
	"auth-token",
};

/* Copy with truncation (snprintf would warn about the intended cut). */
static void text_copy(char *dst, size_t dstsz, const char *src)
{
	size_t n = strnlen(src, dstsz - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void h1_go_state(struct h1_connect *h, enum h1_state next)
{
	ps_layer_log(h->layer, PS_LOG_DEBUG, "connect %s -> %s",
		     state_names[h->state], state_names[next]);
	h->state = next;
}

/* ------------------------------------------------------------------ */
/* the request                                                         */
/* ------------------------------------------------------------------ */

/* Only bytes a host name or IP literal can hold reach the request line. */
static int target_is_safe(const char *host)
{
	if (!*host)
		return 0;
	for (const char *p = host; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-_:", *p))
			return 0;
	return 1;
}

int h1_connect_authority(ps_layer *layer, char *out, size_t size)
{
	const char *host = ps_layer_target_host(layer);
	unsigned port = ps_layer_target_port(layer);

	if (!target_is_safe(host) || port == 0 || port > 65535)
		return ps_layer_fail(layer, PS_ERR_USAGE, NULL,
				     "refusing to CONNECT to a target with"
				     " unexpected characters");
	snprintf(out, size, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
		 port);
	return PS_OK;
}

int h1_connect_init(struct h1_connect *h, ps_layer *layer,
		    const struct h1_settings *set)
{
	memset(h, 0, sizeof(*h));
	h->layer = layer;
	h->set = set;
	return h1_connect_authority(layer, h->target, sizeof(h->target));
}

/* The request line's method and target: Digest hashes both. */
static int forward_request_line(struct h1_connect *h)
{
	const char *sp1 = memchr(h->fwd_head, ' ', h->fwd_len), *sp2, *eol;

	eol = memchr(h->fwd_head, '\r', h->fwd_len);
	if (!sp1 || !eol || sp1 > eol)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || (size_t)(sp1 - h->fwd_head) >= sizeof(h->fwd_method))
		return -1;
	memcpy(h->fwd_method, h->fwd_head, (size_t)(sp1 - h->fwd_head));
	h->fwd_uri = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	return h->fwd_uri ? 0 : -1;
}

int h1_connect_forward(struct h1_connect *h)
{
	if (ps_layer_forward_take(h->layer, H1_FORWARD_MAX, &h->fwd_head,
				  &h->fwd_len, &h->fwd_has_body) != PS_OK)
		return PS_OK;
	if (forward_request_line(h))
		return ps_layer_fail(h->layer, PS_ERR_USAGE, NULL,
				     "the request to forward has no"
				     " request line");
	return PS_OK;
}

static void out_printf(struct h1_connect *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct h1_connect *h, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (h->out_len >= sizeof(h->out))
		return;
	va_start(ap, fmt);
	n = vsnprintf(h->out + h->out_len, sizeof(h->out) - h->out_len, fmt,
		      ap);
	va_end(ap);
	h->out_len += n > 0 ? (size_t)n : 0;
}

/*
 * Basic's "user:password" must fit in H1_CREDENTIALS_MAX bytes (the limit
 * of the HTTP/2 path too): credentials are never cut short, which the
 * proxy would only report as rejected.
 */
static int credentials_fit(struct h1_connect *h, const char *scheme)
{
	const struct ps_proxy_info *p = h->set->proxy;
	size_t len = strlen(p->username) + 1 +
		     (p->password ? strlen(p->password) : 0);

	if (len < H1_CREDENTIALS_MAX)
		return PS_OK;
	return ps_layer_fail(h->layer, PS_ERR_CONFIG,
			     "shorten the user name or password",
			     "proxy %s: the credentials are too long for %s"
			     " (user:password over %d bytes)", p->display,
			     scheme, H1_CREDENTIALS_MAX - 1);
}

static int add_basic(struct h1_connect *h)
{
	const struct ps_proxy_info *p = h->set->proxy;
	char plain[H1_CREDENTIALS_MAX], coded[4 * H1_CREDENTIALS_MAX / 3 + 8];
	int rc = credentials_fit(h, "Basic");
	int n;

	if (rc != PS_OK)
		return rc;
	n = snprintf(plain, sizeof(plain), "%s:%s", p->username,
		     p->password ? p->password : "");
	if (n < 0 || (size_t)n >= sizeof(plain) ||
	    ps_base64_encode(plain, (size_t)n, coded, sizeof(coded)) ==
		    (size_t)-1)
		rc = ps_layer_fail(h->layer, PS_ERR_CONFIG,
				   "shorten the user name or password",
				   "proxy %s: the credentials are too long"
				   " for Basic", p->display);
	else
		out_printf(h, "Proxy-Authorization: Basic %s\r\n", coded);
	explicit_bzero(plain, sizeof(plain));
	explicit_bzero(coded, sizeof(coded));
	if (rc == PS_OK) {
		h->sent_basic = 1;
		h->use = PROXY_AUTH_BASIC;
	}
	return rc;
}

/* A byte a quoted-string can hold, escaped or not (RFC 9110 5.6.4). */
static int quotable(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int h1_quote_string(const char *in, char *out, size_t outsz)
{
	size_t n = 0;

	if (outsz < 3)
		return -1;
	out[n++] = '"';
	for (const char *p = in; *p; p++) {
		int escape = *p == '"' || *p == '\\';

		if (!quotable((unsigned char)*p))
			return -1;
		/* this byte (escaped?), then the closing quote and NUL */
		if (n + (size_t)escape + 3 > outsz)
			return -1;
		if (escape)
			out[n++] = '\\';
		out[n++] = *p;
	}
	out[n++] = '"';
	out[n] = '\0';
	return 0;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, up to U+10FFFF). */
static int utf8_valid(const unsigned char *p)
{
	while (*p) {
		unsigned c = *p++, need, min, cp;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		for (; need; need--, p++) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (*p & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

/* RFC 8187 attr-char: what an ext-value carries without escaping. */
static int attr_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || (c && strchr("!#$&+-.^_`|~", c));
}

int h1_digest_username_param(const char *user, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *prefix = "username*=UTF-8''";
	size_t n = strlen(prefix);
	int ascii = 1;

	for (const char *p = user; *p; p++) {
		if (!quotable((unsigned char)*p))
			return -1;	/* the host refused it already */
		ascii &= (unsigned char)*p < 0x80;
	}
	if (ascii) {
		if (outsz < 10)
			return -1;
		memcpy(out, "username=", 9);
		return h1_quote_string(user, out + 9, outsz - 9);
	}
	/* Beyond ASCII: RFC 7616 3.4.4 says username*, in UTF-8. */
	if (!utf8_valid((const unsigned char *)user) || outsz <= n)
		return -1;
	memcpy(out, prefix, n);
	for (const unsigned char *p = (const unsigned char *)user; *p; p++) {
		if (n + 4 > outsz)
			return -1;
		if (attr_char(*p)) {
			out[n++] = (char)*p;
			continue;
		}
		out[n++] = '%';
		out[n++] = hex[*p >> 4];
		out[n++] = hex[*p & 15];
	}
	out[n] = '\0';
	return 0;
}

/* hex(H(data)) for the Digest algorithm in use. */
static int digest_hash(const char *algorithm, const char *data, char *hex,
		       size_t hexsz)
{
	const EVP_MD *md = strncasecmp(algorithm, "SHA-256", 7) ? EVP_md5()
								 : EVP_sha256();
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!EVP_Digest(data, strlen(data), raw, &len, md, NULL) ||
	    hexsz < 2 * (size_t)len + 1)
		return -1;
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* snprintf into buf; 0, or -1 if it would not fit whole. */
static int fits(char *buf, size_t bufsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fits(char *buf, size_t bufsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, bufsz, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

/* Returns PS_OK or an error via ps_layer_fail(). */
static int add_digest(struct h1_connect *h)
{
	const struct ps_proxy_info *p = h->set->proxy;
	struct h1_digest *d = &h->digest;
	char buf[H1_FORWARD_MAX + 1024], ha1[129], ha2[129], resp[129];
	char cnonce[33];
	/* "user:realm:password": its own bound, whatever the URI's */
	char cred[1024];
	char user[3 * H1_CREDENTIALS_MAX + 24];
	char realm[2 * sizeof(d->realm) + 3], nonce[2 * sizeof(d->nonce) + 3];
	char opaque[2 * sizeof(d->opaque) + 3];
	/* the request's target: CONNECT's authority, or a forwarded URI */
	const char *uri = h->fwd_head ? h->fwd_uri : h->target;
	size_t quri_size = 2 * strlen(uri) + 3;
	char *quri = NULL;
	unsigned char rnd[16];
	int sess = strcasestr(d->algorithm, "-sess") != NULL;
	int rc = PS_OK;

	quri = malloc(quri_size);
	if (!quri || RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(cnonce + 2 * i, 3, "%02x", rnd[i]);
	d->nc++;
	/* A cut string would give a wrong hash: too long credentials are
	 * a config error, anything else cut an internal one. */
	if (fits(cred, sizeof(cred), "%s:%s:%s", p->username, d->realm,
		 p->password ? p->password : "")) {
		rc = ps_layer_fail(h->layer, PS_ERR_CONFIG,
				   "shorten the user name or password",
				   "proxy %s: the credentials are too long"
				   " for Digest", p->display);
		goto out;
	}
	rc = digest_hash(d->algorithm, cred, ha1, sizeof(ha1));
	explicit_bzero(cred, sizeof(cred));
	if (rc)
		goto fail;
	if (sess) {
		if (fits(buf, sizeof(buf), "%s:%s:%s", ha1, d->nonce, cnonce) ||
		    digest_hash(d->algorithm, buf, ha1, sizeof(ha1)))
			goto fail;
	}
	if (fits(buf, sizeof(buf), "%s:%s", h->fwd_head ? h->fwd_method
						       : "CONNECT", uri) ||
	    digest_hash(d->algorithm, buf, ha2, sizeof(ha2)))
		goto fail;
	if (d->qop_auth ? fits(buf, sizeof(buf), "%s:%s:%08x:%s:auth:%s", ha1,
			       d->nonce, d->nc, cnonce, ha2)
			: fits(buf, sizeof(buf), "%s:%s:%s", ha1, d->nonce,
			       ha2))
		goto fail;
	if (digest_hash(d->algorithm, buf, resp, sizeof(resp)))
		goto fail;
	/* Every echoed value is quoted again: the challenge's were
	 * unescaped when parsed, and none holds a control byte. */
	if (h1_digest_username_param(p->username, user, sizeof(user))) {
		rc = ps_layer_fail(h->layer, PS_ERR_CONFIG,
				   "use a user name in UTF-8, or auth = basic",
				   "proxy %s: the user name cannot be sent in"
				   " Digest (not UTF-8, or too long)",
				   p->display);
		goto out;
	}
	if (h1_quote_string(d->realm, realm, sizeof(realm)) ||
	    h1_quote_string(d->nonce, nonce, sizeof(nonce)) ||
	    h1_quote_string(d->opaque, opaque, sizeof(opaque)) ||
	    h1_quote_string(uri, quri, quri_size))
		goto fail;
	out_printf(h, "Proxy-Authorization: Digest %s, realm=%s, nonce=%s,"
		   " uri=%s, algorithm=%s, response=\"%s\"", user, realm,
		   nonce, quri, d->algorithm[0] ? d->algorithm : "MD5",
		   resp);
	if (d->qop_auth)
		out_printf(h, ", qop=auth, nc=%08x, cnonce=\"%s\"", d->nc,
			   cnonce);
	if (d->opaque[0])
		out_printf(h, ", opaque=%s", opaque);
	out_printf(h, "\r\n");
	h->sent_digest = 1;
	goto out;
fail:
	rc = ps_layer_fail(h->layer, PS_ERR_INTERNAL, NULL,
			   "cannot compute the Digest answer");
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(ha1, sizeof(ha1));
	free(quri);
	return rc;
}

/* The schemes this configuration allows. */
static unsigned allowed_schemes(const struct h1_connect *h)
{
	const struct h1_settings *set = h->set;

	if (set->auth == H1_AUTH_DIGEST)
		return PROXY_AUTH_DIGEST;
	return set->auth_cfg ? set->auth_cfg->schemes : PROXY_AUTH_ALL;
}

static int basic_learned(const struct h1_settings *set)
{
	return set->basic_accepted && atomic_load(set->basic_accepted);
}

static int start_negotiate(struct h1_connect *h);

/*
 * Before the first request: the NTLM or Negotiate handshake that 'auth'
 * names or this instance learned, before any 407 (one round trip less).
 * A scheme that cannot start (no ticket) is left for the 407 to decide.
 * PS_OK, PS_AGAIN while Negotiate's token is being made (call again: the
 * same scheme is picked), or an error.
 */
static int start_preemptive(struct h1_connect *h)
{
	struct proxy_auth_config *a = h->set->auth_cfg;
	unsigned pick;
	int rc;

	while (a && (pick = proxy_auth_preemptive(a, h->tried,
						  h->set->proxy->username !=
							  NULL))) {
		rc = pick == PROXY_AUTH_NEGOTIATE
			     ? start_negotiate(h)
			     : proxy_auth_ntlm_negotiate(h->auth_out,
							 sizeof(h->auth_out));
		if (rc == PS_OK) {
			h->scheme = h->use = pick;
			h->rounds = 0;
			return PS_OK;
		}
		if (rc != H1_TRY_NEXT)
			return rc;
		h->tried |= pick;
	}
	return PS_OK;
}

static int build_request(struct h1_connect *h)
{
	const struct h1_settings *set = h->set;
	int has_creds = set->proxy->username != NULL;
	int rc = PS_OK;

	h->out_len = h->out_sent = 0;
	if (h->fwd_head)	/* the head without its empty line */
		out_printf(h, "%.*s", (int)(h->fwd_len - 2), h->fwd_head);
	else
		out_printf(h, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
			   "User-Agent: %s\r\n", h->target, h->target,
			   set->user_agent);
	if (h->use & (PROXY_AUTH_NTLM | PROXY_AUTH_NEGOTIATE)) {
		if (h->auth_out[0])
			out_printf(h, "Proxy-Authorization: %s %s\r\n",
				   proxy_auth_scheme_name(h->use), h->auth_out);
		explicit_bzero(h->auth_out, sizeof(h->auth_out));
		h->rounds++;
	} else if (has_creds && h->use == PROXY_AUTH_DIGEST) {
		rc = add_digest(h);
	} else if (has_creds && (h->use == PROXY_AUTH_BASIC ||
				 (!h->use && (allowed_schemes(h) &
					      PROXY_AUTH_BASIC) &&
				  (set->auth == H1_AUTH_BASIC ||
				   (set->auth == H1_AUTH_AUTO &&
				    basic_learned(set)))))) {
		rc = add_basic(h);
	}
	if (rc != PS_OK) {
		explicit_bzero(h->out, sizeof(h->out));
		h->out_len = 0;
		return rc;
	}
	for (size_t i = 0; i < set->nheaders; i++)
		out_printf(h, "%s\r\n", set->headers[i]);
	out_printf(h, "\r\n");
	if (h->out_len >= sizeof(h->out))
		return ps_layer_fail(h->layer, PS_ERR_CONFIG,
				     "shorten the extra headers",
				     "the %s request exceeds %d bytes",
				     h->fwd_head ? "forwarded" : "CONNECT",
				     H1_REQUEST_MAX);
	h->requests++;
	return PS_OK;
}

static int send_request(struct h1_connect *h)
{
	while (h->out_sent < h->out_len) {
		size_t n;
		int rc = ps_layer_send_below(h->layer, h->out + h->out_sent,
				    h->out_len - h->out_sent, &n);

		if (rc != PS_OK)
			return rc;
		h->out_sent += n;
	}
	/* The request may hold credentials: keep no copy. */
	explicit_bzero(h->out, h->out_len);
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* the answer head                                                     */
/* ------------------------------------------------------------------ */

static size_t find_head_end(const char *buf, size_t len)
{
	for (size_t i = 1; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i - 1] == '\n')
			return i + 1;
		if (i >= 3 && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r')
			return i + 1;
		if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

static int fail_protocol(struct h1_connect *h, const char *what)
{
	return ps_layer_fail(h->layer, PS_ERR_PROXY_PROTOCOL,
			     "is this port an HTTP proxy? check the proxy URL",
			     "proxy %s: %s", h->set->proxy->display, what);
}

/* "HTTP/1.1 200 Connection established" */
static int parse_status_line(struct h1_connect *h, const char *line,
			     size_t len)
{
	char copy[256];
	int minor;

	if (len >= sizeof(copy))
		len = sizeof(copy) - 1;
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (strncmp(copy, "HTTP/1.", 7) || !isdigit((unsigned char)copy[7]) ||
	    copy[8] != ' ' || !isdigit((unsigned char)copy[9]) ||
	    !isdigit((unsigned char)copy[10]) ||
	    !isdigit((unsigned char)copy[11]) ||
	    (copy[12] != ' ' && copy[12] != '\0'))
		return fail_protocol(h, "the answer is not an HTTP/1.x status"
				     " line");
	minor = copy[7] - '0';
	h->status = atoi(copy + 9);
	h->close_after = minor == 0;
	text_copy(h->reason, sizeof(h->reason), copy[12] ? copy + 13 : "");
	/* Reasons travel into messages: keep them printable. */
	for (char *p = h->reason; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	return PS_OK;
}

static void add_offered(struct h1_connect *h, const char *scheme, size_t n)
{
	size_t used = strlen(h->offered);

	if (used + n + 3 >= sizeof(h->offered))
		return;
	snprintf(h->offered + used, sizeof(h->offered) - used, "%s%.*s",
		 used ? ", " : "", (int)n, scheme);
}

/*
 * Copy a token or quoted-string value starting at *pp into out,
 * unescaped (a quoted-pair gives its byte).  Returns the value's whole
 * length (more than outsz - 1 when cut), or -1 when the value holds a
 * control byte other than HTAB: a value we may echo back must never hold
 * one, and RFC 9110 allows none.
 */
static long parse_param_value(const char **pp, char *out, size_t outsz)
{
	const char *p = *pp;
	size_t n = 0, len = 0;
	int bad = 0;

	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			bad |= !quotable((unsigned char)*p);
			if (n + 1 < outsz)
				out[n++] = *p;
			len++;
		}
		if (*p == '"')
			p++;
	} else {
		/* A token: only RFC 9110 tchar reach our own request. */
		for (; *p && *p != ',' && !isspace((unsigned char)*p); p++) {
			bad |= !quotable((unsigned char)*p);
			if (n + 1 < outsz && (isalnum((unsigned char)*p) ||
					      strchr("!#$%&'*+-.^_`|~", *p)))
				out[n++] = *p;
			len++;
		}
	}
	out[n] = '\0';
	*pp = p;
	return bad ? -1 : (long)len;
}

/* Keep a challenge value we echo back: whole, or the answer is bad. */
static int keep_digest_value(struct h1_connect *h, const char *name,
			     const char *value, long len, char *dst,
			     size_t dstsz)
{
	char what[96];

	if ((size_t)len < dstsz) {
		text_copy(dst, dstsz, value);
		return PS_OK;
	}
	snprintf(what, sizeof(what), "a Digest %s longer than %zu bytes",
		 name, dstsz - 1);
	return fail_protocol(h, what);
}

static int parse_digest_challenge(struct h1_connect *h, const char *p)
{
	struct h1_digest d;
	char name[32], value[256];
	int rc = PS_OK;

	memset(&d, 0, sizeof(d));
	while (*p && rc == PS_OK) {
		size_t n;
		long len;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		n = strcspn(p, "= \t,");
		if (!n || p[n] != '=')
			break;
		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		p += n + 1;
		len = parse_param_value(&p, value, sizeof(value));
		if (len < 0)
			return fail_protocol(h, "a Digest challenge with a"
					     " control byte in a value");
		if (!strcasecmp(name, "realm"))
			rc = keep_digest_value(h, "realm", value, len, d.realm,
					       sizeof(d.realm));
		else if (!strcasecmp(name, "nonce"))
			rc = keep_digest_value(h, "nonce", value, len, d.nonce,
					       sizeof(d.nonce));
		else if (!strcasecmp(name, "opaque"))
			rc = keep_digest_value(h, "opaque", value, len,
					       d.opaque, sizeof(d.opaque));
		else if (!strcasecmp(name, "algorithm"))
			text_copy(d.algorithm, sizeof(d.algorithm), value);
		else if (!strcasecmp(name, "stale"))
			d.stale = !strcasecmp(value, "true");
		else if (!strcasecmp(name, "qop"))
			d.qop_auth = strstr(value, "auth") != NULL &&
				     (strstr(value, "auth-int") == NULL ||
				      strstr(value, "auth,") ||
				      strstr(value, "auth ") ||
				      !strcmp(value, "auth"));
	}
	if (rc != PS_OK || !d.nonce[0])
		return rc;
	if (!d.algorithm[0])
		text_copy(d.algorithm, sizeof(d.algorithm), "MD5");
	if (strcasecmp(d.algorithm, "MD5") &&
	    strcasecmp(d.algorithm, "MD5-sess") &&
	    strcasecmp(d.algorithm, "SHA-256") &&
	    strcasecmp(d.algorithm, "SHA-256-sess"))
		return PS_OK;	/* SHA-512-256 and the rest: not supported */
	/* Prefer SHA-256 when the proxy offers both. */
	if (h->have_digest == 2 && strncasecmp(d.algorithm, "SHA-256", 7))
		return PS_OK;
	h->digest = d;
	h->have_digest = strncasecmp(d.algorithm, "SHA-256", 7) ? 1 : 2;
	return PS_OK;
}

/* The token68 after "NTLM" or "Negotiate" (none: ""); past it. */
static const char *keep_auth_token(struct h1_connect *h, const char *p,
				   char *dst, size_t dstsz, int *rc)
{
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t,");
	if (n >= dstsz) {
		*rc = fail_protocol(h, "an NTLM or Negotiate token over 4 KiB");
		return p + n;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
	return p + n;
}

/*
 * One Proxy-Authenticate value: a challenge, or several joined by commas.
 * NTLM and Negotiate carry at most a token; after Digest and the other
 * schemes come parameters, which end the value for us.
 */
static int parse_authenticate(struct h1_connect *h, const char *v)
{
	int rc = PS_OK;

	while (rc == PS_OK) {
		size_t n;
		unsigned bit;

		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (!*v)
			break;
		n = strcspn(v, " \t,");
		add_offered(h, v, n);
		bit = proxy_auth_scheme_bit(v, n);
		if (bit == PROXY_AUTH_DIGEST) {
			rc = parse_digest_challenge(h, v + n);
			if (h->have_digest)
				h->offers |= PROXY_AUTH_DIGEST;
			break;
		}
		h->offers |= bit;
		if (bit == PROXY_AUTH_NTLM)
			v = keep_auth_token(h, v + n, h->ntlm_token,
					    sizeof(h->ntlm_token), &rc);
		else if (bit == PROXY_AUTH_NEGOTIATE)
			v = keep_auth_token(h, v + n, h->negotiate_token,
					    sizeof(h->negotiate_token), &rc);
		else
			break;
	}
	return rc;
}

static int parse_header(struct h1_connect *h, const char *name, size_t nlen,
			const char *value)
{
	if (nlen == 14 && !strncasecmp(name, "Content-Length", 14)) {
		char *end;
		long long n = strtoll(value, &end, 10);

		if (n < 0 || end == value || (*end && !isspace((unsigned char)*end)))
			return fail_protocol(h, "bad Content-Length");
		h->body.left = n;
	} else if (nlen == 17 && !strncasecmp(name, "Transfer-Encoding", 17)) {
		h->body.chunked = strcasestr(value, "chunked") != NULL;
	} else if ((nlen == 10 && !strncasecmp(name, "Connection", 10)) ||
		   (nlen == 16 && !strncasecmp(name, "Proxy-Connection", 16))) {
		if (strcasestr(value, "close"))
			h->close_after = 1;
		else if (strcasestr(value, "keep-alive"))
			h->close_after = 0;
	} else if (nlen == 18 && !strncasecmp(name, "Proxy-Authenticate", 18)) {
		return parse_authenticate(h, value);
	}
	return PS_OK;
}

/*
 * A NUL, or a CR that does not end a line, has no place in a head (RFC
 * 9112 2.2): proxies and clients would split the lines differently, so
 * the answer is refused, as curl does.
 */
static int check_head_bytes(struct h1_connect *h)
{
	for (size_t i = 0; i < h->head_len; i++) {
		if (h->in[i] == '\0')
			return fail_protocol(h, "a NUL byte in the answer's"
					     " head");
		if (h->in[i] == '\r' &&
		    (i + 1 >= h->head_len || h->in[i + 1] != '\n'))
			return fail_protocol(h, "a bare CR (not followed by"
					     " LF) in the answer's head");
	}
	return PS_OK;
}

/*
 * Walk the header lines of the head, unfolding obsolete line folding
 * (a line starting with space or tab continues the previous one).
 */
static int parse_head(struct h1_connect *h)
{
	char *head = h->in, *end = h->in + h->head_len;
	char *line = head, *eol;
	char field[4096];
	size_t flen = 0;
	int rc;

	rc = check_head_bytes(h);
	if (rc != PS_OK)
		return rc;

	eol = memchr(line, '\n', (size_t)(end - line));
	rc = parse_status_line(h, line, (size_t)(eol - line) -
					       (eol > line && eol[-1] == '\r'));
	if (rc != PS_OK)
		return rc;
	/* Framing and challenges are per answer: a retry's answer on the
	 * same connection must not inherit the previous one's. */
	h->body.left = -1;
	h->body.chunked = 0;
	h->offered[0] = '\0';
	h->have_digest = 0;
	h->offers = 0;
	h->ntlm_token[0] = h->negotiate_token[0] = '\0';
	for (line = eol + 1; line < end; line = eol + 1) {
		size_t len;

		eol = memchr(line, '\n', (size_t)(end - line));
		len = (size_t)(eol - line) - (eol > line && eol[-1] == '\r');
		if ((len == 0 || (*line != ' ' && *line != '\t')) && flen) {
			char *colon = memchr(field, ':', flen);
			char *v;

			field[flen] = '\0';
			if (!colon || colon == field)
				return fail_protocol(h, "malformed header line");
			for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
				;
			rc = parse_header(h, field, (size_t)(colon - field), v);
			if (rc != PS_OK)
				return rc;
			flen = 0;
		}
		if (len == 0)
			break;
		if (flen + len + 1 >= sizeof(field))
			return fail_protocol(h, "a header line over 4 KiB");
		if (flen)
			field[flen++] = ' ';
		memcpy(field + flen, line, len);
		flen += len;
	}
	return PS_OK;
}

static int read_head(struct h1_connect *h)
{
	for (;;) {
		size_t n;
		int rc;

		if (h->in_len == sizeof(h->in))
			return ps_layer_fail(h->layer, PS_ERR_PROXY_PROTOCOL,
					     "the proxy's answer is not HTTP"
					     " or is hostile",
					     "proxy %s: answer head longer than"
					     " %d bytes",
					     h->set->proxy->display,
					     H1_HEAD_MAX);
		rc = ps_layer_recv_below(h->layer, h->in + h->in_len,
				sizeof(h->in) - h->in_len, &n);
		if (rc != PS_OK)
			return rc;
		if (n == 0 && h->scheme)
			return ps_layer_fail(h->layer, PS_ERR_PROXY_AUTH,
					     "NTLM and Negotiate need one"
					     " connection for the whole"
					     " handshake",
					     "proxy %s closed the connection"
					     " in the middle of the %s"
					     " handshake",
					     h->set->proxy->display,
					     proxy_auth_scheme_name(
						     h->scheme));
		if (n == 0)
			return ps_layer_fail(h->layer, PS_ERR_PROXY_PROTOCOL,
					     "see the proxy's logs",
					     "proxy %s closed the connection"
					     " %s", h->set->proxy->display,
					     h->in_len ? "in the middle of its"
							 " answer"
						       : "without answering"
							 " CONNECT");
		h->head_len = find_head_end(h->in, h->in_len + n);
		h->in_len += n;
		if (h->head_len)
			return PS_OK;
	}
}

/* ------------------------------------------------------------------ */
/* bodies of non-2xx answers                                           */
/* ------------------------------------------------------------------ */

static void keep_text(struct h1_body *b, const char *p, size_t n)
{
	size_t room = H1_ERROR_TEXT_MAX - b->text_len;

	if (n > room)
		n = room;
	memcpy(b->text + b->text_len, p, n);
	b->text_len += n;
	b->text[b->text_len] = '\0';
}

/* Feed body bytes; returns 1 when the body is complete, -1 if malformed. */
static int body_feed(struct h1_body *b, const char *p, size_t n)
{
	while (n > 0) {
		if (!b->chunked) {
			size_t take = b->left >= 0 && (long long)n > b->left
					      ? (size_t)b->left : n;

			keep_text(b, p, take);
			b->total += take;
			if (b->left >= 0)
				b->left -= (long long)take;
			p += take;
			n -= take;
			if (b->left == 0)
				return 1;
			continue;
		}
		switch (b->chunk_state) {
		case CHUNK_SIZE:
		case CHUNK_EXT:
			if (++b->line_len > CHUNK_LINE_MAX)
				return -1;
			if (*p == '\n') {
				/* chunk-size = 1*HEXDIG: a line without one is
				 * no chunk size at all. */
				if (!b->size_digits)
					return -1;
				b->chunk_state = b->chunk_left ? CHUNK_DATA
							       : CHUNK_TRAILER;
				b->size_digits = 0;
				b->line_len = 0;
			} else if (b->chunk_state == CHUNK_EXT) {
				/* Extensions mean nothing to us: skipped. */
			} else if (isxdigit((unsigned char)*p)) {
				b->chunk_left = b->chunk_left * 16 +
					(isdigit((unsigned char)*p)
						 ? *p - '0'
						 : tolower((unsigned char)*p) -
							   'a' + 10);
				if (b->chunk_left > CHUNK_SIZE_MAX)
					return -1;
				b->size_digits = 1;
			} else if (b->size_digits &&
				   (*p == ';' || *p == ' ' || *p == '\t' ||
				    *p == '\r')) {
				/* The size ends here; BWS, chunk extensions
				 * (whose hex letters are no digits of it) or
				 * the CR follow up to the LF. */
				b->chunk_state = CHUNK_EXT;
			} else {
				return -1;
			}
			p++;
			n--;
			break;
		case CHUNK_DATA: {
			size_t take = (long long)n > b->chunk_left
					      ? (size_t)b->chunk_left : n;

			keep_text(b, p, take);
			b->total += take;
			b->chunk_left -= (long long)take;
			p += take;
			n -= take;
			if (b->chunk_left == 0)
				b->chunk_state = CHUNK_DATA_END;
			break;
		}
		case CHUNK_DATA_END:
			if (*p == '\n')
				b->chunk_state = CHUNK_SIZE;
			p++;
			n--;
			break;
		case CHUNK_TRAILER:
			/* An empty trailer line ends the body. */
			if (*p == '\n')
				return 1;
			if (*p != '\r')
				b->chunk_state = CHUNK_DONE;
			p++;
			n--;
			break;
		default:	/* inside a trailer field: skip to its end */
			if (*p == '\n')
				b->chunk_state = CHUNK_TRAILER;
			p++;
			n--;
			break;
		}
	}
	return b->chunked ? 0 : b->left == 0;
}

/*
 * The first line of text in a body, with HTML tags dropped: proxies
 * explain refusals there ("ERROR: The requested URL could not be
 * retrieved", "Access denied").
 */
void h1_first_text_line(const char *text, char *out, size_t outsz)
{
	size_t n = 0;
	int in_tag = 0;

	out[0] = '\0';
	for (const char *p = text; *p; p++) {
		if (*p == '<') {
			in_tag = 1;
			if (!strncasecmp(p, "<style", 6) ||
			    !strncasecmp(p, "<script", 7)) {
				const char *close = strstr(p, "</");

				if (!close)
					break;
				p = close;
			}
			continue;
		}
		if (in_tag) {
			in_tag = *p != '>';
			continue;
		}
		if (*p == '\n' || *p == '\r') {
			if (n > 0)
				break;
			continue;
		}
		if (n == 0 && isspace((unsigned char)*p))
			continue;
		if (n + 1 < outsz)
			out[n++] = isprint((unsigned char)*p) ? *p : '?';
	}
	while (n > 0 && isspace((unsigned char)out[n - 1]))
		n--;
	out[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* deciding on the answer                                              */
/* ------------------------------------------------------------------ */

static int can_retry_on_this_connection(const struct h1_connect *h)
{
	return !h->close_after && (h->body.chunked || h->body.left >= 0);
}

/* Record the failure reported once the 407's body is read. */
static int auth_fail(struct h1_connect *h, int code, const char *hint,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int auth_fail(struct h1_connect *h, int code, const char *hint,
		     const char *fmt, ...)
{
	va_list ap;

	h->failure_code = code;
	h->failure_hint = hint;
	va_start(ap, fmt);
	vsnprintf(h->failure, sizeof(h->failure), fmt, ap);
	va_end(ap);
	return H1_READ_ERROR_BODY;
}

/* Schemes not to try again on this connection. */
static unsigned spent_schemes(const struct h1_connect *h)
{
	unsigned spent = h->tried;

	if (h->sent_basic)
		spent |= PROXY_AUTH_BASIC;
	if (h->sent_digest && !h->digest.stale)
		spent |= PROXY_AUTH_DIGEST;
	return spent;
}

static const char *offered_text(const struct h1_connect *h)
{
	return h->offered[0] ? h->offered : "(no Proxy-Authenticate)";
}

static const char *supported_text(void)
{
	return negotiate_available() ? "Negotiate, NTLM, Digest, Basic"
				     : "NTLM, Digest, Basic (no Negotiate:"
				       " built without GSSAPI)";
}

/* Negotiate cannot start (gss_error says why): choose another scheme. */
static int negotiate_cannot_start(struct h1_connect *h)
{
	ps_layer_log(h->layer, PS_LOG_INFO, "proxy %s: Negotiate: %s",
		     h->set->proxy->display, h->gss_error.message);
	negotiate_free(h->gss);
	h->gss = NULL;
	h->gss_failed = 1;
	return H1_TRY_NEXT;
}

/* A job for the first token; NULL with gss_error set. */
static struct proxy_auth_negotiate_first *negotiate_job(struct h1_connect *h)
{
	const struct proxy_auth_config *a = h->set->auth_cfg;
	struct proxy_auth_negotiate_first *job;

	if (!negotiate_available()) {
		/* No thread for what fails at once: it says why. */
		negotiate_new(h->set->proxy->host, NULL, NULL, &h->gss_error);
		return NULL;
	}
	job = proxy_auth_negotiate_first_new(h->set->proxy->host,
					     a ? a->keytab : NULL,
					     a ? a->ccache : NULL);
	if (!job) {
		h->gss_error.code = PS_ERR_NOMEM;
		h->gss_error.hint = NULL;
		text_copy(h->gss_error.message, sizeof(h->gss_error.message),
			  "out of memory");
	}
	return job;
}

/*
 * Negotiate's first token, made on a helper thread: GSSAPI asks the KDC
 * for the proxy's service ticket there and waits for the answer, which
 * must stall neither this connection's deadline nor an event loop that
 * drives other connections.  PS_OK with the token in auth_out and the
 * context in h->gss; PS_AGAIN while it is being made (call again);
 * H1_TRY_NEXT (gss_error says why) if Negotiate cannot start: no ticket,
 * no GSSAPI; or an error, recorded (no thread could be started).
 */
static int start_negotiate(struct h1_connect *h)
{
	struct proxy_auth_negotiate_first *job = h->gss_job;
	int rc;

	if (!job) {
		job = negotiate_job(h);
		if (!job)
			return negotiate_cannot_start(h);
		h->gss_job = job;
	}
	rc = ps_layer_offload(h->layer, proxy_auth_negotiate_first_run,
			      proxy_auth_negotiate_first_free, job);
	if (rc == PS_AGAIN)
		return rc;
	h->gss_job = NULL;	/* ours again (or never started) */
	if (rc == PS_OK && job->rc == 0) {
		negotiate_free(h->gss);
		h->gss = job->ctx;
		job->ctx = NULL;
		text_copy(h->auth_out, sizeof(h->auth_out), job->token);
	} else if (rc == PS_OK) {
		h->gss_error = job->err;
		rc = H1_TRY_NEXT;
	}
	proxy_auth_negotiate_first_free(job);
	return rc == H1_TRY_NEXT ? negotiate_cannot_start(h) : rc;
}

/* Prepare the next request with scheme 'pick'; its next state. */
static int start_scheme(struct h1_connect *h, unsigned pick)
{
	/* A new scheme's first round may start on a new connection. */
	int next = can_retry_on_this_connection(h) ? H1_DRAIN_BODY
						   : H1_RECONNECT;

	if (pick == PROXY_AUTH_NEGOTIATE) {
		/* Its token comes from a helper thread (H1_AUTH_TOKEN). */
		h->gss_after = (enum h1_state)next;
		return H1_AUTH_TOKEN;
	}
	if (pick == PROXY_AUTH_NTLM &&
	    proxy_auth_ntlm_negotiate(h->auth_out, sizeof(h->auth_out)))
		return H1_TRY_NEXT;
	if (pick & (PROXY_AUTH_NTLM | PROXY_AUTH_NEGOTIATE)) {
		h->scheme = pick;
		h->rounds = 0;
	}
	h->use = pick;
	return next;
}

/* The connection-based handshake goes on, on this very connection. */
static int continue_handshake(struct h1_connect *h)
{
	const struct ps_proxy_info *p = h->set->proxy;
	const char *name = proxy_auth_scheme_name(h->scheme);
	int ntlm = h->scheme == PROXY_AUTH_NTLM, rc, complete = 0;
	const char *token = ntlm ? h->ntlm_token : h->negotiate_token;
	char why[160];

	if (!token[0] || (ntlm && h->rounds >= 2) || h->rounds >= 3)
		return auth_fail(h, PS_ERR_PROXY_AUTH,
			ntlm ? "check the user name, password and domain"
			       " (DOMAIN\\user or the domain key);"
			       " proxystack sends NTLMv2 only, never LM or"
			       " NTLMv1"
			     : "check the ticket (klist), this host's clock"
			       " against the proxy's (Kerberos allows 5"
			       " minutes) and that the proxy's keytab holds"
			       " the current key of its HTTP/ principal",
			"proxy %.100s answered %d %.60s: the %s credentials"
			" were rejected%s; it offers: %.100s", p->display,
			h->status, h->reason, name,
			ntlm && h->rounds < 2 ? " (no challenge after Type 1)"
					      : "",
			offered_text(h));
	if (!can_retry_on_this_connection(h))
		return auth_fail(h, PS_ERR_PROXY_AUTH,
			"NTLM and Negotiate need one connection for the whole"
			" handshake: check for a proxy setting or a load"
			" balancer that closes it",
			"proxy %.100s closes the connection in the middle of"
			" the %s handshake", p->display, name);
	if (ntlm) {
		rc = proxy_auth_ntlm_authenticate(token, p, h->set->auth_cfg,
						  h->auth_out,
						  sizeof(h->auth_out), why,
						  sizeof(why));
		if (rc != PS_OK)
			return auth_fail(h, rc, rc == PS_ERR_CONFIG
				? "check the user name, domain and"
				  " workstation"
				: "see the proxy's logs",
				"proxy %.100s: %s", p->display, why);
		return H1_DRAIN_BODY;
	}
	if (proxy_auth_negotiate_step(h->gss, token, h->auth_out,
				      sizeof(h->auth_out), &complete,
				      &h->gss_error) ||
	    !h->auth_out[0])
		return auth_fail(h, h->gss_error.code ? h->gss_error.code
						      : PS_ERR_PROXY_AUTH,
				 h->gss_error.hint,
				 "proxy %.100s: Negotiate: %s", p->display,
				 h->auth_out[0] ? h->gss_error.message
				 : "the proxy asks again after the context"
				   " is complete");
	return H1_DRAIN_BODY;
}

/* Nothing (more) to try: say exactly why. */
static int auth_failure(struct h1_connect *h)
{
	const struct ps_proxy_info *p = h->set->proxy;
	int sent = h->sent_basic || h->sent_digest;
	const char *hint;

	if (h->gss_failed && !sent)
		return auth_fail(h, h->gss_error.code, h->gss_error.hint,
				 "proxy %.100s answered %d %.60s; it offers:"
				 " %.60s; Negotiate: %s", p->display,
				 h->status, h->reason, offered_text(h),
				 h->gss_error.message);
	if (!p->username)
		hint = "set username and password_file in the proxy's section"
		       " (or credentials in its URL)";
	else if (sent)
		hint = "check the user name and password";
	else if (!can_retry_on_this_connection(h))
		hint = "the proxy closed the connection after asking for"
		       " credentials; try auth = basic";
	else
		hint = "proxystack supports Negotiate, NTLM (v2), Basic and"
		       " Digest (MD5, SHA-256); see auth in"
		       " proxystack.conf(5)";
	return auth_fail(h, PS_ERR_PROXY_AUTH, hint, "proxy %.100s answered"
			 " %d %.60s: %s; it offers: %.100s; supported: %s",
			 p->display, h->status, h->reason,
			 !p->username ? "authentication required, none"
					" configured"
			 : sent ? "the credentials were rejected"
				: "no usable authentication scheme",
			 offered_text(h), supported_text());
}

/* 407: retry with (other) credentials, or say exactly why not. */
static int on_auth_required(struct h1_connect *h)
{
	unsigned pick;

	if (h->scheme && !(h->offers & h->scheme)) {
		/* Started before any 407, and this proxy does not offer it:
		 * choose among what it does offer. */
		h->tried |= h->scheme;
		h->scheme = h->use = 0;
		negotiate_free(h->gss);
		h->gss = NULL;
	}
	if (h->scheme)
		return continue_handshake(h);
	while (h->requests < 4 &&
	       (pick = proxy_auth_choose(h->offers, allowed_schemes(h),
					 spent_schemes(h),
					 h->set->proxy->username != NULL))) {
		int next = start_scheme(h, pick);

		if (next != H1_TRY_NEXT)
			return next;
		h->tried |= pick;
	}
	return auth_failure(h);
}

static int on_refused(struct h1_connect *h)
{
	h->failure_code = h->status >= 200 && h->status < 600
				  ? PS_ERR_PROXY_DENIED
				  : PS_ERR_PROXY_PROTOCOL;
	h->failure_hint = h->status == 403
		? "the proxy's rules forbid this destination or port: ask its"
		  " administrators, or route it elsewhere"
		: "see the proxy's message and logs";
	snprintf(h->failure, sizeof(h->failure), "proxy %.100s refused CONNECT"
		 " %.100s: %d %.60s", h->set->proxy->display, h->target,
		 h->status,
		 h->reason);
	return H1_READ_ERROR_BODY;
}

static int report_failure(struct h1_connect *h)
{
	char line[200];

	h1_first_text_line(h->body.text, line, sizeof(line));
	return ps_layer_fail(h->layer, h->failure_code, h->failure_hint,
			     "%s%s%s", h->failure, line[0] ? ": " : "", line);
}

/* The 407's body is consumed: ask again, with credentials. */
static int retry_with_credentials(struct h1_connect *h)
{
	int rc = build_request(h);

	if (rc != PS_OK)
		return rc;
	h1_go_state(h, H1_SEND_REQUEST);
	return H1_CONTINUE;
}

/* Start reading the body with what followed the head in the buffer. */
static int start_body(struct h1_connect *h)
{
	size_t extra = h->in_len - h->head_len;
	int done = 0;

	if (extra)
		done = body_feed(&h->body, h->in + h->head_len, extra);
	h->in_len = 0;
	if (done < 0)
		return -1;
	return done || (!h->body.chunked && h->body.left < 0 &&
			h->state == H1_DRAIN_BODY);
}

/*
 * A 2xx after Negotiate: the proxy's final token, when it sent one, must
 * complete our context (it proves the proxy holds the service key).
 */
static int check_mutual_auth(struct h1_connect *h)
{
	int complete = 0;

	if (h->scheme != PROXY_AUTH_NEGOTIATE || !h->gss ||
	    !h->negotiate_token[0])
		return PS_OK;
	if (proxy_auth_negotiate_step(h->gss, h->negotiate_token,
				      h->auth_out, sizeof(h->auth_out),
				      &complete, &h->gss_error) == 0 &&
	    complete)
		return PS_OK;
	return ps_layer_fail(h->layer, PS_ERR_PROXY_AUTH,
			     "the proxy may not be the one its name says;"
			     " see the proxy's and the KDC's logs",
			     "proxy %s: Negotiate mutual authentication of"
			     " the proxy failed: %s", h->set->proxy->display,
			     complete ? "" : h->gss_error.message);
}

/* "HTTP/1.x 407": a forwarded request's answer we may have to act on. */
static int head_is_407(const struct h1_connect *h)
{
	return h->head_len >= 12 && !memcmp(h->in, "HTTP/1.", 7) &&
	       !memcmp(h->in + 8, " 407", 4);
}

/*
 * A forwarded request's answer other than a 407: the agent's to read,
 * the whole of it, as the proxy sent it.
 */
static int forward_answered(struct h1_connect *h, int learn)
{
	if (ps_layer_unread(h->layer, h->in, h->in_len) != PS_OK)
		return ps_layer_fail(h->layer, PS_ERR_NOMEM, NULL,
				     "out of memory");
	if (learn && h->sent_basic && h->set->basic_accepted)
		atomic_store(h->set->basic_accepted, 1);
	if (learn && h->scheme && h->set->auth_cfg)
		atomic_store(&h->set->auth_cfg->learned, h->scheme);
	ps_layer_set_detail(h->layer, "forwarded %s%s%s", h->fwd_method,
			    h->use ? ", auth " : "",
			    proxy_auth_scheme_name(h->use));
	h1_go_state(h, H1_DONE);
	return PS_OK;
}

static int on_decision(struct h1_connect *h, int next);

static int on_head(struct h1_connect *h)
{
	int rc;

	if (h->fwd_head && !head_is_407(h))
		return forward_answered(h, 1);
	rc = parse_head(h);
	if (rc != PS_OK)
		return rc;
	if (h->status >= 200 && h->status < 300) {
		/* Framing headers on a 2xx mean nothing: the tunnel starts. */
		if (h->in_len > h->head_len &&
		    ps_layer_unread(h->layer, h->in + h->head_len,
				    h->in_len - h->head_len) != PS_OK)
			return ps_layer_fail(h->layer, PS_ERR_NOMEM, NULL,
					     "out of memory");
		rc = check_mutual_auth(h);
		if (rc != PS_OK)
			return rc;
		if (h->sent_basic && h->set->basic_accepted)
			atomic_store(h->set->basic_accepted, 1);
		if (h->scheme && h->set->auth_cfg)
			atomic_store(&h->set->auth_cfg->learned, h->scheme);
		ps_layer_set_detail(h->layer, "%s: %d %s%s%s", h->target,
				    h->status, h->reason,
				    h->use ? ", auth " : "",
				    proxy_auth_scheme_name(h->use));
		h1_go_state(h, H1_DONE);
		return PS_OK;
	}
	if (h->status < 200)
		return fail_protocol(h, "an interim (1xx) answer to CONNECT");
	return on_decision(h, h->status == 407 ? on_auth_required(h)
					       : on_refused(h));
}

/*
 * H1_AUTH_TOKEN: Negotiate's first token is ready, or Negotiate cannot
 * start and another scheme is chosen; then on as start_scheme() decided.
 */
static int on_auth_token(struct h1_connect *h)
{
	int rc = start_negotiate(h);

	if (rc == PS_OK) {
		h->scheme = h->use = PROXY_AUTH_NEGOTIATE;
		h->rounds = 0;
		return on_decision(h, (int)h->gss_after);
	}
	if (rc != H1_TRY_NEXT)
		return rc;      /* PS_AGAIN, or an error */
	h->tried |= PROXY_AUTH_NEGOTIATE;
	return on_decision(h, on_auth_required(h));
}

/* The answer (its head read) decided 'next': reconnect, or read its body. */
static int on_decision(struct h1_connect *h, int next)
{
	int rc, done;

	h1_go_state(h, (enum h1_state)next);
	if (next == H1_AUTH_TOKEN)
		return on_auth_token(h);
	if (next == H1_RECONNECT) {
		/* This connection is done for: ask for a new one below. */
		rc = build_request(h);
		if (rc != PS_OK)
			return rc;
		h1_go_state(h, H1_SEND_REQUEST);
		return ps_layer_reconnect_below(h->layer);
	}
	memset(&h->body.text, 0, sizeof(h->body.text));
	h->body.text_len = 0;
	h->body.total = 0;
	h->body.chunk_state = CHUNK_SIZE;
	h->body.chunk_left = 0;
	h->body.size_digits = 0;
	h->body.line_len = 0;
	done = start_body(h);
	if (done < 0)
		return fail_protocol(h, "malformed chunked body");
	if (!done && h->body.left != 0)
		return H1_CONTINUE;	/* the body is still coming */
	if (next != H1_DRAIN_BODY)
		return report_failure(h);
	return retry_with_credentials(h);
}

/* Read more body; for an error answer, never wait for it. */
static int read_body(struct h1_connect *h)
{
	char buf[4096];

	for (;;) {
		size_t n;
		int rc = ps_layer_recv_below(h->layer, buf, sizeof(buf), &n), done;

		if (rc == PS_AGAIN && h->state == H1_READ_ERROR_BODY)
			return report_failure(h);
		if (rc != PS_OK)
			return rc;
		if (n == 0) {
			if (h->state == H1_READ_ERROR_BODY)
				return report_failure(h);
			if (h->scheme)
				return ps_layer_fail(h->layer,
					PS_ERR_PROXY_AUTH,
					"NTLM and Negotiate need one"
					" connection for the whole handshake",
					"proxy %s closed the connection in"
					" the middle of the %s handshake",
					h->set->proxy->display,
					proxy_auth_scheme_name(h->scheme));
			return ps_layer_fail(h->layer, PS_ERR_PROXY_AUTH,
					     "try auth = basic",
					     "proxy %s closed the connection"
					     " while answering 407",
					     h->set->proxy->display);
		}
		done = body_feed(&h->body, buf, n);
		if (done < 0)
			return fail_protocol(h, "malformed chunked body");
		if (h->body.total > H1_DRAIN_MAX && h->state == H1_DRAIN_BODY)
			return ps_layer_fail(h->layer, PS_ERR_PROXY_PROTOCOL,
					     "the proxy's answer is hostile",
					     "proxy %s: 407 body over %d bytes",
					     h->set->proxy->display,
					     H1_DRAIN_MAX);
		if (!done)
			continue;
		if (h->state == H1_READ_ERROR_BODY)
			return report_failure(h);
		return retry_with_credentials(h);
	}
}

int h1_connect_step(struct h1_connect *h)
{
	int rc = PS_OK;

	for (;;) {
		switch (h->state) {
		case H1_RECONNECT:	/* passed through in on_decision */
		case H1_SEND_REQUEST:
			if (h->requests == 0 && !h->use)
				rc = start_preemptive(h);
			if (rc == PS_OK &&
			    (h->requests == 0 || h->out_len == 0))
				rc = build_request(h);
			if (rc == PS_OK)
				rc = send_request(h);
			if (rc == PS_OK) {
				h->out_len = 0;
				h->in_len = h->head_len = 0;
				/* With a body, the agent sends it now: the
				 * answer is its to read. */
				if (h->fwd_head && h->fwd_has_body) {
					/* Not learned: no answer seen. */
					return forward_answered(h, 0);
				}
				h1_go_state(h, H1_READ_HEAD);
			}
			break;
		case H1_READ_HEAD:
			rc = read_head(h);
			if (rc == PS_OK)
				rc = on_head(h);
			break;
		case H1_DRAIN_BODY:
		case H1_READ_ERROR_BODY:
			rc = read_body(h);
			break;
		case H1_AUTH_TOKEN:
			rc = on_auth_token(h);
			break;
		case H1_DONE:
			return PS_OK;
		}
		if (rc == H1_CONTINUE) {
			rc = PS_OK;
			continue;
		}
		if (rc != PS_OK)
			return rc;
		if (h->state == H1_DONE)
			return PS_OK;
	}
}

void h1_connect_cleanup(struct h1_connect *h)
{
	explicit_bzero(h->out, sizeof(h->out));
	explicit_bzero(h->auth_out, sizeof(h->auth_out));
	negotiate_free(h->gss);
	h->gss = NULL;
	/* A token still being made is the host's: it frees the job once
	 * the helper thread is done. */
	h->gss_job = NULL;
	free(h->fwd_uri);
	h->fwd_uri = NULL;
}
