/* SPDX-License-Identifier: MIT */
/* DestinationRule views: Istio's merge of several rules for one host, the
 * most specific host, the namespace lookup order, and what is left out. */
#include "route_test_util.h"

#include <stdio.h>
#include <stdlib.h>

/* Append a DestinationRule |name| in |ns| whose spec is |spec| (YAML,
 * indented by two) to the NUL-terminated |buf| of |cap| bytes. */
static void add_dr(char *buf, size_t cap, const char *name, const char *ns,
                   const char *spec) {
  size_t n = strlen(buf);
  int w = snprintf(buf + n, cap - n,
                   "---\n"
                   "apiVersion: networking.istio.io/v1\n"
                   "kind: DestinationRule\n"
                   "metadata: {name: %s, namespace: %s}\n"
                   "spec:\n%s",
                   name, ns, spec);
  assert_true(w > 0 && (size_t)w < cap - n);
}

static void test_merge_first_wins(void **state) {
  (void)state;
  char y[4096] = "";
  add_dr(y, sizeof(y), "a", "default",
         "  host: reviews\n"
         "  subsets:\n"
         "  - {name: v1, labels: {version: v1}}\n");
  add_dr(y, sizeof(y), "b", "default",
         "  host: reviews.default.svc.cluster.local\n"
         "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"
         "  subsets:\n"
         "  - {name: v1, labels: {version: other}}\n"
         "  - {name: v2, labels: {version: v2}}\n");
  add_dr(y, sizeof(y), "c", "default",
         "  host: reviews\n"
         "  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n"
         "  subsets:\n"
         "  - {name: v3, labels: {version: v3}}\n");
  rt_fixture f;
  rt_setup(&f, "default", y);
  const ml_dr_view *v =
      ml_route_table_find_dr(f.table, "reviews.default.svc.cluster.local");
  assert_non_null(v);
  assert_string_equal(v->host_fqdn, "reviews.default.svc.cluster.local");
  assert_string_equal(v->first->meta.name, "a");
  /* a has no trafficPolicy: b's is the first one. */
  assert_non_null(v->traffic_policy);
  assert_int_equal(v->traffic_policy->load_balancer.simple, ML_LB_RANDOM);
  assert_int_equal(v->subset_count, 3);
  const ml_subset *s1 = ml_dr_view_subset(v, "v1");
  assert_non_null(s1);
  assert_string_equal(s1->labels.items[0].value, "v1");
  assert_string_equal(ml_dr_view_subset(v, "v2")->labels.items[0].value, "v2");
  assert_non_null(ml_dr_view_subset(v, "v3"));
  assert_null(ml_dr_view_subset(v, "v4"));
  assert_null(ml_dr_view_subset(NULL, "v1"));
  assert_null(
      ml_route_table_find_dr(f.table, "ratings.default.svc.cluster.local"));
  /* Only FQDNs are looked up. */
  assert_null(ml_route_table_find_dr(f.table, "reviews"));
  rt_teardown(&f);
}

static const char *dr_name(const rt_fixture *f, const char *host) {
  const ml_dr_view *v = ml_route_table_find_dr(f->table, host);
  return v ? v->first->meta.name : "<none>";
}

static void test_most_specific_host(void **state) {
  (void)state;
  char y[4096] = "";
  add_dr(y, sizeof(y), "wide", "default", "  host: '*.example.com'\n");
  add_dr(y, sizeof(y), "narrow", "default", "  host: '*.api.example.com'\n");
  add_dr(y, sizeof(y), "exact", "default", "  host: v1.api.example.com\n");
  add_dr(y, sizeof(y), "all", "default", "  host: '*'\n");
  rt_fixture f;
  rt_setup(&f, "default", y);
  assert_string_equal(dr_name(&f, "v1.api.example.com"), "exact");
  assert_string_equal(dr_name(&f, "v2.api.example.com"), "narrow");
  assert_string_equal(dr_name(&f, "www.example.com"), "wide");
  assert_string_equal(dr_name(&f, "example.com"), "all");
  assert_string_equal(dr_name(&f, "reviews.default.svc.cluster.local"), "all");
  /* A wildcard destination is covered by a wider or equal wildcard. */
  assert_string_equal(dr_name(&f, "*.api.example.com"), "narrow");
  rt_teardown(&f);
}

/* DRs for reviews.prod from five places, in this load order. */
static void ns_yaml(char *y, size_t cap) {
  y[0] = '\0';
  add_dr(y, cap, "other", "elsewhere",
         "  host: reviews.prod.svc.cluster.local\n"
         "  subsets: [{name: other, labels: {v: o}}]\n");
  add_dr(y, cap, "root", "istio-system",
         "  host: reviews.prod.svc.cluster.local\n"
         "  subsets: [{name: root, labels: {v: r}}]\n");
  add_dr(y, cap, "service", "prod",
         "  host: reviews\n"
         "  subsets: [{name: service, labels: {v: s}}]\n");
  add_dr(y, cap, "client", "client",
         "  host: reviews.prod.svc.cluster.local\n"
         "  subsets: [{name: client, labels: {v: c}}]\n");
  add_dr(y, cap, "client2", "client",
         "  host: reviews.prod.svc.cluster.local\n"
         "  subsets: [{name: client2, labels: {v: c2}}]\n");
}

