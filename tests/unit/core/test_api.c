/* SPDX-License-Identifier: MIT */
/* The public API: options, errors, config apply and rollback, requests,
 * decisions and their JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshlib/meshlib.h"

static const char good_vs[] = "apiVersion: networking.istio.io/v1\n"
                              "kind: VirtualService\n"
                              "metadata: {name: reviews, namespace: default}\n"
                              "spec:\n"
                              "  hosts: [reviews]\n"
                              "  http:\n"
                              "  - name: beta\n"
                              "    match:\n"
                              "    - headers: {x-user: {exact: beta}}\n"
                              "    route:\n"
                              "    - destination: {host: reviews, subset: v2}\n"
                              "  - route:\n"
                              "    - destination: {host: reviews, subset: v1}\n"
                              "      weight: 90\n"
                              "    - destination: {host: reviews, subset: v2}\n"
                              "      weight: 10\n"
                              "    timeout: 2s\n"
                              "---\n"
                              "apiVersion: networking.istio.io/v1\n"
                              "kind: DestinationRule\n"
                              "metadata: {name: reviews, namespace: default}\n"
                              "spec:\n"
                              "  host: reviews\n"
                              "  subsets:\n"
                              "  - {name: v1, labels: {version: v1}}\n";

static const char bad_vs[] = "apiVersion: networking.istio.io/v1\n"
                             "kind: VirtualService\n"
                             "metadata: {name: reviews, namespace: default}\n"
                             "spec:\n"
                             "  hosts: [reviews]\n"
                             "  http:\n"
                             "  - route:\n"
                             "    - destination: {host: reviews}\n"
                             "    retries:\n"
                             "      attempts: many\n";

static meshlib *new_mesh(void) {
  meshlib_options *o;
  meshlib *m;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  return m;
}

static int apply(meshlib *m, const char *yaml, char *err, size_t errlen) {
  meshlib_config *c;
  assert_int_equal(meshlib_config_new(&c, m), MESHLIB_OK);
  meshlib_config_add_string(c, "test.yaml", yaml, strlen(yaml));
  int rc = meshlib_config_apply(c);
  if (err)
    snprintf(err, errlen, "%s", meshlib_config_errmsg(c));
  meshlib_config_free(c);
  return rc;
}

static void test_errors(void **state) {
  (void)state;
  assert_string_equal(meshlib_strerror(MESHLIB_OK), "success");
  assert_string_equal(meshlib_err_name(MESHLIB_ERR_CONFIG),
                      "MESHLIB_ERR_CONFIG");
  assert_string_equal(meshlib_strerror(-12345), "unknown error");
  assert_false(meshlib_is_fatal(MESHLIB_ERR_NOMEM));
  assert_true(meshlib_is_fatal(-901));
}

static void test_options_misuse(void **state) {
  (void)state;
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(NULL), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_namespace(o, ""),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_workload_label(o, NULL, "x"),
                   MESHLIB_ERR_INVALID_ARG);
  meshlib_allocator half = {0};
  assert_int_equal(meshlib_options_set_allocator(o, &half),
                   MESHLIB_ERR_INVALID_ARG);
  assert_string_equal(meshlib_options_errmsg(o), "");
  meshlib_options_free(o);
  meshlib_options_free(NULL);
  meshlib_free(NULL);
  meshlib_request_free(NULL);
  meshlib_config_free(NULL);
  /* A wrong handle is refused, not trusted. */
  assert_int_equal(meshlib_new(NULL, NULL), MESHLIB_ERR_INVALID_ARG);
}

static void test_bad_config_at_start_fails_clearly(void **state) {
  (void)state;
  meshlib_options *o;
  meshlib *m = NULL;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(
      meshlib_options_add_config_string(o, "bad.yaml", bad_vs, strlen(bad_vs)),
      MESHLIB_OK);
  assert_int_not_equal(meshlib_new(&m, o), MESHLIB_OK);
  assert_null(m);
  assert_string_equal(meshlib_options_errmsg(o),
                      "bad.yaml:10:17: spec.http[0].retries.attempts: "
                      "expected an integer");
  meshlib_options_free(o);
}

