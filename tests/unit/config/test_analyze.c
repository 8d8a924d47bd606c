/* SPDX-License-Identifier: MIT */
/* The analyzer: each finding fires on a minimal config, and stays quiet on
 * the corrected one. Configs go through the real loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/analyze.h"
#include "config/diag.h"
#include "config/load.h"
#include "meshlib/error.h"

/* ---------------------------------------------------------------- */
/* Fixture helpers                                                   */

typedef struct fx {
  ml_config *c;
  ml_diags d;
  int errors; /* ml_analyze's return */
} fx;

static void load(fx *f, const char *yaml) {
  ml_load_opts o = {"cluster.local", 0};
  ml_diags ld;
  f->c = ml_config_new(NULL);
  assert_non_null(f->c);
  ml_diags_init(&ld, NULL);
  int rc =
      ml_config_load_string(f->c, "test.yaml", yaml, strlen(yaml), &o, &ld);
  for (size_t i = 0; i < ld.count; i++)
    print_error("load diag: %s\n", ld.items[i]->text);
  assert_int_equal(rc, MESHLIB_OK);
  /* Fixtures are clean for the loader: what follows is the analyzer's. */
  assert_int_equal(ld.count, 0);
  ml_diags_free(&ld);
}

static void analyze(fx *f, const char *yaml) {
  load(f, yaml);
  ml_diags_init(&f->d, NULL);
  f->errors = ml_analyze(f->c, "production", "cluster.local", &f->d);
}

static void done(fx *f) {
  ml_diags_free(&f->d);
  ml_config_free(f->c);
}

static size_t count(const fx *f, const char *code) {
  size_t n = 0;
  for (size_t i = 0; i < f->d.count; i++)
    if (strcmp(f->d.items[i]->code, code) == 0)
      n++;
  return n;
}

static const struct meshlib_diag *find(const fx *f, const char *code) {
  for (size_t i = 0; i < f->d.count; i++)
    if (strcmp(f->d.items[i]->code, code) == 0)
      return f->d.items[i];
  return NULL;
}

static void dump(const fx *f) {
  for (size_t i = 0; i < f->d.count; i++)
    print_message("  [%s] %s | %s\n", f->d.items[i]->code,
                  f->d.items[i]->resource, f->d.items[i]->text);
}

/* ---------------------------------------------------------------- */
/* Fixtures. Kept as written: YAML indentation matters.              */

/* clang-format off */
#define DR_MYAPP_V1_V2 \
  "apiVersion: networking.istio.io/v1\n" \
  "kind: DestinationRule\n" \
  "metadata: {name: myapp, namespace: production}\n" \
  "spec:\n" \
  "  host: myapp\n" \
  "  subsets:\n" \
  "  - {name: v1, labels: {version: v1}}\n" \
  "  - {name: v2, labels: {version: v2}}\n"

/* A VirtualService for myapp in production with |rules| as its http. */
#define VS_MYAPP(name, rules) \
  "apiVersion: networking.istio.io/v1\n" \
  "kind: VirtualService\n" \
  "metadata: {name: " name ", namespace: production}\n" \
  "spec:\n" \
  "  hosts: [myapp]\n" \
  "  http:\n" rules

#define TO_MYAPP "    route: [{destination: {host: myapp}}]\n"
#define RULE_TO_MYAPP "  - route: [{destination: {host: myapp}}]\n"

static const char clean[] =
  VS_MYAPP("myapp",
    "  - name: canary-users\n"
    "    match:\n"
    "    - headers: {x-user-group: {exact: beta}}\n"
    "    route:\n"
    "    - destination: {host: myapp, subset: v2}\n"
    "  - name: api-v1\n"
    "    match:\n"
    "    - uri: {prefix: /api/v1}\n"
    "    timeout: 3s\n"
    "    route:\n"
    "    - destination: {host: myapp, subset: v1}\n"
    "    mirror: {host: myapp, subset: v2}\n"
    "  - name: default\n"
    "    route:\n"
    "    - destination: {host: myapp, subset: v1}\n"
    "      weight: 90\n"
    "    - destination: {host: myapp, subset: v2}\n"
    "      weight: 10\n")
  "---\n" DR_MYAPP_V1_V2;

static const char missing_subset[] =
  VS_MYAPP("myapp",
    "  - route:\n"
    "    - destination: {host: myapp, subset: v3}\n")
  "---\n" DR_MYAPP_V1_V2;

static const char no_rule_for_subsets[] =
  VS_MYAPP("myapp",
    "  - route:\n"
    "    - destination: {host: myapp, subset: v1}\n"
    "    mirror: {host: myapp, subset: shadow}\n");

