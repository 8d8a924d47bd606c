/* SPDX-License-Identifier: MIT */
/* The config model as JSON (model_json.h): Istio's shape for the admin
 * listener, the flat shape for meshctl route --json. */
#include <inttypes.h>
#include "config/model_json.h"

#define ISTIO(st) ((st) == ML_MODEL_JSON_ISTIO)
/* The member name in each shape. */
#define K(st, istio, flat) (ISTIO(st) ? (istio) : (flat))

/* ---- absent values in each shape --------------------------------------- */

static void str(ml_json *w, ml_model_json_style st, const char *key,
                const char *v) {
  if (v || !ISTIO(st))
    ml_json_str(w, key, v);
}

/* |v| < 0: absent. */
static void num(ml_json *w, ml_model_json_style st, const char *key,
                int64_t v) {
  if (v >= 0)
    ml_json_int(w, key, v);
  else if (!ISTIO(st))
    ml_json_null(w, key);
}

/* Pieces that are NULL when absent. 1: go on and write it. */
static int present(ml_json *w, ml_model_json_style st, const char *key,
                   const void *p) {
  if (!p && !ISTIO(st))
    ml_json_null(w, key);
  return p != NULL;
}

static void tri(ml_json *w, const char *key, int v) {
  if (v != ML_TRI_UNSET)
    ml_json_bool(w, key, v == ML_TRI_TRUE);
}

/* Istio's Percent: {"value": x}; a number in the flat shape, 0 when
 * absent (nothing is delayed or aborted). */
static void percent(ml_json *w, ml_model_json_style st, const char *key,
                    ml_percent p) {
  if (!ISTIO(st)) {
    ml_json_double(w, key, p.value < 0 ? 0 : p.value);
  } else if (p.value >= 0) {
    ml_json_obj(w, key);
    ml_json_double(w, "value", p.value);
    ml_json_end(w);
  }
}

/* ---- pieces both shapes write ------------------------------------------ */

void ml_model_json_duration(ml_json *w, ml_model_json_style st, const char *key,
                            int64_t ms) {
  if (!ISTIO(st))
    num(w, st, key, ms);
  else if (ms >= 0 && ms % 1000 == 0)
    ml_json_strf(w, key, "%" PRId64 "s", ms / 1000);
  else if (ms >= 0)
    ml_json_strf(w, key, "%" PRId64 ".%03" PRId64 "s", ms / 1000, ms % 1000);
}

void ml_model_json_kvs(ml_json *w, ml_model_json_style st, const char *key,
                       const ml_kv_list *l) {
  if (!l->count && ISTIO(st))
    return;
  ml_json_obj(w, key);
  for (size_t i = 0; i < l->count; i++)
    str(w, st, l->items[i].key, l->items[i].value);
  ml_json_end(w);
}

void ml_model_json_strs(ml_json *w, ml_model_json_style st, const char *key,
                        const ml_str_list *l) {
  if (!l->count && ISTIO(st))
    return;
  ml_json_arr(w, key);
  for (size_t i = 0; i < l->count; i++)
    str(w, st, NULL, l->items[i]);
  ml_json_end(w);
}

static int header_ops_empty(const ml_header_ops *o) {
  return !o->set.count && !o->add.count && !o->remove.count;
}

int ml_model_json_headers_empty(const ml_headers *h) {
  return header_ops_empty(&h->request) && header_ops_empty(&h->response);
}

static void header_ops(ml_json *w, ml_model_json_style st, const char *key,
                       const ml_header_ops *o) {
  if (header_ops_empty(o) && ISTIO(st))
    return;
  ml_json_obj(w, key);
  ml_model_json_kvs(w, st, "set", &o->set);
  ml_model_json_kvs(w, st, "add", &o->add);
  ml_model_json_strs(w, st, "remove", &o->remove);
  ml_json_end(w);
}

void ml_model_json_headers(ml_json *w, ml_model_json_style st, const char *key,
                           const ml_headers *h) {
  if (!present(w, st, key, h && !ml_model_json_headers_empty(h) ? h : NULL))
    return;
  ml_json_obj(w, key);
  header_ops(w, st, "request", &h->request);
  header_ops(w, st, "response", &h->response);
  ml_json_end(w);
}

void ml_model_json_rewrite(ml_json *w, ml_model_json_style st, const char *key,
                           const ml_http_rewrite *rw) {
  if (!present(w, st, key, rw))
    return;
  ml_json_obj(w, key);
  str(w, st, "uri", rw->uri);
  str(w, st, "authority", rw->authority);
  const char *k = K(st, "uriRegexRewrite", "uri_regex_rewrite");
  if (present(w, st, k, rw->regex_match)) {
    ml_json_obj(w, k);
    str(w, st, "match", rw->regex_match);
    str(w, st, "rewrite", rw->regex_rewrite);
    ml_json_end(w);
  }
  ml_json_end(w);
}

