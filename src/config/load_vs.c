/* SPDX-License-Identifier: MIT */
/* VirtualService spec -> ml_virtual_service, with the checks Istio's own
 * validation makes (pkg/config/validation: validateHTTPRoute and co.). */
#include "config/load_internal.h"

#include <stdint.h>
#include <string.h>
#include "meshlib/error.h"
#include "util/regex.h"
#include "util/str.h"

/* A zeroed object of |size| bytes for the optional map |n| (redirect,
 * retries, fault, ...), or NULL when |n| is null, not a map (reported) or
 * memory ran out. */
static void *new_for_map(ml_loader *L, const ynode *n, size_t size) {
  if (!ml_ld_map(L, n))
    return NULL;
  return ml_ld_alloc(L, 1, size);
}

/* Destination {host, subset, port{number}}; host resolved against the
 * object's namespace. */
static void read_destination(ml_loader *L, const ynode *n, ml_destination *d) {
  d->origin = ml_ld_origin(L, n);
  if (!ml_ld_map_nonnull(L, n, "destination must not be null"))
    return;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "host"))
      ml_ld_str(L, it.v, &d->host);
    else if (ml_key(&it, "subset"))
      ml_ld_str(L, it.v, &d->subset);
    else if (ml_key(&it, "port"))
      ml_ld_port_selector(L, it.v, &d->port);
    else
      ml_ld_unknown(L, &it);
  }
  if (!d->host || !*d->host)
    ml_ld_field_err(L, "host", n, "is required");
  else if (strcmp(d->host, "*") == 0)
    ml_ld_field_err(L, "host", ml_ld_get(n, "host"),
                    "\"*\" is not a valid destination");
  else
    d->fqdn = ml_ld_host_fqdn(L, d->host);
  if (d->subset && !*d->subset)
    ml_ld_field_err(L, "subset", ml_ld_get(n, "subset"), "must not be empty");
}

static void read_header_ops(ml_loader *L, const ynode *n, ml_header_ops *h) {
  if (!ml_ld_map(L, n))
    return;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "set"))
      ml_ld_kv_map(L, it.v, &h->set);
    else if (ml_key(&it, "add"))
      ml_ld_kv_map(L, it.v, &h->add);
    else if (ml_key(&it, "remove"))
      ml_ld_str_list(L, it.v, &h->remove);
    else
      ml_ld_unknown(L, &it);
  }
}

static void read_headers(ml_loader *L, const ynode *n, ml_headers *h) {
  if (!ml_ld_map(L, n))
    return;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "request"))
      read_header_ops(L, it.v, &h->request);
    else if (ml_key(&it, "response"))
      read_header_ops(L, it.v, &h->response);
    else
      ml_ld_unknown(L, &it);
  }
}

/* headers / withoutHeaders / queryParams: map<string, StringMatch>. */
enum { NM_HEADERS, NM_WITHOUT_HEADERS, NM_QUERY };

static void read_named_matches(ml_loader *L, const ynode *n, int what,
                               ml_named_match_list *out) {
  if (!ml_ld_map(L, n))
    return;
  ml_named_match *items = ml_ld_alloc(L, n->count, sizeof(*items));
  if (!items)
    return;
  size_t count = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    ml_named_match *m = &items[count];
    if (it.k->len == 0) {
      ml_ld_err(L, it.k, "name must not be empty");
      continue;
    }
    m->name = ml_ld_dup(L, it.key, it.k->len);
    if (!m->name)
      return;
    if (what != NM_QUERY)
      ml_str_lower((char *)m->name); /* HTTP/2 header names: lower case */
    if (ml_ld_is_null(it.v)) {
      if (what == NM_HEADERS) {
        ml_ld_err(L, it.k, "header match must not be null");
        continue;
      }
      m->match.kind = ML_MATCH_PRESENT;
      m->match.origin = ml_ld_origin(L, it.k);
      count++;
      continue;
    }
    if (ml_ld_string_match(L, it.v, ML_SM_PRESENT | ML_SM_NO_EMPTY_PREFIX,
                           &m->match))
      count++;
  }
  out->items = items;
  out->count = count;
}

