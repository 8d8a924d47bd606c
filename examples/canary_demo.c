/* SPDX-License-Identifier: MIT */
/* The seed's canary, live, with nothing outside this process: two mock
 * upstreams (meshlib/testing.h) play myapp v1 and v2, the seed's
 * DestinationRule and routing rules (tests/data) decide where each call
 * goes, and a few hundred real HTTP calls show the result. Then the
 * canary's weights move 90/10 -> 80/20 -> 50/50 -> 0/100 while two threads
 * keep calling through the same mesh.
 *
 *   canary_demo            (./scripts/demo.sh runs it)
 *
 * Exit status 0 when what was observed is what the config says (beta users
 * all on v2, each canary share within 5 standard deviations), 1 if not,
 * 2 when the setup fails. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <meshlib/meshlib.h>
#include <meshlib/testing.h>

/* The config: a ServiceEntry for the mocks, then the seed's DestinationRule
 * and VirtualService. Only the VirtualService's last rule differs from the
 * seed's (which sends everything else to v1): it is the seed's weighted
 * canary (virtualservice-canary.yaml), with weights given per step. */
static int make_config(char *buf, size_t cap, int p1, int p2, int w1, int w2) {
  int n = snprintf(
      buf, cap,
      "# myapp's pods: the two mock upstreams of this process.\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: ServiceEntry\n"
      "metadata: {name: myapp, namespace: production}\n"
      "spec:\n"
      "  hosts: [myapp.production.svc.cluster.local]\n"
      "  location: MESH_INTERNAL\n"
      "  resolution: STATIC\n"
      "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
      "  endpoints:\n"
      "  - {address: 127.0.0.1, ports: {http: %d},"
      " labels: {app: myapp, version: v1}}\n"
      "  - {address: 127.0.0.1, ports: {http: %d},"
      " labels: {app: myapp, version: v2}}\n"
      "---\n"
      "# tests/data/destinationrule.yaml (with Istio's spelling of\n"
      "# http1MaxPendingRequests).\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: DestinationRule\n"
      "metadata: {name: myapp, namespace: production}\n"
      "spec:\n"
      "  host: myapp\n"
      "  trafficPolicy:\n"
      "    loadBalancer: {simple: LEAST_CONN}\n"
      "    connectionPool:\n"
      "      tcp: {maxConnections: 100}\n"
      "      http: {http2MaxRequests: 1000, http1MaxPendingRequests: 50}\n"
      "  subsets:\n"
      "  - name: v1\n"
      "    labels: {version: v1}\n"
      "  - name: v2\n"
      "    labels: {version: v2}\n"
      "    trafficPolicy:\n"
      "      loadBalancer: {simple: ROUND_ROBIN}\n"
      "---\n"
      "# tests/data/virtualservice-routing.yaml, with the canary split of\n"
      "# tests/data/virtualservice-canary.yaml as its default rule.\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata: {name: myapp, namespace: production}\n"
      "spec:\n"
      "  hosts: [myapp]\n"
      "  http:\n"
      "  - name: canary-users\n"
      "    match: [{headers: {x-user-group: {exact: beta}}}]\n"
      "    route: [{destination: {host: myapp, subset: v2}}]\n"
      "  - name: api-v1\n"
      "    match: [{uri: {prefix: /api/v1}}]\n"
      "    timeout: 3s\n"
      "    retries:\n"
      "      attempts: 3\n"
      "      perTryTimeout: 1s\n"
      "      retryOn: gateway-error,connect-failure,retriable-4xx\n"
      "    route: [{destination: {host: myapp, subset: v1}}]\n"
      "  - name: default\n"
      "    route:\n"
      "    - {destination: {host: myapp, subset: v1}, weight: %d}\n"
      "    - {destination: {host: myapp, subset: v2}, weight: %d}\n",
      p1, p2, w1, w2);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Per route of the first phase. */
enum { ROUTE_BETA, ROUTE_API, ROUTE_DEFAULT, ROUTES };
static const char *const route_names[ROUTES] = {"canary-users", "api-v1",
                                                "default"};
enum { CALLS = 600 };

typedef struct route_stats {
  int calls;
  int by_subset[2]; /* v1, v2, from the cluster meshlib chose */
  int served_by[2]; /* v1, v2, from the x-mock-name that answered */
  int64_t durations[CALLS];
} route_stats;

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return (a > b) - (a < b);
}

