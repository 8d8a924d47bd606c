/* SPDX-License-Identifier: MIT */
/* Recording: Istio's standard metrics per label set, meshlib's own
 * counters per cluster. See metrics.h for the locking scheme. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include "meshlib/meshlib.h"
#include "policy/policy.h"
#include "telemetry/metrics_internal.h"

/* ---- the lock-free series table -------------------------------------- */

static int table_init(const ml_mem *mem, ml_series_table *t, uint32_t cap) {
  size_t slots = 16;
  while (slots < (size_t)cap * 2)
    slots *= 2;
  t->slots = ml_calloc(mem, slots, sizeof(*t->slots));
  if (!t->slots)
    return MESHLIB_ERR_NOMEM;
  t->mask = slots - 1;
  t->cap = cap;
  atomic_init(&t->count, 0);
  return MESHLIB_OK;
}

static void table_free(const ml_mem *mem, ml_series_table *t) {
  if (!t->slots)
    return;
  for (size_t i = 0; i <= t->mask; i++)
    ml_free(mem, atomic_load_explicit(&t->slots[i], memory_order_relaxed));
  ml_free(mem, t->slots);
  t->slots = NULL;
}

/* The entry of |key| (hash |h|), made by |make| when new. NULL when the
 * table is full or out of memory: the caller counts into its overflow
 * series. Entries are never removed, so a probe that meets an empty slot
 * knows the key is absent, and a lost insertion race is seen on the slot
 * that was lost. */
static void *table_get(ml_series_table *t, const ml_mem *mem, uint64_t h,
                       int (*eq)(const void *entry, const void *key),
                       void *(*make)(const ml_mem *mem, const void *key,
                                     uint64_t h),
                       const void *key) {
  size_t i = (size_t)h & t->mask;
  void *fresh = NULL;
  for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
    void *e = atomic_load_explicit(&t->slots[i], memory_order_acquire);
    if (!e) {
      if (!fresh) {
        if (atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed) >=
            t->cap) {
          atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
          return NULL;
        }
        fresh = make(mem, key, h);
        if (!fresh) {
          atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
          return NULL;
        }
      }
      void *expected = NULL;
      if (atomic_compare_exchange_strong_explicit(&t->slots[i], &expected,
                                                  fresh, memory_order_acq_rel,
                                                  memory_order_acquire))
        return fresh;
      e = expected; /* another thread filled it first */
    }
    if (*(const uint64_t *)e == h && eq(e, key)) {
      if (fresh) {
        ml_free(mem, fresh);
        atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
      }
      return e;
    }
  }
  if (fresh) { /* cannot happen: the table has twice the cap in slots */
    ml_free(mem, fresh);
    atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
  }
  return NULL;
}

/* ---- hashing ----------------------------------------------------------- */

/* A word-at-a-time multiplicative hash: the label texts of a call are
 * ~100 bytes, hashed on every call. */
#define HASH_SEED 0x243f6a8885a308d3ull
#define HASH_MUL 0x9e3779b97f4a7c15ull

static uint64_t mix_word(uint64_t h, uint64_t w) {
  h = (h ^ w) * HASH_MUL;
  return h ^ (h >> 29);
}

static uint64_t mix_str(uint64_t h, const char *s) {
  size_t n = strlen(s);
  uint64_t len = n;
  for (; n >= 8; s += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = mix_word(h, w);
  }
  uint64_t w = 0;
  memcpy(&w, s, n);
  /* The length ends each string: ("ab","c") differs from ("a","bc"). */
  return mix_word(h, w ^ (len << 48));
}

static uint64_t mix_u32(uint64_t h, uint32_t v) {
  return mix_word(h, v);
}

/* ---- Istio's series ---------------------------------------------------- */

/* Histogram bounds: Envoy's default buckets (ms for durations, bytes for
 * sizes), kept as integers in the units recorded: microseconds for
 * durations, half bytes for sizes (0.5 is a bound). */
