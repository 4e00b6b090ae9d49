/*
 * fuzz_hostmatch.c - NO_PROXY and route `match =` lists (host/hostmatch.c).
 *
 * Input: two bytes of port (big-endian), then the list, a newline, and
 * the host (each up to a NUL).  Besides memory safety the target checks
 * the promises of hostmatch.h that do not depend on how an entry is
 * read:
 *   - matching ignores case, in the list and in the host;
 *   - a trailing dot on a host name changes nothing;
 *   - an IPv6 host matches the same with or without brackets;
 *   - the order of the entries changes nothing;
 *   - hostmatch_validate() accepts a list exactly when every entry, on
 *     its own, is accepted, and says why when it refuses one;
 *   - an entry that is refused never matches anything.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "hostmatch.h"

static int is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

static char *upper_dup(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return d;
}

/* The entries of 'list' in reverse order, joined by ",". */
static char *reversed(const char *list)
{
	size_t len = strlen(list), o = 0;
	char *out = malloc(len + 2);
	const char *end = list + len;

	if (!out)
		return NULL;
	while (end > list) {
		const char *start;

		while (end > list && is_sep(end[-1]))
			end--;
		start = end;
		while (start > list && !is_sep(start[-1]))
			start--;
		if (start == end)
			break;
		if (o)
			out[o++] = ',';
		memcpy(out + o, start, (size_t)(end - start));
		o += (size_t)(end - start);
		end = start;
	}
	out[o] = '\0';
	return out;
}

/* Every entry alone passes validation (1), or some entry does not (0). */
static int entries_valid_alone(const char *list, const char *host,
			       unsigned port)
{
	const char *p = list;
	char entry[1024], why[200];
	int all = 1;

	while (*p) {
		size_t n;

		while (*p && is_sep(*p))
			p++;
		n = strcspn(p, ", \t");
		if (!n)
			break;
		if (n >= sizeof(entry)) {
			all = 0;
			p += n;
			continue;
		}
		memcpy(entry, p, n);
		entry[n] = '\0';
		if (hostmatch_validate(entry, why, sizeof(why)) != 0) {
			all = 0;
			FUZZ_CHECK(why[0], "refused entry without a reason");
			FUZZ_CHECK(!hostmatch_list(entry, host, port),
				   "refused entry '%s' (%s) matches '%s'",
				   entry, why, host);
		}
		p += n;
	}
	return all;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *list, *host, *nl, *alt, why[200];
	unsigned port;
	int m, v;

	if (size < 2)
		return 0;
	port = (unsigned)data[0] << 8 | data[1];
	buf = malloc(size - 2 + 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 2, size - 2);
	buf[size - 2] = '\0';
	list = buf;
	nl = strchr(buf, '\n');
	host = nl ? nl + 1 : (char *)"example.com";
	if (nl)
		*nl = '\0';

	m = hostmatch_list(list, host, port);
	FUZZ_CHECK(m == 0 || m == 1, "hostmatch_list returned %d", m);
	FUZZ_CHECK(hostmatch_list(list, host, port) == m, "not repeatable");
	FUZZ_CHECK(!hostmatch_list(NULL, host, port), "NULL list matched");
	FUZZ_CHECK(!hostmatch_list("", host, port), "empty list matched");

	v = hostmatch_validate(list, why, sizeof(why));
	FUZZ_CHECK(v == 0 || v == -1, "hostmatch_validate returned %d", v);
	FUZZ_CHECK(v == 0 || why[0], "validate refused without a reason");
	FUZZ_CHECK((v == 0) == entries_valid_alone(list, host, port),
		   "validate(list) = %d disagrees with its entries", v);
	(void)hostmatch_validate(list, NULL, 0);
	(void)hostmatch_validate(list, why, 1);

	alt = upper_dup(list);
	if (alt) {
		FUZZ_CHECK(hostmatch_list(alt, host, port) == m,
			   "upper-casing the list changed the match");
		free(alt);
	}
	alt = upper_dup(host);
	if (alt) {
		FUZZ_CHECK(hostmatch_list(list, alt, port) == m,
			   "upper-casing the host changed the match");
		free(alt);
	}
	alt = reversed(list);
	if (alt) {
		FUZZ_CHECK(hostmatch_list(alt, host, port) == m,
			   "reversing the entries changed the match ('%s')",
			   alt);
		free(alt);
	}

	/* "name" and "name." are the same host. */
	{
		size_t hl = strlen(host);
		struct in6_addr a6;

		if (hl > 0 && hl < 250 && host[0] != '[' &&
		    host[hl - 1] != '.') {
			alt = malloc(hl + 2);
			if (alt) {
				memcpy(alt, host, hl);
				memcpy(alt + hl, ".", 2);
				FUZZ_CHECK(hostmatch_list(list, alt, port) ==
						   m,
					   "a trailing dot on '%s' changed the"
					   " match", host);
				free(alt);
			}
		}
		if (hl > 0 && hl < 200 &&
		    inet_pton(AF_INET6, host, &a6) == 1) {
			alt = malloc(hl + 3);
			if (alt) {
				alt[0] = '[';
				memcpy(alt + 1, host, hl);
				memcpy(alt + 1 + hl, "]", 2);
				FUZZ_CHECK(hostmatch_list(list, alt, port) ==
						   m,
					   "brackets around '%s' changed the"
					   " match", host);
				free(alt);
			}
		}
	}
	free(buf);
	return 0;
}
