/*
 * clock.c - the monotonic clock (clock.h).
 */
#include <time.h>

#include "clock.h"

long long clock_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

long long clock_now_ms(void)
{
	return clock_now_us() / 1000;
}
