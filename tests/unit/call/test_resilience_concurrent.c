/* SPDX-License-Identifier: MIT */
/* Resilience end to end, against real HTTP servers on 127.0.0.1 (the
 * mock-upstream kit): retries and their conditions, per-try and route
 * timeouts, connect failures, outlier ejection and its return, panic
 * mode, circuit breakers (UO), fault injection (DI, FI), seeded faults.
 * Time bounds are generous: these tests prove behaviour, bench/ proves
 * speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"

#define EPS 3

typedef struct fixture {
  meshlib_mock *ep[EPS];
  int port[EPS]; /* a dead port when ep[i] is NULL */
  meshlib *mesh;
} fixture;

static char yaml[16384];
/* meshlib's retry rate budget for the next build_mesh(): retries per
 * second allowed over the window; 0: off. */
static double rate_budget_min;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A port nothing listens on: bound, then closed. */
static int dead_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

/* Endpoints e0..e(n-1) of svc.test (the mocks, or dead ports), the
 * DestinationRule's trafficPolicy |policy| (YAML under trafficPolicy, or
 * "") and the route's extra fields |route| (YAML at the http route's
 * level, or ""). */
static void build_mesh(fixture *f, int n, const char *policy, const char *route,
                       int seed) {
  char eps[1024] = "";
  for (int i = 0; i < n; i++) {
    size_t l = strlen(eps);
    snprintf(eps + l, sizeof(eps) - l,
             "  - {address: 127.0.0.1, ports: {http: %d}, labels: {ep: e%d}}\n",
             f->port[i], i);
  }
  snprintf(yaml, sizeof(yaml),
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: svc, namespace: default}\n"
           "spec:\n"
           "  hosts: [svc.test]\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints:\n"
           "%s"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: DestinationRule\n"
           "metadata: {name: svc, namespace: default}\n"
           "spec:\n"
           "  host: svc.test\n"
           "  trafficPolicy:\n"
           "    loadBalancer: {simple: ROUND_ROBIN}\n"
           "%s"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: svc, namespace: default}\n"
           "spec:\n"
           "  hosts: [svc.test]\n"
           "  http:\n"
           "  - name: main\n"
           "%s"
           "    route: [{destination: {host: svc.test}}]\n",
           eps, policy, route);
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(
      meshlib_options_add_config_string(o, "resilience", yaml, strlen(yaml)),
      MESHLIB_OK);
  if (seed)
    meshlib_options_set_random_seed(o, (uint64_t)seed);
  if (rate_budget_min > 0)
    assert_int_equal(
        meshlib_options_set_retry_rate_budget(o, 0.0, rate_budget_min),
        MESHLIB_OK);
  int rc = meshlib_new(&f->mesh, o);
  if (rc != MESHLIB_OK)
    fprintf(stderr, "%s\n%s\n", meshlib_options_errmsg(o), yaml);
  assert_int_equal(rc, MESHLIB_OK);
  meshlib_options_free(o);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  rate_budget_min = 0;
  for (int i = 0; i < EPS; i++) {
    char name[8];
    snprintf(name, sizeof(name), "e%d", i);
    assert_int_equal(meshlib_mock_new(&f->ep[i]), MESHLIB_OK);
    meshlib_mock_set_name(f->ep[i], name);
    f->port[i] = meshlib_mock_port(f->ep[i]);
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  meshlib_free(f->mesh);
  for (int i = 0; i < EPS; i++)
    meshlib_mock_free(f->ep[i]);
  free(f);
  return 0;
}

/* The index of the mock behind "127.0.0.1:port", or -1. */
static int ep_of(const fixture *f, const char *upstream) {
  const char *colon = upstream ? strrchr(upstream, ':') : NULL;
  int port = colon ? atoi(colon + 1) : -1;
  for (int i = 0; i < EPS; i++)
    if (f->port[i] == port)
      return i;
  return -1;
}

static meshlib_request *call(fixture *f, const char *path) {
  char url[128];
  snprintf(url, sizeof(url), "http://svc.test%s", path);
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, f->mesh, "GET", url), MESHLIB_OK);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  return r;
}