/* Nearest-rank percentile of sorted |v|, in milliseconds. */
static double pct_ms(const int64_t *v, int n, int p) {
  if (n == 0)
    return 0.0;
  int rank = (n * p + 99) / 100;
  return (double)v[rank < 1 ? 0 : rank - 1] / 1000.0;
}

/* 0 for v1, 1 for v2, -1 for anything else. */
static int version_index(const char *s) {
  if (!s)
    return -1;
  return strcmp(s, "v1") == 0 ? 0 : strcmp(s, "v2") == 0 ? 1 : -1;
}

/* The subset out of Envoy's cluster name "outbound|80|v2|host". */
static int subset_index(const char *cluster) {
  const char *p = cluster ? strchr(cluster, '|') : NULL;
  p = p ? strchr(p + 1, '|') : NULL;
  if (!p)
    return -1;
  if (strncmp(p + 1, "v1|", 3) == 0)
    return 0;
  return strncmp(p + 1, "v2|", 3) == 0 ? 1 : -1;
}

/* Within 5 standard deviations of a binomial(n, p) mean. */
static int within_tolerance(int hits, int n, double p) {
  double sd = sqrt((double)n * p * (1.0 - p));
  double mean = (double)n * p;
  return fabs((double)hits - mean) <= 5.0 * sd + 1e-9;
}

/* Phase 1: a mix of calls, reported per route. */
static int first_phase(meshlib *mesh, route_stats *stats, char *flags_seen,
                       size_t flags_cap) {
  for (int i = 0; i < CALLS; i++) {
    /* Of every 4 calls: 1 from a beta user, 1 to /api/v1, 2 others. */
    int kind = i % 4 == 0 ? ROUTE_BETA : i % 4 == 1 ? ROUTE_API : ROUTE_DEFAULT;
    const char *url = kind == ROUTE_API ? "http://myapp/api/v1/users"
                                        : "http://myapp/products";
    meshlib_request *r;
    if (meshlib_request_new(&r, mesh, "GET", url) != MESHLIB_OK)
      return -1;
    if (kind == ROUTE_BETA)
      meshlib_request_add_header(r, "x-user-group", "beta");
    if (meshlib_request_perform(r) != MESHLIB_OK) {
      fprintf(stderr, "call failed: %s\n", meshlib_request_errmsg(r));
      meshlib_request_free(r);
      return -1;
    }
    int subset = subset_index(meshlib_response_cluster(r));
    int served = version_index(meshlib_response_header(r, "x-mock-name"));
    int64_t us = meshlib_response_duration_us(r);
    char flags[64];
    meshlib_response_flags_str(meshlib_response_flags(r), flags, sizeof(flags));
    size_t used = strlen(flags_seen);
    if (!strstr(flags_seen, flags) && used + strlen(flags) + 2 < flags_cap)
      snprintf(flags_seen + used, flags_cap - used, "%s%s", used ? " " : "",
               flags);
    /* Which rule matched is on the routing decision; asking for it routes
     * the request again on the same config (same rule), after the
     * response's borrowed strings have been used. */
    const meshlib_decision *d;
    int route = -1;
    if (meshlib_request_route(r, &d) == MESHLIB_OK) {
      const char *name = meshlib_decision_route_name(d);
      for (int k = 0; name && k < ROUTES; k++)
        if (strcmp(name, route_names[k]) == 0)
          route = k;
    }
    meshlib_request_free(r);
    if (route < 0)
      return -1;
    route_stats *s = &stats[route];
    s->durations[s->calls++] = us;
    if (subset >= 0)
      s->by_subset[subset]++;
    if (served >= 0)
      s->served_by[served]++;
  }
  return 0;
}

/* Phase 2: callers that keep going while the config changes. Each call
 * is counted under the config version in force for its whole duration
 * (the same before and after it), so calls that straddle a change are
 * left out. */
enum { STEPS = 4, STEP_CALLS = 1000 };
typedef struct live {
  meshlib *mesh;
  uint64_t first_version; /* the version of step 0 */
  atomic_int stop;
  atomic_int calls[STEPS];
  atomic_int v2[STEPS];
  atomic_int errors;
} live;

