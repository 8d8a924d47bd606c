/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_CLUSTERS_H
#define MESHLIB_CLUSTERS_H

/* A read-only picture of the mesh's clusters (Envoy's unit of upstream:
 * a service host, port and subset) and their endpoints' live state, as
 * Envoy's admin /clusters shows them. Taken at one instant; every value
 * is copied, so reading it never races with calls in flight. */
#include <stddef.h>
#include <stdint.h>
#include "export.h"
#include "mesh.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A picture of the clusters of the config in force. One thread. */
typedef struct meshlib_clusters meshlib_clusters;

/** Statistics of one cluster, with Envoy's names (see
 * meshlib_cluster_stat_name()). Gauges are values at the instant the
 * picture was taken; counters only grow over the cluster's life, which
 * survives config reloads that keep it. New values are added at the end. */
typedef enum meshlib_cluster_stat {
  MESHLIB_CLUSTER_RQ_ACTIVE = 0,           /**< upstream_rq_active (gauge) */
  MESHLIB_CLUSTER_RQ_PENDING_ACTIVE = 1,   /**< upstream_rq_pending_active */
  MESHLIB_CLUSTER_RQ_PENDING_TOTAL = 2,    /**< upstream_rq_pending_total */
  MESHLIB_CLUSTER_RQ_PENDING_OVERFLOW = 3, /**< upstream_rq_pending_overflow */
  MESHLIB_CLUSTER_CX_OVERFLOW = 4,         /**< upstream_cx_overflow */
  MESHLIB_CLUSTER_RQ_RETRY = 5,            /**< upstream_rq_retry */
  MESHLIB_CLUSTER_RQ_RETRY_OVERFLOW = 6,   /**< upstream_rq_retry_overflow */
  MESHLIB_CLUSTER_RQ_RETRY_ACTIVE = 7,     /**< retries in flight (gauge) */
  MESHLIB_CLUSTER_RETRY_RATE_BUDGET_OVERFLOW = 8, /**< refused by the mesh's
                                                      retry rate budget */
  MESHLIB_CLUSTER_OD_EJECTIONS_ACTIVE = 9,        /**< outlier_detection.
                                                      ejections_active (gauge) */
  MESHLIB_CLUSTER_OD_EJECTIONS_TOTAL = 10,        /**< .ejections_total */
  MESHLIB_CLUSTER_OD_EJECTIONS_OVERFLOW = 11,     /**< .ejections_overflow */
  MESHLIB_CLUSTER_OD_EJECTIONS_ENFORCED_TOTAL = 12,
  MESHLIB_CLUSTER_OD_EJECTIONS_ENFORCED_CONSECUTIVE_5XX = 13,
  MESHLIB_CLUSTER_OD_EJECTIONS_DETECTED_CONSECUTIVE_5XX = 14,
  MESHLIB_CLUSTER_OD_EJECTIONS_ENFORCED_CONSECUTIVE_GATEWAY_FAILURE = 15,
  MESHLIB_CLUSTER_OD_EJECTIONS_DETECTED_CONSECUTIVE_GATEWAY_FAILURE = 16,
  MESHLIB_CLUSTER_OD_EJECTIONS_ENFORCED_CONSECUTIVE_LOCAL_ORIGIN_FAILURE = 17,
  MESHLIB_CLUSTER_OD_EJECTIONS_DETECTED_CONSECUTIVE_LOCAL_ORIGIN_FAILURE = 18,
  MESHLIB_CLUSTER_STAT_COUNT = 19 /**< grows when values are added */
} meshlib_cluster_stat;

/**
 * Take a picture of the clusters of |m|'s config in force.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: *out is the caller's; free with meshlib_clusters_free().
 * Thread-safety: any thread, while calls run on others. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_clusters_snapshot(meshlib *m,
                                             meshlib_clusters **out);

/**
 * Free |c|; NULL does nothing. Thread-safety: the owning thread.
 * Since: 0.2.0
 */
MESHLIB_EXTERN void meshlib_clusters_free(meshlib_clusters *c);

/**
 * The number of clusters; 0 for NULL.
 * Thread-safety: the owning thread (all readers below). Since: 0.2.0
 */
