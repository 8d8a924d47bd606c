/* SPDX-License-Identifier: MIT */
/* The transport from many threads at once: per-thread handles and
 * connections, h2c reuse under load (curl issue 10634), handles freed at
 * thread exit. Run under ThreadSanitizer too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "xfer_test_util.h"
#include "meshlib/testing.h"

#define THREADS 8

static char payload[4096];

typedef struct worker {
  meshlib_mock **mocks;
  int mock_count;
  const char *const *names;
  int calls;
  int mixed; /* alternate HTTP/1.1 and h2c */
  ml_http_version version;
  int cleanup; /* free the handles explicitly, else at thread exit */
  int failures;
  int reused;
  char first_error[400];
} worker;

static void *work(void *p) {
  worker *w = p;
  for (int i = 0; i < w->calls; i++) {
    int k = i % w->mock_count;
    ml_http_version v =
        w->mixed ? (i / w->mock_count % 2 ? ML_HTTP_2_PRIOR : ML_HTTP_1_1)
                 : w->version;
    ml_xfer_req req;
    xt_req(&req, w->mocks[k], v, "svc.ns.svc.cluster.local:8080");
    char path[48];
    snprintf(path, sizeof(path), "/w/%p/%d", (void *)w, i);
    req.path = path;
    if (i % 3 == 0) {
      req.method = "POST";
      req.body = payload;
      req.body_len = 100 + (size_t)i % 300;
    }
    ml_xfer_result res;
    int rc = ml_xfer_perform(NULL, &req, &res);
    int ok = rc == MESHLIB_OK && res.outcome == ML_XFER_OK &&
             res.status == 200 && res.body_len == sizeof(payload) &&
             memcmp(res.body, payload, sizeof(payload)) == 0 &&
             res.http_version == (v == ML_HTTP_2_PRIOR ? 20 : 11);
    const char *name = ok ? xt_header(&res, "x-mock-name", 0) : NULL;
    if (ok && (!name || strcmp(name, w->names[k]) != 0))
      ok = 0;
    if (!ok && w->failures++ == 0)
      snprintf(w->first_error, sizeof(w->first_error),
               "call %d: rc %d outcome %d curl %d status %d: %s", i, rc,
               res.outcome, res.curl_code, res.status, res.error);
    w->reused += res.reused_connection;
    ml_xfer_result_free(NULL, &res);
  }
  if (w->cleanup)
    ml_xfer_thread_cleanup();
  return NULL;
}

static void run(worker *ws, int n) {
  pthread_t t[THREADS];
  for (int i = 0; i < n; i++)
    assert_int_equal(pthread_create(&t[i], NULL, work, &ws[i]), 0);
  for (int i = 0; i < n; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  for (int i = 0; i < n; i++) {
    if (ws[i].failures)
      print_message("thread %d: %d failures; first: %s\n", i, ws[i].failures,
                    ws[i].first_error);
    assert_int_equal(ws[i].failures, 0);
  }
}

static meshlib_mock *start(const char *name) {
  meshlib_mock *m = xt_start(name);
  assert_int_equal(meshlib_mock_set_default(m, 200, payload, sizeof(payload)),
                   MESHLIB_OK);
  return m;
}

/* Every thread keeps its own connection to the endpoint and reuses it for
 * all its exchanges: THREADS connections in all. For h2c this is the
 * parallel half of the curl 10634 stress. */
static void one_endpoint(ml_http_version v, int calls) {
  meshlib_mock *m = start("one");
  const char *const names[] = {"one"};
  worker ws[THREADS];
  memset(ws, 0, sizeof(ws));
  for (int i = 0; i < THREADS; i++) {
    ws[i].mocks = &m;
    ws[i].mock_count = 1;
    ws[i].names = names;
    ws[i].calls = calls;
    ws[i].version = v;
    ws[i].cleanup = i % 2;
  }
  run(ws, THREADS);
  assert_int_equal(meshlib_mock_request_count(m), THREADS * calls);
  assert_int_equal(meshlib_mock_connection_count(m), THREADS);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(ws[i].reused, calls - 1);
  assert_string_equal(meshlib_mock_request_protocol(m, THREADS * calls - 1),
                      xt_proto(v));
  meshlib_mock_free(m);
}

static void test_parallel_h2c(void **state) {
  (void)state;
  one_endpoint(ML_HTTP_2_PRIOR, 250);
}

static void test_parallel_h1(void **state) {
  (void)state;
  one_endpoint(ML_HTTP_1_1, 250);
}

/* Threads spread calls over three endpoints of one service, alternating
 * protocols: per mock, one HTTP/1.1 and one h2c connection per thread. */
static void test_parallel_endpoints_mixed(void **state) {
  (void)state;
  const char *const names[] = {"e0", "e1", "e2"};
  meshlib_mock *ms[3];
  for (int i = 0; i < 3; i++)
    ms[i] = start(names[i]);
  worker ws[THREADS];
  memset(ws, 0, sizeof(ws));
  for (int i = 0; i < THREADS; i++) {
    ws[i].mocks = ms;
    ws[i].mock_count = 3;
    ws[i].names = names;
    ws[i].calls = 120;
    ws[i].mixed = 1;
    ws[i].cleanup = i % 2;
  }
  run(ws, THREADS);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(meshlib_mock_request_count(ms[i]), THREADS * 40);
    assert_int_equal(meshlib_mock_connection_count(ms[i]), THREADS * 2);
    meshlib_mock_free(ms[i]);
  }
}

int main(void) {
  for (size_t i = 0; i < sizeof(payload); i++)
    payload[i] = (char)('A' + (i * 7) % 57);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parallel_h2c),
      cmocka_unit_test(test_parallel_h1),
      cmocka_unit_test(test_parallel_endpoints_mixed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