void ml_model_json_redirect(ml_json *w, ml_model_json_style st, const char *key,
                            const ml_http_redirect *rd) {
  if (!present(w, st, key, rd))
    return;
  ml_json_obj(w, key);
  str(w, st, "uri", rd->uri);
  str(w, st, "authority", rd->authority);
  str(w, st, "scheme", rd->scheme);
  num(w, st, "port", rd->port ? (int64_t)rd->port : -1);
  ml_json_int(w, K(st, "redirectCode", "redirect_code"), rd->redirect_code);
  ml_json_end(w);
}

void ml_model_json_direct_response(ml_json *w, ml_model_json_style st,
                                   const char *key,
                                   const ml_direct_response *dr) {
  if (!present(w, st, key, dr))
    return;
  ml_json_obj(w, key);
  ml_json_int(w, "status", dr->status);
  if (!ISTIO(st)) {
    ml_json_strn(w, "body", dr->body, dr->body_len);
  } else if (dr->body) {
    ml_json_obj(w, "body");
    ml_json_strn(w, "string", dr->body, dr->body_len);
    ml_json_end(w);
  }
  ml_json_end(w);
}

void ml_model_json_fault(ml_json *w, ml_model_json_style st, const char *key,
                         const ml_fault *f) {
  if (!present(w, st, key, f))
    return;
  ml_json_obj(w, key);
  if (present(w, st, "delay", f->has_delay ? f : NULL)) {
    ml_json_obj(w, "delay");
    if (ISTIO(st))
      ml_model_json_duration(w, st, "fixedDelay", f->delay_fixed_ms);
    else /* -1 when absent, as meshctl has always printed it */
      ml_json_int(w, "fixed_delay_ms", f->delay_fixed_ms);
    percent(w, st, "percentage", f->delay_percentage);
    ml_json_end(w);
  }
  if (present(w, st, "abort", f->has_abort ? f : NULL)) {
    ml_json_obj(w, "abort");
    num(w, st, K(st, "httpStatus", "http_status"),
        f->abort_http_status ? f->abort_http_status : -1);
    str(w, st, K(st, "grpcStatus", "grpc_status"), f->abort_grpc_status);
    percent(w, st, "percentage", f->abort_percentage);
    ml_json_end(w);
  }
  ml_json_end(w);
}

void ml_model_json_retry_fields(ml_json *w, ml_model_json_style st,
                                const ml_http_retry *r) {
  num(w, st, "attempts", r->attempts);
  ml_model_json_duration(w, st, K(st, "perTryTimeout", "per_try_timeout_ms"),
                         r->per_try_timeout_ms);
  str(w, st, K(st, "retryOn", "retry_on"), r->retry_on);
}

/* ---- Istio's shape: whole resources ------------------------------------ */

#define IST ML_MODEL_JSON_ISTIO

static void origin(ml_json *w, const ml_origin *o) {
  if (!o->file)
    return;
  if (o->line)
    ml_json_strf(w, "source", "%s:%" PRIu32, o->file, o->line);
  else
    ml_json_str(w, "source", o->file);
}

static void meta(ml_json *w, const ml_meta *m) {
  ml_json_obj(w, "metadata");
  str(w, IST, "name", m->name);
  str(w, IST, "namespace", m->namespace_);
  ml_model_json_kvs(w, IST, "labels", &m->labels);
  ml_json_end(w);
  str(w, IST, "apiVersion", m->api_version);
  str(w, IST, "kind", m->kind);
  origin(w, &m->origin);
}

static void string_match(ml_json *w, const char *key,
                         const ml_string_match *m) {
  static const char *const kinds[] = {NULL, "exact", "prefix", "regex", NULL};
  if (m->kind == ML_MATCH_NONE)
    return;
  ml_json_obj(w, key);
  if (m->kind != ML_MATCH_PRESENT) /* present: {} */
    ml_json_str(w, kinds[m->kind], m->value ? m->value : "");
  ml_json_end(w);
}

static void named_matches(ml_json *w, const char *key,
                          const ml_named_match_list *l) {
  if (!l->count)
    return;
  ml_json_obj(w, key);
  for (size_t i = 0; i < l->count; i++)
    string_match(w, l->items[i].name, &l->items[i].match);
  ml_json_end(w);
}

