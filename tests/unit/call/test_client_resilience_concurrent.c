/* SPDX-License-Identifier: MIT */
/* Resilience on the asynchronous drivers: retries with their backoff and
 * fault delays wait on the client's timer, not on the loop; a call can be
 * cancelled while it waits; a pending request of a full pool is bounded;
 * the CURL * path makes one attempt under the same policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "client_test_util.h"
#include "meshlib/curl.h"
#include "meshlib/testing.h"

typedef struct env {
  meshlib_mock *bad, *good, *hang;
  meshlib *mesh;
} env;

static char yaml[8192];

static int setup(void **state) {
  env *e = calloc(1, sizeof(*e));
  assert_int_equal(meshlib_mock_new(&e->bad), MESHLIB_OK);
  assert_int_equal(meshlib_mock_new(&e->good), MESHLIB_OK);
  assert_int_equal(meshlib_mock_new(&e->hang), MESHLIB_OK);
  meshlib_mock_set_name(e->good, "good");
  meshlib_mock_set_default(e->bad, 503, "down", 4);
  for (int i = 0; i < 50; i++)
    meshlib_mock_push_hang(e->hang);
  snprintf(yaml, sizeof(yaml),
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: svc}\n"
           "spec:\n"
           "  hosts: [svc.test]\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints:\n"
           "  - {address: 127.0.0.1, ports: {http: %d}, labels: {ep: bad}}\n"
           "  - {address: 127.0.0.1, ports: {http: %d}, labels: {ep: good}}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: slow}\n"
           "spec:\n"
           "  hosts: [slow.test]\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: DestinationRule\n"
           "metadata: {name: slow}\n"
           "spec:\n"
           "  host: slow.test\n"
           "  trafficPolicy:\n"
           "    connectionPool:\n"
           "      tcp: {maxConnections: 1}\n"
           "      http: {http1MaxPendingRequests: 1}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: slow}\n"
           "spec:\n"
           "  hosts: [slow.test]\n"
           "  http:\n"
           "  - timeout: 400ms\n"
           "    route: [{destination: {host: slow.test}}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: svc}\n"
           "spec:\n"
           "  hosts: [svc.test]\n"
           "  http:\n"
           "  - name: delayed\n"
           "    match: [{uri: {prefix: /delayed}}]\n"
           "    fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}\n"
           "    retries: {attempts: 0}\n"
           "    route: [{destination: {host: svc.test}}]\n"
           "  - name: teapot\n"
           "    match: [{uri: {prefix: /teapot}}]\n"
           "    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n"
           "    route: [{destination: {host: svc.test}}]\n"
           "  - name: retry\n"
           "    retries: {attempts: 2, retryOn: 5xx}\n"
           "    route: [{destination: {host: svc.test}}]\n",
           meshlib_mock_port(e->bad), meshlib_mock_port(e->good),
           meshlib_mock_port(e->hang));
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_add_config_string(o, "async-resilience", yaml, strlen(yaml));
  assert_int_equal(meshlib_new(&e->mesh, o), MESHLIB_OK);
  meshlib_options_free(o);
  *state = e;
  return 0;
}

static int teardown(void **state) {
  env *e = *state;
  meshlib_free(e->mesh);
  meshlib_mock_free(e->bad);
  meshlib_mock_free(e->good);
  meshlib_mock_free(e->hang);
  free(e);
  return 0;
}

typedef struct outcome {
  int done;
  int result;
  int status;
  uint32_t flags;
  uint32_t attempts;
  int64_t end_ms;
  const char *body_name; /* "good" or NULL */
  pthread_mutex_t lock;
} outcome;

static void on_done(meshlib_request *r, int result, void *ud) {
  outcome *o = ud;
  pthread_mutex_lock(&o->lock);
  o->result = result;
  o->status = meshlib_response_status(r);
  o->flags = meshlib_response_flags(r);
  o->attempts = meshlib_response_attempts(r);
  const char *n = meshlib_response_header(r, "x-mock-name");
  o->body_name = n && strcmp(n, "good") == 0 ? "good" : NULL;
  o->end_ms = tu_now_ms();
  o->done++;
  pthread_mutex_unlock(&o->lock);
  meshlib_request_free(r);
}

static void start(meshlib_client *c, meshlib *m, const char *url, outcome *o) {
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, m, "GET", url), MESHLIB_OK);
  assert_int_equal(meshlib_client_perform(c, r, on_done, o), MESHLIB_OK);
}

#define CALLS 20

/* Retries through the application's loop: every call ends 200 on the
 * good endpoint; those that met the bad one first took two attempts. */
static void test_loop_retries(void **state) {
  env *e = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, e->mesh), MESHLIB_OK);
  outcome o[CALLS];
  memset(o, 0, sizeof(o));
  for (int i = 0; i < CALLS; i++) {
    pthread_mutex_init(&o[i].lock, NULL);
    start(l.c, e->mesh, "http://svc.test/x", &o[i]);
  }
  int done = 0;
  int64_t end = tu_now_ms() + 10000;
  while (done < CALLS && tu_now_ms() < end) {
    tu_loop_once(&l, 50);
    done = 0;
    for (int i = 0; i < CALLS; i++)
      done += o[i].done;
  }
  assert_int_equal(done, CALLS);
  int retried = 0;
  for (int i = 0; i < CALLS; i++) {
    assert_int_equal(o[i].result, MESHLIB_OK);
    assert_int_equal(o[i].status, 200);
    assert_non_null(o[i].body_name);
    assert_true(o[i].attempts == 1 || o[i].attempts == 2);
    retried += o[i].attempts == 2;
    pthread_mutex_destroy(&o[i].lock);
  }
  assert_true(retried > 0);
  meshlib_client_free(l.c);
}

