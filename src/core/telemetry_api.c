/* SPDX-License-Identifier: MIT */
/* The mesh's side of telemetry: the public tracing, metrics and admin
 * calls on a mesh or a request, and the wiring of the mesh's telemetry
 * (its settings, the view of the mesh that metrics render, the bodies the
 * admin listener serves). Telemetry does the work; this file only finds
 * the pieces in the mesh and the request. */
#include <stdio.h>
#include <string.h>
#include "control/events.h"
#include "core/internal.h"
#include "call/request.h"
#include "meshlib/clusters.h"
#include "telemetry/admin.h"
#include "telemetry/metrics.h"
#include "telemetry/trace.h"

#define GOOD_MESH(m) ((m) && (m)->magic == ML_MAGIC_MESH)
#define GOOD_REQUEST(r) ((r) && (r)->magic == ML_MAGIC_REQUEST)

ml_telemetry_settings ml_mesh_telemetry_settings(const meshlib *m) {
  const ml_settings *s = &m->settings;
  ml_telemetry_settings t = {
      m->mem,   s->namespace_, s->domain_suffix, s->labels, s->label_count,
      s->trace, &s->metrics,   s->log_level,     s->log_cb, s->log_user_data};
  return t;
}

/* ---- what telemetry reads of the mesh --------------------------------- */

static void config_figures(void *ctx, ml_config_figures *out) {
  const meshlib *m = ctx;
  ml_config_status st;
  ml_config_status_get(m, &st);
  memset(out, 0, sizeof(*out));
  out->applied_total = st.applied_total;
  out->rejected_total = st.rejected_total;
  out->last_rejected_version = st.last_rejected_version;
  snprintf(out->last_rejected_reason, sizeof(out->last_rejected_reason), "%s",
           st.last_rejected_reason);
  out->last_applied_unix_ms = st.last_applied_unix_ms;
  out->last_rejected_unix_ms = st.last_rejected_unix_ms;
  out->version = meshlib_config_version(m);
}

static int clusters_picture(void *ctx, meshlib_clusters **out) {
  return meshlib_clusters_snapshot(ctx, out);
}

static ml_mesh_view mesh_view(meshlib *m) {
  ml_mesh_view v = {m, config_figures, clusters_picture};
  return v;
}

/* ---- the admin listener's bodies (its thread) ------------------------- */

static char *admin_metrics(void *ctx, size_t *len) {
  meshlib *m = ctx;
  ml_mesh_view v = mesh_view(m);
  char *text = NULL;
  if (ml_metrics_render_text(m->telemetry.metrics, &v, m->mem, &text, len) !=
      MESHLIB_OK)
    return NULL;
  return text;
}

static char *admin_config_dump(void *ctx, size_t *len) {
  meshlib *m = ctx;
  ml_config_figures st;
  config_figures(m, &st);
  ml_telemetry_settings s = ml_mesh_telemetry_settings(m);
  ml_snapshot *snap = ml_snapshot_slot_acquire(&m->current);
  char *body = ml_admin_config_dump(m->mem, snap, &st, &s, len);
  ml_snapshot_unref(snap);
  return body;
}

static char *admin_routes(void *ctx, size_t *len) {
  meshlib *m = ctx;
  ml_snapshot *snap = ml_snapshot_slot_acquire(&m->current);
  char *body = ml_admin_routes(m->mem, snap, len);
  ml_snapshot_unref(snap);
  return body;
}

static char *admin_clusters(void *ctx, size_t *len) {
  meshlib *m = ctx;
  meshlib_clusters *c = NULL;
  if (meshlib_clusters_snapshot(m, &c) != MESHLIB_OK)
    return NULL;
  char *body = ml_admin_clusters(m->mem, c, meshlib_config_version(m), len);
  meshlib_clusters_free(c);
  return body;
}

int ml_mesh_telemetry_init(meshlib *m, char *err, size_t err_cap) {
  ml_telemetry_settings s = ml_mesh_telemetry_settings(m);
  int rc = ml_trace_mesh_init(&m->telemetry, &s);
  if (rc != MESHLIB_OK)
    return rc;
  ml_admin_source admin = {
      m,           m->mem, admin_metrics, admin_config_dump, admin_clusters,
      admin_routes};
  return ml_telemetry_mesh_init(&m->telemetry, &s, &admin, err, err_cap);
}

/* ---- tracing ---------------------------------------------------------- */

int meshlib_tracing_get_stats(const meshlib *m, meshlib_tracing_stats *out) {
  if (!GOOD_MESH(m) || !out)
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_get_stats(&m->telemetry, out);
  return MESHLIB_OK;
}

int meshlib_tracing_flush(meshlib *m, int64_t timeout_ms) {
  if (!GOOD_MESH(m) || timeout_ms < 0)
    return MESHLIB_ERR_INVALID_ARG;
  return ml_trace_flush(&m->telemetry, timeout_ms);
}

int meshlib_request_set_inbound_header(meshlib_request *r, const char *name,
                                       const char *value) {
  if (!GOOD_REQUEST(r) || !name || !value)
    return MESHLIB_ERR_INVALID_ARG;
  return ml_trace_set_inbound(&r->mesh->telemetry, &r->trace, name, value);
}

const char *meshlib_request_trace_id(const meshlib_request *r) {
  return GOOD_REQUEST(r) ? ml_trace_trace_id(r->trace) : "";
}

const char *meshlib_request_span_id(const meshlib_request *r) {
  return GOOD_REQUEST(r) ? ml_trace_span_id(r->trace) : "";
}

const char *meshlib_request_request_id(const meshlib_request *r) {
  const char *id = GOOD_REQUEST(r) ? ml_trace_request_id(r->trace) : NULL;
  return id ? id : "";
}

int meshlib_request_sampled(const meshlib_request *r) {
  return GOOD_REQUEST(r) && ml_trace_sampled(r->trace);
}

/* ---- metrics and the admin listener ----------------------------------- */

int meshlib_metrics_render(meshlib *m, char **out, size_t *len) {
  if (out)
    *out = NULL;
  if (len)
    *len = 0;
  if (!GOOD_MESH(m) || !out)
    return MESHLIB_ERR_INVALID_ARG;
  ml_mesh_view v = mesh_view(m);
  return ml_metrics_render_text(m->telemetry.metrics, &v, m->mem, out, len);
}

int meshlib_metrics_foreach(meshlib *m, meshlib_metric_cb cb, void *user_data) {
  if (!GOOD_MESH(m) || !cb)
    return MESHLIB_ERR_INVALID_ARG;
  ml_mesh_view v = mesh_view(m);
  return ml_metrics_foreach(m->telemetry.metrics, &v, cb, user_data);
}

int meshlib_admin_port(const meshlib *m) {
  return GOOD_MESH(m) && m->telemetry.admin ? ml_admin_port(m->telemetry.admin)
                                            : -1;
}
