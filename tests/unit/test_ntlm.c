/*
 * test_ntlm.c - modules/auth_ntlm.c against the published MS-NLMP 4.2.4
 * NTLMv2 test vectors (user "User", domain "Domain", password
 * "Password", server challenge 0123456789abcdef, client challenge
 * aaaaaaaaaaaaaaaa, time 0, the CHALLENGE_MESSAGE of 4.2.4.3), and the
 * Type 2 parser against malformed and hostile challenges.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_ntlm.h"
#include "check.h"

/* MS-NLMP 4.2.4.3: the CHALLENGE_MESSAGE of the NTLMv2 example. */
static const uint8_t spec_challenge[] = {
	0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00, 0x02, 0x00, 0x00,
	0x00, 0x0c, 0x00, 0x0c, 0x00, 0x38, 0x00, 0x00, 0x00, 0x33, 0x82,
	0x8a, 0xe2, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x24, 0x00,
	0x44, 0x00, 0x00, 0x00, 0x06, 0x00, 0x70, 0x17, 0x00, 0x00, 0x00,
	0x0f, 0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00, 0x65, 0x00,
	0x72, 0x00, 0x02, 0x00, 0x0c, 0x00, 0x44, 0x00, 0x6f, 0x00, 0x6d,
	0x00, 0x61, 0x00, 0x69, 0x00, 0x6e, 0x00, 0x01, 0x00, 0x0c, 0x00,
	0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00, 0x65, 0x00, 0x72,
	0x00, 0x00, 0x00, 0x00, 0x00,
};

static const char spec_target_info_hex[] =
	"02000c0044006f006d00610069006e00"
	"01000c0053006500720076006500720000000000";

static const uint8_t server_challenge[8] = { 0x01, 0x23, 0x45, 0x67,
					     0x89, 0xab, 0xcd, 0xef };
static const uint8_t client_challenge[8] = { 0xaa, 0xaa, 0xaa, 0xaa,
					     0xaa, 0xaa, 0xaa, 0xaa };
static const uint8_t time_zero[8];

/* OpenSSL allocations one Type 3 may make once the process's context
 * exists (MD4 and three HMAC-MD5: their contexts).  */
