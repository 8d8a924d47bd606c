/* SPDX-License-Identifier: MIT */
/* meshlib_clusters: a copy of the live state of the clusters in force,
 * for the admin endpoint and applications. The snapshot it was taken
 * from is held, so that names, addresses and labels stay valid. */
#include <string.h>
#include <time.h>
#include "cluster/inspect.h"
#include "meshlib/error.h"
#include "util/clock.h"

typedef struct cl_item {
  uint64_t stats[MESHLIB_CLUSTER_STAT_COUNT];
  meshlib_endpoint_state *eps;
} cl_item;

struct meshlib_clusters {
  const ml_mem *mem;
  ml_snapshot *snap;
  const ml_clusters *cl;
  size_t count;
  cl_item *items;
};

static const char *const stat_names[MESHLIB_CLUSTER_STAT_COUNT] = {
    "upstream_rq_active",
    "upstream_rq_pending_active",
    "upstream_rq_pending_total",
    "upstream_rq_pending_overflow",
    "upstream_cx_overflow",
    "upstream_rq_retry",
    "upstream_rq_retry_overflow",
    "upstream_rq_retry_active",
    "upstream_rq_retry_rate_budget_overflow",
    "outlier_detection.ejections_active",
    "outlier_detection.ejections_total",
    "outlier_detection.ejections_overflow",
    "outlier_detection.ejections_enforced_total",
    "outlier_detection.ejections_enforced_consecutive_5xx",
    "outlier_detection.ejections_detected_consecutive_5xx",
    "outlier_detection.ejections_enforced_consecutive_gateway_failure",
    "outlier_detection.ejections_detected_consecutive_gateway_failure",
    "outlier_detection.ejections_enforced_consecutive_local_origin_failure",
    "outlier_detection.ejections_detected_consecutive_local_origin_failure",
};

const char *meshlib_cluster_stat_name(meshlib_cluster_stat stat) {
  return (unsigned)stat < MESHLIB_CLUSTER_STAT_COUNT ? stat_names[stat] : NULL;
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void copy_stats(const ml_cluster *k, uint64_t *v) {
  ml_cluster_state *s = k->state;
  if (!s)
    return;
  const ml_breaker_state *b = &s->breaker;
  const ml_breaker_stats *st = &b->stats;
  const ml_outlier_stats *od = &s->outlier.stats;
  v[MESHLIB_CLUSTER_RQ_ACTIVE] = LOAD(b->rq_active);
  v[MESHLIB_CLUSTER_RQ_PENDING_ACTIVE] = LOAD(b->rq_pending);
  v[MESHLIB_CLUSTER_RQ_PENDING_TOTAL] = LOAD(st->upstream_rq_pending_total);
  v[MESHLIB_CLUSTER_RQ_PENDING_OVERFLOW] =
      LOAD(st->upstream_rq_pending_overflow);
  v[MESHLIB_CLUSTER_CX_OVERFLOW] = LOAD(st->upstream_cx_overflow);
  v[MESHLIB_CLUSTER_RQ_RETRY] = LOAD(st->upstream_rq_retry);
  v[MESHLIB_CLUSTER_RQ_RETRY_OVERFLOW] = LOAD(st->upstream_rq_retry_overflow);
  v[MESHLIB_CLUSTER_RQ_RETRY_ACTIVE] = LOAD(b->retries_active);
  v[MESHLIB_CLUSTER_RETRY_RATE_BUDGET_OVERFLOW] =
      LOAD(st->retry_rate_budget_overflow);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_ACTIVE] = ml_cluster_ejected_count(k);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_TOTAL] = LOAD(od->ejections_total);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_OVERFLOW] = LOAD(od->ejections_overflow);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_ENFORCED_TOTAL] =
      LOAD(od->ejections_enforced_total);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_ENFORCED_CONSECUTIVE_5XX] =
      LOAD(od->ejections_enforced_consecutive_5xx);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_DETECTED_CONSECUTIVE_5XX] =
      LOAD(od->ejections_detected_consecutive_5xx);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_ENFORCED_CONSECUTIVE_GATEWAY_FAILURE] =
      LOAD(od->ejections_enforced_consecutive_gateway_failure);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_DETECTED_CONSECUTIVE_GATEWAY_FAILURE] =
      LOAD(od->ejections_detected_consecutive_gateway_failure);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_ENFORCED_CONSECUTIVE_LOCAL_ORIGIN_FAILURE] =
      LOAD(od->ejections_enforced_consecutive_local_origin_failure);
  v[MESHLIB_CLUSTER_OD_EJECTIONS_DETECTED_CONSECUTIVE_LOCAL_ORIGIN_FAILURE] =
      LOAD(od->ejections_detected_consecutive_local_origin_failure);
}

