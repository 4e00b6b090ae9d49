/*
 * clock.h - the monotonic clock every deadline and timer of the host
 * reads (internal).  Never the wall clock: a clock step must not fire or
 * postpone a connect deadline, a ping or a reload.
 */
#ifndef HOST_CLOCK_H
#define HOST_CLOCK_H

/* CLOCK_MONOTONIC in microseconds / milliseconds.  Thread-safe. */
long long clock_now_us(void);
long long clock_now_ms(void);

#endif
