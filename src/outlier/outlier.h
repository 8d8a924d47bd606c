/* SPDX-License-Identifier: MIT */
#ifndef ML_OUTLIER_OUTLIER_H
#define ML_OUTLIER_OUTLIER_H

/* Outlier detection as Envoy runs it for Istio's outlierDetection
 * (upstream/outlier_detection_impl.cc): consecutive-error detectors that
 * eject at the failure itself, and a sweep every `interval` that brings
 * endpoints back when their time is up. State lives in the endpoints'
 * and the cluster's live state (cluster/cluster.h): counters are atomics;
 * only an ejection and the sweep take the cluster's lock. No thread of
 * its own: callers report each attempt and tick on each call. */
#include <stdint.h>
#include "cluster/cluster.h"
#include "policy/policy.h"

/* Istio's outlierDetection as Envoy receives it. */
typedef struct ml_outlier_config {
  uint32_t consecutive_5xx;          /* 0: detector off; default 5 */
  uint32_t consecutive_gateway;      /* 0: off (Istio's default) */
  uint32_t consecutive_local_origin; /* split mode only; default 5 */
  int split;                         /* splitExternalLocalOriginErrors */
  int64_t interval_ms;               /* sweeps; default 10 s */
  int64_t base_ejection_ms;          /* default 30 s */
  int64_t max_ejection_ms;           /* max(300 s, base), Envoy's cap */
  uint32_t max_ejection_percent;     /* default 10 */
} ml_outlier_config;

/* The detector |od| describes; 0 when there is none (no outlierDetection,
 * nothing to do), 1 otherwise. Pure. */
int ml_outlier_config_of(const ml_outlier_detection *od,
                         ml_outlier_config *out);

/* How long an ejection lasts with Envoy's multiplier |m| (times ejected,
 * less one per healthy interval): min(base x m, max). */
int64_t ml_outlier_ejection_ms(const ml_outlier_config *c, uint32_t m);

/* Record what attempt |res| to endpoint |endpoint_index| of |k| produced
 * and eject the endpoint when a detector's threshold is reached (at most
 * maxEjectionPercent of the cluster's endpoints ejected, but always at
 * least one). How results count, as Envoy counts them:
 *  - an upstream response: 5xx counts for consecutive5xxErrors (502, 503
 *    and 504 also for consecutiveGatewayErrors), anything else resets
 *    both; in split mode it also resets the local-origin count. A gRPC
 *    response (content-type application/grpc) counts by the grpc-status
 *    of its headers, mapped to HTTP as Envoy maps it (14: 503);
 *  - a connect failure, TLS failure, reset or refused stream, and a
 *    timeout: in split mode, local-origin failures, where those after a
 *    connection was made (all but the first two) count as a connect
 *    success then a failure, as Envoy reports them, so only connect
 *    failures add up; otherwise a 503 (timeout: 504), so they count as
 *    5xx and gateway errors;
 *  - a reply meshlib made itself, a call the application aborted, or a
 *    local error: nothing.
 * Thread-safe; lock-free unless it ejects. */
void ml_outlier_report(const ml_cluster *k, size_t endpoint_index,
                       const ml_attempt_result *res, int64_t now_ms);

/* Run the sweep when it is due (one atomic load when it is not; one
 * caller wins it): endpoints whose ejection time is up come back, with
 * their counters reset, and each endpoint healthy for an interval since
 * its return has its multiplier lowered by one. Thread-safe. */
void ml_outlier_tick(const ml_cluster *k, int64_t now_ms);

/* Ejected endpoints of |k| now (Envoy's ejections_active gauge). Exact
 * under k->state->lock, which ejections and returns hold; without it a
 * scan concurrent with a sweep may mix two instants. */
size_t ml_outlier_ejected_count(const ml_cluster *k);

#endif
