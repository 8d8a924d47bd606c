/* SPDX-License-Identifier: MIT */
/* Tracing per call: the context a call continues or starts, the headers
 * of each attempt in every format, sampling, x-request-id, the options;
 * then end to end through the mock upstream, which records what the
 * upstream received (one span per attempt, retries visible). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/request.h"
#include "core/internal.h"
#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "telemetry/trace.h"

static meshlib *mesh_with(double sampling, int formats) {
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  if (sampling >= 0)
    assert_int_equal(meshlib_options_set_tracing_sampling(o, sampling),
                     MESHLIB_OK);
  if (formats >= 0)
    assert_int_equal(meshlib_options_set_trace_headers(o, (uint32_t)formats),
                     MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  return m;
}

/* The value of |name| among |n| headers, or NULL. */
static const char *hv(const ml_header *h, size_t n, const char *name) {
  const char *found = NULL;
  for (size_t i = 0; i < n; i++)
    if (strcmp(h[i].name, name) == 0) {
      assert_null(found); /* each at most once */
      found = h[i].value;
    }
  return found;
}

static int is_hex(const char *s, size_t n) {
  if (strlen(s) != n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr("0123456789abcdef", s[i]))
      return 0;
  return 1;
}

typedef struct call {
  meshlib_request *r;
  ml_header h[ML_TRACE_MAX_HEADERS];
  size_t n;
  ml_attempt_info ai;
} call;

/* What call/attempt.c does when a call starts. */
static void call_begin(meshlib *m, meshlib_request *r) {
  ml_telemetry_call_begin(&m->telemetry, &r->trace, r->headers,
                          r->header_count);
}

static void begin(meshlib *m, call *c, const char *const *inbound,
                  const char *const *outbound) {
  memset(c, 0, sizeof(*c));
  assert_int_equal(meshlib_request_new(&c->r, m, "GET", "http://reviews/x"),
                   MESHLIB_OK);
  for (size_t i = 0; inbound && inbound[i]; i += 2)
    assert_int_equal(
        meshlib_request_set_inbound_header(c->r, inbound[i], inbound[i + 1]),
        MESHLIB_OK);
  for (size_t i = 0; outbound && outbound[i]; i += 2)
    assert_int_equal(
        meshlib_request_add_header(c->r, outbound[i], outbound[i + 1]),
        MESHLIB_OK);
  call_begin(m, c->r);
}

static void attempt(call *c, uint32_t n) {
  c->n = ml_telemetry_attempt_headers(c->r->trace, n, &c->ai, c->h,
                                      ML_TRACE_MAX_HEADERS);
}

static void test_new_trace(void **state) {
  (void)state;
  /* Headers chosen explicitly: every call is traced (see
   * test_default_on_demand for the default). */
  meshlib *m = mesh_with(100.0, MESHLIB_TRACE_HDR_DEFAULT);
  call c;
  begin(m, &c, NULL, NULL);
  const char *tid = meshlib_request_trace_id(c.r);
  const char *client = meshlib_request_span_id(c.r);
  assert_true(is_hex(tid, 32));
  assert_true(is_hex(client, 16));
  assert_int_equal(meshlib_request_sampled(c.r), 1);
  assert_int_equal(strlen(meshlib_request_request_id(c.r)), 36);
  assert_int_equal(meshlib_request_request_id(c.r)[14], '4');
  /* A root span: no parent. */
  assert_true(c.r->trace->ctx.span_id == 0);

  attempt(&c, 1);
  assert_int_equal(c.n, 6); /* default: W3C + B3 + x-request-id */
  char first_span[17];
  memcpy(first_span, c.ai.span_id, 17);
  assert_true(is_hex(first_span, 16));
  assert_string_not_equal(first_span, client);
  char tp[64];
  snprintf(tp, sizeof(tp), "00-%s-%s-01", tid, first_span);
  assert_string_equal(hv(c.h, c.n, "traceparent"), tp);
  assert_null(hv(c.h, c.n, "tracestate"));
  assert_string_equal(hv(c.h, c.n, "x-b3-traceid"), tid);
  assert_string_equal(hv(c.h, c.n, "x-b3-spanid"), first_span);
  assert_string_equal(hv(c.h, c.n, "x-b3-parentspanid"), client);
  assert_string_equal(hv(c.h, c.n, "x-b3-sampled"), "1");
  assert_null(hv(c.h, c.n, "x-b3-flags"));
  assert_null(hv(c.h, c.n, "b3"));
  assert_string_equal(hv(c.h, c.n, "x-request-id"),
                      meshlib_request_request_id(c.r));

  /* A retry: a new span, same trace and parent. */
  attempt(&c, 2);
  assert_string_not_equal(c.ai.span_id, first_span);
  assert_string_equal(hv(c.h, c.n, "x-b3-spanid"), c.ai.span_id);
  assert_string_equal(hv(c.h, c.n, "x-b3-parentspanid"), client);
  assert_string_equal(hv(c.h, c.n, "x-b3-traceid"), tid);

  /* The next call on the same request starts again. */
  char old_tid[33];
  memcpy(old_tid, tid, 33);
  call_begin(m, c.r);
  assert_string_not_equal(meshlib_request_trace_id(c.r), old_tid);
  meshlib_request_free(c.r);
  meshlib_free(m);
}

