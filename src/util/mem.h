/* SPDX-License-Identifier: MIT */
#ifndef ML_UTIL_MEM_H
#define ML_UTIL_MEM_H

#include <stddef.h>
#include <stdint.h>
#include "meshlib/mesh.h"

/* The allocator every internal allocation goes through. A NULL |mem|
 * means libc. */
typedef meshlib_allocator ml_mem;

void *ml_malloc(const ml_mem *mem, size_t n);
void *ml_calloc(const ml_mem *mem, size_t nmemb, size_t n);
void *ml_realloc(const ml_mem *mem, void *p, size_t n);
void ml_free(const ml_mem *mem, void *p);
char *ml_strdup(const ml_mem *mem, const char *s);
char *ml_strndup(const ml_mem *mem, const char *s, size_t n);

/* A bump allocator for data that lives and dies together (a config
 * snapshot): one free releases everything. Blocks come from |mem|. */
typedef struct ml_arena_block ml_arena_block;
typedef struct ml_arena {
  const ml_mem *mem;
  ml_arena_block *head;
  size_t used;     /* bytes handed out, for memory figures */
  size_t reserved; /* bytes obtained from |mem| */
} ml_arena;

void ml_arena_init(ml_arena *a, const ml_mem *mem);
void ml_arena_release(ml_arena *a);
/* Zeroed, aligned for any type; NULL when out of memory. */
void *ml_arena_alloc(ml_arena *a, size_t n);
char *ml_arena_strdup(ml_arena *a, const char *s);
char *ml_arena_strndup(ml_arena *a, const char *s, size_t n);
/* A copy of |s| in lower case. */
char *ml_arena_strdup_lower(ml_arena *a, const char *s);

/* A growable byte buffer, always NUL-terminated when non-empty. */
typedef struct ml_buf {
  const ml_mem *mem;
  char *data;
  size_t len;
  size_t cap;
  int oom; /* sticky: an append failed */
} ml_buf;

void ml_buf_init(ml_buf *b, const ml_mem *mem);
void ml_buf_free(ml_buf *b);
void ml_buf_reset(ml_buf *b);
int ml_buf_append(ml_buf *b, const char *s, size_t n);
int ml_buf_puts(ml_buf *b, const char *s);
int ml_buf_putc(ml_buf *b, char c);
int ml_buf_printf(ml_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Hand the data over (caller frees with ml_free) and reset the buffer. */
char *ml_buf_steal(ml_buf *b);

#endif
