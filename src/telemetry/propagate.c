/* SPDX-License-Identifier: MIT */
/* Trace context headers: W3C Trace Context (traceparent), B3 multi-header
 * (x-b3-*) and B3 single-header (b3), read as Envoy's tracers read them.
 * Pure functions: no allocation, no I/O. */
#include <string.h>
#include "telemetry/trace.h"
#include "util/str.h"

const char *const ml_trace_header_names[ML_TH_COUNT] = {
    "traceparent",  "tracestate",  "b3",
    "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid",
    "x-b3-sampled", "x-b3-flags",  "x-request-id",
};

int ml_trace_header_slot(const char *name) {
  if (!name)
    return -1;
  for (int i = 0; i < ML_TH_COUNT; i++)
    if (ml_strcaseeq(name, ml_trace_header_names[i]))
      return i;
  return -1;
}

static int hexval(char c, int lower_only) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (!lower_only && c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* |n| (<= 16) hex digits at |s| into *out; -1 on a non-hex digit. */
static int parse_hex(const char *s, size_t n, int lower_only, uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    int d = hexval(s[i], lower_only);
    if (d < 0)
      return -1;
    v = (v << 4) | (uint64_t)d;
  }
  *out = v;
  return 0;
}

/* A B3 or W3C trace id of 16 or 32 digits (exactly |n|). */
static int parse_trace_id(const char *s, size_t n, int lower_only,
                          ml_trace_ctx *c) {
  uint64_t hi = 0, lo = 0;
  if (n == 32) {
    if (parse_hex(s, 16, lower_only, &hi) ||
        parse_hex(s + 16, 16, lower_only, &lo))
      return -1;
  } else if (n == 16) {
    if (parse_hex(s, 16, lower_only, &lo))
      return -1;
  } else {
    return -1;
  }
  if (!hi && !lo)
    return -1; /* all zeros is invalid in both formats */
  c->trace_hi = hi;
  c->trace_lo = lo;
  c->trace_128 = n == 32;
  return 0;
}

static void ctx_clear(ml_trace_ctx *c) {
  memset(c, 0, sizeof(*c));
  c->sampled = -1;
}

