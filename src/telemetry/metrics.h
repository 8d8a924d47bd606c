/* SPDX-License-Identifier: MIT */
#ifndef ML_TELEMETRY_METRICS_H
#define ML_TELEMETRY_METRICS_H

/* Istio's standard metrics (reporter="source") and meshlib's own
 * Envoy-style counters. Recording takes no lock: series live in fixed
 * open-addressed tables of pointers, found without a lock and inserted
 * with a compare-and-swap, and their counters are atomics. The number of
 * series is capped; what does not fit goes to one overflow series
 * (label values "other"), counted by meshlib_metrics_series_overflow_total.
 * Rendering reads the same atomics from any thread. */
#include <stddef.h>
#include <stdint.h>
#include "meshlib/metrics.h"
#include "telemetry/telemetry.h"

/* What the options hold for metrics and the admin listener; plain data,
 * copied whole with the mesh's settings. */
typedef struct ml_metrics_settings {
  int disabled;           /* meshlib_options_set_metrics(o, 0) */
  uint32_t max_series;    /* per table; 0: ML_METRICS_DEFAULT_MAX_SERIES */
  char admin_address[72]; /* "host:port"; "" when the listener is off */
  char workload_name[254];
} ml_metrics_settings;

#define ML_METRICS_DEFAULT_MAX_SERIES 1024u

typedef struct ml_metrics ml_metrics;

/* Create metrics from the mesh's settings (workload labels, namespace,
 * domain suffix, s->metrics); the label values stay borrowed from |s|'s
 * strings. Returns MESHLIB_OK or MESHLIB_ERR_NOMEM. */
int ml_metrics_new(const ml_telemetry_settings *s, ml_metrics **out);
void ml_metrics_free(ml_metrics *mt);

/* Record one finished call (istio_* and meshlib_attempts_total). */
void ml_metrics_record_call(ml_metrics *mt, const ml_call_info *info);
/* Count one policy event. */
void ml_metrics_record_event(ml_metrics *mt, const char *cluster, ml_event ev,
                             uint32_t detail);

/* Walking the exposition: one call of |family| per metric family, then
 * one call of |sample| per sample of it (histograms: every _bucket with
 * "le" last among the labels, then _sum and _count). A nonzero return
 * stops the walk and is returned. */
typedef enum ml_metric_kind {
  ML_METRIC_COUNTER = 0,
  ML_METRIC_GAUGE = 1,
  ML_METRIC_HISTOGRAM = 2
} ml_metric_kind;

typedef struct ml_metric_visitor {
  int (*family)(void *ud, const char *name, const char *help,
                ml_metric_kind kind);
  int (*sample)(void *ud, const char *family, const char *name,
                ml_metric_kind kind, const char *help,
                const char *const *label_names, const char *const *label_values,
                size_t label_count, double value);
} ml_metric_visitor;

/* The families of |mt| (may be NULL), then the mesh's own figures and
 * its clusters, read through |view|. */
int ml_metrics_walk(const ml_metrics *mt, const ml_mesh_view *view,
                    const ml_metric_visitor *v, void *ud);

/* The Prometheus text format (0.0.4) of the walk, in |out| (an
 * ml_buf-made string of |mem|). Returns MESHLIB_OK or MESHLIB_ERR_NOMEM. */
int ml_metrics_render_text(const ml_metrics *mt, const ml_mesh_view *view,
                           const ml_mem *mem, char **out, size_t *len);

/* The walk as meshlib_metrics_foreach() hands it out: one |cb| per
 * sample. */
int ml_metrics_foreach(const ml_metrics *mt, const ml_mesh_view *view,
                       meshlib_metric_cb cb, void *user_data);

#endif
