/*
 * error.c - result codes, their names and exit statuses, ps_error.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"

struct code_info {
	int code;
	const char *name;
	int exit_status;
};

/* The contract: names and exit statuses are what scripts rely on. */
static const struct code_info code_table[] = {
	{ PS_OK, "ok", 0 },
	{ PS_AGAIN, "again", 1 },
	{ PS_ERR_CONFIG, "config", 2 },
	{ PS_ERR_MODULE, "module", 2 },
	{ PS_ERR_RESOLVE, "resolve", 6 },
	{ PS_ERR_CONNECT, "connect", 6 },
	{ PS_ERR_TIMEOUT, "timeout", 6 },
	{ PS_ERR_PROXY_AUTH, "proxy-auth", 3 },
	{ PS_ERR_PROXY_DENIED, "proxy-denied", 4 },
	{ PS_ERR_PROXY_PROTOCOL, "proxy-protocol", 4 },
	{ PS_ERR_TLS_VERIFY, "tls-verify", 5 },
	{ PS_ERR_TLS, "tls", 1 },
	{ PS_ERR_WEBSOCKET_HANDSHAKE, "websocket-handshake", 1 },
	{ PS_ERR_WEBSOCKET, "websocket", 1 },
	{ PS_ERR_UNSUPPORTED, "unsupported", 7 },
	{ PS_ERR_USAGE, "usage", 2 },
	{ PS_ERR_NOMEM, "nomem", 1 },
	{ PS_ERR_IO, "io", 1 },
	{ PS_ERR_INTERNAL, "internal", 1 },
};

static const struct code_info *code_lookup(int code)
{
	for (size_t i = 0; i < sizeof(code_table) / sizeof(code_table[0]); i++)
		if (code_table[i].code == code)
			return &code_table[i];
	return NULL;
}

const char *ps_code_name(int code)
{
	const struct code_info *ci = code_lookup(code);

	return ci ? ci->name : "unknown";
}

int ps_code_exit_status(int code)
{
	const struct code_info *ci = code_lookup(code);

	return ci ? ci->exit_status : 1;
}

void ps_error_clear(ps_error *err)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->code = PS_OK;
	err->hop = -1;
}

int err_setv(ps_error *err, int code, const char *layer, int hop,
	     const char *hint, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	ps_error_clear(err);
	err->code = code;
	err->hop = hop;
	snprintf(err->layer, sizeof(err->layer), "%s", layer ? layer : "");
	snprintf(err->hint, sizeof(err->hint), "%s", hint ? hint : "");
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	return code;
}

int err_set(ps_error *err, int code, const char *layer, int hop,
	    const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(err, code, layer, hop, hint, fmt, ap);
	va_end(ap);
	return code;
}

int err_nomem(ps_error *err)
{
	return err_set(err, PS_ERR_NOMEM, NULL, -1, NULL, "out of memory");
}

void err_copy(ps_error *dst, const ps_error *src)
{
	if (dst && src && dst != src)
		*dst = *src;
}
