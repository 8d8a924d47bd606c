/* SPDX-License-Identifier: MIT */
/* The balancer frame (build, pick, availability rules) and the simple
 * strategies: ROUND_ROBIN, RANDOM, LEAST_REQUEST, PASSTHROUGH. The hash
 * strategies are in lb_hash.c. */
#include "lb/lb_internal.h"

#include <string.h>

#include "meshlib/error.h"

/* Draws tried before an O(n) fallback scan when the first candidates are
 * ejected or already tried. Small: the fallback is exact anyway. */
#define FAST_TRIES 4
/* Round-robin schedules are capped at this many slots; larger weight sums
 * are scaled down (each endpoint keeps at least one slot). */
#define RR_MAX_SLOTS (1u << 20)

/* ---- availability ------------------------------------------------------ */

static int compute_panic(const ml_lb *lb) {
  uint32_t t = lb->cfg.panic_threshold_percent;
  if (t == 0)
    return 0;
  size_t healthy = 0;
  for (size_t i = 0; i < lb->n; i++)
    healthy += !ml_lb_ejected(&lb->eps[i]);
  /* Envoy: panic when the healthy percentage is below the threshold. */
  return (uint64_t)healthy * 100 < (uint64_t)t * lb->n;
}

static int was_tried(const ml_lb_ctx *ctx, size_t i) {
  for (size_t k = 0; k < ctx->tried_count; k++)
    if (ctx->tried[k] == i)
      return 1;
  return 0;
}

int ml_lb_ok(ml_lb_filter *f, size_t i) {
  if (!f->allow_tried && was_tried(f->ctx, i))
    return 0;
  if (ml_lb_ejected(&f->lb->eps[i])) {
    if (f->panic < 0)
      f->panic = compute_panic(f->lb);
    return f->panic;
  }
  return 1;
}

int ml_lb_any_ok(ml_lb_filter *f) {
  for (size_t i = 0; i < f->lb->n; i++)
    if (ml_lb_ok(f, i))
      return 1;
  return 0;
}

/* ---- randomness -------------------------------------------------------- */

uint64_t ml_lb_rand64(const ml_lb *lb, ml_lb_ctx *ctx) {
  if (ctx->rand)
    return ml_rand_next(ctx->rand);
  /* No generator: a counter through a strong mixer is uniform enough for
   * balancing, and needs no lock. */
  uint64_t c =
      atomic_fetch_add_explicit(&lb->counters[1], 1, memory_order_relaxed);
  return ml_mix64(c ^ (uint64_t)(uintptr_t)lb);
}

uint64_t ml_lb_rand_below(const ml_lb *lb, ml_lb_ctx *ctx, uint64_t n) {
  if (ctx->rand)
    return ml_rand_below(ctx->rand, n);
  return ml_mul128(ml_lb_rand64(lb, ctx), n, NULL);
}

