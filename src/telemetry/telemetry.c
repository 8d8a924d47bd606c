/* SPDX-License-Identifier: MIT */
/* The hooks the call path calls at the end of a call and on policy
 * events, and the mesh's metrics and admin listener. */
#include "telemetry/telemetry.h"

#include "meshlib/meshlib.h"
#include "telemetry/access_log.h"
#include "telemetry/admin.h"
#include "telemetry/metrics.h"
#include "telemetry/trace.h"

void ml_telemetry_call_end(ml_telemetry *t, const ml_call_info *info) {
  ml_metrics_record_call(t->metrics, info);
  ml_trace_call_end(t, info);
  ml_access_log_call_end(t, info);
}

void ml_telemetry_event(ml_telemetry *t, const char *cluster, ml_event ev,
                        uint32_t detail) {
  ml_metrics_record_event(t->metrics, cluster, ev, detail);
}

int ml_telemetry_mesh_init(ml_telemetry *t, const ml_telemetry_settings *s,
                           const ml_admin_source *admin, char *err,
                           size_t err_cap) {
  t->mem = s->mem;
  int rc = ml_metrics_new(s, &t->metrics);
  if (rc != MESHLIB_OK)
    return rc;
  const char *addr = s->metrics->admin_address;
  if (addr[0])
    rc = ml_admin_start(admin, addr, &t->admin, err, err_cap);
  return rc;
}

void ml_telemetry_mesh_free(ml_telemetry *t) {
  ml_admin_stop(t->admin); /* its thread calls into the mesh */
  t->admin = NULL;
  ml_metrics_free(t->metrics);
  t->metrics = NULL;
}