/* 503 from two endpoints, 200 from the third: every call succeeds, each
 * attempt on an endpoint not tried before, and x-envoy-attempt-count
 * counts them. */
static void test_retry_5xx_moves_to_other_endpoints(void **state) {
  fixture *f = *state;
  meshlib_mock_set_default(f->ep[0], 503, "down", 4);
  meshlib_mock_set_default(f->ep[1], 503, "down", 4);
  build_mesh(f, 3, "", "    retries: {attempts: 2, retryOn: 5xx}\n", 7);
  int three = 0;
  for (int i = 0; i < 30; i++) {
    meshlib_request *r = call(f, "/");
    assert_int_equal(meshlib_response_status(r), 200);
    assert_int_equal(meshlib_response_flags(r), 0);
    uint32_t n = meshlib_response_attempts(r);
    assert_true(n >= 1 && n <= 3);
    int seen[EPS] = {0};
    for (uint32_t a = 0; a < n; a++) {
      int e = ep_of(f, meshlib_response_attempt_upstream(r, a));
      assert_true(e >= 0);
      assert_int_equal(seen[e], 0); /* never the same endpoint twice */
      seen[e] = 1;
      if (a + 1 < n) {
        assert_int_equal(meshlib_response_attempt_status(r, a), 503);
        assert_string_equal(meshlib_response_attempt_retry_reason(r, a), "5xx");
      } else {
        assert_null(meshlib_response_attempt_retry_reason(r, a));
      }
    }
    assert_int_equal(ep_of(f, meshlib_response_upstream(r)), 2);
    three += n == 3;
    meshlib_request_free(r);
  }
  assert_true(three > 0);
  /* The last request e2 saw carries its attempt number. */
  int k = meshlib_mock_request_count(f->ep[2]);
  const char *count =
      meshlib_mock_request_header(f->ep[2], k - 1, "x-envoy-attempt-count");
  assert_non_null(count);
  assert_true(atoi(count) >= 1 && atoi(count) <= 3);
}

/* A retried POST sends its body again, whole, to the next endpoint. */
static void test_retry_replays_body(void **state) {
  fixture *f = *state;
  meshlib_mock_set_default(f->ep[0], 503, "down", 4);
  build_mesh(f, 2, "", "    retries: {attempts: 1, retryOn: 5xx}\n", 0);
  static const char body[] = "{\"order\": 42, \"items\": [1, 2, 3]}";
  int replayed = 0;
  for (int i = 0; i < 10; i++) {
    meshlib_request *r;
    assert_int_equal(
        meshlib_request_new(&r, f->mesh, "POST", "http://svc.test/orders"),
        MESHLIB_OK);
    assert_int_equal(meshlib_request_set_body(r, body, sizeof(body) - 1),
                     MESHLIB_OK);
    assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
    assert_int_equal(meshlib_response_status(r), 200);
    replayed += meshlib_response_attempts(r) == 2;
    meshlib_request_free(r);
  }
  assert_true(replayed > 0);
  int n = meshlib_mock_request_count(f->ep[1]);
  assert_int_equal(n, 10);
  for (int i = 0; i < n; i++) {
    size_t len = 0;
    const char *got = meshlib_mock_request_body(f->ep[1], i, &len);
    assert_int_equal(len, sizeof(body) - 1);
    assert_memory_equal(got, body, len);
  }
}

/* The rate budget: one retry per 10 s window (0.1 a second); the next
 * call that needs a retry ends at once with the last answer and URX. */
static void test_rate_budget_refuses_retries(void **state) {
  fixture *f = *state;
  meshlib_mock_set_default(f->ep[0], 503, "down", 4);
  meshlib_mock_set_default(f->ep[1], 503, "down", 4);
  rate_budget_min = 0.1;
  build_mesh(f, 2, "", "    retries: {attempts: 1, retryOn: 5xx}\n", 0);
  meshlib_request *r = call(f, "/");
  assert_int_equal(meshlib_response_status(r), 503);
  assert_int_equal(meshlib_response_attempts(r), 2);       /* the one retry */
  assert_true(meshlib_response_flags(r) & MESHLIB_RF_URX); /* limit */
  meshlib_request_free(r);
  r = call(f, "/");
  assert_int_equal(meshlib_response_status(r), 503);
  assert_int_equal(meshlib_response_attempts(r), 1); /* budget spent */
  assert_true(meshlib_response_flags(r) & MESHLIB_RF_URX);
  meshlib_request_free(r);
}