size_t ml_lb_draw(const ml_lb *lb, ml_lb_ctx *ctx) {
  if (lb->equal_weights)
    return (size_t)ml_lb_rand_below(lb, ctx, lb->n);
  uint64_t x = ml_lb_rand_below(lb, ctx, lb->total_weight);
  /* The first i with cum[i] > x. */
  size_t lo = 0, hi = lb->n - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (lb->cum[mid] > x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

int ml_lb_scan(const ml_lb *lb, ml_lb_ctx *ctx, ml_lb_filter *f, size_t *out) {
  uint64_t total = 0;
  for (size_t i = 0; i < lb->n; i++)
    if (ml_lb_ok(f, i))
      total += ml_lb_weight(&lb->eps[i]);
  if (total == 0)
    return ML_LB_PICK_NONE;
  uint64_t x = ml_lb_rand_below(lb, ctx, total);
  size_t last = SIZE_MAX;
  for (size_t i = 0; i < lb->n; i++) {
    if (!ml_lb_ok(f, i))
      continue;
    uint64_t w = ml_lb_weight(&lb->eps[i]);
    if (x < w) {
      *out = i;
      return ML_LB_PICK_OK;
    }
    x -= w;
    last = i;
  }
  /* Live state changed between the passes; any acceptable one will do. */
  if (last == SIZE_MAX)
    return ML_LB_PICK_NONE;
  *out = last;
  return ML_LB_PICK_OK;
}

/* ---- RANDOM ------------------------------------------------------------ */

static int random_select(const ml_lb *lb, ml_lb_ctx *ctx, ml_lb_filter *f,
                         size_t *out) {
  /* Rejection sampling keeps the weighted distribution exact over the
   * acceptable endpoints; the scan finishes the rare unlucky case. */
  for (int k = 0; k < FAST_TRIES; k++) {
    size_t i = ml_lb_draw(lb, ctx);
    if (ml_lb_ok(f, i)) {
      *out = i;
      return ML_LB_PICK_OK;
    }
  }
  return ml_lb_scan(lb, ctx, f, out);
}

static const ml_lb_callbacks random_cb = {random_select, NULL};

/* ---- LEAST_REQUEST ----------------------------------------------------- */

/* The better of two candidates: fewer requests in flight per unit of
 * weight (a/w, compared as a_a * w_b vs a_b * w_a); ties keep the first.
 * With equal weights this is Envoy's P2C exactly. With unequal weights
 * Envoy runs an EDF schedule with weights w / (active + 1); that needs a
 * shared mutable heap (a lock), so meshlib draws both candidates in
 * proportion to weight instead: idle endpoints then share calls exactly by
 * weight, and under load the choice moves away from endpoints carrying
 * more than their share, which is what the dynamic weights achieve. */
static size_t better(const ml_lb *lb, size_t a, size_t b) {
  uint64_t la = ml_lb_load(&lb->eps[a]), lbb = ml_lb_load(&lb->eps[b]);
  if (lb->equal_weights)
    return lbb < la ? b : a;
  uint64_t wa = ml_lb_weight(&lb->eps[a]), wb = ml_lb_weight(&lb->eps[b]);
  return lbb * wa < la * wb ? b : a;
}

static int lr_select(const ml_lb *lb, ml_lb_ctx *ctx, ml_lb_filter *f,
                     size_t *out) {
  for (int k = 0; k < FAST_TRIES; k++) {
    size_t a, b;
    if (lb->equal_weights) {
      /* Two distinct candidates (Envoy may draw the same host twice;
       * drawing distinct ones is never worse). */
      a = (size_t)ml_lb_rand_below(lb, ctx, lb->n);
      b = lb->n > 1
              ? (a + 1 + (size_t)ml_lb_rand_below(lb, ctx, lb->n - 1)) % lb->n
              : a;
    } else {
      a = ml_lb_draw(lb, ctx);
      b = ml_lb_draw(lb, ctx);
      if (b == a)
        b = ml_lb_draw(lb, ctx);
    }
    int oka = ml_lb_ok(f, a), okb = b != a && ml_lb_ok(f, b);
    if (oka && okb) {
      *out = better(lb, a, b);
      return ML_LB_PICK_OK;
    }
    if (oka || okb) {
      *out = oka ? a : b;
      return ML_LB_PICK_OK;
    }
  }
  size_t a, b;
  if (ml_lb_scan(lb, ctx, f, &a) != ML_LB_PICK_OK)
    return ML_LB_PICK_NONE;
  if (ml_lb_scan(lb, ctx, f, &b) != ML_LB_PICK_OK)
    b = a;
  *out = better(lb, a, b);
  return ML_LB_PICK_OK;
}

static const ml_lb_callbacks lr_cb = {lr_select, NULL};

/* ---- ROUND_ROBIN ------------------------------------------------------- */

static size_t rr_slot(const ml_lb *lb, uint64_t slot) {
  if (!lb->table)
    return (size_t)(slot % lb->n);
  return lb->table[slot % lb->table_len];
}

static int rr_select(const ml_lb *lb, ml_lb_ctx *ctx, ml_lb_filter *f,
                     size_t *out) {
  (void)ctx;
  size_t len = lb->table ? lb->table_len : lb->n;
  /* A skipped endpoint gives its slot up and the pick takes the next
   * global slot, so the others keep their weighted shares (taking the
   * neighbouring slot would hand the skipped share to one neighbour). */
  uint64_t slot = 0;
  size_t tries = len < FAST_TRIES * 4 ? len : FAST_TRIES * 4;
  for (size_t k = 0; k < tries; k++) {
    slot = atomic_fetch_add_explicit(&lb->counters[0], 1, memory_order_relaxed);
    size_t i = rr_slot(lb, slot);
    if (ml_lb_ok(f, i)) {
      *out = i;
      return ML_LB_PICK_OK;
    }
  }
  if (!ml_lb_any_ok(f))
    return ML_LB_PICK_NONE;
  /* Walk the schedule from the last slot taken: every endpoint appears in
   * it at least once. */
  for (size_t k = 1; k <= len; k++) {
    size_t i = rr_slot(lb, slot + k);
    if (ml_lb_ok(f, i)) {
      *out = i;
      return ML_LB_PICK_OK;
    }
  }
  return ML_LB_PICK_NONE; /* live state changed under us */
}

static void rr_destroy(ml_lb *lb) {
  ml_free(lb->mem, lb->table);
}

static const ml_lb_callbacks rr_cb = {rr_select, rr_destroy};

static uint64_t gcd64(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* A weighted schedule: weights reduced by their gcd (and scaled down past
 * RR_MAX_SLOTS), laid out by nginx's smooth weighted round robin when that
 * is cheap to compute, else interleaved (round k takes every endpoint whose
 * weight is at least k). */
static int build_rr(ml_lb *lb) {
  if (lb->equal_weights || lb->n < 2)
    return MESHLIB_OK; /* the identity schedule, no table */
  size_t n = lb->n;
  uint64_t *w = ml_malloc(lb->mem, n * sizeof(*w));
  if (!w)
    return MESHLIB_ERR_NOMEM;
  uint64_t g = 0, sum = 0;
  for (size_t i = 0; i < n; i++) {
    w[i] = ml_lb_weight(&lb->eps[i]);
    g = gcd64(g, w[i]);
  }
  for (size_t i = 0; i < n; i++)
    sum += (w[i] /= g);
  if (sum > RR_MAX_SLOTS && n < RR_MAX_SLOTS) {
    uint64_t s2 = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t x = (uint64_t)((double)w[i] * RR_MAX_SLOTS / (double)sum);
      w[i] = x ? x : 1;
      s2 += w[i];
    }
    sum = s2;
  }
  uint32_t *t = ml_malloc(lb->mem, (size_t)sum * sizeof(*t));
  if (!t) {
    ml_free(lb->mem, w);
    return MESHLIB_ERR_NOMEM;
  }
  if (sum * n <= (1u << 22)) {
    /* Smooth: each step every endpoint gains its weight, the richest is
     * chosen and pays the total. Spreads heavy endpoints evenly. */
    int64_t *cur = ml_calloc(lb->mem, n, sizeof(*cur));
    if (!cur) {
      ml_free(lb->mem, w);
      ml_free(lb->mem, t);
      return MESHLIB_ERR_NOMEM;
    }
    for (uint64_t s = 0; s < sum; s++) {
      size_t best = 0;
      for (size_t i = 0; i < n; i++) {
        cur[i] += (int64_t)w[i];
        if (cur[i] > cur[best])
          best = i;
      }
      cur[best] -= (int64_t)sum;
      t[s] = (uint32_t)best;
    }
    ml_free(lb->mem, cur);
  } else {
    uint64_t maxw = 0, s = 0;
    for (size_t i = 0; i < n; i++)
      maxw = w[i] > maxw ? w[i] : maxw;
    for (uint64_t k = 1; k <= maxw; k++)
      for (size_t i = 0; i < n; i++)
        if (w[i] >= k)
          t[s++] = (uint32_t)i;
  }
  ml_free(lb->mem, w);
  lb->table = t;
  lb->table_len = (size_t)sum;
  return MESHLIB_OK;
}

/* ---- PASSTHROUGH ------------------------------------------------------- */

static int none_select(const ml_lb *lb, ml_lb_ctx *ctx, ml_lb_filter *f,
                       size_t *out) {
  (void)lb, (void)ctx, (void)f, (void)out;
  return ML_LB_PICK_NONE;
}

static const ml_lb_callbacks passthrough_cb = {none_select, NULL};

/* ---- frame ------------------------------------------------------------- */

int ml_lb_is_prime(uint64_t n) {
  if (n < 2)
    return 0;
  if (n % 2 == 0)
    return n == 2;
  for (uint64_t d = 3; d <= n / d; d += 2)
    if (n % d == 0)
      return 0;
  return 1;
}

int ml_lb_new(const ml_mem *mem, const ml_lb_config *cfg,
              const ml_lb_endpoint *eps, size_t n, ml_lb **out) {
  *out = NULL;
  if (!cfg || (n && !eps) || n > UINT32_MAX)
    return MESHLIB_ERR_INVALID_ARG;
  ml_lb *lb = ml_calloc(mem, 1, sizeof(*lb));
  if (!lb)
    return MESHLIB_ERR_NOMEM;
  lb->mem = mem;
  lb->cfg = *cfg;
  if (lb->cfg.panic_threshold_percent > 100)
    lb->cfg.panic_threshold_percent = 100;
  lb->n = n;
  int rc = MESHLIB_ERR_NOMEM;
  /* A cache line of its own for the only words that picks write, so that
   * the cursor's traffic does not evict the read-mostly fields. */
  lb->counters_mem = ml_calloc(mem, 1, 128);
  if (!lb->counters_mem)
    goto fail;
  lb->counters =
      (_Atomic uint64_t *)(((uintptr_t)lb->counters_mem + 63) & ~(uintptr_t)63);
  atomic_init(&lb->counters[0], cfg->rr_start);
  atomic_init(&lb->counters[1], 0);
  if (n) {
    lb->eps = ml_malloc(mem, n * sizeof(*eps));
    if (!lb->eps)
      goto fail;
    memcpy(lb->eps, eps, n * sizeof(*eps));
  }
  lb->equal_weights = 1;
  for (size_t i = 0; i < n; i++) {
    lb->total_weight += ml_lb_weight(&lb->eps[i]);
    if (ml_lb_weight(&lb->eps[i]) != ml_lb_weight(&lb->eps[0]))
      lb->equal_weights = 0;
  }
  if (!lb->equal_weights) {
    lb->cum = ml_malloc(mem, n * sizeof(*lb->cum));
    if (!lb->cum)
      goto fail;
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++)
      lb->cum[i] = (c += ml_lb_weight(&lb->eps[i]));
  }
  switch (cfg->kind) {
  case ML_LB_KIND_ROUND_ROBIN:
    lb->cb = &rr_cb;
    rc = build_rr(lb);
    break;
  case ML_LB_KIND_RANDOM:
    lb->cb = &random_cb;
    rc = MESHLIB_OK;
    break;
  case ML_LB_KIND_PASSTHROUGH:
    lb->cb = &passthrough_cb;
    rc = MESHLIB_OK;
    break;
  case ML_LB_KIND_RING_HASH:
    lb->cb = &ml_lb_ring_cb;
    rc = ml_lb_build_ring(lb);
    break;
  case ML_LB_KIND_MAGLEV:
    lb->cb = &ml_lb_maglev_cb;
    rc = ml_lb_build_maglev(lb);
    break;
  case ML_LB_KIND_LEAST_REQUEST:
    lb->cb = &lr_cb;
    rc = MESHLIB_OK;
    break;
  default:
    rc = MESHLIB_ERR_INVALID_ARG;
    break;
  }
  if (rc != MESHLIB_OK)
    goto fail;
  *out = lb;
  return MESHLIB_OK;
fail:
  ml_lb_free(lb);
  return rc;
}

void ml_lb_free(ml_lb *lb) {
  if (!lb)
    return;
  if (lb->cb && lb->cb->destroy)
    lb->cb->destroy(lb);
  ml_free(lb->mem, lb->cum);
  ml_free(lb->mem, lb->eps);
  ml_free(lb->mem, lb->counters_mem);
  ml_free(lb->mem, lb);
}

int ml_lb_pick(const ml_lb *lb, ml_lb_ctx *ctx, size_t *out) {
  if (!lb)
    return ML_LB_PICK_NONE;
  if (lb->cfg.kind == ML_LB_KIND_PASSTHROUGH)
    return ML_LB_PICK_PASSTHROUGH;
  if (lb->n == 0)
    return ML_LB_PICK_NONE;
  ml_lb_ctx none = {0};
  if (!ctx)
    ctx = &none;
  ml_lb_filter f = {lb, ctx, -1, ctx->tried_count == 0};
  int rc = lb->cb->select(lb, ctx, &f, out);
  if (rc != ML_LB_PICK_OK && !f.allow_tried) {
    /* Nothing untried can be chosen: a tried endpoint beats none. */
    f.allow_tried = 1;
    rc = lb->cb->select(lb, ctx, &f, out);
  }
  return rc;
}

ml_lb_kind ml_lb_kind_of(const ml_lb *lb) {
  return lb->cfg.kind;
}

size_t ml_lb_count(const ml_lb *lb) {
  return lb ? lb->n : 0;
}

const ml_lb_endpoint *ml_lb_endpoint_at(const ml_lb *lb, size_t i) {
  return lb && i < lb->n ? &lb->eps[i] : NULL;
}

size_t ml_lb_table_size(const ml_lb *lb) {
  if (!lb)
    return 0;
  if (lb->ring)
    return lb->ring_len;
  return lb->table_len;
}

const char *ml_lb_kind_name(ml_lb_kind k) {
  switch (k) {
  case ML_LB_KIND_LEAST_REQUEST:
    return "LEAST_REQUEST";
  case ML_LB_KIND_ROUND_ROBIN:
    return "ROUND_ROBIN";
  case ML_LB_KIND_RANDOM:
    return "RANDOM";
  case ML_LB_KIND_PASSTHROUGH:
    return "PASSTHROUGH";
  case ML_LB_KIND_RING_HASH:
    return "RING_HASH";
  case ML_LB_KIND_MAGLEV:
    return "MAGLEV";
  }
  return "UNKNOWN";
}
