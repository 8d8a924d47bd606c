/* SPDX-License-Identifier: MIT */
/* An application's own CURL easy handle sent through the mesh: what the
 * upstream sees, local replies, Envoy flags on failures, h2c, and the
 * handle being usable for a plain call afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "meshlib/curl.h"
#include "client_test_util.h"
#include "meshlib/testing.h"

typedef struct sink {
  char data[256];
  size_t len;
} sink;

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
  sink *s = ud;
  size_t len = size * n;
  size_t room = sizeof(s->data) - 1 - s->len;
  size_t k = len < room ? len : room;
  memcpy(s->data + s->len, p, k);
  s->len += k;
  s->data[s->len] = '\0';
  return len;
}

/* The application's handle: its own write callback and its own
 * options. */
static CURL *app_handle(sink *s) {
  CURL *e = curl_easy_init();
  assert_non_null(e);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  return e;
}

static int setup(void **state) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  tu_mesh *t = calloc(1, sizeof(*t));
  if (tu_mesh_start(t))
    return -1;
  *state = t;
  return 0;
}

static int teardown(void **state) {
  tu_mesh *t = *state;
  tu_mesh_stop(t);
  free(t);
  curl_global_cleanup();
  return 0;
}

static void test_easy_through_mesh(void **state) {
  tu_mesh *t = *state;
  sink s = {{0}, 0};
  CURL *e = app_handle(&s);
  meshlib_request *r;
  assert_int_equal(
      meshlib_request_new(&r, t->mesh, "GET", "http://myapp/api/v1/items?x=1"),
      MESHLIB_OK);
  struct curl_slist *h = curl_slist_append(NULL, "X-Secret: s3cr3t");
  h = curl_slist_append(h, "X-Keep:  yes ");
  h = curl_slist_append(h, "Accept:"); /* libcurl's "do not send" */
  assert_int_equal(meshlib_curl_add_headers(r, h), MESHLIB_OK);
  assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_OK);
  /* Once prepared, not again before done. */
  assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_ERR_INVALID_ARG);
  CURLcode cc = curl_easy_perform(e);
  assert_int_equal(cc, CURLE_OK);
  assert_int_equal(meshlib_curl_done(r, e, (int)cc), MESHLIB_OK);
  assert_int_equal(meshlib_curl_done(r, e, (int)cc), MESHLIB_ERR_INVALID_ARG);

  assert_int_equal(meshlib_response_status(r), 200);
  assert_int_equal(meshlib_response_flags(r), 0);
  assert_int_equal(meshlib_response_attempts(r), 1);
  char want[64];
  snprintf(want, sizeof(want), "127.0.0.1:%d", meshlib_mock_port(t->v1));
  assert_string_equal(meshlib_response_upstream(r), want);
  assert_string_equal(meshlib_response_cluster(r),
                      "outbound|80|v1|myapp.production.svc.cluster.local");
  /* The route's response rule; the body is the application's. */
  assert_string_equal(meshlib_response_header(r, "x-served-via"), "meshlib");
  assert_string_equal(s.data, "v1");
  assert_true(meshlib_response_duration_us(r) > 0);

  assert_int_equal(meshlib_mock_request_count(t->v1), 1);
  assert_string_equal(meshlib_mock_request_path(t->v1, 0), "/v1/items?x=1");
  assert_string_equal(meshlib_mock_request_header(t->v1, 0, "host"),
                      "backend.internal");
  assert_string_equal(meshlib_mock_request_header(t->v1, 0, "x-route"),
                      "rewrite");
  assert_string_equal(meshlib_mock_request_header(t->v1, 0, "x-keep"), "yes");
  assert_null(meshlib_mock_request_header(t->v1, 0, "x-secret"));

  /* The same handle, now for a call that does not go through the mesh:
   * none of the mesh's options is left on it. */
  s.len = 0;
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/plain",
           meshlib_mock_port(t->v2));
  curl_easy_setopt(e, CURLOPT_URL, url);
  assert_int_equal(curl_easy_perform(e), CURLE_OK);
  assert_string_equal(s.data, "v2");
  assert_int_equal(meshlib_mock_request_count(t->v2), 1);
  char host[64];
  snprintf(host, sizeof(host), "127.0.0.1:%d", meshlib_mock_port(t->v2));
  assert_string_equal(meshlib_mock_request_header(t->v2, 0, "host"), host);
  assert_null(meshlib_mock_request_header(t->v2, 0, "x-route"));
  assert_null(meshlib_mock_request_header(t->v2, 0, "x-keep"));
  assert_int_equal(meshlib_mock_request_count(t->v1), 1);

  /* And through the mesh again, header-matched to v2. */
  meshlib_request_free(r);
  s.len = 0;
  assert_int_equal(meshlib_request_new(&r, t->mesh, "GET", "http://myapp/"),
                   MESHLIB_OK);
  meshlib_request_add_header(r, "x-user", "beta");
  assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_OK);
  cc = curl_easy_perform(e);
  assert_int_equal(meshlib_curl_done(r, e, (int)cc), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), 200);
  assert_string_equal(s.data, "v2");
  assert_string_equal(meshlib_mock_request_header(t->v2, 1, "host"), "myapp");

  meshlib_request_free(r);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
}

