/* SPDX-License-Identifier: MIT */
/* The call path end to end, against real HTTP servers on 127.0.0.1 (the
 * mock-upstream kit): routing, canary split, endpoints from config and
 * from the application, local replies with Envoy's flags, rewrites and
 * header rules. */
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
  meshlib_mock *v1, *v2;
  meshlib *mesh;
} fixture;

static char yaml[8192];

/* The seed's canary, with the endpoints of myapp as a ServiceEntry. */
static const char *canary_yaml(int p1, int p2, int w1, int w2) {
  snprintf(
      yaml, sizeof(yaml),
      "apiVersion: networking.istio.io/v1\n"
      "kind: ServiceEntry\n"
      "metadata: {name: myapp, namespace: production}\n"
      "spec:\n"
      "  hosts: [myapp.production.svc.cluster.local]\n"
      "  location: MESH_INTERNAL\n"
      "  resolution: STATIC\n"
      "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
      "  endpoints:\n"
      "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v1}}\n"
      "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v2}}\n"
      "---\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: DestinationRule\n"
      "metadata: {name: myapp, namespace: production}\n"
      "spec:\n"
      "  host: myapp\n"
      "  subsets:\n"
      "  - {name: v1, labels: {version: v1}}\n"
      "  - {name: v2, labels: {version: v2}}\n"
      "  - {name: v3, labels: {version: v3}}\n"
      "---\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata: {name: myapp, namespace: production}\n"
      "spec:\n"
      "  hosts: [myapp]\n"
      "  http:\n"
      "  - name: direct\n"
      "    match: [{uri: {exact: /direct}}]\n"
      "    directResponse: {status: 418, body: {string: teapot}}\n"
      "  - name: moved\n"
      "    match: [{uri: {prefix: /old}}]\n"
      "    redirect: {uri: /new, redirectCode: 308}\n"
      "  - name: none\n"
      "    match: [{uri: {prefix: /nobody}}]\n"
      "    route: [{destination: {host: myapp, subset: v3}}]\n"
      "  - name: missing\n"
      "    match: [{uri: {prefix: /missing}}]\n"
      "    route: [{destination: {host: myapp, subset: v9}}]\n"
      "  - name: rewrite\n"
      "    match: [{uri: {prefix: /api/v1}}]\n"
      "    rewrite: {uri: /v1, authority: backend.internal}\n"
      "    headers:\n"
      "      request: {set: {x-route: rewrite}, remove: [x-secret]}\n"
      "      response: {add: {x-served-via: meshlib}}\n"
      "    route: [{destination: {host: myapp, subset: v1}}]\n"
      "  - name: regex\n"
      "    match: [{uri: {prefix: /r/}}]\n"
      "    rewrite: {uriRegexRewrite: {match: '^/r/([a-z]+)/(\\d+)$', "
      "rewrite: '/items/\\2/\\1'}}\n"
      "    route: [{destination: {host: myapp, subset: v2}}]\n"
      "  - name: slow\n"
      "    match: [{uri: {prefix: /slow}}]\n"
      "    timeout: 200ms\n"
      "    route: [{destination: {host: myapp, subset: v1}}]\n"
      "  - name: only-get\n"
      "    match: [{uri: {prefix: /get-only}, method: {exact: GET}}]\n"
      "    route: [{destination: {host: myapp, subset: v1}}]\n"
      "  - name: canary\n"
      "    match: [{uri: {prefix: /}}]\n"
      "    route:\n"
      "    - {destination: {host: myapp, subset: v1}, weight: %d}\n"
      "    - {destination: {host: myapp, subset: v2}, weight: %d}\n"
      "---\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata: {name: strict, namespace: production}\n"
      "spec:\n"
      "  hosts: [strict]\n"
      "  http:\n"
      "  - match: [{method: {exact: GET}}]\n"
      "    route: [{destination: {host: myapp, subset: v1}}]\n",
      p1, p2, w1, w2);
  return yaml;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  assert_int_equal(meshlib_mock_new(&f->v1), MESHLIB_OK);
  assert_int_equal(meshlib_mock_new(&f->v2), MESHLIB_OK);
  meshlib_mock_set_name(f->v1, "v1");
  meshlib_mock_set_name(f->v2, "v2");
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_set_namespace(o, "production");
  meshlib_options_set_random_seed(o, 42);
  const char *y =
      canary_yaml(meshlib_mock_port(f->v1), meshlib_mock_port(f->v2), 90, 10);
  meshlib_options_add_config_string(o, "canary.yaml", y, strlen(y));
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
  meshlib_mock_free(f->v1);
  meshlib_mock_free(f->v2);
  free(f);
  return 0;
}

