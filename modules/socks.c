/*
 * socks.c - the `socks` transport: a tunnel through a SOCKS proxy with
 * CONNECT: SOCKS5 (RFC 1928) with no authentication or user name and
 * password (RFC 1929), and SOCKS4 with its 4a extension.
 *
 * Keys of [transport NAME] with module = socks:
 *
 *   url            socks4|socks4a|socks5|socks5h://[user[:pw]@]host[:port]
 *                  (port 1080 by default)
 *   username       SOCKS5: the RFC 1929 user; SOCKS4: the user id sent
 *   password       inline secret (prefer password_file); SOCKS5 only
 *   password_file  a file whose first line is the password
 *
 * Who resolves the destination's name, as in curl: socks5h:// and
 * socks4a:// send the name to the proxy; socks5:// and socks4:// resolve
 * it here first (the host's resolver, never blocking) and send the
 * address.  An IP literal is sent as an address either way.
 *
 * The layer below (direct, or another tunnel) reaches the proxy; this
 * layer's target is what the request names.  The handshake is a state
 * machine of fixed-size messages over ps_layer_send_all() and
 * ps_layer_recv_exact(), which never read past a reply: the tunnel's
 * first bytes stay below for the layer above.  Once the proxy granted
 * the request the tunnel is transparent: no send/recv ops.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* explicit_bzero */
#endif

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <proxystack/module.h>

/* RFC 1928 and 1929 byte values. */
#define SOCKS5_VERSION 0x05
#define SOCKS5_AUTH_NONE 0x00
#define SOCKS5_AUTH_USERPASS 0x02
#define SOCKS5_AUTH_REFUSED 0xff
#define SOCKS5_CMD_CONNECT 0x01
#define SOCKS5_ATYP_IPV4 0x01
#define SOCKS5_ATYP_NAME 0x03
#define SOCKS5_ATYP_IPV6 0x04
#define SOCKS5_REPLY_OK 0x00
#define USERPASS_VERSION 0x01
#define USERPASS_FIELD_MAX 255

/* SOCKS4 (and 4a) byte values. */
#define SOCKS4_VERSION 0x04
#define SOCKS4_CMD_CONNECT 0x01
#define SOCKS4_REPLY_VERSION 0x00
#define SOCKS4_GRANTED 0x5a
#define SOCKS4_REPLY_LEN 8

/* A name must fit SOCKS5's one length byte (and SOCKS4a's buffer). */
#define SOCKS_NAME_MAX 255
/* The largest message sent: SOCKS4a with a user id and a name. */
#define SOCKS_OUT_MAX (8 + USERPASS_FIELD_MAX + 1 + SOCKS_NAME_MAX + 1)
/* The largest reply: SOCKS5 with a bound name of 255 bytes. */
#define SOCKS_IN_MAX (4 + 1 + SOCKS_NAME_MAX + 2)

/* The configured instance, shared read-only by every connection. */
struct socks_config {
	struct ps_proxy_info proxy;
	int version;             /* 4 or 5 */
	int names_to_proxy;      /* socks4a, socks5h: the proxy resolves */
};

/* ------------------------------------------------------------------ */
/* configuration                                                       */
/* ------------------------------------------------------------------ */

static void socks_unconfigure(void *instance)
{
	struct socks_config *c = instance;

	if (!c)
		return;
	ps_proxy_info_clear(&c->proxy);
	free(c);
}

/* Where a credential came from, for the error: the URL or a key. */
static const char *credential_key(ps_config *cfg, const char *key,
				  const char *file_key)
{
	const char *url = ps_config_get(cfg, "url");
	const char *rest = url ? strstr(url, "://") : NULL;

	rest = rest ? rest + 3 : url;
	if (rest && memchr(rest, '@', strcspn(rest, "/?#")))
		return "url";
	if (file_key && !ps_config_get(cfg, key))
		return file_key;
	return key;
}

