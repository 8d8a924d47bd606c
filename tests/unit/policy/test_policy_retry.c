/* SPDX-License-Identifier: MIT */
/* Retry policies as Istio compiles them and Envoy applies them: defaults,
 * retryOn conditions, bare status codes, request headers, backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static ml_http_retry retry_cfg(int64_t attempts, const char *on) {
  ml_http_retry r;
  memset(&r, 0, sizeof(r));
  r.attempts = attempts;
  r.per_try_timeout_ms = -1;
  r.retry_on = on;
  r.retry_remote_localities = ML_TRI_UNSET;
  r.retry_ignore_previous_hosts = ML_TRI_UNSET;
  r.backoff.base_interval_ms = -1;
  r.backoff.max_interval_ms = -1;
  return r;
}

static ml_retry_policy compiled(int64_t attempts, const char *on) {
  ml_http_retry r = retry_cfg(attempts, on);
  ml_retry_policy p;
  ml_retry_policy_compile(&r, 1, &p);
  return p;
}

static ml_attempt_result response(int status) {
  ml_attempt_result a;
  memset(&a, 0, sizeof(a));
  a.outcome = ML_XFER_OK;
  a.status = status;
  return a;
}

static ml_attempt_result failure(ml_xfer_outcome o) {
  ml_attempt_result a;
  memset(&a, 0, sizeof(a));
  a.outcome = o;
  return a;
}

static void test_istio_default(void **state) {
  (void)state;
  ml_retry_policy p;
  ml_retry_policy_compile(NULL, 1, &p);
  assert_int_equal(p.num_retries, 2);
  assert_int_equal(p.on, ML_RETRY_CONNECT_FAILURE | ML_RETRY_REFUSED_STREAM |
                             ML_RETRY_GRPC_UNAVAILABLE |
                             ML_RETRY_GRPC_CANCELLED |
                             ML_RETRY_RETRIABLE_STATUS_CODES);
  assert_int_equal(p.status_code_count, 0); /* no 503 since Istio 1.24 */
  assert_true(p.previous_hosts);
  assert_int_equal(p.per_try_timeout_ms, 0);
  assert_int_equal(p.backoff_base_ms, 25);
  assert_int_equal(p.backoff_max_ms, 250);
  /* A plain upstream 503 is not retried by default. */
  ml_attempt_result r = response(503);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r = failure(ML_XFER_CONNECT_FAILURE);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_CONNECT_FAILURE);
  r = failure(ML_XFER_REFUSED_STREAM);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_REFUSED_STREAM);
  r = failure(ML_XFER_RESET);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r = failure(ML_XFER_TIMEOUT);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
}

static void test_no_default_no_retries(void **state) {
  (void)state;
  ml_retry_policy p;
  ml_retry_policy_compile(NULL, 0, &p);
  assert_int_equal(p.num_retries, 0);
  assert_int_equal(p.on, 0);
  ml_attempt_result r = failure(ML_XFER_CONNECT_FAILURE);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
}

static void test_attempts_zero_or_absent_turns_off(void **state) {
  (void)state;
  ml_retry_policy p = compiled(0, "5xx");
  assert_int_equal(p.num_retries, 0);
  assert_int_equal(p.on, 0);
  p = compiled(-1, "5xx"); /* the proto's int32 0 */
  assert_int_equal(p.num_retries, 0);
}

static void test_only_attempts_keeps_default_retry_on(void **state) {
  (void)state;
  ml_retry_policy p = compiled(5, NULL);
  assert_int_equal(p.num_retries, 5);
  assert_true(p.on & ML_RETRY_CONNECT_FAILURE);
  assert_true(p.on & ML_RETRY_GRPC_UNAVAILABLE);
  assert_false(p.on & ML_RETRY_5XX);
  p = compiled(3, "");
  assert_true(p.on & ML_RETRY_REFUSED_STREAM);
}

