/*
 * forwarded.c - the real client behind trusted reverse proxies
 * (ps_forwarded_client(), documented in proxystack.h).
 *
 * X-Forwarded-For is written right to left: each proxy appends the
 * address it received the connection from.  Only entries appended by a
 * proxy we trust are facts; everything left of the first hop we do not
 * trust was written by the client and may be anything.  So the walk
 * starts at the TCP peer, the one address nobody can forge, and goes
 * left only while the current hop is trusted.
 *
 * Decisions:
 *   - The trust setting is checked whole before the header is looked at,
 *     so a typo fails every call, not just those whose walk reaches it.
 *   - A malformed entry ends the walk and the answer is the (trusted)
 *     address right of it.  That may name a proxy instead of the client,
 *     but it is always an address some trusted hop really saw, never a
 *     string the client chose.
 *   - Empty entries ("a,,b", a trailing ",") are skipped, as Express
 *     does, but count towards the 64-entry bound, so a header of commas
 *     costs no more than one of addresses.
 *   - Address lists are matched by hostmatch_list() (host/hostmatch.c),
 *     the same matcher NO_PROXY uses; this file only makes sure every
 *     entry of the setting is an address, a CIDR block or a keyword, so
 *     that no entry there can silently never match.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "hostmatch.h"
#include "proxystack.h"

#define FORWARDED_MAX_ENTRIES 64	/* X-Forwarded-For entries read */
#define FORWARDED_MAX_HOPS 64		/* largest hop count setting */
/* "[" + 45-byte IPv6 text + "]:65535" is 54; nothing longer is an entry. */
#define FORWARDED_ENTRY_MAX_LEN 64
/* 45-byte IPv6 text + "/128" is 49; nothing longer is a trust entry. */
#define FORWARDED_TRUST_ENTRY_MAX_LEN 64

/* The keyword blocks, in hostmatch list syntax. */
static const char forwarded_loopback_blocks[] = "127.0.0.0/8 ::1/128";
static const char forwarded_private_blocks[] =
	"10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7";
static const char forwarded_linklocal_blocks[] = "169.254.0.0/16 fe80::/10";

enum forwarded_trust_mode {
	FORWARDED_TRUST_NONE,	/* "false": the peer is the client */
	FORWARDED_TRUST_ALL,	/* "true" */
	FORWARDED_TRUST_HOPS,	/* "N" */
	FORWARDED_TRUST_LIST	/* IPs, CIDR blocks, keywords */
};

struct forwarded_trust {
	enum forwarded_trust_mode mode;
	unsigned hops;		/* HOPS: addresses trusted, peer too */
	const char *list;	/* LIST: the setting, for hostmatch_list() */
	int loopback, private_blocks, linklocal; /* LIST: keywords seen */
};

/* One address of the chain, already in the form it is returned in. */
struct forwarded_addr {
	char text[INET6_ADDRSTRLEN];	/* canonical, mapped as IPv4 */
};

enum forwarded_parse {
	FORWARDED_ADDR_OK,
	FORWARDED_ADDR_EMPTY,		/* nothing but spaces and tabs */
	FORWARDED_ADDR_MALFORMED
};

/* Reads X-Forwarded-For entries from the right. */
struct forwarded_cursor {
	const char *header;
	size_t end;		/* the next entry ends here (exclusive) */
	int done;		/* no entry left of the last one read */
	unsigned entries;	/* entries read so far, empty ones included */
};

static int forwarded_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* The same separators hostmatch_list() uses, so both see one list. */
static int forwarded_is_list_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

