/* SPDX-License-Identifier: MIT */
/* The admin listener's JSON bodies: the config in force (Istio's field
 * names, as the YAML said them), its routes and its clusters. Written
 * with ml_buf's escaping writer; absent fields are left out. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "meshlib/meshlib.h"
#include "telemetry/admin.h"
#include "telemetry/metrics.h"

/* ---- small writers ----------------------------------------------------- */

typedef struct jw {
  ml_buf *b;
  int first; /* no comma before the next member */
} jw;

static void sep(jw *w) {
  if (!w->first)
    ml_buf_putc(w->b, ',');
  w->first = 0;
}

static void key(jw *w, const char *k) {
  sep(w);
  ml_buf_json_str(w->b, k);
  ml_buf_putc(w->b, ':');
}

static void open_obj(jw *w, const char *k) {
  if (k)
    key(w, k);
  else
    sep(w);
  ml_buf_putc(w->b, '{');
  w->first = 1;
}

static void open_arr(jw *w, const char *k) {
  if (k)
    key(w, k);
  else
    sep(w);
  ml_buf_putc(w->b, '[');
  w->first = 1;
}

static void close_obj(jw *w) {
  ml_buf_putc(w->b, '}');
  w->first = 0;
}

static void close_arr(jw *w) {
  ml_buf_putc(w->b, ']');
  w->first = 0;
}

static void str(jw *w, const char *k, const char *v) {
  if (!v)
    return;
  if (k)
    key(w, k);
  else
    sep(w);
  ml_buf_json_str(w->b, v);
}

static void num(jw *w, const char *k, int64_t v) {
  key(w, k);
  ml_buf_printf(w->b, "%" PRId64, v);
}

static void num_opt(jw *w, const char *k, int64_t v) {
  if (v >= 0)
    num(w, k, v);
}

static void boolean(jw *w, const char *k, int v) {
  key(w, k);
  ml_buf_puts(w->b, v ? "true" : "false");
}

static void tri(jw *w, const char *k, int v) {
  if (v != ML_TRI_UNSET)
    boolean(w, k, v == ML_TRI_TRUE);
}

/* Durations as Istio writes them in JSON: "2.500s". */
static void duration(jw *w, const char *k, int64_t ms) {
  if (ms < 0)
    return;
  key(w, k);
  if (ms % 1000 == 0)
    ml_buf_printf(w->b, "\"%" PRId64 "s\"", ms / 1000);
  else
    ml_buf_printf(w->b, "\"%" PRId64 ".%03" PRId64 "s\"", ms / 1000, ms % 1000);
}

static void percent(jw *w, const char *k, ml_percent p) {
  if (p.value < 0)
    return;
  open_obj(w, k);
  key(w, "value");
  ml_buf_printf(w->b, "%g", p.value);
  close_obj(w);
}

static void strs(jw *w, const char *k, const ml_str_list *l) {
  if (!l->count)
    return;
  open_arr(w, k);
  for (size_t i = 0; i < l->count; i++)
    str(w, NULL, l->items[i]);
  close_arr(w);
}

static void kvs(jw *w, const char *k, const ml_kv_list *l) {
  if (!l->count)
    return;
  open_obj(w, k);
  for (size_t i = 0; i < l->count; i++)
    str(w, l->items[i].key, l->items[i].value);
  close_obj(w);
}

static void origin(jw *w, const ml_origin *o) {
  if (!o->file)
    return;
  key(w, "source");
  ml_buf_json_str(w->b, o->file);
  if (o->line && !w->b->oom) {
    w->b->len--; /* reopen the string to add the line */
    ml_buf_printf(w->b, ":%" PRIu32 "\"", o->line);
  }
}

static char *finish(ml_buf *b, size_t *len) {
  ml_buf_putc(b, '\n');
  size_t n = b->len;
  char *s = ml_buf_steal(b);
  if (s && len)
    *len = n;
  return s;
}

/* ---- the model -------------------------------------------------------- */

