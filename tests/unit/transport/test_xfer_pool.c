/* SPDX-License-Identifier: MIT */
/* What one attempt adds to the transport: extra headers sent after the
 * request's own, a DestinationRule's connection-pool rules
 * (maxRequestsPerConnection, idleTimeout, maxConnectionDuration,
 * tcpKeepalive), and the per-try and connect timeouts, over HTTP/1.1
 * (libcurl, synchronous and through a CURLM) and h2c (nghttp2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meshlib/testing.h"
#include "xfer_test_util.h"
#include "transport/xfer_easy.h"

static const ml_http_version versions[] = {ML_HTTP_1_1, ML_HTTP_2_PRIOR};

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* One exchange that must succeed; returns whether it reused a
 * connection. */
static int call_ok(const ml_xfer_req *req) {
  ml_xfer_result res;
  assert_int_equal(ml_xfer_perform(NULL, req, &res), MESHLIB_OK);
  if (res.outcome != ML_XFER_OK)
    fail_msg("outcome %d: %s", (int)res.outcome, res.error);
  assert_int_equal(res.status, 200);
  int reused = res.reused_connection;
  ml_xfer_result_free(NULL, &res);
  return reused;
}

/* ---- extra headers -------------------------------------------------- */

static void test_extra_headers(void **state) {
  (void)state;
  meshlib_mock *m = xt_start("x");
  for (int vi = 0; vi < 2; vi++) {
    ml_http_version v = versions[vi];
    const ml_header hs[] = {{"X-App", "a"}, {"x-request-id", "r-1"}};
    ml_header extra[] = {{"x-envoy-attempt-count", "1"},
                         {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-"
                                         "b7ad6b7169203331-01"},
                         {"x-empty", ""}};
    ml_xfer_req req;
    xt_req(&req, m, v, "svc");
    req.headers = hs;
    req.header_count = 2;
    req.extra_headers = extra;
    req.extra_header_count = 3;
    /* Attempts 1, 2, then 2 again (the same lines), then none, then the
     * extra ones alone. */
    const char *counts[] = {"1", "2", "2", NULL, "3"};
    for (int i = 0; i < 5; i++) {
      meshlib_mock_reset(m);
      if (counts[i])
        extra[0].value = counts[i];
      req.extra_header_count = counts[i] ? 3 : 0;
      if (i == 4) {
        req.headers = NULL;
        req.header_count = 0;
      }
      call_ok(&req);
      assert_string_equal(meshlib_mock_request_protocol(m, 0), xt_proto(v));
      if (i < 4) {
        assert_string_equal(meshlib_mock_request_header(m, 0, "x-app"), "a");
        assert_string_equal(meshlib_mock_request_header(m, 0, "x-request-id"),
                            "r-1");
      } else {
        assert_null(meshlib_mock_request_header(m, 0, "x-app"));
      }
      const char *got =
          meshlib_mock_request_header(m, 0, "x-envoy-attempt-count");
      if (counts[i]) {
        assert_non_null(got);
        assert_string_equal(got, counts[i]);
        assert_string_equal(meshlib_mock_request_header(m, 0, "traceparent"),
                            extra[1].value);
        assert_string_equal(meshlib_mock_request_header(m, 0, "x-empty"), "");
      } else {
        assert_null(got);
        assert_null(meshlib_mock_request_header(m, 0, "traceparent"));
      }
      assert_string_equal(meshlib_mock_request_header(m, 0, "host"), "svc");
      assert_null(meshlib_mock_request_header(m, 0, "accept"));
    }
    req.headers = hs;
    req.header_count = 2;

    /* More lines than the transport keeps to compare (16). */
    char names[20][16], values[20][16];
    ml_header many[20];
    for (int i = 0; i < 20; i++) {
      snprintf(names[i], sizeof(names[i]), "x-many-%d", i);
      snprintf(values[i], sizeof(values[i]), "v%d", i);
      many[i].name = names[i];
      many[i].value = values[i];
    }
    req.extra_headers = many;
    req.extra_header_count = 20;
    for (int round = 0; round < 2; round++) {
      meshlib_mock_reset(m);
      call_ok(&req);
      for (int i = 0; i < 20; i++)
        assert_string_equal(meshlib_mock_request_header(m, 0, names[i]),
                            values[i]);
      assert_string_equal(meshlib_mock_request_header(m, 0, "x-app"), "a");
    }

    /* A count without a list is refused. */
    req.extra_headers = NULL;
    req.extra_header_count = 1;
    ml_xfer_result res;
    assert_int_equal(ml_xfer_perform(NULL, &req, &res),
                     MESHLIB_ERR_INVALID_ARG);
    ml_xfer_result_free(NULL, &res);
  }
  /* HTTP/1.1 checks extra lines as it checks the request's. */
  const ml_header bad[] = {{"x-bad", "a\r\nx-smuggled: 1"}};
  ml_xfer_req req;
  xt_req(&req, m, ML_HTTP_1_1, "svc");
  req.extra_headers = bad;
  req.extra_header_count = 1;
  ml_xfer_result res;
  assert_int_equal(ml_xfer_perform(NULL, &req, &res), MESHLIB_ERR_INVALID_ARG);
  ml_xfer_result_free(NULL, &res);
  ml_xfer_thread_cleanup();
  meshlib_mock_free(m);
}

