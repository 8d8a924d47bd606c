/* SPDX-License-Identifier: MIT */
/* The h2c transport (HTTP/2 cleartext, prior knowledge, over nghttp2)
 * against the mock-upstream kit, plus a small scripted nghttp2 server for
 * what the kit cannot do (GOAWAY, a server that closes a kept-alive
 * connection, 1xx and trailers, garbage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_h2c_util.h"
#include "meshlib/testing.h"

static void test_get_with_headers(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("v1");
  int port = meshlib_mock_port(m);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), port, "/api/v1?x=1&y=%20");
  ml_header hs[] = {{"X-Custom", "Value 1"},
                    {"host", "wrong.example"},
                    {"Connection", "keep-alive"},
                    {"Keep-Alive", "timeout=5"},
                    {"Transfer-Encoding", "chunked"},
                    {"Upgrade", "h2c"},
                    {"TE", "gzip"},
                    {"Accept", "*/*"}};
  req.headers = hs;
  req.header_count = sizeof(hs) / sizeof(hs[0]);
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_int_equal(res.status, 200);
  assert_int_equal(res.http_version, 20);
  assert_true(res.headers_complete);
  assert_string_equal(res.body, "v1");
  assert_int_equal(res.body_len, 2);
  assert_string_equal(h2t_header(&res, "x-mock-name"), "v1");
  for (size_t i = 0; i < res.header_count; i++) {
    assert_true(res.headers[i].name[0] != ':'); /* no pseudo-headers */
    for (const char *p = res.headers[i].name; *p; p++)
      assert_false(*p >= 'A' && *p <= 'Z');
  }
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  assert_string_equal(res.upstream_address, addr);
  assert_false(res.reused_connection);
  assert_true(res.bytes_sent > 24); /* at least the preface */
  assert_true(res.bytes_received > 0);
  assert_true(res.duration_us > 0);
  assert_string_equal(res.error, "");

  assert_int_equal(meshlib_mock_request_count(m), 1);
  assert_string_equal(meshlib_mock_request_protocol(m, 0), "HTTP/2");
  assert_string_equal(meshlib_mock_request_method(m, 0), "GET");
  assert_string_equal(meshlib_mock_request_path(m, 0), "/api/v1?x=1&y=%20");
  assert_string_equal(meshlib_mock_request_header(m, 0, "host"), auth);
  assert_string_equal(meshlib_mock_request_header(m, 0, "x-custom"), "Value 1");
  assert_string_equal(meshlib_mock_request_header(m, 0, "accept"), "*/*");
  assert_null(meshlib_mock_request_header(m, 0, "connection"));
  assert_null(meshlib_mock_request_header(m, 0, "keep-alive"));
  assert_null(meshlib_mock_request_header(m, 0, "transfer-encoding"));
  assert_null(meshlib_mock_request_header(m, 0, "upgrade"));
  assert_null(meshlib_mock_request_header(m, 0, "te"));
  ml_xfer_result_free(NULL, &res);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

static void test_post_body_and_response(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("v1");
  int port = meshlib_mock_port(m);
  /* Larger than the default 64 KiB windows: flow control must work. */
  size_t n = 300000;
  char *body = malloc(n);
  assert_non_null(body);
  for (size_t i = 0; i < n; i++)
    body[i] = (char)('a' + i % 26);
  assert_int_equal(meshlib_mock_push_response(m, 201, body, n), MESHLIB_OK);
  assert_int_equal(meshlib_mock_push_header(m, "X-Scripted", "yes"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_mock_add_default_header(m, "x-default", "d"),
                   MESHLIB_OK);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), port, "/upload");
  req.method = "POST";
  ml_header hs[] = {{"content-type", "text/plain"}, {"TE", "trailers"}};
  req.headers = hs;
  req.header_count = 2;
  req.body = body;
  req.body_len = n;
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_int_equal(res.status, 201);
  assert_int_equal(res.body_len, n);
  assert_memory_equal(res.body, body, n);
  assert_int_equal(res.body[n], '\0');
  assert_string_equal(h2t_header(&res, "x-scripted"), "yes");
  assert_string_equal(h2t_header(&res, "x-default"), "d");
  assert_true(res.bytes_sent > n);
  assert_true(res.bytes_received > n);

  assert_string_equal(meshlib_mock_request_method(m, 0), "POST");
  assert_string_equal(meshlib_mock_request_header(m, 0, "content-type"),
                      "text/plain");
  assert_string_equal(meshlib_mock_request_header(m, 0, "te"), "trailers");
  size_t got = 0;
  const char *seen = meshlib_mock_request_body(m, 0, &got);
  assert_int_equal(got, n);
  assert_memory_equal(seen, body, n);
  ml_xfer_result_free(NULL, &res);

  /* The body is borrowed, so it can be sent again (a retry replays it). */
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_true(res.reused_connection);
  seen = meshlib_mock_request_body(m, 1, &got);
  assert_int_equal(got, n);
  assert_memory_equal(seen, body, n);
  ml_xfer_result_free(NULL, &res);
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  free(body);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