static void meta(jw *w, const ml_meta *m) {
  open_obj(w, "metadata");
  str(w, "name", m->name);
  str(w, "namespace", m->namespace_);
  kvs(w, "labels", &m->labels);
  close_obj(w);
  str(w, "apiVersion", m->api_version);
  str(w, "kind", m->kind);
  origin(w, &m->origin);
}

static void string_match(jw *w, const char *k, const ml_string_match *m) {
  static const char *const kinds[] = {NULL, "exact", "prefix", "regex", NULL};
  if (m->kind == ML_MATCH_NONE)
    return;
  open_obj(w, k);
  if (m->kind == ML_MATCH_PRESENT)
    ; /* {}: present */
  else
    str(w, kinds[m->kind], m->value ? m->value : "");
  close_obj(w);
}

static void named_matches(jw *w, const char *k, const ml_named_match_list *l) {
  if (!l->count)
    return;
  open_obj(w, k);
  for (size_t i = 0; i < l->count; i++)
    string_match(w, l->items[i].name, &l->items[i].match);
  close_obj(w);
}

static void destination(jw *w, const char *k, const ml_destination *d) {
  open_obj(w, k);
  str(w, "host", d->fqdn ? d->fqdn : d->host);
  str(w, "subset", d->subset);
  if (d->port) {
    open_obj(w, "port");
    num(w, "number", d->port);
    close_obj(w);
  }
  close_obj(w);
}

static void header_ops(jw *w, const char *k, const ml_header_ops *o) {
  if (!o->set.count && !o->add.count && !o->remove.count)
    return;
  open_obj(w, k);
  kvs(w, "set", &o->set);
  kvs(w, "add", &o->add);
  strs(w, "remove", &o->remove);
  close_obj(w);
}

static void headers(jw *w, const ml_headers *h) {
  if (!h->request.set.count && !h->request.add.count &&
      !h->request.remove.count && !h->response.set.count &&
      !h->response.add.count && !h->response.remove.count)
    return;
  open_obj(w, "headers");
  header_ops(w, "request", &h->request);
  header_ops(w, "response", &h->response);
  close_obj(w);
}

static void http_match(jw *w, const ml_http_match *m) {
  open_obj(w, NULL);
  str(w, "name", m->name);
  string_match(w, "uri", &m->uri);
  string_match(w, "scheme", &m->scheme);
  string_match(w, "method", &m->method);
  string_match(w, "authority", &m->authority);
  named_matches(w, "headers", &m->headers);
  named_matches(w, "withoutHeaders", &m->without_headers);
  named_matches(w, "queryParams", &m->query_params);
  if (m->ignore_uri_case)
    boolean(w, "ignoreUriCase", 1);
  if (m->port)
    num(w, "port", m->port);
  kvs(w, "sourceLabels", &m->source_labels);
  str(w, "sourceNamespace", m->source_namespace);
  strs(w, "gateways", &m->gateways);
  close_obj(w);
}