static void destination(ml_json *w, const char *key, const ml_destination *d) {
  ml_json_obj(w, key);
  str(w, IST, "host", d->fqdn ? d->fqdn : d->host);
  str(w, IST, "subset", d->subset);
  if (d->port) {
    ml_json_obj(w, "port");
    ml_json_int(w, "number", d->port);
    ml_json_end(w);
  }
  ml_json_end(w);
}

static void http_match(ml_json *w, const ml_http_match *m) {
  ml_json_obj(w, NULL);
  str(w, IST, "name", m->name);
  string_match(w, "uri", &m->uri);
  string_match(w, "scheme", &m->scheme);
  string_match(w, "method", &m->method);
  string_match(w, "authority", &m->authority);
  named_matches(w, "headers", &m->headers);
  named_matches(w, "withoutHeaders", &m->without_headers);
  named_matches(w, "queryParams", &m->query_params);
  if (m->ignore_uri_case)
    ml_json_bool(w, "ignoreUriCase", 1);
  if (m->port)
    ml_json_int(w, "port", m->port);
  ml_model_json_kvs(w, IST, "sourceLabels", &m->source_labels);
  str(w, IST, "sourceNamespace", m->source_namespace);
  ml_model_json_strs(w, IST, "gateways", &m->gateways);
  ml_json_end(w);
}

static void http_route(ml_json *w, const ml_http_route *r) {
  ml_json_obj(w, NULL);
  str(w, IST, "name", r->name);
  if (r->match_count) {
    ml_json_arr(w, "match");
    for (size_t i = 0; i < r->match_count; i++)
      http_match(w, &r->matches[i]);
    ml_json_end(w);
  }
  if (r->route_count) {
    ml_json_arr(w, "route");
    for (size_t i = 0; i < r->route_count; i++) {
      const ml_route_destination *d = &r->route[i];
      ml_json_obj(w, NULL);
      destination(w, "destination", &d->destination);
      num(w, IST, "weight", d->weight);
      ml_model_json_headers(w, IST, "headers", &d->headers);
      ml_json_end(w);
    }
    ml_json_end(w);
  }
  ml_model_json_redirect(w, IST, "redirect", r->redirect);
  ml_model_json_direct_response(w, IST, "directResponse", r->direct_response);
  ml_model_json_rewrite(w, IST, "rewrite", r->rewrite);
  ml_model_json_duration(w, IST, "timeout", r->timeout_ms);
  if (r->retries) {
    ml_json_obj(w, "retries");
    ml_model_json_retry_fields(w, IST, r->retries);
    tri(w, "retryRemoteLocalities", r->retries->retry_remote_localities);
    tri(w, "retryIgnorePreviousHosts", r->retries->retry_ignore_previous_hosts);
    ml_json_end(w);
  }
  ml_model_json_fault(w, IST, "fault", r->fault);
  if (r->mirror_count) {
    ml_json_arr(w, "mirrors");
    for (size_t i = 0; i < r->mirror_count; i++) {
      ml_json_obj(w, NULL);
      destination(w, "destination", &r->mirrors[i].destination);
      percent(w, IST, "percentage", r->mirrors[i].percentage);
      ml_json_end(w);
    }
    ml_json_end(w);
  }
  ml_model_json_headers(w, IST, "headers", &r->headers);
  origin(w, &r->origin);
  ml_json_end(w);
}

