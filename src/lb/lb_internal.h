/* SPDX-License-Identifier: MIT */
#ifndef ML_LB_INTERNAL_H
#define ML_LB_INTERNAL_H

/* Shared by the balancer implementations (lb.c, lb_hash.c). */
#include "lb/lb.h"

/* What a pick may choose: evaluated lazily, so that the O(n) panic
 * computation only runs when an ejected endpoint is met. */
typedef struct ml_lb_filter {
  const ml_lb *lb;
  const ml_lb_ctx *ctx;
  int panic;       /* -1: not computed yet */
  int allow_tried; /* second pass: tried endpoints are acceptable again */
} ml_lb_filter;

typedef struct ml_lb_callbacks {
  /* Choose an index that ml_lb_ok() accepts: ML_LB_PICK_OK or
   * ML_LB_PICK_NONE. Must terminate in bounded time whatever the live
   * state does meanwhile. */
  int (*select)(const ml_lb *lb, ml_lb_ctx *ctx, ml_lb_filter *f, size_t *out);
  void (*destroy)(ml_lb *lb); /* frees what build() added; may be NULL */
} ml_lb_callbacks;

typedef struct ml_lb_ring_entry {
  uint64_t hash;
  uint32_t index;
} ml_lb_ring_entry;

struct ml_lb {
  const ml_lb_callbacks *cb;
  const ml_mem *mem;
  ml_lb_config cfg;
  ml_lb_endpoint *eps;
  size_t n;
  int equal_weights;
  uint64_t total_weight;
  uint64_t *cum; /* prefix sums of the weights; NULL when all are equal */
  /* [0]: round-robin cursor, [1]: counter for picks without a generator.
   * Alone on a cache line: they are the only words picks write. */
  _Atomic uint64_t *counters;
  void *counters_mem; /* the allocation counters is aligned within */
  uint32_t *table;    /* round-robin schedule or Maglev table */
  size_t table_len;
  ml_lb_ring_entry *ring;
  size_t ring_len;
};

static inline uint32_t ml_lb_weight(const ml_lb_endpoint *e) {
  return e->weight ? e->weight : 1;
}

static inline uint32_t ml_lb_load(const ml_lb_endpoint *e) {
  return e->in_flight ? atomic_load_explicit(e->in_flight, memory_order_relaxed)
                      : 0;
}

static inline int ml_lb_ejected(const ml_lb_endpoint *e) {
  return e->ejected
             ? atomic_load_explicit(e->ejected, memory_order_relaxed) != 0
             : 0;
}

int ml_lb_ok(ml_lb_filter *f, size_t i);
/* Nonzero when some endpoint passes the filter (O(n)). */
int ml_lb_any_ok(ml_lb_filter *f);
uint64_t ml_lb_rand64(const ml_lb *lb, ml_lb_ctx *ctx);
uint64_t ml_lb_rand_below(const ml_lb *lb, ml_lb_ctx *ctx, uint64_t n);
/* A weighted draw over all endpoints (O(log n)). */
size_t ml_lb_draw(const ml_lb *lb, ml_lb_ctx *ctx);
/* A weighted draw among the endpoints that pass the filter (O(n)). */
int ml_lb_scan(const ml_lb *lb, ml_lb_ctx *ctx, ml_lb_filter *f, size_t *out);

/* Builders for the hash balancers (lb_hash.c). */
int ml_lb_build_ring(ml_lb *lb);
int ml_lb_build_maglev(ml_lb *lb);
extern const ml_lb_callbacks ml_lb_ring_cb;
extern const ml_lb_callbacks ml_lb_maglev_cb;

#endif
