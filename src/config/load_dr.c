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

/* ---- LoadBalancerSettings.ConsistentHashLB ------------------------------ */

/* The hash being read, with the deprecated top-level minimumRingSize. */
typedef struct hash_draft {
  ml_consistent_hash h;
  int64_t old_ring_size;
} hash_draft;

static int read_hash_header(ml_walk *w, const ynode *v, void *dst) {
  ml_consistent_hash *h = dst;
  if (!ml_ld_str(w->L, v, &h->http_header_name))
    return 0;
  h->key = ML_HASH_HEADER;
  return 1;
}

static const ml_field kCookie[] = {
    MLF_STR("name", ml_consistent_hash, cookie_name),
    MLF_STR("path", ml_consistent_hash, cookie_path),
    MLF_DURATION_F("ttl", ml_consistent_hash, cookie_ttl_ms, ML_DUR_ANY),
    MLF_UNUSED("attributes", ML_F_UNUSED_LIST), /* [1.28+] */
    MLF_END};

static int read_hash_cookie(ml_walk *w, const ynode *v, void *dst) {
  ml_loader *L = w->L;
  ml_consistent_hash *h = dst;
  if (!ml_ld_map(L, v))
    return 0;
  h->key = ML_HASH_COOKIE;
  uint64_t got = ml_ld_walk(L, v, kCookie, h);
  if (!h->cookie_name || !*h->cookie_name)
    ml_ld_err(L, v, "name is required for httpCookie");
  if (!ml_ld_stored(kCookie, got, "ttl") && !ml_ld_get(v, "ttl"))
    ml_ld_err(L, v, "ttl is required for httpCookie");
  return 1;
}

/* Only `true` selects the key: `useSourceIp: false` sets nothing. */
static int read_hash_source_ip(ml_walk *w, const ynode *v, void *dst) {
  ml_consistent_hash *h = dst;
  int b;
  if (!ml_ld_bool(w->L, v, &b) || !b)
    return 0;
  h->key = ML_HASH_SOURCE_IP;
  return 1;
}

static int read_hash_query(ml_walk *w, const ynode *v, void *dst) {
  ml_consistent_hash *h = dst;
  if (!ml_ld_str(w->L, v, &h->http_query_parameter_name))
    return 0;
  h->key = ML_HASH_QUERY_PARAM;
  return 1;
}

static const ml_field kRingHash[] = {MLF_INT("minimumRingSize",
                                             ml_consistent_hash,
                                             minimum_ring_size, 0, INT64_MAX),
                                     MLF_END};

static int read_ring_hash(ml_walk *w, const ynode *v, void *dst) {
  ml_consistent_hash *h = dst;
  if (!ml_ld_map(w->L, v))
    return 0;
  h->algo = ML_HASH_ALGO_RING;
  ml_ld_walk(w->L, v, kRingHash, h);
  return 1;
}

/* Envoy wants a prime below 5000011. */
static int read_table_size(ml_walk *w, const ynode *v, void *dst) {
  int64_t *size = dst;
  if (!ml_ld_int(w->L, v, 0, 5000010, size))
    return 0;
  if (*size != 0 && !is_prime(*size))
    ml_ld_err(w->L, v, "tableSize must be a prime number");
  return 1;
}

static const ml_field kMaglev[] = {MLF_CUSTOM("tableSize", ml_consistent_hash,
                                              maglev_table_size,
                                              read_table_size),
                                   MLF_END};

static int read_maglev(ml_walk *w, const ynode *v, void *dst) {
  ml_consistent_hash *h = dst;
  if (!ml_ld_map(w->L, v))
    return 0;
  h->algo = ML_HASH_ALGO_MAGLEV;
  ml_ld_walk(w->L, v, kMaglev, h);
  return 1;
}

static const ml_field kConsistentHash[] = {
    MLF_CUSTOM("httpHeaderName", hash_draft, h, read_hash_header),
    MLF_CUSTOM("httpCookie", hash_draft, h, read_hash_cookie),
    MLF_CUSTOM("useSourceIp", hash_draft, h, read_hash_source_ip),
    MLF_CUSTOM("httpQueryParameterName", hash_draft, h, read_hash_query),
    MLF_CUSTOM("ringHash", hash_draft, h, read_ring_hash),
    MLF_CUSTOM("maglev", hash_draft, h, read_maglev),
    MLF_INT("minimumRingSize", hash_draft, old_ring_size, 0, INT64_MAX),
    MLF_END};

