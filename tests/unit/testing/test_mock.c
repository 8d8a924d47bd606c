/* SPDX-License-Identifier: MIT */
/* The mock-upstream kit, driven by plain libcurl over real sockets, in
 * HTTP/1.1 and HTTP/2 (h2c, prior knowledge) on the same port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "mock_client.h"
#include "h2_client.h"

static meshlib_mock *start(const char *name) {
  meshlib_mock *m = NULL;
  assert_int_equal(meshlib_mock_new(&m), MESHLIB_OK);
  assert_non_null(m);
  assert_true(meshlib_mock_port(m) > 0);
  if (name != NULL)
    assert_int_equal(meshlib_mock_set_name(m, name), MESHLIB_OK);
  return m;
}

static void test_default_both_protocols_one_port(void **state) {
  (void)state;
  meshlib_mock *m = start(NULL);
  int port = meshlib_mock_port(m);
  mc_resp r;
  char expect[32];
  snprintf(expect, sizeof(expect), "127.0.0.1:%d", port);

  mc_get(port, "/", 0, &r);
  assert_int_equal(r.rc, CURLE_OK);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, expect); /* the initial name */
  assert_string_equal(r.name, expect);

  assert_int_equal(meshlib_mock_set_name(m, "v1"), MESHLIB_OK);
  mc_get(port, "/h1", 0, &r);
  assert_int_equal(r.rc, CURLE_OK);
  assert_int_equal(r.version, CURL_HTTP_VERSION_1_1);
  assert_string_equal(r.body, "v1");
  assert_string_equal(r.name, "v1");

  mc_get(port, "/h2", 1, &r);
  assert_int_equal(r.rc, CURLE_OK);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.version, CURL_HTTP_VERSION_2_0);
  assert_string_equal(r.body, "v1");
  assert_string_equal(r.name, "v1");

  assert_int_equal(meshlib_mock_request_count(m), 3);
  assert_int_equal(meshlib_mock_connection_count(m), 3);
  assert_string_equal(meshlib_mock_request_protocol(m, 1), "HTTP/1.1");
  assert_string_equal(meshlib_mock_request_path(m, 1), "/h1");
  assert_string_equal(meshlib_mock_request_protocol(m, 2), "HTTP/2");
  assert_string_equal(meshlib_mock_request_path(m, 2), "/h2");

  /* A new default and default headers, on both protocols. */
  assert_int_equal(meshlib_mock_set_default(m, 404, "nope", 4), MESHLIB_OK);
  assert_int_equal(meshlib_mock_add_default_header(m, "X-Extra", "yes"),
                   MESHLIB_OK);
  for (int h2 = 0; h2 <= 1; h2++) {
    CURL *e = curl_easy_init();
    mc_call(e, port, "/", h2, NULL, NULL, "x-extra", &r);
    curl_easy_cleanup(e);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "nope");
    assert_string_equal(r.name, "v1");
    assert_string_equal(r.extra, "yes");
  }
  meshlib_mock_free(m);
}

static void test_scripted_sequence(void **state) {
  (void)state;
  meshlib_mock *m = start("seq");
  int port = meshlib_mock_port(m);
  for (int h2 = 0; h2 <= 1; h2++) {
    assert_int_equal(meshlib_mock_push_response(m, 503, "busy", 4), MESHLIB_OK);
    assert_int_equal(meshlib_mock_push_response(m, 503, "busy", 4), MESHLIB_OK);
    assert_int_equal(meshlib_mock_push_response(m, 200, "ok", 2), MESHLIB_OK);
    assert_int_equal(meshlib_mock_push_header(m, "X-Scripted", "third"),
                     MESHLIB_OK);
    static const long want[] = {503, 503, 200, 200};
    static const char *const body[] = {"busy", "busy", "ok", "seq"};
    /* libcurl 7.88.1 cannot reuse an h2c prior-knowledge connection
     * (curl issue 10634): HTTP/2 calls use one handle each. */
    CURL *e = curl_easy_init();
    for (int i = 0; i < 4; i++) {
      mc_resp r;
      if (h2 && i > 0) {
        curl_easy_cleanup(e);
        e = curl_easy_init();
      }
      mc_call(e, port, "/", h2, NULL, NULL, "x-scripted", &r);
      assert_int_equal(r.rc, CURLE_OK);
      assert_int_equal(r.status, want[i]);
      assert_string_equal(r.body, body[i]);
      assert_string_equal(r.name, "seq");
      assert_string_equal(r.extra, i == 2 ? "third" : "");
    }
    curl_easy_cleanup(e);
  }
  assert_int_equal(meshlib_mock_request_count(m), 8);
  meshlib_mock_free(m);
}

