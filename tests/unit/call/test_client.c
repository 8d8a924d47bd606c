/* SPDX-License-Identifier: MIT */
/* The asynchronous client against mock upstreams, driven by an
 * application's poll() loop through the socket and timer hooks, and by
 * its own thread: many calls in flight with the right answers, callbacks
 * on the right thread, slow upstreams that do not hold up the others,
 * timeouts, local replies, cancellation, h2c and freeing with calls in
 * flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "client_test_util.h"
#include "meshlib/testing.h"

/* ---- a batch of calls: N in total, K in flight ----------------------- */

typedef struct batch {
  meshlib_client *c;
  meshlib *mesh;
  int total;  /* calls to make */
  int window; /* at most this many in flight */
  int started;
  int finished;
  int bad; /* wrong status, body or flags */
  int h2c; /* every other call goes to the h2c service */
  pthread_t cb_thread;
  int thread_mismatch;
  int in_perform; /* a callback ran inside meshlib_client_perform() */
  int performing;
  pthread_mutex_t lock; /* own-thread mode: callbacks vs. the test */
  pthread_cond_t cond;
} batch;

static void batch_done(meshlib_request *r, int result, void *ud);

static void batch_start_one(batch *b) {
  int i = b->started++;
  const char *url = (b->h2c && i % 2) ? "http://h2svc/x"
                    : (i % 3 == 0)    ? "http://myapp/b/x"
                                      : "http://myapp/a/x";
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, b->mesh, "GET", url), MESHLIB_OK);
  b->performing = 1;
  int rc = meshlib_client_perform(b->c, r, batch_done, b);
  b->performing = 0;
  assert_int_equal(rc, MESHLIB_OK);
}

static void batch_done(meshlib_request *r, int result, void *ud) {
  batch *b = ud;
  pthread_mutex_lock(&b->lock);
  if (b->performing)
    b->in_perform++;
  if (!pthread_equal(pthread_self(), b->cb_thread))
    b->thread_mismatch++;
  const meshlib_decision *d = meshlib_response_decision(r);
  const char *host = d ? meshlib_decision_host(d) : NULL;
  const char *route = d ? meshlib_decision_route_name(d) : NULL;
  const char *want = host && strstr(host, "h2svc")      ? "h2"
                     : route && strcmp(route, "b") == 0 ? "v2"
                                                        : "v1";
  size_t len = 0;
  const char *body = meshlib_response_body(r, &len);
  if (result != MESHLIB_OK || meshlib_response_status(r) != 200 ||
      meshlib_response_flags(r) != 0 || !body || strcmp(body, want) != 0)
    b->bad++;
  meshlib_request_free(r);
  b->finished++;
  if (b->started < b->total)
    batch_start_one(b);
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
}

static void batch_init(batch *b, meshlib_client *c, meshlib *m, int total,
                       int window) {
  memset(b, 0, sizeof(*b));
  b->c = c;
  b->mesh = m;
  b->total = total;
  b->window = window;
  b->cb_thread = pthread_self();
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->cond, NULL);
}

static void batch_fini(batch *b) {
  pthread_mutex_destroy(&b->lock);
  pthread_cond_destroy(&b->cond);
}

/* ---- fixture ------------------------------------------------------- */

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

/* ---- app-driven ----------------------------------------------------- */

static void test_app_loop_many_calls(void **state) {
  tu_mesh *t = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, t->mesh), MESHLIB_OK);
  batch b;
  batch_init(&b, l.c, t->mesh, 200, 16);
  for (int i = 0; i < b.window; i++)
    batch_start_one(&b);
  assert_int_equal(meshlib_client_running(l.c), 16);
  tu_loop_until(&l, &b.finished, b.total, 20000);
  assert_int_equal(b.finished, 200);
  assert_int_equal(b.bad, 0);
  assert_int_equal(b.thread_mismatch, 0);
  assert_int_equal(b.in_perform, 0);
  assert_int_equal(l.running, 0);
  assert_int_equal(meshlib_client_running(l.c), 0);
  /* Kept-alive connections: far fewer than calls. */
  assert_true(meshlib_mock_connection_count(t->v1) <= 20);
  assert_true(l.timer_calls > 0);
  meshlib_client_free(l.c);
  /* Every descriptor was handed back. */
  assert_int_equal(l.nfds, 0);
  batch_fini(&b);
}

typedef struct one {
  int done;
  int result;
  int status;
  uint32_t flags;
  int64_t at_ms;
  char body[64];
  char served_by[16];
  int free_it;
} one;

