/* SPDX-License-Identifier: MIT */
/* The path of one call up to its first attempt: route, local replies (no
 * route, direct response, redirect), the weighted destination, its
 * cluster, what is sent (path, headers, TLS, pool settings); then
 * ml_call_begin() (attempt.c) takes over. */
#include <stdio.h>
#include <string.h>
#include "cluster/cluster.h"
#include "call/request.h"
#include "lb/lb.h"
#include "lb/select.h"
#include "util/regex.h"
#include "util/str.h"

static void response_reset(meshlib_request *r) {
  const ml_mem *mem = r->env->mem;
  ml_xfer_result_free(mem, &r->xfer);
  ml_xfer_result_init(&r->xfer, mem);
  /* The array of response headers stays for the next perform. */
  r->resp_list = NULL;
  r->resp_header_count = 0;
  if (r->location) {
    ml_free(mem, r->location);
    r->location = NULL;
  }
  r->local_body = NULL;
  r->local_body_len = 0;
  r->status = 0;
  r->flags = 0;
  r->details = "";
  r->code_details = NULL;
  r->cluster = NULL;
  r->upstream[0] = '\0';
  r->attempts = 0;
}

/* The path the upstream sees. rewrite.uri is Envoy's prefix_rewrite,
 * which istiod sets whatever the match: it replaces what the route
 * matched on. That is the prefix of a prefix match; the whole path of an
 * exact or a regex match; and "/" when the match has no uri (or the rule
 * no match), istiod's default path match, so that "/foo" rewritten to
 * "/v2" goes up as "/v2foo". uriRegexRewrite substitutes every match.
 * The query string is kept. */
static int rewritten_path(const meshlib_request *r, const ml_http_route *rt,
                          ml_buf *out) {
  const char *path = r->path;
  const ml_http_rewrite *rw = rt ? rt->rewrite : NULL;
  ml_buf_reset(out);
  if (rw && rw->uri) {
    int32_t mi = r->decision.res.match_index;
    const ml_string_match *u =
        mi >= 0 && (size_t)mi < rt->match_count ? &rt->matches[mi].uri : NULL;
    size_t len = strlen(path);
    size_t cut = path[0] == '/' ? 1 : 0;
    if (u && (u->kind == ML_MATCH_EXACT || u->kind == ML_MATCH_REGEX))
      cut = len;
    else if (u && u->kind == ML_MATCH_PREFIX && u->value &&
             strlen(u->value) <= len)
      cut = strlen(u->value); /* the path starts with it: it matched */
    ml_buf_puts(out, rw->uri);
    ml_buf_puts(out, path + cut);
  } else if (rw && rw->regex && rw->regex_rewrite) {
    if (ml_regex_replace(rw->regex, path, rw->regex_rewrite, out))
      ml_buf_puts(out, path);
  } else {
    ml_buf_puts(out, path);
  }
  if (r->query) {
    ml_buf_putc(out, '?');
    ml_buf_puts(out, r->query);
  }
  return out->oom ? -1 : 0;
}

static int redirect_reply(meshlib_request *r, const ml_http_redirect *rd) {
  ml_buf b;
  ml_buf_init(&b, r->env->mem);
  const char *scheme = rd->scheme ? rd->scheme : r->scheme;
  ml_buf_printf(&b, "%s://", scheme);
  if (rd->authority) {
    ml_buf_puts(&b, rd->authority);
  } else {
    if (strchr(r->host, ':')) /* an IPv6 literal keeps its brackets */
      ml_buf_printf(&b, "[%s]", r->host);
    else
      ml_buf_puts(&b, r->host);
    uint32_t port = rd->port;
    if (!port && rd->derive_port == 2)
      port = r->port;
    if (!port && rd->derive_port != 1 && r->authority &&
        strchr(r->authority, ':') && strcmp(scheme, r->scheme) == 0)
      port = r->port;
    if (port && !((port == 80 && strcmp(scheme, "http") == 0) ||
                  (port == 443 && strcmp(scheme, "https") == 0)))
      ml_buf_printf(&b, ":%u", port);
  }
  ml_buf_puts(&b, rd->uri ? rd->uri : r->path);
  if (!rd->uri && r->query)
    ml_buf_printf(&b, "?%s", r->query);
  r->location = ml_buf_steal(&b);
  if (!r->location)
    return MESHLIB_ERR_NOMEM;
  size_t n = 0;
  if (ml_headers_push(r->env->mem, &r->resp_headers, &n, &r->resp_header_cap,
                      "location", r->location))
    return MESHLIB_ERR_NOMEM;
  r->resp_list = r->resp_headers;
  r->resp_header_count = n;
  ml_call_local_reply(r, rd->redirect_code ? rd->redirect_code : 301, 0, "", "",
                      0);
  return MESHLIB_OK;
}

