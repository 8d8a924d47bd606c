/* SPDX-License-Identifier: MIT */
/* meshctl call: send requests through meshlib as an application would,
 * from one or several threads sharing one mesh, and show what each call
 * got (the body like curl, or one JSON object per call). */
#include "meshctl.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void usage_call(FILE *f) {
  fputs(
      "Usage: meshctl call [-f FILE|DIR]... [options] URL\n"
      "\n"
      "Send COUNT requests for URL through meshlib, CONCURRENCY at a time\n"
      "from as many threads sharing one mesh: each call is routed by the\n"
      "VirtualService, balanced over the endpoints (ServiceEntry, or the\n"
      "host itself) by the DestinationRule, and sent over libcurl. A URL\n"
      "without a scheme is taken as http://.\n"
      "\n"
      "Options:\n"
      "  -f, --filename PATH       a YAML/JSON file, or a directory of\n"
      "                            them; repeatable\n"
      "      --namespace NS        namespace of the calling workload\n"
      "                            (default \"default\")\n"
      "      --domain-suffix S     cluster domain (default \"cluster.local\")\n"
      "  -X, --request METHOD      HTTP method (default GET, POST with -d)\n"
      "  -H, --header 'N: V'       a request header; repeatable\n"
      "  -d, --data BODY           a request body; @FILE reads it from FILE\n"
      "  -n, --count COUNT         number of calls (default 1)\n"
      "  -c, --concurrency N       calls in flight at once, one thread each\n"
      "                            (default 1)\n"
      "      --timeout MS          the application's deadline per call\n"
      "                            (default none; a route timeout applies)\n"
      "      --seed N              seed meshlib's weighted and random picks\n"
      "                            (repeatable runs with -c 1)\n"
      "      --json                one JSON object per call and line:\n"
      "                            status, upstream, attempts, duration_ms,\n"
      "                            response_flags, route, subset, cluster,\n"
      "                            details (also: -o json)\n"
      "  -v, --verbose             one line per call on stderr\n"
      "      --metrics-out FILE    write the mesh's metrics at the end of\n"
      "                            the run to FILE (Prometheus text format)\n"
      "  -h, --help                show this help\n"
      "\n"
      "Without --json the response bodies are printed, as curl does. With\n"
      "COUNT > 1 a summary line (calls by status, by subset, by upstream,\n"
      "latency) goes to stderr.\n"
      "\n"
      "Exit status: 0 every call got a response from meshlib, whatever its\n"
      "status (a 503 UF from meshlib is a response); 1 some call got none\n"
      "(an API error, on stderr); 2 bad input (URL, header, options, or a\n"
      "config that does not load).\n",
      f);
}

typedef struct call_args {
  common_args c;
  strvec headers;
  const char *method;
  const char *url;
  const char *data;
  const char *metrics_out;
  const char *count_text;
  const char *concurrency_text;
  const char *timeout_text;
  const char *seed_text;
  int verbose;
} call_args;

static int set_url(void *args, const char *arg) {
  call_args *a = args;
  if (a->url) {
    fprintf(stderr, "meshctl call: more than one URL (\"%s\", \"%s\")\n",
            a->url, arg);
    return MESHCTL_USAGE;
  }
  a->url = arg;
  return 0;
}

static int call_option(void *args, int argc, char **argv, int *i) {
  call_args *a = args;
  const char *v = NULL;
  int r;
  if (opt_flag(argv[*i], "-v", "--verbose")) {
    a->verbose = 1;
    return 1;
  }
  if ((r = opt_value(argc, argv, i, "-H", "--header", &v)) != 0)
    return r < 0 || strvec_push(&a->headers, v) < 0 ? -1 : 1;
  struct {
    const char *short_name, *long_name;
    const char **slot;
  } opts[] = {{"-X", "--request", &a->method},
              {"-d", "--data", &a->data},
              {"-n", "--count", &a->count_text},
              {"-c", "--concurrency", &a->concurrency_text},
              {NULL, "--timeout", &a->timeout_text},
              {NULL, "--seed", &a->seed_text},
              {NULL, "--metrics-out", &a->metrics_out}};
  for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
    r = opt_value(argc, argv, i, opts[k].short_name, opts[k].long_name, &v);
    if (r > 0)
      *opts[k].slot = v;
    if (r != 0)
      return r;
  }
  return 0;
}