typedef struct call_arg {
  int port, h2;
  const char *path;
  mc_resp r;
} call_arg;

static void *call_thread(void *p) {
  call_arg *a = p;
  mc_get(a->port, a->path, a->h2, &a->r);
  return NULL;
}

static void test_delay_does_not_block_others(void **state) {
  (void)state;
  meshlib_mock *m = start("slow");
  int port = meshlib_mock_port(m);
  for (int h2 = 0; h2 <= 1; h2++) {
    assert_int_equal(meshlib_mock_reset(m), MESHLIB_OK);
    assert_int_equal(meshlib_mock_push_delay(m, 1000, 201), MESHLIB_OK);
    call_arg slow = {port, h2, "/slow", {0}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, call_thread, &slow), 0);
    /* The delayed request has arrived; a second one must not wait. */
    assert_int_equal(meshlib_mock_wait_requests(m, 1, 5000), 1);
    mc_resp fast;
    mc_get(port, "/fast", h2, &fast);
    assert_int_equal(fast.rc, CURLE_OK);
    assert_int_equal(fast.status, 200);
    assert_true(fast.ms < 700.0);
    pthread_join(t, NULL);
    assert_int_equal(slow.r.rc, CURLE_OK);
    assert_int_equal(slow.r.status, 201);
    assert_string_equal(slow.r.body, "slow");
    assert_true(slow.r.ms >= 950.0);
    assert_string_equal(meshlib_mock_request_path(m, 0), "/slow");
    assert_string_equal(meshlib_mock_request_path(m, 1), "/fast");
  }
  meshlib_mock_free(m);
}

static void test_reset(void **state) {
  (void)state;
  meshlib_mock *m = start("r");
  int port = meshlib_mock_port(m);
  mc_resp r;
  assert_int_equal(meshlib_mock_push_reset(m), MESHLIB_OK);
  mc_get(port, "/", 0, &r);
  assert_true(r.rc == CURLE_RECV_ERROR || r.rc == CURLE_GOT_NOTHING);
  mc_get(port, "/", 0, &r);
  assert_int_equal(r.rc, CURLE_OK);

  /* HTTP/2 through libcurl: an error, no status. */
  assert_int_equal(meshlib_mock_push_reset(m), MESHLIB_OK);
  mc_get(port, "/", 1, &r);
  assert_int_not_equal(r.rc, CURLE_OK);
  assert_int_equal(r.status, 0);
  mc_get(port, "/", 1, &r);
  assert_int_equal(r.rc, CURLE_OK);
  assert_int_equal(meshlib_mock_request_count(m), 4);

  /* HTTP/2 on one connection: the stream is reset, the connection and
   * the next stream live on. */
  meshlib_mock_reset(m);
  h2c c;
  assert_int_equal(h2c_connect(&c, port), 0);
  h2c_stream st[3];
  h2c_stream *v[3] = {&st[0], &st[1], &st[2]};
  assert_int_equal(h2c_request(&c, port, "GET", "/1", NULL, &st[0]), 0);
  assert_int_equal(h2c_run(&c, v, 1, 5000), 0);
  assert_int_equal(meshlib_mock_push_reset(m), MESHLIB_OK);
  assert_int_equal(h2c_request(&c, port, "GET", "/2", NULL, &st[1]), 0);
  assert_int_equal(h2c_run(&c, v + 1, 1, 5000), 0);
  assert_int_equal(h2c_request(&c, port, "GET", "/3", NULL, &st[2]), 0);
  assert_int_equal(h2c_run(&c, v + 2, 1, 5000), 0);
  h2c_close(&c);
  assert_int_equal(st[0].status, 200);
  assert_int_equal(st[1].status, 0);
  assert_int_equal(st[1].error, NGHTTP2_INTERNAL_ERROR);
  assert_int_equal(st[2].status, 200);
  assert_string_equal(st[2].body, "r");
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  assert_int_equal(meshlib_mock_request_count(m), 3);
  meshlib_mock_free(m);
}

