/* SPDX-License-Identifier: MIT */
/* Many threads picking from one balancer while the live state changes
 * under them. Runs under ThreadSanitizer in CI (the name says
 * "concurrent"): picks must only read endpoint state with atomics and
 * write nothing but the round-robin cursor. */
#include "lb_test_util.h"

#include <pthread.h>

#include "lb/lb.h"
#include "meshlib/error.h"

#define NEP 5
#define NTHREADS 6
#define PICKS 50000

static _Atomic uint32_t g_in_flight[NEP];
static _Atomic int g_ejected[NEP];
static ml_lb_endpoint g_eps[NEP];
static ml_lb *g_rr, *g_lr, *g_ring;
static _Atomic uint64_t g_rr_counts[NEP];
static _Atomic uint64_t g_lr_counts[NEP];
static _Atomic int g_failures;
static _Atomic int g_stop;

static void *picker(void *arg) {
  ml_rand r;
  ml_rand_seed(&r, (uint64_t)(uintptr_t)arg);
  size_t held[4] = {0};
  int nheld = 0;
  for (int k = 0; k < PICKS; k++) {
    ml_lb_ctx ctx = {&r, 0, 0, NULL, 0};
    size_t i;
    if (ml_lb_pick(g_rr, &ctx, &i) != ML_LB_PICK_OK || i >= NEP)
      atomic_fetch_add(&g_failures, 1);
    else
      atomic_fetch_add_explicit(&g_rr_counts[i], 1, memory_order_relaxed);

    /* A least-request call: in flight from pick to completion, a few
     * calls overlapping per thread. */
    if (ml_lb_pick(g_lr, &ctx, &i) != ML_LB_PICK_OK || i >= NEP) {
      atomic_fetch_add(&g_failures, 1);
    } else {
      atomic_fetch_add_explicit(&g_lr_counts[i], 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&g_in_flight[i], 1, memory_order_relaxed);
      held[nheld++] = i;
    }
    if (nheld == 4 || k == PICKS - 1) {
      while (nheld > 0)
        atomic_fetch_sub_explicit(&g_in_flight[held[--nheld]], 1,
                                  memory_order_relaxed);
    }

    /* A hashed pick with a retry-style tried list, endpoints ejected
     * meanwhile by the flapper. */
    size_t tried[1] = {(size_t)k % NEP};
    ml_lb_ctx hctx = {&r, (uint64_t)k * 0x9e3779b97f4a7c15ULL, 1, tried, 1};
    if (ml_lb_pick(g_ring, &hctx, &i) != ML_LB_PICK_OK || i >= NEP)
      atomic_fetch_add(&g_failures, 1);
  }
  return NULL;
}

/* Ejects endpoint 4 on and off (never all of them) while picks run. */
static void *flapper(void *arg) {
  (void)arg;
  int v = 0;
  while (!atomic_load(&g_stop)) {
    v ^= 1;
    atomic_store_explicit(&g_ejected[4], v, memory_order_relaxed);
    for (volatile int spin = 0; spin < 1000; spin++)
      ;
  }
  atomic_store(&g_ejected[4], 0);
  return NULL;
}

static void test_threads_share_balancers(void **state) {
  (void)state;
  static char addr[NEP][16];
  for (int i = 0; i < NEP; i++) {
    snprintf(addr[i], sizeof(addr[i]), "10.9.0.%d", i + 1);
    atomic_init(&g_in_flight[i], 0);
    atomic_init(&g_ejected[i], 0);
    atomic_init(&g_rr_counts[i], 0);
    atomic_init(&g_lr_counts[i], 0);
    g_eps[i] = (ml_lb_endpoint){addr[i],         80,  1, {NULL, 0}, NULL,
                                &g_in_flight[i], NULL};
  }
  /* RR and LR see no ejection, so their shares are checkable; the ring
   * sees the flapping endpoint. */
  ml_lb_config c = {ML_LB_KIND_ROUND_ROBIN, 0, 0, 0, 0, 0};
  assert_int_equal(ml_lb_new(NULL, &c, g_eps, NEP, &g_rr), MESHLIB_OK);
  c.kind = ML_LB_KIND_LEAST_REQUEST;
  assert_int_equal(ml_lb_new(NULL, &c, g_eps, NEP, &g_lr), MESHLIB_OK);
  ml_lb_endpoint with_ej[NEP];
  for (int i = 0; i < NEP; i++) {
    with_ej[i] = g_eps[i];
    with_ej[i].ejected = &g_ejected[i];
  }
  c.kind = ML_LB_KIND_RING_HASH;
  assert_int_equal(ml_lb_new(NULL, &c, with_ej, NEP, &g_ring), MESHLIB_OK);

  atomic_init(&g_failures, 0);
  atomic_init(&g_stop, 0);
  pthread_t flap, th[NTHREADS];
  assert_int_equal(pthread_create(&flap, NULL, flapper, NULL), 0);
  for (uintptr_t t = 0; t < NTHREADS; t++)
    assert_int_equal(pthread_create(&th[t], NULL, picker, (void *)(t + 1)), 0);
  for (int t = 0; t < NTHREADS; t++)
    assert_int_equal(pthread_join(th[t], NULL), 0);
  atomic_store(&g_stop, 1);
  assert_int_equal(pthread_join(flap, NULL), 0);

  assert_int_equal(atomic_load(&g_failures), 0);
  /* One shared cursor: the rotation is exact across threads. */
  const uint64_t total = (uint64_t)NTHREADS * PICKS;
  for (int i = 0; i < NEP; i++) {
    assert_int_equal(atomic_load(&g_rr_counts[i]), total / NEP);
    assert_int_equal(atomic_load(&g_in_flight[i]), 0);
    /* Least request spreads the load (loose: the load is real). */
    uint64_t lr = atomic_load(&g_lr_counts[i]);
    assert_true(lr > total / NEP / 2 && lr < total / NEP * 2);
  }
  ml_lb_free(g_rr);
  ml_lb_free(g_lr);
  ml_lb_free(g_ring);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_share_balancers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