static void http_route(jw *w, const ml_http_route *r) {
  open_obj(w, NULL);
  str(w, "name", r->name);
  if (r->match_count) {
    open_arr(w, "match");
    for (size_t i = 0; i < r->match_count; i++)
      http_match(w, &r->matches[i]);
    close_arr(w);
  }
  if (r->route_count) {
    open_arr(w, "route");
    for (size_t i = 0; i < r->route_count; i++) {
      const ml_route_destination *d = &r->route[i];
      open_obj(w, NULL);
      destination(w, "destination", &d->destination);
      num_opt(w, "weight", d->weight);
      headers(w, &d->headers);
      close_obj(w);
    }
    close_arr(w);
  }
  if (r->redirect) {
    open_obj(w, "redirect");
    str(w, "uri", r->redirect->uri);
    str(w, "authority", r->redirect->authority);
    str(w, "scheme", r->redirect->scheme);
    if (r->redirect->port)
      num(w, "port", r->redirect->port);
    num(w, "redirectCode", r->redirect->redirect_code);
    close_obj(w);
  }
  if (r->direct_response) {
    open_obj(w, "directResponse");
    num(w, "status", r->direct_response->status);
    if (r->direct_response->body) {
      open_obj(w, "body");
      key(w, "string");
      ml_buf_json_strn(w->b, r->direct_response->body,
                       r->direct_response->body_len);
      close_obj(w);
    }
    close_obj(w);
  }
  if (r->rewrite) {
    open_obj(w, "rewrite");
    str(w, "uri", r->rewrite->uri);
    str(w, "authority", r->rewrite->authority);
    if (r->rewrite->regex_match) {
      open_obj(w, "uriRegexRewrite");
      str(w, "match", r->rewrite->regex_match);
      str(w, "rewrite", r->rewrite->regex_rewrite);
      close_obj(w);
    }
    close_obj(w);
  }
  duration(w, "timeout", r->timeout_ms);
  if (r->retries) {
    open_obj(w, "retries");
    num_opt(w, "attempts", r->retries->attempts);
    duration(w, "perTryTimeout", r->retries->per_try_timeout_ms);
    str(w, "retryOn", r->retries->retry_on);
    tri(w, "retryRemoteLocalities", r->retries->retry_remote_localities);
    tri(w, "retryIgnorePreviousHosts", r->retries->retry_ignore_previous_hosts);
    close_obj(w);
  }
  if (r->fault) {
    open_obj(w, "fault");
    if (r->fault->has_delay) {
      open_obj(w, "delay");
      duration(w, "fixedDelay", r->fault->delay_fixed_ms);
      percent(w, "percentage", r->fault->delay_percentage);
      close_obj(w);
    }
    if (r->fault->has_abort) {
      open_obj(w, "abort");
      if (r->fault->abort_http_status)
        num(w, "httpStatus", r->fault->abort_http_status);
      str(w, "grpcStatus", r->fault->abort_grpc_status);
      percent(w, "percentage", r->fault->abort_percentage);
      close_obj(w);
    }
    close_obj(w);
  }
  if (r->mirror_count) {
    open_arr(w, "mirrors");
    for (size_t i = 0; i < r->mirror_count; i++) {
      open_obj(w, NULL);
      destination(w, "destination", &r->mirrors[i].destination);
      percent(w, "percentage", r->mirrors[i].percentage);
      close_obj(w);
    }
    close_arr(w);
  }
  headers(w, &r->headers);
  origin(w, &r->origin);
  close_obj(w);
}

static void virtual_service(jw *w, const ml_virtual_service *vs) {
  open_obj(w, NULL);
  meta(w, &vs->meta);
  open_obj(w, "spec");
  strs(w, "hosts", &vs->hosts);
  strs(w, "gateways", &vs->gateways);
  strs(w, "exportTo", &vs->export_to);
  if (vs->http_count) {
    open_arr(w, "http");
    for (size_t i = 0; i < vs->http_count; i++)
      http_route(w, &vs->http[i]);
    close_arr(w);
  }
  close_obj(w);
  close_obj(w);
}

static const char *lb_simple_name(ml_lb_simple s) {
  switch (s) {
  case ML_LB_LEAST_CONN:
    return "LEAST_CONN";
  case ML_LB_RANDOM:
    return "RANDOM";
  case ML_LB_PASSTHROUGH:
    return "PASSTHROUGH";
  case ML_LB_ROUND_ROBIN:
    return "ROUND_ROBIN";
  case ML_LB_LEAST_REQUEST:
    return "LEAST_REQUEST";
  default:
    return NULL;
  }
}