static void test_retry_on_words_and_codes(void **state) {
  (void)state;
  ml_retry_policy p =
      compiled(3, " 5xx, 503 ,gateway-error,bogus,999,429,retriable-4xx");
  assert_int_equal(p.on, ML_RETRY_5XX | ML_RETRY_GATEWAY_ERROR |
                             ML_RETRY_RETRIABLE_STATUS_CODES |
                             ML_RETRY_RETRIABLE_4XX);
  /* 999 is no HTTP status Go knows: Istio keeps it as a word (ignored). */
  assert_int_equal(p.status_code_count, 2);
  assert_int_equal(p.status_codes[0], 503);
  assert_int_equal(p.status_codes[1], 429);
  p = compiled(1, "reset,connect-failure,refused-stream,envoy-ratelimited,"
                  "retriable-headers,cancelled,deadline-exceeded,internal,"
                  "resource-exhausted,unavailable,reset-before-request");
  assert_int_equal(
      p.on, ML_RETRY_RESET | ML_RETRY_CONNECT_FAILURE |
                ML_RETRY_REFUSED_STREAM | ML_RETRY_ENVOY_RATELIMITED |
                ML_RETRY_RETRIABLE_HEADERS | ML_RETRY_GRPC_CANCELLED |
                ML_RETRY_GRPC_DEADLINE_EXCEEDED | ML_RETRY_GRPC_INTERNAL |
                ML_RETRY_GRPC_RESOURCE_EXHAUSTED | ML_RETRY_GRPC_UNAVAILABLE |
                ML_RETRY_RESET_BEFORE_REQUEST);
  assert_int_equal(p.status_code_count, 0);
}

static void test_per_try_hosts_backoff(void **state) {
  (void)state;
  ml_http_retry r = retry_cfg(2, "5xx");
  r.per_try_timeout_ms = 1500;
  r.retry_ignore_previous_hosts = ML_TRI_FALSE;
  r.retry_remote_localities = ML_TRI_TRUE;
  r.has_backoff = 1;
  r.backoff.base_interval_ms = 100;
  ml_retry_policy p;
  ml_retry_policy_compile(&r, 1, &p);
  assert_int_equal(p.per_try_timeout_ms, 1500);
  assert_false(p.previous_hosts);
  assert_true(p.remote_localities);
  assert_int_equal(p.backoff_base_ms, 100);
  assert_int_equal(p.backoff_max_ms, 1000); /* Envoy: 10 x base */
  r.backoff.max_interval_ms = 300;          /* meshlib's map form */
  ml_retry_policy_compile(&r, 1, &p);
  assert_int_equal(p.backoff_max_ms, 300);
  /* Consistent hashing: Istio's default drops the previous-hosts
   * predicate, an explicit retryIgnorePreviousHosts brings it back. */
  ml_retry_policy_compile_for(NULL, 1, 1, &p);
  assert_false(p.previous_hosts);
  r.retry_ignore_previous_hosts = ML_TRI_TRUE;
  ml_retry_policy_compile_for(&r, 1, 1, &p);
  assert_true(p.previous_hosts);
  r.retry_ignore_previous_hosts = ML_TRI_UNSET;
  ml_retry_policy_compile_for(&r, 1, 1, &p);
  assert_false(p.previous_hosts);
}

static void test_5xx_and_gateway_error(void **state) {
  (void)state;
  ml_retry_policy p = compiled(2, "5xx");
  ml_attempt_result r = response(500);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_5XX);
  r = response(200);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r = response(404);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  /* 5xx covers resets, connect failures, refused streams and timeouts. */
  ml_xfer_outcome fails[] = {ML_XFER_CONNECT_FAILURE, ML_XFER_RESET,
                             ML_XFER_REFUSED_STREAM,  ML_XFER_TIMEOUT,
                             ML_XFER_TLS_ERROR,       ML_XFER_PROTOCOL_ERROR};
  for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
    r = failure(fails[i]);
    assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_5XX);
  }
  r = failure(ML_XFER_ABORTED);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r = failure(ML_XFER_LOCAL_ERROR);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);

  p = compiled(2, "gateway-error");
  r = response(500);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  for (int st = 502; st <= 504; st++) {
    r = response(st);
    assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_GATEWAY_ERROR);
  }
  r = response(505);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r = failure(ML_XFER_RESET);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_GATEWAY_ERROR);
}

static void test_local_replies_are_not_retried(void **state) {
  (void)state;
  ml_retry_policy p = compiled(2, "503,5xx,gateway-error");
  ml_attempt_result r = response(503);
  r.local = 1;
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r.local = 0;
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_5XX);
  p = compiled(2, "503");
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0),
                   ML_RETRY_RETRIABLE_STATUS_CODES);
  r.local = 1;
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  /* A failure meshlib answered with its own 503 retries as a reset. */
  p = compiled(2, "reset");
  r = failure(ML_XFER_RESET);
  r.status = 503;
  r.local = 1;
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_RESET);
}

