/* SPDX-License-Identifier: MIT */
/* Span export: callers push finished spans into a bounded lock-free queue
 * (Vyukov's bounded MPMC ring; a full queue drops and counts, so a call
 * never waits for the exporter), and one background thread sends them in
 * batches as OTLP/HTTP JSON and Zipkin v2 JSON POSTs with libcurl. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "meshlib/version.h"
#include "telemetry/trace.h"
#include "util/json.h"
#include "util/clock.h"

typedef struct slot {
  _Atomic size_t seq;
  ml_span *span;
} slot;

struct ml_exporter {
  const ml_mem *mem;
  slot *ring;
  size_t mask;
  _Atomic size_t head; /* next position to fill (producers) */
  size_t tail;         /* next position to take (the thread only) */
  char *otlp_url, *zipkin_url, *service_name;
  size_t batch;
  int64_t interval_ms;

  pthread_t thread;
  int started;
  pthread_mutex_t lock;
  pthread_cond_t wake;  /* the thread sleeps here */
  pthread_cond_t done;  /* flushers sleep here */
  int stop;             /* under lock */
  int flush_wanted;     /* under lock */
  _Atomic int stopping; /* read by curl's progress callback */

  _Atomic uint64_t queued, dropped, exported, failed, exports, processed;
};

/* ---- JSON ---- */

static const char *text(const ml_span *s, uint32_t off) {
  return s->text + off;
}

/* OTLP's AnyValue: {"key": k, "value": {"stringValue": v}}. */
static void otlp_attr(ml_json *w, const char *key, const char *value) {
  ml_json_obj(w, NULL);
  ml_json_str(w, "key", key);
  ml_json_obj(w, "value");
  ml_json_str(w, "stringValue", value);
  ml_json_end(w);
  ml_json_end(w);
}

static void otlp_span(ml_json *w, const ml_span *s) {
  ml_json_obj(w, NULL);
  ml_json_str(w, "traceId", s->h.trace_id);
  ml_json_str(w, "spanId", s->h.span_id);
  if (s->h.parent_id[0])
    ml_json_str(w, "parentSpanId", s->h.parent_id);
  ml_json_str(w, "name", text(s, s->h.name_off));
  /* SPAN_KIND_CLIENT = 3; int64 as strings (proto3 JSON mapping). */
  int64_t dur = s->h.duration_us > 0 ? s->h.duration_us : 0;
  ml_json_int(w, "kind", 3);
  ml_json_strf(w, "startTimeUnixNano", "%lld000",
               (long long)s->h.start_wall_us);
  ml_json_strf(w, "endTimeUnixNano", "%lld000",
               (long long)(s->h.start_wall_us + dur));
  ml_json_arr(w, "attributes");
  for (uint32_t i = 0; i < s->h.attr_count; i++)
    otlp_attr(w, s->h.attrs[i].key, text(s, s->h.attrs[i].value_off));
  ml_json_end(w);
  /* STATUS_CODE_ERROR = 2; UNSET otherwise, as Envoy leaves it. */
  ml_json_obj(w, "status");
  ml_json_int(w, "code", s->h.error ? 2 : 0);
  ml_json_end(w);
  ml_json_end(w);
}

int ml_export_otlp_json(ml_buf *b, const char *service_name,
                        ml_span *const *spans, size_t n) {
  ml_json w;
  ml_json_init(&w, b);
  ml_json_obj(&w, NULL);
  ml_json_arr(&w, "resourceSpans");
  ml_json_obj(&w, NULL);
  ml_json_obj(&w, "resource");
  ml_json_arr(&w, "attributes");
  otlp_attr(&w, "service.name", service_name);
  ml_json_end(&w);
  ml_json_end(&w);
  ml_json_arr(&w, "scopeSpans");
  ml_json_obj(&w, NULL);
  ml_json_obj(&w, "scope");
  ml_json_str(&w, "name", "meshlib");
  ml_json_str(&w, "version", MESHLIB_VERSION);
  ml_json_end(&w);
  ml_json_arr(&w, "spans");
  for (size_t i = 0; i < n; i++)
    otlp_span(&w, spans[i]);
  /* spans, its scopeSpans element, scopeSpans, its resourceSpans
   * element, resourceSpans, the body */
  for (int i = 0; i < 6; i++)
    ml_json_end(&w);
  return ml_json_finish(&w) == ML_JSON_OK ? 0 : -1;
}

