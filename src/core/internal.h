/* SPDX-License-Identifier: MIT */
#ifndef ML_CORE_INTERNAL_H
#define ML_CORE_INTERNAL_H

/* The mesh, options and config builder as the core sees them. */
#include <pthread.h>
#include <stdint.h>
#include "meshlib/meshlib.h"
#include "call/request.h"
#include "config/diag.h"
#include "config/load.h"
#include "cluster/dns.h"
#include "policy/breaker.h"
#include "control/events.h"
#include "telemetry/metrics.h"
#include "util/mem.h"

/* Magic numbers catch a stale or mistyped handle (curl's GOOD_EASY_HANDLE). */
#define ML_MAGIC_MESH 0x6d657368u    /* "mesh" */
#define ML_MAGIC_OPTIONS 0x6f707473u /* "opts" */
#define ML_MAGIC_CONFIG 0x63666721u  /* "cfg!" */

typedef struct ml_source {
  char *path; /* a file or directory, or NULL for text */
  char *name; /* label of text */
  char *text;
  size_t len;
} ml_source;

typedef struct ml_settings {
  char *namespace_;
  char *domain_suffix;
  ml_kv *labels; /* owned strings */
  size_t label_count;
  int strict;
  int has_seed;
  uint64_t seed;
  int64_t dns_refresh_ms;
  int no_default_retries;     /* routes without `retries` do not retry */
  ml_rate_budget rate_budget; /* 0, 0: off */
  ml_xfer_limits limits;      /* what a response may bring */
  int proxy_from_env;
  int log_level;
  meshlib_log_cb log_cb;
  void *log_user_data;
  struct ml_trace_settings *trace; /* tracing, access log; NULL: defaults */
  ml_metrics_settings metrics;     /* plain data: copied whole */
} ml_settings;

struct meshlib_options {
  uint32_t magic;
  meshlib_allocator alloc;
  int has_alloc;
  ml_settings settings;
  ml_source *sources;
  size_t source_count;
  char *errmsg;
  struct ml_control_opts *control; /* src/control: watch, URLs; or NULL */
};

struct meshlib {
  uint32_t magic;
  meshlib_allocator alloc;
  const ml_mem *mem; /* &alloc, or NULL for libc */
  ml_settings settings;
  ml_snapshot_slot current;
  ml_call_env env;            /* what its requests need of it */
  pthread_mutex_t apply_lock; /* serialises writers only; readers never lock */
  _Atomic uint64_t next_version;
  ml_live live;  /* endpoint state that outlives snapshots */
  uint64_t seed; /* of the requests' generators */
  _Atomic uint64_t rand_counter;
  ml_app_endpoints *app; /* under apply_lock */
  size_t app_count;
  ml_dns dns; /* resolver of DNS ServiceEntries */
  /* src/control: the watcher thread (NULL when none), and the record of
   * applied and rejected configs with their subscribers. */
  struct ml_control *control;
  ml_config_events events;
  ml_telemetry telemetry; /* tracer, access log, metrics, admin listener */
};

struct meshlib_endpoints {
  ml_app_endpoint *items;
  size_t count;
};

/* Build a snapshot of |c| (taken) with the mesh's endpoints and put it in
 * force; the caller holds apply_lock. */
int ml_mesh_install(meshlib *m, ml_config *c, uint64_t version);
/* Rebuild the snapshot in force with the mesh's current endpoints (set by
 * the application, or resolved); the caller holds apply_lock. */
int ml_mesh_rebuild_endpoints(meshlib *m);

struct meshlib_config {
  uint32_t magic;
  meshlib *mesh;
  ml_config *config;
  ml_diags diags;
  int first_error; /* meshlib_error of the first failed add, or OK */
};

/* The mesh's telemetry (core/telemetry_api.c): what telemetry reads of
 * the mesh's settings (borrowed), and its setup from meshlib_new():
 * tracer, exporter, access log, metrics and the admin listener, which
 * serves the mesh's bodies. On failure |err| may say why. */
ml_telemetry_settings ml_mesh_telemetry_settings(const meshlib *m);
int ml_mesh_telemetry_init(meshlib *m, char *err, size_t err_cap);

int ml_settings_copy(const ml_mem *mem, ml_settings *dst,
                     const ml_settings *src);
void ml_settings_free(const ml_mem *mem, ml_settings *s);
/* A copy of |m|'s record of applied and rejected configs (m->events). */
void ml_config_status_get(const meshlib *m, ml_config_status *out);
void ml_log(const meshlib *m, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
