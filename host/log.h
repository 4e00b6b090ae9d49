/*
 * log.h - the context's log sink (internal).  Callers never pass secrets:
 * URLs are logged through url_display*, never as given.
 */
#ifndef HOST_LOG_H
#define HOST_LOG_H

#include <stdarg.h>
#include <proxystack.h>

struct logger {
	ps_log_fn fn;    /* NULL: stderr */
	void *user;
	int level;       /* highest level passed on */
};

void log_msg(const struct logger *lg, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_msgv(const struct logger *lg, int level, const char *fmt,
	      va_list ap) __attribute__((format(printf, 3, 0)));

#endif
