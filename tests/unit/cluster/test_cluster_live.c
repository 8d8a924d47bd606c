/* SPDX-License-Identifier: MIT */
/* The live store: endpoint and cluster state found by key, shared by the
 * snapshots that name it, forgotten with the last one. */
#include "cluster_test_util.h"

#include "cluster/cluster_internal.h"

static void test_refcounted_entries(void **state) {
  (void)state;
  ml_live l;
  assert_int_equal(ml_live_init(&l, NULL), MESHLIB_OK);
  ml_ep_state *a = ml_live_acquire(&l, "c|10.0.0.1:80");
  ml_ep_state *b = ml_live_acquire(&l, "c|10.0.0.1:80");
  assert_ptr_equal(a, b);
  assert_string_equal(a->node.key, "c|10.0.0.1:80");
  assert_int_equal(atomic_load(&a->outlier.unejected_at_ms), -1);
  ml_cluster_state *x = ml_live_acquire_cluster(&l, "c");
  ml_cluster_state *y = ml_live_acquire_cluster(&l, "c");
  assert_ptr_equal(x, y);
  assert_int_equal(l.clusters.count, 1);
  ml_ep_state *both[] = {a, NULL};
  ml_live_release(&l, both, 2);
  assert_int_equal(l.endpoints.count, 1);
  ml_live_release(&l, both, 1);
  assert_int_equal(l.endpoints.count, 0);
  ml_live_release_cluster(&l, x);
  assert_int_equal(l.clusters.count, 1);
  ml_live_release_cluster(&l, y);
  assert_int_equal(l.clusters.count, 0);
  ml_live_release_cluster(&l, NULL);
  /* Many keys: the table grows; every entry stays findable. */
  ml_cluster_state *many[700];
  for (int i = 0; i < 700; i++) {
    char key[32];
    snprintf(key, sizeof(key), "k%d", i);
    many[i] = ml_live_acquire_cluster(&l, key);
    assert_non_null(many[i]);
  }
  assert_true(l.clusters.bucket_count >= 512);
  for (int i = 0; i < 700; i++) {
    char key[32];
    snprintf(key, sizeof(key), "k%d", i);
    assert_ptr_equal(ml_live_acquire_cluster(&l, key), many[i]);
    ml_live_release_cluster(&l, many[i]);
  }
  ml_live_destroy(&l); /* frees what is left */
}

static void test_cluster_state_per_cluster(void **state) {
  (void)state;
  ct_fixture f;
  ct_setup(&f, "{loadBalancer: {simple: RANDOM}}", 3);
  ml_cluster_state *s = f.k->state;
  ml_ep_state *e0 = f.k->states[0];
  atomic_store(&s->breaker.retries_active, 2);
  ct_build(&f, 1, 2); /* a snapshot swap keeps both */
  assert_ptr_equal(f.k->state, s);
  assert_ptr_equal(f.k->states[0], e0);
  assert_int_equal(atomic_load(&s->breaker.retries_active), 2);
  assert_int_equal(f.live.clusters.count, 1);
  atomic_store(&s->breaker.retries_active, 0);
  ct_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refcounted_entries),
      cmocka_unit_test(test_cluster_state_per_cluster),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
