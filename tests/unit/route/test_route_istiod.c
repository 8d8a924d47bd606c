/* SPDX-License-Identifier: MIT */
/* The router against istiod's route translation for a sidecar
 * (pilot/pkg/networking/core/route/route.go): which matches exist for a
 * client and a port, and what is left when none does. Cases named
 * "istio: ..." port the expectations of route_test.go's case of that
 * name. */
#include "route_test_util.h"

#include <stdio.h>

static void setup_vs(rt_fixture *f, const char *client_ns, const char *rules) {
  char buf[8192];
  int n = snprintf(buf, sizeof(buf),
                   "apiVersion: networking.istio.io/v1\n"
                   "kind: VirtualService\n"
                   "metadata: {name: acme, namespace: default}\n"
                   "spec:\n"
                   "  hosts: [svc]\n"
                   "  http:\n%s",
                   rules);
  assert_true(n > 0 && (size_t)n < sizeof(buf));
  rt_setup(f, client_ns, buf);
}

/* istio: "for virtual service with catch all route：port match". On port
 * 8080 only "route 1" is built (a catch-all for that port); on another
 * port its match does not exist and the others decide. */
static void test_istio_catch_all_port_match(void **state) {
  (void)state;
  rt_fixture f;
  setup_vs(
      &f, "default",
      "  - name: route 1\n"
      "    match: [{name: catch-all for 8080, port: 8080}]\n"
      "    route: [{destination: {host: example1, port: {number: 8484}}}]\n"
      "  - name: route 2\n"
      "    match: [{name: header match, headers: {cookie: {exact: "
      "canary}}}]\n"
      "    route: [{destination: {host: example2, port: {number: 8484}}}]\n"
      "  - name: route 3\n"
      "    route: [{destination: {host: example1, port: {number: "
      "8484}}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/");
  r.in.port = 8080;
  rt_req_header(&r, "cookie", "canary");
  assert_string_equal(rt_route_name(&f, &r), "route 1");
  assert_int_equal(rt_decide(&f, &r).match_index, 0);
  r.in.port = 9090;
  assert_string_equal(rt_route_name(&f, &r), "route 2");
  r.in.header_count = 0;
  assert_string_equal(rt_route_name(&f, &r), "route 3");
  assert_int_equal(rt_decide(&f, &r).match_index, -1);
  rt_teardown(&f);
}

/* istio: "for virtual service with source namespace matching". A client
 * in foo gets only "foo", one in bar only "bar"; one in neither gets no
 * route from the VirtualService, so the host's default route. */
static void test_istio_source_namespace_matching(void **state) {
  (void)state;
  rt_fixture f;
  setup_vs(&f, "default",
           "  - name: foo\n"
           "    match: [{sourceNamespace: foo}]\n"
           "    route: [{destination: {host: foo.example.org, port: "
           "{number: 8484}}, weight: 100}]\n"
           "  - name: bar\n"
           "    match: [{sourceNamespace: bar}]\n"
           "    route: [{destination: {host: bar.example.org, port: "
           "{number: 8484}}, weight: 100}]\n");
  rt_req r;
  rt_req_init(&r, "svc.default", "/");
  r.in.source_namespace = "foo";
  assert_string_equal(rt_route_name(&f, &r), "foo");
  r.in.source_namespace = "bar";
  assert_string_equal(rt_route_name(&f, &r), "bar");
  r.in.source_namespace = "baz";
  assert_string_equal(rt_route_name(&f, &r), "<none>");
  rt_teardown(&f);
}

/* Every rule filtered out by sourceLabels, sourceNamespace or port: no
 * route from the VirtualService (BuildHTTPRoutesForVirtualService: "no
 * routes matched"), and the host keeps its default route. One match left
 * for the client and port: its VirtualService applies, NR included. */
