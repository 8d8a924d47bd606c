/* SPDX-License-Identifier: MIT */
/* Tracing: the trace context of each call, the headers of each attempt,
 * and the spans a sampled call leaves (a client span per call, a child
 * per attempt: the attempt's span is the parent the upstream sees). */
#include "telemetry/trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "policy/policy.h"
#include "telemetry/access_log.h"
#include "util/str.h"
#include "util/clock.h"

/* ---- Settings ---- */

static int dup_str(const ml_mem *mem, char **dst, const char *src) {
  *dst = NULL;
  if (!src)
    return 0;
  *dst = ml_strdup(mem, src);
  return *dst ? 0 : -1;
}

ml_trace_settings *ml_trace_settings_dup(const ml_mem *mem,
                                         const ml_trace_settings *s) {
  ml_trace_settings *d = ml_malloc(mem, sizeof(*d));
  if (!d)
    return NULL;
  *d = *s;
  d->otlp_url = d->zipkin_url = d->service_name = d->node_id = NULL;
  d->access_log_path = NULL;
  if (dup_str(mem, &d->otlp_url, s->otlp_url) ||
      dup_str(mem, &d->zipkin_url, s->zipkin_url) ||
      dup_str(mem, &d->service_name, s->service_name) ||
      dup_str(mem, &d->node_id, s->node_id) ||
      dup_str(mem, &d->access_log_path, s->access_log_path)) {
    ml_trace_settings_free(mem, d);
    return NULL;
  }
  return d;
}

void ml_trace_settings_free(const ml_mem *mem, ml_trace_settings *s) {
  if (!s)
    return;
  ml_free(mem, s->otlp_url);
  ml_free(mem, s->zipkin_url);
  ml_free(mem, s->service_name);
  ml_free(mem, s->node_id);
  ml_free(mem, s->access_log_path);
  ml_free(mem, s);
}

/* ---- The mesh's tracer ---- */

static const char *label_of(const ml_telemetry_settings *st, const char *key) {
  for (size_t i = 0; i < st->label_count; i++)
    if (strcmp(st->labels[i].key, key) == 0)
      return st->labels[i].value;
  return NULL;
}

/* Trace ids must not collide across processes: seed from the kernel, not
 * from the mesh's (possibly fixed) seed. */
static uint64_t entropy64(const void *salt) {
  uint64_t v = 0;
  if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
    v = ml_mix64((uint64_t)ml_wall_us() ^ ((uint64_t)getpid() << 48) ^
                 (uint64_t)(uintptr_t)salt);
  }
  return v;
}

int ml_trace_mesh_init(ml_telemetry *tm, const ml_telemetry_settings *st) {
  const ml_trace_settings *s = st->trace;
  tm->mem = st->mem;
  ml_tracer *t = ml_calloc(st->mem, 1, sizeof(*t));
  if (!t)
    return MESHLIB_ERR_NOMEM;
  t->mem = st->mem;
  t->seed = entropy64(t);
  atomic_init(&t->counter, 0);
  double pct = s && s->has_sampling ? s->sampling : 1.0; /* Istio: 1 % */
  if (pct >= 100.0)
    t->sample_below = UINT64_MAX;
  else
    t->sample_below = (uint64_t)ldexp(pct / 100.0, 64);
  t->formats = s && s->has_formats ? s->formats : MESHLIB_TRACE_HDR_DEFAULT;
  /* Unlike Envoy, which always adds x-request-id: a library whose traces
   * go nowhere does not pay for them (six header lines cost libcurl about
   * 30,000 instructions a call). A call that carries a context, an
   * exporter, or an explicit choice of headers restores Istio's
   * behaviour; an access log, which prints x-request-id, gets that one. */
  t->on_demand =
      !(s && s->has_formats) && !(s && (s->otlp_url || s->zipkin_url));
  t->idle_formats = s && (s->access_log_path || s->access_log_cb)
                        ? MESHLIB_TRACE_HDR_REQUEST_ID
                        : 0;
  t->namespace_ = st->namespace_;
  t->canonical_service = label_of(st, "service.istio.io/canonical-name");
  if (!t->canonical_service)
    t->canonical_service = label_of(st, "app");
  if (!t->canonical_service)
    t->canonical_service = "unknown";
  t->canonical_revision = label_of(st, "service.istio.io/canonical-revision");
  if (!t->canonical_revision)
    t->canonical_revision = label_of(st, "version");
  if (!t->canonical_revision)
    t->canonical_revision = "latest";
  ml_buf b;
  ml_buf_init(&b, st->mem);
  if (s && s->service_name)
    ml_buf_puts(&b, s->service_name);
  else
    ml_buf_printf(&b, "%s.%s", t->canonical_service, t->namespace_);
  t->service_name = ml_buf_steal(&b);
  if (s && s->node_id)
    ml_buf_puts(&b, s->node_id);
  else
    ml_buf_printf(&b, "meshlib~%s.%s~%s.svc.%s", t->canonical_service,
                  t->namespace_, t->namespace_, st->domain_suffix);
  t->node_id = ml_buf_steal(&b);
  tm->tracer = t;
  if (!t->service_name || !t->node_id)
    return MESHLIB_ERR_NOMEM; /* meshlib_free() cleans up */
  if (s && (s->otlp_url || s->zipkin_url)) {
    ml_exporter_config c = {s->otlp_url,
                            s->zipkin_url,
                            t->service_name,
                            s->max_queued ? s->max_queued : 2048,
                            s->batch ? s->batch : 256,
                            s->flush_interval_ms ? s->flush_interval_ms : 1000};
    int rc = ml_exporter_new(st->mem, &c, &t->exporter);
    if (rc != MESHLIB_OK)
      return rc;
  }
  return ml_access_log_open(tm, st);
}

