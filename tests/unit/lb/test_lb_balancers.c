/* SPDX-License-Identifier: MIT */
/* ROUND_ROBIN, RANDOM, LEAST_REQUEST and PASSTHROUGH, and the rules every
 * balancer shares: ejection, panic, and endpoints already tried. */
#include "lb_test_util.h"

#include "lb/lb.h"
#include "meshlib/error.h"

#define MAXE 16

typedef struct fixture {
  ml_lb_endpoint eps[MAXE];
  _Atomic uint32_t in_flight[MAXE];
  _Atomic int ejected[MAXE];
  char addr[MAXE][32];
  size_t n;
  ml_lb *lb;
  ml_rand rand;
} fixture;

static void fx_init(fixture *f, size_t n, const uint32_t *weights) {
  memset(f, 0, sizeof(*f));
  f->n = n;
  for (size_t i = 0; i < n; i++) {
    snprintf(f->addr[i], sizeof(f->addr[i]), "10.0.0.%zu", i + 1);
    f->eps[i].address = f->addr[i];
    f->eps[i].port = 8080;
    f->eps[i].weight = weights ? weights[i] : 0;
    atomic_init(&f->in_flight[i], 0);
    atomic_init(&f->ejected[i], 0);
    f->eps[i].in_flight = &f->in_flight[i];
    f->eps[i].ejected = &f->ejected[i];
  }
  ml_rand_seed(&f->rand, 12345);
}

static void fx_build(fixture *f, ml_lb_kind kind, uint32_t panic) {
  ml_lb_config c;
  memset(&c, 0, sizeof(c));
  c.kind = kind;
  c.panic_threshold_percent = panic;
  ml_lb_free(f->lb);
  f->lb = NULL;
  assert_int_equal(ml_lb_new(NULL, &c, f->eps, f->n, &f->lb), MESHLIB_OK);
}

static size_t fx_pick(fixture *f) {
  ml_lb_ctx ctx = {&f->rand, 0, 0, NULL, 0};
  size_t i = SIZE_MAX;
  assert_int_equal(ml_lb_pick(f->lb, &ctx, &i), ML_LB_PICK_OK);
  assert_true(i < f->n);
  return i;
}

static void fx_count(fixture *f, uint64_t picks, uint64_t *counts) {
  memset(counts, 0, MAXE * sizeof(*counts));
  for (uint64_t k = 0; k < picks; k++)
    counts[fx_pick(f)]++;
}

static void fx_free(fixture *f) {
  ml_lb_free(f->lb);
  f->lb = NULL;
}

static const ml_lb_kind kAll[] = {ML_LB_KIND_ROUND_ROBIN, ML_LB_KIND_RANDOM,
                                  ML_LB_KIND_LEAST_REQUEST,
                                  ML_LB_KIND_RING_HASH, ML_LB_KIND_MAGLEV};
#define NKINDS (sizeof(kAll) / sizeof(kAll[0]))

static void test_rr_cycles_evenly(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, 4, NULL);
  fx_build(&f, ML_LB_KIND_ROUND_ROBIN, 0);
  /* Strict rotation: each window of 4 picks holds every endpoint. */
  size_t first = fx_pick(&f);
  for (int round = 0; round < 50; round++) {
    int seen[4] = {0};
    seen[first]++;
    for (int k = 1; k < 4; k++)
      seen[fx_pick(&f)]++;
    for (int k = 0; k < 4; k++)
      assert_int_equal(seen[k], 1);
    first = fx_pick(&f);
  }
  assert_int_equal(ml_lb_table_size(f.lb), 0); /* no schedule needed */
  fx_free(&f);
}

