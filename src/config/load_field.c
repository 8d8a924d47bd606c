/* SPDX-License-Identifier: MIT */
/* The field-table walker: one loop over a YAML map for every Istio
 * message, dispatching each key to its row (load_internal.h). */
#include "config/load_internal.h"

#include <assert.h>
#include <string.h>

static const ml_field *find_row(const ml_field *fields, const char *key) {
  const ml_field *any = NULL;
  for (const ml_field *f = fields; f->name; f++) {
    if (strcmp(f->name, key) == 0)
      return f;
    if (strcmp(f->name, "*") == 0)
      any = f;
  }
  return any;
}

static int read_tri(ml_loader *L, const ynode *v, int *dst) {
  int b;
  if (!ml_ld_bool(L, v, &b))
    return 0;
  *dst = b ? ML_TRI_TRUE : ML_TRI_FALSE;
  return 1;
}

static int read_i32(ml_loader *L, const ynode *v, const ml_field *f,
                    int32_t *dst) {
  int64_t x;
  if (!ml_ld_int(L, v, f->min, f->max, &x))
    return 0;
  *dst = (int32_t)x;
  return 1;
}

static int read_enum_name(ml_loader *L, const ynode *v,
                          const char *const *names, const char **dst) {
  int i;
  if (!ml_ld_enum(L, v, names, &i))
    return 0;
  *dst = names[i];
  return 1;
}

static int read_object(ml_loader *L, const ynode *v, const ml_field *fields,
                       void *dst) {
  if (!ml_ld_map(L, v))
    return 0;
  ml_ld_walk(L, v, fields, dst);
  return 1;
}

/* The array's type is the member's: store the pointer bytewise. */
static int read_list(ml_loader *L, const ynode *v, const ml_field *f,
                     char *obj) {
  void *items = ml_ld_array(L, v, f->item_size, f->item,
                            (size_t *)(void *)(obj + f->count_offset));
  memcpy(obj + f->offset, &items, sizeof(items));
  return items != NULL;
}

static int read_unused(ml_loader *L, const ynode *v, ml_field_kind kind) {
  int64_t ms;
  double x;
  switch (kind) {
  case ML_F_UNUSED_MAP:
    return ml_ld_map(L, v);
  case ML_F_UNUSED_LIST:
    return ml_ld_seq(L, v);
  case ML_F_UNUSED_DURATION:
    return ml_ld_duration(L, v, &ms);
  default:
    return ml_ld_double(L, v, &x);
  }
}

static int read_row(ml_walk *w, const ml_field *f, const ynode *v) {
  ml_loader *L = w->L;
  char *obj = w->obj;
  void *dst = obj + f->offset;
  switch (f->kind) {
  case ML_F_STR:
    return ml_ld_str(L, v, dst);
  case ML_F_STR_LIST:
    return ml_ld_str_list(L, v, dst);
  case ML_F_KV_MAP:
    return ml_ld_kv_map(L, v, dst);
  case ML_F_INT:
    return ml_ld_int(L, v, f->min, f->max, dst);
  case ML_F_I32:
    return read_i32(L, v, f, dst);
  case ML_F_U32:
    return ml_ld_u32(L, v, (uint32_t)f->min, (uint32_t)f->max, dst);
  case ML_F_BOOL:
    return ml_ld_bool(L, v, dst);
  case ML_F_TRI:
    return read_tri(L, v, dst);
  case ML_F_DURATION:
    return ml_ld_duration_checked(L, v, f->flags, dst);
  case ML_F_ENUM:
    return ml_ld_enum(L, v, f->names, dst);
  case ML_F_ENUM_NAME:
    return read_enum_name(L, v, f->names, dst);
  case ML_F_PERCENT:
    return ml_ld_percent(L, v, dst);
  case ML_F_PORT:
    return ml_ld_port_selector(L, v, dst);
  case ML_F_MATCH:
    return ml_ld_string_match(L, v, f->flags, dst);
  case ML_F_OBJECT:
    return read_object(L, v, f->fields, dst);
  case ML_F_LIST:
    return read_list(L, v, f, obj);
  case ML_F_SKIP:
    return 0;
  case ML_F_CUSTOM:
    return f->read(w, v, dst);
  default:
    return read_unused(L, v, f->kind);
  }
}

uint64_t ml_ld_walk(ml_loader *L, const ynode *map, const ml_field *fields,
                    void *obj) {
  ml_walk w;
  w.L = L;
  w.fields = fields;
  w.obj = obj;
  w.stored = 0;
  ml_miter_init(L, &w.it, map);
  while (ml_miter_next(L, &w.it)) {
    const ml_field *f = find_row(fields, w.it.key);
    if (!f) {
      ml_ld_unknown(L, &w.it);
      continue;
    }
    size_t row = (size_t)(f - fields);
    assert(row < 64);
    if (read_row(&w, f, w.it.v))
      w.stored |= (uint64_t)1 << row;
  }
  return w.stored;
}

int ml_ld_stored(const ml_field *fields, uint64_t stored, const char *name) {
  size_t i = 0;
  while (fields[i].name && strcmp(fields[i].name, name) != 0)
    i++;
  assert(fields[i].name != NULL); /* a name that is no row is a typo */
  return fields[i].name ? (int)((stored >> i) & 1u) : 0;
}

int ml_walk_stored(const ml_walk *w, const char *name) {
  return ml_ld_stored(w->fields, w->stored, name);
}
