/* SPDX-License-Identifier: MIT */
/* A test outside the tree: one call through the installed libmeshlib to a
 * mock upstream of the installed libmeshlib-testing. Prints the status,
 * the mock that answered and how many requests it saw. */
#include <stdio.h>
#include <string.h>
#include <meshlib/meshlib.h>
#include <meshlib/testing.h>

static const char config_fmt[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: ServiceEntry\n"
    "metadata: {name: reviews, namespace: default}\n"
    "spec:\n"
    "  hosts: [reviews.default.svc.cluster.local]\n"
    "  location: MESH_INTERNAL\n"
    "  resolution: STATIC\n"
    "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
    "  endpoints:\n"
    "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v2}}\n";

int main(void) {
  meshlib_mock *mock;
  meshlib_options *o;
  meshlib *m;
  meshlib_request *r;
  char config[1024];
  if (meshlib_mock_new(&mock) != MESHLIB_OK ||
      meshlib_mock_set_name(mock, "v2") != MESHLIB_OK)
    return 1;
  int n = snprintf(config, sizeof(config), config_fmt, meshlib_mock_port(mock));
  if (n < 0 || (size_t)n >= sizeof(config))
    return 1;
  if (meshlib_options_new(&o) != MESHLIB_OK ||
      meshlib_options_add_config_string(o, "inline.yaml", config,
                                        strlen(config)) != MESHLIB_OK)
    return 1;
  if (meshlib_new(&m, o) != MESHLIB_OK) {
    fprintf(stderr, "meshlib_new: %s\n", meshlib_options_errmsg(o));
    return 1;
  }
  meshlib_options_free(o);
  if (meshlib_request_new(&r, m, "GET", "http://reviews/") != MESHLIB_OK)
    return 1;
  if (meshlib_request_perform(r) != MESHLIB_OK) {
    fprintf(stderr, "perform: %s\n", meshlib_request_errmsg(r));
    return 1;
  }
  const char *served = meshlib_response_header(r, "x-mock-name");
  printf("%d %s %d\n", (int)meshlib_response_status(r), served ? served : "-",
         meshlib_mock_request_count(mock));
  meshlib_request_free(r);
  meshlib_free(m);
  meshlib_mock_free(mock);
  return 0;
}
