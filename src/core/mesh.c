/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "config/analyze.h"
#include "control/control.h"
#include "call/client.h"
#include "cluster/inspect.h"
#include "core/internal.h"
#include "telemetry/trace.h"
#include "util/log.h"

#define GOOD_MESH(m) ((m) && (m)->magic == ML_MAGIC_MESH)
#define GOOD_CONFIG(c) ((c) && (c)->magic == ML_MAGIC_CONFIG)

void ml_log(const meshlib *m, int level, const char *fmt, ...) {
  ml_logger l = {m->settings.log_cb, m->settings.log_user_data,
                 m->settings.log_level};
  va_list ap;
  va_start(ap, fmt);
  ml_vlogf(&l, level, fmt, ap);
  va_end(ap);
}

/* The resolver's view of the mesh (cluster/dns.h). */
static void dns_changed(void *ctx) {
  ml_mesh_rebuild_endpoints(ctx);
}

static void dns_log(void *ctx, int level, const char *text) {
  ml_log(ctx, level, "%s", text);
}

static ml_route_settings route_settings(const meshlib *m) {
  ml_route_settings s = {m->settings.namespace_, m->settings.domain_suffix};
  return s;
}

static void set_options_error(meshlib_options *o, const char *msg) {
  const ml_mem *mem = o->has_alloc ? &o->alloc : NULL;
  ml_free(mem, o->errmsg);
  o->errmsg = ml_strdup(mem, msg);
}

static int load_sources(meshlib *m, const meshlib_options *o,
                        meshlib_options *err_to) {
  meshlib_config *c;
  int rc = meshlib_config_new(&c, m);
  if (rc != MESHLIB_OK)
    return rc;
  for (size_t i = 0; i < o->source_count; i++) {
    const ml_source *s = &o->sources[i];
    if (s->path)
      meshlib_config_add_path(c, s->path);
    else
      meshlib_config_add_string(c, s->name, s->text, s->len);
  }
  rc = meshlib_config_apply(c);
  if (rc != MESHLIB_OK)
    set_options_error(err_to, meshlib_config_errmsg(c)[0]
                                  ? meshlib_config_errmsg(c)
                                  : meshlib_strerror(rc));
  meshlib_config_free(c);
  return rc;
}

static int apply_config(meshlib *m, ml_config **config, int first_error,
                        const ml_diags *d);

/* ml_control_host.apply: control's composed config, taken. */
static int control_apply(void *user_data, ml_config *config, int first_error,
                         const ml_diags *diags) {
  int rc = apply_config(user_data, &config, first_error, diags);
  ml_config_free(config); /* rejected: not taken */
  return rc;
}

/* The mesh as src/control sees it, and the options' sources. */
static int control_start(meshlib *m, const meshlib_options *o, char *err,
                         size_t cap) {
  ml_control_host h = {
      .mem = m->mem,
      .load = {m->settings.domain_suffix, m->settings.strict},
      .seed = m->seed,
      .log_cb = m->settings.log_cb,
      .log_user_data = m->settings.log_user_data,
      .log_level = m->settings.log_level,
      .apply = control_apply,
      .user_data = m,
  };
  size_t n = o->source_count;
  ml_ctl_input *in = ml_calloc(m->mem, n ? n : 1, sizeof(*in));
  if (!in)
    return MESHLIB_ERR_NOMEM;
  for (size_t i = 0; i < n; i++)
    in[i] = (ml_ctl_input){o->sources[i].path, o->sources[i].name,
                           o->sources[i].text, o->sources[i].len};
  int rc = ml_control_start(&h, o->control, in, n, &m->control, err, cap);
  ml_free(m->mem, in);
  return rc;
}

