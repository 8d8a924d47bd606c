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
int ml_key(const ml_miter *it, const char *name);
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