#define NTLM_HANDSHAKE_ALLOCS_MAX 80

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[p[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void test_vectors(struct ntlm_crypto *c)
{
	struct ntlm_challenge ch;
	uint8_t owf[16], key[16], resp[256], lm[24];
	char text[600], why[128];
	size_t n;

	CHECK(ntlm_ntowfv2(c, "Password", "User", "Domain", owf) == 0);
	hex(owf, 16, text);
	CHECK_STR(text, "0c868a403bfd7a93a3001ef22ef02e3f");
	/* The user name is upper-cased, the domain is not. */
	CHECK(ntlm_ntowfv2(c, "Password", "user", "Domain", key) == 0 &&
	      !memcmp(key, owf, 16));
	CHECK(ntlm_ntowfv2(c, "Password", "User", "DOMAIN", key) == 0 &&
	      memcmp(key, owf, 16));

	CHECK_INT(ntlm_parse_challenge(spec_challenge, sizeof(spec_challenge),
				       &ch, why, sizeof(why)), 0);
	CHECK_INT(ch.flags, 0xe28a8233u);
	CHECK(!memcmp(ch.server_challenge, server_challenge, 8));
	hex(ch.target_info, ch.target_info_len, text);
	CHECK_STR(text, spec_target_info_hex);
	CHECK_INT(ch.has_timestamp, 0);

	n = ntlm_v2_response(c, owf, server_challenge, client_challenge,
			     time_zero, ch.target_info, ch.target_info_len,
			     resp, sizeof(resp), key);
	CHECK_INT(n, 48 + ch.target_info_len);
	hex(resp, 16, text);
	CHECK_STR(text, "68cd0ab851e51c96aabc927bebef6a1c");  /* NTProofStr */
	hex(key, 16, text);
	CHECK_STR(text, "8de40ccadbc14a82f15cb0ad0de95ca3");  /* base key */
	hex(resp, n, text);
	CHECK_STR(text, "68cd0ab851e51c96aabc927bebef6a1c"
			"01010000000000000000000000000000"
			"aaaaaaaaaaaaaaaa00000000"
			"02000c0044006f006d00610069006e00"
			"01000c0053006500720076006500720000000000"
			"00000000");
	CHECK(ntlm_lmv2_response(c, owf, server_challenge, client_challenge,
				 lm) == 0);
	hex(lm, 24, text);
	CHECK_STR(text, "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
	/* Too small a buffer: nothing, not a cut response. */
	CHECK_INT(ntlm_v2_response(c, owf, server_challenge, client_challenge,
				   time_zero, ch.target_info,
				   ch.target_info_len, resp, 60, NULL), 0);
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

/* The Type 3 for the spec's challenge, field by field. */
static void test_authenticate(struct ntlm_crypto *c)
{
	struct ntlm_challenge ch;
	struct ntlm_identity id = { "User", "Domain", "COMPUTER", "Password" };
	uint8_t msg[NTLM_TYPE3_MAX];
	char why[128], text[600];
	size_t n;

	CHECK(ntlm_parse_challenge(spec_challenge, sizeof(spec_challenge),
				   &ch, why, sizeof(why)) == 0);
	n = ntlm_authenticate_message(c, &ch, &id, client_challenge, time_zero,
				      msg, sizeof(msg));
	CHECK(n > 64);
	CHECK(!memcmp(msg, "NTLMSSP", 8) && get32(msg + 8) == 3);
	/* LmChallengeResponse: LMv2 (no MsvAvTimestamp in the challenge) */
	CHECK_INT(msg[12], 24);
	hex(msg + get32(msg + 16), 24, text);
	CHECK_STR(text, "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
	/* NtChallengeResponse */
	CHECK_INT(msg[20] | msg[21] << 8, 48 + ch.target_info_len);
	hex(msg + get32(msg + 24), 16, text);
	CHECK_STR(text, "68cd0ab851e51c96aabc927bebef6a1c");
	/* Domain, user, workstation in UTF-16LE, as the challenge asked */
	CHECK_INT(msg[28], 12);
	CHECK(!memcmp(msg + get32(msg + 32), "D\0o\0m\0a\0i\0n\0", 12));
	CHECK_INT(msg[36], 8);
	CHECK(!memcmp(msg + get32(msg + 40), "U\0s\0e\0r\0", 8));
	CHECK_INT(msg[44], 16);
	CHECK(!memcmp(msg + get32(msg + 48), "C\0O\0M\0P\0U\0T\0E\0R\0", 16));
	CHECK_INT(msg[52], 0);	/* no key exchange */
	CHECK(get32(msg + 60) & NTLM_FLAG_UNICODE);
	CHECK(!(get32(msg + 60) & NTLM_FLAG_OEM));
	CHECK(get32(msg + 60) & NTLM_FLAG_NTLM);
	CHECK(!(get32(msg + 60) & NTLM_FLAG_LM_KEY));
	/* A name that is not UTF-8 cannot be sent. */
	id.user = "\xff\xfe";
	CHECK_INT(ntlm_authenticate_message(c, &ch, &id, client_challenge,
					    time_zero, msg, sizeof(msg)), 0);
	CHECK_INT(errno, EINVAL);
	/* Nor a password that is not UTF-8: a configuration error. */
	id.user = "User";
	id.password = "caf\xe9";
	CHECK_INT(ntlm_authenticate_message(c, &ch, &id, client_challenge,
					    time_zero, msg, sizeof(msg)), 0);
	CHECK_INT(errno, EINVAL);
	id.password = "Password";
	/* Out too small: nothing. */
	CHECK_INT(ntlm_authenticate_message(c, &ch, &id, client_challenge,
					    time_zero, msg, 100), 0);
}

/* A challenge with MsvAvTimestamp: its time is used, LM is Z(24). */
static void test_timestamp(struct ntlm_crypto *c)
{
	uint8_t msg[200], out[NTLM_TYPE3_MAX];
	struct ntlm_challenge ch;
	struct ntlm_identity id = { "User", "Domain", "", "Password" };
	static const uint8_t zero24[24];
	static const uint8_t stamp[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t now[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	char why[128];
	size_t n, ntoff;

	memcpy(msg, spec_challenge, 48);
	/* target info: MsvAvTimestamp, then MsvAvEOL */
	msg[40] = 16;
	msg[42] = 16;
	msg[44] = 48;
	memcpy(msg + 48, "\x07\x00\x08\x00", 4);
	memcpy(msg + 52, stamp, 8);
	memset(msg + 60, 0, 4);
	CHECK_INT(ntlm_parse_challenge(msg, 64, &ch, why, sizeof(why)), 0);
	CHECK_INT(ch.has_timestamp, 1);
	CHECK(!memcmp(ch.timestamp, stamp, 8));
	n = ntlm_authenticate_message(c, &ch, &id, client_challenge, now, out,
				      sizeof(out));
	CHECK(n > 64);
	CHECK(!memcmp(out + get32(out + 16), zero24, 24));
	ntoff = get32(out + 24);
	CHECK(!memcmp(out + ntoff + 16 + 8, stamp, 8));
	/* Without the timestamp, our clock's time goes in. */
	msg[40] = msg[42] = 0;
	CHECK_INT(ntlm_parse_challenge(msg, 48, &ch, why, sizeof(why)), 0);
	n = ntlm_authenticate_message(c, &ch, &id, client_challenge, now, out,
				      sizeof(out));
	CHECK(n > 64 && !memcmp(out + get32(out + 24) + 24, now, 8));
	CHECK(memcmp(out + get32(out + 16), zero24, 24));
	/* ... and no MIC: the fields start right after the 64 bytes. */
	CHECK_INT(get32(out + 16), 64);
}

/* HMAC-MD5 from the default library context, to check ours. */
static void hmac_md5_ref(const uint8_t *key, const uint8_t *data, size_t n,
			 uint8_t out[16])
{
	unsigned len = 0;

	if (!HMAC(EVP_md5(), key, 16, data, n, out, &len) || len != 16)
		memset(out, 0, 16);
}

/*
 * A challenge with MsvAvTimestamp and 'flags_pair' (an MsvAvFlags pair
 * with value 1, or nothing): the Type 3 carries MsvAvFlags with 0x2 in
 * its NTLMv2 response and a MIC over the three messages, checked here
 * with an HMAC of OpenSSL's default context (MS-NLMP 3.1.5.1.2).
 */
static void check_mic(struct ntlm_crypto *c, int flags_pair)
{
	static const uint8_t stamp[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct ntlm_identity id = { "User", "Domain", "", "Password" };
	uint8_t msg[200], out[NTLM_TYPE3_MAX], all[1024], owf[16], key[16];
	uint8_t mic[16];
	struct ntlm_challenge ch;
	size_t n, len = 48, ntoff, ntlen, tlen = 0, ti, at;
	char why[128];

	memcpy(msg, spec_challenge, 48);
	if (flags_pair) {
		memcpy(msg + len, "\x06\x00\x04\x00\x01\x00\x00\x00", 8);
		len += 8;
	}
	memcpy(msg + len, "\x07\x00\x08\x00", 4);
	memcpy(msg + len + 4, stamp, 8);
	memset(msg + len + 12, 0, 4);
	len += 16;
	msg[40] = msg[42] = (uint8_t)(len - 48);
	msg[44] = 48;
	CHECK_INT(ntlm_parse_challenge(msg, len, &ch, why, sizeof(why)), 0);
	n = ntlm_authenticate_message(c, &ch, &id, client_challenge,
				      time_zero, out, sizeof(out));
	CHECK_MSG(n > 88, "MIC (%s): a Type 3", flags_pair ? "flags" : "none");
	if (n <= 88)
		return;
	CHECK_INT(get32(out + 16), 88);	/* Version and MIC before fields */
	ntoff = get32(out + 24);
	ntlen = out[20] | out[21] << 8;
	/* The target info in the response: the server's, MsvAvFlags 0x2. */
	ti = ntoff + 16 + 28;
	for (at = ti; at + 4 <= ntoff + ntlen && get16(out + at);
	     at += 4 + get16(out + at + 2))
		if (get16(out + at) == 6) {
			tlen++;
			CHECK_INT(get32(out + at + 4), flags_pair ? 3 : 2);
		}
	CHECK_MSG(tlen == 1, "MIC (%s): one MsvAvFlags pair (got %zu)",
		  flags_pair ? "flags" : "none", tlen);
	CHECK_INT(ntlen, 16 + 28 + (len - 48) + (flags_pair ? 0 : 8) + 4);
	/* The MIC: session base key = HMAC(NTOWFv2, NTProofStr), over
	 * Type 1 || Type 2 || Type 3 with the MIC zero. */
	CHECK(ntlm_ntowfv2(c, "Password", "User", "Domain", owf) == 0);
	hmac_md5_ref(owf, out + ntoff, 16, key);
	CHECK_INT(ntlm_negotiate_message(all, sizeof(all)), 32);
	memcpy(all + 32, msg, len);
	memcpy(all + 32 + len, out, n);
	memset(all + 32 + len + 72, 0, 16);
	hmac_md5_ref(key, all, 32 + len + n, mic);
	CHECK_MSG(!memcmp(out + 72, mic, 16), "MIC (%s): HMAC-MD5 of the"
		  " three messages", flags_pair ? "flags" : "none");
	/* Another challenge byte, another MIC. */
	msg[24] ^= 1;
	memcpy(all + 32, msg, len);
	hmac_md5_ref(key, all, 32 + len + n, mic);
	CHECK(memcmp(out + 72, mic, 16));
}

static void test_mic(struct ntlm_crypto *c)
{
	char why[128];
	uint8_t msg[80];
	struct ntlm_challenge ch;

	check_mic(c, 0);
	check_mic(c, 1);
	/* MsvAvFlags of 2 bytes: refused. */
	memcpy(msg, spec_challenge, 48);
	memcpy(msg + 48, "\x06\x00\x02\x00\x01\x00\x00\x00\x00\x00", 10);
	msg[40] = msg[42] = 10;
	msg[44] = 48;
	CHECK_INT(ntlm_parse_challenge(msg, 58, &ch, why, sizeof(why)), -1);
	CHECK_STR(why, "its MsvAvFlags is not 4 bytes");
}

/* parse a copy of the spec's challenge changed by 'edit'; its reason */
static int parse_edited(size_t at, const void *bytes, size_t n, size_t len,
			char *why, size_t whysz)
{
	uint8_t msg[sizeof(spec_challenge) + 16];
	struct ntlm_challenge ch;

	memcpy(msg, spec_challenge, sizeof(spec_challenge));
	if (n)
		memcpy(msg + at, bytes, n);
	why[0] = '\0';
	return ntlm_parse_challenge(msg, len, &ch, why, whysz);
}

/* Edits of the spec's challenge that must be refused, and the reason. */
static const struct {
	const char *what;
	size_t at;
	const char *bytes;
	size_t n;
	size_t len;          /* 0: the whole message */
	const char *reason;
} bad[] = {
	{ "31 bytes", 0, NULL, 0, 31, "shorter than 32" },
	{ "signature", 0, "NTLMSSX", 8, 0, "not an NTLMSSP Type 2" },
	{ "message type 3", 8, "\x03", 1, 0, "not an NTLMSSP Type 2" },
	{ "target info offset past the end", 44, "\xff\xff\x00\x00", 4, 0,
	  "outside the message" },
	{ "target info offset near 2^32 (no wrap)", 44, "\xf0\xff\xff\xff",
	  4, 0, "outside the message" },
	{ "target info length past the end", 40, "\x25\x00", 2, 0,
	  "outside the message" },
	{ "target info over 2048 bytes", 40, "\x01\x08", 2, 0,
	  "longer than 2048" },
	{ "AV pair past the block", 70, "\x40\x00", 2, 0, "runs past" },
	{ "no MsvAvEOL", 40, "\x20\x00", 2, 0, "MsvAvEOL" },
	{ "MsvAvTimestamp of 4 bytes", 68, "\x07\x00\x04\x00", 4, 0,
	  "not 8 bytes" },
	{ "LM only", 20, "\x33\x80\x8a\xe2", 4, 0, "LM only" },
	{ "LM session keys", 20, "\xb3\x82\x82\xe2", 4, 0,
	  "LM session keys" },
};

static void test_malformed(void)
{
	size_t len = sizeof(spec_challenge);
	char why[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = bad[i].len ? bad[i].len : len;

		CHECK_MSG(parse_edited(bad[i].at, bad[i].bytes, bad[i].n, n,
				       why, sizeof(why)) < 0 &&
				  strstr(why, bad[i].reason),
			  "Type 2 refused: %s (got \"%s\")", bad[i].what,
			  why);
	}
	/* Squid's ntlm_fake_auth: 49 bytes, garbage TargetName offset, no
	 * target info flag: accepted, NTLMv2 over an empty target info. */
	{
		static const uint8_t fake[] = {
			0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00, 0x02,
			0x00, 0x00, 0x00, 0x09, 0x00, 0x09, 0x00, 0xae, 0xaa,
			0xaa, 0xaa, 0x07, 0x82, 0x08, 0x00, 0xe9, 0xea, 0x36,
			0xb5, 0x8f, 0xa5, 0xc8, 0xd7, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x00, 0x3a, 0x00, 'W',  'O',  'R',  'K',  'G',
			'R',  'O',  'U',  'P',
		};
		struct ntlm_challenge ch;

		CHECK_INT(ntlm_parse_challenge(fake, sizeof(fake), &ch, why,
					       sizeof(why)), 0);
		CHECK_INT(ch.target_info_len, 0);
	}
}

static void test_type1_and_names(void)
{
	uint8_t m[64];
	size_t dlen;
	const char *u;

	CHECK_INT(ntlm_negotiate_message(m, sizeof(m)), 32);
	CHECK(!memcmp(m, "NTLMSSP", 8) && get32(m + 8) == 1);
	CHECK(get32(m + 12) & NTLM_FLAG_EXTENDED_SESSIONSECURITY);
	CHECK(!(get32(m + 12) & NTLM_FLAG_LM_KEY));
	CHECK_INT(ntlm_negotiate_message(m, 31), 0);
	u = ntlm_split_user("CORP\\alice", &dlen);
	CHECK_STR(u, "alice");
	CHECK_INT(dlen, 4);
	u = ntlm_split_user("alice", &dlen);
	CHECK_STR(u, "alice");
	CHECK_INT(dlen, 0);
}

/* OpenSSL's allocations, counted (CRYPTO_set_mem_functions). */
static atomic_long ossl_allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	atomic_fetch_add(&ossl_allocs, 1);
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	atomic_fetch_add(&ossl_allocs, 1);
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/* Once the context exists, a whole Type 3 allocates little: no
 * library context, no provider, no fetch per handshake. */
static void test_handshake_allocations(struct ntlm_crypto *c)
{
	struct ntlm_challenge ch;
	struct ntlm_identity id = { "User", "Domain", "COMPUTER", "Password" };
	uint8_t msg[NTLM_TYPE3_MAX];
	char why[128];
	long before, spent;

	CHECK(ntlm_parse_challenge(spec_challenge, sizeof(spec_challenge),
				   &ch, why, sizeof(why)) == 0);
	ntlm_authenticate_message(c, &ch, &id, client_challenge, time_zero,
				  msg, sizeof(msg));
	before = atomic_load(&ossl_allocs);
	CHECK(ntlm_crypto_get() == c);
	CHECK(ntlm_authenticate_message(c, &ch, &id, client_challenge,
					time_zero, msg, sizeof(msg)) > 64);
	spent = atomic_load(&ossl_allocs) - before;
	CHECK_MSG(spent > 0 && spent <= NTLM_HANDSHAKE_ALLOCS_MAX,
		  "a Type 3 with the shared context: %ld OpenSSL allocations"
		  " (at most %d; a new context costs thousands)", spent,
		  NTLM_HANDSHAKE_ALLOCS_MAX);
}

static void *get_in_thread(void *arg)
{
	(void)arg;
	return ntlm_crypto_get();
}

/* Threads racing for the first context all get the same one. */
static struct ntlm_crypto *test_shared_context(void)
{
	pthread_t t[4];
	void *got[4];
	struct ntlm_crypto *c;
	int same = 1;

	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, get_in_thread, NULL))
			t[i] = 0;
	c = ntlm_crypto_get();
	for (int i = 0; i < 4; i++) {
		got[i] = NULL;
		if (t[i])
			pthread_join(t[i], &got[i]);
		same &= got[i] == (void *)c;
	}
	CHECK_MSG(c != NULL, "a library context with MD4 (legacy provider)");
	CHECK_MSG(same, "four threads racing for it get the same context");
	CHECK_MSG(ntlm_crypto_get() == c, "a later call gets it again");
	return c;
}

int main(void)
{
	struct ntlm_crypto *c;

	CHECK(CRYPTO_set_mem_functions(count_malloc, count_realloc,
				       count_free) == 1);
	/* No legacy provider to load: ENOENT (a configuration of OpenSSL
	 * to fix), not ENOMEM; and the failure is not kept: the next call
	 * tries again. */
	setenv("OPENSSL_MODULES", "/nonexistent", 1);
	c = ntlm_crypto_get();
	CHECK_MSG(c == NULL && errno == ENOENT,
		  "no legacy provider: NULL and ENOENT (got %p, errno %d)",
		  (void *)c, errno);
	unsetenv("OPENSSL_MODULES");
	c = test_shared_context();
	if (!c)
		return check_done();
	test_vectors(c);
	test_authenticate(c);
	test_timestamp(c);
	test_mic(c);
	test_handshake_allocations(c);
	test_malformed();
	test_type1_and_names();
	return check_done();
}
