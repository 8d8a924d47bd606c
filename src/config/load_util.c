/* SPDX-License-Identifier: MIT */
/* The loader's helpers: diagnostics at a node, the field path, and typed
 * getters that turn YAML scalars into model values or report why not. */
#include "config/load_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "config/hostname.h"
#include "meshlib/error.h"
#include "meshlib/mesh.h"
#include "util/regex.h"
#include "util/str.h"

/* ---- diagnostics ------------------------------------------------------ */

void ml_ld_fail(ml_loader *L, int rc) {
  if (L->rc == 0)
    L->rc = rc;
  if (rc == MESHLIB_ERR_NOMEM)
    L->nomem = 1;
}

ml_origin ml_ld_origin(const ml_loader *L, const ynode *n) {
  ml_origin o;
  o.file = L->file;
  o.line = n ? n->line : 0;
  o.column = n ? n->column : 0;
  return o;
}

#if defined(__GNUC__)
__attribute__((format(printf, 6, 0)))
#endif
static void
addv(ml_loader *L, int level, const char *code, const ynode *at,
     const char *field, const char *fmt, va_list ap) {
  ml_origin o = ml_ld_origin(L, at);
  if (ml_diags_addv(L->d, level, code, &o, field, L->resource, fmt, ap))
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 0)))
#endif
static void
errv(ml_loader *L, const ynode *at, const char *fmt, va_list ap) {
  if (L->limit_hit > 1)
    return; /* after a size limit, the rest of the document is noise */
  addv(L, MESHLIB_LEVEL_ERROR, ML_CODE_SCHEMA, at, L->path, fmt, ap);
  ml_ld_fail(L, MESHLIB_ERR_CONFIG);
}

void ml_ld_err(ml_loader *L, const ynode *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  errv(L, at, fmt, ap);
  va_end(ap);
}

void ml_ld_field_err(ml_loader *L, const char *key, const ynode *at,
                     const char *fmt, ...) {
  va_list ap;
  size_t mark = ml_ld_push(L, key);
  va_start(ap, fmt);
  errv(L, at, fmt, ap);
  va_end(ap);
  ml_ld_pop(L, mark);
}

void ml_ld_warn(ml_loader *L, const ynode *at, const char *fmt, ...) {
  va_list ap;
  if (L->limit_hit > 1)
    return;
  va_start(ap, fmt);
  addv(L, MESHLIB_LEVEL_WARNING, ML_CODE_SCHEMA, at, L->path, fmt, ap);
  va_end(ap);
}

