/* SPDX-License-Identifier: MIT */
#ifndef ML_LB_SELECT_H
#define ML_LB_SELECT_H

/* Choosing among a route's weighted destinations (the canary split) and
 * a DestinationRule subset's endpoints. Pure functions. */
#include <stddef.h>
#include <stdint.h>
#include "config/model.h"

/* The index of the destination that |r| (64 uniform random bits) lands
 * on, with Istio's semantics:
 *  - destination i gets weight_i / sum(weights); weights need not sum to
 *    100 (Istio normalises them);
 *  - a single destination gets everything, whatever its weight;
 *  - an absent weight (-1) or 0 counts as 0: never picked while another
 *    destination has weight;
 *  - when several destinations all weigh 0, the first one is picked (Envoy
 *    would refuse such a route; the analyzer reports it, see
 *    ml_destinations_all_zero()).
 * |n| 0 gives 0; the caller must not index an empty array. */
size_t ml_pick_destination(const ml_route_destination *d, size_t n, uint64_t r);

/* Nonzero when there are at least two destinations and none has a
 * positive weight: the case ml_pick_destination() resolves by taking the
 * first. */
int ml_destinations_all_zero(const ml_route_destination *d, size_t n);

/* Subset membership: nonzero when every label of |selector| is in
 * |labels| with the same value (exact, case-sensitive, as Kubernetes label
 * selectors are). An empty or NULL selector selects everything; NULL
 * labels are an empty set. */
int ml_labels_select(const ml_kv_list *selector, const ml_kv_list *labels);

#endif