static int count_stored(const ml_field *fields, uint64_t got,
                        const char *const *names) {
  int n = 0;
  for (; *names; names++)
    n += ml_ld_stored(fields, got, *names);
  return n;
}

static void read_consistent_hash(ml_loader *L, const ynode *n,
                                 ml_consistent_hash *h) {
  static const char *const keys[] = {"httpHeaderName", "httpCookie",
                                     "useSourceIp", "httpQueryParameterName",
                                     NULL};
  static const char *const algos[] = {"ringHash", "maglev", NULL};
  hash_draft d = {*h, -1};
  uint64_t got = ml_ld_walk(L, n, kConsistentHash, &d);
  *h = d.h;
  if (count_stored(kConsistentHash, got, keys) > 1)
    ml_ld_err(L, n,
              "only one of httpHeaderName, httpCookie, useSourceIp or "
              "httpQueryParameterName may be set");
  if (count_stored(kConsistentHash, got, algos) > 1)
    ml_ld_err(L, n, "only one of ringHash or maglev may be set");
  /* The deprecated top-level minimumRingSize counts for ring hash. */
  if (h->minimum_ring_size < 0 && d.old_ring_size >= 0 &&
      h->algo != ML_HASH_ALGO_MAGLEV)
    h->minimum_ring_size = d.old_ring_size;
}

/* ---- LoadBalancerSettings ----------------------------------------------- */

static int read_consistent_hash_field(ml_walk *w, const ynode *v, void *dst) {
  if (!ml_ld_map(w->L, v))
    return 0;
  ml_consistent_hash *h = ml_ld_alloc(w->L, 1, sizeof(*h));
  if (!h)
    return 0;
  h->cookie_ttl_ms = -1;
  h->minimum_ring_size = -1;
  h->maglev_table_size = -1;
  read_consistent_hash(w->L, v, h);
  *(ml_consistent_hash **)dst = h;
  return 1;
}

/* [1.24+] warmup {duration, minimumPercent, aggression}: only the
 * duration is used. */
typedef struct warmup {
  int64_t duration_ms;
} warmup;

static const ml_field kWarmup[] = {
    MLF_DURATION("duration", warmup, duration_ms),
    MLF_UNUSED("minimumPercent", ML_F_UNUSED_NUMBER),
    MLF_UNUSED("aggression", ML_F_UNUSED_NUMBER), MLF_END};

/* warmupDurationSecs wins when both are set. */
static int read_warmup(ml_walk *w, const ynode *v, void *dst) {
  if (!ml_ld_map(w->L, v))
    return 0;
  warmup wu = {-1};
  ml_ld_walk(w->L, v, kWarmup, &wu);
  if (wu.duration_ms >= 0 && !ml_ld_get(w->it.map, "warmupDurationSecs"))
    *(int64_t *)dst = wu.duration_ms;
  return 1;
}

static const char *const kSimpleLb[] = {
    "UNSPECIFIED", "LEAST_CONN",    "RANDOM", "PASSTHROUGH",
    "ROUND_ROBIN", "LEAST_REQUEST", NULL};

static const ml_field kLoadBalancer[] = {
    MLF_ENUM("simple", ml_load_balancer, simple, kSimpleLb),
    MLF_CUSTOM("consistentHash", ml_load_balancer, consistent_hash,
               read_consistent_hash_field),
    MLF_UNUSED("localityLbSetting", ML_F_UNUSED_MAP), /* presence only */
    MLF_DURATION_F("warmupDurationSecs", ml_load_balancer, warmup_duration_ms,
                   ML_DUR_ANY),
    MLF_CUSTOM("warmup", ml_load_balancer, warmup_duration_ms, read_warmup),
    MLF_UNUSED("zoneAwareLbSetting", ML_F_UNUSED_MAP), /* [master] */
    MLF_END};