static void traffic_policy(jw *w, const char *k, const ml_traffic_policy *p) {
  open_obj(w, k);
  const ml_load_balancer *lb = &p->load_balancer;
  if (lb->present) {
    open_obj(w, "loadBalancer");
    str(w, "simple", lb_simple_name(lb->simple));
    if (lb->consistent_hash) {
      const ml_consistent_hash *h = lb->consistent_hash;
      open_obj(w, "consistentHash");
      str(w, "httpHeaderName", h->http_header_name);
      str(w, "httpQueryParameterName", h->http_query_parameter_name);
      if (h->key == ML_HASH_SOURCE_IP)
        boolean(w, "useSourceIp", 1);
      if (h->cookie_name) {
        open_obj(w, "httpCookie");
        str(w, "name", h->cookie_name);
        str(w, "path", h->cookie_path);
        duration(w, "ttl", h->cookie_ttl_ms);
        close_obj(w);
      }
      if (h->algo == ML_HASH_ALGO_MAGLEV) {
        open_obj(w, "maglev");
        num_opt(w, "tableSize", h->maglev_table_size);
        close_obj(w);
      } else if (h->minimum_ring_size >= 0) {
        open_obj(w, "ringHash");
        num(w, "minimumRingSize", h->minimum_ring_size);
        close_obj(w);
      }
      close_obj(w);
    }
    duration(w, "warmupDurationSecs", lb->warmup_duration_ms);
    close_obj(w);
  }
  const ml_connection_pool *cp = &p->connection_pool;
  if (cp->present) {
    open_obj(w, "connectionPool");
    open_obj(w, "tcp");
    num_opt(w, "maxConnections", cp->max_connections);
    duration(w, "connectTimeout", cp->connect_timeout_ms);
    duration(w, "maxConnectionDuration", cp->max_connection_duration_ms);
    duration(w, "idleTimeout", cp->tcp_idle_timeout_ms);
    close_obj(w);
    open_obj(w, "http");
    num_opt(w, "http1MaxPendingRequests", cp->http1_max_pending_requests);
    num_opt(w, "http2MaxRequests", cp->http2_max_requests);
    num_opt(w, "maxRequestsPerConnection", cp->max_requests_per_connection);
    num_opt(w, "maxRetries", cp->max_retries);
    duration(w, "idleTimeout", cp->http_idle_timeout_ms);
    str(w, "h2UpgradePolicy", cp->h2_upgrade_policy);
    num_opt(w, "maxConcurrentStreams", cp->max_concurrent_streams);
    close_obj(w);
    close_obj(w);
  }
  const ml_outlier_detection *od = &p->outlier_detection;
  if (od->present) {
    open_obj(w, "outlierDetection");
    num_opt(w, "consecutive5xxErrors", od->consecutive_5xx_errors);
    num_opt(w, "consecutiveGatewayErrors", od->consecutive_gateway_errors);
    num_opt(w, "consecutiveLocalOriginFailures",
            od->consecutive_local_origin_failures);
    if (od->split_external_local_origin_errors)
      boolean(w, "splitExternalLocalOriginErrors", 1);
    duration(w, "interval", od->interval_ms);
    duration(w, "baseEjectionTime", od->base_ejection_time_ms);
    num_opt(w, "maxEjectionPercent", od->max_ejection_percent);
    num_opt(w, "minHealthPercent", od->min_health_percent);
    close_obj(w);
  }
  if (p->tls.present) {
    static const char *const modes[] = {"DISABLE", "SIMPLE", "MUTUAL",
                                        "ISTIO_MUTUAL"};
    open_obj(w, "tls");
    str(w, "mode", modes[p->tls.mode]);
    str(w, "sni", p->tls.sni);
    str(w, "caCertificates", p->tls.ca_certificates);
    str(w, "credentialName", p->tls.credential_name);
    strs(w, "subjectAltNames", &p->tls.subject_alt_names);
    tri(w, "insecureSkipVerify", p->tls.insecure_skip_verify);
    close_obj(w);
  }
  if (p->retry_budget.present) {
    open_obj(w, "retryBudget");
    if (p->retry_budget.percent >= 0) {
      key(w, "percent");
      ml_buf_printf(w->b, "%g", p->retry_budget.percent);
    }
    num_opt(w, "minRetryConcurrency", p->retry_budget.min_retry_concurrency);
    close_obj(w);
  }
  if (p->port_level_count) {
    open_arr(w, "portLevelSettings");
    for (size_t i = 0; i < p->port_level_count; i++) {
      const ml_port_traffic_policy *pl = &p->port_level_settings[i];
      open_obj(w, NULL);
      open_obj(w, "port");
      num(w, "number", pl->port);
      close_obj(w);
      traffic_policy(w, "policy", &pl->policy);
      close_obj(w);
    }
    close_arr(w);
  }
  close_obj(w);
}

