/* SPDX-License-Identifier: MIT */
/* meshlib_clusters: the public picture of clusters, endpoints, their
 * outlier state and breaker statistics; taken while other threads call
 * (run under TSan). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/internal.h"
#include "meshlib/meshlib.h"
#include "cluster/breaker_wait.h"
#include "cluster/health.h"

static const char kDr[] = "apiVersion: networking.istio.io/v1\n"
                          "kind: DestinationRule\n"
                          "metadata: {name: svc, namespace: default}\n"
                          "spec:\n"
                          "  host: svc\n"
                          "  trafficPolicy:\n"
                          "    loadBalancer: {simple: ROUND_ROBIN}\n"
                          "    outlierDetection: {maxEjectionPercent: 100}\n"
                          "  subsets:\n"
                          "  - name: v1\n"
                          "    labels: {version: v1}\n";

#define HOST "svc.default.svc.cluster.local"

static meshlib *new_mesh(void) {
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(
      meshlib_options_add_config_string(o, "dr.yaml", kDr, strlen(kDr)),
      MESHLIB_OK);
  assert_int_equal(meshlib_options_set_retry_rate_budget(o, 20, 1), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_retry_rate_budget(o, -1, 0),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_retry_rate_budget(o, 20, -1),
                   MESHLIB_ERR_INVALID_ARG);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  assert_true(m->settings.rate_budget.percent == 20);
  assert_true(m->settings.rate_budget.min_per_sec == 1);
  meshlib_options_free(o);
  meshlib_endpoints *e;
  assert_int_equal(meshlib_endpoints_new(&e), MESHLIB_OK);
  assert_int_equal(meshlib_endpoints_add(e, "10.0.0.1", 8080, 3), MESHLIB_OK);
  assert_int_equal(meshlib_endpoints_add_label(e, "version", "v1"), MESHLIB_OK);
  assert_int_equal(meshlib_endpoints_add(e, "10.0.0.2", 8080, 1), MESHLIB_OK);
  assert_int_equal(meshlib_endpoints_add_label(e, "version", "v2"), MESHLIB_OK);
  assert_int_equal(meshlib_set_endpoints(m, "svc", e), MESHLIB_OK);
  meshlib_endpoints_free(e);
  return m;
}

/* The index of cluster |name| in |c|, or -1. */
static long find(const meshlib_clusters *c, const char *name) {
  for (size_t i = 0; i < meshlib_clusters_count(c); i++)
    if (strcmp(meshlib_cluster_name(c, i), name) == 0)
      return (long)i;
  return -1;
}

/* The live cluster |name| of the snapshot in force (held by |snap|). */
static const ml_cluster *live_cluster(meshlib *m, const char *subset,
                                      ml_snapshot **snap) {
  *snap = ml_snapshot_slot_acquire(&m->current);
  const ml_cluster *k = ml_clusters_find((*snap)->clusters, HOST, 0, subset);
  assert_non_null(k);
  return k;
}

static void test_picture(void **state) {
  (void)state;
  meshlib *m = new_mesh();
  meshlib_clusters *c;
  assert_int_equal(meshlib_clusters_snapshot(NULL, &c),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_clusters_snapshot(m, &c), MESHLIB_OK);
  long i = find(c, "outbound|0||" HOST);
  long v1 = find(c, "outbound|0|v1|" HOST);
  assert_true(i >= 0 && v1 >= 0);
  assert_string_equal(meshlib_cluster_host(c, (size_t)i), HOST);
  assert_int_equal(meshlib_cluster_port(c, (size_t)i), 0);
  assert_null(meshlib_cluster_subset(c, (size_t)i));
  assert_string_equal(meshlib_cluster_subset(c, (size_t)v1), "v1");
  assert_string_equal(meshlib_cluster_lb(c, (size_t)i), "ROUND_ROBIN");
  assert_int_equal(meshlib_cluster_endpoint_count(c, (size_t)i), 2);
  assert_int_equal(meshlib_cluster_endpoint_count(c, (size_t)v1), 1);
  meshlib_endpoint_state e;
  assert_int_equal(meshlib_cluster_endpoint(c, (size_t)i, 0, &e), MESHLIB_OK);
  assert_int_equal(e.age, 1);
  assert_string_equal(e.address, "10.0.0.1");
  assert_int_equal(e.port, 8080);
  assert_int_equal(e.weight, 3);
  assert_false(e.ejected);
  assert_int_equal(e.ejected_for_ms, 0);
  assert_int_equal(meshlib_cluster_endpoint(c, (size_t)i, 2, &e),
                   MESHLIB_ERR_RANGE);
  assert_int_equal(meshlib_cluster_endpoint_label_count(c, (size_t)i, 1), 1);
  const char *k, *v;
  assert_int_equal(meshlib_cluster_endpoint_label(c, (size_t)i, 1, 0, &k, &v),
                   MESHLIB_OK);
  assert_string_equal(k, "version");
  assert_string_equal(v, "v2");
  assert_int_equal(meshlib_cluster_endpoint_label(c, (size_t)i, 1, 1, &k, &v),
                   MESHLIB_ERR_RANGE);
  for (int s = 0; s < MESHLIB_CLUSTER_STAT_COUNT; s++) {
    assert_non_null(meshlib_cluster_stat_name((meshlib_cluster_stat)s));
    assert_int_equal(
        meshlib_cluster_stat_value(c, (size_t)i, (meshlib_cluster_stat)s), 0);
  }
  assert_string_equal(meshlib_cluster_stat_name(MESHLIB_CLUSTER_RQ_ACTIVE),
                      "upstream_rq_active");
  assert_null(meshlib_cluster_stat_name(MESHLIB_CLUSTER_STAT_COUNT));
  assert_null(meshlib_cluster_name(c, 99));
  meshlib_clusters_free(c);

  /* Live state shows: an ejection and an admitted request. */
  ml_snapshot *snap;
  const ml_cluster *kl = live_cluster(m, NULL, &snap);
  ml_attempt_result r;
  memset(&r, 0, sizeof(r));
  r.outcome = ML_XFER_OK;
  r.status = 503;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  for (int n = 0; n < 5; n++)
    ml_cluster_report_attempt(kl, 1, &r, now);
  assert_int_equal(ml_cluster_admit(kl->state, NULL, 1, 0), ML_BREAKER_OK);
  assert_int_equal(meshlib_clusters_snapshot(m, &c), MESHLIB_OK);
  i = find(c, "outbound|0||" HOST);
  assert_int_equal(meshlib_cluster_endpoint(c, (size_t)i, 1, &e), MESHLIB_OK);
  assert_true(e.ejected);
  assert_int_equal(e.ejection_count, 1);
  assert_int_equal(e.ejection_multiplier, 1);
  assert_true(e.ejected_for_ms > 25000 && e.ejected_for_ms <= 30000);
  assert_int_equal(meshlib_cluster_stat_value(
                       c, (size_t)i, MESHLIB_CLUSTER_OD_EJECTIONS_ACTIVE),
                   1);
  assert_int_equal(
      meshlib_cluster_stat_value(
          c, (size_t)i, MESHLIB_CLUSTER_OD_EJECTIONS_ENFORCED_CONSECUTIVE_5XX),
      1);
  assert_int_equal(
      meshlib_cluster_stat_value(c, (size_t)i, MESHLIB_CLUSTER_RQ_ACTIVE), 1);
  ml_cluster_release(kl->state, 1);
  ml_snapshot_unref(snap);
  meshlib_clusters_free(c);
  meshlib_free(m);
}

