/* SPDX-License-Identifier: MIT */
/* The decision as JSON: the shape `meshctl route --json` prints. */
#include <stdio.h>
#include <string.h>
#include "cluster/cluster.h"
#include "call/request.h"
#include "lb/lb.h"
#include "outlier/outlier.h"
#include "policy/breaker.h"

static void kv_object(ml_buf *b, const ml_kv_list *l) {
  ml_buf_putc(b, '{');
  for (size_t i = 0; i < l->count; i++) {
    if (i)
      ml_buf_putc(b, ',');
    ml_buf_json_str(b, l->items[i].key);
    ml_buf_putc(b, ':');
    ml_buf_json_str(b, l->items[i].value);
  }
  ml_buf_putc(b, '}');
}

static void header_ops_json(ml_buf *b, const ml_header_ops *o) {
  ml_buf_puts(b, "{\"set\":");
  kv_object(b, &o->set);
  ml_buf_puts(b, ",\"add\":");
  kv_object(b, &o->add);
  ml_buf_puts(b, ",\"remove\":[");
  for (size_t i = 0; i < o->remove.count; i++) {
    if (i)
      ml_buf_putc(b, ',');
    ml_buf_json_str(b, o->remove.items[i]);
  }
  ml_buf_puts(b, "]}");
}

static int headers_empty(const ml_headers *h) {
  const ml_header_ops *o[2] = {&h->request, &h->response};
  for (int i = 0; i < 2; i++)
    if (o[i]->set.count || o[i]->add.count || o[i]->remove.count)
      return 0;
  return 1;
}

static void headers_json(ml_buf *b, const ml_headers *h) {
  if (!h || headers_empty(h)) {
    ml_buf_puts(b, "null");
    return;
  }
  ml_buf_puts(b, "{\"request\":");
  header_ops_json(b, &h->request);
  ml_buf_puts(b, ",\"response\":");
  header_ops_json(b, &h->response);
  ml_buf_putc(b, '}');
}

