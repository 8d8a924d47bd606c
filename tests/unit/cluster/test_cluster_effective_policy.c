/* SPDX-License-Identifier: MIT */
/* The effective traffic policy of a cluster: DestinationRule, subset and
 * port-level settings combined as istiod combines them
 * (MergeSubsetTrafficPolicy), and the balancer configuration it asks
 * for. */
#include "../route/route_test_util.h"

#include "cluster/effective_policy.h"

static const char *const kDr =
    "apiVersion: networking.istio.io/v1\n"
    "kind: DestinationRule\n"
    "metadata: {name: reviews, namespace: default}\n"
    "spec:\n"
    "  host: reviews\n"
    "  trafficPolicy:\n"
    "    loadBalancer: {simple: RANDOM}\n"
    "    connectionPool: {tcp: {maxConnections: 100}}\n"
    "    outlierDetection: {consecutive5xxErrors: 7, minHealthPercent: 40}\n"
    "    retryBudget: {percent: 25}\n"
    "    portLevelSettings:\n"
    "    - port: {number: 9080}\n"
    "      loadBalancer: {simple: ROUND_ROBIN}\n"
    "  subsets:\n"
    "  - name: plain\n"
    "    labels: {version: v1}\n"
    "  - name: pool\n"
    "    labels: {version: v2}\n"
    "    trafficPolicy:\n"
    "      connectionPool: {tcp: {maxConnections: 5}}\n"
    "  - name: lb\n"
    "    labels: {version: v3}\n"
    "    trafficPolicy:\n"
    "      loadBalancer:\n"
    "        consistentHash:\n"
    "          httpHeaderName: x-user\n"
    "          maglev: {tableSize: 1021}\n"
    "      retryBudget: {percent: 50}\n"
    "  - name: ported\n"
    "    labels: {version: v4}\n"
    "    trafficPolicy:\n"
    "      loadBalancer: {simple: LEAST_CONN}\n"
    "      portLevelSettings:\n"
    "      - port: {number: 9080}\n"
    "        connectionPool: {tcp: {maxConnections: 9}}\n";

static void setup_dr(rt_fixture *f, const ml_dr_view **v) {
  rt_setup(f, "default", kDr);
  *v = ml_route_table_find_dr(f->table, "reviews.default.svc.cluster.local");
  assert_non_null(*v);
}

static void test_no_rule_is_all_defaults(void **state) {
  (void)state;
  ml_traffic_policy p;
  ml_policy_sources src;
  memset(&p, 0x5a, sizeof(p));
  assert_int_equal(ml_effective_policy_explain(NULL, NULL, 80, &p, &src),
                   MESHLIB_OK);
  assert_false(p.load_balancer.present);
  assert_false(p.connection_pool.present);
  assert_false(p.outlier_detection.present);
  assert_false(p.tls.present);
  assert_false(p.retry_budget.present);
  assert_int_equal(p.port_level_count, 0);
  assert_int_equal(src.load_balancer, ML_POLICY_DEFAULT);
  ml_lb_config c;
  ml_lb_config_from_policy(&p, &c);
  assert_int_equal(c.kind, ML_LB_KIND_LEAST_REQUEST);
  assert_int_equal(c.panic_threshold_percent, 0);
  ml_lb_config_from_policy(NULL, &c);
  assert_int_equal(c.kind, ML_LB_KIND_LEAST_REQUEST);
}