static void test_local_reply(void **state) {
  tu_mesh *t = *state;
  sink s = {{0}, 0};
  CURL *e = app_handle(&s);
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, t->mesh, "POST", "http://strict/"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_CURL_LOCAL_REPLY);
  assert_int_equal(meshlib_response_status(r), 404);
  assert_int_equal(meshlib_response_flags(r), MESHLIB_RF_NR);
  /* Nothing to finish. */
  assert_int_equal(meshlib_curl_done(r, e, 0), MESHLIB_ERR_INVALID_ARG);
  meshlib_request_free(r);

  assert_int_equal(
      meshlib_request_new(&r, t->mesh, "GET", "http://myapp/direct"),
      MESHLIB_OK);
  assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_CURL_LOCAL_REPLY);
  assert_int_equal(meshlib_response_status(r), 418);
  size_t len;
  assert_string_equal(meshlib_response_body(r, &len), "teapot");
  meshlib_request_free(r);

  assert_int_equal(
      meshlib_request_new(&r, t->mesh, "GET", "http://myapp/nobody"),
      MESHLIB_OK);
  assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_CURL_LOCAL_REPLY);
  assert_int_equal(meshlib_response_flags(r), MESHLIB_RF_UH);
  meshlib_request_free(r);
  assert_int_equal(meshlib_mock_request_count(t->v1), 0);
  curl_easy_cleanup(e);
}

static void test_connect_failure_and_timeout(void **state) {
  tu_mesh *t = *state;
  sink s = {{0}, 0};
  CURL *e = app_handle(&s);
  meshlib_mock *gone;
  assert_int_equal(meshlib_mock_new(&gone), MESHLIB_OK);
  int port = meshlib_mock_port(gone);
  meshlib_mock_free(gone);
  meshlib_endpoints *eps;
  meshlib_endpoints_new(&eps);
  meshlib_endpoints_add(eps, "127.0.0.1", (uint32_t)port, 1);
  assert_int_equal(meshlib_set_endpoints(t->mesh, "ratings", eps), MESHLIB_OK);
  meshlib_endpoints_free(eps);

  meshlib_request *r;
  assert_int_equal(
      meshlib_request_new(&r, t->mesh, "GET", "http://ratings:9080/stars"),
      MESHLIB_OK);
  assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_OK);
  CURLcode cc = curl_easy_perform(e);
  assert_int_equal(cc, CURLE_COULDNT_CONNECT);
  assert_int_equal(meshlib_curl_done(r, e, (int)cc), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), 503);
  assert_int_equal(meshlib_response_flags(r), MESHLIB_RF_UF);
  meshlib_request_free(r);

  /* The route's 200 ms timeout, on the application's handle. */
  meshlib_mock_push_delay(t->v1, 3000, 200);
  assert_int_equal(meshlib_request_new(&r, t->mesh, "GET", "http://myapp/slow"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_OK);
  int64_t t0 = tu_now_ms();
  cc = curl_easy_perform(e);
  assert_int_equal(cc, CURLE_OPERATION_TIMEDOUT);
  assert_true(tu_now_ms() - t0 < 2000);
  assert_int_equal(meshlib_curl_done(r, e, (int)cc), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(r), 504);
  assert_int_equal(meshlib_response_flags(r), MESHLIB_RF_UT);
  meshlib_request_free(r);
  meshlib_mock_reset(t->v1);

  /* The timeout is gone from the handle afterwards. */
  meshlib_mock_push_delay(t->v1, 400, 200);
  s.len = 0;
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", meshlib_mock_port(t->v1));
  curl_easy_setopt(e, CURLOPT_URL, url);
  assert_int_equal(curl_easy_perform(e), CURLE_OK);
  assert_string_equal(s.data, "v1");
  curl_easy_cleanup(e);
}

