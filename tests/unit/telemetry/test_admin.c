/* SPDX-License-Identifier: MIT */
/* The admin listener over real HTTP (libcurl): every endpoint, its
 * content types, JSON that parses, the state it shows, and how it fails
 * to start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "prom_check.h"

typedef struct reply {
  long status;
  char *body;
  size_t len;
  char type[128];
} reply;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  reply *r = ud;
  char *b = realloc(r->body, r->len + size * n + 1);
  if (!b)
    return 0;
  memcpy(b + r->len, p, size * n);
  r->len += size * n;
  b[r->len] = '\0';
  r->body = b;
  return size * n;
}

static reply get(int port, const char *path, const char *method) {
  reply r;
  memset(&r, 0, sizeof(r));
  char url[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
  CURL *c = curl_easy_init();
  assert_non_null(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  if (method)
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    fail_msg("GET %s: %s", url, curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  char *type = NULL;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
  snprintf(r.type, sizeof(r.type), "%s", type ? type : "");
  curl_easy_cleanup(c);
  if (!r.body)
    r.body = calloc(1, 1);
  return r;
}

/* python3's json module as the judge of well-formed JSON; 1 when absent. */
static int json_ok(const char *text) {
  if (system("command -v python3 >/dev/null 2>&1") != 0)
    return 1;
  FILE *f = popen("python3 -c 'import json,sys; json.load(sys.stdin)'", "w");
  if (!f)
    return 0;
  fputs(text, f);
  return pclose(f) == 0;
}

static const char yaml_fmt[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: ServiceEntry\n"
    "metadata: {name: reviews, namespace: prod}\n"
    "spec:\n"
    "  hosts: [reviews.prod.svc.cluster.local]\n"
    "  location: MESH_INTERNAL\n"
    "  resolution: STATIC\n"
    "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
    "  endpoints:\n"
    "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v1}}\n"
    "  - {address: 127.0.0.2, ports: {http: 9}, weight: 3, labels: "
    "{version: v2}}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: DestinationRule\n"
    "metadata: {name: reviews, namespace: prod}\n"
    "spec:\n"
    "  host: reviews.prod.svc.cluster.local\n"
    "  trafficPolicy:\n"
    "    loadBalancer: {simple: ROUND_ROBIN}\n"
    "    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, "
    "baseEjectionTime: 30s}\n"
    "  subsets:\n"
    "  - {name: v1, labels: {version: v1}}\n"
    "  - {name: v2, labels: {version: v2}}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: reviews, namespace: prod}\n"
    "spec:\n"
    "  hosts: [reviews.prod.svc.cluster.local]\n"
    "  http:\n"
    "  - name: jason\n"
    "    match: [{headers: {end-user: {exact: \"ja\\\"son\"}}, uri: {prefix: "
    "/api}}]\n"
    "    timeout: 2500ms\n"
    "    retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}\n"
    "    route: [{destination: {host: reviews.prod.svc.cluster.local, "
    "subset: v2}}]\n"
    "  - name: default\n"
    "    route:\n"
    "    - {destination: {host: reviews.prod.svc.cluster.local, subset: v1}, "
    "weight: 100}\n";

typedef struct fixture {
  meshlib_mock *up;
  meshlib *m;
  int port;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  assert_int_equal(meshlib_mock_new(&f->up), MESHLIB_OK);
  char yaml[4096];
  snprintf(yaml, sizeof(yaml), yaml_fmt, meshlib_mock_port(f->up));
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_set_namespace(o, "shop");
  meshlib_options_set_workload_label(o, "app", "frontend");
  assert_int_equal(meshlib_options_set_admin_address(o, "127.0.0.1:0"),
                   MESHLIB_OK);
  meshlib_options_add_config_string(o, "admin.yaml", yaml, strlen(yaml));
  if (meshlib_new(&f->m, o) != MESHLIB_OK)
    fail_msg("%s", meshlib_options_errmsg(o));
  meshlib_options_free(o);
  f->port = meshlib_admin_port(f->m);
  assert_true(f->port > 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  meshlib_free(f->m);
  meshlib_mock_free(f->up);
  free(f);
  return 0;
}

static void call_once(fixture *f, const char *path, int expect) {
  char url[256];
  snprintf(url, sizeof(url), "http://reviews.prod.svc.cluster.local%s", path);
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, f->m, "GET", url), MESHLIB_OK);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), expect);
  meshlib_request_free(r);
}

