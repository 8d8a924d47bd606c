/* SPDX-License-Identifier: MIT */
/* The routing decision: host forms, precedence, every match type, rule
 * order and no-route, gateways and conflicts, and the seed example. */
#include "route_test_util.h"

#include <stdio.h>

/* ---- host index ------------------------------------------------------ */

static const char *HOSTS_YAML =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: reviews, namespace: production}\n"
    "spec:\n"
    "  hosts: [Reviews]\n"
    "  http:\n"
    "  - name: reviews-route\n"
    "    route: [{destination: {host: reviews}}]\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: ratings, namespace: other}\n"
    "spec:\n"
    "  hosts: [ratings]\n"
    "  http:\n"
    "  - name: ratings-route\n"
    "    route: [{destination: {host: ratings}}]\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: ext, namespace: production}\n"
    "spec:\n"
    "  hosts: [api.example.com]\n"
    "  http:\n"
    "  - name: ext-route\n"
    "    route: [{destination: {host: api.example.com}}]\n";

static void test_host_forms_same_namespace(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "production", HOSTS_YAML);
  const char *forms[] = {
      "reviews",
      "reviews.production",
      "reviews.production.svc",
      "reviews.production.svc.cluster.local",
      "reviews.production.svc.cluster.local.",
      /* inputs are normally lower-case already; the index does not care */
      "REVIEWS.Production.svc.cluster.local",
  };
  for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    rt_req r;
    rt_req_init(&r, forms[i], "/");
    ml_route_result res = rt_decide(&f, &r);
    assert_non_null(res.vs);
    assert_string_equal(res.vs->meta.name, "reviews");
    assert_string_equal(res.host_fqdn, "reviews.production.svc.cluster.local");
    assert_string_equal(res.route->name, "reviews-route");
    assert_int_equal(res.route_index, 0);
  }
  /* Not forms of the service. */
  assert_string_equal(rt_get(&f, "reviews.production.svc.cluster", "/"),
                      "<none>");
  assert_string_equal(rt_get(&f, "reviews.prod", "/"), "<none>");
  assert_string_equal(rt_get(&f, "reviews.", "/"), "<none>");
  assert_string_equal(rt_get(&f, "xreviews", "/"), "<none>");
  assert_string_equal(rt_get(&f, "", "/"), "<none>");
  rt_teardown(&f);
}

static void test_host_forms_other_namespace(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "production", HOSTS_YAML);
  /* Another namespace's short name is not reachable from production. */
  assert_string_equal(rt_get(&f, "ratings", "/"), "<none>");
  assert_string_equal(rt_get(&f, "ratings.other", "/"), "ratings-route");
  assert_string_equal(rt_get(&f, "ratings.other.svc", "/"), "ratings-route");
  assert_string_equal(rt_get(&f, "ratings.other.svc.cluster.local", "/"),
                      "ratings-route");
  /* A client in "other" reaches it by its short name, and not reviews. */
  rt_build(&f, "other");
  assert_string_equal(rt_get(&f, "ratings", "/"), "ratings-route");
  assert_string_equal(rt_get(&f, "reviews", "/"), "<none>");
  assert_string_equal(rt_get(&f, "reviews.production", "/"), "reviews-route");
  rt_teardown(&f);
}

static void test_host_non_kubernetes(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "production", HOSTS_YAML);
  assert_string_equal(rt_get(&f, "api.example.com", "/"), "ext-route");
  assert_string_equal(rt_get(&f, "api.example.com.", "/"), "ext-route");
  /* No short forms for a name that is not a Kubernetes service. */
  assert_string_equal(rt_get(&f, "api", "/"), "<none>");
  assert_string_equal(rt_get(&f, "api.example", "/"), "<none>");
  assert_string_equal(rt_get(&f, "www.api.example.com", "/"), "<none>");
  rt_teardown(&f);
}

static const char *WILD_YAML =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: wild-short, namespace: default}\n"
    "spec:\n"
    "  hosts: ['*.example.com']\n"
    "  http: [{name: short, route: [{destination: {host: a.example.com}}]}]\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: wild-long, namespace: default}\n"
    "spec:\n"
    "  hosts: ['*.api.example.com']\n"
    "  http: [{name: long, route: [{destination: {host: a.example.com}}]}]\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: exact, namespace: default}\n"
    "spec:\n"
    "  hosts: [foo.api.example.com]\n"
    "  http: [{name: exact, route: [{destination: {host: a.example.com}}]}]\n";

