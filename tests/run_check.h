/*
 * run_check.h - the one-line checks of the test programs run under
 * `proxystack run` (tests/run_epoll.c, tests/run_many.c): "ok - WHAT" or
 * "not ok - WHAT: DETAIL" on stdout, flushed at once, and a count of
 * failures for the exit status.
 */
#ifndef TESTS_RUN_CHECK_H
#define TESTS_RUN_CHECK_H

#include <stdio.h>

static int failures;

static void check(int cond, const char *what, const char *detail)
{
	if (cond) {
		printf("ok - %s\n", what);
	} else {
		printf("not ok - %s: %s\n", what, detail);
		failures++;
	}
	fflush(stdout);
}

#endif /* TESTS_RUN_CHECK_H */