/* ---- maxRequestsPerConnection --------------------------------------- */

static void test_max_requests_per_connection(void **state) {
  (void)state;
  const int64_t limits[] = {1, 3, 0};
  enum { N = 7 };
  for (int vi = 0; vi < 2; vi++) {
    for (int li = 0; li < 3; li++) {
      meshlib_mock *m = xt_start("mr");
      ml_xfer_pool pool;
      memset(&pool, 0, sizeof(pool));
      pool.max_requests_per_connection = limits[li];
      pool.idle_timeout_ms = -1;
      ml_xfer_req req;
      xt_req(&req, m, versions[vi], "svc");
      req.pool = &pool;
      for (int i = 0; i < N; i++) {
        int reused = call_ok(&req);
        int64_t lim = limits[li];
        assert_int_equal(reused, lim == 0 ? i > 0 : i % lim != 0);
      }
      int64_t lim = limits[li];
      int want = lim == 0 ? 1 : (int)((N + lim - 1) / lim);
      assert_int_equal(meshlib_mock_request_count(m), N);
      assert_int_equal(meshlib_mock_connection_count(m), want);
      ml_xfer_thread_cleanup();
      meshlib_mock_free(m);
    }
  }
}

/* The count is per connection: two endpoints of one thread, called in
 * turn, each close after their own third exchange. A call without a
 * pool between them changes nothing. */
static void test_max_requests_two_endpoints(void **state) {
  (void)state;
  for (int vi = 0; vi < 2; vi++) {
    meshlib_mock *a = xt_start("a"), *b = xt_start("b");
    ml_xfer_pool pool;
    memset(&pool, 0, sizeof(pool));
    pool.max_requests_per_connection = 3;
    pool.idle_timeout_ms = -1;
    for (int i = 0; i < 12; i++) {
      ml_xfer_req req;
      xt_req(&req, i % 2 ? b : a, versions[vi], "svc");
      req.pool = &pool;
      call_ok(&req);
    }
    assert_int_equal(meshlib_mock_connection_count(a), 2);
    assert_int_equal(meshlib_mock_connection_count(b), 2);
    ml_xfer_thread_cleanup();
    meshlib_mock_free(a);
    meshlib_mock_free(b);
  }
}

/* ---- idleTimeout and maxConnectionDuration ---------------------------- */

