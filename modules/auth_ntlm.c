/*
 * auth_ntlm.c - NTLM Type 1/2/3 messages and NTLMv2 (MS-NLMP 2.2, 3.3.2).
 *
 * Wire integers are little-endian; strings travel in UTF-16LE when the
 * challenge set NTLMSSP_NEGOTIATE_UNICODE (every server since Windows
 * 2000 does), else as the configured bytes (OEM).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_ntlm.h"

static const uint8_t ntlm_signature[8] = "NTLMSSP";

/* MsvAvEOL, MsvAvFlags and MsvAvTimestamp (MS-NLMP 2.2.2.1). */
#define AV_EOL 0
#define AV_FLAGS 6
#define AV_TIMESTAMP 7
/* MsvAvFlags: the AUTHENTICATE_MESSAGE carries a MIC. */
#define AV_FLAG_MIC 0x00000002u

/* The Type 3 header: with a MIC, Version (8 bytes, zero: we do not
 * negotiate it) and the MIC (16) follow the fields (MS-NLMP 2.2.1.3). */
#define TYPE3_HEADER 64
#define TYPE3_HEADER_MIC 88
#define TYPE3_MIC_AT 72

/* The flags of our Type 1: NTLM with extended session security, names
 * in Unicode or OEM as the server likes, its target info please. */
#define NTLM_TYPE1_FLAGS                                                  \
	(NTLM_FLAG_UNICODE | NTLM_FLAG_OEM | NTLM_FLAG_REQUEST_TARGET |   \
	 NTLM_FLAG_NTLM | NTLM_FLAG_ALWAYS_SIGN |                         \
	 NTLM_FLAG_EXTENDED_SESSIONSECURITY)

struct ntlm_crypto {
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *legacy, *deflt;
	EVP_MD *md4;
	EVP_MAC *hmac;
};

/* ------------------------------------------------------------------ */
/* hashes                                                               */
/* ------------------------------------------------------------------ */

/*
 * After a failed load: 1 if the legacy provider's module could not be
 * loaded (OpenSSL's DSO errors say so), 0 for anything else, which
 * then is an allocation that failed (OpenSSL does not always queue an
 * error for those).  The error queue is emptied either way.
 */
static int ntlm_provider_missing(void)
{
	unsigned long e;
	int missing = 0;

	while ((e = ERR_get_error()))
		missing |= ERR_GET_LIB(e) == ERR_LIB_DSO;
	return missing;
}

static void ntlm_crypto_free(struct ntlm_crypto *c)
{
	if (!c)
		return;
	EVP_MD_free(c->md4);
	EVP_MAC_free(c->hmac);
	if (c->legacy)
		OSSL_PROVIDER_unload(c->legacy);
	if (c->deflt)
		OSSL_PROVIDER_unload(c->deflt);
	OSSL_LIB_CTX_free(c->libctx);
	free(c);
}

static struct ntlm_crypto *ntlm_crypto_try(void)
{
	struct ntlm_crypto *c = calloc(1, sizeof(*c));

	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->libctx = OSSL_LIB_CTX_new();
	if (c->libctx) {
		/* MD4 is only in the legacy provider; HMAC and MD5 in the
		 * default one, which a new context does not load by itself
		 * once another provider was loaded explicitly. */
		c->legacy = OSSL_PROVIDER_load(c->libctx, "legacy");
		c->deflt = OSSL_PROVIDER_load(c->libctx, "default");
	}
	if (c->legacy && c->deflt) {
		c->md4 = EVP_MD_fetch(c->libctx, "MD4", NULL);
		c->hmac = EVP_MAC_fetch(c->libctx, "HMAC", NULL);
	}
	if (!c->md4 || !c->hmac) {
		int missing = ntlm_provider_missing();

		ntlm_crypto_free(c);
		errno = missing ? ENOENT : ENOMEM;
		return NULL;
	}
	return c;
}

/*
 * OpenSSL reports an allocation that fails while the provider loads as
 * "could not load the shared library" too: a DSO error is believed only
 * when a second try fails the same way.
 */
static struct ntlm_crypto *ntlm_crypto_new(void)
{
	struct ntlm_crypto *c = ntlm_crypto_try();

