/* SPDX-License-Identifier: MIT */
#ifndef ML_CLUSTER_CLUSTER_H
#define ML_CLUSTER_CLUSTER_H

/* Clusters, Envoy's unit of upstream: one (host, port, subset), its
 * endpoints, its effective policy and its balancer. Compiled with each
 * snapshot from the config (ServiceEntry endpoints, WorkloadEntries) and
 * from endpoints the application sets; no I/O. Per-endpoint live state
 * (requests in flight, ejection) lives in an ml_live store that outlasts
 * snapshots, so it survives reloads for endpoints that stay. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include "config/model.h"
#include "lb/lb.h"
#include "outlier/outlier.h"
#include "policy/breaker.h"
#include "route/route.h"
#include "transport/transport.h"

/* An entry of the live store: found by key, counted by the snapshots
 * that name it, freed when the last one goes. Under the store's lock. */
typedef struct ml_live_node {
  struct ml_live_node *next; /* hash chain */
  uint64_t hash;
  uint32_t refs;
  const char *key; /* stored after the entry */
} ml_live_node;

/* Live state of one endpoint of one cluster, keyed
 * "<cluster name>|<address>:<port>". Atomics only: every calling thread
 * reads and updates it without a lock. */
typedef struct ml_ep_state {
  _Atomic uint32_t in_flight;
  /* Outlier detection (outlier/outlier.h), Envoy's host monitor; its
   * `ejected` flag is the one the balancers skip by (lb.h). */
  ml_outlier_host outlier;
  ml_live_node node;
} ml_ep_state;

/* Live state of one cluster, keyed by its name: circuit breakers, retry
 * budgets, outlier sweeps, statistics. Shared by every snapshot that has
 * the cluster, so it survives reloads. The call path uses atomics only;
 * the lock and condition serve slow paths (waiting for a connection slot
 * in cluster/breaker_wait.c; ejecting and sweeping in cluster/health.c). */
typedef struct ml_cluster_state {
  ml_breaker_state breaker;   /* policy/breaker.h, with its statistics */
  ml_outlier_cluster outlier; /* outlier/outlier.h, with its statistics */
  _Atomic uint32_t waiters;   /* threads blocked for a slot */
  pthread_mutex_t lock;
  pthread_cond_t slot_freed; /* on CLOCK_MONOTONIC */
  ml_live_node node;
} ml_cluster_state;

/* The breakers of |s| (policy/breaker.h), or NULL (no limits) when |s| is
 * NULL. Admission and release go through cluster/breaker_wait.h, which
 * wakes waiters; retries and the rate budget use these directly. */
static inline ml_breaker_state *ml_cluster_breaker(ml_cluster_state *s) {
  return s ? &s->breaker : NULL;
}

typedef struct ml_live_table {
  ml_live_node **buckets;
  size_t bucket_count;
  size_t count;
} ml_live_table;

typedef struct ml_live {
  const ml_mem *mem;
  pthread_mutex_t lock;    /* taken while snapshots are built and freed only */
  ml_live_table endpoints; /* ml_ep_state */
  ml_live_table clusters;  /* ml_cluster_state */
} ml_live;

int ml_live_init(ml_live *l, const ml_mem *mem);
void ml_live_destroy(ml_live *l);

/* An endpoint an application sets for a host (meshlib_set_endpoints). */
typedef struct ml_app_endpoint {
  char *address;
  uint32_t port; /* 0: the request's port */
  uint32_t weight;
  ml_kv_list labels; /* owned strings */
} ml_app_endpoint;

typedef struct ml_app_endpoints {
  char *host; /* FQDN, lower-case */
  ml_app_endpoint *items;
  size_t count;
} ml_app_endpoints;

/* What the mesh's resolver last learned of a name: its IPv4 addresses
 * (Istio resolves V4_ONLY unless the mesh is dual-stack). */
typedef struct ml_dns_answer {
  char *name;
  char **addrs;
  size_t count;
} ml_dns_answer;

typedef struct ml_cluster {
  const char *name; /* outbound|<port>|<subset>|<host> */
  const char *host;
  uint32_t port;            /* 0: endpoints set for any port */
  const char *subset;       /* NULL for the whole service */
  ml_traffic_policy policy; /* effective */
  ml_http_version version;  /* from the port's protocol */
  const char *protocol;     /* the ServiceEntry port's protocol, or NULL */
  int any_port;             /* also answers for requests to other ports */
  ml_lb *lb;                /* NULL when the cluster has no endpoints */
  ml_lb_endpoint *endpoints;
  ml_ep_state **states;
  size_t endpoint_count;
  ml_cluster_state *state; /* live: breakers, budgets, outlier sweeps */
} ml_cluster;

typedef struct ml_clusters ml_clusters;

typedef struct ml_cluster_inputs {
  const ml_config *config;
  const ml_route_table *routes;
  const ml_app_endpoints *app; /* set by the application; may be NULL */
  size_t app_count;
  const ml_dns_answer *dns; /* answers for DNS ServiceEntries; may be NULL */
  size_t dns_count;
  const char *client_namespace;
} ml_cluster_inputs;

/* The names a DNS or DNS_ROUND_ROBIN ServiceEntry of |c| needs resolved
 * (endpoint addresses that are not IP literals, or the host itself),
 * each passed to |cb| once per entry. Pure. */
int ml_clusters_dns_names(const ml_config *c,
                          int (*cb)(const char *name, void *ud), void *ud);
/* Nonzero when |s| is an IPv4 or IPv6 literal. */
int ml_is_ip_literal(const char *s);

/* Compile every cluster the inputs define. Returns MESHLIB_OK or
 * MESHLIB_ERR_NOMEM (an unusable policy, such as a Maglev table size that
 * is not prime, leaves that cluster without a balancer: its calls get
 * 503 UH, and the analyzer reports the config). */
int ml_clusters_build(const ml_mem *mem, ml_live *live,
                      const ml_cluster_inputs *in, ml_clusters **out);
void ml_clusters_free(ml_clusters *c);

/* The cluster of (host, port, subset), or NULL when the host has no
 * known endpoints on that port: the call then goes to host:port itself
 * (Istio's passthrough). A host with exactly one port answers for any
 * requested port, as a destination without a port takes the service's
 * only port. Never allocates. */
const ml_cluster *ml_clusters_find(const ml_clusters *c, const char *host,
                                   uint32_t port, const char *subset);
size_t ml_clusters_count(const ml_clusters *c);
const ml_cluster *ml_clusters_at(const ml_clusters *c, size_t i);

#endif
