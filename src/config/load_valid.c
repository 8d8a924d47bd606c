/* SPDX-License-Identifier: MIT */
/* The checks Istio's validating webhook makes on names and values
 * (pkg/config/validation: ValidateWildcardDomain, ValidateFQDN,
 * ValidateHTTPHeaderValue, ValidateDuration and co.), written from their
 * documented rules. Each reports at the offending node and returns 0 when
 * the value is refused. */
#include "config/load_internal.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "util/str.h"

static int alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

int ml_ld_is_dns_label(const char *s, size_t n) {
  if (n == 0 || n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
    return 0;
  for (size_t i = 1; i + 1 < n; i++)
    if (!alnum(s[i]) && s[i] != '-')
      return 0;
  return 1;
}

/* "*", "*label", "*-label" or a label. */
static int wildcard_label(const char *s, size_t n) {
  if (n > 63)
    return 0;
  if (n == 1 && s[0] == '*')
    return 1;
  if (n && s[0] == '*') {
    size_t skip = n > 1 && s[1] == '-' ? 2 : 1;
    return ml_ld_is_dns_label(s + skip, n - skip);
  }
  return ml_ld_is_dns_label(s, n);
}

static int all_digits(const char *s, size_t n) {
  if (!n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return 0;
  return 1;
}

/* Labels of |s| (a trailing dot allowed); the last may not be numeric. */
static const char *labels_error(const char *s, size_t n, const char **bad,
                                size_t *bad_len) {
  const char *end = s + n;
  const char *last = s;
  size_t last_len = 0;
  for (const char *p = s;;) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
    if (!dot && len == 0 && p != s)
      break; /* trailing dot */
    last = p;
    last_len = len;
    if (!ml_ld_is_dns_label(p, len)) {
      *bad = p;
      *bad_len = len;
      return "invalid";
    }
    if (!dot)
      break;
    p = dot + 1;
  }
  if (all_digits(last, last_len)) {
    *bad = last;
    *bad_len = last_len;
    return "top level domain cannot be all-numeric";
  }
  return NULL;
}

static int host_err(ml_loader *L, const ynode *at, const char *what,
                    const char *h, size_t n, const char *bad, size_t bad_len,
                    const char *why) {
  if (bad)
    ml_ld_err(L, at, "%s \"%.*s%s\" is invalid (label \"%.*s%s\" %s)", what,
              (int)(n > 80 ? 80 : n), h, n > 80 ? "..." : "",
              (int)(bad_len > 80 ? 80 : bad_len), bad,
              bad_len > 80 ? "..." : "", why);
  else
    ml_ld_err(L, at, "%s \"%.*s%s\" is invalid (%s)", what,
              (int)(n > 80 ? 80 : n), h, n > 80 ? "..." : "", why);
  return 0;
}

static int preconditions(ml_loader *L, const ynode *at, const char *what,
                         const char *h, size_t n) {
  if (n == 0) {
    ml_ld_err(L, at, "%s must not be empty", what);
    return 0;
  }
  if (n > 255)
    return host_err(L, at, what, h, n, NULL, 0, "longer than 255 characters");
  return 1;
}

int ml_ld_check_wildcard_domain(ml_loader *L, const ynode *at, const char *what,
                                const char *h) {
  size_t n = strlen(h);
  if (!preconditions(L, at, what, h, n))
    return 0;
  const char *dot = strchr(h, '.');
  size_t first = dot ? (size_t)(dot - h) : n;
  if (!wildcard_label(h, first))
    return host_err(L, at, what, h, n, h, first, "invalid");
  if (!dot)
    return 1;
  const char *bad = NULL, *why;
  size_t bad_len = 0;
  why = labels_error(dot + 1, n - first - 1, &bad, &bad_len);
  if (why)
    return host_err(L, at, what, h, n, bad, bad_len, why);
  return 1;
}

int ml_ld_check_fqdn(ml_loader *L, const ynode *at, const char *what,
                     const char *h) {
  size_t n = strlen(h);
  if (!preconditions(L, at, what, h, n))
    return 0;
  const char *bad = NULL, *why;
  size_t bad_len = 0;
  why = labels_error(h, n, &bad, &bad_len);
  if (why)
    return host_err(L, at, what, h, n, bad, bad_len, why);
  return 1;
}

int ml_ld_is_ip(const char *s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int ml_ld_is_cidr(const char *s) {
  const char *slash = strchr(s, '/');
  if (!slash)
    return ml_ld_is_ip(s);
  char ip[64];
  size_t n = (size_t)(slash - s);
  if (n >= sizeof(ip) || !all_digits(slash + 1, strlen(slash + 1)) ||
      strlen(slash + 1) > 3)
    return 0;
  memcpy(ip, s, n);
  ip[n] = '\0';
  int bits = 0;
  for (const char *q = slash + 1; *q; q++)
    bits = bits * 10 + (*q - '0');
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip, buf) == 1)
    return bits <= 32;
  if (inet_pton(AF_INET6, ip, buf) == 1)
    return bits <= 128;
  return 0;
}

