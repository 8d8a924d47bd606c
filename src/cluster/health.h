/* SPDX-License-Identifier: MIT */
#ifndef ML_CLUSTER_HEALTH_H
#define ML_CLUSTER_HEALTH_H

/* Outlier detection over a cluster's endpoints: the detectors and the
 * sweep are pure (outlier/outlier.h, on the ml_outlier_host and
 * ml_outlier_cluster the live state embeds); here they run over the
 * endpoints of an ml_cluster, and ejections and sweeps take the
 * cluster's lock. Counting stays lock-free. No thread of its own:
 * callers report each attempt and tick on each call. */
#include <stddef.h>
#include <stdint.h>
#include "cluster/cluster.h"

/* Record what attempt |res| to endpoint |endpoint_index| of |k| produced
 * (ml_outlier_count() says how it counts) and eject the endpoint when a
 * detector's threshold is reached (at most maxEjectionPercent of the
 * cluster's endpoints ejected, but always at least one). Nothing when |k|
 * has no outlierDetection. Thread-safe; lock-free unless it ejects. */
void ml_cluster_report_attempt(const ml_cluster *k, size_t endpoint_index,
                               const ml_attempt_result *res, int64_t now_ms);

/* Run the sweep when it is due (one atomic load when it is not; one
 * caller wins it): endpoints whose ejection time is up come back, with
 * their counters reset, and each endpoint healthy for an interval since
 * its return has its multiplier lowered by one. Thread-safe. */
void ml_cluster_outlier_tick(const ml_cluster *k, int64_t now_ms);

/* Ejected endpoints of |k| now (Envoy's ejections_active gauge). Exact
 * under k->state->lock, which ejections and returns hold; without it a
 * scan concurrent with a sweep may mix two instants. */
size_t ml_cluster_ejected_count(const ml_cluster *k);

#endif
