/*
 * test_hostmatch.c - NO_PROXY / route host lists.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "hostmatch.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

struct match_case {
	const char *list;
	const char *host;
	unsigned port;
	int want;
};

static const struct match_case match_cases[] = {
	/* Empty lists match nothing. */
	{ NULL, "example.com", 443, 0 },
	{ "", "example.com", 443, 0 },
	{ " , ,\t", "example.com", 443, 0 },

	/* "*" alone, in a list, with a port; never as part of a word. */
	{ "*", "example.com", 443, 1 },
	{ "*", "192.0.2.1", 0, 1 },
	{ "*", "::1", 80, 1 },
	{ "a.com, *, b.com", "x.org", 1, 1 },
	{ "a.com,*", "x.org", 1, 1 },
	{ "*:443", "x.org", 443, 1 },
	{ "*:443", "x.org", 80, 0 },
	{ "*foo", "foo", 0, 0 },
	{ "*foo", "xfoo", 0, 0 },
	{ "foo*", "foo", 0, 0 },
	{ "**", "x", 0, 0 },
	{ "[*]", "x", 0, 0 },

	/* Names: suffix on a label boundary, any case, trailing dots. */
	{ "example.com", "example.com", 443, 1 },
	{ "example.com", "www.example.com", 443, 1 },
	{ "example.com", "a.b.example.com", 443, 1 },
	{ "example.com", "notexample.com", 443, 0 },
	{ "example.com", "xexample.com", 443, 0 },
	{ "example.com", "example.com.evil", 443, 0 },
	{ "example.com", "example.co", 443, 0 },
	{ "example.com", "com", 443, 0 },
	{ "example.com", "EXAMPLE.COM", 443, 1 },
	{ "EXAMPLE.Com", "www.Example.COM", 443, 1 },
	{ "example.com", "example.com.", 443, 1 },
	{ "example.com", "www.example.com.", 443, 1 },
	{ "example.com.", "www.example.com", 443, 1 },
	{ "example.com", "example.com..", 443, 0 },
	{ ".example.com", "example.com", 443, 1 },
	{ ".example.com", "www.example.com", 443, 1 },
	{ ".example.com", "notexample.com", 443, 0 },
	{ "*.example.com", "example.com", 443, 1 },
	{ "*.example.com", "www.example.com", 443, 1 },
	{ "*.example.com", "notexample.com", 443, 0 },
	{ "localhost", "localhost", 80, 1 },
	{ "localhost", "localhost.localdomain", 80, 0 },
	{ "internal", "svc.internal", 80, 1 },
	{ "a_b.example", "x.a_b.example", 80, 1 },
	/* Hosts nothing can match. */
	{ "example.com", "", 443, 0 },
	{ "example.com", NULL, 443, 0 },
	{ "example.com", ".example.com", 443, 0 },
	{ "example.com", "[example.com]", 443, 0 },
	{ "*", "[example.com]", 443, 0 },

	/* Separators: commas, spaces, tabs, in runs. */
	{ "a.com b.com,c.com\t d.com", "a.com", 0, 1 },
	{ "a.com b.com,c.com\t d.com", "b.com", 0, 1 },
	{ "a.com b.com,c.com\t d.com", "c.com", 0, 1 },
	{ "a.com b.com,c.com\t d.com", "d.com", 0, 1 },
	{ "a.com b.com,c.com\t d.com", "e.com", 0, 0 },
	{ ",,example.com,,", "example.com", 0, 1 },
	/* A bad entry neither breaks the list nor matches. */
	{ "a..b, example.com", "example.com", 0, 1 },
	{ "a..b", "a..b", 0, 0 },
	{ "a..b", "b", 0, 0 },
	{ "*foo, *.*.x.com, exa$mple.com", "a.x.com", 0, 0 },
	{ "exa$mple.com", "exa$mple.com", 0, 0 },

	/* Ports restrict an entry. */
	{ "example.com:443", "example.com", 443, 1 },
	{ "example.com:443", "a.example.com", 443, 1 },
	{ "example.com:443", "example.com", 80, 0 },
	{ "example.com:443", "example.com", 0, 0 },
	{ "example.com:443, example.com:80", "example.com", 80, 1 },
	{ "example.com:65535", "example.com", 65535, 1 },
	{ "example.com:65536", "example.com", 443, 0 },
	{ "example.com:0", "example.com", 0, 0 },
	{ "example.com:", "example.com", 443, 0 },
	{ "example.com:http", "example.com", 80, 0 },
	{ "example.com", "example.com", 0, 1 },

	/* IPv4 literals. */
	{ "192.0.2.1", "192.0.2.1", 0, 1 },
	{ "192.0.2.1", "192.0.2.10", 0, 0 },
	{ "192.0.2.1", "192.0.2.1.", 0, 1 },
	{ "192.0.2.1", "x.192.0.2.1", 0, 0 },
	{ "192.0.2.1:8080", "192.0.2.1", 8080, 1 },
	{ "192.0.2.1:8080", "192.0.2.1", 80, 0 },
	/* A v4-mapped IPv6 host is that IPv4 address. */
	{ "192.0.2.1", "::ffff:192.0.2.1", 0, 1 },
	{ "192.0.2.1", "[::ffff:192.0.2.1]", 0, 1 },
	{ "192.0.2.1", "::FFFF:c000:201", 0, 1 },
	{ "192.0.2.1", "::192.0.2.1", 0, 0 },
	/* ... and a v4-mapped entry is an IPv4 entry. */
	{ "::ffff:192.0.2.1", "192.0.2.1", 0, 1 },
	{ "[::ffff:192.0.2.1]:443", "192.0.2.1", 443, 1 },
	{ "::ffff:192.0.2.1", "192.0.2.2", 0, 0 },
	/* Names never match addresses, nor the other way round. */
	{ "example.com", "192.0.2.1", 0, 0 },
	{ "2.3.4", "1.2.3.4", 0, 0 },
	{ "4", "1.2.3.4", 0, 0 },
	{ "10.0.0", "10.0.0.1", 0, 0 },
	{ "0.1", "10.0.0.1", 0, 0 },
	{ "1.2.3.4", "a.1.2.3.4", 0, 0 },
	/* Only dotted quads are IPv4. */
	{ "127.1", "127.0.0.1", 0, 0 },
	{ "010.0.0.1", "10.0.0.1", 0, 0 },

	/* IPv6 literals in any spelling. */
	{ "::1", "::1", 0, 1 },
	{ "::1", "0:0:0:0:0:0:0:1", 0, 1 },
	{ "::1", "[::1]", 0, 1 },
	{ "::1", "::0:1", 0, 1 },
	{ "::1", "0000:0000:0000:0000:0000:0000:0000:0001", 0, 1 },
	{ "::1", "::2", 0, 0 },
	{ "::1", "127.0.0.1", 0, 0 },
	{ "0:0:0:0:0:0:0:1", "::1", 0, 1 },
	{ "[::1]", "::1", 0, 1 },
	{ "[0::1]", "[::1]", 80, 1 },
	{ "2001:DB8::1", "2001:db8:0::1", 0, 1 },
	{ "2001:db8::1", "2001:DB8:0:0:0:0:0:1", 0, 1 },
	{ "[::1]:443", "::1", 443, 1 },
	{ "[::1]:443", "[::1]", 443, 1 },
	{ "[::1]:443", "::1", 80, 0 },
	/* A bare IPv6 entry has no port: this is the address ::1:443. */
	{ "::1:443", "::1", 443, 0 },
	{ "::1:443", "0::1:443", 80, 1 },
	{ "::1:443", "::1:1bb", 443, 0 },
	{ "::1", "::1", 443, 1 },
	{ "::1", "[::1", 0, 0 },
	{ "[::1", "::1", 0, 0 },
	{ "[::1]x", "::1", 0, 0 },

	/* IPv4 CIDR. */
	{ "10.0.0.0/8", "10.1.2.3", 0, 1 },
	{ "10.0.0.0/8", "10.255.255.255", 0, 1 },
	{ "10.0.0.0/8", "11.0.0.1", 0, 0 },
	{ "10.0.0.0/8", "9.255.255.255", 0, 0 },
	{ "10.0.0.0/8", "::ffff:10.1.2.3", 0, 1 },
	{ "10.0.0.0/8", "10.example.com", 0, 0 },
	{ "10.0.0.0/8", "::a01:203", 0, 0 },
	{ "0.0.0.0/0", "203.0.113.9", 0, 1 },
	{ "0.0.0.0/0", "::1", 0, 0 },
	{ "0.0.0.0/0", "example.com", 0, 0 },
	{ "192.0.2.1/32", "192.0.2.1", 0, 1 },
	{ "192.0.2.1/32", "192.0.2.2", 0, 0 },
	{ "192.0.2.0/25", "192.0.2.127", 0, 1 },
	{ "192.0.2.0/25", "192.0.2.128", 0, 0 },
	{ "192.0.2.0/31", "192.0.2.1", 0, 1 },
	{ "192.0.2.0/31", "192.0.2.2", 0, 0 },
	{ "127.0.0.0/8", "127.0.0.1", 0, 1 },
	/* Host bits in the entry are ignored: the block it lies in. */
	{ "10.1.2.3/8", "10.200.0.1", 0, 1 },
	{ "10.0.0.0/33", "10.0.0.1", 0, 0 },
	{ "10.0.0.0/", "10.0.0.1", 0, 0 },
	{ "10.0.0.0/-1", "10.0.0.1", 0, 0 },
	{ "10.0.0.0/8/8", "10.0.0.1", 0, 0 },
	{ "10.0.0.0/8:443", "10.1.1.1", 443, 1 },
	{ "10.0.0.0/8:443", "10.1.1.1", 80, 0 },

	/* IPv6 CIDR. */
	{ "fd00::/8", "fd12::1", 0, 1 },
	{ "fd00::/8", "fe00::1", 0, 0 },
	{ "fd00::/8", "10.0.0.1", 0, 0 },
	{ "::/0", "::1", 0, 1 },
	{ "::/0", "2001:db8::1", 0, 1 },
	{ "::/0", "10.0.0.1", 0, 0 },
	{ "::/0", "::ffff:10.0.0.1", 0, 1 },
	{ "::/0", "example.com", 0, 0 },
	{ "2001:db8::/32", "2001:db8:ffff::1", 0, 1 },
	{ "2001:db8::/32", "2001:db9::1", 0, 0 },
	{ "2001:db8::/33", "2001:db8:7fff::1", 0, 1 },
	{ "2001:db8::/33", "2001:db8:8000::1", 0, 0 },
	{ "::1/128", "::1", 0, 1 },
	{ "::1/128", "::2", 0, 0 },
	{ "::1/129", "::1", 0, 0 },
	{ "[fd00::/8]:443", "fd00::1", 443, 1 },
	{ "[fd00::/8]:443", "fd00::1", 80, 0 },
	{ "[fd00::]/8:443", "fd00::1", 443, 1 },
	{ "[fd00::]/8:443", "fd00::1", 80, 0 },
	{ "[fd00::]/8", "fdff::1", 80, 1 },
	{ "[fd00::]/8", "fe00::1", 80, 0 },
	/* v4-mapped blocks are IPv4 blocks. */
	{ "::ffff:10.0.0.0/104", "10.9.9.9", 0, 1 },
	{ "::ffff:10.0.0.0/104", "11.0.0.1", 0, 0 },
	{ "::ffff:0:0/96", "1.2.3.4", 0, 1 },
	{ "::ffff:0:0/96", "::1", 0, 0 },
	{ "::ffff:0:0/95", "1.2.3.4", 0, 0 },
};

