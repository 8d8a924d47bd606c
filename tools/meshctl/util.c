/* SPDX-License-Identifier: MIT */
#include "meshctl.h"

#include <stdlib.h>
#include <string.h>

int strvec_push(strvec *v, const char *s) {
  if (v->count == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    const char **items = realloc(v->items, cap * sizeof(*items));
    if (!items) {
      fprintf(stderr, "meshctl: out of memory\n");
      return -1;
    }
    v->items = items;
    v->cap = cap;
  }
  v->items[v->count++] = s;
  return 0;
}

void strvec_free(strvec *v) {
  free(v->items);
  v->items = NULL;
  v->count = v->cap = 0;
}

int opt_flag(const char *arg, const char *short_name, const char *long_name) {
  return (short_name && strcmp(arg, short_name) == 0) ||
         (long_name && strcmp(arg, long_name) == 0);
}

int opt_value(int argc, char **argv, int *i, const char *short_name,
              const char *long_name, const char **value) {
  const char *arg = argv[*i];
  const char *name = NULL;
  if (opt_flag(arg, short_name, long_name)) {
    name = arg;
    if (*i + 1 >= argc) {
      fprintf(stderr, "meshctl: option %s needs a value\n", name);
      return -1;
    }
    *value = argv[++*i];
    return 1;
  }
  /* "--filename=x" */
  if (long_name) {
    size_t n = strlen(long_name);
    if (strncmp(arg, long_name, n) == 0 && arg[n] == '=') {
      *value = arg + n + 1;
      return 1;
    }
  }
  /* "-fx" for one-letter options */
  if (short_name && strlen(short_name) == 2 &&
      strncmp(arg, short_name, 2) == 0 && arg[2] != '\0') {
    *value = arg + 2;
    return 1;
  }
  return 0;
}

void json_str(FILE *f, const char *s) {
  if (!s) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    default:
      if (*p < 0x20)
        fprintf(f, "\\u%04x", (unsigned)*p);
      else
        fputc(*p, f);
    }
  }
  fputc('"', f);
}

const char *level_name(int level) {
  switch (level) {
  case MESHLIB_LEVEL_ERROR:
    return "Error";
  case MESHLIB_LEVEL_WARNING:
    return "Warning";
  case MESHLIB_LEVEL_INFO:
    return "Info";
  default:
    return "Debug";
  }
}