static void test_metrics_endpoint(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 4; i++)
    call_once(f, "/", 200);
  reply r = get(f->port, "/metrics", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
  prom_doc d;
  if (prom_parse(r.body, &d) != 0)
    fail_msg("%s", d.err);
  const char *want[] = {"response_code=\"200\"", "source_app=\"frontend\"",
                        "destination_service_name=\"reviews\""};
  assert_true(prom_sum(&d, "istio_requests_total", NULL, want, 3) == 4);
  const char *v1[] = {"subset=\"v1\""};
  assert_true(prom_sum(&d, "meshlib_cluster_endpoints_healthy", NULL, v1, 1) ==
              1);
  char err[4096];
  if (promtool_check(r.body, err, sizeof(err)) < 0)
    fail_msg("%s", err);
  prom_doc_free(&d);
  free(r.body);
  /* Envoy's path for the same. */
  r = get(f->port, "/stats/prometheus", NULL);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "# TYPE istio_requests_total counter"));
  free(r.body);
}

static void test_config_dump(void **state) {
  fixture *f = *state;
  reply r = get(f->port, "/config_dump", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.type, "application/json");
  assert_true(json_ok(r.body));
  char v[64];
  snprintf(v, sizeof(v), "{\"version\":%llu,",
           (unsigned long long)meshlib_config_version(f->m));
  assert_true(strncmp(r.body, v, strlen(v)) == 0);
  assert_non_null(strstr(r.body, "\"applied_total\":1"));
  assert_non_null(strstr(r.body, "\"kind\":\"VirtualService\""));
  assert_non_null(strstr(r.body, "\"timeout\":\"2.500s\""));
  assert_non_null(strstr(r.body, "\"exact\":\"ja\\\"son\""));
  assert_non_null(strstr(r.body, "\"consecutive5xxErrors\":2"));
  assert_non_null(strstr(r.body, "\"simple\":\"ROUND_ROBIN\""));
  assert_non_null(strstr(r.body, "\"source\":\"admin.yaml:"));
  assert_non_null(strstr(r.body, "\"namespace\":\"shop\""));
  assert_null(strstr(r.body, "last_rejected"));
  free(r.body);

  /* A rejected config shows with its reason; the version stays. */
  uint64_t version = meshlib_config_version(f->m);
  meshlib_config *c;
  assert_int_equal(meshlib_config_new(&c, f->m), MESHLIB_OK);
  static const char bad[] = "apiVersion: networking.istio.io/v1\n"
                            "kind: VirtualService\n"
                            "metadata: {name: x}\n"
                            "spec: {hosts: [x], http: [{timeout: soon}]}\n";
  meshlib_config_add_string(c, "bad.yaml", bad, strlen(bad));
  assert_int_not_equal(meshlib_config_apply(c), MESHLIB_OK);
  meshlib_config_free(c);
  r = get(f->port, "/config_dump", NULL);
  assert_true(json_ok(r.body));
  snprintf(v, sizeof(v), "{\"version\":%llu,", (unsigned long long)version);
  assert_true(strncmp(r.body, v, strlen(v)) == 0);
  assert_non_null(strstr(r.body, "\"last_rejected\":{\"version\":"));
  assert_non_null(strstr(r.body, "bad.yaml:4"));
  free(r.body);
}

static void test_clusters(void **state) {
  fixture *f = *state;
  reply r = get(f->port, "/clusters", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.type, "application/json");
  assert_true(json_ok(r.body));
  assert_non_null(strstr(r.body,
                         "\"name\":\"outbound|80|v1|reviews.prod.svc.cluster."
                         "local\""));
  assert_non_null(strstr(r.body, "\"lb_policy\":\"ROUND_ROBIN\""));
  assert_non_null(strstr(r.body, "\"address\":\"127.0.0.2\",\"port\":9,"
                                 "\"weight\":3,\"health\":\"HEALTHY\","
                                 "\"ejected\":false"));
  assert_non_null(strstr(r.body, "\"in_flight\":0"));
  free(r.body);
}

