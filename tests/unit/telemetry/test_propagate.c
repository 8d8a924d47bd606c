/* SPDX-License-Identifier: MIT */
/* Trace context headers in (W3C traceparent, B3 single and multi) and the
 * choice between them; ids, UUIDs. Pure functions of propagate.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/trace.h"

#define TID_HI 0x4bf92f3577b34da6ULL
#define TID_LO 0xa3ce929d0e0e4736ULL
#define SPAN 0x00f067aa0ba902b7ULL

static void test_traceparent_valid(void **state) {
  (void)state;
  ml_trace_ctx c;
  assert_int_equal(
      ml_trace_parse_traceparent(
          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c),
      0);
  assert_true(c.trace_hi == TID_HI && c.trace_lo == TID_LO);
  assert_true(c.span_id == SPAN);
  assert_int_equal(c.sampled, 1);
  assert_int_equal(c.trace_128, 1);
  assert_int_equal(
      ml_trace_parse_traceparent(
          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &c),
      0);
  assert_int_equal(c.sampled, 0);
  /* Other flag bits do not matter; bit 0 is sampled. */
  assert_int_equal(
      ml_trace_parse_traceparent(
          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", &c),
      0);
  assert_int_equal(c.sampled, 1);
  /* A later version may carry more fields after a dash. */
  assert_int_equal(
      ml_trace_parse_traceparent(
          "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz", &c),
      0);
}

static void test_traceparent_invalid(void **state) {
  (void)state;
  const char *bad[] = {
      "",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ml_trace_ctx c;
    memset(&c, 0x5a, sizeof(c));
    assert_int_equal(ml_trace_parse_traceparent(bad[i], &c), -1);
    assert_true(c.span_id == 0x5a5a5a5a5a5a5a5aULL); /* untouched */
  }
  assert_int_equal(ml_trace_parse_traceparent(NULL, NULL), -1);
}

