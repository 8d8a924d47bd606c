/* SPDX-License-Identifier: MIT */
/* Following file sources. inotify watches directories, never files: a
 * file replaced by a rename (editors, `kubectl cp`, a ConfigMap's `..data`
 * symlink swap) is a new inode that a watch on the old one would miss.
 * So a file source is followed through its directory (events on its name,
 * or on the ConfigMap's hidden "..*" entries), and also through the
 * directory of the file it resolves to when it is a symlink elsewhere; a
 * directory source through itself and its parent (to see it come back
 * after a deletion). Any event only schedules a re-read: the content
 * decides whether anything changed. Watches are refreshed before each
 * reload, as directories come and go; a source left with no watch (its
 * directory deleted, or not there yet) is polled until it has one. */
#define _XOPEN_SOURCE 700 /* realpath() */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include "control/control.h"
#include "util/str.h"

#define WATCH_MASK                                                             \
  (IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE |            \
   IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* The directory part of |path| into |buf| ("." when none). */
static void dir_name(const char *path, char *buf, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(buf, cap, ".");
  else if (slash == path)
    snprintf(buf, cap, "/");
  else
    snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

static void add_watch(ml_control *c, const char *dir, size_t source,
                      const char *base) {
  int wd = inotify_add_watch(c->ifd, dir, WATCH_MASK | IN_ONLYDIR);
  if (wd < 0)
    return; /* not there (yet): the parent's watch or a reload retries */
  for (size_t i = 0; i < c->watch_count; i++) {
    ml_ctl_watch *w = &c->watches[i];
    if (w->wd == wd && w->source == source &&
        ((!w->base && !base) || (w->base && base && !strcmp(w->base, base))))
      return;
  }
  ml_ctl_watch *n =
      ml_realloc(c->mem, c->watches, (c->watch_count + 1) * sizeof(*n));
  if (!n)
    return;
  c->watches = n;
  n[c->watch_count].wd = wd;
  n[c->watch_count].source = source;
  n[c->watch_count].base = base ? ml_strdup(c->mem, base) : NULL;
  c->watch_count++;
}

static void watch_path(ml_control *c, size_t i, const char *path) {
  char dir[PATH_MAX];
  struct stat st;
  int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
  if (is_dir)
    add_watch(c, path, i, NULL);
  /* The parent sees the source replaced, deleted and created again. */
  dir_name(path, dir, sizeof(dir));
  add_watch(c, dir, i, base_name(path));
  /* A symlink elsewhere: the directory of what it points to. */
  char *real = realpath(path, NULL);
  if (real) {
    if (strcmp(real, path) != 0) {
      if (is_dir) {
        add_watch(c, real, i, NULL);
      } else {
        dir_name(real, dir, sizeof(dir));
        add_watch(c, dir, i, base_name(real));
      }
    }
    free(real); /* realpath() allocates with malloc */
  }
}

void ml_ctl_watch_refresh(ml_control *c) {
  if (c->o.watch == MESHLIB_WATCH_OFF)
    return;
  if (c->o.watch == MESHLIB_WATCH_AUTO && c->ifd < 0 && !c->watch_count) {
    c->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (c->ifd < 0) {
      ml_ctl_log(c, MESHLIB_LEVEL_WARNING,
                 "config: inotify unavailable (%s); polling every %lld ms",
                 strerror(errno), (long long)c->o.poll_ms);
      c->o.watch = MESHLIB_WATCH_POLL;
    }
  }
  for (size_t i = 0; i < c->count; i++) {
    ml_ctl_source *s = &c->src[i];
    if (s->kind != ML_CTL_PATH)
      continue;
    if (c->ifd >= 0)
      watch_path(c, i, s->where);
    else
      s->poll_sig = ml_ctl_path_signature(s->where);
  }
}

int ml_ctl_watched(const ml_control *c, size_t source) {
  for (size_t i = 0; i < c->watch_count; i++)
    if (c->watches[i].source == source)
      return 1;
  return 0;
}

/* Forget the watches of a directory the kernel no longer watches. */
static void drop_wd(ml_control *c, int wd) {
  for (size_t i = 0; i < c->watch_count;) {
    if (c->watches[i].wd == wd) {
      ml_free(c->mem, c->watches[i].base);
      c->watches[i] = c->watches[--c->watch_count];
    } else {
      i++;
    }
  }
}

static int concerns(const ml_ctl_watch *w, const struct inotify_event *ev) {
  if (!w->base || !ev->len || (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)))
    return 1;
  return strcmp(ev->name, w->base) == 0 || ml_starts_with(ev->name, "..");
}

int ml_ctl_watch_drain(ml_control *c) {
  if (c->ifd < 0)
    return 0;
  int hit = 0;
  /* Aligned as inotify(7) asks. */
  char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t n = read(c->ifd, buf, sizeof(buf));
    if (n <= 0)
      break;
    for (char *p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      if (ev->mask & IN_Q_OVERFLOW)
        hit = 1; /* events were lost: read everything again */
      for (size_t i = 0; i < c->watch_count; i++)
        if (c->watches[i].wd == ev->wd && concerns(&c->watches[i], ev))
          hit = 1;
      if (ev->mask & IN_IGNORED)
        drop_wd(c, ev->wd);
      p += sizeof(*ev) + ev->len;
    }
  }
  return hit;
}

void ml_ctl_watch_close(ml_control *c) {
  if (c->ifd >= 0)
    close(c->ifd);
  c->ifd = -1;
  for (size_t i = 0; i < c->watch_count; i++)
    ml_free(c->mem, c->watches[i].base);
  ml_free(c->mem, c->watches);
  c->watches = NULL;
  c->watch_count = 0;
}

static uint64_t mix_stat(uint64_t h, const struct stat *st) {
  uint64_t v[5] = {(uint64_t)st->st_ino, (uint64_t)st->st_size,
                   (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec,
                   (uint64_t)st->st_ctim.tv_nsec ^ (uint64_t)st->st_dev};
  for (int i = 0; i < 5; i++)
    h = (h ^ v[i]) * 0x100000001b3ull;
  return h;
}

uint64_t ml_ctl_path_signature(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return (uint64_t)errno;
  uint64_t h = mix_stat(0xcbf29ce484222325ull, &st);
  if (!S_ISDIR(st.st_mode))
    return h;
  /* A directory: its entries (names, and what they resolve to). The
   * directory's own times change when entries come and go. */
  DIR *d = opendir(path);
  if (!d)
    return h;
  struct dirent *e;
  char full[PATH_MAX];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
    /* Entries come in no fixed order: combine them order-free. */
    uint64_t eh = ml_hash(e->d_name, strlen(e->d_name));
    if (stat(full, &st) == 0)
      eh = mix_stat(eh, &st);
    h += eh * 0x9e3779b97f4a7c15ull;
  }
  closedir(d);
  return h;
}
