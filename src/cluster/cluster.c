/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include "cluster/cluster_internal.h"
#include "cluster/effective_policy.h"
#include "lb/select.h"
#include "meshlib/error.h"
#include "util/str.h"

struct ml_clusters {
  const ml_mem *mem;
  ml_live *live;
  ml_arena arena;
  ml_cluster *items;
  size_t count;
  size_t cap;
  struct slot {
    uint32_t idx1; /* cluster index + 1; 0 = empty */
    uint32_t port; /* the key's port: the cluster's, or 0 for "any" */
  } * slots;
  size_t mask;
};

/* An endpoint before it joins clusters: where it is, what it carries. */
typedef struct ep_src {
  const char *address;
  const ml_kv_list *ports; /* port name -> number (WorkloadEntry) */
  uint32_t port;           /* an explicit port (app endpoints); 0: none */
  uint32_t weight;
  const ml_kv_list *labels;
  const char *locality;
} ep_src;

typedef struct ep_vec {
  ep_src *items;
  size_t count;
  size_t cap;
} ep_vec;

static int vec_push(const ml_mem *mem, ep_vec *v, ep_src e) {
  if (v->count == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    ep_src *n = ml_realloc(mem, v->items, cap * sizeof(*n));
    if (!n)
      return -1;
    v->items = n;
    v->cap = cap;
  }
  v->items[v->count++] = e;
  return 0;
}

static uint64_t key_hash(const char *host, uint32_t port, const char *subset) {
  uint64_t h = ml_hash(host, strlen(host));
  h ^= (uint64_t)port * 0x9e3779b97f4a7c15ULL;
  if (subset)
    h ^= ml_hash(subset, strlen(subset)) * 31;
  return h ^ (h >> 29);
}

static int same_str(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static const ml_cluster *slot_find(const ml_clusters *c, const char *host,
                                   uint32_t port, const char *subset) {
  if (!c->slots)
    return NULL;
  for (size_t i = key_hash(host, port, subset) & c->mask;;
       i = (i + 1) & c->mask) {
    const struct slot *s = &c->slots[i];
    if (!s->idx1)
      return NULL;
    const ml_cluster *k = &c->items[s->idx1 - 1];
    if (s->port == port && strcmp(k->host, host) == 0 &&
        same_str(k->subset, subset))
      return k;
  }
}

/* Clusters are found while they are being added (first definition wins)
 * by a linear scan; the table is built once at the end. */
static int defined(const ml_clusters *c, const char *host, uint32_t port,
                   const char *subset) {
  for (size_t i = 0; i < c->count; i++)
    if (c->items[i].port == port && strcmp(c->items[i].host, host) == 0 &&
        same_str(c->items[i].subset, subset))
      return 1;
  return 0;
}

const ml_cluster *ml_clusters_find(const ml_clusters *c, const char *host,
                                   uint32_t port, const char *subset) {
  if (!c || !host)
    return NULL;
  const ml_cluster *k = slot_find(c, host, port, subset);
  if (!k) /* a single-port service, or endpoints set for any port */
    k = slot_find(c, host, 0, subset);
  return k;
}

size_t ml_clusters_count(const ml_clusters *c) {
  return c ? c->count : 0;
}

const ml_cluster *ml_clusters_at(const ml_clusters *c, size_t i) {
  return c && i < c->count ? &c->items[i] : NULL;
}

void ml_clusters_free(ml_clusters *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->count; i++) {
    ml_lb_free(c->items[i].lb);
    ml_live_release(c->live, c->items[i].states, c->items[i].endpoint_count);
    ml_live_release_cluster(c->live, c->items[i].state);
  }
  ml_free(c->mem, c->items);
  ml_free(c->mem, c->slots);
  ml_arena_release(&c->arena);
  ml_free(c->mem, c);
}

static ml_http_version version_of(const char *protocol,
                                  const ml_traffic_policy *p) {
  if (p->tls.present && p->tls.mode != ML_TLS_DISABLE)
    return ML_HTTP_2_TLS;
  if (protocol &&
      (ml_strcaseeq(protocol, "HTTP2") || ml_strcaseeq(protocol, "GRPC")))
    return ML_HTTP_2_PRIOR;
  if (protocol &&
      (ml_strcaseeq(protocol, "HTTPS") || ml_strcaseeq(protocol, "TLS")))
    return ML_HTTP_2_TLS;
  return ML_HTTP_1_1;
}

