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

/* ---- Destination, Headers ---------------------------------------------- */

static const ml_field kDestination[] = {
    MLF_STR("host", ml_destination, host),
    MLF_STR("subset", ml_destination, subset),
    MLF_PORT("port", ml_destination, port), MLF_END};

/* Destination {host, subset, port{number}}; host resolved against the
 * object's namespace. */
static void read_destination(ml_loader *L, const ynode *n, ml_destination *d) {
  d->origin = ml_ld_origin(L, n);
  if (!ml_ld_map_nonnull(L, n, "destination must not be null"))
    return;
  ml_ld_walk(L, n, kDestination, d);
  if (!d->host || !*d->host)
    ml_ld_field_err(L, "host", n, "is required");
  else if (strcmp(d->host, "*") == 0)
    ml_ld_field_err(L, "host", ml_ld_get(n, "host"),
                    "\"*\" is not a valid destination");
  else
    d->fqdn = ml_ld_host_fqdn(L, d->host);
  if (d->host && *d->host && strcmp(d->host, "*") != 0) {
    /* Istio: a wildcard domain; "ns/host" belongs to Sidecar only. */
    size_t mark = ml_ld_push(L, "host");
    ml_ld_check_wildcard_domain(L, ml_ld_get(n, "host"), "destination host",
                                d->host);
    ml_ld_pop(L, mark);
  }
  const ynode *port = ml_ld_get(n, "port");
  if (port && port->type == YN_MAP && !d->port)
    ml_ld_field_err(L, "port", port, "port number is required (1..65535)");
  if (d->subset && !*d->subset)
    ml_ld_field_err(L, "subset", ml_ld_get(n, "subset"), "must not be empty");
  else if (d->subset && !ml_ld_is_dns_label(d->subset, strlen(d->subset)))
    ml_ld_field_err(L, "subset", ml_ld_get(n, "subset"),
                    "subset name \"%.80s\" is not a DNS-1123 label", d->subset);
}

/* Stored even when wrong: the key's presence satisfies "is required". */
static int read_destination_field(ml_walk *w, const ynode *v, void *dst) {
  read_destination(w->L, v, dst);
  return 1;
}

static const ml_field kHeaderOps[] = {
    MLF_KV_MAP("set", ml_header_ops, set),
    MLF_KV_MAP("add", ml_header_ops, add),
    MLF_STR_LIST("remove", ml_header_ops, remove), MLF_END};

static const ml_field kHeaders[] = {
    MLF_OBJECT("request", ml_headers, request, kHeaderOps),
    MLF_OBJECT("response", ml_headers, response, kHeaderOps), MLF_END};

/* Headers, then Istio's rules on their names and values. */
static int read_headers(ml_walk *w, const ynode *v, void *dst) {
  if (!ml_ld_map(w->L, v))
    return 0;
  ml_ld_walk(w->L, v, kHeaders, dst);
  ml_ld_check_headers(w->L, v, dst);
  return 1;
}

/* ---- HTTPMatchRequest --------------------------------------------------- */

/* headers / withoutHeaders / queryParams: map<string, StringMatch>. */
enum { NM_HEADERS, NM_WITHOUT_HEADERS, NM_QUERY };

/* Istio's ValidateHTTPHeaderNameOrJwtClaimRoute: a JWT claim key, a
 * pseudo-header or an RFC 7230 token. */
static void check_header_match_name(ml_loader *L, const ynode *k) {
  static const char *const pseudo[] = {":method", ":scheme", ":authority",
                                       ":path",   ":status", NULL};
  static const char tchars[] = "!#$%&'*+-.^_`|~";
  if (!k->value || ml_starts_with(k->value, "@request.auth.claims."))
    return;
  for (size_t i = 0; pseudo[i]; i++)
    if (strcmp(k->value, pseudo[i]) == 0)
      return;
  for (size_t i = 0; i < k->len; i++) {
    char c = k->value[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || (c && strchr(tchars, c)))) {
      ml_ld_err(L, k, "header name \"%.80s\" is not a valid header name",
                k->value);
      return;
    }
  }
}

static int read_named_matches(ml_loader *L, const ynode *n, int what,
                              ml_named_match_list *out) {
  if (!ml_ld_map(L, n))
    return 0;
  ml_named_match *items = ml_ld_alloc(L, n->count, sizeof(*items));
  if (!items)
    return 0;
  size_t count = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    ml_named_match *m = &items[count];
    if (it.k->len == 0) {
      ml_ld_err(L, it.k, "name must not be empty");
      continue;
    }
    if (what != NM_QUERY)
      check_header_match_name(L, it.k);
    m->name = ml_ld_dup(L, it.key, it.k->len);
    if (!m->name)
      return 0;
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
  return 1;
}

static int read_header_matches(ml_walk *w, const ynode *v, void *dst) {
  return read_named_matches(w->L, v, NM_HEADERS, dst);
}

static int read_without_headers(ml_walk *w, const ynode *v, void *dst) {
  return read_named_matches(w->L, v, NM_WITHOUT_HEADERS, dst);
}