/* x-envoy-retry-on from the application adds conditions, as Envoy's
 * router honours it, and does not go upstream. */
static void test_retry_on_request_header(void **state) {
  fixture *f = *state;
  meshlib_mock_set_default(f->ep[0], 503, "down", 4);
  build_mesh(f, 2, "", "", 0); /* Istio's default: a 503 is not retried */
  int retried = 0;
  for (int i = 0; i < 10; i++) {
    meshlib_request *r;
    assert_int_equal(
        meshlib_request_new(&r, f->mesh, "GET", "http://svc.test/"),
        MESHLIB_OK);
    assert_int_equal(meshlib_request_add_header(r, "x-envoy-retry-on", "5xx"),
                     MESHLIB_OK);
    assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
    assert_int_equal(meshlib_response_status(r), 200);
    retried += meshlib_response_attempts(r) == 2;
    meshlib_request_free(r);
  }
  assert_true(retried > 0);
  for (int e = 0; e < 2; e++)
    for (int i = 0; i < meshlib_mock_request_count(f->ep[e]); i++)
      assert_null(meshlib_mock_request_header(f->ep[e], i, "x-envoy-retry-on"));
}

/* gateway-error retries 502/503/504, not a 500. */
static void test_gateway_error_does_not_retry_500(void **state) {
  fixture *f = *state;
  for (int i = 0; i < EPS; i++)
    meshlib_mock_set_default(f->ep[i], 500, "oops", 4);
  build_mesh(f, 3, "", "    retries: {attempts: 3, retryOn: gateway-error}\n",
             0);
  meshlib_request *r = call(f, "/");
  assert_int_equal(meshlib_response_status(r), 500);
  assert_int_equal(meshlib_response_attempts(r), 1);
  assert_int_equal(meshlib_response_flags(r), 0);
  meshlib_request_free(r);
  /* A 503 is a gateway error: three retries, then the limit (URX). */
  for (int i = 0; i < EPS; i++)
    meshlib_mock_set_default(f->ep[i], 503, "down", 4);
  r = call(f, "/");
  assert_int_equal(meshlib_response_status(r), 503);
  assert_int_equal(meshlib_response_attempts(r), 4);
  assert_true(meshlib_response_flags(r) & MESHLIB_RF_URX);
  meshlib_request_free(r);
}

/* Istio's default policy: a plain 503 is not retried; a connect failure
 * is, on another endpoint. */
static void test_default_policy(void **state) {
  fixture *f = *state;
  meshlib_mock_free(f->ep[0]);
  f->ep[0] = NULL;
  f->port[0] = dead_port();
  meshlib_mock_set_default(f->ep[1], 503, "down", 4);
  build_mesh(f, 2, "", "", 0);
  int retried = 0;
  for (int i = 0; i < 10; i++) {
    meshlib_request *r = call(f, "/");
    assert_int_equal(meshlib_response_status(r), 503);
    uint32_t n = meshlib_response_attempts(r);
    if (n == 2) {
      /* The dead port first (UF), then e1's real 503, not retried. */
      assert_int_equal(ep_of(f, meshlib_response_attempt_upstream(r, 0)), 0);
      assert_true(meshlib_response_attempt_flags(r, 0) & MESHLIB_RF_UF);
      assert_string_equal(meshlib_response_attempt_retry_reason(r, 0),
                          "connect-failure");
      retried++;
    } else {
      assert_int_equal(n, 1);
      assert_int_equal(ep_of(f, meshlib_response_upstream(r)), 1);
    }
    assert_int_equal(meshlib_response_flags(r), 0);
    meshlib_request_free(r);
  }
  assert_true(retried > 0);
}

