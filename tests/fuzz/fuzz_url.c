/*
 * fuzz_url.c - destination and proxy URL parsing (host/url.c).
 *
 * The input, up to its first NUL, is parsed as a destination and as a
 * proxy URL.  Besides memory safety the target checks what url.h
 * promises:
 *   - a parse either fills scheme, host, port 1-65535 and a path
 *     starting with '/', or fails with a message and an empty struct;
 *   - url_display() of a parsed URL parses again to the same scheme,
 *     host and port, and never shows user info;
 *   - url_proxy_module() (which looks at the text only) names the module
 *     the parsed scheme and path call for;
 *   - an error message never quotes a password (one that occurs exactly
 *     once in the text, so any copy in the message came from it).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "url.h"

static const char *const dest_schemes[] = {
	"tcp", "tls", "http", "https", "ws", "wss", NULL
};
static const char *const proxy_schemes[] = {
	"http", "https", "socks4", "socks4a", "socks5", "socks5h",
	"pac+http", "pac+https", NULL
};

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

static size_t count_occurrences(const char *hay, const char *needle)
{
	size_t n = 0, nlen = strlen(needle);

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	(void)nlen;
	return n;
}

/*
 * What a person meant as the password: between the first ':' after the
 * scheme and the last '@' (curl's reading, also when the password holds
 * an unencoded '/' or '?'), or NULL.
 */
static char *written_password(const char *text)
{
	const char *sep = strstr(text, "://");
	const char *auth = sep ? sep + 3 : text;
	const char *at = strrchr(auth, '@'), *colon;

	if (!at)
		return NULL;
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (!colon)
		return NULL;
	return strndup(colon + 1, (size_t)(at - colon - 1));
}

/* A character of 'from' (tried in order) that 'text' lacks, or 0. */
static char absent_char(const char *text, const char *from)
{
	for (; *from; from++)
		if (!strchr(text, *from) &&
		    !strchr(text, toupper((unsigned char)*from)))
			return *from;
	return 0;
}

/*
 * The text with the written password's letters and digits replaced by
 * ones that occur nowhere else in it (so it parses the same way), or
 * NULL.  The new password can then only reach a message by copying.
 */
static char *with_other_password(const char *text, const char *pw)
{
	char letter = absent_char(text, "zxjqkvwy");
	char digit = absent_char(text, "9786");
	char *copy = strdup(text), *at;

	if (!copy || !letter || !digit || !(at = strstr(copy, pw))) {
		free(copy);
		return NULL;
	}
	for (size_t i = 0; pw[i]; i++) {
		char *c = at + i;

		if (isalpha((unsigned char)*c))
			*c = letter;
		else if (isdigit((unsigned char)*c))
			*c = digit;
	}
	return copy;
}

enum shown_as { SHOWN_DEST_ERROR, SHOWN_PROXY_ERROR, SHOWN_DISPLAY };

/* What 'text' gives as the error or display 'kind'; caller frees. */
static char *shown_for(const char *text, enum shown_as kind)
{
	char why[256] = "";
	struct url u;

	if (kind == SHOWN_DISPLAY)
		return url_display_text(text);
	if (kind == SHOWN_DEST_ERROR)
		(void)url_parse_dest(text, &u, why, sizeof(why));
	else
		(void)url_parse_proxy(text, &u, why, sizeof(why));
	url_clear(&u);
	return strdup(why);
}

/*
 * 'shown' (an error, or a display) holds no password of 'text'.  When it
 * holds the written password, the same text with another password of
 * the same shape must not show that other one too; if it does, the
 * password's letters are just words of the message ("tcp:" in "use
 * tcp://host:port"), not a leak.
 */
static void check_hides_password(const char *text, const char *shown,
				 enum shown_as kind)
{
	char *pw = written_password(text), *other = NULL, *pw2 = NULL;
	char *shown2 = NULL, esc[300], esc2[300];