/* A decimal number in [min, max] from an option's text: 0, or -1 after
 * saying why not. */
static int parse_number(const char *opt, const char *text, uint64_t min,
                        uint64_t max, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
    fprintf(stderr,
            "meshctl call: bad %s \"%s\" (expected a number from %" PRIu64
            " to %" PRIu64 ")\n",
            opt, text, min, max);
    return -1;
  }
  *out = (uint64_t)v;
  return 0;
}

/* One request header, split once for all calls. */
typedef struct header {
  char *name;
  const char *value; /* borrowed from argv */
} header;

/* What one call got, kept for the summary. */
typedef struct call_result {
  int got; /* meshlib_request_perform() returned MESHLIB_OK */
  int32_t status;
  uint32_t flags;
  char *upstream; /* NULL when no endpoint was reached */
  char *subset;
  char *route;
  int64_t duration_us;
} call_result;

/* Shared by the worker threads. Everything but |next| and the output is
 * written before the threads start; each result by its own thread. */
typedef struct call_run {
  const call_args *a;
  meshlib *mesh;
  const char *url;
  const char *method;
  header *headers;
  size_t header_count;
  const char *body;
  size_t body_len;
  int64_t timeout_ms;
  int want_route; /* --json or --metrics-out: name the route */
  size_t count;
  _Atomic size_t next;
  call_result *results;
} call_run;

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

/* The subset out of Envoy's cluster name "outbound|80|v1|host": NULL when
 * the field is empty or the name is not of that shape. */
static char *subset_of_cluster(const char *cluster) {
  if (!cluster)
    return NULL;
  const char *p = strchr(cluster, '|');
  p = p ? strchr(p + 1, '|') : NULL;
  if (!p)
    return NULL;
  const char *end = strchr(p + 1, '|');
  if (!end || end == p + 1)
    return NULL;
  size_t n = (size_t)(end - (p + 1));
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, p + 1, n);
    s[n] = '\0';
  }
  return s;
}

static void print_json(size_t i, const call_result *res, const char *cluster,
                       uint32_t attempts, const char *details) {
  char flags[128];
  meshlib_response_flags_str(res->flags, flags, sizeof(flags));
  printf("{\"call\":%zu,\"status\":%" PRId32 ",\"upstream\":", i + 1,
         res->status);
  json_str(stdout, res->upstream);
  printf(",\"attempts\":%" PRIu32 ",\"duration_ms\":%.3f,"
         "\"response_flags\":",
         attempts, (double)res->duration_us / 1000.0);
  json_str(stdout, flags);
  fputs(",\"route\":", stdout);
  json_str(stdout, res->route);
  fputs(",\"subset\":", stdout);
  json_str(stdout, res->subset);
  fputs(",\"cluster\":", stdout);
  json_str(stdout, cluster);
  fputs(",\"details\":", stdout);
  json_str(stdout, details && *details ? details : NULL);
  fputs("}\n", stdout);
}

