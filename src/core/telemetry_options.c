/* SPDX-License-Identifier: MIT */
/* The options of tracing, access logs, metrics and the admin listener:
 * they fill the settings (ml_trace_settings, ml_metrics_settings) that
 * meshlib_new() hands to telemetry. */
#include <stdio.h>
#include <string.h>
#include "core/internal.h"
#include "telemetry/admin.h"
#include "telemetry/trace.h"
#include "util/str.h"

#define GOOD_OPTIONS(o) ((o) && (o)->magic == ML_MAGIC_OPTIONS)

/* ---- tracing and access logs (ml_trace_settings) ---------------------- */

static const ml_mem *opts_mem(const meshlib_options *o) {
  return o->has_alloc ? &o->alloc : NULL;
}

static ml_trace_settings *trace_settings_of(meshlib_options *o) {
  if (!o->settings.trace)
    o->settings.trace = ml_calloc(opts_mem(o), 1, sizeof(ml_trace_settings));
  return o->settings.trace;
}

static int set_str(meshlib_options *o, char **slot, const char *value) {
  char *copy = NULL;
  if (value && *value && !(copy = ml_strdup(opts_mem(o), value)))
    return MESHLIB_ERR_NOMEM;
  ml_free(opts_mem(o), *slot);
  *slot = copy;
  return MESHLIB_OK;
}

int meshlib_options_set_tracing_sampling(meshlib_options *o, double percent) {
  if (!GOOD_OPTIONS(o) || !(percent >= 0.0 && percent <= 100.0))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  if (!s)
    return MESHLIB_ERR_NOMEM;
  s->has_sampling = 1;
  s->sampling = percent;
  return MESHLIB_OK;
}

int meshlib_options_set_trace_headers(meshlib_options *o, uint32_t formats) {
  const uint32_t all = MESHLIB_TRACE_HDR_W3C | MESHLIB_TRACE_HDR_B3 |
                       MESHLIB_TRACE_HDR_B3_SINGLE |
                       MESHLIB_TRACE_HDR_REQUEST_ID;
  if (!GOOD_OPTIONS(o) || (formats & ~all))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  if (!s)
    return MESHLIB_ERR_NOMEM;
  s->has_formats = 1;
  s->formats = formats;
  return MESHLIB_OK;
}

/* |url| as given when it ends in |suffix|, else with |suffix| appended. */
static int set_endpoint(meshlib_options *o, char **slot, const char *url,
                        const char *suffix) {
  if (!url || !*url)
    return set_str(o, slot, NULL);
  if (!ml_starts_with(url, "http://") && !ml_starts_with(url, "https://"))
    return MESHLIB_ERR_INVALID_ARG;
  ml_buf b;
  ml_buf_init(&b, opts_mem(o));
  ml_buf_puts(&b, url);
  if (!ml_ends_with(url, suffix)) {
    while (b.len && b.data[b.len - 1] == '/')
      b.data[--b.len] = '\0';
    ml_buf_puts(&b, suffix);
  }
  if (b.oom) {
    ml_buf_free(&b);
    return MESHLIB_ERR_NOMEM;
  }
  ml_free(opts_mem(o), *slot);
  *slot = ml_buf_steal(&b);
  return MESHLIB_OK;
}

int meshlib_options_set_otlp_endpoint(meshlib_options *o, const char *url) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  return s ? set_endpoint(o, &s->otlp_url, url, "/v1/traces")
           : MESHLIB_ERR_NOMEM;
}

int meshlib_options_set_zipkin_endpoint(meshlib_options *o, const char *url) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  return s ? set_endpoint(o, &s->zipkin_url, url, "/api/v2/spans")
           : MESHLIB_ERR_NOMEM;
}

int meshlib_options_set_tracing_service_name(meshlib_options *o,
                                             const char *name) {
  if (!GOOD_OPTIONS(o) || !name || !*name)
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  return s ? set_str(o, &s->service_name, name) : MESHLIB_ERR_NOMEM;
}

int meshlib_options_set_tracing_node_id(meshlib_options *o,
                                        const char *node_id) {
  if (!GOOD_OPTIONS(o) || !node_id || !*node_id)
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  return s ? set_str(o, &s->node_id, node_id) : MESHLIB_ERR_NOMEM;
}

int meshlib_options_set_tracing_queue(meshlib_options *o,
                                      uint32_t max_queued_spans,
                                      uint32_t batch_spans,
                                      int64_t flush_interval_ms) {
  if (!GOOD_OPTIONS(o) || flush_interval_ms < 0 ||
      max_queued_spans > (1u << 24))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  if (!s)
    return MESHLIB_ERR_NOMEM;
  s->max_queued = max_queued_spans;
  s->batch = batch_spans;
  s->flush_interval_ms = flush_interval_ms;
  return MESHLIB_OK;
}

int meshlib_options_set_access_log_path(meshlib_options *o, const char *path) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  return s ? set_str(o, &s->access_log_path, path) : MESHLIB_ERR_NOMEM;
}

int meshlib_options_set_access_log_format(meshlib_options *o, int format) {
  if (!GOOD_OPTIONS(o) ||
      (format != MESHLIB_ACCESS_LOG_TEXT && format != MESHLIB_ACCESS_LOG_JSON))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  if (!s)
    return MESHLIB_ERR_NOMEM;
  s->access_log_format = format;
  return MESHLIB_OK;
}

int meshlib_options_set_access_log_callback(meshlib_options *o,
                                            meshlib_access_log_cb cb,
                                            void *user_data) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = trace_settings_of(o);
  if (!s)
    return MESHLIB_ERR_NOMEM;
  s->access_log_cb = cb;
  s->access_log_user_data = cb ? user_data : NULL;
  return MESHLIB_OK;
}

/* ---- metrics and the admin listener (ml_metrics_settings) ------------ */

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
