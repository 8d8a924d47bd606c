/* SPDX-License-Identifier: MIT */
/* The JSON writer (json.h): separators and nesting tracked here, bytes
 * and the out-of-memory flag kept by ml_buf. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "util/json.h"

/* The length of the UTF-8 sequence at |s| (|n| bytes left), or 0 when
 * it is not one (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte */
  if (c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return len;
}

int ml_json_escape(ml_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (!s)
    return ml_buf_puts(b, "null");
  const unsigned char *p = (const unsigned char *)s;
  ml_buf_putc(b, '"');
  size_t run = 0; /* bytes before i that need no escaping */
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    size_t len = 1;
    char esc[8];
    const char *out = NULL;
    if (c >= 0x80) {
      len = utf8_len(p + i, n - i);
      if (len) {
        run += len;
        i += len;
        continue;
      }
      len = 1;
      out = "\\ufffd";
    } else if (c == '"') {
      out = "\\\"";
    } else if (c == '\\') {
      out = "\\\\";
    } else if (c == '\n') {
      out = "\\n";
    } else if (c == '\r') {
      out = "\\r";
    } else if (c == '\t') {
      out = "\\t";
    } else if (c < 0x20) {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 0xf];
      esc[6] = '\0';
      out = esc;
    } else {
      run++;
      i++;
      continue;
    }
    ml_buf_append(b, (const char *)p + i - run, run);
    run = 0;
    ml_buf_puts(b, out);
    i += len;
  }
  ml_buf_append(b, (const char *)p + n - run, run);
  ml_buf_putc(b, '"');
  return b->oom ? -1 : 0;
}

void ml_json_init(ml_json *w, ml_buf *b) {
  memset(w, 0, sizeof(*w));
  w->b = b;
  w->first = 1;
}

/* Everything a value needs before its text: the key where one belongs,
 * a comma where one is due. 0 to go on writing. */
static int before_value(ml_json *w, const char *key) {
  if (w->err)
    return -1;
  int in_obj = w->depth && (w->in_obj >> (w->depth - 1)) & 1;
  if ((key != NULL) != in_obj || (!w->depth && w->done)) {
    w->err = ML_JSON_ERR_USAGE;
    return -1;
  }
  if (!w->first)
    ml_buf_putc(w->b, ',');
  w->first = 0;
  if (key) {
    ml_json_escape(w->b, key, strlen(key));
    ml_buf_putc(w->b, ':');
  }
  if (!w->depth)
    w->done = 1;
  return 0;
}

static void open_container(ml_json *w, const char *key, int obj) {
  if (w->depth >= ML_JSON_MAX_DEPTH) {
    w->err = ML_JSON_ERR_USAGE;
    return;
  }
  if (before_value(w, key))
    return;
  ml_buf_putc(w->b, obj ? '{' : '[');
  if (obj)
    w->in_obj |= (uint64_t)1 << w->depth;
  else
    w->in_obj &= ~((uint64_t)1 << w->depth);
  w->depth++;
  w->first = 1;
}

void ml_json_obj(ml_json *w, const char *key) {
  open_container(w, key, 1);
}

void ml_json_arr(ml_json *w, const char *key) {
  open_container(w, key, 0);
}

void ml_json_end(ml_json *w) {
  if (w->err)
    return;
  if (!w->depth) {
    w->err = ML_JSON_ERR_USAGE;
    return;
  }
  w->depth--;
  ml_buf_putc(w->b, (w->in_obj >> w->depth) & 1 ? '}' : ']');
  w->first = 0;
}

void ml_json_str(ml_json *w, const char *key, const char *s) {
  ml_json_strn(w, key, s, s ? strlen(s) : 0);
}

void ml_json_strn(ml_json *w, const char *key, const char *s, size_t n) {
  if (!before_value(w, key))
    ml_json_escape(w->b, s, n);
}

void ml_json_strf(ml_json *w, const char *key, const char *fmt, ...) {
  if (before_value(w, key))
    return;
  char small[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) {
    w->err = ML_JSON_ERR_USAGE;
    return;
  }
  if ((size_t)n < sizeof(small)) {
    ml_json_escape(w->b, small, (size_t)n);
    return;
  }
  char *big = ml_malloc(w->b->mem, (size_t)n + 1);
  if (!big) {
    w->b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  ml_json_escape(w->b, big, (size_t)n);
  ml_free(w->b->mem, big);
}

void ml_json_int(ml_json *w, const char *key, int64_t v) {
  if (!before_value(w, key))
    ml_buf_printf(w->b, "%" PRId64, v);
}

void ml_json_uint(ml_json *w, const char *key, uint64_t v) {
  if (!before_value(w, key))
    ml_buf_printf(w->b, "%" PRIu64, v);
}

void ml_json_double(ml_json *w, const char *key, double v) {
  if (before_value(w, key))
    return;
  if (isfinite(v))
    ml_buf_printf(w->b, "%g", v);
  else
    ml_buf_puts(w->b, "null");
}

void ml_json_bool(ml_json *w, const char *key, int v) {
  ml_json_raw(w, key, v ? "true" : "false");
}

void ml_json_null(ml_json *w, const char *key) {
  ml_json_raw(w, key, "null");
}

void ml_json_raw(ml_json *w, const char *key, const char *json) {
  if (!before_value(w, key))
    ml_buf_puts(w->b, json);
}

int ml_json_finish(const ml_json *w) {
  if (w->b->oom)
    return ML_JSON_ERR_NOMEM;
  if (w->err || w->depth || !w->done)
    return ML_JSON_ERR_USAGE;
  return ML_JSON_OK;
}
