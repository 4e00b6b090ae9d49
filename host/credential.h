/*
 * credential.h - the one check every user name, password, header field
 * and User-Agent passes before a module may put it on the wire
 * (internal).
 *
 * These values come from URLs (percent-decoded), configuration keys,
 * password files and environment variables, and all of them end up
 * inside HTTP headers.  A CR or LF there would end the header line and
 * let the value write headers of its own (header injection), a NUL cuts
 * it short in C and in proxies; no other control byte is a character a
 * person types.  So the host refuses them at load, with the source named
 * by the caller and the value never echoed: it may be a secret.
 */
#ifndef HOST_CREDENTIAL_H
#define HOST_CREDENTIAL_H

#include <stddef.h>

enum credential_kind {
	/* A proxy user name: no control byte, and no ':' (RFC 7617:
	 * Basic's user-id ends at the first colon; any proxy may ask
	 * for Basic). */
	CREDENTIAL_USERNAME,
	/* A password or other secret: no control byte. */
	CREDENTIAL_PASSWORD,
	/* A header field value or User-Agent: no control byte except
	 * HTAB, which RFC 9110 field values allow. */
	CREDENTIAL_FIELD_VALUE
};

/*
 * Check value[0..len) (len, not strlen: a NUL inside counts) for 'kind'.
 * Returns 0 when it may be sent; else -1 with 'why' saying which kind of
 * byte is wrong ("holds a line break (CR)"), never quoting the value.
 */
int credential_check(const char *value, size_t len,
		     enum credential_kind kind, char *why, size_t whysz);

/*
 * Check a configured header field "Name: value": the name an RFC 9110
 * token, a colon, then a value as CREDENTIAL_FIELD_VALUE.  Same results;
 * 'why' names the field's name only when the name itself is valid.
 */
int credential_check_field(const char *field, char *why, size_t whysz);

#endif
