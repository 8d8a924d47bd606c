/* SPDX-License-Identifier: MIT */
#ifndef ML_POLICY_POLICY_H
#define ML_POLICY_POLICY_H

/* Call policy as Envoy applies Istio's config: retries (conditions,
 * backoff), retry budgets and circuit breakers, fault injection, outlier
 * detection. Pure: no I/O, no clock (callers pass now_ms), no hidden
 * randomness (callers pass random numbers). Shared state is atomics in
 * the live store (cluster/cluster.h); nothing here takes a lock. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "config/model.h"
#include "util/http.h"

/* ---- retries --------------------------------------------------------- */

/* retryOn conditions, one bit each. */
enum {
  ML_RETRY_5XX = 1u << 0,
  ML_RETRY_GATEWAY_ERROR = 1u << 1,
  ML_RETRY_RESET = 1u << 2,
  ML_RETRY_CONNECT_FAILURE = 1u << 3,
  ML_RETRY_ENVOY_RATELIMITED = 1u << 4,
  ML_RETRY_RETRIABLE_4XX = 1u << 5,
  ML_RETRY_REFUSED_STREAM = 1u << 6,
  ML_RETRY_RETRIABLE_STATUS_CODES = 1u << 7,
  ML_RETRY_RETRIABLE_HEADERS = 1u << 8,
  ML_RETRY_GRPC_CANCELLED = 1u << 9,
  ML_RETRY_GRPC_DEADLINE_EXCEEDED = 1u << 10,
  ML_RETRY_GRPC_INTERNAL = 1u << 11,
  ML_RETRY_GRPC_RESOURCE_EXHAUSTED = 1u << 12,
  ML_RETRY_GRPC_UNAVAILABLE = 1u << 13,
  /* A reset before the request left: connect failures only, since
   * meshlib cannot tell how much of a request a reset stream carried. */
  ML_RETRY_RESET_BEFORE_REQUEST = 1u << 14
};

#define ML_RETRY_MAX_STATUS_CODES 16

/* A route's retry policy, compiled from its `retries` (or Istio's
 * default when the route names none). */
typedef struct ml_retry_policy {
  uint32_t num_retries;       /* attempts - 1 is NOT it: Istio's
                                 `attempts` is the number of retries */
  uint32_t on;                /* ML_RETRY_* bits */
  int64_t per_try_timeout_ms; /* 0: none (the route timeout bounds it) */
  uint16_t status_codes[ML_RETRY_MAX_STATUS_CODES]; /* bare codes in
                                  retryOn (retriable-status-codes) */
  size_t status_code_count;
  int previous_hosts;      /* avoid endpoints already tried
                              (retryIgnorePreviousHosts, default on) */
  int64_t backoff_base_ms; /* 25 */
  int64_t backoff_max_ms;  /* 10 x base, Envoy's default */
  int remote_localities;   /* retryRemoteLocalities (parsed) */
} ml_retry_policy;

/* Compile |cfg| (NULL: the route has no `retries`) into |out|. With NULL
 * and |use_default| set, Istio's default applies: 2 retries on
 * connect-failure,refused-stream,unavailable,cancelled,
 * retriable-status-codes with no status code; with NULL and no default,
 * no retries. `attempts: 0` turns retries off; `retries` with only
 * `attempts` keeps the default retryOn. Unknown retryOn words are
 * ignored (the analyzer reports them). Never allocates. */
void ml_retry_policy_compile(const ml_http_retry *cfg, int use_default,
                             ml_retry_policy *out);
/* The same for a cluster that balances by consistent hash: Istio's
 * default then omits the previous-hosts predicate (a retry goes where the
 * hash says) unless retryIgnorePreviousHosts asks for it. */
void ml_retry_policy_compile_for(const ml_http_retry *cfg, int use_default,
                                 int consistent_hash, ml_retry_policy *out);

/* Merge what a request asks of Envoy in its headers (x-envoy-retry-on
 * with the HTTP conditions, x-envoy-retry-grpc-on with the gRPC ones, then
 * x-envoy-max-retries when some retryOn is in force), as Envoy does for
 * trusted callers. Names are matched without regard to case. */
void ml_retry_policy_apply_headers(ml_retry_policy *p, const ml_header *h,
                                   size_t n);

/* What one attempt produced, as the retry decision needs it. */
typedef struct ml_attempt_result {
  ml_xfer_outcome outcome;
  int status;               /* the upstream's status; 0 when none */
  int local;                /* the status was made by meshlib, not
                               received (never retried on bare codes) */
  const ml_header *headers; /* response headers and trailers, lower-cased
                               names (grpc-status, x-envoy-ratelimited) */
  size_t header_count;
  const ml_header *trailers;
  size_t trailer_count;
  int grpc_request; /* the request is gRPC (content-type application/grpc),
                       as Envoy's router decides it */
} ml_attempt_result;

/* The retryOn condition (one ML_RETRY_* bit) under which |res| is
 * retriable, or 0 when it is not. |req_headers| are the request's (for
 * x-envoy-retriable-header-names and x-envoy-retriable-status-codes, as
 * Envoy reads them). */
uint32_t ml_retry_reason(const ml_retry_policy *p, const ml_attempt_result *res,
                         const ml_header *req_headers, size_t req_header_count);

/* Envoy's name of one ML_RETRY_* bit ("connect-failure"), for metrics. */
const char *ml_retry_reason_name(uint32_t bit);

/* The wait before retry number |retry| (1 for the first retry): Envoy's
 * JitteredExponentialBackOffStrategy, random % range, the range base for
 * the first retry, doubled at each next one while below max / 2, then max
 * (25 ms base: [0,25), [0,50), [0,100), [0,200), then [0,250)). */
int64_t ml_retry_backoff_ms(const ml_retry_policy *p, uint32_t retry,
                            uint64_t random);

/* ---- fault injection ------------------------------------------------- */

typedef struct ml_fault_action {
  int64_t delay_ms;     /* 0: no delay */
  int32_t abort_status; /* 0: no abort; else the HTTP status to answer */
  const char *abort_grpc_status; /* non-NULL: answer gRPC status (200 with
                                    grpc-status) */
} ml_fault_action;

/* Decide the faults of one call from two random numbers (delay, abort).
 * A fault without a percentage applies to no request, as in Istio;
 * `percent` (the older integer form) is honoured when `percentage` is
 * absent. */
void ml_fault_decide(const ml_fault *f, uint64_t random_delay,
                     uint64_t random_abort, ml_fault_action *out);

/* Nonzero when |random| falls within |percent| (0..100), as Envoy draws a
 * FractionalPercent per million: random % 1000000 < percent * 10000. A
 * negative (absent) percent never does. */
int ml_percent_hit(double percent, uint64_t random);

#endif
