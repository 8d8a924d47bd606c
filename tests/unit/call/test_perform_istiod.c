/* SPDX-License-Identifier: MIT */
/* The call path where istiod's route translation decides what Envoy
 * does: rewrite.uri is Envoy's prefix_rewrite of the route as istiod
 * builds it (so it replaces what the match matched, "/" when the match
 * has no uri), and a VirtualService with no rule left for the client
 * leaves the host its default route. Against a real HTTP server on
 * 127.0.0.1 (the mock-upstream kit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"

typedef struct fixture {
  meshlib_mock *up;
  meshlib *mesh;
} fixture;

static char yaml[8192];

static const char *config_yaml(int port) {
  snprintf(yaml, sizeof(yaml),
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: up, namespace: production}\n"
           "spec:\n"
           "  hosts: [up.production.svc.cluster.local, "
           "filtered.production.svc.cluster.local]\n"
           "  location: MESH_INTERNAL\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: up, namespace: production}\n"
           "spec:\n"
           "  hosts: [up]\n"
           "  http:\n"
           "  - name: exact\n"
           "    match: [{uri: {exact: /exact}}]\n"
           "    rewrite: {uri: /v2}\n"
           "    route: [{destination: {host: up}}]\n"
           "  - name: regex\n"
           "    match: [{uri: {regex: '/re/[0-9]+'}}]\n"
           "    rewrite: {uri: /v2}\n"
           "    route: [{destination: {host: up}}]\n"
           "  - name: icase\n"
           "    match: [{uri: {prefix: /API}, ignoreUriCase: true}]\n"
           "    rewrite: {uri: /v2}\n"
           "    route: [{destination: {host: up}}]\n"
           "  - name: or\n"
           "    match:\n"
           "    - uri: {prefix: /or}\n"
           "    - headers: {x-or: {exact: 'yes'}}\n"
           "    rewrite: {uri: /v2}\n"
           "    route: [{destination: {host: up}}]\n"
           "  - name: header\n"
           "    match: [{headers: {x-h: {exact: 'yes'}}}]\n"
           "    rewrite: {uri: /v2}\n"
           "    route: [{destination: {host: up}}]\n"
           "  - name: rest\n"
           "    rewrite: {uri: /v2}\n"
           "    route: [{destination: {host: up}}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: filtered, namespace: production}\n"
           "spec:\n"
           "  hosts: [filtered]\n"
           "  http:\n"
           "  - name: other-client\n"
           "    match: [{sourceNamespace: elsewhere}]\n"
           "    route: [{destination: {host: up}}]\n"
           "  - name: other-labels\n"
           "    match: [{sourceLabels: {app: other}}]\n"
           "    route: [{destination: {host: up}}]\n"
           "  - name: other-port\n"
           "    match: [{port: 9999}]\n"
           "    route: [{destination: {host: up}}]\n",
           port);
  return yaml;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  assert_int_equal(meshlib_mock_new(&f->up), MESHLIB_OK);
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_set_namespace(o, "production");
  const char *y = config_yaml(meshlib_mock_port(f->up));
  meshlib_options_add_config_string(o, "up.yaml", y, strlen(y));
  int rc = meshlib_new(&f->mesh, o);
  if (rc != MESHLIB_OK)
    fail_msg("%s", meshlib_options_errmsg(o));
  meshlib_options_free(o);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  meshlib_free(f->mesh);
  meshlib_mock_free(f->up);
  free(f);
  return 0;
}

/* The path the upstream saw for GET |url| with header |h|: |hv|. */
static void expect_path(fixture *f, const char *url, const char *h,
                        const char *hv, const char *route, const char *want) {
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, f->mesh, "GET", url), MESHLIB_OK);
  if (h)
    meshlib_request_add_header(r, h, hv);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), 200);
  assert_string_equal(meshlib_decision_route_name(meshlib_response_decision(r)),
                      route);
  int n = meshlib_mock_request_count(f->up);
  assert_true(n >= 1);
  assert_string_equal(meshlib_mock_request_path(f->up, n - 1), want);
  meshlib_request_free(r);
}

/* istio: "for prefix path rewrite" (the match has no uri: prefix_rewrite
 * of the default "/" path match). Envoy replaces the "/" matched. */
static void test_rewrite_without_uri_match(void **state) {
  fixture *f = *state;
  expect_path(f, "http://up/foo", NULL, NULL, "rest", "/v2foo");
  expect_path(f, "http://up/foo?x=1", NULL, NULL, "rest", "/v2foo?x=1");
  expect_path(f, "http://up/", NULL, NULL, "rest", "/v2");
  expect_path(f, "http://up/foo/bar", "x-h", "yes", "header", "/v2foo/bar");
}

/* An exact or a regex match is the whole path: it is all replaced, the
 * query kept. */
static void test_rewrite_exact_and_regex(void **state) {
  fixture *f = *state;
  expect_path(f, "http://up/exact", NULL, NULL, "exact", "/v2");
  expect_path(f, "http://up/exact?q=a", NULL, NULL, "exact", "/v2?q=a");
  expect_path(f, "http://up/re/42", NULL, NULL, "regex", "/v2");
}

/* The prefix replaced is that of the match that held: ignoreUriCase
 * included, and "/" for another match of the same rule without a uri. */
static void test_rewrite_matched_prefix(void **state) {
  fixture *f = *state;
  expect_path(f, "http://up/api/items", NULL, NULL, "icase", "/v2/items");
  expect_path(f, "http://up/Api/items", NULL, NULL, "icase", "/v2/items");
  expect_path(f, "http://up/or/x", NULL, NULL, "or", "/v2/x");
  /* The header match held: that route matched on "/", whatever the
   * rule's other match says. */
  expect_path(f, "http://up/zzz", "x-or", "yes", "or", "/v2zzz");
}

/* Every rule of the host's VirtualService is for other clients or
 * another port: no route from it, the host's default route (the host
 * itself), not 404 NR. */
static void test_all_rules_filtered_passthrough(void **state) {
  fixture *f = *state;
  meshlib_request *r;
  assert_int_equal(
      meshlib_request_new(&r, f->mesh, "GET", "http://filtered/some/path"),
      MESHLIB_OK);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), 200);
  assert_int_equal(meshlib_response_flags(r), 0);
  const meshlib_decision *d = meshlib_response_decision(r);
  assert_null(meshlib_decision_vs_name(d));
  assert_int_equal(meshlib_decision_route_index(d), -1);
  assert_string_equal(meshlib_decision_host(d),
                      "filtered.production.svc.cluster.local");
  assert_string_equal(meshlib_response_cluster(r),
                      "outbound|80||filtered.production.svc.cluster.local");
  int n = meshlib_mock_request_count(f->up);
  assert_string_equal(meshlib_mock_request_path(f->up, n - 1), "/some/path");
  meshlib_request_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rewrite_without_uri_match, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rewrite_exact_and_regex, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rewrite_matched_prefix, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_all_rules_filtered_passthrough,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