static void test_exact_beats_wildcard(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "default", WILD_YAML);
  assert_string_equal(rt_get(&f, "foo.api.example.com", "/"), "exact");
  assert_string_equal(rt_get(&f, "bar.api.example.com", "/"), "long");
  assert_string_equal(rt_get(&f, "a.b.api.example.com", "/"), "long");
  assert_string_equal(rt_get(&f, "x.example.com", "/"), "short");
  assert_string_equal(rt_get(&f, "a.b.example.com", "/"), "short");
  /* "api.example.com" is one label under *.example.com. */
  assert_string_equal(rt_get(&f, "api.example.com", "/"), "short");
  /* The wildcard needs a label of its own. */
  assert_string_equal(rt_get(&f, "example.com", "/"), "<none>");
  assert_string_equal(rt_get(&f, ".example.com", "/"), "<none>");
  assert_string_equal(rt_get(&f, "example.org", "/"), "<none>");
  assert_string_equal(rt_get(&f, "xexample.com", "/"), "<none>");
  rt_req r;
  rt_req_init(&r, "bar.api.example.com", "/");
  ml_route_result res = rt_decide(&f, &r);
  assert_string_equal(res.host_fqdn, "*.api.example.com");
  rt_teardown(&f);
}

static void test_catch_all_host(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "default",
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: all, namespace: default}\n"
           "spec:\n"
           "  hosts: ['*']\n"
           "  http: [{name: any, route: [{destination: {host: x.com}}]}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: wild, namespace: default}\n"
           "spec:\n"
           "  hosts: ['*.example.com']\n"
           "  http: [{name: wild, route: [{destination: {host: x.com}}]}]\n");
  assert_string_equal(rt_get(&f, "a.example.com", "/"), "wild");
  assert_string_equal(rt_get(&f, "anything", "/"), "any");
  assert_string_equal(rt_get(&f, "example.com", "/"), "any");
  rt_teardown(&f);
}

/* ---- match types ----------------------------------------------------- */

/* A VirtualService for "svc" in "default" whose http[] is |rules|. */
static void setup_rules(rt_fixture *f, const char *rules) {
  char buf[8192];
  int n = snprintf(buf, sizeof(buf),
                   "apiVersion: networking.istio.io/v1\n"
                   "kind: VirtualService\n"
                   "metadata: {name: svc, namespace: default}\n"
                   "spec:\n"
                   "  hosts: [svc]\n"
                   "  http:\n%s",
                   rules);
  assert_true(n > 0 && (size_t)n < sizeof(buf));
  rt_setup(f, "default", buf);
}

