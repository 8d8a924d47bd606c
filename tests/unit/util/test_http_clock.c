/* SPDX-License-Identifier: MIT */
/* util/http.c and util/clock.c: the one header lookup and the one clock
 * every layer uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/clock.h"
#include "util/http.h"

static void test_header_find(void **state) {
  (void)state;
  const ml_header h[] = {{"content-type", "application/grpc"},
                         {"X-Trace", "a"},
                         {"x-trace", "b"},
                         {"empty", NULL}};
  size_t n = sizeof(h) / sizeof(h[0]);
  assert_string_equal(ml_header_find(h, n, "content-type"), "application/grpc");
  /* Any case, either side; the first of repeated fields. */
  assert_string_equal(ml_header_find(h, n, "Content-Type"), "application/grpc");
  assert_string_equal(ml_header_find(h, n, "x-trace"), "a");
  /* A field without a value is present, and empty. */
  assert_string_equal(ml_header_find(h, n, "empty"), "");
  /* Same first letter, other name; a prefix is not a match. */
  assert_null(ml_header_find(h, n, "content-length"));
  assert_null(ml_header_find(h, n, "x-trac"));
  assert_null(ml_header_find(h, n, "x-trace-id"));
  assert_null(ml_header_find(NULL, 0, "a"));
  assert_null(ml_header_find(h, 0, "content-type"));
}

static void test_clock(void **state) {
  (void)state;
  int64_t t0 = ml_now_us();
  int64_t m0 = ml_now_ms();
  ml_sleep_ms(20);
  int64_t slept = ml_now_us() - t0;
  assert_true(slept >= 20000);
  assert_true(slept < 5000000); /* generous: a loaded machine */
  assert_true(ml_now_ms() - m0 >= 19);
  ml_sleep_ms(0);
  ml_sleep_ms(-5);
  /* The wall clock is Unix time: after 2020, before 2100. */
  assert_true(ml_wall_ms() > 1577836800000LL);
  assert_true(ml_wall_ms() < 4102444800000LL);
  assert_true(ml_wall_us() / 1000 - ml_wall_ms() < 1000);
}

static void test_timed_wait(void **state) {
  (void)state;
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t c;
  assert_int_equal(ml_cond_init_monotonic(&c), 0);
  struct timespec until;
  int64_t t0 = ml_now_ms();
  ml_deadline_in(&until, 30);
  pthread_mutex_lock(&mu);
  int rc = 0;
  while (rc == 0)
    rc = pthread_cond_timedwait(&c, &mu, &until);
  pthread_mutex_unlock(&mu);
  int64_t waited = ml_now_ms() - t0;
  assert_true(waited >= 29);
  assert_true(waited < 5000);
  pthread_cond_destroy(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_find),
      cmocka_unit_test(test_clock),
      cmocka_unit_test(test_timed_wait),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
