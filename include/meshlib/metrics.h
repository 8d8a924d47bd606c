/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_METRICS_H
#define MESHLIB_METRICS_H

/* Metrics and the admin listener. Every call through a mesh is counted
 * with Istio's standard metrics (istio_requests_total,
 * istio_request_duration_milliseconds, istio_request_bytes,
 * istio_response_bytes; reporter="source") next to meshlib's own
 * meshlib_* counters and gauges. An application reads them as Prometheus
 * text, walks them with a callback, or lets Prometheus scrape the
 * optional admin listener. docs/observability.md lists every metric. */
#include <stddef.h>
#include <stdint.h>
#include "export.h"
#include "mesh.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Turn the recording of per-call metrics on (|enabled| nonzero, the
 * default) or off. Off, calls cost no metrics work; config counters and
 * cluster gauges are still rendered.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread of |o|. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_metrics(meshlib_options *o, int enabled);

/**
 * Bound the label sets: at most |max_series| series of Istio's metrics,
 * and as many of meshlib's per-cluster counters (default 1024 each).
 * Calls with a label set beyond the bound are counted in one series
 * whose call-dependent labels read "other", and in
 * meshlib_metrics_series_overflow_total.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (0 or above 1048576).
 * Thread-safety: the owning thread of |o|. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_metrics_max_series(meshlib_options *o,
                                                          uint32_t max_series);

/**
 * The name of this workload (a Deployment's name, say), reported as
 * source_workload and, failing canonical-name and app labels, as
 * source_canonical_service. Default: "unknown". At most 253 bytes.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Ownership: copied. Thread-safety: the owning thread of |o|.
 * Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_workload_name(meshlib_options *o,
                                                     const char *name);

/**
 * Serve the admin listener on |address| once the mesh is created: an
 * IP literal and a port, "127.0.0.1:15000" or "[::1]:15000"; a bare port
 * ("15000") means 127.0.0.1. Port 0 takes a free port
 * (meshlib_admin_port() tells which). NULL or "" turns it off, the
 * default. It serves GET /metrics (Prometheus text 0.0.4), /config_dump,
 * /clusters, /routes (JSON), /ready and /healthz, on one thread of its
 * own, without authentication: keep it on loopback unless the network
 * is trusted. It takes up to 256 connections and closes one that stays
 * idle or stalled mid-request for 10 s; other methods than GET and HEAD
 * get 405.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (not of that shape).
 * meshlib_new() then fails with MESHLIB_ERR_IO when it cannot listen.
 * Ownership: copied. Thread-safety: the owning thread of |o|.
 * Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_admin_address(meshlib_options *o,
                                                     const char *address);

/**
 * The TCP port the admin listener of |m| listens on.
 * Returns: the port (1 to 65535), or -1 when the listener is off or |m|
 * is not a mesh.
 * Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_admin_port(const meshlib *m);

/**
 * Render every metric of |m| in the Prometheus text format 0.0.4 (what a
 * scrape of /metrics returns): # HELP and # TYPE lines, cumulative
 * histogram buckets ending with le="+Inf", then _sum and _count.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM (then
 * *out is NULL).
 * Ownership: *out is the caller's, NUL-terminated, |*len| bytes without
 * the NUL (|len| may be NULL); free it with meshlib_free_str(m, *out).
 * Thread-safety: any thread, while calls are recorded. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_metrics_render(meshlib *m, char **out, size_t *len);

/** The type of a metric family. Since: 0.2.0 */
typedef enum meshlib_metric_type {
  MESHLIB_METRIC_COUNTER = 0,
  MESHLIB_METRIC_GAUGE = 1,
  MESHLIB_METRIC_HISTOGRAM = 2
} meshlib_metric_type;

/**
 * One sample, as meshlib_metrics_foreach() hands it over. A histogram
 * gives one sample per bucket (|name| "<family>_bucket", cumulative, the
 * last label "le" with the bound, "+Inf" last), then "<family>_sum" and
 * "<family>_count". Fields are only ever added at the end; |age| says
 * which exist (1: those below). A sample without labels has
 * |label_count| 0 and arrays that hold one NULL.
 * Since: 0.2.0
 */
typedef struct meshlib_metric_sample {
  uint32_t age;
  const char *family; /* "istio_request_duration_milliseconds" */
  const char *name;   /* the sample's: the family's, or with a suffix */
  int type;           /* meshlib_metric_type of the family */
  const char *help;
  size_t label_count;
  const char *const *label_names;
  const char *const *label_values;
  double value;
} meshlib_metric_sample;

/**
 * Receives one sample; a nonzero return stops the walk.
 * Argument ownership: |s| and its strings are borrowed for the call.
 * Thread-safety: runs on the thread that called
 * meshlib_metrics_foreach(). Since: 0.2.0
 */
typedef int (*meshlib_metric_cb)(const meshlib_metric_sample *s,
                                 void *user_data);

/**
 * Hand every sample of |m| to |cb|, family by family, for applications
 * that feed their own metrics system.
 * Returns: MESHLIB_OK after the last sample, the first nonzero value
 * |cb| returned (the walk stopped there), MESHLIB_ERR_INVALID_ARG,
 * MESHLIB_ERR_NOMEM (the cluster figures could not be read).
 * Ownership: |user_data| is never freed by meshlib.
 * Thread-safety: any thread; |cb| runs on the calling thread and must not
 * free |m|. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_metrics_foreach(meshlib *m, meshlib_metric_cb cb,
                                           void *user_data);

#ifdef __cplusplus
}
#endif
#endif /* MESHLIB_METRICS_H */
