/* SPDX-License-Identifier: MIT */
#include "util/clock.h"
#include <errno.h>

static int64_t read_us(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ml_now_us(void) {
  return read_us(CLOCK_MONOTONIC);
}

int64_t ml_now_ms(void) {
  return read_us(CLOCK_MONOTONIC) / 1000;
}

int64_t ml_wall_us(void) {
  return read_us(CLOCK_REALTIME);
}

int64_t ml_wall_ms(void) {
  return read_us(CLOCK_REALTIME) / 1000;
}

void ml_sleep_ms(int64_t ms) {
  if (ms <= 0)
    return;
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

int ml_cond_init_monotonic(pthread_cond_t *c) {
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0)
    return -1;
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(c, &ca);
  pthread_condattr_destroy(&ca);
  return rc == 0 ? 0 : -1;
}

void ml_deadline_in(struct timespec *ts, int64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)(ms / 1000);
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}