typedef struct sink {
  char data[256];
  size_t len;
  int calls;
  int stop_after; /* nonzero: ask to stop at that call */
} sink;

static int on_body(const char *data, size_t len, void *user_data) {
  sink *s = user_data;
  s->calls++;
  size_t room = sizeof(s->data) - 1 - s->len;
  size_t k = len < room ? len : room;
  memcpy(s->data + s->len, data, k);
  s->len += k;
  s->data[s->len] = '\0';
  return s->stop_after != 0 && s->calls >= s->stop_after;
}

static void test_streaming_and_abort(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("streamed");
  int port = meshlib_mock_port(m);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), port, "/s");
  sink s;
  memset(&s, 0, sizeof(s));
  req.on_body = on_body;
  req.body_user_data = &s;
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_int_equal(res.status, 200);
  assert_null(res.body);
  assert_string_equal(s.data, "streamed");
  ml_xfer_result_free(NULL, &res);

  /* Stop at the first chunk: ABORTED, and the session lives on. */
  memset(&s, 0, sizeof(s));
  s.stop_after = 1;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_ABORTED);
  assert_int_equal(s.calls, 1);
  assert_true(res.error[0] != '\0');
  ml_xfer_result_free(NULL, &res);

  req.on_body = NULL;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_string_equal(res.body, "streamed");
  assert_true(res.reused_connection);
  ml_xfer_result_free(NULL, &res);
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

/* curl issue 10634: libcurl 7.88.1 fails the second transfer on a reused
 * h2c connection. Here: 2,000 on one connection, all right. */
static void test_reuse_2000_one_connection(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("reuse");
  int port = meshlib_mock_port(m);
  ml_xfer_req req;
  char auth[32], path[32];
  h2t_req(&req, auth, sizeof(auth), port, path);
  const int n = 2000;
  double t0 = h2t_now_ms();
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof(path), "/r/%d", i);
    ml_xfer_result res;
    assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
    assert_int_equal(res.outcome, ML_XFER_OK);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.body, "reuse");
    assert_int_equal(res.reused_connection, i > 0);
    ml_xfer_result_free(NULL, &res);
  }
  double ms = h2t_now_ms() - t0;
  print_message("h2c: %d sequential exchanges on one connection in %.0f ms "
                "(%.0f/s)\n",
                n, ms, n * 1000.0 / ms);
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  assert_int_equal(meshlib_mock_request_count(m), n);
  assert_string_equal(meshlib_mock_request_path(m, 1999), "/r/1999");
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

static void test_two_endpoints_two_connections(void **state) {
  (void)state;
  meshlib_mock *a = h2t_mock("a");
  meshlib_mock *b = h2t_mock("b");
  for (int i = 0; i < 20; i++) {
    meshlib_mock *m = i % 2 ? b : a;
    ml_xfer_req req;
    char auth[32];
    h2t_req(&req, auth, sizeof(auth), meshlib_mock_port(m), "/");
    ml_xfer_result res;
    assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
    assert_int_equal(res.outcome, ML_XFER_OK);
    assert_string_equal(res.body, i % 2 ? "b" : "a");
    assert_int_equal(res.reused_connection, i >= 2);
    ml_xfer_result_free(NULL, &res);
  }
  assert_int_equal(meshlib_mock_connection_count(a), 1);
  assert_int_equal(meshlib_mock_connection_count(b), 1);
  assert_int_equal(meshlib_mock_request_count(a), 10);
  assert_int_equal(meshlib_mock_request_count(b), 10);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(a);
  meshlib_mock_free(b);
}