void ml_model_json_virtual_service(ml_json *w, const ml_virtual_service *vs) {
  ml_json_obj(w, NULL);
  meta(w, &vs->meta);
  ml_json_obj(w, "spec");
  ml_model_json_strs(w, IST, "hosts", &vs->hosts);
  ml_model_json_strs(w, IST, "gateways", &vs->gateways);
  ml_model_json_strs(w, IST, "exportTo", &vs->export_to);
  if (vs->http_count) {
    ml_json_arr(w, "http");
    for (size_t i = 0; i < vs->http_count; i++)
      http_route(w, &vs->http[i]);
    ml_json_end(w);
  }
  ml_json_end(w);
  ml_json_end(w);
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

static void consistent_hash(ml_json *w, const ml_consistent_hash *h) {
  ml_json_obj(w, "consistentHash");
  str(w, IST, "httpHeaderName", h->http_header_name);
  str(w, IST, "httpQueryParameterName", h->http_query_parameter_name);
  if (h->key == ML_HASH_SOURCE_IP)
    ml_json_bool(w, "useSourceIp", 1);
  if (h->cookie_name) {
    ml_json_obj(w, "httpCookie");
    str(w, IST, "name", h->cookie_name);
    str(w, IST, "path", h->cookie_path);
    ml_model_json_duration(w, IST, "ttl", h->cookie_ttl_ms);
    ml_json_end(w);
  }
  if (h->algo == ML_HASH_ALGO_MAGLEV) {
    ml_json_obj(w, "maglev");
    num(w, IST, "tableSize", h->maglev_table_size);
    ml_json_end(w);
  } else if (h->minimum_ring_size >= 0) {
    ml_json_obj(w, "ringHash");
    ml_json_int(w, "minimumRingSize", h->minimum_ring_size);
    ml_json_end(w);
  }
  ml_json_end(w);
}

static void connection_pool(ml_json *w, const ml_connection_pool *cp) {
  ml_json_obj(w, "connectionPool");
  ml_json_obj(w, "tcp");
  num(w, IST, "maxConnections", cp->max_connections);
  ml_model_json_duration(w, IST, "connectTimeout", cp->connect_timeout_ms);
  ml_model_json_duration(w, IST, "maxConnectionDuration",
                         cp->max_connection_duration_ms);
  ml_model_json_duration(w, IST, "idleTimeout", cp->tcp_idle_timeout_ms);
  ml_json_end(w);
  ml_json_obj(w, "http");
  num(w, IST, "http1MaxPendingRequests", cp->http1_max_pending_requests);
  num(w, IST, "http2MaxRequests", cp->http2_max_requests);
  num(w, IST, "maxRequestsPerConnection", cp->max_requests_per_connection);
  num(w, IST, "maxRetries", cp->max_retries);
  ml_model_json_duration(w, IST, "idleTimeout", cp->http_idle_timeout_ms);
  str(w, IST, "h2UpgradePolicy", cp->h2_upgrade_policy);
  num(w, IST, "maxConcurrentStreams", cp->max_concurrent_streams);
  ml_json_end(w);
  ml_json_end(w);
}

static void outlier_detection(ml_json *w, const ml_outlier_detection *od) {
  ml_json_obj(w, "outlierDetection");
  num(w, IST, "consecutive5xxErrors", od->consecutive_5xx_errors);
  num(w, IST, "consecutiveGatewayErrors", od->consecutive_gateway_errors);
  num(w, IST, "consecutiveLocalOriginFailures",
      od->consecutive_local_origin_failures);
  if (od->split_external_local_origin_errors)
    ml_json_bool(w, "splitExternalLocalOriginErrors", 1);
  ml_model_json_duration(w, IST, "interval", od->interval_ms);
  ml_model_json_duration(w, IST, "baseEjectionTime", od->base_ejection_time_ms);
  num(w, IST, "maxEjectionPercent", od->max_ejection_percent);
  num(w, IST, "minHealthPercent", od->min_health_percent);
  ml_json_end(w);
}

static void client_tls(ml_json *w, const ml_client_tls *t) {
  static const char *const modes[] = {"DISABLE", "SIMPLE", "MUTUAL",
                                      "ISTIO_MUTUAL"};
  ml_json_obj(w, "tls");
  str(w, IST, "mode", modes[t->mode]);
  str(w, IST, "sni", t->sni);
  str(w, IST, "caCertificates", t->ca_certificates);
  str(w, IST, "credentialName", t->credential_name);
  ml_model_json_strs(w, IST, "subjectAltNames", &t->subject_alt_names);
  tri(w, "insecureSkipVerify", t->insecure_skip_verify);
  ml_json_end(w);
}

static void traffic_policy(ml_json *w, const char *key,
                           const ml_traffic_policy *p) {
  ml_json_obj(w, key);
  const ml_load_balancer *lb = &p->load_balancer;
  if (lb->present) {
    ml_json_obj(w, "loadBalancer");
    str(w, IST, "simple", lb_simple_name(lb->simple));
    if (lb->consistent_hash)
      consistent_hash(w, lb->consistent_hash);
    ml_model_json_duration(w, IST, "warmupDurationSecs",
                           lb->warmup_duration_ms);
    ml_json_end(w);
  }
  if (p->connection_pool.present)
    connection_pool(w, &p->connection_pool);
  if (p->outlier_detection.present)
    outlier_detection(w, &p->outlier_detection);
  if (p->tls.present)
    client_tls(w, &p->tls);
  if (p->retry_budget.present) {
    ml_json_obj(w, "retryBudget");
    if (p->retry_budget.percent >= 0)
      ml_json_double(w, "percent", p->retry_budget.percent);
    num(w, IST, "minRetryConcurrency", p->retry_budget.min_retry_concurrency);
    ml_json_end(w);
  }
  if (p->port_level_count) {
    ml_json_arr(w, "portLevelSettings");
    for (size_t i = 0; i < p->port_level_count; i++) {
      const ml_port_traffic_policy *pl = &p->port_level_settings[i];
      ml_json_obj(w, NULL);
      ml_json_obj(w, "port");
      ml_json_int(w, "number", pl->port);
      ml_json_end(w);
      traffic_policy(w, "policy", &pl->policy);
      ml_json_end(w);
    }
    ml_json_end(w);
  }
  ml_json_end(w);
}

void ml_model_json_destination_rule(ml_json *w, const ml_destination_rule *dr) {
  ml_json_obj(w, NULL);
  meta(w, &dr->meta);
  ml_json_obj(w, "spec");
  str(w, IST, "host", dr->host_fqdn ? dr->host_fqdn : dr->host);
  if (dr->traffic_policy)
    traffic_policy(w, "trafficPolicy", dr->traffic_policy);
  if (dr->subset_count) {
    ml_json_arr(w, "subsets");
    for (size_t i = 0; i < dr->subset_count; i++) {
      const ml_subset *s = &dr->subsets[i];
      ml_json_obj(w, NULL);
      str(w, IST, "name", s->name);
      ml_model_json_kvs(w, IST, "labels", &s->labels);
      if (s->traffic_policy)
        traffic_policy(w, "trafficPolicy", s->traffic_policy);
      ml_json_end(w);
    }
    ml_json_end(w);
  }
  ml_model_json_strs(w, IST, "exportTo", &dr->export_to);
  if (dr->workload_selector.count) {
    ml_json_obj(w, "workloadSelector");
    ml_model_json_kvs(w, IST, "matchLabels", &dr->workload_selector);
    ml_json_end(w);
  }
  ml_json_end(w);
  ml_json_end(w);
}

static void workload_entry_spec(ml_json *w, const ml_workload_entry_spec *e) {
  str(w, IST, "address", e->address);
  if (e->ports.count) {
    ml_json_obj(w, "ports");
    for (size_t i = 0; i < e->ports.count; i++) /* numbers, as loaded */
      ml_json_raw(w, e->ports.items[i].key, e->ports.items[i].value);
    ml_json_end(w);
  }
  ml_model_json_kvs(w, IST, "labels", &e->labels);
  str(w, IST, "network", e->network);
  str(w, IST, "locality", e->locality);
  num(w, IST, "weight", e->weight);
  str(w, IST, "serviceAccount", e->service_account);
}

void ml_model_json_service_entry(ml_json *w, const ml_service_entry *se) {
  static const char *const resolutions[] = {"NONE", "STATIC", "DNS",
                                            "DNS_ROUND_ROBIN", "DYNAMIC_DNS"};
  ml_json_obj(w, NULL);
  meta(w, &se->meta);
  ml_json_obj(w, "spec");
  ml_model_json_strs(w, IST, "hosts", &se->hosts);
  ml_model_json_strs(w, IST, "addresses", &se->addresses);
  if (se->port_count) {
    ml_json_arr(w, "ports");
    for (size_t i = 0; i < se->port_count; i++) {
      const ml_service_port *p = &se->ports[i];
      ml_json_obj(w, NULL);
      ml_json_int(w, "number", p->number);
      str(w, IST, "protocol", p->protocol);
      str(w, IST, "name", p->name);
      if (p->target_port)
        ml_json_int(w, "targetPort", p->target_port);
      ml_json_end(w);
    }
    ml_json_end(w);
  }
  ml_json_str(w, "location",
              se->location_internal ? "MESH_INTERNAL" : "MESH_EXTERNAL");
  ml_json_str(w, "resolution", resolutions[se->resolution]);
  if (se->endpoint_count) {
    ml_json_arr(w, "endpoints");
    for (size_t i = 0; i < se->endpoint_count; i++) {
      ml_json_obj(w, NULL);
      workload_entry_spec(w, &se->endpoints[i]);
      ml_json_end(w);
    }
    ml_json_end(w);
  }
  if (se->has_workload_selector) {
    ml_json_obj(w, "workloadSelector");
    ml_model_json_kvs(w, IST, "labels", &se->workload_selector);
    ml_json_end(w);
  }
  ml_model_json_strs(w, IST, "exportTo", &se->export_to);
  ml_model_json_strs(w, IST, "subjectAltNames", &se->subject_alt_names);
  ml_json_end(w);
  ml_json_end(w);
}

void ml_model_json_workload_entry(ml_json *w, const ml_workload_entry *we) {
  ml_json_obj(w, NULL);
  meta(w, &we->meta);
  ml_json_obj(w, "spec");
  workload_entry_spec(w, &we->spec);
  ml_json_end(w);
  ml_json_end(w);
}
