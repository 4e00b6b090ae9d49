/*
 * tls-intercept-trust.c - the `tls-intercept-trust` trust module: lets
 * destination certificates chain to a TLS-inspecting proxy's root CA.
 *
 * A proxy that inspects TLS re-signs every destination's certificate with
 * its own CA.  Adding that CA to the destination's trust is a deliberate
 * choice, so it is scoped: only the stacks that name this [trust] section
 * get it, and with `match` only the destinations listed there.
 *
 * Keys of [trust NAME] with module = tls-intercept-trust:
 *
 *   ca_file  a PEM bundle with the proxy's root CA
 *   ca_dir   a hashed CA directory (c_rehash)       (at least one of both)
 *   match    optional destinations, comma or space separated:
 *              *                every host
 *              example.com      it and every name below it
 *              .example.com     the same (as NO_PROXY spells it)
 *              *.example.com    the same
 *              192.0.2.1, ::1   that address, in any spelling
 *            Case-insensitive, a trailing dot ignored.  Unlike route
 *            `match`, no ports (the trust phase is told only the host)
 *            and no CIDR blocks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct addrinfo in module.h (netdb.h), strncasecmp */
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <proxystack/module.h>

/* One `match` entry, parsed once at configure. */
struct intercept_trust_match {
	int any;                     /* "*" */
	int family;                  /* AF_INET/AF_INET6 for IP literals */
	unsigned char address[16];
	char *name;                  /* lower-case suffix, no leading dot */
};

/* The configured instance; shared read-only by every connection. */
struct intercept_trust_config {
	const char *ca_file;         /* lives with the snapshot */
	const char *ca_dir;
	struct intercept_trust_match *matches; /* none: every destination */
	size_t match_count;
};

/* ------------------------------------------------------------------ */
/* match                                                                */
/* ------------------------------------------------------------------ */

/* An IP literal, brackets allowed: fills family and address. */
static int intercept_trust_parse_ip(const char *text, size_t len, int *family,
				    unsigned char *address)
{
	char literal[INET6_ADDRSTRLEN + 1];

	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(literal))
		return 0;
	memcpy(literal, text, len);
	literal[len] = '\0';
	if (inet_pton(AF_INET, literal, address) == 1) {
		*family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, literal, address) == 1) {
		*family = AF_INET6;
		return 1;
	}
	return 0;
}

static int intercept_trust_parse_entry(ps_config *cfg,
				       struct intercept_trust_match *m,
				       const char *text, size_t len)
{
	size_t i;

	if (len == 1 && text[0] == '*') {
		m->any = 1;
		return PS_OK;
	}
	if (intercept_trust_parse_ip(text, len, &m->family, m->address))
		return PS_OK;
	if (memchr(text, '/', len) != NULL)
		return ps_config_error(cfg, "match", "%.*s: CIDR blocks are "
				       "not supported here; list the hosts",
				       (int)len, text);
	if (memchr(text, ':', len) != NULL)
		return ps_config_error(cfg, "match", "%.*s: no ports here: "
				       "trust is chosen by host name only",
				       (int)len, text);
	/* "*.example.com" and ".example.com" both mean "example.com and
	 * below", as NO_PROXY and route match spell it. */
	if (len >= 2 && text[0] == '*' && text[1] == '.') {
		text += 2;
		len -= 2;
	} else if (len >= 1 && text[0] == '.') {
		text++;
		len--;
	}
	if (len > 0 && text[len - 1] == '.')
		len--;
	if (len == 0)
		return ps_config_error(cfg, "match", "an entry names no host");
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)text[i]) &&
		    strchr("-._", text[i]) == NULL)
			return ps_config_error(cfg, "match", "%.*s: only "
					       "\"*\", \"*.name\", \".name\", "
					       "host names and IP addresses",
					       (int)len, text);
	m->name = malloc(len + 1);
	if (m->name == NULL)
		return ps_config_error(cfg, "match", "out of memory");
	for (i = 0; i < len; i++)
		m->name[i] = (char)tolower((unsigned char)text[i]);
	m->name[len] = '\0';
	return PS_OK;
}

static int intercept_trust_parse_match(ps_config *cfg,
				       struct intercept_trust_config *c,
				       const char *list)
{
	static const char separators[] = ", \t";
	const char *p = list;
	size_t len, count = 0;
	int rc;

	for (p = list; *p != '\0'; p += len) {
		p += strspn(p, separators);
		len = strcspn(p, separators);
		if (len > 0)
			count++;
	}
	if (count == 0)
		return ps_config_error(cfg, "match", "empty: remove the key "
				       "to trust for every destination");
	c->matches = calloc(count, sizeof(*c->matches));
	if (c->matches == NULL)
		return ps_config_error(cfg, "match", "out of memory");
	for (p = list; *p != '\0'; p += len) {
		p += strspn(p, separators);
		len = strcspn(p, separators);
		if (len == 0)
			continue;
		rc = intercept_trust_parse_entry(cfg,
						 &c->matches[c->match_count],
						 p, len);
		if (rc != PS_OK)
			return rc;
		c->match_count++;
	}
	return PS_OK;
}