static void *caller(void *arg) {
  live *l = arg;
  while (!atomic_load(&l->stop)) {
    meshlib_request *r;
    if (meshlib_request_new(&r, l->mesh, "GET", "http://myapp/checkout") !=
        MESHLIB_OK) {
      atomic_fetch_add(&l->errors, 1);
      break;
    }
    uint64_t before = meshlib_config_version(l->mesh);
    int rc = meshlib_request_perform(r);
    uint64_t after = meshlib_config_version(l->mesh);
    if (rc != MESHLIB_OK || meshlib_response_status(r) != 200) {
      atomic_fetch_add(&l->errors, 1);
    } else if (before == after && before >= l->first_version &&
               before < l->first_version + STEPS) {
      int step = (int)(before - l->first_version);
      atomic_fetch_add(&l->calls[step], 1);
      if (subset_index(meshlib_response_cluster(r)) == 1)
        atomic_fetch_add(&l->v2[step], 1);
    }
    meshlib_request_free(r);
  }
  return NULL;
}

static int apply(meshlib *mesh, const char *yaml) {
  meshlib_config *c;
  int rc = meshlib_config_new(&c, mesh);
  if (rc == MESHLIB_OK)
    rc = meshlib_config_add_string(c, "canary.yaml", yaml, strlen(yaml));
  if (rc == MESHLIB_OK)
    rc = meshlib_config_apply(c);
  if (rc != MESHLIB_OK)
    fprintf(stderr, "config: %s\n",
            c ? meshlib_config_errmsg(c) : meshlib_strerror(rc));
  meshlib_config_free(c);
  return rc;
}

