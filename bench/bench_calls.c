/* SPDX-License-Identifier: MIT */
/* Calls benchmark: the same keep-alive HTTP/1.1 call made N times through
 * meshlib (routing, a weighted split, subsets and a balancer on) and
 * through plain libcurl (one easy handle per thread, set up once and
 * reused), against one mock upstream on 127.0.0.1. Sequentially on one
 * thread, then with 16 in flight (16 threads, each sequential, sharing one
 * mesh). Rounds alternate plain and meshlib so that drift hits both.
 *
 * Both sides put the same bytes on the wire: the URL
 * http://myapp/api/v1/items?id=42 with Host "myapp", the same two
 * application headers, no Accept header (meshlib sends none, as Envoy
 * adds none), and the connection pinned to the mock with CONNECT_TO, as
 * meshlib pins a call to the endpoint it picked.
 *
 * The mock runs in a child process (this program run with --serve) unless
 * --inproc is given: strace and callgrind then see the client alone. It
 * still shares the machine's CPUs with the client.
 *
 * Usage:
 *   bench_calls [--calls N] [--rounds R] [--threads T] [--inproc]
 *     N calls per side and mode in all (default 40000), in R rounds
 *     (default 20) of N/R calls: short rounds, each side's right after
 *     the other's, so that a burst of load elsewhere on the machine
 *     lands in few rounds, which the medians then ignore.
 *   bench_calls --only plain|meshlib|fresh|none --calls K [--inproc]
 *     A few warm-up calls, then K calls of one kind on the main thread in
 *     run_plain_calls() / run_meshlib_calls() / run_fresh_calls() (for
 *     callgrind --toggle-collect and for strace, which without -f follows
 *     the main thread only). "fresh" creates, performs and frees a new
 *     meshlib request per call; "none" makes no call after the warm-up.
 *   bench_calls --only marked --calls K
 *     K plain, K meshlib and K fresh calls in turn, each preceded by a
 *     marker system call (getppid() before a plain call, getuid() before
 *     a meshlib one, getgid() before a fresh one, getegid() after the
 *     last), so that strace's log of the main thread tells each call's
 *     system calls apart while all kinds meet the same timing.
 *   bench_calls --only pair --calls K
 *     The same without the fresh calls (for callgrind: libcurl then
 *     works for the plain and the meshlib calls only).
 *   --tracing off|PCT (with any of the above): trace headers and sampling
 *     off, or PCT % of calls sampled with spans exported to the mock.
 *   --same-bytes (with any of the above): the plain side also sends
 *     x-envoy-attempt-count: 1, the one header meshlib adds by default.
 *   --resilience (with any of the above): the matched route retries
 *     (attempts 2, retryOn 5xx) and the DestinationRule sets outlier
 *     detection (consecutive5xxErrors 5) and connection-pool limits.
 * Output: one "name value" line per figure. */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"

#define MAX_THREADS 64
#define WARMUP_CALLS 20
#define URL "http://myapp/api/v1/items?id=42"
#define BODY "{\"id\":42,\"name\":\"item\",\"price\":1999}\n"