int meshlib_new(meshlib **out, meshlib_options *o) {
  if (!out || !o || o->magic != ML_MAGIC_OPTIONS)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  set_options_error(o, "");
  const ml_mem *omem = o->has_alloc ? &o->alloc : NULL;
  meshlib *m = ml_calloc(omem, 1, sizeof(*m));
  if (!m)
    return MESHLIB_ERR_NOMEM;
  m->magic = ML_MAGIC_MESH;
  if (o->has_alloc) {
    m->alloc = o->alloc;
    m->mem = &m->alloc;
  }
  m->telemetry.mem = m->mem;
  atomic_init(&m->next_version, 1);
  atomic_init(&m->rand_counter, 0);
  ml_snapshot_slot_init(&m->current, NULL);
  int rc = ml_settings_copy(m->mem, &m->settings, &o->settings);
  if (rc != MESHLIB_OK) {
    ml_free(m->mem, m);
    return rc;
  }
  m->env = (ml_call_env){.mem = m->mem,
                         .current = &m->current,
                         .namespace_ = m->settings.namespace_,
                         .domain_suffix = m->settings.domain_suffix,
                         .labels = m->settings.labels,
                         .label_count = m->settings.label_count,
                         .no_default_retries = m->settings.no_default_retries,
                         .rate_budget = m->settings.rate_budget,
                         .telemetry = &m->telemetry,
                         .limits = &m->settings.limits,
                         .proxy_from_env = m->settings.proxy_from_env};
  m->seed = o->settings.has_seed
                ? o->settings.seed
                : (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)m << 16);
  pthread_mutex_init(&m->apply_lock, NULL);
  ml_dns_host dns_host = {m, &m->apply_lock, dns_changed, dns_log};
  ml_dns_init(&m->dns, &dns_host, o->settings.dns_refresh_ms);
  ml_config_events_init(&m->events);
  rc = ml_live_init(&m->live, m->mem);
  if (rc != MESHLIB_OK) {
    ml_config_events_destroy(m->mem, &m->events);
    ml_dns_destroy(&m->dns);
    pthread_mutex_destroy(&m->apply_lock);
    ml_settings_free(m->mem, &m->settings);
    ml_free(m->mem, m);
    return rc;
  }

  /* Version 0: the empty config, so that a snapshot is always in force. */
  ml_config *empty = ml_config_new(m->mem);
  rc = empty ? ml_mesh_install(m, empty, 0) : MESHLIB_ERR_NOMEM;
  if (rc == MESHLIB_OK) /* they hear of the first load too */
    rc = ml_control_subscribe(o->control, m->mem, &m->events);
  if (rc == MESHLIB_OK && ml_control_wanted(o->control)) {
    /* Watched sources or URLs: src/control loads them and starts the
     * thread that follows them. */
    char err[1024] = "";
    rc = control_start(m, o, err, sizeof(err));
    if (rc != MESHLIB_OK && err[0])
      set_options_error(o, err);
  } else if (rc == MESHLIB_OK && o->source_count) {
    rc = load_sources(m, o, o);
  }
  if (rc == MESHLIB_OK) {
    /* Tracer, exporter thread, access log, metrics, admin listener. */
    char err[256] = "";
    rc = ml_mesh_telemetry_init(m, err, sizeof(err));
    if (rc != MESHLIB_OK && err[0])
      set_options_error(o, err);
  }
  if (rc != MESHLIB_OK) {
    if (!o->errmsg || !o->errmsg[0])
      set_options_error(o, meshlib_strerror(rc));
    meshlib_free(m);
    return rc;
  }
  *out = m;
  return MESHLIB_OK;
}

static void app_endpoints_free(const ml_mem *mem, ml_app_endpoint *e,
                               size_t n) {
  if (!e)
    return;
  for (size_t i = 0; i < n; i++) {
    ml_free(mem, e[i].address);
    for (size_t j = 0; j < e[i].labels.count; j++) {
      ml_free(mem, (char *)e[i].labels.items[j].key);
      ml_free(mem, (char *)e[i].labels.items[j].value);
    }
    ml_free(mem, e[i].labels.items);
  }
  ml_free(mem, e);
}

void meshlib_free(meshlib *m) {
  if (!GOOD_MESH(m))
    return;
  ml_telemetry_mesh_free(&m->telemetry); /* the admin thread reads the mesh */
  /* The control thread applies config: stopped before what it uses. */
  ml_control_stop(m->control);
  m->control = NULL;
  ml_trace_mesh_free(&m->telemetry); /* flushes spans with a bounded wait */
  ml_dns_destroy(&m->dns);           /* its thread rebuilds snapshots */
  ml_snapshot_slot_clear(&m->current);
  for (size_t i = 0; i < m->app_count; i++) {
    app_endpoints_free(m->mem, m->app[i].items, m->app[i].count);
    ml_free(m->mem, m->app[i].host);
  }
  ml_free(m->mem, m->app);
  ml_live_destroy(&m->live);
  ml_config_events_destroy(m->mem, &m->events);
  pthread_mutex_destroy(&m->apply_lock);
  const ml_mem *mem = m->mem;
  ml_settings_free(mem, &m->settings);
  m->magic = 0;
  if (mem) {
    meshlib_allocator a = m->alloc;
    a.free(m, a.user_data);
  } else {
    ml_free(NULL, m);
  }
}

