/* SPDX-License-Identifier: MIT */
/* Consistent hashing: Envoy's ring hash (ketama-like) and Maglev, built
 * the way Envoy builds them (ring_hash_lb.cc, maglev_lb.cc) so that the
 * same endpoints land on the same positions, with XXH64 and the same key
 * texts. */
#include "lb/lb_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb/hash.h"
#include "meshlib/error.h"

#define RING_MIN_DEFAULT 1024u
#define RING_MAX_DEFAULT (8u * 1024 * 1024) /* Envoy's default and cap */
#define MAGLEV_DEFAULT 65537u
#define MAGLEV_MAX 5000011u /* Istio: a prime below 5000011 */
/* Lookups that hit unacceptable endpoints before the O(n) check. */
#define WALK_FAST 16

/* Envoy's Address::Instance::asString(): "10.0.0.1:8080", "[::1]:8080".
 * Returns the length written (truncated to the buffer, which is fine: the
 * text only feeds a hash). */
static size_t endpoint_key(const ml_lb_endpoint *e, char *buf, size_t cap) {
  const char *a = e->address ? e->address : "";
  int v6 = strchr(a, ':') != NULL && a[0] != '[';
  int w = snprintf(buf, cap, v6 ? "[%s]:%u" : "%s:%u", a, (unsigned)e->port);
  if (w < 0)
    return 0;
  return (size_t)w < cap ? (size_t)w : cap - 1;
}

/* ---- ring hash --------------------------------------------------------- */

static int ring_cmp(const void *pa, const void *pb) {
  const ml_lb_ring_entry *a = pa, *b = pb;
  if (a->hash != b->hash)
    return a->hash < b->hash ? -1 : 1;
  /* Equal hashes (astronomically rare) still sort deterministically. */
  return a->index < b->index ? -1 : a->index > b->index;
}

int ml_lb_build_ring(ml_lb *lb) {
  uint64_t min_size =
      lb->cfg.ring_size_min ? lb->cfg.ring_size_min : RING_MIN_DEFAULT;
  uint64_t max_size =
      lb->cfg.ring_size_max ? lb->cfg.ring_size_max : RING_MAX_DEFAULT;
  if (max_size > RING_MAX_DEFAULT || min_size > max_size)
    return MESHLIB_ERR_INVALID_ARG;
  if (lb->n == 0)
    return MESHLIB_OK;
  /* Envoy: scale so that the lightest endpoint gets at least
   * ceil(min_weight_share * min_size) entries, capped at max_size; each
   * endpoint then gets its share of the scale, rounding carried over. */
  double total = (double)lb->total_weight;
  double min_norm = 1.0;
  for (size_t i = 0; i < lb->n; i++) {
    double w = ml_lb_weight(&lb->eps[i]) / total;
    if (w < min_norm)
      min_norm = w;
  }
  double scale = ceil(min_norm * (double)min_size) / min_norm;
  if (scale > (double)max_size)
    scale = (double)max_size;
  size_t cap = (size_t)ceil(scale) + lb->n; /* slack for rounding */
  ml_lb_ring_entry *ring = ml_malloc(lb->mem, cap * sizeof(*ring));
  if (!ring)
    return MESHLIB_ERR_NOMEM;
  size_t len = 0;
  double current = 0.0, target = 0.0;
  char key[600];
  for (size_t i = 0; i < lb->n; i++) {
    size_t base = endpoint_key(&lb->eps[i], key, sizeof(key) - 24);
    key[base++] = '_';
    target += scale * (ml_lb_weight(&lb->eps[i]) / total);
    for (uint64_t k = 0; current < target && len < cap; k++) {
      int w = snprintf(key + base, sizeof(key) - base, "%llu",
                       (unsigned long long)k);
      ring[len].hash = ml_xxh64(key, base + (size_t)w, 0);
      ring[len].index = (uint32_t)i;
      len++;
      current += 1.0;
    }
  }
  qsort(ring, len, sizeof(*ring), ring_cmp);
  lb->ring = ring;
  lb->ring_len = len;
  return MESHLIB_OK;
}

/* The first entry whose hash is >= h, wrapping to 0 past the end: the
 * result of Envoy's ketama search. */
static size_t ring_find(const ml_lb *lb, uint64_t h) {
  size_t lo = 0, hi = lb->ring_len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (lb->ring[mid].hash < h)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo == lb->ring_len ? 0 : lo;
}

