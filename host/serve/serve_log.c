/*
 * serve_log.c - one access-log line per client request or tunnel:
 *
 *   TIME client=A:P proto=connect dest=H:P user=U result=ok status=200
 *     up=N down=N ms=N chain="direct -> http-connect(http://proxy:3128)"
 *
 * (one line).  Fields are key=value so that a script can pick them; the
 * chain is the ps_conn_describe() form, which never holds credentials;
 * the destination is host:port only (a URL's path or query could hold a
 * token); control bytes never reach the file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "serve.h"

int access_log_open(const char *path, FILE **out)
{
	*out = stderr;
	if (!path || !strcmp(path, "-"))
		return 0;
	*out = fopen(path, "ae");
	if (!*out)
		return -1;
	setvbuf(*out, NULL, _IOLBF, 0);
	return 0;
}

/* Text without control bytes or quotes, so a line stays one line. */
static void access_log_clean(char *out, size_t outsz, const char *in)
{
	size_t n = 0;

	for (; in && *in && n + 1 < outsz; in++) {
		unsigned char c = (unsigned char)*in;

		out[n++] = c < 0x20 || c == 0x7f || c == '"' ? '?' : (char)c;
	}
	out[n] = '\0';
}

void access_log_write(FILE *log, const struct access_entry *e)
{
	char when[32], chain[512], dest[300], user[260];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	access_log_clean(chain, sizeof(chain), e->chain ? e->chain : "-");
	access_log_clean(dest, sizeof(dest), e->dest ? e->dest : "-");
	access_log_clean(user, sizeof(user), e->user ? e->user : "-");
	fprintf(log,
		"%s client=%s proto=%s dest=%s user=%s result=%s status=%d"
		" up=%llu down=%llu ms=%lld chain=\"%s\"\n",
		when, e->client, e->proto, dest[0] ? dest : "-",
		user[0] ? user : "-", e->result, e->status, e->up, e->down,
		e->ms, chain[0] ? chain : "-");
	fflush(log);
}
