/* SPDX-License-Identifier: MIT */
#ifndef ML_TELEMETRY_TELEMETRY_H
#define ML_TELEMETRY_TELEMETRY_H

/* What the call path tells telemetry (metrics, traces, access logs), and
 * when. The call path (src/call/) fills these records
 * and calls the hooks below; each hook is cheap when its feature is off
 * and never blocks the caller (no global lock, no I/O on the calling
 * thread). Telemetry sees neither the mesh nor the request: the mesh
 * hands it its settings and a view of its state (ml_mesh_view), the call
 * path a record of each call (ml_call_info) and the call's trace state. */
#include <stddef.h>
#include <stdint.h>
#include "config/model.h"
#include "meshlib/mesh.h"
#include "route/route.h"

struct ml_admin_source;
struct ml_cluster;
struct ml_trace_call;
struct ml_trace_settings;
struct ml_metrics_settings;
struct meshlib_clusters;

/* The mesh's telemetry, embedded in struct meshlib: what the hooks
 * below take. Made by ml_trace_mesh_init() (tracer, access log) and
 * ml_telemetry_mesh_init() (metrics, admin listener). */
typedef struct ml_telemetry {
  const ml_mem *mem;                /* the mesh's allocator */
  struct ml_tracer *tracer;         /* trace.c */
  struct ml_access_log *access_log; /* access_log.c; NULL: off */
  struct ml_metrics *metrics;       /* metrics.c */
  struct ml_admin *admin;           /* admin.c; NULL: off */
} ml_telemetry;

/* What telemetry reads of the mesh's settings, borrowed: the strings and
 * structs outlive the telemetry (they are the mesh's). */
typedef struct ml_telemetry_settings {
  const ml_mem *mem;
  const char *namespace_;
  const char *domain_suffix;
  const ml_kv *labels; /* the workload's */
  size_t label_count;
  const struct ml_trace_settings *trace; /* NULL: defaults */
  const struct ml_metrics_settings *metrics;
  int log_level; /* the mesh's logger */
  meshlib_log_cb log_cb;
  void *log_user_data;
} ml_telemetry_settings;

/* The record of applied and rejected configs, as metrics and
 * /config_dump show it: a consistent copy the mesh makes. */
typedef struct ml_config_figures {
  uint64_t version;               /* of the snapshot in force */
  uint64_t applied_total;         /* configs put in force (not version 0) */
  uint64_t rejected_total;        /* configs rejected */
  uint64_t last_rejected_version; /* 0: none yet */
  char last_rejected_reason[512]; /* "" before the first rejection */
  int64_t last_applied_unix_ms;   /* 0: none yet */
  int64_t last_rejected_unix_ms;
} ml_config_figures;

/* What telemetry reads of the mesh's state when it renders: the mesh
 * answers at each call. */
typedef struct ml_mesh_view {
  void *ctx;
  void (*config)(void *ctx, ml_config_figures *out);
  /* A picture of the clusters in force (meshlib_clusters_snapshot());
   * the caller frees it with meshlib_clusters_free(). Returns MESHLIB_OK
   * or MESHLIB_ERR_NOMEM. */
  int (*clusters)(void *ctx, struct meshlib_clusters **out);
} ml_mesh_view;

/* One attempt of a call (a try on one endpoint). */
typedef struct ml_attempt_info {
  int64_t start_us; /* monotonic, as ml_call_info.start_us */
  int64_t duration_us;
  char upstream[80];     /* "ip:port" tried */
  int32_t status;        /* upstream status, or the local reply's */
  uint32_t flags;        /* MESHLIB_RF_* of this attempt */
  uint32_t retry_reason; /* ML_RETRY_* bit that caused the next attempt;
                            0 for the last attempt */
  uint64_t bytes_sent, bytes_received;
  char span_id[17]; /* the attempt's span (hex), "" when not traced */
} ml_attempt_info;

/* One finished call, handed to ml_telemetry_call_end(). Strings are
 * borrowed for the duration of the hook. */