static void test_scripted_503_then_200(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("ok");
  int port = meshlib_mock_port(m);
  assert_int_equal(meshlib_mock_push_response(m, 503, "busy", 4), MESHLIB_OK);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), port, "/");
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK); /* a response is a response */
  assert_int_equal(res.status, 503);
  assert_string_equal(res.body, "busy");
  ml_xfer_result_free(NULL, &res);
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_int_equal(res.status, 200);
  assert_string_equal(res.body, "ok");
  ml_xfer_result_free(NULL, &res);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

static void test_timeout_keeps_session(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("late");
  int port = meshlib_mock_port(m);
  assert_int_equal(meshlib_mock_push_delay(m, 600, 200), MESHLIB_OK);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), port, "/slow");
  req.timeout_ms = 100;
  ml_xfer_result res;
  double t0 = h2t_now_ms();
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  double ms = h2t_now_ms() - t0;
  assert_int_equal(res.outcome, ML_XFER_TIMEOUT);
  assert_int_equal(res.status, 0);
  assert_true(ms >= 95 && ms < 500);
  assert_non_null(strstr(res.error, "timed out"));
  ml_xfer_result_free(NULL, &res);

  /* The session survives (the stream was cancelled) and serves the next
   * exchange at once. */
  req.path = "/next";
  t0 = h2t_now_ms();
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_int_equal(res.status, 200);
  assert_string_equal(res.body, "late");
  assert_true(res.reused_connection);
  assert_true(h2t_now_ms() - t0 < 100);
  ml_xfer_result_free(NULL, &res);
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

static void test_reset_and_truncated(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("r");
  int port = meshlib_mock_port(m);
  assert_int_equal(meshlib_mock_push_reset(m), MESHLIB_OK);
  assert_int_equal(meshlib_mock_push_close_after_headers(m), MESHLIB_OK);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), port, "/");
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_RESET);
  assert_false(res.headers_complete);
  assert_int_equal(res.status, 0);
  assert_non_null(strstr(res.error, "INTERNAL_ERROR"));
  ml_xfer_result_free(NULL, &res);

  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_RESET);
  assert_true(res.headers_complete);
  assert_int_equal(res.status, 200);
  assert_true(res.reused_connection);
  ml_xfer_result_free(NULL, &res);

  /* Stream resets leave the connection alone. */
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_true(res.reused_connection);
  ml_xfer_result_free(NULL, &res);
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  /* No hidden retry of a reset stream. */
  assert_int_equal(meshlib_mock_request_count(m), 3);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

static void test_refused_stream_not_retried(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("rs");
  int port = meshlib_mock_port(m);
  assert_int_equal(meshlib_mock_push_refused_stream(m), MESHLIB_OK);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), port, "/");
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_REFUSED_STREAM);
  assert_non_null(strstr(res.error, "REFUSED_STREAM"));
  ml_xfer_result_free(NULL, &res);
  struct timespec pause = {0, 50 * 1000 * 1000};
  nanosleep(&pause, NULL);
  /* libcurl would have retried by itself; meshlib's policy decides. */
  assert_int_equal(meshlib_mock_request_count(m), 1);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

static void test_connect_failure(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock(NULL);
  int port = meshlib_mock_port(m);
  assert_int_equal(meshlib_mock_pause(m, 1), MESHLIB_OK); /* port closed */
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), port, "/");
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_CONNECT_FAILURE);
  assert_int_equal(res.status, 0);
  assert_non_null(strstr(res.error, "Failed to connect"));
  ml_xfer_result_free(NULL, &res);

  /* Back again: a new connection. */
  assert_int_equal(meshlib_mock_pause(m, 0), MESHLIB_OK);
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  ml_xfer_result_free(NULL, &res);

  /* A name that does not resolve: no connection, no hang. */
  req.connect_host = "no-such-host.invalid";
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_CONNECT_FAILURE);
  ml_xfer_result_free(NULL, &res);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

