/*
 * auth_ntlm.h - NTLM messages and NTLMv2 arithmetic (MS-NLMP), for the
 * CONNECT exchange's connection-based proxy authentication.
 *
 * Pure functions over byte buffers, no I/O.  The hash functions (MD4,
 * HMAC-MD5) come from OpenSSL 3 through a library context of our own with
 * the legacy provider loaded (MD4 lives there), never the process's
 * default context, which the application owns.  That context is the one
 * piece of global state: made once per process (see ntlm_crypto_get()).
 *
 * Only NTLMv2 responses are ever computed: no LM, no NTLMv1, no NTLMv2
 * "session response" (NTLM2SR).  A challenge that leaves no room for
 * NTLMv2 is refused by ntlm_parse_challenge().
 *
 * When the challenge carries MsvAvTimestamp, the Type 3 carries a MIC
 * and MsvAvFlags says so (MS-NLMP 3.1.5.1.2), as domain controllers that
 * enforce it want.  Not implemented (and not needed by proxies): key
 * exchange, signing and sealing.
 *
 * Thread-safety: ntlm_crypto_get() takes a lock; every other function
 * works on its arguments only, and the shared struct ntlm_crypto is only
 * read (OpenSSL's fetched algorithms may be used by many threads).
 */
#ifndef MODULES_AUTH_NTLM_H
#define MODULES_AUTH_NTLM_H

#include <stddef.h>
#include <stdint.h>

/* Negotiate flags (MS-NLMP 2.2.2.5) that we send or look at. */
#define NTLM_FLAG_UNICODE 0x00000001u
#define NTLM_FLAG_OEM 0x00000002u
#define NTLM_FLAG_REQUEST_TARGET 0x00000004u
#define NTLM_FLAG_LM_KEY 0x00000080u
#define NTLM_FLAG_NTLM 0x00000200u
#define NTLM_FLAG_ALWAYS_SIGN 0x00008000u
#define NTLM_FLAG_EXTENDED_SESSIONSECURITY 0x00080000u
#define NTLM_FLAG_TARGET_INFO 0x00800000u

/* A longer target info block in a challenge is refused as hostile. */
#define NTLM_TARGET_INFO_MAX 2048
/* User, domain and workstation names: bytes of UTF-8 each. */
#define NTLM_NAME_MAX 256
/* The largest Type 3 message we build (header with Version and MIC,
 * responses with an MsvAvFlags pair added, names in UTF-16). */
#define NTLM_TYPE3_MAX                                                    \
	(88 + 24 + 48 + 8 + NTLM_TARGET_INFO_MAX + 6 * NTLM_NAME_MAX)

/* A parsed CHALLENGE_MESSAGE (Type 2). */
struct ntlm_challenge {
	uint32_t flags;
	uint8_t server_challenge[8];
	uint8_t target_info[NTLM_TARGET_INFO_MAX];
	size_t target_info_len;      /* 0: the proxy sent none */
	int has_timestamp;           /* MsvAvTimestamp was in target_info */
	uint8_t timestamp[8];        /* its FILETIME, little-endian */
	/* The message as parsed, for the MIC: points into the caller's
	 * buffer, which must outlive ntlm_authenticate_message(). */
	const uint8_t *message;
	size_t message_len;
};

/* The inputs of a Type 3 besides the challenge (UTF-8 strings). */
struct ntlm_identity {
	const char *user;
	const char *domain;          /* "" for none */
	const char *workstation;     /* "" for none */
	const char *password;        /* "" for none */
};

/* Hash functions in a library context of our own (see above). */
struct ntlm_crypto;

/*
 * The process's hash context: the first call makes it (loading the
 * legacy provider into a new library context), later calls return the
 * same one, so a handshake allocates only its digest and MAC contexts.
 * Thread-safe.  NULL with errno ENOMEM (out of memory) or ENOENT (no
 * legacy provider: no MD4); the next call tries again.  The caller never
 * frees it: once made, it keeps the module that holds this code loaded
 * (RTLD_NODELETE) and is freed at exit, before OpenSSL's own clean-up;
 * where the module cannot be kept, when the module is unloaded.
 */