/* Zipkin's endpoint: "ip:port" or "[v6]:port" split and checked. */
static void zipkin_endpoint(ml_json *w, const char *addr) {
  char host[64];
  const char *colon = strrchr(addr, ':');
  if (!colon || !colon[1])
    return;
  const char *h = addr;
  size_t hl = (size_t)(colon - addr);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
    h++;
    hl -= 2;
  }
  if (hl == 0 || hl >= sizeof(host))
    return;
  memcpy(host, h, hl);
  host[hl] = '\0';
  char *end;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (*end || port == 0 || port > 65535)
    return;
  unsigned char bin[16];
  const char *key;
  if (inet_pton(AF_INET, host, bin) == 1)
    key = "ipv4";
  else if (inet_pton(AF_INET6, host, bin) == 1)
    key = "ipv6";
  else
    return;
  ml_json_obj(w, "remoteEndpoint");
  ml_json_str(w, key, host);
  ml_json_uint(w, "port", port);
  ml_json_end(w);
}

static void zipkin_span(ml_json *w, const char *service, const ml_span *s) {
  /* A trace id that came as 64 bits keeps that form, as B3 carried it. */
  const char *tid = strncmp(s->h.trace_id, "0000000000000000", 16) == 0
                        ? s->h.trace_id + 16
                        : s->h.trace_id;
  ml_json_obj(w, NULL);
  ml_json_str(w, "traceId", tid);
  ml_json_str(w, "id", s->h.span_id);
  if (s->h.parent_id[0])
    ml_json_str(w, "parentId", s->h.parent_id);
  ml_json_str(w, "name", text(s, s->h.name_off));
  ml_json_str(w, "kind", "CLIENT");
  ml_json_int(w, "timestamp", s->h.start_wall_us);
  ml_json_int(w, "duration", s->h.duration_us > 0 ? s->h.duration_us : 1);
  ml_json_obj(w, "localEndpoint");
  ml_json_str(w, "serviceName", service);
  ml_json_end(w);
  zipkin_endpoint(w, text(s, s->h.remote_off));
  ml_json_obj(w, "tags");
  for (uint32_t i = 0; i < s->h.attr_count; i++)
    ml_json_str(w, s->h.attrs[i].key, text(s, s->h.attrs[i].value_off));
  ml_json_end(w);
  ml_json_end(w);
}

int ml_export_zipkin_json(ml_buf *b, const char *service_name,
                          ml_span *const *spans, size_t n) {
  ml_json w;
  ml_json_init(&w, b);
  ml_json_arr(&w, NULL);
  for (size_t i = 0; i < n; i++)
    zipkin_span(&w, service_name, spans[i]);
  ml_json_end(&w);
  return ml_json_finish(&w) == ML_JSON_OK ? 0 : -1;
}

/* ---- Queue ---- */

static int ring_push(ml_exporter *e, ml_span *s) {
  size_t pos = atomic_load_explicit(&e->head, memory_order_relaxed);
  for (;;) {
    slot *sl = &e->ring[pos & e->mask];
    size_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
    intptr_t dif = (intptr_t)seq - (intptr_t)pos;
    if (dif == 0) {
      if (atomic_compare_exchange_weak_explicit(&e->head, &pos, pos + 1,
                                                memory_order_relaxed,
                                                memory_order_relaxed)) {
        sl->span = s;
        atomic_store_explicit(&sl->seq, pos + 1, memory_order_release);
        return 0;
      }
    } else if (dif < 0) {
      return -1; /* full */
    } else {
      pos = atomic_load_explicit(&e->head, memory_order_relaxed);
    }
  }
}

/* The thread is the only consumer. */
static ml_span *ring_pop(ml_exporter *e) {
  slot *sl = &e->ring[e->tail & e->mask];
  size_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
  if (seq != e->tail + 1)
    return NULL;
  ml_span *s = sl->span;
  atomic_store_explicit(&sl->seq, e->tail + e->mask + 1, memory_order_release);
  e->tail++;
  return s;
}

