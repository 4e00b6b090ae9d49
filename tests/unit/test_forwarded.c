/*
 * test_forwarded.c - ps_forwarded_client(): the real client behind
 * trusted reverse proxies.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "proxystack.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

struct forwarded_case {
	const char *peer;
	const char *xff;
	const char *trust;
	int want_rc;
	const char *want;	/* the answer; "" for every error */
};

#define OK PS_OK
#define BAD PS_ERR_USAGE

static const struct forwarded_case forwarded_cases[] = {
	/* Trust nobody: the peer, whatever the header says. */
	{ "10.0.0.2", "1.1.1.1", NULL, OK, "10.0.0.2" },
	{ "10.0.0.2", "1.1.1.1", "", OK, "10.0.0.2" },
	{ "10.0.0.2", "1.1.1.1", "false", OK, "10.0.0.2" },
	{ "10.0.0.2", "1.1.1.1", " FaLsE\t", OK, "10.0.0.2" },
	{ "10.0.0.2", "1.1.1.1", " \t ", OK, "10.0.0.2" },
	{ "10.0.0.2", "1.1.1.1", "0", OK, "10.0.0.2" },
	{ "10.0.0.2", "unknown, junk", "false", OK, "10.0.0.2" },
	{ "10.0.0.2", NULL, "false", OK, "10.0.0.2" },

	/* Trust everyone: the left-most entry. */
	{ "10.0.0.2", "1.1.1.1, 2.2.2.2", "true", OK, "1.1.1.1" },
	{ "10.0.0.2", "1.1.1.1, 2.2.2.2", "TRUE", OK, "1.1.1.1" },
	{ "10.0.0.2", "1.1.1.1", " true ", OK, "1.1.1.1" },
	{ "10.0.0.2", NULL, "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", " , ,", "true", OK, "10.0.0.2" },
	/* Repeated headers joined by the server, with and without spaces. */
	{ "10.0.0.2", "1.1.1.1,2.2.2.2, 3.3.3.3", "true", OK, "1.1.1.1" },
	/* Empty entries are skipped. */
	{ "10.0.0.2", "1.1.1.1,,2.2.2.2", "true", OK, "1.1.1.1" },
	{ "10.0.0.2", ",1.1.1.1, ,2.2.2.2,", "true", OK, "1.1.1.1" },
	/* A malformed entry stops the walk: the address right of it. */
	{ "10.0.0.2", "1.1.1.1, unknown, 2.2.2.2", "true", OK, "2.2.2.2" },
	{ "10.0.0.2", "1.1.1.1, unknown", "true", OK, "10.0.0.2" },

	/* Hop counts: the peer and N-1 entries are trusted. */
	{ "10.0.0.2", "1.1.1.1, 2.2.2.2, 3.3.3.3", "1", OK, "3.3.3.3" },
	{ "10.0.0.2", "1.1.1.1, 2.2.2.2, 3.3.3.3", "2", OK, "2.2.2.2" },
	{ "10.0.0.2", "1.1.1.1, 2.2.2.2, 3.3.3.3", "3", OK, "1.1.1.1" },
	{ "10.0.0.2", "1.1.1.1, 2.2.2.2, 3.3.3.3", " 03 ", OK, "1.1.1.1" },
	/* More hops than entries: the left-most. */
	{ "10.0.0.2", "1.1.1.1, 2.2.2.2, 3.3.3.3", "4", OK, "1.1.1.1" },
	{ "10.0.0.2", "1.1.1.1, 2.2.2.2, 3.3.3.3", "64", OK, "1.1.1.1" },
	{ "10.0.0.2", NULL, "1", OK, "10.0.0.2" },
	{ "10.0.0.2", "", "5", OK, "10.0.0.2" },
	/* A client's prepended entries are beyond the trusted hops. */
	{ "10.0.0.2", "1.1.1.1, 203.0.113.7", "1", OK, "203.0.113.7" },
	/* Hop N is garbage: the trusted hop right of it, never the junk. */
	{ "10.0.0.2", "1.1.1.1, junk, 3.3.3.3", "2", OK, "3.3.3.3" },
	{ "10.0.0.2", "1.1.1.1, junk, 3.3.3.3", "3", OK, "3.3.3.3" },
	{ "10.0.0.2", "junk", "1", OK, "10.0.0.2" },

	/* Address lists: walk left while trusted. */
	{ "10.0.0.2", "1.1.1.1, 203.0.113.7", "10.0.0.0/8", OK,
	  "203.0.113.7" },
	{ "10.0.0.2", "203.0.113.7, 10.0.0.9, 10.1.1.1", "10.0.0.0/8", OK,
	  "203.0.113.7" },
	/* A trusted address left of an untrusted one is the client's lie. */
	{ "10.0.0.2", "10.0.0.7, 203.0.113.7", "10.0.0.0/8", OK,
	  "203.0.113.7" },
	/* All trusted: the left-most. */
	{ "10.0.0.2", "10.0.0.3, 10.0.0.4", "10.0.0.0/8", OK, "10.0.0.3" },
	{ "10.0.0.2", NULL, "10.0.0.0/8", OK, "10.0.0.2" },
	{ "10.0.0.2", "", "10.0.0.0/8", OK, "10.0.0.2" },
	/* Spoofed headers from untrusted peers are ignored entirely. */
	{ "198.51.100.9", "1.1.1.1", "10.0.0.0/8", OK, "198.51.100.9" },
	{ "198.51.100.9", "10.0.0.5", "10.0.0.0/8", OK, "198.51.100.9" },
	{ "198.51.100.9", "10.0.0.5, 10.0.0.6", "10.0.0.0/8, 127.0.0.1", OK,
	  "198.51.100.9" },
	{ "198.51.100.9", "unknown", "10.0.0.0/8", OK, "198.51.100.9" },
	{ "198.51.100.9", "1.1.1.1", "loopback, private", OK,
	  "198.51.100.9" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.1", OK, "10.0.0.2" },
	{ "10.0.0.1", "1.1.1.1", "10.0.0.1", OK, "1.1.1.1" },
	/* Several entries, commas and/or spaces, v4 and v6. */
	{ "fd00::1", "203.0.113.7, 10.2.3.4",
	  "127.0.0.1, 10.0.0.0/8, fd00::/8", OK, "203.0.113.7" },
	{ "127.0.0.1", "2001:db8::7, fd12::3",
	  "127.0.0.1 10.0.0.0/8\tfd00::/8", OK, "2001:db8::7" },
	{ "127.0.0.1", "2001:db8::7, fe12::3",
	  "127.0.0.1,,10.0.0.0/8 ,fd00::/8", OK, "fe12::3" },
	{ "10.0.0.2", "203.0.113.7", "0.0.0.0/0", OK, "203.0.113.7" },
	/* A CIDR with host bits set means the block it lies in. */
	{ "10.9.9.9", "203.0.113.7", "10.1.2.3/8", OK, "203.0.113.7" },
	/* Prefix edges. */
	{ "192.0.2.127", "203.0.113.7", "192.0.2.0/25", OK, "203.0.113.7" },
	{ "192.0.2.128", "203.0.113.7", "192.0.2.0/25", OK, "192.0.2.128" },

	/* Keywords. */
	{ "127.0.0.1", "203.0.113.7", "loopback", OK, "203.0.113.7" },
	{ "127.255.0.9", "203.0.113.7", "LoopBack", OK, "203.0.113.7" },
	{ "::1", "203.0.113.7", "loopback", OK, "203.0.113.7" },
	{ "::2", "203.0.113.7", "loopback", OK, "::2" },
	{ "10.0.0.1", "203.0.113.7", "loopback", OK, "10.0.0.1" },
	{ "10.0.0.1", "203.0.113.7", "private", OK, "203.0.113.7" },
	{ "172.16.0.1", "203.0.113.7", "private", OK, "203.0.113.7" },
	{ "172.31.255.255", "203.0.113.7", "private", OK, "203.0.113.7" },
	{ "172.32.0.1", "203.0.113.7", "private", OK, "172.32.0.1" },
	{ "172.15.255.255", "203.0.113.7", "private", OK, "172.15.255.255" },
	{ "192.168.1.1", "203.0.113.7", "private", OK, "203.0.113.7" },
	{ "192.169.1.1", "203.0.113.7", "private", OK, "192.169.1.1" },
	{ "fc00::1", "203.0.113.7", "private", OK, "203.0.113.7" },
	{ "fdff::1", "203.0.113.7", "private", OK, "203.0.113.7" },
	{ "fe00::1", "203.0.113.7", "private", OK, "fe00::1" },
	{ "127.0.0.1", "203.0.113.7", "private", OK, "127.0.0.1" },
	{ "10.0.0.1", "203.0.113.7", "uniquelocal", OK, "203.0.113.7" },
	{ "169.254.1.1", "203.0.113.7", "linklocal", OK, "203.0.113.7" },
	{ "169.255.1.1", "203.0.113.7", "linklocal", OK, "169.255.1.1" },
	{ "fe80::1", "203.0.113.7", "linklocal", OK, "203.0.113.7" },
	{ "febf::1", "203.0.113.7", "linklocal", OK, "203.0.113.7" },
	{ "fec0::1", "203.0.113.7", "linklocal", OK, "fec0::1" },
	{ "10.0.0.2", "203.0.113.7, 127.0.0.1, 169.254.0.5",
	  "loopback linklocal, private", OK, "203.0.113.7" },
	{ "10.0.0.2", "203.0.113.7, 127.0.0.1, 169.254.0.5",
	  "loopback, 10.0.0.2", OK, "169.254.0.5" },

	/* IPv6, canonical output. */
	{ "2001:db8::1", "2001:db9::7, 2001:db8::5", "2001:db8::/32", OK,
	  "2001:db9::7" },
	{ "2001:DB8:0:0::1", NULL, "false", OK, "2001:db8::1" },
	{ "10.0.0.2", "2001:DB8:0000::0007", "true", OK, "2001:db8::7" },
	{ "10.0.0.2", "[2001:db8::7]", "true", OK, "2001:db8::7" },
	{ "::1", "203.0.113.7", "::1", OK, "203.0.113.7" },
	{ "::1", "203.0.113.7", "0:0::1/128", OK, "203.0.113.7" },
	/* "::/0" is IPv6 only. */
	{ "10.0.0.2", "203.0.113.7", "::/0", OK, "10.0.0.2" },
	{ "2001:db8::1", "203.0.113.7", "::/0", OK, "203.0.113.7" },

	/* IPv4-mapped IPv6 is IPv4, as peer, entry and trust entry. */
	{ "::ffff:10.0.0.2", "203.0.113.7", "10.0.0.0/8", OK, "203.0.113.7" },
	{ "::ffff:10.0.0.2", NULL, "false", OK, "10.0.0.2" },
	{ "::FFFF:a00:2", NULL, NULL, OK, "10.0.0.2" },
	{ "[::ffff:10.0.0.2]:443", NULL, NULL, OK, "10.0.0.2" },
	{ "10.0.0.2", "::ffff:203.0.113.7", "true", OK, "203.0.113.7" },
	{ "10.0.0.2", "[::ffff:cb00:7107]:80", "true", OK, "203.0.113.7" },
	{ "10.0.0.2", "203.0.113.7, ::ffff:10.0.0.9", "10.0.0.0/8", OK,
	  "203.0.113.7" },
	{ "10.0.0.2", "203.0.113.7", "::ffff:10.0.0.0/104", OK,
	  "203.0.113.7" },
	{ "11.0.0.2", "203.0.113.7", "::ffff:10.0.0.0/104", OK, "11.0.0.2" },
	{ "10.0.0.2", "203.0.113.7", "::ffff:0:0/96", OK, "203.0.113.7" },
	/* An IPv4-compatible address is not mapped: it stays IPv6. */
	{ "10.0.0.2", "::203.0.113.7", "true", OK, "::203.0.113.7" },

	/* Ports are dropped. */
	{ "10.0.0.2", "203.0.113.7:5555", "true", OK, "203.0.113.7" },
	{ "10.0.0.2", "[2001:db8::7]:443", "true", OK, "2001:db8::7" },
	{ "10.0.0.2", "1.1.1.1:1, 203.0.113.7:65535", "1", OK,
	  "203.0.113.7" },
	{ "10.0.0.2:40000", "203.0.113.7", "10.0.0.0/8", OK, "203.0.113.7" },
	{ "[fd00::1]:40000", "203.0.113.7", "fd00::/8", OK, "203.0.113.7" },
	{ "[fd00::1]", NULL, NULL, OK, "fd00::1" },
	/* Unbracketed IPv6 has no port: "::1:443" is an address. */
	{ "10.0.0.2", "2001:db8::1:443", "true", OK, "2001:db8::1:443" },
	/* Bad ports make the entry malformed. */
	{ "10.0.0.2", "203.0.113.7:", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "203.0.113.7:0", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "203.0.113.7:65536", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "203.0.113.7:http", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "203.0.113.7:80:80", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "[2001:db8::7]:", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "[2001:db8::7]x", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "[2001:db8::7]]", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "[2001:db8::7", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "2001:db8::7]", "true", OK, "10.0.0.2" },

	/* Garbage is never an answer: the walk stops right of it. */
	{ "10.0.0.2", "198.51.100.1, unknown, 203.0.113.7", "true", OK,
	  "203.0.113.7" },
	{ "10.0.0.2", "198.51.100.1, _hidden, 203.0.113.7", "true", OK,
	  "203.0.113.7" },
	{ "10.0.0.2", "198.51.100.1, example.com, 203.0.113.7", "true", OK,
	  "203.0.113.7" },
	{ "10.0.0.2", "unknown", "10.0.0.0/8", OK, "10.0.0.2" },
	{ "10.0.0.2", "_hidden", "10.0.0.0/8", OK, "10.0.0.2" },
	{ "10.0.0.2", "203.0.113.7, junk, 10.0.0.3", "10.0.0.0/8", OK,
	  "10.0.0.3" },
	{ "10.0.0.2", "1.2.3", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "127.1", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "1.2.3.4.5", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "300.1.1.1", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "010.1.1.1", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "0x7f000001", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "[1.2.3.4]", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "[1.2.3.4]:80", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "fe80::1%eth0", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "1.2.3.4 5.6.7.8", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "\"1.2.3.4\"", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "for=1.2.3.4", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "1.2.3.4/8", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "1.2.3.4\r\n", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "1.2.3.4;5.6.7.8", "true", OK, "10.0.0.2" },
	{ "10.0.0.2", "::1::2", "true", OK, "10.0.0.2" },
	/* Padding is trimmed before the length bound applies. */
	{ "10.0.0.2",
	  "0000:0000:0000:0000:0000:0000:0000:0001"
	  "                                        ",
	  "true", OK, "::1" },
	/* Spaces and tabs around entries are trimmed. */
	{ "10.0.0.2", " \t203.0.113.7\t ", "true", OK, "203.0.113.7" },
	{ " 10.0.0.2 ", NULL, NULL, OK, "10.0.0.2" },

	/* Bad peers. */
	{ NULL, "1.1.1.1", "true", BAD, "" },
	{ "", "1.1.1.1", "true", BAD, "" },
	{ "  ", "1.1.1.1", "true", BAD, "" },
	{ "unknown", "1.1.1.1", "true", BAD, "" },
	{ "10.0.0", NULL, NULL, BAD, "" },
	{ "localhost", NULL, NULL, BAD, "" },
	{ "10.0.0.2:99999", NULL, NULL, BAD, "" },
	{ "[10.0.0.2]", NULL, NULL, BAD, "" },
	{ "fe80::1%eth0", NULL, NULL, BAD, "" },

	/* Bad settings fail whatever the header and peer. */
	{ "10.0.0.2", "1.1.1.1", "2x", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "-1", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "+1", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "1.5", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "65", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "300", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "99999999999999999999999", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "1 2", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "300.0.0.0/8", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.0/33", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "::/129", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.0/", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.0/x", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.0/-8", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.0/0008", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.0/8/8", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.0/255.0.0.0", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.0/8:443", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.1:443", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "[::1]", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "[::1]:443", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "fe80::1%eth0", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "127.1", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "example.com", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "*", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "yes", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "loopbacks", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "true, 10.0.0.0/8", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "false, 10.0.0.0/8", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "1, 10.0.0.0/8", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", ",", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", " , , ", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "10.0.0.0/8\n", BAD, "" },
	/* A bad entry the walk would never reach still fails. */
	{ "198.51.100.9", NULL, "10.0.0.0/8, junk", BAD, "" },
	{ "10.0.0.2", "1.1.1.1", "loopback, 10.0.0.0/8, fd00::/8, x", BAD,
	  "" },
};

/* 's' for a one-line message: control bytes as '?', NULL as "NULL". */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t i;

	if (s == NULL)
		return "NULL";
	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void test_forwarded_table(void)
{
	size_t i;

	for (i = 0; i < N_ELEMENTS(forwarded_cases); i++) {
		const struct forwarded_case *c = &forwarded_cases[i];
		char out[PS_FORWARDED_CLIENT_MAX] = "stale";
		char peer[128], xff[128], trust[128];
		int rc = ps_forwarded_client(c->peer, c->xff, c->trust, out,
					     sizeof(out));

		CHECK_MSG(rc == c->want_rc && strcmp(out, c->want) == 0,
			  "peer \"%s\" xff \"%s\" trust \"%s\" -> %s \"%s\" "
			  "(got %s \"%s\")",
			  printable(c->peer, peer, sizeof(peer)),
			  printable(c->xff, xff, sizeof(xff)),
			  printable(c->trust, trust, sizeof(trust)),
			  ps_code_name(c->want_rc), c->want,
			  ps_code_name(rc), out);
	}
}

/* "198.51.100.<first>, ..., 198.51.100.<first + n - 1>" */
static void build_header(char *buf, size_t size, int first, int n)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = first; i < first + n; i++)
		used += (size_t)snprintf(buf + used, size - used,
					 "%s198.51.%d.%d",
					 i == first ? "" : ", ",
					 100 + i / 256, i % 256);
}

