/* SPDX-License-Identifier: MIT */
/* Fault injection: Envoy's per-million draw, Istio's "no percentage, no
 * fault", the older integer percent, gRPC aborts. */
#include "../route/route_test_util.h"

#include "policy/policy.h"
#include "util/str.h"

static void test_percent_hit_is_envoys_draw(void **state) {
  (void)state;
  assert_false(ml_percent_hit(-1, 0)); /* absent */
  assert_false(ml_percent_hit(0, 0));
  assert_true(ml_percent_hit(100, 999999));
  assert_true(ml_percent_hit(150, 7));
  /* 10 %: exactly 100000 of every million draws. */
  uint64_t hits = 0;
  for (uint64_t r = 0; r < 1000000; r++)
    hits += (uint64_t)ml_percent_hit(10, r);
  assert_int_equal(hits, 100000);
  /* The smallest step: one per million. */
  assert_true(ml_percent_hit(0.0001, 0));
  assert_false(ml_percent_hit(0.0001, 1));
  assert_true(ml_percent_hit(12.5, 124999));
  assert_false(ml_percent_hit(12.5, 125000));
  assert_true(ml_percent_hit(12.5, 1000000 + 5)); /* modulo the million */
}

static ml_fault fault_none(void) {
  ml_fault f;
  memset(&f, 0, sizeof(f));
  f.delay_fixed_ms = -1;
  f.delay_percentage.value = -1;
  f.abort_percentage.value = -1;
  return f;
}

static void test_decide(void **state) {
  (void)state;
  ml_fault_action a;
  ml_fault_decide(NULL, 0, 0, &a);
  assert_int_equal(a.delay_ms, 0);
  assert_int_equal(a.abort_status, 0);

  ml_fault f = fault_none();
  f.has_delay = 1;
  f.delay_fixed_ms = 200;
  ml_fault_decide(&f, 0, 0, &a); /* no percentage: no request */
  assert_int_equal(a.delay_ms, 0);
  f.delay_percentage.value = 100;
  ml_fault_decide(&f, 12345, 0, &a);
  assert_int_equal(a.delay_ms, 200);
  assert_int_equal(a.abort_status, 0);

  f.has_abort = 1;
  f.abort_http_status = 503;
  ml_fault_decide(&f, 0, 0, &a);
  assert_int_equal(a.abort_status, 0); /* abort without percentage */
  f.abort_percentage.value = 50;
  ml_fault_decide(&f, 0, 499999, &a);
  assert_int_equal(a.abort_status, 503);
  assert_null(a.abort_grpc_status);
  ml_fault_decide(&f, 0, 500000, &a);
  assert_int_equal(a.abort_status, 0);
  assert_int_equal(a.delay_ms, 200); /* independent of the abort */

  f.abort_http_status = 0;
  f.abort_grpc_status = "UNAVAILABLE";
  ml_fault_decide(&f, 0, 1, &a);
  assert_int_equal(a.abort_status, 200);
  assert_string_equal(a.abort_grpc_status, "UNAVAILABLE");
}

static void test_grpc_codes(void **state) {
  (void)state;
  assert_int_equal(ml_grpc_status_code("OK"), 0);
  assert_int_equal(ml_grpc_status_code("CANCELLED"), 1);
  assert_int_equal(ml_grpc_status_code("DEADLINE_EXCEEDED"), 4);
  assert_int_equal(ml_grpc_status_code("RESOURCE_EXHAUSTED"), 8);
  assert_int_equal(ml_grpc_status_code("INTERNAL"), 13);
  assert_int_equal(ml_grpc_status_code("UNAVAILABLE"), 14);
  assert_int_equal(ml_grpc_status_code("UNAUTHENTICATED"), 16);
  assert_int_equal(ml_grpc_status_code("unavailable"), -1);
  assert_int_equal(ml_grpc_status_code(NULL), -1);
}

/* Through the loader: the deprecated integer `percent` counts. */
static void test_loaded_faults(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "default",
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: svc, namespace: default}\n"
           "spec:\n"
           "  hosts: [svc]\n"
           "  http:\n"
           "  - fault:\n"
           "      delay: {fixedDelay: 5s, percent: 10}\n"
           "      abort: {httpStatus: 418, percentage: {value: 2.5}}\n"
           "    route:\n"
           "    - destination: {host: svc}\n");
  const ml_fault *flt = f.config->virtual_services[0]->http[0].fault;
  assert_non_null(flt);
  uint64_t delays = 0, aborts = 0;
  for (uint64_t r = 0; r < 1000000; r++) {
    ml_fault_action a;
    ml_fault_decide(flt, r, r, &a);
    delays += a.delay_ms == 5000;
    aborts += a.abort_status == 418;
  }
  assert_int_equal(delays, 100000);
  assert_int_equal(aborts, 25000);
  rt_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_percent_hit_is_envoys_draw),
      cmocka_unit_test(test_decide),
      cmocka_unit_test(test_grpc_codes),
      cmocka_unit_test(test_loaded_faults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
