/* SPDX-License-Identifier: MIT */
/* Many threads share one mesh and call without pause while the config
 * flips between two versions and the application replaces endpoints:
 * no call fails, none sees a mix of two versions. Runs under TSan too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"

enum { THREADS = 6, CALLS = 150, FLIPS = 40 };

static meshlib_mock *v1, *v2;

/* Version "a" sends everything to v1, "b" to v2. */
static const char *config(char *buf, size_t len, int which) {
  snprintf(buf, len,
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: svc, namespace: default}\n"
           "spec:\n"
           "  hosts: [svc.default.svc.cluster.local]\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints:\n"
           "  - {address: 127.0.0.1, ports: {http: %d}, labels: {v: '1'}}\n"
           "  - {address: 127.0.0.1, ports: {http: %d}, labels: {v: '2'}}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: DestinationRule\n"
           "metadata: {name: svc, namespace: default}\n"
           "spec:\n"
           "  host: svc\n"
           "  subsets: [{name: v1, labels: {v: '1'}}, {name: v2, labels: "
           "{v: '2'}}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: %s, namespace: default}\n"
           "spec:\n"
           "  hosts: [svc]\n"
           "  http: [{route: [{destination: {host: svc, subset: %s}}]}]\n",
           meshlib_mock_port(v1), meshlib_mock_port(v2), which ? "b" : "a",
           which ? "v2" : "v1");
  return buf;
}

typedef struct {
  meshlib *mesh;
  int failed;
  int mixed;
} worker_arg;

static void *worker(void *p) {
  worker_arg *a = p;
  for (int i = 0; i < CALLS; i++) {
    meshlib_request *r;
    if (meshlib_request_new(&r, a->mesh, "GET", "http://svc/x") != MESHLIB_OK) {
      a->failed++;
      continue;
    }
    if (meshlib_request_perform(r) != MESHLIB_OK ||
        meshlib_response_status(r) != 200) {
      a->failed++;
    } else {
      const meshlib_decision *d = meshlib_response_decision(r);
      const char *vs = meshlib_decision_vs_name(d);
      const char *who = meshlib_response_header(r, "x-mock-name");
      /* The rule and the endpoint come from one snapshot. */
      if (vs && who && (strcmp(vs, "a") == 0) != (strcmp(who, "v1") == 0))
        a->mixed++;
    }
    meshlib_request_free(r);
  }
  return NULL;
}

static void test_calls_while_config_flips(void **state) {
  (void)state;
  assert_int_equal(meshlib_mock_new(&v1), MESHLIB_OK);
  assert_int_equal(meshlib_mock_new(&v2), MESHLIB_OK);
  meshlib_mock_set_name(v1, "v1");
  meshlib_mock_set_name(v2, "v2");
  char buf[4096];
  meshlib_options *o;
  meshlib *m;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  const char *y = config(buf, sizeof(buf), 0);
  meshlib_options_add_config_string(o, "a.yaml", y, strlen(y));
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);

  pthread_t th[THREADS];
  worker_arg args[THREADS];
  for (int i = 0; i < THREADS; i++) {
    args[i] = (worker_arg){m, 0, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
  }
  for (int i = 0; i < FLIPS; i++) {
    meshlib_config *c;
    assert_int_equal(meshlib_config_new(&c, m), MESHLIB_OK);
    y = config(buf, sizeof(buf), (i + 1) % 2);
    meshlib_config_add_string(c, "flip.yaml", y, strlen(y));
    assert_int_equal(meshlib_config_apply(c), MESHLIB_OK);
    meshlib_config_free(c);
    /* Endpoints set by the application come and go for another host. */
    meshlib_endpoints *e;
    assert_int_equal(meshlib_endpoints_new(&e), MESHLIB_OK);
    meshlib_endpoints_add(e, "127.0.0.1", (uint32_t)meshlib_mock_port(v1), 1);
    assert_int_equal(meshlib_set_endpoints(m, "other", i % 2 ? e : NULL),
                     MESHLIB_OK);
    meshlib_endpoints_free(e);
  }
  int failed = 0, mixed = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    failed += args[i].failed;
    mixed += args[i].mixed;
  }
  assert_int_equal(failed, 0);
  assert_int_equal(mixed, 0);
  meshlib_free(m);
  meshlib_mock_free(v1);
  meshlib_mock_free(v2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calls_while_config_flips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