MESHLIB_EXTERN size_t meshlib_clusters_count(const meshlib_clusters *c);

/**
 * Cluster |i|'s Envoy name, "outbound|<port>|<subset>|<host>"; NULL when
 * |i| is out of range. Ownership: borrowed until |c| is freed (as every
 * string below). Since: 0.2.0
 */
MESHLIB_EXTERN const char *meshlib_cluster_name(const meshlib_clusters *c,
                                                size_t i);
/** The service host (FQDN); NULL when out of range. Since: 0.2.0 */
MESHLIB_EXTERN const char *meshlib_cluster_host(const meshlib_clusters *c,
                                                size_t i);
/** The service port; 0 for endpoints set for any port. Since: 0.2.0 */
MESHLIB_EXTERN uint32_t meshlib_cluster_port(const meshlib_clusters *c,
                                             size_t i);
/** The DestinationRule subset, or NULL for the whole service.
 * Since: 0.2.0 */
MESHLIB_EXTERN const char *meshlib_cluster_subset(const meshlib_clusters *c,
                                                  size_t i);
/** The balancer: "LEAST_REQUEST", "ROUND_ROBIN", "RANDOM",
 * "PASSTHROUGH", "RING_HASH", "MAGLEV", or NULL when the cluster has no
 * balancer (no endpoints). Since: 0.2.0 */
MESHLIB_EXTERN const char *meshlib_cluster_lb(const meshlib_clusters *c,
                                              size_t i);
/** One statistic of cluster |i|; 0 when out of range. Since: 0.2.0 */
MESHLIB_EXTERN uint64_t meshlib_cluster_stat_value(const meshlib_clusters *c,
                                                   size_t i,
                                                   meshlib_cluster_stat stat);
/** Envoy's name of |stat| ("upstream_rq_active",
 * "outlier_detection.ejections_active"); NULL when unknown.
 * Thread-safety: any thread. Since: 0.2.0 */
MESHLIB_EXTERN const char *meshlib_cluster_stat_name(meshlib_cluster_stat stat);

/** The number of endpoints of cluster |i|. Since: 0.2.0 */
MESHLIB_EXTERN size_t meshlib_cluster_endpoint_count(const meshlib_clusters *c,
                                                     size_t i);

/** The live state of one endpoint, copied when the picture was taken. */
typedef struct meshlib_endpoint_state {
  uint32_t age;        /**< 1; later versions add fields at the end */
  const char *address; /**< IP or host name; borrowed from the picture */
  uint32_t port;
  uint32_t weight;
  const char *locality;         /**< "region/zone/subzone" or NULL */
  uint32_t in_flight;           /**< requests outstanding */
  int ejected;                  /**< outlier detection took it out */
  uint32_t ejection_count;      /**< times ejected so far */
  uint32_t ejection_multiplier; /**< the next ejection lasts base x this+1 */
  int64_t ejected_for_ms;       /**< while ejected: ms until its time is up (it
                                   returns at the next sweep; may be <= 0) */
  uint32_t consecutive_5xx;
  uint32_t consecutive_gateway_failure;
  uint32_t consecutive_local_origin_failure;
} meshlib_endpoint_state;

/**
 * Endpoint |j| of cluster |i| into |*out|.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_RANGE.
 * Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_cluster_endpoint(const meshlib_clusters *c, size_t i,
                                            size_t j,
                                            meshlib_endpoint_state *out);
/** The number of labels of endpoint |j| of cluster |i|. Since: 0.2.0 */
MESHLIB_EXTERN size_t meshlib_cluster_endpoint_label_count(
    const meshlib_clusters *c, size_t i, size_t j);
/**
 * Label |n| of endpoint |j| of cluster |i|: *key and *value borrowed until
 * |c| is freed.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_RANGE.
 * Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_cluster_endpoint_label(const meshlib_clusters *c,
                                                  size_t i, size_t j, size_t n,
                                                  const char **key,
                                                  const char **value);

#ifdef __cplusplus
}
#endif

#endif /* MESHLIB_CLUSTERS_H */