static void int_or_null(ml_buf *b, int64_t v) {
  if (v < 0)
    ml_buf_puts(b, "null");
  else
    ml_buf_printf(b, "%lld", (long long)v);
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

static void retry_json(ml_buf *b, const meshlib_decision *d) {
  ml_retry_policy p;
  effective_retries(d, &p);
  ml_buf_printf(b, "{\"source\":\"%s\",\"num_retries\":%u,\"retry_on\":\"",
                retry_source(d), p.num_retries);
  retry_on_text(b, p.on);
  ml_buf_puts(b, "\",\"retriable_status_codes\":[");
  for (size_t i = 0; i < p.status_code_count; i++)
    ml_buf_printf(b, "%s%u", i ? "," : "", p.status_codes[i]);
  ml_buf_puts(b, "],\"per_try_timeout_ms\":");
  int_or_null(b, p.per_try_timeout_ms > 0 ? p.per_try_timeout_ms : -1);
  ml_buf_printf(
      b,
      ",\"retry_host_predicate\":%s,\"backoff\":{\"base_interval_ms\":"
      "%lld,\"max_interval_ms\":%lld}}",
      p.previous_hosts ? "\"previous_hosts\"" : "null",
      (long long)p.backoff_base_ms, (long long)p.backoff_max_ms);
}

/* outlierDetection with Istio's defaults, or null when absent. */
static void outlier_json(ml_buf *b, const ml_outlier_detection *od) {
  ml_outlier_config c;
  if (!ml_outlier_config_of(od, &c)) {
    ml_buf_puts(b, "null");
    return;
  }
  ml_buf_printf(
      b,
      "{\"consecutive_5xx_errors\":%u,\"consecutive_gateway_errors\":%u,"
      "\"consecutive_local_origin_failures\":%u,"
      "\"split_external_local_origin_errors\":%s,\"interval_ms\":%lld,"
      "\"base_ejection_time_ms\":%lld,\"max_ejection_time_ms\":%lld,"
      "\"max_ejection_percent\":%u,\"min_health_percent\":%lld}",
      c.consecutive_5xx, c.consecutive_gateway, c.consecutive_local_origin,
      c.split ? "true" : "false", (long long)c.interval_ms,
      (long long)c.base_ejection_ms, (long long)c.max_ejection_ms,
      c.max_ejection_percent,
      (long long)(od->min_health_percent > 0 ? od->min_health_percent : 0));
}

static void limit_json(ml_buf *b, const char *name, uint32_t v) {
  ml_buf_printf(b, "\"%s\":", name);
  if (v == UINT32_MAX)
    ml_buf_puts(b, "null");
  else
    ml_buf_printf(b, "%u", v);
}

/* A destination's cluster policy as Envoy's cluster would carry it. */
static void cluster_policy_json(ml_buf *b, const ml_cluster *k) {
  const ml_traffic_policy *tp = &k->policy;
  const ml_connection_pool *cp = &tp->connection_pool;
  ml_breaker_limits l;
  ml_breaker_limits_of(tp, &l);
  ml_buf_puts(b, "{\"cluster\":");
  ml_buf_json_str(b, k->name);
  ml_buf_puts(b, ",\"load_balancer\":");
  ml_buf_json_str(b, k->lb ? ml_lb_kind_name(ml_lb_kind_of(k->lb)) : NULL);
  ml_buf_printf(b, ",\"endpoints\":%zu,\"circuit_breakers\":{",
                k->endpoint_count);
  limit_json(b, "max_connections", l.max_connections);
  ml_buf_putc(b, ',');
  limit_json(b, "max_pending_requests", l.max_pending_requests);
  ml_buf_putc(b, ',');
  limit_json(b, "max_requests", l.max_requests);
  ml_buf_putc(b, ',');
  limit_json(b, "max_retries", l.has_retry_budget ? UINT32_MAX : l.max_retries);
  ml_buf_puts(b, ",\"retry_budget\":");
  if (l.has_retry_budget)
    ml_buf_printf(b, "{\"percent\":%g,\"min_retry_concurrency\":%u}",
                  l.budget_percent, l.min_retry_concurrency);
  else
    ml_buf_puts(b, "null");
  ml_buf_puts(b, "},\"connect_timeout_ms\":");
  ml_buf_printf(b, "%lld",
                (long long)(cp->present && cp->connect_timeout_ms > 0
                                ? cp->connect_timeout_ms
                                : 10000));
  ml_buf_puts(b, ",\"max_requests_per_connection\":");
  int_or_null(b, cp->present && cp->max_requests_per_connection > 0
                     ? cp->max_requests_per_connection
                     : -1);
  ml_buf_puts(b, ",\"idle_timeout_ms\":");
  int_or_null(b, cp->present && cp->http_idle_timeout_ms > 0
                     ? cp->http_idle_timeout_ms
                     : 3600000);
  ml_buf_puts(b, ",\"max_connection_duration_ms\":");
  int_or_null(b, cp->present && cp->max_connection_duration_ms > 0
                     ? cp->max_connection_duration_ms
                     : -1);
  ml_buf_puts(b, ",\"outlier_detection\":");
  outlier_json(b, &tp->outlier_detection);
  ml_buf_putc(b, '}');
}

int meshlib_decision_to_json(const meshlib_decision *d, char **out) {
  if (!d || !out || !d->snap)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  ml_buf b;
  ml_buf_init(&b, d->snap->mem);
  const ml_http_route *r = d->res.route;

  ml_buf_puts(&b, "{\"host\":");
  ml_buf_json_str(&b, d->host);
  ml_buf_printf(&b, ",\"port\":%u,\"virtual_service\":", d->port);
  if (d->res.vs) {
    ml_buf_putc(&b, '"');
    ml_buf_printf(&b, "%s/%s", d->res.vs->meta.namespace_,
                  d->res.vs->meta.name);
    ml_buf_putc(&b, '"');
  } else {
    ml_buf_puts(&b, "null");
  }
  ml_buf_puts(&b, ",\"route\":");
  ml_buf_json_str(&b, meshlib_decision_route_name(d));
  ml_buf_puts(&b, ",\"route_index\":");
  int_or_null(&b, r ? d->res.route_index : -1);

  ml_buf_puts(&b, ",\"destinations\":[");
  for (size_t i = 0; i < d->dest_count; i++) {
    const ml_decision_dest *x = &d->dests[i];
    if (i)
      ml_buf_putc(&b, ',');
    ml_buf_puts(&b, "{\"host\":");
    ml_buf_json_str(&b, x->host);
    ml_buf_puts(&b, ",\"subset\":");
    ml_buf_json_str(&b, x->subset);
    ml_buf_puts(&b, ",\"port\":");
    int_or_null(&b, x->port ? (int64_t)x->port : -1);
    ml_buf_printf(&b, ",\"weight\":%u,\"cluster\":", x->weight);
    ml_buf_json_str(&b, meshlib_decision_destination_cluster(d, i));
    ml_buf_puts(&b, ",\"destination_rule\":");
    ml_buf_json_str(&b, meshlib_decision_destination_rule(d, i));
    ml_buf_printf(&b, ",\"subset_found\":%s",
                  x->subset ? (x->missing_subset ? "false" : "true") : "null");
    if (x->config && !headers_empty(&x->config->headers)) {
      ml_buf_puts(&b, ",\"headers\":");
      headers_json(&b, &x->config->headers);
    }
    ml_buf_putc(&b, '}');
  }
  ml_buf_putc(&b, ']');

  ml_buf_puts(&b, ",\"rewrite\":");
  if (r && r->rewrite) {
    ml_buf_puts(&b, "{\"uri\":");
    ml_buf_json_str(&b, r->rewrite->uri);
    ml_buf_puts(&b, ",\"authority\":");
    ml_buf_json_str(&b, r->rewrite->authority);
    ml_buf_puts(&b, ",\"uri_regex_rewrite\":");
    if (r->rewrite->regex_match) {
      ml_buf_puts(&b, "{\"match\":");
      ml_buf_json_str(&b, r->rewrite->regex_match);
      ml_buf_puts(&b, ",\"rewrite\":");
      ml_buf_json_str(&b, r->rewrite->regex_rewrite);
      ml_buf_putc(&b, '}');
    } else {
      ml_buf_puts(&b, "null");
    }
    ml_buf_putc(&b, '}');
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"timeout_ms\":");
  int_or_null(&b, r ? r->timeout_ms : -1);

  ml_buf_puts(&b, ",\"retries\":");
  if (r && r->retries) {
    ml_buf_puts(&b, "{\"attempts\":");
    int_or_null(&b, r->retries->attempts);
    ml_buf_puts(&b, ",\"per_try_timeout_ms\":");
    int_or_null(&b, r->retries->per_try_timeout_ms);
    ml_buf_puts(&b, ",\"retry_on\":");
    ml_buf_json_str(&b, r->retries->retry_on);
    ml_buf_putc(&b, '}');
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"fault\":");
  if (r && r->fault) {
    ml_buf_puts(&b, "{\"delay\":");
    if (r->fault->has_delay)
      ml_buf_printf(&b, "{\"fixed_delay_ms\":%lld,\"percentage\":%g}",
                    (long long)r->fault->delay_fixed_ms,
                    meshlib_decision_fault_delay_percent(d));
    else
      ml_buf_puts(&b, "null");
    ml_buf_puts(&b, ",\"abort\":");
    if (r->fault->has_abort) {
      ml_buf_puts(&b, "{\"http_status\":");
      int_or_null(&b, r->fault->abort_http_status ? r->fault->abort_http_status
                                                  : -1);
      ml_buf_puts(&b, ",\"grpc_status\":");
      ml_buf_json_str(&b, r->fault->abort_grpc_status);
      ml_buf_printf(&b, ",\"percentage\":%g}",
                    meshlib_decision_fault_abort_percent(d));
    } else {
      ml_buf_puts(&b, "null");
    }
    ml_buf_putc(&b, '}');
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"direct_response\":");
  if (r && r->direct_response) {
    ml_buf_printf(&b, "{\"status\":%d,\"body\":", r->direct_response->status);
    ml_buf_json_strn(&b, r->direct_response->body,
                     r->direct_response->body_len);
    ml_buf_putc(&b, '}');
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"redirect\":");
  if (r && r->redirect) {
    ml_buf_puts(&b, "{\"uri\":");
    ml_buf_json_str(&b, r->redirect->uri);
    ml_buf_puts(&b, ",\"authority\":");
    ml_buf_json_str(&b, r->redirect->authority);
    ml_buf_puts(&b, ",\"scheme\":");
    ml_buf_json_str(&b, r->redirect->scheme);
    ml_buf_puts(&b, ",\"port\":");
    int_or_null(&b, r->redirect->port ? (int64_t)r->redirect->port : -1);
    ml_buf_printf(&b, ",\"redirect_code\":%d}", r->redirect->redirect_code);
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"headers\":");
  headers_json(&b, r ? &r->headers : NULL);

  /* What the call would run under, defaults filled in as Envoy would
   * have them from istiod. */
  ml_buf_puts(&b, ",\"effective_policy\":{\"timeout_ms\":");
  int_or_null(&b, r && r->timeout_ms > 0 ? r->timeout_ms : -1);
  ml_buf_puts(&b, ",\"retries\":");
  retry_json(&b, d);
  ml_buf_puts(&b, ",\"clusters\":[");
  int any = 0;
  for (size_t i = 0; i < d->dest_count; i++) {
    const ml_cluster *k = d->dests[i].cluster;
    if (!k)
      continue;
    if (any++)
      ml_buf_putc(&b, ',');
    cluster_policy_json(&b, k);
  }
  ml_buf_puts(&b, "]}");

  char flags[64];
  meshlib_response_flags_str(d->flags, flags, sizeof(flags));
  ml_buf_puts(&b, ",\"response_flags\":");
  ml_buf_json_str(&b, flags);
  ml_buf_printf(&b, ",\"config_version\":%llu}",
                (unsigned long long)d->snap->version);

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
