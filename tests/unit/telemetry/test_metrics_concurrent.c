/* SPDX-License-Identifier: MIT */
/* Recording from many threads while others render: no count is lost,
 * series made in a race are made once, the exposition stays valid at
 * every moment (run under TSan in CI: label "concurrency"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "meshlib/meshlib.h"
#include "policy/policy.h"
#include "prom_check.h"
#include "telemetry/telemetry.h"

#define THREADS 4
#define CALLS 20000
#define SERVICES 8

typedef struct shared {
  meshlib *m;
  atomic_int done;
  atomic_int renders;
  char err[512];
} shared;

static void *recorder(void *p) {
  shared *s = p;
  ml_kv kv[] = {{"app", "reviews"}, {"version", "v1"}};
  ml_kv_list labels = {kv, 2};
  for (int i = 0; i < CALLS; i++) {
    char host[64], cluster[96];
    snprintf(host, sizeof(host), "svc%d.prod.svc.cluster.local", i % SERVICES);
    snprintf(cluster, sizeof(cluster), "outbound|80||%s", host);
    ml_call_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.protocol = "http";
    ci.dest_service = host;
    ci.dest_labels = &labels;
    ci.cluster = cluster;
    ci.status = i % 10 < 7 ? 200 : 503;
    ci.duration_us = (int64_t)(i % 1000) * 100;
    ci.response_bytes = (uint64_t)i;
    ci.attempt_count = 2;
    ml_telemetry_call_end(&s->m->telemetry, &ci);
    ml_telemetry_event(&s->m->telemetry, cluster, ML_EV_RETRY, ML_RETRY_5XX);
  }
  return NULL;
}

static void *renderer(void *p) {
  shared *s = p;
  while (!atomic_load(&s->done)) {
    char *text = NULL;
    if (meshlib_metrics_render(s->m, &text, NULL) != MESHLIB_OK) {
      snprintf(s->err, sizeof(s->err), "render failed");
      break;
    }
    prom_doc d;
    if (prom_parse(text, &d) != 0 && !s->err[0])
      snprintf(s->err, sizeof(s->err), "%s", d.err);
    prom_doc_free(&d);
    meshlib_free_str(s->m, text);
    atomic_fetch_add(&s->renders, 1);
  }
  return NULL;
}

static void test_concurrent_recording(void **state) {
  (void)state;
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  shared s;
  memset(&s, 0, sizeof(s));
  assert_int_equal(meshlib_new(&s.m, o), MESHLIB_OK);
  meshlib_options_free(o);
  pthread_t rec[THREADS], ren;
  assert_int_equal(pthread_create(&ren, NULL, renderer, &s), 0);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&rec[i], NULL, recorder, &s), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(rec[i], NULL);
  atomic_store(&s.done, 1);
  pthread_join(ren, NULL);
  if (s.err[0])
    fail_msg("%s", s.err);
  assert_true(atomic_load(&s.renders) > 0);

  char *text = NULL;
  assert_int_equal(meshlib_metrics_render(s.m, &text, NULL), MESHLIB_OK);
  prom_doc d;
  if (prom_parse(text, &d) != 0)
    fail_msg("%s", d.err);
  /* SERVICES x {200, 503} series, each made once. */
  assert_int_equal(prom_count(&d, "istio_requests_total"), 2 * SERVICES);
  const char *want200[] = {"response_code=\"200\""};
  const char *want503[] = {"response_code=\"503\""};
  double total = THREADS * CALLS;
  assert_true(prom_sum(&d, "istio_requests_total", NULL, want200, 1) ==
              total * 0.7);
  assert_true(prom_sum(&d, "istio_requests_total", NULL, want503, 1) ==
              total * 0.3);
  assert_true(prom_sum(&d, "istio_request_duration_milliseconds_count", NULL,
                       NULL, 0) == total);
  assert_true(prom_sum(&d, "istio_response_bytes_bucket", "+Inf", NULL, 0) ==
              total);
  assert_true(prom_sum(&d, "meshlib_attempts_total", NULL, NULL, 0) ==
              2 * total);
  assert_true(prom_sum(&d, "meshlib_retries_total", NULL, NULL, 0) == total);
  assert_int_equal(prom_count(&d, "meshlib_retries_total"), SERVICES);
  prom_doc_free(&d);
  meshlib_free_str(s.m, text);
  meshlib_free(s.m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_concurrent_recording),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
