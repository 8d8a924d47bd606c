/* SPDX-License-Identifier: MIT */
#ifndef ML_CONTROL_CONTROL_H
#define ML_CONTROL_CONTROL_H

/* The config lifecycle (include/meshlib/control.h): sources that change
 * while the mesh runs, one thread that follows them and applies what
 * changed, and the record of applies and rejections.
 *
 *   options.c  what meshlib_options says about sources and subscribers
 *   events.c   subscribers, the applied/rejected record (struct meshlib)
 *   source.c   a source's content, composing the config, applying it
 *   watch.c    inotify and polling of file sources
 *   fetch.c    control endpoints over libcurl
 *   thread.c   the control thread: one curl_multi_poll() loop for all
 *   server.c   meshlib_config_server, the endpoint protocol over MHD
 *
 * Control sits below the mesh (src/core) and includes nothing of it: the
 * mesh hands it an ml_control_host when it starts control, and keeps the
 * public entry points that take a meshlib or a meshlib_options, which call
 * in here with plain arguments. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include "config/load.h"
#include "control/events.h"
#include "meshlib/control.h"
#include "util/mem.h"
#include "util/rand.h"

/* What control needs of the mesh, filled by the mesh (core/mesh.c) when it
 * starts control; copied, so the struct itself need not outlive the call.
 * Pointers in it (allocator, strings, user data) live as long as the mesh. */
typedef struct ml_control_host {
  const ml_mem *mem; /* the mesh's allocator: NULL for libc */
  ml_load_opts load; /* how sources are parsed */
  uint64_t seed;     /* of the retry jitter */
  /* The mesh's log: |log_cb| (NULL: none) gets the lines of a level up to
   * |log_level|. */
  meshlib_log_cb log_cb;
  void *log_user_data;
  int log_level;
  /* Put |config| in force as the next version, or reject it when
   * |first_error| is not MESHLIB_OK or |diags| holds an error: numbered,
   * logged and reported to the subscribers either way, as
   * meshlib_config_apply() does. |config| is taken. Returns
   * meshlib_config_apply()'s code. Called from control's thread. */
  int (*apply)(void *user_data, ml_config *config, int first_error,
               const ml_diags *diags);
  void *user_data;
} ml_control_host;

/* One source named by the options (meshlib_options_add_config_path() or
 * _string()): a path, or |len| bytes of |text| labelled |name|. Read by
 * ml_control_start(), not kept. */
typedef struct ml_ctl_input {
  const char *path; /* NULL: text */
  const char *name;
  const char *text;
  size_t len;
} ml_ctl_input;

/* What meshlib_options holds for the lifecycle (libc memory, like the
 * options struct itself). */
typedef struct ml_ctl_url_opt {
  char *url;
  size_t position; /* comes before the options' source of this index */
} ml_ctl_url_opt;

typedef struct ml_control_opts {
  int watch; /* meshlib_watch_mode */
  int64_t poll_ms;
  int64_t debounce_ms;
  int64_t long_poll_ms;
  int64_t backoff_initial_ms;
  int64_t backoff_max_ms;
  int64_t initial_timeout_ms;
  int required;
  int allow_bad_start;
  char *ca_file, *cert_file, *key_file, *token_file;
  ml_ctl_url_opt *urls;
  size_t url_count;
  ml_config_sub *subs;
  size_t sub_count;
} ml_control_opts;

/* options.c: the meshlib_options_* setters of include/meshlib/control.h
 * on the options' lifecycle part |*co|, created on first use (NULL
 * before). core/options.c passes NULL for a bad options handle. Same
 * arguments, checks and codes as the public setters. */
int ml_control_opts_set_watch(ml_control_opts **co, int mode);
int ml_control_opts_set_poll_interval(ml_control_opts **co,
                                      int64_t interval_ms);
int ml_control_opts_set_debounce(ml_control_opts **co, int64_t debounce_ms);
/* |position|: how many sources the options held before this URL. */
int ml_control_opts_add_url(ml_control_opts **co, const char *url,
                            size_t position);
int ml_control_opts_set_long_poll(ml_control_opts **co, int64_t wait_ms);
int ml_control_opts_set_backoff(ml_control_opts **co, int64_t initial_ms,
                                int64_t max_ms);
int ml_control_opts_set_tls(ml_control_opts **co, const char *ca_file,
                            const char *cert_file, const char *key_file);
int ml_control_opts_set_token_file(ml_control_opts **co, const char *path);
int ml_control_opts_set_initial_fetch(ml_control_opts **co, int64_t timeout_ms,
                                      int required);
int ml_control_opts_set_allow_bad_start(ml_control_opts **co, int allow);
int ml_control_opts_on_config(ml_control_opts **co,
                              meshlib_config_change_cb changed,
                              meshlib_config_reject_cb rejected,
                              void *user_data);
void ml_control_opts_free(ml_control_opts *c);

/* One file as read: |name| labels it in messages. */
typedef struct ml_ctl_file {
  char *name;
  char *data;
  size_t len;
} ml_ctl_file;

/* What a source gave at one moment. */
typedef struct ml_ctl_content {
  ml_ctl_file *files;
  size_t count;
  int io_error; /* the path could not be read: the loader says why */
  uint64_t hash;
} ml_ctl_content;

void ml_ctl_content_free(const ml_mem *mem, ml_ctl_content *c);

typedef enum ml_ctl_kind { ML_CTL_PATH, ML_CTL_TEXT, ML_CTL_URL } ml_ctl_kind;

typedef struct ml_fetch ml_fetch;

typedef struct ml_ctl_source {
  ml_ctl_kind kind;
  char *where;         /* path, URL, or the text's name */
  ml_ctl_content good; /* last accepted */
  int has_good;
  uint64_t seen_hash; /* last content looked at, accepted or not */
  int has_seen;
  uint64_t poll_sig; /* stat signature, for polling */
  ml_fetch *fetch;   /* URL sources */
} ml_ctl_source;

