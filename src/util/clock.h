/* SPDX-License-Identifier: MIT */
#ifndef ML_UTIL_CLOCK_H
#define ML_UTIL_CLOCK_H

/* The one place that reads clocks. Durations and deadlines use the
 * monotonic clock, which no one can set back; only what people read
 * (log lines, span timestamps, config event times) uses the wall clock.
 * Policy code never calls these: it takes the time as an argument. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in microseconds and milliseconds. */
int64_t ml_now_us(void);
int64_t ml_now_ms(void);
/* CLOCK_REALTIME (Unix time) in microseconds and milliseconds. */
int64_t ml_wall_us(void);
int64_t ml_wall_ms(void);

/* Sleep |ms| milliseconds, through signals; nothing when |ms| <= 0. */
void ml_sleep_ms(int64_t ms);

/* A condition variable timed on CLOCK_MONOTONIC, and the absolute time
 * |ms| from now on that clock for pthread_cond_timedwait(). */
int ml_cond_init_monotonic(pthread_cond_t *c);
void ml_deadline_in(struct timespec *ts, int64_t ms);

#endif
