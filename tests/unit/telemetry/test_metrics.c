/* SPDX-License-Identifier: MIT */
/* Istio's standard metrics and meshlib's counters: labels, buckets,
 * bounds, events, the text format (checked by our parser and by
 * promtool), the callback walk, and calls made end to end through the
 * mock-upstream kit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "policy/policy.h"
#include "prom_check.h"
#include "telemetry/telemetry.h"

static meshlib *new_mesh(int enabled, uint32_t max_series) {
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_namespace(o, "shop"), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_workload_label(o, "app", "frontend"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_set_workload_label(o, "version", "v1"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_set_workload_name(o, "frontend-deploy"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_set_metrics(o, enabled), MESHLIB_OK);
  if (max_series)
    assert_int_equal(meshlib_options_set_metrics_max_series(o, max_series),
                     MESHLIB_OK);
  meshlib *m = NULL;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  return m;
}

static ml_kv reviews_kv[] = {{"app", "reviews"}, {"version", "v2"}};
static ml_kv_list reviews_labels = {reviews_kv, 2};

static ml_call_info call(const char *service, int32_t status, uint32_t flags,
                         int64_t duration_us, uint64_t resp_bytes) {
  ml_call_info ci;
  memset(&ci, 0, sizeof(ci));
  ci.method = "GET";
  ci.path = "/";
  ci.protocol = "http";
  ci.dest_service = service;
  ci.cluster = "outbound|9080|v2|reviews.prod.svc.cluster.local";
  ci.dest_labels = &reviews_labels;
  ci.status = status;
  ci.flags = flags;
  ci.duration_us = duration_us;
  ci.response_bytes = resp_bytes;
  ci.attempt_count = 1;
  ci.upstream = "";
  return ci;
}

static char *render(meshlib *m, prom_doc *d) {
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(meshlib_metrics_render(m, &text, &len), MESHLIB_OK);
  assert_non_null(text);
  assert_int_equal(len, strlen(text));
  if (prom_parse(text, d) != 0)
    fail_msg("exposition rejected: %s\n%s", d->err, text);
  return text;
}

#define WANT(...) ((const char *const[]){__VA_ARGS__})
#define NWANT(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))
#define SUM(d, name, le, ...)                                                  \
  prom_sum(d, name, le, WANT(__VA_ARGS__), NWANT(__VA_ARGS__))
#define SUM0(d, name, le) prom_sum(d, name, le, NULL, 0)

static void record_7_200_3_503(meshlib *m) {
  for (int i = 0; i < 7; i++) {
    ml_call_info ci = call("reviews.prod.svc.cluster.local", 200, 0, 3000, 100);
    ml_telemetry_call_end(&m->telemetry, &ci);
  }
  for (int i = 0; i < 3; i++) {
    ml_call_info ci =
        call("reviews.prod.svc.cluster.local", 503, MESHLIB_RF_UF, 700000, 91);
    ml_telemetry_call_end(&m->telemetry, &ci);
  }
}

static void test_istio_labels_and_counts(void **state) {
  (void)state;
  meshlib *m = new_mesh(1, 0);
  record_7_200_3_503(m);
  prom_doc d;
  char *text = render(m, &d);

  assert_true(SUM(&d, "istio_requests_total", NULL, "response_code=\"200\"") ==
              7);
  assert_true(SUM(&d, "istio_requests_total", NULL, "response_code=\"503\"",
                  "response_flags=\"UF\"") == 3);
  assert_true(SUM(&d, "istio_requests_total", NULL, "response_code=\"200\"",
                  "response_flags=\"-\"") == 7);
  /* The mesh's own labels and the destination's. */
  assert_true(SUM(&d, "istio_requests_total", NULL, "reporter=\"source\"",
                  "source_workload=\"frontend-deploy\"",
                  "source_workload_namespace=\"shop\"",
                  "source_app=\"frontend\"", "source_version=\"v1\"",
                  "source_canonical_service=\"frontend\"",
                  "source_canonical_revision=\"v1\"",
                  "source_principal=\"unknown\"", "source_cluster=\"unknown\"",
                  "destination_service=\"reviews.prod.svc.cluster.local\"",
                  "destination_service_name=\"reviews\"",
                  "destination_service_namespace=\"prod\"",
                  "destination_app=\"reviews\"", "destination_version=\"v2\"",
                  "destination_canonical_service=\"reviews\"",
                  "destination_canonical_revision=\"v2\"",
                  "destination_workload=\"unknown\"",
                  "destination_workload_namespace=\"unknown\"",
                  "destination_principal=\"unknown\"",
                  "destination_cluster=\"unknown\"",
                  "request_protocol=\"http\"", "grpc_response_status=\"\"",
                  "connection_security_policy=\"unknown\"") == 10);
  assert_int_equal(prom_count(&d, "istio_requests_total"), 2);

  /* Durations: 3 ms lands in le="5", 700 ms in le="1000"; cumulative. */
  const char *ok = "response_code=\"200\"", *bad = "response_code=\"503\"";
  const char *dur = "istio_request_duration_milliseconds_bucket";
  assert_true(SUM(&d, dur, "1", ok) == 0);
  assert_true(SUM(&d, dur, "5", ok) == 7);
  assert_true(SUM(&d, dur, "+Inf", ok) == 7);
  assert_true(SUM(&d, dur, "500", bad) == 0);
  assert_true(SUM(&d, dur, "1000", bad) == 3);
  assert_true(SUM(&d, dur, "3600000", bad) == 3);
  assert_true(SUM(&d, "istio_request_duration_milliseconds_sum", NULL, ok) ==
              21.0);
  assert_true(SUM(&d, "istio_request_duration_milliseconds_count", NULL, bad) ==
              3);
  /* Sizes: Envoy's buckets in bytes; 100 <= 100, 0 <= 0.5. */
  assert_true(SUM(&d, "istio_response_bytes_bucket", "50", ok) == 0);
  assert_true(SUM(&d, "istio_response_bytes_bucket", "100", ok) == 7);
  assert_true(SUM(&d, "istio_response_bytes_bucket", "100", bad) == 3);
  assert_true(SUM(&d, "istio_response_bytes_sum", NULL, bad) == 273);
  assert_true(SUM(&d, "istio_request_bytes_bucket", "0.5", ok) == 7);
  /* Istio's 19 bounds and +Inf, per series. */
  assert_int_equal(prom_count(&d, "istio_request_bytes_bucket"), 2 * 20);
  assert_non_null(strstr(text, "# TYPE istio_request_duration_milliseconds "
                               "histogram\n"));
  assert_non_null(strstr(text, "# TYPE istio_requests_total counter\n"));
  assert_true(SUM(&d, "meshlib_attempts_total", NULL,
                  "cluster_name=\"outbound|9080|v2|reviews.prod.svc.cluster."
                  "local\"") == 10);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