static void test_server_gone_between_exchanges(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("first");
  int port = meshlib_mock_port(m);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), port, "/");
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  ml_xfer_result_free(NULL, &res);
  meshlib_mock_free(m);

  /* Nobody listens: the dead session is noticed, the reconnect fails. */
  double t0 = h2t_now_ms();
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_CONNECT_FAILURE);
  assert_true(h2t_now_ms() - t0 < 1000);
  ml_xfer_result_free(NULL, &res);

  /* A new server on the same port: reached on a new connection. */
  int rc = meshlib_mock_new_on_port(&m, port);
  if (rc != MESHLIB_OK) { /* the port was taken meanwhile: rare */
    ml_h2c_thread_cleanup();
    return;
  }
  meshlib_mock_set_name(m, "second");
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_string_equal(res.body, "second");
  assert_false(res.reused_connection);
  ml_xfer_result_free(NULL, &res);

  /* Killed again with a session open; the next server is there before
   * we call: the stale session is replaced without a word. */
  meshlib_mock_free(m);
  assert_int_equal(meshlib_mock_new_on_port(&m, port), MESHLIB_OK);
  meshlib_mock_set_name(m, "third");
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_string_equal(res.body, "third");
  assert_false(res.reused_connection);
  ml_xfer_result_free(NULL, &res);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

static void test_thread_cleanup_closes(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock(NULL);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), meshlib_mock_port(m), "/");
  ml_xfer_result res;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 3; i++) {
      assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
      assert_int_equal(res.outcome, ML_XFER_OK);
      assert_int_equal(res.reused_connection, i > 0);
      ml_xfer_result_free(NULL, &res);
    }
    ml_h2c_thread_cleanup();
    ml_h2c_thread_cleanup(); /* twice is harmless */
  }
  assert_int_equal(meshlib_mock_connection_count(m), 3);
  meshlib_mock_free(m);
}

static void test_lru_limit(void **state) {
  (void)state;
  enum { N = 34 };
  meshlib_mock *m[N];
  for (int i = 0; i < N; i++)
    m[i] = h2t_mock(NULL);
  ml_xfer_req req;
  char auth[32];
  ml_xfer_result res;
  for (int i = 0; i < N; i++) {
    h2t_req(&req, auth, sizeof(auth), meshlib_mock_port(m[i]), "/");
    assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
    assert_int_equal(res.outcome, ML_XFER_OK);
    ml_xfer_result_free(NULL, &res);
  }
  /* 32 sessions kept: the two least recently used were closed. */
  for (int i = N - 1; i >= 0; i--) {
    h2t_req(&req, auth, sizeof(auth), meshlib_mock_port(m[i]), "/");
    assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
    assert_int_equal(res.outcome, ML_XFER_OK);
    assert_int_equal(res.reused_connection, i >= 2);
    ml_xfer_result_free(NULL, &res);
  }
  for (int i = 0; i < N; i++) {
    assert_int_equal(meshlib_mock_connection_count(m[i]), i < 2 ? 2 : 1);
    meshlib_mock_free(m[i]);
  }
  ml_h2c_thread_cleanup();
}

static void test_arguments(void **state) {
  (void)state;
  ml_xfer_req req;
  char auth[32];
  ml_xfer_result res;
  h2t_req(&req, auth, sizeof(auth), 80, "/");
  assert_int_equal(ml_h2c_perform(NULL, &req, NULL), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(ml_h2c_perform(NULL, NULL, &res), MESHLIB_ERR_INVALID_ARG);
  ml_xfer_result_free(NULL, &res);
  req.connect_port = 0;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_ERR_INVALID_ARG);
  ml_xfer_result_free(NULL, &res);
  req.connect_port = 70000;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_ERR_INVALID_ARG);
  ml_xfer_result_free(NULL, &res);
  req.connect_port = 80;
  req.authority = NULL;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_ERR_INVALID_ARG);
  ml_xfer_result_free(NULL, &res);
  ml_h2c_thread_cleanup(); /* with no cache: nothing happens */
}