static int read_query_params(ml_walk *w, const ynode *v, void *dst) {
  return read_named_matches(w->L, v, NM_QUERY, dst);
}

static const ml_field kMatch[] = {
    MLF_STR("name", ml_http_match, name),
    MLF_MATCH("uri", ml_http_match, uri, 0),
    MLF_MATCH("scheme", ml_http_match, scheme, ML_SM_NO_EMPTY_PREFIX),
    MLF_MATCH("method", ml_http_match, method, ML_SM_NO_EMPTY_PREFIX),
    MLF_MATCH("authority", ml_http_match, authority, ML_SM_NO_EMPTY_PREFIX),
    MLF_CUSTOM("headers", ml_http_match, headers, read_header_matches),
    MLF_CUSTOM("withoutHeaders", ml_http_match, without_headers,
               read_without_headers),
    MLF_CUSTOM("queryParams", ml_http_match, query_params, read_query_params),
    MLF_BOOL("ignoreUriCase", ml_http_match, ignore_uri_case),
    MLF_U32("port", ml_http_match, port, 1, 65535),
    MLF_KV_MAP("sourceLabels", ml_http_match, source_labels),
    MLF_STR("sourceNamespace", ml_http_match, source_namespace),
    MLF_STR_LIST("gateways", ml_http_match, gateways),
    MLF_STR("statPrefix", ml_http_match, stat_prefix),
    MLF_END};

static void read_match(ml_loader *L, const ynode *n, void *item) {
  ml_http_match *m = item;
  m->origin = ml_ld_origin(L, n);
  if (!ml_ld_map(L, n))
    return;
  ml_ld_walk(L, n, kMatch, m);
  const char *ns = m->source_namespace;
  if (ns && *ns && !ml_ld_is_dns_label(ns, strlen(ns)))
    ml_ld_field_err(L, "sourceNamespace", ml_ld_get(n, "sourceNamespace"),
                    "\"%.80s\" is not a namespace name", ns);
}

/* ---- HTTPRouteDestination ----------------------------------------------- */

static const ml_field kRouteDestination[] = {
    MLF_CUSTOM("destination", ml_route_destination, destination,
               read_destination_field),
    MLF_INT("weight", ml_route_destination, weight, 0, INT32_MAX),
    MLF_CUSTOM("headers", ml_route_destination, headers, read_headers),
    MLF_END};

static void read_route_destination(ml_loader *L, const ynode *n, void *item) {
  ml_route_destination *rd = item;
  rd->weight = -1;
  rd->origin = ml_ld_origin(L, n);
  rd->destination.origin = rd->origin;
  if (!ml_ld_map_nonnull(L, n, "route destination must not be null"))
    return;
  uint64_t got = ml_ld_walk(L, n, kRouteDestination, rd);
  if (!ml_ld_stored(kRouteDestination, got, "destination"))
    ml_ld_err(L, n, "destination is required");
}

/* ---- HTTPRedirect ------------------------------------------------------- */

/* Stored as 1 + the enum's value: 0 means unset. */
static int read_derive_port(ml_walk *w, const ynode *v, void *dst) {
  static const char *const derive[] = {"FROM_PROTOCOL_DEFAULT",
                                       "FROM_REQUEST_PORT", NULL};
  int i;
  if (!ml_ld_enum(w->L, v, derive, &i))
    return 0;
  *(int *)dst = i + 1;
  return 1;
}

static int read_redirect_scheme(ml_walk *w, const ynode *v, void *dst) {
  const char **scheme = dst;
  if (!ml_ld_str(w->L, v, scheme))
    return 0;
  if (strcmp(*scheme, "http") && strcmp(*scheme, "https"))
    ml_ld_err(w->L, v, "must be \"http\" or \"https\"");
  return 1;
}

static const ml_field kRedirect[] = {
    MLF_STR("uri", ml_http_redirect, uri),
    MLF_STR("authority", ml_http_redirect, authority),
    MLF_U32("port", ml_http_redirect, port, 1, 65535),
    MLF_CUSTOM("derivePort", ml_http_redirect, derive_port, read_derive_port),
    MLF_CUSTOM("scheme", ml_http_redirect, scheme, read_redirect_scheme),
    MLF_I32("redirectCode", ml_http_redirect, redirect_code, 300, 399),
    MLF_END};

static int read_redirect(ml_walk *w, const ynode *n, void *dst) {
  ml_loader *L = w->L;
  ml_http_redirect *r = new_for_map(L, n, sizeof(*r));
  *(ml_http_redirect **)dst = r;
  if (!r)
    return 0;
  r->redirect_code = 301;
  r->origin = ml_ld_origin(L, n);
  uint64_t got = ml_ld_walk(L, n, kRedirect, r);
  int has_port = ml_ld_stored(kRedirect, got, "port");
  int has_derive = ml_ld_stored(kRedirect, got, "derivePort");
  if (has_port && has_derive)
    ml_ld_err(L, n, "only one of port or derivePort may be set");
  if (!r->uri && !r->authority && !r->scheme && !has_port && !has_derive)
    ml_ld_err(L, n, "redirect must specify uri, authority, scheme or port");
  return 1;
}