void ml_exporter_push(ml_exporter *e, ml_span *s) {
  if (!s || ring_push(e, s)) {
    atomic_fetch_add_explicit(&e->dropped, 1, memory_order_relaxed);
    ml_free(e->mem, s);
    return;
  }
  uint64_t q = atomic_fetch_add_explicit(&e->queued, 1, memory_order_relaxed);
  /* A full batch wakes the thread early; never wait for its lock. */
  if ((q + 1) % e->batch == 0 && pthread_mutex_trylock(&e->lock) == 0) {
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
  }
}

/* ---- Sending ---- */

static size_t discard(char *p, size_t size, size_t n, void *u) {
  (void)p;
  (void)u;
  return size * n;
}

static int abort_on_stop(void *u, curl_off_t a, curl_off_t b, curl_off_t c,
                         curl_off_t d) {
  (void)a;
  (void)b;
  (void)c;
  (void)d;
  ml_exporter *e = u;
  return atomic_load_explicit(&e->stopping, memory_order_relaxed) ? 1 : 0;
}

static int post(ml_exporter *e, CURL *h, struct curl_slist *hdrs,
                const char *url, const ml_buf *body) {
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, e);
  atomic_fetch_add_explicit(&e->exports, 1, memory_order_relaxed);
  long code = 0;
  if (curl_easy_perform(h) != CURLE_OK ||
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
    return -1;
  return code >= 200 && code < 300 ? 0 : -1;
}

static void send_batch(ml_exporter *e, CURL *h, struct curl_slist *hdrs,
                       ml_span **spans, size_t n) {
  int ok = h != NULL;
  ml_buf b;
  ml_buf_init(&b, e->mem);
  if (ok && e->otlp_url)
    ok = ml_export_otlp_json(&b, e->service_name, spans, n) == 0 &&
         post(e, h, hdrs, e->otlp_url, &b) == 0;
  if (e->zipkin_url) {
    ml_buf_reset(&b);
    int zok = h && ml_export_zipkin_json(&b, e->service_name, spans, n) == 0 &&
              post(e, h, hdrs, e->zipkin_url, &b) == 0;
    ok = ok && zok;
  }
  ml_buf_free(&b);
  for (size_t i = 0; i < n; i++)
    ml_free(e->mem, spans[i]);
  atomic_fetch_add_explicit(ok ? &e->exported : &e->failed, n,
                            memory_order_relaxed);
  atomic_fetch_add_explicit(&e->processed, n, memory_order_release);
}

/* Send what is queued now, in batches. */
static void drain(ml_exporter *e, CURL *h, struct curl_slist *hdrs,
                  ml_span **batch) {
  for (;;) {
    size_t n = 0;
    while (n < e->batch && (batch[n] = ring_pop(e)))
      n++;
    if (!n)
      return;
    send_batch(e, h, hdrs, batch, n);
  }
}

static size_t backlog(ml_exporter *e) {
  return atomic_load_explicit(&e->head, memory_order_relaxed) - e->tail;
}

static void *exporter_main(void *arg) {
  ml_exporter *e = arg;
  CURL *h = curl_easy_init();
  struct curl_slist *hdrs =
      curl_slist_append(NULL, "Content-Type: application/json");
  ml_span **batch = ml_malloc(e->mem, e->batch * sizeof(*batch));
  pthread_mutex_lock(&e->lock);
  for (;;) {
    if (!e->stop && !e->flush_wanted && backlog(e) < e->batch) {
      struct timespec ts;
      ml_deadline_in(&ts, e->interval_ms);
      pthread_cond_timedwait(&e->wake, &e->lock, &ts);
    }
    int stop = e->stop;
    e->flush_wanted = 0;
    pthread_mutex_unlock(&e->lock);
    if (batch)
      drain(e, hdrs ? h : NULL, hdrs, batch);
    pthread_mutex_lock(&e->lock);
    pthread_cond_broadcast(&e->done);
    if (stop)
      break;
  }
  pthread_mutex_unlock(&e->lock);
  ml_free(e->mem, batch);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);
  return NULL;
}

