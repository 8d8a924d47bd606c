/* SPDX-License-Identifier: MIT */
/* A source's content, and the config composed from every source. Files
 * are read into memory here (the same files, in the same order, that the
 * loader would read) so that a change is detected by content: an event
 * that changes nothing (a touch, a ConfigMap swap to equal data) applies
 * nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "control/control.h"
#include "util/str.h"

void ml_ctl_content_free(const ml_mem *mem, ml_ctl_content *c) {
  for (size_t i = 0; i < c->count; i++) {
    ml_free(mem, c->files[i].name);
    ml_free(mem, c->files[i].data);
  }
  ml_free(mem, c->files);
  memset(c, 0, sizeof(*c));
}

static int add_file(const ml_mem *mem, ml_ctl_content *c, const char *name,
                    char *data, size_t len) {
  ml_ctl_file *n = ml_realloc(mem, c->files, (c->count + 1) * sizeof(*n));
  char *copy = ml_strdup(mem, name);
  if (!n || !copy) {
    if (n)
      c->files = n;
    ml_free(mem, copy);
    ml_free(mem, data);
    return MESHLIB_ERR_NOMEM;
  }
  c->files = n;
  n[c->count++] = (ml_ctl_file){copy, data, len};
  return MESHLIB_OK;
}

static void content_hash(ml_ctl_content *c) {
  uint64_t h = c->io_error ? 0x10e5u : 0x5eedu;
  for (size_t i = 0; i < c->count; i++) {
    h = h * 0x100000001b3ull ^
        ml_hash(c->files[i].name, strlen(c->files[i].name));
    h = h * 0x100000001b3ull ^ ml_hash(c->files[i].data, c->files[i].len);
  }
  c->hash = h;
}

int ml_ctl_content_text(const ml_mem *mem, const char *name, const char *data,
                        size_t len, ml_ctl_content *out) {
  memset(out, 0, sizeof(*out));
  char *copy = ml_strndup(mem, data ? data : "", len);
  if (!copy)
    return MESHLIB_ERR_NOMEM;
  int rc = add_file(mem, out, name, copy, len);
  content_hash(out);
  return rc;
}

/* The whole file, or -1 with errno. */
static int read_all(const ml_mem *mem, const char *path, char **out,
                    size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  ml_buf b;
  ml_buf_init(&b, mem);
  char chunk[16384];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    if (ml_buf_append(&b, chunk, n))
      break;
  int err = ferror(f) ? errno : 0;
  fclose(f);
  if (err || b.oom) {
    ml_buf_free(&b);
    errno = err ? err : ENOMEM;
    return -1;
  }
  *len = b.len;
  *out = b.data ? ml_buf_steal(&b) : ml_strdup(mem, "");
  return *out ? 0 : -1;
}

typedef struct dir_read {
  const ml_mem *mem;
  ml_ctl_content *out;
  int rc;
} dir_read;

static int read_dir_file(const char *file, void *ud) {
  dir_read *d = ud;
  char *data;
  size_t len;
  /* A file that vanished between the listing and now is gone. */
  if (read_all(d->mem, file, &data, &len) == 0)
    d->rc = add_file(d->mem, d->out, file, data, len);
  else if (errno == ENOMEM)
    d->rc = MESHLIB_ERR_NOMEM;
  else if (errno != ENOENT)
    d->out->io_error = errno;
  return d->rc != MESHLIB_OK;
}

/* The files the loader would read, in its order (ml_config_dir_each). */
static int read_dir(const ml_mem *mem, const char *path, ml_ctl_content *out) {
  dir_read d = {mem, out, MESHLIB_OK};
  errno = 0;
  if (ml_config_dir_each(mem, path, read_dir_file, &d) < 0) {
    if (errno == ENOMEM)
      return MESHLIB_ERR_NOMEM;
    out->io_error = errno ? errno : EIO;
  }
  return d.rc;
}

int ml_ctl_read_path(const ml_mem *mem, const char *path, ml_ctl_content *out) {
  memset(out, 0, sizeof(*out));
  struct stat st;
  int rc = MESHLIB_OK;
  if (stat(path, &st) != 0) {
    out->io_error = errno ? errno : EIO;
  } else if (S_ISDIR(st.st_mode)) {
    rc = read_dir(mem, path, out);
  } else {
    char *data;
    size_t len;
    if (read_all(mem, path, &data, &len) == 0)
      rc = add_file(mem, out, path, data, len);
    else if (errno == ENOMEM)
      rc = MESHLIB_ERR_NOMEM;
    else
      out->io_error = errno ? errno : EIO;
  }
  if (rc != MESHLIB_OK)
    ml_ctl_content_free(mem, out);
  content_hash(out);
  return rc;
}