/* "1.1.1.1" and "203.0.113.7" with 'commas' commas between them. */
static void build_commas(char *buf, size_t size, size_t commas)
{
	memcpy(buf, "1.1.1.1", 7);
	memset(buf + 7, ',', commas);
	snprintf(buf + 7 + commas, size - 7 - commas, "203.0.113.7");
}

static void check_client(const char *peer, const char *xff,
			 const char *trust, const char *want, const char *what)
{
	char out[PS_FORWARDED_CLIENT_MAX] = "stale";
	int rc = ps_forwarded_client(peer, xff, trust, out, sizeof(out));

	CHECK_MSG(rc == PS_OK && strcmp(out, want) == 0,
		  "%s: trust \"%s\" -> \"%s\" (got %s \"%s\")", what, trust,
		  want, ps_code_name(rc), out);
}

/* Only the right-most 64 entries are read. */
static void test_long_headers(void)
{
	static char header[200000];
	char with_empties[2000];

	/* 100 entries: .0 to .99; the right-most 64 start at .36. */
	build_header(header, sizeof(header), 0, 100);
	check_client("10.0.0.2", header, "true", "198.51.100.36",
		     "100 entries");
	check_client("10.0.0.2", header, "64", "198.51.100.36",
		     "100 entries");
	check_client("10.0.0.2", header, "63", "198.51.100.37",
		     "100 entries");
	check_client("10.0.0.2", header, "1", "198.51.100.99",
		     "100 entries");
	check_client("10.0.0.2", header, "10.0.0.0/8, 198.51.100.0/24",
		     "198.51.100.36", "100 entries");
	check_client("10.0.0.2", header, "10.0.0.0/8, 198.51.100.50/31",
		     "198.51.100.99", "100 entries");
	/* An untrusted peer: the header is not even looked at. */
	check_client("203.0.113.9", header, "10.0.0.0/8", "203.0.113.9",
		     "100 entries");

	/* Exactly 64 entries are all read, 65 are not. */
	build_header(header, sizeof(header), 0, 64);
	check_client("10.0.0.2", header, "true", "198.51.100.0",
		     "64 entries");
	build_header(header, sizeof(header), 0, 65);
	check_client("10.0.0.2", header, "true", "198.51.100.1",
		     "65 entries");

	/* Empty entries count towards the 64. */
	build_commas(with_empties, sizeof(with_empties), 100);
	check_client("10.0.0.2", with_empties, "true", "203.0.113.7",
		     "99 empty entries");
	build_commas(with_empties, sizeof(with_empties), 64);
	check_client("10.0.0.2", with_empties, "true", "203.0.113.7",
		     "63 empty entries");
	build_commas(with_empties, sizeof(with_empties), 63);
	check_client("10.0.0.2", with_empties, "true", "1.1.1.1",
		     "62 empty entries");

	/* A huge peer is refused, a huge header entry ends the walk. */
	memset(header, '1', 1000);
	header[1000] = '\0';
	{
		char out[PS_FORWARDED_CLIENT_MAX] = "stale";

		CHECK_INT(ps_forwarded_client(header, NULL, NULL, out,
					      sizeof(out)),
			  PS_ERR_USAGE);
		CHECK_STR(out, "");
	}
	check_client("10.0.0.2", header, "true", "10.0.0.2",
		     "1000-byte entry");

	/* A huge header costs one pass over its bytes. */
	build_header(header, sizeof(header), 0, 12000);
	check_client("10.0.0.2", header, "true", "198.51.146.160",
		     "12000 entries");
}

