/* SPDX-License-Identifier: MIT */
/* Circuit breakers (connectionPool), retry budgets and the rate budget:
 * the pure admission arithmetic, on the breaker state of a compiled
 * cluster (the waiting is cluster/test_cluster_breaker_wait.c). */
#include <time.h>

#include "../cluster/cluster_test_util.h"

#include "policy/breaker.h"

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const ml_connection_pool *pool(const ct_fixture *f) {
  return &f->k->policy.connection_pool;
}

static void test_unlimited_by_default(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, NULL, 2);
  ml_breaker_state *s = &f.k->state->breaker;
  for (int i = 0; i < 1000; i++)
    assert_int_equal(ml_breaker_try_admit(s, pool(&f), i & 1, 0, NULL),
                     ML_BREAKER_OK);
  assert_int_equal(atomic_load(&s->rq_active), 1000);
  assert_int_equal(atomic_load(&s->h1_active), 500);
  for (int i = 0; i < 1000; i++)
    ml_breaker_release(s, i & 1);
  assert_int_equal(atomic_load(&s->rq_active), 0);
  assert_int_equal(atomic_load(&s->h1_active), 0);
  /* Unset maxRetries: Istio's 2^32 - 1. */
  for (int i = 0; i < 1000; i++)
    assert_int_equal(ml_breaker_admit_retry(s, &f.k->policy, NULL, 0),
                     ML_BREAKER_OK);
  assert_int_equal(atomic_load(&s->stats.upstream_rq_retry), 1000);
  assert_int_equal(ml_breaker_try_admit(NULL, NULL, 0, 0, NULL), ML_BREAKER_OK);
  ct_teardown(&f);
}

static void test_max_requests(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{connectionPool: {http: {http2MaxRequests: 2}}}", 2);
  ml_breaker_state *s = &f.k->state->breaker;
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 1, 0, NULL),
                   ML_BREAKER_OK);
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 0, NULL),
                   ML_BREAKER_OK);
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 1, 0, NULL),
                   ML_BREAKER_OVERFLOW);
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 1, NULL),
                   ML_BREAKER_OVERFLOW);
  assert_int_equal(atomic_load(&s->h1_active), 1); /* slot given back */
  assert_int_equal(atomic_load(&s->stats.upstream_rq_pending_overflow), 2);
  ml_breaker_release(s, 1);
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 1, 0, NULL),
                   ML_BREAKER_OK);
  ct_teardown(&f);
}

static void test_max_connections_bounds_http1_only(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{connectionPool: {tcp: {maxConnections: 1}}}", 2);
  ml_breaker_state *s = &f.k->state->breaker;
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 0, NULL),
                   ML_BREAKER_OK);
  /* No wait allowed: over the limit at once. */
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 0, NULL),
                   ML_BREAKER_OVERFLOW);
  assert_int_equal(atomic_load(&s->stats.upstream_cx_overflow), 1);
  /* HTTP/2 multiplexes: maxConnections does not count its requests. */
  for (int i = 0; i < 10; i++)
    assert_int_equal(ml_breaker_try_admit(s, pool(&f), 1, 0, NULL),
                     ML_BREAKER_OK);
  ml_breaker_release(s, 0);
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 0, NULL),
                   ML_BREAKER_OK);
  ct_teardown(&f);
}

/* Envoy's pool checks max_requests before a request may wait for a
 * connection: a request over it overflows at once, not after a wait,
 * and takes no place among the pending. */
static void test_max_requests_before_pending(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{connectionPool: {tcp: {maxConnections: 1}, http: "
           "{http2MaxRequests: 2, http1MaxPendingRequests: 5}}}",
           2);
  ml_breaker_state *s = &f.k->state->breaker;
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 0, NULL),
                   ML_BREAKER_OK);
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 1, 0, NULL),
                   ML_BREAKER_OK);
  int64_t t0 = now_ms();
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 1, NULL),
                   ML_BREAKER_OVERFLOW);
  assert_true(now_ms() - t0 < 2000); /* did not wait */
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 1, NULL),
                   ML_BREAKER_OVERFLOW);
  assert_int_equal(atomic_load(&s->rq_pending), 0);
  assert_int_equal(atomic_load(&s->stats.upstream_rq_pending_total), 0);
  assert_int_equal(atomic_load(&s->stats.upstream_cx_overflow), 0);
  assert_int_equal(atomic_load(&s->stats.upstream_rq_pending_overflow), 2);
  /* Below max_requests, a request without a connection waits as before. */
  ml_breaker_release(s, 1);
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 1, NULL),
                   ML_BREAKER_WAIT);
  assert_int_equal(atomic_load(&s->rq_pending), 1);
  ml_breaker_pending_cancel(s);
  ml_breaker_release(s, 0);
  ct_teardown(&f);
}

