/* SPDX-License-Identifier: MIT */
/* The decision as JSON: the shape `meshctl route --json` prints. Route
 * pieces are the config model's flat shape (config/model_json.h); the
 * effective policy is what the call would run under. */
#include <stdio.h>
#include <string.h>
#include "cluster/cluster.h"
#include "call/request.h"
#include "config/model_json.h"
#include "lb/lb.h"
#include "outlier/outlier.h"
#include "policy/breaker.h"
#include "util/json.h"

#define FLAT ML_MODEL_JSON_FLAT

/* |v| < 0: null. */
static void int_or_null(ml_json *w, const char *key, int64_t v) {
  if (v < 0)
    ml_json_null(w, key);
  else
    ml_json_int(w, key, v);
}

/* The retry policy Envoy would run for a call of |d| to its first
 * destination, defaults filled in. */
static void effective_retries(const meshlib_decision *d, ml_retry_policy *p) {
  const ml_http_route *r = d->res.route;
  const ml_cluster *k = d->dest_count ? d->dests[0].cluster : NULL;
  ml_retry_policy_compile_for(
      r ? r->retries : NULL, d->default_retries,
      k && k->policy.load_balancer.consistent_hash != NULL, p);
}

static void retry_on_text(ml_buf *b, uint32_t on) {
  int first = 1;
  for (int i = 0; i < 32; i++) {
    const char *name = (on >> i) & 1 ? ml_retry_reason_name(1u << i) : NULL;
    if (name) {
      ml_buf_printf(b, "%s%s", first ? "" : ",", name);
      first = 0;
    }
  }
}

static const char *retry_source(const meshlib_decision *d) {
  const ml_http_route *r = d->res.route;
  return r && r->retries      ? "route"
         : d->default_retries ? "istio-default"
                              : "none";
}

static void retry_json(ml_json *w, const meshlib_decision *d) {
  ml_retry_policy p;
  effective_retries(d, &p);
  ml_buf on;
  ml_buf_init(&on, w->b->mem);
  retry_on_text(&on, p.on);
  if (on.oom)
    w->b->oom = 1;
  ml_json_obj(w, "retries");
  ml_json_str(w, "source", retry_source(d));
  ml_json_uint(w, "num_retries", p.num_retries);
  ml_json_strn(w, "retry_on", on.data ? on.data : "", on.len);
  ml_buf_free(&on);
  ml_json_arr(w, "retriable_status_codes");
  for (size_t i = 0; i < p.status_code_count; i++)
    ml_json_uint(w, NULL, p.status_codes[i]);
  ml_json_end(w);
  int_or_null(w, "per_try_timeout_ms",
              p.per_try_timeout_ms > 0 ? p.per_try_timeout_ms : -1);
  if (p.previous_hosts)
    ml_json_str(w, "retry_host_predicate", "previous_hosts");
  else
    ml_json_null(w, "retry_host_predicate");
  ml_json_obj(w, "backoff");
  ml_json_int(w, "base_interval_ms", p.backoff_base_ms);
  ml_json_int(w, "max_interval_ms", p.backoff_max_ms);
  ml_json_end(w);
  ml_json_end(w);
}

/* outlierDetection with Istio's defaults, or null when absent. */
static void outlier_json(ml_json *w, const ml_outlier_detection *od) {
  ml_outlier_config c;
  if (!ml_outlier_config_of(od, &c)) {
    ml_json_null(w, "outlier_detection");
    return;
  }
  ml_json_obj(w, "outlier_detection");
  ml_json_uint(w, "consecutive_5xx_errors", c.consecutive_5xx);
  ml_json_uint(w, "consecutive_gateway_errors", c.consecutive_gateway);
  ml_json_uint(w, "consecutive_local_origin_failures",
               c.consecutive_local_origin);
  ml_json_bool(w, "split_external_local_origin_errors", c.split);
  ml_json_int(w, "interval_ms", c.interval_ms);
  ml_json_int(w, "base_ejection_time_ms", c.base_ejection_ms);
  ml_json_int(w, "max_ejection_time_ms", c.max_ejection_ms);
  ml_json_uint(w, "max_ejection_percent", c.max_ejection_percent);
  ml_json_int(w, "min_health_percent",
              od->min_health_percent > 0 ? od->min_health_percent : 0);
  ml_json_end(w);
}

/* UINT32_MAX: no limit, null. */
static void limit_json(ml_json *w, const char *key, uint32_t v) {
  if (v == UINT32_MAX)
    ml_json_null(w, key);
  else
    ml_json_uint(w, key, v);
}