/* Routing with a few rules ahead of the one that matches (a header, a
 * regex, a prefix), a weighted canary split between two subsets, and a
 * balancer over two endpoints in v1 (LEAST_REQUEST, Istio's default,
 * written out). Every endpoint is the one mock: both sides then share
 * one connection per thread. */
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
  "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v1}}\n"       \
  "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v1}}\n"       \
  "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v2}}\n"       \
  "---\n"                                                                      \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: DestinationRule\n"                                                    \
  "metadata: {name: myapp, namespace: bench}\n"                                \
  "spec:\n"                                                                    \
  "  host: myapp\n"                                                            \
  "  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}%s}\n"               \
  "  subsets:\n"                                                               \
  "  - {name: v1, labels: {version: v1}}\n"                                    \
  "  - {name: v2, labels: {version: v2}}\n"                                    \
  "---\n"                                                                      \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: VirtualService\n"                                                     \
  "metadata: {name: myapp, namespace: bench}\n"                                \
  "spec:\n"                                                                    \
  "  hosts: [myapp]\n"                                                         \
  "  http:\n"                                                                  \
  "  - name: beta\n"                                                           \
  "    match: [{headers: {x-beta: {exact: 'yes'}}}]\n"                         \
  "    route: [{destination: {host: myapp, subset: v2}}]\n"                    \
  "  - name: legacy\n"                                                         \
  "    match: [{uri: {regex: '/legacy/[a-z]+'}}]\n"                            \
  "    route: [{destination: {host: myapp, subset: v1}}]\n"                    \
  "  - name: admin\n"                                                          \
  "    match: [{uri: {prefix: /admin}, method: {exact: POST}}]\n"              \
  "    route: [{destination: {host: myapp, subset: v1}}]\n"                    \
  "  - name: api\n"                                                            \
  "    match: [{uri: {prefix: /api/}}]\n"                                      \
  "%s"                                                                         \
  "    route:\n"                                                               \
  "    - {destination: {host: myapp, subset: v1}, weight: 90}\n"               \
  "    - {destination: {host: myapp, subset: v2}, weight: 10}\n"               \
  "  - name: default\n"                                                        \
  "    route: [{destination: {host: myapp, subset: v1}}]\n"

typedef enum kind { KIND_PLAIN = 0, KIND_MESHLIB = 1, KIND_FRESH = 2 } kind;
static const char *const kind_names[] = {"plain", "meshlib", "fresh"};

typedef struct body_buf {
  char *data;
  size_t len;
  size_t cap;
} body_buf;

/* One caller: its plain handle and its meshlib request, both reused. */
typedef struct worker {
  struct bench *b;
  pthread_t thread;
  CURL *easy;
  body_buf body;
  meshlib_request *req;
  double *lat;  /* microseconds, one per call of the current run */
  double *lat2; /* the meshlib calls' of an interleaved run */
  size_t calls;
  int failed;
} worker;

typedef struct bench {
  meshlib *mesh;
  int port;
  struct curl_slist *plain_headers;
  struct curl_slist *connect_to;
  int threads;
  worker w[MAX_THREADS];
  pthread_barrier_t start, done;
  kind run_kind;
  int quit;
} bench;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what) {
  fprintf(stderr, "bench_calls: %s\n", what);
  exit(1);
}

/* ---- the mock upstream -------------------------------------------- */

static meshlib_mock *mock_start(void) {
  meshlib_mock *m;
  if (meshlib_mock_new(&m) != MESHLIB_OK)
    die("cannot start the mock");
  meshlib_mock_set_name(m, "bench");
  meshlib_mock_set_default(m, 200, BODY, strlen(BODY));
  return m;
}

/* --serve: print the port, serve until stdin closes. The record of
 * requests is dropped twice a second so that it does not grow. */
static int serve(void) {
  meshlib_mock *m = mock_start();
  printf("%d\n", meshlib_mock_port(m));
  fflush(stdout);
  for (;;) {
    struct pollfd p = {0, POLLIN, 0};
    int n = poll(&p, 1, 500);
    if (n > 0) {
      char c;
      if (read(0, &c, 1) <= 0)
        break;
    } else if (n < 0 && errno != EINTR) {
      break;
    }
    meshlib_mock_reset(m);
  }
  meshlib_mock_free(m);
  return 0;
}

typedef struct server {
  meshlib_mock *inproc;
  pid_t pid;
  int to_child; /* closing it stops the child */
  int port;
} server;

