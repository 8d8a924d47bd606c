/* SPDX-License-Identifier: MIT */
/* Figures of the config lifecycle (docs/config-lifecycle.md):
 *
 *  1. Time from a change to the first call routed on it: a file written
 *     (rename) under inotify with the default quiet period and with none,
 *     under polling; a push to a control endpoint with long-poll.
 *  2. The cost of a 1,000-VirtualService config: its apply time, and the
 *     calls per second of threads calling through mock upstreams while it
 *     is applied again and again, against before.
 *
 *   bench_reload [rounds]     (default 40)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h> /* unlink, rmdir */

#include <meshlib/meshlib.h>
#include <meshlib/testing.h>

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us) {
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static double pct_ms(int64_t *v, int n, int p) {
  qsort(v, (size_t)n, sizeof(*v), cmp_i64);
  int k = (n * p + 99) / 100;
  return (double)v[k < 1 ? 0 : k - 1] / 1000.0;
}

/* A VirtualService for host svc sending everything to |subset|, named
 * |name|. */
static const char *vs(char *buf, size_t cap, const char *name, int round) {
  snprintf(buf, cap,
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: %s-%d, namespace: default}\n"
           "spec:\n"
           "  hosts: [svc]\n"
           "  http: [{route: [{destination: {host: svc}}]}]\n",
           name, round);
  return buf;
}

/* Route a request to svc until its VirtualService is |want|. */
static void wait_routed(meshlib *m, const char *want) {
  for (;;) {
    meshlib_request *r;
    const meshlib_decision *d;
    int hit = 0;
    if (meshlib_request_new(&r, m, "GET", "http://svc/") == MESHLIB_OK) {
      if (meshlib_request_route(r, &d) == MESHLIB_OK) {
        const char *n = meshlib_decision_vs_name(d);
        hit = n && strcmp(n, want) == 0;
      }
      meshlib_request_free(r);
    }
    if (hit)
      return;
  }
}

static int write_rename(const char *path, const char *text) {
  char tmp[512];
  snprintf(tmp, sizeof(tmp), "%s.tmp~", path);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  fputs(text, f);
  fclose(f);
  return rename(tmp, path);
}

static void file_latency(const char *label, int mode, int64_t debounce,
                         int64_t poll, int rounds) {
  char dir[] = "/tmp/meshlib-bench-XXXXXX", path[256], buf[1024], want[32];
  if (!mkdtemp(dir))
    return;
  snprintf(path, sizeof(path), "%s/vs.yaml", dir);
  write_rename(path, vs(buf, sizeof(buf), "f", 0));
  meshlib_options *o;
  meshlib *m;
  meshlib_options_new(&o);
  meshlib_options_add_config_path(o, path);
  meshlib_options_set_config_watch(o, mode);
  meshlib_options_set_config_debounce_ms(o, debounce);
  meshlib_options_set_config_poll_interval_ms(o, poll);
  if (meshlib_new(&m, o) != MESHLIB_OK) {
    fprintf(stderr, "%s\n", meshlib_options_errmsg(o));
    exit(2);
  }
  meshlib_options_free(o);
  int64_t *t = calloc((size_t)rounds, sizeof(*t));
  for (int i = 1; i <= rounds; i++) {
    snprintf(want, sizeof(want), "f-%d", i);
    vs(buf, sizeof(buf), "f", i);
    sleep_us((i * 37 % 100) * 1000); /* changes at any phase of a poll */
    int64_t t0 = now_us();
    write_rename(path, buf);
    wait_routed(m, want);
    t[i - 1] = now_us() - t0;
  }
  printf("  %-44s p50 %7.2f ms  p99 %7.2f ms  (%d changes)\n", label,
         pct_ms(t, rounds, 50), pct_ms(t, rounds, 99), rounds);
  free(t);
  meshlib_free(m);
  unlink(path);
  rmdir(dir);
}

static void push_latency(const char *label, int64_t long_poll, int64_t poll,
                         int rounds) {
  char buf[1024], want[32], url[64];
  meshlib_config_server *s;
  meshlib_config_server_new(&s, 0);
  vs(buf, sizeof(buf), "p", 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/",
           meshlib_config_server_port(s));
  meshlib_options *o;
  meshlib *m;
  meshlib_options_new(&o);
  meshlib_options_add_config_url(o, url);
  meshlib_options_set_control_long_poll_ms(o, long_poll);
  meshlib_options_set_config_poll_interval_ms(o, poll);
  if (meshlib_new(&m, o) != MESHLIB_OK)
    exit(2);
  meshlib_options_free(o);
  sleep_us(50000); /* the first held request is out */
  int64_t *t = calloc((size_t)rounds, sizeof(*t));
  for (int i = 1; i <= rounds; i++) {
    snprintf(want, sizeof(want), "p-%d", i);
    vs(buf, sizeof(buf), "p", i);
    sleep_us((i * 37 % 100) * 1000); /* changes at any phase of a poll */
    int64_t t0 = now_us();
    meshlib_config_server_set(s, buf, strlen(buf));
    wait_routed(m, want);
    t[i - 1] = now_us() - t0;
  }
  printf("  %-44s p50 %7.2f ms  p99 %7.2f ms  (%d pushes)\n", label,
         pct_ms(t, rounds, 50), pct_ms(t, rounds, 99), rounds);
  free(t);
  meshlib_free(m);
  meshlib_config_server_free(s);
}

/* 1,000 VirtualServices (hosts s0..s999) plus the service the callers
 * use; |tag| changes one rule so that each apply differs. */