static void test_dr_level_and_plain_subset(void **state) {
  (void)state;
  rt_fixture f;
  const ml_dr_view *v;
  setup_dr(&f, &v);
  ml_traffic_policy p;
  ml_policy_sources src;
  /* No subset, a port without port-level settings. */
  assert_int_equal(ml_effective_policy_explain(v, NULL, 8080, &p, &src),
                   MESHLIB_OK);
  assert_int_equal(p.load_balancer.simple, ML_LB_RANDOM);
  assert_int_equal(p.connection_pool.max_connections, 100);
  assert_int_equal(p.outlier_detection.consecutive_5xx_errors, 7);
  assert_true(p.retry_budget.present);
  assert_int_equal(src.load_balancer, ML_POLICY_DR);
  assert_int_equal(src.retry_budget, ML_POLICY_DR);
  ml_lb_config c;
  ml_lb_config_from_policy(&p, &c);
  assert_int_equal(c.kind, ML_LB_KIND_RANDOM);
  assert_int_equal(c.panic_threshold_percent, 40);
  /* A subset without a policy changes nothing. */
  assert_int_equal(ml_effective_policy(v, "plain", 8080, &p), MESHLIB_OK);
  assert_int_equal(p.load_balancer.simple, ML_LB_RANDOM);
  assert_int_equal(p.connection_pool.max_connections, 100);
  /* Port 0 (unknown) ignores port-level settings. */
  assert_int_equal(ml_effective_policy(v, NULL, 0, &p), MESHLIB_OK);
  assert_int_equal(p.load_balancer.simple, ML_LB_RANDOM);
  rt_teardown(&f);
}

static void test_subset_overrides_only_what_it_sets(void **state) {
  (void)state;
  rt_fixture f;
  const ml_dr_view *v;
  setup_dr(&f, &v);
  ml_traffic_policy p;
  ml_policy_sources src;
  /* pool sets only connectionPool: the load balancer stays the DR's. */
  assert_int_equal(ml_effective_policy_explain(v, "pool", 8080, &p, &src),
                   MESHLIB_OK);
  assert_int_equal(p.load_balancer.simple, ML_LB_RANDOM);
  assert_int_equal(src.load_balancer, ML_POLICY_DR);
  assert_int_equal(p.connection_pool.max_connections, 5);
  assert_int_equal(src.connection_pool, ML_POLICY_SUBSET);
  assert_int_equal(p.outlier_detection.consecutive_5xx_errors, 7);
  /* lb sets the load balancer and the retry budget. */
  assert_int_equal(ml_effective_policy_explain(v, "lb", 8080, &p, &src),
                   MESHLIB_OK);
  assert_non_null(p.load_balancer.consistent_hash);
  assert_int_equal(src.load_balancer, ML_POLICY_SUBSET);
  assert_int_equal(p.connection_pool.max_connections, 100);
  assert_true(p.retry_budget.percent == 50);
  assert_int_equal(src.retry_budget, ML_POLICY_SUBSET);
  ml_lb_config c;
  ml_lb_config_from_policy(&p, &c);
  assert_int_equal(c.kind, ML_LB_KIND_MAGLEV);
  assert_int_equal(c.maglev_table_size, 1021);
  assert_int_equal(c.panic_threshold_percent, 40);
  /* Unknown subset: reported, host-level policy still filled in. */
  assert_int_equal(ml_effective_policy(v, "nope", 8080, &p),
                   MESHLIB_ERR_NOT_FOUND);
  assert_int_equal(p.load_balancer.simple, ML_LB_RANDOM);
  rt_teardown(&f);
}