static void test_out_buffer(void)
{
	char out[PS_FORWARDED_CLIENT_MAX];
	const char *v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";

	CHECK_INT(ps_forwarded_client("10.0.0.2", NULL, NULL, NULL, 64),
		  PS_ERR_USAGE);
	memcpy(out, "stale", 6);
	CHECK_INT(ps_forwarded_client("10.0.0.2", NULL, NULL, out, 0),
		  PS_ERR_USAGE);
	CHECK_STR(out, "stale");

	/* "255.255.255.255" needs 16 bytes. */
	memcpy(out, "stale", 6);
	CHECK_INT(ps_forwarded_client("255.255.255.255", NULL, NULL, out, 15),
		  PS_ERR_USAGE);
	CHECK_STR(out, "");
	CHECK_INT(ps_forwarded_client("255.255.255.255", NULL, NULL, out, 16),
		  PS_OK);
	CHECK_STR(out, "255.255.255.255");

	/* The size checked is the answer's, not the peer's. */
	CHECK_INT(ps_forwarded_client("255.255.255.255", "1.1.1.1", "true",
				      out, 8),
		  PS_OK);
	CHECK_STR(out, "1.1.1.1");
	CHECK_INT(ps_forwarded_client("1.1.1.1", "255.255.255.255", "true",
				      out, 8),
		  PS_ERR_USAGE);
	CHECK_STR(out, "");

	CHECK_INT(ps_forwarded_client(v6, NULL, NULL, out, strlen(v6)),
		  PS_ERR_USAGE);
	CHECK_INT(ps_forwarded_client(v6, NULL, NULL, out, strlen(v6) + 1),
		  PS_OK);
	CHECK_STR(out, v6);
	CHECK_INT(ps_forwarded_client("10.0.0.2", v6, "true", out,
				      sizeof(out)),
		  PS_OK);
	CHECK_STR(out, v6);

	/* A bad setting clears the output even when it would fit. */
	memcpy(out, "stale", 6);
	CHECK_INT(ps_forwarded_client("10.0.0.2", NULL, "2x", out,
				      sizeof(out)),
		  PS_ERR_USAGE);
	CHECK_STR(out, "");
}

