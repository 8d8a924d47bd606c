/* SPDX-License-Identifier: MIT */
/* DestinationRule spec -> ml_destination_rule (traffic policies, subsets),
 * with the checks Istio's validation makes. */
#include "config/load_internal.h"

#include <stdint.h>
#include <string.h>

static void policy_init(ml_traffic_policy *p) {
  memset(p, 0, sizeof(*p));
  p->load_balancer.warmup_duration_ms = -1;
  ml_connection_pool *c = &p->connection_pool;
  c->max_connections = c->connect_timeout_ms = -1;
  c->tcp_keepalive.probes = c->tcp_keepalive.time_ms = -1;
  c->tcp_keepalive.interval_ms = -1;
  c->max_connection_duration_ms = c->tcp_idle_timeout_ms = -1;
  c->http1_max_pending_requests = c->http2_max_requests = -1;
  c->max_requests_per_connection = c->max_retries = -1;
  c->http_idle_timeout_ms = c->max_concurrent_streams = -1;
  ml_outlier_detection *o = &p->outlier_detection;
  o->consecutive_5xx_errors = o->consecutive_gateway_errors = -1;
  o->consecutive_local_origin_failures = -1;
  o->interval_ms = o->base_ejection_time_ms = -1;
  o->max_ejection_percent = o->min_health_percent = -1;
  p->tls.insecure_skip_verify = ML_TRI_UNSET;
  p->retry_budget.percent = -1;
  p->retry_budget.min_retry_concurrency = -1;
}

static int is_prime(int64_t n) {
  if (n < 2)
    return 0;
  for (int64_t d = 2; d * d <= n; d++)
    if (n % d == 0)
      return 0;
  return 1;
}

static void read_consistent_hash(ml_loader *L, const ynode *n,
                                 ml_consistent_hash *h) {
  int keys = 0, algos = 0;
  int64_t old_ring = -1;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "httpHeaderName")) {
      if (ml_ld_str(L, it.v, &h->http_header_name)) {
        h->key = ML_HASH_HEADER;
        keys++;
      }
    } else if (ml_key(&it, "httpCookie")) {
      if (!ml_ld_map(L, it.v))
        continue;
      h->key = ML_HASH_COOKIE;
      keys++;
      int has_ttl = 0;
      ml_miter ci;
      ml_miter_init(L, &ci, it.v);
      while (ml_miter_next(L, &ci)) {
        if (ml_key(&ci, "name"))
          ml_ld_str(L, ci.v, &h->cookie_name);
        else if (ml_key(&ci, "path"))
          ml_ld_str(L, ci.v, &h->cookie_path);
        else if (ml_key(&ci, "ttl"))
          has_ttl = ml_ld_duration(L, ci.v, &h->cookie_ttl_ms);
        else if (ml_key(&ci, "attributes"))
          ml_ld_seq(L, ci.v); /* [1.28+]: parsed, not used */
        else
          ml_ld_unknown(L, &ci);
      }
      if (!h->cookie_name || !*h->cookie_name)
        ml_ld_err(L, it.v, "name is required for httpCookie");
      if (!has_ttl && !ml_ld_get(it.v, "ttl"))
        ml_ld_err(L, it.v, "ttl is required for httpCookie");
    } else if (ml_key(&it, "useSourceIp")) {
      int b;
      if (ml_ld_bool(L, it.v, &b) && b) {
        h->key = ML_HASH_SOURCE_IP;
        keys++;
      }
    } else if (ml_key(&it, "httpQueryParameterName")) {
      if (ml_ld_str(L, it.v, &h->http_query_parameter_name)) {
        h->key = ML_HASH_QUERY_PARAM;
        keys++;
      }
    } else if (ml_key(&it, "ringHash")) {
      if (!ml_ld_map(L, it.v))
        continue;
      h->algo = ML_HASH_ALGO_RING;
      algos++;
      ml_miter ri;
      ml_miter_init(L, &ri, it.v);
      while (ml_miter_next(L, &ri)) {
        if (ml_key(&ri, "minimumRingSize"))
          ml_ld_int(L, ri.v, 0, INT64_MAX, &h->minimum_ring_size);
        else
          ml_ld_unknown(L, &ri);
      }
    } else if (ml_key(&it, "maglev")) {
      if (!ml_ld_map(L, it.v))
        continue;
      h->algo = ML_HASH_ALGO_MAGLEV;
      algos++;
      ml_miter mi;
      ml_miter_init(L, &mi, it.v);
      while (ml_miter_next(L, &mi)) {
        if (ml_key(&mi, "tableSize")) {
          /* Envoy wants a prime below 5000011. */
          if (ml_ld_int(L, mi.v, 0, 5000010, &h->maglev_table_size) &&
              h->maglev_table_size != 0 && !is_prime(h->maglev_table_size))
            ml_ld_err(L, mi.v, "tableSize must be a prime number");
        } else {
          ml_ld_unknown(L, &mi);
        }
      }
    } else if (ml_key(&it, "minimumRingSize")) {
      ml_ld_int(L, it.v, 0, INT64_MAX, &old_ring);
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (keys > 1)
    ml_ld_err(L, n,
              "only one of httpHeaderName, httpCookie, useSourceIp or "
              "httpQueryParameterName may be set");
  if (algos > 1)
    ml_ld_err(L, n, "only one of ringHash or maglev may be set");
  /* The deprecated top-level minimumRingSize counts for ring hash. */
  if (h->minimum_ring_size < 0 && old_ring >= 0 &&
      h->algo != ML_HASH_ALGO_MAGLEV)
    h->minimum_ring_size = old_ring;
}

