/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include "cluster/cluster.h"
#include "call/request.h"
#include "util/str.h"

void ml_decision_release(const ml_mem *mem, struct meshlib_decision *d) {
  if (d->snap)
    ml_snapshot_unref(d->snap);
  d->snap = NULL;
  d->valid = 0;
  ml_free(mem, d->dests);
  d->dests = NULL;
  d->dest_count = d->dest_cap = 0;
  ml_buf_free(&d->text);
  ml_buf_free(&d->host_text);
}

/* Decimal text of |v| at the end of |t| (10 bytes): where it starts. */
static char *u32_text(char t[10], uint32_t v) {
  char *p = t + 10;
  do {
    *--p = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return p;
}

/* These run for every new decision: appends, not printf, which costs
 * about ten times more. */
static void buf_put_u32(ml_buf *b, uint32_t v) {
  char t[10];
  char *p = u32_text(t, v);
  ml_buf_append(b, p, (size_t)(t + 10 - p));
}

static void index_text(char out[16], int32_t i) {
  char t[10];
  char *p = u32_text(t, i < 0 ? (uint32_t) - (int64_t)i : (uint32_t)i);
  size_t n = (size_t)(t + 10 - p);
  if (i < 0)
    *out++ = '-';
  memcpy(out, p, n);
  out[n] = '\0';
}

/* The FQDN of a host called without rules: a bare name resolves in the
 * caller's namespace, as the pod's DNS search path would resolve it. IP
 * literals stay as they are. */
static void implicit_fqdn(ml_buf *b, const char *host, const ml_call_env *s) {
  ml_buf_reset(b);
  ml_buf_puts(b, host);
  if (!strchr(host, '.') && !strchr(host, ':')) {
    ml_buf_putc(b, '.');
    ml_buf_puts(b, s->namespace_);
    ml_buf_puts(b, ".svc.");
    ml_buf_puts(b, s->domain_suffix);
  } else if (ml_ends_with(host, ".svc")) {
    ml_buf_putc(b, '.');
    ml_buf_puts(b, s->domain_suffix);
  }
}

/* Decide for |r| on |snap|, whose reference |d| takes. */
static int decision_make(struct meshlib_decision *d, ml_snapshot *snap,
                         const meshlib_request *r) {
  const ml_call_env *env = r->env;
  const ml_mem *mem = env->mem;
  ml_route_input in = {0};
  in.method = r->method;
  in.scheme = r->scheme;
  in.authority = r->authority;
  in.host = r->host;
  in.port = r->port;
  in.path = r->path;
  in.query = r->query;
  in.headers = r->headers;
  in.header_count = r->header_count;
  if (r->source_label_count) {
    in.source_labels = r->source_labels;
    in.source_label_count = r->source_label_count;
  } else {
    in.source_labels = env->labels;
    in.source_label_count = env->label_count;
  }
  in.source_namespace = env->namespace_;
  d->default_retries = !env->no_default_retries;

  ml_route_result res;
  int rc = ml_route_decide(snap->routes, &in, &res);
  /* What follows the match (destinations, their DestinationRules,
   * clusters and names) depends only on the snapshot, the rule matched
   * and the request's host and port, which a request keeps: when the
   * request is performed again and matches the same rule of the same
   * snapshot, the last decision's destinations stand. The snapshot
   * cannot be another one at the same address: |d| still holds it. */
  int same = rc == MESHLIB_OK && d->valid && d->snap == snap &&
             d->res.vs == res.vs && d->res.route == res.route &&
             d->port == r->port;
  if (d->snap)
    ml_snapshot_unref(d->snap);
  d->snap = snap;
  if (same) {
    d->res = res;
    d->flags = res.flags | d->dest_flags;
    d->host = res.vs ? res.host_fqdn : d->host_text.data;
    return MESHLIB_OK;
  }
  d->valid = 0;
  d->dest_count = 0;
  d->port = r->port;
  ml_buf_reset(&d->text);
  if (rc != MESHLIB_OK)
    return rc;
  d->res = res;
  d->flags = d->res.flags;
  index_text(d->route_index_text, d->res.route_index);

  /* Destinations: the matched route's, or the host itself. */
  const ml_route_destination *dests = NULL;
  size_t count = 0;
  if (!d->res.vs) {
    implicit_fqdn(&d->host_text, r->host, env);
    if (d->host_text.oom)
      return MESHLIB_ERR_NOMEM;
    memset(&d->implicit, 0, sizeof(d->implicit));
    d->implicit.weight = -1;
    dests = &d->implicit;
    count = 1;
  } else if (d->res.route) {
    dests = d->res.route->route;
    count = d->res.route->route_count;
  }
  if (count > d->dest_cap) {
    ml_decision_dest *nd = ml_realloc(mem, d->dests, count * sizeof(*nd));
    if (!nd)
      return MESHLIB_ERR_NOMEM;
    d->dests = nd;
    d->dest_cap = count;
  }
  uint32_t dest_flags = 0;
  for (size_t i = 0; i < count; i++) {
    ml_decision_dest *x = &d->dests[i];
    memset(x, 0, sizeof(*x));
    x->config = d->res.vs ? &dests[i] : NULL;
    x->subset = dests[i].destination.subset;
    x->port = dests[i].destination.port;
    if (count == 1)
      x->weight = 100;
    else
      x->weight = dests[i].weight > 0 ? (uint32_t)dests[i].weight : 0;
    /* The text buffer may move while it grows: keep offsets into it. */
    const char *host =
        x->config ? dests[i].destination.fqdn : d->host_text.data;
    x->dr = ml_route_table_find_dr(snap->routes, host);
    x->missing_subset =
        x->subset && (!x->dr || !ml_dr_view_subset(x->dr, x->subset));
    if (x->missing_subset)
      dest_flags |= MESHLIB_RF_NC;
    else
      x->cluster = ml_clusters_find(snap->clusters, host,
                                    x->port ? x->port : d->port, x->subset);
    x->cluster_off = d->text.len;
    ml_buf_puts(&d->text, "outbound|");
    buf_put_u32(&d->text, x->port ? x->port : d->port);
    ml_buf_putc(&d->text, '|');
    if (x->subset)
      ml_buf_puts(&d->text, x->subset);
    ml_buf_putc(&d->text, '|');
    ml_buf_puts(&d->text, host);
    ml_buf_putc(&d->text, '\0');
    x->dr_name_off = (size_t)-1;
    if (x->dr) {
      x->dr_name_off = d->text.len;
      ml_buf_puts(&d->text, x->dr->first->meta.namespace_);
      ml_buf_putc(&d->text, '/');
      ml_buf_puts(&d->text, x->dr->first->meta.name);
      ml_buf_putc(&d->text, '\0');
    }
  }
  if (d->text.oom)
    return MESHLIB_ERR_NOMEM;
  d->host = d->res.vs ? d->res.host_fqdn : d->host_text.data;
  for (size_t i = 0; i < count; i++) {
    ml_decision_dest *x = &d->dests[i];
    x->host = x->config ? x->config->destination.fqdn : d->host;
  }
  d->dest_count = count;
  d->dest_flags = dest_flags;
  d->flags |= dest_flags;
  d->valid = 1;
  return MESHLIB_OK;
}

int ml_request_route(meshlib_request *r) {
  r->has_decision = 0;
  ml_snapshot *snap = ml_snapshot_slot_acquire(r->env->current);
  int rc = decision_make(&r->decision, snap, r);
  r->has_decision = rc == MESHLIB_OK;
  return rc;
}

/* Getters. */

uint64_t meshlib_decision_config_version(const meshlib_decision *d) {
  return d && d->snap ? d->snap->version : 0;
}
uint32_t meshlib_decision_response_flags(const meshlib_decision *d) {
  return d ? d->flags : 0;
}
const char *meshlib_decision_host(const meshlib_decision *d) {
  return d ? d->host : NULL;
}
uint32_t meshlib_decision_port(const meshlib_decision *d) {
  return d ? d->port : 0;
}
const char *meshlib_decision_vs_name(const meshlib_decision *d) {
  return d && d->res.vs ? d->res.vs->meta.name : NULL;
}
const char *meshlib_decision_vs_namespace(const meshlib_decision *d) {
  return d && d->res.vs ? d->res.vs->meta.namespace_ : NULL;
}
const char *meshlib_decision_route_name(const meshlib_decision *d) {
  if (!d || !d->res.route)
    return NULL;
  return d->res.route->name ? d->res.route->name : d->route_index_text;
}
int32_t meshlib_decision_route_index(const meshlib_decision *d) {
  return d && d->res.route ? d->res.route_index : -1;
}

size_t meshlib_decision_destination_count(const meshlib_decision *d) {
  return d ? d->dest_count : 0;
}

static const ml_decision_dest *dest_at(const meshlib_decision *d, size_t i) {
  return d && i < d->dest_count ? &d->dests[i] : NULL;
}

const char *meshlib_decision_destination_host(const meshlib_decision *d,
                                              size_t i) {
  const ml_decision_dest *x = dest_at(d, i);
  return x ? x->host : NULL;
}
const char *meshlib_decision_destination_subset(const meshlib_decision *d,
                                                size_t i) {
  const ml_decision_dest *x = dest_at(d, i);
  return x ? x->subset : NULL;
}
uint32_t meshlib_decision_destination_port(const meshlib_decision *d,
                                           size_t i) {
  const ml_decision_dest *x = dest_at(d, i);
  return x ? x->port : 0;
}
uint32_t meshlib_decision_destination_weight(const meshlib_decision *d,
                                             size_t i) {
  const ml_decision_dest *x = dest_at(d, i);
  return x ? x->weight : 0;
}
const char *meshlib_decision_destination_rule(const meshlib_decision *d,
                                              size_t i) {
  const ml_decision_dest *x = dest_at(d, i);
  return x && x->dr ? d->text.data + x->dr_name_off : NULL;
}
const char *meshlib_decision_destination_cluster(const meshlib_decision *d,
                                                 size_t i) {
  const ml_decision_dest *x = dest_at(d, i);
  return x ? d->text.data + x->cluster_off : NULL;
}
int meshlib_decision_destination_missing_subset(const meshlib_decision *d,
                                                size_t i) {
  const ml_decision_dest *x = dest_at(d, i);
  return x ? x->missing_subset : 0;
}

static const ml_http_route *route_of(const meshlib_decision *d) {
  return d ? d->res.route : NULL;
}

const char *meshlib_decision_rewrite_uri(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->rewrite ? r->rewrite->uri : NULL;
}
const char *meshlib_decision_rewrite_authority(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->rewrite ? r->rewrite->authority : NULL;
}
const char *meshlib_decision_rewrite_regex(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->rewrite ? r->rewrite->regex_match : NULL;
}
const char *
meshlib_decision_rewrite_regex_substitution(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->rewrite ? r->rewrite->regex_rewrite : NULL;
}

int64_t meshlib_decision_timeout_ms(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r ? r->timeout_ms : -1;
}

int meshlib_decision_has_retries(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->retries;
}
int32_t meshlib_decision_retry_attempts(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->retries ? (int32_t)r->retries->attempts : -1;
}
int64_t meshlib_decision_retry_per_try_timeout_ms(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->retries ? r->retries->per_try_timeout_ms : -1;
}
const char *meshlib_decision_retry_on(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->retries ? r->retries->retry_on : NULL;
}

int meshlib_decision_has_fault(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->fault;
}
int64_t meshlib_decision_fault_delay_ms(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->fault && r->fault->has_delay ? r->fault->delay_fixed_ms : -1;
}
double meshlib_decision_fault_delay_percent(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  if (!r || !r->fault || !r->fault->has_delay)
    return 0;
  /* No percentage means nothing is delayed (Istio). */
  return r->fault->delay_percentage.value < 0
             ? 0
             : r->fault->delay_percentage.value;
}
int32_t meshlib_decision_fault_abort_status(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->fault && r->fault->has_abort ? r->fault->abort_http_status : 0;
}
const char *
meshlib_decision_fault_abort_grpc_status(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->fault && r->fault->has_abort ? r->fault->abort_grpc_status
                                              : NULL;
}
double meshlib_decision_fault_abort_percent(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  if (!r || !r->fault || !r->fault->has_abort)
    return 0;
  return r->fault->abort_percentage.value < 0
             ? 0
             : r->fault->abort_percentage.value;
}

int32_t meshlib_decision_direct_response_status(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->direct_response ? r->direct_response->status : 0;
}
const char *meshlib_decision_direct_response_body(const meshlib_decision *d,
                                                  size_t *len) {
  const ml_http_route *r = route_of(d);
  const ml_direct_response *dr = r ? r->direct_response : NULL;
  if (len)
    *len = dr && dr->body ? dr->body_len : 0;
  return dr ? dr->body : NULL;
}

int32_t meshlib_decision_redirect_code(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->redirect ? r->redirect->redirect_code : 0;
}
const char *meshlib_decision_redirect_uri(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->redirect ? r->redirect->uri : NULL;
}
const char *meshlib_decision_redirect_authority(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->redirect ? r->redirect->authority : NULL;
}
const char *meshlib_decision_redirect_scheme(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->redirect ? r->redirect->scheme : NULL;
}
uint32_t meshlib_decision_redirect_port(const meshlib_decision *d) {
  const ml_http_route *r = route_of(d);
  return r && r->redirect ? r->redirect->port : 0;
}

static const ml_header_ops *header_ops(const meshlib_decision *d, int32_t dest,
                                       int dir) {
  const ml_headers *h = NULL;
  if (!d || (dir != MESHLIB_HEADERS_REQUEST && dir != MESHLIB_HEADERS_RESPONSE))
    return NULL;
  if (dest < 0) {
    if (!d->res.route)
      return NULL;
    h = &d->res.route->headers;
  } else {
    const ml_decision_dest *x = dest_at(d, (size_t)dest);
    if (!x || !x->config)
      return NULL;
    h = &x->config->headers;
  }
  return dir == MESHLIB_HEADERS_REQUEST ? &h->request : &h->response;
}

size_t meshlib_decision_header_count(const meshlib_decision *d, int32_t dest,
                                     int dir) {
  const ml_header_ops *o = header_ops(d, dest, dir);
  return o ? o->set.count + o->add.count + o->remove.count : 0;
}

int meshlib_decision_header(const meshlib_decision *d, int32_t dest, int dir,
                            size_t i, int *op, const char **name,
                            const char **value) {
  if (!d || !op || !name || !value)
    return MESHLIB_ERR_INVALID_ARG;
  const ml_header_ops *o = header_ops(d, dest, dir);
  if (!o)
    return MESHLIB_ERR_RANGE;
  if (i < o->set.count) {
    *op = MESHLIB_HEADER_SET;
    *name = o->set.items[i].key;
    *value = o->set.items[i].value;
    return MESHLIB_OK;
  }
  i -= o->set.count;
  if (i < o->add.count) {
    *op = MESHLIB_HEADER_ADD;
    *name = o->add.items[i].key;
    *value = o->add.items[i].value;
    return MESHLIB_OK;
  }
  i -= o->add.count;
  if (i < o->remove.count) {
    *op = MESHLIB_HEADER_REMOVE;
    *name = o->remove.items[i];
    *value = NULL;
    return MESHLIB_OK;
  }
  return MESHLIB_ERR_RANGE;
}
