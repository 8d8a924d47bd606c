/* SPDX-License-Identifier: MIT */
/* YAML -> typed model: files, directories and strings; libyaml events
 * into a small per-document tree; Kubernetes envelopes (apiVersion, kind,
 * metadata, kind: List) and dispatch to the object kinds. */
#include "config/load_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>
#include "meshlib/error.h"
#include "meshlib/mesh.h"
#include "util/regex.h"
#include "util/str.h"

ml_config *ml_config_new(const ml_mem *mem) {
  ml_config *c = ml_calloc(mem, 1, sizeof(*c));
  if (c)
    ml_arena_init(&c->arena, mem);
  return c;
}

void ml_config_free(ml_config *c) {
  if (!c)
    return;
  const ml_mem *mem = c->arena.mem;
  ml_regex_free_list(mem, c->regexes);
  ml_arena_release(&c->arena);
  ml_free(mem, c);
}

/* ---- events -> tree ---------------------------------------------------- */

typedef struct bslot {
  ynode *node;
  struct bslot *next;
} bslot;

typedef struct bframe {
  ynode *node;
  bslot *head;
  bslot *tail;
  size_t n;
  char *anchor;
} bframe;

typedef struct banchor {
  const char *name;
  ynode *node;
  struct banchor *next;
} banchor;

#define ANCHOR_BUCKETS 256u

typedef struct builder {
  ml_arena tmp; /* the tree of the current document */
  bframe stack[ML_LOAD_MAX_DEPTH + 1];
  size_t depth;
  ynode *root;
  size_t nodes;
  banchor *anchors[ANCHOR_BUCKETS];
} builder;

static unsigned anchor_hash(const char *s) {
  unsigned h = 5381;
  for (; *s; s++)
    h = h * 33u + (unsigned char)*s;
  return h % ANCHOR_BUCKETS;
}

static int anchor_add(builder *b, const char *name, ynode *n) {
  banchor *a = ml_arena_alloc(&b->tmp, sizeof(*a));
  if (!a)
    return -1;
  a->name = name;
  a->node = n;
  unsigned h = anchor_hash(name);
  a->next = b->anchors[h]; /* a redefinition shadows the older one */
  b->anchors[h] = a;
  return 0;
}

static ynode *anchor_find(builder *b, const char *name) {
  for (banchor *a = b->anchors[anchor_hash(name)]; a; a = a->next)
    if (strcmp(a->name, name) == 0)
      return a->node;
  return NULL;
}

static int add_child(builder *b, ynode *n) {
  if (b->depth == 0) {
    b->root = n;
    return 0;
  }
  bframe *f = &b->stack[b->depth - 1];
  bslot *s = ml_arena_alloc(&b->tmp, sizeof(*s));
  if (!s)
    return -1;
  s->node = n;
  if (f->tail)
    f->tail->next = s;
  else
    f->head = s;
  f->tail = s;
  f->n++;
  return 0;
}

static void builder_reset(builder *b, const ml_mem *mem) {
  ml_arena_release(&b->tmp);
  memset(b, 0, sizeof(*b));
  ml_arena_init(&b->tmp, mem);
}

static ynode *new_node(builder *b, ynode_type t, const yaml_mark_t *m) {
  ynode *n = ml_arena_alloc(&b->tmp, sizeof(*n));
  if (!n)
    return NULL;
  n->type = t;
  n->line = (uint32_t)m->line + 1;
  n->column = (uint32_t)m->column + 1;
  b->nodes++;
  return n;
}

/* ---- Kubernetes objects ------------------------------------------------ */

static const char *const kApiVersions[] = {
    "networking.istio.io/v1", "networking.istio.io/v1beta1",
    "networking.istio.io/v1alpha3", NULL};

/* Room for one more element of an arena array; capacity is implicit:
 * 4, then every power of two. */
static void *grow(ml_loader *L, void *arr, size_t n, size_t size) {
  if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
    return arr;
  size_t cap = n ? n * 2 : 4;
  void *na = ml_arena_alloc(L->a, cap * size);
  if (!na) {
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    return NULL;
  }
  if (n)
    memcpy(na, arr, n * size);
  return na;
}

