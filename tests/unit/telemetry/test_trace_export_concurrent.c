/* SPDX-License-Identifier: MIT */
/* The span exporter under several threads: every span queued arrives (in
 * OTLP and Zipkin bodies, counted span by span), a full queue drops and
 * counts without blocking, meshlib_free() is bounded even when the
 * collector hangs; then calls on four threads at 100 % sampling. A mock
 * upstream of the testing kit stands in for the collector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "telemetry/trace.h"

#define THREADS 4
#define PER_THREAD 300

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ml_span *make_span(uint64_t n) {
  ml_span *s = calloc(1, sizeof(*s) + 64);
  assert_non_null(s);
  ml_trace_hex128(0x1234, n + 1, s->h.trace_id);
  ml_trace_hex64(n + 1, s->h.span_id);
  s->h.start_wall_us = 1700000000000000LL + (int64_t)n;
  s->h.duration_us = 10;
  memcpy(s->text,
         "\0name\0"
         "127.0.0.1:80\0GET",
         22);
  s->h.name_off = 1;
  s->h.remote_off = 6;
  s->h.attr_count = 1;
  s->h.attrs[0].key = "http.method";
  s->h.attrs[0].value_off = 19;
  return s;
}

typedef struct pusher {
  ml_exporter *e;
  int id;
  int count;
} pusher;

static void *push_main(void *arg) {
  pusher *p = arg;
  for (int i = 0; i < p->count; i++)
    ml_exporter_push(p->e, make_span((uint64_t)(p->id * 100000 + i)));
  return NULL;
}

static int count_in(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

static void test_every_span_arrives(void **state) {
  (void)state;
  meshlib_mock *col;
  assert_int_equal(meshlib_mock_new(&col), MESHLIB_OK);
  char otlp[128], zipkin[128];
  snprintf(otlp, sizeof(otlp), "http://127.0.0.1:%d/v1/traces",
           meshlib_mock_port(col));
  snprintf(zipkin, sizeof(zipkin), "http://127.0.0.1:%d/api/v2/spans",
           meshlib_mock_port(col));
  ml_exporter_config c = {otlp, zipkin, "web.default", 4096, 100, 50};
  ml_exporter *e;
  assert_int_equal(ml_exporter_new(NULL, &c, &e), MESHLIB_OK);
  pthread_t t[THREADS];
  pusher p[THREADS];
  for (int i = 0; i < THREADS; i++) {
    p[i] = (pusher){e, i, PER_THREAD};
    assert_int_equal(pthread_create(&t[i], NULL, push_main, &p[i]), 0);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(ml_exporter_flush(e, 20000), MESHLIB_OK);
  meshlib_tracing_stats st;
  memset(&st, 0, sizeof(st));
  ml_exporter_stats(e, &st);
  assert_int_equal(st.spans_queued, THREADS * PER_THREAD);
  assert_int_equal(st.spans_dropped, 0);
  assert_int_equal(st.spans_exported, THREADS * PER_THREAD);
  assert_int_equal(st.spans_failed, 0);
  int otlp_spans = 0, zipkin_spans = 0;
  int n = meshlib_mock_request_count(col);
  assert_true(n >= 2 * (THREADS * PER_THREAD / 100));
  for (int i = 0; i < n; i++) {
    const char *path = meshlib_mock_request_path(col, i);
    const char *body = meshlib_mock_request_body(col, i, NULL);
    assert_string_equal(meshlib_mock_request_method(col, i), "POST");
    assert_string_equal(meshlib_mock_request_header(col, i, "content-type"),
                        "application/json");
    if (strcmp(path, "/v1/traces") == 0) {
      assert_true(strncmp(body, "{\"resourceSpans\":[", 18) == 0);
      otlp_spans += count_in(body, "\"spanId\":");
    } else {
      assert_string_equal(path, "/api/v2/spans");
      assert_int_equal(body[0], '[');
      zipkin_spans += count_in(body, "\"kind\":\"CLIENT\"");
    }
  }
  assert_int_equal(otlp_spans, THREADS * PER_THREAD);
  assert_int_equal(zipkin_spans, THREADS * PER_THREAD);
  ml_exporter_free(e, 1000);
  meshlib_mock_free(col);
}

static void test_full_queue_drops_without_blocking(void **state) {
  (void)state;
  meshlib_mock *col;
  assert_int_equal(meshlib_mock_new(&col), MESHLIB_OK);
  /* The collector hangs: the exporter waits in its POST while the
   * producers fill the queue. */
  for (int i = 0; i < 4; i++)
    assert_int_equal(meshlib_mock_push_hang(col), MESHLIB_OK);
  char otlp[128];
  snprintf(otlp, sizeof(otlp), "http://127.0.0.1:%d", meshlib_mock_port(col));
  ml_exporter_config c = {otlp, NULL, "web.default", 64, 16, 10};
  /* The base URL is used as given by ml_exporter_new (the option adds
   * /v1/traces); the mock accepts any path. */
  ml_exporter *e;
  assert_int_equal(ml_exporter_new(NULL, &c, &e), MESHLIB_OK);
  int64_t t0 = now_ms();
  pthread_t t[THREADS];
  pusher p[THREADS];
  for (int i = 0; i < THREADS; i++) {
    p[i] = (pusher){e, i, 2500};
    assert_int_equal(pthread_create(&t[i], NULL, push_main, &p[i]), 0);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  int64_t push_ms = now_ms() - t0;
  meshlib_tracing_stats st;
  memset(&st, 0, sizeof(st));
  ml_exporter_stats(e, &st);
  assert_int_equal(st.spans_queued + st.spans_dropped, THREADS * 2500);
  assert_true(st.spans_dropped > 0);
  assert_true(st.spans_queued <= 64 + 16 * 4); /* queue + batches in flight */
  /* 10,000 pushes never waited for the hanging POST (5 s timeout). */
  assert_true(push_ms < 4000);
  /* A bounded flush reports what is left. */
  assert_int_equal(ml_exporter_flush(e, 50), MESHLIB_TRACING_PENDING);
  /* Freeing gives up on the hanging POST instead of waiting 5 s. */
  t0 = now_ms();
  ml_exporter_free(e, 100);
  assert_true(now_ms() - t0 < 3000);
  meshlib_mock_free(col);
}

