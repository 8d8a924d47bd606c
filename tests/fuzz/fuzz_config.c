/* SPDX-License-Identifier: MIT */
/* Fuzz target: arbitrary bytes as a config. Loading, analyzing, compiling
 * and routing must never crash, leak or hang, whatever the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/analyze.h"
#include "config/load.h"
#include "route/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void route_one(const ml_route_table *t, const char *host,
                      const char *path) {
  static const ml_header headers[] = {{"x-user-group", "beta"},
                                      {"end-user", "jason"}};
  static const ml_kv labels[] = {{"app", "productpage"}, {"version", "v1"}};
  ml_route_input in = {0};
  in.method = "GET";
  in.scheme = "http";
  in.authority = host;
  in.host = host;
  in.port = 80;
  in.path = path;
  in.query = "a=1&b";
  in.headers = headers;
  in.header_count = 2;
  in.source_labels = labels;
  in.source_label_count = 2;
  in.source_namespace = "default";
  ml_route_result res;
  ml_route_decide(t, &in, &res);
  ml_route_table_find_dr(t, host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ml_config *c = ml_config_new(NULL);
  ml_diags d;
  ml_diags_init(&d, NULL);
  ml_load_opts o = {"cluster.local", 0};
  if (c && ml_config_load_string(c, "fuzz.yaml", (const char *)data, size, &o,
                                 &d) == 0) {
    ml_analyze(c, "default", "cluster.local", &d);
    ml_route_settings s = {"default", "cluster.local"};
    ml_route_table *t = NULL;
    if (ml_route_table_build(NULL, c, &s, &t) == 0) {
      route_one(t, "reviews", "/api/v1/x");
      route_one(t, "reviews.default.svc.cluster.local", "/");
      route_one(t, "a.example.com", "/static");
      ml_route_table_free(t);
    }
  }
  ml_diags_free(&d);
  ml_config_free(c);
  return 0;
}
