/* SPDX-License-Identifier: MIT */
/* Retries as Istio compiles them (pilot/.../route/retry/retry.go) and as
 * Envoy applies them (router/retry_state_impl.cc). */
#include <string.h>
#include "policy/policy.h"
#include "util/str.h"

/* Istio's default since 1.24: no 503 among the retriable codes. */
#define DEFAULT_RETRY_ON                                                       \
  (ML_RETRY_CONNECT_FAILURE | ML_RETRY_REFUSED_STREAM |                        \
   ML_RETRY_GRPC_UNAVAILABLE | ML_RETRY_GRPC_CANCELLED |                       \
   ML_RETRY_RETRIABLE_STATUS_CODES)
#define DEFAULT_NUM_RETRIES 2
#define DEFAULT_BACKOFF_BASE_MS 25 /* upstream.base_retry_backoff_ms */

static const struct {
  const char *name;
  uint32_t bit;
} conditions[] = {
    {"5xx", ML_RETRY_5XX},
    {"gateway-error", ML_RETRY_GATEWAY_ERROR},
    {"reset", ML_RETRY_RESET},
    {"reset-before-request", ML_RETRY_RESET_BEFORE_REQUEST},
    {"connect-failure", ML_RETRY_CONNECT_FAILURE},
    {"envoy-ratelimited", ML_RETRY_ENVOY_RATELIMITED},
    {"retriable-4xx", ML_RETRY_RETRIABLE_4XX},
    {"refused-stream", ML_RETRY_REFUSED_STREAM},
    {"retriable-status-codes", ML_RETRY_RETRIABLE_STATUS_CODES},
    {"retriable-headers", ML_RETRY_RETRIABLE_HEADERS},
    {"cancelled", ML_RETRY_GRPC_CANCELLED},
    {"deadline-exceeded", ML_RETRY_GRPC_DEADLINE_EXCEEDED},
    {"internal", ML_RETRY_GRPC_INTERNAL},
    {"resource-exhausted", ML_RETRY_GRPC_RESOURCE_EXHAUSTED},
    {"unavailable", ML_RETRY_GRPC_UNAVAILABLE},
};
#define CONDITION_COUNT (sizeof(conditions) / sizeof(conditions[0]))

const char *ml_retry_reason_name(uint32_t bit) {
  for (size_t i = 0; i < CONDITION_COUNT; i++)
    if (conditions[i].bit == bit)
      return conditions[i].name;
  return NULL;
}

/* Istio takes a bare integer in retryOn as a status code when Go's
 * http.StatusText knows it. */
static int known_status(int64_t c) {
  static const uint16_t ranges[][2] = {
      {100, 103}, {200, 208}, {226, 226}, {300, 308}, {400, 418}, {421, 426},
      {428, 429}, {431, 431}, {451, 451}, {500, 508}, {510, 511}};
  for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
    if (c >= ranges[i][0] && c <= ranges[i][1] && c != 306)
      return 1;
  return 0;
}

/* Calls |cb| with each comma-separated item of |s| (|n| bytes), blanks
 * around it removed, empty items skipped. */
static void each_item(const char *s, size_t n,
                      void (*cb)(const char *item, size_t len, void *ud),
                      void *ud) {
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    while (i < n && s[i] != ',')
      i++;
    size_t a = start, b = i;
    while (a < b && (s[a] == ' ' || s[a] == '\t'))
      a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
      b--;
    if (b > a)
      cb(s + a, b - a, ud);
    i++; /* the comma */
  }
}

static int item_int(const char *s, size_t n, int64_t *out) {
  char buf[24];
  if (n >= sizeof(buf))
    return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return ml_parse_int64(buf, out);
}

static void add_code(ml_retry_policy *p, int64_t code) {
  for (size_t i = 0; i < p->status_code_count; i++)
    if (p->status_codes[i] == code)
      return;
  if (p->status_code_count < ML_RETRY_MAX_STATUS_CODES)
    p->status_codes[p->status_code_count++] = (uint16_t)code;
}

