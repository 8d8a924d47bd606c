/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "control/control.h"
#include "core/internal.h"
#include "telemetry/trace.h"

int ml_settings_copy(const ml_mem *mem, ml_settings *dst,
                     const ml_settings *src) {
  memset(dst, 0, sizeof(*dst));
  dst->strict = src->strict;
  dst->has_seed = src->has_seed;
  dst->dns_refresh_ms = src->dns_refresh_ms;
  dst->limits = src->limits;
  dst->proxy_from_env = src->proxy_from_env;
  dst->no_default_retries = src->no_default_retries;
  dst->rate_budget = src->rate_budget;
  dst->seed = src->seed;
  dst->log_level = src->log_level;
  dst->log_cb = src->log_cb;
  dst->log_user_data = src->log_user_data;
  dst->metrics = src->metrics;
  dst->namespace_ = ml_strdup(mem, src->namespace_);
  dst->domain_suffix = ml_strdup(mem, src->domain_suffix);
  if (!dst->namespace_ || !dst->domain_suffix)
    goto oom;
  if (src->label_count) {
    dst->labels = ml_calloc(mem, src->label_count, sizeof(ml_kv));
    if (!dst->labels)
      goto oom;
    for (size_t i = 0; i < src->label_count; i++) {
      dst->labels[i].key = ml_strdup(mem, src->labels[i].key);
      dst->labels[i].value = ml_strdup(mem, src->labels[i].value);
      dst->label_count = i + 1;
      if (!dst->labels[i].key || !dst->labels[i].value)
        goto oom;
    }
  }
  if (src->trace && !(dst->trace = ml_trace_settings_dup(mem, src->trace)))
    goto oom;
  return MESHLIB_OK;
oom:
  ml_settings_free(mem, dst);
  return MESHLIB_ERR_NOMEM;
}

void ml_settings_free(const ml_mem *mem, ml_settings *s) {
  ml_free(mem, s->namespace_);
  ml_free(mem, s->domain_suffix);
  for (size_t i = 0; i < s->label_count; i++) {
    ml_free(mem, (char *)s->labels[i].key);
    ml_free(mem, (char *)s->labels[i].value);
  }
  ml_free(mem, s->labels);
  ml_trace_settings_free(mem, s->trace);
  memset(s, 0, sizeof(*s));
}

#define GOOD_OPTIONS(o) ((o) && (o)->magic == ML_MAGIC_OPTIONS)

static const ml_mem *opts_mem(const meshlib_options *o) {
  return o->has_alloc ? &o->alloc : NULL;
}

static int set_str(meshlib_options *o, char **slot, const char *value) {
  char *copy = ml_strdup(opts_mem(o), value);
  if (!copy)
    return MESHLIB_ERR_NOMEM;
  ml_free(opts_mem(o), *slot);
  *slot = copy;
  return MESHLIB_OK;
}

int meshlib_options_new(meshlib_options **out) {
  if (!out)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  meshlib_options *o = ml_calloc(NULL, 1, sizeof(*o));
  if (!o)
    return MESHLIB_ERR_NOMEM;
  o->magic = ML_MAGIC_OPTIONS;
  o->settings.namespace_ = ml_strdup(NULL, "default");
  o->settings.domain_suffix = ml_strdup(NULL, "cluster.local");
  o->settings.log_level = -1;
  o->settings.dns_refresh_ms = 5000; /* Envoy's dns_refresh_rate */
  o->settings.limits = ml_xfer_default_limits;
  if (!o->settings.namespace_ || !o->settings.domain_suffix) {
    meshlib_options_free(o);
    return MESHLIB_ERR_NOMEM;
  }
  *out = o;
  return MESHLIB_OK;
}

static void sources_free(const ml_mem *mem, ml_source *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    ml_free(mem, s[i].path);
    ml_free(mem, s[i].name);
    ml_free(mem, s[i].text);
  }
  ml_free(mem, s);
}

void meshlib_options_free(meshlib_options *o) {
  if (!GOOD_OPTIONS(o))
    return;
  const ml_mem *mem = opts_mem(o);
  ml_settings_free(mem, &o->settings);
  sources_free(mem, o->sources, o->source_count);
  ml_free(mem, o->errmsg);
  ml_control_opts_free(o->control); /* libc memory, like |o| */
  o->magic = 0;
  /* The struct itself came from libc: the allocator may be set later. */
  ml_free(NULL, o);
}