typedef struct ml_call_info {
  const struct ml_trace_call *trace; /* the call's trace state, or NULL */
  const ml_header *headers;          /* the request's, names lower-case */
  size_t header_count;
  const char *scheme; /* "http" or "https"; NULL: "http" */
  const char *method;
  const char *authority;    /* as sent */
  const char *path;         /* path and query as requested */
  const char *protocol;     /* "http" or "grpc" (request_protocol) */
  int http_version;         /* 11 or 20 on the wire; 0 when none */
  const char *dest_service; /* FQDN of the chosen destination host */
  const char *dest_subset;  /* NULL when none */
  const char *cluster;      /* outbound|port|subset|host, or NULL */
  const char *route_name;   /* the http route's name, or NULL */
  const char *vs_name;      /* the VirtualService, or NULL */
  const char *vs_namespace;
  const ml_kv_list *dest_labels; /* the last endpoint's labels; NULL */
  int32_t status;                /* final status; 0 when no response */
  const char *grpc_status;       /* grpc-status of the answer, or NULL */
  uint32_t flags;                /* final MESHLIB_RF_* */
  const char *details;           /* Envoy's response details text, or "" */
  const char *code_details;      /* %RESPONSE_CODE_DETAILS% when known
                                    exactly, or NULL: from the flags */
  uint64_t request_bytes;        /* body bytes sent (last attempt) */
  uint64_t response_bytes;       /* body bytes received */
  int64_t start_us;              /* monotonic */
  int64_t start_wall_us;         /* CLOCK_REALTIME, for logs and spans */
  int64_t duration_us;
  const char *upstream;   /* last endpoint tried, "ip:port"; "" */
  const char *request_id; /* x-request-id sent, or NULL */
  const ml_attempt_info *attempts;
  size_t attempt_count;
} ml_call_info;

/* Events the policy code reports, for meshlib's own counters. */
typedef enum ml_event {
  ML_EV_RETRY = 0,            /* a retry was made (detail: ML_RETRY_* bit) */
  ML_EV_RETRY_BUDGET_REFUSED, /* retry budget or maxRetries said no: URX */
  ML_EV_POOL_OVERFLOW,        /* a pool limit said no: UO */
  ML_EV_EJECTION,             /* an endpoint was ejected */
  ML_EV_FAULT_DELAY,
  ML_EV_FAULT_ABORT,
  ML_EV_COUNT
} ml_event;

/* A call starts (after routing): tracing continues or starts its
 * context from the request's headers (|headers|, |count|, names
 * lower-case) and inbound context, and chooses the x-request-id. |*call|
 * is the request's trace state, made here when needed (NULL until then;
 * freed with ml_trace_call_free()). */
void ml_telemetry_call_begin(ml_telemetry *t, struct ml_trace_call **call,
                             const ml_header *headers, size_t count);

/* The headers telemetry adds to attempt number |attempt| (1-based) of
 * the call whose trace state is |call| (traceparent, tracestate, b3
 * forms, x-request-id), written into |out| (capacity |cap|); strings stay
 * valid until the next call of this function for |call| or the end of
 * the call. Returns the count. Span ids of attempts are chosen here;
 * ai->span_id receives this attempt's. */
size_t ml_telemetry_attempt_headers(struct ml_trace_call *call,
                                    uint32_t attempt, ml_attempt_info *ai,
                                    ml_header *out, size_t cap);

/* A call ended: metrics, spans, access log. */
void ml_telemetry_call_end(ml_telemetry *t, const ml_call_info *info);

/* Count one policy event for |cluster| (may be NULL). */
void ml_telemetry_event(ml_telemetry *t, const char *cluster, ml_event ev,
                        uint32_t detail);

/* The metrics and admin listener of |t| from |s| (telemetry.c), called by
 * meshlib_new(); the listener serves what |admin| (copied) hands it. On
 * failure |err| says why. ml_telemetry_mesh_free() stops the listener
 * (it calls into the mesh) and frees the metrics. */
int ml_telemetry_mesh_init(ml_telemetry *t, const ml_telemetry_settings *s,
                           const struct ml_admin_source *admin, char *err,
                           size_t err_cap);
void ml_telemetry_mesh_free(ml_telemetry *t);

#endif
