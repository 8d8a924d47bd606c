/* SPDX-License-Identifier: MIT */
/* Walking the metrics family by family, and the Prometheus text format
 * (0.0.4) built on that walk. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "meshlib/meshlib.h"
#include "policy/policy.h"
#include "meshlib/clusters.h"
#include "telemetry/metrics_internal.h"

const char *const ml_istio_label_names[ML_IL_COUNT] = {
    "reporter",
    "source_workload",
    "source_canonical_service",
    "source_canonical_revision",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_cluster",
    "destination_workload",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_canonical_service",
    "destination_canonical_revision",
    "destination_service_name",
    "destination_service_namespace",
    "destination_cluster",
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    "connection_security_policy"};

/* "le" values as Envoy's Prometheus output writes them ("0.5", "3600000"). */
static const char *const le_text[ML_HIST_BOUNDS + 1] = {
    "0.5",   "1",      "5",      "10",      "25",      "50",    "100",
    "250",   "500",    "1000",   "2500",    "5000",    "10000", "30000",
    "60000", "300000", "600000", "1800000", "3600000", "+Inf"};

typedef struct walk {
  const ml_metric_visitor *v;
  void *ud;
  const char *family;
  const char *help;
  ml_metric_kind kind;
} walk;

static int family(walk *w, const char *name, const char *help,
                  ml_metric_kind kind) {
  w->family = name;
  w->help = help;
  w->kind = kind;
  return w->v->family ? w->v->family(w->ud, name, help, kind) : 0;
}

static int sample(walk *w, const char *name, const char *const *names,
                  const char *const *values, size_t n, double value) {
  return w->v->sample(w->ud, w->family, name ? name : w->family, w->kind,
                      w->help, names, values, n, value);
}

/* ---- istio_* ------------------------------------------------------------ */

static void istio_values(const ml_metrics *mt, const ml_istio_series *s,
                         const char **values) {
  for (int i = 0; i < ML_IL_COUNT; i++)
    values[i] = s->v[i] ? s->v[i] : mt->source[i];
}

/* The series in table order, then the overflow one if it was used. */
static const ml_istio_series *istio_at(const ml_metrics *mt, size_t i) {
  if (i <= mt->istio.mask)
    return atomic_load_explicit(&mt->istio.slots[i], memory_order_acquire);
  const ml_istio_series *o = &mt->istio_overflow;
  return atomic_load_explicit(&o->requests, memory_order_relaxed) ? o : NULL;
}

static int walk_hist(walk *w, const ml_metrics *mt, const char *name,
                     const char *help, size_t hist_off, double sum_scale) {
  char bucket[128], sum[128], count[128];
  snprintf(bucket, sizeof(bucket), "%s_bucket", name);
  snprintf(sum, sizeof(sum), "%s_sum", name);
  snprintf(count, sizeof(count), "%s_count", name);
  int rc = family(w, name, help, ML_METRIC_HISTOGRAM);
  const char *names[ML_IL_COUNT + 1], *values[ML_IL_COUNT + 1];
  memcpy(names, ml_istio_label_names, sizeof(ml_istio_label_names));
  names[ML_IL_COUNT] = "le";
  for (size_t i = 0; rc == 0 && i <= mt->istio.mask + 1; i++) {
    const ml_istio_series *s = istio_at(mt, i);
    if (!s)
      continue;
    const ml_hist *h = (const ml_hist *)((const char *)s + hist_off);
    istio_values(mt, s, values);
    uint64_t cum = 0;
    for (int b = 0; rc == 0 && b <= ML_HIST_BOUNDS; b++) {
      cum += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
      values[ML_IL_COUNT] = le_text[b];
      rc = sample(w, bucket, names, values, ML_IL_COUNT + 1, (double)cum);
    }
    /* _count is the +Inf bucket: read once, so that they agree. */
    double total = (double)atomic_load_explicit(&h->sum, memory_order_relaxed);
    if (rc == 0)
      rc = sample(w, sum, names, values, ML_IL_COUNT, total * sum_scale);
    if (rc == 0)
      rc = sample(w, count, names, values, ML_IL_COUNT, (double)cum);
  }
  return rc;
}

