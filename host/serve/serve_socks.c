/*
 * serve_socks.c - the SOCKS5 front of proxystack serve (RFC 1928, with
 * RFC 1929 user/password when client authentication is on): greeting,
 * sub-negotiation and CONNECT request parsing, and the reply codes a
 * failed chain maps to.
 *
 * Domain names are never resolved here: the stack does it (through the
 * proxy for proxied routes), so socks5h:// clients get the site's routes
 * and NO_PROXY by name.  Parsing is pure, for the unit tests.
 */
#include <arpa/inet.h>
#include <string.h>

#include "serve.h"

#define SOCKS_VERSION 5
#define SOCKS_CMD_CONNECT 1
#define SOCKS_ATYP_IPV4 1
#define SOCKS_ATYP_DOMAIN 3
#define SOCKS_ATYP_IPV6 4

int socks_parse_greeting(const uint8_t *b, size_t len, int want_password,
			 size_t *used, int *method)
{
	int has_none = 0, has_password = 0;

	if (len < 2)
		return SOCKS_NEED_MORE;
	if (b[0] != SOCKS_VERSION || b[1] == 0)
		return SOCKS_BAD;
	if (len < 2u + b[1])
		return SOCKS_NEED_MORE;
	for (size_t i = 0; i < b[1]; i++) {
		has_none |= b[2 + i] == SOCKS_METHOD_NONE;
		has_password |= b[2 + i] == SOCKS_METHOD_USERPASS;
	}
	*used = 2u + b[1];
	if (want_password)
		*method = has_password ? SOCKS_METHOD_USERPASS
				       : SOCKS_METHOD_REFUSED;
	else
		*method = has_none ? SOCKS_METHOD_NONE : SOCKS_METHOD_REFUSED;
	return SOCKS_DONE;
}

int socks_parse_userpass(const uint8_t *b, size_t len, size_t *used,
			 char *user, char *pass)
{
	size_t ulen, plen;

	if (len < 2)
		return SOCKS_NEED_MORE;
	if (b[0] != 1 || b[1] == 0)
		return SOCKS_BAD;
	ulen = b[1];
	if (len < 3 + ulen)
		return SOCKS_NEED_MORE;
	plen = b[2 + ulen];
	if (len < 3 + ulen + plen)
		return SOCKS_NEED_MORE;
	if (memchr(b + 2, 0, ulen) || memchr(b + 3 + ulen, 0, plen))
		return SOCKS_BAD;
	memcpy(user, b + 2, ulen);
	user[ulen] = '\0';
	memcpy(pass, b + 3 + ulen, plen);
	pass[plen] = '\0';
	*used = 3 + ulen + plen;
	return SOCKS_DONE;
}

/* A domain name as the stack may take it: no byte a URL would mangle. */
static int socks_name_ok(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return 0;
	}
	return len > 0;
}

/* The address of the request at b[4..], ATYP b[3]; its length or -1. */
static int socks_parse_address(const uint8_t *b, size_t len,
			       struct socks_request *r, size_t *addr_len,
			       int *reply)
{
	switch (b[3]) {
	case SOCKS_ATYP_IPV4:
		*addr_len = 4;
		if (len < 4 + 4)
			return SOCKS_NEED_MORE;
		inet_ntop(AF_INET, b + 4, r->host, sizeof(r->host));
		return SOCKS_DONE;
	case SOCKS_ATYP_IPV6:
		*addr_len = 16;
		if (len < 4 + 16)
			return SOCKS_NEED_MORE;
		inet_ntop(AF_INET6, b + 4, r->host, sizeof(r->host));
		r->host_is_v6 = 1;
		return SOCKS_DONE;
	case SOCKS_ATYP_DOMAIN:
		if (len < 5)
			return SOCKS_NEED_MORE;
		*addr_len = 1u + b[4];
		if (len < 4 + *addr_len)
			return SOCKS_NEED_MORE;
		if (!socks_name_ok(b + 5, b[4])) {
			*reply = SOCKS_REP_HOST_UNREACHABLE;
			return SOCKS_BAD;
		}
		memcpy(r->host, b + 5, b[4]);
		r->host[b[4]] = '\0';
		return SOCKS_DONE;
	default:
		*reply = SOCKS_REP_ATYP;
		return SOCKS_BAD;
	}
}

int socks_parse_request(const uint8_t *b, size_t len, size_t *used,
			struct socks_request *r, int *reply)
{
	size_t addr_len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	*reply = SOCKS_REP_GENERAL;
	if (len < 4)
		return SOCKS_NEED_MORE;
	if (b[0] != SOCKS_VERSION || b[2] != 0)
		return SOCKS_BAD;
	if (b[1] != SOCKS_CMD_CONNECT) {
		*reply = SOCKS_REP_COMMAND;
		return SOCKS_BAD;
	}
	rc = socks_parse_address(b, len, r, &addr_len, reply);
	if (rc != SOCKS_DONE)
		return rc;
	if (len < 4 + addr_len + 2)
		return SOCKS_NEED_MORE;
	r->port = (unsigned)b[4 + addr_len] << 8 | b[5 + addr_len];
	if (r->port == 0) {
		*reply = SOCKS_REP_GENERAL;
		return SOCKS_BAD;
	}
	*used = 4 + addr_len + 2;
	return SOCKS_DONE;
}

void socks_reply(uint8_t out[10], int rep)
{
	/* BND.ADDR 0.0.0.0:0: the address the stack used is not known
	 * here, and clients ignore it for CONNECT. */
	memset(out, 0, 10);
	out[0] = SOCKS_VERSION;
	out[1] = (uint8_t)rep;
	out[3] = SOCKS_ATYP_IPV4;
}

int socks_reply_for_code(int code)
{
	switch (code) {
	case PS_ERR_RESOLVE:
		return SOCKS_REP_HOST_UNREACHABLE;
	case PS_ERR_CONNECT:
		return SOCKS_REP_REFUSED;
	case PS_ERR_TIMEOUT:
		return SOCKS_REP_TTL_EXPIRED;
	case PS_ERR_PROXY_DENIED:
	case PS_ERR_PROXY_AUTH:
		return SOCKS_REP_NOT_ALLOWED;
	default:
		return SOCKS_REP_GENERAL;
	}
}