static void test_all_rules_filtered_default_route(void **state) {
  (void)state;
  rt_fixture f;
  setup_vs(&f, "default",
           "  - name: port\n"
           "    match: [{port: 9080, uri: {prefix: /p}}]\n"
           "    route: [{destination: {host: other}}]\n"
           "  - name: labels\n"
           "    match: [{sourceLabels: {app: web}, uri: {prefix: /l}}]\n"
           "    route: [{destination: {host: other}}]\n"
           "  - name: namespace\n"
           "    match:\n"
           "    - {sourceNamespace: frontend, uri: {prefix: /n}}\n"
           "    - {sourceNamespace: edge, port: 8080}\n"
           "    route: [{destination: {host: other}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/x");
  ml_route_result res = rt_decide(&f, &r);
  assert_null(res.vs);
  assert_null(res.host_fqdn);
  assert_int_equal(res.flags, 0);
  assert_int_equal(res.match_index, -1);
  /* The port's match exists on 9080: it does not hold for /x, NR. */
  r.in.port = 9080;
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  r.in.path = "/p";
  assert_string_equal(rt_route_name(&f, &r), "port");
  /* The labels select the client: that match exists. */
  rt_req_init(&r, "svc", "/x");
  rt_req_label(&r, "app", "web");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  r.in.path = "/l";
  assert_string_equal(rt_route_name(&f, &r), "labels");
  /* Namespace and port together: edge on 8080 picks the second match. */
  rt_req_init(&r, "svc", "/x");
  r.in.source_namespace = "edge";
  assert_string_equal(rt_route_name(&f, &r), "<none>");
  r.in.port = 8080;
  assert_string_equal(rt_route_name(&f, &r), "namespace");
  assert_int_equal(rt_decide(&f, &r).match_index, 1);
  r.in.source_namespace = "frontend";
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_teardown(&f);
}

/* A VirtualService without http rules, or whose matches are all bound to
 * gateways, builds no sidecar route either. A rule matching a JWT claim
 * is built (it never matches on an outbound call): NR. */
static void test_no_sidecar_route_left(void **state) {
  (void)state;
  rt_fixture f;
  rt_setup(&f, "default",
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: gw-matches, namespace: default}\n"
           "spec:\n"
           "  hosts: [a]\n"
           "  http:\n"
           "  - name: gw\n"
           "    match: [{gateways: [istio-system/ingress]}]\n"
           "    route: [{destination: {host: a}}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: tcp-only, namespace: default}\n"
           "spec:\n"
           "  hosts: [b]\n"
           "  tcp: [{route: [{destination: {host: b}}]}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: claim, namespace: default}\n"
           "spec:\n"
           "  hosts: [c]\n"
           "  http:\n"
           "  - name: claim\n"
           "    match: [{headers: {'@request.auth.claims.sub': {exact: x}}, "
           "sourceNamespace: default}]\n"
           "    route: [{destination: {host: c}}]\n"
           "  - name: claim-other-ns\n"
           "    match: [{headers: {'@request.auth.claims.sub': {exact: x}}, "
           "sourceNamespace: other}]\n"
           "    route: [{destination: {host: c}}]\n");
  assert_string_equal(rt_get(&f, "a", "/"), "<none>");
  assert_string_equal(rt_get(&f, "b", "/"), "<none>");
  assert_string_equal(rt_get(&f, "c", "/"), "<NR>");
  rt_req r;
  rt_req_init(&r, "c", "/");
  r.in.source_namespace = "third";
  assert_string_equal(rt_route_name(&f, &r), "<none>");
  rt_teardown(&f);
}

/* istiod's sourceMatchHTTP: a match that names gateways (mesh among
 * them) holds for every sidecar; its sourceLabels and sourceNamespace
 * are not looked at. */
static void test_mesh_gateway_match_ignores_source(void **state) {
  (void)state;
  rt_fixture f;
  setup_vs(&f, "default",
           "  - name: mesh\n"
           "    match: [{gateways: [mesh], sourceLabels: {app: web}, "
           "sourceNamespace: frontend, uri: {prefix: /m}}]\n"
           "    route: [{destination: {host: other}}]\n"
           "  - name: plain\n"
           "    match: [{sourceLabels: {app: web}, uri: {prefix: /m}}]\n"
           "    route: [{destination: {host: other}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/m");
  assert_string_equal(rt_route_name(&f, &r), "mesh");
  r.in.path = "/x";
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_teardown(&f);
}

/* A header sent several times is matched as one value, the values joined
 * by ',' in order, as Envoy's header matchers see it (CVE-2020-25017):
 * for headers and withoutHeaders, cached and scratch slots alike. */
