/* SPDX-License-Identifier: MIT */
/* Ask meshlib where a request goes.
 *
 *   route_request CONFIG NAMESPACE URL [HEADER-NAME HEADER-VALUE]...
 *
 * e.g. route_request tests/data production http://myapp/ x-user-group beta
 */
#include <stdio.h>
#include <meshlib/meshlib.h>

int main(int argc, char **argv) {
  if (argc < 4 || argc % 2) {
    fprintf(stderr, "usage: %s CONFIG NAMESPACE URL [NAME VALUE]...\n",
            argv[0]);
    return 2;
  }
  meshlib_options *opts;
  meshlib *mesh;
  if (meshlib_options_new(&opts) != MESHLIB_OK)
    return 1;
  meshlib_options_set_namespace(opts, argv[2]);
  meshlib_options_add_config_path(opts, argv[1]);
  if (meshlib_new(&mesh, opts) != MESHLIB_OK) {
    /* e.g. "vs.yaml:14:9: spec.http[1].retries.attempts: expected an
     * integer" */
    fprintf(stderr, "config: %s\n", meshlib_options_errmsg(opts));
    meshlib_options_free(opts);
    return 1;
  }
  meshlib_options_free(opts);

  meshlib_request *req;
  int rc = meshlib_request_new(&req, mesh, "GET", argv[3]);
  if (rc != MESHLIB_OK) {
    fprintf(stderr, "%s: %s\n", argv[3], meshlib_strerror(rc));
    meshlib_free(mesh);
    return 1;
  }
  for (int i = 4; i + 1 < argc; i += 2)
    meshlib_request_add_header(req, argv[i], argv[i + 1]);

  const meshlib_decision *d;
  if (meshlib_request_route(req, &d) == MESHLIB_OK) {
    char flags[32];
    meshlib_response_flags_str(meshlib_decision_response_flags(d), flags,
                               sizeof(flags));
    printf("host %s, rule %s, flags %s\n", meshlib_decision_host(d),
           meshlib_decision_route_name(d) ? meshlib_decision_route_name(d)
                                          : "(none)",
           flags);
    for (size_t i = 0; i < meshlib_decision_destination_count(d); i++)
      printf("  -> %s weight %u\n", meshlib_decision_destination_cluster(d, i),
             meshlib_decision_destination_weight(d, i));
  }
  meshlib_request_free(req);
  meshlib_free(mesh);
  return 0;
}