static int walk_istio(walk *w, const ml_metrics *mt) {
  int rc = family(w, "istio_requests_total",
                  "Requests made by this workload (Istio standard metric, "
                  "reporter=\"source\")",
                  ML_METRIC_COUNTER);
  const char *values[ML_IL_COUNT];
  for (size_t i = 0; rc == 0 && i <= mt->istio.mask + 1; i++) {
    const ml_istio_series *s = istio_at(mt, i);
    if (!s)
      continue;
    istio_values(mt, s, values);
    rc = sample(
        w, NULL, ml_istio_label_names, values, ML_IL_COUNT,
        (double)atomic_load_explicit(&s->requests, memory_order_relaxed));
  }
  if (rc == 0)
    rc = walk_hist(w, mt, "istio_request_duration_milliseconds",
                   "Duration of requests in milliseconds, from the call's "
                   "start to its end, retries included (Istio standard "
                   "metric)",
                   offsetof(ml_istio_series, duration), 1e-3);
  if (rc == 0)
    rc = walk_hist(w, mt, "istio_request_bytes",
                   "Request body sizes in bytes (Istio standard metric; "
                   "meshlib counts body bytes, not headers)",
                   offsetof(ml_istio_series, request_bytes), 1.0);
  if (rc == 0)
    rc = walk_hist(w, mt, "istio_response_bytes",
                   "Response body sizes in bytes (Istio standard metric; "
                   "meshlib counts body bytes, not headers)",
                   offsetof(ml_istio_series, response_bytes), 1.0);
  return rc;
}

/* ---- meshlib's counters ------------------------------------------------- */

static const ml_event_series *event_at(const ml_metrics *mt, size_t i,
                                       uint32_t kind) {
  const ml_event_series *s;
  if (i <= mt->events.mask)
    s = atomic_load_explicit(&mt->events.slots[i], memory_order_acquire);
  else
    s = atomic_load_explicit(&mt->event_overflow[kind].value,
                             memory_order_relaxed)
            ? &mt->event_overflow[kind]
            : NULL;
  return s && s->kind == kind ? s : NULL;
}

static const char *retry_reason(uint32_t detail) {
  const char *r = detail ? ml_retry_reason_name(detail) : NULL;
  return r && *r ? r : "other";
}

/* Every series of |kind|; |extra| names a second label and its value
 * (NULL for none; retries take the reason from each series). */
static int walk_kind(walk *w, const ml_metrics *mt, uint32_t kind,
                     const char *extra_name, const char *extra_value) {
  int rc = 0;
  const char *names[2] = {"cluster_name", extra_name};
  for (size_t i = 0; rc == 0 && i <= mt->events.mask + 1; i++) {
    const ml_event_series *s = event_at(mt, i, kind);
    if (!s)
      continue;
    const char *values[2] = {s->cluster, extra_value};
    if (kind == ML_EV_RETRY)
      values[1] = retry_reason(s->detail);
    rc = sample(w, NULL, names, values, extra_name ? 2 : 1,
                (double)atomic_load_explicit(&s->value, memory_order_relaxed));
  }
  return rc;
}

/* meshlib's per-cluster counters, a family per row; a row without a name
 * adds its series to the family above it. */
static const struct event_family {
  const char *name, *help;
  uint32_t kind;
  const char *label, *value; /* a second label (retries: the reason) */
} event_families[] = {
    {"meshlib_attempts_total",
     "Attempts made on upstream endpoints (first tries and retries), by "
     "cluster",
     ML_KIND_ATTEMPTS, NULL, NULL},
    {"meshlib_retries_total",
     "Retries made, by cluster and by the retryOn condition that caused "
     "them (Envoy upstream_rq_retry)",
     ML_EV_RETRY, "reason", NULL},
    {"meshlib_retry_overflow_total",
     "Retries refused by the retry budget or maxRetries (URX; Envoy "
     "upstream_rq_retry_overflow)",
     ML_EV_RETRY_BUDGET_REFUSED, NULL, NULL},
    {"meshlib_pool_overflow_total",
     "Calls refused by a connection pool limit (UO; Envoy "
     "upstream_rq_pending_overflow)",
     ML_EV_POOL_OVERFLOW, NULL, NULL},
    /* Ejections: meshlib_cluster_outlier_detection_*, from the cluster
     * state, which counts them whoever reports the event. */
    {"meshlib_fault_injections_total",
     "Faults injected by VirtualService fault rules (Envoy "
     "fault.delays_injected and fault.aborts_injected)",
     ML_EV_FAULT_DELAY, "fault", "delay"},
    {NULL, NULL, ML_EV_FAULT_ABORT, "fault", "abort"},
};

static int walk_events(walk *w, const ml_metrics *mt) {
  int rc = 0;
  size_t n = sizeof(event_families) / sizeof(event_families[0]);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const struct event_family *f = &event_families[i];
    if (f->name)
      rc = family(w, f->name, f->help, ML_METRIC_COUNTER);
    if (rc == 0)
      rc = walk_kind(w, mt, f->kind, f->label, f->value);
  }
  return rc;
}

static int walk_scalar(walk *w, const char *name, const char *help,
                       ml_metric_kind kind, double value) {
  int rc = family(w, name, help, kind);
  return rc ? rc : sample(w, NULL, NULL, NULL, 0, value);
}

