/* SPDX-License-Identifier: MIT */
/* Metrics overhead: the same keep-alive HTTP/1.1 call through two meshes
 * that differ only in meshlib_options_set_metrics() (on, the default, and
 * off), against one mock upstream on 127.0.0.1 in this process. Rounds
 * alternate the two meshes (and which goes first) so that drift on the
 * shared machine hits both; the figure is the median over rounds of
 * calls/s with metrics on over calls/s with metrics off.
 *
 * Usage:
 *   bench_metrics [--calls N] [--rounds R] [--threads T]
 *     N calls per mesh in all (default 40000) in R rounds (default 20),
 *     sequentially on one thread, then over T threads (default 4) sharing
 *     each mesh.
 *   bench_metrics --only on|off --calls K
 *     A few warm-up calls, then K calls on the main thread in run_calls()
 *     (for valgrind --tool=callgrind --toggle-collect=run_calls: the
 *     instructions per call with metrics on and off).
 *   bench_metrics --micro [--calls N]
 *     The recording alone: ml_metrics_record_call() N times (default
 *     2000000) over 8 label sets, on 1 and 2 threads; and a render of 100
 *     series.
 * Output: one "name value" line per figure. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "core/internal.h"
#include "telemetry/metrics.h"

#define MAX_THREADS 32
#define WARMUP_CALLS 50
#define URL "http://myapp/api/v1/items?id=42"

#define CONFIG_FMT                                                             \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: ServiceEntry\n"                                                       \
  "metadata: {name: myapp, namespace: bench}\n"                                \
  "spec:\n"                                                                    \
  "  hosts: [myapp.bench.svc.cluster.local]\n"                                 \
  "  location: MESH_INTERNAL\n"                                                \
  "  resolution: STATIC\n"                                                     \
  "  ports: [{number: 80, name: http, protocol: HTTP}]\n"                      \
  "  endpoints:\n"                                                             \
  "  - {address: 127.0.0.1, ports: {http: %d}, labels: {app: myapp, "          \
  "version: v1}}\n"                                                            \
  "---\n"                                                                      \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: DestinationRule\n"                                                    \
  "metadata: {name: myapp, namespace: bench}\n"                                \
  "spec:\n"                                                                    \
  "  host: myapp\n"                                                            \
  "  subsets: [{name: v1, labels: {version: v1}}]\n"                           \
  "---\n"                                                                      \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: VirtualService\n"                                                     \
  "metadata: {name: myapp, namespace: bench}\n"                                \
  "spec:\n"                                                                    \
  "  hosts: [myapp]\n"                                                         \
  "  http:\n"                                                                  \
  "  - name: api\n"                                                            \
  "    match: [{uri: {prefix: /api}}]\n"                                       \
  "    route: [{destination: {host: myapp, subset: v1}}]\n"

static void die(const char *what) {
  fprintf(stderr, "bench_metrics: %s failed\n", what);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static meshlib *mesh_new(int port, int metrics) {
  char yaml[4096];
  snprintf(yaml, sizeof(yaml), CONFIG_FMT, port);
  meshlib_options *o;
  if (meshlib_options_new(&o) != MESHLIB_OK)
    die("meshlib_options_new");
  meshlib_options_set_namespace(o, "bench");
  meshlib_options_set_workload_label(o, "app", "bench");
  meshlib_options_set_random_seed(o, 1);
  meshlib_options_set_metrics(o, metrics);
  meshlib_options_add_config_string(o, "bench.yaml", yaml, strlen(yaml));
  meshlib *m = NULL;
  if (meshlib_new(&m, o) != MESHLIB_OK) {
    fprintf(stderr, "bench_metrics: %s\n", meshlib_options_errmsg(o));
    exit(1);
  }
  meshlib_options_free(o);
  return m;
}

static meshlib_request *request_new(meshlib *m) {
  meshlib_request *r = NULL;
  if (meshlib_request_new(&r, m, "GET", URL) != MESHLIB_OK ||
      meshlib_request_add_header(r, "x-user", "bench") != MESHLIB_OK)
    die("meshlib_request_new");
  return r;
}

/* |n| calls with |r|; nonzero when one failed. Not inlined, so that
 * callgrind can count it alone. */
