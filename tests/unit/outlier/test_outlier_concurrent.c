/* SPDX-License-Identifier: MIT */
/* Many threads report results, pick endpoints and tick the sweep at once
 * (run under TSan): ejections never pass maxEjectionPercent, the counts
 * stay consistent, and everything returns once the failures stop. */
#include <pthread.h>

#include "../cluster/cluster_test_util.h"

#include "lb/lb.h"
#include "cluster/health.h"
#include "util/rand.h"

#define THREADS 4
#define ROUNDS 20000
#define EPS 8

typedef struct worker {
  const ml_cluster *k;
  _Atomic int64_t *clock;
  uint64_t seed;
  size_t max_seen; /* most endpoints seen ejected at once */
  int pick_failed;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  ml_rand r;
  ml_rand_seed(&r, w->seed);
  for (int i = 0; i < ROUNDS; i++) {
    int64_t now = atomic_fetch_add(w->clock, 3); /* 3 ms per step */
    ml_lb_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.rand = &r;
    size_t idx;
    if (ml_lb_pick(w->k->lb, &ctx, &idx) != ML_LB_PICK_OK) {
      w->pick_failed = 1;
      continue;
    }
    /* Endpoints 0..3 fail nine times in ten; the others work. */
    ml_attempt_result res;
    memset(&res, 0, sizeof(res));
    res.outcome = ML_XFER_OK;
    res.status = idx < 4 && ml_rand_below(&r, 10) ? 503 : 200;
    if (idx == 0 && ml_rand_below(&r, 2))
      res.outcome = ML_XFER_CONNECT_FAILURE;
    ml_cluster_report_attempt(w->k, idx, &res, now);
    ml_cluster_outlier_tick(w->k, now);
    /* Ejections and returns happen under the cluster's lock: under it the
     * count is exact (without it, a scan may mix two instants). */
    pthread_mutex_lock(&w->k->state->lock);
    size_t n = ml_cluster_ejected_count(w->k);
    pthread_mutex_unlock(&w->k->state->lock);
    if (n > w->max_seen)
      w->max_seen = n;
  }
  return NULL;
}

static void test_report_pick_tick_concurrently(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f,
           "{outlierDetection: {consecutive5xxErrors: 3, interval: 50ms, "
           "baseEjectionTime: 100ms, maxEjectionPercent: 25}}",
           EPS);
  _Atomic int64_t clock = 1;
  worker w[THREADS];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){f.k, &clock, (uint64_t)i + 1, 0, 0};
    pthread_create(&t[i], NULL, work, &w[i]);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  size_t max_seen = 0;
  for (int i = 0; i < THREADS; i++) {
    assert_false(w[i].pick_failed);
    if (w[i].max_seen > max_seen)
      max_seen = w[i].max_seen;
  }
  /* 25 % of 8 is 2; ejections happened and never exceeded it. */
  assert_true(max_seen >= 1);
  assert_true(max_seen <= 2);
  ml_outlier_stats *st = &f.k->state->outlier.stats;
  uint64_t enforced = atomic_load(&st->ejections_enforced_total);
  assert_true(enforced >= 2);
  uint64_t per_ep = 0;
  for (size_t i = 0; i < EPS; i++)
    per_ep += atomic_load(&f.k->states[i]->outlier.ejection_count);
  assert_int_equal(per_ep, enforced);
  for (size_t i = 4; i < EPS; i++) /* healthy endpoints never went */
    assert_int_equal(atomic_load(&f.k->states[i]->outlier.ejection_count), 0);
  /* Failures stop; after the longest ejection every endpoint is back. */
  int64_t now = atomic_load(&clock) + 301000;
  ml_cluster_outlier_tick(f.k, now);
  assert_int_equal(ml_cluster_ejected_count(f.k), 0);
  ct_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_report_pick_tick_concurrently),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
