/* SPDX-License-Identifier: MIT */
#ifndef ML_CLUSTER_EFFECTIVE_POLICY_H
#define ML_CLUSTER_EFFECTIVE_POLICY_H

/* The traffic policy that applies to one cluster (host, port, subset), as
 * istiod computes it for Envoy (pilot/pkg/networking/util/util.go,
 * MergeSubsetTrafficPolicy):
 *
 *  1. start from the DestinationRule's top-level trafficPolicy; if its
 *     portLevelSettings has an entry for the port, that entry REPLACES the
 *     whole policy: its loadBalancer, connectionPool, outlierDetection and
 *     tls are taken as they are, absent ones fall back to defaults, and the
 *     top-level retryBudget is dropped too (a port-level entry has none);
 *  2. if the route names a subset with a trafficPolicy, resolve that policy
 *     for the port the same way; then
 *     - without a port-level entry: each group the subset sets
 *       (loadBalancer, connectionPool, outlierDetection, tls, retryBudget)
 *       replaces the DR's group as a whole; groups it omits are inherited;
 *     - with a port-level entry for the port: its four groups replace the
 *       DR's four, set or not (omitted means default, not inherited); the
 *       retryBudget is inherited.
 *  A subset's policy applies only when a route names the subset.
 *
 * Defaults are not filled in: a group with present == 0 means "use the
 * default" (LEAST_REQUEST for the load balancer, and so on). */
#include <stdint.h>
#include "config/model.h"
#include "lb/lb.h"
#include "route/route.h"

/* Where a group of the effective policy came from. */
typedef enum ml_policy_source {
  ML_POLICY_DEFAULT = 0, /* nobody set it */
  ML_POLICY_DR,
  ML_POLICY_DR_PORT,
  ML_POLICY_SUBSET,
  ML_POLICY_SUBSET_PORT
} ml_policy_source;

typedef struct ml_policy_sources {
  ml_policy_source load_balancer;
  ml_policy_source connection_pool;
  ml_policy_source outlier_detection;
  ml_policy_source tls;
  ml_policy_source retry_budget;
} ml_policy_sources;

/* Fill |out| (copies of the groups; pointers inside, such as
 * load_balancer.consistent_hash, point into the config, which must
 * outlive |out|). |v| may be NULL (no DestinationRule: all defaults);
 * |subset| may be NULL; |port| 0 means unknown (port-level settings are
 * then ignored). out->port_level_settings is always empty.
 * Returns MESHLIB_OK, or MESHLIB_ERR_NOT_FOUND when |subset| is named but
 * |v| does not define it (|out| then holds the host-level policy; Istio
 * answers such a route with 503 NR, which is the caller's business). */
int ml_effective_policy(const ml_dr_view *v, const char *subset, uint32_t port,
                        ml_traffic_policy *out);
/* The same, also telling where each group came from (|src| may be
 * NULL). */
int ml_effective_policy_explain(const ml_dr_view *v, const char *subset,
                                uint32_t port, ml_traffic_policy *out,
                                ml_policy_sources *src);

/* The balancer an effective policy asks for: kind (LEAST_REQUEST when no
 * loadBalancer, UNSPECIFIED or LEAST_CONN; RING_HASH or MAGLEV for
 * consistentHash), ring and table sizes, and the panic threshold
 * (outlierDetection.minHealthPercent, 0 when outlierDetection is absent,
 * as Istio writes healthy_panic_threshold). |p| may be NULL. */
void ml_lb_config_from_policy(const ml_traffic_policy *p, ml_lb_config *out);

#endif