void ml_trace_mesh_free(ml_telemetry *tm) {
  ml_access_log_close(tm);
  ml_tracer *t = tm->tracer;
  if (!t)
    return;
  if (t->exporter)
    ml_exporter_free(t->exporter, 2000);
  ml_free(tm->mem, t->service_name);
  ml_free(tm->mem, t->node_id);
  ml_free(tm->mem, t);
  tm->tracer = NULL;
}

void ml_trace_get_stats(const ml_telemetry *tm, meshlib_tracing_stats *out) {
  memset(out, 0, sizeof(*out));
  out->age = 1;
  if (tm->tracer && tm->tracer->exporter)
    ml_exporter_stats(tm->tracer->exporter, out);
}

int ml_trace_flush(ml_telemetry *tm, int64_t timeout_ms) {
  if (!tm->tracer || !tm->tracer->exporter)
    return MESHLIB_OK;
  return ml_exporter_flush(tm->tracer->exporter, timeout_ms);
}

/* ---- Per request ---- */

void ml_trace_call_free(const ml_mem *mem, ml_trace_call *t) {
  if (!t)
    return;
  for (int i = 0; i < ML_TH_COUNT; i++)
    ml_free(mem, t->inbound[i]);
  ml_free(mem, t);
}

static ml_trace_call *call_state(ml_telemetry *tm, ml_trace_call **slot) {
  if (*slot)
    return *slot;
  ml_tracer *t = tm->tracer;
  ml_trace_call *c = ml_calloc(tm->mem, 1, sizeof(*c));
  if (!c)
    return NULL;
  /* A generator per request: no lock, and independent of the request's
   * own generator so that a seeded mesh replays the same routing choices
   * with tracing on. */
  uint64_t n = atomic_fetch_add_explicit(&t->counter, 1, memory_order_relaxed);
  ml_rand_seed(&c->rng, t->seed ^ ml_mix64(n + 1));
  *slot = c;
  return c;
}

int ml_trace_set_inbound(ml_telemetry *tm, ml_trace_call **call,
                         const char *name, const char *value) {
  if (!tm->tracer)
    return MESHLIB_ERR_INVALID_ARG;
  if (strpbrk(value, "\r\n"))
    return MESHLIB_ERR_BAD_HEADER;
  int slot = ml_trace_header_slot(name);
  if (slot < 0)
    return MESHLIB_OK; /* not a trace header: nothing to continue */
  ml_trace_call *c = call_state(tm, call);
  char *copy = c ? ml_strdup(tm->mem, value) : NULL;
  if (!copy)
    return MESHLIB_ERR_NOMEM;
  ml_free(tm->mem, c->inbound[slot]);
  c->inbound[slot] = copy;
  return MESHLIB_OK;
}

static uint64_t nonzero64(ml_rand *rng) {
  uint64_t v;
  do
    v = ml_rand_next(rng);
  while (!v);
  return v;
}

/* Does the call carry a trace context: one handed in with
 * meshlib_request_set_inbound_header() (in |c|, may be NULL), or
 * traceparent, b3 or x-b3-* among the outbound request's |headers|
 * (names are lower-case there)? */
