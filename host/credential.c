/*
 * credential.c - refusing user names, passwords, header fields and
 * User-Agents that could break out of the HTTP header they go into.
 * See credential.h for why; modconfig.c calls it for every source.
 */
#include <stdio.h>
#include <string.h>

#include "credential.h"

/* What a refused byte is, in words a person recognises. */
static const char *credential_byte_name(unsigned char c, char *buf,
					size_t bufsz)
{
	switch (c) {
	case '\r':
		return "a line break (CR)";
	case '\n':
		return "a line break (LF)";
	case '\0':
		return "a NUL byte";
	case '\t':
		return "a tab";
	default:
		snprintf(buf, bufsz, "a control byte (0x%02x)", c);
		return buf;
	}
}

static int credential_byte_refused(unsigned char c, enum credential_kind kind)
{
	if (c == '\t')
		return kind != CREDENTIAL_FIELD_VALUE;
	return c < 0x20 || c == 0x7f || (kind == CREDENTIAL_USERNAME &&
					 c == ':');
}

int credential_check(const char *value, size_t len,
		     enum credential_kind kind, char *why, size_t whysz)
{
	char name[40];

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (!credential_byte_refused(c, kind))
			continue;
		if (c == ':')
			snprintf(why, whysz, "holds a ':', which Basic"
				 " authentication cannot carry in a user"
				 " name (RFC 7617)");
		else
			snprintf(why, whysz, "holds %s, %s",
				 credential_byte_name(c, name, sizeof(name)),
				 c == '\r' || c == '\n'
					 ? "which would end the HTTP header it"
					   " is sent in (header injection)"
					 : "which no HTTP header may carry");
		return -1;
	}
	return 0;
}

/* RFC 9110 tchar. */
static int credential_is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int credential_check_field(const char *field, char *why, size_t whysz)
{
	const char *colon = strchr(field, ':');
	char inner[160];

	for (const char *p = field; colon && p < colon; p++)
		if (!credential_is_tchar((unsigned char)*p))
			colon = NULL;
	if (!colon || colon == field) {
		snprintf(why, whysz, "expected \"Name: value\" with a name of"
			 " letters, digits and !#$%%&'*+-.^_`|~");
		return -1;
	}
	if (credential_check(colon + 1, strlen(colon + 1),
			     CREDENTIAL_FIELD_VALUE, inner, sizeof(inner))) {
		snprintf(why, whysz, "the value of %.*s %s",
			 (int)(colon - field > 64 ? 64 : colon - field), field,
			 inner);
		return -1;
	}
	return 0;
}