static void read_match(ml_loader *L, const ynode *n, void *item) {
  ml_http_match *m = item;
  m->origin = ml_ld_origin(L, n);
  if (!ml_ld_map(L, n))
    return;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "name"))
      ml_ld_str(L, it.v, &m->name);
    else if (ml_key(&it, "uri"))
      ml_ld_string_match(L, it.v, 0, &m->uri);
    else if (ml_key(&it, "scheme"))
      ml_ld_string_match(L, it.v, ML_SM_NO_EMPTY_PREFIX, &m->scheme);
    else if (ml_key(&it, "method"))
      ml_ld_string_match(L, it.v, ML_SM_NO_EMPTY_PREFIX, &m->method);
    else if (ml_key(&it, "authority"))
      ml_ld_string_match(L, it.v, ML_SM_NO_EMPTY_PREFIX, &m->authority);
    else if (ml_key(&it, "headers"))
      read_named_matches(L, it.v, NM_HEADERS, &m->headers);
    else if (ml_key(&it, "withoutHeaders"))
      read_named_matches(L, it.v, NM_WITHOUT_HEADERS, &m->without_headers);
    else if (ml_key(&it, "queryParams"))
      read_named_matches(L, it.v, NM_QUERY, &m->query_params);
    else if (ml_key(&it, "ignoreUriCase"))
      ml_ld_bool(L, it.v, &m->ignore_uri_case);
    else if (ml_key(&it, "port"))
      ml_ld_u32(L, it.v, 1, 65535, &m->port);
    else if (ml_key(&it, "sourceLabels"))
      ml_ld_kv_map(L, it.v, &m->source_labels);
    else if (ml_key(&it, "sourceNamespace"))
      ml_ld_str(L, it.v, &m->source_namespace);
    else if (ml_key(&it, "gateways"))
      ml_ld_str_list(L, it.v, &m->gateways);
    else if (ml_key(&it, "statPrefix"))
      ml_ld_str(L, it.v, &m->stat_prefix);
    else
      ml_ld_unknown(L, &it);
  }
}

static void read_route_destination(ml_loader *L, const ynode *n, void *item) {
  ml_route_destination *rd = item;
  rd->weight = -1;
  rd->origin = ml_ld_origin(L, n);
  rd->destination.origin = rd->origin;
  if (!ml_ld_map_nonnull(L, n, "route destination must not be null"))
    return;
  int has_dest = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "destination")) {
      has_dest = 1;
      read_destination(L, it.v, &rd->destination);
    } else if (ml_key(&it, "weight")) {
      ml_ld_int(L, it.v, 0, INT32_MAX, &rd->weight);
    } else if (ml_key(&it, "headers")) {
      read_headers(L, it.v, &rd->headers);
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (!has_dest)
    ml_ld_err(L, n, "destination is required");
}

static ml_http_redirect *read_redirect(ml_loader *L, const ynode *n) {
  static const char *const derive[] = {"FROM_PROTOCOL_DEFAULT",
                                       "FROM_REQUEST_PORT", NULL};
  ml_http_redirect *r = new_for_map(L, n, sizeof(*r));
  if (!r)
    return NULL;
  r->redirect_code = 301;
  r->origin = ml_ld_origin(L, n);
  int has_port = 0, has_derive = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "uri")) {
      ml_ld_str(L, it.v, &r->uri);
    } else if (ml_key(&it, "authority")) {
      ml_ld_str(L, it.v, &r->authority);
    } else if (ml_key(&it, "port")) {
      has_port = ml_ld_u32(L, it.v, 1, 65535, &r->port);
    } else if (ml_key(&it, "derivePort")) {
      int v;
      if (ml_ld_enum(L, it.v, derive, &v)) {
        r->derive_port = v + 1;
        has_derive = 1;
      }
    } else if (ml_key(&it, "scheme")) {
      if (ml_ld_str(L, it.v, &r->scheme) && strcmp(r->scheme, "http") &&
          strcmp(r->scheme, "https"))
        ml_ld_err(L, it.v, "must be \"http\" or \"https\"");
    } else if (ml_key(&it, "redirectCode")) {
      int64_t v;
      if (ml_ld_int(L, it.v, 300, 399, &v))
        r->redirect_code = (int32_t)v;
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (has_port && has_derive)
    ml_ld_err(L, n, "only one of port or derivePort may be set");
  if (!r->uri && !r->authority && !r->scheme && !has_port && !has_derive)
    ml_ld_err(L, n, "redirect must specify uri, authority, scheme or port");
  return r;
}