/* A batch asked larger than the queue is a batch of the queue's size:
 * such a batch never filled, and its array (here 32 GB) could not be
 * allocated, so nothing was ever sent. */
static void test_batch_larger_than_queue(void **state) {
  (void)state;
  meshlib_mock *col;
  assert_int_equal(meshlib_mock_new(&col), MESHLIB_OK);
  char otlp[128];
  snprintf(otlp, sizeof(otlp), "http://127.0.0.1:%d/v1/traces",
           meshlib_mock_port(col));
  ml_exporter_config c = {otlp, NULL, "web.default", 8, UINT32_MAX, 60000};
  ml_exporter *e;
  assert_int_equal(ml_exporter_new(NULL, &c, &e), MESHLIB_OK);
  for (uint64_t i = 0; i < 8; i++)
    ml_exporter_push(e, make_span(i));
  /* A full batch is sent without waiting for the (one minute) interval. */
  int64_t t0 = now_ms();
  meshlib_tracing_stats st;
  do {
    nanosleep(&(struct timespec){0, 5000000}, NULL);
    memset(&st, 0, sizeof(st));
    ml_exporter_stats(e, &st);
  } while (st.spans_exported < 8 && now_ms() - t0 < 10000);
  assert_int_equal(st.spans_exported, 8);
  assert_int_equal(st.spans_dropped, 0);
  ml_exporter_free(e, 1000);
  meshlib_mock_free(col);
}

/* ---- Calls on several threads ---- */

typedef struct caller {
  meshlib *m;
  const char *url;
  int calls;
  int ok;
} caller;

static void *call_main(void *arg) {
  caller *c = arg;
  for (int i = 0; i < c->calls; i++) {
    meshlib_request *r;
    if (meshlib_request_new(&r, c->m, "GET", c->url) != MESHLIB_OK)
      continue;
    if (meshlib_request_perform(r) == MESHLIB_OK &&
        meshlib_response_status(r) == 200 && meshlib_request_sampled(r))
      c->ok++;
    meshlib_request_free(r);
  }
  return NULL;
}

static void test_calls_on_threads(void **state) {
  (void)state;
  meshlib_mock *up, *col;
  assert_int_equal(meshlib_mock_new(&up), MESHLIB_OK);
  assert_int_equal(meshlib_mock_new(&col), MESHLIB_OK);
  char yaml[1024], url[64];
  snprintf(yaml, sizeof(yaml),
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: reviews, namespace: default}\n"
           "spec:\n"
           "  hosts: [reviews.default.svc.cluster.local]\n"
           "  location: MESH_INTERNAL\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 9080, name: http, protocol: HTTP}]\n"
           "  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]\n",
           meshlib_mock_port(up));
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", meshlib_mock_port(col));
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(
      meshlib_options_add_config_string(o, "calls", yaml, strlen(yaml)),
      MESHLIB_OK);
  assert_int_equal(meshlib_options_set_tracing_sampling(o, 100.0), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_otlp_endpoint(o, url), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_zipkin_endpoint(o, url), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_tracing_queue(o, 8192, 64, 20),
                   MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  pthread_t t[THREADS];
  caller c[THREADS];
  for (int i = 0; i < THREADS; i++) {
    c[i] =
        (caller){m, "http://reviews.default.svc.cluster.local:9080/x", 50, 0};
    assert_int_equal(pthread_create(&t[i], NULL, call_main, &c[i]), 0);
  }
  int ok = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    ok += c[i].ok;
  }
  assert_int_equal(ok, THREADS * 50);
  assert_int_equal(meshlib_tracing_flush(m, 20000), MESHLIB_OK);
  meshlib_tracing_stats st;
  assert_int_equal(meshlib_tracing_get_stats(m, &st), MESHLIB_OK);
  /* A client span and one attempt span per call. */
  assert_int_equal(st.spans_queued, 2 * THREADS * 50);
  assert_int_equal(st.spans_exported, 2 * THREADS * 50);
  assert_int_equal(st.spans_dropped, 0);
  int otlp = 0;
  for (int i = 0; i < meshlib_mock_request_count(col); i++)
    if (strcmp(meshlib_mock_request_path(col, i), "/v1/traces") == 0)
      otlp += count_in(meshlib_mock_request_body(col, i, NULL), "\"spanId\":");
  assert_int_equal(otlp, 2 * THREADS * 50);
  meshlib_free(m);
  meshlib_mock_free(col);
  meshlib_mock_free(up);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_span_arrives),
      cmocka_unit_test(test_full_queue_drops_without_blocking),
      cmocka_unit_test(test_batch_larger_than_queue),
      cmocka_unit_test(test_calls_on_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