/* RFC 1929 carries each field with a one-byte length. */
static int check_credentials(ps_config *cfg, const struct socks_config *c)
{
	const struct ps_proxy_info *p = &c->proxy;

	if (c->version == 4 && p->password)
		return ps_config_error(cfg, credential_key(cfg, "password",
							   "password_file"),
				       "SOCKS4 sends only a user id, never a"
				       " password: remove the password, or"
				       " use socks5:// or socks5h:// with"
				       " user name and password");
	if (c->version == 4)
		return PS_OK;
	if (p->password && (!p->username || !*p->username))
		return ps_config_error(cfg, credential_key(cfg, "password",
							   "password_file"),
				       "a password without a user name: RFC"
				       " 1929 needs both");
	if (p->username && strlen(p->username) > USERPASS_FIELD_MAX)
		return ps_config_error(cfg, credential_key(cfg, "username",
							   NULL),
				       "the user name is %zu bytes; SOCKS5"
				       " (RFC 1929) carries at most %d",
				       strlen(p->username), USERPASS_FIELD_MAX);
	if (p->password && strlen(p->password) > USERPASS_FIELD_MAX)
		return ps_config_error(cfg, credential_key(cfg, "password",
							   "password_file"),
				       "the password is %zu bytes; SOCKS5"
				       " (RFC 1929) carries at most %d",
				       strlen(p->password), USERPASS_FIELD_MAX);
	return PS_OK;
}

static int socks_read_section(ps_config *cfg, struct socks_config *c)
{
	static const char *const schemes[] = {
		"socks4", "socks4a", "socks5", "socks5h", NULL
	};
	int rc;

	rc = ps_config_get_proxy(cfg, schemes, &c->proxy);
	if (rc != PS_OK)
		return rc;
	c->version = !strncmp(c->proxy.scheme, "socks4", 6) ? 4 : 5;
	/* The scheme's claim says it (socks_schemes below). */
	c->names_to_proxy = c->proxy.resolve_remotely;
	if (c->version == 4 && c->proxy.username &&
	    strlen(c->proxy.username) > USERPASS_FIELD_MAX)
		return ps_config_error(cfg, credential_key(cfg, "username",
							   NULL),
				       "the SOCKS4 user id is %zu bytes; at"
				       " most %d are sent",
				       strlen(c->proxy.username),
				       USERPASS_FIELD_MAX);
	return check_credentials(cfg, c);
}