/* The port an endpoint listens on for service port |sp|: the endpoint's
 * own mapping for the port's name, else targetPort, else the number. */
static uint32_t target_port(const ep_src *e, const ml_service_port *sp) {
  if (e->port)
    return e->port;
  if (!sp)
    return 0;
  if (e->ports && sp->name)
    for (size_t i = 0; i < e->ports->count; i++) {
      int64_t v;
      if (strcmp(e->ports->items[i].key, sp->name) == 0 &&
          ml_parse_int64(e->ports->items[i].value, &v) == 0 && v > 0 &&
          v <= 65535)
        return (uint32_t)v;
    }
  return sp->target_port ? sp->target_port : sp->number;
}

static int copy_labels(ml_arena *a, const ml_kv_list *from, ml_kv_list *to) {
  to->count = 0;
  to->items =
      ml_arena_alloc(a, (from->count ? from->count : 1) * sizeof(*to->items));
  if (!to->items)
    return -1;
  for (size_t i = 0; i < from->count; i++) {
    to->items[i].key = ml_arena_strdup(a, from->items[i].key);
    to->items[i].value = ml_arena_strdup(a, from->items[i].value);
    if (!to->items[i].key || !to->items[i].value)
      return -1;
    to->count++;
  }
  return 0;
}

static int add_cluster(ml_clusters *c, const ml_cluster_inputs *in,
                       const char *host, const ml_service_port *sp,
                       const char *subset, const ml_kv_list *selector,
                       const ep_vec *eps) {
  uint32_t port = sp ? sp->number : 0;
  if (defined(c, host, port, subset))
    return 0; /* an earlier ServiceEntry defined it: first wins */
  if (c->count == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    ml_cluster *n = ml_realloc(c->mem, c->items, cap * sizeof(*n));
    if (!n)
      return -1;
    c->items = n;
    c->cap = cap;
  }
  ml_cluster *k = &c->items[c->count];
  memset(k, 0, sizeof(*k));
  k->host = ml_arena_strdup(&c->arena, host);
  if (!k->host)
    return -1;
  k->port = port;
  k->subset = subset;
  k->protocol = sp ? sp->protocol : NULL;
  const ml_dr_view *dr = ml_route_table_find_dr(in->routes, host);
  if (ml_effective_policy(dr, subset, port, &k->policy) != MESHLIB_OK)
    memset(&k->policy, 0, sizeof(k->policy));
  k->version = version_of(k->protocol, &k->policy);

  char buf[512];
  snprintf(buf, sizeof(buf), "outbound|%u|%s|%s", port, subset ? subset : "",
           host);
  k->name = ml_arena_strdup(&c->arena, buf);
  size_t n = 0;
  for (size_t i = 0; i < eps->count; i++)
    n += !selector || ml_labels_select(selector, eps->items[i].labels);
  k->endpoints =
      ml_arena_alloc(&c->arena, (n ? n : 1) * sizeof(ml_lb_endpoint));
  k->states = ml_arena_alloc(&c->arena, (n ? n : 1) * sizeof(ml_ep_state *));
  if (!k->name || !k->endpoints || !k->states)
    return -1;
  c->count++; /* from here on, ml_clusters_free() cleans up after us */
  k->state = ml_live_acquire_cluster(c->live, k->name);
  if (!k->state)
    return -1;
  for (size_t i = 0; i < eps->count; i++) {
    const ep_src *e = &eps->items[i];
    if (selector && !ml_labels_select(selector, e->labels))
      continue;
    ml_lb_endpoint *le = &k->endpoints[k->endpoint_count];
    /* Copies: endpoints the application sets are replaced while calls
     * still hold this snapshot. */
    le->address = ml_arena_strdup(&c->arena, e->address);
    le->port = target_port(e, sp);
    le->weight = e->weight ? e->weight : 1;
    if (e->labels && copy_labels(&c->arena, e->labels, &le->labels))
      return -1;
    le->locality = e->locality ? ml_arena_strdup(&c->arena, e->locality) : NULL;
    if (!le->address)
      return -1;
    snprintf(buf, sizeof(buf), "%s|%s:%u", k->name, e->address, le->port);
    ml_ep_state *st = ml_live_acquire(c->live, buf);
    if (!st)
      return -1;
    k->states[k->endpoint_count++] = st;
    le->in_flight = &st->in_flight;
    le->ejected = &st->outlier.ejected;
  }
  if (k->endpoint_count) {
    ml_lb_config cfg;
    ml_lb_config_from_policy(&k->policy, &cfg);
    int rc = ml_lb_new(c->mem, &cfg, k->endpoints, k->endpoint_count, &k->lb);
    if (rc == MESHLIB_ERR_NOMEM)
      return -1;
  }
  return 0;
}