struct ntlm_crypto *ntlm_crypto_get(void);

/*
 * The NEGOTIATE_MESSAGE (Type 1) into out (at least 32 bytes; no domain,
 * workstation or version: they are optional).  Returns its length.
 */
size_t ntlm_negotiate_message(uint8_t *out, size_t outsz);

/*
 * Parse a CHALLENGE_MESSAGE.  Returns 0, or -1 with a reason a person
 * can read in why (never quoting the message's bytes): too short, not
 * NTLMSSP, not Type 2, a target info block out of range, malformed or
 * longer than NTLM_TARGET_INFO_MAX, an MsvAvTimestamp or MsvAvFlags of
 * the wrong size, or flags that ask for LM only.
 * The TargetName field is not used and not checked (some servers fill
 * its offset with garbage).
 */
int ntlm_parse_challenge(const uint8_t *msg, size_t len,
			 struct ntlm_challenge *out, char *why,
			 size_t whysz);

/* NTOWFv2(password, user, domain) (MS-NLMP 3.3.2).  0 or -1. */
int ntlm_ntowfv2(struct ntlm_crypto *c, const char *password,
		 const char *user, const char *domain, uint8_t out[16]);

/*
 * The NTLMv2 response (MS-NLMP 3.3.2): NTProofStr followed by the
 * "temp" blob (version 1, the FILETIME 'timestamp', the client
 * challenge, the target info).  Writes it to out and returns its length
 * (0 if outsz is too small or a hash failed); also the session base key
 * when session_key is non-NULL.
 */
size_t ntlm_v2_response(struct ntlm_crypto *c, const uint8_t ntowf[16],
			const uint8_t server_challenge[8],
			const uint8_t client_challenge[8],
			const uint8_t timestamp[8], const uint8_t *target_info,
			size_t target_info_len, uint8_t *out, size_t outsz,
			uint8_t session_key[16]);

/* LMv2 (MS-NLMP 3.3.2): HMAC-MD5 over both challenges, then the
 * client challenge; 24 bytes.  0 or -1. */
int ntlm_lmv2_response(struct ntlm_crypto *c, const uint8_t ntowf[16],
		       const uint8_t server_challenge[8],
		       const uint8_t client_challenge[8], uint8_t out[24]);

/*
 * The AUTHENTICATE_MESSAGE (Type 3) answering 'ch' for 'id', with the
 * given client challenge and FILETIME 'now' (used only when the
 * challenge carries no MsvAvTimestamp; with one, LmChallengeResponse is
 * Z(24) as MS-NLMP 3.1.5.1.2 says, else LMv2; with one, the target info
 * in the NTLMv2 response gets MsvAvFlags 0x2 and the message a MIC over
 * our Type 1, ch->message and itself).  Returns its length, or
 * 0 with errno EINVAL (names or password not UTF-8 or over
 * NTLM_NAME_MAX, out too small) or ENOMEM (a hash failed).  out holds
 * secret-derived bytes: wipe it after use.
 */
size_t ntlm_authenticate_message(struct ntlm_crypto *c,
				 const struct ntlm_challenge *ch,
				 const struct ntlm_identity *id,
				 const uint8_t client_challenge[8],
				 const uint8_t now[8], uint8_t *out,
				 size_t outsz);

/* The current time as a little-endian FILETIME (100 ns since 1601). */
void ntlm_filetime_now(uint8_t out[8]);

/*
 * Split "DOMAIN\user" into its parts: *domain_len bytes of 'user' are the
 * domain, and the user name starts at the returned pointer.  Without a
 * backslash the domain is empty and 'user' is returned.
 */
const char *ntlm_split_user(const char *user, size_t *domain_len);

#endif