static void test_match_table(void)
{
	size_t i;

	for (i = 0; i < N_ELEMENTS(match_cases); i++) {
		const struct match_case *c = &match_cases[i];

		CHECK_MSG(hostmatch_list(c->list, c->host, c->port) == c->want,
			  "\"%s\" %s \"%s\" port %u",
			  c->list ? c->list : "NULL",
			  c->want ? "matches" : "does not match",
			  c->host ? c->host : "NULL", c->port);
	}
}

/* Entries of 255 bytes are used; longer ones never match. */
static void test_long_entries(void)
{
	char host[256], list[600];
	size_t i;

	/* A 254-byte name: "aaa...a.com". */
	memset(host, 'a', 250);
	memcpy(host + 250, ".com", 5);
	for (i = 63; i < 250; i += 64)
		host[i] = '.';

	snprintf(list, sizeof(list), ".%s", host);	/* 255 bytes */
	CHECK_INT(strlen(list), 255);
	CHECK_INT(hostmatch_list(list, host, 0), 1);
	CHECK_INT(hostmatch_validate(list, NULL, 0), 0);

	snprintf(list, sizeof(list), "*.%s", host);	/* 256 bytes */
	CHECK_INT(hostmatch_list(list, host, 0), 0);
	CHECK_INT(hostmatch_validate(list, NULL, 0), -1);

	/* Skipping a long entry does not lose the next one. */
	memset(list, 'a', 300);
	strcpy(list + 300, ",example.com");
	CHECK_INT(hostmatch_list(list, "example.com", 0), 1);
	CHECK_INT(hostmatch_list(list, "aaaa", 0), 0);

	/* A host longer than 255 bytes matches nothing, not even "*". */
	memset(list, 'a', 300);
	list[300] = '\0';
	CHECK_INT(hostmatch_list("*", list, 0), 0);
	CHECK_INT(hostmatch_list("*", host, 0), 1);
}

