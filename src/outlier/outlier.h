/* SPDX-License-Identifier: MIT */
#ifndef ML_OUTLIER_OUTLIER_H
#define ML_OUTLIER_OUTLIER_H

/* Outlier detection as Envoy runs it for Istio's outlierDetection
 * (upstream/outlier_detection_impl.cc): consecutive-error detectors that
 * eject at the failure itself, and a sweep every `interval` that brings
 * endpoints back when their time is up. State lives in ml_outlier_host
 * (per endpoint) and ml_outlier_cluster (per cluster), which the live
 * state of cluster/cluster.h embeds. Pure: no lock, no clock (callers pass
 * now_ms), no view of the cluster; counters are atomics, and the steps that
 * must not race (an ejection, the sweep) say that the caller holds the
 * cluster's lock. cluster/health.h runs them over a cluster's endpoints. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/policy.h"

/* Envoy's outlier_detection.* statistics of one cluster. Counters only
 * grow. */
typedef struct ml_outlier_stats {
  _Atomic uint64_t ejections_total; /* Envoy's deprecated counter */
  _Atomic uint64_t ejections_enforced_total;
  _Atomic uint64_t ejections_overflow; /* maxEjectionPercent said no */
  _Atomic uint64_t ejections_enforced_consecutive_5xx;
  _Atomic uint64_t ejections_detected_consecutive_5xx;
  _Atomic uint64_t ejections_enforced_consecutive_gateway_failure;
  _Atomic uint64_t ejections_detected_consecutive_gateway_failure;
  _Atomic uint64_t ejections_enforced_consecutive_local_origin_failure;
  _Atomic uint64_t ejections_detected_consecutive_local_origin_failure;
} ml_outlier_stats;

/* Outlier state of one cluster. */
typedef struct ml_outlier_cluster {
  _Atomic int64_t next_sweep_ms; /* 0: the first tick sweeps */
  ml_outlier_stats stats;
} ml_outlier_cluster;

/* Outlier state of one endpoint, Envoy's host monitor. Initialize with
 * ml_outlier_host_init(). */
typedef struct ml_outlier_host {
  _Atomic int ejected; /* the balancers skip it (lb.h) */
  _Atomic uint32_t consecutive_5xx;
  _Atomic uint32_t consecutive_gateway;
  _Atomic uint32_t consecutive_local_origin;
  _Atomic uint32_t ejection_count;   /* times ejected so far */
  _Atomic uint32_t eject_multiplier; /* Envoy's ejectTimeBackoff: the
                                        ejection lasts base x this */
  _Atomic int64_t ejected_at_ms;     /* last ejection; 0: never */
  _Atomic int64_t ejected_until_ms;  /* when its time is up (it returns at
                                        the next sweep); 0 when not ejected */
  _Atomic int64_t unejected_at_ms;   /* last return; -1: never */
} ml_outlier_host;

void ml_outlier_host_init(ml_outlier_host *h);

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

/* The consecutive-error detectors, in the order a report runs them. */
enum {
  ML_OUTLIER_GATEWAY = 1u << 0, /* consecutiveGatewayErrors */
  ML_OUTLIER_5XX = 1u << 1,     /* consecutive5xxErrors */
  ML_OUTLIER_LOCAL = 1u << 2    /* consecutiveLocalOriginFailures */
};

/* Count what attempt |res| to the endpoint of |h| produced under |c|, as
 * Envoy counts it, and return the detectors (ML_OUTLIER_* bits) whose
 * threshold it reached: for each, in the order of the bits, the caller
 * calls ml_outlier_on_consecutive(). How results count:
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
 * Thread-safe, lock-free. */
unsigned ml_outlier_count(const ml_outlier_config *c, ml_outlier_host *h,
                          const ml_attempt_result *res);

/* Nonzero when the endpoint of |h| is ejected now. */
int ml_outlier_is_ejected(const ml_outlier_host *h);

/* DetectorImpl::onConsecutiveErrorWorker for |detector| (one ML_OUTLIER_*
 * bit) of the endpoint of |h|, one of |total| endpoints of which
 * |ejected| are ejected now: unless already ejected, count it detected
 * and eject it (at most maxEjectionPercent of the endpoints, counting
 * this one, but always at least one: else count an overflow), then reset
 * that detector's count. Statistics go to |oc|. The caller holds the
 * cluster's lock (ejections are serialized with each other and with the
 * sweep, so that |ejected| stays true). */
void ml_outlier_on_consecutive(const ml_outlier_config *c,
                               ml_outlier_cluster *oc, ml_outlier_host *h,
                               unsigned detector, size_t ejected, size_t total,
                               int64_t now_ms);

/* Nonzero when the sweep is due at |now_ms| and this caller won it (one
 * atomic load when it is not due; among concurrent callers one wins):
 * the next sweep is then set an interval later, and |c| holds the
 * detector of |od|. Thread-safe. */
int ml_outlier_sweep_claim(ml_outlier_cluster *oc,
                           const ml_outlier_detection *od, int64_t now_ms,
                           ml_outlier_config *c);
/* The sweep (DetectorImpl::onIntervalTimer), in two passes over every
 * endpoint of the cluster, the first done for all before the second:
 *  1. ml_outlier_sweep_return(): an endpoint whose ejection time is up
 *     comes back, with its counters reset;
 *  2. ml_outlier_sweep_relax(): an endpoint healthy for an interval since
 *     its return has its multiplier lowered by one.
 * The caller holds the cluster's lock. */
void ml_outlier_sweep_return(const ml_outlier_config *c, ml_outlier_host *h,
                             int64_t now_ms);
void ml_outlier_sweep_relax(const ml_outlier_config *c, ml_outlier_host *h,
                            int64_t now_ms);

#endif