/* A fault's delay waits on the client's timer: a call without a fault,
 * started after it, ends first; the delayed one ends after 300 ms with DI. */
static void test_loop_fault_delay_does_not_block(void **state) {
  env *e = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, e->mesh), MESHLIB_OK);
  outcome slow = {0}, fast = {0};
  pthread_mutex_init(&slow.lock, NULL);
  pthread_mutex_init(&fast.lock, NULL);
  int64_t t0 = tu_now_ms();
  start(l.c, e->mesh, "http://svc.test/delayed", &slow);
  start(l.c, e->mesh, "http://svc.test/teapot", &fast);
  tu_loop_until(&l, &slow.done, 1, 5000);
  assert_int_equal(fast.done, 1);
  assert_int_equal(fast.status, 418);
  assert_true(fast.flags & MESHLIB_RF_FI);
  assert_true(fast.end_ms - t0 < 250);
  assert_int_equal(slow.done, 1);
  assert_true(slow.flags & MESHLIB_RF_DI);
  assert_true(slow.end_ms - t0 >= 280);
  meshlib_client_free(l.c);
}

/* A call cancelled during its delay ends at once with 499 DC. */
static void test_loop_cancel_while_waiting(void **state) {
  env *e = *state;
  tu_loop l;
  assert_int_equal(tu_loop_init(&l, e->mesh), MESHLIB_OK);
  outcome o = {0};
  pthread_mutex_init(&o.lock, NULL);
  meshlib_request *r;
  assert_int_equal(
      meshlib_request_new(&r, e->mesh, "GET", "http://svc.test/delayed"),
      MESHLIB_OK);
  assert_int_equal(meshlib_client_perform(l.c, r, on_done, &o), MESHLIB_OK);
  int64_t t0 = tu_now_ms();
  tu_loop_once(&l, 20);
  assert_int_equal(meshlib_client_cancel(l.c, r), MESHLIB_OK);
  tu_loop_until(&l, &o.done, 1, 5000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.status, 499);
  assert_true(o.flags & MESHLIB_RF_DC);
  assert_true(o.end_ms - t0 < 250);
  meshlib_client_free(l.c);
}

/* One connection, one pending place: of three calls to an endpoint that
 * never answers, one overflows at once (UO); the others end with the
 * route's timeout. The client's own thread drives them. */
static void test_thread_pool_limits(void **state) {
  env *e = *state;
  meshlib_client *c;
  assert_int_equal(meshlib_client_new(&c, e->mesh), MESHLIB_OK);
  assert_int_equal(meshlib_client_start_thread(c), MESHLIB_OK);
  outcome o[3];
  memset(o, 0, sizeof(o));
  int64_t t0 = tu_now_ms();
  for (int i = 0; i < 3; i++) {
    pthread_mutex_init(&o[i].lock, NULL);
    start(c, e->mesh, "http://slow.test/", &o[i]);
    if (i == 0)
      meshlib_mock_wait_requests(e->hang, 1, 5000);
  }
  int64_t end = tu_now_ms() + 5000;
  for (;;) {
    int done = 0;
    for (int i = 0; i < 3; i++) {
      pthread_mutex_lock(&o[i].lock);
      done += o[i].done;
      pthread_mutex_unlock(&o[i].lock);
    }
    if (done == 3 || tu_now_ms() > end)
      break;
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  meshlib_client_free(c);
  int uo = 0, ut = 0;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(o[i].done, 1);
    if (o[i].flags & MESHLIB_RF_UO) {
      assert_int_equal(o[i].status, 503);
      assert_true(o[i].end_ms - t0 < 300);
      uo++;
    } else {
      assert_int_equal(o[i].status, 504);
      assert_true(o[i].flags & MESHLIB_RF_UT);
      ut++;
    }
    pthread_mutex_destroy(&o[i].lock);
  }
  assert_int_equal(uo, 1);
  assert_int_equal(ut, 2);
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

/* The CURL * path: a fault's abort is a local reply; an exchange is one
 * attempt, reported as such. */
static void test_curl_path_one_attempt(void **state) {
  env *e = *state;
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  meshlib_request *r;
  assert_int_equal(
      meshlib_request_new(&r, e->mesh, "GET", "http://svc.test/teapot"),
      MESHLIB_OK);
  assert_int_equal(meshlib_curl_prepare(r, h), MESHLIB_CURL_LOCAL_REPLY);
  assert_int_equal(meshlib_response_status(r), 418);
  assert_true(meshlib_response_flags(r) & MESHLIB_RF_FI);
  meshlib_request_free(r);

  int served = 0;
  for (int i = 0; i < 10; i++) {
    assert_int_equal(
        meshlib_request_new(&r, e->mesh, "GET", "http://svc.test/x"),
        MESHLIB_OK);
    assert_int_equal(meshlib_curl_prepare(r, h), MESHLIB_OK);
    CURLcode cc = curl_easy_perform(h);
    assert_int_equal(meshlib_curl_done(r, h, (int)cc), MESHLIB_OK);
    assert_int_equal(meshlib_response_attempts(r), 1);
    int st = meshlib_response_status(r);
    assert_true(st == 200 || st == 503);
    served += st == 200;
    meshlib_request_free(r);
  }
  assert_true(served > 0 && served < 10);
  curl_easy_cleanup(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_loop_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_loop_fault_delay_does_not_block,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_loop_cancel_while_waiting, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_thread_pool_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_curl_path_one_attempt, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
