/* SPDX-License-Identifier: MIT */
/* Routing benchmark: load and compile a generated mesh of N
 * VirtualServices, then time decisions for a 50-rule VirtualService whose
 * request matches late (rule 45) and for a host without a VirtualService,
 * at 10, 100 and 1,000 VirtualServices: the cost must not grow with the
 * number of hosts.
 *
 * Usage: bench_route [iterations]   (default 1000000 per run, 7 runs)
 * Output: one "name value" line per figure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/diag.h"
#include "config/load.h"
#include "config/model.h"
#include "meshlib/error.h"
#include "util/regex.h"
#include "route/route.h"
#include "util/mem.h"

#define RUNS 7
#define BIG_RULES 50
#define MATCH_RULE 45

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Rule k of the big VirtualService: prefix, header, regex, a two-way OR,
 * and an AND of method + prefix + header, in turn. */
static void big_rule(ml_buf *b, int k) {
  ml_buf_printf(b, "  - name: rule-%d\n    match:\n", k);
  switch (k % 5) {
  case 0:
    ml_buf_printf(b, "    - uri: {prefix: /p%d/}\n", k);
    break;
  case 1:
    ml_buf_printf(b, "    - headers: {x-tenant: {exact: tenant-%d}}\n", k);
    break;
  case 2:
    ml_buf_printf(b, "    - uri: {regex: '/r%d/[a-z]+/[0-9]+'}\n", k);
    break;
  case 3:
    ml_buf_printf(b,
                  "    - uri: {exact: /e%d}\n"
                  "    - headers: {x-canary: {regex: 'c%d-.*'}}\n",
                  k, k);
    break;
  default:
    ml_buf_printf(b,
                  "    - method: {exact: POST}\n"
                  "      uri: {prefix: /a%d}\n"
                  "      headers: {x-user: {prefix: u%d}}\n",
                  k, k);
    break;
  }
  ml_buf_printf(b,
                "    timeout: 2s\n"
                "    route:\n"
                "    - destination: {host: svc-big, subset: v%d}\n",
                k % 3 + 1);
}

/* |n| VirtualServices of three hosts and three rules each; number n/2 is
 * the big one. */
