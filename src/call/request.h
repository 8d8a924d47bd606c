/* SPDX-License-Identifier: MIT */
#ifndef ML_CALL_REQUEST_H
#define ML_CALL_REQUEST_H

/* A request and the call it makes: the routing decision, the plan of its
 * attempts, the answer. The engine reads downward through this folder:
 * decision.c (route, destinations, clusters) -> headers.c (header rules)
 * -> attempt.c (attempts, retries, timeouts, faults) -> prepare.c (a call
 * up to its first attempt) and complete.c (its end, its telemetry);
 * response.c reads the answer. The drivers sit on top:
 * sync.c (the calling thread), client.c (the asynchronous client) and
 * curl_path.c (the application's own CURL handle). */
#include <stdatomic.h>
#include "meshlib/meshlib.h"
#include "cluster/snapshot.h"
#include "policy/breaker.h"
#include "policy/policy.h"
#include "route/route.h"
#include "telemetry/telemetry.h"
#include "transport/transport.h"
#include "util/clock.h"
#include "util/rand.h"

/* Magic numbers catch a stale or mistyped handle (curl's GOOD_EASY_HANDLE). */
#define ML_MAGIC_REQUEST 0x72657173u /* "reqs" */
#define GOOD_REQUEST(r) ((r) && (r)->magic == ML_MAGIC_REQUEST)

/* What a call needs of the mesh that makes it; the mesh owns it and
 * outlives its requests. */
typedef struct ml_call_env {
  const ml_mem *mem;
  ml_snapshot_slot *current; /* the snapshot in force */
  const char *namespace_;    /* the client's */
  const char *domain_suffix;
  const ml_kv *labels; /* the client's workload labels */
  size_t label_count;
  int no_default_retries;       /* routes without `retries` do not retry */
  ml_rate_budget rate_budget;   /* 0, 0: off */
  ml_telemetry *telemetry;      /* metrics, traces, access log */
  const ml_xfer_limits *limits; /* what a response may bring */
  int proxy_from_env;           /* libcurl may use http_proxy and such */
} ml_call_env;

/* One destination of a decision, resolved against the snapshot. */
typedef struct ml_decision_dest {
  const char *host;
  const char *subset;
  uint32_t port;
  uint32_t weight;
  const ml_route_destination *config; /* NULL for the implicit route */
  const ml_dr_view *dr;
  int missing_subset;
  const struct ml_cluster *cluster; /* of (host, port, subset) in the
                                       snapshot; NULL: none (passthrough)
                                       or a missing subset */
  size_t cluster_off; /* offsets into the decision's text buffer */
  size_t dr_name_off;
} ml_decision_dest;

struct meshlib_decision {
  ml_snapshot *snap; /* held while the decision lives */
  ml_route_result res;
  const char *host; /* FQDN */
  uint32_t port;
  uint32_t flags;
  char route_index_text[16];
  ml_decision_dest *dests;
  size_t dest_count;
  size_t dest_cap;
  ml_buf text;      /* cluster and rule names; reused between decisions */
  ml_buf host_text; /* the FQDN of a host without rules */
  ml_route_destination implicit; /* the route of a host without rules */
  uint32_t dest_flags; /* MESHLIB_RF_NC when a destination lacks its subset */
  int valid; /* dests and text describe (snap, res.vs, res.route, port) */
  int default_retries; /* routes without `retries` get Istio's default */
};

/* Where a call stands between its phases (call/attempt.c). */
typedef enum ml_call_step {
  ML_STEP_DONE = 0, /* nothing more to send: ml_call_complete() */
  ML_STEP_SEND, /* plan.x is ready: perform it, then ml_call_attempt_end() */
  ML_STEP_WAIT  /* wait plan.wait_ms (a fault's delay, a retry's
                   backoff), then ml_call_resume() */
} ml_call_step;

/* Extra headers of one attempt: x-envoy-attempt-count and telemetry's. */
#define ML_ATTEMPT_HEADERS_MAX 12

/* The call as prepared and as it goes: what is sent, where, and under
 * which policy. Buffers are reused from one perform to the next. */
