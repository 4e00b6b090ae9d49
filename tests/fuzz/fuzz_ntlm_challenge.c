/*
 * fuzz_ntlm_challenge.c - a proxy's NTLM challenge (Type 2): the base64
 * decoder of the token (proxy_auth_base64_decode), the Type 2 parser
 * (ntlm_parse_challenge) and the Type 3 built on what it accepted
 * (ntlm_authenticate_message), modules/auth_ntlm.c and proxy_auth.c.
 *
 * Input: byte 0 flags, then the challenge.
 *   flags & 1   the rest is the base64 text of the header (decoded
 *               first), else the raw message
 * Besides memory safety the target checks:
 *   - the decoder writes at most 3/4 of its input and refuses a byte
 *     outside the alphabet;
 *   - a refusal always has a reason; an accepted challenge's target
 *     info is a copy of bytes inside the message, at most 2048 of
 *     them, and its timestamp comes from an MsvAvTimestamp;
 *   - the NTLM flag is always set in what is accepted (never LM only);
 *   - the Type 3 for an accepted challenge is a well-formed message:
 *     signature, type 3, every field inside it, the NTLMv2 response
 *     48 bytes longer than the target info, and never LM_KEY.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_ntlm.h"
#include "fuzz_common.h"
#include "proxy_auth.h"

static struct ntlm_crypto *crypto;

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void check_type3(const struct ntlm_challenge *ch)
{
	static const uint8_t cc[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, now[8];
	struct ntlm_identity id = { "alice", "CORP", "GW", "pw" };
	uint8_t out[NTLM_TYPE3_MAX];
	size_t n = ntlm_authenticate_message(crypto, ch, &id, cc, now, out,
					     sizeof(out)), ntlen;

	if (!n)
		fuzz_fail("no Type 3 for an accepted challenge");
	if (memcmp(out, "NTLMSSP", 8) || get32(out + 8) != 3)
		fuzz_fail("the Type 3 has a wrong signature or type");
	for (size_t f = 12; f <= 52; f += 8) {
		size_t len = (size_t)out[f] | (size_t)out[f + 1] << 8;

		if (get32(out + f + 4) > n || len > n - get32(out + f + 4))
			fuzz_fail("Type 3 field at %zu lies outside", f);
	}
	ntlen = (size_t)out[20] | (size_t)out[21] << 8;
	/* With a timestamp, the target info up to MsvAvEOL and MsvAvFlags
	 * (8 bytes more at most), and room for the MIC. */
	if (ch->has_timestamp ? ntlen > 48 + ch->target_info_len + 8
			      : ntlen != 48 + ch->target_info_len)
		fuzz_fail("the NTLMv2 response has a wrong length");
	if (ch->has_timestamp && get32(out + 16) < 88)
		fuzz_fail("a Type 3 with a MIC whose fields overlap it");
	if (get32(out + 60) & NTLM_FLAG_LM_KEY)
		fuzz_fail("the Type 3 asks for LM keys");
}

static void check_challenge(const uint8_t *msg, size_t len)
{
	struct ntlm_challenge ch;
	char why[128] = "";

	if (ntlm_parse_challenge(msg, len, &ch, why, sizeof(why))) {
		if (!why[0])
			fuzz_fail("a refusal without a reason");
		return;
	}
	if (!(ch.flags & NTLM_FLAG_NTLM))
		fuzz_fail("accepted a challenge without the NTLM flag");
	if (ch.target_info_len > NTLM_TARGET_INFO_MAX)
		fuzz_fail("target info over the limit");
	if (ch.target_info_len &&
	    !memmem(msg, len, ch.target_info, ch.target_info_len))
		fuzz_fail("target info that is not in the message");
	if (ch.has_timestamp &&
	    !memmem(ch.target_info, ch.target_info_len, ch.timestamp, 8))
		fuzz_fail("a timestamp that is not in the target info");
	check_type3(&ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char raw[4096];
	char *text;
	long n;

	if (!crypto && !(crypto = ntlm_crypto_get()))
		fuzz_fail("no NTLM crypto context (legacy provider)");
	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		check_challenge(data + 1, size - 1);
		return 0;
	}
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	n = proxy_auth_base64_decode(text, raw, sizeof(raw));
	if (n >= 0 && (size_t)n > strlen(text) * 3 / 4)
		fuzz_fail("decoded %ld bytes from %zu characters", n,
			  strlen(text));
	if (n >= 0 && strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
			     "qrstuvwxyz0123456789+/=") != strlen(text))
		fuzz_fail("decoded a token with a byte outside base64");
	if (n >= 0)
		check_challenge(raw, (size_t)n);
	free(text);
	return 0;
}