/* Fill r->plan.cookie with a Set-Cookie value for |ch| and put the hash
 * of the new cookie value in *hash. */
static int make_cookie(meshlib_request *r, const ml_consistent_hash *ch,
                       uint64_t *hash) {
  char value[17];
  ml_lb_cookie_value(ml_rand_next(&r->rand), value);
  *hash = ml_lb_hash_str(value, 16);
  ml_buf *b = &r->plan.cookie;
  ml_buf_reset(b);
  ml_buf_printf(b, "%s=\"%s\"", ch->cookie_name, value);
  if (ch->cookie_ttl_ms > 0) /* ttl 0: a session cookie */
    ml_buf_printf(b, "; Max-Age=%lld",
                  (long long)((ch->cookie_ttl_ms + 999) / 1000));
  if (ch->cookie_path)
    ml_buf_printf(b, "; Path=%s", ch->cookie_path);
  ml_buf_puts(b, "; HttpOnly");
  if (b->oom)
    return -1;
  r->plan.set_cookie = 1;
  return 0;
}

/* Once per call: the hash key (and a generated cookie), the path and
 * headers sent and the exchange's fixed fields. The endpoint is chosen
 * per attempt (ml_call_plan_attempt). */
static int setup_exchange(meshlib_request *r, const ml_decision_dest *dest,
                          const ml_cluster *k, const ml_http_route *rt) {
  const ml_mem *mem = r->env->mem;
  ml_call_plan *p = &r->plan;
  ml_xfer_req *x = &p->x;
  memset(x, 0, sizeof(*x));
  p->dest = dest;
  p->route = rt;
  p->cluster = k;
  p->has_hash = 0;
  if (k) {
    r->cluster = k->name;
    const ml_consistent_hash *ch = k->policy.load_balancer.consistent_hash;
    if (ch) {
      /* The key the request carries (header, cookie, query parameter);
       * without one the balancer places the call at random, as Envoy. */
      ml_route_input in = {0};
      in.path = r->path;
      in.query = r->query;
      in.headers = r->headers;
      in.header_count = r->header_count;
      p->has_hash = ml_lb_hash_key(ch, &in, NULL, &p->hash);
      if (!p->has_hash && ml_lb_cookie_needed(ch, &in)) {
        /* Envoy's generated cookie: a new value decides this call and is
         * set on the response, so the caller's next calls stick. */
        if (make_cookie(r, ch, &p->hash))
          return MESHLIB_ERR_NOMEM;
        p->has_hash = 1;
      }
    }
    x->version = k->version;
  } else {
    r->cluster = meshlib_decision_destination_cluster(&r->decision, 0);
    x->version = ML_HTTP_1_1;
  }
  const char *scheme = r->scheme;
  if (x->version == ML_HTTP_2_TLS)
    scheme = "https";
  else if (strcmp(scheme, "https") == 0) /* lower-cased by the parser */
    x->version = ML_HTTP_2_TLS;

  /* The request's own path and headers go as they are, without a copy,
   * unless a rewrite or a header rule changes them. */
  const char *target = r->target;
  if (rt && rt->rewrite && (rt->rewrite->uri || rt->rewrite->regex)) {
    if (rewritten_path(r, rt, &p->path))
      return MESHLIB_ERR_NOMEM;
    target = p->path.data;
  }
  const ml_header_ops *rq = rt ? &rt->headers.request : NULL;
  const ml_header_ops *dq =
      dest->config ? &dest->config->headers.request : NULL;
  const ml_header *headers = r->headers;
  size_t header_count = r->header_count;
  if ((rq && !ml_header_ops_empty(rq)) || (dq && !ml_header_ops_empty(dq))) {
    p->header_count = 0;
    for (size_t i = 0; i < r->header_count; i++)
      if (ml_headers_push(mem, &p->headers, &p->header_count, &p->header_cap,
                          r->headers[i].name, r->headers[i].value))
        return MESHLIB_ERR_NOMEM;
    if ((rq && ml_header_ops_apply(mem, rq, &p->headers, &p->header_count,
                                   &p->header_cap)) ||
        (dq && ml_header_ops_apply(mem, dq, &p->headers, &p->header_count,
                                   &p->header_cap)))
      return MESHLIB_ERR_NOMEM;
    headers = p->headers;
    header_count = p->header_count;
  }

  x->method = r->method;
  x->scheme = scheme;
  x->authority = rt && rt->rewrite && rt->rewrite->authority
                     ? rt->rewrite->authority
                     : r->authority;
  x->path = target;
  p->base_headers = headers;
  p->base_header_count = header_count;
  x->headers = headers;
  x->header_count = header_count;
  x->body = r->body;
  x->body_len = r->body_len;
  x->limits = r->env->limits;
  x->proxy_from_env = r->env->proxy_from_env;
  const ml_connection_pool *cp = k ? &k->policy.connection_pool : NULL;
  if (cp && cp->present) {
    if (cp->connect_timeout_ms > 0)
      x->connect_timeout_ms = cp->connect_timeout_ms;
    ml_xfer_pool *pool = &p->pool;
    pool->max_requests_per_connection = cp->max_requests_per_connection;
    pool->idle_timeout_ms = cp->http_idle_timeout_ms;
    pool->max_connection_duration_ms = cp->max_connection_duration_ms;
    pool->tcp_keepalive = cp->has_tcp_keepalive;
    pool->keepalive_time_ms = cp->tcp_keepalive.time_ms;
    pool->keepalive_interval_ms = cp->tcp_keepalive.interval_ms;
    pool->keepalive_probes = cp->tcp_keepalive.probes;
    x->pool = pool;
  }
  const ml_client_tls *tls = k ? &k->policy.tls : NULL;
  if (tls && tls->present &&
      (tls->mode == ML_TLS_SIMPLE || tls->mode == ML_TLS_MUTUAL)) {
    /* TLS origination as the DestinationRule asks (ISTIO_MUTUAL needs the
     * mesh's certificates, which meshlib does not have yet). */
    p->tls.ca_file = tls->ca_certificates;
    p->tls.cert_file =
        tls->mode == ML_TLS_MUTUAL ? tls->client_certificate : NULL;
    p->tls.key_file = tls->mode == ML_TLS_MUTUAL ? tls->private_key : NULL;
    p->tls.sni = tls->sni;
    p->tls.insecure_skip_verify = tls->insecure_skip_verify == ML_TRI_TRUE;
    x->tls = &p->tls;
  }
  return MESHLIB_OK;
}