static void test_status_codes_and_request_header(void **state) {
  (void)state;
  ml_retry_policy p = compiled(2, "retriable-status-codes");
  ml_attempt_result r = response(429);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  ml_header rq[] = {{"x-envoy-retriable-status-codes", "418, 429"}};
  assert_int_equal(ml_retry_reason(&p, &r, rq, 1),
                   ML_RETRY_RETRIABLE_STATUS_CODES);
  r = response(500);
  assert_int_equal(ml_retry_reason(&p, &r, rq, 1), 0);
  /* Without retriable-status-codes in force the header does nothing. */
  p = compiled(2, "5xx");
  r = response(429);
  assert_int_equal(ml_retry_reason(&p, &r, rq, 1), 0);
}

static void test_retriable_4xx_and_ratelimited(void **state) {
  (void)state;
  ml_retry_policy p = compiled(2, "retriable-4xx");
  ml_attempt_result r = response(409);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_RETRIABLE_4XX);
  r = response(408);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);

  ml_header rl[] = {{"x-envoy-ratelimited", "true"}};
  p = compiled(2, "envoy-ratelimited");
  r = response(429);
  r.headers = rl;
  r.header_count = 1;
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0),
                   ML_RETRY_ENVOY_RATELIMITED);
  /* Rate-limited answers are retried only under envoy-ratelimited. */
  p = compiled(2, "5xx,429");
  r.status = 503;
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r.header_count = 0;
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_5XX);
}

static void test_retriable_headers(void **state) {
  (void)state;
  ml_retry_policy p = compiled(2, "retriable-headers");
  ml_header rq[] = {{"x-envoy-retriable-header-names", "x-a, x-retry-me"}};
  ml_header rs[] = {{"x-retry-me", "1"}};
  ml_attempt_result r = response(200);
  assert_int_equal(ml_retry_reason(&p, &r, rq, 1), 0);
  r.headers = rs;
  r.header_count = 1;
  assert_int_equal(ml_retry_reason(&p, &r, rq, 1), ML_RETRY_RETRIABLE_HEADERS);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
}

static void test_grpc_conditions(void **state) {
  (void)state;
  ml_retry_policy p =
      compiled(2, "cancelled,deadline-exceeded,internal,resource-exhausted");
  static const struct {
    const char *status;
    uint32_t bit;
  } cases[] = {{"1", ML_RETRY_GRPC_CANCELLED},
               {"4", ML_RETRY_GRPC_DEADLINE_EXCEEDED},
               {"8", ML_RETRY_GRPC_RESOURCE_EXHAUSTED},
               {"13", ML_RETRY_GRPC_INTERNAL},
               {"14", 0},
               {"0", 0},
               {"x", 0}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ml_header h[] = {{"grpc-status", cases[i].status}};
    ml_attempt_result r = response(200);
    r.headers = h;
    r.header_count = 1;
    assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), cases[i].bit);
  }
  p = compiled(2, "unavailable");
  ml_header h[] = {{"grpc-status", "14"}};
  ml_attempt_result r = response(200);
  r.headers = h;
  r.header_count = 1;
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_GRPC_UNAVAILABLE);
  /* Envoy reads grpc-status from the headers only, not the trailers. */
  r.headers = NULL;
  r.header_count = 0;
  r.trailers = h;
  r.trailer_count = 1;
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
}

static void test_reset_conditions(void **state) {
  (void)state;
  ml_retry_policy p = compiled(2, "reset");
  ml_attempt_result r = failure(ML_XFER_TIMEOUT);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_RESET);
  r = failure(ML_XFER_CONNECT_FAILURE);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_RESET);
  r = response(503);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);

  p = compiled(2, "connect-failure");
  r = failure(ML_XFER_RESET);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r = failure(ML_XFER_TIMEOUT); /* a request timeout is not a connect one */
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r = failure(ML_XFER_TLS_ERROR);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_CONNECT_FAILURE);

  p = compiled(2, "refused-stream");
  r = failure(ML_XFER_RESET);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
  r = failure(ML_XFER_REFUSED_STREAM);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), ML_RETRY_REFUSED_STREAM);

  p = compiled(2, "reset-before-request");
  r = failure(ML_XFER_CONNECT_FAILURE);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0),
                   ML_RETRY_RESET_BEFORE_REQUEST);
  r = failure(ML_XFER_RESET);
  assert_int_equal(ml_retry_reason(&p, &r, NULL, 0), 0);
}