static void do_call(call_run *run, size_t i) {
  const call_args *a = run->a;
  call_result *res = &run->results[i];
  meshlib_request *r = NULL;
  int rc = meshlib_request_new(&r, run->mesh, run->method, run->url);
  for (size_t k = 0; rc == MESHLIB_OK && k < run->header_count; k++)
    rc = meshlib_request_add_header(r, run->headers[k].name,
                                    run->headers[k].value);
  if (rc == MESHLIB_OK && run->body)
    rc = meshlib_request_set_body(r, run->body, run->body_len);
  if (rc == MESHLIB_OK && run->timeout_ms > 0)
    rc = meshlib_request_set_timeout_ms(r, run->timeout_ms);
  if (rc == MESHLIB_OK)
    rc = meshlib_request_perform(r);
  if (rc != MESHLIB_OK) {
    const char *msg = r ? meshlib_request_errmsg(r) : "";
    fprintf(stderr, "meshctl call: call %zu: %s\n", i + 1,
            msg && *msg ? msg : meshlib_strerror(rc));
    meshlib_request_free(r);
    return;
  }
  res->got = 1;
  res->status = meshlib_response_status(r);
  res->flags = meshlib_response_flags(r);
  res->upstream = dup_or_null(meshlib_response_upstream(r));
  res->duration_us = meshlib_response_duration_us(r);
  uint32_t attempts = meshlib_response_attempts(r);
  char *cluster = dup_or_null(meshlib_response_cluster(r));
  char *details = dup_or_null(meshlib_response_details(r));
  res->subset = subset_of_cluster(cluster);

  if (!a->c.json) {
    size_t len = 0;
    const char *body = meshlib_response_body(r, &len);
    flockfile(stdout);
    if (body && len)
      fwrite(body, 1, len, stdout);
    fflush(stdout);
    funlockfile(stdout);
  }
  /* The route's name is on the decision the call was made with. */
  if (run->want_route) {
    const meshlib_decision *d = meshlib_response_decision(r);
    if (d)
      res->route = dup_or_null(meshlib_decision_route_name(d));
  }
  if (a->c.json) {
    flockfile(stdout);
    print_json(i, res, cluster, attempts, details);
    fflush(stdout);
    funlockfile(stdout);
  }
  if (a->verbose) {
    char flags[128];
    meshlib_response_flags_str(res->flags, flags, sizeof(flags));
    fprintf(stderr,
            "meshctl call: %zu: %" PRId32 " %s from %s (%s), %" PRIu32
            " attempt(s), %.3f ms%s%s\n",
            i + 1, res->status, flags,
            res->upstream ? res->upstream : "no endpoint",
            cluster ? cluster : "no cluster", attempts,
            (double)res->duration_us / 1000.0, details && *details ? ": " : "",
            details && *details ? details : "");
  }
  free(cluster);
  free(details);
  meshlib_request_free(r);
}

static void *worker(void *p) {
  call_run *run = p;
  for (;;) {
    size_t i = atomic_fetch_add_explicit(&run->next, 1, memory_order_relaxed);
    if (i >= run->count)
      break;
    do_call(run, i);
  }
  return NULL;
}

/* A count per distinct text, for the summary. */
typedef struct tally {
  struct tally_item {
    char *key; /* owned */
    size_t n;
  } * items;
  size_t count, cap;
} tally;

static int tally_add(tally *t, const char *key) {
  for (size_t i = 0; i < t->count; i++)
    if (strcmp(t->items[i].key, key) == 0) {
      t->items[i].n++;
      return 0;
    }
  if (t->count == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    struct tally_item *items = realloc(t->items, cap * sizeof(*items));
    if (!items)
      return -1;
    t->items = items;
    t->cap = cap;
  }
  if (!(t->items[t->count].key = strdup(key)))
    return -1;
  t->items[t->count].n = 1;
  t->count++;
  return 0;
}

static void tally_free(tally *t) {
  for (size_t i = 0; i < t->count; i++)
    free(t->items[i].key);
  free(t->items);
}

static int tally_cmp(const void *x, const void *y) {
  const struct tally_item *a = x, *b = y;
  return strcmp(a->key, b->key);
}

static void tally_print(FILE *f, const char *sep, const tally *t) {
  qsort(t->items, t->count, sizeof(*t->items), tally_cmp);
  for (size_t i = 0; i < t->count; i++)
    fprintf(f, "%s%s=%zu", i ? sep : "", t->items[i].key, t->items[i].n);
}

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return (a > b) - (a < b);
}