static const char *scalar_or_null(const ynode *n) {
  return (n && n->type == YN_SCALAR && !ml_ld_is_null(n)) ? n->value : NULL;
}

static void set_resource(ml_loader *L, const char *kind, const char *ns,
                         const char *name) {
  snprintf(L->resource, sizeof(L->resource), "%s %s/%s", kind ? kind : "object",
           ns ? ns : "default", name ? name : "");
}

/* An empty namespace keeps the default. */
static int read_namespace(ml_walk *w, const ynode *v, void *dst) {
  const char *ns = NULL;
  if (!ml_ld_str(w->L, v, &ns) || !*ns)
    return 0;
  *(const char **)dst = ns;
  return 1;
}

static const ml_field kMeta[] = {
    MLF_STR("name", ml_meta, name),
    MLF_CUSTOM("namespace", ml_meta, namespace_, read_namespace),
    MLF_KV_MAP("labels", ml_meta, labels),
    /* Everything else (annotations, uid, managedFields, ...) is
     * Kubernetes bookkeeping that does not change routing. */
    MLF_UNUSED("*", ML_F_SKIP), MLF_END};

static void read_meta(ml_loader *L, const ynode *root, const ynode *md,
                      ml_meta *m) {
  size_t mark = ml_ld_push(L, "metadata");
  m->namespace_ = "default";
  m->origin = ml_ld_origin(L, root);
  if (ml_ld_map(L, md))
    ml_ld_walk(L, md, kMeta, m);
  ml_ld_pop(L, mark);
  if (!m->name || !*m->name)
    ml_ld_err(L, md ? md : root, "metadata.name is required");
  L->ns = m->namespace_;
}

/* The top level of an object: spec is read by its kind's loader, the rest
 * was read before. */
typedef struct object_fields {
  const ynode *spec;
} object_fields;

static int keep_node(ml_walk *w, const ynode *v, void *dst) {
  (void)w;
  *(const ynode **)dst = v;
  return 1;
}

static const ml_field kObject[] = {
    MLF_CUSTOM("spec", object_fields, spec, keep_node),
    MLF_UNUSED("apiVersion", ML_F_SKIP),
    MLF_UNUSED("kind", ML_F_SKIP),
    MLF_UNUSED("metadata", ML_F_SKIP),
    MLF_UNUSED("status", ML_F_SKIP),
    MLF_END};

static void load_object(ml_loader *L, const ynode *root, int in_list);

/* The object kinds, in the order of load_object's switches. Each starts
 * with its ml_meta, so one allocation and one copy serve them all. */
static const struct {
  const char *name;
  size_t size;
} kKinds[] = {{"VirtualService", sizeof(ml_virtual_service)},
              {"DestinationRule", sizeof(ml_destination_rule)},
              {"ServiceEntry", sizeof(ml_service_entry)},
              {"WorkloadEntry", sizeof(ml_workload_entry)}};
_Static_assert(offsetof(ml_virtual_service, meta) == 0, "meta first");
_Static_assert(offsetof(ml_destination_rule, meta) == 0, "meta first");
_Static_assert(offsetof(ml_service_entry, meta) == 0, "meta first");
_Static_assert(offsetof(ml_workload_entry, meta) == 0, "meta first");

static void load_list(ml_loader *L, const ynode *root) {
  const ynode *items = ml_ld_get(root, "items");
  size_t mark = ml_ld_push(L, "items");
  if (ml_ld_seq(L, items)) {
    for (size_t i = 0; i < items->count && !L->nomem && !L->limit_hit; i++)
      load_object(L, items->items[i], 1);
  }
  ml_ld_pop(L, mark);
}