static void one_done(meshlib_request *r, int result, void *ud) {
  one *o = ud;
  o->done++;
  o->result = result;
  o->status = meshlib_response_status(r);
  o->flags = meshlib_response_flags(r);
  o->at_ms = tu_now_ms();
  size_t len;
  const char *body = meshlib_response_body(r, &len);
  snprintf(o->body, sizeof(o->body), "%s", body ? body : "");
  const char *who = meshlib_response_header(r, "x-mock-name");
  snprintf(o->served_by, sizeof(o->served_by), "%s", who ? who : "");
  if (o->free_it)
    meshlib_request_free(r);
}

static meshlib_request *start(meshlib_client *c, meshlib *m, const char *method,
                              const char *url, one *o) {
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, m, method, url), MESHLIB_OK);
  assert_int_equal(meshlib_client_perform(c, r, one_done, o), MESHLIB_OK);
  return r;
}

static void test_app_loop_slow_upstream_does_not_block(void **state) {
  tu_mesh *t = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, t->mesh), MESHLIB_OK);
  meshlib_mock_push_delay(t->v2, 800, 200);
  one slow = {0};
  meshlib_request *rs =
      start(l.c, t->mesh, "GET", "http://myapp/b/slow", &slow);
  int64_t t0 = tu_now_ms();
  enum { N = 20 };
  one fast[N];
  meshlib_request *rf[N];
  memset(fast, 0, sizeof(fast));
  int fast_done = 0;
  for (int i = 0; i < N; i++)
    rf[i] = start(l.c, t->mesh, "GET", "http://myapp/a", &fast[i]);
  while (fast_done < N && tu_now_ms() - t0 < 5000) {
    tu_loop_once(&l, 50);
    fast_done = 0;
    for (int i = 0; i < N; i++)
      fast_done += fast[i].done;
  }
  assert_int_equal(fast_done, N);
  assert_int_equal(slow.done, 0); /* still waiting on the slow one */
  for (int i = 0; i < N; i++) {
    assert_int_equal(fast[i].status, 200);
    assert_string_equal(fast[i].body, "v1");
    assert_true(fast[i].at_ms - t0 < 700);
  }
  tu_loop_until(&l, &slow.done, 1, 5000);
  assert_int_equal(slow.status, 200);
  assert_string_equal(slow.body, "v2");
  assert_true(slow.at_ms - t0 >= 750);
  meshlib_request_free(rs);
  for (int i = 0; i < N; i++)
    meshlib_request_free(rf[i]);
  meshlib_client_free(l.c);
}

static void test_app_loop_timeout_is_ut(void **state) {
  tu_mesh *t = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, t->mesh), MESHLIB_OK);
  meshlib_mock_push_delay(t->v1, 3000, 200);
  one o = {0};
  int64_t t0 = tu_now_ms();
  /* The route's 200 ms timeout. */
  meshlib_request *r = start(l.c, t->mesh, "GET", "http://myapp/slow", &o);
  tu_loop_until(&l, &o.done, 1, 5000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.result, MESHLIB_OK);
  assert_int_equal(o.status, 504);
  assert_int_equal(o.flags, MESHLIB_RF_UT);
  assert_true(o.at_ms - t0 >= 150 && o.at_ms - t0 < 2000);

  /* The application's own deadline, and the same request again. */
  meshlib_mock_reset(t->v1);
  meshlib_mock_push_delay(t->v1, 3000, 200);
  meshlib_request_free(r);
  assert_int_equal(meshlib_request_new(&r, t->mesh, "GET", "http://myapp/a"),
                   MESHLIB_OK);
  meshlib_request_set_timeout_ms(r, 100);
  memset(&o, 0, sizeof(o));
  assert_int_equal(meshlib_client_perform(l.c, r, one_done, &o), MESHLIB_OK);
  tu_loop_until(&l, &o.done, 1, 5000);
  assert_int_equal(o.status, 504);
  assert_int_equal(o.flags, MESHLIB_RF_UT);
  meshlib_request_set_timeout_ms(r, 0);
  memset(&o, 0, sizeof(o));
  meshlib_mock_reset(t->v1);
  assert_int_equal(meshlib_client_perform(l.c, r, one_done, &o), MESHLIB_OK);
  tu_loop_until(&l, &o.done, 1, 5000);
  assert_int_equal(o.status, 200);
  assert_string_equal(o.body, "v1");
  meshlib_request_free(r);
  meshlib_client_free(l.c);
}