	if (!pw || strlen(pw) < 4 || count_occurrences(text, pw) != 1 ||
	    !strstr(shown, pw))
		goto out;
	other = with_other_password(text, pw);
	pw2 = other ? written_password(other) : NULL;
	if (!pw2 || !strcmp(pw, pw2))
		goto out;	/* nothing in it to change */
	shown2 = shown_for(other, kind);
	if (shown2 && strstr(shown2, pw2) &&
	    !(kind == SHOWN_DISPLAY &&
	      fuzz_tolerated("url-display-text-password")))
		fuzz_fail("%s'%s' shows the password '%s'",
			  kind == SHOWN_DISPLAY
				  ? "[url-display-text-password] "
				  : "the error ",
			  fuzz_escape(shown, strlen(shown), esc2,
				      sizeof(esc2)),
			  fuzz_escape(pw, strlen(pw), esc, sizeof(esc)));
out:
	free(shown2);
	free(pw2);
	free(other);
	free(pw);
}

/*
 * url_display_text() is for proxy URLs that may hold credentials: when
 * the text has user info ("user:password@host"), what it shows is either
 * "<unparsable url>" or the host written after the last '@' -- never a
 * host and port read out of the user info (the user name and the first
 * digits of a password with an unencoded '/').
 */
static void check_display_host(const char *text, const char *shown)
{
	const char *sep = strstr(text, "://"), *auth, *at;
	char host[300], esc[300], esc2[300];
	size_t n;

	auth = sep ? sep + 3 : text;
	if (sep && url_proxy_module(text) == NULL)
		return;	/* not a proxy scheme: not what this is for */
	at = strrchr(auth, '@');
	if (!at || !memchr(auth, ':', (size_t)(at - auth)) ||
	    !strcmp(shown, "<unparsable url>"))
		return;
	n = strcspn(at + 1, "/?:[]");
	if (at[1] == '[') {
		if (!strchr(at + 2, ']'))
			return;
		n = strcspn(at + 2, "]") + 2;
	}
	if (n == 0 || n >= sizeof(host))
		return;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)at[1 + i]);
	host[n] = '\0';
	if (n > 1 && host[n - 1] == '.')
		host[n - 1] = '\0';
	if (!fuzz_tolerated("url-display-text-password"))
		FUZZ_CHECK(strstr(shown, host) != NULL,
			   "[url-display-text-password] '%s' is shown as '%s':"
			   " a host that is not the one after the '@'",
			   fuzz_escape(text, strlen(text), esc, sizeof(esc)),
			   fuzz_escape(shown, strlen(shown), esc2,
				       sizeof(esc2)));
}