/* ---- HTTPDirectResponse ------------------------------------------------- */

/* body.string and body.bytes are a oneof: the first one read wins. */
static int body_taken(ml_walk *w) {
  if (!w->stored)
    return 0;
  ml_ld_err(w->L, w->it.k, "only one of string or bytes may be set");
  return 1;
}

static int read_body_string(ml_walk *w, const ynode *v, void *dst) {
  ml_direct_response *r = dst;
  const char *s = NULL;
  if (!ml_ld_str(w->L, v, &s))
    return 0;
  if (!body_taken(w)) {
    r->body = s;
    r->body_len = v->len;
  }
  return 1;
}

static int read_body_bytes(ml_walk *w, const ynode *v, void *dst) {
  ml_loader *L = w->L;
  ml_direct_response *r = dst;
  const char *s = NULL;
  if (!ml_ld_str(L, v, &s))
    return 0;
  if (body_taken(w))
    return 1;
  size_t len = strlen(s), out_len = 0;
  unsigned char *buf = ml_arena_alloc(L->a, len / 4 * 3 + 4);
  if (!buf) {
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    return 1;
  }
  if (ml_base64_decode(s, len, buf, &out_len)) {
    ml_ld_err(L, v, "expected base64 data");
    return 1;
  }
  buf[out_len] = '\0';
  r->body = (const char *)buf;
  r->body_len = out_len;
  return 1;
}

static const ml_field kBody[] = {MLF_CUSTOM_OBJ("string", read_body_string),
                                 MLF_CUSTOM_OBJ("bytes", read_body_bytes),
                                 MLF_END};

static int read_body(ml_walk *w, const ynode *v, void *dst) {
  ml_direct_response *r = dst;
  if (!ml_ld_map(w->L, v))
    return 0;
  ml_ld_walk(w->L, v, kBody, r);
  if (r->body_len > ((size_t)1 << 20))
    ml_ld_err(w->L, v, "body must be less than 1 MiB");
  return 1;
}

static const ml_field kDirectResponse[] = {
    MLF_I32("status", ml_direct_response, status, 200, 599),
    MLF_CUSTOM_OBJ("body", read_body), MLF_END};

static int read_direct_response(ml_walk *w, const ynode *n, void *dst) {
  ml_loader *L = w->L;
  ml_direct_response *r = new_for_map(L, n, sizeof(*r));
  *(ml_direct_response **)dst = r;
  if (!r)
    return 0;
  r->origin = ml_ld_origin(L, n);
  uint64_t got = ml_ld_walk(L, n, kDirectResponse, r);
  if (!ml_ld_stored(kDirectResponse, got, "status") && !ml_ld_get(n, "status"))
    ml_ld_field_err(L, "status", n, "is required");
  return 1;
}

/* ---- HTTPRewrite -------------------------------------------------------- */

static const ml_field kRegexRewrite[] = {
    MLF_STR("match", ml_http_rewrite, regex_match),
    MLF_STR("rewrite", ml_http_rewrite, regex_rewrite), MLF_END};

static int read_regex_rewrite(ml_walk *w, const ynode *v, void *dst) {
  ml_loader *L = w->L;
  ml_http_rewrite *r = dst;
  if (!ml_ld_map(L, v))
    return 0;
  ml_ld_walk(L, v, kRegexRewrite, r);
  if (!r->regex_match || !*r->regex_match || !r->regex_rewrite ||
      !*r->regex_rewrite) {
    ml_ld_err(L, v, "uriRegexRewrite requires both match and rewrite");
  } else {
    size_t mark = ml_ld_push(L, "match");
    ml_ld_regex(L, ml_ld_get(v, "match"), r->regex_match, ML_REGEX_SEARCH,
                &r->regex);
    ml_ld_pop(L, mark);
  }
  return 1;
}

static const ml_field kRewrite[] = {
    MLF_STR("uri", ml_http_rewrite, uri),
    MLF_STR("authority", ml_http_rewrite, authority),
    MLF_CUSTOM_OBJ("uriRegexRewrite", read_regex_rewrite), MLF_END};

static int read_rewrite(ml_walk *w, const ynode *n, void *dst) {
  ml_loader *L = w->L;
  ml_http_rewrite *r = new_for_map(L, n, sizeof(*r));
  *(ml_http_rewrite **)dst = r;
  if (!r)
    return 0;
  r->origin = ml_ld_origin(L, n);
  uint64_t got = ml_ld_walk(L, n, kRewrite, r);
  int has_rr = ml_ld_stored(kRewrite, got, "uriRegexRewrite");
  if (r->uri && has_rr)
    ml_ld_err(L, n, "only one of uri or uriRegexRewrite may be set");
  if (!r->uri && !has_rr && !r->authority)
    ml_ld_err(L, n, "rewrite must specify uri, uriRegexRewrite or authority");
  return 1;
}