/* A later definition of an object (kind, namespace, name) replaces the
 * earlier ones, as `kubectl apply` of the sources in turn would: only each
 * object's last definition is kept (one array per kind). */
static uint64_t meta_key(const ml_meta *m) {
  const char *ns = m->namespace_ ? m->namespace_ : "";
  const char *name = m->name ? m->name : "";
  return ml_hash(ns, strlen(ns)) * 0x100000001b3ull ^
         ml_hash(name, strlen(name));
}

static int same_object(const ml_meta *a, const ml_meta *b) {
  return strcmp(a->name ? a->name : "", b->name ? b->name : "") == 0 &&
         strcmp(a->namespace_ ? a->namespace_ : "",
                b->namespace_ ? b->namespace_ : "") == 0;
}

static size_t dedupe(const ml_mem *mem, void **items, size_t n) {
  uint64_t *keys = n > 1 ? ml_malloc(mem, n * sizeof(*keys)) : NULL;
  if (!keys)
    return n; /* nothing to do, or no memory: keep all */
  for (size_t i = 0; i < n; i++)
    keys[i] = meta_key(items[i]); /* every object starts with its meta */
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    int later = 0;
    for (size_t j = i + 1; j < n && !later; j++)
      later = keys[j] == keys[i] && same_object(items[i], items[j]);
    if (!later) {
      keys[kept] = keys[i];
      items[kept++] = items[i];
    }
  }
  ml_free(mem, keys);
  return kept;
}

static size_t dedupe_config(const ml_mem *mem, ml_config *c) {
  size_t before = c->vs_count + c->dr_count + c->se_count + c->we_count;
  c->vs_count = dedupe(mem, (void **)c->virtual_services, c->vs_count);
  c->dr_count = dedupe(mem, (void **)c->destination_rules, c->dr_count);
  c->se_count = dedupe(mem, (void **)c->service_entries, c->se_count);
  c->we_count = dedupe(mem, (void **)c->workload_entries, c->we_count);
  return before - (c->vs_count + c->dr_count + c->se_count + c->we_count);
}

/* A config composed from sources, as meshlib_config builds one: the
 * objects, the loader's diagnostics and the first load error. */
typedef struct ml_ctl_build {
  ml_config *config;
  ml_diags diags;
  int first_error;
} ml_ctl_build;

static int build_init(const ml_control *c, ml_ctl_build *b) {
  memset(b, 0, sizeof(*b));
  b->config = ml_config_new(c->mem);
  if (!b->config)
    return MESHLIB_ERR_NOMEM;
  ml_diags_init(&b->diags, c->mem);
  b->first_error = MESHLIB_OK;
  return MESHLIB_OK;
}

static void build_free(ml_ctl_build *b) {
  ml_config_free(b->config);
  ml_diags_free(&b->diags);
}

static int build_ok(const ml_ctl_build *b) {
  return b->first_error == MESHLIB_OK && !b->diags.errors;
}

static void note(ml_ctl_build *b, int rc) {
  if (rc != MESHLIB_OK && b->first_error == MESHLIB_OK)
    b->first_error = rc;
}

static void add_content(const ml_control *c, ml_ctl_build *b,
                        const ml_ctl_source *s, const ml_ctl_content *content) {
  if (content->io_error && s->kind == ML_CTL_PATH) {
    /* The loader reports the same failure with its own words. */
    note(b, ml_config_load_path(b->config, s->where, &c->host.load, &b->diags));
    return;
  }
  for (size_t k = 0; k < content->count; k++)
    note(b, ml_config_load_string(b->config, content->files[k].name,
                                  content->files[k].data, content->files[k].len,
                                  &c->host.load, &b->diags));
}

/* Compose and apply: source i's content is use[i] (NULL: none). */
static int compose_apply(ml_control *c, const ml_ctl_content *const *use,
                         char *err, size_t cap) {
  ml_ctl_build b;
  int rc = build_init(c, &b);
  if (rc != MESHLIB_OK) {
    snprintf(err, cap, "%s", meshlib_strerror(rc));
    return rc;
  }
  for (size_t i = 0; i < c->count; i++)
    if (use[i])
      add_content(c, &b, &c->src[i], use[i]);
  if (build_ok(&b)) {
    size_t dropped = dedupe_config(c->mem, b.config);
    if (dropped)
      ml_ctl_log(c, MESHLIB_LEVEL_DEBUG,
                 "config: %zu object(s) replaced by a later definition",
                 dropped);
  }
  ml_config *config = b.config;
  b.config = NULL;
  rc = c->host.apply(c->host.user_data, config, b.first_error, &b.diags);
  /* The reason: meshlib_config_errmsg()'s, else the code's. */
  const struct meshlib_diag *e = ml_diags_first_error(&b.diags);
  if (rc == MESHLIB_OK)
    err[0] = '\0';
  else if (e)
    snprintf(err, cap, "%s", e->text);
  else
    snprintf(
        err, cap, "%s",
        meshlib_strerror(b.first_error != MESHLIB_OK ? b.first_error : rc));
  build_free(&b);
  return rc;
}

