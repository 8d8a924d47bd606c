/* SPDX-License-Identifier: MIT */
/* util/str.c: durations, integers and numbers as config values spell
 * them, plus the ASCII helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/str.h"

static int64_t dur(const char *s) {
  int64_t v = -12345;
  assert_int_equal(ml_parse_duration_ms(s, &v), 0);
  return v;
}

static void bad_dur(const char *s) {
  int64_t v = -12345;
  if (ml_parse_duration_ms(s, &v) != -1) {
    print_message("accepted bad duration \"%s\"\n", s ? s : "(null)");
    fail();
  }
  assert_int_equal(v, -12345); /* untouched */
}

static void test_durations(void **state) {
  (void)state;
  assert_int_equal(dur("3s"), 3000);
  assert_int_equal(dur("500ms"), 500);
  assert_int_equal(dur("1.5s"), 1500);
  assert_int_equal(dur("1m"), 60000);
  assert_int_equal(dur("1h"), 3600000);
  assert_int_equal(dur("1h30m"), 5400000);
  assert_int_equal(dur("2m30s"), 150000);
  assert_int_equal(dur("0s"), 0);
  assert_int_equal(dur("0"), 0);
  assert_int_equal(dur(".5s"), 500);
  assert_int_equal(dur("24h"), 86400000);
  assert_int_equal(dur("100ns"), 1); /* rounded up: not "no timeout" */
  assert_int_equal(dur("250us"), 1);
  assert_int_equal(dur("1500us"), 2);
  assert_int_equal(dur("2\xc2\xb5s"), 1); /* µs */
  assert_int_equal(dur("1.0005s"), 1001);
  assert_int_equal(dur("10s"), 10000);
}

/* A double sum made "0.75s" 751 ms; whole nanoseconds make it exact. */
static void test_duration_fractions_exact(void **state) {
  (void)state;
  assert_int_equal(dur("0.75s"), 750);
  assert_int_equal(dur("0.1s"), 100);
  assert_int_equal(dur("0.3s"), 300);
  assert_int_equal(dur("2.3s"), 2300);
  assert_int_equal(dur("0.001s"), 1);
  assert_int_equal(dur("1.1ms"), 2); /* still rounded up */
  assert_int_equal(dur("0.05m"), 3000);
  assert_int_equal(dur("0.7h"), 2520000);
  int64_t ns = -1;
  assert_int_equal(ml_parse_duration_ns("0.75s", &ns), 0);
  assert_int_equal(ns, 750000000);
  assert_int_equal(ml_parse_duration_ns("1.0000000001s", &ns), 0);
  assert_int_equal(ns, 1000000000); /* below 1 ns: dropped */
  assert_int_equal(ml_parse_duration_ns("1ms500us", &ns), 0);
  assert_int_equal(ns, 1500000);
  assert_int_equal(ml_parse_duration_ns("99999999999h", &ns), -1);
  for (int i = 1; i < 1000; i++) {
    char buf[32];
    snprintf(buf, sizeof(buf), "0.%03ds", i);
    assert_int_equal(dur(buf), i);
  }
}

static void test_bad_durations(void **state) {
  (void)state;
  bad_dur(NULL);
  bad_dur("");
  bad_dur("3");
  bad_dur("s");
  bad_dur("-1s");
  bad_dur("3x");
  bad_dur("3 s");
  bad_dur(" 3s");
  bad_dur("3s ");
  bad_dur("1.5.5s");
  bad_dur("1h-1m");
  bad_dur("ms");
  bad_dur(".s");
  bad_dur("3S");
  bad_dur("1d");
  bad_dur("99999999999999999h"); /* beyond int64 milliseconds */
}

static void test_int64(void **state) {
  (void)state;
  int64_t v = 0;
  assert_int_equal(ml_parse_int64("42", &v), 0);
  assert_int_equal(v, 42);
  assert_int_equal(ml_parse_int64("-7", &v), 0);
  assert_int_equal(v, -7);
  assert_int_equal(ml_parse_int64("0", &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(ml_parse_int64("9223372036854775807", &v), 0);
  assert_true(v == INT64_MAX);
  v = 5;
  assert_int_equal(ml_parse_int64("9223372036854775808", &v), -1);
  assert_int_equal(ml_parse_int64("", &v), -1);
  assert_int_equal(ml_parse_int64(NULL, &v), -1);
  assert_int_equal(ml_parse_int64("abc", &v), -1);
  assert_int_equal(ml_parse_int64("1.0", &v), -1);
  assert_int_equal(ml_parse_int64("0x10", &v), -1);
  assert_int_equal(ml_parse_int64(" 1", &v), -1);
  assert_int_equal(ml_parse_int64("1 ", &v), -1);
  assert_int_equal(ml_parse_int64("12abc", &v), -1);
  assert_int_equal(v, 5);
}

static void test_double(void **state) {
  (void)state;
  double v = 0;
  assert_int_equal(ml_parse_double("10.0", &v), 0);
  assert_float_equal(v, 10.0, 1e-12);
  assert_int_equal(ml_parse_double("0.5", &v), 0);
  assert_float_equal(v, 0.5, 1e-12);
  assert_int_equal(ml_parse_double(".25", &v), 0);
  assert_float_equal(v, 0.25, 1e-12);
  assert_int_equal(ml_parse_double("1e2", &v), 0);
  assert_float_equal(v, 100.0, 1e-12);
  assert_int_equal(ml_parse_double("-3", &v), 0);
  assert_float_equal(v, -3.0, 1e-12);
  v = 7;
  assert_int_equal(ml_parse_double("", &v), -1);
  assert_int_equal(ml_parse_double(NULL, &v), -1);
  assert_int_equal(ml_parse_double("nan", &v), -1);
  assert_int_equal(ml_parse_double("inf", &v), -1);
  assert_int_equal(ml_parse_double("-Infinity", &v), -1);
  assert_int_equal(ml_parse_double("0x1p3", &v), -1);
  assert_int_equal(ml_parse_double("1e999", &v), -1);
  assert_int_equal(ml_parse_double("1.0x", &v), -1);
  assert_int_equal(ml_parse_double(" 1", &v), -1);
  assert_int_equal(ml_parse_double("ten", &v), -1);
  assert_float_equal(v, 7.0, 1e-12);
}

static void test_ascii_helpers(void **state) {
  (void)state;
  assert_true(ml_strcaseeq("X-User", "x-user"));
  assert_false(ml_strcaseeq("x-user", "x-use"));
  assert_false(ml_strcaseeq("x-use", "x-user"));
  assert_true(ml_strncaseeq("ABCdef", "abcXYZ", 3));
  assert_false(ml_strncaseeq("ABCdef", "abd", 3));
  assert_true(ml_starts_with("/api/v1", "/api"));
  assert_false(ml_starts_with("/ap", "/api"));
  assert_true(ml_ends_with("a.yaml", ".yaml"));
  assert_false(ml_ends_with("yaml", ".yaml"));
  char s[] = "X-Forwarded-FOR";
  ml_str_lower(s);
  assert_string_equal(s, "x-forwarded-for");
  assert_int_equal(ml_tolower('Q'), 'q');
  assert_int_equal(ml_tolower('-'), '-');
  assert_true(ml_hash("abc", 3) == ml_hash_lower("ABC", 3));
  assert_true(ml_hash("abc", 3) != ml_hash("abd", 3));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_durations),
      cmocka_unit_test(test_duration_fractions_exact),
      cmocka_unit_test(test_bad_durations),
      cmocka_unit_test(test_int64),
      cmocka_unit_test(test_double),
      cmocka_unit_test(test_ascii_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
