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
 * Counts are atomics in the cluster's live state; only a request that
 * waits for a slot touches the cluster's lock. Every admission is one
 * attempt: admit before each attempt, release after it. */
#include <stdint.h>
#include "cluster/cluster.h"
#include "config/model.h"

enum {
  ML_BREAKER_OK = 0,
  ML_BREAKER_OVERFLOW = -1,  /* over a limit: answer 503, flag UO
                                (URX for a retry) */
  ML_BREAKER_TIMED_OUT = -2, /* waited |wait_ms| for an HTTP/1.1 slot in
                                vain (Envoy would end it with the route
                                timeout: 504 UT) */
  ML_BREAKER_WAIT = 1        /* try_admit: queued; come back later */
};

/* Admit one request to the cluster of |s| under |cp| (NULL: no limits),
 * counting it active. |http2|: the request shares an HTTP/2 connection
 * (no per-request connection). An HTTP/1.1 request that finds every
 * connection slot taken waits for one, when there is room among the
 * pending: |wait_ms| > 0 at most that long, < 0 until one frees, 0 not at
 * all (overflow). Returns ML_BREAKER_OK, _OVERFLOW or _TIMED_OUT. A NULL
 * |s| admits everything. */
int ml_breaker_admit(ml_cluster_state *s, const ml_connection_pool *cp,
                     int http2, int64_t wait_ms);
/* The end of an admitted request: frees its slot and wakes a waiter. */
void ml_breaker_release(ml_cluster_state *s, int http2);

/* The same without blocking, for the asynchronous client: ML_BREAKER_OK
 * (admitted), _OVERFLOW, or _WAIT (it holds a pending place: call
 * ml_breaker_pending_retry() when a slot may have freed, for instance
 * when ml_breaker_released() changed, or give up with
 * ml_breaker_pending_cancel()). */
int ml_breaker_try_admit(ml_cluster_state *s, const ml_connection_pool *cp,
                         int http2);
/* For a request in _WAIT: ML_BREAKER_OK (admitted, no longer pending),
 * _OVERFLOW (no longer pending: max requests reached) or _WAIT. */
int ml_breaker_pending_retry(ml_cluster_state *s, const ml_connection_pool *cp);
void ml_breaker_pending_cancel(ml_cluster_state *s);
/* A number that grows each time an HTTP/1.1 slot frees. */
uint64_t ml_breaker_released(const ml_cluster_state *s);

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
int ml_breaker_admit_retry(ml_cluster_state *s, const ml_traffic_policy *tp,
                           const ml_rate_budget *rb, int64_t now_ms);
void ml_breaker_release_retry(ml_cluster_state *s);
/* Count one request (not its retries) in the rate budget's window; only
 * needed while a rate budget is on. */
void ml_breaker_note_request(ml_cluster_state *s, int64_t now_ms);

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
