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
#include "call/request.h"
#include "core/internal.h"
#include "policy/policy.h"
#include "telemetry/access_log.h"
#include "util/str.h"

#define GOOD_OPTIONS(o) ((o) && (o)->magic == ML_MAGIC_OPTIONS)
#define GOOD_REQUEST(r) ((r) && (r)->magic == ML_MAGIC_REQUEST)
#define GOOD_MESH(m) ((m) && (m)->magic == ML_MAGIC_MESH)

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

static const ml_mem *opts_mem(const meshlib_options *o) {
  return o->has_alloc ? &o->alloc : NULL;
}

ml_trace_settings *ml_trace_settings_of(meshlib_options *o) {
  if (!o->settings.trace)
    o->settings.trace = ml_calloc(opts_mem(o), 1, sizeof(ml_trace_settings));
  return o->settings.trace;
}

int ml_trace_settings_set_str(meshlib_options *o, char **slot,
                              const char *value) {
  char *copy = NULL;
  if (value && *value && !(copy = ml_strdup(opts_mem(o), value)))
    return MESHLIB_ERR_NOMEM;
  ml_free(opts_mem(o), *slot);
  *slot = copy;
  return MESHLIB_OK;
}

int meshlib_options_set_tracing_sampling(meshlib_options *o, double percent) {
  if (!GOOD_OPTIONS(o) || !(percent >= 0.0 && percent <= 100.0))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = ml_trace_settings_of(o);
  if (!s)
    return MESHLIB_ERR_NOMEM;
  s->has_sampling = 1;
  s->sampling = percent;
  return MESHLIB_OK;
}

int meshlib_options_set_trace_headers(meshlib_options *o, uint32_t formats) {
  const uint32_t all = MESHLIB_TRACE_HDR_W3C | MESHLIB_TRACE_HDR_B3 |
                       MESHLIB_TRACE_HDR_B3_SINGLE |
                       MESHLIB_TRACE_HDR_REQUEST_ID;
  if (!GOOD_OPTIONS(o) || (formats & ~all))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = ml_trace_settings_of(o);
  if (!s)
    return MESHLIB_ERR_NOMEM;
  s->has_formats = 1;
  s->formats = formats;
  return MESHLIB_OK;
}

/* |url| as given when it ends in |suffix|, else with |suffix| appended. */
static int set_endpoint(meshlib_options *o, char **slot, const char *url,
                        const char *suffix) {
  if (!url || !*url)
    return ml_trace_settings_set_str(o, slot, NULL);
  if (!ml_starts_with(url, "http://") && !ml_starts_with(url, "https://"))
    return MESHLIB_ERR_INVALID_ARG;
  ml_buf b;
  ml_buf_init(&b, opts_mem(o));
  ml_buf_puts(&b, url);
  if (!ml_ends_with(url, suffix)) {
    while (b.len && b.data[b.len - 1] == '/')
      b.data[--b.len] = '\0';
    ml_buf_puts(&b, suffix);
  }
  if (b.oom) {
    ml_buf_free(&b);
    return MESHLIB_ERR_NOMEM;
  }
  ml_free(opts_mem(o), *slot);
  *slot = ml_buf_steal(&b);
  return MESHLIB_OK;
}

int meshlib_options_set_otlp_endpoint(meshlib_options *o, const char *url) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = ml_trace_settings_of(o);
  return s ? set_endpoint(o, &s->otlp_url, url, "/v1/traces")
           : MESHLIB_ERR_NOMEM;
}

int meshlib_options_set_zipkin_endpoint(meshlib_options *o, const char *url) {
  if (!GOOD_OPTIONS(o))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = ml_trace_settings_of(o);
  return s ? set_endpoint(o, &s->zipkin_url, url, "/api/v2/spans")
           : MESHLIB_ERR_NOMEM;
}

int meshlib_options_set_tracing_service_name(meshlib_options *o,
                                             const char *name) {
  if (!GOOD_OPTIONS(o) || !name || !*name)
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = ml_trace_settings_of(o);
  return s ? ml_trace_settings_set_str(o, &s->service_name, name)
           : MESHLIB_ERR_NOMEM;
}

int meshlib_options_set_tracing_node_id(meshlib_options *o,
                                        const char *node_id) {
  if (!GOOD_OPTIONS(o) || !node_id || !*node_id)
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = ml_trace_settings_of(o);
  return s ? ml_trace_settings_set_str(o, &s->node_id, node_id)
           : MESHLIB_ERR_NOMEM;
}

int meshlib_options_set_tracing_queue(meshlib_options *o,
                                      uint32_t max_queued_spans,
                                      uint32_t batch_spans,
                                      int64_t flush_interval_ms) {
  if (!GOOD_OPTIONS(o) || flush_interval_ms < 0 ||
      max_queued_spans > (1u << 24))
    return MESHLIB_ERR_INVALID_ARG;
  ml_trace_settings *s = ml_trace_settings_of(o);
  if (!s)
    return MESHLIB_ERR_NOMEM;
  s->max_queued = max_queued_spans;
  s->batch = batch_spans;
  s->flush_interval_ms = flush_interval_ms;
  return MESHLIB_OK;
}