static void read_load_balancer(ml_loader *L, const ynode *n,
                               ml_load_balancer *lb) {
  static const char *const simple[] = {
      "UNSPECIFIED", "LEAST_CONN",    "RANDOM", "PASSTHROUGH",
      "ROUND_ROBIN", "LEAST_REQUEST", NULL};
  if (!ml_ld_map(L, n))
    return;
  lb->present = 1;
  int has_simple = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "simple")) {
      int v;
      if (ml_ld_enum(L, it.v, simple, &v)) {
        lb->simple = (ml_lb_simple)v;
        has_simple = 1;
      }
    } else if (ml_key(&it, "consistentHash")) {
      if (!ml_ld_map(L, it.v))
        continue;
      ml_consistent_hash *h = ml_ld_alloc(L, 1, sizeof(*h));
      if (!h)
        return;
      h->cookie_ttl_ms = -1;
      h->minimum_ring_size = -1;
      h->maglev_table_size = -1;
      read_consistent_hash(L, it.v, h);
      lb->consistent_hash = h;
    } else if (ml_key(&it, "localityLbSetting")) {
      if (ml_ld_map(L, it.v))
        lb->has_locality_lb_setting = 1;
    } else if (ml_key(&it, "warmupDurationSecs")) {
      ml_ld_duration(L, it.v, &lb->warmup_duration_ms);
    } else if (ml_key(&it, "warmup")) {
      /* [1.24+] {duration, minimumPercent, aggression}: the duration is
       * kept (warmupDurationSecs wins when both are set). */
      if (!ml_ld_map(L, it.v))
        continue;
      int64_t d = -1;
      double x;
      ml_miter wi;
      ml_miter_init(L, &wi, it.v);
      while (ml_miter_next(L, &wi)) {
        if (ml_key(&wi, "duration"))
          ml_ld_duration(L, wi.v, &d);
        else if (ml_key(&wi, "minimumPercent") || ml_key(&wi, "aggression"))
          ml_ld_double(L, wi.v, &x);
        else
          ml_ld_unknown(L, &wi);
      }
      if (d >= 0 && !ml_ld_get(n, "warmupDurationSecs"))
        lb->warmup_duration_ms = d;
    } else if (ml_key(&it, "zoneAwareLbSetting")) {
      ml_ld_map(L, it.v); /* [master]: accepted, not used */
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (has_simple && lb->consistent_hash)
    ml_ld_err(L, n, "only one of simple or consistentHash may be set");
}