static ml_direct_response *read_direct_response(ml_loader *L, const ynode *n) {
  ml_direct_response *r = new_for_map(L, n, sizeof(*r));
  if (!r)
    return NULL;
  r->origin = ml_ld_origin(L, n);
  int has_status = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "status")) {
      int64_t v;
      if (ml_ld_int(L, it.v, 200, 599, &v)) {
        r->status = (int32_t)v;
        has_status = 1;
      }
    } else if (ml_key(&it, "body")) {
      if (!ml_ld_map(L, it.v))
        continue;
      int kinds = 0;
      ml_miter bi;
      ml_miter_init(L, &bi, it.v);
      while (ml_miter_next(L, &bi)) {
        const char *s = NULL;
        if (ml_key(&bi, "string")) {
          if (!ml_ld_str(L, bi.v, &s))
            continue;
          if (kinds++) {
            ml_ld_err(L, bi.k, "only one of string or bytes may be set");
            continue;
          }
          r->body = s;
          r->body_len = bi.v->len;
        } else if (ml_key(&bi, "bytes")) {
          if (!ml_ld_str(L, bi.v, &s))
            continue;
          if (kinds++) {
            ml_ld_err(L, bi.k, "only one of string or bytes may be set");
            continue;
          }
          size_t len = strlen(s), out_len = 0;
          unsigned char *buf = ml_arena_alloc(L->a, len / 4 * 3 + 4);
          if (!buf) {
            ml_ld_fail(L, MESHLIB_ERR_NOMEM);
            continue;
          }
          if (ml_base64_decode(s, len, buf, &out_len)) {
            ml_ld_err(L, bi.v, "expected base64 data");
            continue;
          }
          buf[out_len] = '\0';
          r->body = (const char *)buf;
          r->body_len = out_len;
        } else {
          ml_ld_unknown(L, &bi);
        }
      }
      if (r->body_len > ((size_t)1 << 20))
        ml_ld_err(L, it.v, "body must be less than 1 MiB");
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (!has_status && !ml_ld_get(n, "status"))
    ml_ld_field_err(L, "status", n, "is required");
  return r;
}

static ml_http_rewrite *read_rewrite(ml_loader *L, const ynode *n) {
  ml_http_rewrite *r = new_for_map(L, n, sizeof(*r));
  if (!r)
    return NULL;
  r->origin = ml_ld_origin(L, n);
  int has_rr = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "uri")) {
      ml_ld_str(L, it.v, &r->uri);
    } else if (ml_key(&it, "authority")) {
      ml_ld_str(L, it.v, &r->authority);
    } else if (ml_key(&it, "uriRegexRewrite")) {
      if (!ml_ld_map(L, it.v))
        continue;
      has_rr = 1;
      const ynode *match_node = NULL;
      ml_miter ri;
      ml_miter_init(L, &ri, it.v);
      while (ml_miter_next(L, &ri)) {
        if (ml_key(&ri, "match")) {
          if (ml_ld_str(L, ri.v, &r->regex_match))
            match_node = ri.v;
        } else if (ml_key(&ri, "rewrite")) {
          ml_ld_str(L, ri.v, &r->regex_rewrite);
        } else {
          ml_ld_unknown(L, &ri);
        }
      }
      if (!r->regex_match || !*r->regex_match || !r->regex_rewrite ||
          !*r->regex_rewrite) {
        ml_ld_err(L, it.v, "uriRegexRewrite requires both match and rewrite");
      } else {
        size_t mark = ml_ld_push(L, "match");
        ml_ld_regex(L, match_node, r->regex_match, ML_REGEX_SEARCH, &r->regex);
        ml_ld_pop(L, mark);
      }
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (r->uri && has_rr)
    ml_ld_err(L, n, "only one of uri or uriRegexRewrite may be set");
  if (!r->uri && !has_rr && !r->authority)
    ml_ld_err(L, n, "rewrite must specify uri, uriRegexRewrite or authority");
  return r;
}

