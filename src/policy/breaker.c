/* SPDX-License-Identifier: MIT */
#include "policy/breaker.h"

#define UNLIMITED UINT32_MAX

static uint32_t limit_of(int64_t v) {
  /* Istio sets a threshold only when the field is > 0. */
  if (v <= 0 || v >= (int64_t)UNLIMITED)
    return UNLIMITED;
  return (uint32_t)v;
}

void ml_breaker_limits_of(const ml_traffic_policy *tp, ml_breaker_limits *out) {
  const ml_connection_pool *cp = tp ? &tp->connection_pool : NULL;
  int on = cp && cp->present;
  out->max_requests = on ? limit_of(cp->http2_max_requests) : UNLIMITED;
  out->max_connections = on ? limit_of(cp->max_connections) : UNLIMITED;
  out->max_pending_requests =
      on ? limit_of(cp->http1_max_pending_requests) : UNLIMITED;
  out->max_retries = on ? limit_of(cp->max_retries) : UNLIMITED;
  const ml_retry_budget *b = tp ? &tp->retry_budget : NULL;
  out->has_retry_budget = b && b->present;
  out->budget_percent = b && b->present && b->percent >= 0 ? b->percent : 20;
  out->min_retry_concurrency =
      b && b->present && b->min_retry_concurrency > 0
          ? (uint32_t)(b->min_retry_concurrency > UNLIMITED
                           ? UNLIMITED
                           : b->min_retry_concurrency)
          : 3;
}

static uint64_t inc64(_Atomic uint64_t *c) {
  return atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Count one more in |c| unless it is at |max|. */
static int inc_below(_Atomic uint32_t *c, uint32_t max) {
  if (max == UNLIMITED) {
    atomic_fetch_add(c, 1);
    return 1;
  }
  uint32_t v = atomic_load(c);
  do {
    if (v >= max)
      return 0;
  } while (!atomic_compare_exchange_weak(c, &v, v + 1));
  return 1;
}

/* Give back an HTTP/1.1 slot. A thread that waits for one counts itself
 * (cluster/breaker_wait.c) before it last looks for a slot, both
 * seq_cst, so either it sees the slot freed here or the caller, reading
 * the count after this, sees it waiting and wakes it. */
static void free_h1_slot(ml_breaker_state *s) {
  atomic_fetch_sub(&s->h1_active, 1);
  atomic_fetch_add(&s->slots_released, 1);
}

enum { SLOT_OK, SLOT_BUSY, SLOT_OVER };

static int take_slot(ml_breaker_state *s, const ml_breaker_limits *l, int http2,
                     int *freed) {
  if (!http2 && !inc_below(&s->h1_active, l->max_connections))
    return SLOT_BUSY;
  if (!inc_below(&s->rq_active, l->max_requests)) {
    if (!http2) {
      free_h1_slot(s);
      *freed = 1;
    }
    return SLOT_OVER;
  }
  return SLOT_OK;
}

/* The three limits admission reads, straight from |cp| (no copy of the
 * pool: this runs for every attempt). */
static void limits_of_pool(const ml_connection_pool *cp, ml_breaker_limits *l) {
  if (!cp || !cp->present) {
    l->max_requests = l->max_connections = l->max_pending_requests = UNLIMITED;
    return;
  }
  l->max_requests = limit_of(cp->http2_max_requests);
  l->max_connections = limit_of(cp->max_connections);
  l->max_pending_requests = limit_of(cp->http1_max_pending_requests);
}

static int overflow(ml_breaker_state *s) {
  /* Envoy counts a max_requests refusal here too. */
  inc64(&s->stats.upstream_rq_pending_overflow);
  return ML_BREAKER_OVERFLOW;
}

int ml_breaker_try_admit(ml_breaker_state *s, const ml_connection_pool *cp,
                         int http2, int may_queue, int *freed) {
  int dummy;
  if (!freed)
    freed = &dummy;
  *freed = 0;
  if (!s)
    return ML_BREAKER_OK;
  ml_breaker_limits l;
  limits_of_pool(cp, &l);
  int r = take_slot(s, &l, http2, freed);
  if (r == SLOT_OK)
    return ML_BREAKER_OK;
  if (r == SLOT_OVER || atomic_load(&s->rq_active) >= l.max_requests)
    return overflow(s);
  inc64(&s->stats.upstream_cx_overflow);
  if (!may_queue || !inc_below(&s->rq_pending, l.max_pending_requests))
    return overflow(s);
  inc64(&s->stats.upstream_rq_pending_total);
  return ML_BREAKER_WAIT;
}

int ml_breaker_release(ml_breaker_state *s, int http2) {
  if (!s)
    return 0;
  atomic_fetch_sub(&s->rq_active, 1);
  if (http2)
    return 0;
  free_h1_slot(s);
  return 1;
}

int ml_breaker_pending_retry(ml_breaker_state *s, const ml_connection_pool *cp,
                             int *freed) {
  int dummy;
  if (!freed)
    freed = &dummy;
  *freed = 0;
  if (!s)
    return ML_BREAKER_OK;
  ml_breaker_limits l;
  limits_of_pool(cp, &l);
  int r = take_slot(s, &l, 0, freed);
  if (r == SLOT_BUSY)
    return ML_BREAKER_WAIT;
  atomic_fetch_sub(&s->rq_pending, 1);
  return r == SLOT_OK ? ML_BREAKER_OK : overflow(s);
}

void ml_breaker_pending_cancel(ml_breaker_state *s) {
  if (s)
    atomic_fetch_sub(&s->rq_pending, 1);
}

uint64_t ml_breaker_released(const ml_breaker_state *s) {
  return s ? atomic_load_explicit(&((ml_breaker_state *)s)->slots_released,
                                  memory_order_acquire)
           : 0;
}

/* ---- the rate budget's window --------------------------------------- */

#define COUNT_MASK 0xffffffffull

/* Count one event of second |sec| in its bucket; a bucket still holding
 * an older second starts over. */
static void window_add(_Atomic uint64_t *b, uint32_t sec) {
  _Atomic uint64_t *slot = &b[sec % ML_RATE_BUCKETS];
  uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);
  for (;;) {
    uint32_t at = (uint32_t)(old >> 32);
    uint64_t v = at >= sec ? old + 1 : ((uint64_t)sec << 32) | 1;
    if (atomic_compare_exchange_weak_explicit(
            slot, &old, v, memory_order_relaxed, memory_order_relaxed))
      return;
  }
}