static const char external_vs[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: VirtualService\n"
  "metadata: {name: ext, namespace: production}\n"
  "spec:\n"
  "  hosts: [myapp]\n"
  "  http:\n"
  "  - match: [{uri: {prefix: /a}}]\n"
  "    route: [{destination: {host: api.example.com}}]\n"
  "  - match: [{uri: {prefix: /b}}]\n"
  "    route: [{destination: {host: other.billing.svc.cluster.local}}]\n"
  "  - route: [{destination: {host: reviews}}]\n";

static const char wildcard_se[] =
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: ServiceEntry\n"
  "metadata: {name: ext, namespace: production}\n"
  "spec:\n"
  "  hosts: ['*.example.com']\n"
  "  ports: [{number: 443, name: https, protocol: HTTPS}]\n"
  "  resolution: DNS\n";

/* A ServiceEntry whose endpoints are listed: subsets can be checked. */
static const char se_with_endpoints[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: ServiceEntry\n"
  "metadata: {name: legacy, namespace: production}\n"
  "spec:\n"
  "  hosts: [legacy.internal]\n"
  "  location: MESH_INTERNAL\n"
  "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
  "  resolution: STATIC\n"
  "  endpoints:\n"
  "  - {address: 10.0.0.1, labels: {version: v1, zone: a}}\n"
  "  - {address: 10.0.0.2, labels: {version: v2}}\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: legacy, namespace: production}\n"
  "spec:\n"
  "  host: legacy.internal\n"
  "  subsets:\n"
  "  - {name: v1, labels: {version: v1}}\n"
  "  - {name: v2, labels: {version: v2}}\n"
  "  - {name: all}\n"
  "  - {name: v2a, labels: {version: v2, zone: a}}\n";

static const char se_with_workload_entries[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: ServiceEntry\n"
  "metadata: {name: vm, namespace: production}\n"
  "spec:\n"
  "  hosts: [vm.internal]\n"
  "  location: MESH_INTERNAL\n"
  "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
  "  resolution: STATIC\n"
  "  workloadSelector: {labels: {app: vm}}\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: WorkloadEntry\n"
  "metadata: {name: vm-1, namespace: production}\n"
  "spec: {address: 10.1.0.1, labels: {app: vm, version: v1}}\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: vm, namespace: production}\n"
  "spec:\n"
  "  host: vm.internal\n"
  "  subsets:\n"
  "  - {name: v1, labels: {version: v1}}\n"
  "  - {name: v9, labels: {version: v9}}\n";

static const char zero_weights[] =
  VS_MYAPP("myapp",
    "  - route:\n"
    "    - destination: {host: myapp, subset: v1}\n"
    "      weight: 0\n"
    "    - destination: {host: myapp, subset: v2}\n"
    "      weight: 0\n")
  "---\n" DR_MYAPP_V1_V2;

/* One destination of weight 0 gets everything; 100/0 is fine too. */
static const char fine_weights[] =
  VS_MYAPP("myapp",
    "  - match: [{uri: {prefix: /one}}]\n"
    "    route:\n"
    "    - destination: {host: myapp, subset: v1}\n"
    "      weight: 0\n"
    "  - route:\n"
    "    - destination: {host: myapp, subset: v1}\n"
    "      weight: 100\n"
    "    - destination: {host: myapp, subset: v2}\n"
    "      weight: 0\n")
  "---\n" DR_MYAPP_V1_V2;

static const char after_catch_all[] =
  VS_MYAPP("myapp",
    "  - name: everything\n"
    "    match: [{uri: {prefix: /}}]\n"
    TO_MYAPP
    "  - name: api\n"
    "    match: [{uri: {prefix: /api}}]\n"
    TO_MYAPP
    "  - name: rest\n"
    TO_MYAPP);

static const char two_without_match[] =
  VS_MYAPP("myapp",
    RULE_TO_MYAPP
    RULE_TO_MYAPP);

/* prefix "/" plus a header, or regex ".*" plus a method, only match some
 * requests; a plain regex ".*" does catch everything. */
static const char conditional_catch_alls[] =
  VS_MYAPP("myapp",
    "  - match:\n"
    "    - uri: {prefix: /}\n"
    "      headers: {x-debug: {exact: '1'}}\n"
    TO_MYAPP
    "  - match: [{uri: {regex: '.*'}, method: {exact: POST}}]\n"
    TO_MYAPP
    "  - match: [{uri: {regex: '.*'}}]\n"
    TO_MYAPP
    RULE_TO_MYAPP);

static const char duplicate_matches[] =
  VS_MYAPP("myapp",
    "  - name: a\n"
    "    match:\n"
    "    - uri: {prefix: /api}\n"
    "      headers: {x-a: {exact: '1'}, x-b: {prefix: z}}\n"
    TO_MYAPP
    "  - name: b\n"
    "    match:\n"
    "    - uri: {prefix: /other}\n"
    "    - uri: {prefix: /api}\n"
    "      headers: {x-b: {prefix: z}, x-a: {exact: '1'}}\n"
    TO_MYAPP
    "  - name: c\n"
    "    match: [{uri: {prefix: /other}}]\n"
    TO_MYAPP
    RULE_TO_MYAPP);

static const char two_vs_one_host[] =
  VS_MYAPP("myapp", RULE_TO_MYAPP)
  "---\n"
  VS_MYAPP("myapp-canary", RULE_TO_MYAPP);

/* Bound to a gateway only: they merge, no conflict. */
static const char vs_and_gateway_vs[] =
  VS_MYAPP("myapp", RULE_TO_MYAPP)
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: VirtualService\n"
  "metadata: {name: edge, namespace: production}\n"
  "spec:\n"
  "  hosts: [myapp.production.svc.cluster.local]\n"
  "  gateways: [istio-system/ingress]\n"
  "  http:\n"
  RULE_TO_MYAPP;

/* The FQDN spelling, from another namespace, is the same host. */
static const char vs_fqdn_elsewhere[] =
  VS_MYAPP("myapp", RULE_TO_MYAPP)
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: VirtualService\n"
  "metadata: {name: again, namespace: staging}\n"
  "spec:\n"
  "  hosts: [myapp.production.svc.cluster.local]\n"
  "  http:\n"
  RULE_TO_MYAPP;

static const char dr_hosts[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: ghost, namespace: production}\n"
  "spec:\n"
  "  host: ghost.example.com\n"
  "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: k8s, namespace: production}\n"
  "spec:\n"
  "  host: reviews\n"
  "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: all-local, namespace: production}\n"
  "spec:\n"
  "  host: '*.production.svc.cluster.local'\n"
  "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n";

/* A VirtualService host does not make it exist (as Istio). */
static const char dr_host_from_vs[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: VirtualService\n"
  "metadata: {name: ghost, namespace: production}\n"
  "spec:\n"
  "  hosts: [ghost.example.com]\n"
  "  http:\n"
  "  - directResponse: {status: 200}\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: ghost, namespace: production}\n"
  "spec:\n"
  "  host: ghost.example.com\n"
  "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n";

static const char duplicate_names[] =
  VS_MYAPP("myapp",
    "  - name: same\n"
    "    match: [{uri: {prefix: /a}}]\n"
    TO_MYAPP
    "  - name: same\n"
    TO_MYAPP);

static const char merged_drs[] =
  DR_MYAPP_V1_V2
  "  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: myapp-outlier, namespace: production}\n"
  "spec:\n"
  "  host: myapp.production.svc.cluster.local\n"
  "  trafficPolicy:\n"
  "    outlierDetection: {consecutive5xxErrors: 5}\n"
  "  subsets:\n"
  "  - {name: v2, labels: {version: two}}\n"
  "  - {name: v3, labels: {version: v3}}\n";

/* Only one of them sets a top-level policy: nothing is lost. */
static const char merged_drs_fine[] =
  DR_MYAPP_V1_V2
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: myapp-outlier, namespace: production}\n"
  "spec:\n"
  "  host: myapp\n"
  "  trafficPolicy:\n"
  "    outlierDetection: {consecutive5xxErrors: 5}\n";

/* ---- exportTo ---- */

/* Two VirtualServices for one host; |ns2| and |export2| for the second. */
#define TWO_VS(ns2, export2) \
  "apiVersion: networking.istio.io/v1\n" \
  "kind: VirtualService\n" \
  "metadata: {name: a, namespace: production}\n" \
  "spec:\n" \
  "  hosts: [myapp.production.svc.cluster.local]\n" \
  "  exportTo: ['.']\n" \
  "  http:\n" RULE_TO_MYAPP \
  "---\n" \
  "apiVersion: networking.istio.io/v1\n" \
  "kind: VirtualService\n" \
  "metadata: {name: b, namespace: " ns2 "}\n" \
  "spec:\n" \
  "  hosts: [myapp.production.svc.cluster.local]\n" \
  "  exportTo: [" export2 "]\n" \
  "  http:\n" \
  "  - route: [{destination: {host: myapp.production.svc.cluster.local}}]\n"

static const char vs_hidden_from_each_other[] = TWO_VS("staging", "'.'");
static const char vs_exported_to_production[] = TWO_VS("staging", "production");
static const char vs_exported_elsewhere[] = TWO_VS("staging", "qa");

/* A wildcard host exported everywhere covers a local exact one. */
static const char vs_wildcard_conflict[] =
  VS_MYAPP("myapp", RULE_TO_MYAPP)
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: VirtualService\n"
  "metadata: {name: all-local, namespace: staging}\n"
  "spec:\n"
  "  hosts: ['*.production.svc.cluster.local']\n"
  "  http:\n"
  RULE_TO_MYAPP;

/* A VirtualService the client cannot see: nothing it says is checked. */
static const char vs_invisible[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: VirtualService\n"
  "metadata: {name: other, namespace: staging}\n"
  "spec:\n"
  "  hosts: [other]\n"
  "  exportTo: ['.']\n"
  "  http:\n"
  "  - route: [{destination: {host: other, subset: nope}}]\n";

/* A ServiceEntry kept in its namespace, used from production. */
static const char se_hidden[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: ServiceEntry\n"
  "metadata: {name: payments, namespace: billing}\n"
  "spec:\n"
  "  hosts: [api.payments.example]\n"
  "  exportTo: ['.']\n"
  "  ports: [{number: 443, name: https, protocol: HTTPS}]\n"
  "  resolution: DNS\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: VirtualService\n"
  "metadata: {name: pay, namespace: production}\n"
  "spec:\n"
  "  hosts: [pay]\n"
  "  http:\n"
  "  - route: [{destination: {host: api.payments.example}}]\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: payments, namespace: production}\n"
  "spec:\n"
  "  host: api.payments.example\n"
  "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n";

/* The subsets are defined, but by a rule kept in another namespace. */
static const char dr_hidden[] =
  VS_MYAPP("myapp",
    "  - route: [{destination: {host: myapp, subset: v1}}]\n")
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: myapp, namespace: staging}\n"
  "spec:\n"
  "  host: myapp.production.svc.cluster.local\n"
  "  exportTo: ['.']\n"
  "  subsets: [{name: v1, labels: {version: v1}}]\n";

/* ---- ServiceEntry ports ---- */

static const char se_ports[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: ServiceEntry\n"
  "metadata: {name: db, namespace: production}\n"
  "spec:\n"
  "  hosts: [db.internal, one.internal]\n"
  "  location: MESH_INTERNAL\n"
  "  ports:\n"
  "  - {number: 80, name: http, protocol: HTTP}\n"
  "  - {number: 8080, name: http-alt, protocol: HTTP}\n"
  "  resolution: DNS\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: ServiceEntry\n"
  "metadata: {name: single, namespace: production}\n"
  "spec:\n"
  "  hosts: [single.internal]\n"
  "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
  "  resolution: DNS\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: VirtualService\n"
  "metadata: {name: db, namespace: production}\n"
  "spec:\n"
  "  hosts: [db.internal]\n"
  "  http:\n"
  "  - match: [{uri: {prefix: /ok}}]\n"
  "    route: [{destination: {host: db.internal, port: {number: 8080}}}]\n"
  "  - match: [{uri: {prefix: /bad}}]\n"
  "    route: [{destination: {host: db.internal, port: {number: 9999}}}]\n"
  "  - match: [{uri: {prefix: /single}}]\n"
  "    route: [{destination: {host: single.internal}}]\n"
  "  - route: [{destination: {host: db.internal}}]\n"
  "    mirror: {host: single.internal, port: {number: 81}}\n";

/* ---- IST0131: prefix overlap ---- */

static const char prefix_overlap[] =
  VS_MYAPP("myapp",
    "  - name: api\n"
    "    match:\n"
    "    - uri: {prefix: /api}\n"
    "    - uri: {prefix: /api/v2}\n"
    TO_MYAPP
    "  - name: v1\n"
    "    match: [{uri: {prefix: /api/v1}, method: {exact: GET}}]\n"
    TO_MYAPP
    "  - name: admin\n"
    "    match: [{uri: {prefix: /admin}, headers: {x-role: {exact: root}}}]\n"
    TO_MYAPP
    "  - name: admin-debug\n"
    "    match:\n"
    "    - uri: {prefix: /admin/debug}\n"
    "      headers: {x-role: {exact: root}, x-debug: {exact: '1'}}\n"
    "    - uri: {prefix: /admin/open}\n"
    "    - uri: {exact: /api/exact}\n"
    TO_MYAPP
    RULE_TO_MYAPP);

/* ---- IST0128 / IST0129 ---- */

static const char tls_without_ca[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: DestinationRule\n"
  "metadata: {name: db, namespace: production}\n"
  "spec:\n"
  "  host: db.production.svc.cluster.local\n"
  "  trafficPolicy:\n"
  "    tls: {mode: SIMPLE}\n"
  "    portLevelSettings:\n"
  "    - port: {number: 5432}\n"
  "      tls: {mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem}\n"
  "    - port: {number: 6432}\n"
  "      tls: {mode: SIMPLE, caCertificates: /ca.pem}\n"
  "    - port: {number: 7432}\n"
  "      tls: {mode: ISTIO_MUTUAL}\n";

/* ---- IST0177 ---- */

static const char se_protocols[] =
  "apiVersion: networking.istio.io/v1\n"
  "kind: ServiceEntry\n"
  "metadata: {name: api-https, namespace: production}\n"
  "spec:\n"
  "  hosts: [api.example.com]\n"
  "  ports: [{number: 8443, name: https, protocol: HTTPS}]\n"
  "  resolution: DNS\n"
  "---\n"
  "apiVersion: networking.istio.io/v1\n"
  "kind: ServiceEntry\n"
  "metadata: {name: api-http, namespace: staging}\n"
  "spec:\n"
  "  hosts: [api.example.com]\n"
  "  exportTo: ['.']\n"
  "  ports: [{number: 8443, name: http, protocol: HTTP}]\n"
  "  resolution: DNS\n";

static const char oom_case[] =
  VS_MYAPP("myapp",
    "  - route: [{destination: {host: myapp, subset: v9}}]\n")
  "---\n"
  VS_MYAPP("myapp-canary", RULE_TO_MYAPP);
/* clang-format on */

/* ---------------------------------------------------------------- */

static void test_clean_config_has_no_findings(void **state) {
  (void)state;
  fx f;
  analyze(&f, clean);
  dump(&f);
  assert_int_equal(f.errors, 0);
  assert_int_equal(f.d.count, 0);
  done(&f);
}

static void test_ist0101_missing_subset(void **state) {
  (void)state;
  fx f;
  analyze(&f, missing_subset);
  dump(&f);
  assert_int_equal(f.errors, 1);
  assert_int_equal(count(&f, "IST0101"), 1);
  const struct meshlib_diag *g = find(&f, "IST0101");
  assert_int_equal(g->level, MESHLIB_LEVEL_ERROR);
  assert_string_equal(g->message,
                      "Referenced host+subset in destinationrule not found: "
                      "\"myapp.production.svc.cluster.local+v3\"");
  assert_string_equal(g->resource, "VirtualService production/myapp");
  assert_string_equal(g->field, "spec.http[0].route[0].destination.subset");
  assert_string_equal(g->file, "test.yaml");
  assert_true(g->line >= 7); /* the destination, not the document start */
  done(&f);
}

static void test_ist0101_subset_without_any_rule(void **state) {
  (void)state;
  fx f;
  /* No DestinationRule at all: every subset is missing, and the mirror's
   * is reported as well. */
  analyze(&f, no_rule_for_subsets);
  dump(&f);
  assert_int_equal(f.errors, 2);
  assert_int_equal(count(&f, "IST0101"), 2);
  assert_non_null(strstr(f.d.items[1]->message, "+shadow\""));
  assert_string_equal(f.d.items[1]->field, "spec.http[0].mirror.subset");
  done(&f);
}

static void test_ist0101_unknown_host_is_a_warning(void **state) {
  (void)state;
  fx f;
  analyze(&f, external_vs);
  dump(&f);
  /* Only api.example.com: the others are Kubernetes service names. */
  assert_int_equal(f.errors, 0);
  assert_int_equal(count(&f, "IST0101"), 1);
  const struct meshlib_diag *g = find(&f, "IST0101");
  assert_int_equal(g->level, MESHLIB_LEVEL_WARNING);
  assert_non_null(
      strstr(g->message, "Referenced host not found: \"api.example.com\""));
  done(&f);
}

static void test_ist0101_host_defined_by_service_entry(void **state) {
  (void)state;
  fx f;
  char yaml[2048];
  snprintf(yaml, sizeof(yaml), "%s%s", external_vs, wildcard_se);
  analyze(&f, yaml);
  dump(&f);
  assert_int_equal(f.errors, 0);
  assert_int_equal(f.d.count, 0);
  done(&f);
}

static void test_ist0173_subset_selects_no_endpoint(void **state) {
  (void)state;
  fx f;
  analyze(&f, se_with_endpoints);
  dump(&f);
  assert_int_equal(f.errors, 1);
  assert_int_equal(count(&f, "IST0173"), 1);
  const struct meshlib_diag *g = find(&f, "IST0173");
  assert_int_equal(g->level, MESHLIB_LEVEL_ERROR);
  assert_string_equal(g->field, "spec.subsets[3]");
  assert_non_null(strstr(g->message, "The Subset v2a "));
  assert_string_equal(g->resource, "DestinationRule production/legacy");
  done(&f);
}

static void test_ist0173_workload_entries(void **state) {
  (void)state;
  fx f;
  analyze(&f, se_with_workload_entries);
  dump(&f);
  assert_int_equal(count(&f, "IST0173"), 1);
  assert_non_null(strstr(find(&f, "IST0173")->message, "Subset v9 "));
  done(&f);
}

static void test_ist0173_silent_for_kubernetes_services(void **state) {
  (void)state;
  fx f;
  /* Pods of a Kubernetes Service are out of sight: nothing to say. */
  analyze(&f, DR_MYAPP_V1_V2);
  dump(&f);
  assert_int_equal(count(&f, "IST0173"), 0);
  assert_int_equal(f.d.count, 0);
  done(&f);
}

static void test_ml0101_zero_weights(void **state) {
  (void)state;
  fx f;
  analyze(&f, zero_weights);
  dump(&f);
  assert_int_equal(f.errors, 1);
  assert_int_equal(count(&f, "ML0101"), 1);
  assert_string_equal(find(&f, "ML0101")->field, "spec.http[0].route");
  done(&f);

  analyze(&f, fine_weights);
  dump(&f);
  assert_int_equal(f.errors, 0);
  assert_int_equal(f.d.count, 0);
  done(&f);
}

static void test_ist0130_rule_after_catch_all(void **state) {
  (void)state;
  fx f;
  analyze(&f, after_catch_all);
  dump(&f);
  assert_int_equal(f.errors, 0);
  assert_int_equal(count(&f, "IST0130"), 2);
  const struct meshlib_diag *g = find(&f, "IST0130");
  assert_int_equal(g->level, MESHLIB_LEVEL_WARNING);
  assert_string_equal(g->message,
                      "VirtualService rule \"api\" not used (rule "
                      "\"everything\" before it matches every request).");
  assert_string_equal(g->field, "spec.http[1]");
  done(&f);

  /* Two rules without matches: Istio's own wording. */
  analyze(&f, two_without_match);
  assert_int_equal(count(&f, "IST0130"), 1);
  assert_string_equal(find(&f, "IST0130")->message,
                      "VirtualService rule #1 not used (only the last rule "
                      "can have no matches).");
  done(&f);
}

static void test_ist0130_conditions_are_not_catch_all(void **state) {
  (void)state;
  fx f;
  analyze(&f, conditional_catch_alls);
  dump(&f);
  assert_int_equal(count(&f, "IST0130"), 1);
  assert_string_equal(find(&f, "IST0130")->field, "spec.http[3]");
  done(&f);
}

static void test_ist0131_duplicate_match(void **state) {
  (void)state;
  fx f;
  analyze(&f, duplicate_matches);
  dump(&f);
  assert_int_equal(f.errors, 0);
  /* b's second match repeats a's (header order does not matter); c only
   * repeats b's first match, so c can never be used. */
  assert_int_equal(count(&f, "IST0131"), 2);
  const struct meshlib_diag *g = find(&f, "IST0131");
  assert_int_equal(g->level, MESHLIB_LEVEL_INFO);
  assert_string_equal(g->message,
                      "VirtualService rule \"b\" match #1 is not used "
                      "(duplicate/overlapping match in rule \"a\").");
  assert_string_equal(g->field, "spec.http[1].match[1]");
  assert_int_equal(count(&f, "IST0130"), 1);
  assert_non_null(strstr(find(&f, "IST0130")->message,
                         "rule \"c\" not used (all matches used by prior"));
  done(&f);
}

static void test_ist0109_two_virtual_services(void **state) {
  (void)state;
  fx f;
  analyze(&f, two_vs_one_host);
  dump(&f);
  assert_int_equal(f.errors, 2);
  assert_int_equal(count(&f, "IST0109"), 2);
  assert_string_equal(f.d.items[0]->resource,
                      "VirtualService production/myapp");
  assert_string_equal(f.d.items[1]->resource,
                      "VirtualService production/myapp-canary");
  assert_non_null(strstr(f.d.items[0]->message,
                         "The VirtualServices production/myapp,production/"
                         "myapp-canary associated with mesh gateway define "
                         "the same host myapp.production.svc.cluster.local"));
  done(&f);

  analyze(&f, vs_and_gateway_vs);
  dump(&f);
  assert_int_equal(count(&f, "IST0109"), 0);
  done(&f);

  analyze(&f, vs_fqdn_elsewhere);
  assert_int_equal(count(&f, "IST0109"), 2);
  done(&f);
}

static void test_ist0174_unknown_dr_host(void **state) {
  (void)state;
  fx f;
  analyze(&f, dr_hosts);
  dump(&f);
  assert_int_equal(f.errors, 0);
  assert_int_equal(count(&f, "IST0174"), 1);
  const struct meshlib_diag *g = find(&f, "IST0174");
  assert_int_equal(g->level, MESHLIB_LEVEL_WARNING);
  assert_string_equal(g->resource, "DestinationRule production/ghost");
  assert_non_null(strstr(g->message, "\"ghost.example.com\""));
  done(&f);

  analyze(&f, dr_host_from_vs);
  dump(&f);
  assert_int_equal(count(&f, "IST0174"), 1);
  done(&f);
}

static void test_ml0103_duplicate_route_names(void **state) {
  (void)state;
  fx f;
  analyze(&f, duplicate_names);
  dump(&f);
  assert_int_equal(f.errors, 0);
  assert_int_equal(count(&f, "ML0103"), 1);
  assert_int_equal(find(&f, "ML0103")->level, MESHLIB_LEVEL_WARNING);
  assert_string_equal(find(&f, "ML0103")->field, "spec.http[1].name");
  done(&f);
}

static void test_ml0104_merged_destination_rules(void **state) {
  (void)state;
  fx f;
  analyze(&f, merged_drs);
  dump(&f);
  assert_int_equal(f.errors, 0);
  assert_int_equal(count(&f, "ML0104"), 2);
  const struct meshlib_diag *tp = f.d.items[0];
  assert_string_equal(tp->code, "ML0104");
  assert_string_equal(tp->field, "spec.trafficPolicy");
  assert_string_equal(tp->resource, "DestinationRule production/myapp-outlier");
  assert_non_null(strstr(tp->message, "production/myapp"));
  const struct meshlib_diag *sub = f.d.items[1];
  assert_string_equal(sub->field, "spec.subsets[0]");
  assert_non_null(strstr(sub->message, "subset \"v2\" ignored"));
  done(&f);

  analyze(&f, merged_drs_fine);
  dump(&f);
  assert_int_equal(f.d.count, 0);
  done(&f);
}

static void analyze_ns(fx *f, const char *yaml, const char *ns) {
  load(f, yaml);
  ml_diags_init(&f->d, NULL);
  f->errors = ml_analyze(f->c, ns, "cluster.local", &f->d);
}

static void test_export_to_vs_conflicts(void **state) {
  (void)state;
  fx f;
  /* Each is kept in its own namespace: nobody sees both. */
  analyze(&f, vs_hidden_from_each_other);
  dump(&f);
  assert_int_equal(count(&f, "IST0109"), 0);
  done(&f);
  analyze_ns(&f, vs_hidden_from_each_other, NULL);
  assert_int_equal(count(&f, "IST0109"), 0);
  done(&f);

  /* b is exported to production, where a is in force too. */
  analyze(&f, vs_exported_to_production);
  dump(&f);
  assert_int_equal(count(&f, "IST0109"), 2);
  done(&f);

  /* b only reaches qa: production's client sees a alone, and across all
   * namespaces no one sees both. */
  analyze(&f, vs_exported_elsewhere);
  assert_int_equal(count(&f, "IST0109"), 0);
  done(&f);
  analyze_ns(&f, vs_exported_elsewhere, "*");
  assert_int_equal(count(&f, "IST0109"), 0);
  done(&f);
}

static void test_ist0109_wildcard_conflict(void **state) {
  (void)state;
  fx f;
  analyze(&f, vs_wildcard_conflict);
  dump(&f);
  assert_int_equal(count(&f, "IST0109"), 2);
  assert_non_null(
      strstr(f.d.items[0]->message, "production/myapp,staging/all-local"));
  assert_string_equal(f.d.items[1]->resource,
                      "VirtualService staging/all-local");
  done(&f);
}

static void test_export_to_invisible_vs_not_analyzed(void **state) {
  (void)state;
  fx f;
  analyze(&f, vs_invisible);
  dump(&f);
  assert_int_equal(f.d.count, 0);
  done(&f);
  /* Seen from its own namespace, or from all, its missing subset shows. */
  analyze_ns(&f, vs_invisible, "staging");
  assert_int_equal(count(&f, "IST0101"), 1);
  done(&f);
  analyze_ns(&f, vs_invisible, NULL);
  assert_int_equal(count(&f, "IST0101"), 1);
  done(&f);
}

static void test_export_to_hidden_service_entry(void **state) {
  (void)state;
  fx f;
  analyze(&f, se_hidden);
  dump(&f);
  assert_int_equal(count(&f, "IST0101"), 1);
  const struct meshlib_diag *g = find(&f, "IST0101");
  assert_int_equal(g->level, MESHLIB_LEVEL_WARNING);
  assert_string_equal(g->field, "spec.http[0].route[0].destination.host");
  assert_non_null(strstr(g->message, "\"api.payments.example\" (a "
                                     "ServiceEntry defines it but is not "
                                     "exported to namespace production"));
  assert_int_equal(count(&f, "IST0174"), 1);
  assert_non_null(strstr(find(&f, "IST0174")->message, "not exported"));
  done(&f);
  /* From billing the entry is there; the VirtualService and the rule, in
   * production and exported everywhere, are in force there too. */
  analyze_ns(&f, se_hidden, "billing");
  dump(&f);
  assert_int_equal(count(&f, "IST0101"), 0);
  assert_int_equal(count(&f, "IST0174"), 0);
  done(&f);
}

static void test_export_to_hidden_destination_rule(void **state) {
  (void)state;
  fx f;
  analyze(&f, dr_hidden);
  dump(&f);
  assert_int_equal(count(&f, "IST0101"), 1);
  assert_non_null(strstr(find(&f, "IST0101")->message, "+v1\""));
  done(&f);
  analyze_ns(&f, dr_hidden, NULL);
  assert_int_equal(count(&f, "IST0101"), 1);
  done(&f);
}

static void test_ist0101_ist0112_service_entry_ports(void **state) {
  (void)state;
  fx f;
  analyze(&f, se_ports);
  dump(&f);
  assert_int_equal(f.errors, 3);
  assert_int_equal(count(&f, "IST0101"), 2);
  assert_int_equal(count(&f, "IST0112"), 1);
  const struct meshlib_diag *g = find(&f, "IST0101");
  assert_int_equal(g->level, MESHLIB_LEVEL_ERROR);
  assert_string_equal(g->field, "spec.http[1].route[0].destination.port");
  assert_string_equal(g->message,
                      "Referenced host:port not found: "
                      "\"db.internal:9999\" (ServiceEntry production/db "
                      "defines ports [80 8080])");
  assert_string_equal(f.d.items[1]->field,
                      "spec.http[3].route[0].destination.port");
  assert_string_equal(f.d.items[1]->code, "IST0112");
  assert_string_equal(f.d.items[1]->message,
                      "This VirtualService routes to a service "
                      "\"db.internal\" that exposes multiple ports [80 "
                      "8080]. Specifying a port in the destination is "
                      "required to disambiguate.");
  assert_string_equal(f.d.items[2]->field, "spec.http[3].mirror.port");
  assert_non_null(strstr(f.d.items[2]->message, "\"single.internal:81\""));
  done(&f);
}

static void test_ist0101_host_of_a_virtual_service_only(void **state) {
  (void)state;
  fx f;
  char yaml[2048];
  /* ghost.example.com has a VirtualService but no ServiceEntry. */
  snprintf(yaml, sizeof(yaml),
           "%s---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: caller, namespace: production}\n"
           "spec:\n"
           "  hosts: [caller]\n"
           "  http:\n"
           "  - route: [{destination: {host: ghost.example.com}}]\n",
           dr_host_from_vs);
  analyze(&f, yaml);
  dump(&f);
  assert_int_equal(count(&f, "IST0101"), 1);
  assert_non_null(strstr(find(&f, "IST0101")->message,
                         "Referenced host not found: \"ghost.example.com\""));
  assert_int_equal(count(&f, "IST0174"), 1);
  done(&f);
}

static void test_ist0131_prefix_overlap(void **state) {
  (void)state;
  fx f;
  analyze(&f, prefix_overlap);
  dump(&f);
  /* /api/v2 after /api in one rule; /api/v1 GET after /api; /admin/debug
   * with one more header after /admin. /admin/open has no header: /admin
   * needs one, so it does not cover it; an exact URI is not compared
   * (Istio compares prefixes only). */
  assert_int_equal(count(&f, "IST0131"), 3);
  assert_int_equal(count(&f, "IST0130"), 0);
  assert_string_equal(f.d.items[0]->field, "spec.http[0].match[1]");
  assert_string_equal(f.d.items[0]->message,
                      "VirtualService rule \"api\" match #1 of prefix /api/v2 "
                      "is not used (duplicate/overlapping match in rule #0 of "
                      "prefix /api on \"api\").");
  assert_int_equal(f.d.items[0]->level, MESHLIB_LEVEL_INFO);
  assert_string_equal(f.d.items[1]->field, "spec.http[1].match[0]");
  assert_string_equal(f.d.items[2]->field, "spec.http[3].match[0]");
  done(&f);
}

static void test_ist0128_ist0129_tls_without_ca(void **state) {
  (void)state;
  fx f;
  analyze(&f, tls_without_ca);
  dump(&f);
  assert_int_equal(f.errors, 0);
  assert_int_equal(f.d.count, 2);
  assert_string_equal(f.d.items[0]->code, "IST0128");
  assert_int_equal(f.d.items[0]->level, MESHLIB_LEVEL_INFO);
  assert_string_equal(f.d.items[0]->field, "spec.trafficPolicy.tls");
  assert_non_null(strstr(f.d.items[0]->message,
                         "DestinationRule production/db in namespace "
                         "production has TLS mode set to SIMPLE but no "
                         "caCertificates are set"));
  assert_string_equal(f.d.items[1]->code, "IST0129");
  assert_string_equal(f.d.items[1]->field,
                      "spec.trafficPolicy.portLevelSettings[0].tls");
  assert_non_null(strstr(f.d.items[1]->message, "MUTUAL"));
  assert_non_null(strstr(f.d.items[1]->message, "at port 5432"));
  done(&f);
}

/* ---------------------------------------------------------------- */
/* Out of memory: every allocation of the findings fails in turn.    */

static long fail_after;
static void *fail_malloc(size_t n, void *u) {
  (void)u;
  return fail_after-- > 0 ? malloc(n) : NULL;
}
static void fail_free(void *p, void *u) {
  (void)u;
  free(p);
}
static void *fail_calloc(size_t a, size_t n, void *u) {
  (void)u;
  return fail_after-- > 0 ? calloc(a, n) : NULL;
}
static void *fail_realloc(void *p, size_t n, void *u) {
  (void)u;
  return fail_after-- > 0 ? realloc(p, n) : NULL;
}

static void test_out_of_memory(void **state) {
  (void)state;
  static const meshlib_allocator failing = {NULL, fail_malloc, fail_free,
                                            fail_calloc, fail_realloc};
  fx f;
  load(&f, oom_case);
  int ok = 0;
  for (long n = 0; n < 200 && !ok; n++) {
    ml_diags d;
    ml_diags_init(&d, &failing);
    fail_after = n;
    int rc = ml_analyze(f.c, "production", "cluster.local", &d);
    if (rc >= 0) {
      assert_int_equal(rc, 3); /* IST0101 + 2 x IST0109 */
      assert_int_equal(d.count, 3);
      ok = 1;
    } else {
      assert_true(d.oom);
    }
    ml_diags_free(&d);
  }
  assert_true(ok);
  ml_config_free(f.c);
}

static void test_ist0177_conflicting_protocols(void **state) {
  (void)state;
  fx f;
  /* The HTTP entry is kept in staging: production sees one protocol. */
  analyze(&f, se_protocols);
  dump(&f);
  assert_int_equal(count(&f, "IST0177"), 0);
  done(&f);
  analyze_ns(&f, se_protocols, "staging");
  dump(&f);
  assert_int_equal(count(&f, "IST0177"), 2);
  assert_int_equal(f.d.items[0]->level, MESHLIB_LEVEL_WARNING);
  assert_string_equal(f.d.items[0]->resource,
                      "ServiceEntry production/api-https");
  assert_string_equal(f.d.items[0]->field, "spec.ports[0].protocol");
  assert_string_equal(f.d.items[0]->message,
                      "Multiple ServiceEntries (production/api-https, "
                      "staging/api-http) define the same host "
                      "\"api.example.com\" and port 8443 with conflicting "
                      "protocols (HTTP, HTTPS).");
  assert_string_equal(f.d.items[1]->resource, "ServiceEntry staging/api-http");
  done(&f);
}

static void oom_loop(const char *yaml, const char *ns, int want_errors,
                     size_t want_count) {
  static const meshlib_allocator failing = {NULL, fail_malloc, fail_free,
                                            fail_calloc, fail_realloc};
  fx f;
  load(&f, yaml);
  int ok = 0;
  for (long n = 0; n < 400 && !ok; n++) {
    ml_diags d;
    ml_diags_init(&d, &failing);
    fail_after = n;
    int rc = ml_analyze(f.c, ns, "cluster.local", &d);
    if (rc >= 0) {
      assert_int_equal(rc, want_errors);
      assert_int_equal(d.count, want_count);
      ok = 1;
    } else {
      assert_true(d.oom);
    }
    ml_diags_free(&d);
  }
  assert_true(ok);
  ml_config_free(f.c);
}

static void test_out_of_memory_more(void **state) {
  (void)state;
  oom_loop(se_protocols, "staging", 0, 2);
  oom_loop(vs_wildcard_conflict, "production", 2, 2);
  oom_loop(se_ports, "production", 3, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clean_config_has_no_findings),
      cmocka_unit_test(test_ist0101_missing_subset),
      cmocka_unit_test(test_ist0101_subset_without_any_rule),
      cmocka_unit_test(test_ist0101_unknown_host_is_a_warning),
      cmocka_unit_test(test_ist0101_host_defined_by_service_entry),
      cmocka_unit_test(test_ist0173_subset_selects_no_endpoint),
      cmocka_unit_test(test_ist0173_workload_entries),
      cmocka_unit_test(test_ist0173_silent_for_kubernetes_services),
      cmocka_unit_test(test_ml0101_zero_weights),
      cmocka_unit_test(test_ist0130_rule_after_catch_all),
      cmocka_unit_test(test_ist0130_conditions_are_not_catch_all),
      cmocka_unit_test(test_ist0131_duplicate_match),
      cmocka_unit_test(test_ist0109_two_virtual_services),
      cmocka_unit_test(test_ist0174_unknown_dr_host),
      cmocka_unit_test(test_ml0103_duplicate_route_names),
      cmocka_unit_test(test_ml0104_merged_destination_rules),
      cmocka_unit_test(test_export_to_vs_conflicts),
      cmocka_unit_test(test_ist0109_wildcard_conflict),
      cmocka_unit_test(test_export_to_invisible_vs_not_analyzed),
      cmocka_unit_test(test_export_to_hidden_service_entry),
      cmocka_unit_test(test_export_to_hidden_destination_rule),
      cmocka_unit_test(test_ist0101_ist0112_service_entry_ports),
      cmocka_unit_test(test_ist0101_host_of_a_virtual_service_only),
      cmocka_unit_test(test_ist0131_prefix_overlap),
      cmocka_unit_test(test_ist0128_ist0129_tls_without_ca),
      cmocka_unit_test(test_ist0177_conflicting_protocols),
      cmocka_unit_test(test_out_of_memory),
      cmocka_unit_test(test_out_of_memory_more),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