static void test_uri_match(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f,
              "  - name: exact\n"
              "    match: [{uri: {exact: /Exact}}]\n"
              "    route: [{destination: {host: svc}}]\n"
              "  - name: exact-icase\n"
              "    match: [{uri: {exact: /Other}, ignoreUriCase: true}]\n"
              "    route: [{destination: {host: svc}}]\n"
              "  - name: prefix\n"
              "    match: [{uri: {prefix: /api/}}]\n"
              "    route: [{destination: {host: svc}}]\n"
              "  - name: prefix-icase\n"
              "    match: [{uri: {prefix: /Img/}, ignoreUriCase: true}]\n"
              "    route: [{destination: {host: svc}}]\n"
              "  - name: regex\n"
              "    match: [{uri: {regex: '/items/[0-9]+'}}]\n"
              "    route: [{destination: {host: svc}}]\n"
              "  - name: regex-icase\n"
              "    match: [{uri: {regex: '/up/[a-z]+'}, ignoreUriCase: true}]\n"
              "    route: [{destination: {host: svc}}]\n");
  assert_string_equal(rt_get(&f, "svc", "/Exact"), "exact");
  assert_string_equal(rt_get(&f, "svc", "/exact"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/Exact/"), "<NR>");
  /* The query is not part of the uri. */
  assert_string_equal(rt_get(&f, "svc", "/Exact?a=b"), "exact");
  assert_string_equal(rt_get(&f, "svc", "/other"), "exact-icase");
  assert_string_equal(rt_get(&f, "svc", "/OTHER"), "exact-icase");
  assert_string_equal(rt_get(&f, "svc", "/othe"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/api/"), "prefix");
  assert_string_equal(rt_get(&f, "svc", "/api/v1/x"), "prefix");
  assert_string_equal(rt_get(&f, "svc", "/api"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/API/v1"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/img/a.png"), "prefix-icase");
  assert_string_equal(rt_get(&f, "svc", "/IMG/a.png"), "prefix-icase");
  /* Regex is a full match. */
  assert_string_equal(rt_get(&f, "svc", "/items/42"), "regex");
  assert_string_equal(rt_get(&f, "svc", "/items/42/x"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/x/items/42"), "<NR>");
  /* ignoreUriCase does not apply to regex. */
  assert_string_equal(rt_get(&f, "svc", "/up/abc"), "regex-icase");
  assert_string_equal(rt_get(&f, "svc", "/up/ABC"), "<NR>");
  rt_teardown(&f);
}

/* Values longer than one 8-byte word compare the rest byte by byte. */
static void test_long_values(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: long-exact\n"
                  "    match: [{uri: {exact: /api/v1/users/me}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: long-icase\n"
                  "    match:\n"
                  "    - {uri: {prefix: /Images/Large/}, ignoreUriCase: true}\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: long-header\n"
                  "    match: [{headers: {x-long: {exact: abcdefgh-ijkl}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: long-regex\n"
                  "    match: [{uri: {regex: '/reports/2024/[0-9]+'}}]\n"
                  "    route: [{destination: {host: svc}}]\n");
  assert_string_equal(rt_get(&f, "svc", "/api/v1/users/me"), "long-exact");
  assert_string_equal(rt_get(&f, "svc", "/api/v1/users/mE"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/api/v1/users/m"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/images/large/a"), "long-icase");
  assert_string_equal(rt_get(&f, "svc", "/IMAGES/LARGE/a"), "long-icase");
  assert_string_equal(rt_get(&f, "svc", "/imaGes/larGe/"), "long-icase");
  assert_string_equal(rt_get(&f, "svc", "/images/small/a"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/reports/2024/12"), "long-regex");
  assert_string_equal(rt_get(&f, "svc", "/reports/2023/12"), "<NR>");
  rt_req r;
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-long", "abcdefgh-ijkl");
  assert_string_equal(rt_route_name(&f, &r), "long-header");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-long", "abcdefgh-ijkX");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_teardown(&f);
}

/* Regexes keep a literal-prefix prefilter; patterns where a naive prefix
 * would be wrong must still match. */
static void test_regex_prefilter(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: optional\n"
                  "    match: [{uri: {regex: '/opt?ional'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: star\n"
                  "    match: [{uri: {regex: '/star*'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: repeat\n"
                  "    match: [{uri: {regex: '/rep{0,2}x'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: alternation\n"
                  "    match: [{uri: {regex: '/alt|/other'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: caret\n"
                  "    match: [{uri: {regex: '^/caret/[0-9]+'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: plus\n"
                  "    match: [{uri: {regex: '/plus+x'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: escape\n"
                  "    match: [{uri: {regex: '/es\\.c'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: group\n"
                  "    match: [{uri: {regex: '/gr(oup)?/x'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: header\n"
                  "    match: [{headers: {x-c: {regex: 'c1-.*'}}}]\n"
                  "    route: [{destination: {host: svc}}]\n");
  assert_string_equal(rt_get(&f, "svc", "/opional"), "optional");
  assert_string_equal(rt_get(&f, "svc", "/optional"), "optional");
  assert_string_equal(rt_get(&f, "svc", "/sta"), "star");
  assert_string_equal(rt_get(&f, "svc", "/starrr"), "star");
  assert_string_equal(rt_get(&f, "svc", "/rex"), "repeat");
  assert_string_equal(rt_get(&f, "svc", "/reppx"), "repeat");
  assert_string_equal(rt_get(&f, "svc", "/other"), "alternation");
  assert_string_equal(rt_get(&f, "svc", "/alt"), "alternation");
  assert_string_equal(rt_get(&f, "svc", "/caret/7"), "caret");
  assert_string_equal(rt_get(&f, "svc", "/plussx"), "plus");
  assert_string_equal(rt_get(&f, "svc", "/plx"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/es.c"), "escape");
  assert_string_equal(rt_get(&f, "svc", "/esxc"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/gr/x"), "group");
  assert_string_equal(rt_get(&f, "svc", "/group/x"), "group");
  rt_req r;
  rt_req_init(&r, "svc", "/none");
  rt_req_header(&r, "x-c", "c1-");
  assert_string_equal(rt_route_name(&f, &r), "header");
  rt_req_init(&r, "svc", "/none");
  rt_req_header(&r, "x-c", "c1");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_teardown(&f);
}

static void test_scheme_method_authority(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: https\n"
                  "    match: [{scheme: {exact: https}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: post\n"
                  "    match: [{method: {exact: POST}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: put-or-patch\n"
                  "    match: [{method: {regex: 'P(UT|ATCH)'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: authority-port\n"
                  "    match: [{authority: {exact: 'svc:8080'}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: authority-prefix\n"
                  "    match: [{authority: {prefix: 'svc.default'}}]\n"
                  "    route: [{destination: {host: svc}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  r.in.scheme = "https";
  assert_string_equal(rt_route_name(&f, &r), "https");
  r.in.scheme = "HTTPS"; /* StringMatch is case-sensitive */
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  r.in.scheme = "http";
  r.in.method = "POST";
  assert_string_equal(rt_route_name(&f, &r), "post");
  r.in.method = "post";
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  r.in.method = "PATCH";
  assert_string_equal(rt_route_name(&f, &r), "put-or-patch");
  r.in.method = "PUT";
  assert_string_equal(rt_route_name(&f, &r), "put-or-patch");
  r.in.method = "PUTX";
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  r.in.method = "GET";
  /* Authority as sent, port included. */
  r.in.authority = "svc:8080";
  r.in.port = 8080;
  assert_string_equal(rt_route_name(&f, &r), "authority-port");
  r.in.authority = "svc";
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  r.in.authority = "svc.default.svc:80";
  r.in.host = "svc.default.svc";
  assert_string_equal(rt_route_name(&f, &r), "authority-prefix");
  rt_teardown(&f);
}

static void test_headers(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: exact\n"
                  "    match: [{headers: {X-User: {exact: alice}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: prefix\n"
                  "    match: [{headers: {x-group: {prefix: beta-}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: regex\n"
                  "    match: [{headers: {x-id: {regex: '[0-9]{3}'}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: present\n"
                  "    match: [{headers: {x-debug: {}}}]\n"
                  "    route: [{destination: {host: svc}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_req_header(&r, "x-user", "bob");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");

  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-user", "alice");
  assert_string_equal(rt_route_name(&f, &r), "exact");

  /* Several values: the first occurrence decides. */
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-user", "bob");
  rt_req_header(&r, "x-user", "alice");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");

  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-group", "beta-1");
  assert_string_equal(rt_route_name(&f, &r), "prefix");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-group", "beta");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-groups", "beta-1"); /* name must be equal */
  assert_string_equal(rt_route_name(&f, &r), "<NR>");

  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-id", "123");
  assert_string_equal(rt_route_name(&f, &r), "regex");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-id", "1234");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");

  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-debug", "");
  assert_string_equal(rt_route_name(&f, &r), "present");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-debug", "anything");
  assert_string_equal(rt_route_name(&f, &r), "present");
  rt_teardown(&f);
}

/* JWT claims, which an outbound call never carries, and the keys the API
 * says are ignored, which istiod matches as plain header names. */
static void test_special_header_keys(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: claim\n"
                  "    match: [{headers: {'@request.auth.claims.group': "
                  "{exact: admin}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: not-claim\n"
                  "    match:\n"
                  "    - uri: {prefix: /nc}\n"
                  "      withoutHeaders: {'@request.auth.claims.group': "
                  "{exact: admin}}\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: pseudo-key\n"
                  "    match: [{uri: {prefix: /pk}, headers: {method: "
                  "{exact: POST}}}]\n"
                  "    route: [{destination: {host: svc}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "@request.auth.claims.group", "admin");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/nc"), "not-claim");
  /* "method" as a header key is a header named "method", as istiod's
   * TranslateRouteMatch builds it: the request's method is not it. */
  assert_string_equal(rt_get(&f, "svc", "/pk"), "<NR>");
  rt_req_init(&r, "svc", "/pk");
  r.in.method = "POST";
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_req_header(&r, "method", "POST");
  assert_string_equal(rt_route_name(&f, &r), "pseudo-key");
  rt_teardown(&f);
}

/* A match that can never hold (a JWT claim) drops out of its rule's OR
 * and leaves the other matches; a claim negated holds and leaves the
 * rest of its match to decide. */
static void test_claim_in_or(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: claim-or-uri\n"
                  "    match:\n"
                  "    - headers: {'@request.auth.claims.sub': {prefix: a}}\n"
                  "    - uri: {prefix: /ok}\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: not-claim-and-header\n"
                  "    match:\n"
                  "    - withoutHeaders: {'@request.auth.claims.sub': {}}\n"
                  "      headers: {x-k: {exact: v}, authority: {exact: x}}\n"
                  "    route: [{destination: {host: svc}}]\n");
  assert_string_equal(rt_get(&f, "svc", "/ok"), "claim-or-uri");
  assert_string_equal(rt_get(&f, "svc", "/no"), "<NR>");
  rt_req r;
  rt_req_init(&r, "svc", "/no");
  rt_req_header(&r, "x-k", "v");
  /* "authority" is a header of that name, not the request's authority. */
  r.in.authority = "x";
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_req_header(&r, "authority", "x");
  assert_string_equal(rt_route_name(&f, &r), "not-claim-and-header");
  rt_teardown(&f);
}

/* Header values are cached per name and decision, in a fixed number of
 * slots; names beyond them share one slot that is looked up each time.
 * 64 rules test 64 header names: the last ones use that shared slot. */
static void test_many_header_names(void **state) {
  (void)state;
  enum { NAMES = 64 };
  char buf[16384];
  size_t off = (size_t)snprintf(buf, sizeof(buf),
                                "apiVersion: networking.istio.io/v1\n"
                                "kind: VirtualService\n"
                                "metadata: {name: svc, namespace: default}\n"
                                "spec:\n"
                                "  hosts: [svc]\n"
                                "  http:\n");
  for (int i = 0; i < NAMES; i++) {
    int n = snprintf(buf + off, sizeof(buf) - off,
                     "  - name: h%d\n"
                     "    match: [{headers: {x-h%d: {exact: v%d}}}]\n"
                     "    route: [{destination: {host: svc}}]\n",
                     i, i, i);
    assert_true(n > 0 && (size_t)n < sizeof(buf) - off);
    off += (size_t)n;
  }
  rt_fixture f;
  rt_setup(&f, "default", buf);
  rt_req r;
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-h1", "no");
  rt_req_header(&r, "x-h62", "no");
  rt_req_header(&r, "x-h63", "v63");
  /* x-h62 fails, then x-h63 must be looked up, not x-h62 reused. */
  assert_string_equal(rt_route_name(&f, &r), "h63");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-h63", "v63");
  rt_req_header(&r, "x-h5", "v5");
  assert_string_equal(rt_route_name(&f, &r), "h5");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-h62", "v63");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_teardown(&f);
}

static void test_without_headers(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: not-alice\n"
                  "    match: [{withoutHeaders: {x-user: {exact: alice}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: fallback\n"
                  "    route: [{destination: {host: svc}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/");
  assert_string_equal(rt_route_name(&f, &r), "not-alice"); /* missing */
  rt_req_header(&r, "x-user", "alice");
  assert_string_equal(rt_route_name(&f, &r), "fallback");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-user", "bob");
  assert_string_equal(rt_route_name(&f, &r), "not-alice");
  rt_teardown(&f);

  /* A missing header counts as "" (treat_missing_header_as_empty), but a
   * presence match only looks at existence. */
  setup_rules(&f, "  - name: not-empty\n"
                  "    match: [{withoutHeaders: {x-tag: {exact: ''}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: not-present\n"
                  "    match: [{withoutHeaders: {x-debug: {}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: not-prefixed\n"
                  "    match: [{withoutHeaders: {x-debug: {prefix: 'on'}}}]\n"
                  "    route: [{destination: {host: svc}}]\n");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-tag", "t");
  assert_string_equal(rt_route_name(&f, &r), "not-empty");
  rt_req_init(&r, "svc", "/");
  /* x-tag missing = "" -> first rule fails; x-debug absent -> second. */
  assert_string_equal(rt_route_name(&f, &r), "not-present");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-debug", "off");
  assert_string_equal(rt_route_name(&f, &r), "not-prefixed");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-debug", "on");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_teardown(&f);
}

static void test_query_params(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: exact\n"
                  "    match: [{queryParams: {mode: {exact: fast}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: flag\n"
                  "    match: [{queryParams: {debug: {exact: ''}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: prefix\n"
                  "    match: [{queryParams: {v: {prefix: '2'}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: regex\n"
                  "    match: [{queryParams: {id: {regex: '\\d+'}}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: raw\n"
                  "    match: [{queryParams: {name: {exact: 'a%20b'}}}]\n"
                  "    route: [{destination: {host: svc}}]\n");
  assert_string_equal(rt_get(&f, "svc", "/"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/?mode=fast"), "exact");
  assert_string_equal(rt_get(&f, "svc", "/?x=1&mode=fast&y"), "exact");
  assert_string_equal(rt_get(&f, "svc", "/?mode=faster"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/?xmode=fast"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/?mode=slow&mode=fast"), "<NR>");
  /* "?debug" and "?debug=" both carry the empty value. */
  assert_string_equal(rt_get(&f, "svc", "/?debug"), "flag");
  assert_string_equal(rt_get(&f, "svc", "/?a=1&debug"), "flag");
  assert_string_equal(rt_get(&f, "svc", "/?debug=&a=1"), "flag");
  assert_string_equal(rt_get(&f, "svc", "/?debug=1"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/?v=2.1"), "prefix");
  assert_string_equal(rt_get(&f, "svc", "/?v=12"), "<NR>");
  /* Full match: \d+ matches 123, not a123 or 123a. */
  assert_string_equal(rt_get(&f, "svc", "/?id=123"), "regex");
  assert_string_equal(rt_get(&f, "svc", "/?id=a123"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/?id=123a"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/?id="), "<NR>");
  /* No percent-decoding. */
  assert_string_equal(rt_get(&f, "svc", "/?name=a%20b"), "raw");
  assert_string_equal(rt_get(&f, "svc", "/?name=a b"), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/?&&name=a%20b&"), "raw");
  rt_teardown(&f);
}

static void test_port_and_source(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: port\n"
                  "    match: [{port: 9080}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: labels\n"
                  "    match: [{sourceLabels: {app: web, version: v2}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: namespace\n"
                  "    match: [{sourceNamespace: frontend}]\n"
                  "    route: [{destination: {host: svc}}]\n");
  /* Every match filtered out for this client and port: no route from
   * the VirtualService ("<none>"), as istiod builds it. */
  rt_req r;
  rt_req_init(&r, "svc", "/");
  assert_string_equal(rt_route_name(&f, &r), "<none>");
  r.in.port = 9080;
  assert_string_equal(rt_route_name(&f, &r), "port");
  r.in.port = 80;
  rt_req_label(&r, "app", "web");
  assert_string_equal(rt_route_name(&f, &r), "<none>"); /* version missing */
  rt_req_label(&r, "version", "v1");
  assert_string_equal(rt_route_name(&f, &r), "<none>");
  r.labels[1].value = "v2";
  assert_string_equal(rt_route_name(&f, &r), "labels");
  rt_req_label(&r, "extra", "x"); /* a superset still matches */
  assert_string_equal(rt_route_name(&f, &r), "labels");
  rt_req_init(&r, "svc", "/");
  r.in.source_namespace = "frontend";
  assert_string_equal(rt_route_name(&f, &r), "namespace");
  r.in.source_namespace = NULL;
  assert_string_equal(rt_route_name(&f, &r), "<none>");
  rt_teardown(&f);
}

static void test_and_or_order(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: and\n"
                  "    match:\n"
                  "    - uri: {prefix: /a}\n"
                  "      method: {exact: POST}\n"
                  "      headers: {x-k: {exact: v}}\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: or\n"
                  "    match:\n"
                  "    - uri: {prefix: /b}\n"
                  "    - headers: {x-k: {exact: w}}\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: first\n"
                  "    match: [{uri: {prefix: /c}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: second\n"
                  "    match: [{uri: {prefix: /c}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: catch-all\n"
                  "    match: [{uri: {prefix: /}}]\n"
                  "    route: [{destination: {host: svc}}]\n"
                  "  - name: unreachable\n"
                  "    route: [{destination: {host: svc}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/a");
  r.in.method = "POST";
  rt_req_header(&r, "x-k", "v");
  assert_string_equal(rt_route_name(&f, &r), "and");
  r.in.method = "GET"; /* one condition fails: the whole match fails */
  assert_string_equal(rt_route_name(&f, &r), "catch-all");
  r.in.method = "POST";
  r.in.path = "/z";
  assert_string_equal(rt_route_name(&f, &r), "catch-all");

  assert_string_equal(rt_get(&f, "svc", "/b"), "or");
  rt_req_init(&r, "svc", "/z");
  rt_req_header(&r, "x-k", "w");
  assert_string_equal(rt_route_name(&f, &r), "or");
  assert_string_equal(rt_get(&f, "svc", "/c"), "first");
  ml_route_result res;
  rt_req_init(&r, "svc", "/c");
  res = rt_decide(&f, &r);
  assert_int_equal(res.route_index, 2);
  rt_req_init(&r, "svc", "/zzz");
  res = rt_decide(&f, &r);
  assert_int_equal(res.route_index, 4);
  rt_teardown(&f);
}

static void test_no_route(void **state) {
  (void)state;
  rt_fixture f;
  setup_rules(&f, "  - name: only\n"
                  "    match: [{uri: {exact: /only}}]\n"
                  "    route: [{destination: {host: svc}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/other");
  ml_route_result res = rt_decide(&f, &r);
  assert_non_null(res.vs);
  assert_string_equal(res.vs->meta.name, "svc");
  assert_string_equal(res.host_fqdn, "svc.default.svc.cluster.local");
  assert_null(res.route);
  assert_int_equal(res.route_index, -1);
  assert_int_equal(res.flags, MESHLIB_RF_NR);
  /* A host without a VirtualService is the caller's to route. */
  rt_req_init(&r, "unknown", "/only");
  res = rt_decide(&f, &r);
  assert_null(res.vs);
  assert_null(res.route);
  assert_null(res.host_fqdn);
  assert_int_equal(res.route_index, -1);
  assert_int_equal(res.flags, 0);
  /* Bad arguments. */
  assert_int_equal(ml_route_decide(f.table, NULL, &res),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(ml_route_decide(f.table, &r.in, NULL),
                   MESHLIB_ERR_INVALID_ARG);
  rt_teardown(&f);
}

static void test_gateways(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "default",
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: gw-only, namespace: default}\n"
           "spec:\n"
           "  hosts: [a]\n"
           "  gateways: [istio-system/ingress]\n"
           "  http: [{name: gw, route: [{destination: {host: a}}]}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: gw-and-mesh, namespace: default}\n"
           "spec:\n"
           "  hosts: [b]\n"
           "  gateways: [istio-system/ingress, mesh]\n"
           "  http:\n"
           "  - name: gw-match\n"
           "    match: [{uri: {prefix: /}, gateways: [istio-system/ingress]}]\n"
           "    route: [{destination: {host: b}}]\n"
           "  - name: mixed\n"
           "    match:\n"
           "    - {uri: {prefix: /x}, gateways: [istio-system/ingress]}\n"
           "    - {uri: {prefix: /y}, gateways: [mesh]}\n"
           "    route: [{destination: {host: b}}]\n"
           "  - name: mesh-route\n"
           "    route: [{destination: {host: b}}]\n");
  assert_string_equal(rt_get(&f, "a", "/"), "<none>");
  assert_string_equal(rt_get(&f, "b", "/"), "mesh-route");
  assert_string_equal(rt_get(&f, "b", "/x"), "mesh-route");
  assert_string_equal(rt_get(&f, "b", "/y"), "mixed");
  rt_req r;
  rt_req_init(&r, "b", "/");
  assert_int_equal(rt_decide(&f, &r).route_index, 2);
  rt_teardown(&f);
}

static void test_export_to(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "default",
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: private, namespace: team}\n"
           "spec:\n"
           "  hosts: [a]\n"
           "  exportTo: [.]\n"
           "  http: [{name: private, route: [{destination: {host: a}}]}]\n");
  assert_string_equal(rt_get(&f, "a.team", "/"), "<none>");
  rt_build(&f, "team");
  assert_string_equal(rt_get(&f, "a", "/"), "private");
  rt_teardown(&f);
}

static void test_conflicting_hosts_first_wins(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "default",
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: first, namespace: default}\n"
           "spec:\n"
           "  hosts: [shared]\n"
           "  http: [{name: first, route: [{destination: {host: shared}}]}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: second, namespace: default}\n"
           "spec:\n"
           "  hosts: [shared.default.svc.cluster.local, own]\n"
           "  http: [{name: second, route: [{destination: {host: own}}]}]\n");
  assert_string_equal(rt_get(&f, "shared", "/"), "first");
  assert_string_equal(rt_get(&f, "shared.default.svc.cluster.local", "/"),
                      "first");
  /* The loser keeps the hosts nobody else claimed. */
  assert_string_equal(rt_get(&f, "own", "/"), "second");
  rt_teardown(&f);
}