/* Nearest-rank percentile |p| of |n| sorted values. */
static double percentile_ms(const int64_t *v, size_t n, unsigned p) {
  if (!n)
    return 0.0;
  size_t rank = (n * p + 99) / 100;
  if (rank == 0)
    rank = 1;
  return (double)v[rank - 1] / 1000.0;
}

typedef struct summary {
  size_t calls, responses;
  double wall_s;
  tally status, upstream, subset, route, flags;
  int64_t *durations;
  double p50_ms, p90_ms, p99_ms;
} summary;

static void summary_free(summary *s) {
  tally_free(&s->status);
  tally_free(&s->upstream);
  tally_free(&s->subset);
  tally_free(&s->route);
  tally_free(&s->flags);
  free(s->durations);
}

static int summarize(const call_run *run, double wall_s, summary *s) {
  memset(s, 0, sizeof(*s));
  s->calls = run->count;
  s->wall_s = wall_s;
  s->durations = calloc(run->count, sizeof(*s->durations));
  if (!s->durations)
    return -1;
  for (size_t i = 0; i < run->count; i++) {
    const call_result *res = &run->results[i];
    if (!res->got)
      continue;
    char status[16], flags[128];
    snprintf(status, sizeof(status), "%" PRId32, res->status);
    meshlib_response_flags_str(res->flags, flags, sizeof(flags));
    s->durations[s->responses++] = res->duration_us;
    if (tally_add(&s->status, status) < 0 ||
        tally_add(&s->upstream, res->upstream ? res->upstream : "none") < 0 ||
        tally_add(&s->subset, res->subset ? res->subset : "none") < 0 ||
        tally_add(&s->route, res->route ? res->route : "none") < 0 ||
        tally_add(&s->flags, flags) < 0)
      return -1;
  }
  qsort(s->durations, s->responses, sizeof(*s->durations), cmp_i64);
  s->p50_ms = percentile_ms(s->durations, s->responses, 50);
  s->p90_ms = percentile_ms(s->durations, s->responses, 90);
  s->p99_ms = percentile_ms(s->durations, s->responses, 99);
  return 0;
}

static void print_summary_line(summary *s) {
  fprintf(stderr, "meshctl call: %zu calls, %zu responses in %.3f s", s->calls,
          s->responses, s->wall_s);
  if (s->responses) {
    fputs("; status ", stderr);
    tally_print(stderr, " ", &s->status);
    fputs("; flags ", stderr);
    tally_print(stderr, " ", &s->flags);
    fputs("; subset ", stderr);
    tally_print(stderr, " ", &s->subset);
    fputs("; upstream ", stderr);
    tally_print(stderr, " ", &s->upstream);
    fprintf(stderr, "; p50 %.3f ms, p99 %.3f ms", s->p50_ms, s->p99_ms);
  }
  fputc('\n', stderr);
}

/* --metrics-out: the mesh's metrics in the Prometheus text format, as a
 * scrape of the admin listener's /metrics would return them at the end
 * of the run, after a comment that sums the run up. */
static int write_metrics(const char *path, summary *s, const call_run *run) {
  char *text = NULL;
  size_t len = 0;
  int rc = meshlib_metrics_render(run->mesh, &text, &len);
  if (rc != MESHLIB_OK) {
    fprintf(stderr, "meshctl call: cannot render the metrics: %s\n",
            meshlib_strerror(rc));
    return -1;
  }
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "meshctl call: cannot write \"%s\": %s\n", path,
            strerror(errno));
    meshlib_free_str(run->mesh, text);
    return -1;
  }
  fprintf(f,
          "# meshctl call %s %s: %zu calls, %zu responses in %.3f s; "
          "p50 %.3f ms, p90 %.3f ms, p99 %.3f ms\n",
          run->method, run->url, s->calls, s->responses, s->wall_s, s->p50_ms,
          s->p90_ms, s->p99_ms);
  fwrite(text, 1, len, f);
  meshlib_free_str(run->mesh, text);
  if (fclose(f) != 0) {
    fprintf(stderr, "meshctl call: cannot write \"%s\": %s\n", path,
            strerror(errno));
    return -1;
  }
  return 0;
}