static void test_refused_stream(void **state) {
  (void)state;
  meshlib_mock *m = start("x");
  int port = meshlib_mock_port(m);
  mc_resp r;
  /* HTTP/1.1: like a reset. */
  assert_int_equal(meshlib_mock_push_refused_stream(m), MESHLIB_OK);
  mc_get(port, "/", 0, &r);
  assert_true(r.rc == CURLE_RECV_ERROR || r.rc == CURLE_GOT_NOTHING);

  /* HTTP/2: REFUSED_STREAM says "not processed", so libcurl retries by
   * itself on a new connection; one refusal is invisible... */
  meshlib_mock_reset(m);
  assert_int_equal(meshlib_mock_push_refused_stream(m), MESHLIB_OK);
  mc_get(port, "/", 1, &r);
  assert_int_equal(r.rc, CURLE_OK);
  assert_int_equal(r.status, 200);
  assert_int_equal(meshlib_mock_request_count(m), 2);
  assert_int_equal(meshlib_mock_connection_count(m), 2);

  /* ...but refusing every attempt gives an error. */
  meshlib_mock_reset(m);
  for (int i = 0; i < 10; i++)
    assert_int_equal(meshlib_mock_push_refused_stream(m), MESHLIB_OK);
  mc_get(port, "/", 1, &r);
  assert_int_not_equal(r.rc, CURLE_OK);
  assert_true(meshlib_mock_request_count(m) >= 2);

  /* Seen by a plain HTTP/2 client: RST_STREAM REFUSED_STREAM. */
  meshlib_mock_reset(m);
  assert_int_equal(meshlib_mock_push_refused_stream(m), MESHLIB_OK);
  h2c c;
  h2c_stream st;
  h2c_stream *v = &st;
  assert_int_equal(h2c_connect(&c, port), 0);
  assert_int_equal(h2c_request(&c, port, "GET", "/", NULL, &st), 0);
  assert_int_equal(h2c_run(&c, &v, 1, 5000), 0);
  h2c_close(&c);
  assert_int_equal(st.error, NGHTTP2_REFUSED_STREAM);
  assert_int_equal(st.status, 0);
  assert_int_equal(meshlib_mock_request_count(m), 1);
  meshlib_mock_free(m);
}

static void test_close_after_headers(void **state) {
  (void)state;
  meshlib_mock *m = start("truncated-body");
  int port = meshlib_mock_port(m);
  for (int h2 = 0; h2 <= 1; h2++) {
    assert_int_equal(meshlib_mock_push_close_after_headers(m), MESHLIB_OK);
    mc_resp r;
    mc_get(port, "/", h2, &r);
    /* The headers arrived (status 200), the body did not. */
    assert_int_not_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.name, "truncated-body");
    assert_int_equal(r.len, 0);
    mc_get(port, "/", h2, &r);
    assert_int_equal(r.rc, CURLE_OK);
  }
  meshlib_mock_free(m);
}