/* ---- HTTPRetry ---------------------------------------------------------- */

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

static int read_retry_on(ml_walk *w, const ynode *v, void *dst) {
  const char **retry_on = dst;
  if (!ml_ld_str(w->L, v, retry_on))
    return 0;
  check_retry_on(w->L, v, *retry_on);
  return 1;
}

static const ml_field kBackoff[] = {
    MLF_DURATION("baseInterval", ml_backoff, base_interval_ms),
    MLF_DURATION("maxInterval", ml_backoff, max_interval_ms), MLF_END};

/* Istio: a Duration, the base interval. The map form {baseInterval,
 * maxInterval} is a meshlib extension. */
static int read_backoff(ml_walk *w, const ynode *v, void *dst) {
  ml_http_retry *r = dst;
  if (!v || v->type != YN_MAP) {
    r->has_backoff =
        ml_ld_duration_checked(w->L, v, 0, &r->backoff.base_interval_ms);
    return r->has_backoff;
  }
  ml_ld_map(w->L, v);
  uint64_t got = ml_ld_walk(w->L, v, kBackoff, &r->backoff);
  r->has_backoff |= ml_ld_stored(kBackoff, got, "baseInterval");
  return 1;
}

static const ml_field kRetry[] = {
    MLF_INT("attempts", ml_http_retry, attempts, 0, INT32_MAX),
    MLF_DURATION("perTryTimeout", ml_http_retry, per_try_timeout_ms),
    MLF_CUSTOM("retryOn", ml_http_retry, retry_on, read_retry_on),
    MLF_TRI("retryRemoteLocalities", ml_http_retry, retry_remote_localities),
    MLF_TRI("retryIgnorePreviousHosts", ml_http_retry,
            retry_ignore_previous_hosts),
    MLF_CUSTOM_OBJ("backoff", read_backoff),
    MLF_END};

static int read_retries(ml_walk *w, const ynode *n, void *dst) {
  ml_loader *L = w->L;
  ml_http_retry *r = new_for_map(L, n, sizeof(*r));
  *(ml_http_retry **)dst = r;
  if (!r)
    return 0;
  r->attempts = -1;
  r->per_try_timeout_ms = -1;
  r->retry_remote_localities = ML_TRI_UNSET;
  r->retry_ignore_previous_hosts = ML_TRI_UNSET;
  r->backoff.base_interval_ms = -1;
  r->backoff.max_interval_ms = -1;
  r->origin = ml_ld_origin(L, n);
  ml_ld_walk(L, n, kRetry, r);
  if (r->attempts <= 0 && (r->per_try_timeout_ms >= 0 || r->retry_on ||
                           r->retry_remote_localities != ML_TRI_UNSET))
    ml_ld_err(L, n,
              "retry policy configured while attempts is 0 "
              "(retries disabled)");
  return 1;
}

/* ---- HTTPFaultInjection ------------------------------------------------- */

/* The delay being read, with the deprecated integer percent. */
typedef struct delay_draft {
  ml_fault f;
  int64_t percent;
} delay_draft;

static int reject_exponential_delay(ml_walk *w, const ynode *v, void *dst) {
  (void)dst;
  ml_ld_err(w->L, v, "exponentialDelay is not supported");
  return 0;
}

static const ml_field kDelay[] = {
    MLF_DURATION("fixedDelay", delay_draft, f.delay_fixed_ms),
    MLF_PERCENT("percentage", delay_draft, f.delay_percentage),
    MLF_INT("percent", delay_draft, percent, 0, 100),
    MLF_CUSTOM_OBJ("exponentialDelay", reject_exponential_delay), MLF_END};

static int read_delay(ml_walk *w, const ynode *v, void *dst) {
  ml_fault *f = dst;
  if (!ml_ld_map(w->L, v))
    return 0;
  f->has_delay = 1;
  delay_draft d = {*f, -1};
  uint64_t got = ml_ld_walk(w->L, v, kDelay, &d);
  *f = d.f;
  /* The deprecated integer percent counts when percentage is absent. */
  if (!ml_ld_stored(kDelay, got, "percentage") && d.percent >= 0)
    f->delay_percentage.value = (double)d.percent;
  return 1;
}

/* httpStatus, grpcStatus and http2Error are a oneof. Each counts when
 * written, valid or not, so their readers always report "stored". */
static int read_http_status(ml_walk *w, const ynode *v, void *dst) {
  int64_t status;
  if (ml_ld_int(w->L, v, 200, 599, &status))
    *(int32_t *)dst = (int32_t)status;
  return 1;
}

static int read_grpc_status(ml_walk *w, const ynode *v, void *dst) {
  const char **status = dst;
  if (ml_ld_str(w->L, v, status) && ml_grpc_status_code(*status) < 0)
    ml_ld_err(w->L, v,
              "\"%s\" is not a gRPC status name such as \"UNAVAILABLE\"",
              *status);
  return 1;
}

