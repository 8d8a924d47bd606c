/* SPDX-License-Identifier: MIT */
/* The hooks the call path calls at the end of a call and on policy
 * events, the mesh's telemetry setup, and the metrics options. */
#include <stdio.h>
#include <string.h>
#include "core/internal.h"
#include "telemetry/access_log.h"
#include "telemetry/admin.h"
#include "telemetry/metrics.h"
#include "telemetry/trace.h"

void ml_telemetry_call_end(meshlib *m, const ml_call_info *info) {
  ml_metrics_record_call(m->metrics, info);
  ml_trace_call_end(m, info);
  ml_access_log_call_end(m, info);
}

void ml_telemetry_event(meshlib *m, const char *cluster, ml_event ev,
                        uint32_t detail) {
  ml_metrics_record_event(m->metrics, cluster, ev, detail);
}

int ml_telemetry_mesh_init(meshlib *m, char *err, size_t err_cap) {
  int rc = ml_metrics_new(m, &m->metrics);
  if (rc != MESHLIB_OK)
    return rc;
  const char *addr = m->settings.metrics.admin_address;
  if (addr[0])
    rc = ml_admin_start(m, addr, &m->admin, err, err_cap);
  return rc;
}

void ml_telemetry_mesh_free(meshlib *m) {
  ml_admin_stop(m->admin); /* its thread reads the mesh */
  m->admin = NULL;
  ml_metrics_free(m->metrics);
  m->metrics = NULL;
}

/* ---- options --------------------------------------------------------- */

#define GOOD_OPTIONS(o) ((o) && (o)->magic == ML_MAGIC_OPTIONS)
#define GOOD_MESH(m) ((m) && (m)->magic == ML_MAGIC_MESH)

int meshlib_options_set_metrics(meshlib_options *o, int enabled) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.metrics.disabled = !enabled;
  return MESHLIB_OK;
}

int meshlib_options_set_metrics_max_series(meshlib_options *o,
                                           uint32_t max_series) {
  if (!GOOD_OPTIONS(o) || max_series == 0 || max_series > (1u << 20))
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.metrics.max_series = max_series;
  return MESHLIB_OK;
}

int meshlib_options_set_workload_name(meshlib_options *o, const char *name) {
  ml_metrics_settings *s = GOOD_OPTIONS(o) ? &o->settings.metrics : NULL;
  if (!s || !name || strlen(name) >= sizeof(s->workload_name))
    return MESHLIB_ERR_INVALID_ARG;
  snprintf(s->workload_name, sizeof(s->workload_name), "%s", name);
  return MESHLIB_OK;
}

int meshlib_options_set_admin_address(meshlib_options *o, const char *address) {
  ml_metrics_settings *s = GOOD_OPTIONS(o) ? &o->settings.metrics : NULL;
  if (!s)
    return MESHLIB_ERR_INVALID_ARG;
  if (!address || !*address) {
    s->admin_address[0] = '\0';
    return MESHLIB_OK;
  }
  if (strlen(address) >= sizeof(s->admin_address) ||
      ml_admin_parse_address(address, NULL) != 0)
    return MESHLIB_ERR_INVALID_ARG;
  snprintf(s->admin_address, sizeof(s->admin_address), "%s", address);
  return MESHLIB_OK;
}

int meshlib_admin_port(const meshlib *m) {
  return GOOD_MESH(m) && m->admin ? ml_admin_port(m->admin) : -1;
}