static void test_rr_weights(void **state) {
  (void)state;
  fixture f;
  const uint32_t w[3] = {3, 1, 2};
  fx_init(&f, 3, w);
  fx_build(&f, ML_LB_KIND_ROUND_ROBIN, 0);
  assert_int_equal(ml_lb_table_size(f.lb), 6);
  /* Exact shares in every full cycle of the schedule, and smooth: within
   * a cycle (0 2 0 1 2 0) no endpoint runs twice in a row. */
  for (int cycle = 0; cycle < 100; cycle++) {
    uint64_t c[3] = {0};
    size_t prev = SIZE_MAX;
    for (int k = 0; k < 6; k++) {
      size_t i = fx_pick(&f);
      c[i]++;
      assert_true(i != prev);
      prev = i;
    }
    assert_int_equal(c[0], 3);
    assert_int_equal(c[1], 1);
    assert_int_equal(c[2], 2);
  }
  /* Weights reduce by their gcd: 300:100 is a two-slot cycle. */
  const uint32_t w2[2] = {300, 100};
  fixture g;
  fx_init(&g, 2, w2);
  fx_build(&g, ML_LB_KIND_ROUND_ROBIN, 0);
  assert_int_equal(ml_lb_table_size(g.lb), 4);
  fx_free(&g);
  fx_free(&f);
}

static void test_rr_skips_ejected_fairly(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, 3, NULL);
  fx_build(&f, ML_LB_KIND_ROUND_ROBIN, 0);
  atomic_store(&f.ejected[0], 1);
  uint64_t c[MAXE];
  fx_count(&f, 3000, c);
  /* The ejected endpoint's turns are shared, not all given to the next. */
  assert_int_equal(c[0], 0);
  assert_int_equal(c[1], 1500);
  assert_int_equal(c[2], 1500);
  fx_free(&f);
}

static void test_random_distribution(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, 4, NULL);
  fx_build(&f, ML_LB_KIND_RANDOM, 0);
  uint64_t c[MAXE];
  fx_count(&f, 100000, c);
  for (int i = 0; i < 4; i++)
    lbt_assert_share(c[i], 100000, 0.25);
  fx_free(&f);
  const uint32_t w[3] = {1, 2, 5};
  fx_init(&f, 3, w);
  fx_build(&f, ML_LB_KIND_RANDOM, 0);
  fx_count(&f, 100000, c);
  lbt_assert_share(c[0], 100000, 1.0 / 8);
  lbt_assert_share(c[1], 100000, 2.0 / 8);
  lbt_assert_share(c[2], 100000, 5.0 / 8);
  fx_free(&f);
}

static void test_least_request_prefers_less_loaded(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, 2, NULL);
  fx_build(&f, ML_LB_KIND_LEAST_REQUEST, 0);
  atomic_store(&f.in_flight[0], 10);
  atomic_store(&f.in_flight[1], 2);
  /* Two endpoints: the two distinct choices always include both. */
  for (int k = 0; k < 1000; k++)
    assert_int_equal(fx_pick(&f), 1);
  fx_free(&f);

  /* Four endpoints, one busy: it only wins when both draws miss the
   * others, which with distinct draws never happens. */
  fx_init(&f, 4, NULL);
  fx_build(&f, ML_LB_KIND_LEAST_REQUEST, 0);
  atomic_store(&f.in_flight[2], 50);
  uint64_t c[MAXE];
  fx_count(&f, 40000, c);
  assert_int_equal(c[2], 0);
  for (int i = 0; i < 4; i++)
    if (i != 2)
      lbt_assert_share(c[i], 40000, 1.0 / 3);
  /* Graded load: the least loaded gets the most. */
  atomic_store(&f.in_flight[0], 1);
  atomic_store(&f.in_flight[1], 2);
  atomic_store(&f.in_flight[2], 3);
  atomic_store(&f.in_flight[3], 4);
  fx_count(&f, 60000, c);
  /* P(min of 2 distinct of 4 is endpoint i) = 3/6, 2/6, 1/6, 0. */
  lbt_assert_share(c[0], 60000, 0.5);
  lbt_assert_share(c[1], 60000, 2.0 / 6);
  lbt_assert_share(c[2], 60000, 1.0 / 6);
  assert_int_equal(c[3], 0);
  fx_free(&f);
}

