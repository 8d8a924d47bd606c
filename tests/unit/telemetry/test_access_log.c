/* SPDX-License-Identifier: MIT */
/* Access-log lines in Istio's default text format and JSON encoding,
 * field by field; the file (O_APPEND) and the callback; end to end through
 * a real call to the mock upstream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "call/request.h"
#include "core/internal.h"
#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "telemetry/access_log.h"
#include "telemetry/trace.h"

/* 2023-11-14T22:13:20.123Z */
#define WALL_US 1700000000123456LL

static ml_attempt_info attempts[2];

static ml_call_info upstream_call(void) {
  ml_call_info in;
  memset(&in, 0, sizeof(in));
  memset(attempts, 0, sizeof(attempts));
  in.method = "POST";
  in.authority = "reviews:9080";
  in.path = "/api/v1/ratings?x=1";
  in.protocol = "http";
  in.http_version = 11;
  in.dest_service = "reviews.default.svc.cluster.local";
  in.cluster = "outbound|9080|v2|reviews.default.svc.cluster.local";
  in.route_name = "ratings";
  in.status = 200;
  in.details = "";
  in.request_bytes = 17;
  in.response_bytes = 1234;
  in.start_us = 1000;
  in.start_wall_us = WALL_US;
  in.duration_us = 12999;
  in.upstream = "127.0.0.1:40001";
  in.request_id = "6c1b2f4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
  attempts[0].start_us = 1000;
  attempts[0].duration_us = 4100;
  snprintf(attempts[0].upstream, sizeof(attempts[0].upstream), "%s",
           "127.0.0.1:40000");
  attempts[0].status = 503;
  attempts[0].retry_reason = 1;
  attempts[1].start_us = 6000;
  attempts[1].duration_us = 7900;
  snprintf(attempts[1].upstream, sizeof(attempts[1].upstream), "%s",
           "127.0.0.1:40001");
  attempts[1].status = 200;
  in.attempts = attempts;
  in.attempt_count = 2;
  return in;
}

static char *format(const ml_call_info *in, int json, const char *ua,
                    const char *xff) {
  ml_buf b;
  ml_buf_init(&b, NULL);
  assert_int_equal(ml_access_log_format(&b, in, json, ua, xff), 0);
  return ml_buf_steal(&b);
}

static void test_text_upstream(void **state) {
  (void)state;
  ml_call_info in = upstream_call();
  char *line = format(&in, 0, "curl/8.0", NULL);
  assert_string_equal(
      line, "[2023-11-14T22:13:20.123Z] \"POST /api/v1/ratings?x=1 HTTP/1.1\" "
            "200 - via_upstream - \"-\" 17 1234 12 7 \"-\" \"curl/8.0\" "
            "\"6c1b2f4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b\" \"reviews:9080\" "
            "\"127.0.0.1:40001\" "
            "outbound|9080|v2|reviews.default.svc.cluster.local - - - - "
            "ratings\n");
  free(line);
}

static void test_text_local_reply(void **state) {
  (void)state;
  ml_call_info in;
  memset(&in, 0, sizeof(in));
  in.method = "GET";
  in.authority = "nowhere";
  in.path = "/";
  in.status = 404;
  in.flags = MESHLIB_RF_NR;
  in.details = "route_not_found";
  in.start_wall_us = WALL_US;
  in.duration_us = 80;
  in.upstream = "";
  char *line = format(&in, 0, NULL, "10.0.0.1");
  assert_string_equal(line,
                      "[2023-11-14T22:13:20.123Z] \"GET / -\" 404 NR "
                      "route_not_found - \"-\" 0 0 0 - \"10.0.0.1\" \"-\" "
                      "\"-\" \"nowhere\" \"-\" - - - - - -\n");
  free(line);

  /* A connect failure after retries: flags joined as Envoy prints them. */
  in = upstream_call();
  in.status = 503;
  in.flags = MESHLIB_RF_UF | MESHLIB_RF_URX;
  attempts[1].status = 503;
  attempts[1].flags = MESHLIB_RF_UF;
  attempts[1].upstream[0] = '\0';
  line = format(&in, 0, NULL, NULL);
  assert_non_null(strstr(line, "\" 503 UF,URX "
                               "upstream_reset_before_response_started{"
                               "connection_failure} - \"-\" 17 1234 12 - "));
  free(line);
}

static void test_json(void **state) {
  (void)state;
  ml_call_info in = upstream_call();
  char *line = format(&in, 1, "curl/8.0", NULL);
  assert_string_equal(
      line,
      "{\"start_time\":\"2023-11-14T22:13:20.123Z\",\"route_name\":\"ratings\","
      "\"method\":\"POST\",\"path\":\"/api/v1/ratings?x=1\",\"protocol\":"
      "\"HTTP/1.1\",\"response_code\":200,\"response_flags\":null,"
      "\"response_code_details\":\"via_upstream\","
      "\"connection_termination_details\":null,\"bytes_received\":17,"
      "\"bytes_sent\":1234,\"duration\":12,\"upstream_service_time\":\"7\","
      "\"x_forwarded_for\":null,\"user_agent\":\"curl/8.0\",\"request_id\":"
      "\"6c1b2f4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b\",\"authority\":"
      "\"reviews:9080\",\"upstream_host\":\"127.0.0.1:40001\","
      "\"upstream_cluster\":\"outbound|9080|v2|reviews.default.svc.cluster."
      "local\",\"upstream_local_address\":null,\"downstream_local_address\":"
      "null,\"downstream_remote_address\":null,\"requested_server_name\":"
      "null,\"upstream_transport_failure_reason\":null}\n");
  free(line);
  /* Strings are escaped. */
  in.path = "/a\"b\\c";
  line = format(&in, 1, "x\ny", NULL);
  assert_non_null(strstr(line, "\"path\":\"/a\\\"b\\\\c\""));
  assert_non_null(strstr(line, "\"user_agent\":\"x\\ny\""));
  free(line);
}