static void test_async_pending(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{connectionPool: {tcp: {maxConnections: 1}, http: "
           "{http1MaxPendingRequests: 2}}}",
           2);
  ml_breaker_state *s = &f.k->state->breaker;
  const ml_connection_pool *cp = pool(&f);
  assert_int_equal(ml_breaker_try_admit(s, cp, 0, 1, NULL), ML_BREAKER_OK);
  assert_int_equal(ml_breaker_try_admit(s, cp, 0, 1, NULL), ML_BREAKER_WAIT);
  assert_int_equal(ml_breaker_try_admit(s, cp, 0, 1, NULL), ML_BREAKER_WAIT);
  assert_int_equal(ml_breaker_try_admit(s, cp, 0, 1, NULL),
                   ML_BREAKER_OVERFLOW);
  assert_int_equal(atomic_load(&s->rq_pending), 2);
  assert_int_equal(ml_breaker_pending_retry(s, cp, NULL), ML_BREAKER_WAIT);
  uint64_t gen = ml_breaker_released(s);
  ml_breaker_release(s, 0);
  assert_true(ml_breaker_released(s) > gen);
  assert_int_equal(ml_breaker_pending_retry(s, cp, NULL), ML_BREAKER_OK);
  assert_int_equal(ml_breaker_pending_retry(s, cp, NULL), ML_BREAKER_WAIT);
  ml_breaker_pending_cancel(s);
  assert_int_equal(atomic_load(&s->rq_pending), 0);
  assert_int_equal(atomic_load(&s->rq_active), 1);
  ml_breaker_release(s, 0);
  ct_teardown(&f);
}

static void test_max_retries(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{connectionPool: {http: {maxRetries: 2}}}", 2);
  ml_breaker_state *s = &f.k->state->breaker;
  const ml_traffic_policy *tp = &f.k->policy;
  assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OK);
  assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OK);
  assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OVERFLOW);
  assert_int_equal(atomic_load(&s->stats.upstream_rq_retry_overflow), 1);
  assert_int_equal(atomic_load(&s->stats.upstream_rq_retry), 2);
  ml_breaker_release_retry(s);
  assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OK);
  ct_teardown(&f);
}

static void test_retry_budget(void **state) {
  (void)state;
  ct_fixture f;
  /* The budget replaces maxRetries (Envoy ignores max_retries then). */
  ct_setup(&f, "{connectionPool: {http: {maxRetries: 1}}, retryBudget: {}}", 2);
  ml_breaker_state *s = &f.k->state->breaker;
  const ml_traffic_policy *tp = &f.k->policy;
  ml_breaker_limits l;
  ml_breaker_limits_of(tp, &l);
  assert_true(l.has_retry_budget);
  assert_true(l.budget_percent == 20);
  assert_int_equal(l.min_retry_concurrency, 3);
  /* No request active: minRetryConcurrency, 3. */
  for (int i = 0; i < 3; i++)
    assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OK);
  assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OVERFLOW);
  /* 50 active: 20 % is 10 retries in flight. */
  for (int i = 0; i < 50; i++)
    assert_int_equal(ml_breaker_try_admit(s, &tp->connection_pool, 1, 0, NULL),
                     ML_BREAKER_OK);
  for (int i = 3; i < 10; i++)
    assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OK);
  assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OVERFLOW);
  ct_teardown(&f);

  ct_setup(&f, "{retryBudget: {percent: 50, minRetryConcurrency: 1}}", 2);
  s = &f.k->state->breaker;
  tp = &f.k->policy;
  assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OK);
  assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OVERFLOW);
  for (int i = 0; i < 10; i++)
    ml_breaker_try_admit(s, &tp->connection_pool, 1, 0, NULL);
  for (int i = 1; i < 5; i++)
    assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OK);
  assert_int_equal(ml_breaker_admit_retry(s, tp, NULL, 0), ML_BREAKER_OVERFLOW);
  ct_teardown(&f);
}