static char *gen_config(int n, size_t *len, size_t *routes) {
  ml_buf b;
  ml_buf_init(&b, NULL);
  *routes = 0;
  for (int i = 0; i < n; i++) {
    int big = i == n / 2;
    const char *name = big ? "svc-big" : NULL;
    char nm[32];
    if (!name) {
      snprintf(nm, sizeof(nm), "svc-%d", i);
      name = nm;
    }
    ml_buf_printf(&b,
                  "---\n"
                  "apiVersion: networking.istio.io/v1\n"
                  "kind: VirtualService\n"
                  "metadata: {name: %s, namespace: ns-%d}\n"
                  "spec:\n"
                  "  hosts: [%s, %s.alt.example.com, %s.ns-%d.global]\n"
                  "  http:\n",
                  name, i % 20, name, name, name, i % 20);
    if (big) {
      for (int k = 0; k < BIG_RULES; k++)
        big_rule(&b, k);
      *routes += BIG_RULES;
      continue;
    }
    ml_buf_printf(&b,
                  "  - name: canary\n"
                  "    match: [{headers: {x-canary: {exact: 'true'}}}]\n"
                  "    route: [{destination: {host: %s, subset: v2}}]\n"
                  "  - name: api\n"
                  "    match: [{uri: {prefix: /api/}}]\n"
                  "    retries: {attempts: 3, perTryTimeout: 1s}\n"
                  "    route: [{destination: {host: %s, subset: v1}}]\n"
                  "  - name: default\n"
                  "    route:\n"
                  "    - {destination: {host: %s, subset: v1}, weight: 90}\n"
                  "    - {destination: {host: %s, subset: v2}, weight: 10}\n",
                  name, name, name, name);
    *routes += 3;
  }
  if (b.oom) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  *len = b.len;
  return ml_buf_steal(&b);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static volatile int64_t sink;

/* Median over RUNS of the ns per decision of |iters| decisions. */
static double time_decide(const ml_route_table *t, const ml_route_input *in,
                          long iters, int32_t want_index) {
  double runs[RUNS];
  ml_route_result res;
  ml_route_decide(t, in, &res); /* warm up, and check */
  if (res.route_index != want_index) {
    fprintf(stderr, "unexpected route index %d (want %d)\n",
            (int)res.route_index, (int)want_index);
    exit(1);
  }
  for (long i = 0; i < iters / 4; i++) /* caches, predictors, clock */
    ml_route_decide(t, in, &res);
  for (int r = 0; r < RUNS; r++) {
    int64_t acc = 0;
    double t0 = now_ms();
    for (long i = 0; i < iters; i++) {
      ml_route_decide(t, in, &res);
      acc += res.route_index;
    }
    double t1 = now_ms();
    sink += acc;
    runs[r] = (t1 - t0) * 1e6 / (double)iters;
  }
  qsort(runs, RUNS, sizeof(runs[0]), cmp_double);
  return runs[RUNS / 2];
}

static void bench(int n, long iters) {
  size_t len, routes;
  char *text = gen_config(n, &len, &routes);
  ml_config *c = ml_config_new(NULL);
  ml_diags d;
  ml_diags_init(&d, NULL);
  ml_load_opts o = {"cluster.local", 0};
  double t0 = now_ms();
  int rc = ml_config_load_string(c, "bench.yaml", text, len, &o, &d);
  double t1 = now_ms();
  if (rc != MESHLIB_OK || d.errors) {
    const struct meshlib_diag *e = ml_diags_first_error(&d);
    fprintf(stderr, "load failed: %s\n", e ? e->text : meshlib_strerror(rc));
    exit(1);
  }
  if (c->vs_count != (size_t)n) {
    fprintf(stderr, "loaded %zu VirtualServices, want %d\n", c->vs_count, n);
    exit(1);
  }
  ml_route_settings s = {"ns-0", "cluster.local"};
  ml_route_table *t = NULL;
  double t2 = now_ms();
  rc = ml_route_table_build(NULL, c, &s, &t);
  double t3 = now_ms();
  if (rc != MESHLIB_OK) {
    fprintf(stderr, "build failed: %s\n", meshlib_strerror(rc));
    exit(1);
  }

  /* Matches rule 45 (a prefix rule) after 45 misses of every kind. */
  ml_header headers[] = {
      {"accept", "application/json"},
      {"user-agent", "bench/1.0"},
      {"x-request-id", "6f1c1a4e-2f3b-4c1d-9a5e-1c2d3e4f5a6b"},
      {"x-tenant", "tenant-0"},
      {"x-user", "guest"},
      {"x-canary", "no"},
      {"traceparent",
       "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
      {"content-type", "application/json"},
  };
  char host[64];
  snprintf(host, sizeof(host), "svc-big.ns-%d", (n / 2) % 20);
  ml_route_input in = {0};
  in.method = "GET";
  in.scheme = "http";
  in.authority = host;
  in.host = host;
  in.port = 80;
  in.path = "/p45/items/42";
  in.query = "page=2&size=50";
  in.headers = headers;
  in.header_count = sizeof(headers) / sizeof(headers[0]);
  double big_ns = time_decide(t, &in, iters, MATCH_RULE);

  ml_route_input miss = in;
  miss.host = "unknown-service.ns-0.svc.cluster.local";
  miss.authority = miss.host;
  double novs_ns = time_decide(t, &miss, iters, -1);

  size_t arena = c->arena.reserved;
  size_t index = ml_route_table_bytes(t);
  printf("route_vs_count_%dvs %d\n", n, n);
  printf("route_http_routes_%dvs %zu\n", n, routes);
  printf("route_config_yaml_bytes_%dvs %zu\n", n, len);
  printf("route_load_ms_%dvs %.2f\n", n, t1 - t0);
  printf("route_compile_ms_%dvs %.2f\n", n, t3 - t2);
  printf("route_config_arena_bytes_%dvs %zu\n", n, arena);
  printf("route_index_bytes_%dvs %zu\n", n, index);
  printf("route_bytes_per_route_%dvs %.1f\n", n,
         (double)(arena + index) / (double)routes);
  printf("route_decide_50rules_%dvs_ns %.1f\n", n, big_ns);
  printf("route_decide_novs_%dvs_ns %.1f\n", n, novs_ns);
  fflush(stdout);

  ml_route_table_free(t);
  ml_diags_free(&d);
  ml_config_free(c);
  ml_free(NULL, text);
}

/* One PCRE2 call that fails, the cost a regex condition adds when its
 * literal-prefix prefilter cannot rule the subject out. */
static void bench_regex(long iters) {
  ml_regex *list = NULL, *re = NULL;
  char err[256];
  if (ml_regex_compile(NULL, "[/]r7/[a-z]+/[0-9]+", ML_REGEX_FULL, &list, &re,
                       err, sizeof(err))) {
    fprintf(stderr, "regex: %s\n", err);
    exit(1);
  }
  const char *s = "/p45/items/42";
  size_t n = strlen(s);
  double runs[RUNS];
  for (int r = 0; r < RUNS; r++) {
    int64_t acc = 0;
    double t0 = now_ms();
    for (long i = 0; i < iters; i++)
      acc += ml_regex_match(re, s, n);
    double t1 = now_ms();
    sink += acc;
    runs[r] = (t1 - t0) * 1e6 / (double)iters;
  }
  qsort(runs, RUNS, sizeof(runs[0]), cmp_double);
  printf("route_regex_miss_call_ns %.1f\n", runs[RUNS / 2]);
  ml_regex_free_list(NULL, list);
}

int main(int argc, char **argv) {
  long iters = 1000000;
  if (argc > 1) {
    iters = strtol(argv[1], NULL, 10);
    if (iters <= 0) {
      fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
      return 2;
    }
  }
  const int sizes[] = {10, 100, 1000};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    bench(sizes[i], iters);
  bench_regex(iters);
  return 0;
}