static void add_fixed(ml_loader *L, int level, const char *code,
                      const ynode *at, const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
static void add_fixed(ml_loader *L, int level, const char *code,
                      const ynode *at, const char *field, const char *fmt,
                      ...) {
  va_list ap;
  va_start(ap, fmt);
  addv(L, level, code, at, field, fmt, ap);
  va_end(ap);
}

/* The field path names the map holding the unknown key, the message names
 * the key: "spec.trafficPolicy.connectionPool.http: unknown field ...". */
void ml_ld_unknown(ml_loader *L, const ml_miter *it) {
  if (L->limit_hit > 1)
    return;
  char saved = L->path[it->mark];
  L->path[it->mark] = '\0';
  add_fixed(L, L->o->strict ? MESHLIB_LEVEL_ERROR : MESHLIB_LEVEL_WARNING,
            ML_CODE_UNKNOWN_FIELD, it->k, L->path, "unknown field \"%s\"",
            it->key);
  L->path[it->mark] = saved;
  if (L->o->strict)
    ml_ld_fail(L, MESHLIB_ERR_CONFIG_STRICT);
}

/* ---- field path -------------------------------------------------------- */

static size_t push_raw(ml_loader *L, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static size_t push_raw(ml_loader *L, const char *fmt, ...) {
  size_t mark = L->plen;
  size_t room = sizeof(L->path) - L->plen;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(L->path + L->plen, room, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= room) {
    L->path[mark] = '\0'; /* too long to name: keep the parent's path */
    return mark;
  }
  L->plen += (size_t)n;
  return mark;
}

size_t ml_ld_push(ml_loader *L, const char *key) {
  return push_raw(L, "%s%s", L->plen ? "." : "", key);
}

size_t ml_ld_push_index(ml_loader *L, size_t i) {
  return push_raw(L, "[%zu]", i);
}

void ml_ld_pop(ml_loader *L, size_t mark) {
  if (mark <= L->plen) {
    L->plen = mark;
    L->path[mark] = '\0';
  }
}

/* ---- walking ----------------------------------------------------------- */

int ml_ld_visit(ml_loader *L, const ynode *n) {
  if (L->nomem || L->limit_hit)
    return 0;
  if (++L->visits > ML_LOAD_MAX_VISITS) {
    L->limit_hit = 1;
    ml_ld_err(L, n,
              "document too large: more than %u nodes walked (alias "
              "expansion?)",
              ML_LOAD_MAX_VISITS);
    L->limit_hit = 2;
    return 0;
  }
  return 1;
}

int ml_ld_is_null(const ynode *n) {
  if (!n)
    return 1;
  if (n->type != YN_SCALAR || !n->plain)
    return 0;
  return n->len == 0 || strcmp(n->value, "~") == 0 ||
         strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0 ||
         strcmp(n->value, "NULL") == 0;
}

static const char *type_name(const ynode *n) {
  switch (n->type) {
  case YN_MAP:
    return "a map";
  case YN_SEQ:
    return "a list";
  default:
    return "a scalar";
  }
}

int ml_ld_map(ml_loader *L, const ynode *n) {
  if (ml_ld_is_null(n))
    return 0;
  if (!ml_ld_visit(L, n))
    return 0;
  if (n->type != YN_MAP) {
    ml_ld_err(L, n, "expected a map, found %s", type_name(n));
    return 0;
  }
  return 1;
}

int ml_ld_map_nonnull(ml_loader *L, const ynode *n, const char *msg) {
  if (ml_ld_map(L, n))
    return 1;
  if (ml_ld_is_null(n))
    ml_ld_err(L, n ? n : L->obj, "%s", msg);
  return 0;
}

int ml_ld_seq(ml_loader *L, const ynode *n) {
  if (ml_ld_is_null(n))
    return 0;
  if (!ml_ld_visit(L, n))
    return 0;
  if (n->type != YN_SEQ) {
    ml_ld_err(L, n, "expected a list, found %s", type_name(n));
    return 0;
  }
  return 1;
}

void ml_miter_init(ml_loader *L, ml_miter *it, const ynode *map) {
  memset(it, 0, sizeof(*it));
  it->map = (map && map->type == YN_MAP) ? map : NULL;
  it->mark = L->plen;
}

int ml_miter_next(ml_loader *L, ml_miter *it) {
  ml_ld_pop(L, it->mark);
  while (it->map && it->i < it->map->count) {
    const ynode *k = it->map->items[2 * it->i];
    const ynode *v = it->map->items[2 * it->i + 1];
    size_t idx = it->i++;
    if (!ml_ld_visit(L, k))
      return 0;
    if (k->type != YN_SCALAR) {
      ml_ld_err(L, k, "expected a field name, found %s", type_name(k));
      continue;
    }
    /* Duplicate keys: YAML forbids them and Kubernetes refuses them. The
     * check is quadratic, so very large maps (labels) are spared. */
    int dup = 0;
    if (it->map->count <= 256)
      for (size_t j = 0; j < idx && !dup; j++) {
        const ynode *pk = it->map->items[2 * j];
        dup = pk->type == YN_SCALAR && strcmp(pk->value, k->value) == 0;
      }
    if (dup) {
      ml_ld_err(L, k, "duplicate field \"%s\"", k->value);
      continue;
    }
    it->k = k;
    it->v = v;
    it->key = k->value;
    ml_ld_push(L, k->value);
    return 1;
  }
  return 0;
}

size_t ml_ld_item(ml_loader *L, const ynode *seq, size_t i) {
  (void)seq;
  return ml_ld_push_index(L, i);
}

const ynode *ml_ld_get(const ynode *map, const char *key) {
  if (!map || map->type != YN_MAP)
    return NULL;
  for (size_t i = 0; i < map->count; i++) {
    const ynode *k = map->items[2 * i];
    if (k->type == YN_SCALAR && strcmp(k->value, key) == 0)
      return map->items[2 * i + 1];
  }
  return NULL;
}

const ynode *ml_ld_where(const ml_loader *L, const ynode *map,
                         const char *key) {
  const ynode *v = ml_ld_get(map, key);
  if (v)
    return v;
  return map ? map : L->obj;
}

/* ---- arrays ------------------------------------------------------------ */

void *ml_ld_alloc(ml_loader *L, size_t n, size_t size) {
  void *p = ml_arena_alloc(L->a, n * size);
  if (!p)
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
  return p;
}

void *ml_ld_array(ml_loader *L, const ynode *seq, size_t size,
                  ml_ld_item_fn read, size_t *count) {
  if (!ml_ld_seq(L, seq))
    return NULL;
  char *items = ml_ld_alloc(L, seq->count + 1, size);
  if (!items)
    return NULL;
  for (size_t i = 0; i < seq->count; i++) {
    size_t mark = ml_ld_item(L, seq, i);
    read(L, seq->items[i], items + i * size);
    ml_ld_pop(L, mark);
  }
  *count = seq->count;
  return items;
}

/* ---- getters ----------------------------------------------------------- */

char *ml_ld_dup(ml_loader *L, const char *s, size_t n) {
  if (L->nomem)
    return NULL;
  L->copied += n + 1;
  if (L->copied > ML_LOAD_MAX_COPY) {
    if (!L->limit_hit) {
      L->limit_hit = 1;
      ml_ld_err(L, NULL,
                "document too large: more than %zu MiB of text "
                "(alias expansion?)",
                ML_LOAD_MAX_COPY >> 20);
      L->limit_hit = 2;
    }
    return NULL;
  }
  char *d = ml_arena_strndup(L->a, s, n);
  if (!d)
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
  return d;
}

/* A scalar to read, or NULL (null: silently; other types: an error). */
static const ynode *scalar(ml_loader *L, const ynode *n, const char *what) {
  if (ml_ld_is_null(n) || !ml_ld_visit(L, n))
    return NULL;
  if (n->type != YN_SCALAR) {
    ml_ld_err(L, n, "expected %s, found %s", what, type_name(n));
    return NULL;
  }
  return n;
}

int ml_ld_str(ml_loader *L, const ynode *n, const char **out) {
  /* Any scalar is taken as text: `subset: 1` means the string "1". */
  const ynode *s = scalar(L, n, "a string");
  if (!s)
    return 0;
  char *d = ml_ld_dup(L, s->value, s->len);
  if (!d)
    return 0;
  *out = d;
  return 1;
}

int ml_ld_int(ml_loader *L, const ynode *n, int64_t min, int64_t max,
              int64_t *out) {
  const ynode *s = scalar(L, n, "an integer");
  int64_t v;
  if (!s)
    return 0;
  if (ml_parse_int64(s->value, &v)) {
    ml_ld_err(L, s, "expected an integer");
    return 0;
  }
  if (v < min || v > max) {
    if (max >= INT32_MAX)
      ml_ld_err(L, s, "must be at least %" PRId64 ", found %" PRId64, min, v);
    else
      ml_ld_err(L, s,
                "must be between %" PRId64 " and %" PRId64 ", found %" PRId64,
                min, max, v);
    return 0;
  }
  *out = v;
  return 1;
}

int ml_ld_u32(ml_loader *L, const ynode *n, uint32_t min, uint32_t max,
              uint32_t *out) {
  int64_t v;
  if (!ml_ld_int(L, n, min, max, &v))
    return 0;
  *out = (uint32_t)v;
  return 1;
}

int ml_ld_double(ml_loader *L, const ynode *n, double *out) {
  const ynode *s = scalar(L, n, "a number");
  double v;
  if (!s)
    return 0;
  if (ml_parse_double(s->value, &v)) {
    ml_ld_err(L, s, "expected a number");
    return 0;
  }
  *out = v;
  return 1;
}

int ml_ld_bool(ml_loader *L, const ynode *n, int *out) {
  static const char *const yes[] = {"true", "yes", "on"};
  static const char *const no[] = {"false", "no", "off"};
  const ynode *s = scalar(L, n, "true or false");
  if (!s)
    return 0;
  /* Kubernetes reads YAML 1.1, where yes/no/on/off are booleans too. */
  for (size_t i = 0; i < 3; i++) {
    if (ml_strcaseeq(s->value, yes[i])) {
      *out = 1;
      return 1;
    }
    if (ml_strcaseeq(s->value, no[i])) {
      *out = 0;
      return 1;
    }
  }
  ml_ld_err(L, s, "expected true or false");
  return 0;
}

int ml_ld_duration(ml_loader *L, const ynode *n, int64_t *out_ms) {
  const ynode *s = scalar(L, n, "a duration");
  int64_t v;
  if (!s)
    return 0;
  if (ml_parse_duration_ms(s->value, &v)) {
    ml_ld_err(L, s, "expected a duration like \"3s\" or \"500ms\"");
    return 0;
  }
  *out_ms = v;
  return 1;
}

int ml_ld_enum(ml_loader *L, const ynode *n, const char *const *names,
               int *out) {
  const ynode *s = scalar(L, n, "a string");
  if (!s)
    return 0;
  int count = 0;
  for (; names[count]; count++)
    if (strcmp(s->value, names[count]) == 0) {
      *out = count;
      return 1;
    }
  /* Protobuf JSON also takes the enum's number. */
  int64_t v;
  if (s->plain && ml_parse_int64(s->value, &v) == 0 && v >= 0 && v < count) {
    *out = (int)v;
    return 1;
  }
  char list[256];
  size_t off = 0;
  list[0] = '\0';
  for (int i = 0; i < count && off < sizeof(list); i++) {
    int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
                     names[i]);
    if (w < 0)
      break;
    off += (size_t)w;
  }
  ml_ld_err(L, s, "\"%s\" is not one of %s", s->value, list);
  return 0;
}

int ml_ld_str_list(ml_loader *L, const ynode *n, ml_str_list *out) {
  if (!ml_ld_seq(L, n))
    return 0;
  const char **items = ml_ld_alloc(L, n->count + 1, sizeof(*items));
  if (!items)
    return 0;
  size_t count = 0;
  for (size_t i = 0; i < n->count; i++) {
    size_t mark = ml_ld_item(L, n, i);
    const char *s = NULL;
    if (ml_ld_is_null(n->items[i]))
      ml_ld_err(L, n->items[i], "expected a string, found null");
    else if (ml_ld_str(L, n->items[i], &s))
      items[count++] = s;
    ml_ld_pop(L, mark);
  }
  out->items = items;
  out->count = count;
  return 1;
}

int ml_ld_kv_map(ml_loader *L, const ynode *n, ml_kv_list *out) {
  if (!ml_ld_map(L, n))
    return 0;
  ml_kv *items = ml_ld_alloc(L, n->count + 1, sizeof(*items));
  if (!items)
    return 0;
  size_t count = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    const char *v = "";
    const char *k = ml_ld_dup(L, it.key, it.k->len);
    if (!k)
      break;
    if (!ml_ld_is_null(it.v) && !ml_ld_str(L, it.v, &v))
      continue;
    items[count].key = k;
    items[count].value = v;
    count++;
  }
  out->items = items;
  out->count = count;
  return 1;
}

