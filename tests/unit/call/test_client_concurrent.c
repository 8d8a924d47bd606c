/* SPDX-License-Identifier: MIT */
/* Many threads sharing one mesh, each driving a client of its own from
 * its own poll() loop (HTTP/1.1 and h2c mixed), and several threads
 * handing calls to one client that runs its own thread. Run under
 * ThreadSanitizer in CI (label "concurrency"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "client_test_util.h"
#include "meshlib/testing.h"

enum { THREADS = 6, CALLS = 60, WINDOW = 8 };

typedef struct worker {
  meshlib *mesh;
  meshlib_client *c; /* shared (own-thread mode) or NULL: make one */
  int index;
  int started, finished, bad;
  int ok; /* the thread ran to its end */
  pthread_mutex_t lock;
  pthread_cond_t cond;
} worker;

static const char *url_of(int i) {
  switch (i % 4) {
  case 0:
    return "http://h2svc/c";
  case 1:
    return "http://myapp/b/c";
  case 2:
    return "http://strict/c"; /* GET: routed to v1 */
  default:
    return "http://myapp/a/c";
  }
}

static const char *body_of(int i) {
  switch (i % 4) {
  case 0:
    return "h2";
  case 1:
    return "v2";
  default:
    return "v1";
  }
}

typedef struct call_ud {
  worker *w;
  int i;
} call_ud;

static void on_done(meshlib_request *r, int result, void *ud);

static int start_one(worker *w) {
  int i = w->started++;
  call_ud *u = malloc(sizeof(*u));
  u->w = w;
  u->i = i;
  meshlib_request *r;
  if (meshlib_request_new(&r, w->mesh, "GET", url_of(i)) != MESHLIB_OK)
    return -1;
  return meshlib_client_perform(w->c, r, on_done, u);
}

static void on_done(meshlib_request *r, int result, void *ud) {
  call_ud *u = ud;
  worker *w = u->w;
  size_t len;
  const char *body = meshlib_response_body(r, &len);
  pthread_mutex_lock(&w->lock);
  if (result != MESHLIB_OK || meshlib_response_status(r) != 200 || !body ||
      strcmp(body, body_of(u->i)) != 0)
    w->bad++;
  w->finished++;
  if (w->started < CALLS && start_one(w) != MESHLIB_OK)
    w->bad++;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
  meshlib_request_free(r);
  free(u);
}

static void *app_loop_thread(void *arg) {
  worker *w = arg;
  tu_loop l;
  if (tu_loop_init(&l, w->mesh) != MESHLIB_OK)
    return NULL;
  w->c = l.c;
  pthread_mutex_lock(&w->lock);
  for (int i = 0; i < WINDOW; i++)
    if (start_one(w) != MESHLIB_OK)
      w->bad++;
  pthread_mutex_unlock(&w->lock);
  tu_loop_until(&l, &w->finished, CALLS, 60000);
  meshlib_client_free(l.c);
  w->ok = l.nfds == 0;
  return NULL;
}

static void test_threads_each_with_a_client(void **state) {
  tu_mesh *t = *state;
  worker w[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&w[i], 0, sizeof(w[i]));
    w[i].mesh = t->mesh;
    w[i].index = i;
    pthread_mutex_init(&w[i].lock, NULL);
    pthread_cond_init(&w[i].cond, NULL);
    assert_int_equal(pthread_create(&th[i], NULL, app_loop_thread, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_true(w[i].ok);
    assert_int_equal(w[i].finished, CALLS);
    assert_int_equal(w[i].bad, 0);
    pthread_mutex_destroy(&w[i].lock);
    pthread_cond_destroy(&w[i].cond);
  }
  assert_int_equal(meshlib_mock_request_count(t->h2), THREADS * CALLS / 4);
}

/* Several threads hand calls to one client that runs its own thread. */
static void *submit_thread(void *arg) {
  worker *w = arg;
  pthread_mutex_lock(&w->lock);
  for (int i = 0; i < WINDOW; i++)
    if (start_one(w) != MESHLIB_OK)
      w->bad++;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 60;
  while (w->finished < CALLS)
    if (pthread_cond_timedwait(&w->cond, &w->lock, &until) != 0)
      break;
  pthread_mutex_unlock(&w->lock);
  w->ok = 1;
  return NULL;
}

static void test_threads_share_an_own_thread_client(void **state) {
  tu_mesh *t = *state;
  meshlib_client *c;
  assert_int_equal(meshlib_client_new(&c, t->mesh), MESHLIB_OK);
  assert_int_equal(meshlib_client_start_thread(c), MESHLIB_OK);
  worker w[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    memset(&w[i], 0, sizeof(w[i]));
    w[i].mesh = t->mesh;
    w[i].c = c;
    pthread_mutex_init(&w[i].lock, NULL);
    pthread_cond_init(&w[i].cond, NULL);
    assert_int_equal(pthread_create(&th[i], NULL, submit_thread, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_true(w[i].ok);
    assert_int_equal(w[i].finished, CALLS);
    assert_int_equal(w[i].bad, 0);
  }
  meshlib_client_free(c);
  for (int i = 0; i < 4; i++) {
    pthread_mutex_destroy(&w[i].lock);
    pthread_cond_destroy(&w[i].cond);
  }
}

static int setup(void **state) {
  tu_mesh *t = calloc(1, sizeof(*t));
  if (tu_mesh_start(t))
    return -1;
  *state = t;
  return 0;
}

static int teardown(void **state) {
  tu_mesh *t = *state;
  tu_mesh_stop(t);
  free(t);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_threads_each_with_a_client, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_threads_share_an_own_thread_client,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
