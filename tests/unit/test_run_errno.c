/*
 * test_run_errno.c - the errno `proxystack run` gives a program for each
 * failure (preload/preload_errno.c), the proxy's status read from the
 * messages the http-connect and https-proxy modules write.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "preload.h"

static int errno_for(int code, const char *message)
{
	ps_error err;

	ps_error_clear(&err);
	err.code = code;
	snprintf(err.message, sizeof(err.message), "%s", message);
	return connect_errno_of_error(&err);
}

static void test_codes(void)
{
	CHECK_INT(connect_errno_of(PS_ERR_RESOLVE), EHOSTUNREACH);
	CHECK_INT(connect_errno_of(PS_ERR_CONNECT), ECONNREFUSED);
	CHECK_INT(connect_errno_of(PS_ERR_TIMEOUT), ETIMEDOUT);
	CHECK_INT(connect_errno_of(PS_ERR_PROXY_AUTH), EACCES);
	CHECK_INT(connect_errno_of(PS_ERR_PROXY_DENIED), EACCES);
	CHECK_INT(connect_errno_of(PS_ERR_PROXY_PROTOCOL), ECONNRESET);
	CHECK_INT(connect_errno_of(PS_ERR_TLS_VERIFY), ECONNRESET);
	CHECK_INT(connect_errno_of(PS_ERR_TLS), ECONNRESET);
	CHECK_INT(connect_errno_of(PS_ERR_NOMEM), ENOMEM);
	CHECK_INT(connect_errno_of(PS_ERR_CONFIG), ENETUNREACH);
	CHECK_INT(connect_errno_of(PS_ERR_UNSUPPORTED), ENETUNREACH);
	CHECK_INT(connect_errno_of(12345), ENETUNREACH);
}

static void test_proxy_status(void)
{
	/* modules/http1_connect.c's wording, with the body's first line. */
	CHECK_INT(errno_for(PS_ERR_PROXY_DENIED,
			    "proxy http://127.0.0.1:3128 refused CONNECT"
			    " dest.example:443: 503 Service Unavailable:"
			    " ERROR: The requested URL could not be retrieved"),
		  ECONNREFUSED);
	CHECK_INT(errno_for(PS_ERR_PROXY_DENIED,
			    "proxy http://p:3128 refused CONNECT [::1]:22:"
			    " 502 Bad Gateway"), ECONNREFUSED);
	CHECK_INT(errno_for(PS_ERR_PROXY_DENIED,
			    "proxy http://p:3128 refused CONNECT h:1: 504"
			    " Gateway Timeout"), ETIMEDOUT);
	CHECK_INT(errno_for(PS_ERR_PROXY_DENIED,
			    "proxy http://p:3128 refused CONNECT h:1: 403"
			    " Forbidden"), EACCES);
	/* modules/https-proxy.c over HTTP/2. */
	CHECK_INT(errno_for(PS_ERR_PROXY_DENIED,
			    "proxy https://p:443 refused CONNECT h:1 over"
			    " HTTP/2: 503"), ECONNREFUSED);
	/* Anything else that is a refusal stays EACCES. */
	CHECK_INT(errno_for(PS_ERR_PROXY_DENIED, "refused CONNECT h:1: abc"),
		  EACCES);
	CHECK_INT(errno_for(PS_ERR_PROXY_DENIED, "503 somewhere else"), EACCES);
	CHECK_INT(errno_for(PS_ERR_PROXY_DENIED, ""), EACCES);
	/* The status only counts for a refusal. */
	CHECK_INT(errno_for(PS_ERR_PROXY_AUTH,
			    "proxy http://p:3128 refused CONNECT h:1: 503"),
		  EACCES);
}

int main(void)
{
	test_codes();
	test_proxy_status();
	return check_done();
}