static void test_least_request_spreads_when_equal(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, 5, NULL);
  fx_build(&f, ML_LB_KIND_LEAST_REQUEST, 0);
  uint64_t c[MAXE];
  fx_count(&f, 100000, c);
  for (int i = 0; i < 5; i++)
    lbt_assert_share(c[i], 100000, 0.2);
  fx_free(&f);
  /* Unequal weights, idle: shares follow the weights exactly. */
  const uint32_t w[3] = {1, 1, 2};
  fx_init(&f, 3, w);
  fx_build(&f, ML_LB_KIND_LEAST_REQUEST, 0);
  fx_count(&f, 100000, c);
  lbt_assert_share(c[0], 100000, 0.25);
  lbt_assert_share(c[1], 100000, 0.25);
  lbt_assert_share(c[2], 100000, 0.5);
  /* Loaded beyond its share, the heavy endpoint loses ground: 8 in
   * flight on weight 2 is 4 per unit, against 1 per unit elsewhere. */
  atomic_store(&f.in_flight[0], 1);
  atomic_store(&f.in_flight[1], 1);
  atomic_store(&f.in_flight[2], 8);
  fx_count(&f, 100000, c);
  assert_true(c[2] < 100000 * 0.3);
  fx_free(&f);
}

static void test_ejected_skipped_by_every_balancer(void **state) {
  (void)state;
  for (size_t k = 0; k < NKINDS; k++) {
    fixture f;
    fx_init(&f, 5, NULL);
    fx_build(&f, kAll[k], 0);
    atomic_store(&f.ejected[1], 1);
    atomic_store(&f.ejected[3], 1);
    uint64_t c[MAXE];
    fx_count(&f, 3000, c);
    assert_int_equal(c[1], 0);
    assert_int_equal(c[3], 0);
    assert_true(c[0] > 0 && c[2] > 0 && c[4] > 0);
    /* All ejected, no panic threshold: nothing can be chosen. */
    for (size_t i = 0; i < f.n; i++)
      atomic_store(&f.ejected[i], 1);
    ml_lb_ctx ctx = {&f.rand, 0, 0, NULL, 0};
    size_t out;
    assert_int_equal(ml_lb_pick(f.lb, &ctx, &out), ML_LB_PICK_NONE);
    /* Back to healthy: picks resume. */
    atomic_store(&f.ejected[2], 0);
    assert_int_equal(fx_pick(&f), 2);
    fx_free(&f);
  }
}

static void test_panic_spreads_over_all(void **state) {
  (void)state;
  for (size_t k = 0; k < NKINDS; k++) {
    fixture f;
    fx_init(&f, 4, NULL);
    fx_build(&f, kAll[k], 50);
    /* 1 of 4 ejected: 75 % healthy, not below 50: no panic. */
    atomic_store(&f.ejected[0], 1);
    uint64_t c[MAXE];
    fx_count(&f, 4000, c);
    assert_int_equal(c[0], 0);
    /* 3 of 4 ejected: 25 % < 50 %: panic, all four take traffic. */
    atomic_store(&f.ejected[1], 1);
    atomic_store(&f.ejected[2], 1);
    fx_count(&f, 4000, c);
    for (int i = 0; i < 4; i++)
      assert_true(c[i] > 400);
    /* All ejected under panic: still spread over everything. */
    atomic_store(&f.ejected[3], 1);
    fx_count(&f, 4000, c);
    for (int i = 0; i < 4; i++)
      assert_true(c[i] > 400);
    fx_free(&f);
  }
}