static meshlib_request *call(fixture *f, const char *method, const char *url) {
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, f->mesh, method, url), MESHLIB_OK);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  return r;
}

static void test_canary_split(void **state) {
  fixture *f = *state;
  int v1 = 0, v2 = 0;
  enum { N = 2000 };
  for (int i = 0; i < N; i++) {
    meshlib_request *r = call(f, "GET", "http://myapp/page");
    assert_int_equal(meshlib_response_status(r), 200);
    const char *who = meshlib_response_header(r, "x-mock-name");
    assert_non_null(who);
    v1 += strcmp(who, "v1") == 0;
    v2 += strcmp(who, "v2") == 0;
    assert_int_equal(meshlib_response_attempts(r), 1);
    meshlib_request_free(r);
  }
  assert_int_equal(v1 + v2, N);
  /* 90/10 of 2000: 200 expected for v2, sd ~13.4; 5 sd either way. */
  if (v2 < 133 || v2 > 267)
    fail_msg("v2 got %d of %d calls", v2, N);
  /* Connections are kept alive: far fewer than calls. */
  assert_true(meshlib_mock_connection_count(f->v1) <= 4);
}

static void test_served_request_is_right(void **state) {
  fixture *f = *state;
  meshlib_request *r;
  assert_int_equal(
      meshlib_request_new(&r, f->mesh, "POST", "http://myapp/api/v1/items?x=1"),
      MESHLIB_OK);
  meshlib_request_add_header(r, "X-Secret", "s3cr3t");
  meshlib_request_add_header(r, "X-Keep", "yes");
  meshlib_request_set_body(r, "{\"a\":1}", 7);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), 200);
  assert_int_equal(meshlib_response_flags(r), 0);
  assert_string_equal(meshlib_response_header(r, "x-mock-name"), "v1");
  assert_string_equal(meshlib_response_header(r, "x-served-via"), "meshlib");
  assert_string_equal(meshlib_response_cluster(r),
                      "outbound|80|v1|myapp.production.svc.cluster.local");
  char want[64];
  snprintf(want, sizeof(want), "127.0.0.1:%d", meshlib_mock_port(f->v1));
  assert_string_equal(meshlib_response_upstream(r), want);

  int n = meshlib_mock_request_count(f->v1);
  assert_true(n >= 1);
  assert_string_equal(meshlib_mock_request_method(f->v1, n - 1), "POST");
  /* rewrite.uri replaced the matched prefix and kept the query. */
  assert_string_equal(meshlib_mock_request_path(f->v1, n - 1), "/v1/items?x=1");
  assert_string_equal(meshlib_mock_request_header(f->v1, n - 1, "host"),
                      "backend.internal");
  assert_string_equal(meshlib_mock_request_header(f->v1, n - 1, "x-route"),
                      "rewrite");
  assert_null(meshlib_mock_request_header(f->v1, n - 1, "x-secret"));
  assert_string_equal(meshlib_mock_request_header(f->v1, n - 1, "x-keep"),
                      "yes");
  size_t len;
  const char *body = meshlib_mock_request_body(f->v1, n - 1, &len);
  assert_int_equal(len, 7);
  assert_memory_equal(body, "{\"a\":1}", 7);
  meshlib_request_free(r);

  /* Without a rewrite the upstream sees the caller's authority, not the
   * endpoint's address. */
  r = call(f, "GET", "http://myapp/get-only");
  n = meshlib_mock_request_count(f->v1);
  assert_string_equal(meshlib_mock_request_header(f->v1, n - 1, "host"),
                      "myapp");
  meshlib_request_free(r);
}

