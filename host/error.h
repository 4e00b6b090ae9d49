/*
 * error.h - filling ps_error (internal).
 */
#ifndef HOST_ERROR_H
#define HOST_ERROR_H

#include <stdarg.h>
#include <proxystack.h>

/*
 * Fill *err (NULL-safe): code, layer name (may be NULL), hop (-1: none),
 * hint (may be NULL) and a printf-style message.  Returns 'code'.
 */
int err_set(ps_error *err, int code, const char *layer, int hop,
	    const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
int err_setv(ps_error *err, int code, const char *layer, int hop,
	     const char *hint, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

/* The ps_error of an allocation failure; returns PS_ERR_NOMEM. */
int err_nomem(ps_error *err);

/* Copy src to dst (NULL-safe both). */
void err_copy(ps_error *dst, const ps_error *src);

#endif
