/* SPDX-License-Identifier: MIT */
#ifndef ML_CONFIG_LOAD_INTERNAL_H
#define ML_CONFIG_LOAD_INTERNAL_H

/* Shared by the loader's files: a small tree built from libyaml events
 * (so that depth, size and alias expansion stay under our control), the
 * walking context with its field path, and typed getters that report a
 * diagnostic at the offending node. Not part of any other subsystem. */
#include <stddef.h>
#include <stdint.h>
#include "config/load.h"

/* Limits against hostile input. */
#define ML_LOAD_MAX_BYTES ((size_t)64 << 20) /* one file or string */
#define ML_LOAD_MAX_DEPTH 100u               /* nesting of one document */
#define ML_LOAD_MAX_NODES 1000000u           /* nodes of one document */
#define ML_LOAD_MAX_VISITS 1000000u          /* nodes walked in one document */
#define ML_LOAD_MAX_COPY ((size_t)128 << 20) /* bytes copied per document */
#define ML_LOAD_MAX_REGEX 1024u              /* Istio's regex length limit */

typedef enum ynode_type { YN_SCALAR, YN_SEQ, YN_MAP } ynode_type;

typedef struct ynode {
  ynode_type type;
  int plain;            /* scalar written without quotes */
  uint32_t line;        /* 1-based */
  uint32_t column;      /* 1-based */
  const char *value;    /* scalar text, NUL-terminated */
  size_t len;           /* scalar length */
  struct ynode **items; /* seq: items; map: key0, value0, key1, ... */
  size_t count;         /* seq: items; map: pairs */
} ynode;

typedef struct ml_loader {
  ml_config *c;
  ml_arena *a; /* &c->arena: everything the model keeps */
  const ml_load_opts *o;
  ml_diags *d;
  const char *file; /* origin name, in c->arena */
  int rc;           /* first problem */
  int nomem;
  /* per object */
  const char *ns;
  const ynode *obj; /* the object's root, for errors on absent fields */
  char resource[320];
  char path[1024];
  size_t plen;
  size_t visits;
  size_t copied;
  int limit_hit; /* visits/copy limit reported for this document */
} ml_loader;

/* Iterates the pairs of a map, keeping the field path at "<map>.<key>". */
typedef struct ml_miter {
  const ynode *map;
  size_t i;
  size_t mark;
  const ynode *k;
  const ynode *v;
  const char *key;
} ml_miter;