static int ring_select(const ml_lb *lb, ml_lb_ctx *ctx, ml_lb_filter *f,
                       size_t *out) {
  if (lb->ring_len == 0)
    return ML_LB_PICK_NONE;
  uint64_t h = ctx->has_hash ? ctx->hash : ml_lb_rand64(lb, ctx);
  size_t p = ring_find(lb, h);
  /* An unacceptable endpoint hands the key on to the next one clockwise,
   * so each key moves to one stable alternative. */
  for (size_t k = 0; k < lb->ring_len; k++) {
    if (k == WALK_FAST && !ml_lb_any_ok(f))
      return ML_LB_PICK_NONE;
    size_t i = lb->ring[(p + k) % lb->ring_len].index;
    if (ml_lb_ok(f, i)) {
      *out = i;
      return ML_LB_PICK_OK;
    }
  }
  return ML_LB_PICK_NONE;
}

static void ring_destroy(ml_lb *lb) {
  ml_free(lb->mem, lb->ring);
}

const ml_lb_callbacks ml_lb_ring_cb = {ring_select, ring_destroy};

/* ---- Maglev ------------------------------------------------------------ */

typedef struct maglev_entry {
  uint64_t offset, skip, next;
  uint64_t weight, target;
} maglev_entry;

int ml_lb_build_maglev(ml_lb *lb) {
  uint64_t m =
      lb->cfg.maglev_table_size ? lb->cfg.maglev_table_size : MAGLEV_DEFAULT;
  if (m > MAGLEV_MAX || !ml_lb_is_prime(m))
    return MESHLIB_ERR_INVALID_ARG;
  if (lb->n == 0)
    return MESHLIB_OK;
  maglev_entry *e = ml_calloc(lb->mem, lb->n, sizeof(*e));
  uint32_t *table = ml_malloc(lb->mem, (size_t)m * sizeof(*table));
  if (!e || !table) {
    ml_free(lb->mem, e);
    ml_free(lb->mem, table);
    return MESHLIB_ERR_NOMEM;
  }
  uint64_t max_w = 0;
  char key[600];
  for (size_t i = 0; i < lb->n; i++) {
    size_t len = endpoint_key(&lb->eps[i], key, sizeof(key));
    e[i].offset = ml_xxh64(key, len, 0) % m;
    e[i].skip = ml_xxh64(key, len, 1) % (m - 1) + 1;
    e[i].weight = ml_lb_weight(&lb->eps[i]);
    if (e[i].weight > max_w)
      max_w = e[i].weight;
  }
  for (uint64_t s = 0; s < m; s++)
    table[s] = UINT32_MAX;
  /* Envoy's weighted population: an endpoint of the largest weight takes a
   * slot every round, one of a third of it every third round. Weights stay
   * integers here (Envoy's normalised doubles scaled by the total). */
  uint64_t filled = 0;
  for (uint64_t round = 1; filled < m; round++) {
    for (size_t i = 0; i < lb->n && filled < m; i++) {
      if (round * e[i].weight < e[i].target)
        continue;
      e[i].target += max_w;
      uint64_t c = (e[i].offset + e[i].skip * e[i].next) % m;
      while (table[c] != UINT32_MAX) {
        e[i].next++;
        c = (e[i].offset + e[i].skip * e[i].next) % m;
      }
      table[c] = (uint32_t)i;
      e[i].next++;
      filled++;
    }
  }
  ml_free(lb->mem, e);
  lb->table = table;
  lb->table_len = (size_t)m;
  return MESHLIB_OK;
}

static int maglev_select(const ml_lb *lb, ml_lb_ctx *ctx, ml_lb_filter *f,
                         size_t *out) {
  if (lb->table_len == 0)
    return ML_LB_PICK_NONE;
  uint64_t h = ctx->has_hash ? ctx->hash : ml_lb_rand64(lb, ctx);
  uint64_t m = lb->table_len;
  /* As Envoy does for retries: an unacceptable endpoint makes the pick
   * rehash with the attempt number, which keeps the table's balance for
   * the keys that move. */
  for (uint64_t k = 0; k < WALK_FAST; k++) {
    uint64_t hk = k == 0 ? h : ml_mix64(h + k);
    size_t i = lb->table[hk % m];
    if (ml_lb_ok(f, i)) {
      *out = i;
      return ML_LB_PICK_OK;
    }
  }
  if (!ml_lb_any_ok(f))
    return ML_LB_PICK_NONE;
  for (uint64_t k = 1; k <= m; k++) {
    size_t i = lb->table[(h + k) % m];
    if (ml_lb_ok(f, i)) {
      *out = i;
      return ML_LB_PICK_OK;
    }
  }
  return ML_LB_PICK_NONE;
}

static void maglev_destroy(ml_lb *lb) {
  ml_free(lb->mem, lb->table);
}

const ml_lb_callbacks ml_lb_maglev_cb = {maglev_select, maglev_destroy};
