/* SPDX-License-Identifier: MIT */
/* The attempts of a call, as Envoy's router makes them: the fault
 * filter's delay and abort before the first; circuit breakers; the
 * route's timeout over all attempts and the per-try timeout over each;
 * retries on the policy's conditions, after a jittered backoff, on an
 * endpoint not tried yet; outlier detection fed by every outcome. The
 * call's end, with its telemetry, is in complete.c. The phases are cut at every
 * wait so that the synchronous path, the asynchronous client and the CURL *
 * path drive the same code (ml_call_step in request.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "call/request.h"
#include "cluster/breaker_wait.h"
#include "cluster/health.h"
#include "telemetry/trace.h"
#include "util/str.h"

static void reply_text(meshlib_request *r, int32_t status, uint32_t flags,
                       const char *text) {
  ml_call_local_reply(r, status, flags, text, text, strlen(text));
}

/* How often a pending request of the asynchronous client looks for a
 * free connection slot. */
#define ML_PENDING_STEP_MS 2

static int http2_of(const ml_xfer_req *x) {
  return x->version != ML_HTTP_1_1;
}

/* What an exchange's outcome means for the caller, in Envoy's terms. */
static void classify(meshlib_request *r) {
  switch (r->xfer.outcome) {
  case ML_XFER_OK:
    r->status = r->xfer.status;
    return;
  case ML_XFER_CONNECT_FAILURE:
  case ML_XFER_TLS_ERROR:
    reply_text(r, 503, MESHLIB_RF_UF, DETAILS_UF);
    return;
  case ML_XFER_TIMEOUT:
    /* The route's timeout and a per-try timeout both read UT; only the
     * first ends the call. */
    reply_text(r, 504, MESHLIB_RF_UT, DETAILS_UT);
    return;
  case ML_XFER_REFUSED_STREAM:
    reply_text(r, 503, MESHLIB_RF_UR, DETAILS_UR);
    return;
  case ML_XFER_ABORTED:
    ml_call_local_reply(r, 499, MESHLIB_RF_DC, DETAILS_DC, "", 0);
    return;
  case ML_XFER_PROTOCOL_ERROR:
    /* Envoy answers 502 to an upstream's protocol error; its details
     * name the codec's reason when there is one. */
    if (!r->xfer.failure) {
      reply_text(r, 502, MESHLIB_RF_UPE, DETAILS_UPE);
      return;
    }
    snprintf(r->reason, sizeof(r->reason), "%s, transport failure reason: %s",
             DETAILS_UPE, r->xfer.failure);
    reply_text(r, 502, MESHLIB_RF_UPE, r->reason);
    snprintf(r->code_reason, sizeof(r->code_reason),
             "upstream_reset_before_response_started{protocol_error|%s}",
             r->xfer.failure);
    r->code_details = r->code_reason;
    return;
  case ML_XFER_IDLE_TIMEOUT:
    reply_text(r, 408, MESHLIB_RF_SI, DETAILS_SI);
    r->code_details = "stream_idle_timeout";
    return;
  case ML_XFER_BODY_TOO_LARGE:
    /* Envoy's answer when a body outgrows the buffer it must fit in;
     * meshlib closed the connection in the middle of it, hence LR. */
    reply_text(r, 500, MESHLIB_RF_LR, DETAILS_TOO_LARGE);
    r->code_details = DETAILS_TOO_LARGE;
    return;
  case ML_XFER_RESET_AFTER_HEADERS:
    /* The upstream's status stands, as Envoy's access log shows it; the
     * body is cut short, which the flag says. */
    r->status = r->xfer.status;
    r->flags |= MESHLIB_RF_UC;
    r->details = DETAILS_UC_AFTER;
    r->code_details = DETAILS_UC_AFTER;
    return;
  default:
    reply_text(r, 503, MESHLIB_RF_UC, DETAILS_UC);
  }
}

/* The fault filter's abort: an HTTP status, or a gRPC status in a
 * trailers-only 200 response. */