/* The gRPC conditions, which only x-envoy-retry-grpc-on names (Envoy's
 * parseRetryGrpcOn); x-envoy-retry-on takes the others (parseRetryOn). */
#define GRPC_CONDITIONS                                                        \
  (ML_RETRY_GRPC_CANCELLED | ML_RETRY_GRPC_DEADLINE_EXCEEDED |                 \
   ML_RETRY_GRPC_INTERNAL | ML_RETRY_GRPC_RESOURCE_EXHAUSTED |                 \
   ML_RETRY_GRPC_UNAVAILABLE)

static uint32_t condition_of(const char *s, size_t n) {
  for (size_t i = 0; i < CONDITION_COUNT; i++)
    if (strlen(conditions[i].name) == n &&
        memcmp(conditions[i].name, s, n) == 0)
      return conditions[i].bit;
  return 0;
}

static void parse_name(const char *s, size_t n, void *ud) {
  ml_retry_policy *p = ud;
  p->on |= condition_of(s, n);
}

static void parse_http_name(const char *s, size_t n, void *ud) {
  ml_retry_policy *p = ud;
  p->on |= condition_of(s, n) & ~(uint32_t)GRPC_CONDITIONS;
}

static void parse_grpc_name(const char *s, size_t n, void *ud) {
  ml_retry_policy *p = ud;
  p->on |= condition_of(s, n) & GRPC_CONDITIONS;
}

static void parse_word(const char *s, size_t n, void *ud) {
  ml_retry_policy *p = ud;
  int64_t code;
  if (item_int(s, n, &code) == 0) {
    if (known_status(code)) {
      add_code(p, code);
      /* Istio appends retriable-status-codes for bare codes. */
      p->on |= ML_RETRY_RETRIABLE_STATUS_CODES;
    }
    return;
  }
  parse_name(s, n, p);
}

void ml_retry_policy_compile_for(const ml_http_retry *cfg, int use_default,
                                 int consistent_hash, ml_retry_policy *out) {
  memset(out, 0, sizeof(*out));
  out->backoff_base_ms = DEFAULT_BACKOFF_BASE_MS;
  out->backoff_max_ms = 10 * DEFAULT_BACKOFF_BASE_MS;
  if (!cfg && !use_default)
    return;
  /* Istio's default: DefaultPolicy(), or DefaultConsistentHashPolicy()
   * without the previous-hosts predicate. */
  out->num_retries = DEFAULT_NUM_RETRIES;
  out->on = DEFAULT_RETRY_ON;
  out->previous_hosts = !consistent_hash;
  if (!cfg)
    return;
  if (cfg->attempts <= 0) { /* attempts 0 (or absent: proto's 0): off */
    out->num_retries = 0;
    out->on = 0;
    return;
  }
  out->num_retries =
      cfg->attempts > UINT32_MAX ? UINT32_MAX : (uint32_t)cfg->attempts;
  if (cfg->retry_on && cfg->retry_on[0]) {
    out->on = 0;
    each_item(cfg->retry_on, strlen(cfg->retry_on), parse_word, out);
  }
  if (cfg->per_try_timeout_ms > 0)
    out->per_try_timeout_ms = cfg->per_try_timeout_ms;
  if (cfg->retry_ignore_previous_hosts != ML_TRI_UNSET)
    out->previous_hosts = cfg->retry_ignore_previous_hosts == ML_TRI_TRUE;
  out->remote_localities = cfg->retry_remote_localities == ML_TRI_TRUE;
  if (cfg->has_backoff && cfg->backoff.base_interval_ms > 0) {
    out->backoff_base_ms = cfg->backoff.base_interval_ms;
    out->backoff_max_ms = 10 * cfg->backoff.base_interval_ms;
  }
  if (cfg->backoff.max_interval_ms > 0)
    out->backoff_max_ms = cfg->backoff.max_interval_ms;
  if (out->backoff_max_ms < out->backoff_base_ms)
    out->backoff_max_ms = out->backoff_base_ms;
}