/* An allocator that fails from the n-th allocation on. */
typedef struct failing {
  int left;
  int live;
} failing;

static void *f_malloc(size_t n, void *ud) {
  failing *f = ud;
  if (f->left-- <= 0)
    return NULL;
  f->live++;
  return malloc(n);
}

static void f_free(void *p, void *ud) {
  failing *f = ud;
  if (p != NULL)
    f->live--;
  free(p);
}

static void *f_calloc(size_t k, size_t n, void *ud) {
  failing *f = ud;
  if (f->left-- <= 0)
    return NULL;
  f->live++;
  return calloc(k, n);
}

static void *f_realloc(void *p, size_t n, void *ud) {
  failing *f = ud;
  if (f->left-- <= 0)
    return NULL;
  if (p == NULL)
    f->live++;
  return realloc(p, n);
}

static void test_failing_allocator(void **state) {
  (void)state;
  meshlib_mock *m = h2t_mock("fail");
  assert_int_equal(meshlib_mock_add_default_header(m, "x-a", "1"), MESHLIB_OK);
  assert_int_equal(meshlib_mock_add_default_header(m, "x-b", "2"), MESHLIB_OK);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), meshlib_mock_port(m), "/");
  /* Many headers: the name/value array leaves the stack. */
  ml_header hs[40];
  char names[40][16];
  for (int i = 0; i < 40; i++) {
    snprintf(names[i], sizeof(names[i]), "X-H%d", i);
    hs[i].name = names[i];
    hs[i].value = "v";
  }
  req.headers = hs;
  req.header_count = 40;
  int ok = 0;
  for (int n = 0; n < 64; n++) {
    failing f = {n, 0};
    meshlib_allocator a = {&f, f_malloc, f_free, f_calloc, f_realloc};
    ml_xfer_result res;
    int rc = ml_h2c_perform(&a, &req, &res);
    if (rc == MESHLIB_OK) {
      assert_int_equal(res.outcome, ML_XFER_OK);
      assert_string_equal(res.body, "fail");
      assert_string_equal(h2t_header(&res, "x-b"), "2");
      ok++;
    } else {
      assert_int_equal(rc, MESHLIB_ERR_NOMEM);
      assert_int_equal(res.outcome, ML_XFER_LOCAL_ERROR);
    }
    ml_xfer_result_free(&a, &res);
    assert_int_equal(f.live, 0); /* nothing of ours left behind */
  }
  assert_true(ok > 0);
  /* The session survived every failure. */
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  ml_h2c_thread_cleanup();
  meshlib_mock_free(m);
}

/* ---- a scripted nghttp2 server for what the mock kit cannot do ------ */

typedef enum fx_mode {
  FX_CLOSE_SECOND,  /* connection 1 answers once, then closes on the
                       next request (a server that dropped an idle
                       connection); later connections answer */
  FX_GOAWAY,        /* every request gets GOAWAY(last_stream_id 0) */
  FX_GARBAGE,       /* speaks HTTP/1.1 back */
  FX_HINTS_TRAILERS /* 103, then 200 with a body and trailers */
} fx_mode;

typedef struct fx {
  fx_mode mode;
  int lfd, port;
  int stop[2];
  pthread_t th;
  int conns;    /* accepted (read after join, or with atomics) */
  int requests; /* complete requests seen */
  /* per connection */
  int fd;
  int conn_requests;
  int close_now;
  size_t body_off;
} fx;

static ssize_t fx_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                       uint32_t *flags, nghttp2_data_source *src,
                       void *user_data) {
  (void)src;
  fx *f = user_data;
  static const char body[] = "hello";
  size_t left = 5 - f->body_off;
  size_t n = left < len ? left : len;
  memcpy(buf, body + f->body_off, n);
  f->body_off += n;
  if (f->body_off == 5) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (f->mode == FX_HINTS_TRAILERS) {
      nghttp2_nv tr[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1,
                          NGHTTP2_NV_FLAG_NONE}};
      if (nghttp2_submit_trailer(s, id, tr, 1) == 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  }
  return (ssize_t)n;
}