/* A connect failure to a dead port lands on the live endpoint. */
static void test_connect_failure_retries_elsewhere(void **state) {
  fixture *f = *state;
  meshlib_mock_free(f->ep[0]);
  f->ep[0] = NULL;
  f->port[0] = dead_port();
  build_mesh(f, 2, "", "    retries: {attempts: 2, retryOn: connect-failure}\n",
             0);
  for (int i = 0; i < 10; i++) {
    meshlib_request *r = call(f, "/");
    assert_int_equal(meshlib_response_status(r), 200);
    assert_int_equal(ep_of(f, meshlib_response_upstream(r)), 1);
    meshlib_request_free(r);
  }
}

/* perTryTimeout cuts a hanging endpoint; the retry lands elsewhere. */
static void test_per_try_timeout(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 20; i++)
    meshlib_mock_push_hang(f->ep[0]);
  build_mesh(f, 2, "",
             "    retries: {attempts: 2, perTryTimeout: 200ms, "
             "retryOn: 5xx}\n",
             0);
  int cut = 0;
  for (int i = 0; i < 4; i++) {
    int64_t t0 = now_ms();
    meshlib_request *r = call(f, "/");
    int64_t took = now_ms() - t0;
    assert_int_equal(meshlib_response_status(r), 200);
    assert_int_equal(ep_of(f, meshlib_response_upstream(r)), 1);
    if (meshlib_response_attempts(r) == 2) {
      assert_int_equal(meshlib_response_attempt_status(r, 0), 504);
      assert_true(meshlib_response_attempt_flags(r, 0) & MESHLIB_RF_UT);
      assert_true(meshlib_response_attempt_duration_us(r, 0) >= 150000);
      assert_true(took < 3000);
      cut++;
    }
    meshlib_request_free(r);
  }
  assert_true(cut > 0);
}

/* The route's timeout ends the whole call, retries included. */
static void test_route_timeout_bounds_retries(void **state) {
  fixture *f = *state;
  for (int e = 0; e < 2; e++)
    for (int i = 0; i < 10; i++)
      meshlib_mock_push_hang(f->ep[e]);
  build_mesh(f, 2, "",
             "    timeout: 500ms\n"
             "    retries: {attempts: 5, perTryTimeout: 200ms, "
             "retryOn: 5xx}\n",
             0);
  int64_t t0 = now_ms();
  meshlib_request *r = call(f, "/");
  int64_t took = now_ms() - t0;
  assert_int_equal(meshlib_response_status(r), 504);
  assert_true(meshlib_response_flags(r) & MESHLIB_RF_UT);
  assert_true(took >= 450 && took < 3000);
  assert_true(meshlib_response_attempts(r) >= 2);
  meshlib_request_free(r);
  /* The application's own deadline wins when shorter. */
  meshlib_request *q;
  assert_int_equal(meshlib_request_new(&q, f->mesh, "GET", "http://svc.test/"),
                   MESHLIB_OK);
  meshlib_request_set_timeout_ms(q, 150);
  t0 = now_ms();
  assert_int_equal(meshlib_request_perform(q), MESHLIB_OK);
  took = now_ms() - t0;
  assert_int_equal(meshlib_response_status(q), 504);
  assert_true(took >= 100 && took < 2000);
  meshlib_request_free(q);
}

/* Five 5xx in a row eject an endpoint at once; traffic moves away; it
 * returns when its time is up. */
static void test_outlier_ejection_and_return(void **state) {
  fixture *f = *state;
  meshlib_mock_set_default(f->ep[0], 500, "bad", 3);
  build_mesh(f, 2,
             "    outlierDetection: {consecutive5xxErrors: 5, interval: 200ms,"
             " baseEjectionTime: 1s, maxEjectionPercent: 100}\n",
             "    retries: {attempts: 0}\n", 0);
  int bad = 0;
  for (int i = 0; i < 40 && bad < 5; i++) {
    meshlib_request *r = call(f, "/");
    bad += meshlib_response_status(r) == 500;
    meshlib_request_free(r);
  }
  assert_int_equal(bad, 5);
  int before = meshlib_mock_request_count(f->ep[0]);
  for (int i = 0; i < 20; i++) {
    meshlib_request *r = call(f, "/");
    assert_int_equal(meshlib_response_status(r), 200);
    meshlib_request_free(r);
  }
  assert_int_equal(meshlib_mock_request_count(f->ep[0]), before);
  /* Back after the ejection time (1 s) and the next sweep (200 ms). */
  int back = 0;
  int64_t t0 = now_ms();
  while (!back && now_ms() - t0 < 5000) {
    sleep_ms(100);
    meshlib_request *r = call(f, "/");
    back = meshlib_response_status(r) == 500;
    meshlib_request_free(r);
  }
  assert_true(back);
  assert_true(now_ms() - t0 >= 800);
}

