/* SPDX-License-Identifier: MIT */
/* A control endpoint and a service that follows it. One process plays
 * three parts:
 *
 *   - a config server (meshlib_config_server: ETag, 304, long-poll), the
 *     way a control plane would serve a fleet;
 *   - myapp v1 and v2, two mock upstreams (meshlib/testing.h);
 *   - a service whose mesh follows the endpoint (long-poll) while two of
 *     its threads keep calling myapp.
 *
 * The operator walks the seed's canary, 90/10 -> 80/20 -> 50/50 -> 0/100,
 * pushes a broken config in the middle (rejected: the last good one stays,
 * traffic goes on), and finally deletes the VirtualService. Each step
 * prints how many calls each version served.
 *
 *   example_control_endpoint
 *
 * Exit status 0 when no call failed and every step's share is near its
 * weight, 1 if not, 2 when the setup fails. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <meshlib/meshlib.h>
#include <meshlib/testing.h>

static int port_v1, port_v2;

/* The seed's myapp: a ServiceEntry for the mocks, the DestinationRule, and
 * a VirtualService with weights |w1|/|w2| (none when w1 < 0). */
static const char *config(char *buf, size_t cap, int w1, int w2) {
  int n = snprintf(buf, cap,
                   "apiVersion: networking.istio.io/v1\n"
                   "kind: ServiceEntry\n"
                   "metadata: {name: myapp, namespace: production}\n"
                   "spec:\n"
                   "  hosts: [myapp.production.svc.cluster.local]\n"
                   "  location: MESH_INTERNAL\n"
                   "  resolution: STATIC\n"
                   "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
                   "  endpoints:\n"
                   "  - {address: 127.0.0.1, ports: {http: %d}, labels: "
                   "{version: v1}}\n"
                   "  - {address: 127.0.0.1, ports: {http: %d}, labels: "
                   "{version: v2}}\n"
                   "---\n"
                   "apiVersion: networking.istio.io/v1\n"
                   "kind: DestinationRule\n"
                   "metadata: {name: myapp, namespace: production}\n"
                   "spec:\n"
                   "  host: myapp\n"
                   "  subsets:\n"
                   "  - {name: v1, labels: {version: v1}}\n"
                   "  - {name: v2, labels: {version: v2}}\n",
                   port_v1, port_v2);
  if (w1 >= 0 && n > 0 && (size_t)n < cap)
    snprintf(buf + n, cap - (size_t)n,
             "---\n"
             "apiVersion: networking.istio.io/v1\n"
             "kind: VirtualService\n"
             "metadata: {name: myapp, namespace: production}\n"
             "spec:\n"
             "  hosts: [myapp]\n"
             "  http:\n"
             "  - route:\n"
             "    - {destination: {host: myapp, subset: v1}, weight: %d}\n"
             "    - {destination: {host: myapp, subset: v2}, weight: %d}\n",
             w1, w2);
  return buf;
}

static const char broken[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: myapp, namespace: production}\n"
    "spec:\n"
    "  hosts: [myapp]\n"
    "  http:\n"
    "  - route:\n"
    "    - {destination: {host: myapp, subset: v1}, weight: eighty}\n";

typedef struct service {
  meshlib *mesh;
  atomic_int stop;
  atomic_int calls, failed;
  atomic_int served[2]; /* by v1, by v2 */
} service;

