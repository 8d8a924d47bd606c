/* SPDX-License-Identifier: MIT */
/* Request hash keys for consistentHash policies, as Envoy's
 * HashPolicyImpl computes them (header, cookie, query parameter, source
 * address), hashed with XXH64 like Envoy. */
#include <string.h>

#include "lb/hash.h"
#include "lb/lb.h"
#include "util/str.h"

uint64_t ml_lb_hash_str(const char *s, size_t n) {
  return ml_xxh64(s, n, 0);
}

/* Values of |name| in the request, or the request line's own field for
 * the pseudo-headers when the list lacks them. Several values are combined
 * order-insensitively (Envoy sorts them before hashing; a sum of their
 * hashes needs no buffer and is just as order-free). */
static int header_key(const ml_route_input *in, const char *name,
                      uint64_t *out) {
  uint64_t h = 0;
  size_t seen = 0;
  for (size_t i = 0; i < in->header_count; i++) {
    const ml_header *hd = &in->headers[i];
    if (hd->name && hd->value && ml_strcaseeq(hd->name, name)) {
      h += ml_lb_hash_str(hd->value, strlen(hd->value));
      seen++;
    }
  }
  if (seen) {
    *out = h;
    return 1;
  }
  const char *v = NULL;
  if (ml_strcaseeq(name, ":authority") || ml_strcaseeq(name, "host"))
    v = in->authority;
  else if (ml_strcaseeq(name, ":path"))
    v = in->path;
  else if (ml_strcaseeq(name, ":method"))
    v = in->method;
  if (!v)
    return 0;
  *out = ml_lb_hash_str(v, strlen(v));
  return 1;
}

/* The first value of |name| in the query string |q| ("a=1&b=2"), raw. */
static int query_key(const char *q, const char *name, uint64_t *out) {
  if (!q)
    return 0;
  size_t nlen = strlen(name);
  while (*q) {
    const char *end = strchr(q, '&');
    size_t len = end ? (size_t)(end - q) : strlen(q);
    const char *eq = memchr(q, '=', len);
    size_t klen = eq ? (size_t)(eq - q) : len;
    if (klen == nlen && memcmp(q, name, nlen) == 0) {
      const char *v = eq ? eq + 1 : q + len;
      *out = ml_lb_hash_str(v, (size_t)(q + len - v));
      return 1;
    }
    if (!end)
      break;
    q = end + 1;
  }
  return 0;
}

/* The value of cookie |name| in the Cookie header(s), without surrounding
 * quotes (Envoy's Http::Utility::parseCookieValue). */
static int cookie_value(const ml_route_input *in, const char *name,
                        const char **vp, size_t *vlen) {
  size_t nlen = strlen(name);
  for (size_t i = 0; i < in->header_count; i++) {
    const ml_header *hd = &in->headers[i];
    if (!hd->name || !hd->value || !ml_strcaseeq(hd->name, "cookie"))
      continue;
    const char *p = hd->value;
    while (*p) {
      while (*p == ' ' || *p == '\t')
        p++;
      const char *end = strchr(p, ';');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      const char *eq = memchr(p, '=', len);
      if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
        const char *v = eq + 1;
        size_t n = (size_t)(p + len - v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
          n--;
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
          v++;
          n -= 2;
        }
        *vp = v;
        *vlen = n;
        return 1;
      }
      if (!end)
        break;
      p = end + 1;
    }
  }
  return 0;
}

int ml_lb_hash_key(const ml_consistent_hash *ch, const ml_route_input *in,
                   const char *source_ip, uint64_t *out) {
  if (!ch)
    return 0;
  switch (ch->key) {
  case ML_HASH_HEADER:
    return in && ch->http_header_name &&
           header_key(in, ch->http_header_name, out);
  case ML_HASH_QUERY_PARAM:
    return in && ch->http_query_parameter_name &&
           query_key(in->query, ch->http_query_parameter_name, out);
  case ML_HASH_COOKIE: {
    const char *v;
    size_t n;
    if (!in || !ch->cookie_name || !cookie_value(in, ch->cookie_name, &v, &n) ||
        n == 0)
      return 0;
    *out = ml_lb_hash_str(v, n);
    return 1;
  }
  case ML_HASH_SOURCE_IP:
    if (!source_ip || !*source_ip)
      return 0;
    *out = ml_lb_hash_str(source_ip, strlen(source_ip));
    return 1;
  case ML_HASH_NONE:
  default:
    return 0;
  }
}

int ml_lb_cookie_needed(const ml_consistent_hash *ch,
                        const ml_route_input *in) {
  if (!ch || ch->key != ML_HASH_COOKIE || !ch->cookie_name ||
      ch->cookie_ttl_ms < 0)
    return 0;
  const char *v;
  size_t n;
  return !(in && cookie_value(in, ch->cookie_name, &v, &n) && n > 0);
}

void ml_lb_cookie_value(uint64_t r, char buf[17]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--) {
    buf[i] = hex[r & 15];
    r >>= 4;
  }
  buf[16] = '\0';
}
