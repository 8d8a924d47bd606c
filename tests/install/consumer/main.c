/* SPDX-License-Identifier: MIT */
/* An application outside the tree: routes one request with the installed
 * library and prints the decision. */
#include <stdio.h>
#include <string.h>
#include <meshlib/meshlib.h>

static const char config[] = "apiVersion: networking.istio.io/v1\n"
                             "kind: VirtualService\n"
                             "metadata: {name: reviews, namespace: default}\n"
                             "spec:\n"
                             "  hosts: [reviews]\n"
                             "  http:\n"
                             "  - route:\n"
                             "    - destination: {host: reviews, subset: v2}\n";

int main(void) {
  meshlib_options *o;
  meshlib *m;
  meshlib_request *r;
  const meshlib_decision *d;
  if (meshlib_options_new(&o) != MESHLIB_OK ||
      meshlib_options_add_config_string(o, "inline.yaml", config,
                                        strlen(config)) != MESHLIB_OK)
    return 1;
  int rc = meshlib_new(&m, o);
  if (rc != MESHLIB_OK) {
    fprintf(stderr, "meshlib_new: %s\n", meshlib_options_errmsg(o));
    return 1;
  }
  meshlib_options_free(o);
  if (meshlib_request_new(&r, m, "GET", "http://reviews/") != MESHLIB_OK ||
      meshlib_request_route(r, &d) != MESHLIB_OK)
    return 1;
  printf("%s %s %s\n", MESHLIB_VERSION, meshlib_decision_host(d),
         meshlib_decision_destination_subset(d, 0));
  meshlib_request_free(r);
  meshlib_free(m);
  return 0;
}
