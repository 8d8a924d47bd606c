/* SPDX-License-Identifier: MIT */
/* Threads race for HTTP/1.1 slots and retries (run under TSan): the
 * limits hold at every instant, waits end, nothing leaks. */
#include <pthread.h>

#include "cluster_test_util.h"

#include "cluster/breaker_wait.h"

#define THREADS 6
#define ROUNDS 20000

typedef struct racer {
  ml_cluster_state *s;
  const ml_traffic_policy *tp;
  _Atomic uint32_t *inside;
  uint32_t max_inside;
  int ok, over, timed_out;
  uint32_t max_retries_seen;
} racer;

static void *race(void *arg) {
  racer *r = arg;
  for (int i = 0; i < ROUNDS; i++) {
    int rc = ml_cluster_admit(r->s, &r->tp->connection_pool, 0, 2000);
    if (rc == ML_BREAKER_OK) {
      uint32_t n = atomic_fetch_add(r->inside, 1) + 1;
      if (n > r->max_inside)
        r->max_inside = n;
      if (ml_breaker_admit_retry(&r->s->breaker, r->tp, NULL, 0) ==
          ML_BREAKER_OK) {
        uint32_t q = atomic_load(&r->s->breaker.retries_active);
        if (q > r->max_retries_seen)
          r->max_retries_seen = q;
        ml_breaker_release_retry(&r->s->breaker);
      }
      atomic_fetch_sub(r->inside, 1);
      ml_cluster_release(r->s, 0);
      r->ok++;
    } else if (rc == ML_BREAKER_OVERFLOW) {
      r->over++;
    } else {
      r->timed_out++;
    }
  }
  return NULL;
}

static void test_slots_and_retries_under_contention(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{connectionPool: {tcp: {maxConnections: 2}, http: "
           "{http1MaxPendingRequests: 2, maxRetries: 1}}}",
           2);
  ml_cluster_state *s = f.k->state;
  _Atomic uint32_t inside = 0;
  racer r[THREADS];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    r[i] = (racer){s, &f.k->policy, &inside, 0, 0, 0, 0, 0};
    pthread_create(&t[i], NULL, race, &r[i]);
  }
  int ok = 0, over = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_true(r[i].max_inside <= 2);
    assert_true(r[i].max_retries_seen <= 1);
    ok += r[i].ok;
    over += r[i].over;
    /* Slots free within microseconds: no wait runs out in 2 s. */
    assert_int_equal(r[i].timed_out, 0);
  }
  assert_int_equal(ok + over, THREADS * ROUNDS);
  assert_true(ok > 0);
  assert_int_equal(atomic_load(&s->breaker.rq_active), 0);
  assert_int_equal(atomic_load(&s->breaker.h1_active), 0);
  assert_int_equal(atomic_load(&s->breaker.rq_pending), 0);
  assert_int_equal(atomic_load(&s->breaker.retries_active), 0);
  assert_int_equal(atomic_load(&s->waiters), 0);
  ct_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_slots_and_retries_under_contention),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