int ml_call_prepare(meshlib_request *r) {
  r->start_wall_us = ml_wall_us();
  r->start_us = ml_now_us();
  response_reset(r);
  r->performed = 1;
  ml_call_plan *p = &r->plan;
  p->step = ML_STEP_DONE;
  p->send = 0;
  p->state = NULL;
  p->set_cookie = 0;
  p->route = NULL;
  p->dest = NULL;
  p->cluster = NULL;
  p->grpc = ml_request_is_grpc(r);
  int rc = ml_request_route(r);
  if (rc != MESHLIB_OK)
    return rc;
  const ml_http_route *rt = r->decision.res.route;

  if (r->decision.flags & MESHLIB_RF_NR) {
    ml_call_local_reply(r, 404, MESHLIB_RF_NR, DETAILS_NR, "", 0);
  } else if (rt && rt->direct_response) {
    ml_call_local_reply(r, rt->direct_response->status, 0, "direct_response",
                        rt->direct_response->body ? rt->direct_response->body
                                                  : "",
                        rt->direct_response->body_len);
  } else if (rt && rt->redirect) {
    rc = redirect_reply(r, rt->redirect);
  } else if (r->decision.dest_count) {
    size_t i = 0;
    if (rt && rt->route_count > 1)
      i = ml_pick_destination(rt->route, rt->route_count,
                              ml_rand_next(&r->rand));
    const ml_decision_dest *dest = &r->decision.dests[i];
    p->dest = dest;
    p->route = rt;
    if (dest->missing_subset) {
      r->cluster = meshlib_decision_destination_cluster(&r->decision, i);
      ml_call_local_reply(r, 503, MESHLIB_RF_NC, DETAILS_NC, "", 0);
    } else {
      /* The cluster is found once per decision (ml_decision_make). */
      rc = setup_exchange(r, dest, dest->cluster, rt);
      if (rc == MESHLIB_OK)
        rc = ml_call_begin(r);
    }
  } else {
    ml_call_local_reply(r, 404, MESHLIB_RF_NR, DETAILS_NR, "", 0);
  }
  return rc;
}