/* A failed configure frees its own instance: the host does not. */
static int socks_configure(ps_config *cfg, void **instance)
{
	struct socks_config *c = calloc(1, sizeof(*c));
	int rc;

	*instance = NULL;
	if (!c)
		return ps_config_error(cfg, NULL, "out of memory");
	rc = socks_read_section(cfg, c);
	if (rc != PS_OK) {
		socks_unconfigure(c);
		return rc;
	}
	*instance = c;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* the connection                                                      */
/* ------------------------------------------------------------------ */

enum socks_state {
	SOCKS_RESOLVE,            /* socks4, socks5: the name, here */
	SOCKS_START,              /* build the first message */
	SOCKS5_SEND_GREETING,     /* version, the methods we offer */
	SOCKS5_RECV_METHOD,       /* the method the proxy chose */
	SOCKS5_SEND_USERPASS,     /* RFC 1929 */
	SOCKS5_RECV_USERPASS,
	SOCKS5_SEND_REQUEST,      /* CONNECT to the target */
	SOCKS5_RECV_REPLY_CODE,   /* version and reply code */
	SOCKS5_RECV_REPLY_ATYP,   /* reserved, address type, first byte */
	SOCKS5_RECV_REPLY_REST,   /* the bound address and port */
	SOCKS4_SEND_REQUEST,
	SOCKS4_RECV_REPLY_CODE,
	SOCKS4_RECV_REPLY_REST,
	SOCKS_DONE
};

static const char *const socks_state_names[] = {
	[SOCKS_RESOLVE] = "resolve",
	[SOCKS_START] = "start",
	[SOCKS5_SEND_GREETING] = "send-greeting",
	[SOCKS5_RECV_METHOD] = "recv-method",
	[SOCKS5_SEND_USERPASS] = "send-userpass",
	[SOCKS5_RECV_USERPASS] = "recv-userpass",
	[SOCKS5_SEND_REQUEST] = "send-request",
	[SOCKS5_RECV_REPLY_CODE] = "recv-reply-code",
	[SOCKS5_RECV_REPLY_ATYP] = "recv-reply-atyp",
	[SOCKS5_RECV_REPLY_REST] = "recv-reply-rest",
	[SOCKS4_SEND_REQUEST] = "send-request",
	[SOCKS4_RECV_REPLY_CODE] = "recv-reply-code",
	[SOCKS4_RECV_REPLY_REST] = "recv-reply-rest",
	[SOCKS_DONE] = "done",
};

/* The address the request names: a name, or 4 or 16 bytes. */
struct socks_target {
	int atyp;                       /* SOCKS5_ATYP_* */
	unsigned char ip[16];
	const char *name;               /* ATYP_NAME: the layer's target */
	unsigned port;
	char shown[300];                /* "host:port" for messages */
};

struct socks_conn {
	const struct socks_config *cfg;
	ps_layer *layer;
	enum socks_state state;
	struct socks_target target;
	int offered_userpass;
	int resolved_here;              /* socks4, socks5 with a name */
	struct ps_bytes_progress io;
	unsigned char out[SOCKS_OUT_MAX];
	size_t out_len;
	unsigned char in[SOCKS_IN_MAX];
	size_t in_want;                 /* bytes of the reply to read now */
};

static void socks_go_state(struct socks_conn *s, enum socks_state next)
{
	ps_layer_log(s->layer, PS_LOG_DEBUG, "state %s -> %s",
		     socks_state_names[s->state], socks_state_names[next]);
	s->state = next;
}

static const char *socks_label(const struct socks_conn *s)
{
	return s->cfg->version == 4 ? "SOCKS4" : "SOCKS5";
}

/* Record a malformed reply: which byte, what it held, what was due. */
static int socks_malformed(struct socks_conn *s, const char *message,
			   size_t offset, const char *expected)
{
	return ps_layer_fail(s->layer, PS_ERR_PROXY_PROTOCOL,
			     "is it a SOCKS proxy of that version? see its"
			     " logs",
			     "%s proxy %s sent a malformed %s: byte %zu is"
			     " 0x%02x, expected %s", socks_label(s),
			     s->cfg->proxy.display, message, offset,
			     s->in[offset], expected);
}

/* An IP literal as the request's address, or 0 for a name. */
static int target_from_literal(struct socks_target *t, const char *host)
{
	if (inet_pton(AF_INET, host, t->ip) == 1)
		t->atyp = SOCKS5_ATYP_IPV4;
	else if (inet_pton(AF_INET6, host, t->ip) == 1)
		t->atyp = SOCKS5_ATYP_IPV6;
	else
		return 0;
	return 1;
}

static int socks_open(ps_layer *layer, void *instance, void **state)
{
	const struct socks_config *c = instance;
	struct socks_conn *s = calloc(1, sizeof(*s));
	const char *host = ps_layer_target_host(layer);
	unsigned port = ps_layer_target_port(layer);
	int literal;

	*state = s;
	if (!s)
		return ps_layer_fail(layer, PS_ERR_NOMEM, NULL,
				     "out of memory");
	s->cfg = c;
	s->layer = layer;
	s->target.port = port;
	snprintf(s->target.shown, sizeof(s->target.shown),
		 strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	if (port == 0 || port > 65535 || strlen(host) > SOCKS_NAME_MAX)
		return ps_layer_fail(layer, PS_ERR_USAGE, NULL,
				     "cannot name %s in a SOCKS request",
				     s->target.shown);
	literal = target_from_literal(&s->target, host);
	if (c->version == 4 && s->target.atyp == SOCKS5_ATYP_IPV6)
		return ps_layer_fail(layer, PS_ERR_UNSUPPORTED,
				     "use a socks5:// or socks5h:// proxy for"
				     " IPv6 destinations",
				     "SOCKS4 cannot carry the IPv6 address of"
				     " %s (proxy %s)", s->target.shown,
				     c->proxy.display);
	if (!literal && c->names_to_proxy) {
		s->target.atyp = SOCKS5_ATYP_NAME;
		s->target.name = host;
	}
	s->state = literal || c->names_to_proxy ? SOCKS_START : SOCKS_RESOLVE;
	return PS_OK;
}

/* socks4, socks5: the first usable address of the name, found here. */
static int socks_resolve(struct socks_conn *s)
{
	const char *host = ps_layer_target_host(s->layer);
	const struct addrinfo *res, *ai;
	int rc;

	rc = ps_layer_resolve(s->layer, host, s->target.port, &res);
	if (rc != PS_OK)
		return rc;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sin =
				(const void *)ai->ai_addr;

			memcpy(s->target.ip, &sin->sin_addr, 4);
			s->target.atyp = SOCKS5_ATYP_IPV4;
			break;
		}
		if (ai->ai_family == AF_INET6 && s->cfg->version == 5) {
			const struct sockaddr_in6 *sin6 =
				(const void *)ai->ai_addr;

			memcpy(s->target.ip, &sin6->sin6_addr, 16);
			s->target.atyp = SOCKS5_ATYP_IPV6;
			break;
		}
	}
	if (!ai)
		return ps_layer_fail(s->layer, PS_ERR_RESOLVE,
				     "use socks4a:// to let the proxy resolve"
				     " the name",
				     "%s has no IPv4 address, and SOCKS4"
				     " carries no other", host);
	s->resolved_here = 1;
	socks_go_state(s, SOCKS_START);
	return PS_OK;
}