static void check_parsed(const struct url *u, const char *text,
			 const char *const *schemes, int dest)
{
	char esc[300];

	FUZZ_CHECK(u->scheme && in_list(u->scheme, schemes),
		   "scheme %s from '%s'", u->scheme ? u->scheme : "(null)",
		   fuzz_escape(text, strlen(text), esc, sizeof(esc)));
	FUZZ_CHECK(u->host && u->host[0], "empty host from '%s'",
		   fuzz_escape(text, strlen(text), esc, sizeof(esc)));
	FUZZ_CHECK(u->port >= 1 && u->port <= 65535, "port %u", u->port);
	FUZZ_CHECK(u->path && u->path[0] == '/', "path '%s'",
		   u->path ? u->path : "(null)");
	for (const char *c = u->host; *c; c++)
		FUZZ_CHECK((unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f
			   && *c != '@' && *c != '/' && *c != '[' && *c != ']',
			   "host '%s' holds byte 0x%02x",
			   fuzz_escape(u->host, strlen(u->host), esc,
				       sizeof(esc)),
			   (unsigned char)*c);
	if (dest)
		FUZZ_CHECK(!u->user && !u->password,
			   "destination URL with user info");
	if (u->password)
		FUZZ_CHECK(u->user, "password without user");
}

/* url_display() parses back to the same endpoint, without user info. */
static void check_display(const struct url *u, int dest)
{
	char *shown = url_display(u), why[200], auth[300], esc[300];
	struct url again;
	int rc;

	FUZZ_CHECK(shown, "url_display returned NULL");
	if (!dest)
		FUZZ_CHECK(!strchr(shown, '@'), "display '%s' shows user info",
			   fuzz_escape(shown, strlen(shown), esc,
				       sizeof(esc)));
	rc = dest ? url_parse_dest(shown, &again, why, sizeof(why))
		  : url_parse_proxy(shown, &again, why, sizeof(why));
	FUZZ_CHECK(rc == 0, "display '%s' does not parse again: %s",
		   fuzz_escape(shown, strlen(shown), esc, sizeof(esc)), why);
	FUZZ_CHECK(!strcmp(again.scheme, u->scheme) &&
			   !strcmp(again.host, u->host) &&
			   again.port == u->port && !again.user &&
			   !again.password,
		   "display '%s' parses to %s://%s:%u, not %s://%s:%u",
		   shown, again.scheme, again.host, again.port, u->scheme,
		   u->host, u->port);
	FUZZ_CHECK(url_format_authority(u->host, u->port, auth,
					sizeof(auth)) == 0,
		   "url_format_authority failed for %s", u->host);
	FUZZ_CHECK(strstr(shown, auth) != NULL, "display '%s' lacks '%s'",
		   shown, auth);
	url_clear(&again);
	free(shown);
}

/* The module the text selects, from the parsed URL's point of view. */
static const char *expected_module(const struct url *u)
{
	size_t end = strcspn(u->path, "?");
	int pac_path = end >= 4 && !strncasecmp(u->path + end - 4, ".pac", 4);

	if (!strncmp(u->scheme, "pac+", 4))
		return "pac";
	if (!strcmp(u->scheme, "http"))
		return pac_path ? "pac" : "http-connect";
	if (!strcmp(u->scheme, "https"))
		return pac_path ? "pac" : "https-proxy";
	return "socks";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), why[256], esc[300];
	const char *module;
	struct url u;
	char *shown;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (url_parse_dest(text, &u, why, sizeof(why)) == 0) {
		check_parsed(&u, text, dest_schemes, 1);
		FUZZ_CHECK(u.port_given ||
				   u.port == url_default_port(u.scheme),
			   "default port");
		check_display(&u, 1);
	} else {
		static const struct url zero;

		FUZZ_CHECK(why[0], "dest parse failed without a message");
		FUZZ_CHECK(!memcmp(&u, &zero, sizeof(u)),
			   "failed parse left fields set");
		check_hides_password(text, why, SHOWN_DEST_ERROR);
	}
	url_clear(&u);

	module = url_proxy_module(text);
	if (url_parse_proxy(text, &u, why, sizeof(why)) == 0) {
		check_parsed(&u, text, proxy_schemes, 0);
		check_display(&u, 0);
		FUZZ_CHECK(module && !strcmp(module, expected_module(&u)),
			   "url_proxy_module('%s') = %s, the parse says %s",
			   fuzz_escape(text, strlen(text), esc, sizeof(esc)),
			   module ? module : "NULL", expected_module(&u));
		(void)url_default_port(u.scheme);
	} else {
		FUZZ_CHECK(why[0], "proxy parse failed without a message");
		check_hides_password(text, why, SHOWN_PROXY_ERROR);
	}
	url_clear(&u);
	url_clear(&u);	/* NULL-safe and idempotent */

	shown = url_display_text(text);
	FUZZ_CHECK(shown, "url_display_text returned NULL");
	check_hides_password(text, shown, SHOWN_DISPLAY);
	check_display_host(text, shown);
	free(shown);

	/* No error buffer at all must be fine too. */
	if (url_parse_proxy(text, &u, NULL, 0) == 0)
		url_clear(&u);
	free(text);
	return 0;
}
