/* SPDX-License-Identifier: MIT */
/* Shared by the h2c transport tests: start a mock, build a request to it,
 * find a response header. Header-only. */
#ifndef ML_TEST_H2C_UTIL_H
#define ML_TEST_H2C_UTIL_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"
#include "transport/h2c.h"

static inline meshlib_mock *h2t_mock(const char *name) {
  meshlib_mock *m = NULL;
  assert_int_equal(meshlib_mock_new(&m), MESHLIB_OK);
  assert_non_null(m);
  if (name != NULL)
    assert_int_equal(meshlib_mock_set_name(m, name), MESHLIB_OK);
  return m;
}

/* A GET of |path| to 127.0.0.1:|port| with :authority "svc:<port>" and
 * a 10 s deadline. */
static inline void h2t_req(ml_xfer_req *req, char *auth, size_t auth_len,
                           int port, const char *path) {
  memset(req, 0, sizeof(*req));
  snprintf(auth, auth_len, "svc:%d", port);
  req->method = "GET";
  req->scheme = "http";
  req->authority = auth;
  req->path = path;
  req->connect_host = "127.0.0.1";
  req->connect_port = (uint32_t)port;
  req->version = ML_HTTP_2_PRIOR;
  req->timeout_ms = 10000;
}

static inline const char *h2t_header(const ml_xfer_result *r,
                                     const char *name) {
  for (size_t i = 0; i < r->header_count; i++)
    if (strcmp(r->headers[i].name, name) == 0)
      return r->headers[i].value;
  return NULL;
}

static inline double h2t_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

#endif
