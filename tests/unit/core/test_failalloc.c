/* SPDX-License-Identifier: MIT */
/* nghttp2's failmalloc and curl's torture idea: run the whole public flow
 * with allocation number N failing, for every N until the flow succeeds.
 * Each run must fail cleanly (an error code, no crash, no leak under ASan)
 * or succeed with the right answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshlib/meshlib.h"

static long fail_at; /* the allocation to fail, 1-based; 0 = none */
static long count;   /* allocations so far */
static long live;    /* blocks held */

static int should_fail(void) {
  return ++count == fail_at;
}
static void *f_malloc(size_t n, void *ud) {
  (void)ud;
  if (should_fail())
    return NULL;
  live++;
  return malloc(n);
}
static void f_free(void *p, void *ud) {
  (void)ud;
  if (p)
    live--;
  free(p);
}
static void *f_calloc(size_t a, size_t b, void *ud) {
  (void)ud;
  if (should_fail())
    return NULL;
  live++;
  return calloc(a, b);
}
static void *f_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  if (should_fail())
    return NULL;
  if (!p)
    live++;
  return realloc(p, n);
}

static const char yaml[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: reviews, namespace: prod}\n"
    "spec:\n"
    "  hosts: [reviews, '*.example.com']\n"
    "  http:\n"
    "  - match:\n"
    "    - uri: {regex: '/api/v[0-9]+/.*'}\n"
    "      headers: {x-user: {prefix: be}}\n"
    "    route:\n"
    "    - destination: {host: reviews, subset: v2}\n"
    "    retries: {attempts: 3, perTryTimeout: 1s}\n"
    "  - route:\n"
    "    - {destination: {host: reviews, subset: v1}, weight: 80}\n"
    "    - {destination: {host: reviews, subset: v2}, weight: 20}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: DestinationRule\n"
    "metadata: {name: reviews, namespace: prod}\n"
    "spec:\n"
    "  host: reviews\n"
    "  subsets:\n"
    "  - {name: v1, labels: {version: v1}}\n"
    "  - {name: v2, labels: {version: v2}}\n";

/* Returns 1 when the whole flow succeeded. */
static int run_flow(void) {
  meshlib_allocator a = {NULL, f_malloc, f_free, f_calloc, f_realloc};
  meshlib_options *o = NULL;
  meshlib *m = NULL;
  meshlib_request *r = NULL;
  char *json = NULL;
  int ok = 0;
  /* The options object itself comes from libc; what it holds after
   * set_allocator comes from the hooks. */
  if (meshlib_options_new(&o) != MESHLIB_OK)
    return 0;
  if (meshlib_options_set_allocator(o, &a) != MESHLIB_OK ||
      meshlib_options_set_namespace(o, "prod") != MESHLIB_OK ||
      meshlib_options_add_config_string(o, "f.yaml", yaml, strlen(yaml)) !=
          MESHLIB_OK)
    goto out;
  int rc = meshlib_new(&m, o);
  if (rc != MESHLIB_OK) {
    assert_null(m);
    goto out;
  }
  const meshlib_decision *d;
  if (meshlib_request_new(&r, m, "GET", "http://reviews/api/v1/x") !=
          MESHLIB_OK ||
      meshlib_request_add_header(r, "X-User", "beta") != MESHLIB_OK ||
      meshlib_request_route(r, &d) != MESHLIB_OK ||
      meshlib_decision_to_json(d, &json) != MESHLIB_OK)
    goto out;
  assert_string_equal(meshlib_decision_destination_subset(d, 0), "v2");
  assert_string_equal(meshlib_decision_destination_rule(d, 0), "prod/reviews");
  assert_non_null(strstr(json, "\"attempts\":3"));
  ok = 1;
out:
  if (m)
    meshlib_free_str(m, json);
  meshlib_request_free(r);
  meshlib_free(m);
  meshlib_options_free(o);
  return ok;
}

static void test_every_allocation_can_fail(void **state) {
  (void)state;
  fail_at = 0;
  count = 0;
  assert_true(run_flow());
  long total = count, failures = 0;
  assert_true(total > 10);
  for (fail_at = 1; fail_at <= total; fail_at++) {
    count = 0;
    live = 0;
    /* A run may succeed when the failed allocation was optional (an
     * empty error message); run_flow() then checks the answer is right. */
    failures += !run_flow();
    if (live != 0)
      fail_msg("allocation %ld failing leaked %ld blocks", fail_at, live);
  }
  /* Nearly every allocation matters: most runs must have failed. */
  assert_true(failures > total / 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_allocation_can_fail),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
