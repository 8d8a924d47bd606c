/* SPDX-License-Identifier: MIT */
#include "cluster/snapshot.h"

#include "config/load.h"
#include "meshlib/error.h"

static void compiled_unref(ml_compiled *c) {
  if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
    return;
  ml_route_table_free(c->routes);
  ml_config_free(c->config);
  ml_free(c->mem, c);
}

/* The snapshot of |compiled| (whose reference it takes) with clusters
 * built from |e|. */
static int snapshot_make(const ml_mem *mem, ml_compiled *compiled,
                         const ml_route_settings *s, uint64_t version,
                         const ml_endpoint_inputs *e, ml_snapshot **out) {
  ml_snapshot *snap = ml_calloc(mem, 1, sizeof(*snap));
  if (!snap) {
    compiled_unref(compiled);
    return MESHLIB_ERR_NOMEM;
  }
  atomic_init(&snap->refs, 1);
  snap->version = version;
  snap->mem = mem;
  snap->compiled = compiled;
  snap->config = compiled->config;
  snap->routes = compiled->routes;
  snap->live = e->live;
  ml_cluster_inputs ci = {compiled->config,   compiled->routes, e->app,
                          e->app_count,       e->dns,           e->dns_count,
                          s->client_namespace};
  int rc = e->live ? ml_clusters_build(mem, e->live, &ci, &snap->clusters)
                   : MESHLIB_OK;
  if (rc != MESHLIB_OK) {
    ml_snapshot_unref(snap);
    return rc;
  }
  *out = snap;
  return MESHLIB_OK;
}

int ml_snapshot_new(const ml_mem *mem, ml_config *c, const ml_route_settings *s,
                    uint64_t version, const ml_endpoint_inputs *e,
                    ml_snapshot **out) {
  ml_compiled *compiled = ml_calloc(mem, 1, sizeof(*compiled));
  if (!compiled) {
    ml_config_free(c);
    return MESHLIB_ERR_NOMEM;
  }
  static _Atomic uint64_t serials;
  atomic_init(&compiled->refs, 1);
  compiled->serial = atomic_fetch_add(&serials, 1) + 1;
  compiled->mem = mem;
  compiled->config = c;
  int rc = ml_route_table_build(mem, c, s, &compiled->routes);
  if (rc != MESHLIB_OK) {
    compiled_unref(compiled);
    return rc;
  }
  return snapshot_make(mem, compiled, s, version, e, out);
}

int ml_snapshot_with_endpoints(const ml_snapshot *base,
                               const ml_route_settings *s,
                               const ml_endpoint_inputs *e, ml_snapshot **out) {
  atomic_fetch_add_explicit(&base->compiled->refs, 1, memory_order_relaxed);
  return snapshot_make(base->mem, base->compiled, s, base->version, e, out);
}

ml_snapshot *ml_snapshot_ref(ml_snapshot *s) {
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

void ml_snapshot_unref(ml_snapshot *s) {
  if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  ml_clusters_free(s->clusters);
  compiled_unref(s->compiled);
  ml_free(s->mem, s);
}

/* The slot word: pointer in the high 48 bits, a count of readers in
 * flight in the low 16. x86-64 and AArch64 user pointers fit in 48 bits. */
#define SLOT_COUNT_BITS 16
#define SLOT_COUNT_MASK ((UINT64_C(1) << SLOT_COUNT_BITS) - 1)

static uint64_t slot_pack(ml_snapshot *s) {
  return (uint64_t)(uintptr_t)s << SLOT_COUNT_BITS;
}

static ml_snapshot *slot_ptr(uint64_t w) {
  return (ml_snapshot *)(uintptr_t)(w >> SLOT_COUNT_BITS);
}

void ml_snapshot_slot_init(ml_snapshot_slot *slot, ml_snapshot *s) {
  atomic_init(&slot->word, slot_pack(s));
}

ml_snapshot *ml_snapshot_slot_acquire(ml_snapshot_slot *slot) {
  /* 1. Announce ourselves: the writer cannot free what we are about to
   *    reference, because it hands our count over to the snapshot. */
  uint64_t w = atomic_fetch_add_explicit(&slot->word, 1, memory_order_acquire);
  ml_snapshot *s = slot_ptr(w);
  /* 2. Take a real reference. */
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  /* 3. Withdraw the announcement, unless a writer already swapped and
   *    turned it into a reference, which we then drop. */
  uint64_t cur = atomic_load_explicit(&slot->word, memory_order_relaxed);
  for (;;) {
    if (slot_ptr(cur) != s) {
      ml_snapshot_unref(s);
      break;
    }
    if (atomic_compare_exchange_weak_explicit(&slot->word, &cur, cur - 1,
                                              memory_order_release,
                                              memory_order_relaxed))
      break;
  }
  return s;
}

void ml_snapshot_slot_swap(ml_snapshot_slot *slot, ml_snapshot *s) {
  uint64_t old =
      atomic_exchange_explicit(&slot->word, slot_pack(s), memory_order_acq_rel);
  ml_snapshot *prev = slot_ptr(old);
  if (!prev)
    return;
  atomic_fetch_add_explicit(&prev->refs, old & SLOT_COUNT_MASK,
                            memory_order_relaxed);
  ml_snapshot_unref(prev);
}

void ml_snapshot_slot_clear(ml_snapshot_slot *slot) {
  ml_snapshot_slot_swap(slot, NULL);
}