static char *big_config(int port, int tag) {
  size_t cap = 1100 * 400 + 4096, n = 0;
  char *b = malloc(cap);
  n += (size_t)snprintf(
      b + n, cap - n,
      "apiVersion: networking.istio.io/v1\n"
      "kind: ServiceEntry\n"
      "metadata: {name: svc, namespace: default}\n"
      "spec:\n"
      "  hosts: [svc.default.svc.cluster.local]\n"
      "  resolution: STATIC\n"
      "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
      "  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]\n",
      port);
  for (int i = 0; i < 1000; i++)
    n += (size_t)snprintf(
        b + n, cap - n,
        "---\n"
        "apiVersion: networking.istio.io/v1\n"
        "kind: VirtualService\n"
        "metadata: {name: vs%d, namespace: default}\n"
        "spec:\n"
        "  hosts: [s%d]\n"
        "  http:\n"
        "  - match: [{uri: {prefix: /v%d}}]\n"
        "    route: [{destination: {host: s%d, subset: a}, weight: 90}, "
        "{destination: {host: s%d, subset: b}, weight: 10}]\n"
        "  - route: [{destination: {host: s%d}}]\n",
        i, i, tag, i, i, i);
  return b;
}

typedef struct load {
  meshlib *mesh;
  atomic_int stop;
  atomic_long calls, failed;
} load;

static void *caller(void *p) {
  load *l = p;
  while (!atomic_load(&l->stop)) {
    meshlib_request *r;
    if (meshlib_request_new(&r, l->mesh, "GET", "http://svc/x") != MESHLIB_OK)
      continue;
    if (meshlib_request_perform(r) != MESHLIB_OK ||
        meshlib_response_status(r) != 200)
      atomic_fetch_add(&l->failed, 1);
    atomic_fetch_add(&l->calls, 1);
    meshlib_request_free(r);
  }
  return NULL;
}

static void big_swap(void) {
  meshlib_mock *mock;
  meshlib_mock_new(&mock);
  int port = meshlib_mock_port(mock);
  char *cfg[2] = {big_config(port, 1), big_config(port, 2)};
  meshlib_options *o;
  static load l;
  meshlib_options_new(&o);
  meshlib_options_add_config_string(o, "big.yaml", cfg[0], strlen(cfg[0]));
  if (meshlib_new(&l.mesh, o) != MESHLIB_OK)
    exit(2);
  meshlib_options_free(o);
  enum { CALLERS = 2 };
  pthread_t t[CALLERS];
  for (int i = 0; i < CALLERS; i++)
    pthread_create(&t[i], NULL, caller, &l);
  sleep_us(300000); /* warm: connections open */

  long c0 = atomic_load(&l.calls);
  int64_t t0 = now_us();
  sleep_us(2000000);
  double before =
      (double)(atomic_load(&l.calls) - c0) * 1e6 / (double)(now_us() - t0);

  /* Apply 1,000-VirtualService configs back to back for 2 s. */
  c0 = atomic_load(&l.calls);
  t0 = now_us();
  int applies = 0;
  int64_t apply_us = 0;
  while (now_us() - t0 < 2000000) {
    const char *y = cfg[applies % 2];
    int64_t a0 = now_us();
    meshlib_config *c;
    meshlib_config_new(&c, l.mesh);
    meshlib_config_add_string(c, "big.yaml", y, strlen(y));
    if (meshlib_config_apply(c) != MESHLIB_OK)
      exit(2);
    meshlib_config_free(c);
    apply_us += now_us() - a0;
    applies++;
  }
  double during =
      (double)(atomic_load(&l.calls) - c0) * 1e6 / (double)(now_us() - t0);
  /* One apply every second, as a busy control plane might push. */
  c0 = atomic_load(&l.calls);
  t0 = now_us();
  for (int i = 0; i < 2; i++) {
    const char *y = cfg[i % 2];
    meshlib_config *c;
    meshlib_config_new(&c, l.mesh);
    meshlib_config_add_string(c, "big.yaml", y, strlen(y));
    meshlib_config_apply(c);
    meshlib_config_free(c);
    sleep_us(1000000);
  }
  double per_second =
      (double)(atomic_load(&l.calls) - c0) * 1e6 / (double)(now_us() - t0);
  atomic_store(&l.stop, 1);
  for (int i = 0; i < CALLERS; i++)
    pthread_join(t[i], NULL);
  printf("  1,000-VirtualService config (%zu KiB of YAML): apply (parse, "
         "validate, compile, swap) %.1f ms on average (%d applies)\n",
         strlen(cfg[0]) / 1024, (double)apply_us / 1000.0 / applies, applies);
  printf("  calls/s, %d threads through a mock upstream:\n"
         "    before                        %9.0f\n"
         "    while applying back to back   %9.0f  (%.0f%%)\n"
         "    one apply per second          %9.0f  (%.0f%%)\n"
         "  failed calls: %ld\n",
         CALLERS, before, during, 100.0 * during / before, per_second,
         100.0 * per_second / before, atomic_load(&l.failed));
  meshlib_free(l.mesh);
  meshlib_mock_free(mock);
  free(cfg[0]);
  free(cfg[1]);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 40;
  if (rounds < 1)
    rounds = 40;
  printf("Change to the first call routed on it:\n");
  file_latency("file, inotify, quiet period 100 ms (default)",
               MESHLIB_WATCH_AUTO, 100, 1000, rounds);
  file_latency("file, inotify, no quiet period", MESHLIB_WATCH_AUTO, 0, 1000,
               rounds);
  file_latency("file, polling every 100 ms", MESHLIB_WATCH_POLL, 100, 100,
               rounds);
  push_latency("endpoint push, long-poll", 30000, 600000, rounds);
  push_latency("endpoint push, polling every 100 ms", 0, 100, rounds);
  printf("\nCost of a big config while calls run:\n");
  big_swap();
  return 0;
}
