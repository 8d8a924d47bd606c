/* SPDX-License-Identifier: MIT */
#ifndef ML_TELEMETRY_TRACE_H
#define ML_TELEMETRY_TRACE_H

/* Distributed tracing: context propagation (propagate.c), spans per call
 * and per attempt (trace.c), export from a background thread
 * (trace_export.c). */
#include <stdatomic.h>
#include <stdint.h>
#include "meshlib/meshlib.h"
#include "meshlib/tracing.h"
#include "telemetry/telemetry.h"
#include "util/mem.h"
#include "util/rand.h"

/* The most headers ml_telemetry_attempt_headers() writes. */
#define ML_TRACE_MAX_HEADERS 9

/* Tracing and access-log options (ml_settings.trace); NULL: defaults. */
typedef struct ml_trace_settings {
  int has_sampling;
  double sampling; /* percent */
  int has_formats;
  uint32_t formats; /* MESHLIB_TRACE_HDR_* */
  char *otlp_url;   /* full URL, or NULL */
  char *zipkin_url;
  char *service_name;
  char *node_id;
  uint32_t max_queued, batch;
  int64_t flush_interval_ms;
  char *access_log_path;
  int access_log_format;
  meshlib_access_log_cb access_log_cb;
  void *access_log_user_data;
} ml_trace_settings;

ml_trace_settings *ml_trace_settings_dup(const ml_mem *mem,
                                         const ml_trace_settings *s);
void ml_trace_settings_free(const ml_mem *mem, ml_trace_settings *s);

/* ---- Propagation (propagate.c): pure functions on header values. ---- */

/* A trace context as read from headers. Ids are binary; a zero id is
 * "absent". */
typedef struct ml_trace_ctx {
  uint64_t trace_hi, trace_lo; /* trace_hi 0 with a 64-bit B3 id */
  int trace_128;               /* the id came (or goes) as 128 bits */
  uint64_t span_id;            /* the caller's span: our parent */
  int sampled;                 /* -1: no decision, 0, 1 */
  int debug;                   /* x-b3-flags: 1 */
} ml_trace_ctx;

/* Each returns 0 and fills *ctx (sampled/debug as carried) when the value
 * is valid, -1 otherwise (ctx then untouched). */
int ml_trace_parse_traceparent(const char *v, ml_trace_ctx *ctx);
int ml_trace_parse_b3_single(const char *v, ml_trace_ctx *ctx);
/* B3 multi: any of the strings may be NULL. With no trace id, a valid
 * sampled/flags value alone still gives a decision (ids stay 0). */
int ml_trace_parse_b3_multi(const char *traceid, const char *spanid,
                            const char *sampled, const char *flags,
                            ml_trace_ctx *ctx);
/* Lower-case hex of |v| in exactly |digits| (16) or 32 characters. */
void ml_trace_hex64(uint64_t v, char out[17]);
void ml_trace_hex128(uint64_t hi, uint64_t lo, char out[33]);
/* A random UUID (version 4, RFC 4122 variant) as 36 characters. */
void ml_trace_uuid4(ml_rand *rng, char out[37]);

/* The header names the context is read from, in slot order. */
enum {
  ML_TH_TRACEPARENT = 0,
  ML_TH_TRACESTATE,
  ML_TH_B3,
  ML_TH_B3_TRACEID,
  ML_TH_B3_SPANID,
  ML_TH_B3_PARENTSPANID,
  ML_TH_B3_SAMPLED,
  ML_TH_B3_FLAGS,
  ML_TH_REQUEST_ID,
  ML_TH_COUNT
};
/* The slot of header |name| (case-insensitive), or -1. */
int ml_trace_header_slot(const char *name);
extern const char *const ml_trace_header_names[ML_TH_COUNT];

/* Where a context came from. */
enum {
  ML_TRACE_SRC_NONE = 0,
  ML_TRACE_SRC_W3C,
  ML_TRACE_SRC_B3_SINGLE,
  ML_TRACE_SRC_B3_MULTI
};
/* The context of one call, chosen from an inbound (or outbound) header
 * set: ids from traceparent, else b3, else x-b3-*; a B3 debug flag forces
 * sampling. |h| holds the values by slot (NULL: absent). Returns the
 * ML_TRACE_SRC_* the ids came from (NONE: at most a sampling decision). */
int ml_trace_ctx_from_headers(const char *const h[ML_TH_COUNT],
                              ml_trace_ctx *ctx);

/* ---- Per request (trace.c). ---- */

typedef struct ml_trace_call {
  char *inbound[ML_TH_COUNT]; /* meshlib_request_set_inbound_header() */
  ml_rand rng;
  int active;       /* a call began and its context is below */
  uint32_t formats; /* the headers this call's attempts carry */
  ml_trace_ctx ctx; /* trace id, the inbound parent, sampled */
  uint64_t client_span;
  const char *tracestate; /* borrowed from inbound or the request */
  char trace_hex[33];
  char client_hex[17];
  char request_id[64];
  /* The last attempt's header values. */
  char traceparent[56];
  char b3_traceid[33];
  char b3_spanid[17];
  char b3_parent[17];
  char b3_single[72];
} ml_trace_call;

