/* SPDX-License-Identifier: MIT */
#ifndef ML_TEST_CLUSTER_UTIL_H
#define ML_TEST_CLUSTER_UTIL_H

/* Shared by the cluster, outlier and breaker tests: clusters compiled
 * from a DestinationRule (YAML) and endpoints set as an application sets
 * them, over a live store that outlasts the snapshots. Header-only. */
#include <stdio.h>

#include "../route/route_test_util.h"

#include "cluster/cluster.h"

#define CT_HOST "svc.default.svc.cluster.local"
#define CT_MAX_EPS 64

typedef struct ct_fixture {
  rt_fixture rt;
  ml_live live;
  char addrs[CT_MAX_EPS][32];
  ml_app_endpoint eps[CT_MAX_EPS];
  ml_app_endpoints app;
  ml_clusters *clusters;
  const ml_cluster *k; /* the service's cluster (no subset) */
} ct_fixture;

/* A DestinationRule for "svc" with |traffic_policy| (YAML flow mapping,
 * e.g. "{outlierDetection: {interval: 1s}}"), or none when NULL. */
static inline void ct_yaml(char *buf, size_t len, const char *traffic_policy) {
  if (!traffic_policy) {
    snprintf(buf, len, "# nothing\n");
    return;
  }
  snprintf(buf, len,
           "apiVersion: networking.istio.io/v1\n"
           "kind: DestinationRule\n"
           "metadata: {name: svc, namespace: default}\n"
           "spec:\n"
           "  host: svc\n"
           "  trafficPolicy: %s\n",
           traffic_policy);
}

/* (Re)build the clusters with endpoints 10.0.0.<first>..<first+n-1>:80. */
static inline void ct_build(ct_fixture *f, size_t first, size_t n) {
  assert_true(n <= CT_MAX_EPS);
  for (size_t i = 0; i < n; i++) {
    snprintf(f->addrs[i], sizeof(f->addrs[i]), "10.0.0.%zu", first + i);
    memset(&f->eps[i], 0, sizeof(f->eps[i]));
    f->eps[i].address = f->addrs[i];
    f->eps[i].port = 80;
    f->eps[i].weight = 1;
  }
  f->app.host = (char *)CT_HOST;
  f->app.items = f->eps;
  f->app.count = n;
  ml_cluster_inputs in;
  memset(&in, 0, sizeof(in));
  in.config = f->rt.config;
  in.routes = f->rt.table;
  in.app = &f->app;
  in.app_count = 1;
  in.client_namespace = "default";
  ml_clusters *old = f->clusters;
  assert_int_equal(ml_clusters_build(NULL, &f->live, &in, &f->clusters),
                   MESHLIB_OK);
  ml_clusters_free(old); /* after: live state carries over */
  f->k = ml_clusters_find(f->clusters, CT_HOST, 80, NULL);
  assert_non_null(f->k);
  assert_int_equal(f->k->endpoint_count, n);
  assert_non_null(f->k->state);
}

static inline void ct_setup(ct_fixture *f, const char *traffic_policy,
                            size_t n) {
  memset(f, 0, sizeof(*f));
  char yaml[2048];
  ct_yaml(yaml, sizeof(yaml), traffic_policy);
  rt_setup(&f->rt, "default", yaml);
  assert_int_equal(ml_live_init(&f->live, NULL), MESHLIB_OK);
  ct_build(f, 1, n);
}

static inline void ct_teardown(ct_fixture *f) {
  ml_clusters_free(f->clusters);
  ml_live_destroy(&f->live);
  rt_teardown(&f->rt);
}

#endif