static int reject_http2_error(ml_walk *w, const ynode *v, void *dst) {
  (void)dst;
  ml_ld_err(w->L, v, "http2Error aborts are not supported");
  return 1;
}

static const ml_field kAbort[] = {
    MLF_CUSTOM("httpStatus", ml_fault, abort_http_status, read_http_status),
    MLF_CUSTOM("grpcStatus", ml_fault, abort_grpc_status, read_grpc_status),
    MLF_CUSTOM_OBJ("http2Error", reject_http2_error),
    MLF_PERCENT("percentage", ml_fault, abort_percentage), MLF_END};

static int read_abort(ml_walk *w, const ynode *v, void *dst) {
  ml_fault *f = dst;
  if (!ml_ld_map(w->L, v))
    return 0;
  f->has_abort = 1;
  uint64_t got = ml_ld_walk(w->L, v, kAbort, f);
  int kinds = ml_ld_stored(kAbort, got, "httpStatus") +
              ml_ld_stored(kAbort, got, "grpcStatus") +
              ml_ld_stored(kAbort, got, "http2Error");
  if (kinds > 1)
    ml_ld_err(w->L, v,
              "only one of httpStatus, grpcStatus or http2Error may be set");
  else if (kinds == 0)
    ml_ld_warn(w->L, v,
               "abort configured, but no httpStatus or grpcStatus set");
  return 1;
}

static const ml_field kFault[] = {MLF_CUSTOM_OBJ("delay", read_delay),
                                  MLF_CUSTOM_OBJ("abort", read_abort), MLF_END};

static int read_fault(ml_walk *w, const ynode *n, void *dst) {
  ml_loader *L = w->L;
  ml_fault *f = new_for_map(L, n, sizeof(*f));
  *(ml_fault **)dst = f;
  if (!f)
    return 0;
  f->delay_fixed_ms = -1;
  f->delay_percentage.value = -1;
  f->abort_percentage.value = -1;
  f->origin = ml_ld_origin(L, n);
  ml_ld_walk(L, n, kFault, f);
  if (!f->has_delay && !f->has_abort)
    ml_ld_err(L, n, "fault injection must have an abort and/or a delay");
  return 1;
}

/* ---- CorsPolicy --------------------------------------------------------- */

static int read_allow_origins(ml_walk *w, const ynode *v, void *dst) {
  ml_loader *L = w->L;
  ml_cors_policy *p = dst;
  if (!ml_ld_seq(L, v))
    return 0;
  ml_string_match *arr = ml_ld_alloc(L, v->count + 1, sizeof(*arr));
  if (!arr)
    return 1;
  p->allow_origins = arr;
  for (size_t i = 0; i < v->count; i++) {
    size_t mark = ml_ld_item(L, v, i);
    ml_string_match m;
    memset(&m, 0, sizeof(m));
    if (ml_ld_string_match(L, v->items[i], 0, &m)) {
      if (m.kind == ML_MATCH_NONE || !m.value || !*m.value)
        ml_ld_err(L, v->items[i],
                  "an allowed origin needs a non-empty exact, prefix or regex");
      else
        arr[p->allow_origins_count++] = m;
    } else if (ml_ld_is_null(v->items[i])) {
      ml_ld_err(L, v->items[i], "must not be null");
    }
    ml_ld_pop(L, mark);
  }
  return 1;
}

static int read_allow_methods(ml_walk *w, const ynode *v, void *dst) {
  static const char *const methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                        "PATCH", "DELETE", "CONNECT", "OPTIONS",
                                        "TRACE", NULL};
  ml_str_list *l = dst;
  if (!ml_ld_str_list(w->L, v, l))
    return 0;
  for (size_t i = 0; i < l->count; i++) {
    int ok = 0;
    for (size_t j = 0; methods[j]; j++)
      ok |= strcmp(l->items[i], methods[j]) == 0;
    if (!ok) {
      size_t mark = ml_ld_push_index(w->L, i);
      ml_ld_err(w->L, v, "\"%s\" is not a supported HTTP method", l->items[i]);
      ml_ld_pop(w->L, mark);
    }
  }
  return 1;
}

static const char *const kPreflight[] = {"UNSPECIFIED", "FORWARD", "IGNORE",
                                         NULL};

static const ml_field kCors[] = {
    MLF_CUSTOM_OBJ("allowOrigins", read_allow_origins),
    MLF_UNUSED("allowOrigin", ML_F_SKIP), /* read after the walk */
    MLF_CUSTOM("allowMethods", ml_cors_policy, allow_methods,
               read_allow_methods),
    MLF_STR_LIST("allowHeaders", ml_cors_policy, allow_headers),
    MLF_STR_LIST("exposeHeaders", ml_cors_policy, expose_headers),
    MLF_DURATION("maxAge", ml_cors_policy, max_age_ms),
    MLF_TRI("allowCredentials", ml_cors_policy, allow_credentials),
    MLF_ENUM_NAME("unmatchedPreflights", ml_cors_policy, unmatched_preflights,
                  kPreflight),
    MLF_END};