static void test_app_loop_local_replies(void **state) {
  tu_mesh *t = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, t->mesh), MESHLIB_OK);
  one nr = {0}, direct = {0}, uh = {0};
  nr.free_it = direct.free_it = uh.free_it = 1;
  start(l.c, t->mesh, "POST", "http://strict/x", &nr);
  start(l.c, t->mesh, "GET", "http://myapp/direct", &direct);
  start(l.c, t->mesh, "GET", "http://myapp/nobody", &uh);
  /* Not inside perform: from the next action, for which the timer is
   * armed at 0. */
  assert_int_equal(nr.done + direct.done + uh.done, 0);
  assert_int_equal(meshlib_client_running(l.c), 3);
  assert_true(l.deadline >= 0 && l.deadline <= tu_now_ms());
  int sum = 0;
  int64_t end = tu_now_ms() + 2000;
  while (sum < 3 && tu_now_ms() < end) {
    tu_loop_once(&l, 50);
    sum = nr.done + direct.done + uh.done;
  }
  assert_int_equal(sum, 3);
  assert_int_equal(nr.status, 404);
  assert_int_equal(nr.flags, MESHLIB_RF_NR);
  assert_int_equal(direct.status, 418);
  assert_string_equal(direct.body, "teapot");
  assert_int_equal(uh.status, 503);
  assert_int_equal(uh.flags, MESHLIB_RF_UH);
  assert_int_equal(meshlib_mock_request_count(t->v1), 0);
  meshlib_client_free(l.c);
}

static void test_app_loop_cancel(void **state) {
  tu_mesh *t = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, t->mesh), MESHLIB_OK);
  meshlib_mock_push_hang(t->v1);
  one o = {0};
  meshlib_request *r = start(l.c, t->mesh, "GET", "http://myapp/a/hang", &o);
  /* Turn until the upstream holds the request. */
  int64_t end = tu_now_ms() + 3000;
  while (meshlib_mock_request_count(t->v1) < 1 && tu_now_ms() < end)
    tu_loop_once(&l, 20);
  assert_int_equal(meshlib_mock_request_count(t->v1), 1);
  assert_int_equal(meshlib_client_cancel(l.c, r), MESHLIB_OK);
  assert_int_equal(o.done, 0); /* never inside cancel */
  assert_int_equal(meshlib_client_cancel(l.c, r), MESHLIB_OK); /* again */
  tu_loop_until(&l, &o.done, 1, 2000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.status, 499);
  assert_int_equal(o.flags, MESHLIB_RF_DC);
  assert_int_equal(meshlib_client_cancel(l.c, r), MESHLIB_ERR_NOT_FOUND);

  /* A local reply that has not been called back yet ended already. */
  one nr = {0};
  meshlib_request *r2 = start(l.c, t->mesh, "POST", "http://strict/", &nr);
  assert_int_equal(meshlib_client_cancel(l.c, r2), MESHLIB_ERR_NOT_FOUND);
  tu_loop_until(&l, &nr.done, 1, 2000);
  assert_int_equal(nr.status, 404);

  /* The client goes on. */
  meshlib_mock_reset(t->v1);
  memset(&o, 0, sizeof(o));
  assert_int_equal(meshlib_client_perform(l.c, r, one_done, &o), MESHLIB_OK);
  tu_loop_until(&l, &o.done, 1, 3000);
  assert_int_equal(o.status, 200);
  meshlib_request_free(r);
  meshlib_request_free(r2);
  meshlib_client_free(l.c);
}

static void test_app_loop_h2c(void **state) {
  tu_mesh *t = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, t->mesh), MESHLIB_OK);
  batch b;
  batch_init(&b, l.c, t->mesh, 120, 16);
  b.h2c = 1;
  for (int i = 0; i < b.window; i++)
    batch_start_one(&b);
  /* The workers' eventfd is watched like a socket. */
  assert_true(l.nfds >= 1);
  tu_loop_until(&l, &b.finished, b.total, 20000);
  assert_int_equal(b.finished, 120);
  assert_int_equal(b.bad, 0);
  assert_int_equal(b.thread_mismatch, 0);
  int n = meshlib_mock_request_count(t->h2);
  assert_int_equal(n, 60);
  for (int i = 0; i < n; i++)
    assert_string_equal(meshlib_mock_request_protocol(t->h2, i), "HTTP/2");
  assert_string_equal(meshlib_mock_request_header(t->h2, 0, "host"), "h2svc");
  /* A few connections (one per worker), reused. */
  assert_true(meshlib_mock_connection_count(t->h2) <= 4);
  meshlib_client_free(l.c);
  assert_int_equal(l.nfds, 0);
  batch_fini(&b);
}

