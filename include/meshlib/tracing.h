/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_TRACING_H
#define MESHLIB_TRACING_H

/* Distributed tracing and access logs, as an Istio sidecar gives them:
 * trace context propagation (W3C traceparent/tracestate, B3, x-request-id),
 * a client span per call and a child span per attempt exported as OTLP/HTTP
 * JSON and Zipkin v2 JSON, and one access-log line per call in Istio's
 * default text format or its JSON encoding. See docs/observability.md. */
#include <stddef.h>
#include <stdint.h>
#include "export.h"
#include "mesh.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct meshlib_request meshlib_request;

/** Header formats meshlib adds to each attempt (a bit set).
 * Since: 0.2.0 */
typedef enum meshlib_trace_header_format {
  MESHLIB_TRACE_HDR_W3C = 1u << 0,        /* traceparent, tracestate */
  MESHLIB_TRACE_HDR_B3 = 1u << 1,         /* x-b3-traceid, -spanid, ... */
  MESHLIB_TRACE_HDR_B3_SINGLE = 1u << 2,  /* b3 */
  MESHLIB_TRACE_HDR_REQUEST_ID = 1u << 3, /* x-request-id */
  /* The default set: what an Istio sidecar's upstream sees (on the calls
   * meshlib traces; see meshlib_options_set_trace_headers()). */
  MESHLIB_TRACE_HDR_DEFAULT = (1u << 0) | (1u << 1) | (1u << 3)
} meshlib_trace_header_format;

/**
 * The share of calls that start a sampled trace, in percent (Istio's
 * `sampling`, 0.0 to 100.0; default 1.0). A sampled flag the call
 * inherits (traceparent flags, x-b3-sampled, x-b3-flags, b3) wins.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (outside 0..100, NaN).
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_tracing_sampling(meshlib_options *o,
                                                        double percent);

/**
 * Which trace headers meshlib writes on each attempt: MESHLIB_TRACE_HDR_*
 * bits (default MESHLIB_TRACE_HDR_DEFAULT; 0 adds none). Incoming
 * context is read in every format whatever this says.
 * Calling this also makes every call traced. Without it, and without an
 * OTLP or Zipkin endpoint, meshlib traces only calls that carry a context
 * (meshlib_request_set_inbound_header(), or traceparent, b3 or x-b3-* on
 * the request); other calls get no trace headers and, unlike Envoy, no
 * generated x-request-id (only x-request-id when an access log is on).
 * E.g. MESHLIB_TRACE_HDR_REQUEST_ID gives every call Envoy's x-request-id.
 * See docs/observability.md, "When calls are traced".
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (unknown bits).
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_trace_headers(meshlib_options *o,
                                                     uint32_t formats);

/**
 * Export spans as OTLP/HTTP JSON to |url|: a base URL
 * ("http://127.0.0.1:4318") gets "/v1/traces" appended, a URL that ends
 * in "/v1/traces" is used as it is. NULL or "" turns it off (default).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_otlp_endpoint(meshlib_options *o,
                                                     const char *url);

/**
 * Export spans as Zipkin v2 JSON to |url|: a base URL
 * ("http://zipkin.istio-system:9411") gets "/api/v2/spans" appended, a URL
 * that ends in "/api/v2/spans" is used as it is. NULL or "": off (default).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_zipkin_endpoint(meshlib_options *o,
                                                       const char *url);

/**
 * The service name spans carry (OTLP resource `service.name`, Zipkin
 * `localEndpoint.serviceName`). Default: Istio's
 * `<canonical service>.<namespace>`, the canonical service taken from the
 * workload labels `service.istio.io/canonical-name`, then `app`, else
 * "unknown".
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_tracing_service_name(meshlib_options *o,
                                                            const char *name);

/**
 * The `node_id` tag of spans (Envoy's node id, e.g.
 * "sidecar~10.0.0.7~web-1.default~default.svc.cluster.local"). Default:
 * "meshlib~<canonical service>.<namespace>~<namespace>.svc.<domain
 * suffix>", the canonical service as for the service name.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_tracing_node_id(meshlib_options *o,
                                                       const char *node_id);

/**
 * Bounds of the export queue: at most |max_queued_spans| spans wait
 * (default 2048, rounded up to a power of two; a span that finds the
 * queue full is dropped and counted), sent in batches of up to
 * |batch_spans| (default 256; at most the queue's size) at least every
 * |flush_interval_ms| (default 1000). 0 keeps a default.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (|max_queued_spans| above
 * 16777216, |flush_interval_ms| negative), MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_tracing_queue(meshlib_options *o,
                                                     uint32_t max_queued_spans,
                                                     uint32_t batch_spans,
                                                     int64_t flush_interval_ms);

/** Access-log encodings. Since: 0.2.0 */
typedef enum meshlib_access_log_format {
  MESHLIB_ACCESS_LOG_TEXT = 0, /* Istio's default text format */
  MESHLIB_ACCESS_LOG_JSON = 1  /* Istio's JSON encoding */
} meshlib_access_log_format;