static void test_regex_rewrite(void **state) {
  fixture *f = *state;
  meshlib_request *r = call(f, "GET", "http://myapp/r/books/42");
  assert_int_equal(meshlib_response_status(r), 200);
  int n = meshlib_mock_request_count(f->v2);
  assert_string_equal(meshlib_mock_request_path(f->v2, n - 1),
                      "/items/42/books");
  meshlib_request_free(r);
}

static void test_local_replies(void **state) {
  fixture *f = *state;
  meshlib_request *r = call(f, "GET", "http://myapp/direct");
  size_t len;
  assert_int_equal(meshlib_response_status(r), 418);
  assert_string_equal(meshlib_response_body(r, &len), "teapot");
  assert_int_equal(meshlib_response_attempts(r), 0);
  meshlib_request_free(r);

  r = call(f, "GET", "http://myapp/old/x");
  assert_int_equal(meshlib_response_status(r), 308);
  assert_string_equal(meshlib_response_header(r, "location"),
                      "http://myapp/new");
  meshlib_request_free(r);

  /* The host has rules, none of which takes POST: 404 NR. */
  r = call(f, "GET", "http://strict/x");
  assert_int_equal(meshlib_response_status(r), 200);
  meshlib_request_free(r);
  r = call(f, "POST", "http://strict/x");
  assert_int_equal(meshlib_response_status(r), 404);
  assert_int_equal(meshlib_response_flags(r), MESHLIB_RF_NR);
  meshlib_request_free(r);

  /* A subset no DestinationRule defines: 503 NC. */
  r = call(f, "GET", "http://myapp/missing");
  assert_int_equal(meshlib_response_status(r), 503);
  assert_int_equal(meshlib_response_flags(r), MESHLIB_RF_NC);
  meshlib_request_free(r);

  /* A subset that selects no endpoint: 503 UH. */
  r = call(f, "GET", "http://myapp/nobody");
  assert_int_equal(meshlib_response_status(r), 503);
  assert_int_equal(meshlib_response_flags(r), MESHLIB_RF_UH);
  meshlib_request_free(r);
}

static void test_timeout_is_ut(void **state) {
  fixture *f = *state;
  meshlib_mock_push_delay(f->v1, 2000, 200);
  meshlib_request *r = call(f, "GET", "http://myapp/slow");
  assert_int_equal(meshlib_response_status(r), 504);
  assert_int_equal(meshlib_response_flags(r), MESHLIB_RF_UT);
  /* 200 ms route timeout; generous bound. */
  assert_true(meshlib_response_duration_us(r) < 1500000);
  meshlib_request_free(r);
  meshlib_mock_reset(f->v1);
}

static void test_app_endpoints_and_connect_failure(void **state) {
  fixture *f = *state;
  meshlib_mock *other;
  assert_int_equal(meshlib_mock_new(&other), MESHLIB_OK);
  meshlib_mock_set_name(other, "other");
  int port = meshlib_mock_port(other);

  /* A host no config knows is called as it is (passthrough). */
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
  meshlib_request *r = call(f, "GET", url);
  assert_int_equal(meshlib_response_status(r), 200);
  assert_string_equal(meshlib_response_header(r, "x-mock-name"), "other");
  meshlib_request_free(r);

  /* The application's own endpoints for a name. */
  meshlib_endpoints *eps;
  assert_int_equal(meshlib_endpoints_new(&eps), MESHLIB_OK);
  assert_int_equal(meshlib_endpoints_add(eps, "127.0.0.1", (uint32_t)port, 1),
                   MESHLIB_OK);
  assert_int_equal(meshlib_set_endpoints(f->mesh, "ratings", eps), MESHLIB_OK);
  meshlib_endpoints_free(eps);
  r = call(f, "GET", "http://ratings:9080/stars");
  assert_int_equal(meshlib_response_status(r), 200);
  assert_string_equal(meshlib_response_header(r, "x-mock-name"), "other");
  meshlib_request_free(r);

  /* The endpoint goes away: connection failure, 503 UF; Istio's default
   * policy retried it twice, in vain (URX). */
  meshlib_mock_free(other);
  r = call(f, "GET", "http://ratings:9080/stars");
  assert_int_equal(meshlib_response_status(r), 503);
  assert_int_equal(meshlib_response_flags(r), MESHLIB_RF_UF | MESHLIB_RF_URX);
  assert_int_equal(meshlib_response_attempts(r), 3);
  meshlib_request_free(r);

  /* Removing them falls back to the name itself (which does not resolve
   * here): still a clean 503 UF, no crash. */
  assert_int_equal(meshlib_set_endpoints(f->mesh, "ratings", NULL), MESHLIB_OK);
}

