/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "cluster/cluster_internal.h"
#include "meshlib/error.h"
#include "util/str.h"

int ml_live_init(ml_live *l, const ml_mem *mem) {
  memset(l, 0, sizeof(*l));
  l->mem = mem;
  l->bucket_count = 256;
  l->buckets = ml_calloc(mem, l->bucket_count, sizeof(*l->buckets));
  if (!l->buckets)
    return MESHLIB_ERR_NOMEM;
  pthread_mutex_init(&l->lock, NULL);
  return MESHLIB_OK;
}

void ml_live_destroy(ml_live *l) {
  if (!l->buckets)
    return;
  for (size_t i = 0; i < l->bucket_count; i++) {
    ml_ep_state *s = l->buckets[i];
    while (s) {
      ml_ep_state *next = s->next;
      ml_free(l->mem, s);
      s = next;
    }
  }
  ml_free(l->mem, l->buckets);
  l->buckets = NULL;
  pthread_mutex_destroy(&l->lock);
}

static int live_grow(ml_live *l) {
  size_t n = l->bucket_count * 2;
  ml_ep_state **b = ml_calloc(l->mem, n, sizeof(*b));
  if (!b)
    return -1;
  for (size_t i = 0; i < l->bucket_count; i++) {
    ml_ep_state *s = l->buckets[i];
    while (s) {
      ml_ep_state *next = s->next;
      s->next = b[s->hash & (n - 1)];
      b[s->hash & (n - 1)] = s;
      s = next;
    }
  }
  ml_free(l->mem, l->buckets);
  l->buckets = b;
  l->bucket_count = n;
  return 0;
}

ml_ep_state *ml_live_acquire(ml_live *l, const char *key) {
  size_t len = strlen(key);
  uint64_t h = ml_hash(key, len);
  pthread_mutex_lock(&l->lock);
  ml_ep_state *s = l->buckets[h & (l->bucket_count - 1)];
  for (; s; s = s->next)
    if (s->hash == h && strcmp(s->key, key) == 0)
      break;
  if (!s) {
    if (l->count >= l->bucket_count)
      (void)live_grow(l); /* a longer chain is slower, not wrong */
    s = ml_calloc(l->mem, 1, sizeof(*s) + len + 1);
    if (s) {
      memcpy(s->key, key, len + 1);
      s->hash = h;
      atomic_init(&s->in_flight, 0);
      atomic_init(&s->ejected, 0);
      size_t b = h & (l->bucket_count - 1);
      s->next = l->buckets[b];
      l->buckets[b] = s;
      l->count++;
    }
  }
  if (s)
    s->refs++;
  pthread_mutex_unlock(&l->lock);
  return s;
}

void ml_live_release(ml_live *l, ml_ep_state **states, size_t n) {
  pthread_mutex_lock(&l->lock);
  for (size_t i = 0; i < n; i++) {
    ml_ep_state *s = states[i];
    if (!s || --s->refs)
      continue;
    /* No snapshot names this endpoint any more: forget it. */
    ml_ep_state **p = &l->buckets[s->hash & (l->bucket_count - 1)];
    while (*p != s)
      p = &(*p)->next;
    *p = s->next;
    l->count--;
    ml_free(l->mem, s);
  }
  pthread_mutex_unlock(&l->lock);
}
