/* SPDX-License-Identifier: MIT */
#ifndef ML_POLICY_BREAKER_H
#define ML_POLICY_BREAKER_H

/* Envoy's circuit breakers for one cluster, from Istio's connectionPool
 * and retryBudget, plus an optional Finagle-style retry rate budget.
 * Limits are cluster-wide (Envoy's thresholds, which Istio fills from the
 * DestinationRule; 0 or absent means Istio's default, 2^32 - 1):
 *  - http2MaxRequests (max_requests): admitted requests, every protocol;
 *  - tcp.maxConnections (max_connections): meshlib carries one HTTP/1.1
 *    request per connection at a time, so it bounds concurrent HTTP/1.1
 *    requests; one beyond it waits for a slot ...
 *  - http1MaxPendingRequests (max_pending_requests): ... when fewer than
 *    this many already wait, else it overflows;
 *  - maxRetries (max_retries): retries in flight, unless retryBudget is
 *    set, which replaces it: max(percent% of active + pending requests,
 *    minRetryConcurrency), Envoy's RetryBudgetImpl.
 * Counts are atomics in an ml_breaker_state, which the cluster's live
 * state embeds (cluster/cluster.h). Pure: no lock, no clock, no waiting;
 * a request that waits for a slot waits in cluster/breaker_wait.h, built
 * on ml_breaker_try_admit() and ml_breaker_pending_retry(). Every
 * admission is one attempt: admit before each attempt, release after it. */
#include <stdatomic.h>
#include <stdint.h>
#include "config/model.h"

enum {
  ML_BREAKER_OK = 0,
  ML_BREAKER_OVERFLOW = -1,  /* over a limit: answer 503, flag UO
                                (URX for a retry) */
  ML_BREAKER_TIMED_OUT = -2, /* waited for an HTTP/1.1 slot in vain
                                (ml_cluster_admit; Envoy would end it with
                                the route timeout: 504 UT) */
  ML_BREAKER_WAIT = 1        /* try_admit: queued; come back later */
};

/* Envoy-style statistics of the breakers of one cluster. Counters only
 * grow. */
typedef struct ml_breaker_stats {
  _Atomic uint64_t upstream_rq_pending_total;    /* requests that queued */
  _Atomic uint64_t upstream_rq_pending_overflow; /* refused: UO */
  _Atomic uint64_t upstream_cx_overflow; /* found every HTTP/1.1 connection
                                            slot (maxConnections) taken */
  _Atomic uint64_t upstream_rq_retry;    /* retries admitted */
  _Atomic uint64_t upstream_rq_retry_overflow; /* refused by maxRetries,
                                                  retryBudget or the rate
                                                  budget: URX */
  _Atomic uint64_t retry_rate_budget_overflow; /* of which the rate budget */
} ml_breaker_stats;

/* The rate budget's window: ten one-second buckets, each one word that
 * packs the second it counts (high 32 bits) with its count. */
#define ML_RATE_BUCKETS 10

/* The breakers' counts for one cluster; all zero to start (calloc). */
typedef struct ml_breaker_state {
  _Atomic uint32_t rq_active;      /* admitted requests (attempts) */
  _Atomic uint32_t h1_active;      /* of which HTTP/1.1: connections busy */
  _Atomic uint32_t rq_pending;     /* waiting for an HTTP/1.1 slot */
  _Atomic uint32_t retries_active; /* retries admitted, not released */
  _Atomic uint64_t slots_released; /* grows at each release */
  _Atomic uint64_t rate_requests[ML_RATE_BUCKETS];
  _Atomic uint64_t rate_retries[ML_RATE_BUCKETS];
  ml_breaker_stats stats;
} ml_breaker_state;

/* Admit one request to the cluster of |s| under |cp| (NULL: no limits),
 * counting it active. |http2|: the request shares an HTTP/2 connection
 * (no per-request connection). An HTTP/1.1 request that finds every
 * connection slot taken takes a place among the pending when |may_queue|
 * and there is room (ML_BREAKER_WAIT: call ml_breaker_pending_retry()
 * when a slot may have freed, for instance when ml_breaker_released()
 * changed, or give up with ml_breaker_pending_cancel()); else it
 * overflows. As Envoy's pool, a request over max_requests overflows
 * before it could wait. Returns ML_BREAKER_OK, _OVERFLOW or _WAIT. A
 * NULL |s| admits everything.
 * |freed| (may be NULL) is set nonzero when the call took an HTTP/1.1
 * slot and gave it back (max_requests said no): a thread waiting for a
 * slot may then need waking, which is the caller's business. */
int ml_breaker_try_admit(ml_breaker_state *s, const ml_connection_pool *cp,
                         int http2, int may_queue, int *freed);
/* For a request in _WAIT: ML_BREAKER_OK (admitted, no longer pending),
 * _OVERFLOW (no longer pending: max requests reached) or _WAIT. |freed|
 * as for ml_breaker_try_admit(). */
int ml_breaker_pending_retry(ml_breaker_state *s, const ml_connection_pool *cp,
                             int *freed);
void ml_breaker_pending_cancel(ml_breaker_state *s);
/* The end of an admitted request. Returns nonzero when it freed an
 * HTTP/1.1 slot (a waiter may need waking). */
int ml_breaker_release(ml_breaker_state *s, int http2);
/* A number that grows each time an HTTP/1.1 slot frees. */
uint64_t ml_breaker_released(const ml_breaker_state *s);

/* The mesh-wide retry rate budget, in Finagle's spirit (its RetryBudget:
 * ttl 10 s): over a sliding 10 s window, retries may number
 * min_per_sec * 10 + percent% of the requests seen. 0 and 0: off. */
typedef struct ml_rate_budget {
  double percent;     /* of requests; 0..1000 */
  double min_per_sec; /* a floor, for services with little traffic */
} ml_rate_budget;

/* Admit one retry to the cluster of |s| under |tp|'s maxRetries or
 * retryBudget and the rate budget |rb| (NULL: none), counting it in
 * flight until ml_breaker_release_retry(). ML_BREAKER_OK or
 * ML_BREAKER_OVERFLOW (the call ends with the last answer, flag URX). */
int ml_breaker_admit_retry(ml_breaker_state *s, const ml_traffic_policy *tp,
                           const ml_rate_budget *rb, int64_t now_ms);
void ml_breaker_release_retry(ml_breaker_state *s);
/* Count one request (not its retries) in the rate budget's window; only
 * needed while a rate budget is on. */
void ml_breaker_note_request(ml_breaker_state *s, int64_t now_ms);

/* The effective limits (2^32 - 1: unlimited), for `meshctl route`. */
typedef struct ml_breaker_limits {
  uint32_t max_requests;
  uint32_t max_connections;
  uint32_t max_pending_requests;
  uint32_t max_retries; /* when no retry budget */
  int has_retry_budget;
  double budget_percent;          /* 20 by default */
  uint32_t min_retry_concurrency; /* 3 by default */
} ml_breaker_limits;

void ml_breaker_limits_of(const ml_traffic_policy *tp, ml_breaker_limits *out);

#endif