const double ml_hist_bounds[ML_HIST_BOUNDS] = {
    0.5,  1,    5,     10,    25,    50,     100,    250,     500,    1000,
    2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

static const uint64_t duration_bounds_us[ML_HIST_BOUNDS] = {
    500,       1000,      5000,       10000,        25000,
    50000,     100000,    250000,     500000,       1000000,
    2500000,   5000000,   10000000,   30000000,     60000000,
    300000000, 600000000, 1800000000, 3600000000ull};

static const uint64_t size_bounds_x2[ML_HIST_BOUNDS] = {
    1,    2,     10,    20,    50,     100,    200,     500,     1000,   2000,
    5000, 10000, 20000, 60000, 120000, 600000, 1200000, 3600000, 7200000};

static size_t bucket_of(const uint64_t *bounds, uint64_t v) {
  size_t i = 0;
  while (i < ML_HIST_BOUNDS && v > bounds[i])
    i++;
  return i; /* ML_HIST_BOUNDS is +Inf */
}

static void hist_add(ml_hist *h, size_t bucket, uint64_t v) {
  atomic_fetch_add_explicit(&h->buckets[bucket], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

/* The labels a call sets, in the order istio_make() writes them; the
 * others are the mesh's own (ml_metrics.source). */
static const int call_slots[] = {ML_IL_DESTINATION_SERVICE,
                                 ML_IL_DESTINATION_APP,
                                 ML_IL_DESTINATION_VERSION,
                                 ML_IL_DESTINATION_CANONICAL_SERVICE,
                                 ML_IL_DESTINATION_CANONICAL_REVISION,
                                 ML_IL_REQUEST_PROTOCOL,
                                 ML_IL_GRPC_RESPONSE_STATUS,
                                 ML_IL_DESTINATION_SERVICE_NAME,
                                 ML_IL_DESTINATION_SERVICE_NAMESPACE,
                                 ML_IL_RESPONSE_CODE,
                                 ML_IL_RESPONSE_FLAGS};
#define CALL_SLOTS (sizeof(call_slots) / sizeof(call_slots[0]))

/* The label values of one call, before they become a series. */
typedef struct istio_key {
  const char *service, *app, *version, *canon_service, *canon_revision;
  const char *protocol, *grpc_status;
  int32_t code;
  uint32_t flags;
} istio_key;

/* The labels Istio reads off a workload, found in one pass. */
typedef struct workload_labels {
  const char *app, *version, *canon_name, *canon_rev, *k8s_name, *k8s_version;
  int any; /* the workload's labels are known */
} workload_labels;

static void scan_labels(const ml_kv_list *l, workload_labels *w) {
  memset(w, 0, sizeof(*w));
  if (!l)
    return;
  w->any = l->count != 0;
  for (size_t i = 0; i < l->count; i++) {
    const char *k = l->items[i].key, *v = l->items[i].value;
    if (!v || !*v)
      continue;
    if (k[0] == 'a') {
      if (strcmp(k, "app") == 0)
        w->app = v;
      else if (strcmp(k, "app.kubernetes.io/name") == 0)
        w->k8s_name = v;
      else if (strcmp(k, "app.kubernetes.io/version") == 0)
        w->k8s_version = v;
    } else if (k[0] == 'v' && strcmp(k, "version") == 0) {
      w->version = v;
    } else if (k[0] == 's' &&
               strncmp(k, "service.istio.io/canonical-", 27) == 0) {
      if (strcmp(k + 27, "name") == 0)
        w->canon_name = v;
      else if (strcmp(k + 27, "revision") == 0)
        w->canon_rev = v;
    }
  }
}

/* Istio's canonical service and revision, from the labels a workload
 * carries (pilot's labels.CanonicalService): canonical-name, then the
 * recommended app.kubernetes.io name, then app; the revision defaults to
 * "latest" for a workload whose labels are known. */
static const char *canonical_service(const workload_labels *w,
                                     const char *fallback) {
  return w->canon_name ? w->canon_name
         : w->k8s_name ? w->k8s_name
         : w->app      ? w->app
                       : fallback;
}

static const char *canonical_revision(const workload_labels *w) {
  return w->canon_rev     ? w->canon_rev
         : w->k8s_version ? w->k8s_version
         : w->version     ? w->version
         : w->any         ? "latest"
                          : ML_UNKNOWN;
}

static const char *or_unknown(const char *s) {
  return s && *s ? s : ML_UNKNOWN;
}

static void istio_key_of(const ml_call_info *info, istio_key *k) {
  workload_labels w;
  scan_labels(info->dest_labels, &w);
  k->service = or_unknown(info->dest_service);
  k->app = or_unknown(w.app);
  k->version = or_unknown(w.version);
  k->canon_service = canonical_service(&w, ML_UNKNOWN);
  k->canon_revision = canonical_revision(&w);
  k->protocol = info->protocol && *info->protocol ? info->protocol : "http";
  k->grpc_status = info->grpc_status ? info->grpc_status : "";
  k->code = info->status;
  /* Only the flags that have a name: two sets printed alike would be
   * two series with the same labels. */
  k->flags = info->flags & ((uint32_t)MESHLIB_RF_DC * 2 - 1);
}

static uint64_t istio_hash(const istio_key *k) {
  uint64_t h = HASH_SEED;
  h = mix_str(h, k->service);
  h = mix_str(h, k->app);
  h = mix_str(h, k->version);
  h = mix_str(h, k->canon_service);
  h = mix_str(h, k->canon_revision);
  h = mix_str(h, k->protocol);
  h = mix_str(h, k->grpc_status);
  h = mix_u32(h, (uint32_t)k->code);
  return mix_u32(h, k->flags);
}

static int istio_eq(const void *entry, const void *key) {
  const ml_istio_series *s = entry;
  const istio_key *k = key;
  return s->code == k->code && s->flags == k->flags &&
         strcmp(s->v[ML_IL_DESTINATION_SERVICE], k->service) == 0 &&
         strcmp(s->v[ML_IL_DESTINATION_APP], k->app) == 0 &&
         strcmp(s->v[ML_IL_DESTINATION_VERSION], k->version) == 0 &&
         strcmp(s->v[ML_IL_DESTINATION_CANONICAL_SERVICE], k->canon_service) ==
             0 &&
         strcmp(s->v[ML_IL_DESTINATION_CANONICAL_REVISION],
                k->canon_revision) == 0 &&
         strcmp(s->v[ML_IL_REQUEST_PROTOCOL], k->protocol) == 0 &&
         strcmp(s->v[ML_IL_GRPC_RESPONSE_STATUS], k->grpc_status) == 0;
}

/* destination_service_name and _namespace out of the FQDN: Kubernetes
 * services ("name.ns.svc.<suffix>") split; other hosts (ServiceEntries)
 * keep the host as name, and the namespace is not known. */
static void split_service(const char *fqdn, const char *suffix, char *name,
                          size_t name_cap, char *ns, size_t ns_cap) {
  snprintf(name, name_cap, "%s", fqdn);
  snprintf(ns, ns_cap, "%s", ML_UNKNOWN);
  const char *dot1 = strchr(fqdn, '.');
  const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
  if (!dot1 || !dot2 || strncmp(dot2, ".svc.", 5) != 0 ||
      strcmp(dot2 + 5, suffix) != 0)
    return;
  snprintf(name, name_cap, "%.*s", (int)(dot1 - fqdn), fqdn);
  snprintf(ns, ns_cap, "%.*s", (int)(dot2 - dot1 - 1), dot1 + 1);
}

/* A series owns its strings: one allocation holds the struct, then the
 * texts. |key| is an istio_key plus the domain suffix. */
typedef struct istio_make_key {
  istio_key k;
  const char *suffix;
} istio_make_key;

static void *istio_make(const ml_mem *mem, const void *key, uint64_t h) {
  const istio_make_key *mk = key;
  const istio_key *k = &mk->k;
  char name[256], ns[128], code[16], flags[128];
  split_service(k->service, mk->suffix, name, sizeof(name), ns, sizeof(ns));
  /* Istio's names for Envoy's catch-all clusters. */
  if (strcmp(k->service, "PassthroughCluster") == 0 ||
      strcmp(k->service, "BlackHoleCluster") == 0)
    snprintf(ns, sizeof(ns), "%s", ML_UNKNOWN);
  snprintf(code, sizeof(code), "%d", (int)k->code);
  meshlib_response_flags_str(k->flags, flags, sizeof(flags));
  const char *texts[CALL_SLOTS] = {k->service,
                                   k->app,
                                   k->version,
                                   k->canon_service,
                                   k->canon_revision,
                                   k->protocol,
                                   k->grpc_status,
                                   name,
                                   ns,
                                   code,
                                   flags};
  size_t total = sizeof(ml_istio_series);
  for (size_t i = 0; i < CALL_SLOTS; i++)
    total += strlen(texts[i]) + 1;
  ml_istio_series *s = ml_calloc(mem, 1, total);
  if (!s)
    return NULL;
  s->hash = h;
  s->code = k->code;
  s->flags = k->flags;
  char *p = (char *)(s + 1);
  for (size_t i = 0; i < CALL_SLOTS; i++) {
    size_t len = strlen(texts[i]) + 1;
    memcpy(p, texts[i], len);
    s->v[call_slots[i]] = p;
    p += len;
  }
  return s;
}

/* ---- meshlib's own counters -------------------------------------------- */

typedef struct event_key {
  uint32_t kind;
  uint32_t detail;
  const char *cluster;
} event_key;

static uint64_t event_hash(const event_key *k) {
  uint64_t h = mix_u32(HASH_SEED, k->kind);
  h = mix_u32(h, k->detail);
  return mix_str(h, k->cluster);
}

static int event_eq(const void *entry, const void *key) {
  const ml_event_series *s = entry;
  const event_key *k = key;
  return s->kind == k->kind && s->detail == k->detail &&
         strcmp(s->cluster, k->cluster) == 0;
}

static void *event_make(const ml_mem *mem, const void *key, uint64_t h) {
  const event_key *k = key;
  size_t len = strlen(k->cluster) + 1;
  ml_event_series *s = ml_calloc(mem, 1, sizeof(*s) + len);
  if (!s)
    return NULL;
  s->hash = h;
  s->kind = k->kind;
  s->detail = k->detail;
  memcpy(s + 1, k->cluster, len);
  s->cluster = (const char *)(s + 1);
  return s;
}

/* The series this thread used last, per kind of lookup: a call from the
 * same thread to the same destination (the common case) is matched by
 * comparing its labels, without hashing them or probing the table. The
 * entries stay valid while |gen| (unique per ml_metrics ever made)
 * matches: series live as long as their metrics. */
static _Thread_local struct {
  uint64_t gen;
  ml_istio_series *istio;
  ml_event_series *attempts;
} last;

static _Atomic uint64_t next_gen = 1;

static void event_add(ml_metrics *mt, uint32_t kind, const char *cluster,
                      uint32_t detail, uint64_t n) {
  event_key k = {kind, detail, cluster && *cluster ? cluster : ML_UNKNOWN};
  int cached = kind == ML_KIND_ATTEMPTS && last.gen == mt->gen;
  ml_event_series *s = cached && last.attempts && event_eq(last.attempts, &k)
                           ? last.attempts
                           : NULL;
  if (!s) {
    s = table_get(&mt->events, mt->mem, event_hash(&k), event_eq, event_make,
                  &k);
    if (s && kind == ML_KIND_ATTEMPTS && last.gen == mt->gen)
      last.attempts = s;
  }
  if (!s) {
    s = &mt->event_overflow[kind];
    atomic_fetch_add_explicit(&mt->series_overflow, 1, memory_order_relaxed);
  }
  atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

/* ---- the object -------------------------------------------------------- */

static void set_source_labels(ml_metrics *mt, const ml_telemetry_settings *st) {
  ml_kv_list l = {(ml_kv *)st->labels, st->label_count};
  workload_labels w;
  scan_labels(&l, &w);
  const char *workload =
      st->metrics->workload_name[0] ? st->metrics->workload_name : ML_UNKNOWN;
  const char **v = mt->source;
  v[ML_IL_REPORTER] = "source";
  v[ML_IL_SOURCE_WORKLOAD] = workload;
  v[ML_IL_SOURCE_CANONICAL_SERVICE] = canonical_service(&w, workload);
  v[ML_IL_SOURCE_CANONICAL_REVISION] = canonical_revision(&w);
  v[ML_IL_SOURCE_WORKLOAD_NAMESPACE] = or_unknown(st->namespace_);
  v[ML_IL_SOURCE_PRINCIPAL] = ML_UNKNOWN; /* no mTLS identity yet */
  v[ML_IL_SOURCE_APP] = or_unknown(w.app);
  v[ML_IL_SOURCE_VERSION] = or_unknown(w.version);
  v[ML_IL_SOURCE_CLUSTER] = ML_UNKNOWN;
  /* What only the peer's metadata exchange tells an Envoy: unknown. */
  v[ML_IL_DESTINATION_WORKLOAD] = ML_UNKNOWN;
  v[ML_IL_DESTINATION_WORKLOAD_NAMESPACE] = ML_UNKNOWN;
  v[ML_IL_DESTINATION_PRINCIPAL] = ML_UNKNOWN;
  v[ML_IL_DESTINATION_CLUSTER] = ML_UNKNOWN;
  /* A client does not know the server's mTLS mode: Istio says unknown. */
  v[ML_IL_CONNECTION_SECURITY_POLICY] = ML_UNKNOWN;
}

int ml_metrics_new(const ml_telemetry_settings *s, ml_metrics **out) {
  *out = NULL;
  ml_metrics *mt = ml_calloc(s->mem, 1, sizeof(*mt));
  if (!mt)
    return MESHLIB_ERR_NOMEM;
  mt->mem = s->mem;
  mt->enabled = !s->metrics->disabled;
  mt->gen = atomic_fetch_add_explicit(&next_gen, 1, memory_order_relaxed);
  uint32_t cap = s->metrics->max_series ? s->metrics->max_series
                                        : ML_METRICS_DEFAULT_MAX_SERIES;
  snprintf(mt->domain_suffix, sizeof(mt->domain_suffix), "%s",
           s->domain_suffix ? s->domain_suffix : "");
  set_source_labels(mt, s);
  if (table_init(mt->mem, &mt->istio, cap) != MESHLIB_OK ||
      table_init(mt->mem, &mt->events, cap) != MESHLIB_OK) {
    ml_metrics_free(mt);
    return MESHLIB_ERR_NOMEM;
  }
  /* The overflow series: "other" is never a status code, so no real
   * series has the same labels. */
  for (size_t i = 0; i < CALL_SLOTS; i++)
    mt->istio_overflow.v[call_slots[i]] = "other";
  for (uint32_t k = 0; k < ML_KIND_COUNT; k++) {
    mt->event_overflow[k].kind = k;
    mt->event_overflow[k].cluster = "other";
  }
  *out = mt;
  return MESHLIB_OK;
}

void ml_metrics_free(ml_metrics *mt) {
  if (!mt)
    return;
  table_free(mt->mem, &mt->istio);
  table_free(mt->mem, &mt->events);
  ml_free(mt->mem, mt);
}

void ml_metrics_record_call(ml_metrics *mt, const ml_call_info *info) {
  if (!mt || !mt->enabled || !info)
    return;
  istio_make_key mk;
  istio_key_of(info, &mk.k);
  mk.suffix = mt->domain_suffix;
  if (last.gen != mt->gen) {
    last.gen = mt->gen;
    last.istio = NULL;
    last.attempts = NULL;
  }
  ml_istio_series *s =
      last.istio && istio_eq(last.istio, &mk.k) ? last.istio : NULL;
  if (!s) {
    s = table_get(&mt->istio, mt->mem, istio_hash(&mk.k), istio_eq, istio_make,
                  &mk);
    last.istio = s;
  }
  if (!s) {
    s = &mt->istio_overflow;
    atomic_fetch_add_explicit(&mt->series_overflow, 1, memory_order_relaxed);
  }
  atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
  uint64_t us = info->duration_us > 0 ? (uint64_t)info->duration_us : 0;
  hist_add(&s->duration, bucket_of(duration_bounds_us, us), us);
  uint64_t rq = info->request_bytes, rs = info->response_bytes;
  hist_add(&s->request_bytes,
           bucket_of(size_bounds_x2, rq > UINT64_MAX / 2 ? UINT64_MAX : rq * 2),
           rq);
  hist_add(&s->response_bytes,
           bucket_of(size_bounds_x2, rs > UINT64_MAX / 2 ? UINT64_MAX : rs * 2),
           rs);
  if (info->attempt_count)
    event_add(mt, ML_KIND_ATTEMPTS, info->cluster, 0, info->attempt_count);
}

void ml_metrics_record_event(ml_metrics *mt, const char *cluster, ml_event ev,
                             uint32_t detail) {
  /* Ejections are counted by the cluster state (meshlib_cluster_*). */
  if (!mt || !mt->enabled || (unsigned)ev >= ML_EV_COUNT ||
      ev == ML_EV_EJECTION)
    return;
  /* Only retries have a detail worth a label (the reason). One without a
   * name is counted with 0: both read reason="other", which must be one
   * series, not two with the same labels. */
  uint32_t reason =
      ev == ML_EV_RETRY && ml_retry_reason_name(detail) ? detail : 0;
  event_add(mt, (uint32_t)ev, cluster, reason, 1);
}