static void test_request_headers_merge(void **state) {
  (void)state;
  ml_retry_policy p;
  ml_retry_policy_compile(NULL, 0, &p);
  ml_header h[] = {{"X-Envoy-Max-Retries", "7"}};
  ml_retry_policy_apply_headers(&p, h, 1);
  assert_int_equal(p.num_retries, 0); /* no retryOn in force */
  ml_header h2[] = {{"x-envoy-retry-on", "5xx,bogus"},
                    {"x-envoy-retry-grpc-on", "internal"},
                    {"x-envoy-max-retries", "7"}};
  ml_retry_policy_apply_headers(&p, h2, 3);
  assert_int_equal(p.on, ML_RETRY_5XX | ML_RETRY_GRPC_INTERNAL);
  assert_int_equal(p.num_retries, 7);
  /* Each header takes its own kind only, as Envoy's parseRetryOn and
   * parseRetryGrpcOn: a gRPC name in x-envoy-retry-on and an HTTP one in
   * x-envoy-retry-grpc-on are ignored. */
  ml_retry_policy_compile(NULL, 0, &p);
  ml_header h3[] = {{"x-envoy-retry-on", "unavailable,reset"},
                    {"x-envoy-retry-grpc-on", "5xx,cancelled"}};
  ml_retry_policy_apply_headers(&p, h3, 2);
  assert_int_equal(p.on, ML_RETRY_RESET | ML_RETRY_GRPC_CANCELLED);
}

static void test_backoff_envoy_ranges(void **state) {
  (void)state;
  ml_retry_policy p;
  ml_retry_policy_compile(NULL, 1, &p);
  /* Envoy's JitteredExponentialBackOffStrategy with 25 ms (max 250):
   * random % 25, % 50, % 100, % 200, then % 250 for every later retry. */
  static const int64_t range[] = {0, 25, 50, 100, 200, 250, 250};
  for (uint32_t retry = 1; retry <= 6; retry++) {
    int64_t lo = INT64_MAX, hi = -1;
    for (uint64_t r = 0; r < 2000; r++) {
      int64_t b = ml_retry_backoff_ms(&p, retry, r * 7919u);
      lo = b < lo ? b : lo;
      hi = b > hi ? b : hi;
    }
    assert_int_equal(lo, 0); /* full jitter */
    assert_int_equal(hi, range[retry] - 1);
  }
  assert_int_equal(ml_retry_backoff_ms(&p, 1, 24), 24);
  assert_int_equal(ml_retry_backoff_ms(&p, 2, 74), 24);
  assert_int_equal(ml_retry_backoff_ms(&p, 4, 300), 100);
  assert_int_equal(ml_retry_backoff_ms(&p, 5, 249), 249);
  assert_int_equal(ml_retry_backoff_ms(&p, 5, 250), 0); /* uniform, no cap */
  assert_int_equal(ml_retry_backoff_ms(&p, 1000, UINT64_MAX),
                   (int64_t)(UINT64_MAX % 250));
  /* A max that is not a power-of-two multiple of base: 100 < 150 / 2
   * doubles no more; the range jumps to max. */
  p.backoff_base_ms = 50;
  p.backoff_max_ms = 150;
  assert_int_equal(ml_retry_backoff_ms(&p, 2, 99), 99);
  assert_int_equal(ml_retry_backoff_ms(&p, 3, 149), 149);
  assert_int_equal(ml_retry_backoff_ms(&p, 9, 150), 0);
}

static void test_reason_names(void **state) {
  (void)state;
  assert_string_equal(ml_retry_reason_name(ML_RETRY_CONNECT_FAILURE),
                      "connect-failure");
  assert_string_equal(ml_retry_reason_name(ML_RETRY_GRPC_UNAVAILABLE),
                      "unavailable");
  assert_string_equal(ml_retry_reason_name(ML_RETRY_RETRIABLE_STATUS_CODES),
                      "retriable-status-codes");
  assert_null(ml_retry_reason_name(0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_istio_default),
      cmocka_unit_test(test_no_default_no_retries),
      cmocka_unit_test(test_attempts_zero_or_absent_turns_off),
      cmocka_unit_test(test_only_attempts_keeps_default_retry_on),
      cmocka_unit_test(test_retry_on_words_and_codes),
      cmocka_unit_test(test_per_try_hosts_backoff),
      cmocka_unit_test(test_5xx_and_gateway_error),
      cmocka_unit_test(test_local_replies_are_not_retried),
      cmocka_unit_test(test_status_codes_and_request_header),
      cmocka_unit_test(test_retriable_4xx_and_ratelimited),
      cmocka_unit_test(test_retriable_headers),
      cmocka_unit_test(test_grpc_conditions),
      cmocka_unit_test(test_reset_conditions),
      cmocka_unit_test(test_request_headers_merge),
      cmocka_unit_test(test_backoff_envoy_ranges),
      cmocka_unit_test(test_reason_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
