/* SPDX-License-Identifier: MIT */
#ifndef ML_TELEMETRY_METRICS_INTERNAL_H
#define ML_TELEMETRY_METRICS_INTERNAL_H

/* The series tables behind metrics.c (recording) and prom.c (walking
 * and rendering). */
#include <stdatomic.h>
#include <stdint.h>
#include "telemetry/metrics.h"
#include "util/mem.h"

#define ML_UNKNOWN "unknown"

/* Istio's labels, in the order Envoy's istio_stats emits them. */
enum {
  ML_IL_REPORTER = 0,
  ML_IL_SOURCE_WORKLOAD,
  ML_IL_SOURCE_CANONICAL_SERVICE,
  ML_IL_SOURCE_CANONICAL_REVISION,
  ML_IL_SOURCE_WORKLOAD_NAMESPACE,
  ML_IL_SOURCE_PRINCIPAL,
  ML_IL_SOURCE_APP,
  ML_IL_SOURCE_VERSION,
  ML_IL_SOURCE_CLUSTER,
  ML_IL_DESTINATION_WORKLOAD,
  ML_IL_DESTINATION_WORKLOAD_NAMESPACE,
  ML_IL_DESTINATION_PRINCIPAL,
  ML_IL_DESTINATION_APP,
  ML_IL_DESTINATION_VERSION,
  ML_IL_DESTINATION_SERVICE,
  ML_IL_DESTINATION_CANONICAL_SERVICE,
  ML_IL_DESTINATION_CANONICAL_REVISION,
  ML_IL_DESTINATION_SERVICE_NAME,
  ML_IL_DESTINATION_SERVICE_NAMESPACE,
  ML_IL_DESTINATION_CLUSTER,
  ML_IL_REQUEST_PROTOCOL,
  ML_IL_RESPONSE_CODE,
  ML_IL_GRPC_RESPONSE_STATUS,
  ML_IL_RESPONSE_FLAGS,
  ML_IL_CONNECTION_SECURITY_POLICY,
  ML_IL_COUNT
};

extern const char *const ml_istio_label_names[ML_IL_COUNT];

/* Envoy's default histogram buckets; +Inf comes after them. */
#define ML_HIST_BOUNDS 19
extern const double ml_hist_bounds[ML_HIST_BOUNDS];

typedef struct ml_hist {
  _Atomic uint64_t buckets[ML_HIST_BOUNDS + 1]; /* not cumulative */
  _Atomic uint64_t sum;                         /* microseconds, or bytes */
} ml_hist;

/* One label set of the istio_* families. The first member is the hash,
 * as the table expects of every entry. */
typedef struct ml_istio_series {
  uint64_t hash;
  int32_t code;
  uint32_t flags;
  /* The call-dependent label values (the others are the mesh's, in
   * ml_metrics.source); strings follow the struct. */
  const char *v[ML_IL_COUNT];
  _Atomic uint64_t requests;
  ml_hist duration;
  ml_hist request_bytes;
  ml_hist response_bytes;
} ml_istio_series;

/* The kinds of meshlib's own counters: the ml_event values, then the
 * counters call_end feeds. */
enum { ML_KIND_ATTEMPTS = ML_EV_COUNT, ML_KIND_COUNT };

typedef struct ml_event_series {
  uint64_t hash;
  uint32_t kind;
  uint32_t detail; /* the ML_RETRY_* bit of a retry; else 0 */
  _Atomic uint64_t value;
  const char *cluster; /* follows the struct; "other" in the overflow */
} ml_event_series;

typedef struct ml_series_table {
  _Atomic(void *) *slots;
  size_t mask;
  uint32_t cap;
  _Atomic uint32_t count;
} ml_series_table;

struct ml_metrics {
  const ml_mem *mem;
  uint64_t gen; /* unique: tells a thread's cached series apart */
  int enabled;
  char domain_suffix[128];
  const char *source[ML_IL_COUNT]; /* the mesh's own labels; borrowed
                                      from its settings */
  ml_series_table istio;
  ml_series_table events;
  ml_istio_series istio_overflow;
  ml_event_series event_overflow[ML_KIND_COUNT];
  _Atomic uint64_t series_overflow;
};

#endif