static int read_load_balancer(ml_walk *w, const ynode *n, void *dst) {
  ml_load_balancer *lb = dst;
  if (!ml_ld_map(w->L, n))
    return 0;
  lb->present = 1;
  uint64_t got = ml_ld_walk(w->L, n, kLoadBalancer, lb);
  lb->has_locality_lb_setting =
      ml_ld_stored(kLoadBalancer, got, "localityLbSetting");
  if (ml_ld_stored(kLoadBalancer, got, "simple") && lb->consistent_hash)
    ml_ld_err(w->L, n, "only one of simple or consistentHash may be set");
  return 1;
}

/* ---- ConnectionPoolSettings --------------------------------------------- */

static const ml_field kTcpKeepalive[] = {
    MLF_INT("probes", ml_tcp_keepalive, probes, 0, UINT32_MAX),
    MLF_DURATION("time", ml_tcp_keepalive, time_ms),
    MLF_DURATION("interval", ml_tcp_keepalive, interval_ms), MLF_END};

static int read_tcp_keepalive(ml_walk *w, const ynode *v, void *dst) {
  ml_connection_pool *c = dst;
  if (!ml_ld_map(w->L, v))
    return 0;
  c->has_tcp_keepalive = 1;
  ml_ld_walk(w->L, v, kTcpKeepalive, &c->tcp_keepalive);
  return 1;
}

static const ml_field kTcpPool[] = {
    MLF_INT("maxConnections", ml_connection_pool, max_connections, 0,
            INT32_MAX),
    MLF_DURATION("connectTimeout", ml_connection_pool, connect_timeout_ms),
    MLF_CUSTOM_OBJ("tcpKeepalive", read_tcp_keepalive),
    MLF_DURATION("maxConnectionDuration", ml_connection_pool,
                 max_connection_duration_ms),
    MLF_DURATION_F("idleTimeout", ml_connection_pool, tcp_idle_timeout_ms,
                   ML_DUR_ZERO_OK),
    MLF_END};

static const char *const kH2Upgrade[] = {"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE",
                                         NULL};

/* http2KeepAlive {interval, timeout}: checked as Istio does (both
 * required, durations of whole ms), not used. */
static int read_h2_keepalive(ml_walk *w, const ynode *v, void *dst) {
  (void)dst;
  static const ml_field kKeepalive[] = {
      MLF_UNUSED("interval", ML_F_UNUSED_DURATION),
      MLF_UNUSED("timeout", ML_F_UNUSED_DURATION), MLF_END};
  ml_loader *L = w->L;
  if (!ml_ld_map(L, v))
    return 0;
  char unused;
  ml_ld_walk(L, v, kKeepalive, &unused);
  static const char *const req[] = {"interval", "timeout"};
  for (size_t i = 0; i < 2; i++) {
    const ynode *d = ml_ld_get(v, req[i]);
    int64_t ms;
    size_t mark = ml_ld_push(L, req[i]);
    if (!d)
      ml_ld_err(L, v, "is required");
    else if (d->type == YN_SCALAR)
      ml_ld_duration_checked(L, d, 0, &ms);
    ml_ld_pop(L, mark);
  }
  return 1;
}

static const ml_field kHttpPool[] = {
    MLF_INT("http1MaxPendingRequests", ml_connection_pool,
            http1_max_pending_requests, 0, INT32_MAX),
    MLF_INT("http2MaxRequests", ml_connection_pool, http2_max_requests, 0,
            INT32_MAX),
    MLF_INT("maxRequestsPerConnection", ml_connection_pool,
            max_requests_per_connection, 0, INT32_MAX),
    MLF_INT("maxRetries", ml_connection_pool, max_retries, 0, INT32_MAX),
    MLF_DURATION("idleTimeout", ml_connection_pool, http_idle_timeout_ms),
    MLF_ENUM_NAME("h2UpgradePolicy", ml_connection_pool, h2_upgrade_policy,
                  kH2Upgrade),
    MLF_BOOL("useClientProtocol", ml_connection_pool, use_client_protocol),
    MLF_INT("maxConcurrentStreams", ml_connection_pool, max_concurrent_streams,
            0, INT32_MAX),
    MLF_CUSTOM_OBJ("http2KeepAlive", read_h2_keepalive), /* [master] */
    MLF_END};

static const ml_field kConnectionPool[] = {
    MLF_INLINE("tcp", kTcpPool), MLF_INLINE("http", kHttpPool), MLF_END};