/* Diagnostics. */
void ml_ld_fail(ml_loader *L, int rc);
void ml_ld_err(ml_loader *L, const ynode *at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* ml_ld_err with the field path at "<path>.<key>": for a field that is
 * missing or wrong as a whole, reported where |at| says. */
void ml_ld_field_err(ml_loader *L, const char *key, const ynode *at,
                     const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void ml_ld_warn(ml_loader *L, const ynode *at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void ml_ld_unknown(ml_loader *L, const ml_miter *it);
ml_origin ml_ld_origin(const ml_loader *L, const ynode *n);

/* Field path. */
size_t ml_ld_push(ml_loader *L, const char *key);
size_t ml_ld_push_index(ml_loader *L, size_t i);
void ml_ld_pop(ml_loader *L, size_t mark);

/* Walking. ml_ld_visit counts nodes against the limits; 0 means stop. */
int ml_ld_visit(ml_loader *L, const ynode *n);
int ml_ld_is_null(const ynode *n);
/* 1 when |n| is a map (null gives 0 silently, other types an error). */
int ml_ld_map(ml_loader *L, const ynode *n);
/* ml_ld_map for a value that must be present: a null |n| is the error
 * |msg| (at |n|, or at the object when the key is absent). */
int ml_ld_map_nonnull(ml_loader *L, const ynode *n, const char *msg);
int ml_ld_seq(ml_loader *L, const ynode *n);
void ml_miter_init(ml_loader *L, ml_miter *it, const ynode *map);
int ml_miter_next(ml_loader *L, ml_miter *it);
/* Visits the i-th item of a sequence with the path at "<seq>[i]". */
size_t ml_ld_item(ml_loader *L, const ynode *seq, size_t i);
/* A map's value by key without side effects, or NULL. */
const ynode *ml_ld_get(const ynode *map, const char *key);

/* Where to report a missing or empty |key| of |map|: its value, else the
 * map, else the object. */
const ynode *ml_ld_where(const ml_loader *L, const ynode *map, const char *key);

/* |n| items of |size| bytes, zeroed, in the model's arena; reports running
 * out of memory. */
void *ml_ld_alloc(ml_loader *L, size_t n, size_t size);

/* Reads one list item |n| into |item|, an element of the array that
 * ml_ld_array allocated (the reader casts it to its own type). */
typedef void (*ml_ld_item_fn)(ml_loader *L, const ynode *n, void *item);
/* Reads the list |seq| into a new array of items of |size| bytes, each by
 * |read| with the field path at "<seq>[i]", and sets *count. The array has
 * a zeroed spare item, so an empty list still gets one. Returns NULL and
 * leaves *count alone when |seq| is null, not a list (reported as by
 * ml_ld_seq) or memory ran out (L->nomem then ends the walk). */
void *ml_ld_array(ml_loader *L, const ynode *seq, size_t size,
                  ml_ld_item_fn read, size_t *count);

/* Getters: each leaves |out| alone when the node is null or wrong, and
 * reports the error. They return 1 when a value was stored. */
char *ml_ld_dup(ml_loader *L, const char *s, size_t n);
int ml_ld_str(ml_loader *L, const ynode *n, const char **out);
int ml_ld_int(ml_loader *L, const ynode *n, int64_t min, int64_t max,
              int64_t *out);
int ml_ld_u32(ml_loader *L, const ynode *n, uint32_t min, uint32_t max,
              uint32_t *out);
int ml_ld_double(ml_loader *L, const ynode *n, double *out);
int ml_ld_bool(ml_loader *L, const ynode *n, int *out);
int ml_ld_duration(ml_loader *L, const ynode *n, int64_t *out_ms);
int ml_ld_enum(ml_loader *L, const ynode *n, const char *const *names,
               int *out);
int ml_ld_str_list(ml_loader *L, const ynode *n, ml_str_list *out);
int ml_ld_kv_map(ml_loader *L, const ynode *n, ml_kv_list *out);
/* Percent message {value: x}, 0..100. */
int ml_ld_percent(ml_loader *L, const ynode *n, ml_percent *out);
/* A bare percentage number, 0..100. */
int ml_ld_percent_number(ml_loader *L, const ynode *n, double *out);
int ml_ld_port_selector(ml_loader *L, const ynode *n, uint32_t *out);
/* StringMatch. With ML_SM_PRESENT, `{}` and `regex: "*"` mean
 * ML_MATCH_PRESENT (header matches); otherwise `{}` leaves ML_MATCH_NONE.
 * With ML_SM_NO_EMPTY_PREFIX an empty prefix is an error (Envoy allows
 * one only on the path). */
enum { ML_SM_PRESENT = 1, ML_SM_NO_EMPTY_PREFIX = 2 };
int ml_ld_string_match(ml_loader *L, const ynode *n, int flags,
                       ml_string_match *out);
/* Compile |pattern| into c->regexes; errors at |at|. */
int ml_ld_regex(ml_loader *L, const ynode *at, const char *pattern, int mode,
                ml_regex **out);
char *ml_ld_host_fqdn(ml_loader *L, const char *host);
/* Decode standard or URL-safe base64, padding optional. -1 on bad input. */
int ml_base64_decode(const char *in, size_t len, unsigned char *out,
                     size_t *out_len);

/* Istio's validation rules (load_valid.c). Each reports at |at| (|what|
 * names the value: "host", "destination host", ...) and returns 0 when
 * the value is refused. */
int ml_ld_is_dns_label(const char *s, size_t n);
/* ValidateWildcardDomain: RFC 1123 labels, at most 255 characters, a
 * wildcard only as (a prefix of) the first label, a non-numeric top
 * label. */
int ml_ld_check_wildcard_domain(ml_loader *L, const ynode *at, const char *what,
                                const char *host);
/* ValidateFQDN: the same without wildcards. */
int ml_ld_check_fqdn(ml_loader *L, const ynode *at, const char *what,
                     const char *host);
int ml_ld_is_ip(const char *s);
int ml_ld_is_cidr(const char *s);
/* A header value as Envoy's formatter reads it: '%' must be "%%" unless
 * it starts a %VARIABLE%; no control characters. */
int ml_ld_check_header_value(ml_loader *L, const ynode *at, const char *v);
/* Names and values of the set/add/remove operations read from the
 * headers map |headers| into |h|. */
void ml_ld_check_headers(ml_loader *L, const ynode *headers,
                         const ml_headers *h);
/* A rule Istio enforces that fixtures elsewhere in meshlib still break:
 * an error in strict mode; otherwise a warning when |warn|, else nothing.
 * (To become ml_ld_err once those fixtures follow Istio.) */
void ml_ld_err_pending(ml_loader *L, int warn, const ynode *at, const char *fmt,
                       ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Durations: by default Istio's ValidateDuration (at least 1 ms, whole
 * milliseconds); ML_DUR_ANY takes any duration, ML_DUR_ZERO_OK also takes
 * anything under 1 ms as 0 ("disabled"). */
enum { ML_DUR_ANY = 1, ML_DUR_ZERO_OK = 2 };
int ml_ld_duration_checked(ml_loader *L, const ynode *n, int flags,
                           int64_t *out_ms);

/* ---- field tables ------------------------------------------------------
 * Each Istio message is a table of rows: field name, kind, where the value
 * goes (an offset into the model struct, or a draft struct that holds the
 * model plus deprecated or cross-field inputs) and the kind's parameters.
 * ml_ld_walk reads a map against a table, in the map's order, so the
 * diagnostics come out as the fields are written; unknown fields are
 * reported by the walker, cross-field rules stay with the caller. */

typedef enum ml_field_kind {
  ML_F_STR,         /* const char * */
  ML_F_STR_LIST,    /* ml_str_list */
  ML_F_KV_MAP,      /* ml_kv_list */
  ML_F_INT,         /* int64_t in [min, max] */
  ML_F_I32,         /* int32_t in [min, max] */
  ML_F_U32,         /* uint32_t in [min, max] */
  ML_F_BOOL,        /* int */
  ML_F_TRI,         /* int, ML_TRI_* */
  ML_F_DURATION,    /* int64_t milliseconds */
  ML_F_ENUM,        /* int (or an int-sized enum): index into names */
  ML_F_ENUM_NAME,   /* const char *: names[index] */
  ML_F_PERCENT,     /* ml_percent */
  ML_F_PORT,        /* uint32_t from a PortSelector {number} */
  ML_F_MATCH,       /* ml_string_match, ML_SM_* in flags */
  ML_F_OBJECT,      /* embedded struct: a map read against |fields| */
  ML_F_LIST,        /* T *items at offset, size_t count at count_offset */
  ML_F_UNUSED_MAP,  /* accepted and type-checked, not used */
  ML_F_UNUSED_LIST, /* accepted and type-checked, not used */
  ML_F_UNUSED_DURATION,
  ML_F_UNUSED_NUMBER,
  ML_F_SKIP,  /* accepted unread; name "*" matches any other key */
  ML_F_CUSTOM /* read by |read| */
} ml_field_kind;

typedef struct ml_field ml_field;

/* The state of one ml_ld_walk, for custom readers. */
typedef struct ml_walk {
  ml_loader *L;
  ml_miter it; /* it.k and it.v: the field being read */
  const ml_field *fields;
  void *obj;       /* what the table's offsets point into */
  uint64_t stored; /* rows that stored a value, by index */
} ml_walk;

/* Reads |v|, the value of the current field, into |dst| (the object plus
 * the row's offset). Returns 1 when a value was stored. */
typedef int (*ml_field_fn)(ml_walk *w, const ynode *v, void *dst);

struct ml_field {
  const char *name; /* NULL ends a table */
  ml_field_kind kind;
  size_t offset;
  int64_t min, max;         /* INT, U32 */
  int flags;                /* MATCH: ML_SM_*; DURATION: ML_DUR_* */
  const char *const *names; /* ENUM, ENUM_NAME: NULL-terminated */
  const ml_field *fields;   /* OBJECT */
  size_t count_offset;      /* LIST */
  size_t item_size;         /* LIST */
  ml_ld_item_fn item;       /* LIST */
  ml_field_fn read;         /* CUSTOM */
};

/* Offset of member |m| of |T|, which must have type |ctype|: a row that
 * points at the wrong type does not compile. */
#define ML_OFF(T, m, ctype) _Generic(&((T *)0)->m, ctype * : offsetof(T, m))
/* Enums are int-sized but not int: their size is checked instead. */
#define ML_OFF_INTSIZED(T, m)                                                  \
  (offsetof(T, m) +                                                            \
   0 * sizeof(char[sizeof(((T *)0)->m) == sizeof(int) ? 1 : -1]))

#define MLF_STR(nm, T, m)                                                      \
  { .name = (nm), .kind = ML_F_STR, .offset = ML_OFF(T, m, const char *) }
#define MLF_STR_LIST(nm, T, m)                                                 \
  { .name = (nm), .kind = ML_F_STR_LIST, .offset = ML_OFF(T, m, ml_str_list) }
#define MLF_KV_MAP(nm, T, m)                                                   \
  { .name = (nm), .kind = ML_F_KV_MAP, .offset = ML_OFF(T, m, ml_kv_list) }
#define MLF_INT(nm, T, m, lo, hi)                                              \
  {                                                                            \
    .name = (nm), .kind = ML_F_INT, .offset = ML_OFF(T, m, int64_t),           \
    .min = (lo), .max = (hi)                                                   \
  }
#define MLF_I32(nm, T, m, lo, hi)                                              \
  {                                                                            \
    .name = (nm), .kind = ML_F_I32, .offset = ML_OFF(T, m, int32_t),           \
    .min = (lo), .max = (hi)                                                   \
  }
#define MLF_U32(nm, T, m, lo, hi)                                              \
  {                                                                            \
    .name = (nm), .kind = ML_F_U32, .offset = ML_OFF(T, m, uint32_t),          \
    .min = (lo), .max = (hi)                                                   \
  }
#define MLF_BOOL(nm, T, m)                                                     \
  { .name = (nm), .kind = ML_F_BOOL, .offset = ML_OFF(T, m, int) }
#define MLF_TRI(nm, T, m)                                                      \
  { .name = (nm), .kind = ML_F_TRI, .offset = ML_OFF(T, m, int) }
#define MLF_DURATION(nm, T, m)                                                 \
  { .name = (nm), .kind = ML_F_DURATION, .offset = ML_OFF(T, m, int64_t) }
/* A duration with ML_DUR_* |fl| (Istio does not check every one). */
#define MLF_DURATION_F(nm, T, m, fl)                                           \
  {                                                                            \
    .name = (nm), .kind = ML_F_DURATION, .offset = ML_OFF(T, m, int64_t),      \
    .flags = (fl)                                                              \
  }
#define MLF_ENUM(nm, T, m, list)                                               \
  {                                                                            \
    .name = (nm), .kind = ML_F_ENUM, .offset = ML_OFF_INTSIZED(T, m),          \
    .names = (list)                                                            \
  }
#define MLF_ENUM_NAME(nm, T, m, list)                                          \
  {                                                                            \
    .name = (nm), .kind = ML_F_ENUM_NAME,                                      \
    .offset = ML_OFF(T, m, const char *), .names = (list)                      \
  }
#define MLF_PERCENT(nm, T, m)                                                  \
  { .name = (nm), .kind = ML_F_PERCENT, .offset = ML_OFF(T, m, ml_percent) }
#define MLF_PORT(nm, T, m)                                                     \
  { .name = (nm), .kind = ML_F_PORT, .offset = ML_OFF(T, m, uint32_t) }
#define MLF_MATCH(nm, T, m, fl)                                                \
  {                                                                            \
    .name = (nm), .kind = ML_F_MATCH, .offset = ML_OFF(T, m, ml_string_match), \
    .flags = (fl)                                                              \
  }
#define MLF_OBJECT(nm, T, m, table)                                            \
  {                                                                            \
    .name = (nm), .kind = ML_F_OBJECT, .offset = offsetof(T, m),               \
    .fields = (table)                                                          \
  }
/* A nested map whose fields live in the same struct as its parent's. */
#define MLF_INLINE(nm, table)                                                  \
  { .name = (nm), .kind = ML_F_OBJECT, .offset = 0, .fields = (table) }
#define MLF_LIST(nm, T, m, count, fn)                                          \
  {                                                                            \
    .name = (nm), .kind = ML_F_LIST, .offset = offsetof(T, m),                 \
    .count_offset = ML_OFF(T, count, size_t),                                  \
    .item_size = sizeof(*((T *)0)->m), .item = (fn)                            \
  }
/* |fn| gets the member's address; MLF_CUSTOM_OBJ's gets the object's. */
#define MLF_CUSTOM(nm, T, m, fn)                                               \
  { .name = (nm), .kind = ML_F_CUSTOM, .offset = offsetof(T, m), .read = (fn) }
#define MLF_CUSTOM_OBJ(nm, fn)                                                 \
  { .name = (nm), .kind = ML_F_CUSTOM, .read = (fn) }
#define MLF_UNUSED(nm, k)                                                      \
  { .name = (nm), .kind = (k) }
#define MLF_END                                                                \
  { .name = NULL }

/* Reads the map |map|, already accepted by ml_ld_map, against |fields|
 * into |obj|. Returns the rows that stored a value (bit i: row i; tables
 * have at most 64 rows), for ml_ld_stored. */
uint64_t ml_ld_walk(ml_loader *L, const ynode *map, const ml_field *fields,
                    void *obj);
/* 1 when the row |name| of |fields| is in |stored|. */
int ml_ld_stored(const ml_field *fields, uint64_t stored, const char *name);
/* ml_ld_stored for the walk in progress: a sibling read before this one. */
int ml_walk_stored(const ml_walk *w, const char *name);

/* Object kinds. |spec| may be NULL or of the wrong type (reported);
 * required fields are checked either way. */
void ml_ld_virtual_service(ml_loader *L, const ynode *spec,
                           ml_virtual_service *vs);
void ml_ld_destination_rule(ml_loader *L, const ynode *spec,
                            ml_destination_rule *dr);
void ml_ld_service_entry(ml_loader *L, const ynode *spec, ml_service_entry *se);
void ml_ld_workload_entry_spec(ml_loader *L, const ynode *spec,
                               ml_workload_entry_spec *we);

#endif
