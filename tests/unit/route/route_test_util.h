/* SPDX-License-Identifier: MIT */
#ifndef ML_TEST_ROUTE_UTIL_H
#define ML_TEST_ROUTE_UTIL_H

/* Shared by the route tests: load YAML text, build a table, and describe
 * a request in a few lines. Included by each test program (header-only so
 * that the test glob does not see it as a program). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/diag.h"
#include "config/load.h"
#include "config/model.h"
#include "meshlib/error.h"
#include "meshlib/request.h"
#include "route/route.h"

typedef struct rt_fixture {
  ml_config *config;
  ml_route_table *table;
} rt_fixture;

/* Append YAML |text| to |c|; the load must succeed without errors. */
static inline void rt_load_into(ml_config *c, const char *text) {
  ml_load_opts o = {"cluster.local", 0};
  ml_diags d;
  ml_diags_init(&d, NULL);
  int rc = ml_config_load_string(c, "test.yaml", text, strlen(text), &o, &d);
  for (size_t i = 0; i < d.count; i++)
    if (d.items[i]->level == MESHLIB_LEVEL_ERROR)
      print_error("diag: %s\n", d.items[i]->text);
  assert_int_equal(rc, MESHLIB_OK);
  assert_int_equal(d.errors, 0);
  ml_diags_free(&d);
}

static inline void rt_build(rt_fixture *f, const char *client_ns) {
  ml_route_settings s = {client_ns, "cluster.local"};
  ml_route_table_free(f->table);
  f->table = NULL;
  assert_int_equal(ml_route_table_build(NULL, f->config, &s, &f->table),
                   MESHLIB_OK);
  assert_non_null(f->table);
}

/* Load |text| and build the table as a client in |client_ns|. */
static inline void rt_setup(rt_fixture *f, const char *client_ns,
                            const char *text) {
  memset(f, 0, sizeof(*f));
  f->config = ml_config_new(NULL);
  assert_non_null(f->config);
  rt_load_into(f->config, text);
  rt_build(f, client_ns);
}

static inline void rt_teardown(rt_fixture *f) {
  ml_route_table_free(f->table);
  ml_config_free(f->config);
  memset(f, 0, sizeof(*f));
}

typedef struct rt_req {
  ml_route_input in;
  ml_header headers[16];
  ml_kv labels[8];
} rt_req;

static inline void rt_req_init(rt_req *r, const char *host, const char *path) {
  memset(r, 0, sizeof(*r));
  r->in.method = "GET";
  r->in.scheme = "http";
  r->in.authority = host;
  r->in.host = host;
  r->in.port = 80;
  r->in.path = path;
  r->in.headers = r->headers;
  r->in.source_labels = r->labels;
  r->in.source_namespace = "default";
}

static inline void rt_req_header(rt_req *r, const char *name,
                                 const char *value) {
  assert_true(r->in.header_count < 16);
  r->headers[r->in.header_count++] = (ml_header){name, value};
}

static inline void rt_req_label(rt_req *r, const char *key, const char *value) {
  assert_true(r->in.source_label_count < 8);
  r->labels[r->in.source_label_count++] = (ml_kv){key, value};
}

static inline ml_route_result rt_decide(const rt_fixture *f, const rt_req *r) {
  ml_route_result res;
  assert_int_equal(ml_route_decide(f->table, &r->in, &res), MESHLIB_OK);
  return res;
}

/* The name of the route chosen for |r|; "<none>" when no VirtualService
 * applies and "<NR>" when one applies but no rule matched. */
static inline const char *rt_route_name(const rt_fixture *f, const rt_req *r) {
  ml_route_result res = rt_decide(f, r);
  if (!res.vs) {
    assert_null(res.route);
    assert_int_equal(res.route_index, -1);
    assert_int_equal(res.flags, 0);
    return "<none>";
  }
  if (!res.route) {
    assert_int_equal(res.route_index, -1);
    assert_int_equal(res.flags, MESHLIB_RF_NR);
    return "<NR>";
  }
  assert_int_equal(res.flags, 0);
  assert_ptr_equal(res.route, &res.vs->http[res.route_index]);
  return res.route->name ? res.route->name : "<unnamed>";
}

/* Route name for a GET of |path| (may carry "?query") on |host|. */
static inline const char *rt_get(const rt_fixture *f, const char *host,
                                 const char *path) {
  rt_req r;
  char buf[512];
  const char *q = strchr(path, '?');
  if (q) {
    size_t n = (size_t)(q - path);
    assert_true(n < sizeof(buf));
    memcpy(buf, path, n);
    buf[n] = '\0';
    rt_req_init(&r, host, buf);
    r.in.query = q + 1;
  } else {
    rt_req_init(&r, host, path);
  }
  return rt_route_name(f, &r);
}

#endif
