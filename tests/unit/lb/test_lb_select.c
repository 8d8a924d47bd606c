/* SPDX-License-Identifier: MIT */
/* The generator, XXH64, weighted route destinations and subset labels. */
#include "lb_test_util.h"

#include "lb/hash.h"
#include "lb/select.h"
#include "util/rand.h"

static void test_rand_deterministic_and_seeded(void **state) {
  (void)state;
  ml_rand a, b, c;
  ml_rand_seed(&a, 42);
  ml_rand_seed(&b, 42);
  ml_rand_seed(&c, 43);
  int differ = 0;
  for (int i = 0; i < 100; i++) {
    uint64_t x = ml_rand_next(&a);
    assert_true(x == ml_rand_next(&b));
    differ += x != ml_rand_next(&c);
  }
  assert_true(differ > 95);
  /* Seed 0 is a fine seed. */
  ml_rand z;
  ml_rand_seed(&z, 0);
  assert_true(ml_rand_next(&z) != 0 || ml_rand_next(&z) != 0);
}

static void test_rand_below_uniform(void **state) {
  (void)state;
  ml_rand r;
  ml_rand_seed(&r, 7);
  uint64_t counts[7] = {0};
  const uint64_t n = 70000;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t x = ml_rand_below(&r, 7);
    assert_true(x < 7);
    counts[x]++;
  }
  for (int i = 0; i < 7; i++)
    lbt_assert_share(counts[i], n, 1.0 / 7);
  assert_int_equal(ml_rand_below(&r, 0), 0);
  assert_int_equal(ml_rand_below(&r, 1), 0);
  /* A bound above 2^63 exercises the rejection step. */
  uint64_t big = (UINT64_C(1) << 63) + 12345;
  for (int i = 0; i < 1000; i++)
    assert_true(ml_rand_below(&r, big) < big);
  double sum = 0;
  for (int i = 0; i < 10000; i++) {
    double d = ml_rand_double(&r);
    assert_true(d >= 0.0 && d < 1.0);
    sum += d;
  }
  assert_true(fabs(sum / 10000 - 0.5) < 0.02);
}

static void test_mul128(void **state) {
  (void)state;
  uint64_t lo;
  assert_true(ml_mul128(UINT64_MAX, UINT64_MAX, &lo) == UINT64_MAX - 1);
  assert_true(lo == 1);
  assert_true(ml_mul128(UINT64_C(1) << 32, UINT64_C(1) << 32, &lo) == 1);
  assert_true(lo == 0);
  assert_true(ml_mul128(3, 5, &lo) == 0 && lo == 15);
}

/* Reference values from libxxhash 0.8.1 (XXH64). */
static void test_xxh64_vectors(void **state) {
  (void)state;
  assert_true(ml_xxh64("", 0, 0) == UINT64_C(0xef46db3751d8e999));
  assert_true(ml_xxh64("", 0, 1) == UINT64_C(0xd5afba1336a3be4b));
  assert_true(ml_xxh64("a", 1, 0) == UINT64_C(0xd24ec4f1a98c6e5b));
  assert_true(ml_xxh64("abc", 3, 0) == UINT64_C(0x44bc2cf5ad770999));
  assert_true(ml_xxh64("abc", 3, 1) == UINT64_C(0xbea9ca8199328908));
  assert_true(ml_xxh64("10.0.0.1:8080_0", 15, 0) ==
              UINT64_C(0x23a29ae775dfd4a3));
  const char *x40 = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
  assert_true(ml_xxh64(x40, 40, 0) == UINT64_C(0x926f564e1b3e18d5));
  const char *s = "hello world, this is a longer string!!";
  assert_true(ml_xxh64(s, strlen(s), 0) == UINT64_C(0x259f5c274c46b5a3));
  assert_true(ml_xxh64(s, strlen(s), 1) == UINT64_C(0xfb093cfcc8b18bb5));
}

static ml_route_destination dest(int64_t weight) {
  ml_route_destination d;
  memset(&d, 0, sizeof(d));
  d.weight = weight;
  return d;
}

static void count_picks(const ml_route_destination *d, size_t n, uint64_t picks,
                        uint64_t seed, uint64_t *counts) {
  ml_rand r;
  ml_rand_seed(&r, seed);
  for (uint64_t i = 0; i < picks; i++) {
    size_t k = ml_pick_destination(d, n, ml_rand_next(&r));
    assert_true(k < n);
    counts[k]++;
  }
}