static void forwarded_trim(const char **s, size_t *len)
{
	while (*len > 0 && forwarded_is_ows(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && forwarded_is_ows((*s)[*len - 1]))
		(*len)--;
}

static int forwarded_all_digits(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int forwarded_port_ok(const char *s)
{
	size_t len = strlen(s), i;
	unsigned long v = 0;

	if (len == 0 || len > 5 || !forwarded_all_digits(s, len))
		return 0;
	for (i = 0; i < len; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	return v >= 1 && v <= 65535;
}

/*
 * Parse "1.2.3.4", "1.2.3.4:port", "::1", "[::1]" or "[::1]:port" (the
 * 'len' bytes at 's', spaces and tabs around them ignored) into *a.
 */
static enum forwarded_parse forwarded_parse_addr(const char *s, size_t len,
						 struct forwarded_addr *a)
{
	char buf[FORWARDED_ENTRY_MAX_LEN + 1];
	unsigned char bytes[16];
	char *core = buf, *port = NULL, *colon;
	int family;

	forwarded_trim(&s, &len);
	if (len == 0)
		return FORWARDED_ADDR_EMPTY;
	if (len > FORWARDED_ENTRY_MAX_LEN)
		return FORWARDED_ADDR_MALFORMED;
	memcpy(buf, s, len);
	buf[len] = '\0';

	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (close == NULL)
			return FORWARDED_ADDR_MALFORMED;
		*close = '\0';
		core = buf + 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return FORWARDED_ADDR_MALFORMED;
		family = AF_INET6;	/* brackets hold IPv6 only */
	} else if ((colon = strchr(buf, ':')) != NULL &&
		   strchr(colon + 1, ':') == NULL) {
		/* Exactly one ':' is "v4:port"; more is a bare IPv6. */
		*colon = '\0';
		port = colon + 1;
		family = AF_INET;
	} else {
		family = colon != NULL ? AF_INET6 : AF_INET;
	}
	if (port != NULL && !forwarded_port_ok(port))
		return FORWARDED_ADDR_MALFORMED;
	if (inet_pton(family, core, bytes) != 1)
		return FORWARDED_ADDR_MALFORMED;

	if (family == AF_INET6) {
		static const unsigned char mapped_prefix[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
		};

		if (memcmp(bytes, mapped_prefix, sizeof(mapped_prefix)) == 0) {
			memmove(bytes, bytes + 12, 4);
			family = AF_INET;
		}
	}
	if (inet_ntop(family, bytes, a->text, sizeof(a->text)) == NULL)
		return FORWARDED_ADDR_MALFORMED;
	return FORWARDED_ADDR_OK;
}

/*
 * One entry of an address list setting: "loopback", "private",
 * "uniquelocal", "linklocal", or an IP with an optional "/prefix".
 */
static int forwarded_parse_trust_entry(const char *s, size_t len,
				       struct forwarded_trust *t)
{
	char buf[FORWARDED_TRUST_ENTRY_MAX_LEN + 1];
	unsigned char bytes[16];
	char *slash;

	if (len > FORWARDED_TRUST_ENTRY_MAX_LEN)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';

	if (strcasecmp(buf, "loopback") == 0) {
		t->loopback = 1;
		return 0;
	}
	if (strcasecmp(buf, "private") == 0 ||
	    strcasecmp(buf, "uniquelocal") == 0) {
		t->private_blocks = 1;
		return 0;
	}
	if (strcasecmp(buf, "linklocal") == 0) {
		t->linklocal = 1;
		return 0;
	}

	/*
	 * An address, then only digits after the '/': hostmatch would also
	 * take a ":port" or a name, which could never match a bare address.
	 */
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (!forwarded_all_digits(slash + 1, strlen(slash + 1)))
			return -1;
	}
	if (inet_pton(AF_INET, buf, bytes) != 1 &&
	    inet_pton(AF_INET6, buf, bytes) != 1)
		return -1;
	if (slash != NULL)
		*slash = '/';
	/* The prefix length rules (0-32, 0-128, at most 3 digits). */
	return hostmatch_validate(buf, NULL, 0);
}

static int forwarded_parse_trust_list(const char *setting,
				      struct forwarded_trust *t)
{
	const char *s = setting;
	int entries = 0;

	t->mode = FORWARDED_TRUST_LIST;
	t->list = setting;
	for (;;) {
		size_t len = 0;

		while (*s && forwarded_is_list_separator(*s))
			s++;
		if (*s == '\0')
			break;
		while (s[len] && !forwarded_is_list_separator(s[len]))
			len++;
		if (forwarded_parse_trust_entry(s, len, t) < 0)
			return -1;
		entries++;
		s += len;
	}
	/* "," or ", ," says nothing anyone meant: refuse it. */
	return entries > 0 ? 0 : -1;
}

static int forwarded_parse_trust(const char *setting,
				 struct forwarded_trust *t)
{
	const char *s = setting;
	size_t len;

	memset(t, 0, sizeof(*t));
	t->mode = FORWARDED_TRUST_NONE;
	if (setting == NULL)
		return 0;
	len = strlen(s);
	forwarded_trim(&s, &len);
	if (len == 0 || (len == 5 && strncasecmp(s, "false", 5) == 0))
		return 0;
	if (len == 4 && strncasecmp(s, "true", 4) == 0) {
		t->mode = FORWARDED_TRUST_ALL;
		return 0;
	}
	if (forwarded_all_digits(s, len)) {
		size_t i;

		for (i = 0; i < len; i++) {
			t->hops = t->hops * 10 + (unsigned)(s[i] - '0');
			if (t->hops > FORWARDED_MAX_HOPS)
				return -1;
		}
		t->mode = FORWARDED_TRUST_HOPS;
		return 0;
	}
	return forwarded_parse_trust_list(setting, t);
}

/* Is the address at 'index' (0: the peer, 1: right-most entry) trusted? */
static int forwarded_is_trusted(const struct forwarded_trust *t,
				const struct forwarded_addr *a,
				unsigned index)
{
	switch (t->mode) {
	case FORWARDED_TRUST_NONE:
		return 0;
	case FORWARDED_TRUST_ALL:
		return 1;
	case FORWARDED_TRUST_HOPS:
		return index < t->hops;
	case FORWARDED_TRUST_LIST:
		if (hostmatch_list(t->list, a->text, 0))
			return 1;
		if (t->loopback &&
		    hostmatch_list(forwarded_loopback_blocks, a->text, 0))
			return 1;
		if (t->private_blocks &&
		    hostmatch_list(forwarded_private_blocks, a->text, 0))
			return 1;
		return t->linklocal &&
		       hostmatch_list(forwarded_linklocal_blocks, a->text, 0);
	}
	return 0;
}

static void forwarded_cursor_init(struct forwarded_cursor *c,
				  const char *header)
{
	c->header = header;
	c->end = header != NULL ? strlen(header) : 0;
	c->done = header == NULL;
	c->entries = 0;
}

/*
 * The next address leftwards into *a: FORWARDED_ADDR_OK, or
 * FORWARDED_ADDR_EMPTY when the header (or its right-most 64 entries) is
 * used up, or FORWARDED_ADDR_MALFORMED for an entry that is no address.
 */
static enum forwarded_parse forwarded_cursor_next(struct forwarded_cursor *c,
						  struct forwarded_addr *a)
{
	while (!c->done && c->entries < FORWARDED_MAX_ENTRIES) {
		size_t start = c->end;
		enum forwarded_parse r;

		while (start > 0 && c->header[start - 1] != ',')
			start--;
		r = forwarded_parse_addr(c->header + start, c->end - start, a);
		c->entries++;
		if (start == 0)
			c->done = 1;
		else
			c->end = start - 1;
		if (r != FORWARDED_ADDR_EMPTY)
			return r;
	}
	return FORWARDED_ADDR_EMPTY;
}

int ps_forwarded_client(const char *peer, const char *x_forwarded_for,
			const char *trust, char *out, size_t outsz)
{
	struct forwarded_trust policy;
	struct forwarded_cursor cursor;
	struct forwarded_addr current, next;
	unsigned index;
	size_t len;

	if (out == NULL || outsz == 0)
		return PS_ERR_USAGE;
	out[0] = '\0';
	if (peer == NULL)
		return PS_ERR_USAGE;
	/* strnlen: a huge 'peer' is refused without reading all of it. */
	len = strnlen(peer, FORWARDED_ENTRY_MAX_LEN + 1);
	if (forwarded_parse_addr(peer, len, &current) != FORWARDED_ADDR_OK)
		return PS_ERR_USAGE;
	if (forwarded_parse_trust(trust, &policy) < 0)
		return PS_ERR_USAGE;

	forwarded_cursor_init(&cursor, x_forwarded_for);
	for (index = 0; forwarded_is_trusted(&policy, &current, index);
	     index++) {
		/* End of the list or a malformed entry: 'current' it is. */
		if (forwarded_cursor_next(&cursor, &next) != FORWARDED_ADDR_OK)
			break;
		current = next;
	}

	len = strlen(current.text);
	if (len >= outsz)
		return PS_ERR_USAGE;
	memcpy(out, current.text, len + 1);
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* Address lists on their own (proxystack serve's allow =)             */
/* ------------------------------------------------------------------ */

/* The list form of a trust setting, asked about one address. */
int ps_addr_in_list(const char *addr, const char *list)
{
	struct forwarded_trust t;
	struct forwarded_addr a;

	memset(&t, 0, sizeof(t));
	if (list == NULL || forwarded_parse_trust_list(list, &t) < 0)
		return -1;
	if (addr == NULL ||
	    forwarded_parse_addr(addr, strlen(addr), &a) != FORWARDED_ADDR_OK)
		return 0;
	return forwarded_is_trusted(&t, &a, 0);
}