/* A destination's cluster policy as Envoy's cluster would carry it. */
static void cluster_policy_json(ml_json *w, const ml_cluster *k) {
  const ml_traffic_policy *tp = &k->policy;
  const ml_connection_pool *cp = &tp->connection_pool;
  ml_breaker_limits l;
  ml_breaker_limits_of(tp, &l);
  ml_json_obj(w, NULL);
  ml_json_str(w, "cluster", k->name);
  ml_json_str(w, "load_balancer",
              k->lb ? ml_lb_kind_name(ml_lb_kind_of(k->lb)) : NULL);
  ml_json_uint(w, "endpoints", k->endpoint_count);
  ml_json_obj(w, "circuit_breakers");
  limit_json(w, "max_connections", l.max_connections);
  limit_json(w, "max_pending_requests", l.max_pending_requests);
  limit_json(w, "max_requests", l.max_requests);
  limit_json(w, "max_retries", l.has_retry_budget ? UINT32_MAX : l.max_retries);
  if (l.has_retry_budget) {
    ml_json_obj(w, "retry_budget");
    ml_json_double(w, "percent", l.budget_percent);
    ml_json_uint(w, "min_retry_concurrency", l.min_retry_concurrency);
    ml_json_end(w);
  } else {
    ml_json_null(w, "retry_budget");
  }
  ml_json_end(w);
  ml_json_int(w, "connect_timeout_ms",
              cp->present && cp->connect_timeout_ms > 0 ? cp->connect_timeout_ms
                                                        : 10000);
  int_or_null(w, "max_requests_per_connection",
              cp->present && cp->max_requests_per_connection > 0
                  ? cp->max_requests_per_connection
                  : -1);
  int_or_null(w, "idle_timeout_ms",
              cp->present && cp->http_idle_timeout_ms > 0
                  ? cp->http_idle_timeout_ms
                  : 3600000);
  int_or_null(w, "max_connection_duration_ms",
              cp->present && cp->max_connection_duration_ms > 0
                  ? cp->max_connection_duration_ms
                  : -1);
  outlier_json(w, &tp->outlier_detection);
  ml_json_end(w);
}

static void destination_json(ml_json *w, const meshlib_decision *d, size_t i) {
  const ml_decision_dest *x = &d->dests[i];
  ml_json_obj(w, NULL);
  ml_json_str(w, "host", x->host);
  ml_json_str(w, "subset", x->subset);
  int_or_null(w, "port", x->port ? (int64_t)x->port : -1);
  ml_json_uint(w, "weight", x->weight);
  ml_json_str(w, "cluster", meshlib_decision_destination_cluster(d, i));
  ml_json_str(w, "destination_rule", meshlib_decision_destination_rule(d, i));
  if (x->subset)
    ml_json_bool(w, "subset_found", !x->missing_subset);
  else
    ml_json_null(w, "subset_found");
  if (x->config && !ml_model_json_headers_empty(&x->config->headers))
    ml_model_json_headers(w, FLAT, "headers", &x->config->headers);
  ml_json_end(w);
}

int meshlib_decision_to_json(const meshlib_decision *d, char **out) {
  if (!d || !out || !d->snap)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  ml_buf b;
  ml_buf_init(&b, d->snap->mem);
  ml_json w;
  ml_json_init(&w, &b);
  const ml_http_route *r = d->res.route;

  ml_json_obj(&w, NULL);
  ml_json_str(&w, "host", d->host);
  ml_json_uint(&w, "port", d->port);
  if (d->res.vs)
    ml_json_strf(&w, "virtual_service", "%s/%s", d->res.vs->meta.namespace_,
                 d->res.vs->meta.name);
  else
    ml_json_null(&w, "virtual_service");
  ml_json_str(&w, "route", meshlib_decision_route_name(d));
  int_or_null(&w, "route_index", r ? d->res.route_index : -1);
  ml_json_arr(&w, "destinations");
  for (size_t i = 0; i < d->dest_count; i++)
    destination_json(&w, d, i);
  ml_json_end(&w);

  ml_model_json_rewrite(&w, FLAT, "rewrite", r ? r->rewrite : NULL);
  ml_model_json_duration(&w, FLAT, "timeout_ms", r ? r->timeout_ms : -1);
  if (r && r->retries) {
    ml_json_obj(&w, "retries");
    ml_model_json_retry_fields(&w, FLAT, r->retries);
    ml_json_end(&w);
  } else {
    ml_json_null(&w, "retries");
  }
  ml_model_json_fault(&w, FLAT, "fault", r ? r->fault : NULL);
  ml_model_json_direct_response(&w, FLAT, "direct_response",
                                r ? r->direct_response : NULL);
  ml_model_json_redirect(&w, FLAT, "redirect", r ? r->redirect : NULL);
  ml_model_json_headers(&w, FLAT, "headers", r ? &r->headers : NULL);

  /* What the call would run under, defaults filled in as Envoy would
   * have them from istiod. */
  ml_json_obj(&w, "effective_policy");
  int_or_null(&w, "timeout_ms", r && r->timeout_ms > 0 ? r->timeout_ms : -1);
  retry_json(&w, d);
  ml_json_arr(&w, "clusters");
  for (size_t i = 0; i < d->dest_count; i++)
    if (d->dests[i].cluster)
      cluster_policy_json(&w, d->dests[i].cluster);
  ml_json_end(&w);
  ml_json_end(&w);

  char flags[64];
  meshlib_response_flags_str(d->flags, flags, sizeof(flags));
  ml_json_str(&w, "response_flags", flags);
  ml_json_uint(&w, "config_version", d->snap->version);
  ml_json_end(&w);

  if (ml_json_finish(&w) != ML_JSON_OK) {
    ml_buf_free(&b);
    return MESHLIB_ERR_NOMEM;
  }
  *out = ml_buf_steal(&b);
  return *out ? MESHLIB_OK : MESHLIB_ERR_NOMEM;
}