static void *caller(void *p) {
  service *s = p;
  while (!atomic_load(&s->stop)) {
    meshlib_request *r;
    if (meshlib_request_new(&r, s->mesh, "GET", "http://myapp/checkout") !=
        MESHLIB_OK) {
      atomic_fetch_add(&s->failed, 1);
      continue;
    }
    if (meshlib_request_perform(r) != MESHLIB_OK ||
        meshlib_response_status(r) != 200) {
      atomic_fetch_add(&s->failed, 1);
    } else {
      const char *who = meshlib_response_header(r, "x-mock-name");
      atomic_fetch_add(&s->served[who && strcmp(who, "v2") == 0], 1);
    }
    atomic_fetch_add(&s->calls, 1);
    meshlib_request_free(r);
  }
  return NULL;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* What the service's mesh reports, printed as it happens. */
static void on_change(uint64_t old_version, uint64_t new_version, void *ud) {
  (void)ud;
  printf("   [mesh] config %llu in force (was %llu)\n",
         (unsigned long long)new_version, (unsigned long long)old_version);
}

static void on_reject(uint64_t version, const char *reason, void *ud) {
  (void)ud;
  printf("   [mesh] config %llu rejected: %s\n", (unsigned long long)version,
         reason);
}

/* Wait for the mesh to pass |version|, then count |n| calls. */
static int step(service *s, uint64_t version, int n, int want_v2) {
  for (int i = 0; i < 5000 && meshlib_config_version(s->mesh) < version; i++)
    sleep_ms(1);
  atomic_store(&s->served[0], 0);
  atomic_store(&s->served[1], 0);
  int until = atomic_load(&s->calls) + n;
  for (int i = 0; i < 20000 && atomic_load(&s->calls) < until; i++)
    sleep_ms(1);
  int a = atomic_load(&s->served[0]), b = atomic_load(&s->served[1]);
  int share = a + b ? (100 * b + (a + b) / 2) / (a + b) : 0;
  printf("   served by v1 %4d, by v2 %4d: v2 share %3d%%", a, b, share);
  int ok = want_v2 < 0 || (share >= want_v2 - 10 && share <= want_v2 + 10);
  printf("%s\n", want_v2 < 0 ? " (no VirtualService: both serve)"
                 : ok        ? ""
                             : "  !! far from the weight");
  return ok;
}

int main(void) {
  static char yaml[4096];
  meshlib_mock *v1 = NULL, *v2 = NULL;
  meshlib_config_server *server = NULL;
  meshlib_options *o = NULL;
  static service svc;
  int code = 2, ok = 1;

  if (meshlib_mock_new(&v1) != MESHLIB_OK ||
      meshlib_mock_new(&v2) != MESHLIB_OK ||
      meshlib_config_server_new(&server, 0) != MESHLIB_OK)
    goto out;
  meshlib_mock_set_name(v1, "v1");
  meshlib_mock_set_name(v2, "v2");
  port_v1 = meshlib_mock_port(v1);
  port_v2 = meshlib_mock_port(v2);
  config(yaml, sizeof(yaml), 90, 10);
  meshlib_config_server_set(server, yaml, strlen(yaml));
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/mesh/production",
           meshlib_config_server_port(server));
  printf("config server: %s (ETag, 304, long-poll)\n"
         "myapp v1: 127.0.0.1:%d, myapp v2: 127.0.0.1:%d\n\n",
         url, port_v1, port_v2);

  /* The service: its mesh follows the endpoint, holding a request open
   * (long-poll) so that a push arrives at once. */
  if (meshlib_options_new(&o) != MESHLIB_OK)
    goto out;
  meshlib_options_set_namespace(o, "production");
  meshlib_options_add_config_url(o, url);
  meshlib_options_set_control_long_poll_ms(o, 30000);
  meshlib_options_set_control_initial_fetch(o, 5000, 1);
  meshlib_options_on_config(o, on_change, on_reject, NULL);
  if (meshlib_new(&svc.mesh, o) != MESHLIB_OK) {
    fprintf(stderr, "mesh: %s\n", meshlib_options_errmsg(o));
    goto out;
  }
  pthread_t t[2];
  int started = 0;
  while (started < 2 && pthread_create(&t[started], NULL, caller, &svc) == 0)
    started++;

  static const int weights[4][2] = {{90, 10}, {80, 20}, {50, 50}, {0, 100}};
  for (int k = 0; k < 4 && started; k++) {
    uint64_t v = meshlib_config_version(svc.mesh);
    if (k > 0) {
      printf("\npush: weights %d/%d\n", weights[k][0], weights[k][1]);
      config(yaml, sizeof(yaml), weights[k][0], weights[k][1]);
      meshlib_config_server_set(server, yaml, strlen(yaml));
      v++;
    } else {
      printf("start: weights 90/10\n");
    }
    ok &= step(&svc, v, 1000, weights[k][1]);
    if (k == 1) {
      printf("\npush: a broken config (weight: eighty)\n");
      uint64_t r = meshlib_config_rejected_total(svc.mesh);
      meshlib_config_server_set(server, broken, strlen(broken));
      for (int i = 0; i < 5000 && meshlib_config_rejected_total(svc.mesh) == r;
           i++)
        sleep_ms(1);
      ok &= meshlib_config_rejected_total(svc.mesh) == r + 1;
      ok &= step(&svc, 0, 500, weights[k][1]); /* the last good stays */
    }
  }
  if (started) {
    printf("\npush: the VirtualService deleted\n");
    uint64_t v = meshlib_config_version(svc.mesh) + 1;
    config(yaml, sizeof(yaml), -1, 0);
    meshlib_config_server_set(server, yaml, strlen(yaml));
    step(&svc, v, 1000, -1);
  }
  atomic_store(&svc.stop, 1);
  for (int i = 0; i < started; i++)
    pthread_join(t[i], NULL);

  meshlib_config_server_stats st;
  meshlib_config_server_stats_get(server, &st);
  printf("\n%d calls, %d failed; the config server answered %llu requests: "
         "%llu with a config, %llu held until a change\n",
         atomic_load(&svc.calls), atomic_load(&svc.failed),
         (unsigned long long)st.requests, (unsigned long long)st.full,
         (unsigned long long)st.held);
  ok &= started == 2 && atomic_load(&svc.failed) == 0;
  code = ok ? 0 : 1;
out:
  meshlib_free(svc.mesh);
  meshlib_options_free(o);
  meshlib_config_server_free(server);
  meshlib_mock_free(v1);
  meshlib_mock_free(v2);
  return code;
}
