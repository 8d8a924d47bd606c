/* SPDX-License-Identifier: MIT */
/* Pool rules and extra headers from many threads at once: each thread's
 * connections keep their own request counts (the transport counts them
 * by socket, in a table all threads share), and each attempt's extra
 * headers reach the upstream with its own request. Run under
 * ThreadSanitizer too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "meshlib/testing.h"
#include "xfer_test_util.h"

#define THREADS 6
#define CALLS 30 /* per thread and protocol */
#define PER_CONNECTION 3

typedef struct worker {
  int id;
  meshlib_mock *mocks[2]; /* HTTP/1.1, h2c */
  int failures;
  char first_error[300];
} worker;

static void *work(void *p) {
  worker *w = p;
  ml_xfer_pool pool;
  memset(&pool, 0, sizeof(pool));
  pool.max_requests_per_connection = PER_CONNECTION;
  pool.idle_timeout_ms = -1;
  pool.tcp_keepalive = 1;
  pool.keepalive_time_ms = 60000;
  char thread_id[16], attempt[16];
  snprintf(thread_id, sizeof(thread_id), "t%d", w->id);
  const ml_header hs[] = {{"x-thread", thread_id}};
  const ml_header extra[] = {{"x-envoy-attempt-count", attempt}};
  for (int i = 0; i < 2 * CALLS; i++) {
    int vi = i % 2;
    ml_xfer_req req;
    xt_req(&req, w->mocks[vi], vi ? ML_HTTP_2_PRIOR : ML_HTTP_1_1, "svc");
    char path[48];
    snprintf(path, sizeof(path), "/%d/%d", w->id, i / 2);
    req.path = path;
    snprintf(attempt, sizeof(attempt), "%d", i / 2 + 1);
    req.headers = hs;
    req.header_count = 1;
    req.extra_headers = extra;
    req.extra_header_count = 1;
    req.pool = &pool;
    ml_xfer_result res;
    int rc = ml_xfer_perform(NULL, &req, &res);
    int want_reused = (i / 2) % PER_CONNECTION != 0;
    if ((rc != MESHLIB_OK || res.outcome != ML_XFER_OK || res.status != 200 ||
         res.reused_connection != want_reused) &&
        w->failures++ == 0)
      snprintf(w->first_error, sizeof(w->first_error),
               "call %d: rc %d outcome %d status %d reused %d: %s", i, rc,
               (int)res.outcome, res.status, res.reused_connection, res.error);
    ml_xfer_result_free(NULL, &res);
  }
  return NULL;
}

static void test_counts_per_thread(void **state) {
  (void)state;
  meshlib_mock *mocks[2] = {xt_start("h1"), xt_start("h2c")};
  worker ws[THREADS];
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++) {
    memset(&ws[t], 0, sizeof(ws[t]));
    ws[t].id = t;
    ws[t].mocks[0] = mocks[0];
    ws[t].mocks[1] = mocks[1];
    assert_int_equal(pthread_create(&th[t], NULL, work, &ws[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) {
    assert_int_equal(pthread_join(th[t], NULL), 0);
    if (ws[t].failures)
      fail_msg("thread %d: %d failures; first: %s", t, ws[t].failures,
               ws[t].first_error);
  }
  int per_thread = (CALLS + PER_CONNECTION - 1) / PER_CONNECTION;
  for (int vi = 0; vi < 2; vi++) {
    meshlib_mock *m = mocks[vi];
    assert_int_equal(meshlib_mock_request_count(m), THREADS * CALLS);
    assert_int_equal(meshlib_mock_connection_count(m), THREADS * per_thread);
    /* Every request carried its own thread's header and attempt. */
    for (int i = 0; i < THREADS * CALLS; i++) {
      int t = -1, n = -1;
      assert_int_equal(
          sscanf(meshlib_mock_request_path(m, i), "/%d/%d", &t, &n), 2);
      char want[16];
      snprintf(want, sizeof(want), "t%d", t);
      assert_string_equal(meshlib_mock_request_header(m, i, "x-thread"), want);
      snprintf(want, sizeof(want), "%d", n + 1);
      assert_string_equal(
          meshlib_mock_request_header(m, i, "x-envoy-attempt-count"), want);
    }
    meshlib_mock_free(m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_per_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