static void read_pool(ml_loader *L, const ynode *n, ml_connection_pool *c) {
  static const char *const h2[] = {"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE",
                                   NULL};
  if (!ml_ld_map(L, n))
    return;
  c->present = 1;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "tcp")) {
      if (!ml_ld_map(L, it.v))
        continue;
      ml_miter ti;
      ml_miter_init(L, &ti, it.v);
      while (ml_miter_next(L, &ti)) {
        if (ml_key(&ti, "maxConnections")) {
          ml_ld_int(L, ti.v, 0, INT32_MAX, &c->max_connections);
        } else if (ml_key(&ti, "connectTimeout")) {
          ml_ld_duration(L, ti.v, &c->connect_timeout_ms);
        } else if (ml_key(&ti, "tcpKeepalive")) {
          if (!ml_ld_map(L, ti.v))
            continue;
          c->has_tcp_keepalive = 1;
          ml_miter ki;
          ml_miter_init(L, &ki, ti.v);
          while (ml_miter_next(L, &ki)) {
            if (ml_key(&ki, "probes"))
              ml_ld_int(L, ki.v, 0, UINT32_MAX, &c->tcp_keepalive.probes);
            else if (ml_key(&ki, "time"))
              ml_ld_duration(L, ki.v, &c->tcp_keepalive.time_ms);
            else if (ml_key(&ki, "interval"))
              ml_ld_duration(L, ki.v, &c->tcp_keepalive.interval_ms);
            else
              ml_ld_unknown(L, &ki);
          }
        } else if (ml_key(&ti, "maxConnectionDuration")) {
          ml_ld_duration(L, ti.v, &c->max_connection_duration_ms);
        } else if (ml_key(&ti, "idleTimeout")) {
          ml_ld_duration(L, ti.v, &c->tcp_idle_timeout_ms);
        } else {
          ml_ld_unknown(L, &ti);
        }
      }
    } else if (ml_key(&it, "http")) {
      if (!ml_ld_map(L, it.v))
        continue;
      ml_miter hi;
      ml_miter_init(L, &hi, it.v);
      while (ml_miter_next(L, &hi)) {
        if (ml_key(&hi, "http1MaxPendingRequests")) {
          ml_ld_int(L, hi.v, 0, INT32_MAX, &c->http1_max_pending_requests);
        } else if (ml_key(&hi, "http2MaxRequests")) {
          ml_ld_int(L, hi.v, 0, INT32_MAX, &c->http2_max_requests);
        } else if (ml_key(&hi, "maxRequestsPerConnection")) {
          ml_ld_int(L, hi.v, 0, INT32_MAX, &c->max_requests_per_connection);
        } else if (ml_key(&hi, "maxRetries")) {
          ml_ld_int(L, hi.v, 0, INT32_MAX, &c->max_retries);
        } else if (ml_key(&hi, "idleTimeout")) {
          ml_ld_duration(L, hi.v, &c->http_idle_timeout_ms);
        } else if (ml_key(&hi, "h2UpgradePolicy")) {
          int v;
          if (ml_ld_enum(L, hi.v, h2, &v))
            c->h2_upgrade_policy = h2[v];
        } else if (ml_key(&hi, "useClientProtocol")) {
          ml_ld_bool(L, hi.v, &c->use_client_protocol);
        } else if (ml_key(&hi, "maxConcurrentStreams")) {
          ml_ld_int(L, hi.v, 0, INT32_MAX, &c->max_concurrent_streams);
        } else if (ml_key(&hi, "http2KeepAlive")) {
          ml_ld_map(L, hi.v); /* [master]: accepted, not used */
        } else {
          ml_ld_unknown(L, &hi);
        }
      }
    } else {
      ml_ld_unknown(L, &it);
    }
  }
}

static void read_outlier(ml_loader *L, const ynode *n,
                         ml_outlier_detection *o) {
  if (!ml_ld_map(L, n))
    return;
  o->present = 1;
  int64_t old = -1;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "consecutive5xxErrors")) {
      ml_ld_int(L, it.v, 0, UINT32_MAX, &o->consecutive_5xx_errors);
    } else if (ml_key(&it, "consecutiveGatewayErrors")) {
      ml_ld_int(L, it.v, 0, UINT32_MAX, &o->consecutive_gateway_errors);
    } else if (ml_key(&it, "consecutiveLocalOriginFailures")) {
      ml_ld_int(L, it.v, 0, UINT32_MAX, &o->consecutive_local_origin_failures);
    } else if (ml_key(&it, "splitExternalLocalOriginErrors")) {
      ml_ld_bool(L, it.v, &o->split_external_local_origin_errors);
    } else if (ml_key(&it, "interval")) {
      ml_ld_duration(L, it.v, &o->interval_ms);
    } else if (ml_key(&it, "baseEjectionTime")) {
      ml_ld_duration(L, it.v, &o->base_ejection_time_ms);
    } else if (ml_key(&it, "maxEjectionPercent")) {
      ml_ld_int(L, it.v, 0, 100, &o->max_ejection_percent);
    } else if (ml_key(&it, "minHealthPercent")) {
      ml_ld_int(L, it.v, 0, 100, &o->min_health_percent);
    } else if (ml_key(&it, "consecutiveErrors")) {
      if (ml_ld_int(L, it.v, 0, INT32_MAX, &old))
        ml_ld_warn(L, it.v,
                   "consecutiveErrors is deprecated; use "
                   "consecutiveGatewayErrors or "
                   "consecutive5xxErrors");
    } else if (ml_key(&it, "outlierDetectionHttpErrorCodes")) {
      ml_ld_seq(L, it.v); /* [master]: accepted, not used */
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  /* Istio maps the deprecated consecutiveErrors to gateway errors only
   * (5xx ejection off), unless the newer fields say otherwise. */
  if (old > 0) {
    if (o->consecutive_gateway_errors < 0)
      o->consecutive_gateway_errors = old;
    if (o->consecutive_5xx_errors < 0)
      o->consecutive_5xx_errors = 0;
  }
}