static void test_rate_budget_window(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, NULL, 2);
  ml_breaker_state *s = &f.k->state->breaker;
  const ml_traffic_policy *tp = &f.k->policy;
  ml_rate_budget rb = {20, 0};
  int64_t t = 1000000; /* any clock */
  /* Nothing seen yet: nothing to retry. */
  assert_int_equal(ml_breaker_admit_retry(s, tp, &rb, t), ML_BREAKER_OVERFLOW);
  for (int i = 0; i < 100; i++)
    ml_breaker_note_request(s, t);
  for (int i = 0; i < 20; i++) {
    assert_int_equal(ml_breaker_admit_retry(s, tp, &rb, t + 500),
                     ML_BREAKER_OK);
    ml_breaker_release_retry(s);
  }
  assert_int_equal(ml_breaker_admit_retry(s, tp, &rb, t + 500),
                   ML_BREAKER_OVERFLOW);
  assert_int_equal(atomic_load(&s->stats.retry_rate_budget_overflow), 2);
  /* 9.9 s later both still count; 10 s later they left the window. */
  assert_int_equal(ml_breaker_admit_retry(s, tp, &rb, t + 9900),
                   ML_BREAKER_OVERFLOW);
  for (int i = 0; i < 50; i++)
    ml_breaker_note_request(s, t + 5000);
  /* At t+10 s: 50 requests (20 % = 10), the 20 retries of t gone. */
  for (int i = 0; i < 10; i++) {
    assert_int_equal(ml_breaker_admit_retry(s, tp, &rb, t + 10000),
                     ML_BREAKER_OK);
    ml_breaker_release_retry(s);
  }
  assert_int_equal(ml_breaker_admit_retry(s, tp, &rb, t + 10000),
                   ML_BREAKER_OVERFLOW);
  /* The floor: min_per_sec x 10 retries with no traffic at all. */
  ml_rate_budget floor = {0, 1};
  int64_t later = t + 100000;
  for (int i = 0; i < 10; i++) {
    assert_int_equal(ml_breaker_admit_retry(s, tp, &floor, later),
                     ML_BREAKER_OK);
    ml_breaker_release_retry(s);
  }
  assert_int_equal(ml_breaker_admit_retry(s, tp, &floor, later + 3000),
                   ML_BREAKER_OVERFLOW);
  /* Off (0, 0): no rate limit. */
  ml_rate_budget off = {0, 0};
  assert_int_equal(ml_breaker_admit_retry(s, tp, &off, later), ML_BREAKER_OK);
  ct_teardown(&f);
}

/* The pure functions say when an HTTP/1.1 slot came free, for the
 * cluster's waiters (cluster/breaker_wait.c). */
static void test_freed_slots_reported(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{connectionPool: {http: {http2MaxRequests: 1}}}", 2);
  ml_breaker_state *s = &f.k->state->breaker;
  int freed = 7;
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 1, &freed),
                   ML_BREAKER_OK);
  assert_int_equal(freed, 0);
  uint64_t gen = ml_breaker_released(s);
  /* Over max_requests: the HTTP/1.1 slot it took goes back. */
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 0, 1, &freed),
                   ML_BREAKER_OVERFLOW);
  assert_int_equal(freed, 1);
  assert_true(ml_breaker_released(s) > gen);
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 1, 1, &freed),
                   ML_BREAKER_OVERFLOW);
  assert_int_equal(freed, 0); /* HTTP/2 takes no connection slot */
  assert_int_equal(ml_breaker_release(s, 0), 1);
  assert_int_equal(ml_breaker_try_admit(s, pool(&f), 1, 1, &freed),
                   ML_BREAKER_OK);
  assert_int_equal(ml_breaker_release(s, 1), 0);
  assert_int_equal(atomic_load(&s->rq_active), 0);
  assert_int_equal(atomic_load(&s->h1_active), 0);
  assert_int_equal(ml_breaker_release(NULL, 0), 0);
  assert_int_equal(ml_breaker_pending_retry(NULL, NULL, &freed), ML_BREAKER_OK);
  ct_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unlimited_by_default),
      cmocka_unit_test(test_max_requests),
      cmocka_unit_test(test_max_connections_bounds_http1_only),
      cmocka_unit_test(test_max_requests_before_pending),
      cmocka_unit_test(test_async_pending),
      cmocka_unit_test(test_max_retries),
      cmocka_unit_test(test_retry_budget),
      cmocka_unit_test(test_rate_budget_window),
      cmocka_unit_test(test_freed_slots_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