static int walk_mesh(walk *w, const ml_mesh_view *view, const ml_metrics *mt) {
  ml_config_figures st;
  view->config(view->ctx, &st);
  int rc = walk_scalar(w, "meshlib_config_loads_total",
                       "Configs put in force (the initial empty one aside)",
                       ML_METRIC_COUNTER, (double)st.applied_total);
  if (rc == 0)
    rc = walk_scalar(w, "meshlib_config_rejections_total",
                     "Configs rejected (the config in force stayed)",
                     ML_METRIC_COUNTER, (double)st.rejected_total);
  if (rc == 0)
    rc = walk_scalar(w, "meshlib_config_version",
                     "Version of the config snapshot in force (0: none "
                     "applied yet)",
                     ML_METRIC_GAUGE, (double)st.version);
  if (rc == 0)
    rc = walk_scalar(w, "meshlib_config_last_rejected_version",
                     "Version number the last rejected config would have "
                     "had (0: none rejected)",
                     ML_METRIC_GAUGE, (double)st.last_rejected_version);
  if (rc == 0 && mt)
    rc = walk_scalar(w, "meshlib_metrics_series_overflow_total",
                     "Observations counted in an \"other\" series because "
                     "the label sets reached their bound",
                     ML_METRIC_COUNTER,
                     (double)atomic_load_explicit(&mt->series_overflow,
                                                  memory_order_relaxed));
  return rc;
}

/* ---- per-cluster figures, from a picture of the live state -------------- */

static int cluster_figure(walk *w, const meshlib_clusters *c, int which) {
  int rc = 0;
  const char *names[3] = {"cluster_name", "destination_service", "subset"};
  for (size_t i = 0; rc == 0 && i < meshlib_clusters_count(c); i++) {
    const char *subset = meshlib_cluster_subset(c, i);
    const char *values[3] = {meshlib_cluster_name(c, i),
                             meshlib_cluster_host(c, i), subset ? subset : ""};
    size_t n = meshlib_cluster_endpoint_count(c, i), healthy = 0;
    for (size_t j = 0; which == 1 && j < n; j++) {
      meshlib_endpoint_state e;
      if (meshlib_cluster_endpoint(c, i, j, &e) == MESHLIB_OK && !e.ejected)
        healthy++;
    }
    rc = sample(w, NULL, names, values, 3, (double)(which ? healthy : n));
  }
  return rc;
}

/* Envoy's per-cluster statistics under meshlib_cluster_<name>, dots made
 * underscores, counters with _total (promtool's rule). */
static int cluster_stat(walk *w, const meshlib_clusters *c,
                        meshlib_cluster_stat stat) {
  const char *envoy = meshlib_cluster_stat_name(stat);
  if (!envoy)
    return 0;
  int gauge = stat == MESHLIB_CLUSTER_RQ_ACTIVE ||
              stat == MESHLIB_CLUSTER_RQ_PENDING_ACTIVE ||
              stat == MESHLIB_CLUSTER_RQ_RETRY_ACTIVE ||
              stat == MESHLIB_CLUSTER_OD_EJECTIONS_ACTIVE;
  char name[160], help[224];
  int n = snprintf(name, sizeof(name), "meshlib_cluster_%s", envoy);
  for (char *p = name; *p; p++)
    if (*p == '.')
      *p = '_';
  size_t len = (size_t)n;
  if (!gauge && (len < 6 || strcmp(name + len - 6, "_total") != 0))
    snprintf(name + len, sizeof(name) - len, "_total");
  snprintf(help, sizeof(help), "Envoy's cluster statistic %s (%s)", envoy,
           gauge ? "now" : "since the cluster was created");
  int rc = family(w, name, help, gauge ? ML_METRIC_GAUGE : ML_METRIC_COUNTER);
  const char *names[1] = {"cluster_name"};
  for (size_t i = 0; rc == 0 && i < meshlib_clusters_count(c); i++) {
    const char *values[1] = {meshlib_cluster_name(c, i)};
    rc = sample(w, NULL, names, values, 1,
                (double)meshlib_cluster_stat_value(c, i, stat));
  }
  return rc;
}

static int walk_clusters(walk *w, const ml_mesh_view *view) {
  meshlib_clusters *c = NULL;
  int rc = view->clusters(view->ctx, &c);
  if (rc != MESHLIB_OK)
    return rc;
  rc = family(w, "meshlib_cluster_endpoints",
              "Endpoints of the cluster (one subset of a service on one "
              "port)",
              ML_METRIC_GAUGE);
  if (rc == 0)
    rc = cluster_figure(w, c, 0);
  if (rc == 0)
    rc = family(w, "meshlib_cluster_endpoints_healthy",
                "Endpoints of the cluster not ejected by outlier detection",
                ML_METRIC_GAUGE);
  if (rc == 0)
    rc = cluster_figure(w, c, 1);
  for (int s = 0; rc == 0 && s < MESHLIB_CLUSTER_STAT_COUNT; s++)
    rc = cluster_stat(w, c, (meshlib_cluster_stat)s);
  meshlib_clusters_free(c);
  return rc;
}