static void test_bad_config_keeps_last_good(void **state) {
  (void)state;
  meshlib *m = new_mesh();
  char err[512];
  assert_int_equal(meshlib_config_version(m), 0);
  assert_int_equal(apply(m, good_vs, err, sizeof(err)), MESHLIB_OK);
  assert_int_equal(meshlib_config_version(m), 1);
  assert_int_not_equal(apply(m, bad_vs, err, sizeof(err)), MESHLIB_OK);
  assert_non_null(strstr(err, "test.yaml:10:17"));
  assert_int_equal(meshlib_config_version(m), 1);

  meshlib_request *r;
  const meshlib_decision *d;
  assert_int_equal(meshlib_request_new(&r, m, "GET", "http://reviews/"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_request_route(r, &d), MESHLIB_OK);
  assert_string_equal(meshlib_decision_vs_name(d), "reviews");
  assert_int_equal(meshlib_decision_destination_count(d), 2);
  meshlib_request_free(r);
  meshlib_free(m);
}

static void test_request_url_and_headers(void **state) {
  (void)state;
  meshlib *m = new_mesh();
  meshlib_request *r = NULL;
  assert_int_equal(meshlib_request_new(&r, m, "GET", "/relative"),
                   MESHLIB_ERR_BAD_URL);
  assert_int_equal(meshlib_request_new(&r, m, "GET", "http://"),
                   MESHLIB_ERR_BAD_URL);
  assert_int_equal(meshlib_request_new(&r, m, "GE T", "http://a/"),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(
      meshlib_request_new(&r, m, "POST", "https://Ratings.Prod:8443/a?b=1"),
      MESHLIB_OK);
  assert_int_equal(meshlib_request_add_header(r, "x-ok", "v"), MESHLIB_OK);
  assert_int_equal(meshlib_request_add_header(r, "bad name", "v"),
                   MESHLIB_ERR_BAD_HEADER);
  assert_int_equal(meshlib_request_add_header(r, "x-a", "v\r\nx-b: 1"),
                   MESHLIB_ERR_BAD_HEADER);
  assert_true(strlen(meshlib_request_errmsg(r)) > 0);

  const meshlib_decision *d;
  assert_int_equal(meshlib_request_route(r, &d), MESHLIB_OK);
  /* No rules: the host routes to itself, on its own port. */
  assert_null(meshlib_decision_vs_name(d));
  assert_string_equal(meshlib_decision_host(d), "ratings.prod");
  assert_int_equal(meshlib_decision_port(d), 8443);
  assert_int_equal(meshlib_decision_destination_count(d), 1);
  assert_int_equal(meshlib_decision_destination_weight(d, 0), 100);
  assert_string_equal(meshlib_decision_destination_cluster(d, 0),
                      "outbound|8443||ratings.prod");
  assert_int_equal(meshlib_decision_response_flags(d), 0);
  meshlib_request_free(r);

  /* A bare name resolves in the client's namespace. */
  assert_int_equal(meshlib_request_new(&r, m, "GET", "http://details/"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_request_route(r, &d), MESHLIB_OK);
  assert_string_equal(meshlib_decision_host(d),
                      "details.default.svc.cluster.local");
  assert_int_equal(meshlib_decision_port(d), 80);
  meshlib_request_free(r);
  meshlib_free(m);
}

static void test_decision_parts_and_json(void **state) {
  (void)state;
  meshlib *m = new_mesh();
  assert_int_equal(apply(m, good_vs, NULL, 0), MESHLIB_OK);
  meshlib_request *r;
  const meshlib_decision *d;
  assert_int_equal(
      meshlib_request_new(&r, m, "GET", "http://reviews.default:9080/x"),
      MESHLIB_OK);
  assert_int_equal(meshlib_request_route(r, &d), MESHLIB_OK);
  assert_string_equal(meshlib_decision_host(d),
                      "reviews.default.svc.cluster.local");
  assert_string_equal(meshlib_decision_route_name(d), "1");
  assert_int_equal(meshlib_decision_route_index(d), 1);
  assert_int_equal(meshlib_decision_timeout_ms(d), 2000);
  assert_false(meshlib_decision_has_retries(d));
  assert_int_equal(meshlib_decision_destination_count(d), 2);
  assert_int_equal(meshlib_decision_destination_weight(d, 0), 90);
  assert_int_equal(meshlib_decision_destination_weight(d, 1), 10);
  assert_string_equal(meshlib_decision_destination_rule(d, 0),
                      "default/reviews");
  assert_string_equal(meshlib_decision_destination_cluster(d, 1),
                      "outbound|9080|v2|reviews.default.svc.cluster.local");
  /* v2 is not defined by the DestinationRule: a call would get 503 NC. */
  assert_false(meshlib_decision_destination_missing_subset(d, 0));
  assert_true(meshlib_decision_destination_missing_subset(d, 1));
  assert_true(meshlib_decision_response_flags(d) & MESHLIB_RF_NC);

  char *json = NULL;
  assert_int_equal(meshlib_decision_to_json(d, &json), MESHLIB_OK);
  assert_non_null(strstr(json, "\"virtual_service\":\"default/reviews\""));
  assert_non_null(strstr(json, "\"route\":\"1\""));
  assert_non_null(strstr(json, "\"timeout_ms\":2000"));
  assert_non_null(strstr(json, "\"retries\":null"));
  assert_non_null(strstr(json, "\"response_flags\":\"NC\""));
  meshlib_free_str(m, json);

  /* The header route. */
  assert_int_equal(meshlib_request_add_header(r, "X-User", "beta"), MESHLIB_OK);
  assert_int_equal(meshlib_request_route(r, &d), MESHLIB_OK);
  assert_string_equal(meshlib_decision_route_name(d), "beta");
  assert_string_equal(meshlib_decision_destination_subset(d, 0), "v2");
  assert_int_equal(meshlib_decision_destination_weight(d, 0), 100);
  assert_int_equal(meshlib_decision_timeout_ms(d), -1);
  meshlib_request_free(r);
  meshlib_free(m);
}

static void test_flags_text(void **state) {
  (void)state;
  char buf[32];
  assert_int_equal(meshlib_response_flags_str(0, buf, sizeof(buf)), 1);
  assert_string_equal(buf, "-");
  meshlib_response_flags_str(MESHLIB_RF_UF | MESHLIB_RF_URX, buf, sizeof(buf));
  assert_string_equal(buf, "UF,URX");
  /* Truncation still terminates and reports the full length. */
  assert_int_equal(
      meshlib_response_flags_str(MESHLIB_RF_UF | MESHLIB_RF_URX, buf, 3), 6);
  assert_string_equal(buf, "UF");
}

/* The allocator hooks carry all of the mesh's memory. */
static size_t live;
static void *t_malloc(size_t n, void *ud) {
  (void)ud;
  live++;
  return malloc(n);
}
static void t_free(void *p, void *ud) {
  (void)ud;
  if (p)
    live--;
  free(p);
}
static void *t_calloc(size_t a, size_t b, void *ud) {
  (void)ud;
  live++;
  return calloc(a, b);
}
static void *t_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  if (!p)
    live++;
  return realloc(p, n);
}

static void test_allocator_hooks(void **state) {
  (void)state;
  meshlib_allocator a = {NULL, t_malloc, t_free, t_calloc, t_realloc};
  meshlib_options *o;
  meshlib *m;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_namespace(o, "prod"), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_allocator(&*o, &a), MESHLIB_OK);
  assert_int_equal(
      meshlib_options_add_config_string(o, "a.yaml", good_vs, strlen(good_vs)),
      MESHLIB_OK);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  assert_true(live > 0);
  meshlib_request *r;
  const meshlib_decision *d;
  assert_int_equal(meshlib_request_new(&r, m, "GET", "http://reviews.default/"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_request_route(r, &d), MESHLIB_OK);
  assert_string_equal(meshlib_decision_vs_name(d), "reviews");
  meshlib_request_free(r);
  meshlib_free(m);
  assert_int_equal(live, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_options_misuse),
      cmocka_unit_test(test_bad_config_at_start_fails_clearly),
      cmocka_unit_test(test_bad_config_keeps_last_good),
      cmocka_unit_test(test_request_url_and_headers),
      cmocka_unit_test(test_decision_parts_and_json),
      cmocka_unit_test(test_flags_text),
      cmocka_unit_test(test_allocator_hooks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