static int carries_context(const ml_trace_call *c, const ml_header *headers,
                           size_t count) {
  if (c)
    for (int i = 0; i < ML_TH_COUNT; i++)
      if (c->inbound[i])
        return 1;
  for (size_t i = 0; i < count; i++) {
    const char *n = headers[i].name;
    if ((n[0] == 't' && strcmp(n, "traceparent") == 0) ||
        (n[0] == 'b' && n[1] == '3' && n[2] == '\0') ||
        (n[0] == 'x' && n[1] == '-' && n[2] == 'b' && n[3] == '3' &&
         n[4] == '-'))
      return 1;
  }
  return 0;
}

void ml_telemetry_call_begin(ml_telemetry *tm, ml_trace_call **call,
                             const ml_header *headers, size_t count) {
  ml_tracer *t = tm->tracer;
  if (!t)
    return;
  uint32_t formats = t->formats;
  if (t->on_demand && !carries_context(*call, headers, count)) {
    if (!t->idle_formats) { /* not traced: no ids, no headers */
      if (*call)
        (*call)->active = 0;
      return;
    }
    formats = t->idle_formats;
  }
  ml_trace_call *c = call_state(tm, call);
  if (!c)
    return; /* out of memory: the call goes untraced */
  /* The inbound request's headers when the application gave them, else
   * the ones the outbound request already carries. */
  const char *h[ML_TH_COUNT] = {0};
  int inbound = 0;
  for (int i = 0; i < ML_TH_COUNT; i++)
    if (c->inbound[i]) {
      h[i] = c->inbound[i];
      inbound = 1;
    }
  if (!inbound)
    for (size_t i = 0; i < count; i++) {
      int slot = ml_trace_header_slot(headers[i].name);
      if (slot >= 0 && !h[slot])
        h[slot] = headers[i].value;
    }
  int source = ml_trace_ctx_from_headers(h, &c->ctx);
  if (!c->ctx.trace_hi && !c->ctx.trace_lo) {
    c->ctx.trace_hi = nonzero64(&c->rng);
    c->ctx.trace_lo = nonzero64(&c->rng);
    c->ctx.trace_128 = 1;
    c->ctx.span_id = 0; /* a root span */
  }
  if (c->ctx.sampled < 0)
    c->ctx.sampled = t->sample_below == UINT64_MAX ||
                     ml_rand_next(&c->rng) < t->sample_below;
  /* tracestate belongs to the traceparent it came with. */
  c->tracestate =
      source == ML_TRACE_SRC_W3C && h[ML_TH_TRACESTATE] && *h[ML_TH_TRACESTATE]
          ? h[ML_TH_TRACESTATE]
          : NULL;
  c->client_span = nonzero64(&c->rng);
  ml_trace_hex128(c->ctx.trace_hi, c->ctx.trace_lo, c->trace_hex);
  ml_trace_hex64(c->client_span, c->client_hex);
  const char *rid = h[ML_TH_REQUEST_ID];
  if (rid && *rid && strlen(rid) < sizeof(c->request_id))
    memcpy(c->request_id, rid, strlen(rid) + 1);
  else
    ml_trace_uuid4(&c->rng, c->request_id);
  c->formats = formats;
  c->active = 1;
}

static size_t push(ml_header *out, size_t cap, size_t n, const char *name,
                   const char *value) {
  if (n < cap) {
    out[n].name = name;
    out[n].value = value;
    return n + 1;
  }
  return n;
}

