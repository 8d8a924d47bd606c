/* SPDX-License-Identifier: MIT */
/* Istio's own analyzer test cases against meshlib's analyzer.
 *
 * The inputs are Istio's testdata (tests/data/istio-analyzers/, see the
 * README there for origin and license); the expectations are copied from
 * the testGrid of Istio's pkg/config/analysis/analyzers/analyzers_test.go,
 * case by case, under Istio's case names. As there, a case compares the
 * multiset of (code, resource) pairs the analyzer under test reports.
 * Istio runs one analyzer per case and meshlib runs all of them, so each
 * case names the codes (and, for IST0101, the kind of reference) that
 * Istio's analyzer can report, and only those are compared.
 *
 * Where a case needs objects meshlib cannot read (Services, Pods, Nodes,
 * Gateways, MeshConfig, status) or an analyzer meshlib does not have, it
 * is a documented exception (docs/meshctl.md, "Istio's analyzer tests"):
 * either whole (exceptions[]: loaded and analyzed, findings not compared)
 * or for the resources named in |skip|. */
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

#define DIR MESHLIB_TEST_DATA "/istio-analyzers/"
#define MAX_FILES 3
#define MAX_EXPECT 16
#define MAX_SKIP 8

typedef struct expect {
  const char *code;
  const char *resource; /* as in analyzers_test.go: "Kind [ns/]name" */
} expect;

typedef struct icase {
  const char *name;             /* Istio's case name */
  const char *files[MAX_FILES]; /* under tests/data/istio-analyzers */
  const char *codes;            /* codes of the analyzer under test */
  const char *field_suffix;     /* only findings whose field ends so */
  const char *not_field_suffix; /* no finding whose field ends so */
  expect expected[MAX_EXPECT];  /* Istio's expectations */
  const char *skip[MAX_SKIP];   /* resources left out (exceptions) */
} icase;

/* Istio's message types by code. */
#define REF_NOT_FOUND "IST0101" /* ReferencedResourceNotFound */
#define VS_CONFLICT "IST0109"   /* ConflictingMeshGatewayVSHosts */
#define PORT_REQUIRED "IST0112" /* VSDestinationPortSelectorRequired */
#define UNREACHABLE "IST0130"   /* VirtualServiceUnreachableRule */
#define NO_CA_DR "IST0128"      /* NoServerCertificateVerificationDestLevel */
#define NO_CA_PORT "IST0129"    /* NoServerCertificateVerificationPortLevel */
#define INEFFECTIVE "IST0131"
#define SE_PROTOCOL                                                                 \
  "IST0177" /* ConflictingServiceEntryProtocol */ /* VirtualServiceIneffectiveMatch \
                                                   */

