/*
 * pac_answer.c - reading what FindProxyForURL returned:
 * "PROXY a:1; HTTPS b:2; SOCKS5 c:3; DIRECT".
 *
 * The answer comes from a script, so it is untrusted text: every entry
 * must be a known keyword and a host:port made of host-name or address
 * characters only, or the whole answer is refused.  Refusing (rather
 * than skipping a bad entry, as some browsers do) keeps a typo from
 * silently turning "PROXY a; DIRECT" into a different failover order.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pac_eval.h"

static const struct {
	const char *keyword;
	const char *scheme;      /* NULL: DIRECT */
	unsigned default_port;
} pac_keywords[] = {
	{ "DIRECT", NULL, 0 },
	{ "PROXY", "http", 80 },
	{ "HTTP", "http", 80 },
	{ "HTTPS", "https", 443 },
	/* Browsers send the name to a SOCKS proxy: the "h"/"a" forms. */
	{ "SOCKS", "socks4a", 1080 },
	{ "SOCKS4", "socks4a", 1080 },
	{ "SOCKS5", "socks5h", 1080 },
};

/* Up to 40 bytes of the entry, controls shown as '?', for the reason. */
static void quote_entry(const char *entry, size_t len, char *out,
			size_t outsz)
{
	size_t n = len < 40 ? len : 40, i;

	for (i = 0; i < n && i + 1 < outsz; i++)
		out[i] = isprint((unsigned char)entry[i]) ? entry[i] : '?';
	out[i] = '\0';
}

static int host_char(int c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/* The port text: 1-65535, digits only.  0 or -1. */
static int parse_port(const char *s, size_t len, unsigned *port)
{
	unsigned long p = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		p = p * 10 + (unsigned long)(s[i] - '0');
	}
	if (p == 0 || p > 65535)
		return -1;
	*port = (unsigned)p;
	return 0;
}

/* "host:port", "[v6]:port", "host" (default port).  0 or -1. */
static int parse_hostport(const char *s, size_t len, unsigned dflt,
			  struct pac_alternative *alt)
{
	const char *host = s, *port = NULL, *end = s + len;
	size_t hlen;

	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close)
			return -1;
		host = s + 1;
		hlen = (size_t)(close - host);
		for (size_t i = 0; i < hlen; i++)
			if (!isxdigit((unsigned char)host[i]) &&
			    host[i] != ':' && host[i] != '.')
				return -1;
		if (close + 1 < end && close[1] != ':')
			return -1;
		port = close + 1 < end ? close + 2 : NULL;
	} else {
		const char *colon = memchr(s, ':', len);

		hlen = colon ? (size_t)(colon - s) : len;
		for (size_t i = 0; i < hlen; i++)
			if (!host_char((unsigned char)s[i]))
				return -1;
		port = colon ? colon + 1 : NULL;
	}
	if (hlen == 0 || hlen >= sizeof(alt->host))
		return -1;
	alt->port = dflt;
	if (port && parse_port(port, (size_t)(end - port), &alt->port) < 0)
		return -1;
	memcpy(alt->host, host, hlen);
	alt->host[hlen] = '\0';
	return 0;
}

/* One entry between semicolons, trimmed, non-empty. */
static int parse_entry(const char *e, size_t len, struct pac_alternative *alt)
{
	size_t kw = 0, rest;

	while (kw < len && !isspace((unsigned char)e[kw]))
		kw++;
	memset(alt, 0, sizeof(*alt));
	for (size_t k = 0; k < sizeof(pac_keywords) / sizeof(pac_keywords[0]);
	     k++) {
		if (strlen(pac_keywords[k].keyword) != kw ||
		    strncasecmp(e, pac_keywords[k].keyword, kw))
			continue;
		rest = kw;
		while (rest < len && isspace((unsigned char)e[rest]))
			rest++;
		if (!pac_keywords[k].scheme) {
			alt->direct = 1;
			return rest == len ? 0 : -1;
		}
		snprintf(alt->scheme, sizeof(alt->scheme), "%s",
			 pac_keywords[k].scheme);
		if (rest == len)
			return -1;	/* PROXY needs an address */
		return parse_hostport(e + rest, len - rest,
				      pac_keywords[k].default_port, alt);
	}
	return -1;
}

int pac_parse_answer(const char *answer, struct pac_alternative *out,
		     size_t max, size_t *n, char *why, size_t whysz)
{
	const char *p = answer;
	char shown[48];

	*n = 0;
	while (*p) {
		size_t len = strcspn(p, ";");
		const char *e = p;
		size_t elen = len;

		p += len + (p[len] == ';');
		while (elen && isspace((unsigned char)*e))
			e++, elen--;
		while (elen && isspace((unsigned char)e[elen - 1]))
			elen--;
		if (!elen)
			continue;
		if (*n == max) {
			snprintf(why, whysz, "the answer lists more than %zu"
				 " alternatives", max);
			return -1;
		}
		if (parse_entry(e, elen, &out[*n]) < 0) {
			quote_entry(e, elen, shown, sizeof(shown));
			snprintf(why, whysz, "entry %zu of the answer is not"
				 " DIRECT, PROXY, HTTP, HTTPS, SOCKS, SOCKS4"
				 " or SOCKS5 with host[:port]: '%s'", *n + 1,
				 shown);
			return -1;
		}
		(*n)++;
	}
	if (*n == 0) {
		snprintf(why, whysz, "the answer is empty");
		return -1;
	}
	return 0;
}

int pac_alternative_url(const struct pac_alternative *alt, char *out,
			size_t outsz)
{
	int n;

	if (alt->direct)
		n = snprintf(out, outsz, "DIRECT");
	else if (strchr(alt->host, ':'))
		n = snprintf(out, outsz, "%s://[%s]:%u", alt->scheme,
			     alt->host, alt->port);
	else
		n = snprintf(out, outsz, "%s://%s:%u", alt->scheme, alt->host,
			     alt->port);
	return n < 0 || (size_t)n >= outsz ? -1 : n;
}
