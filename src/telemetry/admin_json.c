/* SPDX-License-Identifier: MIT */
/* The admin listener's JSON bodies: the config in force (Istio's field
 * names, as the YAML said them; config/model_json.c), its routes and its
 * clusters. Absent fields are left out. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "config/model_json.h"
#include "meshlib/meshlib.h"
#include "telemetry/admin.h"
#include "telemetry/metrics.h"
#include "util/json.h"

#define IST ML_MODEL_JSON_ISTIO

/* The body: the value and a newline, or NULL when out of memory. */
static char *finish(ml_json *w, size_t *len) {
  ml_buf *b = w->b;
  if (ml_json_finish(w) != ML_JSON_OK) {
    ml_buf_free(b);
    return NULL;
  }
  ml_buf_putc(b, '\n');
  size_t n = b->len;
  char *s = ml_buf_steal(b);
  if (s && len)
    *len = n;
  return s;
}

/* ---- /config_dump ----------------------------------------------------- */

char *ml_admin_config_dump(const ml_mem *mem, const ml_snapshot *snap,
                           const ml_config_figures *st,
                           const ml_telemetry_settings *s, size_t *len) {
  ml_buf b;
  ml_buf_init(&b, mem);
  ml_json w;
  ml_json_init(&w, &b);
  const ml_config *c = snap->config;
  ml_json_obj(&w, NULL);
  ml_json_uint(&w, "version", snap->version);
  ml_json_obj(&w, "status");
  ml_json_uint(&w, "applied_total", st->applied_total);
  ml_json_uint(&w, "rejected_total", st->rejected_total);
  if (st->last_applied_unix_ms)
    ml_json_int(&w, "last_applied_unix_ms", st->last_applied_unix_ms);
  if (st->last_rejected_unix_ms) {
    ml_json_obj(&w, "last_rejected");
    ml_json_uint(&w, "version", st->last_rejected_version);
    ml_json_str(&w, "reason", st->last_rejected_reason);
    ml_json_int(&w, "unix_ms", st->last_rejected_unix_ms);
    ml_json_end(&w);
  }
  ml_json_end(&w);
  ml_json_obj(&w, "workload");
  if (s->metrics->workload_name[0])
    ml_json_str(&w, "name", s->metrics->workload_name);
  if (s->namespace_)
    ml_json_str(&w, "namespace", s->namespace_);
  if (s->domain_suffix)
    ml_json_str(&w, "domainSuffix", s->domain_suffix);
  ml_kv_list labels = {(ml_kv *)s->labels, s->label_count};
  ml_model_json_kvs(&w, IST, "labels", &labels);
  ml_json_end(&w);
  ml_json_obj(&w, "configs");
  ml_json_arr(&w, "virtualServices");
  for (size_t i = 0; c && i < c->vs_count; i++)
    ml_model_json_virtual_service(&w, c->virtual_services[i]);
  ml_json_end(&w);
  ml_json_arr(&w, "destinationRules");
  for (size_t i = 0; c && i < c->dr_count; i++)
    ml_model_json_destination_rule(&w, c->destination_rules[i]);
  ml_json_end(&w);
  ml_json_arr(&w, "serviceEntries");
  for (size_t i = 0; c && i < c->se_count; i++)
    ml_model_json_service_entry(&w, c->service_entries[i]);
  ml_json_end(&w);
  ml_json_arr(&w, "workloadEntries");
  for (size_t i = 0; c && i < c->we_count; i++)
    ml_model_json_workload_entry(&w, c->workload_entries[i]);
  ml_json_end(&w);
  ml_json_end(&w);
  ml_json_end(&w);
  return finish(&w, len);
}

/* ---- /routes ---------------------------------------------------------- */

/* A match in istioctl's short form: "/api*", "/exact", "~regex", then
 * the other conditions. */