static void test_port_level_replaces(void **state) {
  (void)state;
  rt_fixture f;
  const ml_dr_view *v;
  setup_dr(&f, &v);
  ml_traffic_policy p;
  ml_policy_sources src;
  /* DR port-level for 9080 sets only the load balancer: the DR's other
   * groups are not inherited, and its retryBudget is dropped. */
  assert_int_equal(ml_effective_policy_explain(v, NULL, 9080, &p, &src),
                   MESHLIB_OK);
  assert_int_equal(p.load_balancer.simple, ML_LB_ROUND_ROBIN);
  assert_int_equal(src.load_balancer, ML_POLICY_DR_PORT);
  assert_false(p.connection_pool.present);
  assert_false(p.outlier_detection.present);
  assert_false(p.retry_budget.present);
  assert_int_equal(src.connection_pool, ML_POLICY_DEFAULT);
  ml_lb_config c;
  ml_lb_config_from_policy(&p, &c);
  assert_int_equal(c.kind, ML_LB_KIND_ROUND_ROBIN);
  assert_int_equal(c.panic_threshold_percent, 0);
  /* A subset that sets only a connection pool keeps the DR port-level
   * load balancer for 9080. */
  assert_int_equal(ml_effective_policy(v, "pool", 9080, &p), MESHLIB_OK);
  assert_int_equal(p.load_balancer.simple, ML_LB_ROUND_ROBIN);
  assert_int_equal(p.connection_pool.max_connections, 5);
  assert_false(p.outlier_detection.present);
  /* A subset whose own port-level entry matches replaces all four groups:
   * the load balancer it omits there is the default, not LEAST_CONN from
   * its top level nor ROUND_ROBIN from the DR. */
  assert_int_equal(ml_effective_policy_explain(v, "ported", 9080, &p, &src),
                   MESHLIB_OK);
  assert_false(p.load_balancer.present);
  assert_int_equal(src.load_balancer, ML_POLICY_DEFAULT);
  assert_int_equal(p.connection_pool.max_connections, 9);
  assert_int_equal(src.connection_pool, ML_POLICY_SUBSET_PORT);
  /* On another port the same subset's top-level policy applies and
   * inherits the rest from the DR. */
  assert_int_equal(ml_effective_policy_explain(v, "ported", 8080, &p, &src),
                   MESHLIB_OK);
  assert_int_equal(p.load_balancer.simple, ML_LB_LEAST_CONN);
  assert_int_equal(src.load_balancer, ML_POLICY_SUBSET);
  assert_int_equal(p.connection_pool.max_connections, 100);
  assert_true(p.retry_budget.present);
  ml_lb_config_from_policy(&p, &c);
  assert_int_equal(c.kind, ML_LB_KIND_LEAST_REQUEST); /* LEAST_CONN alias */
  rt_teardown(&f);
}

static void test_subset_port_level_keeps_retry_budget(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "default",
           "apiVersion: networking.istio.io/v1\n"
           "kind: DestinationRule\n"
           "metadata: {name: r, namespace: default}\n"
           "spec:\n"
           "  host: ratings\n"
           "  trafficPolicy:\n"
           "    loadBalancer:\n"
           "      consistentHash:\n"
           "        useSourceIp: true\n"
           "        ringHash: {minimumRingSize: 4096}\n"
           "    retryBudget: {percent: 30}\n"
           "  subsets:\n"
           "  - name: s\n"
           "    labels: {version: v1}\n"
           "    trafficPolicy:\n"
           "      portLevelSettings:\n"
           "      - port: {number: 80}\n"
           "        loadBalancer: {simple: PASSTHROUGH}\n");
  const ml_dr_view *v =
      ml_route_table_find_dr(f.table, "ratings.default.svc.cluster.local");
  assert_non_null(v);
  ml_traffic_policy p;
  assert_int_equal(ml_effective_policy(v, "s", 80, &p), MESHLIB_OK);
  assert_int_equal(p.load_balancer.simple, ML_LB_PASSTHROUGH);
  assert_true(p.retry_budget.present);
  assert_true(p.retry_budget.percent == 30);
  ml_lb_config c;
  ml_lb_config_from_policy(&p, &c);
  assert_int_equal(c.kind, ML_LB_KIND_PASSTHROUGH);
  /* Another port: the subset's policy has nothing for it, the DR's ring
   * hash applies. */
  assert_int_equal(ml_effective_policy(v, "s", 81, &p), MESHLIB_OK);
  ml_lb_config_from_policy(&p, &c);
  assert_int_equal(c.kind, ML_LB_KIND_RING_HASH);
  assert_int_equal(c.ring_size_min, 4096);
  rt_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_rule_is_all_defaults),
      cmocka_unit_test(test_dr_level_and_plain_subset),
      cmocka_unit_test(test_subset_overrides_only_what_it_sets),
      cmocka_unit_test(test_port_level_replaces),
      cmocka_unit_test(test_subset_port_level_keeps_retry_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