static void test_idle_timeout(void **state) {
  (void)state;
  /* Per protocol: one mock whose pool has a 1 s idle timeout, one with
   * Istio's default (no pool: 1 h), one with idleTimeout 0 (never). */
  meshlib_mock *m[2][3];
  ml_xfer_pool pools[3];
  memset(pools, 0, sizeof(pools));
  pools[0].idle_timeout_ms = 1000;
  pools[2].idle_timeout_ms = 0;
  for (int vi = 0; vi < 2; vi++)
    for (int k = 0; k < 3; k++)
      m[vi][k] = xt_start("idle");
  for (int round = 0; round < 2; round++) {
    for (int vi = 0; vi < 2; vi++) {
      for (int j = 0; j < 3; j++) {
        /* The 1 s one last in the second round: libcurl applies the
         * idle timeout of the exchange it runs to every connection of
         * the handle once a second (see docs/design.md). */
        int k = round == 0 ? j : (j + 1) % 3;
        ml_xfer_req req;
        xt_req(&req, m[vi][k], versions[vi], "svc");
        req.pool = k == 1 ? NULL : &pools[k];
        int reused = call_ok(&req);
        assert_int_equal(reused, round == 1 && k != 0);
      }
    }
    if (round == 0)
      sleep_ms(1400); /* past 1 s (libcurl 7.88 counts whole seconds) */
  }
  for (int vi = 0; vi < 2; vi++)
    for (int k = 0; k < 3; k++) {
      assert_int_equal(meshlib_mock_connection_count(m[vi][k]), k == 0 ? 2 : 1);
      meshlib_mock_free(m[vi][k]);
    }
  ml_xfer_thread_cleanup();
}

/* Idle less than the timeout: the connection is used again. */
static void test_idle_timeout_not_reached(void **state) {
  (void)state;
  for (int vi = 0; vi < 2; vi++) {
    meshlib_mock *m = xt_start("busy");
    ml_xfer_pool pool;
    memset(&pool, 0, sizeof(pool));
    pool.idle_timeout_ms = 3000;
    ml_xfer_req req;
    xt_req(&req, m, versions[vi], "svc");
    req.pool = &pool;
    for (int i = 0; i < 4; i++) {
      assert_int_equal(call_ok(&req), i > 0);
      sleep_ms(300);
    }
    assert_int_equal(meshlib_mock_connection_count(m), 1);
    ml_xfer_thread_cleanup();
    meshlib_mock_free(m);
  }
}

static void test_max_connection_duration(void **state) {
  (void)state;
  for (int vi = 0; vi < 2; vi++) {
    meshlib_mock *m = xt_start("life");
    ml_xfer_pool pool;
    memset(&pool, 0, sizeof(pool));
    pool.idle_timeout_ms = -1;
    pool.max_connection_duration_ms = 500;
    ml_xfer_req req;
    xt_req(&req, m, versions[vi], "svc");
    req.pool = &pool;
    /* Young: reused. Then past 500 ms: the connection carries no new
     * exchange after the one under way (HTTP/1.1 over libcurl: closed
     * after it; h2c: not used again), so three calls make two
     * connections either way. */
    call_ok(&req);
    assert_true(call_ok(&req));
    sleep_ms(650);
    call_ok(&req);
    call_ok(&req);
    assert_int_equal(meshlib_mock_connection_count(m), 2);
    ml_xfer_thread_cleanup();
    meshlib_mock_free(m);
  }
}

/* ---- tcpKeepalive --------------------------------------------------- */

/* The options of this process's client sockets connected to |port|, as
 * getsockopt() reads them; returns how many sockets were found. */
static int client_keepalive(int port, int *on, int *idle, int *intvl,
                            int *cnt) {
  int found = 0;
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    int fd = (int)strtol(de->d_name, NULL, 10);
    if (fd <= 2 || fd == dirfd(d))
      continue;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
      continue;
    struct sockaddr_in peer;
    socklen_t sl = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &sl) != 0 ||
        peer.sin_family != AF_INET || ntohs(peer.sin_port) != port)
      continue;
    socklen_t l = sizeof(int);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, on, &l), 0);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle, &l), 0);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, intvl, &l), 0);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt, &l), 0);
    found++;
  }
  closedir(d);
  return found;
}