static void copy_endpoint(const ml_cluster *k, size_t j, int64_t now,
                          meshlib_endpoint_state *e) {
  const ml_lb_endpoint *le = &k->endpoints[j];
  ml_ep_state *s = k->states[j];
  ml_outlier_host *h = &s->outlier;
  e->age = 1;
  e->address = le->address;
  e->port = le->port;
  e->weight = le->weight;
  e->locality = le->locality;
  e->in_flight = LOAD(s->in_flight);
  e->ejected = LOAD(h->ejected) != 0;
  e->ejection_count = LOAD(h->ejection_count);
  e->ejection_multiplier = LOAD(h->eject_multiplier);
  int64_t until = LOAD(h->ejected_until_ms);
  e->ejected_for_ms = e->ejected && until ? until - now : 0;
  e->consecutive_5xx = LOAD(h->consecutive_5xx);
  e->consecutive_gateway_failure = LOAD(h->consecutive_gateway);
  e->consecutive_local_origin_failure = LOAD(h->consecutive_local_origin);
}

void meshlib_clusters_free(meshlib_clusters *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->count; i++)
    ml_free(c->mem, c->items[i].eps);
  ml_free(c->mem, c->items);
  if (c->snap)
    ml_snapshot_unref(c->snap);
  ml_free(c->mem, c);
}

int ml_clusters_picture(const ml_mem *mem, ml_snapshot *snap,
                        meshlib_clusters **out) {
  *out = NULL;
  meshlib_clusters *c = ml_calloc(mem, 1, sizeof(*c));
  if (!c) {
    ml_snapshot_unref(snap);
    return MESHLIB_ERR_NOMEM;
  }
  c->mem = mem;
  c->snap = snap;
  c->cl = c->snap ? c->snap->clusters : NULL;
  size_t n = ml_clusters_count(c->cl);
  if (n) {
    c->items = ml_calloc(c->mem, n, sizeof(*c->items));
    if (!c->items)
      goto oom;
  }
  int64_t now = ml_now_ms();
  for (size_t i = 0; i < n; i++) {
    const ml_cluster *k = ml_clusters_at(c->cl, i);
    cl_item *it = &c->items[i];
    c->count = i + 1;
    copy_stats(k, it->stats);
    if (!k->endpoint_count)
      continue;
    it->eps = ml_calloc(c->mem, k->endpoint_count, sizeof(*it->eps));
    if (!it->eps)
      goto oom;
    for (size_t j = 0; j < k->endpoint_count; j++)
      copy_endpoint(k, j, now, &it->eps[j]);
  }
  *out = c;
  return MESHLIB_OK;
oom:
  meshlib_clusters_free(c);
  return MESHLIB_ERR_NOMEM;
}

size_t meshlib_clusters_count(const meshlib_clusters *c) {
  return c ? c->count : 0;
}

static const ml_cluster *at(const meshlib_clusters *c, size_t i) {
  return c && i < c->count ? ml_clusters_at(c->cl, i) : NULL;
}

const char *meshlib_cluster_name(const meshlib_clusters *c, size_t i) {
  const ml_cluster *k = at(c, i);
  return k ? k->name : NULL;
}

const char *meshlib_cluster_host(const meshlib_clusters *c, size_t i) {
  const ml_cluster *k = at(c, i);
  return k ? k->host : NULL;
}

uint32_t meshlib_cluster_port(const meshlib_clusters *c, size_t i) {
  const ml_cluster *k = at(c, i);
  return k ? k->port : 0;
}

const char *meshlib_cluster_subset(const meshlib_clusters *c, size_t i) {
  const ml_cluster *k = at(c, i);
  return k ? k->subset : NULL;
}

const char *meshlib_cluster_lb(const meshlib_clusters *c, size_t i) {
  const ml_cluster *k = at(c, i);
  return k && k->lb ? ml_lb_kind_name(ml_lb_kind_of(k->lb)) : NULL;
}

uint64_t meshlib_cluster_stat_value(const meshlib_clusters *c, size_t i,
                                    meshlib_cluster_stat stat) {
  if (!at(c, i) || (unsigned)stat >= MESHLIB_CLUSTER_STAT_COUNT)
    return 0;
  return c->items[i].stats[stat];
}

size_t meshlib_cluster_endpoint_count(const meshlib_clusters *c, size_t i) {
  const ml_cluster *k = at(c, i);
  return k ? k->endpoint_count : 0;
}

int meshlib_cluster_endpoint(const meshlib_clusters *c, size_t i, size_t j,
                             meshlib_endpoint_state *out) {
  if (!c || !out)
    return MESHLIB_ERR_INVALID_ARG;
  const ml_cluster *k = at(c, i);
  if (!k || j >= k->endpoint_count)
    return MESHLIB_ERR_RANGE;
  *out = c->items[i].eps[j];
  return MESHLIB_OK;
}

size_t meshlib_cluster_endpoint_label_count(const meshlib_clusters *c, size_t i,
                                            size_t j) {
  const ml_cluster *k = at(c, i);
  return k && j < k->endpoint_count ? k->endpoints[j].labels.count : 0;
}

int meshlib_cluster_endpoint_label(const meshlib_clusters *c, size_t i,
                                   size_t j, size_t n, const char **key,
                                   const char **value) {
  if (!c || !key || !value)
    return MESHLIB_ERR_INVALID_ARG;
  const ml_cluster *k = at(c, i);
  if (!k || j >= k->endpoint_count || n >= k->endpoints[j].labels.count)
    return MESHLIB_ERR_RANGE;
  *key = k->endpoints[j].labels.items[n].key;
  *value = k->endpoints[j].labels.items[n].value;
  return MESHLIB_OK;
}