/* maxEjectionPercent bounds the ejected share (Envoy still ejects one);
 * below minHealthPercent the balancer panics and uses every endpoint. */
static void test_max_ejection_percent_and_panic(void **state) {
  fixture *f = *state;
  for (int i = 0; i < EPS; i++)
    meshlib_mock_set_default(f->ep[i], 500, "bad", 3);
  build_mesh(f, 3,
             "    outlierDetection: {consecutive5xxErrors: 2, interval: 30s,"
             " baseEjectionTime: 30s, maxEjectionPercent: 10}\n",
             "    retries: {attempts: 0}\n", 0);
  for (int i = 0; i < 30; i++)
    meshlib_request_free(call(f, "/"));
  /* One endpoint out (10 % of 3 rounds to none, Envoy ejects one): the
   * next calls reach exactly two endpoints. */
  int before[EPS], used = 0;
  for (int i = 0; i < EPS; i++)
    before[i] = meshlib_mock_request_count(f->ep[i]);
  for (int i = 0; i < 30; i++)
    meshlib_request_free(call(f, "/"));
  for (int i = 0; i < EPS; i++)
    used += meshlib_mock_request_count(f->ep[i]) > before[i];
  assert_int_equal(used, 2);
  meshlib_free(f->mesh);
  f->mesh = NULL;

  /* The same with minHealthPercent 90: 2 of 3 healthy is below it, so
   * the balancer spreads over all three. */
  build_mesh(f, 3,
             "    outlierDetection: {consecutive5xxErrors: 2, interval: 30s,"
             " baseEjectionTime: 30s, maxEjectionPercent: 10,"
             " minHealthPercent: 90}\n",
             "    retries: {attempts: 0}\n", 0);
  for (int i = 0; i < 30; i++)
    meshlib_request_free(call(f, "/"));
  used = 0;
  for (int i = 0; i < EPS; i++)
    before[i] = meshlib_mock_request_count(f->ep[i]);
  for (int i = 0; i < 30; i++)
    meshlib_request_free(call(f, "/"));
  for (int i = 0; i < EPS; i++)
    used += meshlib_mock_request_count(f->ep[i]) > before[i];
  assert_int_equal(used, 3);
}

typedef struct slow_call {
  fixture *f;
  int status;
  uint32_t flags;
} slow_call;

/* No cmocka assertion here: they must run on the test's thread. */
static void *slow_thread(void *arg) {
  slow_call *c = arg;
  meshlib_request *r = NULL;
  c->status = -1;
  if (meshlib_request_new(&r, c->f->mesh, "GET", "http://svc.test/") ==
          MESHLIB_OK &&
      meshlib_request_perform(r) == MESHLIB_OK) {
    c->status = meshlib_response_status(r);
    c->flags = meshlib_response_flags(r);
  }
  meshlib_request_free(r);
  return NULL;
}

/* A call over a pool limit fails at once with 503 UO. */
static void test_pool_limits_overflow(void **state) {
  fixture *f = *state;
  meshlib_mock_set_default(f->ep[0], 200, "slow", 4);
  for (int i = 0; i < 4; i++)
    meshlib_mock_push_delay(f->ep[0], 1000, 200);
  build_mesh(f, 1,
             "    connectionPool:\n"
             "      tcp: {maxConnections: 1}\n"
             "      http: {http1MaxPendingRequests: 1, http2MaxRequests: 10}\n",
             "    retries: {attempts: 0}\n", 0);
  /* One call holds the only connection, a second waits as pending, a
   * third overflows at once. */
  slow_call a = {f, 0, 0}, b = {f, 0, 0};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, slow_thread, &a);
  assert_true(meshlib_mock_wait_requests(f->ep[0], 1, 5000) >= 1);
  pthread_create(&tb, NULL, slow_thread, &b);
  sleep_ms(200);
  int64_t t0 = now_ms();
  meshlib_request *r = call(f, "/");
  assert_int_equal(meshlib_response_status(r), 503);
  assert_true(meshlib_response_flags(r) & MESHLIB_RF_UO);
  assert_true(now_ms() - t0 < 500);
  meshlib_request_free(r);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(b.status, 200); /* the pending one got the slot */
}