static void load_object(ml_loader *L, const ynode *root, int in_list) {
  L->path[0] = '\0';
  L->plen = 0;
  L->ns = NULL;
  L->resource[0] = '\0';
  if (ml_ld_is_null(root))
    return; /* an empty document */
  if (!ml_ld_visit(L, root))
    return;
  if (root->type != YN_MAP) {
    ml_ld_err(L, root,
              "expected a Kubernetes object (a map with apiVersion "
              "and kind)");
    return;
  }
  const char *api = scalar_or_null(ml_ld_get(root, "apiVersion"));
  const char *kind = scalar_or_null(ml_ld_get(root, "kind"));
  const ynode *md = ml_ld_get(root, "metadata");
  const char *name = scalar_or_null(ml_ld_get(md, "name"));
  const char *ns = scalar_or_null(ml_ld_get(md, "namespace"));
  set_resource(L, kind, ns, name);

  if (!kind) {
    ml_ld_err(L, root, "kind is required");
    return;
  }
  if (strcmp(kind, "List") == 0 && !in_list) {
    load_list(L, root);
    return;
  }
  int api_ok = 0;
  for (size_t i = 0; api && kApiVersions[i]; i++)
    api_ok |= strcmp(api, kApiVersions[i]) == 0;
  int k = -1;
  for (int i = 0; i < 4; i++)
    if (strcmp(kind, kKinds[i].name) == 0)
      k = i;
  if (k < 0 || !api_ok) {
    ml_origin o = ml_ld_origin(L, root);
    if (k >= 0 && !api) {
      ml_ld_err(L, root, "apiVersion is required");
      return;
    }
    if (ml_diags_add(L->d, MESHLIB_LEVEL_INFO, ML_CODE_SKIPPED_KIND, &o, NULL,
                     L->resource,
                     "skipped %s %s/%s (apiVersion %s): not a "
                     "networking.istio.io VirtualService, DestinationRule, "
                     "ServiceEntry or WorkloadEntry",
                     kind, ns ? ns : "default", name ? name : "",
                     api ? api : "none"))
      ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    return;
  }

  size_t errors_before = L->d->errors;
  ml_meta meta;
  memset(&meta, 0, sizeof(meta));
  meta.api_version = ml_ld_dup(L, api, strlen(api));
  meta.kind = kKinds[k].name;
  read_meta(L, root, md, &meta);
  set_resource(L, kind, meta.namespace_, meta.name);

  object_fields top = {NULL};
  ml_ld_walk(L, root, kObject, &top);
  const ynode *spec = top.spec;
  L->path[0] = '\0';
  L->plen = 0;
  size_t mark = ml_ld_push(L, "spec");
  L->obj = root;
  void *obj = ml_arena_alloc(L->a, kKinds[k].size);
  if (obj) {
    *(ml_meta *)obj = meta;
    switch (k) {
    case 0:
      ml_ld_virtual_service(L, spec, obj);
      break;
    case 1:
      ml_ld_destination_rule(L, spec, obj);
      break;
    case 2:
      ml_ld_service_entry(L, spec, obj);
      break;
    default:
      ml_ld_workload_entry_spec(L, spec, &((ml_workload_entry *)obj)->spec);
      break;
    }
  }
  ml_ld_pop(L, mark);
  if (!obj) {
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    return;
  }
  /* An object with errors is left out: the caller refuses the load. */
  if (L->d->errors != errors_before || L->nomem)
    return;
  ml_config *c = L->c;
  /* The lists have different element types: one macro keeps them typed. */
#define APPEND(list, count)                                                    \
  do {                                                                         \
    void *grown = grow(L, c->list, c->count, sizeof(*c->list));                \
    if (grown) {                                                               \
      c->list = grown;                                                         \
      c->list[c->count++] = obj;                                               \
    }                                                                          \
  } while (0)
  switch (k) {
  case 0:
    APPEND(virtual_services, vs_count);
    break;
  case 1:
    APPEND(destination_rules, dr_count);
    break;
  case 2:
    APPEND(service_entries, se_count);
    break;
  default:
    APPEND(workload_entries, we_count);
    break;
  }
#undef APPEND
}

/* ---- one input --------------------------------------------------------- */