int meshlib_request_new(meshlib_request **out, meshlib *m, const char *method,
                        const char *url) {
  if (!out || !GOOD_MESH(m) || !url)
    return MESHLIB_ERR_INVALID_ARG;
  /* Each request draws from its own generator, seeded from the mesh's
   * seed and a counter: reproducible when the seed is fixed. */
  uint64_t seed =
      m->seed + 0x9e3779b97f4a7c15ULL * atomic_fetch_add(&m->rand_counter, 1);
  return ml_request_new(out, m, &m->env, seed, method, url);
}

int meshlib_client_new(meshlib_client **out, meshlib *m) {
  if (!out || !GOOD_MESH(m))
    return MESHLIB_ERR_INVALID_ARG;
  return ml_client_new(out, m, &m->env);
}

int meshlib_clusters_snapshot(meshlib *m, meshlib_clusters **out) {
  if (!out)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  if (!GOOD_MESH(m))
    return MESHLIB_ERR_INVALID_ARG;
  return ml_clusters_picture(m->mem, ml_snapshot_slot_acquire(&m->current),
                             out);
}

uint64_t meshlib_config_version(const meshlib *m) {
  if (!GOOD_MESH(m))
    return 0;
  ml_snapshot *s = ml_snapshot_slot_acquire((ml_snapshot_slot *)&m->current);
  uint64_t v = s->version;
  ml_snapshot_unref(s);
  return v;
}

void meshlib_free_str(meshlib *m, char *s) {
  ml_free(GOOD_MESH(m) ? m->mem : NULL, s);
}

static ml_endpoint_inputs endpoint_inputs(meshlib *m) {
  ml_endpoint_inputs e = {&m->live, m->app, m->app_count, m->dns.answers,
                          m->dns.answer_count};
  return e;
}

int ml_mesh_install(meshlib *m, ml_config *c, uint64_t version) {
  ml_route_settings rs = route_settings(m);
  ml_endpoint_inputs e = endpoint_inputs(m);
  ml_snapshot *snap = NULL;
  int rc = ml_snapshot_new(m->mem, c, &rs, version, &e, &snap);
  if (rc != MESHLIB_OK)
    return rc;
  ml_snapshot_slot_swap(&m->current, snap);
  /* The snapshot in force stays alive while apply_lock is held. */
  return ml_dns_config_changed(&m->dns, snap->config);
}

int ml_mesh_rebuild_endpoints(meshlib *m) {
  ml_snapshot *cur = ml_snapshot_slot_acquire(&m->current);
  ml_route_settings rs = route_settings(m);
  ml_endpoint_inputs in = endpoint_inputs(m);
  ml_snapshot *snap = NULL;
  int rc = ml_snapshot_with_endpoints(cur, &rs, &in, &snap);
  ml_snapshot_unref(cur);
  if (rc == MESHLIB_OK)
    ml_snapshot_slot_swap(&m->current, snap);
  return rc;
}

/* Endpoints set by the application. */

int meshlib_endpoints_new(meshlib_endpoints **out) {
  if (!out)
    return MESHLIB_ERR_INVALID_ARG;
  *out = ml_calloc(NULL, 1, sizeof(**out));
  return *out ? MESHLIB_OK : MESHLIB_ERR_NOMEM;
}

void meshlib_endpoints_free(meshlib_endpoints *e) {
  if (!e)
    return;
  app_endpoints_free(NULL, e->items, e->count);
  ml_free(NULL, e);
}

int meshlib_endpoints_add(meshlib_endpoints *e, const char *address,
                          uint32_t port, uint32_t weight) {
  if (!e || !address || !*address || port > 65535)
    return MESHLIB_ERR_INVALID_ARG;
  ml_app_endpoint *n = ml_realloc(NULL, e->items, (e->count + 1) * sizeof(*n));
  if (!n)
    return MESHLIB_ERR_NOMEM;
  e->items = n;
  memset(&n[e->count], 0, sizeof(n[0]));
  n[e->count].address = ml_strdup(NULL, address);
  if (!n[e->count].address)
    return MESHLIB_ERR_NOMEM;
  n[e->count].port = port;
  n[e->count].weight = weight ? weight : 1;
  e->count++;
  return MESHLIB_OK;
}