static void test_continue_w3c(void **state) {
  (void)state;
  meshlib *m = mesh_with(0.0, MESHLIB_TRACE_HDR_W3C | MESHLIB_TRACE_HDR_B3 |
                                  MESHLIB_TRACE_HDR_B3_SINGLE |
                                  MESHLIB_TRACE_HDR_REQUEST_ID);
  const char *in[] = {"traceparent",
                      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                      "tracestate",
                      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
                      "X-Request-Id",
                      "abc-123",
                      "user-agent",
                      "ignored",
                      NULL};
  call c;
  begin(m, &c, in, NULL);
  /* sampled=01 wins over 0 % sampling. */
  assert_int_equal(meshlib_request_sampled(c.r), 1);
  assert_string_equal(meshlib_request_trace_id(c.r),
                      "4bf92f3577b34da6a3ce929d0e0e4736");
  assert_true(c.r->trace->ctx.span_id == 0x00f067aa0ba902b7ULL);
  attempt(&c, 1);
  assert_int_equal(c.n, 8);
  char tp[64];
  snprintf(tp, sizeof(tp), "00-4bf92f3577b34da6a3ce929d0e0e4736-%s-01",
           c.ai.span_id);
  assert_string_equal(hv(c.h, c.n, "traceparent"), tp);
  assert_string_equal(hv(c.h, c.n, "tracestate"),
                      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  assert_string_equal(hv(c.h, c.n, "x-request-id"), "abc-123");
  char b3[128];
  snprintf(b3, sizeof(b3), "4bf92f3577b34da6a3ce929d0e0e4736-%s-1-%s",
           c.ai.span_id, meshlib_request_span_id(c.r));
  assert_string_equal(hv(c.h, c.n, "b3"), b3);
  meshlib_request_free(c.r);

  /* sampled=00 forbids at 100 %. */
  meshlib_free(m);
  m = mesh_with(100.0, -1);
  const char *in0[] = {
      "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
      NULL};
  begin(m, &c, in0, NULL);
  assert_int_equal(meshlib_request_sampled(c.r), 0);
  attempt(&c, 1);
  assert_string_equal(hv(c.h, c.n, "x-b3-sampled"), "0");
  assert_true(strcmp(hv(c.h, c.n, "traceparent") + 53, "00") == 0);
  meshlib_request_free(c.r);
  meshlib_free(m);
}

static void test_continue_b3_multi_64bit(void **state) {
  (void)state;
  meshlib *m =
      mesh_with(100.0, MESHLIB_TRACE_HDR_DEFAULT | MESHLIB_TRACE_HDR_B3_SINGLE);
  const char *in[] = {"x-b3-traceid",
                      "a3ce929d0e0e4736",
                      "x-b3-spanid",
                      "00f067aa0ba902b7",
                      "x-b3-parentspanid",
                      "05e3ac9a4f6e3b90",
                      "x-b3-sampled",
                      "0",
                      NULL};
  call c;
  begin(m, &c, in, NULL);
  assert_int_equal(meshlib_request_sampled(c.r), 0);
  assert_string_equal(meshlib_request_trace_id(c.r),
                      "0000000000000000a3ce929d0e0e4736");
  attempt(&c, 1);
  /* B3 keeps the 64-bit form; W3C needs 128 bits. */
  assert_string_equal(hv(c.h, c.n, "x-b3-traceid"), "a3ce929d0e0e4736");
  assert_string_equal(hv(c.h, c.n, "x-b3-sampled"), "0");
  assert_string_equal(hv(c.h, c.n, "x-b3-parentspanid"),
                      meshlib_request_span_id(c.r));
  assert_true(strncmp(hv(c.h, c.n, "traceparent"),
                      "00-0000000000000000a3ce929d0e0e4736-", 36) == 0);
  assert_true(strncmp(hv(c.h, c.n, "b3"), "a3ce929d0e0e4736-", 17) == 0);
  assert_true(strstr(hv(c.h, c.n, "b3"), "-0-") != NULL);
  assert_true(c.r->trace->ctx.span_id == 0x00f067aa0ba902b7ULL);
  /* No incoming x-request-id: a new one. */
  assert_int_equal(strlen(hv(c.h, c.n, "x-request-id")), 36);
  meshlib_request_free(c.r);
  meshlib_free(m);
}

static void test_continue_b3_single_debug(void **state) {
  (void)state;
  meshlib *m = mesh_with(0.0, -1);
  const char *in[] = {
      "b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-d", NULL};
  call c;
  begin(m, &c, in, NULL);
  assert_int_equal(meshlib_request_sampled(c.r), 1);
  attempt(&c, 1);
  /* Debug goes as x-b3-flags: 1, without x-b3-sampled. */
  assert_string_equal(hv(c.h, c.n, "x-b3-flags"), "1");
  assert_null(hv(c.h, c.n, "x-b3-sampled"));
  assert_string_equal(hv(c.h, c.n, "x-b3-traceid"),
                      "4bf92f3577b34da6a3ce929d0e0e4736");
  /* tracestate only travels with the traceparent it came with. */
  assert_null(hv(c.h, c.n, "tracestate"));
  meshlib_request_free(c.r);
  meshlib_free(m);
}

static void test_context_from_outbound_headers(void **state) {
  (void)state;
  meshlib *m = mesh_with(0.0, -1);
  /* The application forwards the headers itself on the outbound request. */
  const char *out[] = {"x-b3-traceid",
                       "4bf92f3577b34da6a3ce929d0e0e4736",
                       "x-b3-spanid",
                       "00f067aa0ba902b7",
                       "x-b3-sampled",
                       "1",
                       "x-request-id",
                       "from-the-app",
                       NULL};
  call c;
  begin(m, &c, NULL, out);
  assert_string_equal(meshlib_request_trace_id(c.r),
                      "4bf92f3577b34da6a3ce929d0e0e4736");
  assert_int_equal(meshlib_request_sampled(c.r), 1);
  assert_string_equal(meshlib_request_request_id(c.r), "from-the-app");
  assert_true(c.r->trace->ctx.span_id == 0x00f067aa0ba902b7ULL);
  meshlib_request_free(c.r);

  /* Inbound context, when given, wins over the outbound headers. */
  const char *in[] = {"x-request-id", "inbound", NULL};
  begin(m, &c, in, out);
  assert_string_equal(meshlib_request_request_id(c.r), "inbound");
  assert_string_not_equal(meshlib_request_trace_id(c.r),
                          "4bf92f3577b34da6a3ce929d0e0e4736");
  meshlib_request_free(c.r);
  meshlib_free(m);
}

static void test_formats_and_cap(void **state) {
  (void)state;
  meshlib *m = mesh_with(100.0, MESHLIB_TRACE_HDR_B3_SINGLE);
  call c;
  begin(m, &c, NULL, NULL);
  attempt(&c, 1);
  assert_int_equal(c.n, 1);
  assert_string_equal(c.h[0].name, "b3");
  char b3[128];
  snprintf(b3, sizeof(b3), "%s-%s-1-%s", meshlib_request_trace_id(c.r),
           c.ai.span_id, meshlib_request_span_id(c.r));
  assert_string_equal(c.h[0].value, b3);
  meshlib_request_free(c.r);
  meshlib_free(m);

  m = mesh_with(100.0, 0);
  begin(m, &c, NULL, NULL);
  attempt(&c, 1);
  assert_int_equal(c.n, 0);
  assert_true(is_hex(c.ai.span_id, 16)); /* spans still have ids */
  meshlib_request_free(c.r);
  meshlib_free(m);

  m = mesh_with(100.0, MESHLIB_TRACE_HDR_DEFAULT);
  begin(m, &c, NULL, NULL);
  c.n = ml_telemetry_attempt_headers(c.r->trace, 1, &c.ai, c.h, 2);
  assert_int_equal(c.n, 2);
  assert_string_equal(c.h[0].name, "traceparent");
  /* No call began: nothing. */
  meshlib_request *r2;
  assert_int_equal(meshlib_request_new(&r2, m, "GET", "http://a/"), MESHLIB_OK);
  ml_attempt_info ai;
  memset(ai.span_id, 'x', sizeof(ai.span_id));
  assert_int_equal(ml_telemetry_attempt_headers(r2->trace, 1, &ai, c.h, 9), 0);
  assert_string_equal(ai.span_id, "");
  assert_string_equal(meshlib_request_trace_id(r2), "");
  meshlib_request_free(r2);
  meshlib_request_free(c.r);
  meshlib_free(m);
}

static int sampled_count(double pct, int calls) {
  meshlib *m = mesh_with(pct, MESHLIB_TRACE_HDR_DEFAULT);
  int n = 0;
  for (int i = 0; i < calls; i++) {
    call c;
    begin(m, &c, NULL, NULL);
    n += meshlib_request_sampled(c.r);
    meshlib_request_free(c.r);
  }
  meshlib_free(m);
  return n;
}

static void test_sampling(void **state) {
  (void)state;
  assert_int_equal(sampled_count(0.0, 500), 0);
  assert_int_equal(sampled_count(100.0, 500), 500);
  int half = sampled_count(50.0, 1000);
  assert_in_range(half, 400, 600);
  /* Istio's default, 1 %: about 10 of 1000, far from 0 and 100. */
  int dflt = sampled_count(-1, 2000);
  assert_in_range(dflt, 3, 60);
}

/* A mesh with one option of tracing or logging set ("otlp", "log",
 * "sampling"), or none. */
static int log_lines;
static void on_log_line(const char *line, size_t len, void *ud) {
  (void)line;
  (void)len;
  (void)ud;
  log_lines++;
}

static meshlib *mesh_option(const char *which) {
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  if (strcmp(which, "otlp") == 0) { /* sampling 0: nothing is sent */
    assert_int_equal(meshlib_options_set_otlp_endpoint(o, "http://127.0.0.1:1"),
                     MESHLIB_OK);
    assert_int_equal(meshlib_options_set_tracing_sampling(o, 0.0), MESHLIB_OK);
  } else if (strcmp(which, "log") == 0)
    assert_int_equal(
        meshlib_options_set_access_log_callback(o, on_log_line, NULL),
        MESHLIB_OK);
  else if (strcmp(which, "sampling") == 0)
    assert_int_equal(meshlib_options_set_tracing_sampling(o, 100.0),
                     MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  return m;
}

/* Not traced: no ids, no headers, no state allocated. */
static void assert_untraced(call *c) {
  assert_string_equal(meshlib_request_trace_id(c->r), "");
  assert_string_equal(meshlib_request_span_id(c->r), "");
  assert_string_equal(meshlib_request_request_id(c->r), "");
  assert_int_equal(meshlib_request_sampled(c->r), 0);
  memset(c->ai.span_id, 'x', sizeof(c->ai.span_id));
  attempt(c, 1);
  assert_int_equal(c->n, 0);
  assert_string_equal(c->ai.span_id, "");
}

static void test_default_on_demand(void **state) {
  (void)state;
  /* No exporter, no explicit headers: a call without a context is not
   * traced (unlike Envoy, no x-request-id either), even at 100 %. */
  const char *const plain[] = {"none", "sampling"};
  for (int k = 0; k < 2; k++) {
    meshlib *m = mesh_option(plain[k]);
    call c;
    begin(m, &c, NULL, NULL);
    assert_untraced(&c);
    assert_null(c.r->trace);
    meshlib_request_free(c.r);
    /* x-request-id alone on the outbound request is the application's
     * header, not a trace context: it goes as it is. */
    const char *rid[] = {"x-request-id", "app-1", "tracestate", "a=b", NULL};
    begin(m, &c, NULL, rid);
    assert_untraced(&c);
    meshlib_request_free(c.r);

    /* A context handed in (any trace header, x-request-id too) or on the
     * outbound request (traceparent, b3, x-b3-*): Istio's behaviour. */
    const char *in_tp[] = {
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL};
    const char *in_rid[] = {"x-request-id", "req-7", NULL};
    const char *out_b3[] = {
        "b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", NULL};
    const char *out_x[] = {"x-b3-sampled", "0", NULL};
    const char *const *ins[] = {in_tp, in_rid, NULL, NULL};
    const char *const *outs[] = {NULL, NULL, out_b3, out_x};
    for (int i = 0; i < 4; i++) {
      begin(m, &c, ins[i], outs[i]);
      attempt(&c, 1);
      assert_int_equal(c.n, 6); /* W3C + B3 + x-request-id */
      assert_true(is_hex(meshlib_request_trace_id(c.r), 32));
      assert_string_equal(hv(c.h, c.n, "x-request-id"),
                          meshlib_request_request_id(c.r));
      if (i == 1)
        assert_string_equal(meshlib_request_request_id(c.r), "req-7");
      if (i == 0 || i == 2)
        assert_string_equal(meshlib_request_trace_id(c.r),
                            "4bf92f3577b34da6a3ce929d0e0e4736");
      if (i == 3) /* a sampling decision alone: a new trace, unsampled */
        assert_int_equal(meshlib_request_sampled(c.r), 0);
      if (i == 0 || i == 2) {
        assert_int_equal(meshlib_request_sampled(c.r), 1);
        /* Another request without a context goes untraced. */
        if (i == 2) {
          meshlib_request *r2;
          assert_int_equal(meshlib_request_new(&r2, m, "GET", "http://r/"),
                           MESHLIB_OK);
          call c2 = c;
          c2.r = r2;
          call_begin(m, r2);
          assert_untraced(&c2);
          meshlib_request_free(r2);
        }
      }
      meshlib_request_free(c.r);
    }
    meshlib_free(m);
  }

  /* An exporter: every call is traced, as an Istio sidecar traces. */
  meshlib *m = mesh_option("otlp");
  call c;
  begin(m, &c, NULL, NULL);
  attempt(&c, 1);
  assert_int_equal(c.n, 6);
  assert_int_equal(strlen(hv(c.h, c.n, "x-request-id")), 36);
  meshlib_request_free(c.r);
  meshlib_free(m);

  /* An access log prints x-request-id: a call without a context gets one,
   * and sends it, but no trace headers. */
  m = mesh_option("log");
  begin(m, &c, NULL, NULL);
  attempt(&c, 1);
  assert_int_equal(c.n, 1);
  assert_string_equal(c.h[0].name, "x-request-id");
  assert_int_equal(strlen(c.h[0].value), 36);
  assert_string_equal(meshlib_request_request_id(c.r), c.h[0].value);
  meshlib_request_free(c.r);
  meshlib_free(m);

  /* An explicit choice wins over the default: x-request-id on every call,
   * as Envoy sends it; and 0 still traces (spans, ids) without headers. */
  m = mesh_with(-1, MESHLIB_TRACE_HDR_REQUEST_ID);
  begin(m, &c, NULL, NULL);
  attempt(&c, 1);
  assert_int_equal(c.n, 1);
  assert_string_equal(c.h[0].name, "x-request-id");
  meshlib_request_free(c.r);
  meshlib_free(m);
  m = mesh_with(-1, 0);
  begin(m, &c, NULL, NULL);
  attempt(&c, 1);
  assert_int_equal(c.n, 0);
  assert_true(is_hex(meshlib_request_trace_id(c.r), 32));
  assert_true(is_hex(c.ai.span_id, 16));
  meshlib_request_free(c.r);
  meshlib_free(m);
}

static void test_options(void **state) {
  (void)state;
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_tracing_sampling(o, -0.5),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_tracing_sampling(o, 100.01),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_tracing_sampling(o, NAN),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_tracing_sampling(NULL, 1),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_trace_headers(o, 1u << 7),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_otlp_endpoint(o, "ftp://x"),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(
      meshlib_options_set_otlp_endpoint(o, "http://127.0.0.1:4318/"),
      MESHLIB_OK);
  assert_string_equal(o->settings.trace->otlp_url,
                      "http://127.0.0.1:4318/v1/traces");
  assert_int_equal(
      meshlib_options_set_otlp_endpoint(o, "http://c:4318/otlp/v1/traces"),
      MESHLIB_OK);
  assert_string_equal(o->settings.trace->otlp_url,
                      "http://c:4318/otlp/v1/traces");
  assert_int_equal(meshlib_options_set_zipkin_endpoint(o, "http://zipkin:9411"),
                   MESHLIB_OK);
  assert_string_equal(o->settings.trace->zipkin_url,
                      "http://zipkin:9411/api/v2/spans");
  assert_int_equal(meshlib_options_set_zipkin_endpoint(o, ""), MESHLIB_OK);
  assert_null(o->settings.trace->zipkin_url);
  assert_int_equal(meshlib_options_set_tracing_queue(o, 0, 0, -1),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_tracing_service_name(o, ""),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_workload_label(o, "app", "web"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_set_namespace(o, "shop"), MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  assert_string_equal(m->telemetry.tracer->service_name, "web.shop");
  assert_string_equal(m->telemetry.tracer->canonical_service, "web");
  assert_string_equal(m->telemetry.tracer->canonical_revision, "latest");
  assert_non_null(strstr(m->telemetry.tracer->node_id, "web.shop"));
  /* The exporter runs (OTLP only) and flushes at once when idle. */
  assert_non_null(m->telemetry.tracer->exporter);
  assert_int_equal(meshlib_tracing_flush(m, 1000), MESHLIB_OK);
  meshlib_tracing_stats st;
  assert_int_equal(meshlib_tracing_get_stats(m, &st), MESHLIB_OK);
  assert_int_equal(st.age, 1);
  assert_true(st.spans_queued == 0 && st.spans_dropped == 0);
  meshlib_free(m);
  meshlib_options_free(o);

  /* No exporter: stats are zero, flush is immediate. */
  m = mesh_with(-1, -1);
  assert_null(m->telemetry.tracer->exporter);
  assert_int_equal(meshlib_tracing_flush(m, 0), MESHLIB_OK);
  assert_int_equal(meshlib_tracing_flush(NULL, 0), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_tracing_get_stats(m, NULL), MESHLIB_ERR_INVALID_ARG);
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, m, "GET", "http://a/"), MESHLIB_OK);
  assert_int_equal(
      meshlib_request_set_inbound_header(r, "x-request-id", "a\r\nb"),
      MESHLIB_ERR_BAD_HEADER);
  assert_int_equal(meshlib_request_set_inbound_header(r, NULL, "v"),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_request_set_inbound_header(r, "accept", "*/*"),
                   MESHLIB_OK);
  meshlib_request_free(r);
  meshlib_free(m);
}

/* ---- End to end through the mock upstream ---- */

static char yaml[4096];

static const char *config(int port) {
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
           port);
  return yaml;
}

static void test_end_to_end_headers(void **state) {
  (void)state;
  meshlib_mock *up;
  assert_int_equal(meshlib_mock_new(&up), MESHLIB_OK);
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_tracing_sampling(o, 0.0), MESHLIB_OK);
  const char *y = config(meshlib_mock_port(up));
  assert_int_equal(meshlib_options_add_config_string(o, "e2e", y, strlen(y)),
                   MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);

  /* The first try fails with 503 and is retried. */
  assert_int_equal(meshlib_mock_push_response(up, 503, "busy", 4), MESHLIB_OK);
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, m, "GET",
                                       "http://reviews.default.svc.cluster."
                                       "local:9080/ratings"),
                   MESHLIB_OK);
  assert_int_equal(
      meshlib_request_set_inbound_header(r, "traceparent",
                                         "00-4bf92f3577b34da6a3ce929d0e0e4736-"
                                         "00f067aa0ba902b7-01"),
      MESHLIB_OK);
  assert_int_equal(
      meshlib_request_set_inbound_header(r, "x-request-id", "req-42"),
      MESHLIB_OK);
  /* A stale header the application copied: meshlib's must replace it. */
  assert_int_equal(
      meshlib_request_add_header(r, "x-b3-spanid", "1111111111111111"),
      MESHLIB_OK);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), 200);
  assert_int_equal(meshlib_mock_request_count(up), 2);
  const char *client = meshlib_request_span_id(r);
  char spans[2][17];
  for (int i = 0; i < 2; i++) {
    const char *tp = meshlib_mock_request_header(up, i, "traceparent");
    assert_non_null(tp);
    assert_int_equal(strlen(tp), 55);
    assert_true(strncmp(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36) == 0);
    assert_string_equal(tp + 52, "-01");
    memcpy(spans[i], tp + 36, 16);
    spans[i][16] = '\0';
    assert_string_equal(meshlib_mock_request_header(up, i, "x-b3-traceid"),
                        "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(meshlib_mock_request_header(up, i, "x-b3-spanid"),
                        spans[i]);
    assert_string_equal(meshlib_mock_request_header(up, i, "x-b3-parentspanid"),
                        client);
    assert_string_equal(meshlib_mock_request_header(up, i, "x-b3-sampled"),
                        "1");
    assert_string_equal(meshlib_mock_request_header(up, i, "x-request-id"),
                        "req-42");
  }
  /* Each attempt is its own span. */
  assert_string_not_equal(spans[0], spans[1]);
  assert_string_not_equal(spans[0], client);
  meshlib_request_free(r);
  meshlib_free(m);

  /* meshlib's defaults and no context: the upstream sees the attempt
   * count and none of the trace headers. */
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_add_config_string(o, "e2e", y, strlen(y)),
                   MESHLIB_OK);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  meshlib_mock_reset(up);
  assert_int_equal(meshlib_request_new(&r, m, "GET",
                                       "http://reviews.default.svc.cluster."
                                       "local:9080/ratings"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), 200);
  assert_int_equal(meshlib_mock_request_count(up), 1);
  assert_string_equal(
      meshlib_mock_request_header(up, 0, "x-envoy-attempt-count"), "1");
  const char *none[] = {"traceparent",  "x-b3-traceid", "x-b3-spanid",
                        "x-b3-sampled", "b3",           "x-request-id"};
  for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
    assert_null(meshlib_mock_request_header(up, 0, none[i]));
  meshlib_request_free(r);
  meshlib_free(m);
  meshlib_mock_free(up);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_trace),
      cmocka_unit_test(test_continue_w3c),
      cmocka_unit_test(test_continue_b3_multi_64bit),
      cmocka_unit_test(test_continue_b3_single_debug),
      cmocka_unit_test(test_context_from_outbound_headers),
      cmocka_unit_test(test_formats_and_cap),
      cmocka_unit_test(test_sampling),
      cmocka_unit_test(test_default_on_demand),
      cmocka_unit_test(test_options),
      cmocka_unit_test(test_end_to_end_headers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