/* consistentHash.httpCookie with a ttl: a call without the cookie gets
 * one (Set-Cookie), and calls that carry it stick to one endpoint. */
static void test_generated_cookie_sticks(void **state) {
  fixture *f = *state;
  char y[2048];
  snprintf(y, sizeof(y),
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: sticky, namespace: production}\n"
           "spec:\n"
           "  hosts: [sticky.production.svc.cluster.local]\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints:\n"
           "  - {address: 127.0.0.1, ports: {http: %d}}\n"
           "  - {address: 127.0.0.1, ports: {http: %d}}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: DestinationRule\n"
           "metadata: {name: sticky, namespace: production}\n"
           "spec:\n"
           "  host: sticky\n"
           "  trafficPolicy:\n"
           "    loadBalancer:\n"
           "      consistentHash:\n"
           "        httpCookie: {name: session, path: /, ttl: 3600s}\n",
           meshlib_mock_port(f->v1), meshlib_mock_port(f->v2));
  meshlib_config *c;
  assert_int_equal(meshlib_config_new(&c, f->mesh), MESHLIB_OK);
  meshlib_config_add_string(c, "canary.yaml", yaml, strlen(yaml));
  meshlib_config_add_string(c, "sticky.yaml", y, strlen(y));
  assert_int_equal(meshlib_config_apply(c), MESHLIB_OK);
  meshlib_config_free(c);

  int seen_v1 = 0, seen_v2 = 0;
  for (int user = 0; user < 16; user++) {
    meshlib_request *r = call(f, "GET", "http://sticky/cart");
    assert_int_equal(meshlib_response_status(r), 200);
    const char *set = meshlib_response_header(r, "set-cookie");
    assert_non_null(set);
    assert_true(strncmp(set, "session=\"", 9) == 0);
    assert_non_null(strstr(set, "; Max-Age=3600; Path=/; HttpOnly"));
    char cookie[64];
    snprintf(cookie, sizeof(cookie), "%.*s", (int)(strchr(set, ';') - set),
             set);
    char first[16];
    snprintf(first, sizeof(first), "%s",
             meshlib_response_header(r, "x-mock-name"));
    meshlib_request_free(r);
    for (int i = 0; i < 5; i++) {
      meshlib_request *again;
      assert_int_equal(
          meshlib_request_new(&again, f->mesh, "GET", "http://sticky/cart"),
          MESHLIB_OK);
      meshlib_request_add_header(again, "cookie", cookie);
      assert_int_equal(meshlib_request_perform(again), MESHLIB_OK);
      assert_string_equal(meshlib_response_header(again, "x-mock-name"), first);
      assert_null(meshlib_response_header(again, "set-cookie"));
      meshlib_request_free(again);
    }
    seen_v1 += strcmp(first, "v1") == 0;
    seen_v2 += strcmp(first, "v2") == 0;
  }
  /* New cookies spread users over both endpoints. */
  assert_true(seen_v1 > 0 && seen_v2 > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_canary_split, setup, teardown),
      cmocka_unit_test_setup_teardown(test_served_request_is_right, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_regex_rewrite, setup, teardown),
      cmocka_unit_test_setup_teardown(test_local_replies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout_is_ut, setup, teardown),
      cmocka_unit_test_setup_teardown(test_app_endpoints_and_connect_failure,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_generated_cookie_sticks, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