/* Something to apply for source |s|: an endpoint that gave nothing yet
 * has nothing. */
static int has_content(const ml_ctl_source *s, const ml_ctl_content *cand) {
  return cand->count || cand->io_error || s->kind != ML_CTL_URL;
}

/* |cand| (taken) becomes |s|'s good content. */
static void adopt(ml_control *c, ml_ctl_source *s, ml_ctl_content *cand) {
  ml_ctl_content_free(c->mem, &s->good);
  s->seen_hash = cand->hash;
  s->has_seen = 1;
  s->good = *cand;
  s->has_good = 1;
  memset(cand, 0, sizeof(*cand));
}

int ml_ctl_apply(ml_control *c, size_t i, ml_ctl_content *cand, char *err,
                 size_t cap) {
  const ml_ctl_content **use = ml_calloc(c->mem, c->count, sizeof(*use));
  if (!use) {
    if (cand)
      ml_ctl_content_free(c->mem, cand);
    snprintf(err, cap, "%s", meshlib_strerror(MESHLIB_ERR_NOMEM));
    return MESHLIB_ERR_NOMEM;
  }
  for (size_t k = 0; k < c->count; k++)
    use[k] = c->src[k].has_good ? &c->src[k].good : NULL;
  if (cand)
    use[i] = cand;
  int rc = compose_apply(c, use, err, cap);
  ml_free(c->mem, use);
  if (!cand)
    return rc;
  ml_ctl_source *s = &c->src[i];
  if (rc == MESHLIB_OK) {
    adopt(c, s, cand);
  } else {
    s->seen_hash = cand->hash;
    s->has_seen = 1;
    ml_ctl_content_free(c->mem, cand);
  }
  return rc;
}

int ml_ctl_apply_all(ml_control *c, ml_ctl_content *cands, char *err,
                     size_t cap) {
  const ml_ctl_content **use = ml_calloc(c->mem, c->count, sizeof(*use));
  if (!use)
    return MESHLIB_ERR_NOMEM;
  for (size_t k = 0; k < c->count; k++)
    use[k] = has_content(&c->src[k], &cands[k]) ? &cands[k] : NULL;
  int rc = compose_apply(c, use, err, cap);
  for (size_t k = 0; rc == MESHLIB_OK && k < c->count; k++)
    if (use[k])
      adopt(c, &c->src[k], &cands[k]);
  ml_free(c->mem, use);
  return rc; /* rejected: the caller still holds |cands| */
}

static int content_valid(ml_control *c, size_t i, const ml_ctl_content *cand) {
  ml_ctl_build b;
  if (build_init(c, &b) != MESHLIB_OK)
    return 0;
  add_content(c, &b, &c->src[i], cand);
  int ok = build_ok(&b);
  build_free(&b);
  return ok;
}

int ml_ctl_apply_valid(ml_control *c, ml_ctl_content *cands) {
  int any = 0;
  for (size_t k = 0; k < c->count; k++) {
    ml_ctl_source *s = &c->src[k];
    if (has_content(s, &cands[k]) && !content_valid(c, k, &cands[k])) {
      /* Left out (empty), and already reported: wait for a fix. */
      uint64_t bad = cands[k].hash;
      ml_ctl_content_free(c->mem, &cands[k]);
      cands[k].hash = s->seen_hash = bad;
      s->has_seen = 1;
    }
    any |= cands[k].count || cands[k].io_error;
  }
  char err[1024];
  return any ? ml_ctl_apply_all(c, cands, err, sizeof(err)) : MESHLIB_OK;
}

int ml_ctl_reload_path(ml_control *c, size_t i) {
  ml_ctl_source *s = &c->src[i];
  ml_ctl_content cand;
  int rc = ml_ctl_read_path(c->mem, s->where, &cand);
  if (rc != MESHLIB_OK)
    return rc;
  if (s->has_seen && cand.hash == s->seen_hash) {
    ml_ctl_content_free(c->mem, &cand);
    return MESHLIB_OK;
  }
  char err[1024];
  rc = ml_ctl_apply(c, i, &cand, err, sizeof(err));
  if (rc != MESHLIB_OK)
    ml_ctl_log(c, MESHLIB_LEVEL_WARNING,
               "config: %s changed; rejected, its last good content stays",
               s->where);
  return rc;
}