int ml_ld_percent_number(ml_loader *L, const ynode *n, double *out) {
  double x;
  if (!ml_ld_double(L, n, &x))
    return 0;
  if (x < 0 || x > 100) {
    ml_ld_err(L, n, "must be between 0 and 100, found %g", x);
    return 0;
  }
  *out = x;
  return 1;
}

static int read_percent_value(ml_walk *w, const ynode *v, void *dst) {
  return ml_ld_percent_number(w->L, v, dst);
}

static const ml_field kPercent[] = {
    MLF_CUSTOM("value", ml_percent, value, read_percent_value), MLF_END};

int ml_ld_percent(ml_loader *L, const ynode *n, ml_percent *out) {
  if (!ml_ld_map(L, n))
    return 0;
  ml_percent p = {0}; /* Percent{} means 0 % */
  ml_ld_walk(L, n, kPercent, &p);
  *out = p;
  return 1;
}

typedef struct port_selector {
  uint32_t number;
} port_selector;

static const ml_field kPortSelector[] = {
    MLF_U32("number", port_selector, number, 1, 65535), MLF_END};

int ml_ld_port_selector(ml_loader *L, const ynode *n, uint32_t *out) {
  if (!ml_ld_map(L, n))
    return 0;
  port_selector p = {*out};
  uint64_t got = ml_ld_walk(L, n, kPortSelector, &p);
  *out = p.number;
  return ml_ld_stored(kPortSelector, got, "number");
}

