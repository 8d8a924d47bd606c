/* SPDX-License-Identifier: MIT */
/* What the loader refuses because Istio refuses it, each reported at
 * file:line:column with its field path: hosts, destinations, header
 * operations, ServiceEntry resolution rules, durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/load.h"
#include "meshlib/error.h"
#include "meshlib/mesh.h"

typedef struct fixture {
  ml_config *c;
  ml_diags d;
  int rc;
} fixture;

static const ml_load_opts kLenient = {"cluster.local", 0};
static const ml_load_opts kStrict = {"cluster.local", 1};

static void load(fixture *f, const char *yaml, const ml_load_opts *o) {
  f->c = ml_config_new(NULL);
  assert_non_null(f->c);
  ml_diags_init(&f->d, NULL);
  f->rc = ml_config_load_string(f->c, "t.yaml", yaml, strlen(yaml), o, &f->d);
}

static void done(fixture *f) {
  ml_diags_free(&f->d);
  ml_config_free(f->c);
}

static size_t count_level(const fixture *f, int level) {
  size_t n = 0;
  for (size_t i = 0; i < f->d.count; i++)
    n += f->d.items[i]->level == level;
  return n;
}

static void dump(const fixture *f) {
  for (size_t i = 0; i < f->d.count; i++)
    print_message("  diag[%zu] level %d: %s\n", i, f->d.items[i]->level,
                  f->d.items[i]->text);
}

/* An error whose text is exactly |text| (file:line:col: path: message). */
static void expect_error(const fixture *f, const char *text) {
  for (size_t i = 0; i < f->d.count; i++)
    if (f->d.items[i]->level == MESHLIB_LEVEL_ERROR &&
        strcmp(f->d.items[i]->text, text) == 0)
      return;
  print_message("missing error: %s\n", text);
  dump(f);
  fail();
}

static void expect_clean(const fixture *f) {
  if (f->rc != MESHLIB_OK || f->d.count) {
    dump(f);
    fail();
  }
}

#define VS                                                                     \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: VirtualService\n"                                                     \
  "metadata: {name: t, namespace: default}\n"                                  \
  "spec:\n"
#define SE                                                                     \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: ServiceEntry\n"                                                       \
  "metadata: {name: t, namespace: default}\n"                                  \
  "spec:\n"

/* hosts: ["*"] bound to the mesh: refused in strict mode; a warning in
 * lenient mode while route tests still use it. */
static void test_mesh_wildcard_host(void **state) {
  (void)state;
  const char *y = VS "  hosts: ['*']\n"
                     "  http: [{route: [{destination: {host: a.b}}]}]\n";
  fixture f;
  load(&f, y, &kStrict);
  assert_int_not_equal(f.rc, MESHLIB_OK);
  expect_error(&f, "t.yaml:5:11: spec.hosts[0]: wildcard host \"*\" is not "
                   "allowed for virtual services bound to the mesh");
  done(&f);
  load(&f, y, &kLenient);
  assert_int_equal(f.rc, MESHLIB_OK);
  assert_int_equal(count_level(&f, MESHLIB_LEVEL_WARNING), 1);
  done(&f);
  /* bound to a gateway only: fine */
  load(&f,
       VS "  hosts: ['*']\n  gateways: [ns/gw]\n"
          "  http: [{route: [{destination: {host: a.b}}]}]\n",
       &kStrict);
  expect_clean(&f);
  done(&f);
}

static void test_destination_hosts(void **state) {
  (void)state;
  fixture f;
  load(&f,
       VS "  hosts: [a.b]\n"
          "  http:\n"
          "  - route:\n"
          "    - destination: {host: 'foo.*'}\n"
          "    - destination: {host: default/baz}\n"
          "      weight: 1\n",
       &kLenient);
  assert_int_not_equal(f.rc, MESHLIB_OK);
  expect_error(&f, "t.yaml:8:27: spec.http[0].route[0].destination.host: "
                   "destination host \"foo.*\" is invalid (label \"*\" "
                   "invalid)");
  expect_error(&f, "t.yaml:9:27: spec.http[0].route[1].destination.host: "
                   "destination host \"default/baz\" is invalid (label "
                   "\"default/baz\" invalid)");
  done(&f);
}

static void test_header_operations(void **state) {
  (void)state;
  fixture f;
  load(&f,
       VS "  hosts: [a.b]\n"
          "  http:\n"
          "  - route: [{destination: {host: a.b}}]\n"
          "    headers:\n"
          "      request:\n"
          "        set: {'': x, ok: '100%'}\n"
          "        remove: [host]\n"
          "      response:\n"
          "        add: {b: 'abc%123', c: '100%%', d: '%HOSTNAME%'}\n",
       &kLenient);
  assert_int_not_equal(f.rc, MESHLIB_OK);
  expect_error(&f, "t.yaml:10:15: spec.http[0].headers.request.set.: header "
                   "name must not be empty");
  expect_error(&f, "t.yaml:10:26: spec.http[0].headers.request.set.ok: "
                   "header value \"100%\" has an unescaped '%' (write "
                   "\"%%\")");
  expect_error(&f, "t.yaml:11:18: spec.http[0].headers.request.remove[0]: "
                   "header \"host\" cannot be set or removed (Host)");
  expect_error(&f, "t.yaml:13:18: spec.http[0].headers.response.add.b: "
                   "header value \"abc%123\" has an unterminated variable or "
                   "unescaped '%' (write \"%%\" for a percent sign)");
  assert_int_equal(count_level(&f, MESHLIB_LEVEL_ERROR), 4);
  done(&f);
  /* "%%" is Envoy's escape: the value sent is "100%". */
  load(&f,
       VS "  hosts: [a.b]\n"
          "  http:\n"
          "  - route: [{destination: {host: a.b}}]\n"
          "    headers: {request: {set: {c: '100%%', v: '%HOSTNAME%'}}}\n",
       &kStrict);
  expect_clean(&f);
  const ml_kv_list *set =
      &f.c->virtual_services[0]->http[0].headers.request.set;
  assert_int_equal(set->count, 2);
  assert_string_equal(set->items[0].value, "100%");
  assert_string_equal(set->items[1].value, "%HOSTNAME%");
  done(&f);
}

