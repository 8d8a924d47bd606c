/* SPDX-License-Identifier: MIT */
/* The mock under load from many threads, HTTP/1.1 and HTTP/2 mixed, while
 * the test thread scripts and inspects it: every scripted action is taken
 * exactly once and every request is recorded. Also run under TSan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "mock_client.h"
#include "h2_client.h"

#define THREADS 8
#define CALLS 40
#define SCRIPTED 100

typedef struct worker {
  int port, index;
  int ok, status503, errors;
} worker;

/* Half of each worker's calls race the scripting; the other half wait
 * until every action is pushed, so that all of them are taken however
 * slowly the test thread runs (TSan). */
static _Atomic int g_scripted;

static void await_scripted(int i) {
  if (i != CALLS / 2)
    return;
  struct timespec ms = {0, 1000000};
  while (!atomic_load(&g_scripted))
    nanosleep(&ms, NULL);
}

static void *work(void *p) {
  worker *w = p;
  if (w->index % 2 == 0) {
    /* HTTP/1.1 with keep-alive on one handle. */
    CURL *e = curl_easy_init();
    for (int i = 0; i < CALLS; i++) {
      await_scripted(i);
      mc_resp r;
      char path[64];
      snprintf(path, sizeof(path), "/w%d/%d", w->index, i);
      mc_call(e, w->port, path, 0, NULL, NULL, NULL, &r);
      if (r.rc != CURLE_OK)
        w->errors++;
      else if (r.status == 503)
        w->status503++;
      else if (r.status == 200 && strcmp(r.name, "conc") == 0)
        w->ok++;
    }
    curl_easy_cleanup(e);
  } else {
    /* HTTP/2: all calls as streams of one connection. */
    h2c c;
    if (h2c_connect(&c, w->port) != 0) {
      w->errors = CALLS;
      return NULL;
    }
    for (int i = 0; i < CALLS; i++) {
      await_scripted(i);
      h2c_stream st;
      h2c_stream *v = &st;
      char path[64];
      snprintf(path, sizeof(path), "/w%d/%d", w->index, i);
      if (h2c_request(&c, w->port, "GET", path, NULL, &st) != 0 ||
          h2c_run(&c, &v, 1, 10000) != 0)
        w->errors++;
      else if (st.status == 503)
        w->status503++;
      else if (st.status == 200 && strcmp(st.name, "conc") == 0)
        w->ok++;
    }
    h2c_close(&c);
  }
  return NULL;
}

static void test_many_threads(void **state) {
  (void)state;
  meshlib_mock *m = NULL;
  assert_int_equal(meshlib_mock_new(&m), MESHLIB_OK);
  assert_int_equal(meshlib_mock_set_name(m, "conc"), MESHLIB_OK);
  int port = meshlib_mock_port(m);
  atomic_store(&g_scripted, 0);
  worker w[THREADS];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){port, i, 0, 0, 0};
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  /* Script while they run, and read the records. */
  for (int i = 0; i < SCRIPTED; i++) {
    assert_int_equal(meshlib_mock_push_response(m, 503, "x", 1), MESHLIB_OK);
    assert_int_equal(meshlib_mock_push_header(m, "x-n", "1"), MESHLIB_OK);
    int n = meshlib_mock_request_count(m);
    if (n > 0)
      assert_non_null(meshlib_mock_request_path(m, n - 1));
  }
  atomic_store(&g_scripted, 1);
  int total_ok = 0, total_503 = 0, total_err = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    total_ok += w[i].ok;
    total_503 += w[i].status503;
    total_err += w[i].errors;
  }
  assert_int_equal(total_err, 0);
  assert_int_equal(meshlib_mock_request_count(m), THREADS * CALLS);
  /* All scripted actions were consumed (there were more requests than
   * actions), each exactly once. */
  assert_int_equal(total_503, SCRIPTED);
  assert_int_equal(total_ok, THREADS * CALLS - SCRIPTED);
  assert_int_equal(meshlib_mock_connection_count(m), THREADS);
  int h2 = 0;
  for (int i = 0; i < THREADS * CALLS; i++)
    h2 += strcmp(meshlib_mock_request_protocol(m, i), "HTTP/2") == 0;
  assert_int_equal(h2, THREADS / 2 * CALLS);
  meshlib_mock_free(m);
}

/* Mocks created and freed by several threads at once, each serving a call
 * in between. */
static void *life(void *p) {
  int *fails = p;
  for (int i = 0; i < 5; i++) {
    meshlib_mock *m = NULL;
    if (meshlib_mock_new(&m) != MESHLIB_OK) {
      (*fails)++;
      continue;
    }
    mc_resp r;
    mc_get(meshlib_mock_port(m), "/", i % 2, &r);
    if (r.rc != CURLE_OK || r.status != 200)
      (*fails)++;
    meshlib_mock_free(m);
  }
  return NULL;
}

static void test_parallel_lifecycles(void **state) {
  (void)state;
  pthread_t t[4];
  int fails[4] = {0};
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, life, &fails[i]), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(fails[i], 0);
  }
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_many_threads),
      cmocka_unit_test(test_parallel_lifecycles),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
