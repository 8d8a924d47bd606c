/* SPDX-License-Identifier: MIT */
/* Reloads under load: threads call through mock upstreams without pause
 * while the config flips between two versions hundreds of times, from a
 * watched file and from a control endpoint (long-poll). No call fails and
 * none sees a mix: version "a" routes to v1 only, "b" to v2 only, and each
 * response's decision names the VirtualService of the mock that answered.
 * Then the seed's canary walk (90/10, 80/20, 50/50, 0/100, VirtualService
 * deleted) runs live from files and from an endpoint, with no failed
 * call. Runs under ASan, TSan and valgrind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "control_test_util.h"
#include "meshlib/testing.h"

enum { THREADS = 4 };

static meshlib_mock *v1, *v2;

static int flips(void) {
  const char *e = getenv("MESHLIB_TEST_FLIPS"); /* fewer under valgrind */
  int n = e ? (int)strtol(e, NULL, 10) : 0;
  return n > 0 ? n : 200;
}

/* The ServiceEntry and DestinationRule, then the VirtualService given. */
static const char *config(char *buf, size_t cap, const char *vs) {
  snprintf(buf, cap,
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
           "%s%s",
           meshlib_mock_port(v1), meshlib_mock_port(v2), vs ? "---\n" : "",
           vs ? vs : "");
  return buf;
}

static const char *flip_config(char *buf, size_t cap, int which) {
  char vs[512];
  return config(
      buf, cap,
      ct_vs(vs, sizeof(vs), which ? "b" : "a", which ? "v2" : "v1", 0, 0));
}

typedef struct workers {
  meshlib *mesh;
  atomic_int stop;
  atomic_int calls, failed, mixed;
  atomic_int served[2]; /* since the last reset */
  pthread_t t[THREADS];
} workers;

static void *worker(void *p) {
  workers *w = p;
  while (!atomic_load(&w->stop)) {
    meshlib_request *r;
    if (meshlib_request_new(&r, w->mesh, "GET", "http://svc/x") != MESHLIB_OK) {
      atomic_fetch_add(&w->failed, 1);
      continue;
    }
    if (meshlib_request_perform(r) != MESHLIB_OK ||
        meshlib_response_status(r) != 200) {
      atomic_fetch_add(&w->failed, 1);
    } else {
      const meshlib_decision *d = meshlib_response_decision(r);
      const char *vs = d ? meshlib_decision_vs_name(d) : NULL;
      const char *who = meshlib_response_header(r, "x-mock-name");
      int on_v1 = who && strcmp(who, "v1") == 0;
      /* Decision and endpoint come from one snapshot. */
      if (vs && (strcmp(vs, "a") == 0 || strcmp(vs, "b") == 0) &&
          (strcmp(vs, "a") == 0) != on_v1)
        atomic_fetch_add(&w->mixed, 1);
      if (who)
        atomic_fetch_add(&w->served[on_v1 ? 0 : 1], 1);
    }
    atomic_fetch_add(&w->calls, 1);
    meshlib_request_free(r);
  }
  return NULL;
}

static void workers_start(workers *w, meshlib *m) {
  memset(w, 0, sizeof(*w));
  w->mesh = m;
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&w->t[i], NULL, worker, w), 0);
}

static void workers_stop(workers *w) {
  atomic_store(&w->stop, 1);
  for (int i = 0; i < THREADS; i++)
    pthread_join(w->t[i], NULL);
}

static int setup(void **state) {
  (void)state;
  if (meshlib_mock_new(&v1) != MESHLIB_OK ||
      meshlib_mock_new(&v2) != MESHLIB_OK)
    return -1;
  meshlib_mock_set_name(v1, "v1");
  meshlib_mock_set_name(v2, "v2");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  meshlib_mock_free(v1);
  meshlib_mock_free(v2);
  return 0;
}

static meshlib *mesh_on(const char *path, const char *url) {
  meshlib_options *o;
  meshlib *m = NULL;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_set_dns_refresh_ms(o, 0);
  if (path) {
    meshlib_options_add_config_path(o, path);
    meshlib_options_set_config_watch(o, MESHLIB_WATCH_AUTO);
    meshlib_options_set_config_debounce_ms(o, 0);
  }
  if (url) {
    meshlib_options_add_config_url(o, url);
    meshlib_options_set_control_long_poll_ms(o, 30000);
    meshlib_options_set_config_poll_interval_ms(o, 600000);
  }
  int rc = meshlib_new(&m, o);
  if (rc != MESHLIB_OK)
    fprintf(stderr, "%s\n", meshlib_options_errmsg(o));
  assert_int_equal(rc, MESHLIB_OK);
  meshlib_options_free(o);
  return m;
}

/* Wait for the calls to pass |n| more. */
static void let_calls_run(workers *w, int n) {
  int until = atomic_load(&w->calls) + n;
  int64_t end = ct_now_ms() + 20000;
  while (atomic_load(&w->calls) < until && ct_now_ms() < end)
    ct_sleep_ms(1);
}

static void test_flips_from_file(void **state) {
  (void)state;
  char dir[256], path[300];
  static char buf[4096];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/svc.yaml", dir);
  assert_int_equal(ct_write(path, flip_config(buf, sizeof(buf), 0)), 0);
  meshlib *m = mesh_on(path, NULL);
  workers w;
  workers_start(&w, m);
  int n = flips();
  for (int i = 1; i <= n; i++) {
    assert_int_equal(
        ct_write_rename(path, flip_config(buf, sizeof(buf), i % 2)), 0);
    assert_int_equal(ct_wait_route(m, i % 2 ? "b/v2" : "a/v1", 10000), 0);
    if (i % 20 == 0)
      let_calls_run(&w, THREADS);
  }
  workers_stop(&w);
  fprintf(stderr, "file: %d flips, %d calls, %d failed, %d mixed\n", n,
          atomic_load(&w.calls), atomic_load(&w.failed), atomic_load(&w.mixed));
  assert_int_equal(atomic_load(&w.failed), 0);
  assert_int_equal(atomic_load(&w.mixed), 0);
  assert_true(atomic_load(&w.calls) > n / 10);
  assert_int_equal(meshlib_config_version(m), (uint64_t)n + 1);
  assert_int_equal(meshlib_config_rejected_total(m), 0);
  meshlib_free(m);
  ct_rm_rf(dir);
}