void ml_retry_policy_compile(const ml_http_retry *cfg, int use_default,
                             ml_retry_policy *out) {
  ml_retry_policy_compile_for(cfg, use_default, 0, out);
}

void ml_retry_policy_apply_headers(ml_retry_policy *p, const ml_header *h,
                                   size_t n) {
  /* Condition names only: codes come in x-envoy-retriable-status-codes,
   * which ml_retry_reason() reads. */
  const char *v = ml_header_find(h, n, "x-envoy-retry-on");
  if (v)
    each_item(v, strlen(v), parse_http_name, p);
  v = ml_header_find(h, n, "x-envoy-retry-grpc-on");
  if (v)
    each_item(v, strlen(v), parse_grpc_name, p);
  v = ml_header_find(h, n, "x-envoy-max-retries");
  int64_t max;
  if (p->on && v && ml_parse_int64(v, &max) == 0 && max >= 0)
    p->num_retries = max > UINT32_MAX ? UINT32_MAX : (uint32_t)max;
}

/* Is |code| among the policy's codes or x-envoy-retriable-status-codes? */
typedef struct code_search {
  int code;
  int found;
} code_search;

static void match_code(const char *s, size_t n, void *ud) {
  code_search *c = ud;
  int64_t v;
  if (item_int(s, n, &v) == 0 && v == c->code)
    c->found = 1;
}

static int retriable_code(const ml_retry_policy *p, int status,
                          const ml_header *rq, size_t rq_n) {
  for (size_t i = 0; i < p->status_code_count; i++)
    if (p->status_codes[i] == status)
      return 1;
  const char *v = ml_header_find(rq, rq_n, "x-envoy-retriable-status-codes");
  code_search c = {status, 0};
  if (v)
    each_item(v, strlen(v), match_code, &c);
  return c.found;
}

typedef struct header_search {
  const ml_attempt_result *res;
  int found;
} header_search;

static void match_header(const char *s, size_t n, void *ud) {
  header_search *h = ud;
  char name[128];
  if (n >= sizeof(name))
    return;
  memcpy(name, s, n);
  name[n] = '\0';
  if (ml_header_find(h->res->headers, h->res->header_count, name))
    h->found = 1;
}

/* x-envoy-retriable-header-names: retry when the response carries any of
 * the named headers (Istio has no route-level retriable headers). */
static int retriable_header(const ml_attempt_result *res, const ml_header *rq,
                            size_t rq_n) {
  const char *v = ml_header_find(rq, rq_n, "x-envoy-retriable-header-names");
  header_search h = {res, 0};
  if (v)
    each_item(v, strlen(v), match_header, &h);
  return h.found;
}

/* gRPC conditions read grpc-status from the response headers only, as
 * Envoy does (a trailers-only response carries it there); trailers are
 * not consulted. */
static uint32_t grpc_reason(uint32_t on, const ml_attempt_result *res) {
  const char *v =
      ml_header_find(res->headers, res->header_count, "grpc-status");
  int64_t st;
  if (!v || ml_parse_int64(v, &st) != 0)
    return 0;
  uint32_t bit = st == 1    ? ML_RETRY_GRPC_CANCELLED
                 : st == 4  ? ML_RETRY_GRPC_DEADLINE_EXCEEDED
                 : st == 8  ? ML_RETRY_GRPC_RESOURCE_EXHAUSTED
                 : st == 13 ? ML_RETRY_GRPC_INTERNAL
                 : st == 14 ? ML_RETRY_GRPC_UNAVAILABLE
                            : 0;
  return on & bit;
}