static void test_service_entry_resolution(void **state) {
  (void)state;
  fixture f;
  load(&f,
       SE "  hosts: [a.example.com]\n"
          "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
          "  resolution: NONE\n"
          "  endpoints: [{address: 1.2.3.4}]\n",
       &kLenient);
  expect_error(&f, "t.yaml:8:14: spec.endpoints: no endpoints may be given "
                   "with resolution NONE");
  done(&f);
  load(&f,
       SE "  hosts: [a.example.com]\n"
          "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
          "  resolution: DNS_ROUND_ROBIN\n"
          "  endpoints: [{address: a.example.com}, {address: b.example.com}]\n",
       &kLenient);
  expect_error(&f, "t.yaml:8:14: spec.endpoints: resolution DNS_ROUND_ROBIN "
                   "takes at most one endpoint");
  done(&f);
  load(&f,
       SE "  hosts: [a.example.com]\n"
          "  ports:\n"
          "  - {number: 80, name: http, protocol: HTTP}\n"
          "  - {number: 80, name: http2, protocol: HTTP}\n"
          "  resolution: DNS\n",
       &kLenient);
  expect_error(&f, "t.yaml:8:14: spec.ports[1].number: port 80 is already "
                   "defined");
  assert_int_equal(count_level(&f, MESHLIB_LEVEL_ERROR), 1);
  done(&f);
}

static void test_host_length(void **state) {
  (void)state;
  fixture f;
  /* 8 MB of host name */
  size_t n = (size_t)8 << 20;
  const char *head = VS "  hosts: [";
  const char *tail = "]\n  http: [{route: [{destination: {host: a.b}}]}]\n";
  char *y = malloc(strlen(head) + n + strlen(tail) + 1);
  assert_non_null(y);
  strcpy(y, head);
  memset(y + strlen(head), 'a', n);
  strcpy(y + strlen(head) + n, tail);
  load(&f, y, &kLenient);
  free(y);
  assert_int_not_equal(f.rc, MESHLIB_OK);
  assert_int_equal(count_level(&f, MESHLIB_LEVEL_ERROR), 1);
  assert_non_null(strstr(f.d.items[0]->text, "t.yaml:5:11: spec.hosts[0]: "
                                             "host \"aaaa"));
  assert_non_null(strstr(f.d.items[0]->text,
                         "...\" is invalid (longer than 255 characters)"));
  done(&f);
  /* a 64-character label; 63 is the most */
  char label[65];
  memset(label, 'b', 64);
  label[64] = '\0';
  char buf[512];
  snprintf(buf, sizeof(buf),
           VS "  hosts: [%s.example.com]\n"
              "  http: [{route: [{destination: {host: a.b}}]}]\n",
           label);
  load(&f, buf, &kLenient);
  assert_int_not_equal(f.rc, MESHLIB_OK);
  done(&f);
  snprintf(buf, sizeof(buf),
           VS "  hosts: [%.63s.example.com]\n"
              "  http: [{route: [{destination: {host: a.b}}]}]\n",
           label);
  load(&f, buf, &kStrict);
  expect_clean(&f);
  done(&f);
}

static void test_durations(void **state) {
  (void)state;
  fixture f;
  load(&f,
       VS "  hosts: [a.b]\n"
          "  http:\n"
          "  - route: [{destination: {host: a.b}}]\n"
          "    timeout: 0s\n"
          "    retries: {attempts: 2, perTryTimeout: 500us}\n"
          "  - route: [{destination: {host: a.b}}]\n"
          "    timeout: 1.5ms\n",
       &kLenient);
  assert_int_not_equal(f.rc, MESHLIB_OK);
  expect_error(&f, "t.yaml:8:14: spec.http[0].timeout: duration must be at "
                   "least 1ms");
  expect_error(&f, "t.yaml:9:43: spec.http[0].retries.perTryTimeout: "
                   "duration must be at least 1ms");
  expect_error(&f, "t.yaml:11:14: spec.http[1].timeout: only durations to ms "
                   "precision are supported");
  done(&f);
  /* 0.75 s is exactly 750 ms (it used to load as 751) */
  load(&f,
       VS "  hosts: [a.b]\n"
          "  http:\n"
          "  - route: [{destination: {host: a.b}}]\n"
          "    timeout: 0.75s\n"
          "    retries: {attempts: 2, perTryTimeout: 0.75s}\n",
       &kStrict);
  expect_clean(&f);
  assert_int_equal(f.c->virtual_services[0]->http[0].timeout_ms, 750);
  assert_int_equal(
      f.c->virtual_services[0]->http[0].retries->per_try_timeout_ms, 750);
  done(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mesh_wildcard_host),
      cmocka_unit_test(test_destination_hosts),
      cmocka_unit_test(test_header_operations),
      cmocka_unit_test(test_service_entry_resolution),
      cmocka_unit_test(test_host_length),
      cmocka_unit_test(test_durations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