typedef struct ml_call_plan {
  ml_call_step step;
  int send; /* step == ML_STEP_SEND: an exchange is prepared (and the
               endpoint counts it in flight) */
  int64_t wait_ms;
  int blocking;         /* the driver may block this thread (a pending request
                           waits for a pool slot); set by the driver */
  int abort_after_wait; /* a fault's abort follows its delay */
  ml_fault_action fault;
  ml_header local_headers[2]; /* a gRPC abort's response headers */
  char grpc_text[4];
  int set_cookie; /* a consistent-hash cookie was made for this call */
  ml_buf cookie;  /* its Set-Cookie value */
  ml_xfer_req x;
  ml_xfer_tls tls;
  ml_xfer_pool pool; /* the DestinationRule's connectionPool */
  ml_buf path;
  ml_header *headers;
  size_t header_count;
  size_t header_cap;
  const ml_header *base_headers; /* after the route's rules */
  size_t base_header_count;
  ml_header *sent; /* base_headers less those an attempt replaces */
  size_t sent_cap;
  ml_header extra[ML_ATTEMPT_HEADERS_MAX];
  char attempt_text[12]; /* x-envoy-attempt-count's value */
  const ml_decision_dest *dest;
  const ml_http_route *route;
  const struct ml_cluster *cluster; /* NULL: passthrough */
  uint64_t hash;                    /* the consistent-hash key, when has_hash */
  int has_hash;
  size_t ep_index; /* the endpoint of this attempt */
  int has_ep;
  struct ml_ep_state *state; /* the endpoint's live state, or NULL */
  /* Policy. */
  ml_retry_policy retry;
  uint32_t retries;    /* made so far */
  int64_t deadline_us; /* the route's (or the caller's) timeout; 0: none */
  int envoy_headers;   /* the request carries x-envoy-* headers */
  int grpc;            /* content-type application/grpc */
  int admitted;        /* this attempt passed the circuit breakers */
  int pending;         /* it waits for an HTTP/1.1 connection slot */
  int64_t pending_until_us;
  int retry_admitted;  /* this attempt is a retry the budget counts */
  uint32_t call_flags; /* flags of the call as a whole (DI, URX) */
  size_t tried[8];     /* endpoints of earlier attempts */
  size_t tried_count;
  ml_attempt_info *attempts; /* one per exchange; reused */
  size_t attempt_cap;
} ml_call_plan;

struct meshlib_request {
  uint32_t magic;
  meshlib *mesh; /* for the public API; opaque here */
  const ml_call_env *env;
  char *method;
  char *url;
  char *scheme;    /* lower-case */
  char *host;      /* lower-case, without port or brackets */
  char *authority; /* as written in the URL */
  char *path;
  char *query;  /* NULL when the URL has none */
  char *target; /* path, then "?query" when there is one: what is sent
                   when no rewrite applies */
  uint32_t port;
  ml_header *headers; /* names lower-cased; strings owned */
  size_t header_count;
  size_t header_cap;
  ml_kv *source_labels; /* owned strings */
  size_t source_label_count;
  char *errmsg;
  struct meshlib_decision decision;
  int has_decision;
  char *body;
  size_t body_len;
  int64_t timeout_ms; /* the application's deadline; 0: none */
  ml_rand rand;       /* destination and endpoint picks */
  /* The response of the last perform. */
  int performed;
  int32_t status;
  uint32_t flags;
  ml_xfer_result xfer;     /* upstream answer (headers, body) */
  ml_header *resp_headers; /* after the route's header rules; strings
                              borrowed from xfer, the snapshot or
                              |location|; kept between performs */
  size_t resp_header_cap;
  const ml_header *resp_list; /* what the getters read: |resp_headers|,
                                 or xfer.headers when no rule applies */
  size_t resp_header_count;
  char *location;         /* a redirect's Location */
  const char *local_body; /* a local reply's body (snapshot or static) */
  size_t local_body_len;
  const char *details; /* static text, or |reason| */
  /* Envoy's %RESPONSE_CODE_DETAILS% when it is more than the flags say
   * (a protocol error's codec detail), or NULL. Static, or |code_reason|. */
  const char *code_details;
  char reason[176];      /* details naming a transport failure */
  char code_reason[112]; /* code details naming it */
  const char *cluster;   /* borrowed from the decision's snapshot */
  char upstream[80];
  uint32_t attempts;
  int64_t start_us;
  int64_t start_wall_us; /* CLOCK_REALTIME, for logs and spans */
  int64_t duration_us;
  ml_call_plan plan;
  struct ml_curl_state *curl_state; /* prepared on an application's CURL
                                       handle (call/curl_path.c) */
  struct ml_trace_call *trace;      /* trace context (telemetry/trace.c) */
};

