/* SPDX-License-Identifier: MIT */
#ifndef ML_CONFIG_DIAG_H
#define ML_CONFIG_DIAG_H

/* Diagnostics of a load or an analysis: level, stable code, place and
 * message. The public meshlib_diag is this struct. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "config/model.h"

struct meshlib_diag {
  int level;        /* meshlib_level */
  const char *code; /* static: "IST0106", "ML0001", ... */
  char *file;
  uint32_t line;
  uint32_t column;
  char *field;
  char *resource;
  char *message;
  char *text; /* "file:line:col: field: message" */
};

typedef struct ml_diags {
  const ml_mem *mem;
  struct meshlib_diag **items;
  size_t count;
  size_t cap;
  size_t errors; /* diagnostics of level MESHLIB_LEVEL_ERROR */
  int oom;       /* an add failed for lack of memory */
} ml_diags;

/* Codes used by the loader. Analyzer codes are in analyze.c. */
#define ML_CODE_SCHEMA "IST0106"       /* invalid field value */
#define ML_CODE_YAML "ML0001"          /* not well-formed YAML */
#define ML_CODE_UNKNOWN_FIELD "ML0002" /* field Istio does not define */
#define ML_CODE_SKIPPED_KIND "ML0003"  /* object of another kind */
#define ML_CODE_IO "ML0004"            /* file could not be read */

void ml_diags_init(ml_diags *d, const ml_mem *mem);
void ml_diags_free(ml_diags *d);
void ml_diags_clear(ml_diags *d);
/* Add one diagnostic; |origin|, |field| and |resource| may be NULL.
 * Returns 0, or -1 when out of memory (recorded in d->oom). */
int ml_diags_add(ml_diags *d, int level, const char *code,
                 const ml_origin *origin, const char *field,
                 const char *resource, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;
int ml_diags_addv(ml_diags *d, int level, const char *code,
                  const ml_origin *origin, const char *field,
                  const char *resource, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 0)))
#endif
    ;
/* The first error, or NULL. */
const struct meshlib_diag *ml_diags_first_error(const ml_diags *d);

#endif