static void server_start(server *s, const char *self, int inproc) {
  memset(s, 0, sizeof(*s));
  s->to_child = -1;
  if (inproc) {
    s->inproc = mock_start();
    s->port = meshlib_mock_port(s->inproc);
    return;
  }
  int in[2], out[2];
  if (pipe(in) || pipe(out))
    die("pipe");
  s->pid = fork();
  if (s->pid < 0)
    die("fork");
  if (s->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    /* exec, so that valgrind (without --trace-children) lets the
     * server run natively. */
    execl(self, self, "--serve", (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  s->to_child = in[1];
  char line[32] = {0};
  size_t n = 0;
  while (n < sizeof(line) - 1) {
    ssize_t r = read(out[0], line + n, 1);
    if (r <= 0 || line[n] == '\n')
      break;
    n++;
  }
  close(out[0]);
  s->port = atoi(line);
  if (s->port <= 0)
    die("the mock process did not start");
}

static void server_stop(server *s) {
  if (s->inproc) {
    meshlib_mock_free(s->inproc);
    return;
  }
  close(s->to_child);
  waitpid(s->pid, NULL, 0);
}

/* ---- the calls ---------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  body_buf *b = ud;
  size_t len = size * n;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + len)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
      return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, len);
  b->len += len;
  return len;
}

/* What an application that calls the service with libcurl does: one
 * handle, set up once, reused for every call. */
static CURL *plain_new(bench *b, body_buf *body) {
  CURL *e = curl_easy_init();
  if (!e)
    die("curl_easy_init");
  curl_easy_setopt(e, CURLOPT_URL, URL);
  curl_easy_setopt(e, CURLOPT_CONNECT_TO, b->connect_to);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, b->plain_headers);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
  return e;
}

__attribute__((noinline)) static int plain_call(worker *w) {
  w->body.len = 0;
  if (curl_easy_perform(w->easy) != CURLE_OK)
    return -1;
  long status = 0;
  curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
  return status == 200 ? 0 : -1;
}

static meshlib_request *meshlib_new_request(bench *b) {
  meshlib_request *r;
  if (meshlib_request_new(&r, b->mesh, "GET", URL) != MESHLIB_OK)
    die("meshlib_request_new");
  if (meshlib_request_add_header(r, "x-tenant", "acme") != MESHLIB_OK ||
      meshlib_request_add_header(r, "x-trace", "1") != MESHLIB_OK)
    die("meshlib_request_add_header");
  return r;
}

__attribute__((noinline)) static int meshlib_call(meshlib_request *r) {
  if (meshlib_request_perform(r) != MESHLIB_OK)
    return -1;
  size_t len;
  meshlib_response_body(r, &len);
  return meshlib_response_status(r) == 200 && meshlib_response_flags(r) == 0 &&
                 len == strlen(BODY)
             ? 0
             : -1;
}

__attribute__((noinline)) static int fresh_call(bench *b) {
  meshlib_request *r = meshlib_new_request(b);
  int rc = meshlib_call(r);
  meshlib_request_free(r);
  return rc;
}

/* The measured loops, one function per kind, not inlined: callgrind's
 * --toggle-collect=run_plain_calls counts what they execute and nothing
 * else (not the setup, not the warm-up, not another thread). */
__attribute__((noinline)) static int run_plain_calls(worker *w, size_t n,
                                                     double *lat) {
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    double t0 = now_us();
    failed |= plain_call(w);
    lat[i] = now_us() - t0;
  }
  return failed;
}

__attribute__((noinline)) static int run_meshlib_calls(worker *w, size_t n,
                                                       double *lat) {
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    double t0 = now_us();
    failed |= meshlib_call(w->req);
    lat[i] = now_us() - t0;
  }
  return failed;
}

__attribute__((noinline)) static int run_fresh_calls(worker *w, size_t n,
                                                     double *lat) {
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    double t0 = now_us();
    failed |= fresh_call(w->b);
    lat[i] = now_us() - t0;
  }
  return failed;
}

/* Sequential calls, plain and meshlib in turn, |first| first: every
 * pair of calls meets the same state of the machine, so that the
 * comparison holds while other work comes and goes. */
