/*
 * hostmatch.c - host lists: NO_PROXY and route `match =` (see hostmatch.h).
 *
 * Each entry is parsed into a struct host_entry in a stack buffer and
 * compared with the host, so matching allocates nothing and a list is
 * never parsed into anything that could outlive the call.
 *
 * Decisions beyond curl's semantics:
 *   - IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are IPv4: a mapped host
 *     matches IPv4 entries and CIDRs, and a mapped entry (or a CIDR inside
 *     ::ffff:0:0/96) matches IPv4 hosts, because the kernel connects to
 *     the same IPv4 peer either way.  A mapped host also still matches
 *     IPv6 entries spelled as IPv6 (::/0).  A plain IPv4 host never
 *     matches any other IPv6 entry.
 *   - A CIDR with host bits set ("10.1.2.3/8") is accepted and means the
 *     block it lies in (10.0.0.0/8), like curl.
 *   - IPv4 entries are dotted quads; a name whose last label is a number
 *     ("10.0.0", "127.1") is refused: it looks like an address but could
 *     only ever match as a name.
 *   - An IP-literal entry never matches a name and a name entry never
 *     matches an IP literal: "2.3.4" cannot suffix-match "1.2.3.4".
 *   - A bare IPv6 entry has no port ("::1:443" is the address ::1:443);
 *     a port on an IPv6 entry needs brackets ("[::1]:443", "[fd00::/8]:443"
 *     or "[fd00::]/8:443").
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "hostmatch.h"

#define ENTRY_MAX_LEN 255	/* longer entries never match */
#define HOST_MAX_LEN 255

enum entry_kind { ENTRY_ALL, ENTRY_NAME, ENTRY_ADDR };

struct ip_addr {
	int family;			/* 4 or 6 */
	unsigned char bytes[16];	/* 4 used for IPv4 */
};

struct host_entry {
	enum entry_kind kind;
	const char *name;	/* ENTRY_NAME: the suffix, inside the entry */
	struct ip_addr addr;	/* ENTRY_ADDR: network address */
	unsigned prefix;	/* ENTRY_ADDR: leading bits compared */
	unsigned port;		/* 0: any port */
};

/* The host being matched, normalized once per call. */
struct match_target {
	char name[HOST_MAX_LEN + 1];	/* lower-case, no trailing dot */
	int is_ip;
	int has_v4, has_v6;
	unsigned char v4[4], v6[16];
};

static int is_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

static void lower_in_place(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;
	size_t len = strlen(s), i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

static void addr_from_v4_mapped(struct ip_addr *a)
{
	memmove(a->bytes, a->bytes + 12, 4);
	memset(a->bytes + 4, 0, 12);
	a->family = 4;
}

static int is_v4_mapped(const unsigned char *b)
{
	static const unsigned char mapped_prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	return memcmp(b, mapped_prefix, sizeof(mapped_prefix)) == 0;
}

static int parse_ip(const char *s, struct ip_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->bytes) == 1)
		a->family = 4;
	else if (inet_pton(AF_INET6, s, a->bytes) == 1)
		a->family = 6;
	return a->family ? 0 : -1;
}

/* Host bits of 'net' are never looked at: "10.1.2.3/8" is 10.0.0.0/8. */
static int prefix_matches(const unsigned char *net, const unsigned char *addr,
			  unsigned prefix)
{
	unsigned whole = prefix / 8, bits = prefix % 8;
	unsigned char mask = (unsigned char)(0xff00u >> bits);

	if (memcmp(net, addr, whole) != 0)
		return 0;
	return bits == 0 || (net[whole] & mask) == (addr[whole] & mask);
}

static int parse_prefix_length(const char *digits, unsigned max,
			       unsigned *prefix)
{
	size_t len = strlen(digits), i;
	unsigned v = 0;

	if (len == 0 || len > 3)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)digits[i]))
			return -1;
		v = v * 10 + (unsigned)(digits[i] - '0');
	}
	if (v > max)
		return -1;
	*prefix = v;
	return 0;
}

/*
 * "addr" or "addr/len" -> ENTRY_ADDR.  'only_v6' is set for a bracketed
 * entry, and is checked before a mapped address becomes IPv4.
 */
static int parse_addr_entry(char *s, int only_v6, struct host_entry *e,
			    const char **why)
{
	char *slash = strchr(s, '/');
	unsigned max, prefix;

	if (slash != NULL)
		*slash = '\0';
	if (parse_ip(s, &e->addr) < 0) {
		*why = "not an IP address";
		return -1;
	}
	if (only_v6 && e->addr.family != 6) {
		*why = "only IPv6 addresses go in brackets";
		return -1;
	}
	max = e->addr.family == 4 ? 32 : 128;
	prefix = max;
	if (slash != NULL && parse_prefix_length(slash + 1, max, &prefix) < 0) {
		*why = max == 32 ? "bad CIDR prefix length (0 to 32 for IPv4)"
				 : "bad CIDR prefix length (0 to 128 for IPv6)";
		return -1;
	}
	if (e->addr.family == 6 && prefix >= 96 &&
	    is_v4_mapped(e->addr.bytes)) {
		addr_from_v4_mapped(&e->addr);
		prefix -= 96;
	}
	e->prefix = prefix;
	e->kind = ENTRY_ADDR;
	return 0;
}