/* Endpoints of a ServiceEntry: its own list, or the WorkloadEntries its
 * selector picks in its namespace; a DNS entry with neither resolves its
 * host itself. */
static int se_endpoints(const ml_mem *mem, const ml_config *cfg,
                        const ml_service_entry *se, const char *host,
                        ep_vec *v) {
  for (size_t i = 0; i < se->endpoint_count; i++) {
    const ml_workload_entry_spec *w = &se->endpoints[i];
    ep_src e = {w->address, &w->ports,
                0,          w->weight > 0 ? (uint32_t)w->weight : 1,
                &w->labels, w->locality};
    if (w->address && vec_push(mem, v, e))
      return -1;
  }
  if (se->has_workload_selector)
    for (size_t i = 0; i < cfg->we_count; i++) {
      const ml_workload_entry *we = cfg->workload_entries[i];
      if (!we->spec.address ||
          strcmp(we->meta.namespace_, se->meta.namespace_) != 0 ||
          !ml_labels_select(&se->workload_selector, &we->spec.labels))
        continue;
      const ml_workload_entry_spec *w = &we->spec;
      ep_src e = {w->address, &w->ports,
                  0,          w->weight > 0 ? (uint32_t)w->weight : 1,
                  &w->labels, w->locality};
      if (vec_push(mem, v, e))
        return -1;
    }
  int dns = se->resolution == ML_RESOLUTION_DNS ||
            se->resolution == ML_RESOLUTION_DNS_ROUND_ROBIN;
  if (!v->count && dns) {
    ep_src e = {host, NULL, 0, 1, NULL, NULL};
    if (vec_push(mem, v, e))
      return -1;
  }
  return 0;
}

static const ml_dns_answer *dns_find(const ml_cluster_inputs *in,
                                     const char *name) {
  for (size_t i = 0; i < in->dns_count; i++)
    if (strcmp(in->dns[i].name, name) == 0)
      return &in->dns[i];
  return NULL;
}

/* Names in |v| become the addresses the resolver found: all of them for
 * DNS, the first for DNS_ROUND_ROBIN (Envoy's LOGICAL_DNS). A name not
 * resolved yet (or never) stays a name: the connection resolves it. */
static int dns_expand(const ml_mem *mem, const ml_cluster_inputs *in,
                      const ml_service_entry *se, ep_vec *v) {
  if (se->resolution != ML_RESOLUTION_DNS &&
      se->resolution != ML_RESOLUTION_DNS_ROUND_ROBIN)
    return 0;
  ep_vec out = {0};
  for (size_t i = 0; i < v->count; i++) {
    const ep_src *e = &v->items[i];
    const ml_dns_answer *a =
        ml_is_ip_literal(e->address) ? NULL : dns_find(in, e->address);
    size_t n = a ? a->count : 0;
    if (n && se->resolution == ML_RESOLUTION_DNS_ROUND_ROBIN)
      n = 1;
    for (size_t j = 0; j < n; j++) {
      ep_src x = *e;
      x.address = a->addrs[j];
      if (vec_push(mem, &out, x))
        goto oom;
    }
    if (!n && vec_push(mem, &out, *e))
      goto oom;
  }
  ml_free(mem, v->items);
  *v = out;
  return 0;
oom:
  ml_free(mem, out.items);
  return -1;
}

int ml_is_ip_literal(const char *s) {
  if (strchr(s, ':'))
    return 1; /* IPv6; names have no colon */
  size_t n = strlen(s);
  return n && strspn(s, "0123456789.") == n;
}

int ml_clusters_dns_names(const ml_config *c,
                          int (*cb)(const char *name, void *ud), void *ud) {
  for (size_t i = 0; c && i < c->se_count; i++) {
    const ml_service_entry *se = c->service_entries[i];
    if (se->resolution != ML_RESOLUTION_DNS &&
        se->resolution != ML_RESOLUTION_DNS_ROUND_ROBIN)
      continue;
    for (size_t j = 0; j < se->endpoint_count; j++) {
      const char *a = se->endpoints[j].address;
      if (a && !ml_is_ip_literal(a) && cb(a, ud))
        return -1;
    }
    if (!se->endpoint_count && !se->has_workload_selector)
      for (size_t h = 0; h < se->hosts.count; h++)
        if (se->host_fqdns[h] && se->host_fqdns[h][0] != '*' &&
            cb(se->host_fqdns[h], ud))
          return -1;
  }
  return 0;
}

