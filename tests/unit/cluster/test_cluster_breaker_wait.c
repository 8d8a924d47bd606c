/* SPDX-License-Identifier: MIT */
/* Circuit breakers on a cluster's live state: a request that finds every
 * HTTP/1.1 slot taken waits for one (bounded in time and in number),
 * and whoever frees a slot wakes it. The arithmetic itself is
 * policy/test_policy_breaker.c. */
#include <pthread.h>
#include <time.h>

#include "cluster_test_util.h"

#include "cluster/breaker_wait.h"

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const ml_connection_pool *pool(const ct_fixture *f) {
  return &f->k->policy.connection_pool;
}

typedef struct waiter {
  ml_cluster_state *s;
  const ml_connection_pool *cp;
  int64_t wait_ms;
  int rc;
  int64_t took_ms;
} waiter;

static void *wait_thread(void *arg) {
  waiter *w = arg;
  int64_t t0 = now_ms();
  w->rc = ml_cluster_admit(w->s, w->cp, 0, w->wait_ms);
  w->took_ms = now_ms() - t0;
  return NULL;
}

static void wait_for_pending(ml_cluster_state *s, uint32_t n) {
  int64_t t0 = now_ms();
  while (atomic_load(&s->breaker.rq_pending) < n) {
    assert_true(now_ms() - t0 < 10000);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

static void test_max_requests_before_pending(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{connectionPool: {tcp: {maxConnections: 1}, http: "
           "{http2MaxRequests: 2, http1MaxPendingRequests: 5}}}",
           2);
  ml_cluster_state *s = f.k->state;
  assert_int_equal(ml_cluster_admit(s, pool(&f), 0, 0), ML_BREAKER_OK);
  assert_int_equal(ml_cluster_admit(s, pool(&f), 1, 0), ML_BREAKER_OK);
  int64_t t0 = now_ms();
  assert_int_equal(ml_cluster_admit(s, pool(&f), 0, 5000), ML_BREAKER_OVERFLOW);
  assert_true(now_ms() - t0 < 2000); /* did not wait */
  assert_int_equal(ml_cluster_try_admit(s, pool(&f), 0), ML_BREAKER_OVERFLOW);
  assert_int_equal(atomic_load(&s->breaker.rq_pending), 0);
  assert_int_equal(atomic_load(&s->breaker.stats.upstream_rq_pending_total), 0);
  assert_int_equal(atomic_load(&s->breaker.stats.upstream_cx_overflow), 0);
  assert_int_equal(atomic_load(&s->breaker.stats.upstream_rq_pending_overflow),
                   2);
  /* Below max_requests, a request without a connection waits as before. */
  ml_cluster_release(s, 1);
  assert_int_equal(ml_cluster_try_admit(s, pool(&f), 0), ML_BREAKER_WAIT);
  assert_int_equal(atomic_load(&s->breaker.rq_pending), 1);
  ml_breaker_pending_cancel(&s->breaker);
  ml_cluster_release(s, 0);
  ct_teardown(&f);
}

static void test_pending_waits_for_a_slot(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{connectionPool: {tcp: {maxConnections: 1}, http: "
           "{http1MaxPendingRequests: 1}}}",
           2);
  ml_cluster_state *s = f.k->state;
  assert_int_equal(ml_cluster_admit(s, pool(&f), 0, 0), ML_BREAKER_OK);
  waiter w = {s, pool(&f), 20000, 99, 0};
  pthread_t t;
  pthread_create(&t, NULL, wait_thread, &w);
  wait_for_pending(s, 1);
  /* The pending queue is full: a third request overflows at once. */
  int64_t t0 = now_ms();
  assert_int_equal(ml_cluster_admit(s, pool(&f), 0, 20000),
                   ML_BREAKER_OVERFLOW);
  assert_true(now_ms() - t0 < 1000);
  int rc = -5;
  assert_int_equal(ml_cluster_try_admit(s, pool(&f), 0), ML_BREAKER_OVERFLOW);
  (void)rc;
  ml_cluster_release(s, 0);
  pthread_join(t, NULL);
  assert_int_equal(w.rc, ML_BREAKER_OK);
  assert_true(w.took_ms < 15000);
  assert_int_equal(atomic_load(&s->breaker.rq_pending), 0);
  assert_int_equal(atomic_load(&s->breaker.h1_active), 1);
  assert_int_equal(atomic_load(&s->breaker.stats.upstream_rq_pending_total), 1);
  ml_cluster_release(s, 0);
  ct_teardown(&f);
}

static void test_pending_wait_is_bounded(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{connectionPool: {tcp: {maxConnections: 1}}}", 2);
  ml_cluster_state *s = f.k->state;
  assert_int_equal(ml_cluster_admit(s, pool(&f), 0, 0), ML_BREAKER_OK);
  int64_t t0 = now_ms();
  assert_int_equal(ml_cluster_admit(s, pool(&f), 0, 100), ML_BREAKER_TIMED_OUT);
  int64_t took = now_ms() - t0;
  assert_true(took >= 90);
  assert_true(took < 5000);
  assert_int_equal(atomic_load(&s->breaker.rq_pending), 0);
  assert_int_equal(atomic_load(&s->waiters), 0);
  ml_cluster_release(s, 0);
  ct_teardown(&f);
}

static void test_state_survives_rebuild(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{connectionPool: {http: {http2MaxRequests: 1}}}", 2);
  ml_cluster_state *s = f.k->state;
  assert_int_equal(ml_cluster_admit(s, pool(&f), 1, 0), ML_BREAKER_OK);
  ct_build(&f, 1, 3); /* a new snapshot with one more endpoint */
  assert_ptr_equal(f.k->state, s);
  assert_int_equal(ml_cluster_admit(f.k->state, pool(&f), 1, 0),
                   ML_BREAKER_OVERFLOW);
  ml_cluster_release(f.k->state, 1);
  ct_teardown(&f);
}

static void test_null_admits_everything(void **state) {
  (void)state;
  assert_int_equal(ml_cluster_admit(NULL, NULL, 0, 1000), ML_BREAKER_OK);
  assert_int_equal(ml_cluster_try_admit(NULL, NULL, 0), ML_BREAKER_OK);
  assert_int_equal(ml_cluster_pending_retry(NULL, NULL), ML_BREAKER_OK);
  ml_cluster_release(NULL, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_max_requests_before_pending),
      cmocka_unit_test(test_pending_waits_for_a_slot),
      cmocka_unit_test(test_pending_wait_is_bounded),
      cmocka_unit_test(test_state_survives_rebuild),
      cmocka_unit_test(test_null_admits_everything),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