static void yaml_diag(ml_loader *L, const yaml_mark_t *mark, const char *fmt,
                      ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void yaml_diag(ml_loader *L, const yaml_mark_t *mark, const char *fmt,
                      ...) {
  ml_origin o;
  o.file = L->file;
  o.line = (uint32_t)mark->line + 1;
  o.column = (uint32_t)mark->column + 1;
  va_list ap;
  va_start(ap, fmt);
  if (ml_diags_addv(L->d, MESHLIB_LEVEL_ERROR, ML_CODE_YAML, &o, NULL, NULL,
                    fmt, ap))
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
  va_end(ap);
  ml_ld_fail(L, MESHLIB_ERR_CONFIG_SYNTAX);
}

static void parser_error(ml_loader *L, const yaml_parser_t *p) {
  if (p->error == YAML_MEMORY_ERROR) {
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    return;
  }
  const char *problem = p->problem ? p->problem : "not well-formed YAML";
  if (p->error == YAML_READER_ERROR) {
    yaml_mark_t m = p->problem_mark;
    yaml_diag(L, &m, "%s (byte offset %zu)", problem, p->problem_offset);
  } else if (p->context) {
    yaml_diag(L, &p->problem_mark, "%s %s (line %zu, column %zu)", problem,
              p->context, p->context_mark.line + 1, p->context_mark.column + 1);
  } else {
    yaml_diag(L, &p->problem_mark, "%s", problem);
  }
}

/* Feed one document's tree to the object loader. */
static void finish_document(ml_loader *L, builder *b) {
  L->visits = 0;
  L->copied = 0;
  L->limit_hit = 0;
  load_object(L, b->root, 0);
}

static void load_buffer(ml_loader *L, const char *data, size_t len) {
  yaml_parser_t p;
  yaml_event_t ev;
  builder *b = ml_calloc(L->a->mem, 1, sizeof(*b));
  if (!b) {
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    return;
  }
  ml_arena_init(&b->tmp, L->a->mem);
  if (!yaml_parser_initialize(&p)) {
    ml_free(L->a->mem, b);
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    return;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
  int done = 0;
  while (!done && !L->nomem) {
    if (!yaml_parser_parse(&p, &ev)) {
      parser_error(L, &p);
      break;
    }
    int stop = 0;
    const yaml_mark_t *m = &ev.start_mark;
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = 1;
      break;
    case YAML_DOCUMENT_START_EVENT:
      builder_reset(b, L->a->mem);
      break;
    case YAML_DOCUMENT_END_EVENT:
      finish_document(L, b);
      builder_reset(b, L->a->mem);
      break;
    case YAML_ALIAS_EVENT: {
      ynode *n = anchor_find(b, (const char *)ev.data.alias.anchor);
      if (!n) {
        yaml_diag(L, m, "alias \"*%s\" refers to no complete anchor",
                  (const char *)ev.data.alias.anchor);
        stop = 1;
      } else if (++b->nodes > ML_LOAD_MAX_NODES) {
        yaml_diag(L, m, "document has more than %u nodes", ML_LOAD_MAX_NODES);
        stop = 1;
      } else if (add_child(b, n)) {
        ml_ld_fail(L, MESHLIB_ERR_NOMEM);
      }
      break;
    }
    case YAML_SCALAR_EVENT:
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      ynode_type t = ev.type == YAML_SCALAR_EVENT           ? YN_SCALAR
                     : ev.type == YAML_SEQUENCE_START_EVENT ? YN_SEQ
                                                            : YN_MAP;
      if (b->nodes >= ML_LOAD_MAX_NODES) {
        yaml_diag(L, m, "document has more than %u nodes", ML_LOAD_MAX_NODES);
        stop = 1;
        break;
      }
      ynode *n = new_node(b, t, m);
      if (!n) {
        ml_ld_fail(L, MESHLIB_ERR_NOMEM);
        break;
      }
      if (t == YN_SCALAR) {
        const yaml_char_t *anchor = ev.data.scalar.anchor;
        n->len = ev.data.scalar.length;
        n->value = ml_arena_strndup(&b->tmp, (const char *)ev.data.scalar.value,
                                    n->len);
        n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        char *aname =
            anchor ? ml_arena_strdup(&b->tmp, (const char *)anchor) : NULL;
        if (!n->value || (anchor && !aname) || add_child(b, n) ||
            (aname && anchor_add(b, aname, n)))
          ml_ld_fail(L, MESHLIB_ERR_NOMEM);
        break;
      }
      if (b->depth >= ML_LOAD_MAX_DEPTH) {
        yaml_diag(L, m, "nesting deeper than %u levels", ML_LOAD_MAX_DEPTH);
        stop = 1;
        break;
      }
      const yaml_char_t *anchor = t == YN_SEQ ? ev.data.sequence_start.anchor
                                              : ev.data.mapping_start.anchor;
      bframe *f = &b->stack[b->depth++];
      memset(f, 0, sizeof(*f));
      f->node = n;
      if (anchor) {
        f->anchor = ml_arena_strdup(&b->tmp, (const char *)anchor);
        if (!f->anchor)
          ml_ld_fail(L, MESHLIB_ERR_NOMEM);
      }
      break;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
      if (b->depth == 0)
        break;
      bframe *f = &b->stack[--b->depth];
      ynode *n = f->node;
      n->items = ml_arena_alloc(&b->tmp, (f->n + 1) * sizeof(*n->items));
      if (!n->items) {
        ml_ld_fail(L, MESHLIB_ERR_NOMEM);
        break;
      }
      size_t i = 0;
      for (bslot *s = f->head; s; s = s->next)
        n->items[i++] = s->node;
      n->count = n->type == YN_MAP ? f->n / 2 : f->n;
      /* Anchors become visible when complete: no cycles. */
      if (add_child(b, n) || (f->anchor && anchor_add(b, f->anchor, n)))
        ml_ld_fail(L, MESHLIB_ERR_NOMEM);
      break;
    }
    default:
      break;
    }
    yaml_event_delete(&ev);
    if (stop)
      break;
  }
  yaml_parser_delete(&p);
  ml_arena_release(&b->tmp);
  ml_free(L->a->mem, b);
}