static void match_text(ml_buf *b, const ml_http_match *m) {
  const ml_string_match *u = &m->uri;
  if (u->kind == ML_MATCH_EXACT)
    ml_buf_puts(b, u->value);
  else if (u->kind == ML_MATCH_PREFIX)
    ml_buf_printf(b, "%s*", u->value);
  else if (u->kind == ML_MATCH_REGEX)
    ml_buf_printf(b, "~%s", u->value);
  else
    ml_buf_puts(b, "/*");
  if (m->method.kind != ML_MATCH_NONE && m->method.value)
    ml_buf_printf(b, " method=%s", m->method.value);
  if (m->authority.kind != ML_MATCH_NONE && m->authority.value)
    ml_buf_printf(b, " authority=%s", m->authority.value);
  for (size_t i = 0; i < m->headers.count; i++) {
    const ml_named_match *h = &m->headers.items[i];
    const char *op = h->match.kind == ML_MATCH_PREFIX  ? "^="
                     : h->match.kind == ML_MATCH_REGEX ? "~="
                                                       : "=";
    if (h->match.kind == ML_MATCH_PRESENT)
      ml_buf_printf(b, " header:%s", h->name);
    else
      ml_buf_printf(b, " header:%s%s%s", h->name, op,
                    h->match.value ? h->match.value : "");
  }
  for (size_t i = 0; i < m->without_headers.count; i++)
    ml_buf_printf(b, " !header:%s", m->without_headers.items[i].name);
  for (size_t i = 0; i < m->query_params.count; i++)
    ml_buf_printf(b, " query:%s", m->query_params.items[i].name);
  if (m->port)
    ml_buf_printf(b, " port=%" PRIu32, m->port);
  for (size_t i = 0; i < m->source_labels.count; i++)
    ml_buf_printf(b, " source:%s=%s", m->source_labels.items[i].key,
                  m->source_labels.items[i].value);
  if (m->source_namespace)
    ml_buf_printf(b, " sourceNamespace=%s", m->source_namespace);
}

char *ml_admin_routes(const ml_mem *mem, const ml_snapshot *snap, size_t *len) {
  ml_buf b, t;
  ml_buf_init(&b, mem);
  ml_buf_init(&t, mem);
  ml_json w;
  ml_json_init(&w, &b);
  const ml_config *c = snap->config;
  ml_json_obj(&w, NULL);
  ml_json_uint(&w, "version", snap->version);
  ml_json_arr(&w, "routes");
  for (size_t i = 0; c && i < c->vs_count; i++) {
    const ml_virtual_service *vs = c->virtual_services[i];
    for (size_t j = 0; j < vs->http_count; j++) {
      const ml_http_route *r = &vs->http[j];
      ml_json_obj(&w, NULL);
      ml_json_str(&w, "name", r->name ? r->name : "");
      ml_json_uint(&w, "index", j);
      ml_json_strf(&w, "virtual_service", "%s.%s",
                   vs->meta.name ? vs->meta.name : "",
                   vs->meta.namespace_ ? vs->meta.namespace_ : "");
      ml_json_arr(&w, "hosts");
      for (size_t h = 0; h < vs->hosts.count; h++)
        ml_json_str(&w, NULL,
                    vs->host_fqdns && vs->host_fqdns[h] ? vs->host_fqdns[h]
                                                        : vs->hosts.items[h]);
      ml_json_end(&w);
      ml_json_arr(&w, "match");
      for (size_t k = 0; k < r->match_count; k++) {
        ml_buf_reset(&t);
        match_text(&t, &r->matches[k]);
        ml_json_strn(&w, NULL, t.data ? t.data : "", t.len);
      }
      if (!r->match_count)
        ml_json_str(&w, NULL, "/*");
      ml_json_end(&w);
      ml_json_arr(&w, "destinations");
      for (size_t k = 0; k < r->route_count; k++) {
        const ml_destination *d = &r->route[k].destination;
        int64_t weight = r->route[k].weight;
        ml_json_obj(&w, NULL);
        ml_json_str(&w, "host", d->fqdn ? d->fqdn : d->host);
        if (d->subset)
          ml_json_str(&w, "subset", d->subset);
        if (d->port)
          ml_json_uint(&w, "port", d->port);
        ml_json_int(&w, "weight",
                    weight >= 0           ? weight
                    : r->route_count == 1 ? 100
                                          : 0);
        ml_json_end(&w);
      }
      ml_json_end(&w);
      ml_json_str(&w, "action",
                  r->redirect          ? "redirect"
                  : r->direct_response ? "direct_response"
                                       : "route");
      ml_model_json_duration(&w, IST, "timeout", r->timeout_ms);
      if (r->retries) {
        ml_json_obj(&w, "retries");
        ml_model_json_retry_fields(&w, IST, r->retries);
        ml_json_end(&w);
      }
      if (r->fault)
        ml_json_bool(&w, "fault", 1);
      ml_json_end(&w);
    }
  }
  ml_json_end(&w);
  ml_json_end(&w);
  if (t.oom)
    b.oom = 1;
  ml_buf_free(&t);
  return finish(&w, len);
}