/*
 * The last label is all digits or 0x-hex: resolvers read such a name as
 * an IPv4 address ("10.0.0", "127.1"), so it is no name entry.
 */
static int last_label_is_numeric(const char *name)
{
	const char *label = strrchr(name, '.');
	const char *c;
	int hex;

	label = label ? label + 1 : name;
	hex = label[0] == '0' && label[1] == 'x';
	for (c = hex ? label + 2 : label; *c; c++)
		if (hex ? !isxdigit((unsigned char)*c)
			: !isdigit((unsigned char)*c))
			return 0;
	return 1;
}

static int check_name_labels(const char *s, const char **why)
{
	const char *c;
	size_t len;

	for (c = s; *c; c++) {
		if (*c == '*') {
			*why = "'*' is allowed only alone or as a leading '*.'";
			return -1;
		}
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' &&
		    *c != '.') {
			*why = "character not allowed in a host name";
			return -1;
		}
	}
	for (c = s;; c += len + 1) {
		len = strcspn(c, ".");
		if (len == 0) {
			*why = "empty label in host name";
			return -1;
		}
		if (c[len] == '\0')
			break;
	}
	if (last_label_is_numeric(s)) {
		*why = "looks like a partial IP address (write a CIDR block "
		       "such as 10.0.0.0/8)";
		return -1;
	}
	return 0;
}

/* "example.com", ".example.com", "*.example.com" -> suffix example.com. */
static int parse_name_entry(char *s, struct host_entry *e, const char **why)
{
	size_t len;

	if (s[0] == '*' && s[1] == '.')
		s += 2;
	else if (s[0] == '.')
		s++;
	len = strlen(s);
	if (len > 1 && s[len - 1] == '.')
		s[--len] = '\0';
	if (len == 0) {
		*why = "empty host name";
		return -1;
	}
	if (check_name_labels(s, why) < 0)
		return -1;
	e->kind = ENTRY_NAME;
	e->name = s;
	return 0;
}

/*
 * "[v6]", "[v6]:port", "[v6/len]:port" or "[v6]/len:port": remove the
 * brackets (a "/len" after them is moved inside) and find the port.
 * 's' has room: the result is never longer than the input.
 */
static int split_bracketed(char *s, char **core, char **port,
			   const char **why)
{
	char *close = strchr(s, ']');
	char *after = close ? close + 1 : NULL;
	size_t core_len;

	if (close == NULL) {
		*why = "unclosed '['";
		return -1;
	}
	core_len = (size_t)(close - s - 1);
	memmove(s, s + 1, core_len);
	*core = s;
	if (*after == '/') {
		size_t len = strcspn(after, ":");

		if (memchr(s, '/', core_len) != NULL) {
			*why = "bad CIDR prefix length";
			return -1;
		}
		memmove(s + core_len, after, len);
		core_len += len;
		after += len;
	}
	s[core_len] = '\0';
	if (*after == ':') {
		*port = after + 1;
	} else if (*after != '\0') {
		*why = "unexpected text after ']'";
		return -1;
	}
	return 0;
}

/*
 * Parse one entry (a NUL-terminated, lower-cased, writable copy) into
 * *e.  Returns 0, or -1 with a reason in *why.
 */
static int parse_entry(char *s, struct host_entry *e, const char **why)
{
	char *core = s, *port = NULL, *colon;
	int bracketed = s[0] == '[';

	memset(e, 0, sizeof(*e));
	if (bracketed) {
		if (split_bracketed(s, &core, &port, why) < 0)
			return -1;
	} else if ((colon = strchr(s, ':')) != NULL &&
		   strchr(colon + 1, ':') == NULL) {
		/* Exactly one ':' is a port; more is a bare IPv6 literal. */
		*colon = '\0';
		port = colon + 1;
	}
	if (port != NULL && parse_port(port, &e->port) < 0) {
		*why = "bad port (must be 1 to 65535)";
		return -1;
	}
	if (*core == '\0') {
		*why = "empty host";
		return -1;
	}
	if (!bracketed && strcmp(core, "*") == 0) {
		e->kind = ENTRY_ALL;
		return 0;
	}
	if (bracketed || strchr(core, '/') != NULL ||
	    strchr(core, ':') != NULL || parse_ip(core, &e->addr) == 0)
		return parse_addr_entry(core, bracketed, e, why);
	return parse_name_entry(core, e, why);
}