/* Deprecated allowOrigin[] (exact strings), used only when the newer
 * allowOrigins is absent, as Istio does. */
static void read_allow_origin_old(ml_loader *L, const ynode *old, int has_new,
                                  ml_cors_policy *p) {
  size_t mark = ml_ld_push(L, "allowOrigin");
  ml_str_list l = {NULL, 0};
  if (ml_ld_str_list(L, old, &l) && !has_new) {
    ml_string_match *arr = ml_ld_alloc(L, l.count + 1, sizeof(*arr));
    if (arr) {
      for (size_t i = 0; i < l.count; i++) {
        arr[i].kind = ML_MATCH_EXACT;
        arr[i].value = l.items[i];
        arr[i].origin = ml_ld_origin(L, old->items[i]);
      }
      p->allow_origins = arr;
      p->allow_origins_count = l.count;
    }
  }
  ml_ld_pop(L, mark);
}

/* Istio's ValidateCORSHTTPHeaderName: "*" or an RFC 7230 token. */
static void check_cors_header_names(ml_loader *L, const ynode *n,
                                    const char *key, const ml_str_list *l) {
  static const char tchars[] = "!#$%&'*+-.^_`|~";
  const ynode *seq = ml_ld_get(n, key);
  if (!seq || seq->type != YN_SEQ)
    return;
  size_t mark = ml_ld_push(L, key);
  for (size_t i = 0; i < l->count && i < seq->count; i++) {
    const char *h = l->items[i];
    int ok = *h != '\0';
    for (const char *c = h; ok && *c; c++)
      ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
           (*c >= '0' && *c <= '9') || strchr(tchars, *c) != NULL;
    if (!ok) {
      size_t m2 = ml_ld_push_index(L, i);
      ml_ld_err(L, seq->items[i], "\"%.80s\" is not a valid header name", h);
      ml_ld_pop(L, m2);
    }
  }
  ml_ld_pop(L, mark);
}

static int read_cors(ml_walk *w, const ynode *n, void *dst) {
  ml_loader *L = w->L;
  ml_cors_policy *p = new_for_map(L, n, sizeof(*p));
  *(ml_cors_policy **)dst = p;
  if (!p)
    return 0;
  p->max_age_ms = -1;
  p->allow_credentials = ML_TRI_UNSET;
  uint64_t got = ml_ld_walk(L, n, kCors, p);
  check_cors_header_names(L, n, "allowHeaders", &p->allow_headers);
  check_cors_header_names(L, n, "exposeHeaders", &p->expose_headers);
  if (p->max_age_ms > 0 && p->max_age_ms % 1000)
    ml_ld_field_err(L, "maxAge", ml_ld_get(n, "maxAge"),
                    "maxAge is accurate only to whole seconds");
  const ynode *old = ml_ld_get(n, "allowOrigin");
  if (old)
    read_allow_origin_old(L, old, ml_ld_stored(kCors, got, "allowOrigins"), p);
  return 1;
}

/* ---- HTTPMirrorPolicy --------------------------------------------------- */

static const ml_field kMirrorPolicy[] = {
    MLF_CUSTOM("destination", ml_mirror, destination, read_destination_field),
    MLF_PERCENT("percentage", ml_mirror, percentage), MLF_END};

static void read_mirror_policy(ml_loader *L, const ynode *n, ml_mirror *m) {
  m->percentage.value = -1;
  m->destination.origin = ml_ld_origin(L, n);
  if (!ml_ld_map_nonnull(L, n, "mirror must not be null"))
    return;
  uint64_t got = ml_ld_walk(L, n, kMirrorPolicy, m);
  if (!ml_ld_stored(kMirrorPolicy, got, "destination"))
    ml_ld_err(L, n, "destination is required");
}

/* ---- HTTPRoute ---------------------------------------------------------- */

/* The route being read, with the mirror inputs that are merged after the
 * walk (mirror and mirrors[] share one array). */
typedef struct route_draft {
  ml_http_route r;
  const ynode *mirror;
  const ynode *mirrors;
  ml_percent mirror_percentage;
  int64_t mirror_percent; /* deprecated integer form */
} route_draft;

static const ml_field kDelegate[] = {
    MLF_STR("name", ml_http_route, delegate_name),
    MLF_STR("namespace", ml_http_route, delegate_namespace), MLF_END};

static int read_mirror_node(ml_walk *w, const ynode *v, void *dst) {
  (void)w;
  if (ml_ld_is_null(v))
    return 0;
  *(const ynode **)dst = v; /* read after the walk */
  return 1;
}

static int read_mirrors_node(ml_walk *w, const ynode *v, void *dst) {
  if (!ml_ld_seq(w->L, v))
    return 0;
  *(const ynode **)dst = v; /* read after the walk */
  return 1;
}

static int read_mirror_percent(ml_walk *w, const ynode *v, void *dst) {
  int stored = ml_ld_int(w->L, v, 0, 100, dst);
  if (!ml_ld_is_null(v))
    ml_ld_warn(w->L, v, "mirrorPercent is deprecated; use mirrorPercentage");
  return stored;
}

