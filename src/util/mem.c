/* SPDX-License-Identifier: MIT */
#include "util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *ml_malloc(const ml_mem *mem, size_t n) {
  if (n == 0)
    n = 1;
  return mem ? mem->malloc(n, mem->user_data) : malloc(n);
}

void *ml_calloc(const ml_mem *mem, size_t nmemb, size_t n) {
  if (nmemb == 0 || n == 0)
    nmemb = n = 1;
  return mem ? mem->calloc(nmemb, n, mem->user_data) : calloc(nmemb, n);
}

void *ml_realloc(const ml_mem *mem, void *p, size_t n) {
  if (n == 0)
    n = 1;
  return mem ? mem->realloc(p, n, mem->user_data) : realloc(p, n);
}

void ml_free(const ml_mem *mem, void *p) {
  if (!p)
    return;
  if (mem)
    mem->free(p, mem->user_data);
  else
    free(p);
}

char *ml_strndup(const ml_mem *mem, const char *s, size_t n) {
  char *d = ml_malloc(mem, n + 1);
  if (!d)
    return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *ml_strdup(const ml_mem *mem, const char *s) {
  return s ? ml_strndup(mem, s, strlen(s)) : NULL;
}

/* Arena: a list of blocks; big requests get a block of their own. */
struct ml_arena_block {
  ml_arena_block *next;
  size_t size;
  size_t used;
  max_align_t data[];
};

#define ML_ARENA_BLOCK 16384u

void ml_arena_init(ml_arena *a, const ml_mem *mem) {
  memset(a, 0, sizeof(*a));
  a->mem = mem;
}

void ml_arena_release(ml_arena *a) {
  ml_arena_block *b = a->head;
  while (b) {
    ml_arena_block *next = b->next;
    ml_free(a->mem, b);
    b = next;
  }
  a->head = NULL;
  a->used = a->reserved = 0;
}

void *ml_arena_alloc(ml_arena *a, size_t n) {
  const size_t align = sizeof(max_align_t);
  ml_arena_block *b = a->head;
  n = (n + align - 1) / align * align;
  if (n == 0)
    n = align;
  if (!b || b->size - b->used < n) {
    size_t size = n > ML_ARENA_BLOCK / 4 ? n : ML_ARENA_BLOCK;
    ml_arena_block *nb = ml_malloc(a->mem, sizeof(*nb) + size);
    if (!nb)
      return NULL;
    nb->size = size;
    nb->used = 0;
    a->reserved += sizeof(*nb) + size;
    if (b && size == n) {
      /* A big one-off: keep the current block open for small requests. */
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      a->head = nb;
    }
    b = nb;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  a->used += n;
  memset(p, 0, n);
  return p;
}

char *ml_arena_strndup(ml_arena *a, const char *s, size_t n) {
  char *d = ml_arena_alloc(a, n + 1);
  if (!d)
    return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *ml_arena_strdup(ml_arena *a, const char *s) {
  return s ? ml_arena_strndup(a, s, strlen(s)) : NULL;
}

char *ml_arena_strdup_lower(ml_arena *a, const char *s) {
  char *d = ml_arena_strdup(a, s);
  if (d)
    for (char *p = d; *p; p++)
      if (*p >= 'A' && *p <= 'Z')
        *p = (char)(*p - 'A' + 'a');
  return d;
}

/* Buffers. */
void ml_buf_init(ml_buf *b, const ml_mem *mem) {
  memset(b, 0, sizeof(*b));
  b->mem = mem;
}

void ml_buf_free(ml_buf *b) {
  ml_free(b->mem, b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}

void ml_buf_reset(ml_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

static int buf_reserve(ml_buf *b, size_t extra) {
  if (b->oom)
    return -1;
  if (b->len + extra + 1 <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *d = ml_realloc(b->mem, b->data, cap);
  if (!d) {
    b->oom = 1;
    return -1;
  }
  b->data = d;
  b->cap = cap;
  return 0;
}

int ml_buf_append(ml_buf *b, const char *s, size_t n) {
  if (buf_reserve(b, n))
    return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int ml_buf_puts(ml_buf *b, const char *s) {
  return ml_buf_append(b, s, strlen(s));
}

int ml_buf_putc(ml_buf *b, char c) {
  return ml_buf_append(b, &c, 1);
}

int ml_buf_printf(ml_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || buf_reserve(b, (size_t)n))
    return -1;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

char *ml_buf_steal(ml_buf *b) {
  if (b->oom) {
    ml_buf_free(b);
    return NULL;
  }
  if (!b->data && buf_reserve(b, 0))
    return NULL;
  if (b->len == 0)
    b->data[0] = '\0';
  char *d = b->data;
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}