static int run_interleaved(worker *w, size_t n, kind first) {
  int failed = 0;
  double *lat[2] = {w->lat, w->lat2};
  for (size_t i = 0; i < n; i++) {
    for (int j = 0; j < 2; j++) {
      kind k = (kind)(((int)first + j) % 2);
      double t0 = now_us();
      failed |= k == KIND_PLAIN ? plain_call(w) : meshlib_call(w->req);
      lat[k][i] = now_us() - t0;
    }
  }
  return failed;
}

/* For strace: markers around interleaved calls (see the usage). */
__attribute__((noinline)) static int run_marked(worker *w, size_t n,
                                                int fresh) {
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    (void)getppid();
    failed |= plain_call(w);
    (void)getuid();
    failed |= meshlib_call(w->req);
    if (fresh) {
      (void)getgid();
      failed |= fresh_call(w->b);
    }
  }
  (void)getegid();
  return failed;
}

static int run_calls(worker *w, kind k, size_t n) {
  switch (k) {
  case KIND_PLAIN:
    return run_plain_calls(w, n, w->lat);
  case KIND_MESHLIB:
    return run_meshlib_calls(w, n, w->lat);
  default:
    return run_fresh_calls(w, n, w->lat);
  }
}

static void worker_init(bench *b, worker *w, size_t max_calls) {
  w->b = b;
  w->easy = plain_new(b, &w->body);
  w->req = meshlib_new_request(b);
  w->lat = calloc(max_calls ? max_calls : 1, sizeof(double));
  w->lat2 = calloc(max_calls ? max_calls : 1, sizeof(double));
  if (!w->lat || !w->lat2)
    die("out of memory");
}

/* Connections up, per-thread state made, caches warm. */
static void worker_warm(worker *w) {
  for (int i = 0; i < WARMUP_CALLS; i++)
    if (plain_call(w) || meshlib_call(w->req) || fresh_call(w->b))
      die("a warm-up call failed (is the mock up?)");
}

static void worker_fini(worker *w) {
  curl_easy_cleanup(w->easy);
  meshlib_request_free(w->req);
  free(w->body.data);
  free(w->lat);
  free(w->lat2);
}

static void *worker_main(void *p) {
  worker *w = p;
  bench *b = w->b;
  worker_warm(w);
  for (;;) {
    pthread_barrier_wait(&b->start);
    if (b->quit)
      break;
    w->failed |= run_calls(w, b->run_kind, w->calls);
    pthread_barrier_wait(&b->done);
  }
  worker_fini(w);
  return NULL;
}

/* ---- figures ------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p) {
  if (!n)
    return 0;
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return sorted[i];
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof(*v), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Per kind, over all rounds: calls per second of each round and every
 * latency. */
typedef struct series {
  double cps[64];
  double *lat;
  size_t lat_count;
} series;

static void series_add_lat(series *s, const double *lat, size_t n) {
  memcpy(s->lat + s->lat_count, lat, n * sizeof(double));
  s->lat_count += n;
}

/* A round of blocks: its calls per second, and the workers' latencies
 * for the percentiles. */
static void series_add(series *s, int round, double cps, worker *w, int n) {
  s->cps[round] = cps;
  for (int t = 0; t < n; t++)
    series_add_lat(s, w[t].lat, w[t].calls);
}