static int read_connection_pool(ml_walk *w, const ynode *n, void *dst) {
  ml_connection_pool *c = dst;
  if (!ml_ld_map(w->L, n))
    return 0;
  c->present = 1;
  ml_ld_walk(w->L, n, kConnectionPool, c);
  if (!ml_ld_get(n, "tcp") && !ml_ld_get(n, "http"))
    ml_ld_err(w->L, n, "connection pool must have tcp or http settings");
  if (c->h2_upgrade_policy && strcmp(c->h2_upgrade_policy, "UPGRADE") == 0 &&
      c->use_client_protocol > 0)
    ml_ld_err_pending(w->L, 0, n, /* tests/data/load/dr-all.yaml has it */
                      "useClientProtocol must not be true when "
                      "h2UpgradePolicy is UPGRADE");
  return 1;
}

/* ---- OutlierDetection --------------------------------------------------- */

/* Outlier detection being read, with the deprecated consecutiveErrors. */
typedef struct outlier_draft {
  ml_outlier_detection o;
  int64_t consecutive_errors;
} outlier_draft;

static int read_consecutive_errors(ml_walk *w, const ynode *v, void *dst) {
  if (!ml_ld_int(w->L, v, 0, INT32_MAX, dst))
    return 0;
  ml_ld_warn(w->L, v,
             "consecutiveErrors is deprecated; use consecutiveGatewayErrors "
             "or consecutive5xxErrors");
  return 1;
}

static const ml_field kOutlier[] = {
    MLF_INT("consecutive5xxErrors", outlier_draft, o.consecutive_5xx_errors, 0,
            UINT32_MAX),
    MLF_INT("consecutiveGatewayErrors", outlier_draft,
            o.consecutive_gateway_errors, 0, UINT32_MAX),
    MLF_INT("consecutiveLocalOriginFailures", outlier_draft,
            o.consecutive_local_origin_failures, 0, UINT32_MAX),
    MLF_BOOL("splitExternalLocalOriginErrors", outlier_draft,
             o.split_external_local_origin_errors),
    MLF_DURATION("interval", outlier_draft, o.interval_ms),
    MLF_DURATION("baseEjectionTime", outlier_draft, o.base_ejection_time_ms),
    MLF_INT("maxEjectionPercent", outlier_draft, o.max_ejection_percent, 0,
            100),
    MLF_INT("minHealthPercent", outlier_draft, o.min_health_percent, 0, 100),
    MLF_CUSTOM("consecutiveErrors", outlier_draft, consecutive_errors,
               read_consecutive_errors),
    MLF_UNUSED("outlierDetectionHttpErrorCodes",
               ML_F_UNUSED_LIST), /* [master] */
    MLF_END};

static int read_outlier(ml_walk *w, const ynode *n, void *dst) {
  ml_outlier_detection *o = dst;
  if (!ml_ld_map(w->L, n))
    return 0;
  o->present = 1;
  outlier_draft d = {*o, -1};
  ml_ld_walk(w->L, n, kOutlier, &d);
  *o = d.o;
  /* Istio maps the deprecated consecutiveErrors to gateway errors only
   * (5xx ejection off), unless the newer fields say otherwise. */
  if (o->consecutive_local_origin_failures > 0 &&
      !o->split_external_local_origin_errors)
    ml_ld_err(w->L, n,
              "consecutiveLocalOriginFailures needs "
              "splitExternalLocalOriginErrors: true");
  if (d.consecutive_errors > 0) {
    if (o->consecutive_gateway_errors < 0)
      o->consecutive_gateway_errors = d.consecutive_errors;
    if (o->consecutive_5xx_errors < 0)
      o->consecutive_5xx_errors = 0;
  }
  return 1;
}

/* ---- ClientTLSSettings -------------------------------------------------- */

static const char *const kTlsModes[] = {"DISABLE", "SIMPLE", "MUTUAL",
                                        "ISTIO_MUTUAL", NULL};