void ml_trace_call_free(const ml_mem *mem, struct ml_trace_call *t);
/* The inbound request's trace header |name| (any other name is ignored)
 * for the next call of the request whose trace state is |*call| (made
 * here when needed): meshlib_request_set_inbound_header(). Returns
 * MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (no tracer), MESHLIB_ERR_BAD_HEADER
 * or MESHLIB_ERR_NOMEM. */
int ml_trace_set_inbound(ml_telemetry *t, struct ml_trace_call **call,
                         const char *name, const char *value);
/* The current call of |c| (may be NULL): its trace id (hex), client span
 * id, x-request-id ("" when the call is not traced) and sampling (1 when
 * sampled). */
const char *ml_trace_trace_id(const struct ml_trace_call *c);
const char *ml_trace_span_id(const struct ml_trace_call *c);
int ml_trace_sampled(const struct ml_trace_call *c);
/* The x-request-id of |c|'s current call, or NULL; |c| may be NULL. */
const char *ml_trace_request_id(const struct ml_trace_call *c);
/* "HTTP/1.1" or "HTTP/2" for an ml_call_info.http_version, else NULL. */
const char *ml_trace_protocol_text(int http_version);

/* ---- The mesh's tracer (trace.c, trace_export.c). ---- */

typedef struct ml_exporter ml_exporter;

typedef struct ml_tracer {
  const ml_mem *mem;
  uint64_t seed;
  _Atomic uint64_t counter;
  uint64_t sample_below; /* sampled when a random 64-bit < this */
  uint32_t formats;
  /* Neither meshlib_options_set_trace_headers() nor an exporter: only a
   * call that carries a trace context is traced (and gets headers);
   * any other call sends |idle_formats| (x-request-id when an access log
   * is on, else nothing) and, with 0, costs one check. */
  int on_demand;
  uint32_t idle_formats;
  char *service_name;
  char *node_id;
  const char *canonical_service;
  const char *canonical_revision;
  const char *namespace_;
  ml_exporter *exporter; /* NULL: no endpoint */
} ml_tracer;

/* Create the tracer and access log of |t| from |s| (meshlib_new); free
 * them (meshlib_free: flushes with a bounded wait). */
int ml_trace_mesh_init(ml_telemetry *t, const ml_telemetry_settings *s);
void ml_trace_mesh_free(ml_telemetry *t);

/* meshlib_tracing_get_stats() and meshlib_tracing_flush() of |t|. */
void ml_trace_get_stats(const ml_telemetry *t, meshlib_tracing_stats *out);
int ml_trace_flush(ml_telemetry *t, int64_t timeout_ms);

/* A call ended: build its spans and queue them for export. */
void ml_trace_call_end(ml_telemetry *t, const ml_call_info *info);

/* ---- Export (trace_export.c). ---- */

/* One finished span, one allocation: strings live in |text| at offsets. */
#define ML_SPAN_MAX_ATTRS 24
typedef struct ml_span_head {
  char trace_id[33];
  char span_id[17];
  char parent_id[17]; /* "" for a root span */
  int64_t start_wall_us;
  int64_t duration_us;
  int error;
  uint32_t name_off;
  uint32_t remote_off; /* "ip:port" of the upstream, or "" */
  uint32_t attr_count;
  struct {
    const char *key; /* static */
    uint32_t value_off;
  } attrs[ML_SPAN_MAX_ATTRS];
} ml_span_head;

typedef struct ml_span {
  ml_span_head h;
  char text[];
} ml_span;

typedef struct ml_exporter_config {
  const char *otlp_url;
  const char *zipkin_url;
  const char *service_name;
  uint32_t max_queued;
  uint32_t batch;
  int64_t flush_interval_ms;
} ml_exporter_config;

int ml_exporter_new(const ml_mem *mem, const ml_exporter_config *c,
                    ml_exporter **out);
/* Flush with a bounded wait, stop the thread, free. */
void ml_exporter_free(ml_exporter *e, int64_t wait_ms);
/* Queue |s| (taken: freed by the exporter, or here when dropped). Never
 * blocks. */
void ml_exporter_push(ml_exporter *e, ml_span *s);
int ml_exporter_flush(ml_exporter *e, int64_t timeout_ms);
void ml_exporter_stats(ml_exporter *e, meshlib_tracing_stats *out);

/* The JSON bodies of one batch (exposed for unit tests). */
int ml_export_otlp_json(ml_buf *b, const char *service_name,
                        ml_span *const *spans, size_t n);
int ml_export_zipkin_json(ml_buf *b, const char *service_name,
                          ml_span *const *spans, size_t n);

#endif