/* The address part of a request as text, for logs and `check`. */
static void target_address_text(const struct socks_target *t, char *out,
				size_t outsz)
{
	if (t->atyp == SOCKS5_ATYP_NAME)
		snprintf(out, outsz, "%s", t->name);
	else if (!inet_ntop(t->atyp == SOCKS5_ATYP_IPV4 ? AF_INET : AF_INET6,
			    t->ip, out, (socklen_t)outsz))
		snprintf(out, outsz, "?");
}

static void out_byte(struct socks_conn *s, unsigned char byte)
{
	if (s->out_len < sizeof(s->out))
		s->out[s->out_len++] = byte;
}

static void out_bytes(struct socks_conn *s, const void *bytes, size_t len)
{
	if (len <= sizeof(s->out) - s->out_len) {
		memcpy(s->out + s->out_len, bytes, len);
		s->out_len += len;
	}
}

static void out_port(struct socks_conn *s, unsigned port)
{
	out_byte(s, (unsigned char)(port >> 8));
	out_byte(s, (unsigned char)port);
}

/* RFC 1928 section 3: the methods we can do, user/pass when configured. */
static void build_greeting(struct socks_conn *s)
{
	s->offered_userpass = s->cfg->proxy.username != NULL;
	s->out_len = 0;
	out_byte(s, SOCKS5_VERSION);
	out_byte(s, s->offered_userpass ? 2 : 1);
	out_byte(s, SOCKS5_AUTH_NONE);
	if (s->offered_userpass)
		out_byte(s, SOCKS5_AUTH_USERPASS);
}

/* RFC 1929 section 2; lengths were checked at configure. */
static void build_userpass(struct socks_conn *s)
{
	const char *user = s->cfg->proxy.username;
	const char *pw = s->cfg->proxy.password ? s->cfg->proxy.password : "";

	s->out_len = 0;
	out_byte(s, USERPASS_VERSION);
	out_byte(s, (unsigned char)strlen(user));
	out_bytes(s, user, strlen(user));
	out_byte(s, (unsigned char)strlen(pw));
	out_bytes(s, pw, strlen(pw));
}

/* RFC 1928 section 4: CONNECT to the target. */
static void build_socks5_request(struct socks_conn *s)
{
	const struct socks_target *t = &s->target;

	s->out_len = 0;
	out_byte(s, SOCKS5_VERSION);
	out_byte(s, SOCKS5_CMD_CONNECT);
	out_byte(s, 0x00);
	out_byte(s, (unsigned char)t->atyp);
	if (t->atyp == SOCKS5_ATYP_NAME) {
		out_byte(s, (unsigned char)strlen(t->name));
		out_bytes(s, t->name, strlen(t->name));
	} else {
		out_bytes(s, t->ip, t->atyp == SOCKS5_ATYP_IPV4 ? 4 : 16);
	}
	out_port(s, t->port);
}

/* SOCKS4: VN CD DSTPORT DSTIP USERID NUL; 4a: IP 0.0.0.1 and NAME NUL. */
static void build_socks4_request(struct socks_conn *s)
{
	static const unsigned char socks4a_marker[4] = { 0, 0, 0, 1 };
	const struct socks_target *t = &s->target;
	const char *user = s->cfg->proxy.username ? s->cfg->proxy.username
						  : "";

	s->out_len = 0;
	out_byte(s, SOCKS4_VERSION);
	out_byte(s, SOCKS4_CMD_CONNECT);
	out_port(s, t->port);
	out_bytes(s, t->atyp == SOCKS5_ATYP_NAME ? socks4a_marker : t->ip, 4);
	out_bytes(s, user, strlen(user) + 1);
	if (t->atyp == SOCKS5_ATYP_NAME)
		out_bytes(s, t->name, strlen(t->name) + 1);
}