__attribute__((noinline)) int run_calls(meshlib_request *r, size_t n);
__attribute__((noinline)) int run_calls(meshlib_request *r, size_t n) {
  int failed = 0;
  for (size_t i = 0; i < n; i++)
    if (meshlib_request_perform(r) != MESHLIB_OK ||
        meshlib_response_status(r) != 200)
      failed = 1;
  return failed;
}

typedef struct job {
  meshlib_request *r;
  size_t n;
  int failed;
} job;

static void *job_main(void *p) {
  job *j = p;
  j->failed = run_calls(j->r, j->n);
  return NULL;
}

/* |n| calls spread over |threads| (0: this thread); calls per second. */
static double timed(meshlib_request **reqs, size_t n, int threads) {
  double t0 = now_s();
  if (threads == 0) {
    if (run_calls(reqs[0], n))
      die("a call");
  } else {
    pthread_t th[MAX_THREADS];
    job jobs[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
      jobs[t] = (job){reqs[t], n / (size_t)threads, 0};
      if (pthread_create(&th[t], NULL, job_main, &jobs[t]) != 0)
        die("pthread_create");
    }
    for (int t = 0; t < threads; t++) {
      pthread_join(th[t], NULL);
      if (jobs[t].failed)
        die("a call");
    }
  }
  return (double)n / (now_s() - t0);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void compare(const char *mode, meshlib_request **on,
                    meshlib_request **off, size_t calls, int rounds,
                    int threads) {
  double cps_on[64], cps_off[64], ratio[64];
  size_t per_round = calls / (size_t)rounds;
  for (int i = 0; i < rounds; i++) {
    if (i % 2 == 0) {
      cps_on[i] = timed(on, per_round, threads);
      cps_off[i] = timed(off, per_round, threads);
    } else {
      cps_off[i] = timed(off, per_round, threads);
      cps_on[i] = timed(on, per_round, threads);
    }
    ratio[i] = cps_on[i] / cps_off[i];
  }
  double r = median(ratio, rounds);
  printf("metrics_%s_on_cps %.0f\n", mode, median(cps_on, rounds));
  printf("metrics_%s_off_cps %.0f\n", mode, median(cps_off, rounds));
  printf("metrics_%s_ratio %.4f\n", mode, r);
  printf("metrics_%s_cost_pct %.2f\n", mode, (1.0 - r) * 100.0);
  printf("metrics_%s_ratio_min %.4f\n", mode, ratio[0]);
  printf("metrics_%s_ratio_max %.4f\n", mode, ratio[rounds - 1]);
  fflush(stdout);
}

/* ---- the recording alone ---------------------------------------------- */

typedef struct micro {
  meshlib *m;
  size_t n;
} micro;

static void *micro_main(void *p) {
  micro *mc = p;
  static const char *const hosts[4] = {
      "reviews.prod.svc.cluster.local", "ratings.prod.svc.cluster.local",
      "details.prod.svc.cluster.local", "api.example.com"};
  ml_kv kv[] = {{"app", "reviews"}, {"version", "v2"}};
  ml_kv_list labels = {kv, 2};
  ml_call_info ci;
  memset(&ci, 0, sizeof(ci));
  ci.protocol = "http";
  ci.dest_labels = &labels;
  ci.cluster = "outbound|9080|v2|reviews.prod.svc.cluster.local";
  ci.attempt_count = 1;
  for (size_t i = 0; i < mc->n; i++) {
    ci.dest_service = hosts[i & 3];
    ci.status = (i & 4) ? 503 : 200;
    ci.duration_us = (int64_t)(i & 1023) * 10;
    ci.response_bytes = i & 4095;
    ml_metrics_record_call(mc->m->telemetry.metrics, &ci);
  }
  return NULL;
}

static void run_micro(size_t n) {
  meshlib_options *o;
  meshlib *m;
  if (meshlib_options_new(&o) != MESHLIB_OK || meshlib_new(&m, o) != 0)
    die("meshlib_new");
  meshlib_options_free(o);
  for (int threads = 1; threads <= 2; threads++) {
    pthread_t th[2];
    micro mc = {m, n / (size_t)threads};
    double t0 = now_s();
    for (int t = 0; t < threads; t++)
      pthread_create(&th[t], NULL, micro_main, &mc);
    for (int t = 0; t < threads; t++)
      pthread_join(th[t], NULL);
    double s = now_s() - t0;
    printf("metrics_record_%dthread_ns_per_call %.1f\n", threads,
           s * 1e9 / (double)mc.n); /* as each thread sees it */
  }
  /* Render: 100 label sets. */
  ml_call_info ci;
  memset(&ci, 0, sizeof(ci));
  ci.protocol = "http";
  for (int i = 0; i < 100; i++) {
    char host[64];
    snprintf(host, sizeof(host), "svc%d.prod.svc.cluster.local", i);
    ci.dest_service = host;
    ci.status = 200;
    ml_metrics_record_call(m->telemetry.metrics, &ci);
  }
  double t0 = now_s();
  size_t bytes = 0;
  for (int i = 0; i < 20; i++) {
    char *text;
    size_t len;
    if (meshlib_metrics_render(m, &text, &len) != MESHLIB_OK)
      die("render");
    bytes = len;
    meshlib_free_str(m, text);
  }
  printf("metrics_render_100_series_ms %.3f\n", (now_s() - t0) * 1e3 / 20);
  printf("metrics_render_100_series_bytes %zu\n", bytes);
  meshlib_free(m);
}

int main(int argc, char **argv) {
  size_t calls = 40000;
  int rounds = 20, threads = 4, micro_mode = 0;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 < argc && strcmp(a, "--calls") == 0)
      calls = (size_t)strtoul(argv[++i], NULL, 10);
    else if (i + 1 < argc && strcmp(a, "--rounds") == 0)
      rounds = (int)strtol(argv[++i], NULL, 10);
    else if (i + 1 < argc && strcmp(a, "--threads") == 0)
      threads = (int)strtol(argv[++i], NULL, 10);
    else if (i + 1 < argc && strcmp(a, "--only") == 0)
      only = argv[++i];
    else if (strcmp(a, "--micro") == 0)
      micro_mode = 1;
    else {
      fputs("usage: bench_metrics [--calls N] [--rounds R] [--threads T]\n"
            "       bench_metrics --only on|off --calls K\n"
            "       bench_metrics --micro [--calls N]\n",
            stderr);
      return 2;
    }
  }
  if (rounds < 2 || rounds > 64 || threads < 1 || threads > MAX_THREADS ||
      calls < (size_t)rounds * (size_t)threads) {
    fputs("bench_metrics: bad --rounds, --threads or --calls\n", stderr);
    return 2;
  }
  if (micro_mode) {
    run_micro(calls == 40000 ? 2000000 : calls);
    return 0;
  }
  meshlib_mock *mock;
  if (meshlib_mock_new(&mock) != MESHLIB_OK)
    die("meshlib_mock_new");
  meshlib_mock_set_default(mock, 200, "{\"id\":42,\"name\":\"item\"}", 25);
  int port = meshlib_mock_port(mock);
  if (only) {
    int on = strcmp(only, "on") == 0;
    meshlib *m = mesh_new(port, on);
    meshlib_request *r = request_new(m);
    if (run_calls(r, WARMUP_CALLS) || run_calls(r, calls))
      die("a call");
    meshlib_request_free(r);
    meshlib_free(m);
    meshlib_mock_free(mock);
    return 0;
  }
  meshlib *on = mesh_new(port, 1), *off = mesh_new(port, 0);
  meshlib_request *ron[MAX_THREADS], *roff[MAX_THREADS];
  for (int t = 0; t < threads; t++) {
    ron[t] = request_new(on);
    roff[t] = request_new(off);
    if (run_calls(ron[t], WARMUP_CALLS) || run_calls(roff[t], WARMUP_CALLS))
      die("a warm-up call");
  }
  printf("metrics_calls %zu\nmetrics_rounds %d\nmetrics_threads %d\n", calls,
         rounds, threads);
  compare("seq", ron, roff, calls, rounds, 0);
  compare("par", ron, roff, calls, rounds, threads);
  for (int t = 0; t < threads; t++) {
    meshlib_request_free(ron[t]);
    meshlib_request_free(roff[t]);
  }
  meshlib_free(on);
  meshlib_free(off);
  meshlib_mock_free(mock);
  return 0;
}