/* Envoy's local reply texts, so that logs read the same. */
#define DETAILS_NR "route_not_found"
#define DETAILS_NC "cluster_not_found"
#define DETAILS_DC "downstream cancelled"
#define DETAILS_UH "no healthy upstream"
#define DETAILS_UF                                                             \
  "upstream connect error or disconnect/reset before headers. reset "          \
  "reason: connection failure"
#define DETAILS_UC                                                             \
  "upstream connect error or disconnect/reset before headers. reset "          \
  "reason: connection termination"
#define DETAILS_UR                                                             \
  "upstream connect error or disconnect/reset before headers. reset "          \
  "reason: remote refused stream reset"
#define DETAILS_UO                                                             \
  "upstream connect error or disconnect/reset before headers. reset "          \
  "reason: overflow"
#define DETAILS_UT "upstream request timeout"
#define DETAILS_FI "fault filter abort"
#define DETAILS_UPE                                                            \
  "upstream connect error or disconnect/reset before headers. reset "          \
  "reason: protocol error"
#define DETAILS_SI "stream timeout"
#define DETAILS_TOO_LARGE "response_payload_too_large"
#define DETAILS_UC_AFTER                                                       \
  "upstream_reset_after_response_started{connection_termination}"

/* A local reply: meshlib answers for the upstream (404 NR, 503 UH...). */
static inline void ml_call_local_reply(meshlib_request *r, int32_t status,
                                       uint32_t flags, const char *details,
                                       const char *body, size_t len) {
  r->status = status;
  r->flags |= flags;
  r->details = details;
  r->code_details = NULL;
  r->local_body = body;
  r->local_body_len = len;
}

/* request.c: a request of the mesh |m| (core's meshlib_request_new()
 * checks it), drawing its random picks from a generator seeded with
 * |seed|. */
int ml_request_new(meshlib_request **out, meshlib *m, const ml_call_env *env,
                   uint64_t seed, const char *method, const char *url);

/* decision.c: route |r| on the snapshot in force into r->decision. */
int ml_request_route(meshlib_request *r);
void ml_decision_release(const ml_mem *mem, struct meshlib_decision *d);

/* headers.c: header lists and the header rules of a route. |v| grows by
 * one; strings are borrowed. */
int ml_headers_push(const ml_mem *mem, ml_header **v, size_t *n, size_t *cap,
                    const char *name, const char *value);
int ml_header_ops_empty(const ml_header_ops *o);
/* Apply one set of rules to the list |v| (Envoy's order: remove, set,
 * add); -1 when out of memory. */
int ml_header_ops_apply(const ml_mem *mem, const ml_header_ops *o,
                        ml_header **v, size_t *n, size_t *cap);
/* The response headers after the rules, into r->resp_list. */
int ml_call_response_headers(meshlib_request *r);

/* The phases of a call, for the synchronous path, the asynchronous client
 * and applications that send with their own CURL handle (the drivers):
 * ml_call_prepare() routes and picks (a local reply, such as 404 NR,
 * leaves r->plan.send at 0); the driver performs r->plan.x into r->xfer,
 * then calls ml_call_attempt_end(), and waits and calls ml_call_resume()
 * while the plan says so; ml_call_complete() ends the call. */
int ml_call_prepare(meshlib_request *r);
int ml_call_complete(meshlib_request *r);
/* After an exchange: classify it, report it to outlier detection, and
 * decide whether to retry. Leaves plan.step at ML_STEP_DONE, ML_STEP_WAIT
 * (backoff) or ML_STEP_SEND (retry at once). */
int ml_call_attempt_end(meshlib_request *r);
/* The call fails with an error (no response): give back what it holds,
 * report nothing. */
void ml_call_abandon(meshlib_request *r);
/* After a wait: the fault's abort, or the next attempt. */
int ml_call_resume(meshlib_request *r);
/* attempt.c, for prepare.c: the policy, the fault, the first attempt. */
int ml_call_begin(meshlib_request *r);
/* attempt.c, for complete.c: end the attempt under way without a retry;
 * give back a pending place or a retry's place in the budget. */
void ml_call_attempt_close(meshlib_request *r);
void ml_call_release_holds(meshlib_request *r);
/* The request's content-type is application/grpc (Envoy's test). */
int ml_request_is_grpc(const meshlib_request *r);

/* curl_path.c: drop what meshlib_curl_prepare() left on |r|. */
void ml_curl_release(meshlib_request *r);

#endif