static const ml_field kHttpRoute[] = {
    MLF_STR("name", route_draft, r.name),
    MLF_LIST("match", route_draft, r.matches, r.match_count, read_match),
    MLF_LIST("route", route_draft, r.route, r.route_count,
             read_route_destination),
    MLF_CUSTOM("redirect", route_draft, r.redirect, read_redirect),
    MLF_CUSTOM("directResponse", route_draft, r.direct_response,
               read_direct_response),
    MLF_OBJECT("delegate", route_draft, r, kDelegate),
    MLF_CUSTOM("rewrite", route_draft, r.rewrite, read_rewrite),
    MLF_DURATION("timeout", route_draft, r.timeout_ms),
    MLF_CUSTOM("retries", route_draft, r.retries, read_retries),
    MLF_CUSTOM("fault", route_draft, r.fault, read_fault),
    MLF_CUSTOM("mirror", route_draft, mirror, read_mirror_node),
    MLF_CUSTOM("mirrors", route_draft, mirrors, read_mirrors_node),
    MLF_PERCENT("mirrorPercentage", route_draft, mirror_percentage),
    MLF_CUSTOM("mirrorPercent", route_draft, mirror_percent,
               read_mirror_percent),
    MLF_CUSTOM("corsPolicy", route_draft, r.cors_policy, read_cors),
    MLF_CUSTOM("headers", route_draft, r.headers, read_headers),
    MLF_END};

/* mirror (with mirrorPercentage) and mirrors[] into one array. Returns 0
 * when memory ran out. */
static int merge_mirrors(ml_loader *L, route_draft *d, int has_percentage) {
  ml_http_route *r = &d->r;
  size_t nm = (d->mirror ? 1 : 0) + (d->mirrors ? d->mirrors->count : 0);
  if (!nm)
    return 1;
  r->mirrors = ml_ld_alloc(L, nm, sizeof(*r->mirrors));
  if (!r->mirrors)
    return 0;
  if (d->mirror) {
    size_t mark = ml_ld_push(L, "mirror");
    r->mirrors[0].percentage.value = -1;
    read_destination(L, d->mirror, &r->mirrors[0].destination);
    if (has_percentage)
      r->mirrors[0].percentage = d->mirror_percentage;
    else if (d->mirror_percent >= 0)
      r->mirrors[0].percentage.value = (double)d->mirror_percent;
    ml_ld_pop(L, mark);
    r->mirror_count = 1;
  }
  if (d->mirrors) {
    size_t mark = ml_ld_push(L, "mirrors");
    for (size_t i = 0; i < d->mirrors->count; i++) {
      size_t m2 = ml_ld_item(L, d->mirrors, i);
      read_mirror_policy(L, d->mirrors->items[i],
                         &r->mirrors[r->mirror_count++]);
      ml_ld_pop(L, m2);
    }
    ml_ld_pop(L, mark);
  }
  return 1;
}

/* What Istio's validateHTTPRouteConflict refuses. */
static void check_route_conflicts(ml_loader *L, const ynode *n,
                                  const ml_http_route *r, int has_delegate) {
  if (has_delegate) {
    if (r->route_count || r->redirect)
      ml_ld_err(L, n,
                "a route with delegate must not specify route or redirect");
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
              "one of route, redirect, directResponse or delegate is required");
  }
}

/* Istio's validateAuthorityRewrite: the authority is rewritten in one
 * place only (rewrite.authority, or one :authority/host set or add). */
static void check_authority_rewrite(ml_loader *L, const ynode *n,
                                    const ml_http_route *r) {
  const char *current = r->rewrite ? r->rewrite->authority : NULL;
  const ml_kv_list *lists[2] = {&r->headers.request.set,
                                &r->headers.request.add};
  for (size_t l = 0; l < 2; l++)
    for (size_t i = 0; i < lists[l]->count; i++) {
      const ml_kv *kv = &lists[l]->items[i];
      if (!ml_strcaseeq(kv->key, ":authority") &&
          !ml_strcaseeq(kv->key, "host"))
        continue;
      if (current && *current) {
        ml_ld_err(L, n,
                  "the authority header cannot be set more than once "
                  "(rewrite.authority and headers.request)");
        return;
      }
      current = kv->value;
    }
}

static void read_http_route(ml_loader *L, const ynode *n, void *item) {
  ml_http_route *r = item;
  r->timeout_ms = -1;
  r->origin = ml_ld_origin(L, n);
  if (!ml_ld_map_nonnull(L, n, "http route must not be null"))
    return;
  route_draft d;
  memset(&d, 0, sizeof(d));
  d.r = *r;
  d.mirror_percentage.value = -1;
  d.mirror_percent = -1;
  uint64_t got = ml_ld_walk(L, n, kHttpRoute, &d);
  int merged =
      merge_mirrors(L, &d, ml_ld_stored(kHttpRoute, got, "mirrorPercentage"));
  *r = d.r;
  if (!merged)
    return;
  check_route_conflicts(L, n, r, ml_ld_stored(kHttpRoute, got, "delegate"));
  check_authority_rewrite(L, n, r);
  int64_t total = 0;
  for (size_t i = 0; i < r->route_count; i++)
    total += r->route[i].weight > 0 ? r->route[i].weight : 0;
  if (r->route_count > 1 && total == 0) {
    size_t mark = ml_ld_push(L, "route");
    ml_ld_err_pending(L, 0, ml_ld_get(n, "route"),
                      "total destination weight is 0");
    ml_ld_pop(L, mark);
  }
  if (d.mirror && d.mirrors)
    ml_ld_err(L, n, "mirror and mirrors are mutually exclusive");
}