static uint32_t from_response(const ml_retry_policy *p,
                              const ml_attempt_result *res, const ml_header *rq,
                              size_t rq_n) {
  uint32_t on = p->on;
  /* A reply meshlib made itself (overflow, no healthy upstream, fault)
   * never reaches Envoy's retry logic, and bare codes match only real
   * upstream answers. */
  if (res->local)
    return 0;
  /* An upstream Envoy's rate limit: only envoy-ratelimited retries it. */
  if (ml_header_find(res->headers, res->header_count, "x-envoy-ratelimited"))
    return on & ML_RETRY_ENVOY_RATELIMITED;
  int st = res->status;
  if ((on & ML_RETRY_5XX) && st >= 500 && st <= 599)
    return ML_RETRY_5XX;
  if ((on & ML_RETRY_GATEWAY_ERROR) && st >= 502 && st <= 504)
    return ML_RETRY_GATEWAY_ERROR;
  if ((on & ML_RETRY_RETRIABLE_4XX) && st == 409)
    return ML_RETRY_RETRIABLE_4XX;
  if ((on & ML_RETRY_RETRIABLE_STATUS_CODES) && retriable_code(p, st, rq, rq_n))
    return ML_RETRY_RETRIABLE_STATUS_CODES;
  if ((on & ML_RETRY_RETRIABLE_HEADERS) && retriable_header(res, rq, rq_n))
    return ML_RETRY_RETRIABLE_HEADERS;
  return grpc_reason(on, res);
}

/* The first of |order| (zero-terminated) that |on| holds. */
static uint32_t first_of(uint32_t on, const uint32_t *order) {
  for (; *order; order++)
    if (on & *order)
      return *order;
  return 0;
}

uint32_t ml_retry_reason(const ml_retry_policy *p, const ml_attempt_result *res,
                         const ml_header *req_headers,
                         size_t req_header_count) {
  if (!p || !res || !p->on)
    return 0;
  /* Envoy retries every upstream reset under reset, 5xx and
   * gateway-error (a reset becomes a 503); the narrower conditions name
   * their cause. The most specific matching condition is reported. */
  static const uint32_t connect[] = {
      ML_RETRY_CONNECT_FAILURE, ML_RETRY_RESET_BEFORE_REQUEST,
      ML_RETRY_RESET,           ML_RETRY_5XX,
      ML_RETRY_GATEWAY_ERROR,   0};
  static const uint32_t refused[] = {ML_RETRY_REFUSED_STREAM, ML_RETRY_RESET,
                                     ML_RETRY_5XX, ML_RETRY_GATEWAY_ERROR, 0};
  static const uint32_t reset[] = {ML_RETRY_RESET, ML_RETRY_5XX,
                                   ML_RETRY_GATEWAY_ERROR, 0};
  switch (res->outcome) {
  case ML_XFER_OK:
    return from_response(p, res, req_headers, req_header_count);
  case ML_XFER_CONNECT_FAILURE:
  case ML_XFER_TLS_ERROR:
    return first_of(p->on, connect);
  case ML_XFER_REFUSED_STREAM:
    return first_of(p->on, refused);
  case ML_XFER_RESET:
  case ML_XFER_PROTOCOL_ERROR:
  case ML_XFER_TIMEOUT: /* a per-try timeout resets the attempt */
    return first_of(p->on, reset);
  case ML_XFER_ABORTED:
  case ML_XFER_LOCAL_ERROR:
  default:
    return 0;
  }
}

int64_t ml_retry_backoff_ms(const ml_retry_policy *p, uint32_t retry,
                            uint64_t random) {
  uint64_t base = p->backoff_base_ms > 0 ? (uint64_t)p->backoff_base_ms : 0;
  uint64_t max = p->backoff_max_ms > 0 ? (uint64_t)p->backoff_max_ms : base;
  if (!base)
    return 0;
  if (max < base)
    max = base;
  /* JitteredExponentialBackOffStrategy: the range starts at base and
   * doubles at each retry while below max / 2, then is max. */
  uint64_t range = base;
  for (uint32_t i = 1; i < retry && range != max; i++)
    range = range < max / 2 ? 2 * range : max;
  return (int64_t)(random % range);
}