int ml_ld_regex(ml_loader *L, const ynode *at, const char *pattern, int mode,
                ml_regex **out) {
  char err[256];
  if (!*pattern) {
    ml_ld_err(L, at, "regex must not be empty");
    return 0;
  }
  if (strlen(pattern) > ML_LOAD_MAX_REGEX) {
    ml_ld_err(L, at, "regex is longer than %u characters", ML_LOAD_MAX_REGEX);
    return 0;
  }
  err[0] = '\0';
  if (ml_regex_compile(L->a->mem, pattern, mode, &L->c->regexes, out, err,
                       sizeof(err))) {
    /* regex.c's message names the problem and its offset. */
    if (err[0])
      ml_ld_err(L, at, "%s", err);
    else
      ml_ld_err(L, at, "invalid regex");
    return 0;
  }
  return 1;
}

/* A StringMatch being read, with the caller's ML_SM_* flags. */
typedef struct match_draft {
  ml_string_match m;
  int flags;
} match_draft;

/* exact, prefix and regex are a oneof: the first one read wins. */
static int read_match_text(ml_walk *w, const ynode *v, ml_match_kind kind) {
  ml_loader *L = w->L;
  match_draft *d = w->obj;
  const char *s = NULL;
  if (!ml_ld_str(L, v, &s))
    return 0;
  if (w->stored) {
    ml_ld_err(L, w->it.k, "only one of exact, prefix or regex may be set");
    return 1;
  }
  d->m.kind = kind;
  d->m.value = s;
  d->m.origin = ml_ld_origin(L, v);
  if (kind == ML_MATCH_PREFIX && !*s && (d->flags & ML_SM_NO_EMPTY_PREFIX))
    ml_ld_err(L, v, "prefix must not be empty"); /* Envoy: path only */
  if (kind != ML_MATCH_REGEX)
    return 1;
  if ((d->flags & ML_SM_PRESENT) && strcmp(s, "*") == 0)
    d->m.kind = ML_MATCH_PRESENT; /* not a regex: Istio's "present" idiom */
  else
    ml_ld_regex(L, v, s, ML_REGEX_FULL, &d->m.re);
  return 1;
}