int meshlib_options_set_allocator(meshlib_options *o,
                                  const meshlib_allocator *a) {
  if (!GOOD_OPTIONS(o) || !a || !a->malloc || !a->free || !a->calloc ||
      !a->realloc)
    return MESHLIB_ERR_INVALID_ARG;
  /* Strings already held were made by the previous allocator: move them. */
  meshlib_options tmp = *o;
  tmp.alloc = *a;
  tmp.has_alloc = 1;
  ml_settings moved;
  if (ml_settings_copy(&tmp.alloc, &moved, &o->settings) != MESHLIB_OK)
    return MESHLIB_ERR_NOMEM;
  ml_source *sources = NULL;
  if (o->source_count) {
    sources = ml_calloc(&tmp.alloc, o->source_count, sizeof(*sources));
    if (!sources) {
      ml_settings_free(&tmp.alloc, &moved);
      return MESHLIB_ERR_NOMEM;
    }
    for (size_t i = 0; i < o->source_count; i++) {
      const ml_source *s = &o->sources[i];
      sources[i].path = ml_strdup(&tmp.alloc, s->path);
      sources[i].name = ml_strdup(&tmp.alloc, s->name);
      sources[i].text =
          s->text ? ml_strndup(&tmp.alloc, s->text, s->len) : NULL;
      sources[i].len = s->len;
      if ((s->path && !sources[i].path) || (s->name && !sources[i].name) ||
          (s->text && !sources[i].text)) {
        sources_free(&tmp.alloc, sources, o->source_count);
        ml_settings_free(&tmp.alloc, &moved);
        return MESHLIB_ERR_NOMEM;
      }
    }
  }
  const ml_mem *old = opts_mem(o);
  ml_settings_free(old, &o->settings);
  sources_free(old, o->sources, o->source_count);
  ml_free(old, o->errmsg);
  o->errmsg = NULL;
  o->alloc = *a;
  o->has_alloc = 1;
  o->settings = moved;
  o->sources = sources;
  return MESHLIB_OK;
}

int meshlib_options_set_namespace(meshlib_options *o, const char *ns) {
  if (!GOOD_OPTIONS(o) || !ns || !*ns)
    return MESHLIB_ERR_INVALID_ARG;
  return set_str(o, &o->settings.namespace_, ns);
}

int meshlib_options_set_domain_suffix(meshlib_options *o, const char *suffix) {
  if (!GOOD_OPTIONS(o) || !suffix || !*suffix)
    return MESHLIB_ERR_INVALID_ARG;
  return set_str(o, &o->settings.domain_suffix, suffix);
}

int meshlib_options_set_workload_label(meshlib_options *o, const char *key,
                                       const char *value) {
  if (!GOOD_OPTIONS(o) || !key || !*key || !value)
    return MESHLIB_ERR_INVALID_ARG;
  const ml_mem *mem = opts_mem(o);
  ml_settings *s = &o->settings;
  for (size_t i = 0; i < s->label_count; i++)
    if (strcmp(s->labels[i].key, key) == 0)
      return set_str(o, (char **)&s->labels[i].value, value);
  ml_kv *labels =
      ml_realloc(mem, s->labels, (s->label_count + 1) * sizeof(ml_kv));
  if (!labels)
    return MESHLIB_ERR_NOMEM;
  s->labels = labels;
  char *k = ml_strdup(mem, key), *v = ml_strdup(mem, value);
  if (!k || !v) {
    ml_free(mem, k);
    ml_free(mem, v);
    return MESHLIB_ERR_NOMEM;
  }
  labels[s->label_count].key = k;
  labels[s->label_count].value = v;
  s->label_count++;
  return MESHLIB_OK;
}

int meshlib_options_set_random_seed(meshlib_options *o, uint64_t seed) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.has_seed = 1;
  o->settings.seed = seed;
  return MESHLIB_OK;
}

int meshlib_options_set_dns_refresh_ms(meshlib_options *o, int64_t refresh_ms) {
  if (!GOOD_OPTIONS(o) || refresh_ms < 0)
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.dns_refresh_ms = refresh_ms;
  return MESHLIB_OK;
}

int meshlib_options_set_max_response_headers(meshlib_options *o,
                                             uint32_t max_kib,
                                             uint32_t max_count) {
  /* Envoy's ranges: 1..8192 KiB (libcurl stops a line at 100 KiB). */
  if (!GOOD_OPTIONS(o) || max_kib < 1 || max_kib > 8192 || max_count < 1 ||
      max_count > 65535)
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.limits.header_bytes = max_kib * 1024u;
  o->settings.limits.header_count = max_count;
  return MESHLIB_OK;
}

int meshlib_options_set_max_response_body_bytes(meshlib_options *o,
                                                uint64_t max_bytes) {
  if (!GOOD_OPTIONS(o) || max_bytes < 1 || max_bytes > SIZE_MAX / 2)
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.limits.body_bytes = max_bytes;
  return MESHLIB_OK;
}

int meshlib_options_set_stream_idle_timeout_ms(meshlib_options *o,
                                               int64_t idle_ms) {
  if (!GOOD_OPTIONS(o) || idle_ms < 0 || idle_ms > INT64_MAX / 1000)
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.limits.idle_timeout_ms = idle_ms;
  return MESHLIB_OK;
}

int meshlib_options_set_proxy_from_env(meshlib_options *o, int enabled) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.proxy_from_env = enabled != 0;
  return MESHLIB_OK;
}

int meshlib_options_set_default_retries(meshlib_options *o, int enabled) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.no_default_retries = !enabled;
  return MESHLIB_OK;
}