/* One cluster for the whole service plus one per subset the
 * DestinationRule defines, for each port. */
static int add_service(ml_clusters *c, const ml_cluster_inputs *in,
                       const char *host, const ml_service_port *ports,
                       size_t port_count, const ep_vec *eps) {
  const ml_dr_view *dr = ml_route_table_find_dr(in->routes, host);
  size_t np = port_count ? port_count : 1;
  size_t first = c->count;
  for (size_t p = 0; p < np; p++) {
    const ml_service_port *sp = port_count ? &ports[p] : NULL;
    if (add_cluster(c, in, host, sp, NULL, NULL, eps))
      return -1;
    for (size_t s = 0; dr && s < dr->subset_count; s++)
      if (add_cluster(c, in, host, sp, dr->subsets[s]->name,
                      &dr->subsets[s]->labels, eps))
        return -1;
    /* A single-port service also answers requests for any port, as a
     * destination without a port takes the service's only port. */
    if (port_count == 1)
      for (size_t i = first; i < c->count; i++)
        c->items[i].any_port = 1;
  }
  return 0;
}

static void slot_put(ml_clusters *c, size_t idx, uint32_t port) {
  const ml_cluster *k = &c->items[idx];
  size_t s = key_hash(k->host, port, k->subset) & c->mask;
  while (c->slots[s].idx1)
    s = (s + 1) & c->mask;
  c->slots[s].idx1 = (uint32_t)idx + 1;
  c->slots[s].port = port;
}

static int build_slots(ml_clusters *c) {
  size_t cap = 16;
  while (cap < c->count * 4)
    cap <<= 1;
  c->slots = ml_calloc(c->mem, cap, sizeof(*c->slots));
  if (!c->slots)
    return -1;
  c->mask = cap - 1;
  for (size_t i = 0; i < c->count; i++) {
    slot_put(c, i, c->items[i].port);
    if (c->items[i].any_port && c->items[i].port)
      slot_put(c, i, 0);
  }
  return 0;
}

int ml_clusters_build(const ml_mem *mem, ml_live *live,
                      const ml_cluster_inputs *in, ml_clusters **out) {
  *out = NULL;
  ml_clusters *c = ml_calloc(mem, 1, sizeof(*c));
  if (!c)
    return MESHLIB_ERR_NOMEM;
  c->mem = mem;
  c->live = live;
  ml_arena_init(&c->arena, mem);
  ep_vec v = {0};
  int rc = MESHLIB_ERR_NOMEM;

  /* Endpoints the application set come first: its own discovery wins. */
  for (size_t i = 0; i < in->app_count; i++) {
    const ml_app_endpoints *a = &in->app[i];
    v.count = 0;
    for (size_t j = 0; j < a->count; j++) {
      const ml_app_endpoint *e = &a->items[j];
      ep_src s = {e->address, NULL, e->port, e->weight, &e->labels, NULL};
      if (vec_push(mem, &v, s))
        goto out;
    }
    if (add_service(c, in, a->host, NULL, 0, &v))
      goto out;
  }
  const ml_config *cfg = in->config;
  for (size_t i = 0; cfg && i < cfg->se_count; i++) {
    const ml_service_entry *se = cfg->service_entries[i];
    if (se->resolution == ML_RESOLUTION_NONE ||
        se->resolution == ML_RESOLUTION_DYNAMIC_DNS)
      continue; /* the call goes where the request names */
    for (size_t h = 0; h < se->hosts.count; h++) {
      const char *host = se->host_fqdns[h];
      if (!host || host[0] == '*')
        continue;
      int app = 0;
      for (size_t j = 0; j < in->app_count; j++)
        app |= strcmp(in->app[j].host, host) == 0;
      if (app)
        continue;
      v.count = 0;
      if (se_endpoints(mem, cfg, se, host, &v) || dns_expand(mem, in, se, &v) ||
          add_service(c, in, host, se->ports, se->port_count, &v))
        goto out;
    }
  }
  if (build_slots(c))
    goto out;
  rc = MESHLIB_OK;
out:
  ml_free(mem, v.items);
  if (rc != MESHLIB_OK)
    ml_clusters_free(c);
  else
    *out = c;
  return rc;
}
