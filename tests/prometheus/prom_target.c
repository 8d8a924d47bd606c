/* SPDX-License-Identifier: MIT */
/* A mesh with its admin listener on 127.0.0.1 (a free port) that has made
 * known calls to a mock upstream; it prints "port <admin port>" and serves
 * until its standard input closes. Public API only.
 *   prom_target            10 calls: 3 answered 503, 2 answered 200 after
 *                          1.5 s, 5 answered 200 at once (the Prometheus
 *                          integration test)
 *   prom_target --outlier  subsets v1 (the mock) and v2 (a closed port,
 *                          ejected by outlier detection after the calls):
 *                          5 calls to /, 2 to /v2 (meshctl proxy-config) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "meshlib/meshlib.h"
#include "meshlib/testing.h"

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
    "  - {address: 127.0.0.1, ports: {http: %d}, labels: {app: reviews, "
    "version: v1}}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: reviews, namespace: prod}\n"
    "spec:\n"
    "  hosts: [reviews.prod.svc.cluster.local]\n"
    "  http:\n"
    "  - retries: {attempts: 0}\n"
    "    route: [{destination: {host: reviews.prod.svc.cluster.local}}]\n";

static const char outlier_fmt[] =
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
    "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v2}}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: DestinationRule\n"
    "metadata: {name: reviews, namespace: prod}\n"
    "spec:\n"
    "  host: reviews.prod.svc.cluster.local\n"
    "  trafficPolicy:\n"
    "    outlierDetection: {consecutive5xxErrors: 1, interval: 1s,\n"
    "                       baseEjectionTime: 300s, maxEjectionPercent: 100}\n"
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
    "  - name: to-v2\n"
    "    match: [{uri: {prefix: /v2}}]\n"
    "    retries: {attempts: 0}\n"
    "    route: [{destination: {host: reviews.prod.svc.cluster.local, "
    "subset: v2}}]\n"
    "  - name: default\n"
    "    route: [{destination: {host: reviews.prod.svc.cluster.local, "
    "subset: v1}}]\n";

/* A port nothing listens on: bound, read, closed. */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

int main(int argc, char **argv) {
  int outlier = argc > 1 && strcmp(argv[1], "--outlier") == 0;
  meshlib_mock *up = NULL;
  meshlib_options *o = NULL;
  meshlib *m = NULL;
  int rc = meshlib_mock_new(&up);
  for (int i = 0; !outlier && rc == MESHLIB_OK && i < 3; i++)
    rc = meshlib_mock_push_response(up, 503, "unavailable", 11);
  for (int i = 0; !outlier && rc == MESHLIB_OK && i < 2; i++)
    rc = meshlib_mock_push_delay(up, 1500, 200);
  char yaml[4096];
  if (outlier)
    snprintf(yaml, sizeof(yaml), outlier_fmt, meshlib_mock_port(up),
             closed_port());
  else
    snprintf(yaml, sizeof(yaml), yaml_fmt, meshlib_mock_port(up));
  if (rc == MESHLIB_OK)
    rc = meshlib_options_new(&o);
  if (rc == MESHLIB_OK)
    rc = meshlib_options_set_namespace(o, "shop");
  if (rc == MESHLIB_OK)
    rc = meshlib_options_set_workload_label(o, "app", "frontend");
  if (rc == MESHLIB_OK)
    rc = meshlib_options_set_admin_address(o, "127.0.0.1:0");
  if (rc == MESHLIB_OK)
    rc =
        meshlib_options_add_config_string(o, "target.yaml", yaml, strlen(yaml));
  if (rc == MESHLIB_OK)
    rc = meshlib_new(&m, o);
  if (rc != MESHLIB_OK) {
    fprintf(stderr, "prom_target: %s %s\n", meshlib_strerror(rc),
            o ? meshlib_options_errmsg(o) : "");
    meshlib_options_free(o);
    meshlib_mock_free(up);
    return 1;
  }
  meshlib_options_free(o);
  for (int i = 0; i < (outlier ? 7 : 10) && rc == MESHLIB_OK; i++) {
    meshlib_request *r = NULL;
    rc = meshlib_request_new(&r, m, "GET",
                             outlier && i >= 5
                                 ? "http://reviews.prod.svc.cluster.local/v2"
                                 : "http://reviews.prod.svc.cluster.local/"
                                   "items");
    if (rc == MESHLIB_OK)
      rc = meshlib_request_perform(r);
    if (rc == MESHLIB_OK)
      fprintf(stderr, "prom_target: call %d: %d\n", i + 1,
              (int)meshlib_response_status(r));
    meshlib_request_free(r);
  }
  if (rc != MESHLIB_OK) {
    fprintf(stderr, "prom_target: call failed: %s\n", meshlib_strerror(rc));
    meshlib_free(m);
    meshlib_mock_free(up);
    return 1;
  }
  printf("port %d\n", meshlib_admin_port(m));
  fflush(stdout);
  while (getchar() != EOF)
    ;
  meshlib_free(m);
  meshlib_mock_free(up);
  return 0;
}