static int freed_dc;
static int freed_other;
static void count_free(meshlib_request *r, int result, void *ud) {
  (void)ud;
  assert_int_equal(result, MESHLIB_OK);
  if (meshlib_response_flags(r) == MESHLIB_RF_DC)
    freed_dc++;
  else
    freed_other++;
  meshlib_request_free(r);
}

static void test_app_loop_free_in_flight(void **state) {
  tu_mesh *t = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, t->mesh), MESHLIB_OK);
  freed_dc = freed_other = 0;
  for (int i = 0; i < 5; i++)
    meshlib_mock_push_hang(t->v1);
  meshlib_mock_push_delay(t->h2, 300, 200);
  const char *urls[] = {"http://myapp/a",    "http://myapp/a", "http://myapp/a",
                        "http://myapp/a",    "http://myapp/a", "http://h2svc/",
                        "http://strict/post"};
  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    meshlib_request *r;
    assert_int_equal(
        meshlib_request_new(&r, t->mesh, i == 6 ? "POST" : "GET", urls[i]),
        MESHLIB_OK);
    assert_int_equal(meshlib_client_perform(l.c, r, count_free, NULL),
                     MESHLIB_OK);
  }
  int64_t end = tu_now_ms() + 3000;
  while ((meshlib_mock_request_count(t->v1) < 5 ||
          meshlib_mock_request_count(t->h2) < 1) &&
         tu_now_ms() < end)
    tu_loop_once(&l, 20);
  meshlib_client_free(l.c);
  /* Five hung h1 calls cancelled; the h2c one ran to its end and the
   * local reply had already ended. */
  assert_int_equal(freed_dc, 5);
  assert_int_equal(freed_other, 2);
  assert_int_equal(l.nfds, 0);
  meshlib_mock_reset(t->v1);
}

static void test_app_loop_misuse(void **state) {
  tu_mesh *t = *state;
  meshlib_client *c;
  assert_int_equal(meshlib_client_new(NULL, t->mesh), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_client_new(&c, NULL), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_client_new(&c, t->mesh), MESHLIB_OK);
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, t->mesh, "GET", "http://myapp/"),
                   MESHLIB_OK);
  one o = {0};
  /* No hooks, no thread: nothing would drive the call. */
  assert_int_equal(meshlib_client_perform(c, r, one_done, &o),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_client_perform(c, r, NULL, &o),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_client_cancel(c, r), MESHLIB_ERR_NOT_FOUND);
  assert_int_equal(meshlib_client_socket_action(NULL, -1, 0, NULL),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_client_start_thread(c), MESHLIB_OK);
  assert_int_equal(meshlib_client_start_thread(c), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_client_socket_action(c, -1, 0, NULL),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_client_set_timer_cb(c, NULL, NULL),
                   MESHLIB_ERR_INVALID_ARG);
  meshlib_client_free(c);
  meshlib_client_free(NULL);
  meshlib_request_free(r);
}

/* ---- own thread ----------------------------------------------------- */

static void wait_finished(batch *b, int n, int limit_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += limit_ms / 1000;
  pthread_mutex_lock(&b->lock);
  while (b->finished < n)
    if (pthread_cond_timedwait(&b->cond, &b->lock, &until) != 0)
      break;
  pthread_mutex_unlock(&b->lock);
}

static void test_own_thread_many_calls(void **state) {
  tu_mesh *t = *state;
  meshlib_client *c;
  assert_int_equal(meshlib_client_new(&c, t->mesh), MESHLIB_OK);
  assert_int_equal(meshlib_client_start_thread(c), MESHLIB_OK);
  batch b;
  batch_init(&b, c, t->mesh, 200, 16);
  b.h2c = 1;
  /* The callbacks' thread is the client's: learn it from the first
   * call, then every other must match it and differ from this one. */
  pthread_t main_thread = pthread_self();
  pthread_mutex_lock(&b.lock);
  for (int i = 0; i < b.window; i++)
    batch_start_one(&b);
  pthread_mutex_unlock(&b.lock);
  wait_finished(&b, b.total, 30000);
  pthread_mutex_lock(&b.lock);
  assert_int_equal(b.finished, 200);
  assert_int_equal(b.bad, 0);
  /* Every callback ran off the main thread (on one thread: the count of
   * mismatches against the main thread is all of them). */
  assert_int_equal(b.thread_mismatch, 200);
  assert_true(pthread_equal(b.cb_thread, main_thread));
  pthread_mutex_unlock(&b.lock);
  meshlib_client_free(c);
  batch_fini(&b);
}

