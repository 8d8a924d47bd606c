/* SPDX-License-Identifier: MIT */
#ifndef ML_TELEMETRY_TELEMETRY_H
#define ML_TELEMETRY_TELEMETRY_H

/* What the call path tells telemetry (metrics, traces, access logs), and
 * when. The call path (core/perform.c, core/client.c) fills these records
 * and calls the hooks below; each hook is cheap when its feature is off
 * and never blocks the caller (no global lock, no I/O on the calling
 * thread). */
#include <stddef.h>
#include <stdint.h>
#include "config/model.h"
#include "route/route.h"

struct meshlib;
struct meshlib_request;
struct ml_cluster;

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
  const struct meshlib_request *request;
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
 * context from the request's headers and inbound context, and chooses
 * the x-request-id. */
void ml_telemetry_call_begin(struct meshlib *m, struct meshlib_request *r);

/* The headers telemetry adds to attempt number |attempt| (1-based) of
 * |r| (traceparent, tracestate, b3 forms, x-request-id), written into
 * |out| (capacity |cap|); strings stay valid until the next call of this
 * function for |r| or the end of the call. Returns the count. Span ids of
 * attempts are chosen here; ai->span_id receives this attempt's. */
size_t ml_telemetry_attempt_headers(struct meshlib_request *r, uint32_t attempt,
                                    ml_attempt_info *ai, ml_header *out,
                                    size_t cap);

/* A call ended: metrics, spans, access log. */
void ml_telemetry_call_end(struct meshlib *m, const ml_call_info *info);

/* Count one policy event for |cluster| (may be NULL). */
void ml_telemetry_event(struct meshlib *m, const char *cluster, ml_event ev,
                        uint32_t detail);

#endif
