/* SPDX-License-Identifier: MIT */
#ifndef ML_CLUSTER_INTERNAL_H
#define ML_CLUSTER_INTERNAL_H

#include "cluster/cluster.h"

/* A reference to the live state under |key|, created when new. NULL when
 * out of memory. */
ml_ep_state *ml_live_acquire(ml_live *l, const char *key);
/* Drop references taken by ml_live_acquire(); NULL entries are skipped. */
void ml_live_release(ml_live *l, ml_ep_state **states, size_t n);

/* The same for the live state of a cluster, keyed by its name. */
ml_cluster_state *ml_live_acquire_cluster(ml_live *l, const char *name);
void ml_live_release_cluster(ml_live *l, ml_cluster_state *s);

#endif