int ml_metrics_walk(const ml_metrics *mt, const ml_mesh_view *view,
                    const ml_metric_visitor *v, void *ud) {
  walk w = {v, ud, NULL, NULL, ML_METRIC_COUNTER};
  int rc = 0;
  if (mt && mt->enabled) {
    rc = walk_istio(&w, mt);
    if (rc == 0)
      rc = walk_events(&w, mt);
  }
  if (rc == 0)
    rc = walk_mesh(&w, view, mt);
  if (rc == 0)
    rc = walk_clusters(&w, view);
  return rc;
}

/* ---- the text format ---------------------------------------------------- */

static void put_escaped(ml_buf *b, const char *s, int quote) {
  for (; *s; s++) {
    if (*s == '\\')
      ml_buf_puts(b, "\\\\");
    else if (*s == '\n')
      ml_buf_puts(b, "\\n");
    else if (*s == '"' && quote)
      ml_buf_puts(b, "\\\"");
    else
      ml_buf_putc(b, *s);
  }
}

static void put_value(ml_buf *b, double v) {
  if (isinf(v))
    ml_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  else if (isnan(v))
    ml_buf_puts(b, "NaN");
  else if (v == floor(v) && fabs(v) < 1e15)
    ml_buf_printf(b, "%.0f", v);
  else
    ml_buf_printf(b, "%.15g", v);
}

static const char *kind_name(ml_metric_kind k) {
  return k == ML_METRIC_COUNTER ? "counter"
         : k == ML_METRIC_GAUGE ? "gauge"
                                : "histogram";
}

static int text_family(void *ud, const char *name, const char *help,
                       ml_metric_kind kind) {
  ml_buf *b = ud;
  ml_buf_printf(b, "# HELP %s ", name);
  put_escaped(b, help, 0);
  ml_buf_printf(b, "\n# TYPE %s %s\n", name, kind_name(kind));
  return b->oom ? MESHLIB_ERR_NOMEM : 0;
}

static int text_sample(void *ud, const char *family_name, const char *name,
                       ml_metric_kind kind, const char *help,
                       const char *const *names, const char *const *values,
                       size_t n, double value) {
  (void)family_name;
  (void)kind;
  (void)help;
  ml_buf *b = ud;
  ml_buf_puts(b, name);
  if (n) {
    ml_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
      ml_buf_printf(b, "%s%s=\"", i ? "," : "", names[i]);
      put_escaped(b, values[i], 1);
      ml_buf_putc(b, '"');
    }
    ml_buf_putc(b, '}');
  }
  ml_buf_putc(b, ' ');
  put_value(b, value);
  ml_buf_putc(b, '\n');
  return b->oom ? MESHLIB_ERR_NOMEM : 0;
}

int ml_metrics_render_text(const ml_metrics *mt, const ml_mesh_view *view,
                           const ml_mem *mem, char **out, size_t *len) {
  ml_buf b;
  ml_buf_init(&b, mem);
  static const ml_metric_visitor text = {text_family, text_sample};
  int rc = ml_metrics_walk(mt, view, &text, &b);
  size_t n = b.len;
  char *s = rc == 0 ? ml_buf_steal(&b) : NULL;
  ml_buf_free(&b);
  if (!s)
    return rc ? rc : MESHLIB_ERR_NOMEM;
  *out = s;
  if (len)
    *len = n;
  return MESHLIB_OK;
}

/* ---- the callback API ------------------------------------------------- */

typedef struct foreach_ud {
  meshlib_metric_cb cb;
  void *user_data;
} foreach_ud;

static int foreach_sample(void *ud, const char *family_name, const char *name,
                          ml_metric_kind kind, const char *help,
                          const char *const *names, const char *const *values,
                          size_t n, double value) {
  foreach_ud *f = ud;
  static const char *const none[1] = {NULL};
  meshlib_metric_sample s = {1,
                             family_name,
                             name,
                             (int)kind,
                             help,
                             n,
                             n ? names : none,
                             n ? values : none,
                             value};
  return f->cb(&s, f->user_data);
}

int ml_metrics_foreach(const ml_metrics *mt, const ml_mesh_view *view,
                       meshlib_metric_cb cb, void *user_data) {
  foreach_ud f = {cb, user_data};
  static const ml_metric_visitor v = {NULL, foreach_sample};
  return ml_metrics_walk(mt, view, &v, &f);
}
