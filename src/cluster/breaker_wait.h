/* SPDX-License-Identifier: MIT */
#ifndef ML_CLUSTER_BREAKER_WAIT_H
#define ML_CLUSTER_BREAKER_WAIT_H

/* The waiting that circuit breakers need lives with live state: the
 * admission arithmetic is pure (policy/breaker.h, on the ml_breaker_state
 * a cluster's live state embeds); here a request that finds every
 * HTTP/1.1 connection slot taken blocks for one on the cluster's lock and
 * condition, and whoever frees a slot wakes a waiter. Use these, not the
 * pure admission and release functions, on a cluster's live state, so
 * that blocked threads are woken. Every admission is one attempt: admit
 * before each attempt, release after it. */
#include <stdint.h>
#include "cluster/cluster.h"

/* Admit one request to the cluster of |s| under |cp| (NULL: no limits),
 * counting it active. |http2|: the request shares an HTTP/2 connection
 * (no per-request connection). An HTTP/1.1 request that finds every
 * connection slot taken waits for one, when there is room among the
 * pending: |wait_ms| > 0 at most that long (monotonic time), < 0 until
 * one frees, 0 not at all (overflow). Returns ML_BREAKER_OK, _OVERFLOW or
 * _TIMED_OUT. A NULL |s| admits everything. Thread-safe. */
int ml_cluster_admit(ml_cluster_state *s, const ml_connection_pool *cp,
                     int http2, int64_t wait_ms);

/* The same without blocking, for the asynchronous client: ML_BREAKER_OK
 * (admitted), _OVERFLOW, or _WAIT (it holds a pending place: call
 * ml_cluster_pending_retry() when a slot may have freed, for instance
 * when ml_breaker_released() changed, or give up with
 * ml_breaker_pending_cancel()). */
int ml_cluster_try_admit(ml_cluster_state *s, const ml_connection_pool *cp,
                         int http2);
/* For a request in _WAIT: ML_BREAKER_OK (admitted, no longer pending),
 * _OVERFLOW (no longer pending: max requests reached) or _WAIT. */
int ml_cluster_pending_retry(ml_cluster_state *s, const ml_connection_pool *cp);

/* The end of an admitted request: frees its slot and wakes a waiter. */
void ml_cluster_release(ml_cluster_state *s, int http2);

#endif
