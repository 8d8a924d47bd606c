/* SPDX-License-Identifier: MIT */
#ifndef ML_UTIL_JSON_H
#define ML_UTIL_JSON_H

/* A streaming JSON writer on top of ml_buf: every JSON body meshlib
 * writes (meshctl route --json, the admin endpoints, span export, the
 * JSON access log) goes through it.
 *
 * Each value call takes the member name |key|: non-NULL inside an
 * object, NULL inside an array and for the top-level value. Commas come
 * by themselves. Nothing is returned per call: a misuse (a key where
 * none belongs, a missing key, a second top-level value, nesting deeper
 * than ML_JSON_MAX_DEPTH, closing with nothing open) makes the writer
 * stop writing, and running out of memory sets the buffer's sticky oom
 * flag. Both are checked once, at the end, by ml_json_finish() (the
 * h2o / ml_buf style):
 *
 *   ml_json w;
 *   ml_json_init(&w, &b);
 *   ml_json_obj(&w, NULL);
 *   ml_json_str(&w, "host", host);
 *   ml_json_arr(&w, "ports");
 *   ml_json_int(&w, NULL, 80);
 *   ml_json_end(&w);
 *   ml_json_end(&w);
 *   if (ml_json_finish(&w) != ML_JSON_OK) ...
 *
 * Strings are escaped per RFC 8259: '"' and '\\' with a backslash; \n,
 * \r and \t by name; other control characters as \u00XX; bytes that are
 * not UTF-8 become U+FFFD, so that the output always is valid JSON.
 *
 * Thread-safety: one thread per writer. */

#include <stddef.h>
#include <stdint.h>
#include "util/mem.h"

#define ML_JSON_MAX_DEPTH 64

enum {
  ML_JSON_OK = 0,
  ML_JSON_ERR_NOMEM = -1, /* the buffer ran out of memory */
  ML_JSON_ERR_USAGE = -2  /* misused, or the value is incomplete */
};

typedef struct ml_json {
  ml_buf *b;
  uint64_t in_obj; /* bit d: the container at depth d + 1 is an object */
  unsigned depth;  /* containers open */
  int first;       /* no comma before the next value */
  int done;        /* the top-level value is written */
  int err;         /* ML_JSON_ERR_USAGE once misused; sticky */
} ml_json;

/* Start a writer that appends to |b| (which may hold text already). */
void ml_json_init(ml_json *w, ml_buf *b);

/* Open an object or an array; ml_json_end() closes the innermost. */
void ml_json_obj(ml_json *w, const char *key);
void ml_json_arr(ml_json *w, const char *key);
void ml_json_end(ml_json *w);

/* A string; NULL writes null. ml_json_strn() takes |n| bytes, which may
 * include NUL. ml_json_strf() escapes what |fmt| formats. */
void ml_json_str(ml_json *w, const char *key, const char *s);
void ml_json_strn(ml_json *w, const char *key, const char *s, size_t n);
void ml_json_strf(ml_json *w, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void ml_json_int(ml_json *w, const char *key, int64_t v);
void ml_json_uint(ml_json *w, const char *key, uint64_t v);
/* As printf's %g; NaN and infinities (not JSON) write null. */
void ml_json_double(ml_json *w, const char *key, double v);
void ml_json_bool(ml_json *w, const char *key, int v);
void ml_json_null(ml_json *w, const char *key);
/* |json| as it is: the caller vouches that it is one JSON value. */
void ml_json_raw(ml_json *w, const char *key, const char *json);

/* ML_JSON_OK when one complete value was written, else
 * ML_JSON_ERR_NOMEM or ML_JSON_ERR_USAGE. The buffer is left as it is. */
int ml_json_finish(const ml_json *w);

/* |s| (|n| bytes) as a quoted, escaped JSON string appended to |b|, with
 * no separator logic; NULL appends null. Returns 0, or -1 when out of
 * memory. */
int ml_json_escape(ml_buf *b, const char *s, size_t n);

#endif