size_t ml_telemetry_attempt_headers(ml_trace_call *c, uint32_t attempt,
                                    ml_attempt_info *ai, ml_header *out,
                                    size_t cap) {
  (void)attempt;
  if (ai)
    ai->span_id[0] = '\0';
  if (!c || !c->active) /* active: begun by the mesh's tracer */
    return 0;
  uint32_t f = c->formats;
  char span[17];
  ml_trace_hex64(nonzero64(&c->rng), span);
  if (ai)
    memcpy(ai->span_id, span, sizeof(span));
  const char *trace = c->ctx.trace_128 ? c->trace_hex : c->trace_hex + 16;
  size_t n = 0;
  if (f & MESHLIB_TRACE_HDR_W3C) {
    snprintf(c->traceparent, sizeof(c->traceparent), "00-%s-%s-%s",
             c->trace_hex, span, c->ctx.sampled ? "01" : "00");
    n = push(out, cap, n, "traceparent", c->traceparent);
    if (c->tracestate)
      n = push(out, cap, n, "tracestate", c->tracestate);
  }
  if (f & MESHLIB_TRACE_HDR_B3) {
    memcpy(c->b3_traceid, trace, strlen(trace) + 1);
    memcpy(c->b3_spanid, span, sizeof(span));
    memcpy(c->b3_parent, c->client_hex, sizeof(c->client_hex));
    n = push(out, cap, n, "x-b3-traceid", c->b3_traceid);
    n = push(out, cap, n, "x-b3-spanid", c->b3_spanid);
    n = push(out, cap, n, "x-b3-parentspanid", c->b3_parent);
    /* B3: debug implies an accept, so x-b3-sampled is not sent with it. */
    if (c->ctx.debug)
      n = push(out, cap, n, "x-b3-flags", "1");
    else
      n = push(out, cap, n, "x-b3-sampled", c->ctx.sampled ? "1" : "0");
  }
  if (f & MESHLIB_TRACE_HDR_B3_SINGLE) {
    snprintf(c->b3_single, sizeof(c->b3_single), "%s-%s-%s-%s", trace, span,
             c->ctx.debug ? "d" : (c->ctx.sampled ? "1" : "0"), c->client_hex);
    n = push(out, cap, n, "b3", c->b3_single);
  }
  if (f & MESHLIB_TRACE_HDR_REQUEST_ID)
    n = push(out, cap, n, "x-request-id", c->request_id);
  return n;
}

const char *ml_trace_trace_id(const ml_trace_call *c) {
  return c && c->active ? c->trace_hex : "";
}

const char *ml_trace_span_id(const ml_trace_call *c) {
  return c && c->active ? c->client_hex : "";
}

int ml_trace_sampled(const ml_trace_call *c) {
  return c && c->active && c->ctx.sampled == 1;
}

const char *ml_trace_request_id(const ml_trace_call *c) {
  return c && c->active ? c->request_id : NULL;
}

/* ---- Spans ---- */

typedef struct span_builder {
  ml_buf text;
  ml_span_head head;
} span_builder;

static uint32_t put_text(span_builder *b, const char *s) {
  uint32_t off = (uint32_t)b->text.len;
  ml_buf_append(&b->text, s ? s : "", s ? strlen(s) : 0);
  ml_buf_putc(&b->text, '\0');
  return off;
}

static void attr(span_builder *b, const char *key, const char *value) {
  if (!value || b->head.attr_count == ML_SPAN_MAX_ATTRS)
    return;
  b->head.attrs[b->head.attr_count].key = key;
  b->head.attrs[b->head.attr_count].value_off = put_text(b, value);
  b->head.attr_count++;
}

static void attr_num(span_builder *b, const char *key, long long v) {
  char t[24];
  snprintf(t, sizeof(t), "%lld", v);
  attr(b, key, t);
}

static void span_begin(span_builder *b, const ml_mem *mem) {
  ml_buf_init(&b->text, mem);
  memset(&b->head, 0, sizeof(b->head));
  ml_buf_putc(&b->text, '\0'); /* offset 0 is "" */
}

static void span_finish(span_builder *b, ml_tracer *t) {
  if (!b->text.oom) {
    ml_span *s = ml_malloc(t->mem, sizeof(*s) + b->text.len);
    if (s) {
      s->h = b->head;
      memcpy(s->text, b->text.data, b->text.len);
      ml_exporter_push(t->exporter, s); /* never blocks */
      ml_buf_free(&b->text);
      return;
    }
  }
  ml_buf_free(&b->text);
  ml_exporter_push(t->exporter, NULL); /* counted as dropped */
}

/* Tags both spans carry, as Envoy's tracers and Istio's proxy set them. */
static void common_attrs(span_builder *b, ml_tracer *t, const ml_call_info *in,
                         const char *url) {
  attr(b, "component", "proxy");
  attr(b, "node_id", t->node_id);
  attr(b, "istio.canonical_service", t->canonical_service);
  attr(b, "istio.canonical_revision", t->canonical_revision);
  attr(b, "istio.namespace", t->namespace_);
  attr(b, "http.method", in->method);
  attr(b, "http.url", url);
  attr(b, "upstream_cluster", in->cluster);
  attr(b, "upstream_cluster.name", in->cluster);
  attr(b, "guid:x-request-id", in->request_id);
}