static void test_keep_alive(void **state) {
  (void)state;
  meshlib_mock *m = start("ka");
  int port = meshlib_mock_port(m);
  CURL *e = curl_easy_init();
  mc_resp r;
  for (int i = 0; i < 3; i++) {
    mc_call(e, port, "/", 0, NULL, NULL, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
  }
  curl_easy_cleanup(e);
  assert_int_equal(meshlib_mock_request_count(m), 3);
  assert_int_equal(meshlib_mock_connection_count(m), 1);

  /* HTTP/2: sequential streams on one connection. */
  meshlib_mock_reset(m);
  h2c c;
  h2c_stream st[3];
  assert_int_equal(h2c_connect(&c, port), 0);
  for (int i = 0; i < 3; i++) {
    h2c_stream *v = &st[i];
    assert_int_equal(h2c_request(&c, port, "GET", "/", NULL, v), 0);
    assert_int_equal(h2c_run(&c, &v, 1, 5000), 0);
    assert_int_equal(st[i].status, 200);
    assert_string_equal(st[i].body, "ka");
    assert_string_equal(st[i].name, "ka");
  }
  h2c_close(&c);
  assert_int_equal(meshlib_mock_request_count(m), 3);
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  assert_string_equal(meshlib_mock_request_header(m, 2, "x-client"), "h2c");
  meshlib_mock_free(m);
}

static void test_h2_streams_are_independent(void **state) {
  (void)state;
  meshlib_mock *m = start("mux");
  int port = meshlib_mock_port(m);
  /* Two streams in flight on one connection: the first is delayed, the
   * second is answered at once. */
  assert_int_equal(meshlib_mock_push_delay(m, 800, 202), MESHLIB_OK);
  h2c c;
  h2c_stream st[2];
  h2c_stream *v[2] = {&st[0], &st[1]};
  assert_int_equal(h2c_connect(&c, port), 0);
  double t0 = h2c_now_ms();
  assert_int_equal(h2c_request(&c, port, "GET", "/slow", NULL, &st[0]), 0);
  assert_int_equal(nghttp2_session_send(c.s), 0); /* flush the first */
  assert_int_equal(meshlib_mock_wait_requests(m, 1, 5000), 1);
  assert_int_equal(h2c_request(&c, port, "POST", "/fast", "data", &st[1]), 0);
  assert_int_equal(h2c_run(&c, v, 2, 5000), 0);
  h2c_close(&c);
  assert_int_equal(st[0].status, 202);
  assert_int_equal(st[1].status, 200);
  assert_true(st[1].done_ms - t0 < 600.0);
  assert_true(st[0].done_ms - t0 >= 780.0);
  assert_true(st[1].done_ms < st[0].done_ms);
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  assert_string_equal(meshlib_mock_request_path(m, 1), "/fast");
  assert_string_equal(meshlib_mock_request_body(m, 1, NULL), "data");
  meshlib_mock_free(m);
}

static void test_records(void **state) {
  (void)state;
  meshlib_mock *m = start("rec");
  int port = meshlib_mock_port(m);
  char host[32];
  snprintf(host, sizeof(host), "127.0.0.1:%d", port);
  for (int h2 = 0; h2 <= 1; h2++) {
    meshlib_mock_reset(m);
    CURL *e = curl_easy_init();
    mc_resp r;
    mc_call(e, port, "/a/b?x=1&y=%20z", h2, "hello=world", "X-Test: abc", NULL,
            &r);
    assert_int_equal(r.rc, CURLE_OK);
    if (h2) { /* curl issue 10634: no h2c reuse in libcurl 7.88.1 */
      curl_easy_cleanup(e);
      e = curl_easy_init();
    }
    mc_call(e, port, "/second", h2, NULL, NULL, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    curl_easy_cleanup(e);

    assert_int_equal(meshlib_mock_request_count(m), 2);
    assert_string_equal(meshlib_mock_request_method(m, 0), "POST");
    assert_string_equal(meshlib_mock_request_path(m, 0), "/a/b?x=1&y=%20z");
    assert_string_equal(meshlib_mock_request_protocol(m, 0),
                        h2 ? "HTTP/2" : "HTTP/1.1");
    assert_string_equal(meshlib_mock_request_header(m, 0, "x-TEST"), "abc");
    assert_string_equal(meshlib_mock_request_header(m, 0, "Host"), host);
    assert_string_equal(meshlib_mock_request_header(m, 0, "content-type"),
                        "application/x-www-form-urlencoded");
    assert_null(meshlib_mock_request_header(m, 0, "x-absent"));
    size_t len = 99;
    const char *body = meshlib_mock_request_body(m, 0, &len);
    assert_int_equal(len, 11);
    assert_memory_equal(body, "hello=world", 11);
    assert_string_equal(meshlib_mock_request_method(m, 1), "GET");
    assert_string_equal(meshlib_mock_request_path(m, 1), "/second");
    assert_null(meshlib_mock_request_header(m, 1, "x-test"));
    body = meshlib_mock_request_body(m, 1, &len);
    assert_string_equal(body, "");
    assert_int_equal(len, 0);
    /* Out of range. */
    assert_null(meshlib_mock_request_method(m, 2));
    assert_null(meshlib_mock_request_path(m, -1));
    assert_null(meshlib_mock_request_header(m, 2, "host"));
    assert_null(meshlib_mock_request_body(m, 2, &len));
    assert_int_equal(len, 0);
  }
  meshlib_mock_reset(m);
  assert_int_equal(meshlib_mock_request_count(m), 0);
  assert_null(meshlib_mock_request_method(m, 0));
  meshlib_mock_free(m);
}

static void test_large_body(void **state) {
  (void)state;
  meshlib_mock *m = start("big");
  int port = meshlib_mock_port(m);
  /* Bigger than an HTTP/2 frame and than libmicrohttpd's read buffer;
   * libcurl also sends "Expect: 100-continue" for it over HTTP/1.1. */
  size_t n = 200000;
  char *big = malloc(n + 1);
  assert_non_null(big);
  for (size_t i = 0; i < n; i++)
    big[i] = (char)('a' + (char)(i % 26));
  big[n] = '\0';
  for (int h2 = 0; h2 <= 1; h2++) {
    meshlib_mock_reset(m);
    assert_int_equal(meshlib_mock_push_response(m, 200, big, n), MESHLIB_OK);
    CURL *e = curl_easy_init();
    mc_resp r;
    curl_off_t got = 0;
    mc_call(e, port, "/up", h2, big, NULL, NULL, &r);
    curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &got);
    curl_easy_cleanup(e);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(got, (curl_off_t)n);
    assert_memory_equal(r.body, big, sizeof(r.body) - 1);
    size_t len = 0;
    const char *body = meshlib_mock_request_body(m, 0, &len);
    assert_int_equal(len, n);
    assert_memory_equal(body, big, n);
  }
  free(big);
  meshlib_mock_free(m);
}

static void test_pause(void **state) {
  (void)state;
  meshlib_mock *m = start("p");
  int port = meshlib_mock_port(m);
  mc_resp r;
  assert_int_equal(meshlib_mock_pause(m, 1), MESHLIB_OK);
  assert_int_equal(meshlib_mock_pause(m, 1), MESHLIB_OK); /* no-op */
  for (int h2 = 0; h2 <= 1; h2++) {
    mc_get(port, "/", h2, &r);
    assert_int_equal(r.rc, CURLE_COULDNT_CONNECT);
  }
  assert_int_equal(meshlib_mock_pause(m, 0), MESHLIB_OK);
  assert_int_equal(meshlib_mock_port(m), port);
  for (int h2 = 0; h2 <= 1; h2++) {
    mc_get(port, "/", h2, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_string_equal(r.body, "p");
  }
  assert_int_equal(meshlib_mock_request_count(m), 2);
  assert_int_equal(meshlib_mock_connection_count(m), 2);

  /* A connection opened before the pause is still served. */
  CURL *e = curl_easy_init();
  mc_call(e, port, "/", 0, NULL, NULL, NULL, &r);
  assert_int_equal(r.rc, CURLE_OK);
  assert_int_equal(meshlib_mock_pause(m, 1), MESHLIB_OK);
  mc_call(e, port, "/", 0, NULL, NULL, NULL, &r);
  assert_int_equal(r.rc, CURLE_OK);
  curl_easy_cleanup(e);
  meshlib_mock_free(m); /* freeing a paused mock */
}

static void test_hang_released_by_reset(void **state) {
  (void)state;
  meshlib_mock *m = start("h");
  int port = meshlib_mock_port(m);
  for (int h2 = 0; h2 <= 1; h2++) {
    assert_int_equal(meshlib_mock_push_hang(m), MESHLIB_OK);
    call_arg a = {port, h2, "/hang", {0}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, call_thread, &a), 0);
    assert_int_equal(meshlib_mock_wait_requests(m, 1, 5000), 1);
    struct timespec pause_ts = {0, 200000000L};
    nanosleep(&pause_ts, NULL);
    assert_int_equal(meshlib_mock_reset(m), MESHLIB_OK);
    pthread_join(t, NULL);
    assert_int_not_equal(a.r.rc, CURLE_OK);
    assert_true(a.r.ms >= 150.0 && a.r.ms < 5000.0);
  }
  meshlib_mock_free(m);
}

/* Threads of this process, from /proc (Linux). */
static int thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  if (d == NULL)
    return -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void test_free_with_open_connections(void **state) {
  (void)state;
  int threads_before = thread_count();
  meshlib_mock *m = start("f");
  int port = meshlib_mock_port(m);
  CURL *idle[2];
  mc_resp r;
  for (int h2 = 0; h2 <= 1; h2++) {
    idle[h2] = curl_easy_init();
    mc_call(idle[h2], port, "/", h2, NULL, NULL, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
  }
  /* Requests in flight: one hanging per protocol, one delayed. */
  assert_int_equal(meshlib_mock_push_hang(m), MESHLIB_OK);
  assert_int_equal(meshlib_mock_push_hang(m), MESHLIB_OK);
  assert_int_equal(meshlib_mock_push_delay(m, 60000, 200), MESHLIB_OK);
  call_arg a[3] = {
      {port, 0, "/a", {0}}, {port, 1, "/b", {0}}, {port, 1, "/c", {0}}};
  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    assert_int_equal(pthread_create(&t[i], NULL, call_thread, &a[i]), 0);
    assert_int_equal(meshlib_mock_wait_requests(m, 3 + i, 5000), 3 + i);
  }
  /* A connection that never says anything. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  double t0 = mc_now_ms();
  meshlib_mock_free(m);
  assert_true(mc_now_ms() - t0 < 3000.0);
  for (int i = 0; i < 3; i++) {
    pthread_join(t[i], NULL);
    assert_int_not_equal(a[i].r.rc, CURLE_OK);
  }
  close(fd);
  for (int h2 = 0; h2 <= 1; h2++)
    curl_easy_cleanup(idle[h2]);
  /* Every thread the mock started has been joined. */
  assert_int_equal(thread_count(), threads_before);
}

static void test_arguments(void **state) {
  (void)state;
  meshlib_mock *m = NULL;
  assert_int_equal(meshlib_mock_new(NULL), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_mock_new_on_port(&m, 70000), MESHLIB_ERR_RANGE);
  assert_null(m);
  m = start(NULL);
  meshlib_mock *again = NULL;
  assert_int_equal(meshlib_mock_new_on_port(&again, meshlib_mock_port(m)),
                   MESHLIB_ERR_IO);
  assert_null(again);
  assert_int_equal(meshlib_mock_push_header(m, "x", "y"),
                   MESHLIB_ERR_NOT_FOUND);
  assert_int_equal(meshlib_mock_push_response(m, 99, NULL, 0),
                   MESHLIB_ERR_RANGE);
  assert_int_equal(meshlib_mock_push_response(m, 200, NULL, 3),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_mock_push_delay(m, -1, 200), MESHLIB_ERR_RANGE);
  assert_int_equal(meshlib_mock_set_default(m, 600, "", 0), MESHLIB_ERR_RANGE);
  assert_int_equal(meshlib_mock_add_default_header(m, "", "v"),
                   MESHLIB_ERR_BAD_HEADER);
  assert_int_equal(meshlib_mock_add_default_header(m, "a", "b\r\nc: d"),
                   MESHLIB_ERR_BAD_HEADER);
  assert_int_equal(meshlib_mock_set_name(m, NULL), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_mock_port(NULL), -1);
  assert_int_equal(meshlib_mock_request_count(NULL), -1);
  assert_int_equal(meshlib_mock_connection_count(NULL), -1);
  assert_int_equal(meshlib_mock_pause(NULL, 1), MESHLIB_ERR_INVALID_ARG);
  assert_null(meshlib_mock_request_method(NULL, 0));
  assert_string_equal(meshlib_err_name(MESHLIB_ERR_IO), "MESHLIB_ERR_IO");
  meshlib_mock_free(NULL);

  /* A fixed port: the one just freed. */
  int port = meshlib_mock_port(m);
  meshlib_mock_free(m);
  assert_int_equal(meshlib_mock_new_on_port(&m, port), MESHLIB_OK);
  assert_int_equal(meshlib_mock_port(m), port);
  mc_resp r;
  mc_get(port, "/", 0, &r);
  assert_int_equal(r.rc, CURLE_OK);
  meshlib_mock_free(m);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_both_protocols_one_port),
      cmocka_unit_test(test_scripted_sequence),
      cmocka_unit_test(test_delay_does_not_block_others),
      cmocka_unit_test(test_reset),
      cmocka_unit_test(test_refused_stream),
      cmocka_unit_test(test_close_after_headers),
      cmocka_unit_test(test_keep_alive),
      cmocka_unit_test(test_h2_streams_are_independent),
      cmocka_unit_test(test_records),
      cmocka_unit_test(test_large_body),
      cmocka_unit_test(test_pause),
      cmocka_unit_test(test_hang_released_by_reset),
      cmocka_unit_test(test_free_with_open_connections),
      cmocka_unit_test(test_arguments),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