typedef struct reporter {
  meshlib *m;
  _Atomic int stop;
} reporter;

static void *report_loop(void *arg) {
  reporter *rp = arg;
  int64_t now = 1;
  while (!atomic_load(&rp->stop)) {
    ml_snapshot *snap;
    const ml_cluster *k = live_cluster(rp->m, NULL, &snap);
    ml_attempt_result r;
    memset(&r, 0, sizeof(r));
    r.outcome = (now & 3) ? ML_XFER_OK : ML_XFER_CONNECT_FAILURE;
    r.status = (now & 7) ? 503 : 200;
    ml_cluster_report_attempt(k, (size_t)(now & 1), &r, now);
    ml_cluster_outlier_tick(k, now);
    if (ml_cluster_admit(k->state, NULL, 0, 0) == ML_BREAKER_OK)
      ml_cluster_release(k->state, 0);
    ml_snapshot_unref(snap);
    now += 7;
  }
  return NULL;
}

static void *swap_loop(void *arg) {
  reporter *rp = arg;
  for (int n = 0; n < 50 && !atomic_load(&rp->stop); n++) {
    meshlib_endpoints *e;
    meshlib_endpoints_new(&e);
    meshlib_endpoints_add(e, "10.0.0.1", 8080, 1);
    meshlib_endpoints_add(e, n & 1 ? "10.0.0.3" : "10.0.0.2", 8080, 1);
    meshlib_set_endpoints(rp->m, "svc", e);
    meshlib_endpoints_free(e);
  }
  return NULL;
}

static void test_picture_while_calls_run(void **state) {
  (void)state;
  meshlib *m = new_mesh();
  reporter rp = {m, 0};
  pthread_t t[3];
  pthread_create(&t[0], NULL, report_loop, &rp);
  pthread_create(&t[1], NULL, report_loop, &rp);
  pthread_create(&t[2], NULL, swap_loop, &rp);
  for (int n = 0; n < 200; n++) {
    meshlib_clusters *c;
    assert_int_equal(meshlib_clusters_snapshot(m, &c), MESHLIB_OK);
    long i = find(c, "outbound|0||" HOST);
    assert_true(i >= 0);
    size_t eps = meshlib_cluster_endpoint_count(c, (size_t)i);
    assert_int_equal(eps, 2);
    for (size_t j = 0; j < eps; j++) {
      meshlib_endpoint_state e;
      assert_int_equal(meshlib_cluster_endpoint(c, (size_t)i, j, &e),
                       MESHLIB_OK);
      assert_non_null(e.address);
    }
    assert_true(meshlib_cluster_stat_value(
                    c, (size_t)i, MESHLIB_CLUSTER_OD_EJECTIONS_ACTIVE) <= 2);
    meshlib_clusters_free(c);
  }
  atomic_store(&rp.stop, 1);
  for (int n = 0; n < 3; n++)
    pthread_join(t[n], NULL);
  meshlib_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_picture),
      cmocka_unit_test(test_picture_while_calls_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