static void test_b3_single(void **state) {
  (void)state;
  ml_trace_ctx c;
  assert_int_equal(ml_trace_parse_b3_single("4bf92f3577b34da6a3ce929d0e0e4736-"
                                            "00f067aa0ba902b7-1-"
                                            "05e3ac9a4f6e3b90",
                                            &c),
                   0);
  assert_true(c.trace_hi == TID_HI && c.trace_lo == TID_LO && c.trace_128);
  assert_true(c.span_id == SPAN);
  assert_int_equal(c.sampled, 1);
  assert_int_equal(c.debug, 0);
  /* 64-bit trace id, no sampling state: the decision is deferred. */
  assert_int_equal(
      ml_trace_parse_b3_single("a3ce929d0e0e4736-00f067aa0ba902b7", &c), 0);
  assert_true(c.trace_hi == 0 && c.trace_lo == TID_LO && !c.trace_128);
  assert_int_equal(c.sampled, -1);
  assert_int_equal(
      ml_trace_parse_b3_single("a3ce929d0e0e4736-00f067aa0ba902b7-d", &c), 0);
  assert_int_equal(c.sampled, 1);
  assert_int_equal(c.debug, 1);
  assert_int_equal(
      ml_trace_parse_b3_single("a3ce929d0e0e4736-00f067aa0ba902b7-0", &c), 0);
  assert_int_equal(c.sampled, 0);
  /* A decision alone. */
  assert_int_equal(ml_trace_parse_b3_single("0", &c), 0);
  assert_true(c.span_id == 0 && c.sampled == 0);
  assert_int_equal(ml_trace_parse_b3_single("1", &c), 0);
  assert_int_equal(c.sampled, 1);
  assert_int_equal(ml_trace_parse_b3_single("d", &c), 0);
  assert_true(c.sampled == 1 && c.debug == 1);
  const char *bad[] = {"",
                       "2",
                       "a3ce929d0e0e4736",
                       "a3ce929d0e0e4736-",
                       "a3ce929d0e0e473-00f067aa0ba902b7",
                       "a3ce929d0e0e4736-00f067aa0ba902b",
                       "a3ce929d0e0e4736-0000000000000000",
                       "0000000000000000-00f067aa0ba902b7",
                       "a3ce929d0e0e4736-00f067aa0ba902b7-x",
                       "a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(ml_trace_parse_b3_single(bad[i], &c), -1);
}

static void test_b3_multi(void **state) {
  (void)state;
  ml_trace_ctx c;
  assert_int_equal(ml_trace_parse_b3_multi("4bf92f3577b34da6a3ce929d0e0e4736",
                                           "00f067aa0ba902b7", "1", NULL, &c),
                   0);
  assert_true(c.trace_hi == TID_HI && c.trace_lo == TID_LO);
  assert_true(c.span_id == SPAN && c.sampled == 1);
  /* Upper-case hex is accepted in B3 (Envoy parses it). */
  assert_int_equal(ml_trace_parse_b3_multi("A3CE929D0E0E4736",
                                           "00F067AA0BA902B7", "0", NULL, &c),
                   0);
  assert_true(c.trace_lo == TID_LO && !c.trace_128 && c.sampled == 0);
  assert_int_equal(ml_trace_parse_b3_multi("a3ce929d0e0e4736",
                                           "00f067aa0ba902b7", "true", NULL,
                                           &c),
                   0);
  assert_int_equal(c.sampled, 1);
  assert_int_equal(ml_trace_parse_b3_multi("a3ce929d0e0e4736",
                                           "00f067aa0ba902b7", NULL, NULL, &c),
                   0);
  assert_int_equal(c.sampled, -1);
  /* x-b3-flags: 1 is debug, which implies sampled. */
  assert_int_equal(ml_trace_parse_b3_multi("a3ce929d0e0e4736",
                                           "00f067aa0ba902b7", "0", "1", &c),
                   0);
  assert_true(c.sampled == 1 && c.debug == 1);
  /* A decision alone. */
  assert_int_equal(ml_trace_parse_b3_multi(NULL, NULL, "0", NULL, &c), 0);
  assert_true(c.span_id == 0 && c.sampled == 0);
  assert_int_equal(ml_trace_parse_b3_multi(NULL, NULL, NULL, "1", &c), 0);
  assert_true(c.sampled == 1);
  /* Broken. */
  assert_int_equal(ml_trace_parse_b3_multi(NULL, NULL, NULL, NULL, &c), -1);
  assert_int_equal(
      ml_trace_parse_b3_multi("a3ce929d0e0e4736", NULL, "1", NULL, &c), -1);
  assert_int_equal(
      ml_trace_parse_b3_multi("xyz", "00f067aa0ba902b7", NULL, NULL, &c), -1);
  assert_int_equal(ml_trace_parse_b3_multi(NULL, NULL, "maybe", NULL, &c), -1);
}

static void test_choice_between_formats(void **state) {
  (void)state;
  const char *h[ML_TH_COUNT] = {0};
  ml_trace_ctx c;
  /* Nothing: no ids, no decision. */
  assert_int_equal(ml_trace_ctx_from_headers(h, &c), ML_TRACE_SRC_NONE);
  assert_true(c.trace_lo == 0 && c.trace_hi == 0 && c.sampled == -1);

  /* W3C wins over B3 when both are valid. */
  h[ML_TH_TRACEPARENT] =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  h[ML_TH_B3_TRACEID] = "1111111111111111";
  h[ML_TH_B3_SPANID] = "2222222222222222";
  assert_int_equal(ml_trace_ctx_from_headers(h, &c), ML_TRACE_SRC_W3C);
  assert_true(c.trace_lo == TID_LO && c.span_id == SPAN);

  /* A broken traceparent falls back to b3, then x-b3-*. */
  h[ML_TH_TRACEPARENT] = "garbage";
  h[ML_TH_B3] = "3333333333333333-4444444444444444-1";
  assert_int_equal(ml_trace_ctx_from_headers(h, &c), ML_TRACE_SRC_B3_SINGLE);
  assert_true(c.trace_lo == 0x3333333333333333ULL &&
              c.span_id == 0x4444444444444444ULL);
  h[ML_TH_B3] = NULL;
  assert_int_equal(ml_trace_ctx_from_headers(h, &c), ML_TRACE_SRC_B3_MULTI);
  assert_true(c.trace_lo == 0x1111111111111111ULL &&
              c.span_id == 0x2222222222222222ULL && c.sampled == -1);

  /* A debug flag forces sampling even when the ids came from W3C with
   * sampled=0. */
  h[ML_TH_TRACEPARENT] =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
  h[ML_TH_B3_FLAGS] = "1";
  assert_int_equal(ml_trace_ctx_from_headers(h, &c), ML_TRACE_SRC_W3C);
  assert_true(c.sampled == 1 && c.debug == 1);

  /* A decision without ids. */
  const char *d[ML_TH_COUNT] = {0};
  d[ML_TH_B3_SAMPLED] = "0";
  assert_int_equal(ml_trace_ctx_from_headers(d, &c), ML_TRACE_SRC_NONE);
  assert_true(c.trace_lo == 0 && c.sampled == 0);
}

static void test_header_slots(void **state) {
  (void)state;
  assert_int_equal(ml_trace_header_slot("traceparent"), ML_TH_TRACEPARENT);
  assert_int_equal(ml_trace_header_slot("X-B3-TraceId"), ML_TH_B3_TRACEID);
  assert_int_equal(ml_trace_header_slot("X-Request-ID"), ML_TH_REQUEST_ID);
  assert_int_equal(ml_trace_header_slot("b3"), ML_TH_B3);
  assert_int_equal(ml_trace_header_slot("user-agent"), -1);
  assert_int_equal(ml_trace_header_slot(NULL), -1);
}

static void test_hex_and_uuid(void **state) {
  (void)state;
  char h[33];
  ml_trace_hex64(SPAN, h);
  assert_string_equal(h, "00f067aa0ba902b7");
  ml_trace_hex128(TID_HI, TID_LO, h);
  assert_string_equal(h, "4bf92f3577b34da6a3ce929d0e0e4736");
  ml_rand r;
  ml_rand_seed(&r, 42);
  char u[37], prev[37] = "";
  for (int i = 0; i < 100; i++) {
    ml_trace_uuid4(&r, u);
    assert_int_equal(strlen(u), 36);
    assert_true(u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-');
    assert_int_equal(u[14], '4');           /* version */
    assert_non_null(strchr("89ab", u[19])); /* RFC 4122 variant */
    for (int j = 0; j < 36; j++)
      assert_non_null(strchr("0123456789abcdef-", u[j]));
    assert_string_not_equal(u, prev);
    memcpy(prev, u, sizeof(u));
  }
}

/* ---- malformed input, fuzz-style ------------------------------------ */

/* What a parser may claim when it accepts: ids never zero, sampling one
 * of its three states. */
static void check_ctx(int rc, const ml_trace_ctx *c, int ids_required) {
  if (rc != 0)
    return;
  assert_true(c->sampled >= -1 && c->sampled <= 1);
  if (ids_required || c->span_id) {
    assert_true(c->trace_hi || c->trace_lo);
    assert_true(c->span_id != 0);
  }
}

/* Every parser on |v|, and the choice between formats with |v| in every
 * slot. ASan watches for reads past the value. */
static void parse_all(const char *v) {
  ml_trace_ctx c;
  memset(&c, 0, sizeof(c));
  check_ctx(ml_trace_parse_traceparent(v, &c), &c, 1);
  check_ctx(ml_trace_parse_b3_single(v, &c), &c, 0);
  check_ctx(ml_trace_parse_b3_multi(v, v, v, v, &c), &c, 0);
  check_ctx(ml_trace_parse_b3_multi(v, "00f067aa0ba902b7", NULL, v, &c), &c, 0);
  check_ctx(ml_trace_parse_b3_multi(NULL, NULL, v, NULL, &c), &c, 0);
  const char *h[ML_TH_COUNT];
  for (int i = 0; i < ML_TH_COUNT; i++)
    h[i] = v;
  int src = ml_trace_ctx_from_headers(h, &c);
  assert_true(src >= ML_TRACE_SRC_NONE && src <= ML_TRACE_SRC_B3_MULTI);
  check_ctx(0, &c, src != ML_TRACE_SRC_NONE);
}

/* |v| in a heap block of exactly its length (+1 for the NUL), so that
 * ASan sees the first byte read too far. */
static void parse_exact(const char *v, size_t n) {
  char *copy = malloc(n + 1);
  assert_non_null(copy);
  memcpy(copy, v, n);
  copy[n] = '\0';
  parse_all(copy);
  free(copy);
}

/* Each valid header cut at every length and with every byte replaced by
 * each of a few troublemakers. */
static void test_malformed_mutations(void **state) {
  (void)state;
  static const char *const valid[] = {
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
      "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3ac9a4f6e3b90",
      "a3ce929d0e0e4736-00f067aa0ba902b7-d",
      "a3ce929d0e0e4736",
      "d",
      "true",
  };
  static const char bad[] = {'-', 'G',  'A',    'f',   '0',
                             ' ', '\t', '\x7f', '\xff'};
  char buf[128];
  for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
    size_t n = strlen(valid[i]);
    for (size_t cut = 0; cut <= n; cut++)
      parse_exact(valid[i], cut);
    for (size_t pos = 0; pos < n; pos++)
      for (size_t b = 0; b < sizeof(bad); b++) {
        memcpy(buf, valid[i], n + 1);
        buf[pos] = bad[b];
        parse_exact(buf, n);
      }
    /* The value twice, and with a trailing dash. */
    snprintf(buf, sizeof(buf), "%s%s", valid[i], valid[i]);
    parse_exact(buf, strlen(buf));
    snprintf(buf, sizeof(buf), "%s-", valid[i]);
    parse_exact(buf, strlen(buf));
  }
}

/* Random strings over the characters the formats use, and long ones. */
static void test_malformed_random(void **state) {
  (void)state;
  static const char alphabet[] = "0123456789abcdefABCDEF-xdtrue ";
  uint64_t x = 0x9e3779b97f4a7c15ull;
  char buf[160];
  for (int iter = 0; iter < 20000; iter++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t n = (size_t)(x % 120);
    uint64_t y = x;
    for (size_t i = 0; i < n; i++) {
      y = y * 6364136223846793005ull + 1442695040888963407ull;
      buf[i] = alphabet[(y >> 33) % (sizeof(alphabet) - 1)];
    }
    parse_exact(buf, n);
  }
  size_t big = 1 << 20;
  char *huge = malloc(big + 1);
  assert_non_null(huge);
  memset(huge, '-', big);
  huge[big] = '\0';
  parse_all(huge);
  memset(huge, 'a', big);
  parse_all(huge);
  for (size_t i = 0; i < big; i += 17)
    huge[i] = '-';
  parse_all(huge);
  free(huge);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_traceparent_valid),
      cmocka_unit_test(test_traceparent_invalid),
      cmocka_unit_test(test_b3_single),
      cmocka_unit_test(test_b3_multi),
      cmocka_unit_test(test_choice_between_formats),
      cmocka_unit_test(test_header_slots),
      cmocka_unit_test(test_hex_and_uuid),
      cmocka_unit_test(test_malformed_mutations),
      cmocka_unit_test(test_malformed_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