static void test_routes(void **state) {
  fixture *f = *state;
  reply r = get(f->port, "/routes", NULL);
  assert_int_equal(r.status, 200);
  assert_true(json_ok(r.body));
  assert_non_null(strstr(r.body, "\"name\":\"jason\""));
  assert_non_null(strstr(r.body, "\"virtual_service\":\"reviews.prod\""));
  assert_non_null(
      strstr(r.body, "\"match\":[\"/api* header:end-user=ja\\\"son\"]"));
  assert_non_null(strstr(r.body, "\"subset\":\"v2\",\"weight\":100"));
  assert_non_null(strstr(r.body, "\"retries\":{\"attempts\":2"));
  free(r.body);
}

/* Outlier detection ejects the endpoint that refuses connections: the
 * listener shows it, in /clusters and in the metrics. */
static void test_ejection_shows(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 3; i++) {
    meshlib_request *r;
    assert_int_equal(meshlib_request_new(&r, f->m, "GET",
                                         "http://reviews.prod.svc.cluster."
                                         "local/api/x"),
                     MESHLIB_OK);
    meshlib_request_add_header(r, "end-user", "ja\"son");
    assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
    assert_int_equal(meshlib_response_status(r), 503);
    meshlib_request_free(r);
  }
  reply r = get(f->port, "/clusters", NULL);
  assert_true(json_ok(r.body));
  if (!strstr(r.body, "\"address\":\"127.0.0.2\",\"port\":9,\"weight\":3,"
                      "\"health\":\"UNHEALTHY\",\"ejected\":true,"
                      "\"outlier_check\":\"FAILED\""))
    fail_msg("no ejection in %s", r.body);
  free(r.body);
  r = get(f->port, "/metrics", NULL);
  prom_doc d;
  if (prom_parse(r.body, &d) != 0)
    fail_msg("%s", d.err);
  const char *v2[] = {"|v2|reviews"};
  assert_true(prom_sum(&d, "meshlib_cluster_outlier_detection_ejections_active",
                       NULL, v2, 1) == 1);
  assert_true(prom_sum(&d, "meshlib_cluster_endpoints_healthy", NULL, v2, 1) ==
              0);
  /* Refused connections (UF), then no healthy endpoint left (UH). */
  const char *c503[] = {"response_code=\"503\""};
  assert_true(prom_sum(&d, "istio_requests_total", NULL, c503, 1) == 3);
  const char *uf[] = {"UF\",connection_security_policy",
                      "response_code=\"503\""};
  assert_true(prom_sum(&d, "istio_requests_total", NULL, uf, 2) >= 1);
  const char *retry[] = {"|v2|reviews", "reason=\"5xx\""};
  assert_true(prom_sum(&d, "meshlib_retries_total", NULL, retry, 2) >= 1);
  prom_doc_free(&d);
  free(r.body);
}

static void test_probes_and_errors(void **state) {
  fixture *f = *state;
  reply r = get(f->port, "/ready", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "LIVE\n");
  free(r.body);
  r = get(f->port, "/healthz", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "OK\n");
  free(r.body);
  r = get(f->port, "/nope", NULL);
  assert_int_equal(r.status, 404);
  free(r.body);
  r = get(f->port, "/", NULL);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "/config_dump"));
  free(r.body);
  r = get(f->port, "/metrics", "POST");
  assert_int_equal(r.status, 405);
  free(r.body);
}

/* A port in use fails meshlib_new() with MESHLIB_ERR_IO and a reason. */
static void test_port_taken(void **state) {
  fixture *f = *state;
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_admin_address(o, addr), MESHLIB_OK);
  meshlib *m = NULL;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_ERR_IO);
  assert_null(m);
  assert_non_null(strstr(meshlib_options_errmsg(o), "admin listener"));
  meshlib_options_free(o);
}