static void destination_rule(jw *w, const ml_destination_rule *dr) {
  open_obj(w, NULL);
  meta(w, &dr->meta);
  open_obj(w, "spec");
  str(w, "host", dr->host_fqdn ? dr->host_fqdn : dr->host);
  if (dr->traffic_policy)
    traffic_policy(w, "trafficPolicy", dr->traffic_policy);
  if (dr->subset_count) {
    open_arr(w, "subsets");
    for (size_t i = 0; i < dr->subset_count; i++) {
      const ml_subset *s = &dr->subsets[i];
      open_obj(w, NULL);
      str(w, "name", s->name);
      kvs(w, "labels", &s->labels);
      if (s->traffic_policy)
        traffic_policy(w, "trafficPolicy", s->traffic_policy);
      close_obj(w);
    }
    close_arr(w);
  }
  strs(w, "exportTo", &dr->export_to);
  if (dr->workload_selector.count) {
    open_obj(w, "workloadSelector");
    kvs(w, "matchLabels", &dr->workload_selector);
    close_obj(w);
  }
  close_obj(w);
  close_obj(w);
}

static void workload_entry_spec(jw *w, const ml_workload_entry_spec *e) {
  str(w, "address", e->address);
  if (e->ports.count) {
    open_obj(w, "ports");
    for (size_t i = 0; i < e->ports.count; i++) {
      key(w, e->ports.items[i].key);
      ml_buf_puts(w->b, e->ports.items[i].value); /* a number */
    }
    close_obj(w);
  }
  kvs(w, "labels", &e->labels);
  str(w, "network", e->network);
  str(w, "locality", e->locality);
  num_opt(w, "weight", e->weight);
  str(w, "serviceAccount", e->service_account);
}

static void service_entry(jw *w, const ml_service_entry *se) {
  static const char *const resolutions[] = {"NONE", "STATIC", "DNS",
                                            "DNS_ROUND_ROBIN", "DYNAMIC_DNS"};
  open_obj(w, NULL);
  meta(w, &se->meta);
  open_obj(w, "spec");
  strs(w, "hosts", &se->hosts);
  strs(w, "addresses", &se->addresses);
  if (se->port_count) {
    open_arr(w, "ports");
    for (size_t i = 0; i < se->port_count; i++) {
      const ml_service_port *p = &se->ports[i];
      open_obj(w, NULL);
      num(w, "number", p->number);
      str(w, "protocol", p->protocol);
      str(w, "name", p->name);
      if (p->target_port)
        num(w, "targetPort", p->target_port);
      close_obj(w);
    }
    close_arr(w);
  }
  str(w, "location", se->location_internal ? "MESH_INTERNAL" : "MESH_EXTERNAL");
  str(w, "resolution", resolutions[se->resolution]);
  if (se->endpoint_count) {
    open_arr(w, "endpoints");
    for (size_t i = 0; i < se->endpoint_count; i++) {
      open_obj(w, NULL);
      workload_entry_spec(w, &se->endpoints[i]);
      close_obj(w);
    }
    close_arr(w);
  }
  if (se->has_workload_selector) {
    open_obj(w, "workloadSelector");
    kvs(w, "labels", &se->workload_selector);
    close_obj(w);
  }
  strs(w, "exportTo", &se->export_to);
  strs(w, "subjectAltNames", &se->subject_alt_names);
  close_obj(w);
  close_obj(w);
}