/* Faults: 10 % aborts and 10 % delays over many calls, within
 * tolerance; with a seed, the same calls get the same faults. */
static void count_faults(fixture *f, int n, int *fi, int *di, char *pattern) {
  *fi = *di = 0;
  for (int i = 0; i < n; i++) {
    meshlib_request *r = call(f, "/");
    uint32_t fl = meshlib_response_flags(r);
    if (fl & MESHLIB_RF_FI) {
      assert_int_equal(meshlib_response_status(r), 418);
      assert_int_equal(meshlib_response_attempts(r), 0);
      (*fi)++;
    }
    if (fl & MESHLIB_RF_DI) {
      assert_true(meshlib_response_duration_us(r) >= 2000);
      (*di)++;
    }
    if (pattern)
      pattern[i] = (char)('0' + ((fl & MESHLIB_RF_FI) ? 1 : 0) +
                          ((fl & MESHLIB_RF_DI) ? 2 : 0));
    meshlib_request_free(r);
  }
}

static const char *fault_route =
    "    fault:\n"
    "      delay: {fixedDelay: 2ms, percentage: {value: 10}}\n"
    "      abort: {httpStatus: 418, percentage: {value: 10}}\n";

static void test_fault_rates(void **state) {
  fixture *f = *state;
  build_mesh(f, 1, "", fault_route, 0);
  int fi, di;
  count_faults(f, 1000, &fi, &di, NULL);
  /* 100 expected each; sd ~9.5: 5 sd either way. */
  assert_true(fi >= 52 && fi <= 148);
  assert_true(di >= 52 && di <= 148);
}

static void test_seeded_faults_repeat(void **state) {
  fixture *f = *state;
  char p1[301] = {0}, p2[301] = {0};
  int fi, di;
  build_mesh(f, 1, "", fault_route, 42);
  count_faults(f, 300, &fi, &di, p1);
  meshlib_free(f->mesh);
  f->mesh = NULL;
  build_mesh(f, 1, "", fault_route, 42);
  count_faults(f, 300, &fi, &di, p2);
  assert_string_equal(p1, p2);
  assert_true(fi > 0 && di > 0);
}

/* A fault without a percentage applies to no request. */
static void test_fault_without_percentage(void **state) {
  fixture *f = *state;
  build_mesh(f, 1, "", "    fault: {abort: {httpStatus: 500}}\n", 0);
  int fi, di;
  count_faults(f, 50, &fi, &di, NULL);
  assert_int_equal(fi, 0);
}

/* A gRPC abort answers 200 with grpc-status. */
static void test_fault_grpc_abort(void **state) {
  fixture *f = *state;
  build_mesh(f, 1, "",
             "    fault: {abort: {grpcStatus: UNAVAILABLE, "
             "percentage: {value: 100}}}\n",
             0);
  meshlib_request *r = call(f, "/");
  assert_int_equal(meshlib_response_status(r), 200);
  assert_true(meshlib_response_flags(r) & MESHLIB_RF_FI);
  assert_string_equal(meshlib_response_header(r, "grpc-status"), "14");
  meshlib_request_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_retry_5xx_moves_to_other_endpoints,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_replays_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_budget_refuses_retries, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_retry_on_request_header, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_gateway_error_does_not_retry_500,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_policy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_failure_retries_elsewhere,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_per_try_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_route_timeout_bounds_retries, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_outlier_ejection_and_return, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_max_ejection_percent_and_panic,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_pool_limits_overflow, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fault_rates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_seeded_faults_repeat, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fault_without_percentage, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fault_grpc_abort, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