int main(void) {
  static char yaml[8192];
  static route_stats stats[ROUTES];
  meshlib_mock *v1 = NULL, *v2 = NULL;
  meshlib_options *o = NULL;
  meshlib *mesh = NULL;
  int ok = 1, code = 2;
  double t0 = now_s();

  if (meshlib_mock_new(&v1) != MESHLIB_OK ||
      meshlib_mock_new(&v2) != MESHLIB_OK) {
    fprintf(stderr, "cannot start the mock upstreams\n");
    goto out;
  }
  meshlib_mock_set_name(v1, "v1");
  meshlib_mock_set_name(v2, "v2");
  int p1 = meshlib_mock_port(v1), p2 = meshlib_mock_port(v2);
  if (make_config(yaml, sizeof(yaml), p1, p2, 90, 10) < 0 ||
      meshlib_options_new(&o) != MESHLIB_OK)
    goto out;
  meshlib_options_set_namespace(o, "production");
  meshlib_options_add_config_string(o, "canary.yaml", yaml, strlen(yaml));
  if (meshlib_new(&mesh, o) != MESHLIB_OK) {
    fprintf(stderr, "config: %s\n", meshlib_options_errmsg(o));
    goto out;
  }

  printf("== meshlib canary demo: the seed's VirtualService and "
         "DestinationRule 'myapp', live\n"
         "   myapp v1 = mock upstream 127.0.0.1:%d, myapp v2 = mock upstream "
         "127.0.0.1:%d (both in this process)\n"
         "   rules, first match wins:\n"
         "     canary-users  x-user-group: beta  -> v2\n"
         "     api-v1        /api/v1 prefix      -> v1 (timeout 3s, 3 "
         "retries of 1s)\n"
         "     default       everything else     -> v1 90%% / v2 10%%\n"
         "   (the default rule is the seed's canary split from "
         "virtualservice-canary.yaml;\n"
         "    the seed's routing file sends everything else to v1)\n\n",
         p1, p2);

  char flags_seen[128] = "";
  double t1 = now_s();
  if (first_phase(mesh, stats, flags_seen, sizeof(flags_seen)) < 0) {
    fprintf(stderr, "the calls failed\n");
    goto out;
  }
  double elapsed = now_s() - t1;
  printf("%d calls (1 in 4 from a beta user, 1 in 4 to /api/v1/users, the "
         "rest to /products) in %.2f s:\n\n",
         CALLS, elapsed);
  printf("  %-14s %6s %6s %6s %9s %9s\n", "route", "calls", "v1", "v2",
         "p50 ms", "p99 ms");
  for (int k = 0; k < ROUTES; k++) {
    route_stats *s = &stats[k];
    qsort(s->durations, (size_t)s->calls, sizeof(int64_t), cmp_i64);
    printf("  %-14s %6d %6d %6d %9.3f %9.3f\n", route_names[k], s->calls,
           s->by_subset[0], s->by_subset[1], pct_ms(s->durations, s->calls, 50),
           pct_ms(s->durations, s->calls, 99));
    if (s->served_by[0] != s->by_subset[0] ||
        s->served_by[1] != s->by_subset[1]) {
      printf("  !! route %s: the mocks that answered differ from the "
             "subsets chosen\n",
             route_names[k]);
      ok = 0;
    }
  }
  const route_stats *beta = &stats[ROUTE_BETA], *def = &stats[ROUTE_DEFAULT];
  int beta_ok = beta->calls > 0 && beta->by_subset[1] == beta->calls;
  int api_ok = stats[ROUTE_API].by_subset[0] == stats[ROUTE_API].calls;
  int share_ok = within_tolerance(def->by_subset[1], def->calls, 0.10);
  printf("\n  beta users on v2:       %d of %d%s\n", beta->by_subset[1],
         beta->calls, beta_ok ? " (all)" : "  !! NOT ALL");
  printf("  /api/v1 on v1:          %d of %d%s\n",
         stats[ROUTE_API].by_subset[0], stats[ROUTE_API].calls,
         api_ok ? " (all)" : "  !! NOT ALL");
  printf("  canary share of v2:     %.1f%% observed, 10%% configured "
         "(default rule, %d calls)%s\n",
         def->calls ? 100.0 * def->by_subset[1] / def->calls : 0.0, def->calls,
         share_ok ? "" : "  !! OUT OF TOLERANCE");
  printf("  response flags seen:    %s\n", flags_seen);
  printf("  requests the mocks got: v1 %d, v2 %d\n",
         meshlib_mock_request_count(v1), meshlib_mock_request_count(v2));
  ok = ok && beta_ok && api_ok && share_ok;

  /* Phase 2: the weights move while two threads keep calling. */
  static const int weights[STEPS][2] = {{90, 10}, {80, 20}, {50, 50}, {0, 100}};
  static live l;
  l.mesh = mesh;
  l.first_version = meshlib_config_version(mesh) + 1;
  pthread_t threads[2];
  int started = 0;
  for (; started < 2; started++)
    if (pthread_create(&threads[started], NULL, caller, &l) != 0)
      break;
  printf("\nShifting the canary live: each step applies new config "
         "(meshlib_config_apply) to the mesh\n"
         "that %d threads keep calling through; %d calls per step.\n\n",
         started, STEP_CALLS);
  printf("  %-12s %7s %7s %9s %11s\n", "weights", "config", "calls", "v2 share",
         "configured");
  for (int k = 0; k < STEPS && started; k++) {
    if (make_config(yaml, sizeof(yaml), p1, p2, weights[k][0], weights[k][1]) <
            0 ||
        apply(mesh, yaml) != MESHLIB_OK) {
      ok = 0;
      break;
    }
    double deadline = now_s() + 10.0;
    while (atomic_load(&l.calls[k]) < STEP_CALLS && now_s() < deadline) {
      struct timespec ms = {0, 1000 * 1000};
      nanosleep(&ms, NULL);
    }
    int calls = atomic_load(&l.calls[k]), hits = atomic_load(&l.v2[k]);
    double want = weights[k][1] / 100.0;
    int step_ok = calls >= STEP_CALLS && within_tolerance(hits, calls, want);
    char label[16];
    snprintf(label, sizeof(label), "%d/%d", weights[k][0], weights[k][1]);
    printf("  %-12s %7llu %7d %8.1f%% %10d%%%s\n", label,
           (unsigned long long)(l.first_version + (uint64_t)k), calls,
           calls ? 100.0 * hits / calls : 0.0, weights[k][1],
           step_ok ? "" : "  !! OUT OF TOLERANCE");
    ok = ok && step_ok;
  }
  atomic_store(&l.stop, 1);
  for (int k = 0; k < started; k++)
    pthread_join(threads[k], NULL);
  if (!started || atomic_load(&l.errors)) {
    printf("  !! %d calls failed during the shift\n", atomic_load(&l.errors));
    ok = 0;
  }

  printf("\n%s in %.2f s.\n",
         ok ? "Every call went where the config says"
            : "!! Something did not go where the config says",
         now_s() - t0);
  code = ok ? 0 : 1;
out:
  meshlib_free(mesh);
  meshlib_options_free(o);
  meshlib_mock_free(v1);
  meshlib_mock_free(v2);
  return code;
}