static int read_exact(ml_walk *w, const ynode *v, void *dst) {
  (void)dst;
  return read_match_text(w, v, ML_MATCH_EXACT);
}

static int read_prefix(ml_walk *w, const ynode *v, void *dst) {
  (void)dst;
  return read_match_text(w, v, ML_MATCH_PREFIX);
}

static int read_regex(ml_walk *w, const ynode *v, void *dst) {
  (void)dst;
  return read_match_text(w, v, ML_MATCH_REGEX);
}

static const ml_field kStringMatch[] = {
    MLF_CUSTOM_OBJ("exact", read_exact), MLF_CUSTOM_OBJ("prefix", read_prefix),
    MLF_CUSTOM_OBJ("regex", read_regex), MLF_END};

int ml_ld_string_match(ml_loader *L, const ynode *n, int flags,
                       ml_string_match *out) {
  if (!ml_ld_map(L, n))
    return 0;
  match_draft d;
  memset(&d, 0, sizeof(d));
  d.m.origin = ml_ld_origin(L, n);
  d.flags = flags;
  if (!ml_ld_walk(L, n, kStringMatch, &d) && (flags & ML_SM_PRESENT))
    d.m.kind = ML_MATCH_PRESENT;
  *out = d.m;
  return 1;
}

char *ml_ld_host_fqdn(ml_loader *L, const char *host) {
  const char *suffix = L->o && L->o->domain_suffix && *L->o->domain_suffix
                           ? L->o->domain_suffix
                           : "cluster.local";
  char *f = ml_host_fqdn(L->a, host, L->ns ? L->ns : "default", suffix);
  if (!f)
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
  return f;
}

/* ---- base64 ------------------------------------------------------------ */

static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

/* Protobuf JSON writes bytes as standard base64 and reads both alphabets,
 * with or without padding. |out| needs len * 3 / 4 + 3 bytes. */
int ml_base64_decode(const char *in, size_t len, unsigned char *out,
                     size_t *out_len) {
  while (len && in[len - 1] == '=')
    len--;
  if (len % 4 == 1)
    return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64val((unsigned char)in[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)((acc >> bits) & 0xffu);
    }
  }
  *out_len = o;
  return 0;
}