static int labels_add(const ml_mem *mem, ml_kv_list *l, const char *key,
                      const char *value) {
  ml_kv *n = ml_realloc(mem, l->items, (l->count + 1) * sizeof(*n));
  if (!n)
    return MESHLIB_ERR_NOMEM;
  l->items = n;
  n[l->count].key = ml_strdup(mem, key);
  n[l->count].value = ml_strdup(mem, value);
  if (!n[l->count].key || !n[l->count].value) {
    ml_free(mem, (char *)n[l->count].key);
    ml_free(mem, (char *)n[l->count].value);
    return MESHLIB_ERR_NOMEM;
  }
  l->count++;
  return MESHLIB_OK;
}

int meshlib_endpoints_add_label(meshlib_endpoints *e, const char *key,
                                const char *value) {
  if (!e || !e->count || !key || !*key || !value)
    return MESHLIB_ERR_INVALID_ARG;
  return labels_add(NULL, &e->items[e->count - 1].labels, key, value);
}

/* A deep copy of |e|'s endpoints in the mesh's memory. */
static int copy_endpoints(const ml_mem *mem, const meshlib_endpoints *e,
                          ml_app_endpoint **out) {
  ml_app_endpoint *c = ml_calloc(mem, e->count, sizeof(*c));
  if (!c)
    return MESHLIB_ERR_NOMEM;
  for (size_t i = 0; i < e->count; i++) {
    c[i].address = ml_strdup(mem, e->items[i].address);
    c[i].port = e->items[i].port;
    c[i].weight = e->items[i].weight;
    int rc = c[i].address ? MESHLIB_OK : MESHLIB_ERR_NOMEM;
    for (size_t j = 0; rc == MESHLIB_OK && j < e->items[i].labels.count; j++)
      rc = labels_add(mem, &c[i].labels, e->items[i].labels.items[j].key,
                      e->items[i].labels.items[j].value);
    if (rc != MESHLIB_OK) {
      app_endpoints_free(mem, c, i + 1);
      return rc;
    }
  }
  *out = c;
  return MESHLIB_OK;
}