static void test_destinations_90_10(void **state) {
  (void)state;
  ml_route_destination d[2] = {dest(90), dest(10)};
  uint64_t c[2] = {0};
  count_picks(d, 2, 100000, 1, c);
  lbt_assert_share(c[0], 100000, 0.9);
  lbt_assert_share(c[1], 100000, 0.1);
}

static void test_destinations_3_1_0(void **state) {
  (void)state;
  /* Weights need not sum to 100; the zero one is never picked. */
  ml_route_destination d[3] = {dest(3), dest(1), dest(0)};
  uint64_t c[3] = {0};
  count_picks(d, 3, 100000, 2, c);
  lbt_assert_share(c[0], 100000, 0.75);
  lbt_assert_share(c[1], 100000, 0.25);
  assert_int_equal(c[2], 0);
  /* An absent weight (-1) among weighted ones counts as 0 too. */
  ml_route_destination e[3] = {dest(-1), dest(50), dest(50)};
  uint64_t ce[3] = {0};
  count_picks(e, 3, 20000, 3, ce);
  assert_int_equal(ce[0], 0);
  lbt_assert_share(ce[1], 20000, 0.5);
  assert_false(ml_destinations_all_zero(e, 3));
}

static void test_destinations_single_and_zero(void **state) {
  (void)state;
  ml_route_destination one[1] = {dest(0)};
  ml_route_destination absent[1] = {dest(-1)};
  for (uint64_t r = 0; r < 1000; r += 7) {
    assert_int_equal(ml_pick_destination(one, 1, r * 0x9e3779b97f4a7c15ULL), 0);
    assert_int_equal(ml_pick_destination(absent, 1, r), 0);
  }
  assert_false(ml_destinations_all_zero(one, 1));
  /* All zero with several: the first, and the analyzer can tell. */
  ml_route_destination zero[3] = {dest(0), dest(-1), dest(0)};
  uint64_t c[3] = {0};
  count_picks(zero, 3, 1000, 4, c);
  assert_int_equal(c[0], 1000);
  assert_true(ml_destinations_all_zero(zero, 3));
  /* Extremes of r land on the first and last weighted ones. */
  ml_route_destination d[3] = {dest(0), dest(1), dest(1)};
  assert_int_equal(ml_pick_destination(d, 3, 0), 1);
  assert_int_equal(ml_pick_destination(d, 3, UINT64_MAX), 2);
  assert_int_equal(ml_pick_destination(d, 0, 5), 0);
}

static void test_labels_select(void **state) {
  (void)state;
  ml_kv have_items[] = {{"app", "reviews"}, {"version", "v2"}, {"zone", "a"}};
  ml_kv_list have = {have_items, 3};
  ml_kv sel1_items[] = {{"version", "v2"}};
  ml_kv_list sel1 = {sel1_items, 1};
  ml_kv sel2_items[] = {{"version", "v2"}, {"app", "reviews"}};
  ml_kv_list sel2 = {sel2_items, 2};
  ml_kv sel3_items[] = {{"version", "v1"}};
  ml_kv_list sel3 = {sel3_items, 1};
  ml_kv sel4_items[] = {{"version", "v2"}, {"tier", "gold"}};
  ml_kv_list sel4 = {sel4_items, 2};
  ml_kv sel5_items[] = {{"Version", "v2"}};
  ml_kv_list sel5 = {sel5_items, 1};
  ml_kv_list empty = {NULL, 0};
  assert_true(ml_labels_select(&sel1, &have));
  assert_true(ml_labels_select(&sel2, &have));
  assert_false(ml_labels_select(&sel3, &have));
  assert_false(ml_labels_select(&sel4, &have)); /* every label must match */
  assert_false(ml_labels_select(&sel5, &have)); /* keys are case-sensitive */
  assert_true(ml_labels_select(&empty, &have));
  assert_true(ml_labels_select(NULL, &have));
  assert_true(ml_labels_select(&empty, NULL));
  assert_false(ml_labels_select(&sel1, NULL));
  assert_false(ml_labels_select(&sel1, &empty));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rand_deterministic_and_seeded),
      cmocka_unit_test(test_rand_below_uniform),
      cmocka_unit_test(test_mul128),
      cmocka_unit_test(test_xxh64_vectors),
      cmocka_unit_test(test_destinations_90_10),
      cmocka_unit_test(test_destinations_3_1_0),
      cmocka_unit_test(test_destinations_single_and_zero),
      cmocka_unit_test(test_labels_select),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
