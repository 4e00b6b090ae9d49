/*
 * test_url.c - destination and proxy URL parsing, display and helpers.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "url.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The text with control and non-ASCII bytes as \xNN, so that each CHECK
 * stays on one line.  Four rotating buffers: several per printf.
 */
static const char *shown(const char *text)
{
	static char bufs[4][256];
	static unsigned next;
	char *out = bufs[next++ % 4];
	size_t o = 0;

	if (text == NULL)
		return "(null)";
	for (; *text && o + 5 < sizeof(bufs[0]); text++) {
		unsigned char c = (unsigned char)*text;

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

struct good_case {
	const char *text;
	const char *scheme;
	const char *user;
	const char *password;
	const char *host;
	unsigned port;
	int port_given;
	int host_is_ip;
	const char *path;
};

static const struct good_case good_dest[] = {
	{ "wss://Example.COM/path?q=1", "wss", NULL, NULL, "example.com", 443,
	  0, 0, "/path?q=1" },
	{ "wss://gw.example.com", "wss", NULL, NULL, "gw.example.com", 443, 0,
	  0, "/" },
	{ "ws://gw", "ws", NULL, NULL, "gw", 80, 0, 0, "/" },
	{ "http://gw", "http", NULL, NULL, "gw", 80, 0, 0, "/" },
	{ "https://gw/", "https", NULL, NULL, "gw", 443, 0, 0, "/" },
	{ "tcp://h:22", "tcp", NULL, NULL, "h", 22, 1, 0, "/" },
	{ "tls://broker.example.com:8883", "tls", NULL, NULL,
	  "broker.example.com", 8883, 1, 0, "/" },
	{ "TLS://H:1", "tls", NULL, NULL, "h", 1, 1, 0, "/" },
	{ "WsS://h:65535", "wss", NULL, NULL, "h", 65535, 1, 0, "/" },
	{ "https://h:00443", "https", NULL, NULL, "h", 443, 1, 0, "/" },
	{ "wss://[::1]:8443/x", "wss", NULL, NULL, "::1", 8443, 1, 6, "/x" },
	{ "wss://[::1]", "wss", NULL, NULL, "::1", 443, 0, 6, "/" },
	{ "https://[2001:DB8::1]/", "https", NULL, NULL, "2001:db8::1", 443,
	  0, 6, "/" },
	{ "tcp://[::ffff:192.0.2.1]:7", "tcp", NULL, NULL, "::ffff:192.0.2.1",
	  7, 1, 6, "/" },
	{ "https://192.0.2.1:8443", "https", NULL, NULL, "192.0.2.1", 8443, 1,
	  4, "/" },
	{ "https://example.com.:443", "https", NULL, NULL, "example.com", 443,
	  1, 0, "/" },
	{ "https://192.0.2.1./", "https", NULL, NULL, "192.0.2.1", 443, 0, 4,
	  "/" },
	{ "wss://h?x=1", "wss", NULL, NULL, "h", 443, 0, 0, "/?x=1" },
	{ "wss://h:9?x=1", "wss", NULL, NULL, "h", 9, 1, 0, "/?x=1" },
	{ "https://a_b.example-1.com", "https", NULL, NULL, "a_b.example-1.com",
	  443, 0, 0, "/" },
	{ "https://xn--bcher-kva.example", "https", NULL, NULL,
	  "xn--bcher-kva.example", 443, 0, 0, "/" },
	{ "https://h/p%20q/%2F", "https", NULL, NULL, "h", 443, 0, 0,
	  "/p%20q/%2F" },
	{ "https://h/users/@me", "https", NULL, NULL, "h", 443, 0, 0,
	  "/users/@me" },
	{ "https://localhost", "https", NULL, NULL, "localhost", 443, 0, 0,
	  "/" },
	{ "https://1e100.net", "https", NULL, NULL, "1e100.net", 443, 0, 0,
	  "/" },
	{ "https://a.0x1g", "https", NULL, NULL, "a.0x1g", 443, 0, 0, "/" },
};

static const struct good_case good_proxy[] = {
	{ "http://proxy.corp.example.com:8080", "http", NULL, NULL,
	  "proxy.corp.example.com", 8080, 1, 0, "/" },
	{ "proxy:3128", "http", NULL, NULL, "proxy", 3128, 1, 0, "/" },
	{ "proxy", "http", NULL, NULL, "proxy", 1080, 0, 0, "/" },
	{ "http://proxy", "http", NULL, NULL, "proxy", 1080, 0, 0, "/" },
	{ "http://proxy:3128/", "http", NULL, NULL, "proxy", 3128, 1, 0, "/" },
	{ "https://proxy", "https", NULL, NULL, "proxy", 443, 0, 0, "/" },
	{ "socks4://p", "socks4", NULL, NULL, "p", 1080, 0, 0, "/" },
	{ "socks4a://p", "socks4a", NULL, NULL, "p", 1080, 0, 0, "/" },
	{ "socks5://p", "socks5", NULL, NULL, "p", 1080, 0, 0, "/" },
	{ "SOCKS5H://p:9050", "socks5h", NULL, NULL, "p", 9050, 1, 0, "/" },
	{ "HTTP://Alice:Pw@Proxy:3128", "http", "Alice", "Pw", "proxy", 3128,
	  1, 0, "/" },
	{ "http://alice:p%40ss%3Aw%2Frd%25@proxy:3128", "http", "alice",
	  "p@ss:w/rd%", "proxy", 3128, 1, 0, "/" },
	{ "http://alice@proxy:3128", "http", "alice", NULL, "proxy", 3128, 1,
	  0, "/" },
	{ "http://alice:@proxy", "http", "alice", "", "proxy", 1080, 0, 0,
	  "/" },
	/* The last '@' ends the user info, as in curl. */
	{ "http://alice:p@ss@proxy:3128", "http", "alice", "p@ss", "proxy",
	  3128, 1, 0, "/" },
	{ "http://alice:a:b@proxy", "http", "alice", "a:b", "proxy", 1080, 0,
	  0, "/" },
	{ "http://al%69ce:x@proxy", "http", "alice", "x", "proxy", 1080, 0, 0,
	  "/" },
	{ "alice:pw@proxy:3128", "http", "alice", "pw", "proxy", 3128, 1, 0,
	  "/" },
	{ "http://[::1]:3128", "http", NULL, NULL, "::1", 3128, 1, 6, "/" },
	{ "socks5h://u:p@[2001:db8::1]", "socks5h", "u", "p", "2001:db8::1",
	  1080, 0, 6, "/" },
	{ "http://10.0.0.1:3128", "http", NULL, NULL, "10.0.0.1", 3128, 1, 4,
	  "/" },
	/* PAC URLs: a web server's defaults, and the path is kept. */
	{ "pac+http://wpad.corp/proxy.pac", "pac+http", NULL, NULL,
	  "wpad.corp", 80, 0, 0, "/proxy.pac" },
	{ "pac+https://wpad.corp/x", "pac+https", NULL, NULL, "wpad.corp",
	  443, 0, 0, "/x" },
	{ "pac+http://wpad.corp", "pac+http", NULL, NULL, "wpad.corp", 80, 0,
	  0, "/" },
	{ "http://wpad.corp/proxy.pac", "http", NULL, NULL, "wpad.corp", 80,
	  0, 0, "/proxy.pac" },
	{ "https://wpad/PROXY.PAC?v=2", "https", NULL, NULL, "wpad", 443, 0,
	  0, "/PROXY.PAC?v=2" },
	{ "http://u:p@wpad:8080/a/b.pac", "http", "u", "p", "wpad", 8080, 1,
	  0, "/a/b.pac" },
};

static void check_good(const struct good_case *c, int is_proxy)
{
	struct url u;
	char err[256] = "untouched";
	int rc;

	memset(&u, 0x5a, sizeof(u));
	rc = is_proxy ? url_parse_proxy(c->text, &u, err, sizeof(err))
		      : url_parse_dest(c->text, &u, err, sizeof(err));
	CHECK_MSG(rc == 0, "parse %s \"%s\" (err: %s)",
		  is_proxy ? "proxy" : "dest", shown(c->text),
		  rc ? err : "none");
	if (rc != 0)
		return;
	CHECK_STR(u.scheme, c->scheme);
	CHECK_STR(u.user, c->user);
	/* Not CHECK_STR: a password may hold any byte but controls. */
	CHECK_MSG(c->password == NULL
			  ? u.password == NULL
			  : u.password && !strcmp(u.password, c->password),
		  "password of \"%s\"", shown(c->text));
	CHECK_STR(u.host, c->host);
	CHECK_INT(u.port, c->port);
	CHECK_INT(u.port_given, c->port_given);
	CHECK_INT(u.host_is_ip, c->host_is_ip);
	CHECK_STR(u.path, c->path);
	url_clear(&u);
	CHECK(u.scheme == NULL && u.host == NULL && u.path == NULL &&
	      u.user == NULL && u.password == NULL && u.port == 0);
}

struct bad_case {
	const char *text;
	const char *why;    /* must appear in the error */
	const char *secret; /* must not appear in the error (NULL: none) */
};

static const struct bad_case bad_dest[] = {
	{ "", "empty URL", NULL },
	{ "example.com:443", "no scheme", NULL },
	{ "wss:/h", "no scheme", NULL },
	{ "1wss://h", "malformed scheme", NULL },
	{ "://h", "malformed scheme", NULL },
	{ "w?s://h", "malformed scheme", NULL },
	{ "ftp://h", "unsupported scheme 'ftp'", NULL },
	{ "socks5://h:1080", "unsupported scheme 'socks5'", NULL },
	{ "tcp://h", "need a port", NULL },
	{ "tls://h", "need a port", NULL },
	{ "tcp://h/", "need a port", NULL },
	{ "wss://user@h", "user info", NULL },
	{ "wss://user:s3cr3t@h", "user info", "s3cr3t" },
	{ "wss://@h", "user info", NULL },
	{ "wss://h:0", "bad port '0'", NULL },
	{ "wss://h:65536", "bad port '65536'", NULL },
	{ "wss://h:99999", "bad port '99999'", NULL },
	{ "wss://h:123456", "bad port '123456'", NULL },
	{ "wss://h:000443", "bad port", NULL },
	{ "wss://h:99999999999999999999", "bad port '999999999999...'", NULL },
	{ "wss://h:-1", "port is not a number", NULL },
	{ "wss://h:+1", "port is not a number", NULL },
	{ "wss://h:44a", "port is not a number", NULL },
	{ "wss://h:0x1bb", "port is not a number", NULL },
	{ "wss://h:", "empty port", NULL },
	{ "wss://h: 443", "space or control character at offset 8", NULL },
	{ "wss://h\r\nHost: evil", "space or control", NULL },
	{ "wss://h/\r\nX-Injected: 1", "space or control", NULL },
	{ "wss://h/a b", "space or control", NULL },
	{ "wss://h\t", "space or control", NULL },
	{ "wss://h/\x7f", "space or control", NULL },
	{ "wss://h/\x1b[0m", "space or control", NULL },
	{ " wss://h", "space or control character at offset 0", NULL },
	{ "wss://h\xc3\xa9.com", "non-ASCII", NULL },
	{ "wss://h/#frag", "'#'", NULL },
	{ "wss://", "empty host", NULL },
	{ "wss://:443", "empty host", NULL },
	{ "wss:///path", "empty host", NULL },
	{ "wss://?x", "empty host", NULL },
	{ "wss://[::1", "unclosed '['", NULL },
	{ "wss://[::1/x]", "unclosed '['", NULL },
	{ "wss://[]:443", "empty IPv6", NULL },
	{ "wss://[::1]x", "unexpected text after ']'", NULL },
	{ "wss://[::1]:", "empty port", NULL },
	{ "wss://[::1]:0", "bad port '0'", NULL },
	{ "wss://[1.2.3.4]", "bad IPv6 address", NULL },
	{ "wss://[example.com]", "bad IPv6 address", NULL },
	{ "wss://[fe80::1%25eth0]", "bad IPv6 address", NULL },
	{ "wss://[::1::2]", "bad IPv6 address", NULL },
	{ "wss://::1", "must be in brackets", NULL },
	{ "wss://::1:443", "must be in brackets", NULL },
	{ "wss://h:1:2", "must be in brackets", NULL },
	{ "wss://a..b", "empty label", NULL },
	{ "wss://.a", "empty label", NULL },
	{ "wss://.", "empty label", NULL },
	{ "wss://a..", "empty label", NULL },
	{ "wss://exa$mple.com", "character '$'", NULL },
	{ "wss://exa%41mple.com", "character '%'", NULL },
	{ "wss://h.\\evil", "character '\\'", NULL },
	{ "wss://a*.com", "character '*'", NULL },
	{ "wss://-a.com", "starts or ends with '-'", NULL },
	{ "wss://a-.com", "starts or ends with '-'", NULL },
	{ "wss://127.1", "numeric host name", NULL },
	{ "wss://0x7f000001", "numeric host name", NULL },
	{ "wss://0x7F.1", "numeric host name", NULL },
	{ "wss://2130706433", "numeric host name", NULL },
	{ "wss://010.0.0.1", "numeric host name", NULL },
	{ "wss://1.2.3.4.5", "numeric host name", NULL },
	{ "wss://256.0.0.1", "numeric host name", NULL },
	{ "wss://a.123", "numeric host name", NULL },
	{ "wss://h/%zz", "percent-escape", NULL },
	{ "wss://h/%4", "percent-escape", NULL },
	{ "wss://h/a%", "percent-escape", NULL },
	{ "wss://h?%g1", "percent-escape", NULL },
};

static const struct bad_case bad_proxy[] = {
	{ "", "empty URL", NULL },
	{ "ftp://proxy", "unsupported proxy scheme 'ftp'", NULL },
	{ "wss://proxy", "unsupported proxy scheme 'wss'", NULL },
	{ "pac+ftp://wpad/x.pac", "unsupported proxy scheme 'pac+ftp'", NULL },
	{ "socks6://p", "unsupported proxy scheme", NULL },
	{ "http://@proxy", "empty user info", NULL },
	{ "http://:s3cr3t@proxy", "empty user name", "s3cr3t" },
	{ "http://alice:s3cr3t@proxy:99999", "bad port '99999'", "s3cr3t" },
	{ "http://alice:s3cr3t@proxy:abc", "port is not a number", "s3cr3t" },
	{ "http://alice:s3cr3t@proxy:", "empty port", "s3cr3t" },
	{ "http://alice:s3cr3t@", "empty host", "s3cr3t" },
	{ "http://alice:s3cr3t@:3128", "empty host", "s3cr3t" },
	/* A raw '/' or '?' in a password would cut the host short. */
	{ "http://alice:s3/cr3t@proxy", "'@' after the host", "cr3t" },
	{ "http://alice:99/cr3t@proxy", "'@' after the host", "99" },
	{ "http://alice:s3?cr3t@proxy", "'@' after the host", "cr3t" },
	{ "http://alice:s3cr3t@proxy/x@y", "'@' after the host", "s3cr3t" },
	{ "http://alice:s3#cr3t@proxy", "'#'", "cr3t" },
	{ "http://alice:s3cr3t%zz@proxy", "bad percent-escape", "s3cr3t" },
	{ "http://alice:s3cr3t%@proxy", "bad percent-escape", "s3cr3t" },
	{ "http://alice:s3cr3t%00@proxy", "bad percent-escape", "s3cr3t" },
	{ "http://al%zzice:s3cr3t@proxy", "bad percent-escape", "s3cr3t" },
	{ "http://al%3Aice:s3cr3t@proxy", "RFC 7617", "s3cr3t" },
	{ "http://al%0Aice:s3cr3t@proxy", "line break (LF)", "s3cr3t" },
	{ "http://alice:s3cr3t%0D%0AX-Injected:%201@proxy", "line break (CR)",
	  "s3cr3t" },
	{ "http://alice:s3cr3t%09@proxy", "a tab", "s3cr3t" },
	{ "http://alice:s3cr3t@proxy:3128\r\n", "space or control",
	  "s3cr3t" },
	{ "http://alice:s3 cr3t@proxy", "space or control", "cr3t" },
	{ "http://alice:s3cr3t\xff@proxy", "non-ASCII", "s3cr3t" },
	{ "http://alice:s3cr3t@[::1", "unclosed '['", "s3cr3t" },
	{ "http://alice:s3cr3t@pro$xy", "character '$'", "s3cr3t" },
	{ "alice:s3c://r3t@proxy", "malformed scheme", "r3t" },
	{ "http://proxy:3128/path", "has no path", NULL },
	{ "http://proxy:3128?x", "has no path", NULL },
	{ "http://proxy/pac", "has no path", NULL },
	{ "socks5://proxy/x.pac", "has no path", NULL },
	{ "http://proxy:0", "bad port '0'", NULL },
	{ "proxy:", "empty port", NULL },
	{ "proxy:http", "port is not a number", NULL },
	{ "http:proxy:3128", "must be in brackets", NULL },
	{ "http:proxy", "port is not a number", NULL },
	{ "::1", "must be in brackets", NULL },
	{ "127.1:3128", "numeric host name", NULL },
};

static void check_bad(const struct bad_case *c, int is_proxy)
{
	struct url u;
	char err[256] = "";
	int rc;

	memset(&u, 0x5a, sizeof(u));
	rc = is_proxy ? url_parse_proxy(c->text, &u, err, sizeof(err))
		      : url_parse_dest(c->text, &u, err, sizeof(err));
	CHECK_MSG(rc == -1, "%s \"%s\" is refused",
		  is_proxy ? "proxy" : "dest", shown(c->text));
	CHECK_MSG(strstr(err, c->why) != NULL, "error for \"%s\" says "
		  "\"%s\" (got \"%s\")", shown(c->text), c->why, err);
	if (c->secret)
		CHECK_MSG(strstr(err, c->secret) == NULL, "error for \"%s\" "
			  "hides \"%s\" (got \"%s\")", shown(c->text),
			  c->secret, err);
	/* A refused URL leaves *out empty: nothing to free, nothing stale. */
	CHECK(u.scheme == NULL && u.user == NULL && u.password == NULL &&
	      u.host == NULL && u.path == NULL && u.port == 0 &&
	      u.port_given == 0 && u.host_is_ip == 0);
	url_clear(&u);
}

static void test_tables(void)
{
	size_t i;

	for (i = 0; i < N_ELEMENTS(good_dest); i++)
		check_good(&good_dest[i], 0);
	for (i = 0; i < N_ELEMENTS(good_proxy); i++)
		check_good(&good_proxy[i], 1);
	for (i = 0; i < N_ELEMENTS(bad_dest); i++)
		check_bad(&bad_dest[i], 0);
	for (i = 0; i < N_ELEMENTS(bad_proxy); i++)
		check_bad(&bad_proxy[i], 1);
}

/* What one kind accepts, the other refuses. */
static void test_kinds_differ(void)
{
	static const char *const dest_only[] = {
		"wss://gw", "ws://gw", "tcp://h:1", "tls://h:1",
		"https://gw/path",
	};
	static const char *const proxy_only[] = {
		"proxy:3128", "socks5://p", "http://u:p@proxy",
		"pac+http://w/x.pac",
	};
	struct url u;
	char err[128];
	size_t i;

	for (i = 0; i < N_ELEMENTS(dest_only); i++) {
		CHECK_MSG(url_parse_proxy(dest_only[i], &u, err, sizeof(err)) ==
				  -1,
			  "\"%s\" is no proxy URL", dest_only[i]);
		url_clear(&u);
	}
	for (i = 0; i < N_ELEMENTS(proxy_only); i++) {
		CHECK_MSG(url_parse_dest(proxy_only[i], &u, err, sizeof(err)) ==
				  -1,
			  "\"%s\" is no destination URL", proxy_only[i]);
		url_clear(&u);
	}
}

/* Length limits: URL, host name, label. */
static void test_lengths(void)
{
	char text[3000], label63[64], label64[65];
	char err[128] = "";
	struct url u;
	int rc;

	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';

	snprintf(text, sizeof(text), "wss://%s.com", label63);
	rc = url_parse_dest(text, &u, err, sizeof(err));
	CHECK_MSG(rc == 0, "63-byte label accepted (%s)", err);
	url_clear(&u);

	snprintf(text, sizeof(text), "wss://%s.com", label64);
	CHECK_INT(url_parse_dest(text, &u, err, sizeof(err)), -1);
	CHECK(strstr(err, "label longer than 63") != NULL);

	/* 3 labels of 63 + 3 dots = 192: a last label of 61 makes 253. */
	snprintf(text, sizeof(text), "wss://%s.%s.%s.%s", label63, label63,
		 label63, label63);
	CHECK_INT(url_parse_dest(text, &u, err, sizeof(err)), -1);
	CHECK(strstr(err, "longer than 253") != NULL);
	snprintf(text, sizeof(text), "wss://%s.%s.%s.%.62s", label63, label63,
		 label63, label63);
	CHECK_INT(url_parse_dest(text, &u, err, sizeof(err)), -1);
	CHECK(strstr(err, "longer than 253") != NULL);
	snprintf(text, sizeof(text), "wss://%s.%s.%s.%.62s.", label63, label63,
		 label63, label63);
	CHECK_INT(url_parse_dest(text, &u, err, sizeof(err)), -1);
	CHECK(strstr(err, "longer than 253") != NULL);
	snprintf(text, sizeof(text), "wss://%s.%s.%s.%.61s", label63, label63,
		 label63, label63);
	rc = url_parse_dest(text, &u, err, sizeof(err));
	CHECK_MSG(rc == 0, "253-byte host accepted (%s)", err);
	CHECK_INT(u.host ? strlen(u.host) : 0, 253);
	url_clear(&u);
	/* ... and with its trailing dot (254 bytes) too. */
	snprintf(text, sizeof(text), "wss://%s.%s.%s.%.61s.", label63, label63,
		 label63, label63);
	rc = url_parse_dest(text, &u, err, sizeof(err));
	CHECK_MSG(rc == 0, "253-byte host with a trailing dot (%s)", err);
	CHECK_INT(u.host ? strlen(u.host) : 0, 253);
	url_clear(&u);

	/* 2048 bytes is the limit. */
	memset(text, 'a', sizeof(text));
	memcpy(text, "wss://h/", 8);
	text[2048] = '\0';
	rc = url_parse_dest(text, &u, err, sizeof(err));
	CHECK_MSG(rc == 0, "2048-byte URL accepted (%s)", err);
	CHECK_INT(u.path ? strlen(u.path) : 0, 2048 - 7);
	url_clear(&u);
	text[2048] = 'a';
	text[2049] = '\0';
	CHECK_INT(url_parse_dest(text, &u, err, sizeof(err)), -1);
	CHECK(strstr(err, "longer than 2048") != NULL);
	text[sizeof(text) - 1] = '\0';
	CHECK_INT(url_parse_proxy(text, &u, err, sizeof(err)), -1);
}

/* The error buffer: optional, truncated safely, cleared on success. */
static void test_errbuf(void)
{
	struct url u;
	char small[8], err[64];

	memset(small, 'X', sizeof(small));
	CHECK_INT(url_parse_dest("ftp://h", &u, small, sizeof(small)), -1);
	CHECK_INT(strlen(small), sizeof(small) - 1);
	CHECK_INT(url_parse_dest("ftp://h", &u, NULL, 0), -1);
	CHECK_INT(url_parse_proxy("ftp://h", &u, NULL, 0), -1);
	CHECK_INT(url_parse_dest(NULL, &u, err, sizeof(err)), -1);
	CHECK_STR(err, "empty URL");
	CHECK_INT(url_parse_proxy(NULL, &u, err, sizeof(err)), -1);
	strcpy(err, "stale");
	CHECK_INT(url_parse_dest("wss://h", &u, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	url_clear(&u);
}

/*
 * url_clear() must wipe the password before freeing it.  The test binary
 * interposes explicit_bzero() to see that happen on the very buffer; a
 * fortified build routes the call to __explicit_bzero_chk instead, so
 * there the check is skipped.
 */
#if !defined(__USE_FORTIFY_LEVEL) || __USE_FORTIFY_LEVEL == 0
#define CAN_WATCH_WIPE 1
static const void *wipe_expected;
static size_t wipe_expected_len;
static int wipe_seen;

void explicit_bzero(void *s, size_t n)
{
	volatile unsigned char *p = s;
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = 0;
	if (wipe_expected != NULL && s == wipe_expected &&
	    n == wipe_expected_len)
		wipe_seen = 1;
}
#else
#define CAN_WATCH_WIPE 0
#endif

static void test_clear_wipes_password(void)
{
#if CAN_WATCH_WIPE
	struct url u;

	CHECK_INT(url_parse_proxy("http://u:s3cr3t@p:1", &u, NULL, 0), 0);
	wipe_expected = u.password;
	wipe_expected_len = strlen("s3cr3t");
	wipe_seen = 0;
	url_clear(&u);
	wipe_expected = NULL;
	CHECK_MSG(wipe_seen, "url_clear wiped the password before free");
#else
	printf("skip - fortified build: cannot watch explicit_bzero\n");
#endif
}

static void test_clear(void)
{
	struct url u;

	url_clear(NULL);
	CHECK_INT(url_parse_proxy("http://u:pw@p:1", &u, NULL, 0), 0);
	url_clear(&u);
	CHECK(u.scheme == NULL && u.password == NULL && u.user == NULL);
	url_clear(&u); /* twice is harmless */
	CHECK(u.host == NULL);
}

static void test_default_port(void)
{
	static const struct {
		const char *scheme;
		unsigned port;
	} cases[] = {
		{ "tcp", 0 },	      { "tls", 0 },	   { "http", 80 },
		{ "HTTPS", 443 },     { "ws", 80 },	   { "wss", 443 },
		{ "socks4", 1080 },   { "socks4a", 1080 }, { "socks5", 1080 },
		{ "socks5h", 1080 },  { "pac+http", 80 },  { "pac+https", 443 },
		{ "ftp", 0 },	      { "", 0 },	   { NULL, 0 },
	};
	size_t i;

	for (i = 0; i < N_ELEMENTS(cases); i++)
		CHECK_MSG(url_default_port(cases[i].scheme) == cases[i].port,
			  "default port of %s is %u",
			  cases[i].scheme ? cases[i].scheme : "NULL",
			  cases[i].port);
}

static void test_proxy_module(void)
{
	static const struct {
		const char *text;
		const char *module;
	} cases[] = {
		{ "http://p:3128", "http-connect" },
		{ "p:3128", "http-connect" },
		{ "p", "http-connect" },
		{ "HTTP://p", "http-connect" },
		{ "https://p", "https-proxy" },
		{ "HTTPS://p", "https-proxy" },
		{ "socks4://p", "socks" },
		{ "socks4a://p", "socks" },
		{ "socks5://p", "socks" },
		{ "Socks5h://p", "socks" },
		{ "pac+http://w/x", "pac" },
		{ "PAC+HTTPS://w/x", "pac" },
		{ "http://wpad/proxy.pac", "pac" },
		{ "https://wpad/proxy.PAC?x=1", "pac" },
		{ "http://u:p@w/p.pac", "pac" },
		{ "http://p/pac", "http-connect" },
		{ "http://proxy.pac:8080", "http-connect" },
		{ "http://proxy.pac", "http-connect" },
		{ "ftp://p", NULL },
		{ "wss://p", NULL },
		{ "pac+ftp://p/x.pac", NULL },
		{ "1x://p", NULL },
		{ NULL, NULL },
	};
	size_t i;

	for (i = 0; i < N_ELEMENTS(cases); i++)
		CHECK_STR(url_proxy_module(cases[i].text), cases[i].module);
}

static void check_display(const char *text, int is_proxy, const char *want)
{
	struct url u;
	char *got = NULL;
	int rc;

	rc = is_proxy ? url_parse_proxy(text, &u, NULL, 0)
		      : url_parse_dest(text, &u, NULL, 0);
	CHECK_MSG(rc == 0, "parse \"%s\"", text);
	if (rc == 0)
		got = url_display(&u);
	CHECK_STR(got, want);
	free(got);
	url_clear(&u);
}

static void test_display(void)
{
	struct url empty = { 0 };

	check_display("http://alice:s3cr3t@proxy:3128", 1, "http://proxy:3128");
	check_display("proxy", 1, "http://proxy:1080");
	check_display("HTTPS://Proxy.Corp", 1, "https://proxy.corp:443");
	check_display("http://[::1]:3128", 1, "http://[::1]:3128");
	check_display("socks5h://u:p@[2001:db8::1]", 1,
		      "socks5h://[2001:db8::1]:1080");
	check_display("pac+http://u:p@wpad/proxy.pac?token=s3cr3t", 1,
		      "pac+http://wpad:80/proxy.pac");
	check_display("http://wpad/proxy.pac", 1, "http://wpad:80/proxy.pac");
	check_display("wss://Gw.Example.com/path?x", 0,
		      "wss://gw.example.com:443");
	check_display("tcp://[::1]:22", 0, "tcp://[::1]:22");
	CHECK(url_display(NULL) == NULL);
	CHECK(url_display(&empty) == NULL);
}

static void test_display_text(void)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "http://alice:s3cr3t@proxy:3128", "http://proxy:3128" },
		{ "alice:s3cr3t@proxy", "http://proxy:1080" },
		{ "wss://gw:8443/x", "wss://gw:8443" },
		{ "https://gw/path", "https://gw:443" },
		{ "tcp://h:22", "tcp://h:22" },
		{ "http://alice:s3cr3t@proxy:99999", "<unparsable url>" },
		{ "http://alice:s3/cr3t@proxy", "<unparsable url>" },
		{ "garbage url", "<unparsable url>" },
		{ "", "<unparsable url>" },
		{ NULL, "<unparsable url>" },
	};
	size_t i;

	for (i = 0; i < N_ELEMENTS(cases); i++) {
		char *got = url_display_text(cases[i].text);

		CHECK_STR(got, cases[i].want);
		free(got);
	}
}

static void test_format_authority(void)
{
	char out[64];

	CHECK_INT(url_format_authority("example.com", 443, out, sizeof(out)),
		  0);
	CHECK_STR(out, "example.com:443");
	CHECK_INT(url_format_authority("::1", 443, out, sizeof(out)), 0);
	CHECK_STR(out, "[::1]:443");
	CHECK_INT(url_format_authority("::1", 0, out, sizeof(out)), 0);
	CHECK_STR(out, "[::1]");
	CHECK_INT(url_format_authority("10.0.0.1", 0, out, sizeof(out)), 0);
	CHECK_STR(out, "10.0.0.1");
	/* "example.com:443" is 15 bytes: 16 fit, 15 do not. */
	CHECK_INT(url_format_authority("example.com", 443, out, 16), 0);
	CHECK_STR(out, "example.com:443");
	CHECK_INT(url_format_authority("example.com", 443, out, 15), -1);
	CHECK_STR(out, "");
	CHECK_INT(url_format_authority("::1", 443, out, 9), -1);
	CHECK_INT(url_format_authority("::1", 443, out, 10), 0);
	CHECK_INT(url_format_authority(NULL, 443, out, sizeof(out)), -1);
	CHECK_INT(url_format_authority("h", 1, out, 0), -1);
	CHECK_INT(url_format_authority("h", 1, NULL, 10), -1);
}

int main(void)
{
	test_tables();
	test_kinds_differ();
	test_lengths();
	test_errbuf();
	test_clear();
	test_clear_wipes_password();
	test_default_port();
	test_proxy_module();
	test_display();
	test_display_text();
	test_format_authority();
	return check_done();
}