static void report(const char *mode, series *s, int rounds) {
  double ratios[64];
  for (int i = 0; i < rounds; i++)
    ratios[i] = s[KIND_MESHLIB].cps[i] / s[KIND_PLAIN].cps[i];
  double p50[2], p99[2];
  for (int k = 0; k < 2; k++) {
    qsort(s[k].lat, s[k].lat_count, sizeof(double), cmp_double);
    p50[k] = pct(s[k].lat, s[k].lat_count, 0.50);
    p99[k] = pct(s[k].lat, s[k].lat_count, 0.99);
    double cps[64];
    memcpy(cps, s[k].cps, sizeof(cps));
    printf("calls_%s_%s_cps %.0f\n", mode, kind_names[k],
           median(cps, (size_t)rounds));
    printf("calls_%s_%s_p50_us %.2f\n", mode, kind_names[k], p50[k]);
    printf("calls_%s_%s_p99_us %.2f\n", mode, kind_names[k], p99[k]);
  }
  double lo = ratios[0], hi = ratios[0];
  for (int i = 1; i < rounds; i++) {
    lo = ratios[i] < lo ? ratios[i] : lo;
    hi = ratios[i] > hi ? ratios[i] : hi;
  }
  printf("calls_%s_ratio %.3f\n", mode, median(ratios, (size_t)rounds));
  printf("calls_%s_ratio_min %.3f\n", mode, lo);
  printf("calls_%s_ratio_max %.3f\n", mode, hi);
  printf("calls_%s_p50_added_us %.2f\n", mode, p50[1] - p50[0]);
  printf("calls_%s_p99_added_us %.2f\n", mode, p99[1] - p99[0]);
  fflush(stdout);
}

/* One run of |n| calls of kind |k| over |threads| workers; returns calls
 * per second. Thread 0 of a sequential run is the main thread. */
static double timed_run(bench *b, kind k, size_t n, int threads) {
  double t0, t1;
  if (threads == 0) {
    b->w[0].calls = n;
    t0 = now_us();
    b->w[0].failed |= run_calls(&b->w[0], k, n);
    t1 = now_us();
  } else {
    for (int t = 0; t < threads; t++)
      b->w[1 + t].calls = n / (size_t)threads;
    b->run_kind = k;
    pthread_barrier_wait(&b->start);
    t0 = now_us();
    pthread_barrier_wait(&b->done);
    t1 = now_us();
  }
  return (double)n / ((t1 - t0) / 1e6);
}

/* --tracing off|PCT: no trace headers and no sampling, or PCT % sampled
 * with spans exported (OTLP and Zipkin) to the mock, which takes any POST.
 * Without the option: meshlib's defaults (1 %, no export, hence no trace
 * headers on the bench's calls, which carry no trace context). */
static const char *tracing_mode;

/* --resilience: the matched route retries (attempts 2 on 5xx) and the
 * DestinationRule sets outlier detection and connection-pool limits
 * (high enough never to refuse a call here). Without it: no policy in the
 * DestinationRule, and Istio's default retries. */
static int resilience;
/* --same-bytes: the plain side also sends x-envoy-attempt-count: 1, so
 * that both sides put the same bytes on the wire and the difference is
 * meshlib's own work (libcurl formats each header line at about 110
 * instructions a byte). */
static int same_bytes;
#define RESILIENCE_POLICY                                                      \
  ", outlierDetection: {consecutive5xxErrors: 5},"                             \
  " connectionPool: {tcp: {maxConnections: 1000},"                             \
  " http: {http1MaxPendingRequests: 1000, http2MaxRequests: 1000,"             \
  " maxRetries: 100}}"
#define RESILIENCE_RETRIES "    retries: {attempts: 2, retryOn: 5xx}\n"