/* Istio's list (pkg/config/validation), plus bare status codes. */
static int retry_on_ok(const char *p, size_t n) {
  static const char *const ok[] = {"5xx",
                                   "gateway-error",
                                   "reset",
                                   "reset-before-request",
                                   "connect-failure",
                                   "retriable-4xx",
                                   "refused-stream",
                                   "retriable-status-codes",
                                   "retriable-headers",
                                   "envoy-ratelimited",
                                   "http3-post-connect-failure",
                                   "cancelled",
                                   "deadline-exceeded",
                                   "internal",
                                   "resource-exhausted",
                                   "unavailable",
                                   NULL};
  for (size_t i = 0; ok[i]; i++)
    if (strlen(ok[i]) == n && memcmp(ok[i], p, n) == 0)
      return 1;
  if (n == 3 && p[0] >= '1' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
      p[2] >= '0' && p[2] <= '9')
    return 1;
  return 0;
}

static void check_retry_on(ml_loader *L, const ynode *at, const char *s) {
  while (*s) {
    const char *e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    const char *p = s;
    size_t m = n;
    while (m && (*p == ' ' || *p == '\t')) {
      p++;
      m--;
    }
    while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
      m--;
    if (!retry_on_ok(p, m))
      ml_ld_err(L, at, "\"%.*s\" is not a valid retryOn policy", (int)m, p);
    if (!e)
      break;
    s = e + 1;
  }
}

