/*
 * preload_errno.c - the errno a program expects from connect() for a
 * proxystack failure (preload_connect.c reports it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "preload.h"

int connect_errno_of(int code)
{
	switch (code) {
	case PS_ERR_RESOLVE:
		return EHOSTUNREACH;
	case PS_ERR_CONNECT:
		return ECONNREFUSED;
	case PS_ERR_TIMEOUT:
		return ETIMEDOUT;
	case PS_ERR_PROXY_AUTH:
	case PS_ERR_PROXY_DENIED:
		return EACCES;
	case PS_ERR_PROXY_PROTOCOL:
	case PS_ERR_TLS_VERIFY:
	case PS_ERR_TLS:
	case PS_ERR_IO:
		return ECONNRESET;
	case PS_ERR_NOMEM:
		return ENOMEM;
	default:
		return ENETUNREACH;
	}
}

/*
 * A proxy's refusal carries its HTTP status in the message ("proxy P
 * refused CONNECT host:port: 503 ...", modules/http1_connect.c and
 * https-proxy.c): 502 and 503 are the proxy failing to reach the
 * destination (squid's ERR_CONNECT_FAIL, ERR_DNS_FAIL), which a program
 * knows as a refused connection; 504 is its timeout.
 */
static int connect_status_of(const char *message)
{
	const char *p = strstr(message, "refused CONNECT ");
	int status = 0;

	if (p)
		p = strstr(p, ": ");
	if (p && sscanf(p + 2, "%3d", &status) != 1)
		status = 0;
	return status;
}

int connect_errno_of_error(const ps_error *err)
{
	int status;

	if (err->code != PS_ERR_PROXY_DENIED)
		return connect_errno_of(err->code);
	status = connect_status_of(err->message);
	if (status == 502 || status == 503)
		return ECONNREFUSED;
	if (status == 504)
		return ETIMEDOUT;
	return EACCES;
}