/* ---- /clusters: the picture meshlib_clusters_snapshot() takes -------- */

static void endpoint(ml_json *w, const meshlib_clusters *c, size_t i, size_t j,
                     const meshlib_endpoint_state *e) {
  ml_json_obj(w, NULL);
  if (e->address)
    ml_json_str(w, "address", e->address);
  ml_json_int(w, "port", e->port);
  ml_json_int(w, "weight", e->weight ? e->weight : 1);
  ml_json_str(w, "health", e->ejected ? "UNHEALTHY" : "HEALTHY");
  ml_json_bool(w, "ejected", e->ejected);
  ml_json_str(w, "outlier_check", e->ejected ? "FAILED" : "OK");
  ml_json_int(w, "in_flight", e->in_flight);
  if (e->ejected)
    ml_json_int(w, "ejected_for_ms", e->ejected_for_ms);
  ml_json_int(w, "ejection_count", e->ejection_count);
  ml_json_int(w, "consecutive_5xx", e->consecutive_5xx);
  ml_json_int(w, "consecutive_gateway_failure", e->consecutive_gateway_failure);
  ml_json_int(w, "consecutive_local_origin_failure",
              e->consecutive_local_origin_failure);
  if (e->locality)
    ml_json_str(w, "locality", e->locality);
  size_t nl = meshlib_cluster_endpoint_label_count(c, i, j);
  if (nl) {
    ml_json_obj(w, "labels");
    for (size_t k = 0; k < nl; k++) {
      const char *lk, *lv;
      if (meshlib_cluster_endpoint_label(c, i, j, k, &lk, &lv) == MESHLIB_OK &&
          lv)
        ml_json_str(w, lk, lv);
    }
    ml_json_end(w);
  }
  ml_json_end(w);
}

char *ml_admin_clusters(const ml_mem *mem, const meshlib_clusters *c,
                        uint64_t version, size_t *len) {
  ml_buf b;
  ml_buf_init(&b, mem);
  ml_json w;
  ml_json_init(&w, &b);
  ml_json_obj(&w, NULL);
  ml_json_uint(&w, "version", version);
  ml_json_arr(&w, "clusters");
  for (size_t i = 0; i < meshlib_clusters_count(c); i++) {
    const char *subset = meshlib_cluster_subset(c, i);
    const char *lb = meshlib_cluster_lb(c, i);
    ml_json_obj(&w, NULL);
    ml_json_str(&w, "name", meshlib_cluster_name(c, i));
    ml_json_str(&w, "service", meshlib_cluster_host(c, i));
    ml_json_int(&w, "port", meshlib_cluster_port(c, i));
    ml_json_str(&w, "subset", subset ? subset : "");
    ml_json_str(&w, "direction", "outbound");
    if (lb)
      ml_json_str(&w, "lb_policy", lb);
    size_t n = meshlib_cluster_endpoint_count(c, i), healthy = 0;
    ml_json_arr(&w, "endpoints");
    for (size_t j = 0; j < n; j++) {
      meshlib_endpoint_state e;
      if (meshlib_cluster_endpoint(c, i, j, &e) != MESHLIB_OK)
        continue;
      healthy += !e.ejected;
      endpoint(&w, c, i, j, &e);
    }
    ml_json_end(&w);
    ml_json_uint(&w, "endpoints_total", n);
    ml_json_uint(&w, "endpoints_healthy", healthy);
    ml_json_obj(&w, "stats");
    for (int s = 0; s < MESHLIB_CLUSTER_STAT_COUNT; s++) {
      const char *name = meshlib_cluster_stat_name((meshlib_cluster_stat)s);
      if (name)
        ml_json_uint(&w, name,
                     meshlib_cluster_stat_value(c, i, (meshlib_cluster_stat)s));
    }
    ml_json_end(&w);
    ml_json_end(&w);
  }
  ml_json_end(&w);
  ml_json_end(&w);
  return finish(&w, len);
}