static void test_tcp_keepalive(void **state) {
  (void)state;
  for (int vi = 0; vi < 2; vi++) {
    meshlib_mock *with = xt_start("ka"), *without = xt_start("noka");
    ml_xfer_pool pool;
    memset(&pool, 0, sizeof(pool));
    pool.idle_timeout_ms = -1;
    pool.tcp_keepalive = 1;
    pool.keepalive_time_ms = 30000;
    pool.keepalive_interval_ms = 4500; /* whole seconds, rounded up */
    pool.keepalive_probes = 4;
    ml_xfer_req req;
    for (int i = 0; i < 3; i++) {
      xt_req(&req, with, versions[vi], "svc");
      req.pool = &pool;
      call_ok(&req);
      xt_req(&req, without, versions[vi], "svc");
      call_ok(&req);
    }
    int on = -1, idle = -1, intvl = -1, cnt = -1;
    assert_int_equal(
        client_keepalive(meshlib_mock_port(with), &on, &idle, &intvl, &cnt), 1);
    assert_int_equal(on, 1);
    assert_int_equal(idle, 30);
    assert_int_equal(intvl, 5);
    assert_int_equal(cnt, 4);
    assert_int_equal(
        client_keepalive(meshlib_mock_port(without), &on, &idle, &intvl, &cnt),
        1);
    assert_int_equal(on, 0);
    assert_int_equal(meshlib_mock_connection_count(with), 1);
    assert_int_equal(meshlib_mock_connection_count(without), 1);

    /* Keepalive on, the system's values. */
    meshlib_mock *sys = xt_start("sys");
    ml_xfer_pool bare;
    memset(&bare, 0, sizeof(bare));
    bare.tcp_keepalive = 1;
    bare.keepalive_time_ms = bare.keepalive_interval_ms = -1;
    bare.keepalive_probes = -1;
    xt_req(&req, sys, versions[vi], "svc");
    req.pool = &bare;
    call_ok(&req);
    int idle0 = -1, intvl0 = -1, cnt0 = -1;
    {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      socklen_t l = sizeof(int);
      getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle0, &l);
      getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl0, &l);
      getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt0, &l);
      close(fd);
    }
    assert_int_equal(
        client_keepalive(meshlib_mock_port(sys), &on, &idle, &intvl, &cnt), 1);
    assert_int_equal(on, 1);
    assert_int_equal(idle, idle0);
    assert_int_equal(intvl, intvl0);
    assert_int_equal(cnt, cnt0);
    ml_xfer_thread_cleanup();
    meshlib_mock_free(with);
    meshlib_mock_free(without);
    meshlib_mock_free(sys);
  }
}

/* ---- timeouts ------------------------------------------------------- */

/* A request that is never answered: the per-try timeout ends it on time
 * and the next exchange to the same endpoint, on the same thread, works
 * (h2c: on the same session, the stream having been cancelled). */
static void test_timeout_on_hang(void **state) {
  (void)state;
  for (int vi = 0; vi < 2; vi++) {
    meshlib_mock *m = xt_start("hang");
    ml_xfer_req req;
    xt_req(&req, m, versions[vi], "svc");
    call_ok(&req); /* a kept-alive connection first */
    assert_int_equal(meshlib_mock_push_hang(m), MESHLIB_OK);
    req.timeout_ms = 250;
    ml_xfer_result res;
    double t0 = xt_now_ms();
    assert_int_equal(ml_xfer_perform(NULL, &req, &res), MESHLIB_OK);
    double ms = xt_now_ms() - t0;
    assert_int_equal(res.outcome, ML_XFER_TIMEOUT);
    assert_int_equal(res.curl_code, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(res.status, 0);
    assert_true(ms >= 240 && ms < 2500);
    ml_xfer_result_free(NULL, &res);
    req.timeout_ms = 10000;
    for (int i = 0; i < 3; i++) {
      t0 = xt_now_ms();
      call_ok(&req);
      assert_true(xt_now_ms() - t0 < 2000);
    }
    assert_int_equal(meshlib_mock_request_count(m), 5);
    /* HTTP/1.1 cannot cancel one exchange but by closing its
     * connection; h2c cancels the stream and keeps the session. */
    assert_int_equal(meshlib_mock_connection_count(m),
                     versions[vi] == ML_HTTP_2_PRIOR ? 1 : 2);
    ml_xfer_thread_cleanup();
    meshlib_mock_free(m);
  }
}

/* A stream that timed out on an h2c session does not poison the next:
 * its late response arrives while the next stream runs, and is
 * ignored. */
static void test_h2c_late_response_ignored(void **state) {
  (void)state;
  meshlib_mock *m = xt_start("late");
  ml_xfer_req req;
  xt_req(&req, m, ML_HTTP_2_PRIOR, "svc");
  assert_int_equal(meshlib_mock_push_delay(m, 300, 503), MESHLIB_OK);
  assert_int_equal(meshlib_mock_push_delay(m, 500, 201), MESHLIB_OK);
  req.timeout_ms = 100;
  ml_xfer_result res;
  assert_int_equal(ml_xfer_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_TIMEOUT);
  ml_xfer_result_free(NULL, &res);
  req.timeout_ms = 5000;
  assert_int_equal(ml_xfer_perform(NULL, &req, &res), MESHLIB_OK);
  assert_int_equal(res.outcome, ML_XFER_OK);
  assert_int_equal(res.status, 201);
  assert_string_equal(res.body, "late");
  assert_true(res.reused_connection);
  ml_xfer_result_free(NULL, &res);
  call_ok(&req);
  assert_int_equal(meshlib_mock_connection_count(m), 1);
  ml_xfer_thread_cleanup();
  meshlib_mock_free(m);
}

/* A port whose accept queue is full: a new connection's SYN goes
 * unanswered, so connecting hangs. Returns the port; |fds| keeps the
 * listener and the connection that filled the queue. */
static int hanging_port(int fds[2]) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(l >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(l, 0), 0); /* a queue of one */
  socklen_t sl = sizeof(a);
  assert_int_equal(getsockname(l, (struct sockaddr *)&a, &sl), 0);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
  /* Check that the next one does hang. */
  int probe = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int r = connect(probe, (struct sockaddr *)&a, sizeof(a));
  assert_true(r != 0 && errno == EINPROGRESS);
  struct pollfd p = {probe, POLLOUT, 0};
  assert_int_equal(poll(&p, 1, 200), 0);
  close(probe);
  fds[0] = l;
  fds[1] = c;
  return ntohs(a.sin_port);
}

