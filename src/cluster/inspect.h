/* SPDX-License-Identifier: MIT */
#ifndef ML_CLUSTER_INSPECT_H
#define ML_CLUSTER_INSPECT_H

/* meshlib_clusters (include/meshlib/clusters.h): a copy of the live state
 * of a snapshot's clusters, read with the public getters. */
#include "meshlib/clusters.h"
#include "cluster/health.h"
#include "cluster/snapshot.h"

/* The picture of |snap|'s clusters now; it takes the reference to |snap|
 * in all cases and holds it, so that names and labels stay valid. */
int ml_clusters_picture(const ml_mem *mem, ml_snapshot *snap,
                        meshlib_clusters **out);

#endif