static meshlib *mesh_new(int port) {
  char yaml[4096];
  snprintf(yaml, sizeof(yaml), CONFIG_FMT, port, port, port,
           resilience ? RESILIENCE_POLICY : "",
           resilience ? RESILIENCE_RETRIES : "");
  meshlib_options *o;
  if (meshlib_options_new(&o) != MESHLIB_OK)
    die("meshlib_options_new");
  meshlib_options_set_namespace(o, "bench");
  meshlib_options_set_random_seed(o, 1);
  if (tracing_mode && strcmp(tracing_mode, "off") == 0) {
    meshlib_options_set_trace_headers(o, 0);
    meshlib_options_set_tracing_sampling(o, 0.0);
  } else if (tracing_mode) {
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    meshlib_options_set_tracing_sampling(o, strtod(tracing_mode, NULL));
    meshlib_options_set_otlp_endpoint(o, url);
    meshlib_options_set_zipkin_endpoint(o, url);
    meshlib_options_set_tracing_queue(o, 65536, 512, 200);
  }
  meshlib_options_add_config_string(o, "bench.yaml", yaml, strlen(yaml));
  meshlib *m;
  if (meshlib_new(&m, o) != MESHLIB_OK) {
    fprintf(stderr, "bench_calls: %s\n", meshlib_options_errmsg(o));
    exit(1);
  }
  meshlib_options_free(o);
  return m;
}

static void usage(void) {
  fputs("usage: bench_calls [--calls N] [--rounds R] [--threads T] "
        "[--inproc]\n"
        "       bench_calls --only plain|meshlib|fresh|none|marked|pair "
        "--calls K "
        "[--inproc]\n"
        "       (either with [--resilience] [--same-bytes] "
        "[--tracing off|PCT])\n",
        stderr);
  exit(2);
}