/* ---- The mesh's tracer ---- */

static const char *label_of(const meshlib *m, const char *key) {
  for (size_t i = 0; i < m->settings.label_count; i++)
    if (strcmp(m->settings.labels[i].key, key) == 0)
      return m->settings.labels[i].value;
  return NULL;
}

/* Trace ids must not collide across processes: seed from the kernel, not
 * from the mesh's (possibly fixed) seed. */
static uint64_t entropy64(const void *salt) {
  uint64_t v = 0;
  if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v = ml_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                 ((uint64_t)getpid() << 48) ^ (uint64_t)(uintptr_t)salt);
  }
  return v;
}

int ml_trace_mesh_init(meshlib *m) {
  const ml_trace_settings *s = m->settings.trace;
  ml_tracer *t = ml_calloc(m->mem, 1, sizeof(*t));
  if (!t)
    return MESHLIB_ERR_NOMEM;
  t->mem = m->mem;
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
  t->namespace_ = m->settings.namespace_;
  t->canonical_service = label_of(m, "service.istio.io/canonical-name");
  if (!t->canonical_service)
    t->canonical_service = label_of(m, "app");
  if (!t->canonical_service)
    t->canonical_service = "unknown";
  t->canonical_revision = label_of(m, "service.istio.io/canonical-revision");
  if (!t->canonical_revision)
    t->canonical_revision = label_of(m, "version");
  if (!t->canonical_revision)
    t->canonical_revision = "latest";
  ml_buf b;
  ml_buf_init(&b, m->mem);
  if (s && s->service_name)
    ml_buf_puts(&b, s->service_name);
  else
    ml_buf_printf(&b, "%s.%s", t->canonical_service, t->namespace_);
  t->service_name = ml_buf_steal(&b);
  if (s && s->node_id)
    ml_buf_puts(&b, s->node_id);
  else
    ml_buf_printf(&b, "meshlib~%s.%s~%s.svc.%s", t->canonical_service,
                  t->namespace_, t->namespace_, m->settings.domain_suffix);
  t->node_id = ml_buf_steal(&b);
  m->tracer = t;
  if (!t->service_name || !t->node_id)
    return MESHLIB_ERR_NOMEM; /* meshlib_free() cleans up */
  if (s && (s->otlp_url || s->zipkin_url)) {
    ml_exporter_config c = {s->otlp_url,
                            s->zipkin_url,
                            t->service_name,
                            s->max_queued ? s->max_queued : 2048,
                            s->batch ? s->batch : 256,
                            s->flush_interval_ms ? s->flush_interval_ms : 1000};
    int rc = ml_exporter_new(m->mem, &c, &t->exporter);
    if (rc != MESHLIB_OK)
      return rc;
  }
  return ml_access_log_open(m);
}

void ml_trace_mesh_free(meshlib *m) {
  ml_access_log_close(m);
  ml_tracer *t = m->tracer;
  if (!t)
    return;
  if (t->exporter)
    ml_exporter_free(t->exporter, 2000);
  ml_free(m->mem, t->service_name);
  ml_free(m->mem, t->node_id);
  ml_free(m->mem, t);
  m->tracer = NULL;
}

int meshlib_tracing_get_stats(const meshlib *m, meshlib_tracing_stats *out) {
  if (!GOOD_MESH(m) || !out)
    return MESHLIB_ERR_INVALID_ARG;
  memset(out, 0, sizeof(*out));
  out->age = 1;
  if (m->tracer && m->tracer->exporter)
    ml_exporter_stats(m->tracer->exporter, out);
  return MESHLIB_OK;
}

int meshlib_tracing_flush(meshlib *m, int64_t timeout_ms) {
  if (!GOOD_MESH(m) || timeout_ms < 0)
    return MESHLIB_ERR_INVALID_ARG;
  if (!m->tracer || !m->tracer->exporter)
    return MESHLIB_OK;
  return ml_exporter_flush(m->tracer->exporter, timeout_ms);
}

/* ---- Per request ---- */

void ml_trace_call_free(const ml_mem *mem, ml_trace_call *t) {
  if (!t)
    return;
  for (int i = 0; i < ML_TH_COUNT; i++)
    ml_free(mem, t->inbound[i]);
  ml_free(mem, t);
}

static ml_trace_call *call_state(meshlib_request *r) {
  if (r->trace)
    return r->trace;
  ml_tracer *t = r->mesh->tracer;
  ml_trace_call *c = ml_calloc(r->mesh->mem, 1, sizeof(*c));
  if (!c)
    return NULL;
  /* A generator per request: no lock, and independent of r->rand so that
   * a seeded mesh replays the same routing choices with tracing on. */
  uint64_t n = atomic_fetch_add_explicit(&t->counter, 1, memory_order_relaxed);
  ml_rand_seed(&c->rng, t->seed ^ ml_mix64(n + 1));
  r->trace = c;
  return c;
}