static int socks_start(struct socks_conn *s)
{
	char address[INET6_ADDRSTRLEN + SOCKS_NAME_MAX];

	target_address_text(&s->target, address, sizeof(address));
	ps_layer_log(s->layer, PS_LOG_DEBUG, "%s CONNECT %s port %u (%s)",
		     socks_label(s), address, s->target.port,
		     s->target.atyp == SOCKS5_ATYP_NAME
			     ? "the proxy resolves the name"
			     : "address sent");
	if (s->cfg->version == 4) {
		build_socks4_request(s);
		socks_go_state(s, SOCKS4_SEND_REQUEST);
	} else {
		build_greeting(s);
		socks_go_state(s, SOCKS5_SEND_GREETING);
	}
	return PS_OK;
}

/* Send s->out; on success wipe it (it may have held the password). */
static int socks_send(struct socks_conn *s, enum socks_state next,
		      size_t reply_len)
{
	int rc = ps_layer_send_all(s->layer, s->out, s->out_len, &s->io);

	if (rc != PS_OK)
		return rc;
	explicit_bzero(s->out, s->out_len);
	s->out_len = 0;
	s->in_want = reply_len;
	socks_go_state(s, next);
	return PS_OK;
}

/* Read the reply up to s->in_want bytes (s->io.done: already there). */
static int socks_recv(struct socks_conn *s, const char *what)
{
	return ps_layer_recv_exact(s->layer, s->in, s->in_want, &s->io,
				   what);
}

/* Continue the same reply: 'have' bytes are in, read up to 'want'. */
static void socks_expect_more(struct socks_conn *s, size_t have, size_t want,
			      enum socks_state next)
{
	s->io.done = have;
	s->in_want = want;
	socks_go_state(s, next);
}

static int socks5_method_chosen(struct socks_conn *s)
{
	const struct ps_proxy_info *p = &s->cfg->proxy;
	unsigned char method = s->in[1];

	if (s->in[0] != SOCKS5_VERSION)
		return socks_malformed(s, "method selection", 0, "0x05");
	if (method == SOCKS5_AUTH_REFUSED && !s->offered_userpass)
		return ps_layer_fail(s->layer, PS_ERR_PROXY_AUTH,
				     "set username and password_file in the"
				     " proxy's section (or credentials in its"
				     " URL)",
				     "SOCKS5 proxy %s refused every offered"
				     " authentication method (offered: none):"
				     " it wants credentials", p->display);
	if (method == SOCKS5_AUTH_REFUSED)
		return ps_layer_fail(s->layer, PS_ERR_PROXY_AUTH,
				     "proxystack offers SOCKS5 proxies no"
				     " authentication and user name/password"
				     " (RFC 1929) only",
				     "SOCKS5 proxy %s refused every offered"
				     " authentication method (offered: none,"
				     " username/password)", p->display);
	if (method == SOCKS5_AUTH_NONE) {
		build_socks5_request(s);
		socks_go_state(s, SOCKS5_SEND_REQUEST);
		return PS_OK;
	}
	if (method == SOCKS5_AUTH_USERPASS && s->offered_userpass) {
		build_userpass(s);
		socks_go_state(s, SOCKS5_SEND_USERPASS);
		return PS_OK;
	}
	return socks_malformed(s, "method selection", 1, s->offered_userpass
			       ? "0x00 or 0x02 (the methods offered)"
			       : "0x00 (the method offered)");
}

static int socks5_userpass_answered(struct socks_conn *s)
{
	if (s->in[0] != USERPASS_VERSION)
		return socks_malformed(s, "username/password reply", 0,
				       "0x01");
	if (s->in[1] != 0x00)
		return ps_layer_fail(s->layer, PS_ERR_PROXY_AUTH,
				     "check the user name and password",
				     "SOCKS5 proxy %s rejected the user name"
				     " and password (status 0x%02x)",
				     s->cfg->proxy.display, s->in[1]);
	build_socks5_request(s);
	socks_go_state(s, SOCKS5_SEND_REQUEST);
	return PS_OK;
}

/* What a refusal means to a person, by reply code. */
struct socks_refusal {
	unsigned char reply;
	int code;
	const char *meaning;
	const char *hint;
};