int main(int argc, char **argv) {
  size_t calls = 40000;
  int rounds = 20, threads = 16, inproc = 0, only = -2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--serve") == 0)
      return serve();
    if (strcmp(a, "--inproc") == 0) {
      inproc = 1;
    } else if (i + 1 < argc && strcmp(a, "--calls") == 0) {
      calls = (size_t)strtoul(argv[++i], NULL, 10);
    } else if (i + 1 < argc && strcmp(a, "--rounds") == 0) {
      rounds = atoi(argv[++i]);
    } else if (strcmp(a, "--resilience") == 0) {
      resilience = 1;
    } else if (strcmp(a, "--same-bytes") == 0) {
      same_bytes = 1;
    } else if (i + 1 < argc && strcmp(a, "--tracing") == 0) {
      tracing_mode = argv[++i];
    } else if (i + 1 < argc && strcmp(a, "--threads") == 0) {
      threads = atoi(argv[++i]);
    } else if (i + 1 < argc && strcmp(a, "--only") == 0) {
      const char *k = argv[++i];
      only = strcmp(k, "plain") == 0     ? KIND_PLAIN
             : strcmp(k, "meshlib") == 0 ? KIND_MESHLIB
             : strcmp(k, "fresh") == 0   ? KIND_FRESH
             : strcmp(k, "none") == 0    ? -1
             : strcmp(k, "marked") == 0  ? -4
             : strcmp(k, "pair") == 0    ? -5
                                         : -3;
      if (only == -3)
        usage();
    } else {
      usage();
    }
  }
  if (rounds < 1 || rounds > 64 || threads < 1 || threads > MAX_THREADS - 1 ||
      calls < 1 || (only == -2 && calls / (size_t)rounds < (size_t)threads))
    usage();
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  const char *self = strchr(argv[0], '/') ? argv[0] : "/proc/self/exe";
  server srv;
  server_start(&srv, self, inproc);
  bench *b = calloc(1, sizeof(*b));
  if (!b)
    die("out of memory");
  b->port = srv.port;
  char pin[64];
  snprintf(pin, sizeof(pin), "::127.0.0.1:%d", srv.port);
  b->connect_to = curl_slist_append(NULL, pin);
  b->plain_headers = curl_slist_append(NULL, "x-tenant: acme");
  b->plain_headers = curl_slist_append(b->plain_headers, "x-trace: 1");
  b->plain_headers = curl_slist_append(b->plain_headers, "Accept:");
  if (same_bytes) /* what meshlib adds to every attempt, as Envoy does */
    b->plain_headers =
        curl_slist_append(b->plain_headers, "x-envoy-attempt-count: 1");
  b->mesh = mesh_new(srv.port);

  worker *w0 = &b->w[0];
  int failed = 0;
  if (only != -2) {
    /* One kind of call, on the main thread, for callgrind and strace. */
    worker_init(b, w0, calls);
    worker_warm(w0);
    if (only == -4 || only == -5) {
      w0->failed |= run_marked(w0, calls, only == -4);
    } else if (only >= 0) {
      w0->calls = calls;
      double cps = timed_run(b, (kind)only, calls, 0);
      printf("calls_only_%s_cps %.0f\n", kind_names[only], cps);
    }
    failed = w0->failed;
    worker_fini(w0);
  } else {
    b->threads = threads;
    size_t per_round = calls / (size_t)rounds;
    worker_init(b, w0, per_round);
    worker_warm(w0);
    pthread_barrier_init(&b->start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&b->done, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++) {
      worker *w = &b->w[1 + t];
      worker_init(b, w, per_round / (size_t)threads);
      if (pthread_create(&w->thread, NULL, worker_main, w))
        die("pthread_create");
    }
    series seq[2], conc[2];
    memset(seq, 0, sizeof(seq));
    memset(conc, 0, sizeof(conc));
    for (int k = 0; k < 2; k++) {
      seq[k].lat = calloc(calls, sizeof(double));
      conc[k].lat = calloc(calls, sizeof(double));
      if (!seq[k].lat || !conc[k].lat)
        die("out of memory");
    }
    printf("calls_n %zu\ncalls_rounds %d\ncalls_threads %d\n",
           per_round * (size_t)rounds, rounds, threads);
    for (int r = 0; r < rounds; r++) {
      /* Sequential: interleaved calls, each side's rate from the time
       * its own calls took. With 16 in flight: a block of each side in
       * turn, each side's rate from the wall time of its block (the
       * calls of one side would otherwise queue behind the other's).
       * Which side goes first alternates. */
      w0->failed |= run_interleaved(w0, per_round, (kind)(r % 2));
      for (int k = 0; k < 2; k++) {
        const double *lat = k == KIND_PLAIN ? w0->lat : w0->lat2;
        double sum = 0;
        for (size_t i = 0; i < per_round; i++)
          sum += lat[i];
        seq[k].cps[r] = (double)per_round / (sum / 1e6);
        series_add_lat(&seq[k], lat, per_round);
      }
      for (int j = 0; j < 2; j++) {
        kind k = (kind)((r + j) % 2);
        double cps = timed_run(b, k, per_round, threads);
        series_add(&conc[k], r, cps, &b->w[1], threads);
      }
    }
    report("seq", seq, rounds);
    char mode[16];
    snprintf(mode, sizeof(mode), "c%d", threads);
    report(mode, conc, rounds);
    b->quit = 1;
    pthread_barrier_wait(&b->start);
    for (int t = 0; t < threads; t++) {
      pthread_join(b->w[1 + t].thread, NULL);
      failed |= b->w[1 + t].failed;
    }
    failed |= w0->failed;
    worker_fini(w0);
    for (int k = 0; k < 2; k++) {
      free(seq[k].lat);
      free(conc[k].lat);
    }
    pthread_barrier_destroy(&b->start);
    pthread_barrier_destroy(&b->done);
  }
  if (tracing_mode) {
    meshlib_tracing_stats ts;
    meshlib_tracing_flush(b->mesh, 5000);
    meshlib_tracing_get_stats(b->mesh, &ts);
    printf("tracing_spans_exported %llu\ntracing_spans_dropped %llu\n",
           (unsigned long long)ts.spans_exported,
           (unsigned long long)ts.spans_dropped);
  }
  meshlib_free(b->mesh);
  curl_slist_free_all(b->plain_headers);
  curl_slist_free_all(b->connect_to);
  free(b);
  server_stop(&srv);
  curl_global_cleanup();
  if (failed) {
    fprintf(stderr, "bench_calls: some calls failed\n");
    return 1;
  }
  return 0;
}