static void read_tls(ml_loader *L, const ynode *n, ml_client_tls *t) {
  static const char *const modes[] = {"DISABLE", "SIMPLE", "MUTUAL",
                                      "ISTIO_MUTUAL", NULL};
  if (!ml_ld_map(L, n))
    return;
  t->present = 1;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    int v;
    if (ml_key(&it, "mode")) {
      if (ml_ld_enum(L, it.v, modes, &v))
        t->mode = (ml_tls_mode)v;
    } else if (ml_key(&it, "clientCertificate")) {
      ml_ld_str(L, it.v, &t->client_certificate);
    } else if (ml_key(&it, "privateKey")) {
      ml_ld_str(L, it.v, &t->private_key);
    } else if (ml_key(&it, "caCertificates")) {
      ml_ld_str(L, it.v, &t->ca_certificates);
    } else if (ml_key(&it, "caCrl")) {
      ml_ld_str(L, it.v, &t->ca_crl);
    } else if (ml_key(&it, "credentialName")) {
      ml_ld_str(L, it.v, &t->credential_name);
    } else if (ml_key(&it, "subjectAltNames")) {
      ml_ld_str_list(L, it.v, &t->subject_alt_names);
    } else if (ml_key(&it, "sni")) {
      ml_ld_str(L, it.v, &t->sni);
    } else if (ml_key(&it, "insecureSkipVerify")) {
      if (ml_ld_bool(L, it.v, &v))
        t->insecure_skip_verify = v ? ML_TRI_TRUE : ML_TRI_FALSE;
    } else {
      ml_ld_unknown(L, &it);
    }
  }
#define SET(s) ((s) && *(s))
  if (t->mode == ML_TLS_ISTIO_MUTUAL) {
    if (SET(t->client_certificate) || SET(t->private_key) ||
        SET(t->ca_certificates) || SET(t->credential_name) || SET(t->ca_crl))
      ml_ld_err(L, n,
                "ISTIO_MUTUAL takes no certificates, keys, CRL or "
                "credentialName");
  } else if (t->mode == ML_TLS_MUTUAL && !SET(t->credential_name)) {
    if (!SET(t->client_certificate))
      ml_ld_err(L, n, "clientCertificate is required for MUTUAL");
    if (!SET(t->private_key))
      ml_ld_err(L, n, "privateKey is required for MUTUAL");
  }
#undef SET
}

static void read_retry_budget(ml_loader *L, const ynode *n,
                              ml_retry_budget *b) {
  if (!ml_ld_map(L, n))
    return;
  b->present = 1;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "percent")) {
      /* DoubleValue: a bare number in JSON; {value: x} also taken. */
      double v = -1;
      if (it.v && it.v->type == YN_MAP) {
        ml_percent p = {-1};
        if (ml_ld_percent(L, it.v, &p))
          b->percent = p.value;
      } else if (ml_ld_double(L, it.v, &v)) {
        if (v < 0 || v > 100)
          ml_ld_err(L, it.v, "must be between 0 and 100, found %g", v);
        else
          b->percent = v;
      }
    } else if (ml_key(&it, "minRetryConcurrency")) {
      ml_ld_int(L, it.v, 0, UINT32_MAX, &b->min_retry_concurrency);
    } else if (ml_key(&it, "budgetInterval")) {
      int64_t d;
      ml_ld_duration(L, it.v, &d); /* [master]: accepted, not used */
    } else {
      ml_ld_unknown(L, &it);
    }
  }
}

static void read_policy(ml_loader *L, const ynode *n, ml_traffic_policy *p,
                        int port_level);