/* Every sample of istio_requests_total carries Istio's 25 labels. */
static void test_label_set_complete(void **state) {
  (void)state;
  static const char *const names[] = {"reporter",
                                      "source_workload",
                                      "source_workload_namespace",
                                      "source_principal",
                                      "source_app",
                                      "source_version",
                                      "source_canonical_service",
                                      "source_canonical_revision",
                                      "destination_service",
                                      "destination_service_name",
                                      "destination_service_namespace",
                                      "destination_workload",
                                      "destination_workload_namespace",
                                      "destination_app",
                                      "destination_version",
                                      "destination_canonical_service",
                                      "destination_canonical_revision",
                                      "destination_principal",
                                      "request_protocol",
                                      "response_code",
                                      "grpc_response_status",
                                      "response_flags",
                                      "connection_security_policy",
                                      "destination_cluster",
                                      "source_cluster"};
  meshlib *m = new_mesh(1, 0);
  record_7_200_3_503(m);
  prom_doc d;
  char *text = render(m, &d);
  for (size_t i = 0; i < d.n; i++) {
    if (strcmp(d.s[i].name, "istio_requests_total") != 0)
      continue;
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
      char want[80];
      snprintf(want, sizeof(want), "%s=\"", names[k]);
      const char *at = strstr(d.s[i].labels, want);
      if (!at || (at != d.s[i].labels && at[-1] != ','))
        fail_msg("label %s missing in %s", names[k], d.s[i].labels);
    }
  }
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