/* ---- entry points ------------------------------------------------------ */

static void loader_init(ml_loader *L, ml_config *c, const ml_load_opts *o,
                        ml_diags *d) {
  static const ml_load_opts defaults = {"cluster.local", 0};
  memset(L, 0, sizeof(*L));
  L->c = c;
  L->a = &c->arena;
  L->o = o ? o : &defaults;
  L->d = d;
}

static int set_file(ml_loader *L, const char *name) {
  L->file = ml_arena_strdup(L->a, name);
  if (!L->file) {
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    return -1;
  }
  return 0;
}

static int finish(ml_loader *L) {
  if (L->nomem || L->d->oom)
    return MESHLIB_ERR_NOMEM;
  return L->rc;
}

int ml_config_load_string(ml_config *c, const char *name, const char *data,
                          size_t len, const ml_load_opts *o, ml_diags *d) {
  ml_loader L;
  if (!c || !d || (!data && len))
    return MESHLIB_ERR_INVALID_ARG;
  loader_init(&L, c, o, d);
  if (set_file(&L, name ? name : "<string>"))
    return finish(&L);
  if (len > ML_LOAD_MAX_BYTES) {
    ml_origin org = {L.file, 0, 0};
    if (ml_diags_add(d, MESHLIB_LEVEL_ERROR, ML_CODE_IO, &org, NULL, NULL,
                     "input is larger than %zu MiB", ML_LOAD_MAX_BYTES >> 20))
      ml_ld_fail(&L, MESHLIB_ERR_NOMEM);
    ml_ld_fail(&L, MESHLIB_ERR_CONFIG_IO);
    return finish(&L);
  }
  load_buffer(&L, data ? data : "", len);
  return finish(&L);
}

static void io_error(ml_loader *L, const char *path, const char *what,
                     int err) {
  char buf[128];
  ml_origin o = {path, 0, 0};
  if (strerror_r(err, buf, sizeof(buf)))
    snprintf(buf, sizeof(buf), "error %d", err);
  if (ml_diags_add(L->d, MESHLIB_LEVEL_ERROR, ML_CODE_IO, &o, NULL, NULL,
                   "%s: %s", what, buf))
    ml_ld_fail(L, MESHLIB_ERR_NOMEM);
  ml_ld_fail(L, MESHLIB_ERR_CONFIG_IO);
}