/* ps_addr_in_list(): proxystack serve's allow list, the same syntax. */
static void test_addr_in_list(void)
{
	CHECK(ps_addr_in_list("127.0.0.1", "loopback") == 1);
	CHECK(ps_addr_in_list("::1", "loopback") == 1);
	CHECK(ps_addr_in_list("::ffff:127.0.0.9", "loopback") == 1);
	CHECK(ps_addr_in_list("10.1.2.3", "loopback") == 0);
	CHECK(ps_addr_in_list("10.1.2.3", "192.168.0.0/16, 10.0.0.0/8") == 1);
	CHECK(ps_addr_in_list("10.1.2.3", "private") == 1);
	CHECK(ps_addr_in_list("fd00::1", "private") == 1);
	CHECK(ps_addr_in_list("fe80::1", "linklocal") == 1);
	CHECK(ps_addr_in_list("2001:db8::1", "2001:db8::/32") == 1);
	CHECK(ps_addr_in_list("2001:db9::1", "2001:db8::/32") == 0);
	CHECK(ps_addr_in_list("not-an-address", "private") == 0);
	CHECK(ps_addr_in_list(NULL, "private") == 0);
	CHECK(ps_addr_in_list("10.1.2.3", "") == -1);
	CHECK(ps_addr_in_list("10.1.2.3", ", ,") == -1);
	CHECK(ps_addr_in_list("10.1.2.3", "10.0.0.0/33") == -1);
	CHECK(ps_addr_in_list("10.1.2.3", "example.com") == -1);
	CHECK(ps_addr_in_list("10.1.2.3", NULL) == -1);
}

int main(void)
{
	test_addr_in_list();
	test_forwarded_table();
	test_long_headers();
	test_out_buffer();
	return check_done();
}