static void test_unknown_and_other_hosts(void **state) {
  (void)state;
  meshlib *m = new_mesh(1, 0);
  ml_call_info ci = call(NULL, 0, MESHLIB_RF_UH, 10, 0);
  ci.dest_labels = NULL;
  ci.cluster = NULL;
  ml_telemetry_call_end(&m->telemetry, &ci);
  ci = call("api.example.com", 200, 0, 10, 0);
  ci.dest_labels = NULL;
  ml_telemetry_call_end(&m->telemetry, &ci);
  ci = call("echo.prod.svc.cluster.local", 200, 0, 10, 0);
  ci.protocol = "grpc";
  ci.grpc_status = "14";
  ml_kv canon[] = {{"service.istio.io/canonical-name", "echo-svc"},
                   {"app", "echo"}};
  ml_kv_list l = {canon, 2};
  ci.dest_labels = &l;
  ml_telemetry_call_end(&m->telemetry, &ci);
  prom_doc d;
  char *text = render(m, &d);
  assert_true(SUM(&d, "istio_requests_total", NULL,
                  "destination_service=\"unknown\"", "response_code=\"0\"",
                  "response_flags=\"UH\"",
                  "destination_canonical_revision=\"unknown\"",
                  "destination_app=\"unknown\"") == 1);
  assert_true(SUM(&d, "istio_requests_total", NULL,
                  "destination_service=\"api.example.com\"",
                  "destination_service_name=\"api.example.com\"",
                  "destination_service_namespace=\"unknown\"") == 1);
  /* A workload whose labels are known gets revision "latest". */
  assert_true(
      SUM(&d, "istio_requests_total", NULL, "destination_service_name=\"echo\"",
          "destination_canonical_service=\"echo-svc\"",
          "destination_canonical_revision=\"latest\"",
          "request_protocol=\"grpc\"", "grpc_response_status=\"14\"") == 1);
  assert_true(
      SUM(&d, "meshlib_attempts_total", NULL, "cluster_name=\"unknown\"") == 1);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

static void test_label_values_escaped(void **state) {
  (void)state;
  meshlib *m = new_mesh(1, 0);
  ml_kv odd[] = {{"app", "a\"b\\c\nd"}};
  ml_kv_list l = {odd, 1};
  ml_call_info ci = call("x.prod.svc.cluster.local", 200, 0, 10, 0);
  ci.dest_labels = &l;
  ml_telemetry_call_end(&m->telemetry, &ci);
  prom_doc d;
  char *text = render(m, &d);
  assert_non_null(strstr(text, "destination_app=\"a\\\"b\\\\c\\nd\""));
  char err[1024];
  int rc = promtool_check(text, err, sizeof(err));
  if (rc < 0)
    fail_msg("%s", err);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

/* Beyond the bound, calls go to one series with "other" labels. */
static void test_series_bound(void **state) {
  (void)state;
  meshlib *m = new_mesh(1, 3);
  for (int i = 0; i < 5; i++) {
    char host[64];
    snprintf(host, sizeof(host), "svc%d.prod.svc.cluster.local", i);
    for (int k = 0; k <= i; k++) {
      ml_call_info ci = call(host, 200, 0, 10, 0);
      ml_telemetry_call_end(&m->telemetry, &ci);
    }
  }
  prom_doc d;
  char *text = render(m, &d);
  assert_int_equal(prom_count(&d, "istio_requests_total"), 4);
  /* svc0..svc2 fit (1+2+3 calls); svc3 and svc4 (4+5) overflow. */
  assert_true(SUM(&d, "istio_requests_total", NULL,
                  "destination_service=\"other\"", "response_code=\"other\"",
                  "reporter=\"source\"", "source_app=\"frontend\"") == 9);
  assert_true(SUM(&d, "istio_requests_total", NULL, "svc2.prod") == 3);
  assert_true(SUM0(&d, "meshlib_metrics_series_overflow_total", NULL) == 9);
  assert_true(SUM(&d, "istio_request_duration_milliseconds_count", NULL,
                  "destination_service=\"other\"") == 9);
  char err[1024];
  if (promtool_check(text, err, sizeof(err)) < 0)
    fail_msg("%s", err);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

static void test_events(void **state) {
  (void)state;
  meshlib *m = new_mesh(1, 0);
  const char *c1 = "outbound|80||a.prod.svc.cluster.local";
  const char *c2 = "outbound|80|v1|b.prod.svc.cluster.local";
  ml_telemetry_event(&m->telemetry, c1, ML_EV_RETRY, ML_RETRY_5XX);
  ml_telemetry_event(&m->telemetry, c1, ML_EV_RETRY, ML_RETRY_5XX);
  ml_telemetry_event(&m->telemetry, c1, ML_EV_RETRY, ML_RETRY_CONNECT_FAILURE);
  ml_telemetry_event(&m->telemetry, c2, ML_EV_RETRY, ML_RETRY_GRPC_UNAVAILABLE);
  ml_telemetry_event(&m->telemetry, c1, ML_EV_RETRY_BUDGET_REFUSED, 0);
  ml_telemetry_event(&m->telemetry, c2, ML_EV_POOL_OVERFLOW, 0);
  ml_telemetry_event(&m->telemetry, c2, ML_EV_POOL_OVERFLOW, 0);
  ml_telemetry_event(&m->telemetry, c2, ML_EV_EJECTION, 0);
  ml_telemetry_event(&m->telemetry, c1, ML_EV_FAULT_DELAY, 0);
  ml_telemetry_event(&m->telemetry, c1, ML_EV_FAULT_ABORT, 0);
  ml_telemetry_event(&m->telemetry, c1, ML_EV_FAULT_ABORT, 0);
  ml_telemetry_event(&m->telemetry, NULL, ML_EV_FAULT_ABORT, 0);
  ml_telemetry_event(&m->telemetry, c1, ML_EV_COUNT, 0); /* ignored */
  prom_doc d;
  char *text = render(m, &d);
  const char *in_c1 = "cluster_name=\"outbound|80||a.prod.svc.cluster.local\"";
  assert_true(SUM(&d, "meshlib_retries_total", NULL, in_c1, "reason=\"5xx\"") ==
              2);
  assert_true(SUM(&d, "meshlib_retries_total", NULL, in_c1,
                  "reason=\"connect-failure\"") == 1);
  assert_true(
      SUM(&d, "meshlib_retries_total", NULL, "reason=\"unavailable\"") == 1);
  assert_true(SUM(&d, "meshlib_retry_overflow_total", NULL, in_c1) == 1);
  assert_true(SUM(&d, "meshlib_pool_overflow_total", NULL, "|v1|b.") == 2);
  assert_null(strstr(text, "meshlib_outlier_ejections_total"));
  assert_true(SUM(&d, "meshlib_fault_injections_total", NULL, in_c1,
                  "fault=\"delay\"") == 1);
  assert_true(SUM(&d, "meshlib_fault_injections_total", NULL, in_c1,
                  "fault=\"abort\"") == 2);
  assert_true(SUM(&d, "meshlib_fault_injections_total", NULL,
                  "cluster_name=\"unknown\"", "fault=\"abort\"") == 1);
  char err[1024];
  if (promtool_check(text, err, sizeof(err)) < 0)
    fail_msg("%s", err);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

/* A retry reason or response flag without a name reads "other" or "-":
 * each must be counted in the series with those labels, never in a second
 * series with the same labels (Prometheus rejects such a scrape). */
static void test_unnamed_details_no_duplicates(void **state) {
  (void)state;
  meshlib *m = new_mesh(1, 0);
  const char *c1 = "outbound|80||a.prod.svc.cluster.local";
  ml_telemetry_event(&m->telemetry, c1, ML_EV_RETRY, 0);
  ml_telemetry_event(&m->telemetry, c1, ML_EV_RETRY, 1u << 31);
  ml_telemetry_event(&m->telemetry, c1, ML_EV_RETRY,
                     ML_RETRY_5XX | ML_RETRY_RESET);
  ml_call_info ci = call("a.prod.svc.cluster.local", 200, 0, 10, 0);
  ml_telemetry_call_end(&m->telemetry, &ci);
  ci = call("a.prod.svc.cluster.local", 200, 1u << 30, 10, 0);
  ml_telemetry_call_end(&m->telemetry, &ci);
  prom_doc d;
  char *text = render(m, &d); /* fails on a duplicate series */
  assert_true(SUM(&d, "meshlib_retries_total", NULL, "reason=\"other\"") == 3);
  assert_true(SUM(&d, "istio_requests_total", NULL,
                  "destination_service=\"a.prod.svc.cluster.local\"",
                  "response_flags=\"-\"") == 2);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

static void test_disabled(void **state) {
  (void)state;
  meshlib *m = new_mesh(0, 0);
  record_7_200_3_503(m);
  ml_telemetry_event(&m->telemetry, "c", ML_EV_RETRY, ML_RETRY_5XX);
  prom_doc d;
  char *text = render(m, &d);
  assert_null(strstr(text, "istio_"));
  assert_null(strstr(text, "meshlib_retries_total"));
  assert_true(SUM0(&d, "meshlib_config_version", NULL) == 0);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

typedef struct walked {
  size_t samples, histogram_buckets, stop_after;
  double requests_200;
} walked;

static int count_sample(const meshlib_metric_sample *s, void *ud) {
  walked *w = ud;
  assert_int_equal(s->age, 1);
  assert_non_null(s->family);
  assert_non_null(s->help);
  assert_non_null(s->label_names);
  w->samples++;
  if (s->type == MESHLIB_METRIC_HISTOGRAM &&
      strcmp(s->name + strlen(s->family), "_bucket") == 0) {
    assert_string_equal(s->label_names[s->label_count - 1], "le");
    w->histogram_buckets++;
  }
  if (strcmp(s->name, "istio_requests_total") == 0) {
    assert_int_equal(s->type, MESHLIB_METRIC_COUNTER);
    for (size_t i = 0; i < s->label_count; i++)
      if (strcmp(s->label_names[i], "response_code") == 0 &&
          strcmp(s->label_values[i], "200") == 0)
        w->requests_200 += s->value;
  }
  if (w->stop_after && w->samples == w->stop_after)
    return 42;
  return 0;
}

static void test_foreach(void **state) {
  (void)state;
  meshlib *m = new_mesh(1, 0);
  record_7_200_3_503(m);
  prom_doc d;
  char *text = render(m, &d);
  walked w = {0};
  assert_int_equal(meshlib_metrics_foreach(m, count_sample, &w), MESHLIB_OK);
  assert_int_equal(w.samples, d.n);
  assert_int_equal(w.histogram_buckets, 3 * 2 * 20);
  assert_true(w.requests_200 == 7);
  walked stop = {0, 0, 3, 0};
  assert_int_equal(meshlib_metrics_foreach(m, count_sample, &stop), 42);
  assert_int_equal(stop.samples, 3);
  assert_int_equal(meshlib_metrics_foreach(NULL, count_sample, &w),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_metrics_foreach(m, NULL, &w),
                   MESHLIB_ERR_INVALID_ARG);
  char *none = (char *)1;
  assert_int_equal(meshlib_metrics_render(NULL, &none, NULL),
                   MESHLIB_ERR_INVALID_ARG);
  assert_null(none);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

static void test_options(void **state) {
  (void)state;
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_metrics(NULL, 1),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_metrics_max_series(o, 0),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_metrics_max_series(o, 2000000),
                   MESHLIB_ERR_INVALID_ARG);
  char longname[300];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(meshlib_options_set_workload_name(o, longname),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_workload_name(o, NULL),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_admin_address(o, "localhost:15000"),
                   MESHLIB_ERR_INVALID_ARG); /* IP literals only */
  assert_int_equal(meshlib_options_set_admin_address(o, "127.0.0.1:99999"),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_admin_address(o, "127.0.0.1:"),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_admin_address(o, "::1:80"),
                   MESHLIB_ERR_INVALID_ARG); /* brackets needed */
  assert_int_equal(meshlib_options_set_admin_address(o, "[::1]:15000"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_set_admin_address(o, "15000"), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_admin_address(o, ""), MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  assert_int_equal(meshlib_admin_port(m), -1); /* off by default */
  assert_int_equal(meshlib_admin_port(NULL), -1);
  meshlib_free(m);
  meshlib_options_free(o);
}

/* Config loads and rejections, the version in force, cluster gauges. */
static void test_config_and_cluster_gauges(void **state) {
  (void)state;
  meshlib *m = new_mesh(1, 0);
  static const char good[] =
      "apiVersion: networking.istio.io/v1\n"
      "kind: ServiceEntry\n"
      "metadata: {name: reviews, namespace: prod}\n"
      "spec:\n"
      "  hosts: [reviews.prod.svc.cluster.local]\n"
      "  location: MESH_INTERNAL\n"
      "  resolution: STATIC\n"
      "  ports: [{number: 9080, name: http, protocol: HTTP}]\n"
      "  endpoints:\n"
      "  - {address: 10.0.0.1, labels: {version: v1}}\n"
      "  - {address: 10.0.0.2, labels: {version: v2}}\n"
      "  - {address: 10.0.0.3, labels: {version: v2}}\n"
      "---\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: DestinationRule\n"
      "metadata: {name: reviews, namespace: prod}\n"
      "spec:\n"
      "  host: reviews.prod.svc.cluster.local\n"
      "  subsets:\n"
      "  - {name: v1, labels: {version: v1}}\n"
      "  - {name: v2, labels: {version: v2}}\n";
  static const char bad[] = "apiVersion: networking.istio.io/v1\n"
                            "kind: VirtualService\n"
                            "metadata: {name: x}\n"
                            "spec: {hosts: [x], http: [{timeout: soon}]}\n";
  meshlib_config *c;
  assert_int_equal(meshlib_config_new(&c, m), MESHLIB_OK);
  meshlib_config_add_string(c, "good.yaml", good, strlen(good));
  assert_int_equal(meshlib_config_apply(c), MESHLIB_OK);
  meshlib_config_free(c);
  assert_int_equal(meshlib_config_new(&c, m), MESHLIB_OK);
  meshlib_config_add_string(c, "bad.yaml", bad, strlen(bad));
  assert_int_not_equal(meshlib_config_apply(c), MESHLIB_OK);
  meshlib_config_free(c);

  prom_doc d;
  char *text = render(m, &d);
  assert_true(SUM0(&d, "meshlib_config_loads_total", NULL) == 1);
  assert_true(SUM0(&d, "meshlib_config_rejections_total", NULL) == 1);
  assert_true(SUM0(&d, "meshlib_config_version", NULL) ==
              (double)meshlib_config_version(m));
  assert_true(SUM0(&d, "meshlib_config_version", NULL) >= 1);
  assert_true(SUM(&d, "meshlib_cluster_endpoints", NULL, "subset=\"v2\"",
                  "destination_service=\"reviews.prod.svc.cluster.local\"") ==
              2);
  assert_true(
      SUM(&d, "meshlib_cluster_endpoints_healthy", NULL, "subset=\"v1\"") == 1);
  assert_true(SUM(&d, "meshlib_cluster_outlier_detection_ejections_active",
                  NULL, "|v2|reviews") == 0);
  assert_true(SUM(&d, "meshlib_cluster_outlier_detection_ejections_total", NULL,
                  "|v2|reviews") == 0);
  assert_true(
      SUM(&d, "meshlib_cluster_upstream_rq_active", NULL, "|v2|reviews") == 0);
  assert_true(SUM(&d, "meshlib_cluster_upstream_rq_retry_total", NULL,
                  "|v2|reviews") == 0);
  char err[1024];
  if (promtool_check(text, err, sizeof(err)) < 0)
    fail_msg("%s", err);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
}

/* promtool on an exposition with every family in use. */
static void test_promtool(void **state) {
  (void)state;
  meshlib *m = new_mesh(1, 0);
  record_7_200_3_503(m);
  ml_telemetry_event(&m->telemetry, "c", ML_EV_RETRY, ML_RETRY_5XX);
  ml_telemetry_event(&m->telemetry, "c", ML_EV_FAULT_DELAY, 0);
  prom_doc d;
  char *text = render(m, &d);
  char err[4096];
  int rc = promtool_check(text, err, sizeof(err));
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
  if (rc == 1) {
    print_message("promtool is not installed (Debian package prometheus, "
                  "scripts/install-deps.sh): skipped\n");
    skip();
  }
  if (rc < 0)
    fail_msg("%s", err);
}

/* Our checker must catch what promtool lets through. */
static void test_checker_catches(void **state) {
  (void)state;
  static const char *const bad[] = {
      /* duplicate series */
      "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\"} 1\n"
      "a_total{x=\"1\"} 2\n",
      /* buckets not cumulative */
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\n"
      "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
      /* no +Inf */
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_sum 1\n"
      "h_count 3\n",
      /* _count differs from +Inf */
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\n"
      "h_count 4\n",
      /* sample without TYPE */
      "b 1\n"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    prom_doc d;
    assert_int_equal(prom_parse(bad[i], &d), -1);
    prom_doc_free(&d);
  }
}

/* End to end: calls through meshlib_request_perform() to mock upstreams,
 * 7 answered 200 and 3 answered 503. */
static void test_calls_end_to_end(void **state) {
  (void)state;
  meshlib_mock *up;
  assert_int_equal(meshlib_mock_new(&up), MESHLIB_OK);
  for (int i = 0; i < 3; i++)
    assert_int_equal(meshlib_mock_push_response(up, 503, "no", 2), MESHLIB_OK);
  char yaml[2048];
  snprintf(yaml, sizeof(yaml),
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: reviews, namespace: prod}\n"
           "spec:\n"
           "  hosts: [reviews.prod.svc.cluster.local]\n"
           "  location: MESH_INTERNAL\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints:\n"
           "  - {address: 127.0.0.1, ports: {http: %d}, labels: {app: "
           "reviews, version: v3}}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: reviews, namespace: prod}\n"
           "spec:\n"
           "  hosts: [reviews.prod.svc.cluster.local]\n"
           "  http:\n"
           "  - name: main\n"
           "    retries: {attempts: 0}\n"
           "    route: [{destination: {host: reviews.prod.svc.cluster."
           "local}}]\n",
           meshlib_mock_port(up));
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_set_namespace(o, "shop");
  meshlib_options_set_workload_label(o, "app", "frontend");
  meshlib_options_add_config_string(o, "e2e.yaml", yaml, strlen(yaml));
  meshlib *m;
  if (meshlib_new(&m, o) != MESHLIB_OK)
    fail_msg("%s", meshlib_options_errmsg(o));
  meshlib_options_free(o);
  for (int i = 0; i < 10; i++) {
    meshlib_request *r;
    assert_int_equal(meshlib_request_new(&r, m, "GET",
                                         "http://reviews.prod.svc.cluster."
                                         "local/x"),
                     MESHLIB_OK);
    assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
    assert_int_equal(meshlib_response_status(r), i < 3 ? 503 : 200);
    meshlib_request_free(r);
  }
  prom_doc d;
  char *text = render(m, &d);
  const char *svc = "destination_service=\"reviews.prod.svc.cluster.local\"";
  assert_true(SUM(&d, "istio_requests_total", NULL, svc,
                  "response_code=\"200\"", "destination_app=\"reviews\"",
                  "destination_version=\"v3\"", "source_app=\"frontend\"",
                  "source_workload_namespace=\"shop\"",
                  "destination_service_name=\"reviews\"",
                  "destination_service_namespace=\"prod\"") == 7);
  assert_true(SUM(&d, "istio_requests_total", NULL, svc,
                  "response_code=\"503\"", "response_flags=\"-\"") == 3);
  assert_true(SUM(&d, "istio_request_duration_milliseconds_count", NULL, svc) ==
              10);
  assert_true(
      SUM(&d, "istio_request_duration_milliseconds_bucket", "+Inf", svc) == 10);
  /* "no" from each 503, the mock's name from each 200: bodies > 0 B. */
  assert_true(SUM(&d, "istio_response_bytes_bucket", "0.5", svc) == 0);
  assert_true(SUM(&d, "meshlib_attempts_total", NULL,
                  "cluster_name=\"outbound|80||reviews.prod.svc.cluster."
                  "local\"") == 10);
  assert_true(SUM0(&d, "meshlib_retries_total", NULL) == -1); /* none */
  assert_true(SUM(&d, "meshlib_cluster_endpoints_healthy", NULL,
                  "cluster_name=\"outbound|80||reviews.prod.svc.cluster."
                  "local\"") == 1);
  char err[4096];
  if (promtool_check(text, err, sizeof(err)) < 0)
    fail_msg("%s", err);
  prom_doc_free(&d);
  meshlib_free_str(m, text);
  meshlib_free(m);
  meshlib_mock_free(up);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_istio_labels_and_counts),
      cmocka_unit_test(test_label_set_complete),
      cmocka_unit_test(test_unknown_and_other_hosts),
      cmocka_unit_test(test_label_values_escaped),
      cmocka_unit_test(test_series_bound),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_unnamed_details_no_duplicates),
      cmocka_unit_test(test_disabled),
      cmocka_unit_test(test_foreach),
      cmocka_unit_test(test_options),
      cmocka_unit_test(test_config_and_cluster_gauges),
      cmocka_unit_test(test_promtool),
      cmocka_unit_test(test_checker_catches),
      cmocka_unit_test(test_calls_end_to_end),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
