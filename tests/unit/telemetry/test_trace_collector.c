/* SPDX-License-Identifier: MIT */
/* Spans of real calls, exported as OTLP/HTTP JSON and Zipkin v2 JSON to the
 * test collector (tests/collector/collector.js), which checks each payload
 * against the published OpenTelemetry and Zipkin definitions. Run by
 * tests/collector/run.sh with MESHLIB_COLLECTOR_URL set; skipped alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"

static char yaml[2048];

static size_t collect(char *p, size_t size, size_t n, void *u) {
  char **buf = u;
  size_t old = *buf ? strlen(*buf) : 0;
  char *b = realloc(*buf, old + size * n + 1);
  assert_non_null(b);
  memcpy(b + old, p, size * n);
  b[old + size * n] = '\0';
  *buf = b;
  return size * n;
}

static char *verdict(const char *base) {
  char url[256];
  snprintf(url, sizeof(url), "%s/verdict", base);
  CURL *h = curl_easy_init();
  assert_non_null(h);
  char *body = NULL;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  assert_int_equal(curl_easy_perform(h), CURLE_OK);
  curl_easy_cleanup(h);
  assert_non_null(body);
  return body;
}

static int count_in(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

static meshlib_request *call(meshlib *m, const char *const *inbound) {
  meshlib_request *r;
  assert_int_equal(
      meshlib_request_new(&r, m, "GET",
                          "http://reviews.default.svc.cluster.local:9080/r"),
      MESHLIB_OK);
  for (size_t i = 0; inbound && inbound[i]; i += 2)
    assert_int_equal(
        meshlib_request_set_inbound_header(r, inbound[i], inbound[i + 1]),
        MESHLIB_OK);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  return r;
}

static void test_spans_reach_the_collector(void **state) {
  (void)state;
  const char *base = getenv("MESHLIB_COLLECTOR_URL");
  if (!base || !*base) {
    print_message("MESHLIB_COLLECTOR_URL is not set: run "
                  "tests/collector/run.sh\n");
    skip();
  }
  meshlib_mock *up;
  assert_int_equal(meshlib_mock_new(&up), MESHLIB_OK);
  snprintf(yaml, sizeof(yaml),
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: reviews, namespace: default}\n"
           "spec:\n"
           "  hosts: [reviews.default.svc.cluster.local]\n"
           "  location: MESH_INTERNAL\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 9080, name: http, protocol: HTTP}]\n"
           "  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: reviews, namespace: default}\n"
           "spec:\n"
           "  hosts: [reviews]\n"
           "  http:\n"
           "  - name: all\n"
           "    retries: {attempts: 2, retryOn: 5xx}\n"
           "    route: [{destination: {host: reviews}}]\n",
           meshlib_mock_port(up));
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(
      meshlib_options_add_config_string(o, "collector", yaml, strlen(yaml)),
      MESHLIB_OK);
  assert_int_equal(meshlib_options_set_workload_label(o, "app", "productpage"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_set_tracing_sampling(o, 100.0), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_otlp_endpoint(o, base), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_zipkin_endpoint(o, base), MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);

  /* 1: a new trace, one attempt. */
  meshlib_request *r1 = call(m, NULL);
  assert_int_equal(meshlib_response_status(r1), 200);
  /* 2: retried once (503, then 200): a client span and two attempts. */
  assert_int_equal(meshlib_mock_push_response(up, 503, "busy", 4), MESHLIB_OK);
  const char *w3c[] = {
      "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      NULL};
  meshlib_request *r2 = call(m, w3c);
  assert_int_equal(meshlib_response_status(r2), 200);
  /* 3: a 64-bit B3 trace. */
  const char *b3[] = {"x-b3-traceid",
                      "a3ce929d0e0e4736",
                      "x-b3-spanid",
                      "05e3ac9a4f6e3b90",
                      "x-b3-sampled",
                      "1",
                      NULL};
  meshlib_request *r3 = call(m, b3);
  /* 4: a failing call (the upstream answers 500 twice): error spans. */
  assert_int_equal(meshlib_mock_push_response(up, 500, "x", 1), MESHLIB_OK);
  assert_int_equal(meshlib_mock_push_response(up, 500, "x", 1), MESHLIB_OK);
  assert_int_equal(meshlib_mock_push_response(up, 500, "x", 1), MESHLIB_OK);
  meshlib_request *r4 = call(m, NULL);
  assert_int_equal(meshlib_response_status(r4), 500);
  /* 5: not sampled: no span. */
  const char *off[] = {"x-b3-sampled", "0", NULL};
  meshlib_request *r5 = call(m, off);

  assert_int_equal(meshlib_tracing_flush(m, 20000), MESHLIB_OK);
  meshlib_tracing_stats st;
  assert_int_equal(meshlib_tracing_get_stats(m, &st), MESHLIB_OK);
  int expected = 2 + 3 + 2 + 4; /* client + attempts of calls 1 to 4 */
  assert_int_equal(st.spans_queued, expected);
  assert_int_equal(st.spans_failed, 0); /* the collector took every POST */
  assert_int_equal(st.spans_exported, expected);

  char *v = verdict(base);
  print_message("collector: %.200s\n", v);
  assert_non_null(strstr(v, "\"errors\":[]"));
  char want[128];
  snprintf(want, sizeof(want), "\"spans\":%d}", expected);
  assert_int_equal(count_in(v, want), 2); /* OTLP and Zipkin */
  /* The span tree of call 2: the inbound span is the client span's
   * parent, the client span both attempts'. */
  char needle[128];
  snprintf(needle, sizeof(needle),
           "\"spanId\":\"%s\",\"parentSpanId\":"
           "\"00f067aa0ba902b7\"",
           meshlib_request_span_id(r2));
  assert_int_equal(count_in(v, needle), 1);
  snprintf(needle, sizeof(needle), "\"parentSpanId\":\"%s\"",
           meshlib_request_span_id(r2));
  assert_int_equal(count_in(v, needle), 2); /* OTLP's two attempts */
  snprintf(needle, sizeof(needle), "\"parentId\":\"%s\"",
           meshlib_request_span_id(r2));
  assert_int_equal(count_in(v, needle), 2); /* Zipkin's */
  /* Zipkin keeps B3's 64-bit trace id. */
  assert_true(count_in(v, "\"traceId\":\"a3ce929d0e0e4736\"") >= 2);
  assert_true(count_in(v, "\"traceId\":\"0000000000000000a3ce929d0e0e4736\"") >=
              2);
  assert_true(count_in(v, "\"error\":\"true\"") >= 3);
  assert_non_null(strstr(v, "\"serviceName\":\"productpage.default\""));
  assert_non_null(
      strstr(v, "\"name\":\"reviews.default.svc.cluster.local:9080/*\""));
  assert_non_null(strstr(v, "\"retry.reason\":\"5xx\""));
  assert_null(strstr(v, meshlib_request_trace_id(r5)));
  free(v);
  meshlib_request_free(r1);
  meshlib_request_free(r2);
  meshlib_request_free(r3);
  meshlib_request_free(r4);
  meshlib_request_free(r5);
  meshlib_free(m);
  meshlib_mock_free(up);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spans_reach_the_collector),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