void ml_ld_err_pending(ml_loader *L, int warn, const ynode *at, const char *fmt,
                       ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (L->o && L->o->strict)
    ml_ld_err(L, at, "%s", msg);
  else if (warn)
    ml_ld_warn(L, at,
               "%s (Istio refuses this; meshlib refuses it in strict "
               "mode)",
               msg);
}

/* ---- headers ------------------------------------------------------------ */

static int is_internal(const char *name) {
  return name[0] == ':' || ml_strcaseeq(name, "host");
}

static int is_authority(const char *name) {
  return ml_strcaseeq(name, ":authority") || ml_strcaseeq(name, "host");
}

/* Envoy's header formatter grammar: literal text, "%%" for a percent,
 * "%VAR%" and "%VAR(args)%" (args a bare string or a JSON-ish array). */
static const char *header_value_error(const char *v) {
  enum { LIT, NAME, ARR, DELIM, STR_START, STR, ARGS_END, VAR_END } st = LIT;
  for (const char *p = v; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return "contains a control character";
    switch (st) {
    case LIT:
      if (c != '%')
        break;
      if (!p[1])
        return "has an unescaped '%' (write \"%%\")";
      if (p[1] == '%')
        p++;
      else
        st = NAME;
      break;
    case NAME:
      if (c == '%')
        st = LIT;
      else if (c == '(')
        st = ARR;
      break;
    case ARR:
      if (c == '[')
        st = STR_START;
      else if (c != ' ')
        st = STR;
      break;
    case DELIM:
      if (c == ',')
        st = STR_START;
      else if (c == ']')
        st = ARGS_END;
      else if (c != ' ')
        return "expects ',', ']' or a space in a variable's arguments";
      break;
    case STR_START:
      if (c == '"')
        st = STR;
      else if (c != ' ')
        return "expects '\"' in a variable's arguments";
      break;
    case STR:
      if (c == '\\') {
        if (!p[1])
          return "ends in a backslash";
        p++;
      } else if (c == ')') {
        st = VAR_END;
      } else if (c == '"') {
        st = DELIM;
      }
      break;
    case ARGS_END:
      if (c == ')')
        st = VAR_END;
      else if (c != ' ')
        return "expects ')' after a variable's arguments";
      break;
    case VAR_END:
      if (c == '%')
        st = LIT;
      else if (c != ' ')
        return "expects '%' to end a variable";
      break;
    }
  }
  return st == LIT ? NULL
                   : "has an unterminated variable or unescaped '%' "
                     "(write \"%%\" for a percent sign)";
}

/* Envoy sends "%%" as "%"; %VARIABLE%s are kept as written (meshlib does
 * not substitute them). */
static void unescape_percent(char *v) {
  if (!strstr(v, "%%"))
    return; /* also leaves the shared "" of a null value alone */
  char *o = v;
  for (const char *p = v; *p; p++) {
    *o++ = *p;
    if (p[0] == '%' && p[1] == '%')
      p++;
  }
  *o = '\0';
}

int ml_ld_check_header_value(ml_loader *L, const ynode *at, const char *v) {
  const char *why = header_value_error(v);
  if (!why)
    return 1;
  ml_ld_err(L, at, "header value \"%.80s\" %s", v, why);
  return 0;
}