struct validate_case {
	const char *list;
	const char *why; /* NULL: valid; else what the error must say */
};

static const struct validate_case validate_cases[] = {
	{ NULL, NULL },
	{ "", NULL },
	{ " ,, ", NULL },
	{ "localhost, 127.0.0.0/8, .internal.example.com", NULL },
	{ "*", NULL },
	{ "*:443", NULL },
	{ "*.example.com example.com:443", NULL },
	{ "::1, [::1]:443, fd00::/8, [fd00::/8]:443, [fd00::]/8:443", NULL },
	{ "0.0.0.0/0, ::/0, 10.0.0.0/32, ::1/128", NULL },
	{ "::ffff:10.0.0.0/104", NULL },
	{ "10.0.0.0/33", "'10.0.0.0/33': bad CIDR prefix length (0 to 32" },
	{ "::/129", "'::/129': bad CIDR prefix length (0 to 128" },
	{ "10.0.0.0/", "bad CIDR prefix length" },
	{ "10.0.0.0/x", "bad CIDR prefix length" },
	{ "10.0.0.0/0008", "bad CIDR prefix length" },
	{ "10.0.0.0/8/8", "bad CIDR prefix length" },
	{ "[fd00::/8]/8", "bad CIDR prefix length" },
	{ "example.com/8", "not an IP address" },
	{ "a..b", "'a..b': empty label" },
	{ ".", "empty host name" },
	{ "*.", "empty host name" },
	{ "*foo", "'*foo': '*' is allowed only" },
	{ "foo*", "'*'" },
	{ "*.*.example.com", "'*'" },
	{ "example.com:0", "bad port" },
	{ "example.com:65536", "bad port" },
	{ "example.com:", "bad port" },
	{ "example.com:http", "bad port" },
	{ "[::1]:99999", "bad port" },
	{ ":443", "empty host" },
	{ "[]", "empty host" },
	{ "[::1", "unclosed '['" },
	{ "[::1]x", "unexpected text after ']'" },
	{ "[1.2.3.4]", "only IPv6 addresses go in brackets" },
	{ "[example.com]", "not an IP address" },
	{ "1:2:3", "not an IP address" },
	{ "10.0.0", "partial IP address" },
	{ "127.1", "partial IP address" },
	{ "0x7f000001", "partial IP address" },
	{ "exa$mple.com", "character not allowed" },
	{ "a/b", "not an IP address" },
	/* The first bad entry is the one reported. */
	{ "good.com, a..b, c..d", "'a..b'" },
};