int ml_trace_parse_traceparent(const char *v, ml_trace_ctx *ctx) {
  /* version "-" trace-id "-" parent-id "-" trace-flags, lower-case hex;
   * a later version may append fields after a '-'. */
  if (!v)
    return -1;
  size_t n = strlen(v);
  if (n < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
    return -1;
  uint64_t version, flags, span;
  if (parse_hex(v, 2, 1, &version) || version == 0xff)
    return -1;
  if (version == 0 && n != 55)
    return -1;
  if (n > 55 && v[55] != '-')
    return -1;
  ml_trace_ctx c;
  ctx_clear(&c);
  if (parse_trace_id(v + 3, 32, 1, &c) || parse_hex(v + 36, 16, 1, &span) ||
      span == 0 || parse_hex(v + 53, 2, 1, &flags))
    return -1;
  c.trace_128 = 1;
  c.span_id = span;
  c.sampled = (flags & 1) ? 1 : 0;
  *ctx = c;
  return 0;
}

/* B3's sampling state: "1", "0", "d" (debug), and "true"/"false" as
 * Envoy also accepts in x-b3-sampled. */
static int parse_sampling(const char *s, size_t n, int *sampled, int *debug) {
  if (n == 1 && (s[0] == '1' || s[0] == '0')) {
    *sampled = s[0] == '1';
    return 0;
  }
  if (n == 1 && s[0] == 'd') {
    *sampled = 1;
    *debug = 1;
    return 0;
  }
  if (n == 4 && ml_strncaseeq(s, "true", 4)) {
    *sampled = 1;
    return 0;
  }
  if (n == 5 && ml_strncaseeq(s, "false", 5)) {
    *sampled = 0;
    return 0;
  }
  return -1;
}

int ml_trace_parse_b3_single(const char *v, ml_trace_ctx *ctx) {
  /* {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]], or only
   * {SamplingState}. */
  if (!v || !*v)
    return -1;
  ml_trace_ctx c;
  ctx_clear(&c);
  const char *dash = strchr(v, '-');
  if (!dash) {
    if (parse_sampling(v, strlen(v), &c.sampled, &c.debug))
      return -1;
    *ctx = c;
    return 0;
  }
  if (parse_trace_id(v, (size_t)(dash - v), 0, &c))
    return -1;
  const char *sp = dash + 1;
  const char *end = strchr(sp, '-');
  size_t spn = end ? (size_t)(end - sp) : strlen(sp);
  uint64_t span;
  if (spn != 16 || parse_hex(sp, 16, 0, &span) || span == 0)
    return -1;
  c.span_id = span;
  if (end) {
    const char *st = end + 1;
    const char *end2 = strchr(st, '-');
    size_t stn = end2 ? (size_t)(end2 - st) : strlen(st);
    if (parse_sampling(st, stn, &c.sampled, &c.debug))
      return -1;
    if (end2) {
      uint64_t parent;
      if (strlen(end2 + 1) != 16 || parse_hex(end2 + 1, 16, 0, &parent))
        return -1;
    }
  }
  *ctx = c;
  return 0;
}

int ml_trace_parse_b3_multi(const char *traceid, const char *spanid,
                            const char *sampled, const char *flags,
                            ml_trace_ctx *ctx) {
  ml_trace_ctx c;
  ctx_clear(&c);
  int have_ids = 0;
  if (traceid && spanid) {
    uint64_t span;
    if (parse_trace_id(traceid, strlen(traceid), 0, &c) ||
        strlen(spanid) != 16 || parse_hex(spanid, 16, 0, &span) || span == 0)
      return -1;
    c.span_id = span;
    have_ids = 1;
  } else if (traceid || spanid) {
    return -1; /* one without the other is no context */
  }
  int have_decision = 0;
  if (sampled &&
      !parse_sampling(sampled, strlen(sampled), &c.sampled, &c.debug))
    have_decision = 1;
  if (flags && strcmp(flags, "1") == 0) {
    c.debug = 1;
    c.sampled = 1; /* debug implies an accept */
    have_decision = 1;
  }
  if (!have_ids && !have_decision)
    return -1;
  *ctx = c;
  return 0;
}

int ml_trace_ctx_from_headers(const char *const h[ML_TH_COUNT],
                              ml_trace_ctx *ctx) {
  int source = ML_TRACE_SRC_NONE;
  ml_trace_ctx c;
  ctx_clear(&c);
  ml_trace_ctx b3s, b3m;
  int have_b3s = h[ML_TH_B3] && !ml_trace_parse_b3_single(h[ML_TH_B3], &b3s);
  int have_b3m =
      !ml_trace_parse_b3_multi(h[ML_TH_B3_TRACEID], h[ML_TH_B3_SPANID],
                               h[ML_TH_B3_SAMPLED], h[ML_TH_B3_FLAGS], &b3m);
  /* Ids: W3C first (the newer standard, and what OpenTelemetry-based
   * providers read), then b3, then x-b3-*. */
  if (h[ML_TH_TRACEPARENT] &&
      !ml_trace_parse_traceparent(h[ML_TH_TRACEPARENT], &c)) {
    source = ML_TRACE_SRC_W3C;
  } else if (have_b3s && b3s.span_id) {
    c = b3s;
    source = ML_TRACE_SRC_B3_SINGLE;
  } else if (have_b3m && b3m.span_id) {
    c = b3m;
    source = ML_TRACE_SRC_B3_MULTI;
  } else if (have_b3s) {
    c = b3s; /* a decision only */
  } else if (have_b3m) {
    c = b3m;
  }
  /* A B3 debug flag forces sampling whichever header carried the ids. */
  if ((have_b3m && b3m.debug) || (have_b3s && b3s.debug)) {
    c.debug = 1;
    c.sampled = 1;
  }
  *ctx = c;
  return source;
}

static const char hexdigits[] = "0123456789abcdef";

void ml_trace_hex64(uint64_t v, char out[17]) {
  for (int i = 15; i >= 0; i--) {
    out[i] = hexdigits[v & 0xf];
    v >>= 4;
  }
  out[16] = '\0';
}

void ml_trace_hex128(uint64_t hi, uint64_t lo, char out[33]) {
  ml_trace_hex64(hi, out);
  ml_trace_hex64(lo, out + 16);
}

void ml_trace_uuid4(ml_rand *rng, char out[37]) {
  uint64_t a = ml_rand_next(rng), b = ml_rand_next(rng);
  a = (a & ~0xf000ULL) | 0x4000ULL;       /* version 4 */
  b = (b & ~(3ULL << 62)) | (2ULL << 62); /* variant 10 */
  char hex[33];
  ml_trace_hex128(a, b, hex);
  size_t o = 0;
  for (size_t i = 0; i < 32; i++) {
    if (i == 8 || i == 12 || i == 16 || i == 20)
      out[o++] = '-';
    out[o++] = hex[i];
  }
  out[o] = '\0';
}