static void test_repeated_header_joined(void **state) {
  (void)state;
  rt_fixture f;
  setup_vs(&f, "default",
           "  - name: joined\n"
           "    match: [{headers: {x-a: {exact: 'one,two'}}}]\n"
           "    route: [{destination: {host: other}}]\n"
           "  - name: regex\n"
           "    match: [{headers: {x-b: {regex: 'b1,.*,b3'}}}]\n"
           "    route: [{destination: {host: other}}]\n"
           "  - name: not-first\n"
           "    match: [{withoutHeaders: {x-c: {exact: c1}}, uri: {prefix: "
           "/c}}]\n"
           "    route: [{destination: {host: other}}]\n"
           "  - name: first\n"
           "    match: [{headers: {x-a: {exact: one}}}]\n"
           "    route: [{destination: {host: other}}]\n");
  rt_req r;
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-a", "one");
  assert_string_equal(rt_route_name(&f, &r), "first");
  rt_req_header(&r, "X-A", "two");
  assert_string_equal(rt_route_name(&f, &r), "joined");
  rt_req_header(&r, "x-a", "three");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-b", "b1");
  rt_req_header(&r, "x-other", "o");
  rt_req_header(&r, "x-b", "b2");
  rt_req_header(&r, "x-b", "b3");
  assert_string_equal(rt_route_name(&f, &r), "regex");
  rt_req_init(&r, "svc", "/c");
  rt_req_header(&r, "x-c", "c1");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  rt_req_header(&r, "x-c", "c2"); /* "c1,c2" is not "c1" */
  assert_string_equal(rt_route_name(&f, &r), "not-first");
  /* Values too long to join in the decision's room: the first decides. */
  static char big[1500];
  memset(big, 'z', sizeof(big) - 1);
  rt_req_init(&r, "svc", "/");
  rt_req_header(&r, "x-a", "one");
  rt_req_header(&r, "x-a", big);
  rt_req_header(&r, "x-a", big);
  assert_string_equal(rt_route_name(&f, &r), "first");
  rt_teardown(&f);
}

/* istio: "for virtual service with presence matching on header",
 * "... presence matching on header and without_header", "... regex
 * matching for all cases on header" and "... regex matching for all cases
 * on query parameter": `{}`, a null withoutHeaders value and `regex: "*"`
 * are presence matches (a missing header is not ""), on a header name
 * written in capitals. */
static void test_istio_presence_matches(void **state) {
  (void)state;
  rt_fixture f;
  setup_vs(&f, "default",
           "  - name: present\n"
           "    match: [{name: presence, uri: {prefix: /a}, headers: "
           "{FOO-HEADER: {}}}]\n"
           "    route: [{destination: {host: other}}]\n"
           "  - name: absent\n"
           "    match: [{uri: {prefix: /b}, withoutHeaders: {FOO-HEADER: "
           "null}}]\n"
           "    route: [{destination: {host: other}}]\n"
           "  - name: star\n"
           "    match: [{uri: {prefix: /c}, headers: {FOO-HEADER: {regex: "
           "'*'}}}]\n"
           "    route: [{destination: {host: other}}]\n"
           "  - name: query-star\n"
           "    match: [{uri: {prefix: /d}, queryParams: {token: {regex: "
           "'*'}}}]\n"
           "    route: [{destination: {host: other}}]\n");
  rt_req r;
  const char *paths[] = {"/a", "/c"};
  const char *names[] = {"present", "star"};
  for (size_t i = 0; i < 2; i++) {
    rt_req_init(&r, "svc", paths[i]);
    assert_string_equal(rt_route_name(&f, &r), "<NR>");
    rt_req_header(&r, "foo-header", "");
    assert_string_equal(rt_route_name(&f, &r), names[i]);
  }
  rt_req_init(&r, "svc", "/b");
  assert_string_equal(rt_route_name(&f, &r), "absent");
  rt_req_header(&r, "Foo-Header", "");
  assert_string_equal(rt_route_name(&f, &r), "<NR>");
  assert_string_equal(rt_get(&f, "svc", "/d?token"), "query-star");
  assert_string_equal(rt_get(&f, "svc", "/d?token=x&a=b"), "query-star");
  assert_string_equal(rt_get(&f, "svc", "/d?a=token"), "<NR>");
  rt_teardown(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_istio_catch_all_port_match),
      cmocka_unit_test(test_istio_source_namespace_matching),
      cmocka_unit_test(test_all_rules_filtered_default_route),
      cmocka_unit_test(test_no_sidecar_route_left),
      cmocka_unit_test(test_mesh_gateway_match_ignores_source),
      cmocka_unit_test(test_repeated_header_joined),
      cmocka_unit_test(test_istio_presence_matches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