static size_t pow2_at_least(size_t n) {
  size_t p = 2;
  while (p < n)
    p <<= 1;
  return p;
}

int ml_exporter_new(const ml_mem *mem, const ml_exporter_config *c,
                    ml_exporter **out) {
  *out = NULL;
  ml_exporter *e = ml_calloc(mem, 1, sizeof(*e));
  if (!e)
    return MESHLIB_ERR_NOMEM;
  e->mem = mem;
  size_t cap = pow2_at_least(c->max_queued);
  e->mask = cap - 1;
  /* A batch never holds more than the queue: a larger one would never
   * fill, and its array would be allocated for nothing. */
  e->batch = c->batch && c->batch < cap ? c->batch : cap;
  e->interval_ms = c->flush_interval_ms;
  e->ring = ml_calloc(mem, cap, sizeof(*e->ring));
  e->otlp_url = c->otlp_url ? ml_strdup(mem, c->otlp_url) : NULL;
  e->zipkin_url = c->zipkin_url ? ml_strdup(mem, c->zipkin_url) : NULL;
  e->service_name = ml_strdup(mem, c->service_name);
  if (!e->ring || (c->otlp_url && !e->otlp_url) ||
      (c->zipkin_url && !e->zipkin_url) || !e->service_name) {
    ml_exporter_free(e, 0);
    return MESHLIB_ERR_NOMEM;
  }
  for (size_t i = 0; i < cap; i++)
    atomic_init(&e->ring[i].seq, i);
  atomic_init(&e->head, 0);
  atomic_init(&e->stopping, 0);
  atomic_init(&e->queued, 0);
  atomic_init(&e->dropped, 0);
  atomic_init(&e->exported, 0);
  atomic_init(&e->failed, 0);
  atomic_init(&e->exports, 0);
  atomic_init(&e->processed, 0);
  pthread_mutex_init(&e->lock, NULL);
  ml_cond_init_monotonic(&e->wake);
  ml_cond_init_monotonic(&e->done);
  if (pthread_create(&e->thread, NULL, exporter_main, e) != 0) {
    ml_exporter_free(e, 0);
    return MESHLIB_ERR_IO;
  }
  e->started = 1;
  *out = e;
  return MESHLIB_OK;
}

int ml_exporter_flush(ml_exporter *e, int64_t timeout_ms) {
  uint64_t target = atomic_load_explicit(&e->queued, memory_order_acquire);
  struct timespec ts;
  ml_deadline_in(&ts, timeout_ms);
  int rc = MESHLIB_OK;
  pthread_mutex_lock(&e->lock);
  e->flush_wanted = 1;
  pthread_cond_signal(&e->wake);
  while (atomic_load_explicit(&e->processed, memory_order_acquire) < target) {
    if (pthread_cond_timedwait(&e->done, &e->lock, &ts) == ETIMEDOUT) {
      if (atomic_load_explicit(&e->processed, memory_order_acquire) < target)
        rc = MESHLIB_TRACING_PENDING;
      break;
    }
  }
  pthread_mutex_unlock(&e->lock);
  return rc;
}

void ml_exporter_stats(ml_exporter *e, meshlib_tracing_stats *out) {
  out->spans_queued = atomic_load(&e->queued);
  out->spans_dropped = atomic_load(&e->dropped);
  out->spans_exported = atomic_load(&e->exported);
  out->spans_failed = atomic_load(&e->failed);
  out->exports = atomic_load(&e->exports);
}

void ml_exporter_free(ml_exporter *e, int64_t wait_ms) {
  if (!e)
    return;
  if (e->started) {
    if (wait_ms > 0)
      ml_exporter_flush(e, wait_ms);
    pthread_mutex_lock(&e->lock);
    e->stop = 1;
    atomic_store(&e->stopping, 1); /* a POST in progress gives up */
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->done);
    pthread_mutex_destroy(&e->lock);
  }
  if (e->ring) {
    ml_span *s;
    while ((s = ring_pop(e)))
      ml_free(e->mem, s);
  }
  ml_free(e->mem, e->ring);
  ml_free(e->mem, e->otlp_url);
  ml_free(e->mem, e->zipkin_url);
  ml_free(e->mem, e->service_name);
  ml_free(e->mem, e);
}