static void test_validate(void)
{
	size_t i;

	for (i = 0; i < N_ELEMENTS(validate_cases); i++) {
		const struct validate_case *c = &validate_cases[i];
		char err[256] = "stale";
		int rc = hostmatch_validate(c->list, err, sizeof(err));

		CHECK_MSG(rc == (c->why ? -1 : 0), "validate \"%s\" is %d",
			  c->list ? c->list : "NULL", c->why ? -1 : 0);
		if (c->why)
			CHECK_MSG(strstr(err, c->why) != NULL,
				  "error for \"%s\" says \"%s\" (got \"%s\")",
				  c->list, c->why, err);
		else
			CHECK_STR(err, "");
		/* What validate refuses, matching ignores: even itself. */
		if (c->why && c->list)
			CHECK_MSG(!hostmatch_list(c->list, c->list, 443) &&
					  !hostmatch_list(c->list, "c..d", 443),
				  "refused \"%s\" matches nothing", c->list);
	}
}

static void test_validate_errbuf(void)
{
	char small[10], err[128];

	memset(small, 'X', sizeof(small));
	CHECK_INT(hostmatch_validate("a..b", small, sizeof(small)), -1);
	CHECK_INT(strlen(small), sizeof(small) - 1);
	CHECK_INT(hostmatch_validate("a..b", NULL, 0), -1);
	CHECK_INT(hostmatch_validate("a..b", small, 0), -1);
	/* Only the first bad entry is reported. */
	CHECK_INT(hostmatch_validate("ok.com, a..b, c..d", err, sizeof(err)),
		  -1);
	CHECK(strstr(err, "a..b") != NULL && strstr(err, "c..d") == NULL);
}

int main(void)
{
	test_match_table();
	test_long_entries();
	test_validate();
	test_validate_errbuf();
	return check_done();
}
