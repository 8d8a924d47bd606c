/* SPDX-License-Identifier: MIT */
#include "control/events.h"
#include "util/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void ml_config_events_init(ml_config_events *e) {
  memset(e, 0, sizeof(*e));
  pthread_mutex_init(&e->lock, NULL);
  atomic_init(&e->last_applied_version, 0);
  atomic_init(&e->applied_total, 0);
  atomic_init(&e->rejected_total, 0);
}

void ml_config_events_destroy(const ml_mem *mem, ml_config_events *e) {
  ml_free(mem, e->subs);
  ml_free(mem, e->last_rejected_reason);
  pthread_mutex_destroy(&e->lock);
  e->subs = NULL;
  e->last_rejected_reason = NULL;
}

int ml_config_events_add(const ml_mem *mem, ml_config_events *e,
                         const ml_config_sub *s) {
  pthread_mutex_lock(&e->lock);
  ml_config_sub *n = ml_realloc(mem, e->subs, (e->sub_count + 1) * sizeof(*n));
  if (n) {
    e->subs = n;
    n[e->sub_count++] = *s;
  }
  pthread_mutex_unlock(&e->lock);
  return n ? MESHLIB_OK : MESHLIB_ERR_NOMEM;
}

int ml_config_events_remove(ml_config_events *e, const ml_config_sub *s) {
  int found = 0;
  pthread_mutex_lock(&e->lock);
  for (size_t i = 0; i < e->sub_count;) {
    ml_config_sub *x = &e->subs[i];
    if (x->changed == s->changed && x->rejected == s->rejected &&
        x->user_data == s->user_data) {
      memmove(x, x + 1, (e->sub_count - i - 1) * sizeof(*x));
      e->sub_count--;
      found = 1;
    } else {
      i++;
    }
  }
  pthread_mutex_unlock(&e->lock);
  return found ? MESHLIB_OK : MESHLIB_ERR_NOT_FOUND;
}

void ml_config_events_status(const ml_config_events *ce,
                             ml_config_status *out) {
  ml_config_events *e = (ml_config_events *)ce;
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&e->lock);
  out->last_applied_version = atomic_load(&e->last_applied_version);
  out->applied_total = atomic_load(&e->applied_total);
  out->rejected_total = atomic_load(&e->rejected_total);
  out->last_rejected_version = e->last_rejected_version;
  if (e->last_rejected_reason)
    snprintf(out->last_rejected_reason, sizeof(out->last_rejected_reason), "%s",
             e->last_rejected_reason);
  out->last_applied_unix_ms = e->last_applied_unix_ms;
  out->last_rejected_unix_ms = e->last_rejected_unix_ms;
  pthread_mutex_unlock(&e->lock);
}

uint64_t ml_config_events_rejected_total(const ml_config_events *e) {
  return atomic_load(&((ml_config_events *)e)->rejected_total);
}

int ml_config_events_last_rejection(const ml_config_events *ce,
                                    uint64_t *version, char *buf, size_t cap) {
  ml_config_events *e = (ml_config_events *)ce;
  pthread_mutex_lock(&e->lock);
  int found = atomic_load(&e->rejected_total) > 0;
  if (found && version)
    *version = e->last_rejected_version;
  if (found && cap)
    snprintf(buf, cap, "%s",
             e->last_rejected_reason ? e->last_rejected_reason : "");
  pthread_mutex_unlock(&e->lock);
  return found ? MESHLIB_OK : MESHLIB_ERR_NOT_FOUND;
}

void ml_config_rejected(const ml_mem *mem, ml_config_events *e,
                        uint64_t version, const char *reason) {
  char *copy = ml_strdup(mem, reason ? reason : "");
  if (copy) { /* out of memory: the older reason stays */
    ml_free(mem, e->last_rejected_reason);
    e->last_rejected_reason = copy;
  }
  e->last_rejected_version = version;
  e->last_rejected_unix_ms = ml_wall_ms();
  atomic_fetch_add(&e->rejected_total, 1);
  for (size_t i = 0; i < e->sub_count; i++)
    if (e->subs[i].rejected)
      e->subs[i].rejected(version, reason ? reason : "", e->subs[i].user_data);
  pthread_mutex_unlock(&e->lock);
}

void ml_config_report_begin(ml_config_events *e) {
  pthread_mutex_lock(&e->lock);
}

void ml_config_applied_end(ml_config_events *e, uint64_t version) {
  uint64_t old = atomic_load(&e->last_applied_version);
  atomic_store(&e->last_applied_version, version);
  atomic_fetch_add(&e->applied_total, 1);
  e->last_applied_unix_ms = ml_wall_ms();
  for (size_t i = 0; i < e->sub_count; i++)
    if (e->subs[i].changed)
      e->subs[i].changed(old, version, e->subs[i].user_data);
  pthread_mutex_unlock(&e->lock);
}