	if (!c && errno == ENOENT)
		c = ntlm_crypto_try();
	return c;
}

/*
 * The one context of this process (of this load of the module).  Making
 * one loads the legacy provider: some 2400 allocations, and the one
 * place where OpenSSL 3.0 does not survive every failed allocation (its
 * legacy provider's child context).  A handshake then allocates only its
 * digest and MAC contexts.
 */
static pthread_mutex_t ntlm_crypto_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ntlm_crypto *ntlm_crypto_shared;
static int ntlm_crypto_cleanup_registered;

/*
 * Registered with atexit() from this object, so glibc runs it at exit
 * (or when the module is unloaded, where ntlm_pin_module() failed), and
 * before OpenSSL's own clean-up, which OPENSSL_init_crypto() registered
 * earlier.
 */
static void ntlm_crypto_cleanup(void)
{
	pthread_mutex_lock(&ntlm_crypto_lock);
	ntlm_crypto_free(ntlm_crypto_shared);
	ntlm_crypto_shared = NULL;
	pthread_mutex_unlock(&ntlm_crypto_lock);
}

/*
 * Keep the module this code is in mapped from now on: a snapshot's end
 * closes its modules, and an agent that builds a new context for each
 * connection would otherwise pay for a new library context every time.
 * Best effort: where it fails (or this code is in the program itself),
 * the context is freed when the module is unloaded, and made again.
 */
