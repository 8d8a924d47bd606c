/* SPDX-License-Identifier: MIT */
#ifndef ML_CONTROL_EVENTS_H
#define ML_CONTROL_EVENTS_H

/* The record of applied and rejected configs, and their subscribers. Part
 * of struct meshlib (m->events); meshlib_config_apply() feeds it, and the
 * mesh's public calls (meshlib_on_config() ...) read it through these. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "meshlib/control.h"
#include "meshlib/error.h"
#include "util/mem.h"

typedef struct ml_config_sub {
  meshlib_config_change_cb changed;
  meshlib_config_reject_cb rejected;
  void *user_data;
} ml_config_sub;

typedef struct ml_config_events {
  /* Guards everything below but the atomics, and delivery: callbacks run
   * one at a time, in version order. */
  pthread_mutex_t lock;
  ml_config_sub *subs;
  size_t sub_count;
  _Atomic uint64_t last_applied_version;
  _Atomic uint64_t applied_total;
  _Atomic uint64_t rejected_total;
  uint64_t last_rejected_version;
  char *last_rejected_reason; /* NULL before the first rejection */
  int64_t last_applied_unix_ms;
  int64_t last_rejected_unix_ms;
} ml_config_events;

/* What the metrics and /config_dump render: a copy, consistent. */
typedef struct ml_config_status {
  uint64_t last_applied_version;  /* the version in force */
  uint64_t applied_total;         /* configs put in force (not version 0) */
  uint64_t rejected_total;        /* configs rejected */
  uint64_t last_rejected_version; /* 0: none yet */
  char last_rejected_reason[512]; /* "file:line:col: field: why", or "" */
  int64_t last_applied_unix_ms;   /* 0: none yet */
  int64_t last_rejected_unix_ms;
} ml_config_status;

void ml_config_events_init(ml_config_events *e);
void ml_config_events_destroy(const ml_mem *mem, ml_config_events *e);
int ml_config_events_add(const ml_mem *mem, ml_config_events *e,
                         const ml_config_sub *s);
/* Remove every subscriber equal to |s|: MESHLIB_OK, or
 * MESHLIB_ERR_NOT_FOUND when there was none. */
int ml_config_events_remove(ml_config_events *e, const ml_config_sub *s);
/* A copy of the record. */
void ml_config_events_status(const ml_config_events *e, ml_config_status *out);
uint64_t ml_config_events_rejected_total(const ml_config_events *e);
/* meshlib_config_last_rejection() on |e|; |buf| is not NULL when |cap|. */
int ml_config_events_last_rejection(const ml_config_events *e,
                                    uint64_t *version, char *buf, size_t cap);

/* Reports keep version order: meshlib_config_apply() numbers an attempt
 * under apply_lock and calls ml_config_report_begin() (the events lock)
 * before releasing it; then one of the two below reports the attempt
 * and releases the events lock. */
void ml_config_report_begin(ml_config_events *e);
/* |version| was rejected for |reason|: record it (a copy in |mem|), call
 * the subscribers. */
void ml_config_rejected(const ml_mem *mem, ml_config_events *e,
                        uint64_t version, const char *reason);
/* |version| is in force: record it, call the subscribers. */
void ml_config_applied_end(ml_config_events *e, uint64_t version);

#endif