static void test_flips_from_endpoint(void **state) {
  (void)state;
  static char buf[4096];
  char url[128];
  meshlib_config_server *s;
  assert_int_equal(meshlib_config_server_new(&s, 0), MESHLIB_OK);
  flip_config(buf, sizeof(buf), 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/",
           meshlib_config_server_port(s));
  meshlib *m = mesh_on(NULL, url);
  workers w;
  workers_start(&w, m);
  int n = flips();
  for (int i = 1; i <= n; i++) {
    flip_config(buf, sizeof(buf), i % 2);
    meshlib_config_server_set(s, buf, strlen(buf));
    assert_int_equal(ct_wait_route(m, i % 2 ? "b/v2" : "a/v1", 10000), 0);
    if (i % 20 == 0)
      let_calls_run(&w, THREADS);
  }
  workers_stop(&w);
  fprintf(stderr, "endpoint: %d flips, %d calls, %d failed, %d mixed\n", n,
          atomic_load(&w.calls), atomic_load(&w.failed), atomic_load(&w.mixed));
  assert_int_equal(atomic_load(&w.failed), 0);
  assert_int_equal(atomic_load(&w.mixed), 0);
  assert_int_equal(meshlib_config_rejected_total(m), 0);
  meshlib_free(m);
  meshlib_config_server_free(s);
}

/* The seed's canary walk, each step while the workers call; the share of
 * v2 follows the weights (loose bounds: tests prove behaviour), and
 * deleting the VirtualService leaves both endpoints serving. A bad push
 * in the middle is rejected while traffic carries on. */
static void canary_walk(const char *path, meshlib_config_server *s,
                        meshlib *m) {
  static const int steps[4][2] = {{90, 10}, {80, 20}, {50, 50}, {0, 100}};
  static char buf[4096];
  char vs[1024];
  workers w;
  workers_start(&w, m);
  for (int k = 0; k <= 4; k++) {
    uint64_t v = meshlib_config_version(m);
    if (k < 4)
      config(buf, sizeof(buf),
             ct_vs(vs, sizeof(vs), "canary", NULL, steps[k][0], steps[k][1]));
    else
      config(buf, sizeof(buf), NULL); /* the VirtualService deleted */
    if (k == 2) { /* a bad push first: rejected, traffic goes on */
      uint64_t r = meshlib_config_rejected_total(m);
      if (path)
        assert_int_equal(ct_write_rename(path, ct_bad_vs), 0);
      else
        meshlib_config_server_set(s, ct_bad_vs, strlen(ct_bad_vs));
      assert_int_equal(ct_wait_rejected(m, r + 1, 10000), 0);
      let_calls_run(&w, 50);
    }
    if (path)
      assert_int_equal(ct_write_rename(path, buf), 0);
    else
      meshlib_config_server_set(s, buf, strlen(buf));
    assert_int_equal(ct_wait_version(m, v + 1, 10000), 0);
    atomic_store(&w.served[0], 0);
    atomic_store(&w.served[1], 0);
    let_calls_run(&w, 400);
    int a = atomic_load(&w.served[0]), b = atomic_load(&w.served[1]);
    double share = a + b ? 100.0 * b / (a + b) : 0;
    fprintf(stderr, "  step %d: v1 %d, v2 %d (v2 %.0f%%)\n", k, a, b, share);
    if (k < 4) {
      assert_true(share >= steps[k][1] - 15 && share <= steps[k][1] + 15);
    } else {
      char r[64];
      assert_string_equal(ct_route(m, r, sizeof(r)), "none");
      assert_true(a > 0 && b > 0); /* both endpoints serve the host */
    }
  }
  workers_stop(&w);
  assert_int_equal(atomic_load(&w.failed), 0);
  assert_int_equal(atomic_load(&w.mixed), 0);
}

static void test_canary_walk_from_files(void **state) {
  (void)state;
  char dir[256], path[300];
  static char buf[4096];
  char vs[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/myapp.yaml", dir);
  config(buf, sizeof(buf), ct_vs(vs, sizeof(vs), "canary", NULL, 100, 0));
  assert_int_equal(ct_write(path, buf), 0);
  meshlib *m = mesh_on(dir, NULL);
  canary_walk(path, NULL, m);
  meshlib_free(m);
  ct_rm_rf(dir);
}

static void test_canary_walk_from_endpoint(void **state) {
  (void)state;
  static char buf[4096];
  char vs[1024], url[128];
  meshlib_config_server *s;
  assert_int_equal(meshlib_config_server_new(&s, 0), MESHLIB_OK);
  config(buf, sizeof(buf), ct_vs(vs, sizeof(vs), "canary", NULL, 100, 0));
  meshlib_config_server_set(s, buf, strlen(buf));
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/mesh",
           meshlib_config_server_port(s));
  meshlib *m = mesh_on(NULL, url);
  canary_walk(NULL, s, m);
  meshlib_free(m);
  meshlib_config_server_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flips_from_file),
      cmocka_unit_test(test_flips_from_endpoint),
      cmocka_unit_test(test_canary_walk_from_files),
      cmocka_unit_test(test_canary_walk_from_endpoint),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
