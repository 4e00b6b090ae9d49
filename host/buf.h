/*
 * buf.h - a growable byte buffer with a read offset (internal).
 *
 * Used for text dumps and for bytes given back by a layer.  An allocation
 * failure is sticky: 'oom' is set and later appends do nothing, so a
 * builder checks once at the end.
 */
#ifndef HOST_BUF_H
#define HOST_BUF_H

#include <stddef.h>

struct buf {
	char *data;    /* NUL-terminated when len > 0 */
	size_t start;  /* first unread byte */
	size_t len;    /* end of data */
	size_t cap;
	int oom;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Append; returns 0 or -1 (and sets oom). */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Bytes not yet consumed. */
size_t buf_unread(const struct buf *b);
/* Copy up to n unread bytes out and consume them; returns the count. */
size_t buf_take(struct buf *b, void *out, size_t n);
/* The text as a malloc'd string the caller owns (NULL on oom); resets b. */
char *buf_steal(struct buf *b);

#endif