static ml_http_retry *read_retries(ml_loader *L, const ynode *n) {
  ml_http_retry *r = new_for_map(L, n, sizeof(*r));
  if (!r)
    return NULL;
  r->attempts = -1;
  r->per_try_timeout_ms = -1;
  r->retry_remote_localities = ML_TRI_UNSET;
  r->retry_ignore_previous_hosts = ML_TRI_UNSET;
  r->backoff.base_interval_ms = -1;
  r->backoff.max_interval_ms = -1;
  r->origin = ml_ld_origin(L, n);
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    int b;
    if (ml_key(&it, "attempts")) {
      ml_ld_int(L, it.v, 0, INT32_MAX, &r->attempts);
    } else if (ml_key(&it, "perTryTimeout")) {
      ml_ld_duration(L, it.v, &r->per_try_timeout_ms);
    } else if (ml_key(&it, "retryOn")) {
      if (ml_ld_str(L, it.v, &r->retry_on))
        check_retry_on(L, it.v, r->retry_on);
    } else if (ml_key(&it, "retryRemoteLocalities")) {
      if (ml_ld_bool(L, it.v, &b))
        r->retry_remote_localities = b ? ML_TRI_TRUE : ML_TRI_FALSE;
    } else if (ml_key(&it, "retryIgnorePreviousHosts")) {
      if (ml_ld_bool(L, it.v, &b))
        r->retry_ignore_previous_hosts = b ? ML_TRI_TRUE : ML_TRI_FALSE;
    } else if (ml_key(&it, "backoff")) {
      /* Istio: a Duration, the base interval. The map form
       * {baseInterval, maxInterval} is a meshlib extension. */
      if (it.v && it.v->type == YN_MAP) {
        ml_ld_map(L, it.v);
        ml_miter bi;
        ml_miter_init(L, &bi, it.v);
        while (ml_miter_next(L, &bi)) {
          if (ml_key(&bi, "baseInterval"))
            r->has_backoff |=
                ml_ld_duration(L, bi.v, &r->backoff.base_interval_ms);
          else if (ml_key(&bi, "maxInterval"))
            ml_ld_duration(L, bi.v, &r->backoff.max_interval_ms);
          else
            ml_ld_unknown(L, &bi);
        }
      } else {
        r->has_backoff = ml_ld_duration(L, it.v, &r->backoff.base_interval_ms);
      }
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (r->attempts <= 0 && (r->per_try_timeout_ms >= 0 || r->retry_on ||
                           r->retry_remote_localities != ML_TRI_UNSET))
    ml_ld_err(L, n,
              "retry policy configured while attempts is 0 "
              "(retries disabled)");
  return r;
}

static ml_fault *read_fault(ml_loader *L, const ynode *n) {
  ml_fault *f = new_for_map(L, n, sizeof(*f));
  if (!f)
    return NULL;
  f->delay_fixed_ms = -1;
  f->delay_percentage.value = -1;
  f->abort_percentage.value = -1;
  f->origin = ml_ld_origin(L, n);
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "delay")) {
      if (!ml_ld_map(L, it.v))
        continue;
      f->has_delay = 1;
      int has_percentage = 0;
      int64_t percent = -1;
      ml_miter di;
      ml_miter_init(L, &di, it.v);
      while (ml_miter_next(L, &di)) {
        if (ml_key(&di, "fixedDelay"))
          ml_ld_duration(L, di.v, &f->delay_fixed_ms);
        else if (ml_key(&di, "percentage"))
          has_percentage = ml_ld_percent(L, di.v, &f->delay_percentage);
        else if (ml_key(&di, "percent"))
          ml_ld_int(L, di.v, 0, 100, &percent);
        else if (ml_key(&di, "exponentialDelay"))
          ml_ld_err(L, di.v, "exponentialDelay is not supported");
        else
          ml_ld_unknown(L, &di);
      }
      /* The deprecated integer percent counts when percentage is absent. */
      if (!has_percentage && percent >= 0)
        f->delay_percentage.value = (double)percent;
    } else if (ml_key(&it, "abort")) {
      if (!ml_ld_map(L, it.v))
        continue;
      f->has_abort = 1;
      int kinds = 0;
      ml_miter ai;
      ml_miter_init(L, &ai, it.v);
      while (ml_miter_next(L, &ai)) {
        if (ml_key(&ai, "httpStatus")) {
          int64_t v;
          if (ml_ld_int(L, ai.v, 200, 599, &v))
            f->abort_http_status = (int32_t)v;
          kinds++;
        } else if (ml_key(&ai, "grpcStatus")) {
          if (ml_ld_str(L, ai.v, &f->abort_grpc_status) &&
              ml_grpc_status_code(f->abort_grpc_status) < 0)
            ml_ld_err(L, ai.v,
                      "\"%s\" is not a gRPC status name such as "
                      "\"UNAVAILABLE\"",
                      f->abort_grpc_status);
          kinds++;
        } else if (ml_key(&ai, "http2Error")) {
          ml_ld_err(L, ai.v, "http2Error aborts are not supported");
          kinds++;
        } else if (ml_key(&ai, "percentage")) {
          ml_ld_percent(L, ai.v, &f->abort_percentage);
        } else {
          ml_ld_unknown(L, &ai);
        }
      }
      if (kinds > 1)
        ml_ld_err(L, it.v,
                  "only one of httpStatus, grpcStatus or http2Error may be "
                  "set");
      else if (kinds == 0)
        ml_ld_warn(L, it.v,
                   "abort configured, but no httpStatus or "
                   "grpcStatus set");
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (!f->has_delay && !f->has_abort)
    ml_ld_err(L, n, "fault injection must have an abort and/or a delay");
  return f;
}

