/*
 * api_args.h - checks of what a caller passes to the public entry points
 * (internal): option structures of any size (proxystack.h, "Growing
 * structures") and destination URLs.  Shared by the context, connection
 * and dump entry points; below all of them.
 */
#ifndef HOST_API_ARGS_H
#define HOST_API_ARGS_H

#include <stddef.h>

#include <proxystack.h>

#include "url.h"

/*
 * Does the caller's structure 'opts', of type T with a struct_size first
 * field, hold 'field' wholly?  A caller built against an older header
 * passes a smaller struct_size: a field appended since is not there and
 * must not be read (proxystack.h, "Growing structures").
 */
#define PS_HAS_FIELD(T, opts, field)                                      \
	(offsetof(T, field) + sizeof(((T *)0)->field) <= (opts)->struct_size)

/* out->field = in->field when the caller's 'in' holds it. */
#define PS_TAKE_FIELD(T, out, in, field)                                  \
	do {                                                              \
		if (PS_HAS_FIELD(T, in, field))                           \
			(out)->field = (in)->field;                       \
	} while (0)

/*
 * Refuse a caller's options structure whose struct_size 'got' is below
 * its 1.0 layout 'min': PS_ERR_USAGE naming 'type' and both sizes.
 */
int api_struct_too_small(const char *type, size_t got, size_t min,
			 ps_error *err);

/* Parse a destination URL into *dest with a usage error in *err. */
int api_parse_dest(const char *url, struct url *dest, ps_error *err);

#endif