char *ml_admin_config_dump(const ml_mem *mem, const ml_snapshot *snap,
                           const ml_config_figures *st,
                           const ml_telemetry_settings *s, size_t *len) {
  ml_buf b;
  ml_buf_init(&b, mem);
  jw w = {&b, 1};
  const ml_config *c = snap->config;
  open_obj(&w, NULL);
  num(&w, "version", (int64_t)snap->version);
  open_obj(&w, "status");
  num(&w, "applied_total", (int64_t)st->applied_total);
  num(&w, "rejected_total", (int64_t)st->rejected_total);
  if (st->last_applied_unix_ms)
    num(&w, "last_applied_unix_ms", st->last_applied_unix_ms);
  if (st->last_rejected_unix_ms) {
    open_obj(&w, "last_rejected");
    num(&w, "version", (int64_t)st->last_rejected_version);
    str(&w, "reason", st->last_rejected_reason);
    num(&w, "unix_ms", st->last_rejected_unix_ms);
    close_obj(&w);
  }
  close_obj(&w);
  open_obj(&w, "workload");
  str(&w, "name",
      s->metrics->workload_name[0] ? s->metrics->workload_name : NULL);
  str(&w, "namespace", s->namespace_);
  str(&w, "domainSuffix", s->domain_suffix);
  ml_kv_list labels = {(ml_kv *)s->labels, s->label_count};
  kvs(&w, "labels", &labels);
  close_obj(&w);
  open_obj(&w, "configs");
  open_arr(&w, "virtualServices");
  for (size_t i = 0; c && i < c->vs_count; i++)
    virtual_service(&w, c->virtual_services[i]);
  close_arr(&w);
  open_arr(&w, "destinationRules");
  for (size_t i = 0; c && i < c->dr_count; i++)
    destination_rule(&w, c->destination_rules[i]);
  close_arr(&w);
  open_arr(&w, "serviceEntries");
  for (size_t i = 0; c && i < c->se_count; i++)
    service_entry(&w, c->service_entries[i]);
  close_arr(&w);
  open_arr(&w, "workloadEntries");
  for (size_t i = 0; c && i < c->we_count; i++) {
    const ml_workload_entry *we = c->workload_entries[i];
    open_obj(&w, NULL);
    meta(&w, &we->meta);
    open_obj(&w, "spec");
    workload_entry_spec(&w, &we->spec);
    close_obj(&w);
    close_obj(&w);
  }
  close_arr(&w);
  close_obj(&w);
  close_obj(&w);
  return finish(&b, len);
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
  jw w = {&b, 1};
  const ml_config *c = snap->config;
  open_obj(&w, NULL);
  num(&w, "version", (int64_t)snap->version);
  open_arr(&w, "routes");
  for (size_t i = 0; c && i < c->vs_count; i++) {
    const ml_virtual_service *vs = c->virtual_services[i];
    for (size_t j = 0; j < vs->http_count; j++) {
      const ml_http_route *r = &vs->http[j];
      open_obj(&w, NULL);
      str(&w, "name", r->name ? r->name : "");
      num(&w, "index", (int64_t)j);
      ml_buf_reset(&t);
      ml_buf_printf(&t, "%s.%s", vs->meta.name ? vs->meta.name : "",
                    vs->meta.namespace_ ? vs->meta.namespace_ : "");
      str(&w, "virtual_service", t.data ? t.data : "");
      open_arr(&w, "hosts");
      for (size_t h = 0; h < vs->hosts.count; h++)
        str(&w, NULL,
            vs->host_fqdns && vs->host_fqdns[h] ? vs->host_fqdns[h]
                                                : vs->hosts.items[h]);
      close_arr(&w);
      open_arr(&w, "match");
      for (size_t k = 0; k < r->match_count; k++) {
        ml_buf_reset(&t);
        match_text(&t, &r->matches[k]);
        str(&w, NULL, t.data ? t.data : "");
      }
      if (!r->match_count)
        str(&w, NULL, "/*");
      close_arr(&w);
      open_arr(&w, "destinations");
      for (size_t k = 0; k < r->route_count; k++) {
        const ml_route_destination *d = &r->route[k];
        open_obj(&w, NULL);
        str(&w, "host",
            d->destination.fqdn ? d->destination.fqdn : d->destination.host);
        str(&w, "subset", d->destination.subset);
        if (d->destination.port)
          num(&w, "port", d->destination.port);
        num(&w, "weight",
            d->weight >= 0        ? d->weight
            : r->route_count == 1 ? 100
                                  : 0);
        close_obj(&w);
      }
      close_arr(&w);
      if (r->redirect)
        str(&w, "action", "redirect");
      else if (r->direct_response)
        str(&w, "action", "direct_response");
      else
        str(&w, "action", "route");
      duration(&w, "timeout", r->timeout_ms);
      if (r->retries) {
        open_obj(&w, "retries");
        num_opt(&w, "attempts", r->retries->attempts);
        duration(&w, "perTryTimeout", r->retries->per_try_timeout_ms);
        str(&w, "retryOn", r->retries->retry_on);
        close_obj(&w);
      }
      if (r->fault)
        boolean(&w, "fault", 1);
      close_obj(&w);
    }
  }
  close_arr(&w);
  close_obj(&w);
  ml_buf_free(&t);
  return finish(&b, len);
}

