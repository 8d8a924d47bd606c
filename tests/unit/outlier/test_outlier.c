/* SPDX-License-Identifier: MIT */
/* Outlier detection with Envoy's numbers: 5 consecutive 5xx eject, the
 * ejection lasts base x times ejected capped at 300 s, at most
 * maxEjectionPercent ejected but always one, endpoints return at the
 * sweep after their time. */
#include "../cluster/cluster_test_util.h"

#include "lb/lb.h"
#include "cluster/health.h"
#include "util/rand.h"

static ml_attempt_result answer(int status) {
  ml_attempt_result a;
  memset(&a, 0, sizeof(a));
  a.outcome = ML_XFER_OK;
  a.status = status;
  return a;
}

static ml_attempt_result failed(ml_xfer_outcome o) {
  ml_attempt_result a;
  memset(&a, 0, sizeof(a));
  a.outcome = o;
  return a;
}

static void report_n(const ml_cluster *k, size_t i, ml_attempt_result r, int n,
                     int64_t now) {
  for (int j = 0; j < n; j++)
    ml_cluster_report_attempt(k, i, &r, now);
}

static int ejected(const ml_cluster *k, size_t i) {
  return atomic_load(&k->states[i]->outlier.ejected);
}

static void test_config_defaults(void **state) {
  (void)state;
  ml_outlier_detection od;
  memset(&od, 0, sizeof(od));
  ml_outlier_config c;
  assert_int_equal(ml_outlier_config_of(&od, &c), 0);
  od.present = 1;
  od.consecutive_5xx_errors = od.consecutive_gateway_errors = -1;
  od.consecutive_local_origin_failures = -1;
  od.interval_ms = od.base_ejection_time_ms = -1;
  od.max_ejection_percent = od.min_health_percent = -1;
  assert_int_equal(ml_outlier_config_of(&od, &c), 1);
  assert_int_equal(c.consecutive_5xx, 5);
  assert_int_equal(c.consecutive_gateway, 0);
  assert_int_equal(c.consecutive_local_origin, 0);
  assert_int_equal(c.interval_ms, 10000);
  assert_int_equal(c.base_ejection_ms, 30000);
  assert_int_equal(c.max_ejection_ms, 300000);
  assert_int_equal(c.max_ejection_percent, 10);
  od.split_external_local_origin_errors = 1;
  ml_outlier_config_of(&od, &c);
  assert_int_equal(c.consecutive_local_origin, 5);
  od.consecutive_local_origin_failures = 0; /* Istio passes only > 0 */
  ml_outlier_config_of(&od, &c);
  assert_int_equal(c.consecutive_local_origin, 5);
  od.consecutive_5xx_errors = 0;
  od.max_ejection_percent = 0; /* Istio passes only > 0 */
  od.base_ejection_time_ms = 400000;
  ml_outlier_config_of(&od, &c);
  assert_int_equal(c.consecutive_5xx, 0);
  assert_int_equal(c.max_ejection_percent, 10);
  assert_int_equal(c.max_ejection_ms, 400000); /* the cap is never < base */
}

static void test_five_5xx_eject_at_the_failure(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{outlierDetection: {maxEjectionPercent: 100}}", 4);
  const ml_cluster *k = f.k;
  int64_t t = 1000;
  report_n(k, 0, answer(503), 4, t);
  assert_false(ejected(k, 0));
  assert_int_equal(atomic_load(&k->states[0]->outlier.consecutive_5xx), 4);
  ml_attempt_result r = answer(500);
  ml_cluster_report_attempt(k, 0, &r, t);
  assert_true(ejected(k, 0));
  assert_int_equal(atomic_load(&k->states[0]->outlier.ejection_count), 1);
  assert_int_equal(atomic_load(&k->states[0]->outlier.ejected_until_ms),
                   t + 30000);
  assert_int_equal(atomic_load(&k->states[0]->outlier.consecutive_5xx), 0);
  ml_outlier_stats *st = &k->state->outlier.stats;
  assert_int_equal(atomic_load(&st->ejections_enforced_consecutive_5xx), 1);
  assert_int_equal(atomic_load(&st->ejections_detected_consecutive_5xx), 1);
  assert_int_equal(atomic_load(&st->ejections_enforced_total), 1);
  assert_int_equal(atomic_load(&st->ejections_total), 1);
  assert_int_equal(ml_cluster_ejected_count(k), 1);
  /* More failures of an ejected endpoint change nothing. */
  report_n(k, 0, answer(503), 10, t);
  assert_int_equal(atomic_load(&k->states[0]->outlier.ejection_count), 1);
  ct_teardown(&f);
}