/* 'name' is 'suffix' or ends with "." + 'suffix', case-insensitively. */
static int intercept_trust_name_matches(const char *name, size_t len,
					const char *suffix)
{
	size_t suffix_len = strlen(suffix);

	if (len < suffix_len)
		return 0;
	if (strncasecmp(name + len - suffix_len, suffix, suffix_len) != 0)
		return 0;
	return len == suffix_len || name[len - suffix_len - 1] == '.';
}

static int intercept_trust_host_matches(const struct intercept_trust_config *c,
					const char *host)
{
	unsigned char address[16];
	size_t i, len;
	int family = 0;

	if (host == NULL)
		return 0;
	len = strlen(host);
	/* "example.com." is the same name, spelled fully qualified. */
	if (!intercept_trust_parse_ip(host, len, &family, address) &&
	    len > 0 && host[len - 1] == '.')
		len--;
	for (i = 0; i < c->match_count; i++) {
		const struct intercept_trust_match *m = &c->matches[i];

		if (m->any)
			return 1;
		if (m->family != 0) {
			if (m->family == family &&
			    memcmp(m->address, address, family == AF_INET ?
				   4 : 16) == 0)
				return 1;
		} else if (family == 0 &&
			   intercept_trust_name_matches(host, len, m->name)) {
			return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* configure                                                            */
/* ------------------------------------------------------------------ */

/*
 * A path that is not there fails the load now, with file:line, instead
 * of a puzzling certificate error at the first connection.  A ca_file
 * is also loaded, as [global] ca_file is: one without a certificate is
 * as broken as a missing one.
 */
static int intercept_trust_check_path(ps_config *cfg, const char *key,
				      const char *path, int want_dir)
{
	struct stat st;

	if (path[0] != '/')
		return ps_config_error(cfg, key, "%s: needs an absolute path",
				       path);
	if (stat(path, &st) != 0)
		return ps_config_error(cfg, key, "%s: %s", path,
				       strerror(errno));
	if (want_dir && !S_ISDIR(st.st_mode))
		return ps_config_error(cfg, key, "%s: not a directory", path);
	if (!want_dir && !S_ISREG(st.st_mode))
		return ps_config_error(cfg, key, "%s: not a regular file",
				       path);
	if (!want_dir) {
		ps_error why;
		int rc = ps_tls_check_files(path, NULL, NULL, &why);

		if (rc == PS_ERR_CONFIG)
			return ps_config_error(cfg, key, "%s", why.message);
		return rc;
	}
	return PS_OK;
}

static void intercept_trust_unconfigure(void *instance)
{
	struct intercept_trust_config *c = instance;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->match_count; i++)
		free(c->matches[i].name);
	free(c->matches);
	free(c);
}

static int intercept_trust_configure(ps_config *cfg, void **instance)
{
	struct intercept_trust_config *c = calloc(1, sizeof(*c));
	const char *match;
	int rc = PS_OK;

	if (c == NULL)
		return ps_config_error(cfg, NULL, "out of memory");
	c->ca_file = ps_config_get(cfg, "ca_file");
	c->ca_dir = ps_config_get(cfg, "ca_dir");
	match = ps_config_get(cfg, "match");
	if (c->ca_file == NULL && c->ca_dir == NULL) {
		rc = ps_config_error(cfg, NULL, "set ca_file (the inspecting "
				     "proxy's root CA, PEM) or ca_dir");
		goto out;
	}
	if (c->ca_file != NULL)
		rc = intercept_trust_check_path(cfg, "ca_file", c->ca_file, 0);
	if (rc == PS_OK && c->ca_dir != NULL)
		rc = intercept_trust_check_path(cfg, "ca_dir", c->ca_dir, 1);
	if (rc == PS_OK && match != NULL)
		rc = intercept_trust_parse_match(cfg, c, match);
out:
	if (rc != PS_OK) {
		intercept_trust_unconfigure(c);
		return rc;
	}
	*instance = c;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* add_trust                                                            */
/* ------------------------------------------------------------------ */

static int intercept_trust_add(void *instance, ps_trust *trust,
			       const char *host)
{
	const struct intercept_trust_config *c = instance;
	int rc;

	/* Not listed: this destination keeps only its usual trust. */
	if (c->match_count > 0 && !intercept_trust_host_matches(c, host))
		return PS_OK;
	if (c->ca_file != NULL) {
		rc = ps_trust_add_ca_file(trust, c->ca_file);
		if (rc != PS_OK)
			return rc;
	}
	if (c->ca_dir != NULL) {
		rc = ps_trust_add_ca_dir(trust, c->ca_dir);
		if (rc != PS_OK)
			return rc;
	}
	return PS_OK;
}

static const struct ps_module_ops intercept_trust_ops = {
	.configure = intercept_trust_configure,
	.unconfigure = intercept_trust_unconfigure,
	.add_trust = intercept_trust_add,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "tls-intercept-trust",
	.phases = PS_PHASE_TRUST,
	.caps = 0,
	.summary = "trust a TLS-inspecting proxy's root CA for destinations",
	.ops = &intercept_trust_ops,
};