/* Istio: request set/add may name :authority or host (an authority
 * rewrite); request remove and every response operation may name neither,
 * and no operation may name another pseudo-header. */
static void check_op_name(ml_loader *L, const ynode *at, const char *name,
                          int request_set) {
  if (!*name)
    ml_ld_err(L, at, "header name must not be empty");
  else if (request_set ? is_internal(name) && !is_authority(name)
                       : ml_strcaseeq(name, "host"))
    ml_ld_err(L, at, "header \"%.80s\" cannot be %s", name,
              request_set ? "set (\":\" prefix)" : "set or removed (Host)");
  else if (!request_set && is_internal(name))
    ml_ld_err(L, at, "header \"%.80s\" cannot have a \":\" prefix", name);
}

static void check_kv_ops(ml_loader *L, const ynode *ops, const char *key,
                         const ml_kv_list *l, int request) {
  const ynode *m = ml_ld_get(ops, key);
  if (!m || m->type != YN_MAP)
    return;
  size_t mark = ml_ld_push(L, key);
  for (size_t i = 0; i < l->count; i++) {
    /* the pair read into item i (a pair whose value was refused is not) */
    size_t j = 0;
    while (j < m->count && (!m->items[2 * j]->value ||
                            strcmp(m->items[2 * j]->value, l->items[i].key)))
      j++;
    if (j == m->count)
      continue;
    size_t m2 = ml_ld_push(L, l->items[i].key);
    check_op_name(L, m->items[2 * j], l->items[i].key, request);
    if (ml_ld_check_header_value(L, m->items[2 * j + 1], l->items[i].value))
      unescape_percent((char *)l->items[i].value);
    ml_ld_pop(L, m2);
  }
  ml_ld_pop(L, mark);
}

/* |ops| is the map of one request or response; |h| what was read from it
 * (set, add: maps in document order; remove: a list). */
static void check_ops(ml_loader *L, const ynode *ops, const ml_header_ops *h,
                      int request) {
  check_kv_ops(L, ops, "set", &h->set, request);
  check_kv_ops(L, ops, "add", &h->add, request);
  const ynode *rm = ml_ld_get(ops, "remove");
  if (!rm || rm->type != YN_SEQ)
    return;
  size_t mark = ml_ld_push(L, "remove");
  for (size_t i = 0; i < h->remove.count && i < rm->count; i++) {
    size_t m2 = ml_ld_push_index(L, i);
    check_op_name(L, rm->items[i], h->remove.items[i], 0);
    ml_ld_pop(L, m2);
  }
  ml_ld_pop(L, mark);
}

void ml_ld_check_headers(ml_loader *L, const ynode *headers,
                         const ml_headers *h) {
  if (!headers || headers->type != YN_MAP)
    return;
  const ynode *rq = ml_ld_get(headers, "request");
  const ynode *rs = ml_ld_get(headers, "response");
  if (rq && rq->type == YN_MAP) {
    size_t mark = ml_ld_push(L, "request");
    check_ops(L, rq, &h->request, 1);
    ml_ld_pop(L, mark);
  }
  if (rs && rs->type == YN_MAP) {
    size_t mark = ml_ld_push(L, "response");
    check_ops(L, rs, &h->response, 0);
    ml_ld_pop(L, mark);
  }
}

/* ---- durations ---------------------------------------------------------- */

int ml_ld_duration_checked(ml_loader *L, const ynode *n, int flags,
                           int64_t *out_ms) {
  if (flags & ML_DUR_ANY)
    return ml_ld_duration(L, n, out_ms);
  int64_t ms;
  if (!ml_ld_duration(L, n, &ms))
    return 0;
  int64_t ns = 0;
  ml_parse_duration_ns(n->value, &ns); /* parsed just above */
  if ((flags & ML_DUR_ZERO_OK) && ns < 1000000) {
    *out_ms = 0; /* Istio: under 1 ms counts as 0, "disabled" */
    return 1;
  }
  if (ns < 1000000) {
    ml_ld_err(L, n, "duration must be at least 1ms");
    return 0;
  }
  if (ns % 1000000) {
    ml_ld_err(L, n, "only durations to ms precision are supported");
    return 0;
  }
  *out_ms = ms;
  return 1;
}
