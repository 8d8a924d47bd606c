/* SPDX-License-Identifier: MIT */
/* The asynchronous client and the CURL path with allocation number N of
 * the mesh's allocator failing, for every N until the flow succeeds:
 * each run fails cleanly (an error code from the call, or a callback
 * with MESHLIB_ERR_NOMEM) or succeeds with the right answer, and every
 * block is given back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>

#include "meshlib/curl.h"
#include "client_test_util.h"
#include "meshlib/testing.h"

static _Atomic long fail_at; /* 1-based; 0: none */
static _Atomic long count;
static _Atomic long live;

static int should_fail(void) {
  long f = atomic_load(&fail_at);
  return atomic_fetch_add(&count, 1) + 1 == f;
}
static void *f_malloc(size_t n, void *ud) {
  (void)ud;
  if (should_fail())
    return NULL;
  atomic_fetch_add(&live, 1);
  return malloc(n);
}
static void f_free(void *p, void *ud) {
  (void)ud;
  if (p)
    atomic_fetch_sub(&live, 1);
  free(p);
}
static void *f_calloc(size_t a, size_t b, void *ud) {
  (void)ud;
  if (should_fail())
    return NULL;
  atomic_fetch_add(&live, 1);
  return calloc(a, b);
}
static void *f_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  if (should_fail())
    return NULL;
  if (!p)
    atomic_fetch_add(&live, 1);
  return realloc(p, n);
}

typedef struct result {
  int done;
  int rc;
  int status;
  char body[16];
} result;

static void on_done(meshlib_request *r, int rc, void *ud) {
  result *x = ud;
  x->done++;
  x->rc = rc;
  x->status = meshlib_response_status(r);
  size_t len;
  const char *b = meshlib_response_body(r, &len);
  snprintf(x->body, sizeof(x->body), "%s", b ? b : "");
}

/* One async call; returns 1 when every step succeeded. */
static int async_call(meshlib *m, const char *method, const char *url,
                      int want_status, const char *want_body) {
  tu_loop l;
  memset(&l, 0, sizeof(l));
  l.deadline = -1;
  if (meshlib_client_new(&l.c, m) != MESHLIB_OK)
    return 0;
  meshlib_client_set_socket_cb(l.c, tu_on_socket, &l);
  meshlib_client_set_timer_cb(l.c, tu_on_timer, &l);
  meshlib_request *r;
  int ok = 0;
  if (meshlib_request_new(&r, m, method, url) == MESHLIB_OK) {
    result x = {0, 0, 0, {0}};
    int rc = meshlib_client_perform(l.c, r, on_done, &x);
    if (rc == MESHLIB_OK) {
      tu_loop_until(&l, &x.done, 1, 5000);
      assert_int_equal(x.done, 1);
      if (x.rc == MESHLIB_OK) {
        assert_int_equal(x.status, want_status);
        assert_string_equal(x.body, want_body);
        ok = 1;
      } else {
        assert_int_equal(x.rc, MESHLIB_ERR_NOMEM);
      }
    } else {
      assert_int_equal(rc, MESHLIB_ERR_NOMEM);
    }
    meshlib_request_free(r);
  }
  meshlib_client_free(l.c);
  assert_int_equal(l.nfds, 0);
  return ok;
}

static int curl_call(meshlib *m) {
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, NULL);
  curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  meshlib_request *r;
  int ok = 0;
  if (meshlib_request_new(&r, m, "HEAD", "http://myapp/api/v1/x") ==
      MESHLIB_OK) {
    int rc = meshlib_curl_prepare(r, e);
    if (rc == MESHLIB_OK) {
      CURLcode cc = curl_easy_perform(e);
      rc = meshlib_curl_done(r, e, (int)cc);
      if (rc == MESHLIB_OK) {
        assert_int_equal(meshlib_response_status(r), 200);
        ok = 1;
      } else {
        assert_int_equal(rc, MESHLIB_ERR_NOMEM);
      }
    } else {
      assert_int_equal(rc, MESHLIB_ERR_NOMEM);
    }
    meshlib_request_free(r);
  }
  curl_easy_cleanup(e);
  return ok;
}

static void test_failalloc(void **state) {
  (void)state;
  meshlib_mock *v1, *v2, *h2;
  assert_int_equal(meshlib_mock_new(&v1), MESHLIB_OK);
  assert_int_equal(meshlib_mock_new(&v2), MESHLIB_OK);
  assert_int_equal(meshlib_mock_new(&h2), MESHLIB_OK);
  meshlib_mock_set_name(v1, "v1");
  meshlib_mock_set_name(h2, "h2");
  static char y[8192];
  tu_yaml(y, sizeof(y), meshlib_mock_port(v1), meshlib_mock_port(v2),
          meshlib_mock_port(h2));
  meshlib_allocator a = {NULL, f_malloc, f_free, f_calloc, f_realloc};
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_allocator(o, &a), MESHLIB_OK);
  meshlib_options_set_namespace(o, "production");
  meshlib_options_add_config_string(o, "async.yaml", y, strlen(y));
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);

  /* A first run without failures: what the mesh keeps for later calls
   * (metric series, per-thread state) exists before the counting starts. */
  assert_true(async_call(m, "GET", "http://myapp/a", 200, "v1"));
  assert_true(async_call(m, "GET", "http://h2svc/", 200, "h2"));
  assert_true(async_call(m, "POST", "http://strict/", 404, ""));
  assert_true(curl_call(m));

  int succeeded = 0;
  for (long n = 1; n < 2000 && !succeeded; n++) {
    long before = atomic_load(&live);
    atomic_store(&count, 0);
    atomic_store(&fail_at, n);
    int ok = async_call(m, "GET", "http://myapp/a", 200, "v1");
    ok &= async_call(m, "GET", "http://h2svc/", 200, "h2");
    ok &= async_call(m, "POST", "http://strict/", 404, "");
    ok &= curl_call(m);
    long used = atomic_load(&count);
    atomic_store(&fail_at, 0);
    assert_int_equal(atomic_load(&live), before);
    if (used < n) {
      assert_true(ok); /* nothing failed: everything worked */
      succeeded = 1;
      print_message("flow of %ld allocations, each failed once\n", used);
    }
  }
  assert_true(succeeded);
  meshlib_free(m);
  assert_int_equal(atomic_load(&live), 0);
  meshlib_mock_free(v1);
  meshlib_mock_free(v2);
  meshlib_mock_free(h2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_failalloc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