/**
 * Called with each access-log line (|line| of |len| bytes, ending in
 * "\n"), on the thread that made the call; it may run on several threads
 * at once. |line| is borrowed for the duration of the call.
 * Since: 0.2.0
 */
typedef void (*meshlib_access_log_cb)(const char *line, size_t len,
                                      void *user_data);

/**
 * Append access-log lines to the file at |path| (opened with O_APPEND;
 * each line is one write()). NULL or "" turns the file off (default).
 * meshlib_new() fails with MESHLIB_ERR_IO when the file cannot be opened.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_access_log_path(meshlib_options *o,
                                                       const char *path);

/**
 * The encoding of access-log lines: MESHLIB_ACCESS_LOG_TEXT (default) or
 * MESHLIB_ACCESS_LOG_JSON (Istio's `accessLogEncoding`).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_access_log_format(meshlib_options *o,
                                                         int format);

/**
 * Hand access-log lines to |cb| (besides the file, if one is set); NULL
 * turns the callback off.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Ownership: |user_data| is borrowed until meshlib_free().
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_access_log_callback(
    meshlib_options *o, meshlib_access_log_cb cb, void *user_data);

/**
 * Give |r| one header of the application's own inbound request (the
 * request this call is made on behalf of), so that the call continues its
 * trace: traceparent, tracestate, x-b3-*, b3 and x-request-id are kept,
 * other names are ignored. Without these, meshlib reads the same headers
 * from |r|'s own headers, else starts a new trace and a new x-request-id
 * when tracing is on for every call (an exporter or
 * meshlib_options_set_trace_headers()), else leaves the call untraced.
 * A value that is not a valid context is ignored when the call starts.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_BAD_HEADER
 * (|value| holds CR or LF), MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the thread that owns |r|.
 * Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_request_set_inbound_header(meshlib_request *r,
                                                      const char *name,
                                                      const char *value);

/**
 * The trace of |r|'s last call: the trace id (32 lower-case hex digits),
 * the id of its client span (16 hex digits) and its x-request-id; "" before
 * a call and for a call that was not traced. Borrowed until the next
 * perform or meshlib_request_free().
 * Thread-safety: the thread that owns |r|. Since: 0.2.0
 */
MESHLIB_EXTERN const char *meshlib_request_trace_id(const meshlib_request *r);
/** See meshlib_request_trace_id(). Since: 0.2.0 */
MESHLIB_EXTERN const char *meshlib_request_span_id(const meshlib_request *r);
/** See meshlib_request_trace_id(). Since: 0.2.0 */
MESHLIB_EXTERN const char *meshlib_request_request_id(const meshlib_request *r);
/** Nonzero when |r|'s last call was sampled. Since: 0.2.0 */
MESHLIB_EXTERN int meshlib_request_sampled(const meshlib_request *r);

/** What the span exporter did so far (returned by the library: it only
 * grows at the end, |age| says how far). Since: 0.2.0 */
typedef struct meshlib_tracing_stats {
  uint32_t age;            /* 1 */
  uint64_t spans_queued;   /* handed to the exporter */
  uint64_t spans_dropped;  /* the queue was full (or out of memory) */
  uint64_t spans_exported; /* accepted (2xx) by every configured endpoint */
  uint64_t spans_failed;   /* an endpoint refused them or was unreachable */
  uint64_t exports;        /* HTTP POSTs made */
} meshlib_tracing_stats;

/**
 * Fill |*out| with the exporter's counters (all 0 when no exporter is
 * configured).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_tracing_get_stats(const meshlib *m,
                                             meshlib_tracing_stats *out);

/** meshlib_tracing_flush() ran out of time with spans still queued.
 * Since: 0.2.0 */
#define MESHLIB_TRACING_PENDING 1

/**
 * Send every span queued so far now, and wait up to |timeout_ms| for the
 * exporter to be done with them (sent, or counted as failed).
 * Returns: MESHLIB_OK, MESHLIB_TRACING_PENDING, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_tracing_flush(meshlib *m, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* MESHLIB_TRACING_H */
