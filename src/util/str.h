/* SPDX-License-Identifier: MIT */
#ifndef ML_UTIL_STR_H
#define ML_UTIL_STR_H

#include <stddef.h>
#include <stdint.h>

/* ASCII-only helpers: config and HTTP tokens are ASCII, and the C
 * locale's <ctype.h> must not decide what a header name is. */
static inline char ml_tolower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}
int ml_strcaseeq(const char *a, const char *b);
int ml_strncaseeq(const char *a, const char *b, size_t n);
int ml_starts_with(const char *s, const char *prefix);
int ml_ends_with(const char *s, const char *suffix);
void ml_str_lower(char *s);

/* FNV-1a, optionally over the lower-cased bytes. */
uint64_t ml_hash(const char *s, size_t n);
uint64_t ml_hash_lower(const char *s, size_t n);

/* Durations as Istio writes them: "3s", "500ms", "1.5s", "1m", "1h",
 * "250us", "0s", also "1h30m"; into milliseconds (microseconds are
 * rounded up so that "1us" never becomes "no timeout").
 * Returns 0 on success, -1 when |s| is not a duration. */
int ml_parse_duration_ms(const char *s, int64_t *out_ms);
/* The same, exactly, in nanoseconds (what Istio's whole-millisecond
 * check needs). */
int ml_parse_duration_ns(const char *s, int64_t *out_ns);

/* Decimal integer with optional sign, whole string; -1 on error or
 * overflow of int64. */
int ml_parse_int64(const char *s, int64_t *out);
/* Finite decimal number, whole string. */
int ml_parse_double(const char *s, double *out);

/* The code of a gRPC status name ("UNAVAILABLE": 14), or -1. */
int ml_grpc_status_code(const char *name);

#endif