/*
 * Normalize the host once: brackets and one trailing dot removed,
 * lower-cased, addresses parsed.  -1 for a host nothing can match.
 */
static int parse_target(const char *host, struct match_target *t)
{
	size_t len;
	struct ip_addr a;
	int bracketed;

	memset(t, 0, sizeof(*t));
	if (host == NULL || (len = strlen(host)) == 0 || len > HOST_MAX_LEN)
		return -1;
	bracketed = host[0] == '[';
	if (bracketed) {
		if (len < 3 || host[len - 1] != ']')
			return -1;
		host++;
		len -= 2;
	}
	memcpy(t->name, host, len);
	t->name[len] = '\0';
	lower_in_place(t->name);
	if (!bracketed && len > 1 && t->name[len - 1] == '.')
		t->name[--len] = '\0';
	if (parse_ip(t->name, &a) < 0)
		return bracketed || t->name[0] == '.' ? -1 : 0;
	if (bracketed && a.family != 6)
		return -1;
	t->is_ip = 1;
	if (a.family == 6) {
		t->has_v6 = 1;
		memcpy(t->v6, a.bytes, 16);
		if (is_v4_mapped(a.bytes)) {
			t->has_v4 = 1;
			memcpy(t->v4, a.bytes + 12, 4);
		}
	} else {
		t->has_v4 = 1;
		memcpy(t->v4, a.bytes, 4);
	}
	return 0;
}

/* Equal, or below it on a label boundary: "a.example.com" in example.com. */
static int name_matches(const char *host, const char *suffix)
{
	size_t hlen = strlen(host), slen = strlen(suffix);

	if (hlen == slen)
		return strcmp(host, suffix) == 0;
	return hlen > slen && host[hlen - slen - 1] == '.' &&
	       strcmp(host + hlen - slen, suffix) == 0;
}

static int entry_matches(const struct host_entry *e,
			 const struct match_target *t, unsigned port)
{
	if (e->port != 0 && e->port != port)
		return 0;
	switch (e->kind) {
	case ENTRY_ALL:
		return 1;
	case ENTRY_NAME:
		/*
		 * Name entries never end in a numeric label, so they could
		 * not suffix-match an address anyway; say it outright.
		 */
		return !t->is_ip && name_matches(t->name, e->name);
	case ENTRY_ADDR:
		if (e->addr.family == 4)
			return t->has_v4 &&
			       prefix_matches(e->addr.bytes, t->v4, e->prefix);
		return t->has_v6 &&
		       prefix_matches(e->addr.bytes, t->v6, e->prefix);
	}
	return 0;
}

/*
 * The next entry of 'list' at or after *pos: its start and length, or
 * NULL at the end.  Runs of separators make no empty entries.
 */
static const char *next_entry(const char *list, size_t *pos, size_t *len)
{
	const char *start = list + *pos;

	while (*start && is_separator(*start))
		start++;
	if (*start == '\0')
		return NULL;
	*len = 0;
	while (start[*len] && !is_separator(start[*len]))
		(*len)++;
	*pos = (size_t)(start - list) + *len;
	return start;
}

/* Copy an entry into buf, lower-cased; -1 when it is too long. */
static int copy_entry(const char *start, size_t len,
		      char buf[ENTRY_MAX_LEN + 1])
{
	if (len > ENTRY_MAX_LEN)
		return -1;
	memcpy(buf, start, len);
	buf[len] = '\0';
	lower_in_place(buf);
	return 0;
}

int hostmatch_list(const char *list, const char *host, unsigned port)
{
	char buf[ENTRY_MAX_LEN + 1];
	struct match_target target;
	struct host_entry entry;
	const char *start, *why;
	size_t pos = 0, len;

	if (list == NULL || parse_target(host, &target) < 0)
		return 0;
	while ((start = next_entry(list, &pos, &len)) != NULL) {
		if (copy_entry(start, len, buf) < 0 ||
		    parse_entry(buf, &entry, &why) < 0)
			continue;
		if (entry_matches(&entry, &target, port))
			return 1;
	}
	return 0;
}

int hostmatch_validate(const char *list, char *errbuf, size_t errlen)
{
	char buf[ENTRY_MAX_LEN + 1];
	struct host_entry entry;
	const char *start, *why;
	size_t pos = 0, len;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (list == NULL)
		return 0;
	while ((start = next_entry(list, &pos, &len)) != NULL) {
		if (copy_entry(start, len, buf) < 0)
			why = "longer than 255 bytes";
		else if (parse_entry(buf, &entry, &why) == 0)
			continue;
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "bad host entry '%.*s%s': %s",
				 (int)(len > 64 ? 64 : len), start,
				 len > 64 ? "..." : "", why);
		return -1;
	}
	return 0;
}