static int build_mesh(const call_args *a, uint64_t seed, int have_seed,
                      meshlib **out) {
  meshlib_options *o = NULL;
  int rc = meshlib_options_new(&o);
  if (rc != MESHLIB_OK)
    goto fail;
  if ((rc = apply_common_args(o, &a->c)) != MESHLIB_OK)
    goto fail;
  if (have_seed &&
      (rc = meshlib_options_set_random_seed(o, seed)) != MESHLIB_OK)
    goto fail;
  return finish_mesh("call", o, &a->c, out);
fail:
  options_error("call", o, rc);
  meshlib_options_free(o);
  return MESHCTL_USAGE;
}

/* "Name: value" into run->headers; 0, or -1 after saying why not. */
static int split_headers(const call_args *a, call_run *run) {
  run->headers = calloc(a->headers.count + 1, sizeof(*run->headers));
  if (!run->headers)
    return -1;
  for (size_t i = 0; i < a->headers.count; i++) {
    const char *value;
    char *name = split_header("call", a->headers.items[i], &value);
    if (!name)
      return -1;
    run->headers[run->header_count].name = name;
    run->headers[run->header_count].value = value;
    run->header_count++;
  }
  return 0;
}

/* -d @FILE: the whole file; 0, or -1 after saying why not. */
static int read_file(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "meshctl call: cannot read \"%s\": %s\n", path,
            strerror(errno));
    return -1;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n < cap)
      break;
    char *bigger = realloc(buf, cap * 2);
    if (!bigger) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = bigger;
    cap *= 2;
  }
  int err = ferror(f);
  fclose(f);
  if (!buf || err) {
    fprintf(stderr, "meshctl call: cannot read \"%s\"\n", path);
    free(buf);
    return -1;
  }
  *out = buf;
  *len = n;
  return 0;
}