typedef struct thr_one {
  one o;
  pthread_t thread;
  pthread_mutex_t *lock;
  pthread_cond_t *cond;
} thr_one;

static void thr_done(meshlib_request *r, int result, void *ud) {
  thr_one *x = ud;
  pthread_mutex_lock(x->lock);
  one_done(r, result, &x->o);
  x->thread = pthread_self();
  pthread_cond_broadcast(x->cond);
  pthread_mutex_unlock(x->lock);
}

static void thr_wait(thr_one *x, int limit_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += limit_ms / 1000 + 1;
  pthread_mutex_lock(x->lock);
  while (!x->o.done)
    if (pthread_cond_timedwait(x->cond, x->lock, &until) != 0)
      break;
  pthread_mutex_unlock(x->lock);
}

static void test_own_thread_cancel_timeout_local(void **state) {
  tu_mesh *t = *state;
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  meshlib_client *c;
  assert_int_equal(meshlib_client_new(&c, t->mesh), MESHLIB_OK);
  assert_int_equal(meshlib_client_start_thread(c), MESHLIB_OK);

  /* A local reply. */
  thr_one nr = {.lock = &lock, .cond = &cond};
  meshlib_request *r1;
  meshlib_request_new(&r1, t->mesh, "POST", "http://strict/");
  assert_int_equal(meshlib_client_perform(c, r1, thr_done, &nr), MESHLIB_OK);
  thr_wait(&nr, 2000);
  assert_int_equal(nr.o.status, 404);
  assert_false(pthread_equal(nr.thread, pthread_self()));

  /* A timeout. */
  meshlib_mock_push_delay(t->v1, 3000, 200);
  thr_one ut = {.lock = &lock, .cond = &cond};
  meshlib_request *r2;
  meshlib_request_new(&r2, t->mesh, "GET", "http://myapp/slow");
  assert_int_equal(meshlib_client_perform(c, r2, thr_done, &ut), MESHLIB_OK);
  thr_wait(&ut, 3000);
  assert_int_equal(ut.o.status, 504);
  assert_int_equal(ut.o.flags, MESHLIB_RF_UT);
  assert_true(pthread_equal(ut.thread, nr.thread));

  /* A cancel from this thread while the client's thread carries it. */
  meshlib_mock_reset(t->v1);
  meshlib_mock_push_hang(t->v1);
  thr_one dc = {.lock = &lock, .cond = &cond};
  meshlib_request *r3;
  meshlib_request_new(&r3, t->mesh, "GET", "http://myapp/a");
  assert_int_equal(meshlib_client_perform(c, r3, thr_done, &dc), MESHLIB_OK);
  assert_int_equal(meshlib_mock_wait_requests(t->v1, 1, 3000), 1);
  assert_int_equal(meshlib_client_cancel(c, r3), MESHLIB_OK);
  thr_wait(&dc, 3000);
  assert_int_equal(dc.o.status, 499);
  assert_int_equal(dc.o.flags, MESHLIB_RF_DC);
  meshlib_mock_reset(t->v1);

  /* Free with a hung call in flight: its callback runs (DC) on the
   * client's thread before free returns. */
  meshlib_mock_push_hang(t->v2);
  thr_one fr = {.lock = &lock, .cond = &cond};
  meshlib_request *r4;
  meshlib_request_new(&r4, t->mesh, "GET", "http://myapp/b");
  assert_int_equal(meshlib_client_perform(c, r4, thr_done, &fr), MESHLIB_OK);
  assert_int_equal(meshlib_mock_wait_requests(t->v2, 1, 3000), 1);
  meshlib_client_free(c);
  assert_int_equal(fr.o.done, 1);
  assert_int_equal(fr.o.flags, MESHLIB_RF_DC);
  assert_true(pthread_equal(fr.thread, nr.thread));
  meshlib_mock_reset(t->v2);
  meshlib_request_free(r1);
  meshlib_request_free(r2);
  meshlib_request_free(r3);
  meshlib_request_free(r4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_app_loop_many_calls, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_app_loop_slow_upstream_does_not_block, setup, teardown),
      cmocka_unit_test_setup_teardown(test_app_loop_timeout_is_ut, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_app_loop_local_replies, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_app_loop_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_app_loop_h2c, setup, teardown),
      cmocka_unit_test_setup_teardown(test_app_loop_free_in_flight, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_app_loop_misuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_own_thread_many_calls, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_own_thread_cancel_timeout_local,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