static int fx_respond(nghttp2_session *s, fx *f, int32_t id) {
  f->body_off = 0;
  if (f->mode == FX_HINTS_TRAILERS) {
    nghttp2_nv hints[] = {
        {(uint8_t *)":status", (uint8_t *)"103", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"link", (uint8_t *)"</a.css>", 4, 8, NGHTTP2_NV_FLAG_NONE}};
    nghttp2_submit_headers(s, NGHTTP2_FLAG_NONE, id, NULL, hints, 2, NULL);
  }
  nghttp2_nv nva[] = {
      {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"x-final", (uint8_t *)"yes", 7, 3, NGHTTP2_NV_FLAG_NONE}};
  nghttp2_data_provider prd;
  prd.source.ptr = NULL;
  prd.read_callback = fx_read;
  return nghttp2_submit_response(s, id, nva, 2, &prd);
}

static int fx_frame_recv(nghttp2_session *s, const nghttp2_frame *fr,
                         void *user_data) {
  fx *f = user_data;
  if ((fr->hd.type != NGHTTP2_HEADERS && fr->hd.type != NGHTTP2_DATA) ||
      !(fr->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  __atomic_add_fetch(&f->requests, 1, __ATOMIC_SEQ_CST);
  f->conn_requests++;
  switch (f->mode) {
  case FX_CLOSE_SECOND:
    if (__atomic_load_n(&f->conns, __ATOMIC_SEQ_CST) == 1 &&
        f->conn_requests == 2) {
      f->close_now = 1;
      return 0;
    }
    return fx_respond(s, f, fr->hd.stream_id);
  case FX_GOAWAY:
    return nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR,
                                 NULL, 0);
  default:
    return fx_respond(s, f, fr->hd.stream_id);
  }
}

static void fx_serve(fx *f) {
  if (f->mode == FX_GARBAGE) {
    char buf[1024];
    if (recv(f->fd, buf, sizeof(buf), 0) > 0) {
      static const char resp[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
      if (send(f->fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL) < 0)
        return;
    }
    while (recv(f->fd, buf, sizeof(buf), 0) > 0) {
    }
    return;
  }
  nghttp2_session_callbacks *cbs;
  nghttp2_session *s;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, fx_frame_recv);
  nghttp2_session_server_new(&s, cbs, f);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
  f->conn_requests = 0;
  f->close_now = 0;
  for (;;) {
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(s, &d)) > 0)
      if (send(f->fd, d, (size_t)n, MSG_NOSIGNAL) != n)
        goto done;
    if (f->close_now)
      break;
    if (!nghttp2_session_want_read(s) && !nghttp2_session_want_write(s)) {
      /* Done (after a GOAWAY): wait for the client to close, so that a
       * reset does not destroy the GOAWAY in its receive buffer. */
      char rest[1024];
      while (recv(f->fd, rest, sizeof(rest), 0) > 0) {
      }
      break;
    }
    struct pollfd p[2] = {{f->fd, POLLIN, 0}, {f->stop[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0 || p[1].revents)
      break;
    uint8_t buf[16384];
    ssize_t r = recv(f->fd, buf, sizeof(buf), 0);
    if (r <= 0 || nghttp2_session_mem_recv(s, buf, (size_t)r) < 0)
      break;
  }
done:
  nghttp2_session_del(s);
}

static void *fx_main(void *arg) {
  fx *f = arg;
  for (;;) {
    struct pollfd p[2] = {{f->lfd, POLLIN, 0}, {f->stop[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0 || p[1].revents)
      break;
    f->fd = accept(f->lfd, NULL, NULL);
    if (f->fd < 0)
      continue;
    __atomic_add_fetch(&f->conns, 1, __ATOMIC_SEQ_CST);
    fx_serve(f);
    close(f->fd);
  }
  return NULL;
}

static void fx_start(fx *f, fx_mode mode) {
  memset(f, 0, sizeof(*f));
  f->mode = mode;
  f->lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(f->lfd >= 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(f->lfd, 16), 0);
  socklen_t sl = sizeof(sa);
  assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
  f->port = ntohs(sa.sin_port);
  assert_int_equal(pipe(f->stop), 0);
  assert_int_equal(pthread_create(&f->th, NULL, fx_main, f), 0);
}

static void fx_stop(fx *f) {
  assert_int_equal(write(f->stop[1], "x", 1), 1);
  pthread_join(f->th, NULL);
  close(f->lfd);
  close(f->stop[0]);
  close(f->stop[1]);
}

static void test_stale_connection_replaced_once(void **state) {
  (void)state;
  fx f;
  fx_start(&f, FX_CLOSE_SECOND);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), f.port, "/");
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_string_equal(res.body, "hello");
  ml_xfer_result_free(NULL, &res);
  /* The server drops the kept-alive connection on our request, before
   * any byte of a response: a new connection, nothing reported. */
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_string_equal(res.body, "hello");
  assert_false(res.reused_connection);
  ml_xfer_result_free(NULL, &res);
  ml_h2c_thread_cleanup();
  fx_stop(&f);
  assert_int_equal(f.conns, 2);
  assert_int_equal(f.requests, 3);
}

static void test_goaway_is_refused_stream(void **state) {
  (void)state;
  fx f;
  fx_start(&f, FX_GOAWAY);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), f.port, "/");
  ml_xfer_result res;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
    assert_int_equal(res.outcome, ML_XFER_REFUSED_STREAM);
    assert_non_null(strstr(res.error, "GOAWAY"));
    assert_false(res.reused_connection); /* a GOAWAY'd session is dropped */
    ml_xfer_result_free(NULL, &res);
  }
  ml_h2c_thread_cleanup();
  fx_stop(&f);
  assert_int_equal(f.conns, 2);
  assert_int_equal(f.requests, 2);
}