typedef struct lines {
  int count;
  char last[2048];
} lines;

static void on_line(const char *line, size_t len, void *user_data) {
  lines *l = user_data;
  l->count++;
  assert_true(len > 0 && line[len - 1] == '\n');
  assert_true(len < sizeof(l->last));
  memcpy(l->last, line, len);
  l->last[len] = '\0';
}

static void test_file_and_callback(void **state) {
  (void)state;
  char path[] = "/tmp/meshlib-access-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_access_log_path(o, path), MESHLIB_OK);
  assert_int_equal(
      meshlib_options_set_access_log_format(o, MESHLIB_ACCESS_LOG_JSON),
      MESHLIB_OK);
  assert_int_equal(meshlib_options_set_access_log_format(o, 7),
                   MESHLIB_ERR_INVALID_ARG);
  lines l = {0, ""};
  assert_int_equal(meshlib_options_set_access_log_callback(o, on_line, &l),
                   MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  ml_call_info in = upstream_call();
  ml_access_log_call_end(&m->telemetry, &in);
  ml_access_log_call_end(&m->telemetry, &in);
  meshlib_free(m);
  assert_int_equal(l.count, 2);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char buf[2048];
  int n = 0;
  while (fgets(buf, sizeof(buf), f)) {
    assert_string_equal(buf, l.last);
    n++;
  }
  fclose(f);
  assert_int_equal(n, 2);
  unlink(path);

  /* Off by default; a path that cannot be opened fails meshlib_new(). */
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  assert_null(m->telemetry.access_log);
  ml_access_log_call_end(&m->telemetry, &in); /* nothing, no crash */
  meshlib_free(m);
  assert_int_equal(meshlib_options_set_access_log_path(
                       o, "/nonexistent-dir/meshlib/access.log"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_ERR_IO);
  meshlib_options_free(o);
}

/* A FIFO nobody reads fails meshlib_new() at once instead of blocking
 * it; a reader that goes away does not kill the process (SIGPIPE). */
static void test_fifo_and_gone_reader(void **state) {
  (void)state;
  char dir[] = "/tmp/meshlib-fifo-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/log", dir);
  assert_int_equal(mkfifo(path, 0600), 0);
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_access_log_path(o, path), MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_ERR_IO);

  /* A reader opens, then leaves before the lines come. */
  int reader = open(path, O_RDONLY | O_NONBLOCK);
  assert_true(reader >= 0);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  close(reader);
  ml_call_info in = upstream_call();
  ml_access_log_call_end(&m->telemetry,
                         &in); /* EPIPE: dropped, process alive */
  ml_access_log_call_end(&m->telemetry, &in);
  meshlib_free(m);
  unlink(path);
  rmdir(dir);
}

static void test_end_to_end(void **state) {
  (void)state;
  meshlib_mock *up;
  assert_int_equal(meshlib_mock_new(&up), MESHLIB_OK);
  char yaml[1024];
  snprintf(yaml, sizeof(yaml),
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: reviews, namespace: default}\n"
           "spec:\n"
           "  hosts: [reviews.default.svc.cluster.local]\n"
           "  location: MESH_INTERNAL\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 9080, name: http, protocol: HTTP}]\n"
           "  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: reviews, namespace: default}\n"
           "spec:\n"
           "  hosts: [reviews]\n"
           "  http:\n"
           "  - name: all\n"
           "    route: [{destination: {host: reviews}}]\n",
           meshlib_mock_port(up));
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(
      meshlib_options_add_config_string(o, "e2e", yaml, strlen(yaml)),
      MESHLIB_OK);
  lines l = {0, ""};
  assert_int_equal(meshlib_options_set_access_log_callback(o, on_line, &l),
                   MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  meshlib_request *r;
  assert_int_equal(
      meshlib_request_new(&r, m, "GET",
                          "http://reviews.default.svc.cluster.local:9080/p"),
      MESHLIB_OK);
  assert_int_equal(meshlib_request_add_header(r, "User-Agent", "e2e/1"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_request_perform(r), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), 200);
  assert_int_equal(l.count, 1);
  assert_non_null(strstr(l.last, "\"GET /p HTTP/1.1\" 200 - via_upstream - "
                                 "\"-\" 0 "));
  assert_non_null(strstr(l.last, "\"e2e/1\""));
  char rid[64];
  snprintf(rid, sizeof(rid), "\"%s\"", meshlib_request_request_id(r));
  assert_int_equal(strlen(rid), 38);
  assert_non_null(strstr(l.last, rid));
  char host[160];
  snprintf(host, sizeof(host),
           "\"127.0.0.1:%d\" "
           "outbound|9080||reviews.default.svc.cluster."
           "local - - - - all\n",
           meshlib_mock_port(up));
  assert_non_null(strstr(l.last, host));
  meshlib_request_free(r);
  meshlib_free(m);
  meshlib_mock_free(up);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_upstream),
      cmocka_unit_test(test_text_local_reply),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_file_and_callback),
      cmocka_unit_test(test_fifo_and_gone_reader),
      cmocka_unit_test(test_end_to_end),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