/* An HTTP method is a token (RFC 9110). */
static int valid_method(const char *m) {
  if (!*m)
    return 0;
  for (const char *p = m; *p; p++) {
    char c = *p;
    int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
             (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
    if (!ok)
      return 0;
  }
  return 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_calls(const call_args *a) {
  uint64_t count = 1, concurrency = 1, timeout_ms = 0, seed = 0;
  if ((a->count_text &&
       parse_number("count", a->count_text, 1, 1000000, &count) < 0) ||
      (a->concurrency_text && parse_number("concurrency", a->concurrency_text,
                                           1, 1024, &concurrency) < 0) ||
      (a->timeout_text && parse_number("timeout", a->timeout_text, 1, INT64_MAX,
                                       &timeout_ms) < 0) ||
      (a->seed_text &&
       parse_number("seed", a->seed_text, 0, UINT64_MAX, &seed) < 0))
    return MESHCTL_USAGE;
  if (concurrency > count)
    concurrency = count;
  const char *method = a->method ? a->method : a->data ? "POST" : "GET";
  if (!valid_method(method)) {
    fprintf(stderr,
            "meshctl call: bad method \"%s\" (expected a token such as GET "
            "or POST)\n",
            method);
    return MESHCTL_USAGE;
  }

  call_run run = {0};
  char *url = NULL, *file_body = NULL;
  meshlib_request *probe = NULL;
  pthread_t *threads = NULL;
  size_t started = 0;
  int code = MESHCTL_USAGE;
  run.a = a;
  run.method = method;
  run.count = (size_t)count;
  run.timeout_ms = (int64_t)timeout_ms;
  run.want_route = a->c.json || a->metrics_out;
  atomic_init(&run.next, 0);

  /* "myapp/x" or "myapp:8080" is a host as curl takes it: http://. */
  if (strstr(a->url, "://")) {
    url = strdup(a->url);
  } else {
    size_t n = strlen(a->url) + sizeof("http://");
    url = malloc(n);
    if (url)
      snprintf(url, n, "http://%s", a->url);
  }
  if (!url || split_headers(a, &run) < 0)
    goto out;
  run.url = url;
  if (a->data && a->data[0] == '@') {
    if (read_file(a->data + 1, &file_body, &run.body_len) < 0)
      goto out;
    run.body = file_body;
  } else if (a->data) {
    run.body = a->data;
    run.body_len = strlen(a->data);
  }
  if ((code = build_mesh(a, seed, a->seed_text != NULL, &run.mesh)) != 0)
    goto out;
  code = MESHCTL_USAGE;

  /* Bad input is found once, before any call, so that it is exit status
   * 2 rather than COUNT failed calls. */
  int rc = meshlib_request_new(&probe, run.mesh, method, url);
  if (rc != MESHLIB_OK) {
    fprintf(stderr, "meshctl call: bad URL \"%s\": %s\n", a->url,
            meshlib_strerror(rc));
    goto out;
  }
  for (size_t k = 0; k < run.header_count; k++) {
    rc = meshlib_request_add_header(probe, run.headers[k].name,
                                    run.headers[k].value);
    if (rc != MESHLIB_OK) {
      fprintf(stderr, "meshctl call: bad header \"%s\": %s\n",
              a->headers.items[k], meshlib_request_errmsg(probe));
      goto out;
    }
  }

  run.results = calloc(run.count, sizeof(*run.results));
  threads = calloc((size_t)concurrency, sizeof(*threads));
  if (!run.results || !threads) {
    fprintf(stderr, "meshctl call: out of memory\n");
    goto out;
  }
  double t0 = now_s();
  if (concurrency == 1) {
    worker(&run);
  } else {
    for (; started < concurrency; started++)
      if (pthread_create(&threads[started], NULL, worker, &run) != 0) {
        fprintf(stderr, "meshctl call: cannot start thread %zu\n", started + 1);
        break;
      }
    if (started == 0)
      worker(&run);
    for (size_t k = 0; k < started; k++)
      pthread_join(threads[k], NULL);
  }
  double wall = now_s() - t0;

  summary s;
  if (summarize(&run, wall, &s) < 0) {
    fprintf(stderr, "meshctl call: out of memory\n");
    summary_free(&s);
    code = MESHCTL_CALL_FAILED;
    goto out;
  }
  if (run.count > 1)
    print_summary_line(&s);
  code = s.responses == s.calls ? MESHCTL_OK : MESHCTL_CALL_FAILED;
  if (a->metrics_out && write_metrics(a->metrics_out, &s, &run) < 0)
    code = MESHCTL_CALL_FAILED;
  summary_free(&s);

out:
  if (run.results)
    for (size_t i = 0; i < run.count; i++) {
      free(run.results[i].upstream);
      free(run.results[i].subset);
      free(run.results[i].route);
    }
  free(run.results);
  free(threads);
  if (run.headers)
    for (size_t k = 0; k < run.header_count; k++)
      free(run.headers[k].name);
  free(run.headers);
  free(file_body);
  free(url);
  meshlib_request_free(probe);
  meshlib_free(run.mesh);
  return code;
}

int cmd_call(int argc, char **argv) {
  static const char *const text[] = {"text", NULL};
  call_args a = {0};
  const cmd_parser p = {.name = "call",
                        .usage = usage_call,
                        .text_formats = text,
                        .positional = set_url,
                        .option = call_option,
                        .args = &a,
                        .command_first = 1};
  int code = parse_args(&p, argc, argv, &a.c);
  if (code == 0 && !a.url) {
    fprintf(stderr, "meshctl call: no URL given\n"
                    "Run `meshctl call --help` for usage.\n");
    code = MESHCTL_USAGE;
  }
  if (code == 0)
    code = run_calls(&a);
  else if (code < 0)
    code = MESHCTL_OK; /* --help */
  common_args_free(&a.c);
  strvec_free(&a.headers);
  return code;
}