static ml_cors_policy *read_cors(ml_loader *L, const ynode *n) {
  static const char *const methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                        "PATCH", "DELETE", "CONNECT", "OPTIONS",
                                        "TRACE", NULL};
  static const char *const preflight[] = {"UNSPECIFIED", "FORWARD", "IGNORE",
                                          NULL};
  ml_cors_policy *p = new_for_map(L, n, sizeof(*p));
  if (!p)
    return NULL;
  p->max_age_ms = -1;
  p->allow_credentials = ML_TRI_UNSET;
  const ynode *origins = NULL, *origin_old = NULL;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "allowOrigins")) {
      origins = it.v;
      if (!ml_ld_seq(L, origins)) {
        origins = NULL;
        continue;
      }
      ml_string_match *arr = ml_ld_alloc(L, origins->count + 1, sizeof(*arr));
      if (!arr)
        return p;
      p->allow_origins = arr;
      for (size_t i = 0; i < origins->count; i++) {
        size_t mark = ml_ld_item(L, origins, i);
        ml_string_match m;
        memset(&m, 0, sizeof(m));
        if (ml_ld_string_match(L, origins->items[i], 0, &m)) {
          if (m.kind == ML_MATCH_NONE || !m.value || !*m.value)
            ml_ld_err(L, origins->items[i],
                      "an allowed origin needs a non-empty exact, prefix or "
                      "regex");
          else
            arr[p->allow_origins_count++] = m;
        } else if (ml_ld_is_null(origins->items[i])) {
          ml_ld_err(L, origins->items[i], "must not be null");
        }
        ml_ld_pop(L, mark);
      }
    } else if (ml_key(&it, "allowOrigin")) {
      origin_old = it.v;
    } else if (ml_key(&it, "allowMethods")) {
      if (ml_ld_str_list(L, it.v, &p->allow_methods))
        for (size_t i = 0; i < p->allow_methods.count; i++) {
          int ok = 0;
          for (size_t j = 0; methods[j]; j++)
            ok |= strcmp(p->allow_methods.items[i], methods[j]) == 0;
          if (!ok) {
            size_t mark = ml_ld_push_index(L, i);
            ml_ld_err(L, it.v, "\"%s\" is not a supported HTTP method",
                      p->allow_methods.items[i]);
            ml_ld_pop(L, mark);
          }
        }
    } else if (ml_key(&it, "allowHeaders")) {
      ml_ld_str_list(L, it.v, &p->allow_headers);
    } else if (ml_key(&it, "exposeHeaders")) {
      ml_ld_str_list(L, it.v, &p->expose_headers);
    } else if (ml_key(&it, "maxAge")) {
      ml_ld_duration(L, it.v, &p->max_age_ms);
    } else if (ml_key(&it, "allowCredentials")) {
      int b;
      if (ml_ld_bool(L, it.v, &b))
        p->allow_credentials = b ? ML_TRI_TRUE : ML_TRI_FALSE;
    } else if (ml_key(&it, "unmatchedPreflights")) {
      int v;
      if (ml_ld_enum(L, it.v, preflight, &v))
        p->unmatched_preflights = preflight[v];
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  /* Deprecated allowOrigin[] (exact strings) is used only when the
   * newer allowOrigins is absent, as Istio does. */
  if (origin_old) {
    size_t mark = ml_ld_push(L, "allowOrigin");
    ml_str_list l = {NULL, 0};
    if (ml_ld_str_list(L, origin_old, &l) && !origins) {
      ml_string_match *arr = ml_ld_alloc(L, l.count + 1, sizeof(*arr));
      if (arr) {
        for (size_t i = 0; i < l.count; i++) {
          arr[i].kind = ML_MATCH_EXACT;
          arr[i].value = l.items[i];
          arr[i].origin = ml_ld_origin(L, origin_old->items[i]);
        }
        p->allow_origins = arr;
        p->allow_origins_count = l.count;
      }
    }
    ml_ld_pop(L, mark);
  }
  return p;
}