static const ml_field kTls[] = {
    MLF_ENUM("mode", ml_client_tls, mode, kTlsModes),
    MLF_STR("clientCertificate", ml_client_tls, client_certificate),
    MLF_STR("privateKey", ml_client_tls, private_key),
    MLF_STR("caCertificates", ml_client_tls, ca_certificates),
    MLF_STR("caCrl", ml_client_tls, ca_crl),
    MLF_STR("credentialName", ml_client_tls, credential_name),
    MLF_STR_LIST("subjectAltNames", ml_client_tls, subject_alt_names),
    MLF_STR("sni", ml_client_tls, sni),
    MLF_TRI("insecureSkipVerify", ml_client_tls, insecure_skip_verify),
    MLF_END};

static void check_tls(ml_loader *L, const ynode *n, const ml_client_tls *t) {
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

static int read_tls(ml_walk *w, const ynode *n, void *dst) {
  ml_client_tls *t = dst;
  if (!ml_ld_map(w->L, n))
    return 0;
  t->present = 1;
  ml_ld_walk(w->L, n, kTls, t);
  check_tls(w->L, n, t);
  return 1;
}

/* ---- TrafficPolicy.RetryBudget ------------------------------------------ */

/* DoubleValue: a bare number in JSON; {value: x} also taken. */
static int read_budget_percent(ml_walk *w, const ynode *v, void *dst) {
  double *percent = dst;
  if (v && v->type == YN_MAP) {
    ml_percent p = {-1};
    if (!ml_ld_percent(w->L, v, &p))
      return 0;
    *percent = p.value;
    return 1;
  }
  return ml_ld_percent_number(w->L, v, percent);
}

static const ml_field kRetryBudget[] = {
    MLF_CUSTOM("percent", ml_retry_budget, percent, read_budget_percent),
    MLF_INT("minRetryConcurrency", ml_retry_budget, min_retry_concurrency, 0,
            UINT32_MAX),
    MLF_UNUSED("budgetInterval", ML_F_UNUSED_DURATION), /* [master] */
    MLF_END};

static int read_retry_budget(ml_walk *w, const ynode *n, void *dst) {
  ml_retry_budget *b = dst;
  if (!ml_ld_map(w->L, n))
    return 0;
  b->present = 1;
  ml_ld_walk(w->L, n, kRetryBudget, b);
  return 1;
}

/* ---- TrafficPolicy ------------------------------------------------------ */

static void read_port_level(ml_loader *L, const ynode *n, void *item);

/* The settings a port-level policy shares with the top-level one. */
#define POLICY_ROWS                                                            \
  MLF_CUSTOM("loadBalancer", ml_traffic_policy, load_balancer,                 \
             read_load_balancer),                                              \
      MLF_CUSTOM("connectionPool", ml_traffic_policy, connection_pool,         \
                 read_connection_pool),                                        \
      MLF_CUSTOM("outlierDetection", ml_traffic_policy, outlier_detection,     \
                 read_outlier),                                                \
      MLF_CUSTOM("tls", ml_traffic_policy, tls, read_tls)

static const ml_field kTrafficPolicy[] = {
    POLICY_ROWS,
    MLF_LIST("portLevelSettings", ml_traffic_policy, port_level_settings,
             port_level_count, read_port_level),
    MLF_CUSTOM("retryBudget", ml_traffic_policy, retry_budget,
               read_retry_budget),
    /* not HTTP client behaviour: not used */
    MLF_UNUSED("tunnel", ML_F_UNUSED_MAP),
    MLF_UNUSED("proxyProtocol", ML_F_UNUSED_MAP), MLF_END};

static const ml_field kPortTrafficPolicy[] = {
    POLICY_ROWS, MLF_UNUSED("port", ML_F_SKIP), /* read by read_port_level */
    MLF_END};

static void read_policy(ml_loader *L, const ynode *n, ml_traffic_policy *p,
                        const ml_field *fields) {
  p->origin = ml_ld_origin(L, n);
  if (!ml_ld_map(L, n))
    return;
  ml_ld_walk(L, n, fields, p);
  /* Istio: a policy sets something (a port-level one besides its port). */
  size_t settings = n->count - (ml_ld_get(n, "port") ? 1 : 0);
  if (settings == 0)
    ml_ld_err(L, n, "traffic policy must have at least one field");
}

/* One of portLevelSettings[] (list items are never NULL nodes). */
static void read_port_level(ml_loader *L, const ynode *n, void *item) {
  ml_port_traffic_policy *pl = item;
  policy_init(&pl->policy);
  if (ml_ld_is_null(n))
    ml_ld_err(L, n, "must not be null");
  read_policy(L, n, &pl->policy, kPortTrafficPolicy);
  const ynode *port = ml_ld_get(n, "port");
  if (port) {
    size_t mark = ml_ld_push(L, "port");
    ml_ld_port_selector(L, port, &pl->port);
    ml_ld_pop(L, mark);
  }
  if (!pl->port && n->type == YN_MAP && !L->nomem)
    ml_ld_field_err(L, "port", port ? port : n, "port.number is required");
}

static int read_traffic_policy(ml_walk *w, const ynode *n, void *dst) {
  if (ml_ld_is_null(n))
    return 0;
  ml_traffic_policy *p = ml_ld_alloc(w->L, 1, sizeof(*p));
  *(ml_traffic_policy **)dst = p;
  if (!p)
    return 0;
  policy_init(p);
  read_policy(w->L, n, p, kTrafficPolicy);
  return 1;
}

/* ---- DestinationRule ---------------------------------------------------- */

static const ml_field kSubset[] = {
    MLF_STR("name", ml_subset, name), MLF_KV_MAP("labels", ml_subset, labels),
    MLF_CUSTOM("trafficPolicy", ml_subset, traffic_policy, read_traffic_policy),
    MLF_END};

static void read_subset(ml_loader *L, const ynode *n, void *item) {
  ml_subset *s = item;
  s->origin = ml_ld_origin(L, n);
  if (!ml_ld_map_nonnull(L, n, "subset must not be null"))
    return;
  ml_ld_walk(L, n, kSubset, s);
  if (!s->name || !*s->name)
    ml_ld_field_err(L, "name", ml_ld_where(L, n, "name"), "is required");
  else if (!ml_ld_is_dns_label(s->name, strlen(s->name)))
    ml_ld_field_err(L, "name", ml_ld_get(n, "name"),
                    "subset name \"%.80s\" is not a DNS-1123 label", s->name);
}

/* Istio: subset names are unique. */
static void check_subset_names(ml_loader *L, const ynode *spec,
                               const ml_destination_rule *dr) {
  const ynode *l = ml_ld_get(spec, "subsets");
  for (size_t i = 0; i < dr->subset_count; i++)
    for (size_t j = 0; j < i && dr->subsets[i].name; j++)
      if (dr->subsets[j].name &&
          strcmp(dr->subsets[i].name, dr->subsets[j].name) == 0) {
        size_t mark = ml_ld_push(L, "subsets");
        ml_ld_push_index(L, i);
        ml_ld_err(L,
                  l && l->type == YN_SEQ && i < l->count ? l->items[i] : spec,
                  "duplicate subset name \"%.80s\"", dr->subsets[i].name);
        ml_ld_pop(L, mark);
        break;
      }
}

static const ml_field kWorkloadSelector[] = {
    MLF_KV_MAP("matchLabels", ml_destination_rule, workload_selector), MLF_END};

static const ml_field kDestinationRule[] = {
    MLF_STR("host", ml_destination_rule, host),
    MLF_CUSTOM("trafficPolicy", ml_destination_rule, traffic_policy,
               read_traffic_policy),
    MLF_LIST("subsets", ml_destination_rule, subsets, subset_count,
             read_subset),
    MLF_STR_LIST("exportTo", ml_destination_rule, export_to),
    MLF_INLINE("workloadSelector", kWorkloadSelector),
    MLF_END};

void ml_ld_destination_rule(ml_loader *L, const ynode *spec,
                            ml_destination_rule *dr) {
  if (ml_ld_map(L, spec))
    ml_ld_walk(L, spec, kDestinationRule, dr);
  if (!dr->host || !*dr->host)
    ml_ld_field_err(L, "host", ml_ld_where(L, spec, "host"), "is required");
  else
    dr->host_fqdn = ml_ld_host_fqdn(L, dr->host);
  if (dr->host && *dr->host) {
    size_t mark = ml_ld_push(L, "host");
    ml_ld_check_wildcard_domain(L, ml_ld_get(spec, "host"), "host", dr->host);
    ml_ld_pop(L, mark);
  }
  check_subset_names(L, spec, dr);
}
