/* SPDX-License-Identifier: MIT */
/* DNS and DNS_ROUND_ROBIN ServiceEntries: names resolved by the mesh's
 * resolver against the system resolver (localhost), refreshed, and a
 * failed lookup keeps the last answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <netdb.h>
#include <sys/socket.h>

#include "cluster/cluster.h"
#include "core/internal.h"
#include "meshlib/meshlib.h"
#include "meshlib/testing.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static const char *se_yaml(char *buf, size_t len, const char *resolution,
                           const char *address, int port) {
  snprintf(buf, len,
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: ext, namespace: default}\n"
           "spec:\n"
           "  hosts: [api.example.test]\n"
           "  resolution: %s\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints: [{address: %s, ports: {http: %d}}]\n",
           resolution, address, port);
  return buf;
}

static meshlib *mesh_with(const char *yaml, int64_t refresh_ms) {
  meshlib_options *o;
  meshlib *m;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_dns_refresh_ms(o, refresh_ms),
                   MESHLIB_OK);
  meshlib_options_add_config_string(o, "se.yaml", yaml, strlen(yaml));
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  return m;
}

/* The address the cluster of api.example.test:80 holds now. */
static const char *cluster_address(meshlib *m, char *buf, size_t len) {
  ml_snapshot *s = ml_snapshot_slot_acquire(&m->current);
  const ml_cluster *k =
      ml_clusters_find(s->clusters, "api.example.test", 80, NULL);
  snprintf(buf, len, "%s",
           k && k->endpoint_count ? k->endpoints[0].address : "-");
  ml_snapshot_unref(s);
  return buf;
}

static int wait_address(meshlib *m, const char *want) {
  char buf[64];
  for (int i = 0; i < 250; i++) {
    if (strcmp(cluster_address(m, buf, sizeof(buf)), want) == 0)
      return 1;
    sleep_ms(20);
  }
  return 0;
}

static void test_localhost_resolves_and_serves(void **state) {
  (void)state;
  /* The system resolver must know localhost (/etc/hosts); a bare chroot
   * may not, and then there is nothing here to test against. */
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  if (getaddrinfo("localhost", NULL, &hints, &ai) != 0) {
    print_message("the system resolver does not know localhost: skipped\n");
    skip();
  }
  freeaddrinfo(ai);
  meshlib_mock *mock;
  assert_int_equal(meshlib_mock_new(&mock), MESHLIB_OK);
  meshlib_mock_set_name(mock, "dns");
  const char *kinds[] = {"DNS", "DNS_ROUND_ROBIN"};
  for (int i = 0; i < 2; i++) {
    char y[1024];
    meshlib *m = mesh_with(
        se_yaml(y, sizeof(y), kinds[i], "localhost", meshlib_mock_port(mock)),
        50);
    assert_true(wait_address(m, "127.0.0.1"));
    meshlib_request *r;
    assert_int_equal(
        meshlib_request_new(&r, m, "GET", "http://api.example.test/x"),
        MESHLIB_OK);
    assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
    assert_int_equal(meshlib_response_status(r), 200);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", meshlib_mock_port(mock));
    assert_string_equal(meshlib_response_upstream(r), want);
    assert_string_equal(meshlib_response_header(r, "x-mock-name"), "dns");
    meshlib_request_free(r);
    meshlib_free(m);
  }
  meshlib_mock_free(mock);
}

/* A resolver that answers twice, then fails. */
static int answers;
static int flaky_resolve(const char *name, char ***addrs, size_t *n) {
  (void)name;
  if (answers >= 2)
    return -1;
  const char *a = answers++ == 0 ? "127.0.0.2" : "127.0.0.3";
  *addrs = ml_calloc(NULL, 1, sizeof(char *));
  (*addrs)[0] = ml_strdup(NULL, a);
  *n = 1;
  return 0;
}

static void test_failed_lookup_keeps_last_answer(void **state) {
  (void)state;
  answers = 0;
  char y[1024];
  /* Refresh off at first, so the fake resolver is in place before the
   * thread starts. */
  meshlib *m = mesh_with("", 0);
  m->dns.resolve = flaky_resolve;
  m->dns.refresh_ms = 30;
  meshlib_config *c;
  assert_int_equal(meshlib_config_new(&c, m), MESHLIB_OK);
  se_yaml(y, sizeof(y), "DNS", "backend.example.test", 8080);
  meshlib_config_add_string(c, "se.yaml", y, strlen(y));
  assert_int_equal(meshlib_config_apply(c), MESHLIB_OK);
  meshlib_config_free(c);
  /* A changed answer replaces the endpoints... */
  assert_true(wait_address(m, "127.0.0.3"));
  /* ...and failures after it keep it. */
  sleep_ms(300);
  char buf[64];
  assert_string_equal(cluster_address(m, buf, sizeof(buf)), "127.0.0.3");
  assert_int_equal(answers, 2);
  meshlib_free(m);
}

static void test_refresh_off_leaves_names(void **state) {
  (void)state;
  char y[1024], buf[64];
  meshlib *m = mesh_with(se_yaml(y, sizeof(y), "DNS", "localhost", 80), 0);
  sleep_ms(100);
  assert_string_equal(cluster_address(m, buf, sizeof(buf)), "localhost");
  assert_false(m->dns.started);
  meshlib_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_localhost_resolves_and_serves),
      cmocka_unit_test(test_failed_lookup_keeps_last_answer),
      cmocka_unit_test(test_refresh_off_leaves_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