/* One of portLevelSettings[] (list items are never NULL nodes). */
static void read_port_level(ml_loader *L, const ynode *n, void *item) {
  ml_port_traffic_policy *pl = item;
  policy_init(&pl->policy);
  if (ml_ld_is_null(n))
    ml_ld_err(L, n, "must not be null");
  read_policy(L, n, &pl->policy, 1);
  const ynode *port = ml_ld_get(n, "port");
  if (port) {
    size_t mark = ml_ld_push(L, "port");
    ml_ld_port_selector(L, port, &pl->port);
    ml_ld_pop(L, mark);
  }
  if (!pl->port && n->type == YN_MAP && !L->nomem)
    ml_ld_field_err(L, "port", port ? port : n, "port.number is required");
}

static void read_policy(ml_loader *L, const ynode *n, ml_traffic_policy *p,
                        int port_level) {
  p->origin = ml_ld_origin(L, n);
  if (!ml_ld_map(L, n))
    return;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "loadBalancer"))
      read_load_balancer(L, it.v, &p->load_balancer);
    else if (ml_key(&it, "connectionPool"))
      read_pool(L, it.v, &p->connection_pool);
    else if (ml_key(&it, "outlierDetection"))
      read_outlier(L, it.v, &p->outlier_detection);
    else if (ml_key(&it, "tls"))
      read_tls(L, it.v, &p->tls);
    else if (port_level && ml_key(&it, "port"))
      ; /* read by the caller */
    else if (!port_level && ml_key(&it, "portLevelSettings"))
      p->port_level_settings =
          ml_ld_array(L, it.v, sizeof(*p->port_level_settings), read_port_level,
                      &p->port_level_count);
    else if (!port_level && ml_key(&it, "retryBudget"))
      read_retry_budget(L, it.v, &p->retry_budget);
    else if (!port_level &&
             (ml_key(&it, "tunnel") || ml_key(&it, "proxyProtocol")))
      ml_ld_map(L, it.v); /* not HTTP client behaviour: not used */
    else
      ml_ld_unknown(L, &it);
  }
}

static ml_traffic_policy *new_policy(ml_loader *L, const ynode *n) {
  if (ml_ld_is_null(n))
    return NULL;
  ml_traffic_policy *p = ml_ld_alloc(L, 1, sizeof(*p));
  if (!p)
    return NULL;
  policy_init(p);
  read_policy(L, n, p, 0);
  return p;
}

static void read_subset(ml_loader *L, const ynode *n, void *item) {
  ml_subset *s = item;
  s->origin = ml_ld_origin(L, n);
  if (!ml_ld_map_nonnull(L, n, "subset must not be null"))
    return;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "name"))
      ml_ld_str(L, it.v, &s->name);
    else if (ml_key(&it, "labels"))
      ml_ld_kv_map(L, it.v, &s->labels);
    else if (ml_key(&it, "trafficPolicy"))
      s->traffic_policy = new_policy(L, it.v);
    else
      ml_ld_unknown(L, &it);
  }
  if (!s->name || !*s->name)
    ml_ld_field_err(L, "name", ml_ld_where(L, n, "name"), "is required");
}

void ml_ld_destination_rule(ml_loader *L, const ynode *spec,
                            ml_destination_rule *dr) {
  if (ml_ld_map(L, spec)) {
    ml_miter it;
    ml_miter_init(L, &it, spec);
    while (ml_miter_next(L, &it)) {
      if (ml_key(&it, "host")) {
        ml_ld_str(L, it.v, &dr->host);
      } else if (ml_key(&it, "trafficPolicy")) {
        dr->traffic_policy = new_policy(L, it.v);
      } else if (ml_key(&it, "subsets")) {
        dr->subsets = ml_ld_array(L, it.v, sizeof(*dr->subsets), read_subset,
                                  &dr->subset_count);
      } else if (ml_key(&it, "exportTo")) {
        ml_ld_str_list(L, it.v, &dr->export_to);
      } else if (ml_key(&it, "workloadSelector")) {
        if (!ml_ld_map(L, it.v))
          continue;
        ml_miter wi;
        ml_miter_init(L, &wi, it.v);
        while (ml_miter_next(L, &wi)) {
          if (ml_key(&wi, "matchLabels"))
            ml_ld_kv_map(L, wi.v, &dr->workload_selector);
          else
            ml_ld_unknown(L, &wi);
        }
      } else {
        ml_ld_unknown(L, &it);
      }
    }
  }
  if (!dr->host || !*dr->host)
    ml_ld_field_err(L, "host", ml_ld_where(L, spec, "host"), "is required");
  else
    dr->host_fqdn = ml_ld_host_fqdn(L, dr->host);
}