const char *ml_trace_protocol_text(int v) {
  return v == 20 ? "HTTP/2" : v == 11 ? "HTTP/1.1" : NULL;
}

void ml_trace_call_end(ml_telemetry *tm, const ml_call_info *info) {
  ml_tracer *t = tm->tracer;
  const ml_trace_call *c = info->trace;
  if (!t || !t->exporter || !c || !c->active || c->ctx.sampled != 1)
    return;
  char url[1024], name[512], flags[64], parent[17];
  snprintf(url, sizeof(url), "%s://%s%s", info->scheme ? info->scheme : "http",
           info->authority ? info->authority : "",
           info->path ? info->path : "");
  /* Istio's operation name: the route decorator "<host>:<port>/ *" (no
   * space). */
  const char *cl = info->cluster;
  unsigned port = 0;
  if (cl && ml_starts_with(cl, "outbound|"))
    port = (unsigned)strtoul(cl + 9, NULL, 10);
  if (info->dest_service && port)
    snprintf(name, sizeof(name), "%s:%u/*", info->dest_service, port);
  else
    snprintf(name, sizeof(name), "%s/*",
             info->authority ? info->authority : "unknown");
  meshlib_response_flags_str(info->flags, flags, sizeof(flags));

  span_builder b;
  span_begin(&b, tm->mem);
  memcpy(b.head.trace_id, c->trace_hex, sizeof(c->trace_hex));
  memcpy(b.head.span_id, c->client_hex, sizeof(c->client_hex));
  if (c->ctx.span_id)
    ml_trace_hex64(c->ctx.span_id, b.head.parent_id);
  b.head.start_wall_us = info->start_wall_us;
  b.head.duration_us = info->duration_us;
  b.head.error = info->status >= 500 || info->status == 0 || info->flags;
  b.head.name_off = put_text(&b, name);
  b.head.remote_off = put_text(&b, info->upstream);
  common_attrs(&b, t, info, url);
  attr(&b, "http.protocol", ml_trace_protocol_text(info->http_version));
  attr_num(&b, "http.status_code", info->status);
  attr(&b, "response_flags", flags);
  attr_num(&b, "request_size", (long long)info->request_bytes);
  attr_num(&b, "response_size", (long long)info->response_bytes);
  attr(&b, "upstream_address",
       info->upstream && *info->upstream ? info->upstream : NULL);
  attr(&b, "destination.subset", info->dest_subset);
  attr(&b, "user_agent",
       ml_header_find(info->headers, info->header_count, "user-agent"));
  attr(&b, "grpc.status_code", info->grpc_status);
  attr_num(&b, "retry.count",
           info->attempt_count ? (long long)info->attempt_count - 1 : 0);
  if (b.head.error)
    attr(&b, "error", "true");
  span_finish(&b, t);

  memcpy(parent, c->client_hex, sizeof(parent));
  char aname[600];
  snprintf(aname, sizeof(aname), "router %s egress", cl ? cl : name);
  for (size_t i = 0; i < info->attempt_count; i++) {
    const ml_attempt_info *a = &info->attempts[i];
    if (!a->span_id[0])
      continue;
    span_begin(&b, tm->mem);
    memcpy(b.head.trace_id, c->trace_hex, sizeof(c->trace_hex));
    memcpy(b.head.span_id, a->span_id, sizeof(a->span_id));
    memcpy(b.head.parent_id, parent, sizeof(parent));
    b.head.start_wall_us = info->start_wall_us + (a->start_us - info->start_us);
    b.head.duration_us = a->duration_us;
    b.head.error = a->status >= 500 || a->status == 0 || a->flags;
    b.head.name_off = put_text(&b, aname);
    b.head.remote_off = put_text(&b, a->upstream);
    common_attrs(&b, t, info, url);
    attr_num(&b, "http.status_code", a->status);
    meshlib_response_flags_str(a->flags, flags, sizeof(flags));
    attr(&b, "response_flags", flags);
    attr(&b, "upstream_address", a->upstream[0] ? a->upstream : NULL);
    attr(&b, "peer.address", a->upstream[0] ? a->upstream : NULL);
    attr_num(&b, "attempt", (long long)i + 1);
    if (a->retry_reason)
      attr(&b, "retry.reason", ml_retry_reason_name(a->retry_reason));
    if (b.head.error)
      attr(&b, "error", "true");
    span_finish(&b, t);
  }
}
