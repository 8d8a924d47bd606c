/* SPDX-License-Identifier: MIT */
/* The h2c transport from many threads at once: each thread keeps its own
 * sessions (one connection per thread and endpoint), no lock is shared,
 * and a thread's sessions are freed when it ends. Run under TSan too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>

#include "test_h2c_util.h"
#include "meshlib/testing.h"

enum { THREADS = 4, PER_THREAD = 500 };

typedef struct worker {
  meshlib_mock *a, *b; /* b may be NULL: everything to a */
  int index;
  int cleanup; /* call ml_h2c_thread_cleanup() (else: destructor) */
  int ok, wrong, reused;
  char why[320];
} worker;

static void *work(void *arg) {
  worker *w = arg;
  char auth[32], path[48];
  for (int i = 0; i < PER_THREAD; i++) {
    meshlib_mock *m = (w->b != NULL && i % 2) ? w->b : w->a;
    ml_xfer_req req;
    h2t_req(&req, auth, sizeof(auth), meshlib_mock_port(m), path);
    snprintf(path, sizeof(path), "/t%d/%d", w->index, i);
    ml_header h = {"x-worker", path};
    req.headers = &h;
    req.header_count = 1;
    ml_xfer_result res;
    int rc = ml_h2c_perform(NULL, &req, &res);
    const char *want = (m == w->b) ? "b" : "a";
    if (rc == MESHLIB_OK && res.outcome == ML_XFER_OK && res.status == 200 &&
        res.body != NULL && strcmp(res.body, want) == 0) {
      w->ok++;
      w->reused += res.reused_connection;
    } else {
      if (w->wrong++ == 0)
        snprintf(w->why, sizeof(w->why), "rc %d outcome %d status %d: %s", rc,
                 (int)res.outcome, res.status, res.error);
    }
    ml_xfer_result_free(NULL, &res);
  }
  if (w->cleanup)
    ml_h2c_thread_cleanup();
  return NULL;
}

static void run_workers(meshlib_mock *a, meshlib_mock *b) {
  pthread_t th[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&w[i], 0, sizeof(w[i]));
    w[i].a = a;
    w[i].b = b;
    w[i].index = i;
    w[i].cleanup = i % 2; /* half leave it to the key's destructor */
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    if (w[i].wrong != 0)
      print_message("thread %d: %d wrong, first: %s\n", i, w[i].wrong,
                    w[i].why);
    assert_int_equal(w[i].wrong, 0);
    assert_int_equal(w[i].ok, PER_THREAD);
    /* One new connection per endpoint, every other exchange reused. */
    assert_int_equal(w[i].reused, PER_THREAD - (b != NULL ? 2 : 1));
  }
}

static void test_threads_one_endpoint(void **state) {
  (void)state;
  meshlib_mock *a = h2t_mock("a");
  double t0 = h2t_now_ms();
  run_workers(a, NULL);
  double ms = h2t_now_ms() - t0;
  print_message("h2c: %d threads x %d exchanges in %.0f ms (%.0f/s)\n", THREADS,
                PER_THREAD, ms, THREADS * PER_THREAD * 1000.0 / ms);
  assert_int_equal(meshlib_mock_connection_count(a), THREADS);
  assert_int_equal(meshlib_mock_request_count(a), THREADS * PER_THREAD);
  /* Every request arrived with its own header, none mixed up. */
  for (int i = 0; i < THREADS * PER_THREAD; i++)
    assert_string_equal(meshlib_mock_request_header(a, i, "x-worker"),
                        meshlib_mock_request_path(a, i));
  meshlib_mock_free(a);
}

static void test_threads_two_endpoints(void **state) {
  (void)state;
  meshlib_mock *a = h2t_mock("a");
  meshlib_mock *b = h2t_mock("b");
  run_workers(a, b);
  assert_int_equal(meshlib_mock_connection_count(a), THREADS);
  assert_int_equal(meshlib_mock_connection_count(b), THREADS);
  assert_int_equal(meshlib_mock_request_count(a), THREADS * PER_THREAD / 2);
  assert_int_equal(meshlib_mock_request_count(b), THREADS * PER_THREAD / 2);
  meshlib_mock_free(a);
  meshlib_mock_free(b);
}

typedef struct once_arg {
  meshlib_mock *m;
  int ok;
} once_arg;

static void *one_exchange(void *arg) {
  once_arg *o = arg;
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), meshlib_mock_port(o->m), "/once");
  ml_xfer_result res;
  o->ok = ml_h2c_perform(NULL, &req, &res) == MESHLIB_OK &&
          res.outcome == ML_XFER_OK && !res.reused_connection;
  ml_xfer_result_free(NULL, &res);
  return NULL; /* the session goes with the thread */
}

static void test_short_lived_threads(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("m");
  for (int i = 0; i < 40; i++) {
    pthread_t th;
    once_arg o = {m, 0};
    assert_int_equal(pthread_create(&th, NULL, one_exchange, &o), 0);
    pthread_join(th, NULL);
    assert_true(o.ok);
  }
  assert_int_equal(meshlib_mock_connection_count(m), 40);
  meshlib_mock_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_one_endpoint),
      cmocka_unit_test(test_threads_two_endpoints),
      cmocka_unit_test(test_short_lived_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