static void test_success_resets(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{outlierDetection: {}}", 2);
  report_n(f.k, 1, answer(502), 4, 0);
  report_n(f.k, 1, answer(404), 1, 0); /* not a 5xx: resets */
  report_n(f.k, 1, answer(502), 4, 0);
  assert_false(ejected(f.k, 1));
  report_n(f.k, 1, answer(502), 1, 0);
  assert_true(ejected(f.k, 1));
  /* A local reply and an aborted call count for nothing. */
  ml_attempt_result local = answer(503);
  local.local = 1;
  report_n(f.k, 0, local, 10, 0);
  report_n(f.k, 0, failed(ML_XFER_ABORTED), 10, 0);
  report_n(f.k, 0, failed(ML_XFER_LOCAL_ERROR), 10, 0);
  assert_int_equal(atomic_load(&f.k->states[0]->outlier.consecutive_5xx), 0);
  ct_teardown(&f);
}

static void test_disabled_5xx_and_gateway_detector(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{outlierDetection: {consecutive5xxErrors: 0, "
           "consecutiveGatewayErrors: 3, maxEjectionPercent: 100}}",
           2);
  report_n(f.k, 0, answer(500), 20, 0);
  assert_false(ejected(f.k, 0));
  report_n(f.k, 0, answer(502), 2, 0);
  report_n(f.k, 0, answer(500), 1, 0); /* a 5xx but no gateway error */
  report_n(f.k, 0, answer(504), 2, 0);
  assert_false(ejected(f.k, 0));
  report_n(f.k, 0, answer(503), 1, 0);
  assert_true(ejected(f.k, 0));
  ml_outlier_stats *st = &f.k->state->outlier.stats;
  assert_int_equal(
      atomic_load(&st->ejections_enforced_consecutive_gateway_failure), 1);
  assert_int_equal(atomic_load(&st->ejections_enforced_consecutive_5xx), 0);
  assert_int_equal(atomic_load(&st->ejections_total), 0);
  ct_teardown(&f);
}

static void test_local_origin_not_split(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{outlierDetection: {consecutiveGatewayErrors: 10, "
           "maxEjectionPercent: 100}}",
           2);
  /* Connect failures, resets and timeouts count as 503/504. */
  report_n(f.k, 0, failed(ML_XFER_CONNECT_FAILURE), 2, 0);
  report_n(f.k, 0, failed(ML_XFER_RESET), 1, 0);
  report_n(f.k, 0, failed(ML_XFER_TIMEOUT), 1, 0);
  assert_int_equal(atomic_load(&f.k->states[0]->outlier.consecutive_gateway),
                   4);
  report_n(f.k, 0, failed(ML_XFER_REFUSED_STREAM), 1, 0);
  assert_true(ejected(f.k, 0));
  assert_int_equal(
      atomic_load(
          &f.k->state->outlier.stats.ejections_enforced_consecutive_5xx),
      1);
  ct_teardown(&f);
}

static void test_local_origin_split(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{outlierDetection: {splitExternalLocalOriginErrors: true, "
           "consecutiveLocalOriginFailures: 3, maxEjectionPercent: 100}}",
           2);
  report_n(f.k, 0, failed(ML_XFER_CONNECT_FAILURE), 2, 0);
  report_n(f.k, 0, answer(503), 1, 0); /* connected: local success */
  assert_int_equal(
      atomic_load(&f.k->states[0]->outlier.consecutive_local_origin), 0);
  assert_int_equal(atomic_load(&f.k->states[0]->outlier.consecutive_5xx), 1);
  /* A timeout or reset on a connection that was made starts the run over
   * (Envoy reports the connect success first): they never add up. */
  report_n(f.k, 0, failed(ML_XFER_TIMEOUT), 2, 0);
  assert_int_equal(
      atomic_load(&f.k->states[0]->outlier.consecutive_local_origin), 1);
  assert_int_equal(atomic_load(&f.k->states[0]->outlier.consecutive_5xx), 1);
  report_n(f.k, 0, failed(ML_XFER_RESET), 1, 0);
  assert_int_equal(
      atomic_load(&f.k->states[0]->outlier.consecutive_local_origin), 1);
  assert_false(ejected(f.k, 0));
  /* Connect failures do add up, after the reset: 1 + 2. */
  report_n(f.k, 0, failed(ML_XFER_CONNECT_FAILURE), 1, 0);
  assert_false(ejected(f.k, 0));
  report_n(f.k, 0, failed(ML_XFER_TLS_ERROR), 1, 0);
  assert_true(ejected(f.k, 0));
  assert_int_equal(
      atomic_load(&f.k->state->outlier.stats
                       .ejections_enforced_consecutive_local_origin_failure),
      1);
  ct_teardown(&f);
}

/* For a gRPC response Envoy's router hands outlier detection the
 * grpc-status of the headers, mapped to HTTP (14 -> 503, 0 -> 200). */
static void test_grpc_status_counts(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{outlierDetection: {maxEjectionPercent: 100}}", 2);
  ml_header unavailable[] = {{"content-type", "application/grpc"},
                             {"grpc-status", "14"}};
  ml_header ok[] = {{"content-type", "application/grpc+proto"},
                    {"grpc-status", "0"}};
  ml_attempt_result r = answer(200);
  r.grpc_request = 1;
  r.headers = unavailable;
  r.header_count = 2;
  report_n(f.k, 0, r, 4, 0);
  assert_int_equal(atomic_load(&f.k->states[0]->outlier.consecutive_5xx), 4);
  assert_int_equal(atomic_load(&f.k->states[0]->outlier.consecutive_gateway),
                   4);
  r.headers = ok;
  report_n(f.k, 0, r, 1, 0); /* a 200 from a 503 answer: resets */
  assert_int_equal(atomic_load(&f.k->states[0]->outlier.consecutive_5xx), 0);
  r.grpc_request = 0; /* not a gRPC request: the HTTP status counts */
  r.headers = unavailable;
  report_n(f.k, 0, r, 5, 0);
  assert_false(ejected(f.k, 0));
  r.grpc_request = 1;
  report_n(f.k, 0, r, 5, 0);
  assert_true(ejected(f.k, 0));
  ct_teardown(&f);
}

static void test_max_ejection_percent_and_at_least_one(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{outlierDetection: {}}", 10); /* 10 % of 10: one */
  report_n(f.k, 0, answer(503), 5, 0);
  report_n(f.k, 1, answer(503), 5, 0);
  assert_true(ejected(f.k, 0));
  assert_false(ejected(f.k, 1));
  assert_int_equal(atomic_load(&f.k->state->outlier.stats.ejections_overflow),
                   1);
  /* The counter restarted: five more are needed to try again. */
  assert_int_equal(atomic_load(&f.k->states[1]->outlier.consecutive_5xx), 0);
  ct_teardown(&f);

  ct_setup(&f, "{outlierDetection: {}}", 3); /* 10 % of 3 < 1: one anyway */
  report_n(f.k, 2, answer(503), 5, 0);
  assert_true(ejected(f.k, 2));
  report_n(f.k, 1, answer(503), 5, 0);
  assert_false(ejected(f.k, 1));
  ct_teardown(&f);

  ct_setup(&f, "{outlierDetection: {maxEjectionPercent: 50}}", 4);
  for (size_t i = 0; i < 4; i++)
    report_n(f.k, i, answer(503), 5, 0);
  assert_int_equal(ml_cluster_ejected_count(f.k), 2);
  assert_true(ejected(f.k, 0) && ejected(f.k, 1));
  ct_teardown(&f);
}

static void test_return_at_sweep_and_multiplier(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{outlierDetection: {interval: 10s, baseEjectionTime: 30s, "
           "maxEjectionPercent: 100}}",
           2);
  const ml_cluster *k = f.k;
  ml_ep_state *ep = k->states[0];
  ml_cluster_outlier_tick(k, 0); /* the first sweep; the next is due at 10 s */
  assert_int_equal(atomic_load(&k->state->outlier.next_sweep_ms), 10000);
  report_n(k, 0, answer(503), 5, 1000);
  assert_true(ejected(k, 0));
  assert_int_equal(atomic_load(&ep->outlier.eject_multiplier), 1);
  report_n(k, 0, answer(503), 3, 1000);
  ml_cluster_outlier_tick(k, 5000); /* not due: nothing */
  ml_cluster_outlier_tick(k, 10000);
  ml_cluster_outlier_tick(k, 20000);
  ml_cluster_outlier_tick(k, 30000); /* 29 s ejected: not yet */
  assert_true(ejected(k, 0));
  ml_cluster_outlier_tick(k, 40000); /* time up: back, counters reset */
  assert_false(ejected(k, 0));
  assert_int_equal(atomic_load(&ep->outlier.consecutive_5xx), 0);
  assert_int_equal(atomic_load(&ep->outlier.unejected_at_ms), 40000);
  assert_int_equal(atomic_load(&ep->outlier.ejected_until_ms), 0);
  /* Ejected again at once: twice the base. */
  report_n(k, 0, answer(503), 5, 41000);
  assert_int_equal(atomic_load(&ep->outlier.eject_multiplier), 2);
  assert_int_equal(atomic_load(&ep->outlier.ejected_until_ms), 41000 + 60000);
  ml_cluster_outlier_tick(k, 100000); /* 59 s */
  assert_true(ejected(k, 0));
  ml_cluster_outlier_tick(k, 110000);
  assert_false(ejected(k, 0));
  /* Healthy for an interval after its return: multiplier down by one per
   * sweep, to zero. */
  ml_cluster_outlier_tick(k, 115000); /* not due */
  assert_int_equal(atomic_load(&ep->outlier.eject_multiplier), 2);
  ml_cluster_outlier_tick(k, 120000);
  assert_int_equal(atomic_load(&ep->outlier.eject_multiplier), 1);
  ml_cluster_outlier_tick(k, 130000);
  assert_int_equal(atomic_load(&ep->outlier.eject_multiplier), 0);
  ml_cluster_outlier_tick(k, 140000);
  assert_int_equal(atomic_load(&ep->outlier.eject_multiplier), 0);
  report_n(k, 0, answer(503), 5, 141000);
  assert_int_equal(atomic_load(&ep->outlier.ejected_until_ms), 141000 + 30000);
  ct_teardown(&f);
}

static void test_ejection_time_cap(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{outlierDetection: {interval: 1s, baseEjectionTime: 30s, "
           "maxEjectionPercent: 100}}",
           2);
  const ml_cluster *k = f.k;
  ml_ep_state *ep = k->states[0];
  int64_t t = 0;
  static const int64_t want[] = {30000,  60000,  90000,  120000, 150000,
                                 180000, 210000, 240000, 270000, 300000,
                                 300000, 300000, 300000};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    report_n(k, 0, answer(503), 5, t);
    assert_true(ejected(k, 0));
    assert_int_equal(atomic_load(&ep->outlier.ejected_until_ms) - t, want[i]);
    t += want[i];
    ml_cluster_outlier_tick(k, t);
    assert_false(ejected(k, 0));
  }
  /* Envoy stops the multiplier at max / base + 1. */
  assert_int_equal(atomic_load(&ep->outlier.eject_multiplier), 11);
  ml_outlier_config c;
  ml_outlier_config_of(&k->policy.outlier_detection, &c);
  assert_int_equal(ml_outlier_ejection_ms(&c, 0), 0);
  assert_int_equal(ml_outlier_ejection_ms(&c, 3), 90000);
  assert_int_equal(ml_outlier_ejection_ms(&c, 11), 300000);
  ct_teardown(&f);
}

static void test_no_detector_no_state(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, NULL, 2);
  report_n(f.k, 0, answer(503), 50, 0);
  assert_false(ejected(f.k, 0));
  assert_int_equal(atomic_load(&f.k->states[0]->outlier.consecutive_5xx), 0);
  ml_cluster_outlier_tick(f.k, 100);
  assert_int_equal(atomic_load(&f.k->state->outlier.next_sweep_ms), 0);
  ml_attempt_result r = answer(503);
  ml_cluster_report_attempt(f.k, 99, &r, 0); /* out of range: ignored */
  ml_cluster_report_attempt(NULL, 0, &r, 0);
  ct_teardown(&f);
}

static void test_state_survives_reload(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{outlierDetection: {maxEjectionPercent: 100}}", 3);
  report_n(f.k, 0, answer(503), 5, 0);
  assert_true(ejected(f.k, 0));
  ml_cluster_state *s = f.k->state;
  ct_build(&f, 1, 4); /* same endpoints plus 10.0.0.4 */
  assert_ptr_equal(f.k->state, s);
  assert_true(ejected(f.k, 0));
  assert_false(ejected(f.k, 3));
  assert_int_equal(atomic_load(&s->outlier.stats.ejections_enforced_total), 1);
  ct_build(&f, 2, 3); /* 10.0.0.1 left: it is forgotten */
  assert_int_equal(ml_cluster_ejected_count(f.k), 0);
  assert_int_equal(f.live.endpoints.count, 3);
  ct_build(&f, 1, 3); /* back: fresh state */
  assert_false(ejected(f.k, 0));
  ct_teardown(&f);
}

/* The balancers read the flag: ejected endpoints are skipped, unless
 * fewer than minHealthPercent are healthy (panic). */
static void test_balancer_reads_ejection(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{outlierDetection: {maxEjectionPercent: 100}}", 4);
  report_n(f.k, 2, answer(503), 5, 0);
  ml_rand rnd;
  ml_rand_seed(&rnd, 7);
  for (int i = 0; i < 400; i++) {
    ml_lb_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.rand = &rnd;
    size_t idx;
    assert_int_equal(ml_lb_pick(f.k->lb, &ctx, &idx), ML_LB_PICK_OK);
    assert_int_not_equal(idx, 2);
  }
  ct_teardown(&f);

  ct_setup(&f,
           "{outlierDetection: {maxEjectionPercent: 100, "
           "minHealthPercent: 80}}",
           4);
  report_n(f.k, 2, answer(503), 5, 0); /* 75 % healthy < 80: panic */
  int seen = 0;
  for (int i = 0; i < 400; i++) {
    ml_lb_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.rand = &rnd;
    size_t idx;
    assert_int_equal(ml_lb_pick(f.k->lb, &ctx, &idx), ML_LB_PICK_OK);
    seen |= idx == 2;
  }
  assert_true(seen);
  ct_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_defaults),
      cmocka_unit_test(test_five_5xx_eject_at_the_failure),
      cmocka_unit_test(test_success_resets),
      cmocka_unit_test(test_disabled_5xx_and_gateway_detector),
      cmocka_unit_test(test_local_origin_not_split),
      cmocka_unit_test(test_local_origin_split),
      cmocka_unit_test(test_grpc_status_counts),
      cmocka_unit_test(test_max_ejection_percent_and_at_least_one),
      cmocka_unit_test(test_return_at_sweep_and_multiplier),
      cmocka_unit_test(test_ejection_time_cap),
      cmocka_unit_test(test_no_detector_no_state),
      cmocka_unit_test(test_state_survives_reload),
      cmocka_unit_test(test_balancer_reads_ejection),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