/* An inotify watch: a directory, and which source it serves. */
typedef struct ml_ctl_watch {
  int wd;
  size_t source;
  char *base; /* only events on this name (or "..*"), NULL for all */
} ml_ctl_watch;

typedef struct ml_control {
  ml_control_host host; /* the mesh, as control sees it */
  const ml_mem *mem;    /* host.mem */
  ml_control_opts o;    /* copy: strings in mem */
  ml_ctl_source *src;
  size_t count;
  size_t url_count;

  /* The thread. */
  pthread_t thread;
  int started;
  atomic_int stop;
  CURLM *multi;
  ml_rand rng; /* jitter; the thread's alone */

  /* Files. */
  int ifd; /* inotify, -1 when polling */
  ml_ctl_watch *watches;
  size_t watch_count;
  int pending; /* file events waiting for the quiet period */
  int64_t quiet_until, pending_since, next_poll;

  /* meshlib_config_reload(): tickets served by the thread. */
  pthread_mutex_t lock;
  pthread_cond_t done_cond;
  uint64_t reload_asked, reload_done;
  int reload_rc;
} ml_control;

/* A line to the mesh's log (the host's log_cb). */
void ml_ctl_log(const ml_control *c, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* source.c */
/* Read a path source (a file or a directory's config files, in name
 * order) into *out. MESHLIB_OK (I/O errors are recorded in the content)
 * or MESHLIB_ERR_NOMEM. */
int ml_ctl_read_path(const ml_mem *mem, const char *path, ml_ctl_content *out);
/* One file named |name| holding |len| bytes of |data| (copied). */
int ml_ctl_content_text(const ml_mem *mem, const char *name, const char *data,
                        size_t len, ml_ctl_content *out);
/* Put in force the config of every source's good content, with source
 * |i|'s replaced by |cand| (taken; NULL: none replaced). Accepted: |cand|
 * becomes the good content. Either way |cand|'s hash is marked seen.
 * Returns meshlib_config_apply()'s code; |err| gets the reason. */
int ml_ctl_apply(ml_control *c, size_t i, ml_ctl_content *cand, char *err,
                 size_t cap);
/* Apply every source's |cands| at once (meshlib_new()); taken (zeroed)
 * when applied, left to the caller otherwise. */
int ml_ctl_apply_all(ml_control *c, ml_ctl_content *cands, char *err,
                     size_t cap);
/* A start with rejected content (allow_bad_start): leave out the sources
 * whose content is bad on its own, apply the others. Takes what it
 * applies. */
int ml_ctl_apply_valid(ml_control *c, ml_ctl_content *cands);
/* Read path source |i| again and apply it if it changed. */
int ml_ctl_reload_path(ml_control *c, size_t i);

/* watch.c */
/* Set up inotify (or polling) for every path source; again before each
 * reload, as watched directories come and go (idempotent). */
void ml_ctl_watch_refresh(ml_control *c);
/* Nonzero when inotify follows path source |source|; a source it cannot
 * follow (its directory is gone) is polled. */
int ml_ctl_watched(const ml_control *c, size_t source);
/* Drain inotify events: nonzero when one concerns a source. */
int ml_ctl_watch_drain(ml_control *c);
/* Stat signature of a path source (polling). */
uint64_t ml_ctl_path_signature(const char *path);
void ml_ctl_watch_close(ml_control *c);

/* fetch.c */
typedef enum ml_fetch_result {
  ML_FETCH_CHANGED,   /* a body that differs from what was seen */
  ML_FETCH_UNCHANGED, /* 304, or the same body again */
  ML_FETCH_FAILED
} ml_fetch_result;

int ml_fetch_new(ml_control *c, const char *url, ml_fetch **out);
void ml_fetch_free(ml_fetch *f);
/* Ready f's easy handle for one request; |initial|: no long-poll, the
 * initial timeout. */
int ml_fetch_begin(ml_control *c, ml_fetch *f, int initial);
CURL *ml_fetch_easy(ml_fetch *f);
/* After the transfer ended with |rc|: the result; for CHANGED, *out gets
 * the new content (labelled with the URL). Schedules the next request. */
ml_fetch_result ml_fetch_end(ml_control *c, size_t i, CURLcode rc,
                             ml_ctl_content *out);
int ml_fetch_in_flight(const ml_fetch *f);
const char *ml_fetch_last_error(const ml_fetch *f);
void ml_fetch_set_in_flight(ml_fetch *f, int on);
int64_t ml_fetch_next_at(const ml_fetch *f);
void ml_fetch_set_next_at(ml_fetch *f, int64_t at);

/* thread.c */
/* meshlib_new(): build the control from |co| and the options' |in|,
 * load every source once through |host| (|err| gets the reason of a
 * failure), start the thread; *out gets it. */
int ml_control_start(const ml_control_host *host, const ml_control_opts *co,
                     const ml_ctl_input *in, size_t in_count, ml_control **out,
                     char *err, size_t cap);
/* meshlib_free(): stop and join the thread, free everything (NULL: none). */
void ml_control_stop(ml_control *c);
/* meshlib_config_reload() of a mesh with control: served by the thread. */
int ml_control_reload(ml_control *c);
/* Nonzero when |co| (NULL: none set) asks for the lifecycle (a watch mode
 * or a URL). */
int ml_control_wanted(const ml_control_opts *co);
/* meshlib_new(), before the first load: the subscribers named in |co|
 * (meshlib_options_on_config) join |e|, so that they hear of it too. */
int ml_control_subscribe(const ml_control_opts *co, const ml_mem *mem,
                         ml_config_events *e);

#endif