static void test_garbage_is_protocol_error(void **state) {
  (void)state;
  fx f;
  fx_start(&f, FX_GARBAGE);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), f.port, "/");
  req.timeout_ms = 3000;
  ml_xfer_result res;
  assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_PROTOCOL_ERROR);
  assert_true(res.error[0] != '\0');
  ml_xfer_result_free(NULL, &res);
  ml_h2c_thread_cleanup();
  fx_stop(&f);
}

static void test_interim_and_trailers(void **state) {
  (void)state;
  fx f;
  fx_start(&f, FX_HINTS_TRAILERS);
  ml_xfer_req req;
  char auth[32];
  h2t_req(&req, auth, sizeof(auth), f.port, "/");
  ml_xfer_result res;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(ml_h2c_perform(NULL, &req, &res), MESHLIB_OK);
    assert_int_equal(res.outcome, ML_XFER_OK);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.body, "hello");
    assert_string_equal(h2t_header(&res, "x-final"), "yes");
    assert_null(h2t_header(&res, "link")); /* the 103's, dropped */
    assert_int_equal(res.trailer_count, 1);
    assert_string_equal(res.trailers[0].name, "grpc-status");
    assert_string_equal(res.trailers[0].value, "0");
    assert_int_equal(res.reused_connection, i > 0);
    ml_xfer_result_free(NULL, &res);
  }
  ml_h2c_thread_cleanup();
  fx_stop(&f);
  assert_int_equal(f.conns, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_with_headers),
      cmocka_unit_test(test_post_body_and_response),
      cmocka_unit_test(test_streaming_and_abort),
      cmocka_unit_test(test_reuse_2000_one_connection),
      cmocka_unit_test(test_two_endpoints_two_connections),
      cmocka_unit_test(test_scripted_503_then_200),
      cmocka_unit_test(test_timeout_keeps_session),
      cmocka_unit_test(test_reset_and_truncated),
      cmocka_unit_test(test_refused_stream_not_retried),
      cmocka_unit_test(test_connect_failure),
      cmocka_unit_test(test_server_gone_between_exchanges),
      cmocka_unit_test(test_thread_cleanup_closes),
      cmocka_unit_test(test_lru_limit),
      cmocka_unit_test(test_arguments),
      cmocka_unit_test(test_failing_allocator),
      cmocka_unit_test(test_stale_connection_replaced_once),
      cmocka_unit_test(test_goaway_is_refused_stream),
      cmocka_unit_test(test_garbage_is_protocol_error),
      cmocka_unit_test(test_interim_and_trailers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