static const struct socks_refusal socks5_refusals[] = {
	{ 0x01, PS_ERR_PROXY_DENIED, "general SOCKS server failure",
	  "see the proxy's logs" },
	{ 0x02, PS_ERR_PROXY_DENIED, "connection not allowed by ruleset",
	  "the proxy's rules forbid this destination or port: ask its"
	  " administrators, or route it elsewhere" },
	{ 0x03, PS_ERR_CONNECT, "network unreachable",
	  "the proxy has no route to the destination's network" },
	{ 0x04, PS_ERR_CONNECT, "host unreachable",
	  "the proxy could not reach the destination (or resolve its"
	  " name): check the name and that the host is up" },
	{ 0x05, PS_ERR_CONNECT, "connection refused",
	  "nothing accepts connections on that port, as the proxy sees it:"
	  " is the service running?" },
	{ 0x06, PS_ERR_CONNECT, "TTL expired",
	  "the destination is too many hops away from the proxy, or the"
	  " path loops" },
	{ 0x07, PS_ERR_PROXY_DENIED, "command not supported",
	  "the proxy does not offer CONNECT" },
	{ 0x08, PS_ERR_PROXY_DENIED, "address type not supported",
	  "socks5h:// sends the name, socks5:// an address: try the other" },
};

static const struct socks_refusal socks4_refusals[] = {
	{ 0x5b, PS_ERR_PROXY_DENIED, "request rejected or failed",
	  "the proxy's rules forbid this destination, or it could not reach"
	  " it: see the proxy's logs" },
	{ 0x5c, PS_ERR_PROXY_AUTH, "request rejected: the proxy cannot"
	  " reach an identd on this client",
	  "this proxy checks users with identd: use a SOCKS5 proxy with a"
	  " user name and password" },
	{ 0x5d, PS_ERR_PROXY_AUTH, "request rejected: identd reports"
	  " another user id than the one sent",
	  "set username to the user id identd reports for this process" },
};

static int socks_refused(struct socks_conn *s,
			 const struct socks_refusal *table, size_t n)
{
	unsigned char reply = s->in[1];

	for (size_t i = 0; i < n; i++)
		if (table[i].reply == reply)
			return ps_layer_fail(s->layer, table[i].code,
					     table[i].hint,
					     "%s proxy %s refused CONNECT %s:"
					     " %s (reply 0x%02x)",
					     socks_label(s),
					     s->cfg->proxy.display,
					     s->target.shown,
					     table[i].meaning, reply);
	return socks_malformed(s, "reply", 1, s->cfg->version == 4
			       ? "a reply code 0x5a-0x5d"
			       : "a reply code 0x00-0x08");
}

/* Version and reply code: a refusal is final without the rest. */
static int socks5_reply_code(struct socks_conn *s)
{
	if (s->in[0] != SOCKS5_VERSION)
		return socks_malformed(s, "reply", 0, "0x05");
	if (s->in[1] != SOCKS5_REPLY_OK)
		return socks_refused(s, socks5_refusals,
				     sizeof(socks5_refusals) /
					     sizeof(socks5_refusals[0]));
	socks_expect_more(s, 2, 5, SOCKS5_RECV_REPLY_ATYP);
	return PS_OK;
}

/* The bound address's type says how long the reply is. */
static int socks5_reply_atyp(struct socks_conn *s)
{
	size_t total;

	switch (s->in[3]) {
	case SOCKS5_ATYP_IPV4:
		total = 4 + 4 + 2;
		break;
	case SOCKS5_ATYP_IPV6:
		total = 4 + 16 + 2;
		break;
	case SOCKS5_ATYP_NAME:
		if (s->in[4] == 0)
			return socks_malformed(s, "reply", 4,
					       "a bound name's length 1-255");
		total = 4 + 1 + s->in[4] + 2;
		break;
	default:
		return socks_malformed(s, "reply", 3,
				       "an address type 0x01, 0x03 or 0x04");
	}
	socks_expect_more(s, 5, total, SOCKS5_RECV_REPLY_REST);
	return PS_OK;
}

static int socks4_reply_code(struct socks_conn *s)
{
	if (s->in[0] != SOCKS4_REPLY_VERSION)
		return socks_malformed(s, "reply", 0, "0x00");
	if (s->in[1] != SOCKS4_GRANTED)
		return socks_refused(s, socks4_refusals,
				     sizeof(socks4_refusals) /
					     sizeof(socks4_refusals[0]));
	socks_expect_more(s, 2, SOCKS4_REPLY_LEN, SOCKS4_RECV_REPLY_REST);
	return PS_OK;
}