/* ---- /clusters: the picture meshlib_clusters_snapshot() takes -------- */

char *ml_admin_clusters(const ml_mem *mem, const meshlib_clusters *c,
                        uint64_t version, size_t *len) {
  ml_buf b;
  ml_buf_init(&b, mem);
  jw w = {&b, 1};
  open_obj(&w, NULL);
  num(&w, "version", (int64_t)version);
  open_arr(&w, "clusters");
  for (size_t i = 0; i < meshlib_clusters_count(c); i++) {
    const char *subset = meshlib_cluster_subset(c, i);
    open_obj(&w, NULL);
    str(&w, "name", meshlib_cluster_name(c, i));
    str(&w, "service", meshlib_cluster_host(c, i));
    num(&w, "port", meshlib_cluster_port(c, i));
    str(&w, "subset", subset ? subset : "");
    str(&w, "direction", "outbound");
    str(&w, "lb_policy", meshlib_cluster_lb(c, i));
    size_t n = meshlib_cluster_endpoint_count(c, i), healthy = 0;
    open_arr(&w, "endpoints");
    for (size_t j = 0; j < n; j++) {
      meshlib_endpoint_state e;
      if (meshlib_cluster_endpoint(c, i, j, &e) != MESHLIB_OK)
        continue;
      healthy += !e.ejected;
      open_obj(&w, NULL);
      str(&w, "address", e.address);
      num(&w, "port", e.port);
      num(&w, "weight", e.weight ? e.weight : 1);
      str(&w, "health", e.ejected ? "UNHEALTHY" : "HEALTHY");
      boolean(&w, "ejected", e.ejected);
      str(&w, "outlier_check", e.ejected ? "FAILED" : "OK");
      num(&w, "in_flight", e.in_flight);
      if (e.ejected)
        num(&w, "ejected_for_ms", e.ejected_for_ms);
      num(&w, "ejection_count", e.ejection_count);
      num(&w, "consecutive_5xx", e.consecutive_5xx);
      num(&w, "consecutive_gateway_failure", e.consecutive_gateway_failure);
      num(&w, "consecutive_local_origin_failure",
          e.consecutive_local_origin_failure);
      str(&w, "locality", e.locality);
      size_t nl = meshlib_cluster_endpoint_label_count(c, i, j);
      if (nl) {
        open_obj(&w, "labels");
        for (size_t k = 0; k < nl; k++) {
          const char *lk, *lv;
          if (meshlib_cluster_endpoint_label(c, i, j, k, &lk, &lv) ==
              MESHLIB_OK)
            str(&w, lk, lv);
        }
        close_obj(&w);
      }
      close_obj(&w);
    }
    close_arr(&w);
    num(&w, "endpoints_total", (int64_t)n);
    num(&w, "endpoints_healthy", (int64_t)healthy);
    open_obj(&w, "stats");
    for (int s = 0; s < MESHLIB_CLUSTER_STAT_COUNT; s++) {
      const char *name = meshlib_cluster_stat_name((meshlib_cluster_stat)s);
      if (name)
        num(&w, name,
            (int64_t)meshlib_cluster_stat_value(c, i, (meshlib_cluster_stat)s));
    }
    close_obj(&w);
    close_obj(&w);
  }
  close_arr(&w);
  close_obj(&w);
  return finish(&b, len);
}