static void test_connect_timeout(void **state) {
  (void)state;
  int fds[2];
  int port = hanging_port(fds);
  for (int vi = 0; vi < 2; vi++) {
    ml_xfer_req req;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.scheme = "http";
    req.authority = "svc";
    req.path = "/";
    req.connect_host = "127.0.0.1";
    req.connect_port = (uint32_t)port;
    req.version = versions[vi];
    /* connectTimeout first: a connect failure (Envoy's UF). */
    req.timeout_ms = 10000;
    req.connect_timeout_ms = 300;
    ml_xfer_result res;
    double t0 = xt_now_ms();
    assert_int_equal(ml_xfer_perform(NULL, &req, &res), MESHLIB_OK);
    double ms = xt_now_ms() - t0;
    assert_int_equal(res.outcome, ML_XFER_CONNECT_FAILURE);
    assert_int_equal(res.curl_code, CURLE_OPERATION_TIMEDOUT);
    assert_false(res.reused_connection);
    assert_true(ms >= 290 && ms < 2500);
    ml_xfer_result_free(NULL, &res);
    /* The per-try timeout first: a timeout (UT). */
    req.timeout_ms = 250;
    req.connect_timeout_ms = 5000;
    t0 = xt_now_ms();
    assert_int_equal(ml_xfer_perform(NULL, &req, &res), MESHLIB_OK);
    ms = xt_now_ms() - t0;
    assert_int_equal(res.outcome, ML_XFER_TIMEOUT);
    assert_true(ms >= 240 && ms < 2500);
    ml_xfer_result_free(NULL, &res);
  }
  close(fds[1]);
  close(fds[0]);
  /* The thread's handles still work. */
  meshlib_mock *m = xt_start("after");
  for (int vi = 0; vi < 2; vi++) {
    ml_xfer_req req;
    xt_req(&req, m, versions[vi], "svc");
    call_ok(&req);
  }
  ml_xfer_thread_cleanup();
  meshlib_mock_free(m);
}

/* ---- through a CURLM (the asynchronous client's way) ---------------- */

