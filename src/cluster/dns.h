/* SPDX-License-Identifier: MIT */
#ifndef ML_CLUSTER_DNS_H
#define ML_CLUSTER_DNS_H

/* The resolver behind DNS and DNS_ROUND_ROBIN ServiceEntries: a thread,
 * started when a config first needs it, that resolves their names every
 * refresh interval with the system resolver. A changed answer rebuilds
 * the snapshot's endpoints; a failed lookup keeps the last answer. */
#include <pthread.h>
#include <stdint.h>
#include "cluster/cluster.h"

/* Resolve |name| to IPv4 addresses (owned by the caller, each and the
 * array, freed with ml_free(NULL, ...)). 0 on success with *n >= 1. */
typedef int (*ml_dns_resolve_fn)(const char *name, char ***addrs, size_t *n);

/* What the resolver needs of its owner (the mesh), on the resolver's
 * thread. */
typedef struct ml_dns_host {
  void *ctx;
  /* Held while answers are stored and read (snapshot builds). */
  pthread_mutex_t *apply_lock;
  /* Answers changed; apply_lock is held: rebuild the endpoints. */
  void (*changed)(void *ctx);
  /* A line for the application's log (MESHLIB_LEVEL_*). */
  void (*log)(void *ctx, int level, const char *text);
} ml_dns_host;

typedef struct ml_dns {
  ml_dns_host host;
  int64_t refresh_ms; /* 0: no resolver; names resolve at connect */
  ml_dns_resolve_fn resolve;
  pthread_t thread;
  int started;
  pthread_mutex_t lock; /* guards wake, stop and names */
  pthread_cond_t wake_cond;
  int wake;
  int stop;
  char **names; /* what the config in force needs */
  size_t name_count;
  /* Under host.apply_lock: read by snapshot builds. */
  ml_dns_answer *answers;
  size_t answer_count;
} ml_dns;

int ml_dns_init(ml_dns *d, const ml_dns_host *host, int64_t refresh_ms);
void ml_dns_destroy(ml_dns *d);
/* After a config is put in force (apply_lock held): note the names it
 * needs, start the resolver if needed and wake it. */
int ml_dns_config_changed(ml_dns *d, const ml_config *c);

#endif
