/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <string.h>
#include "cluster/cluster_internal.h"
#include "meshlib/error.h"
#include "util/clock.h"
#include "util/str.h"

/* Two tables of refcounted entries, one per kind of state; an entry is the
 * state with an ml_live_node inside and its key after it. */

static int table_init(const ml_mem *mem, ml_live_table *t) {
  t->bucket_count = 256;
  t->count = 0;
  t->buckets = ml_calloc(mem, t->bucket_count, sizeof(*t->buckets));
  return t->buckets ? 0 : -1;
}

static void table_grow(const ml_mem *mem, ml_live_table *t) {
  size_t n = t->bucket_count * 2;
  ml_live_node **b = ml_calloc(mem, n, sizeof(*b));
  if (!b)
    return; /* a longer chain is slower, not wrong */
  for (size_t i = 0; i < t->bucket_count; i++) {
    ml_live_node *s = t->buckets[i];
    while (s) {
      ml_live_node *next = s->next;
      s->next = b[s->hash & (n - 1)];
      b[s->hash & (n - 1)] = s;
      s = next;
    }
  }
  ml_free(mem, t->buckets);
  t->buckets = b;
  t->bucket_count = n;
}

/* The entry under |key| with one more reference, or a new one made by
 * |make| (which returns the entry's node, key already placed). */
static ml_live_node *
table_acquire(ml_live *l, ml_live_table *t, const char *key,
              ml_live_node *(*make)(const ml_mem *, const char *, size_t)) {
  size_t len = strlen(key);
  uint64_t h = ml_hash(key, len);
  ml_live_node *s = t->buckets[h & (t->bucket_count - 1)];
  for (; s; s = s->next)
    if (s->hash == h && strcmp(s->key, key) == 0)
      break;
  if (!s) {
    if (t->count >= t->bucket_count)
      table_grow(l->mem, t);
    s = make(l->mem, key, len);
    if (!s)
      return NULL;
    s->hash = h;
    size_t b = h & (t->bucket_count - 1);
    s->next = t->buckets[b];
    t->buckets[b] = s;
    t->count++;
  }
  s->refs++;
  return s;
}

/* Drop one reference; nonzero when the entry left the table. */
static int table_release(ml_live_table *t, ml_live_node *s) {
  if (--s->refs)
    return 0;
  ml_live_node **p = &t->buckets[s->hash & (t->bucket_count - 1)];
  while (*p != s)
    p = &(*p)->next;
  *p = s->next;
  t->count--;
  return 1;
}

static ml_ep_state *ep_of(ml_live_node *n) {
  return (ml_ep_state *)(void *)((char *)n - offsetof(ml_ep_state, node));
}

static ml_cluster_state *cluster_of(ml_live_node *n) {
  return (ml_cluster_state *)(void *)((char *)n -
                                      offsetof(ml_cluster_state, node));
}

static ml_live_node *make_ep(const ml_mem *mem, const char *key, size_t len) {
  ml_ep_state *s = ml_calloc(mem, 1, sizeof(*s) + len + 1);
  if (!s)
    return NULL;
  char *k = (char *)(s + 1);
  memcpy(k, key, len + 1);
  s->node.key = k;
  atomic_init(&s->in_flight, 0);
  ml_outlier_host_init(&s->outlier);
  return &s->node;
}

static ml_live_node *make_cluster(const ml_mem *mem, const char *key,
                                  size_t len) {
  ml_cluster_state *s = ml_calloc(mem, 1, sizeof(*s) + len + 1);
  if (!s)
    return NULL;
  /* Waits for a slot are bounded in monotonic time. */
  if (ml_cond_init_monotonic(&s->slot_freed)) {
    ml_free(mem, s);
    return NULL;
  }
  if (pthread_mutex_init(&s->lock, NULL)) {
    pthread_cond_destroy(&s->slot_freed);
    ml_free(mem, s);
    return NULL;
  }
  char *k = (char *)(s + 1);
  memcpy(k, key, len + 1);
  s->node.key = k;
  /* calloc's zeroes are the atomics' initial values: C11 atomics of these
   * widths are lock-free plain words on every target meshlib builds for. */
  atomic_init(&s->outlier.next_sweep_ms, 0);
  return &s->node;
}

static void cluster_state_free(const ml_mem *mem, ml_cluster_state *s) {
  pthread_cond_destroy(&s->slot_freed);
  pthread_mutex_destroy(&s->lock);
  ml_free(mem, s);
}

int ml_live_init(ml_live *l, const ml_mem *mem) {
  memset(l, 0, sizeof(*l));
  l->mem = mem;
  if (table_init(mem, &l->endpoints) || table_init(mem, &l->clusters)) {
    ml_free(mem, l->endpoints.buckets);
    l->endpoints.buckets = NULL;
    return MESHLIB_ERR_NOMEM;
  }
  pthread_mutex_init(&l->lock, NULL);
  return MESHLIB_OK;
}

void ml_live_destroy(ml_live *l) {
  if (!l->endpoints.buckets)
    return;
  for (size_t i = 0; i < l->endpoints.bucket_count; i++) {
    ml_live_node *s = l->endpoints.buckets[i];
    while (s) {
      ml_live_node *next = s->next;
      ml_free(l->mem, ep_of(s));
      s = next;
    }
  }
  for (size_t i = 0; i < l->clusters.bucket_count; i++) {
    ml_live_node *s = l->clusters.buckets[i];
    while (s) {
      ml_live_node *next = s->next;
      cluster_state_free(l->mem, cluster_of(s));
      s = next;
    }
  }
  ml_free(l->mem, l->endpoints.buckets);
  ml_free(l->mem, l->clusters.buckets);
  l->endpoints.buckets = l->clusters.buckets = NULL;
  pthread_mutex_destroy(&l->lock);
}

ml_ep_state *ml_live_acquire(ml_live *l, const char *key) {
  pthread_mutex_lock(&l->lock);
  ml_live_node *n = table_acquire(l, &l->endpoints, key, make_ep);
  pthread_mutex_unlock(&l->lock);
  return n ? ep_of(n) : NULL;
}

void ml_live_release(ml_live *l, ml_ep_state **states, size_t n) {
  pthread_mutex_lock(&l->lock);
  for (size_t i = 0; i < n; i++) {
    /* No snapshot names this endpoint any more: forget it. */
    if (states[i] && table_release(&l->endpoints, &states[i]->node))
      ml_free(l->mem, states[i]);
  }
  pthread_mutex_unlock(&l->lock);
}

ml_cluster_state *ml_live_acquire_cluster(ml_live *l, const char *name) {
  pthread_mutex_lock(&l->lock);
  ml_live_node *n = table_acquire(l, &l->clusters, name, make_cluster);
  pthread_mutex_unlock(&l->lock);
  return n ? cluster_of(n) : NULL;
}

void ml_live_release_cluster(ml_live *l, ml_cluster_state *s) {
  if (!s)
    return;
  pthread_mutex_lock(&l->lock);
  int gone = table_release(&l->clusters, &s->node);
  pthread_mutex_unlock(&l->lock);
  if (gone)
    cluster_state_free(l->mem, s);
}