static void ntlm_pin_module(void)
{
	Dl_info info;

	if (dladdr((void *)ntlm_pin_module, &info) && info.dli_fname)
		(void)dlopen(info.dli_fname,
			     RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static struct ntlm_crypto *ntlm_crypto_get_locked(void)
{
	if (ntlm_crypto_shared)
		return ntlm_crypto_shared;
	/* OpenSSL's atexit handler first, so that ours runs before it. */
	if (OPENSSL_init_crypto(0, NULL) != 1) {
		errno = ENOMEM;
		return NULL;
	}
	if (!ntlm_crypto_cleanup_registered) {
		if (atexit(ntlm_crypto_cleanup)) {
			errno = ENOMEM;
			return NULL;
		}
		ntlm_crypto_cleanup_registered = 1;
	}
	ntlm_crypto_shared = ntlm_crypto_new();
	if (ntlm_crypto_shared)
		ntlm_pin_module();
	return ntlm_crypto_shared;
}

struct ntlm_crypto *ntlm_crypto_get(void)
{
	struct ntlm_crypto *c;
	int saved;

	pthread_mutex_lock(&ntlm_crypto_lock);
	c = ntlm_crypto_get_locked();
	saved = errno;
	pthread_mutex_unlock(&ntlm_crypto_lock);
	errno = saved;
	return c;
}

/* HMAC-MD5(key, a || b || d) into out[16] (b and d may be empty; out may
 * lie inside them: it is written last); 0 or -1. */
static int hmac_md5_3(struct ntlm_crypto *c, const uint8_t *key, size_t klen,
		      const uint8_t *a, size_t alen, const uint8_t *b,
		      size_t blen, const uint8_t *d, size_t dlen,
		      uint8_t *out)
{
	OSSL_PARAM params[2] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						 (char *)"MD5", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(c->hmac);
	size_t outlen = 0;
	int ok;

	ok = ctx && EVP_MAC_init(ctx, key, klen, params) == 1 &&
	     EVP_MAC_update(ctx, a, alen) == 1 &&
	     (!blen || EVP_MAC_update(ctx, b, blen) == 1) &&
	     (!dlen || EVP_MAC_update(ctx, d, dlen) == 1) &&
	     EVP_MAC_final(ctx, out, &outlen, 16) == 1 && outlen == 16;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* HMAC-MD5(key, a || b) into out[16]; 0 or -1. */
static int hmac_md5(struct ntlm_crypto *c, const uint8_t *key, size_t klen,
		    const uint8_t *a, size_t alen, const uint8_t *b,
		    size_t blen, uint8_t out[16])
{
	return hmac_md5_3(c, key, klen, a, alen, b, blen, NULL, 0, out);
}

static int md4(struct ntlm_crypto *c, const uint8_t *data, size_t len,
	       uint8_t out[16])
{
	unsigned n = 0;

	return EVP_Digest(data, len, out, &n, c->md4, NULL) == 1 && n == 16
		       ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* strings                                                              */
/* ------------------------------------------------------------------ */

/*
 * UTF-8 'in' (n bytes) as UTF-16LE into out; ASCII letters upper-cased
 * when 'upper' (NTOWFv2 upper-cases the user name; beyond ASCII the
 * case mapping would need Windows' own table, so it is left as is).
 * Returns the byte length, or -1 (not UTF-8, or no room).
 */
static long utf16le(const char *in, size_t n, int upper, uint8_t *out,
		    size_t outsz)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + n;
	size_t o = 0;

	while (p < end) {
		unsigned cp = *p++, need = 0, min = 0;

		if (cp >= 0xf0 && cp <= 0xf4)
			need = 3, min = 0x10000, cp &= 0x07;
		else if (cp >= 0xe0 && cp <= 0xef)
			need = 2, min = 0x800, cp &= 0x0f;
		else if (cp >= 0xc2 && cp <= 0xdf)
			need = 1, min = 0x80, cp &= 0x1f;
		else if (cp >= 0x80)
			return -1;
		for (; need; need--) {
			if (p >= end || (*p & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (*p++ & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		if (upper && cp >= 'a' && cp <= 'z')
			cp -= 'a' - 'A';
		if (cp >= 0x10000) {
			unsigned v = cp - 0x10000;

			if (o + 4 > outsz)
				return -1;
			out[o++] = (uint8_t)((0xd800 | (v >> 10)) & 0xff);
			out[o++] = (uint8_t)((0xd800 | (v >> 10)) >> 8);
			out[o++] = (uint8_t)((0xdc00 | (v & 0x3ff)) & 0xff);
			out[o++] = (uint8_t)((0xdc00 | (v & 0x3ff)) >> 8);
			continue;
		}
		if (o + 2 > outsz)
			return -1;
		out[o++] = (uint8_t)(cp & 0xff);
		out[o++] = (uint8_t)(cp >> 8);
	}
	return (long)o;
}

const char *ntlm_split_user(const char *user, size_t *domain_len)
{
	const char *slash = strchr(user, '\\');

	*domain_len = slash ? (size_t)(slash - user) : 0;
	return slash ? slash + 1 : user;
}

/* ------------------------------------------------------------------ */
/* little-endian fields                                                 */
/* ------------------------------------------------------------------ */

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

void ntlm_filetime_now(uint8_t out[8])
{
	struct timespec ts;
	uint64_t ft;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* 100 ns intervals since 1601-01-01, 11644473600 s before 1970. */
	ft = ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull +
	     (uint64_t)ts.tv_nsec / 100;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(ft >> (8 * i));
}

/* ------------------------------------------------------------------ */
/* Type 1 and Type 2                                                    */
/* ------------------------------------------------------------------ */

size_t ntlm_negotiate_message(uint8_t *out, size_t outsz)
{
	if (outsz < 32)
		return 0;
	memset(out, 0, 32);
	memcpy(out, ntlm_signature, 8);
	put32(out + 8, 1);
	put32(out + 12, NTLM_TYPE1_FLAGS);
	/* DomainNameFields and WorkstationFields: empty (offset 0). */
	return 32;
}

static int refuse(char *why, size_t whysz, const char *text)
{
	snprintf(why, whysz, "%s", text);
	return -1;
}

/* Walk the AV pairs: each well-formed and inside, MsvAvEOL last. */
static int parse_target_info(struct ntlm_challenge *out, char *why,
			     size_t whysz)
{
	const uint8_t *p = out->target_info;
	size_t left = out->target_info_len;

	while (left >= 4) {
		unsigned id = get16(p), len = get16(p + 2);

		if (len > left - 4)
			return refuse(why, whysz, "an AV pair of its target"
				      " info runs past the block");
		if (id == AV_EOL)
			return 0;	/* what follows EOL is ignored */
		if (id == AV_TIMESTAMP) {
			if (len != 8)
				return refuse(why, whysz, "its MsvAvTimestamp"
					      " is not 8 bytes");
			memcpy(out->timestamp, p + 4, 8);
			out->has_timestamp = 1;
		}
		if (id == AV_FLAGS && len != 4)
			return refuse(why, whysz, "its MsvAvFlags is not 4"
				      " bytes");
		p += 4 + len;
		left -= 4 + len;
	}
	return refuse(why, whysz, "its target info does not end with"
		      " MsvAvEOL");
}

int ntlm_parse_challenge(const uint8_t *msg, size_t len,
			 struct ntlm_challenge *out, char *why,
			 size_t whysz)
{
	memset(out, 0, sizeof(*out));
	out->message = msg;
	out->message_len = len;
	if (len < 32)
		return refuse(why, whysz, "the challenge is shorter than 32"
			      " bytes");
	if (memcmp(msg, ntlm_signature, 8) || get32(msg + 8) != 2)
		return refuse(why, whysz, "the challenge is not an NTLMSSP"
			      " Type 2 message");
	out->flags = get32(msg + 20);
	memcpy(out->server_challenge, msg + 24, 8);
	if (!(out->flags & NTLM_FLAG_NTLM))
		return refuse(why, whysz, "the challenge offers LM only"
			      " (no NTLMSSP_NEGOTIATE_NTLM)");
	if ((out->flags & NTLM_FLAG_LM_KEY) &&
	    !(out->flags & NTLM_FLAG_EXTENDED_SESSIONSECURITY))
		return refuse(why, whysz, "the challenge asks for LM session"
			      " keys (NTLMSSP_NEGOTIATE_LM_KEY)");
	/* TargetInfoFields exist in 48-byte and longer messages, and mean
	 * something only with the flag. */
	if (len >= 48 && (out->flags & NTLM_FLAG_TARGET_INFO)) {
		size_t tlen = get16(msg + 40);
		size_t toff = get32(msg + 44);

		if (tlen > NTLM_TARGET_INFO_MAX)
			return refuse(why, whysz, "its target info is longer"
				      " than 2048 bytes");
		if (toff > len || tlen > len - toff)
			return refuse(why, whysz, "its target info lies"
				      " outside the message");
		memcpy(out->target_info, msg + toff, tlen);
		out->target_info_len = tlen;
		if (tlen && parse_target_info(out, why, whysz))
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* NTLMv2                                                               */
/* ------------------------------------------------------------------ */

int ntlm_ntowfv2(struct ntlm_crypto *c, const char *password,
		 const char *user, const char *domain, uint8_t out[16])
{
	uint8_t pw[2 * NTLM_NAME_MAX], ud[4 * NTLM_NAME_MAX], hash[16];
	long plen, ulen, dlen = 0;
	int rc = -1;

	plen = utf16le(password, strlen(password), 0, pw, sizeof(pw));
	ulen = utf16le(user, strlen(user), 1, ud, sizeof(ud));
	if (ulen >= 0)
		dlen = utf16le(domain, strlen(domain), 0, ud + ulen,
			       sizeof(ud) - (size_t)ulen);
	if (plen >= 0 && ulen >= 0 && dlen >= 0 &&
	    md4(c, pw, (size_t)plen, hash) == 0)
		rc = hmac_md5(c, hash, 16, ud, (size_t)(ulen + dlen), NULL, 0,
			      out);
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(hash, sizeof(hash));
	return rc;
}

size_t ntlm_v2_response(struct ntlm_crypto *c, const uint8_t ntowf[16],
			const uint8_t server_challenge[8],
			const uint8_t client_challenge[8],
			const uint8_t timestamp[8], const uint8_t *target_info,
			size_t target_info_len, uint8_t *out, size_t outsz,
			uint8_t session_key[16])
{
	/* NTProofStr(16), then temp: 1, 1, Z(6), time(8), client
	 * challenge(8), Z(4), target info, Z(4). */
	size_t temp_len = 28 + target_info_len + 4;
	uint8_t *temp = out + 16;

	if (outsz < 16 + temp_len)
		return 0;
	memset(temp, 0, temp_len);
	temp[0] = 1;
	temp[1] = 1;
	memcpy(temp + 8, timestamp, 8);
	memcpy(temp + 16, client_challenge, 8);
	if (target_info_len)
		memcpy(temp + 28, target_info, target_info_len);
	if (hmac_md5(c, ntowf, 16, server_challenge, 8, temp, temp_len, out))
		return 0;
	if (session_key && hmac_md5(c, ntowf, 16, out, 16, NULL, 0,
				    session_key))
		return 0;
	return 16 + temp_len;
}

int ntlm_lmv2_response(struct ntlm_crypto *c, const uint8_t ntowf[16],
		       const uint8_t server_challenge[8],
		       const uint8_t client_challenge[8], uint8_t out[24])
{
	if (hmac_md5(c, ntowf, 16, server_challenge, 8, client_challenge, 8,
		     out))
		return -1;
	memcpy(out + 16, client_challenge, 8);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Type 3                                                               */
/* ------------------------------------------------------------------ */

/* A payload under construction: fields point into it from the header. */
struct ntlm_writer {
	uint8_t *out;
	size_t size, used;
	int failed;
};

/* Append n bytes and fill the 8-byte field header at 'field'. */
static void put_field(struct ntlm_writer *w, size_t field, const void *data,
		      size_t n)
{
	if (w->failed || n > 0xffff || w->used + n > w->size) {
		w->failed = 1;
		return;
	}
	put16(w->out + field, (unsigned)n);
	put16(w->out + field + 2, (unsigned)n);
	put32(w->out + field + 4, (uint32_t)w->used);
	if (n)
		memcpy(w->out + w->used, data, n);
	w->used += n;
}

/* A name as the negotiated encoding wants it; -1 if it cannot be. */
static long encode_name(const char *name, size_t n, int unicode,
			uint8_t *out, size_t outsz)
{
	if (n > NTLM_NAME_MAX)
		return -1;
	if (unicode)
		return utf16le(name, n, 0, out, outsz);
	if (n > outsz)
		return -1;
	memcpy(out, name, n);
	return (long)n;
}

/*
 * The server's target info with MsvAvFlags' MIC bit set (MS-NLMP
 * 3.1.5.1.2): or'ed into its MsvAvFlags, else a pair added before
 * MsvAvEOL.  'ti' passed parse_target_info(); out holds len + 8 bytes.
 * Returns the new length.
 */
static size_t target_info_with_mic_flag(const uint8_t *ti, size_t len,
					uint8_t *out)
{
	size_t i = 0, o = 0;
	int found = 0;

	while (i + 4 <= len && get16(ti + i) != AV_EOL) {
		unsigned n = get16(ti + i + 2);

		memcpy(out + o, ti + i, 4 + n);
		if (get16(ti + i) == AV_FLAGS) {
			put32(out + o + 4, get32(out + o + 4) | AV_FLAG_MIC);
			found = 1;
		}
		o += 4 + n;
		i += 4 + n;
	}
	if (!found) {
		put16(out + o, AV_FLAGS);
		put16(out + o + 2, 4);
		put32(out + o + 4, AV_FLAG_MIC);
		o += 8;
	}
	memset(out + o, 0, 4);	/* MsvAvEOL */
	return o + 4;
}

/*
 * The two responses of a Type 3 for 'id' (NTLMv2 and LMv2 or Z(24)),
 * and the session base key.  With the server's timestamp the target
 * info in the response says a MIC follows.
 */
static size_t ntlm_responses(struct ntlm_crypto *c,
			     const struct ntlm_challenge *ch,
			     const struct ntlm_identity *id,
			     const uint8_t client_challenge[8],
			     const uint8_t now[8], uint8_t lm[24],
			     uint8_t *nt, size_t ntsz, uint8_t session_key[16])
{
	uint8_t owf[16], ti[NTLM_TARGET_INFO_MAX + 8];
	const uint8_t *info = ch->target_info;
	size_t info_len = ch->target_info_len, n = 0;

	if (ch->has_timestamp) {
		info_len = target_info_with_mic_flag(ch->target_info,
						     ch->target_info_len, ti);
		info = ti;
	}
	if (ntlm_ntowfv2(c, id->password, id->user, id->domain, owf) == 0) {
		n = ntlm_v2_response(c, owf, ch->server_challenge,
				     client_challenge,
				     ch->has_timestamp ? ch->timestamp : now,
				     info, info_len, nt, ntsz, session_key);
		/* MS-NLMP 3.1.5.1.2: with the server's timestamp, Z(24). */
		memset(lm, 0, 24);
		if (n && !ch->has_timestamp &&
		    ntlm_lmv2_response(c, owf, ch->server_challenge,
				       client_challenge, lm))
			n = 0;
	}
	explicit_bzero(owf, sizeof(owf));
	return n;
}

/*
 * The MIC (MS-NLMP 3.1.5.1.2): HMAC-MD5 under the exported session key
 * over the three messages, this one with its MIC field zero, written
 * into that field.  Without key exchange (we never ask for it) and with
 * NTLMv2, the exported key is the session base key.
 */
static int ntlm_mic(struct ntlm_crypto *c, const uint8_t session_key[16],
		    const struct ntlm_challenge *ch, uint8_t *msg, size_t len)
{
	uint8_t type1[32];
	size_t n1 = ntlm_negotiate_message(type1, sizeof(type1));

	if (!ch->message)
		return -1;
	memset(msg + TYPE3_MIC_AT, 0, 16);
	return hmac_md5_3(c, session_key, 16, type1, n1, ch->message,
			  ch->message_len, msg, len, msg + TYPE3_MIC_AT);
}

size_t ntlm_authenticate_message(struct ntlm_crypto *c,
				 const struct ntlm_challenge *ch,
				 const struct ntlm_identity *id,
				 const uint8_t client_challenge[8],
				 const uint8_t now[8], uint8_t *out,
				 size_t outsz)
{
	int unicode = (ch->flags & NTLM_FLAG_UNICODE) != 0;
	uint8_t lm[24], nt[16 + 32 + NTLM_TARGET_INFO_MAX + 8], key[16];
	uint8_t dom[2 * NTLM_NAME_MAX], usr[2 * NTLM_NAME_MAX];
	uint8_t wks[2 * NTLM_NAME_MAX];
	long dlen, ulen, wlen, plen;
	size_t ntlen;
	size_t header = ch->has_timestamp ? TYPE3_HEADER_MIC : TYPE3_HEADER;
	struct ntlm_writer w = { out, outsz, header, 0 };
	uint32_t flags;

	dlen = encode_name(id->domain, strlen(id->domain), unicode, dom,
			   sizeof(dom));
	wlen = encode_name(id->workstation, strlen(id->workstation), unicode,
			   wks, sizeof(wks));
	/* The password as NTOWFv2 will encode it (so that a failure
	 * there can only be a hash's). */
	plen = utf16le(id->password, strlen(id->password), 0, usr,
		       sizeof(usr));
	explicit_bzero(usr, sizeof(usr));
	ulen = encode_name(id->user, strlen(id->user), unicode, usr,
			   sizeof(usr));
	errno = EINVAL;
	if (plen < 0 || dlen < 0 || ulen < 0 || wlen < 0 || outsz < header)
		return 0;
	ntlen = ntlm_responses(c, ch, id, client_challenge, now, lm, nt,
			       sizeof(nt), key);
	if (!ntlen) {
		errno = ENOMEM;	/* the password was checked: a hash failed */
		return 0;
	}
	memset(out, 0, header);
	memcpy(out, ntlm_signature, 8);
	put32(out + 8, 3);
	put_field(&w, 12, lm, 24);
	put_field(&w, 20, nt, ntlen);
	put_field(&w, 28, dom, (size_t)dlen);
	put_field(&w, 36, usr, (size_t)ulen);
	put_field(&w, 44, wks, (size_t)wlen);
	put_field(&w, 52, NULL, 0);	/* no key exchange */
	flags = (NTLM_TYPE1_FLAGS & ch->flags) | NTLM_FLAG_NTLM;
	flags &= unicode ? ~NTLM_FLAG_OEM : ~NTLM_FLAG_UNICODE;
	put32(out + 60, flags);
	if (!w.failed && ch->has_timestamp &&
	    ntlm_mic(c, key, ch, out, w.used)) {
		w.failed = 1;
		errno = ENOMEM;	/* a hash failed */
	}
	explicit_bzero(nt, sizeof(nt));
	explicit_bzero(lm, sizeof(lm));
	explicit_bzero(key, sizeof(key));
	if (w.failed) {
		explicit_bzero(out, outsz);
		return 0;
	}
	return w.used;
}