static void test_tried_avoided_unless_nothing_else(void **state) {
  (void)state;
  for (size_t k = 0; k < NKINDS; k++) {
    fixture f;
    fx_init(&f, 3, NULL);
    fx_build(&f, kAll[k], 0);
    size_t tried[2] = {0, 2};
    for (int r = 0; r < 500; r++) {
      ml_lb_ctx ctx = {&f.rand, (uint64_t)r * 7919, r & 1, tried, 2};
      size_t out;
      assert_int_equal(ml_lb_pick(f.lb, &ctx, &out), ML_LB_PICK_OK);
      assert_int_equal(out, 1);
    }
    /* The only untried one is ejected: a tried, healthy one is better
     * than none. */
    atomic_store(&f.ejected[1], 1);
    int seen[3] = {0};
    for (int r = 0; r < 500; r++) {
      ml_lb_ctx ctx = {&f.rand, (uint64_t)r * 7919, r & 1, tried, 2};
      size_t out;
      assert_int_equal(ml_lb_pick(f.lb, &ctx, &out), ML_LB_PICK_OK);
      assert_true(out == 0 || out == 2);
      seen[out]++;
    }
    assert_true(seen[0] > 0 && seen[2] > 0);
    /* Everything tried and healthy: falls back to the tried ones. */
    atomic_store(&f.ejected[1], 0);
    size_t all[3] = {0, 1, 2};
    ml_lb_ctx ctx = {&f.rand, 99, 1, all, 3};
    size_t out;
    assert_int_equal(ml_lb_pick(f.lb, &ctx, &out), ML_LB_PICK_OK);
    fx_free(&f);
  }
}

static void test_passthrough_and_empty(void **state) {
  (void)state;
  fixture f;
  fx_init(&f, 2, NULL);
  fx_build(&f, ML_LB_KIND_PASSTHROUGH, 0);
  ml_lb_ctx ctx = {&f.rand, 0, 0, NULL, 0};
  size_t out = 77;
  assert_int_equal(ml_lb_pick(f.lb, &ctx, &out), ML_LB_PICK_PASSTHROUGH);
  assert_int_equal(out, 77);
  assert_string_equal(ml_lb_kind_name(ml_lb_kind_of(f.lb)), "PASSTHROUGH");
  fx_free(&f);
  /* No endpoints: every balancer builds, and every pick fails. */
  for (size_t k = 0; k < NKINDS; k++) {
    ml_lb_config c = {kAll[k], 0, 0, 0, 0, 0};
    ml_lb *lb;
    assert_int_equal(ml_lb_new(NULL, &c, NULL, 0, &lb), MESHLIB_OK);
    assert_int_equal(ml_lb_pick(lb, &ctx, &out), ML_LB_PICK_NONE);
    assert_int_equal(ml_lb_count(lb), 0);
    ml_lb_free(lb);
  }
  ml_lb_free(NULL);
  assert_int_equal(ml_lb_pick(NULL, &ctx, &out), ML_LB_PICK_NONE);
}

static void test_no_generator(void **state) {
  (void)state;
  /* Without a caller generator the balancers still spread load. */
  fixture f;
  fx_init(&f, 4, NULL);
  fx_build(&f, ML_LB_KIND_RANDOM, 0);
  uint64_t c[4] = {0};
  for (int k = 0; k < 40000; k++) {
    size_t out;
    assert_int_equal(ml_lb_pick(f.lb, NULL, &out), ML_LB_PICK_OK);
    c[out]++;
  }
  for (int i = 0; i < 4; i++)
    lbt_assert_share(c[i], 40000, 0.25);
  fx_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rr_cycles_evenly),
      cmocka_unit_test(test_rr_weights),
      cmocka_unit_test(test_rr_skips_ejected_fairly),
      cmocka_unit_test(test_random_distribution),
      cmocka_unit_test(test_least_request_prefers_less_loaded),
      cmocka_unit_test(test_least_request_spreads_when_equal),
      cmocka_unit_test(test_ejected_skipped_by_every_balancer),
      cmocka_unit_test(test_panic_spreads_over_all),
      cmocka_unit_test(test_tried_avoided_unless_nothing_else),
      cmocka_unit_test(test_passthrough_and_empty),
      cmocka_unit_test(test_no_generator),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