int meshlib_request_set_inbound_header(meshlib_request *r, const char *name,
                                       const char *value) {
  if (!GOOD_REQUEST(r) || !name || !value || !r->mesh->tracer)
    return MESHLIB_ERR_INVALID_ARG;
  if (strpbrk(value, "\r\n"))
    return MESHLIB_ERR_BAD_HEADER;
  int slot = ml_trace_header_slot(name);
  if (slot < 0)
    return MESHLIB_OK; /* not a trace header: nothing to continue */
  ml_trace_call *c = call_state(r);
  char *copy = c ? ml_strdup(r->mesh->mem, value) : NULL;
  if (!copy)
    return MESHLIB_ERR_NOMEM;
  ml_free(r->mesh->mem, c->inbound[slot]);
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

/* Does |r| carry a trace context: one handed in with
 * meshlib_request_set_inbound_header(), or traceparent, b3 or x-b3-* on
 * the outbound request (names are lower-case there)? */
static int carries_context(const meshlib_request *r) {
  if (r->trace)
    for (int i = 0; i < ML_TH_COUNT; i++)
      if (r->trace->inbound[i])
        return 1;
  for (size_t i = 0; i < r->header_count; i++) {
    const char *n = r->headers[i].name;
    if ((n[0] == 't' && strcmp(n, "traceparent") == 0) ||
        (n[0] == 'b' && n[1] == '3' && n[2] == '\0') ||
        (n[0] == 'x' && n[1] == '-' && n[2] == 'b' && n[3] == '3' &&
         n[4] == '-'))
      return 1;
  }
  return 0;
}

void ml_telemetry_call_begin(struct meshlib *m, struct meshlib_request *r) {
  ml_tracer *t = m->tracer;
  if (!t)
    return;
  uint32_t formats = t->formats;
  if (t->on_demand && !carries_context(r)) {
    if (!t->idle_formats) { /* not traced: no ids, no headers */
      if (r->trace)
        r->trace->active = 0;
      return;
    }
    formats = t->idle_formats;
  }
  ml_trace_call *c = call_state(r);
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
    for (size_t i = 0; i < r->header_count; i++) {
      int slot = ml_trace_header_slot(r->headers[i].name);
      if (slot >= 0 && !h[slot])
        h[slot] = r->headers[i].value;
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

size_t ml_telemetry_attempt_headers(struct meshlib_request *r, uint32_t attempt,
                                    ml_attempt_info *ai, ml_header *out,
                                    size_t cap) {
  (void)attempt;
  ml_trace_call *c = r->trace;
  if (ai)
    ai->span_id[0] = '\0';
  if (!c || !c->active || !r->mesh->tracer)
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

const char *meshlib_request_trace_id(const meshlib_request *r) {
  return GOOD_REQUEST(r) && r->trace && r->trace->active ? r->trace->trace_hex
                                                         : "";
}

const char *meshlib_request_span_id(const meshlib_request *r) {
  return GOOD_REQUEST(r) && r->trace && r->trace->active ? r->trace->client_hex
                                                         : "";
}

const char *meshlib_request_request_id(const meshlib_request *r) {
  return GOOD_REQUEST(r) && r->trace && r->trace->active ? r->trace->request_id
                                                         : "";
}

int meshlib_request_sampled(const meshlib_request *r) {
  return GOOD_REQUEST(r) && r->trace && r->trace->active &&
         r->trace->ctx.sampled == 1;
}

const char *ml_trace_request_id(const struct meshlib_request *r) {
  return r->trace && r->trace->active ? r->trace->request_id : NULL;
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

const char *ml_trace_header_of(const meshlib_request *r, const char *name) {
  for (size_t i = 0; r && i < r->header_count; i++)
    if (strcmp(r->headers[i].name, name) == 0)
      return r->headers[i].value;
  return NULL;
}

const char *ml_trace_protocol_text(int v) {
  return v == 20 ? "HTTP/2" : v == 11 ? "HTTP/1.1" : NULL;
}

void ml_trace_call_end(struct meshlib *m, const ml_call_info *info) {
  ml_tracer *t = m->tracer;
  const meshlib_request *r = info->request;
  if (!t || !t->exporter || !r || !r->trace || !r->trace->active ||
      r->trace->ctx.sampled != 1)
    return;
  const ml_trace_call *c = r->trace;
  char url[1024], name[512], flags[64], parent[17];
  snprintf(url, sizeof(url), "%s://%s%s", r->scheme ? r->scheme : "http",
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
  span_begin(&b, m->mem);
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
  attr(&b, "user_agent", ml_trace_header_of(r, "user-agent"));
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
    span_begin(&b, m->mem);
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
