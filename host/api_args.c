/*
 * api_args.c - checks of what a caller passes to the entry points.
 */
#include <stdio.h>
#include <string.h>

#include "api_args.h"
#include "error.h"

int api_struct_too_small(const char *type, size_t got, size_t min,
			 ps_error *err)
{
	char hint[80];

	snprintf(hint, sizeof(hint), "initialise it with %s_init()", type);
	return err_set(err, PS_ERR_USAGE, NULL, -1, hint,
		       "%s.struct_size is %zu, smaller than the 1.0 layout"
		       " (%zu bytes)", type, got, min);
}

int api_parse_dest(const char *url, struct url *dest, ps_error *err)
{
	char why[256];

	if (!url)
		return err_set(err, PS_ERR_USAGE, NULL, -1, NULL, "no URL");
	if (url_parse_dest(url, dest, why, sizeof(why)) < 0 &&
	    !strcmp(why, "out of memory"))
		return err_nomem(err);
	if (!dest->scheme)
		return err_set(err, PS_ERR_USAGE, NULL, -1,
			       "use tcp://host:port, tls://host:port,"
			       " https://host, ws://host/path or"
			       " wss://host/path", "bad destination URL: %s",
			       why);
	return PS_OK;
}