static void test_h2c_and_multi(void **state) {
  tu_mesh *t = *state;
  sink s = {{0}, 0};
  CURL *e = app_handle(&s);
  /* Twice on one handle: each over a connection of its own with
   * libcurl 7.88, and both over HTTP/2. */
  for (int i = 0; i < 2; i++) {
    s.len = 0;
    meshlib_request *r;
    assert_int_equal(meshlib_request_new(&r, t->mesh, "GET", "http://h2svc/h2"),
                     MESHLIB_OK);
    assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_OK);
    CURLcode cc = curl_easy_perform(e);
    assert_int_equal(cc, CURLE_OK);
    assert_int_equal(meshlib_curl_done(r, e, (int)cc), MESHLIB_OK);
    assert_int_equal(meshlib_response_status(r), 200);
    assert_string_equal(s.data, "h2");
    meshlib_request_free(r);
  }
  assert_int_equal(meshlib_mock_request_count(t->h2), 2);
  assert_string_equal(meshlib_mock_request_protocol(t->h2, 0), "HTTP/2");
  assert_string_equal(meshlib_mock_request_protocol(t->h2, 1), "HTTP/2");
  assert_string_equal(meshlib_mock_request_header(t->h2, 1, "host"), "h2svc");
  curl_easy_cleanup(e);

  /* The application's own multi handle, several calls at once. */
  enum { N = 8 };
  CURLM *m = curl_multi_init();
  CURL *es[N];
  sink ss[N];
  meshlib_request *rs[N];
  for (int i = 0; i < N; i++) {
    memset(&ss[i], 0, sizeof(ss[i]));
    es[i] = app_handle(&ss[i]);
    curl_easy_setopt(es[i], CURLOPT_PRIVATE, (void *)rs);
    assert_int_equal(
        meshlib_request_new(&rs[i], t->mesh, "GET",
                            i % 2 ? "http://myapp/b" : "http://myapp/a"),
        MESHLIB_OK);
    assert_int_equal(meshlib_curl_prepare(rs[i], es[i]), MESHLIB_OK);
    curl_multi_add_handle(m, es[i]);
  }
  int running = 1, finished = 0;
  while (running) {
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      for (int i = 0; i < N; i++) {
        if (es[i] != msg->easy_handle)
          continue;
        CURLcode cc = msg->data.result;
        curl_multi_remove_handle(m, es[i]);
        assert_int_equal(meshlib_curl_done(rs[i], es[i], (int)cc), MESHLIB_OK);
        finished++;
        break;
      }
    }
    if (running)
      curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  assert_int_equal(finished, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(meshlib_response_status(rs[i]), 200);
    assert_string_equal(ss[i].data, i % 2 ? "v2" : "v1");
    meshlib_request_free(rs[i]);
    curl_easy_cleanup(es[i]);
  }
  curl_multi_cleanup(m);
}

static void test_free_without_done(void **state) {
  tu_mesh *t = *state;
  sink s = {{0}, 0};
  CURL *e = app_handle(&s);
  meshlib_request *r;
  assert_int_equal(meshlib_request_new(&r, t->mesh, "GET", "http://myapp/a"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_curl_prepare(r, e), MESHLIB_OK);
  curl_easy_cleanup(e);    /* the application gave up on it */
  meshlib_request_free(r); /* no leak, the in-flight count released */

  assert_int_equal(meshlib_curl_prepare(NULL, NULL), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_curl_done(NULL, NULL, 0), MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_curl_add_headers(NULL, NULL),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_request_new(&r, t->mesh, "GET", "http://myapp/a"),
                   MESHLIB_OK);
  struct curl_slist bad = {(char *)"no colon here", NULL};
  assert_int_equal(meshlib_curl_add_headers(r, &bad), MESHLIB_ERR_BAD_HEADER);
  struct curl_slist empty = {(char *)"X-Empty;", NULL};
  assert_int_equal(meshlib_curl_add_headers(r, &empty), MESHLIB_OK);
  meshlib_request_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_easy_through_mesh, setup, teardown),
      cmocka_unit_test_setup_teardown(test_local_reply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_failure_and_timeout, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_h2c_and_multi, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_without_done, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