int meshlib_options_set_retry_rate_budget(meshlib_options *o, double percent,
                                          double min_per_second) {
  /* Written so that NaN fails every test. */
  if (!GOOD_OPTIONS(o) || !(percent >= 0 && percent <= 1000) ||
      !(min_per_second >= 0 && min_per_second <= 1e6))
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.rate_budget.percent = percent;
  o->settings.rate_budget.min_per_sec = min_per_second;
  return MESHLIB_OK;
}

int meshlib_options_set_strict(meshlib_options *o, int strict) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.strict = strict != 0;
  return MESHLIB_OK;
}

static int add_source(meshlib_options *o, const char *path, const char *name,
                      const char *text, size_t len) {
  const ml_mem *mem = opts_mem(o);
  ml_source *s =
      ml_realloc(mem, o->sources, (o->source_count + 1) * sizeof(*s));
  if (!s)
    return MESHLIB_ERR_NOMEM;
  o->sources = s;
  ml_source src = {0};
  src.path = path ? ml_strdup(mem, path) : NULL;
  src.name = name ? ml_strdup(mem, name) : NULL;
  src.text = text ? ml_strndup(mem, text, len) : NULL;
  src.len = len;
  if ((path && !src.path) || (name && !src.name) || (text && !src.text)) {
    ml_free(mem, src.path);
    ml_free(mem, src.name);
    ml_free(mem, src.text);
    return MESHLIB_ERR_NOMEM;
  }
  o->sources[o->source_count++] = src;
  return MESHLIB_OK;
}

int meshlib_options_add_config_path(meshlib_options *o, const char *path) {
  if (!GOOD_OPTIONS(o) || !path || !*path)
    return MESHLIB_ERR_INVALID_ARG;
  return add_source(o, path, NULL, NULL, 0);
}

int meshlib_options_add_config_string(meshlib_options *o, const char *name,
                                      const char *yaml, size_t len) {
  if (!GOOD_OPTIONS(o) || !name || (!yaml && len))
    return MESHLIB_ERR_INVALID_ARG;
  return add_source(o, NULL, name, yaml ? yaml : "", len);
}

int meshlib_options_set_log_callback(meshlib_options *o, int max_level,
                                     meshlib_log_cb cb, void *user_data) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  o->settings.log_level = cb ? max_level : -1;
  o->settings.log_cb = cb;
  o->settings.log_user_data = user_data;
  return MESHLIB_OK;
}

const char *meshlib_options_errmsg(const meshlib_options *o) {
  return GOOD_OPTIONS(o) && o->errmsg ? o->errmsg : "";
}

/* include/meshlib/control.h's options: src/control checks and keeps them in
 * the options' lifecycle part (o->control), given NULL for a bad handle. */
#define CONTROL_OPTS(o) (GOOD_OPTIONS(o) ? &(o)->control : NULL)

int meshlib_options_set_config_watch(meshlib_options *o, int mode) {
  return ml_control_opts_set_watch(CONTROL_OPTS(o), mode);
}

int meshlib_options_set_config_poll_interval_ms(meshlib_options *o,
                                                int64_t interval_ms) {
  return ml_control_opts_set_poll_interval(CONTROL_OPTS(o), interval_ms);
}

int meshlib_options_set_config_debounce_ms(meshlib_options *o,
                                           int64_t debounce_ms) {
  return ml_control_opts_set_debounce(CONTROL_OPTS(o), debounce_ms);
}

int meshlib_options_add_config_url(meshlib_options *o, const char *url) {
  return ml_control_opts_add_url(CONTROL_OPTS(o), url,
                                 GOOD_OPTIONS(o) ? o->source_count : 0);
}

int meshlib_options_set_control_long_poll_ms(meshlib_options *o,
                                             int64_t wait_ms) {
  return ml_control_opts_set_long_poll(CONTROL_OPTS(o), wait_ms);
}

int meshlib_options_set_control_backoff_ms(meshlib_options *o,
                                           int64_t initial_ms, int64_t max_ms) {
  return ml_control_opts_set_backoff(CONTROL_OPTS(o), initial_ms, max_ms);
}

int meshlib_options_set_control_tls(meshlib_options *o, const char *ca_file,
                                    const char *cert_file,
                                    const char *key_file) {
  return ml_control_opts_set_tls(CONTROL_OPTS(o), ca_file, cert_file, key_file);
}

int meshlib_options_set_control_token_file(meshlib_options *o,
                                           const char *path) {
  return ml_control_opts_set_token_file(CONTROL_OPTS(o), path);
}

int meshlib_options_set_control_initial_fetch(meshlib_options *o,
                                              int64_t timeout_ms,
                                              int required) {
  return ml_control_opts_set_initial_fetch(CONTROL_OPTS(o), timeout_ms,
                                           required);
}

int meshlib_options_set_config_allow_bad_start(meshlib_options *o, int allow) {
  return ml_control_opts_set_allow_bad_start(CONTROL_OPTS(o), allow);
}

int meshlib_options_on_config(meshlib_options *o,
                              meshlib_config_change_cb changed,
                              meshlib_config_reject_cb rejected,
                              void *user_data) {
  return ml_control_opts_on_config(CONTROL_OPTS(o), changed, rejected,
                                   user_data);
}