static int fault_abort(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  p->call_flags |= MESHLIB_RF_FI;
  ml_telemetry_event(r->env->telemetry, r->cluster, ML_EV_FAULT_ABORT, 0);
  if (p->fault.abort_grpc_status) {
    snprintf(p->grpc_text, sizeof(p->grpc_text), "%d",
             ml_grpc_status_code(p->fault.abort_grpc_status));
    p->local_headers[0].name = "content-type";
    p->local_headers[0].value = "application/grpc";
    p->local_headers[1].name = "grpc-status";
    p->local_headers[1].value = p->grpc_text;
    r->resp_list = p->local_headers;
    r->resp_header_count = 2;
    ml_call_local_reply(r, 200, MESHLIB_RF_FI, "fault_filter_abort", "", 0);
  } else {
    reply_text(r, p->fault.abort_status, MESHLIB_RF_FI, DETAILS_FI);
  }
  p->step = ML_STEP_DONE;
  return MESHLIB_OK;
}

static ml_attempt_info *attempt_slot(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  size_t n = r->attempts + 1;
  if (n > p->attempt_cap) {
    size_t cap = p->attempt_cap ? p->attempt_cap * 2 : 4;
    ml_attempt_info *a = ml_realloc(r->env->mem, p->attempts, cap * sizeof(*a));
    if (!a)
      return NULL;
    p->attempts = a;
    p->attempt_cap = cap;
  }
  ml_attempt_info *ai = &p->attempts[r->attempts];
  memset(ai, 0, sizeof(*ai));
  return ai;
}

static int replaced(const ml_header *extra, size_t n, const char *name) {
  for (size_t j = 0; j < n; j++) { /* both lower-case */
    const char *e = extra[j].name;
    /* Two bytes first: most names differ there (x-t... and x-e...). */
    if (e[0] == name[0] && e[1] == name[1] &&
        (!e[1] || (e[2] == name[2] && strcmp(e, name) == 0)))
      return 1;
  }
  return 0;
}

/* |v| in decimal at |out| (at least 11 bytes): snprintf costs ~600
 * instructions a call here. */
