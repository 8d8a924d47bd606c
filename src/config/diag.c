/* SPDX-License-Identifier: MIT */
#include "config/diag.h"

#include <stdio.h>
#include <string.h>
#include "meshlib/mesh.h"

void ml_diags_init(ml_diags *d, const ml_mem *mem) {
  memset(d, 0, sizeof(*d));
  d->mem = mem;
}

static void diag_free(const ml_mem *mem, struct meshlib_diag *g) {
  if (!g)
    return;
  ml_free(mem, g->file);
  ml_free(mem, g->field);
  ml_free(mem, g->resource);
  ml_free(mem, g->message);
  ml_free(mem, g->text);
  ml_free(mem, g);
}

void ml_diags_clear(ml_diags *d) {
  for (size_t i = 0; i < d->count; i++)
    diag_free(d->mem, d->items[i]);
  d->count = 0;
  d->errors = 0;
  d->oom = 0;
}

void ml_diags_free(ml_diags *d) {
  ml_diags_clear(d);
  ml_free(d->mem, d->items);
  d->items = NULL;
  d->cap = 0;
}

int ml_diags_addv(ml_diags *d, int level, const char *code,
                  const ml_origin *origin, const char *field,
                  const char *resource, const char *fmt, va_list ap) {
  ml_buf text;
  struct meshlib_diag *g = NULL;
  ml_buf_init(&text, d->mem);

  if (d->count == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    void *items = ml_realloc(d->mem, d->items, cap * sizeof(*d->items));
    if (!items)
      goto oom;
    d->items = items;
    d->cap = cap;
  }
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0)
    n = 0;
  char *m = ml_malloc(d->mem, (size_t)n + 1);
  if (!m)
    goto oom;
  vsnprintf(m, (size_t)n + 1, fmt, ap);
  g = ml_calloc(d->mem, 1, sizeof(*g));
  if (!g) {
    ml_free(d->mem, m);
    goto oom;
  }
  g->message = m;
  g->level = level;
  g->code = code;
  if (origin && origin->file) {
    g->file = ml_strdup(d->mem, origin->file);
    g->line = origin->line;
    g->column = origin->column;
    if (origin->line)
      ml_buf_printf(&text, "%s:%u:%u: ", origin->file, origin->line,
                    origin->column);
    else
      ml_buf_printf(&text, "%s: ", origin->file);
  }
  g->field = ml_strdup(d->mem, field ? field : "");
  g->resource = ml_strdup(d->mem, resource ? resource : "");
  if (!g->file)
    g->file = ml_strdup(d->mem, "");
  if (field && *field)
    ml_buf_printf(&text, "%s: ", field);
  ml_buf_puts(&text, m);
  g->text = ml_buf_steal(&text);
  if (!g->field || !g->resource || !g->file || !g->text)
    goto oom;
  d->items[d->count++] = g;
  if (level == MESHLIB_LEVEL_ERROR)
    d->errors++;
  return 0;
oom:
  diag_free(d->mem, g);
  ml_buf_free(&text);
  d->oom = 1;
  if (level == MESHLIB_LEVEL_ERROR)
    d->errors++; /* the error still counts even if its text is lost */
  return -1;
}

int ml_diags_add(ml_diags *d, int level, const char *code,
                 const ml_origin *origin, const char *field,
                 const char *resource, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = ml_diags_addv(d, level, code, origin, field, resource, fmt, ap);
  va_end(ap);
  return rc;
}

const struct meshlib_diag *ml_diags_first_error(const ml_diags *d) {
  for (size_t i = 0; i < d->count; i++)
    if (d->items[i]->level == MESHLIB_LEVEL_ERROR)
      return d->items[i];
  return NULL;
}
