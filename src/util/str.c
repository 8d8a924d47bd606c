/* SPDX-License-Identifier: MIT */
#include "util/str.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int ml_strcaseeq(const char *a, const char *b) {
  while (*a && ml_tolower(*a) == ml_tolower(*b)) {
    a++;
    b++;
  }
  return *a == '\0' && *b == '\0';
}

int ml_strncaseeq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (ml_tolower(a[i]) != ml_tolower(b[i]))
      return 0;
    if (a[i] == '\0')
      return 1;
  }
  return 1;
}

int ml_starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int ml_ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

void ml_str_lower(char *s) {
  for (; *s; s++)
    *s = ml_tolower(*s);
}

uint64_t ml_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

uint64_t ml_hash_lower(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)ml_tolower(s[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

int ml_parse_int64(const char *s, int64_t *out) {
  if (!s || !*s)
    return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || end == s || s[0] == ' ' || s[0] == '\t')
    return -1;
  *out = (int64_t)v;
  return 0;
}

int ml_parse_double(const char *s, double *out) {
  if (!s || !*s || s[0] == ' ' || s[0] == '\t')
    return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || end == s || !isfinite(v))
    return -1;
  /* strtod accepts hex and "inf"/"nan"; a config number is decimal. */
  for (const char *p = s; *p; p++)
    if (*p == 'x' || *p == 'X' || *p == 'n' || *p == 'N' || *p == 'i' ||
        *p == 'I')
      return -1;
  *out = v;
  return 0;
}

/* Go's time.ParseDuration grammar, which protobuf JSON durations and
 * Istio's YAML both accept: [-]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h) and
 * sequences of such. Negative durations are refused: no field takes one.
 * Counted in whole nanoseconds, as Go does, so that "0.75s" is exactly
 * 750 ms (a double sum made it 751); fraction digits below 1 ns are
 * dropped. */
int ml_parse_duration_ns(const char *s, int64_t *out_ns) {
  if (!s || !*s)
    return -1;
  if (strcmp(s, "0") == 0) {
    *out_ns = 0;
    return 0;
  }
  const int64_t max = INT64_MAX;
  int64_t total = 0;
  const char *p = s;
  while (*p) {
    int64_t whole = 0, frac = 0, scale = 1;
    int digits = 0;
    const char *fs = NULL;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
      if (whole > (max - 9) / 10)
        return -1;
      whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
      fs = ++p;
      while (*p >= '0' && *p <= '9')
        p++;
      digits += (int)(p - fs);
    }
    if (!digits)
      return -1;
    int64_t unit;
    if (strncmp(p, "ns", 2) == 0) {
      unit = 1;
      p += 2;
    } else if (strncmp(p, "us", 2) == 0) {
      unit = 1000;
      p += 2;
    } else if (strncmp(p, "\xc2\xb5s", 3) == 0) {
      unit = 1000;
      p += 3;
    } else if (strncmp(p, "ms", 2) == 0) {
      unit = 1000000;
      p += 2;
    } else if (*p == 's') {
      unit = 1000000000;
      p++;
    } else if (*p == 'm') {
      unit = INT64_C(60000000000);
      p++;
    } else if (*p == 'h') {
      unit = INT64_C(3600000000000);
      p++;
    } else {
      return -1;
    }
    /* Only the fraction digits worth at least 1 ns: unit / scale stays
     * whole, so frac * (unit / scale) < unit is exact. */
    for (const char *q = fs; q && *q >= '0' && *q <= '9'; q++) {
      if (scale * 10 > unit)
        break;
      scale *= 10;
      frac = frac * 10 + (*q - '0');
    }
    if (whole > (max - unit) / unit)
      return -1;
    int64_t v = whole * unit + frac * (unit / scale);
    if (v > max - total)
      return -1;
    total += v;
  }
  *out_ns = total;
  return 0;
}

int ml_parse_duration_ms(const char *s, int64_t *out_ms) {
  int64_t ns;
  if (ml_parse_duration_ns(s, &ns))
    return -1;
  /* Round up: a tiny positive duration is not "none". */
  *out_ms = ns / 1000000 + (ns % 1000000 != 0);
  return 0;
}

/* gRPC status names as Istio spells them (fault.abort.grpcStatus). */
int ml_grpc_status_code(const char *name) {
  static const char *const names[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};
  for (int i = 0; name && i < (int)(sizeof(names) / sizeof(names[0])); i++)
    if (strcmp(name, names[i]) == 0)
      return i;
  return -1;
}
