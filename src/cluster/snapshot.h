/* SPDX-License-Identifier: MIT */
#ifndef ML_CLUSTER_SNAPSHOT_H
#define ML_CLUSTER_SNAPSHOT_H

/* An immutable, reference-counted config snapshot: the loaded model and
 * everything compiled from it. Replaced whole; a call keeps the one it
 * started with. */
#include <stdatomic.h>
#include <stdint.h>
#include "cluster/cluster.h"
#include "config/model.h"
#include "route/route.h"

/* The config and its route table: shared by the snapshots that differ
 * only in endpoints. */
typedef struct ml_compiled {
  atomic_size_t refs;
  uint64_t serial; /* unique in the process, never reused: names this
                      config for caches that outlive it */
  const ml_mem *mem;
  ml_config *config;
  ml_route_table *routes;
} ml_compiled;

typedef struct ml_snapshot {
  atomic_size_t refs;
  uint64_t version; /* of the config */
  const ml_mem *mem;
  ml_compiled *compiled;
  const ml_config *config;      /* compiled->config */
  const ml_route_table *routes; /* compiled->routes */
  ml_clusters *clusters;
  ml_live *live; /* the mesh's; outlives every snapshot */
} ml_snapshot;

/* Where endpoints come from besides the config. */
typedef struct ml_endpoint_inputs {
  ml_live *live;
  const ml_app_endpoints *app;
  size_t app_count;
  const ml_dns_answer *dns;
  size_t dns_count;
} ml_endpoint_inputs;

/* Compile |c| into a snapshot of |version|; the snapshot takes |c| in all
 * cases. Returns MESHLIB_OK or MESHLIB_ERR_NOMEM. */
int ml_snapshot_new(const ml_mem *mem, ml_config *c, const ml_route_settings *s,
                    uint64_t version, const ml_endpoint_inputs *e,
                    ml_snapshot **out);
/* A snapshot with |base|'s config and the endpoints of |e|. */
int ml_snapshot_with_endpoints(const ml_snapshot *base,
                               const ml_route_settings *s,
                               const ml_endpoint_inputs *e, ml_snapshot **out);
ml_snapshot *ml_snapshot_ref(ml_snapshot *s);
void ml_snapshot_unref(ml_snapshot *s);

/* The slot that holds the snapshot in force. Readers take a reference
 * without a lock: the word packs the pointer with a count of readers
 * between "load" and "reference" (split reference counting), which the
 * writer hands over to the old snapshot when it swaps. */
typedef struct ml_snapshot_slot {
  _Atomic uint64_t word;
} ml_snapshot_slot;

void ml_snapshot_slot_init(ml_snapshot_slot *slot, ml_snapshot *s);
/* A new reference to the snapshot in force; never NULL once initialised. */
ml_snapshot *ml_snapshot_slot_acquire(ml_snapshot_slot *slot);
/* Put |s| (whose reference the slot takes) in force and drop the slot's
 * reference to the old one. Writers must be serialised by the caller. */
void ml_snapshot_slot_swap(ml_snapshot_slot *slot, ml_snapshot *s);
/* Drop the slot's reference; for the mesh's teardown. */
void ml_snapshot_slot_clear(ml_snapshot_slot *slot);

#endif