static void u32_text(uint32_t v, char *out) {
  char t[10], *d = t + sizeof(t);
  do {
    *--d = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  size_t n = (size_t)(t + sizeof(t) - d);
  memcpy(out, d, n);
  out[n] = '\0';
}

int ml_request_is_grpc(const meshlib_request *r) {
  const char *v = ml_header_find(r->headers, r->header_count, "content-type");
  return v && strncmp(v, "application/grpc", 16) == 0;
}

/* Does the request carry a header that changes the retry policy
 * (x-envoy-retry-on, x-envoy-retry-grpc-on, x-envoy-max-retries)? Names
 * are lower-case; a prefix check spares the policy's three searches. */
static int has_envoy_header(const meshlib_request *r) {
  for (size_t i = 0; i < r->header_count; i++) {
    const char *n = r->headers[i].name;
    if (n[0] == 'x' && n[1] == '-' && n[2] == 'e' &&
        strncmp(n, "x-envoy-", 8) == 0)
      return 1;
  }
  return 0;
}

/* The retry rate budget is a mesh option: requests are counted in its
 * window only while it is on (ml_breaker_note_request). */
static int rate_budget_on(const ml_call_env *env) {
  return env->rate_budget.percent > 0 || env->rate_budget.min_per_sec > 0;
}

/* Request headers Envoy's router reads and removes before forwarding. */
static int consumed(const char *name) {
  static const char *const names[] = {"x-envoy-retry-on",
                                      "x-envoy-retry-grpc-on",
                                      "x-envoy-max-retries",
                                      "x-envoy-retriable-status-codes",
                                      "x-envoy-retriable-header-names",
                                      "x-envoy-upstream-rq-per-try-timeout-ms",
                                      "x-envoy-hedge-on-per-try-timeout"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(name, names[i]) == 0)
      return 1;
  return 0;
}

static int dropped(const ml_call_plan *p, size_t n, const char *name) {
  return replaced(p->extra, n, name) || (p->envoy_headers && consumed(name));
}

/* The request's headers less those the attempt sets itself (Envoy
 * overwrites x-envoy-attempt-count and the trace context rather than
 * sending two) and the retry headers Envoy consumes. No copy unless the
 * request carries one of them. */
static int drop_replaced(meshlib_request *r, size_t n) {
  ml_call_plan *p = &r->plan;
  ml_xfer_req *x = &p->x;
  const ml_header *h = p->base_headers;
  size_t count = p->base_header_count, i = 0;
  while (i < count && !dropped(p, n, h[i].name))
    i++;
  x->headers = h;
  x->header_count = count;
  if (i == count)
    return 0;
  if (p->sent_cap < count) {
    ml_header *v = ml_realloc(r->env->mem, p->sent, count * sizeof(*v));
    if (!v)
      return -1;
    p->sent = v;
    p->sent_cap = count;
  }
  size_t k = 0;
  for (i = 0; i < count; i++)
    if (!dropped(p, n, h[i].name))
      p->sent[k++] = h[i];
  x->headers = p->sent;
  x->header_count = k;
  return 0;
}

/* Choose the endpoint of the next attempt into plan.x; 0 when no endpoint
 * can be chosen (UH). */
static int choose_endpoint(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  const ml_cluster *k = p->cluster;
  ml_xfer_req *x = &p->x;
  /* With no endpoints known, the call goes where it names: the request's
   * own host for a host without rules, else the destination's FQDN. */
  x->connect_host = p->dest->config ? p->dest->host : r->host;
  x->connect_port = p->dest->port ? p->dest->port : r->port;
  p->state = NULL;
  p->has_ep = 0;
  if (!k)
    return 1;
  size_t tried = p->tried_count < 8 ? p->tried_count : 8;
  ml_lb_ctx ctx = {&r->rand, p->hash, p->has_hash,
                   p->retry.previous_hosts ? p->tried : NULL,
                   p->retry.previous_hosts ? tried : 0};
  size_t idx = 0;
  int pick = k->lb ? ml_lb_pick(k->lb, &ctx, &idx) : ML_LB_PICK_NONE;
  if (pick == ML_LB_PICK_NONE)
    return 0;
  if (pick == ML_LB_PICK_OK) {
    const ml_lb_endpoint *ep = &k->endpoints[idx];
    x->connect_host = ep->address;
    if (ep->port)
      x->connect_port = ep->port;
    p->state = k->states[idx];
    p->ep_index = idx;
    p->has_ep = 1;
  }
  return 1;
}

/* Choose the endpoint, pass the circuit breakers and arm the timeouts of
 * the next attempt; or end the call with a local reply. */
static int start_attempt(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  const ml_cluster *k = p->cluster;
  int64_t now = ml_now_us();
  p->step = ML_STEP_DONE;
  if (r->attempts == 0 && !p->deadline_us) {
    /* The route's timeout starts with the first attempt, after a fault's
     * delay, as Envoy's router starts it after the fault filter. */
    int64_t t = p->route ? p->route->timeout_ms : -1;
    if (r->timeout_ms > 0 && (t <= 0 || r->timeout_ms < t))
      t = r->timeout_ms;
    p->deadline_us = t > 0 ? now + t * 1000 : 0;
  }
  if (p->deadline_us && now >= p->deadline_us) {
    reply_text(r, 504, MESHLIB_RF_UT, DETAILS_UT);
    return MESHLIB_OK;
  }
  if (k && k->policy.outlier_detection.present)
    ml_cluster_outlier_tick(k, now / 1000);
  if (!choose_endpoint(r)) {
    reply_text(r, 503, MESHLIB_RF_UH, DETAILS_UH);
    return MESHLIB_OK;
  }
  ml_xfer_req *x = &p->x;
  ml_attempt_info *ai = attempt_slot(r);
  if (!ai)
    return MESHLIB_ERR_NOMEM;
  if (k) {
    /* Envoy's circuit breakers admit each attempt. An HTTP/1.1 request
     * that finds every connection busy waits as pending: here on a
     * blocking driver, else in short steps of the driver's loop. */
    const ml_connection_pool *cp = &k->policy.connection_pool;
    int64_t wait_ms = p->deadline_us ? (p->deadline_us - now) / 1000
                      : x->connect_timeout_ms > 0 ? x->connect_timeout_ms
                                                  : 10000;
    int b;
    if (p->pending) {
      b = ml_cluster_pending_retry(k->state, cp);
    } else {
      if (r->attempts == 0 && rate_budget_on(r->env))
        ml_breaker_note_request(ml_cluster_breaker(k->state), now / 1000);
      b = p->blocking ? ml_cluster_admit(k->state, cp, http2_of(x), wait_ms)
                      : ml_cluster_try_admit(k->state, cp, http2_of(x));
    }
    if (b == ML_BREAKER_WAIT) {
      if (!p->pending) {
        p->pending = 1;
        p->pending_until_us = now + wait_ms * 1000;
      }
      if (now < p->pending_until_us) {
        p->wait_ms = ML_PENDING_STEP_MS;
        p->step = ML_STEP_WAIT;
        return MESHLIB_OK;
      }
      ml_breaker_pending_cancel(ml_cluster_breaker(k->state));
      b = ML_BREAKER_TIMED_OUT;
    }
    p->pending = 0;
    if (b == ML_BREAKER_TIMED_OUT) {
      reply_text(r, 504, MESHLIB_RF_UT, DETAILS_UT);
      return MESHLIB_OK;
    }
    if (b != ML_BREAKER_OK) {
      ml_telemetry_event(r->env->telemetry, r->cluster, ML_EV_POOL_OVERFLOW, 0);
      reply_text(r, 503, MESHLIB_RF_UO, DETAILS_UO);
      return MESHLIB_OK;
    }
    p->admitted = 1;
    now = ml_now_us(); /* a pending request may have waited */
  }
  ai->start_us = now;

  /* The try's timeout: perTryTimeout, cut by what is left of the route's
   * timeout. */
  int64_t left_ms = 0;
  if (p->deadline_us) {
    left_ms = (p->deadline_us - now + 999) / 1000;
    if (left_ms < 1)
      left_ms = 1;
  }
  int64_t per = p->retry.per_try_timeout_ms;
  x->timeout_ms = per > 0 && (!left_ms || per < left_ms) ? per : left_ms;

  /* x-envoy-attempt-count, then telemetry's headers. */
  u32_text(r->attempts + 1, p->attempt_text);
  p->extra[0].name = "x-envoy-attempt-count";
  p->extra[0].value = p->attempt_text;
  size_t n = 1 + ml_telemetry_attempt_headers(
                     r->trace, (uint32_t)r->attempts + 1, ai, p->extra + 1,
                     ML_ATTEMPT_HEADERS_MAX - 1);
  x->extra_headers = p->extra;
  x->extra_header_count = n;
  if (drop_replaced(r, n))
    return MESHLIB_ERR_NOMEM;
  if (p->state)
    atomic_fetch_add_explicit(&p->state->in_flight, 1, memory_order_relaxed);
  p->step = ML_STEP_SEND;
  p->send = 1;
  return MESHLIB_OK;
}

/* The compiled retry policy of a route, from a small per-thread cache:
 * parsing retryOn on every call would cost more than the rest of the
 * policy. A config's serial is never reused, even across meshes, so
 * (serial, retries) identifies what was compiled. */
#define RETRY_CACHE 4
typedef struct retry_cache_entry {
  uint64_t serial;
  const ml_http_retry *cfg;
  int flags;
  ml_retry_policy policy;
} retry_cache_entry;

static void retry_policy_of(uint64_t serial, const ml_http_retry *cfg,
                            int use_default, int consistent_hash,
                            ml_retry_policy *out) {
  static _Thread_local retry_cache_entry cache[RETRY_CACHE];
  static _Thread_local unsigned next;
  int flags = 1 | use_default << 1 | consistent_hash << 2;
  for (unsigned i = 0; i < RETRY_CACHE; i++) {
    const retry_cache_entry *e = &cache[i];
    if (e->flags == flags && e->cfg == cfg && e->serial == serial) {
      *out = e->policy;
      return;
    }
  }
  retry_cache_entry *e = &cache[next++ % RETRY_CACHE];
  ml_retry_policy_compile_for(cfg, use_default, consistent_hash, &e->policy);
  e->serial = serial;
  e->cfg = cfg;
  e->flags = flags;
  *out = e->policy;
}

int ml_call_begin(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  const ml_http_route *rt = p->route;
  p->retries = 0;
  p->tried_count = 0;
  p->call_flags = 0;
  p->admitted = 0;
  p->pending = 0;
  p->retry_admitted = 0;
  p->deadline_us = 0;
  p->abort_after_wait = 0;
  memset(&p->fault, 0, sizeof(p->fault));
  const ml_cluster *k = p->cluster;
  retry_policy_of(r->decision.snap->compiled->serial, rt ? rt->retries : NULL,
                  !r->env->no_default_retries,
                  k && k->policy.load_balancer.consistent_hash != NULL,
                  &p->retry);
  /* x-envoy-retry-on and friends, as Envoy's router honours them. */
  p->envoy_headers = has_envoy_header(r);
  if (p->envoy_headers)
    ml_retry_policy_apply_headers(&p->retry, r->headers, r->header_count);
  ml_telemetry_call_begin(r->env->telemetry, &r->trace, r->headers,
                          r->header_count);
  if (rt && rt->fault) {
    ml_fault_decide(rt->fault, ml_rand_next(&r->rand), ml_rand_next(&r->rand),
                    &p->fault);
    int aborts = p->fault.abort_status || p->fault.abort_grpc_status;
    if (p->fault.delay_ms > 0) {
      p->call_flags |= MESHLIB_RF_DI;
      ml_telemetry_event(r->env->telemetry, r->cluster, ML_EV_FAULT_DELAY, 0);
      p->abort_after_wait = aborts;
      p->wait_ms = p->fault.delay_ms;
      p->step = ML_STEP_WAIT;
      return MESHLIB_OK;
    }
    if (aborts)
      return fault_abort(r);
  }
  return start_attempt(r);
}

int ml_call_resume(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  p->step = ML_STEP_DONE;
  if (p->abort_after_wait) {
    p->abort_after_wait = 0;
    return fault_abort(r);
  }
  return start_attempt(r);
}

static void upstream_text(meshlib_request *r) {
  /* memcpy, not snprintf: this runs for every call. The transport's
   * text (64 bytes) fits in ours (80); a connect host is cut to fit. */
  const ml_xfer_req *x = &r->plan.x;
  const char *ua = r->xfer.upstream_address;
  const char *end = memchr(ua, '\0', sizeof(r->xfer.upstream_address));
  size_t n = end ? (size_t)(end - ua) : sizeof(r->xfer.upstream_address) - 1;
  if (n) {
    memcpy(r->upstream, ua, n);
    r->upstream[n] = '\0';
    return;
  }
  n = strlen(x->connect_host);
  if (n + 12 > sizeof(r->upstream))
    n = sizeof(r->upstream) - 12;
  memcpy(r->upstream, x->connect_host, n);
  r->upstream[n++] = ':';
  u32_text(x->connect_port, r->upstream + n);
}

/* The exchange of the current attempt is over (or was dropped). */
static int finish_attempt(meshlib_request *r, int may_retry) {
  ml_call_plan *p = &r->plan;
  const ml_cluster *k = p->cluster;
  int64_t now = ml_now_us();
  p->send = 0;
  p->step = ML_STEP_DONE;
  if (p->state)
    atomic_fetch_sub_explicit(&p->state->in_flight, 1, memory_order_relaxed);
  if (p->admitted) {
    ml_cluster_release(k->state, http2_of(&p->x));
    p->admitted = 0;
  }
  if (p->retry_admitted) {
    ml_breaker_release_retry(ml_cluster_breaker(k->state));
    p->retry_admitted = 0;
  }
  ml_attempt_info *ai = &p->attempts[r->attempts];
  r->attempts++;
  upstream_text(r);
  /* Each attempt answers afresh; the call's own flags (DI) stay apart. */
  r->status = 0;
  r->flags = 0;
  r->details = "";
  r->code_details = NULL;
  r->local_body = NULL;
  r->local_body_len = 0;
  classify(r);
  ai->duration_us = now - ai->start_us;
  memcpy(ai->upstream, r->upstream, sizeof(ai->upstream));
  ai->status = r->status;
  ai->flags = r->flags;
  ai->bytes_sent = r->xfer.bytes_sent;
  ai->bytes_received = r->xfer.bytes_received;

  ml_attempt_result res = {.outcome = r->xfer.outcome,
                           .status = r->xfer.status,
                           .local = 0, /* an upstream's answer, or none */
                           .headers = r->xfer.headers,
                           .header_count = r->xfer.header_count,
                           .trailers = r->xfer.trailers,
                           .trailer_count = r->xfer.trailer_count,
                           .grpc_request = p->grpc};
  if (p->has_ep) {
    if (r->xfer.outcome != ML_XFER_ABORTED &&
        k->policy.outlier_detection.present)
      ml_cluster_report_attempt(k, p->ep_index, &res, now / 1000);
    p->tried[p->tried_count++ % 8] = p->ep_index;
  }
  if (!may_retry || r->xfer.outcome == ML_XFER_ABORTED ||
      r->xfer.outcome == ML_XFER_LOCAL_ERROR)
    return MESHLIB_OK;
  uint32_t reason =
      ml_retry_reason(&p->retry, &res, r->headers, r->header_count);
  /* The route's timeout (within a millisecond) ends the call: no retry. */
  if (!reason || (p->deadline_us && now >= p->deadline_us - 1000))
    return MESHLIB_OK;
  if (p->retries >= p->retry.num_retries) {
    p->call_flags |= MESHLIB_RF_URX; /* Envoy: retry limit exceeded */
    return MESHLIB_OK;
  }
  if (k && ml_breaker_admit_retry(ml_cluster_breaker(k->state), &k->policy,
                                  &r->env->rate_budget, now / 1000) != 0) {
    /* The budget is spent: the last answer stands, and says so. */
    p->call_flags |= MESHLIB_RF_URX;
    ml_telemetry_event(r->env->telemetry, r->cluster,
                       ML_EV_RETRY_BUDGET_REFUSED, 0);
    return MESHLIB_OK;
  }
  p->retry_admitted = k != NULL;
  p->retries++;
  ai->retry_reason = reason;
  ml_telemetry_event(r->env->telemetry, r->cluster, ML_EV_RETRY, reason);
  /* The answer of this attempt is dropped; the next one replaces it. */
  ml_xfer_result_free(r->env->mem, &r->xfer);
  ml_xfer_result_init(&r->xfer, r->env->mem);
  int64_t wait =
      ml_retry_backoff_ms(&p->retry, p->retries, ml_rand_next(&r->rand));
  if (p->deadline_us && now + wait * 1000 > p->deadline_us)
    wait = (p->deadline_us - now) / 1000;
  if (wait > 0) {
    p->wait_ms = wait;
    p->step = ML_STEP_WAIT;
    return MESHLIB_OK;
  }
  return start_attempt(r);
}

int ml_call_attempt_end(meshlib_request *r) {
  return finish_attempt(r, 1);
}

/* The exchange of the current attempt ended without a retry, or was
 * dropped (a local error). */
void ml_call_attempt_close(meshlib_request *r) {
  finish_attempt(r, 0);
}

/* Give back what the call holds: its place among the pending, a retry's
 * place in the budget. */
void ml_call_release_holds(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  if (p->pending) { /* it waited for a connection slot */
    ml_breaker_pending_cancel(ml_cluster_breaker(p->cluster->state));
    p->pending = 0;
  }
  if (p->retry_admitted) { /* it waited for a retry's backoff */
    ml_breaker_release_retry(ml_cluster_breaker(p->cluster->state));
    p->retry_admitted = 0;
  }
}