static void test_namespace_order(void **state) {
  (void)state;
  const char *host = "reviews.prod.svc.cluster.local";
  char y[4096];
  ns_yaml(y, sizeof(y));
  rt_fixture f;
  /* The client's namespace first; its DRs merge, no others join. */
  rt_setup(&f, "client", y);
  const ml_dr_view *v = ml_route_table_find_dr(f.table, host);
  assert_non_null(v);
  assert_string_equal(v->first->meta.name, "client");
  assert_int_equal(v->subset_count, 2);
  assert_non_null(ml_dr_view_subset(v, "client2"));
  assert_null(ml_dr_view_subset(v, "service"));
  /* Then the service's namespace. */
  rt_build(&f, "somewhere");
  v = ml_route_table_find_dr(f.table, host);
  assert_string_equal(v->first->meta.name, "service");
  assert_int_equal(v->subset_count, 1);
  rt_teardown(&f);

  /* Then the root namespace, then the rest in load order. */
  y[0] = '\0';
  add_dr(y, sizeof(y), "other", "elsewhere", "  host: reviews.prod\n");
  add_dr(y, sizeof(y), "root", "istio-system",
         "  host: reviews.prod.svc.cluster.local\n");
  rt_setup(&f, "somewhere", y);
  assert_string_equal(dr_name(&f, "reviews.prod"), "other");
  assert_string_equal(dr_name(&f, host), "root");
  rt_teardown(&f);
  y[0] = '\0';
  add_dr(y, sizeof(y), "other", "elsewhere", "  host: '*.cluster.local'\n");
  add_dr(y, sizeof(y), "other2", "elsewhere2", "  host: '*.cluster.local'\n");
  rt_setup(&f, "somewhere", y);
  assert_string_equal(dr_name(&f, host), "other");
  rt_teardown(&f);
}

static void test_left_out(void **state) {
  (void)state;
  char y[4096] = "";
  add_dr(y, sizeof(y), "selected", "default",
         "  host: a\n"
         "  workloadSelector: {matchLabels: {app: server}}\n");
  add_dr(y, sizeof(y), "private", "team",
         "  host: b.default.svc.cluster.local\n"
         "  exportTo: [.]\n");
  rt_fixture f;
  rt_setup(&f, "default", y);
  assert_string_equal(dr_name(&f, "a.default.svc.cluster.local"), "<none>");
  assert_string_equal(dr_name(&f, "b.default.svc.cluster.local"), "<none>");
  rt_build(&f, "team");
  assert_string_equal(dr_name(&f, "b.default.svc.cluster.local"), "private");
  rt_teardown(&f);
}

/* Every allocation of a build fails in turn: each failure must give
 * MESHLIB_ERR_NOMEM and leak nothing (checked under ASan). */
typedef struct fail_alloc {
  size_t calls;
  size_t fail_at;
} fail_alloc;

static void *fa_malloc(size_t n, void *ud) {
  fail_alloc *fa = ud;
  if (fa->calls++ == fa->fail_at)
    return NULL;
  return malloc(n);
}

static void *fa_calloc(size_t m, size_t n, void *ud) {
  fail_alloc *fa = ud;
  if (fa->calls++ == fa->fail_at)
    return NULL;
  return calloc(m, n);
}

static void *fa_realloc(void *p, size_t n, void *ud) {
  fail_alloc *fa = ud;
  if (fa->calls++ == fa->fail_at)
    return NULL;
  return realloc(p, n);
}

static void fa_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static void test_build_out_of_memory(void **state) {
  (void)state;
  char y[4096];
  ns_yaml(y, sizeof(y));
  rt_fixture f;
  rt_setup(&f, "client", y);
  rt_load_into(f.config,
               "apiVersion: networking.istio.io/v1\n"
               "kind: VirtualService\n"
               "metadata: {name: r, namespace: prod}\n"
               "spec:\n"
               "  hosts: [reviews, '*.example.com']\n"
               "  http:\n"
               "  - match: [{uri: {prefix: /a}, headers: {X-A: {exact: b}}}]\n"
               "    route: [{destination: {host: reviews}}]\n");
  ml_route_settings s = {"client", "cluster.local"};
  int ok = 0;
  for (size_t fail_at = 0; fail_at < 1000 && !ok; fail_at++) {
    fail_alloc fa = {0, fail_at};
    meshlib_allocator a = {&fa, fa_malloc, fa_free, fa_calloc, fa_realloc};
    ml_route_table *t = NULL;
    int rc = ml_route_table_build(&a, f.config, &s, &t);
    if (rc == MESHLIB_OK) {
      assert_true(fa.calls <= fail_at); /* nothing failed */
      ml_route_input in = {0};
      in.host = "reviews.prod";
      in.path = "/a";
      ml_header h = {"x-a", "b"};
      in.headers = &h;
      in.header_count = 1;
      ml_route_result res;
      assert_int_equal(ml_route_decide(t, &in, &res), MESHLIB_OK);
      assert_int_equal(res.route_index, 0);
      ml_route_table_free(t);
      ok = 1;
    } else {
      assert_int_equal(rc, MESHLIB_ERR_NOMEM);
      assert_null(t);
    }
  }
  assert_true(ok);
  rt_teardown(&f);
}

static void test_empty_config(void **state) {
  (void)state;
  ml_config *c = ml_config_new(NULL);
  assert_non_null(c);
  ml_route_table *t = NULL;
  assert_int_equal(ml_route_table_build(NULL, c, NULL, &t), MESHLIB_OK);
  assert_null(ml_route_table_find_dr(t, "x"));
  ml_route_input in = {0};
  in.host = "x";
  ml_route_result res;
  assert_int_equal(ml_route_decide(t, &in, &res), MESHLIB_OK);
  assert_null(res.vs);
  ml_route_table_free(t);
  ml_route_table_free(NULL);
  assert_int_equal(ml_route_table_build(NULL, NULL, NULL, &t),
                   MESHLIB_ERR_INVALID_ARG);
  ml_config_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_merge_first_wins),
      cmocka_unit_test(test_most_specific_host),
      cmocka_unit_test(test_namespace_order),
      cmocka_unit_test(test_left_out),
      cmocka_unit_test(test_empty_config),
      cmocka_unit_test(test_build_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