/* Events of the ten seconds up to |sec|. */
static uint64_t window_sum(_Atomic uint64_t *b, uint32_t sec) {
  uint64_t sum = 0;
  for (size_t i = 0; i < ML_RATE_BUCKETS; i++) {
    uint64_t v = atomic_load_explicit(&b[i], memory_order_relaxed);
    uint32_t at = (uint32_t)(v >> 32);
    if (at <= sec && sec - at < ML_RATE_BUCKETS)
      sum += v & COUNT_MASK;
  }
  return sum;
}

static int rate_on(const ml_rate_budget *rb) {
  return rb && (rb->percent > 0 || rb->min_per_sec > 0);
}

static uint32_t second_of(int64_t now_ms) {
  return now_ms > 0 ? (uint32_t)(now_ms / 1000) : 0;
}

void ml_breaker_note_request(ml_breaker_state *s, int64_t now_ms) {
  if (s)
    window_add(s->rate_requests, second_of(now_ms));
}

int ml_breaker_admit_retry(ml_breaker_state *s, const ml_traffic_policy *tp,
                           const ml_rate_budget *rb, int64_t now_ms) {
  if (!s)
    return ML_BREAKER_OK;
  uint32_t sec = second_of(now_ms);
  if (rate_on(rb)) {
    double allowed =
        rb->min_per_sec * ML_RATE_BUCKETS +
        rb->percent / 100.0 * (double)window_sum(s->rate_requests, sec);
    if ((double)window_sum(s->rate_retries, sec) >= allowed) {
      inc64(&s->stats.retry_rate_budget_overflow);
      inc64(&s->stats.upstream_rq_retry_overflow);
      return ML_BREAKER_OVERFLOW;
    }
  }
  ml_breaker_limits l;
  ml_breaker_limits_of(tp, &l);
  uint32_t max = l.max_retries;
  if (l.has_retry_budget) {
    uint64_t active =
        (uint64_t)atomic_load(&s->rq_active) + atomic_load(&s->rq_pending);
    double share = l.budget_percent / 100.0 * (double)active;
    max = share > l.min_retry_concurrency
              ? (share >= UNLIMITED ? UNLIMITED - 1 : (uint32_t)share)
              : l.min_retry_concurrency;
  }
  if (!inc_below(&s->retries_active, max)) {
    inc64(&s->stats.upstream_rq_retry_overflow);
    return ML_BREAKER_OVERFLOW;
  }
  if (rate_on(rb))
    window_add(s->rate_retries, sec);
  inc64(&s->stats.upstream_rq_retry);
  return ML_BREAKER_OK;
}

void ml_breaker_release_retry(ml_breaker_state *s) {
  if (s)
    atomic_fetch_sub(&s->retries_active, 1);
}