static CURLcode multi_exchange(CURLM *multi, CURL *e, ml_xfer_run *run,
                               int *ready, const ml_xfer_req *req,
                               ml_xfer_result *res) {
  if (!*ready) {
    assert_int_equal(ml_xfer_handle_init(e, run), MESHLIB_OK);
    *ready = 1;
  }
  ml_xfer_result_init(res, NULL);
  assert_int_equal(ml_xfer_run_setup(run, e, NULL, req, res), MESHLIB_OK);
  assert_int_equal(curl_multi_add_handle(multi, e), CURLM_OK);
  CURLcode cc = CURLE_FAILED_INIT;
  for (int done = 0; !done;) {
    int running = 0;
    curl_multi_perform(multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL)
      if (msg->msg == CURLMSG_DONE) {
        cc = msg->data.result;
        done = 1;
      }
    if (!done)
      curl_multi_poll(multi, NULL, 0, 100, NULL);
  }
  assert_int_equal(ml_xfer_run_finish(run, e, cc), MESHLIB_OK);
  curl_multi_remove_handle(multi, e);
  *ready = ml_xfer_run_unset(run, e);
  ml_xfer_run_release(run);
  return cc;
}

static void test_multi_extra_headers_and_pool(void **state) {
  (void)state;
  meshlib_mock *m = xt_start("multi");
  CURLM *multi = curl_multi_init();
  CURL *e = curl_easy_init();
  assert_non_null(multi);
  assert_non_null(e);
  ml_xfer_run run;
  memset(&run, 0, sizeof(run));
  int ready = 0;
  ml_xfer_pool pool;
  memset(&pool, 0, sizeof(pool));
  pool.idle_timeout_ms = -1;
  pool.max_requests_per_connection = 3;
  const ml_header hs[] = {{"x-app", "a"}};
  char count[8];
  const ml_header extra[] = {{"x-envoy-attempt-count", count}};
  ml_xfer_req req;
  xt_req(&req, m, ML_HTTP_1_1, "svc");
  req.headers = hs;
  req.header_count = 1;
  req.extra_headers = extra;
  req.extra_header_count = 1;
  req.pool = &pool;
  for (int i = 0; i < 7; i++) {
    snprintf(count, sizeof(count), "%d", i + 1);
    ml_xfer_result res;
    assert_int_equal(multi_exchange(multi, e, &run, &ready, &req, &res),
                     CURLE_OK);
    assert_int_equal(res.outcome, ML_XFER_OK);
    assert_int_equal(res.reused_connection, i % 3 != 0);
    ml_xfer_result_free(NULL, &res);
    assert_string_equal(meshlib_mock_request_header(m, i, "x-app"), "a");
    assert_string_equal(
        meshlib_mock_request_header(m, i, "x-envoy-attempt-count"), count);
  }
  assert_int_equal(meshlib_mock_connection_count(m), 3);
  /* No keep-alive at all. */
  pool.max_requests_per_connection = 1;
  req.extra_header_count = 0;
  for (int i = 0; i < 3; i++) {
    ml_xfer_result res;
    assert_int_equal(multi_exchange(multi, e, &run, &ready, &req, &res),
                     CURLE_OK);
    assert_false(res.reused_connection);
    ml_xfer_result_free(NULL, &res);
    assert_null(meshlib_mock_request_header(m, 7 + i, "x-envoy-attempt-count"));
  }
  assert_int_equal(meshlib_mock_connection_count(m), 6);
  /* Without a pool again: kept alive, on the connection the first
   * rule left open (its one exchange so far), which no-keep-alive
   * exchanges did not take. */
  req.pool = NULL;
  for (int i = 0; i < 3; i++) {
    ml_xfer_result res;
    assert_int_equal(multi_exchange(multi, e, &run, &ready, &req, &res),
                     CURLE_OK);
    assert_true(res.reused_connection);
    ml_xfer_result_free(NULL, &res);
  }
  assert_int_equal(meshlib_mock_connection_count(m), 6);
  curl_multi_cleanup(multi);
  curl_easy_cleanup(e);
  ml_xfer_run_destroy(&run);
  meshlib_mock_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_extra_headers),
      cmocka_unit_test(test_max_requests_per_connection),
      cmocka_unit_test(test_max_requests_two_endpoints),
      cmocka_unit_test(test_idle_timeout),
      cmocka_unit_test(test_idle_timeout_not_reached),
      cmocka_unit_test(test_max_connection_duration),
      cmocka_unit_test(test_tcp_keepalive),
      cmocka_unit_test(test_timeout_on_hang),
      cmocka_unit_test(test_h2c_late_response_ignored),
      cmocka_unit_test(test_connect_timeout),
      cmocka_unit_test(test_multi_extra_headers_and_pool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