int meshlib_set_endpoints(meshlib *m, const char *host,
                          const meshlib_endpoints *e) {
  if (!GOOD_MESH(m) || !host || !*host)
    return MESHLIB_ERR_INVALID_ARG;
  ml_buf fqdn;
  ml_buf_init(&fqdn, m->mem);
  if (!strchr(host, '.'))
    ml_buf_printf(&fqdn, "%s.%s.svc.%s", host, m->settings.namespace_,
                  m->settings.domain_suffix);
  else
    ml_buf_puts(&fqdn, host);
  char *name = ml_buf_steal(&fqdn);
  if (!name)
    return MESHLIB_ERR_NOMEM;
  for (char *p = name; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  ml_app_endpoint *items = NULL;
  size_t count = e ? e->count : 0;
  if (count && copy_endpoints(m->mem, e, &items) != MESHLIB_OK) {
    ml_free(m->mem, name);
    return MESHLIB_ERR_NOMEM;
  }

  pthread_mutex_lock(&m->apply_lock);
  size_t i = 0;
  while (i < m->app_count && strcmp(m->app[i].host, name) != 0)
    i++;
  int rc = MESHLIB_OK;
  ml_app_endpoints old = {0};
  if (i == m->app_count) {
    ml_app_endpoints *n =
        count ? ml_realloc(m->mem, m->app, (m->app_count + 1) * sizeof(*n))
              : m->app;
    if (count && !n) {
      rc = MESHLIB_ERR_NOMEM;
    } else if (count) {
      m->app = n;
      n[m->app_count++] = (ml_app_endpoints){name, items, count};
      name = NULL;
      items = NULL;
    }
  } else {
    old = m->app[i];
    if (count) {
      m->app[i].items = items;
      m->app[i].count = count;
      items = NULL;
      old.host = NULL; /* kept */
    } else {
      m->app[i] = m->app[--m->app_count];
    }
  }
  if (rc == MESHLIB_OK)
    rc = ml_mesh_rebuild_endpoints(m);
  pthread_mutex_unlock(&m->apply_lock);
  /* The old list is only read while a snapshot is built, under the lock:
   * built snapshots copy what they keep. */
  app_endpoints_free(m->mem, old.items, old.count);
  ml_free(m->mem, old.host);
  app_endpoints_free(m->mem, items, count);
  ml_free(m->mem, name);
  return rc;
}

/* The config builder. */

int meshlib_config_new(meshlib_config **out, meshlib *m) {
  if (!out || !GOOD_MESH(m))
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  meshlib_config *c = ml_calloc(m->mem, 1, sizeof(*c));
  if (!c)
    return MESHLIB_ERR_NOMEM;
  c->magic = ML_MAGIC_CONFIG;
  c->mesh = m;
  c->config = ml_config_new(m->mem);
  if (!c->config) {
    ml_free(m->mem, c);
    return MESHLIB_ERR_NOMEM;
  }
  ml_diags_init(&c->diags, m->mem);
  *out = c;
  return MESHLIB_OK;
}

void meshlib_config_free(meshlib_config *c) {
  if (!GOOD_CONFIG(c))
    return;
  const ml_mem *mem = c->mesh->mem;
  ml_config_free(c->config);
  ml_diags_free(&c->diags);
  c->magic = 0;
  ml_free(mem, c);
}

static ml_load_opts load_opts(const meshlib_config *c) {
  ml_load_opts o = {c->mesh->settings.domain_suffix, c->mesh->settings.strict};
  return o;
}

static int note_result(meshlib_config *c, int rc) {
  if (rc != MESHLIB_OK && c->first_error == MESHLIB_OK)
    c->first_error = rc;
  return rc;
}

int meshlib_config_add_path(meshlib_config *c, const char *path) {
  if (!GOOD_CONFIG(c) || !path || !c->config)
    return MESHLIB_ERR_INVALID_ARG;
  ml_load_opts o = load_opts(c);
  return note_result(c, ml_config_load_path(c->config, path, &o, &c->diags));
}

int meshlib_config_add_string(meshlib_config *c, const char *name,
                              const char *yaml, size_t len) {
  if (!GOOD_CONFIG(c) || !name || (!yaml && len) || !c->config)
    return MESHLIB_ERR_INVALID_ARG;
  ml_load_opts o = load_opts(c);
  return note_result(c, ml_config_load_string(c->config, name, yaml ? yaml : "",
                                              len, &o, &c->diags));
}

int meshlib_config_analyze(meshlib_config *c) {
  if (!GOOD_CONFIG(c) || !c->config)
    return MESHLIB_ERR_INVALID_ARG;
  int n = ml_analyze(c->config, c->mesh->settings.namespace_,
                     c->mesh->settings.domain_suffix, &c->diags);
  if (n < 0 || c->diags.oom)
    return MESHLIB_ERR_NOMEM;
  return c->diags.errors ? MESHLIB_ERR_CONFIG : MESHLIB_OK;
}

/* Put |*config| in force (taken: set to NULL) or reject it for
 * |first_error| or |d|'s first error (left in *config); numbered, logged
 * and reported either way. */
static int apply_config(meshlib *m, ml_config **config, int first_error,
                        const ml_diags *d) {
  if (first_error != MESHLIB_OK || d->errors) {
    const struct meshlib_diag *e = ml_diags_first_error(d);
    const char *why = e ? e->text : meshlib_strerror(first_error);
    /* A rejected attempt takes a version too, so that it can be named
     * (an xDS NACK names the version it refuses). */
    pthread_mutex_lock(&m->apply_lock);
    uint64_t version = atomic_fetch_add(&m->next_version, 1);
    ml_config_report_begin(&m->events); /* versions heard in order */
    pthread_mutex_unlock(&m->apply_lock);
    ml_log(m, MESHLIB_LEVEL_ERROR,
           "config version %llu rejected, version %llu stays: %s",
           (unsigned long long)version,
           (unsigned long long)atomic_load(&m->events.last_applied_version),
           why);
    ml_config_rejected(m->mem, &m->events, version, why);
    return first_error != MESHLIB_OK ? first_error : MESHLIB_ERR_CONFIG;
  }
  pthread_mutex_lock(&m->apply_lock);
  uint64_t version = atomic_fetch_add(&m->next_version, 1);
  /* The snapshot takes the config whatever happens. */
  int rc = ml_mesh_install(m, *config, version);
  *config = NULL;
  if (rc == MESHLIB_OK)
    ml_config_report_begin(&m->events); /* versions heard in order */
  pthread_mutex_unlock(&m->apply_lock);
  if (rc == MESHLIB_OK) {
    ml_log(m, MESHLIB_LEVEL_INFO, "config version %llu in force",
           (unsigned long long)version);
    ml_config_applied_end(&m->events, version);
  }
  return rc;
}

int meshlib_config_apply(meshlib_config *c) {
  if (!GOOD_CONFIG(c))
    return MESHLIB_ERR_INVALID_ARG;
  if (!c->config)
    return MESHLIB_ERR_CONFIG_EMPTY; /* already applied */
  return apply_config(c->mesh, &c->config, c->first_error, &c->diags);
}

/* include/meshlib/control.h on the mesh: src/control keeps the record
 * (m->events) and the thread (m->control). */

int meshlib_on_config(meshlib *m, meshlib_config_change_cb changed,
                      meshlib_config_reject_cb rejected, void *user_data) {
  if (!GOOD_MESH(m) || (!changed && !rejected))
    return MESHLIB_ERR_INVALID_ARG;
  ml_config_sub s = {changed, rejected, user_data};
  return ml_config_events_add(m->mem, &m->events, &s);
}

int meshlib_off_config(meshlib *m, meshlib_config_change_cb changed,
                       meshlib_config_reject_cb rejected, void *user_data) {
  if (!GOOD_MESH(m))
    return MESHLIB_ERR_INVALID_ARG;
  ml_config_sub s = {changed, rejected, user_data};
  return ml_config_events_remove(&m->events, &s);
}

uint64_t meshlib_config_rejected_total(const meshlib *m) {
  return GOOD_MESH(m) ? ml_config_events_rejected_total(&m->events) : 0;
}

int meshlib_config_last_rejection(const meshlib *m, uint64_t *version,
                                  char *buf, size_t cap) {
  if (!GOOD_MESH(m) || (!buf && cap))
    return MESHLIB_ERR_INVALID_ARG;
  return ml_config_events_last_rejection(&m->events, version, buf, cap);
}

void ml_config_status_get(const meshlib *m, ml_config_status *out) {
  ml_config_events_status(&m->events, out);
}

int meshlib_config_reload(meshlib *m) {
  if (!GOOD_MESH(m))
    return MESHLIB_ERR_INVALID_ARG;
  return m->control ? ml_control_reload(m->control) : MESHLIB_ERR_NOT_FOUND;
}

const char *meshlib_config_errmsg(const meshlib_config *c) {
  if (!GOOD_CONFIG(c))
    return "";
  const struct meshlib_diag *e = ml_diags_first_error(&c->diags);
  if (e)
    return e->text;
  return c->first_error != MESHLIB_OK ? meshlib_strerror(c->first_error) : "";
}

size_t meshlib_config_diag_count(const meshlib_config *c) {
  return GOOD_CONFIG(c) ? c->diags.count : 0;
}

const meshlib_diag *meshlib_config_diag(const meshlib_config *c, size_t i) {
  return GOOD_CONFIG(c) && i < c->diags.count ? c->diags.items[i] : NULL;
}

int meshlib_diag_level(const meshlib_diag *d) {
  return d ? d->level : MESHLIB_LEVEL_ERROR;
}
const char *meshlib_diag_code(const meshlib_diag *d) {
  return d ? d->code : "";
}
const char *meshlib_diag_file(const meshlib_diag *d) {
  return d ? d->file : "";
}
uint32_t meshlib_diag_line(const meshlib_diag *d) {
  return d ? d->line : 0;
}
uint32_t meshlib_diag_column(const meshlib_diag *d) {
  return d ? d->column : 0;
}
const char *meshlib_diag_field(const meshlib_diag *d) {
  return d ? d->field : "";
}
const char *meshlib_diag_resource(const meshlib_diag *d) {
  return d ? d->resource : "";
}
const char *meshlib_diag_message(const meshlib_diag *d) {
  return d ? d->message : "";
}
const char *meshlib_diag_text(const meshlib_diag *d) {
  return d ? d->text : "";
}