static void load_file(ml_loader *L, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    io_error(L, path, "cannot open", errno);
    return;
  }
  ml_buf b;
  ml_buf_init(&b, L->a->mem);
  char chunk[16384];
  size_t n;
  int too_big = 0;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (b.len + n > ML_LOAD_MAX_BYTES) {
      too_big = 1;
      break;
    }
    if (ml_buf_append(&b, chunk, n)) {
      ml_ld_fail(L, MESHLIB_ERR_NOMEM);
      break;
    }
  }
  int err = ferror(f) ? errno : 0;
  fclose(f);
  if (err) {
    io_error(L, path, "cannot read", err);
  } else if (too_big) {
    ml_origin o = {path, 0, 0};
    if (ml_diags_add(L->d, MESHLIB_LEVEL_ERROR, ML_CODE_IO, &o, NULL, NULL,
                     "file is larger than %zu MiB", ML_LOAD_MAX_BYTES >> 20))
      ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    ml_ld_fail(L, MESHLIB_ERR_CONFIG_IO);
  } else if (!L->nomem && set_file(L, path) == 0) {
    load_buffer(L, b.data ? b.data : "", b.len);
  }
  ml_buf_free(&b);
}

/* Hidden names are skipped: Kubernetes' "..data" and "..2024_..." entries
 * of a mounted ConfigMap are hidden. */
static int wanted_name(const char *name) {
  if (name[0] == '.')
    return 0;
  return ml_ends_with(name, ".yaml") || ml_ends_with(name, ".yml") ||
         ml_ends_with(name, ".json");
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ml_config_dir_each(const ml_mem *mem, const char *path,
                       int (*cb)(const char *file, void *ud), void *ud) {
  DIR *dir = opendir(path);
  if (!dir)
    return -1;
  char **names = NULL;
  size_t count = 0, cap = 0;
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(dir)) != NULL) {
    if (!wanted_name(e->d_name))
      continue;
    if (count == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      char **nn = ml_realloc(mem, names, ncap * sizeof(*nn));
      if (!nn) {
        rc = -1;
        break;
      }
      names = nn;
      cap = ncap;
    }
    if (!(names[count] = ml_strdup(mem, e->d_name)))
      rc = -1;
    else
      count++;
  }
  closedir(dir);
  if (rc == 0 && count)
    qsort(names, count, sizeof(*names), cmp_names);
  size_t plen = strlen(path);
  int slash = plen > 0 && path[plen - 1] == '/';
  for (size_t i = 0; rc == 0 && i < count; i++) {
    ml_buf full;
    ml_buf_init(&full, mem);
    ml_buf_puts(&full, path);
    if (!slash)
      ml_buf_putc(&full, '/');
    ml_buf_puts(&full, names[i]);
    struct stat st;
    if (full.oom)
      rc = -1;
    else if (stat(full.data, &st) == 0 && S_ISREG(st.st_mode))
      rc = cb(full.data, ud);
    ml_buf_free(&full);
  }
  for (size_t i = 0; i < count; i++)
    ml_free(mem, names[i]);
  ml_free(mem, names);
  if (rc < 0)
    errno = ENOMEM;
  return rc;
}

static int load_dir_file(const char *file, void *ud) {
  ml_loader *L = ud;
  load_file(L, file);
  return L->nomem ? 1 : 0;
}

static void load_dir(ml_loader *L, const char *path) {
  errno = 0;
  if (ml_config_dir_each(L->a->mem, path, load_dir_file, L) < 0) {
    if (errno == ENOMEM)
      ml_ld_fail(L, MESHLIB_ERR_NOMEM);
    else
      io_error(L, path, "cannot open directory", errno);
  }
}

int ml_config_load_path(ml_config *c, const char *path, const ml_load_opts *o,
                        ml_diags *d) {
  ml_loader L;
  struct stat st;
  if (!c || !path || !d)
    return MESHLIB_ERR_INVALID_ARG;
  loader_init(&L, c, o, d);
  if (stat(path, &st) != 0)
    io_error(&L, path, "cannot read", errno);
  else if (S_ISDIR(st.st_mode))
    load_dir(&L, path);
  else
    load_file(&L, path);
  return finish(&L);
}