static const icase cases[] = {
    {"virtualServiceConflictingMeshGatewayHosts",
     {"virtualservice_conflictingmeshgatewayhosts.yaml"},
     VS_CONFLICT,
     NULL,
     NULL,
     {{VS_CONFLICT, "VirtualService team3/ratings"},
      {VS_CONFLICT, "VirtualService team4/ratings"},
      {VS_CONFLICT, "VirtualService foo/ratings"},
      {VS_CONFLICT, "VirtualService bar/ratings"},
      {VS_CONFLICT, "VirtualService foo/productpage"},
      {VS_CONFLICT, "VirtualService foo/bogus-productpage"},
      {VS_CONFLICT, "VirtualService team2/ratings"}},
     {NULL}},
    {"virtualServiceConflictingMeshGatewayHostsWithExportTo",
     {"virtualservice_conflictingmeshgatewayhosts_with_exportto.yaml"},
     VS_CONFLICT,
     NULL,
     NULL,
     {{VS_CONFLICT, "VirtualService foo/productpage"},
      {VS_CONFLICT, "VirtualService bar/productpage"},
      {VS_CONFLICT, "VirtualService foo/productpage-c"},
      {VS_CONFLICT, "VirtualService bar/productpage-c"},
      {VS_CONFLICT, "VirtualService foo/productpage-d"},
      {VS_CONFLICT, "VirtualService bar/productpage-d"}},
     {NULL}},
    /* DestinationHostAnalyzer: host, mirror host, host:port and the port
     * selector; subsets are the DestinationRuleAnalyzer's. The skipped
     * findings come from Kubernetes Services (their ports and their
     * networking.istio.io/exportTo annotation) and from short names
     * that no Service backs, which meshlib takes for Services. */
    {"virtualServiceDestinationHosts",
     {"meshlib/virtualservice_destinationhosts.yaml"},
     REF_NOT_FOUND " " PORT_REQUIRED,
     NULL,
     ".subset",
     {{REF_NOT_FOUND, "VirtualService default/reviews-bogushost"},
      {REF_NOT_FOUND, "VirtualService default/reviews-bogushost"},
      {REF_NOT_FOUND, "VirtualService default/reviews-bookinfo-other"},
      {REF_NOT_FOUND, "VirtualService default/reviews-mirror-bogushost"},
      {REF_NOT_FOUND, "VirtualService default/reviews-bogusport"},
      {PORT_REQUIRED, "VirtualService default/reviews-2port-missing"},
      {REF_NOT_FOUND, "VirtualService istio-system/cross-namespace-details"},
      {REF_NOT_FOUND, "VirtualService hello/hello-export-to-bogus"}},
     {"VirtualService default/reviews-bogushost",
      "VirtualService default/reviews-mirror-bogushost",
      "VirtualService default/reviews-bogusport",
      "VirtualService default/reviews-2port-missing",
      "VirtualService istio-system/cross-namespace-details",
      "VirtualService hello/hello-export-to-bogus", NULL}},
    {"virtualServiceDestinationRules",
     {"meshlib/virtualservice_destinationrules.yaml"},
     REF_NOT_FOUND,
     ".subset",
     NULL,
     {{REF_NOT_FOUND, "VirtualService default/reviews-bogussubset"},
      {REF_NOT_FOUND, "VirtualService default/reviews-mirror-bogussubset"}},
     {NULL}},
    /* tcp and tls routes are counted, not read, by meshlib's loader. */
    {"dupmatches",
     {"virtualservice_dupmatches.yaml",
      "virtualservice_overlappingmatches.yaml"},
     UNREACHABLE " " INEFFECTIVE,
     NULL,
     NULL,
     {{UNREACHABLE, "VirtualService duplicate-match"},
      {UNREACHABLE, "VirtualService foo/sample-foo-cluster01"},
      {INEFFECTIVE, "VirtualService almost-duplicate-match"},
      {INEFFECTIVE, "VirtualService duplicate-match"},
      {UNREACHABLE, "VirtualService duplicate-tcp-match"},
      {UNREACHABLE, "VirtualService duplicate-empty-tcp"},
      {INEFFECTIVE, "VirtualService almost-duplicate-tcp-match"},
      {INEFFECTIVE, "VirtualService duplicate-tcp-match"},
      {UNREACHABLE, "VirtualService none/tls-routing"},
      {INEFFECTIVE, "VirtualService none/tls-routing-almostmatch"},
      {INEFFECTIVE, "VirtualService none/tls-routing"},
      {INEFFECTIVE, "VirtualService non-method-get"},
      {INEFFECTIVE, "VirtualService overlapping-in-single-match"},
      {INEFFECTIVE, "VirtualService overlapping-in-two-matches"},
      {INEFFECTIVE,
       "VirtualService overlapping-mathes-with-different-methods"}},
     {"VirtualService duplicate-tcp-match",
      "VirtualService duplicate-empty-tcp",
      "VirtualService almost-duplicate-tcp-match",
      "VirtualService none/tls-routing",
      "VirtualService none/tls-routing-almostmatch", NULL}},
    /* destinationrule.CaCertificateAnalyzer. */
    {"destinationrule with no cacert, simple at destinationlevel",
     {"destinationrule-simple-destination.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NO_CA_DR, "DestinationRule db-tls"}},
     {NULL}},
    {"destinationrule with no cacert, mutual at destinationlevel",
     {"destinationrule-mutual-destination.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NO_CA_DR, "DestinationRule db-mtls"}},
     {NULL}},
    {"destinationrule with no cacert, simple at portlevel",
     {"destinationrule-simple-port.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NO_CA_PORT, "DestinationRule db-tls"}},
     {NULL}},
    {"destinationrule with credentialname, simple at destinationlevel, no "
     "workloadSelector",
     {"destinationrule-simple-destination-credentialname.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NO_CA_DR, "DestinationRule db-tls"}},
     {NULL}},
    {"destinationrule with credentialname, simple at destinationlevel, "
     "workloadSelector",
     {"destinationrule-simple-destination-credentialname-selector.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NULL, NULL}},
     {NULL}},
    {"destinationrule with credentialname, simple at portlevel, no "
     "workloadSelector",
     {"destinationrule-simple-port-credentialname.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NO_CA_PORT, "DestinationRule db-tls"}},
     {NULL}},
    {"destinationrule with credentialname, simple at portlevel, "
     "workloadSelector",
     {"destinationrule-simple-port-credentialname-selector.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NULL, NULL}},
     {NULL}},
    {"destinationrule with no cacert, mutual at portlevel",
     {"destinationrule-mutual-port.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NO_CA_PORT, "DestinationRule db-mtls"}},
     {NULL}},
    {"destinationrule with no cacert, mutual at destinationlevel and simple at "
     "port level",
     {"destinationrule-compound-simple-mutual.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NO_CA_DR, "DestinationRule db-mtls"},
      {NO_CA_PORT, "DestinationRule db-mtls"}},
     {NULL}},
    {"destinationrule with no cacert, simple at destinationlevel and mutual at "
     "port level",
     {"destinationrule-compound-mutual-simple.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NO_CA_PORT, "DestinationRule db-mtls"},
      {NO_CA_DR, "DestinationRule db-mtls"}},
     {NULL}},
    {"destinationrule with both cacerts",
     {"destinationrule-with-ca.yaml"},
     NO_CA_DR " " NO_CA_PORT,
     NULL,
     NULL,
     {{NULL, NULL}},
     {NULL}},
    /* serviceentry.ConflictingServiceEntryProtocolAnalyzer. */
    {"ServiceEntry conflicting protocols on same host and port",
     {"serviceentry-conflicting-protocol.yaml"},
     SE_PROTOCOL,
     NULL,
     NULL,
     {{SE_PROTOCOL, "ServiceEntry default/se-http"},
      {SE_PROTOCOL, "ServiceEntry default/se-https"}},
     {NULL}},
    {"ServiceEntry no conflict same protocol",
     {"serviceentry-no-conflict-protocol.yaml"},
     SE_PROTOCOL,
     NULL,
     NULL,
     {{NULL, NULL}},
     {NULL}},
    {"ServiceEntry no conflict non-overlapping exportTo scopes",
     {"serviceentry-conflicting-exportto.yaml"},
     SE_PROTOCOL,
     NULL,
     NULL,
     {{NULL, NULL}},
     {NULL}},
};

/* Whole cases meshlib cannot run, with the reason (docs/meshctl.md). Their
 * files are still loaded and analyzed, so that they at least go through
 * the loader and the analyzer under the sanitizers. */
typedef struct exception {
  const char *name;
  const char *files[MAX_FILES];
  const char *why;
} exception;

static const exception exceptions[] = {
    {"DestinationRuleWithFakeHost",
     {"destinationrule-with-fake-host.yaml"},
     "IST0174 for a Kubernetes service name: meshlib cannot see Services"},
    {"DestinationRuleSubsetsNotSelectPods",
     {"destinationrule-subsets-not-select-pods.yaml"},
     "IST0173 from Pods"},
    {"DestinationRuleSubsetsWithTopologyLabels",
     {"destinationrule-subsets-with-topology-labels.yaml"},
     "Pods and Nodes"},
    {"DestinationRuleEmptyTopologyLabels",
     {"destinationrule-empty-topology-labels.yaml"},
     "Pods and Nodes"},
    {"missing Addresses and Protocol in Service Entry",
     {"serviceentry-missing-addresses-protocol.yaml"},
     "IST0134 not implemented"},
    {"missing Addresses and Protocol in Service Entry with "
     "ISTIO_META_DNS_AUTO_ALLOCATE enabled",
     {"serviceentry-missing-addresses-protocol.yaml"},
     "IST0134 not implemented; MeshConfig"},
    {"ServiceEntry Addresses Required Lowercase Protocol",
     {"serviceentry-address-required-lowercase.yaml"},
     "IST0134 not implemented"},
    {"ServiceEntry Addresses Required Uppercase Protocol",
     {"serviceentry-address-required-uppercase.yaml"},
     "IST0134 not implemented"},
    {"ServiceEntry Addresses Allocated",
     {"serviceentry-address-allocated.yaml"},
     "IST0134 not implemented; MeshConfig"},
    {"virtualServiceGateways", {"virtualservice_gateways.yaml"}, "Gateways"},
    {"virtualServiceKubernetesGateways",
     {"virtualservice_kubernetes_gateways.yaml"},
     "Gateways, Services"},
    {"virtualServiceJWTClaimRoute",
     {"virtualservice_jwtclaimroute.yaml"},
     "Gateways, RequestAuthentications"},
    {"virtualServiceInternalGatewayRef",
     {"virtualservice_internal_gateway_ref.yaml"},
     "Gateways"},
    {"host defined in virtualservice not found in the gateway",
     {"virtualservice_host_not_found_gateway.yaml"},
     "Gateways"},
    {"host defined in virtualservice not found in the gateway(beta version)",
     {"virtualservice_host_not_found_gateway_beta.yaml"},
     "Gateways"},
    {"host defined in virtualservice not found in the gateway with ns",
     {"virtualservice_host_not_found_gateway_with_ns_prefix.yaml"},
     "Gateways"},
    {"host defined in virtualservice not found in the gateway with ns(beta "
     "version)",
     {"virtualservice_host_not_found_gateway_with_ns_prefix_beta.yaml"},
     "Gateways"},
    {"Route Rule no effect on Ingress",
     {"virtualservice_route_rule_no_effects_ingress.yaml"},
     "IST0140: Gateways"},
    {"deprecation", {"deprecation.yaml"}, "Sidecars, EnvoyFilters"},
    {"authorizationpolicies",
     {"authorizationpolicies.yaml"},
     "AuthorizationPolicies, Pods, Namespaces"},
    {"Condition Analyzer", {"condition-analyzer.yaml"}, "status conditions"},
};

/* ---------------------------------------------------------------- */

/* "Kind name" (no namespace) is Istio's spelling for an object written
 * without one; meshlib puts those in "default". */
static void normalize(char *buf, size_t len, const char *resource) {
  const char *sp = strchr(resource, ' ');
  if (sp && !strchr(sp, '/'))
    snprintf(buf, len, "%.*s default/%s", (int)(sp - resource), resource,
             sp + 1);
  else
    snprintf(buf, len, "%s", resource);
}

static int skipped(const char *const *skip, const char *resource) {
  char a[256], b[256];
  normalize(a, sizeof(a), resource);
  for (size_t i = 0; i < MAX_SKIP && skip[i]; i++) {
    normalize(b, sizeof(b), skip[i]);
    if (strcmp(a, b) == 0)
      return 1;
  }
  return 0;
}

static int has_code(const char *codes, const char *code) {
  size_t n = strlen(code);
  for (const char *p = codes; (p = strstr(p, code)); p += n)
    if ((p == codes || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
      return 1;
  return 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = s ? strlen(s) : 0, b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_line(const void *x, const void *y) {
  return strcmp((const char *)x, (const char *)y);
}

typedef char line[288];

static void load_files(ml_config *c, const char *const *files) {
  ml_load_opts o = {"cluster.local", 0};
  for (size_t i = 0; i < MAX_FILES && files[i]; i++) {
    char path[512];
    ml_diags ld;
    snprintf(path, sizeof(path), "%s%s", DIR, files[i]);
    ml_diags_init(&ld, NULL);
    /* Other kinds (Services, Gateways...) are skipped with ML0003, and
     * Istio's test inputs need not be complete (a VirtualService without
     * hosts): the loader may complain, the analyzer still runs. */
    int rc = ml_config_load_path(c, path, &o, &ld);
    assert_true(rc == MESHLIB_OK || rc == MESHLIB_ERR_CONFIG);
    for (size_t k = 0; k < ld.count; k++)
      if (strcmp(ld.items[k]->code, "ML0003") != 0)
        print_message("    load: [%s] %s\n", ld.items[k]->code,
                      ld.items[k]->text);
    ml_diags_free(&ld);
  }
}

static int run_case(const icase *t) {
  line *got = calloc(256, sizeof(line)),
       *want = calloc(MAX_EXPECT, sizeof(line));
  size_t ngot = 0, nwant = 0, nskip = 0;
  ml_config *c = ml_config_new(NULL);
  ml_diags d;
  assert_non_null(got);
  assert_non_null(want);
  assert_non_null(c);
  load_files(c, t->files);
  ml_diags_init(&d, NULL);
  /* Every namespace, as Istio's test harness analyzes. */
  assert_true(ml_analyze(c, NULL, "cluster.local", &d) >= 0);
  for (size_t i = 0; i < d.count && ngot < 256; i++) {
    const struct meshlib_diag *g = d.items[i];
    if (!has_code(t->codes, g->code) || skipped(t->skip, g->resource))
      continue;
    if (t->field_suffix && !ends_with(g->field, t->field_suffix))
      continue;
    if (t->not_field_suffix && ends_with(g->field, t->not_field_suffix))
      continue;
    snprintf(got[ngot++], sizeof(line), "%s %s", g->code, g->resource);
  }
  for (size_t i = 0; i < MAX_EXPECT && t->expected[i].code; i++) {
    char r[256];
    if (skipped(t->skip, t->expected[i].resource)) {
      nskip++;
      continue;
    }
    normalize(r, sizeof(r), t->expected[i].resource);
    snprintf(want[nwant++], sizeof(line), "%s %s", t->expected[i].code, r);
  }
  qsort(got, ngot, sizeof(line), cmp_line);
  qsort(want, nwant, sizeof(line), cmp_line);
  int same = ngot == nwant;
  for (size_t i = 0; same && i < ngot; i++)
    same = strcmp(got[i], want[i]) == 0;
  print_message("%s %s (%zu compared, %zu left out)\n",
                same ? "agree" : "DIFFER", t->name, nwant, nskip);
  if (!same) {
    for (size_t i = 0; i < nwant; i++)
      print_message("    istio:   %s\n", want[i]);
    for (size_t i = 0; i < ngot; i++)
      print_message("    meshlib: %s\n", got[i]);
    for (size_t i = 0; i < d.count; i++)
      print_message("    all: [%s] %s %s\n", d.items[i]->code,
                    d.items[i]->resource, d.items[i]->text);
  }
  ml_diags_free(&d);
  ml_config_free(c);
  free(got);
  free(want);
  return same;
}

static void test_istio_cases_agree(void **state) {
  (void)state;
  size_t agree = 0, n = sizeof(cases) / sizeof(cases[0]);
  for (size_t i = 0; i < n; i++)
    agree += (size_t)run_case(&cases[i]);
  print_message("%zu of %zu Istio cases agree\n", agree, n);
  assert_int_equal(agree, n);
}

static void test_istio_exceptions_still_load(void **state) {
  (void)state;
  size_t n = sizeof(exceptions) / sizeof(exceptions[0]);
  for (size_t i = 0; i < n; i++) {
    ml_config *c = ml_config_new(NULL);
    ml_diags d;
    assert_non_null(c);
    load_files(c, exceptions[i].files);
    ml_diags_init(&d, NULL);
    assert_true(ml_analyze(c, NULL, "cluster.local", &d) >= 0);
    print_message("exception %s: %s (%zu findings)\n", exceptions[i].name,
                  exceptions[i].why, d.count);
    ml_diags_free(&d);
    ml_config_free(c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_istio_cases_agree),
      cmocka_unit_test(test_istio_exceptions_still_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
