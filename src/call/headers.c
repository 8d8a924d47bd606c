/* SPDX-License-Identifier: MIT */
/* The header rules of a route and its destination (Istio's `headers`),
 * as Envoy applies them: to the request before it is sent, to the
 * response before the caller reads it. */
#include <string.h>
#include "call/request.h"
#include "util/str.h"

/* Header list building: |v| grows by one; strings are borrowed. */
int ml_headers_push(const ml_mem *mem, ml_header **v, size_t *n, size_t *cap,
                    const char *name, const char *value) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    ml_header *x = ml_realloc(mem, *v, c * sizeof(*x));
    if (!x)
      return -1;
    *v = x;
    *cap = c;
  }
  (*v)[*n].name = name;
  (*v)[(*n)++].value = value;
  return 0;
}

static void headers_remove(ml_header *v, size_t *n, const char *name) {
  size_t j = 0;
  for (size_t i = 0; i < *n; i++)
    if (!ml_strcaseeq(v[i].name, name))
      v[j++] = v[i];
  *n = j;
}

int ml_header_ops_empty(const ml_header_ops *o) {
  return o->set.count == 0 && o->add.count == 0 && o->remove.count == 0;
}

/* Apply one set of header rules (Envoy order: remove, then set, then
 * append... Istio's route headers map to request_headers_to_remove and
 * request_headers_to_add with append=false for set, true for add). */
int ml_header_ops_apply(const ml_mem *mem, const ml_header_ops *o,
                        ml_header **v, size_t *n, size_t *cap) {
  for (size_t i = 0; i < o->remove.count; i++)
    headers_remove(*v, n, o->remove.items[i]);
  for (size_t i = 0; i < o->set.count; i++) {
    headers_remove(*v, n, o->set.items[i].key);
    if (ml_headers_push(mem, v, n, cap, o->set.items[i].key,
                        o->set.items[i].value))
      return -1;
  }
  for (size_t i = 0; i < o->add.count; i++)
    if (ml_headers_push(mem, v, n, cap, o->add.items[i].key,
                        o->add.items[i].value))
      return -1;
  return 0;
}

/* The response headers, after the route's rules: the transport's list
 * itself when no rule applies. */
int ml_call_response_headers(meshlib_request *r) {
  const ml_mem *mem = r->env->mem;
  ml_call_plan *p = &r->plan;
  const ml_header_ops *rs = p->route ? &p->route->headers.response : NULL;
  const ml_header_ops *ds =
      p->dest && p->dest->config ? &p->dest->config->headers.response : NULL;
  if (r->resp_list) /* a redirect's Location */
    return MESHLIB_OK;
  int rc = MESHLIB_OK;
  if ((rs && !ml_header_ops_empty(rs)) || (ds && !ml_header_ops_empty(ds)) ||
      p->set_cookie) {
    size_t count = 0;
    for (size_t i = 0; rc == MESHLIB_OK && i < r->xfer.header_count; i++)
      if (ml_headers_push(mem, &r->resp_headers, &count, &r->resp_header_cap,
                          r->xfer.headers[i].name, r->xfer.headers[i].value))
        rc = MESHLIB_ERR_NOMEM;
    if (rc == MESHLIB_OK &&
        ((rs && ml_header_ops_apply(mem, rs, &r->resp_headers, &count,
                                    &r->resp_header_cap)) ||
         (ds && ml_header_ops_apply(mem, ds, &r->resp_headers, &count,
                                    &r->resp_header_cap)) ||
         (p->set_cookie &&
          ml_headers_push(mem, &r->resp_headers, &count, &r->resp_header_cap,
                          "set-cookie", p->cookie.data))))
      rc = MESHLIB_ERR_NOMEM;
    r->resp_list = r->resp_headers;
    r->resp_header_count = rc == MESHLIB_OK ? count : 0;
  } else {
    r->resp_list = r->xfer.headers;
    r->resp_header_count = r->xfer.header_count;
  }
  return rc;
}