/* ---- the seed example ------------------------------------------------ */

static void test_seed_routing(void **state) {
  (void)state;
  rt_fixture f;
  memset(&f, 0, sizeof(f));
  f.config = ml_config_new(NULL);
  assert_non_null(f.config);
  ml_load_opts o = {"cluster.local", 0};
  ml_diags d;
  ml_diags_init(&d, NULL);
  assert_int_equal(
      ml_config_load_path(
          f.config, MESHLIB_TEST_DATA "/virtualservice-routing.yaml", &o, &d),
      MESHLIB_OK);
  /* pendingRequests is unknown: a warning, not an error. */
  (void)ml_config_load_path(f.config, MESHLIB_TEST_DATA "/destinationrule.yaml",
                            &o, &d);
  assert_int_equal(d.errors, 0);
  ml_diags_free(&d);
  rt_build(&f, "production");

  rt_req r;
  rt_req_init(&r, "myapp", "/api/v1/users");
  rt_req_header(&r, "x-user-group", "beta");
  ml_route_result res = rt_decide(&f, &r);
  assert_non_null(res.route);
  assert_string_equal(res.route->name, "canary-users");
  assert_int_equal(res.route->route_count, 1);
  assert_string_equal(res.route->route[0].destination.subset, "v2");
  assert_string_equal(res.route->route[0].destination.fqdn,
                      "myapp.production.svc.cluster.local");

  rt_req_init(&r, "myapp", "/api/v1/users");
  res = rt_decide(&f, &r);
  assert_non_null(res.route);
  assert_string_equal(res.route->name, "api-v1");
  assert_string_equal(res.route->route[0].destination.subset, "v1");
  assert_int_equal(res.route->timeout_ms, 3000);
  assert_non_null(res.route->retries);
  assert_int_equal(res.route->retries->attempts, 3);
  assert_int_equal(res.route->retries->per_try_timeout_ms, 1000);

  rt_req_init(&r, "myapp", "/other");
  res = rt_decide(&f, &r);
  assert_non_null(res.route);
  assert_string_equal(res.route->name, "default");
  assert_string_equal(res.route->route[0].destination.subset, "v1");
  assert_int_equal(res.route->timeout_ms, -1);

  /* The DestinationRule view of the destination. */
  const ml_dr_view *v =
      ml_route_table_find_dr(f.table, res.route->route[0].destination.fqdn);
  assert_non_null(v);
  assert_string_equal(v->first->meta.name, "myapp");
  assert_non_null(v->traffic_policy);
  assert_int_equal(v->traffic_policy->load_balancer.simple, ML_LB_LEAST_CONN);
  const ml_subset *v2 = ml_dr_view_subset(v, "v2");
  assert_non_null(v2);
  assert_non_null(v2->traffic_policy);
  assert_int_equal(v2->traffic_policy->load_balancer.simple, ML_LB_ROUND_ROBIN);
  assert_non_null(ml_dr_view_subset(v, "v1"));
  assert_null(ml_dr_view_subset(v, "v3"));
  assert_true(ml_route_table_bytes(f.table) > 0);
  rt_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_forms_same_namespace),
      cmocka_unit_test(test_host_forms_other_namespace),
      cmocka_unit_test(test_host_non_kubernetes),
      cmocka_unit_test(test_exact_beats_wildcard),
      cmocka_unit_test(test_catch_all_host),
      cmocka_unit_test(test_uri_match),
      cmocka_unit_test(test_long_values),
      cmocka_unit_test(test_regex_prefilter),
      cmocka_unit_test(test_scheme_method_authority),
      cmocka_unit_test(test_headers),
      cmocka_unit_test(test_special_header_keys),
      cmocka_unit_test(test_claim_in_or),
      cmocka_unit_test(test_many_header_names),
      cmocka_unit_test(test_without_headers),
      cmocka_unit_test(test_query_params),
      cmocka_unit_test(test_port_and_source),
      cmocka_unit_test(test_and_or_order),
      cmocka_unit_test(test_no_route),
      cmocka_unit_test(test_gateways),
      cmocka_unit_test(test_export_to),
      cmocka_unit_test(test_conflicting_hosts_first_wins),
      cmocka_unit_test(test_seed_routing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
