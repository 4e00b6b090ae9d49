/*
 * check.h - the unit tests' tiny harness.
 *
 * Each CHECK prints one line "ok - ..." or "not ok - ..." (file:line and
 * the expression); tests/ps-driver counts those lines.  A test program
 * ends with `return check_done();`, which exits non-zero on any failure.
 */
#ifndef PS_CHECK_H
#define PS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK_MSG(cond, ...)                                              \
	do {                                                              \
		if (cond) {                                               \
			printf("ok - ");                                  \
		} else {                                                  \
			check_failures++;                                 \
			printf("not ok - %s:%d: ", __FILE__, __LINE__);   \
		}                                                         \
		printf(__VA_ARGS__);                                      \
		printf("\n");                                             \
		fflush(stdout);                                           \
	} while (0)

#define CHECK(cond) CHECK_MSG((cond), "%s", #cond)

/* String equality, NULL-aware, printing both sides on failure. */
#define CHECK_STR(got, want)                                              \
	do {                                                              \
		const char *g_ = (got), *w_ = (want);                     \
		int same_ = (g_ == NULL || w_ == NULL) ? g_ == w_         \
						       : !strcmp(g_, w_); \
		CHECK_MSG(same_, "%s == \"%s\" (got \"%s\")", #got,       \
			  w_ ? w_ : "(null)", g_ ? g_ : "(null)");        \
	} while (0)

#define CHECK_INT(got, want)                                              \
	do {                                                              \
		long long g_ = (long long)(got), w_ = (long long)(want);  \
		CHECK_MSG(g_ == w_, "%s == %lld (got %lld)", #got, w_,    \
			  g_);                                            \
	} while (0)

static inline int check_done(void)
{
	return check_failures ? 1 : 0;
}

#endif