static void read_mirror_policy(ml_loader *L, const ynode *n, ml_mirror *m) {
  m->percentage.value = -1;
  m->destination.origin = ml_ld_origin(L, n);
  if (!ml_ld_map_nonnull(L, n, "mirror must not be null"))
    return;
  int has_dest = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "destination")) {
      has_dest = 1;
      read_destination(L, it.v, &m->destination);
    } else if (ml_key(&it, "percentage")) {
      ml_ld_percent(L, it.v, &m->percentage);
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (!has_dest)
    ml_ld_err(L, n, "destination is required");
}

static void read_http_route(ml_loader *L, const ynode *n, void *item) {
  ml_http_route *r = item;
  r->timeout_ms = -1;
  r->origin = ml_ld_origin(L, n);
  if (!ml_ld_map_nonnull(L, n, "http route must not be null"))
    return;
  const ynode *mirror = NULL, *mirrors = NULL;
  int has_mpct = 0, has_delegate = 0;
  ml_percent mpct = {-1};
  int64_t mpct_old = -1;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "name")) {
      ml_ld_str(L, it.v, &r->name);
    } else if (ml_key(&it, "match")) {
      r->matches = ml_ld_array(L, it.v, sizeof(*r->matches), read_match,
                               &r->match_count);
    } else if (ml_key(&it, "route")) {
      r->route = ml_ld_array(L, it.v, sizeof(*r->route), read_route_destination,
                             &r->route_count);
    } else if (ml_key(&it, "redirect")) {
      r->redirect = read_redirect(L, it.v);
    } else if (ml_key(&it, "directResponse")) {
      r->direct_response = read_direct_response(L, it.v);
    } else if (ml_key(&it, "delegate")) {
      if (!ml_ld_map(L, it.v))
        continue;
      has_delegate = 1;
      ml_miter di;
      ml_miter_init(L, &di, it.v);
      while (ml_miter_next(L, &di)) {
        if (ml_key(&di, "name"))
          ml_ld_str(L, di.v, &r->delegate_name);
        else if (ml_key(&di, "namespace"))
          ml_ld_str(L, di.v, &r->delegate_namespace);
        else
          ml_ld_unknown(L, &di);
      }
    } else if (ml_key(&it, "rewrite")) {
      r->rewrite = read_rewrite(L, it.v);
    } else if (ml_key(&it, "timeout")) {
      ml_ld_duration(L, it.v, &r->timeout_ms);
    } else if (ml_key(&it, "retries")) {
      r->retries = read_retries(L, it.v);
    } else if (ml_key(&it, "fault")) {
      r->fault = read_fault(L, it.v);
    } else if (ml_key(&it, "mirror")) {
      if (!ml_ld_is_null(it.v))
        mirror = it.v;
    } else if (ml_key(&it, "mirrors")) {
      if (ml_ld_seq(L, it.v))
        mirrors = it.v;
    } else if (ml_key(&it, "mirrorPercentage")) {
      has_mpct = ml_ld_percent(L, it.v, &mpct);
    } else if (ml_key(&it, "mirrorPercent")) {
      ml_ld_int(L, it.v, 0, 100, &mpct_old);
      if (!ml_ld_is_null(it.v))
        ml_ld_warn(L, it.v,
                   "mirrorPercent is deprecated; use "
                   "mirrorPercentage");
    } else if (ml_key(&it, "corsPolicy")) {
      r->cors_policy = read_cors(L, it.v);
    } else if (ml_key(&it, "headers")) {
      read_headers(L, it.v, &r->headers);
    } else {
      ml_ld_unknown(L, &it);
    }
  }

  /* mirror and mirrors[] together in one array. */
  size_t nm = (mirror ? 1 : 0) + (mirrors ? mirrors->count : 0);
  if (nm) {
    r->mirrors = ml_ld_alloc(L, nm, sizeof(*r->mirrors));
    if (!r->mirrors)
      return;
    if (mirror) {
      size_t mark = ml_ld_push(L, "mirror");
      r->mirrors[0].percentage.value = -1;
      read_destination(L, mirror, &r->mirrors[0].destination);
      if (has_mpct)
        r->mirrors[0].percentage = mpct;
      else if (mpct_old >= 0)
        r->mirrors[0].percentage.value = (double)mpct_old;
      ml_ld_pop(L, mark);
      r->mirror_count = 1;
    }
    if (mirrors) {
      size_t mark = ml_ld_push(L, "mirrors");
      for (size_t i = 0; i < mirrors->count; i++) {
        size_t m2 = ml_ld_item(L, mirrors, i);
        read_mirror_policy(L, mirrors->items[i],
                           &r->mirrors[r->mirror_count++]);
        ml_ld_pop(L, m2);
      }
      ml_ld_pop(L, mark);
    }
  }

  /* What Istio's validateHTTPRouteConflict refuses. */
  if (has_delegate) {
    if (r->route_count || r->redirect)
      ml_ld_err(L, n,
                "a route with delegate must not specify route or "
                "redirect");
  } else if (r->redirect) {
    if (r->route_count)
      ml_ld_err(L, n, "route and redirect are mutually exclusive");
    if (r->fault)
      ml_ld_err(L, n, "fault and redirect are mutually exclusive");
    if (r->rewrite)
      ml_ld_err(L, n, "rewrite and redirect are mutually exclusive");
    if (r->direct_response)
      ml_ld_err(L, n, "directResponse and redirect are mutually exclusive");
  } else if (r->direct_response) {
    if (r->route_count)
      ml_ld_err(L, n, "route and directResponse are mutually exclusive");
    if (r->fault)
      ml_ld_err(L, n, "fault and directResponse are mutually exclusive");
    if (r->rewrite)
      ml_ld_err(L, n, "rewrite and directResponse are mutually exclusive");
  } else if (r->route_count == 0) {
    ml_ld_err(L, n,
              "one of route, redirect, directResponse or delegate is "
              "required");
  }
  if (mirror && mirrors)
    ml_ld_err(L, n, "mirror and mirrors are mutually exclusive");
}