static int socks_established(struct socks_conn *s)
{
	char address[INET6_ADDRSTRLEN + SOCKS_NAME_MAX];

	target_address_text(&s->target, address, sizeof(address));
	if (s->target.atyp == SOCKS5_ATYP_NAME)
		ps_layer_set_detail(s->layer, "%s CONNECT %s:%u (the proxy"
				    " resolved the name)", socks_label(s),
				    address, s->target.port);
	else if (s->resolved_here)
		ps_layer_set_detail(s->layer, "%s CONNECT %s:%u (%s resolved"
				    " here)", socks_label(s), address,
				    s->target.port,
				    ps_layer_target_host(s->layer));
	else
		ps_layer_set_detail(s->layer, "%s CONNECT %s", socks_label(s),
				    s->target.shown);
	socks_go_state(s, SOCKS_DONE);
	return PS_OK;
}

/* One step of the handshake; PS_OK moves to the next state. */
static int socks_step(struct socks_conn *s)
{
	int rc;

	switch (s->state) {
	case SOCKS_RESOLVE:
		return socks_resolve(s);
	case SOCKS_START:
		return socks_start(s);
	case SOCKS5_SEND_GREETING:
		return socks_send(s, SOCKS5_RECV_METHOD, 2);
	case SOCKS5_RECV_METHOD:
		rc = socks_recv(s, "the SOCKS5 method selection");
		return rc != PS_OK ? rc : socks5_method_chosen(s);
	case SOCKS5_SEND_USERPASS:
		return socks_send(s, SOCKS5_RECV_USERPASS, 2);
	case SOCKS5_RECV_USERPASS:
		rc = socks_recv(s, "the SOCKS5 username/password reply");
		return rc != PS_OK ? rc : socks5_userpass_answered(s);
	case SOCKS5_SEND_REQUEST:
		return socks_send(s, SOCKS5_RECV_REPLY_CODE, 2);
	case SOCKS5_RECV_REPLY_CODE:
		rc = socks_recv(s, "the SOCKS5 reply");
		return rc != PS_OK ? rc : socks5_reply_code(s);
	case SOCKS5_RECV_REPLY_ATYP:
		rc = socks_recv(s, "the SOCKS5 reply");
		return rc != PS_OK ? rc : socks5_reply_atyp(s);
	case SOCKS5_RECV_REPLY_REST:
	case SOCKS4_RECV_REPLY_REST:
		rc = socks_recv(s, s->cfg->version == 4 ? "the SOCKS4 reply"
							: "the SOCKS5 reply");
		return rc != PS_OK ? rc : socks_established(s);
	case SOCKS4_SEND_REQUEST:
		return socks_send(s, SOCKS4_RECV_REPLY_CODE, 2);
	case SOCKS4_RECV_REPLY_CODE:
		rc = socks_recv(s, "the SOCKS4 reply");
		return rc != PS_OK ? rc : socks4_reply_code(s);
	case SOCKS_DONE:
		return PS_OK;
	}
	return ps_layer_fail(s->layer, PS_ERR_INTERNAL, NULL,
			     "socks: unknown state %d", (int)s->state);
}

static int socks_connect(ps_layer *layer, void *state)
{
	struct socks_conn *s = state;
	int rc;

	(void)layer;
	while (s->state != SOCKS_DONE) {
		rc = socks_step(s);
		if (rc != PS_OK)
			return rc;
	}
	return PS_OK;
}

static void socks_close(ps_layer *layer, void *state)
{
	struct socks_conn *s = state;

	(void)layer;
	if (!s)
		return;
	/* The user name/password message may still be in there. */
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/* The schemes this module serves: who resolves names, as in curl. */
static const struct ps_scheme socks_scheme_table[] = {
	{ "socks4", 1080, 0 },
	{ "socks4a", 1080, 1 },
	{ "socks5", 1080, 0 },
	{ "socks5h", 1080, 1 },
	{ NULL, 0, 0 },
};

static const struct ps_scheme *socks_schemes(void)
{
	return socks_scheme_table;
}

static const struct ps_module_ops socks_ops = {
	.configure = socks_configure,
	.unconfigure = socks_unconfigure,
	.open = socks_open,
	.connect = socks_connect,
	.close = socks_close,
	/* send, recv, shutdown_write: NULL, the tunnel is transparent */
	.schemes = socks_schemes,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "socks",
	.phases = PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
	.summary = "SOCKS5 (no auth, user/password) and SOCKS4/4a CONNECT",
	.ops = &socks_ops,
};
