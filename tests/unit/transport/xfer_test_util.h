/* SPDX-License-Identifier: MIT */
/* Helpers shared by the transport tests: a mock, a request aimed at it,
 * header lookup in a result. Header-only. */
#ifndef ML_TEST_XFER_UTIL_H
#define ML_TEST_XFER_UTIL_H

#include <string.h>
#include <time.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "transport/transport.h"
#include "util/str.h"

static inline meshlib_mock *xt_start(const char *name) {
  meshlib_mock *m = NULL;
  assert_int_equal(meshlib_mock_new(&m), MESHLIB_OK);
  assert_non_null(m);
  if (name)
    assert_int_equal(meshlib_mock_set_name(m, name), MESHLIB_OK);
  return m;
}

/* A GET of |authority| + "/" sent to the mock's port on 127.0.0.1. */
static inline void xt_req(ml_xfer_req *r, meshlib_mock *m, ml_http_version v,
                          const char *authority) {
  memset(r, 0, sizeof(*r));
  r->method = "GET";
  r->scheme = "http";
  r->authority = authority;
  r->path = "/";
  r->connect_host = "127.0.0.1";
  r->connect_port = (uint32_t)meshlib_mock_port(m);
  r->version = v;
  r->timeout_ms = 10000;
}

static inline const char *xt_header(const ml_xfer_result *r, const char *name,
                                    int nth) {
  for (size_t i = 0; i < r->header_count; i++)
    if (strcmp(r->headers[i].name, name) == 0 && nth-- == 0)
      return r->headers[i].value;
  return NULL;
}

static inline double xt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static inline const char *xt_proto(ml_http_version v) {
  return v == ML_HTTP_2_PRIOR ? "HTTP/2" : "HTTP/1.1";
}

#endif