static void count_seq(ml_loader *L, const ynode *n, size_t *out) {
  if (ml_ld_seq(L, n))
    *out = n->count;
}

void ml_ld_virtual_service(ml_loader *L, const ynode *spec,
                           ml_virtual_service *vs) {
  if (ml_ld_map(L, spec)) {
    ml_miter it;
    ml_miter_init(L, &it, spec);
    while (ml_miter_next(L, &it)) {
      if (ml_key(&it, "hosts")) {
        ml_ld_str_list(L, it.v, &vs->hosts);
      } else if (ml_key(&it, "gateways")) {
        ml_ld_str_list(L, it.v, &vs->gateways);
      } else if (ml_key(&it, "exportTo")) {
        ml_ld_str_list(L, it.v, &vs->export_to);
      } else if (ml_key(&it, "http")) {
        vs->http = ml_ld_array(L, it.v, sizeof(*vs->http), read_http_route,
                               &vs->http_count);
      } else if (ml_key(&it, "tls")) {
        count_seq(L, it.v, &vs->tls_count);
      } else if (ml_key(&it, "tcp")) {
        count_seq(L, it.v, &vs->tcp_count);
      } else {
        ml_ld_unknown(L, &it);
      }
    }
  }
  vs->host_fqdns = ml_ld_alloc(L, vs->hosts.count + 1, sizeof(char *));
  if (!vs->host_fqdns)
    return;
  for (size_t i = 0; i < vs->hosts.count; i++)
    vs->host_fqdns[i] = ml_ld_host_fqdn(L, vs->hosts.items[i]);
  if (vs->hosts.count == 0)
    ml_ld_field_err(L, "hosts", ml_ld_where(L, spec, "hosts"),
                    "at least one host is required");
}
