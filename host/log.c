/*
 * log.c - formatting log lines and handing them to the agent's sink.
 */
#include <stdio.h>

#include "log.h"

static const char *level_name(int level)
{
	switch (level) {
	case PS_LOG_ERROR: return "error";
	case PS_LOG_WARN: return "warning";
	case PS_LOG_INFO: return "info";
	default: return "debug";
	}
}

void log_msgv(const struct logger *lg, int level, const char *fmt,
	      va_list ap)
{
	char line[1024];

	if (!lg || level > lg->level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (lg->fn)
		lg->fn(lg->user, level, line);
	else
		fprintf(stderr, "proxystack: %s: %s\n", level_name(level), line);
}

void log_msg(const struct logger *lg, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_msgv(lg, level, fmt, ap);
	va_end(ap);
}