/* ---- robustness: stalled clients, odd requests, shutdown ---------- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static meshlib *admin_mesh(void) {
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_admin_address(o, "127.0.0.1:0"),
                   MESHLIB_OK);
  meshlib *m = NULL;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  return m;
}

/* A connection that sent |len| bytes of a request and then stalls. */
static int stalled(int port, const char *bytes, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  if (len)
    assert_int_equal(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
  return fd;
}

/* A hundred clients that stall mid-request (or send garbage) do not keep
 * Prometheus from scraping: 64 of them used to take every slot for 30 s. */
static void test_stalled_clients(void **state) {
  (void)state;
  meshlib *m = admin_mesh();
  int port = meshlib_admin_port(m);
  static const char junk[] = "\x00\x01\x02 junk\r\n\r\n";
  int fds[100];
  for (int i = 0; i < 100; i++)
    fds[i] = i % 2 ? stalled(port, "GET /metr", 9)
                   : stalled(port, junk, sizeof(junk) - 1);
  int64_t t0 = now_ms();
  reply r = get(port, "/healthz", NULL);
  assert_int_equal(r.status, 200);
  assert_true(now_ms() - t0 < 5000);
  free(r.body);
  /* Freeing the mesh does not wait for them either. */
  t0 = now_ms();
  meshlib_free(m);
  assert_true(now_ms() - t0 < 3000);
  for (int i = 0; i < 100; i++)
    close(fds[i]);
}

typedef struct scraper {
  int port;
  const char *path;
  _Atomic int stop;
  _Atomic int ok;
} scraper;

static void *scrape_main(void *arg) {
  scraper *s = arg;
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, s->path);
  while (!s->stop) {
    CURL *c = curl_easy_init();
    reply r;
    memset(&r, 0, sizeof(r));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    /* Errors are expected once the listener is gone. */
    if (curl_easy_perform(c) == CURLE_OK)
      s->ok++;
    curl_easy_cleanup(c);
    free(r.body);
  }
  return NULL;
}

/* meshlib_free() while scrapes are in progress: the listener's thread is
 * stopped before the state it reads goes (ASan and TSan watch this). */
static void test_free_while_serving(void **state) {
  (void)state;
  meshlib *m = admin_mesh();
  scraper s[3] = {{meshlib_admin_port(m), "/metrics", 0, 0},
                  {meshlib_admin_port(m), "/clusters", 0, 0},
                  {meshlib_admin_port(m), "/config_dump", 0, 0}};
  pthread_t t[3];
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&t[i], NULL, scrape_main, &s[i]), 0);
  int64_t t0 = now_ms();
  while (now_ms() - t0 < 5000 && (!s[0].ok || !s[1].ok || !s[2].ok))
    nanosleep(&(struct timespec){0, 5000000}, NULL);
  int64_t t1 = now_ms();
  meshlib_free(m);
  assert_true(now_ms() - t1 < 3000);
  for (int i = 0; i < 3; i++) {
    s[i].stop = 1;
    pthread_join(t[i], NULL);
    assert_true(s[i].ok > 0);
  }
}

/* IPv6 loopback, when the machine has it. */
static void test_ipv6(void **state) {
  (void)state;
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_admin_address(o, "[::1]:0"), MESHLIB_OK);
  meshlib *m = NULL;
  int rc = meshlib_new(&m, o);
  meshlib_options_free(o);
  if (rc == MESHLIB_ERR_IO) {
    print_message("no IPv6 loopback here: skipped\n");
    skip();
  }
  assert_int_equal(rc, MESHLIB_OK);
  char url[64];
  snprintf(url, sizeof(url), "http://[::1]:%d/healthz", meshlib_admin_port(m));
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  assert_int_equal(status, 200);
  curl_easy_cleanup(c);
  meshlib_free(m);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics_endpoint),
      cmocka_unit_test(test_config_dump),
      cmocka_unit_test(test_clusters),
      cmocka_unit_test(test_routes),
      cmocka_unit_test(test_ejection_shows),
      cmocka_unit_test(test_probes_and_errors),
      cmocka_unit_test(test_port_taken),
      cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_stalled_clients),
      cmocka_unit_test(test_free_while_serving),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  curl_global_cleanup();
  return rc;
}