/* The same effective policy as text, for `meshctl route`. */
static void limit_text(ml_buf *b, const char *name, uint32_t v) {
  if (v == UINT32_MAX)
    ml_buf_printf(b, "%s unlimited", name);
  else
    ml_buf_printf(b, "%s %u", name, v);
}

int meshlib_decision_policy_text(const meshlib_decision *d, char **out) {
  if (!d || !out || !d->snap)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  ml_buf b;
  ml_buf_init(&b, d->snap->mem);
  const ml_http_route *r = d->res.route;
  if (r && r->timeout_ms > 0)
    ml_buf_printf(&b, "timeout:          %lld ms\n", (long long)r->timeout_ms);
  else
    ml_buf_puts(&b, "timeout:          none\n");
  ml_retry_policy p;
  effective_retries(d, &p);
  ml_buf_printf(&b, "retries:          %u (%s)", p.num_retries,
                retry_source(d));
  if (p.num_retries) {
    ml_buf_puts(&b, " on ");
    retry_on_text(&b, p.on);
    for (size_t i = 0; i < p.status_code_count; i++)
      ml_buf_printf(&b, ",%u", p.status_codes[i]);
    if (p.per_try_timeout_ms > 0)
      ml_buf_printf(&b, "; per try %lld ms", (long long)p.per_try_timeout_ms);
    ml_buf_printf(&b, "; backoff %lld-%lld ms%s", (long long)p.backoff_base_ms,
                  (long long)p.backoff_max_ms,
                  p.previous_hosts ? "; other endpoints first" : "");
  }
  ml_buf_putc(&b, '\n');
  for (size_t i = 0; i < d->dest_count; i++) {
    const ml_cluster *k = d->dests[i].cluster;
    if (!k)
      continue;
    ml_breaker_limits l;
    ml_breaker_limits_of(&k->policy, &l);
    ml_buf_printf(&b, "cluster:          %s (%s, %zu endpoints)\n", k->name,
                  k->lb ? ml_lb_kind_name(ml_lb_kind_of(k->lb)) : "none",
                  k->endpoint_count);
    ml_buf_puts(&b, "  breakers:       ");
    limit_text(&b, "max_connections", l.max_connections);
    limit_text(&b, ", max_pending_requests", l.max_pending_requests);
    limit_text(&b, ", max_requests", l.max_requests);
    if (l.has_retry_budget)
      ml_buf_printf(&b, ", retry budget %g %% (min %u)", l.budget_percent,
                    l.min_retry_concurrency);
    else
      limit_text(&b, ", max_retries", l.max_retries);
    ml_buf_putc(&b, '\n');
    ml_outlier_config c;
    if (ml_outlier_config_of(&k->policy.outlier_detection, &c))
      ml_buf_printf(&b,
                    "  outlier:        %u consecutive 5xx, %u gateway, "
                    "interval %lld ms, ejection %lld ms (max %lld), at most "
                    "%u %% ejected\n",
                    c.consecutive_5xx, c.consecutive_gateway,
                    (long long)c.interval_ms, (long long)c.base_ejection_ms,
                    (long long)c.max_ejection_ms, c.max_ejection_percent);
    else
      ml_buf_puts(&b, "  outlier:        none\n");
  }
  *out = ml_buf_steal(&b);
  return *out ? MESHLIB_OK : MESHLIB_ERR_NOMEM;
}