/* ---- VirtualService ----------------------------------------------------- */

/* tls[] and tcp[] routes are counted, not read. */
static int count_seq(ml_walk *w, const ynode *v, void *dst) {
  if (!ml_ld_seq(w->L, v))
    return 0;
  *(size_t *)dst = v->count;
  return 1;
}

static const ml_field kVirtualService[] = {
    MLF_STR_LIST("hosts", ml_virtual_service, hosts),
    MLF_STR_LIST("gateways", ml_virtual_service, gateways),
    MLF_STR_LIST("exportTo", ml_virtual_service, export_to),
    MLF_LIST("http", ml_virtual_service, http, http_count, read_http_route),
    MLF_CUSTOM("tls", ml_virtual_service, tls_count, count_seq),
    MLF_CUSTOM("tcp", ml_virtual_service, tcp_count, count_seq),
    MLF_END};

/* Istio's host.Name.Matches: equal, or one wildcard covers the other. */
static int hosts_overlap(const char *a, const char *b) {
  int wa = a[0] == '*', wb = b[0] == '*';
  if (!wa && !wb)
    return strcmp(a, b) == 0;
  if (wa && wb)
    return strlen(a) < strlen(b) ? ml_ends_with(b + 1, a + 1)
                                 : ml_ends_with(a + 1, b + 1);
  return wa ? ml_ends_with(b, a + 1) : ml_ends_with(a, b + 1);
}

/* What Istio's ValidateVirtualService checks on hosts: each a wildcard
 * domain (or an IP), no "*" when the mesh is bound, no two overlapping. */
static void check_vs_hosts(ml_loader *L, const ynode *spec,
                           const ml_virtual_service *vs) {
  const ynode *hosts = ml_ld_get(spec, "hosts");
  if (!hosts || hosts->type != YN_SEQ || hosts->count != vs->hosts.count)
    return;
  int mesh = vs->gateways.count == 0;
  for (size_t i = 0; i < vs->gateways.count; i++)
    mesh |= strcmp(vs->gateways.items[i], "mesh") == 0;
  int all_ok = 1;
  size_t mark = ml_ld_push(L, "hosts");
  for (size_t i = 0; i < vs->hosts.count; i++) {
    const char *h = vs->hosts.items[i];
    size_t m2 = ml_ld_push_index(L, i);
    if (ml_ld_is_ip(h)) {
      /* an IP address is a valid host */
    } else if (!ml_ld_check_wildcard_domain(L, hosts->items[i], "host", h)) {
      all_ok = 0;
    } else if (mesh && strcmp(h, "*") == 0) {
      ml_ld_err_pending(L, 1, hosts->items[i],
                        "wildcard host \"*\" is not allowed for virtual "
                        "services bound to the mesh");
      all_ok = 0;
    }
    ml_ld_pop(L, m2);
  }
  for (size_t i = 0; all_ok && i < vs->hosts.count; i++)
    for (size_t j = i + 1; j < vs->hosts.count; j++)
      if (hosts_overlap(vs->hosts.items[i], vs->hosts.items[j])) {
        size_t m2 = ml_ld_push_index(L, j);
        ml_ld_err(L, hosts->items[j],
                  "duplicate hosts: \"%.80s\" and "
                  "\"%.80s\"",
                  vs->hosts.items[i], vs->hosts.items[j]);
        ml_ld_pop(L, m2);
      }
  ml_ld_pop(L, mark);
}

void ml_ld_virtual_service(ml_loader *L, const ynode *spec,
                           ml_virtual_service *vs) {
  if (ml_ld_map(L, spec))
    ml_ld_walk(L, spec, kVirtualService, vs);
  vs->host_fqdns = ml_ld_alloc(L, vs->hosts.count + 1, sizeof(char *));
  if (!vs->host_fqdns)
    return;
  for (size_t i = 0; i < vs->hosts.count; i++)
    vs->host_fqdns[i] = ml_ld_host_fqdn(L, vs->hosts.items[i]);
  if (vs->hosts.count == 0)
    ml_ld_field_err(L, "hosts", ml_ld_where(L, spec, "hosts"),
                    "at least one host is required");
  else
    check_vs_hosts(L, spec, vs);
  if (!vs->http_count && !vs->tls_count && !vs->tcp_count)
    ml_ld_err(L, spec ? spec : L->obj,
              "one of http, tcp or tls routes is required");
}
