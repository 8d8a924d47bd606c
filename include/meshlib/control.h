/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_CONTROL_H
#define MESHLIB_CONTROL_H

/* The config lifecycle: config that follows files, directories and control
 * endpoints while the mesh runs, the record of what was applied and
 * rejected, and subscriptions to changes. See docs/config-lifecycle.md. */

#include <stddef.h>
#include <stdint.h>
#include "export.h"
#include "mesh.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sources and their precedence.
 *
 * Every source added to the options (meshlib_options_add_config_path(),
 * meshlib_options_add_config_string(), meshlib_options_add_config_url())
 * feeds one config, in the order the sources were added. Their objects are
 * merged; when two sources (or two documents) define the same object (same
 * kind, namespace and name), the one added later wins, as a later
 * `kubectl apply` would. Each source is validated whole on each change: a
 * source whose new content is rejected keeps its last good content in the
 * config, and the other sources go on changing. */

/** How meshlib follows its config files (meshlib_options_set_config_watch).
 * Since: 0.2.0 */
typedef enum meshlib_watch_mode {
  /** Read once, at meshlib_new() (the default). */
  MESHLIB_WATCH_OFF = 0,
  /** inotify on the files' directories; polling where it is unavailable. */
  MESHLIB_WATCH_AUTO = 1,
  /** Compare the files' size, times and inode every poll interval. */
  MESHLIB_WATCH_POLL = 2
} meshlib_watch_mode;

/**
 * Follow the config paths while the mesh runs: a change to a file or to a
 * directory's files (written in place, replaced by a rename, deleted, or a
 * Kubernetes ConfigMap `..data` symlink swap) reloads that source after a
 * quiet period (meshlib_options_set_config_debounce_ms()). A file source
 * that disappears is a rejected change: its last good content stays until
 * it comes back (a source whose directory is gone is polled meanwhile).
 * A meshlib thread does the watching, fetching and
 * applying; it starts with the mesh and stops in meshlib_free().
 * |mode| is a meshlib_watch_mode.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_config_watch(meshlib_options *o,
                                                    int mode);

/**
 * How often sources without push are checked, in milliseconds (default
 * 1000): files under MESHLIB_WATCH_POLL (or AUTO without inotify) and
 * control endpoints that do not hold requests (no long-poll).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (below 10),
 * MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int
meshlib_options_set_config_poll_interval_ms(meshlib_options *o,
                                            int64_t interval_ms);

/**
 * Quiet period after a file event before the source is read again, in
 * milliseconds (default 100; 0 reads at once): a burst of events (an
 * editor's save, a ConfigMap swap) makes one reload. Events that keep
 * coming delay the reload by at most ten quiet periods.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (outside 0..60000),
 * MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_config_debounce_ms(meshlib_options *o,
                                                          int64_t debounce_ms);

/**
 * Add a control endpoint: an http:// or https:// URL that serves the same
 * YAML (multi-document) or JSON (a single object, or a `kind: List` as
 * `kubectl get -o json` prints) as a config file. meshlib_new() fetches it
 * once (see meshlib_options_set_control_initial_fetch()), then the mesh's
 * thread asks again with If-None-Match / If-Modified-Since, so an
 * unchanged config costs a 304. With long-poll
 * (meshlib_options_set_control_long_poll_ms()) each request carries
 * `Prefer: wait=<seconds>` (RFC 7240) and a server that holds it answers
 * with `Preference-Applied: wait=<seconds>`; the next request then follows
 * at once (after the poll interval when an answer with nothing new came
 * back at once: such a server does not hold requests). Failures
 * (refused, timeout, 5xx, 401, a body over 64 MiB) back off exponentially
 * with jitter (meshlib_options_set_control_backoff_ms()); the last good
 * config stays meanwhile. Error messages name the URL as their file.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (not http or https),
 * MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_add_config_url(meshlib_options *o,
                                                  const char *url);

/**
 * Ask control endpoints to hold each request for up to |wait_ms|
 * milliseconds until their config changes (rounded up to whole seconds;
 * 0, the default, polls every poll interval instead).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (outside 0..300000),
 * MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_control_long_poll_ms(meshlib_options *o,
                                                            int64_t wait_ms);

/**
 * Retry delays after a failed fetch: the first waits about |initial_ms|
 * (default 500), each next one twice as long up to |max_ms| (default
 * 30000), each drawn at random between half and all of that (jitter), so
 * that a fleet does not come back in step. A success resets it.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (initial_ms < 1 or
 * max_ms < initial_ms), MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_control_backoff_ms(meshlib_options *o,
                                                          int64_t initial_ms,
                                                          int64_t max_ms);

/**
 * TLS towards https:// control endpoints: |ca_file| (PEM) holds the
 * certificates the server's must chain to (NULL: the system's store);
 * |cert_file| and |key_file| (PEM, both or neither) are the client's own
 * certificate and key, for servers that require one. The server's name is
 * always verified. The files are read at each connection.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (only one of |cert_file|
 * and |key_file|), MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_control_tls(meshlib_options *o,
                                                   const char *ca_file,
                                                   const char *cert_file,
                                                   const char *key_file);

/**
 * Send `Authorization: Bearer <token>` to control endpoints, the token
 * being the content of |path| (surrounding blanks dropped; one line of at
 * most 16 KiB, else the last good token is kept and a warning logged).
 * The file is read again whenever it changes (as Kubernetes rotates
 * service-account tokens) and after a 401 or 403.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (NULL or empty),
 * MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_control_token_file(meshlib_options *o,
                                                          const char *path);

/**
 * What meshlib_new() does about control endpoints: it waits up to
 * |timeout_ms| (default 5000) for each one's first answer. When |required|
 * is nonzero an endpoint that gives no config in that time fails
 * meshlib_new() with MESHLIB_ERR_CONFIG_IO; otherwise (the default, as
 * Envoy's initial_fetch_timeout) the mesh starts with what the other
 * sources give and takes the endpoint's config when it comes.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (|timeout_ms| < 1),
 * MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_control_initial_fetch(meshlib_options *o,
                                                             int64_t timeout_ms,
                                                             int required);

/**
 * Let meshlib_new() succeed when the config it loads first is rejected:
 * the mesh then starts on the empty config (version 0, every host routes
 * to itself), records the rejection and applies the sources once they are
 * fixed. For tools that follow a rollout (`meshctl watch`); a service
 * should keep the default and fail at start.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int
meshlib_options_set_config_allow_bad_start(meshlib_options *o, int allow);

/**
 * Called after a config is put in force: the version before and after it.
 * Called from the thread that applied it (the mesh's watcher thread, or
 * the one calling meshlib_config_apply()), one call at a time, in version
 * order. It must not apply config, (un)subscribe, reload or free the mesh
 * (each would wait for the callback to return).
 * Since: 0.2.0
 */
typedef void (*meshlib_config_change_cb)(uint64_t old_version,
                                         uint64_t new_version, void *user_data);

/**
 * Called when a config is rejected: |version| is the number it was given
 * (versions count attempts: a rejected one is never used again), |reason|
 * the first error ("file:line:col: field: message"; the URL stands for the
 * file of a control endpoint). The config in force stays. Same threads and
 * rules as meshlib_config_change_cb. Ownership: |reason| is borrowed for
 * the call. Since: 0.2.0
 */
typedef void (*meshlib_config_reject_cb)(uint64_t version, const char *reason,
                                         void *user_data);

/**
 * Subscribe to changes and rejections from the start, the first load of
 * meshlib_new() included. Either callback may be NULL. May be called more
 * than once (each adds a subscriber).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (both NULL),
 * MESHLIB_ERR_NOMEM.
 * Ownership: |user_data| is never freed by meshlib.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_on_config(meshlib_options *o,
                                             meshlib_config_change_cb changed,
                                             meshlib_config_reject_cb rejected,
                                             void *user_data);

/**
 * Subscribe to changes (|changed|) and rejections (|rejected|) of |m|'s
 * config from now on; either may be NULL.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (|m| not a mesh, or both
 * NULL), MESHLIB_ERR_NOMEM.
 * Ownership: |user_data| is never freed by meshlib.
 * Thread-safety: any thread but a callback's. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_on_config(meshlib *m,
                                     meshlib_config_change_cb changed,
                                     meshlib_config_reject_cb rejected,
                                     void *user_data);

/**
 * Remove the subscriptions made with these three values. Once it returns,
 * none of them runs any more.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOT_FOUND.
 * Ownership: |user_data| is never freed by meshlib.
 * Thread-safety: any thread but a callback's. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_off_config(meshlib *m,
                                      meshlib_config_change_cb changed,
                                      meshlib_config_reject_cb rejected,
                                      void *user_data);

/**
 * Read the config files now and apply what changed, without waiting for
 * an event or the poll interval, and ask the control endpoints again at
 * once (their answers are applied as they come); for an application's
 * SIGHUP handler thread, or a test.
 * Returns: MESHLIB_OK when no file changed or every change was applied, a
 * -200s code when a change was rejected (see
 * meshlib_config_last_rejection()), MESHLIB_ERR_NOT_FOUND when the mesh
 * follows no source (see meshlib_options_set_config_watch()),
 * MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM. Blocks until the control
 * thread has read the files (not until endpoints answer).
 * Thread-safety: any thread but a callback's. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_config_reload(meshlib *m);

/**
 * How many configs were rejected since the mesh was created.
 * Returns: the count; 0 when |m| is not a mesh.
 * Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN uint64_t meshlib_config_rejected_total(const meshlib *m);

/**
 * The last rejection: its version into *|version| (may be NULL) and its
 * reason into |buf| (|cap| bytes, truncated, NUL-terminated; may be NULL
 * with |cap| 0).
 * Returns: MESHLIB_OK, MESHLIB_ERR_NOT_FOUND (none yet),
 * MESHLIB_ERR_INVALID_ARG.
 * Ownership: the caller's buffers; nothing is kept.
 * Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_config_last_rejection(const meshlib *m,
                                                 uint64_t *version, char *buf,
                                                 size_t cap);

/* A config server: the protocol of the control endpoint above, served from
 * memory on 127.0.0.1 (GNU libmicrohttpd underneath). For tests, examples
 * and the operators' walk-throughs; a real fleet would put the same
 * behaviour in its own server. Any path serves the config. */

/** A config server. All calls are safe from any thread but _free.
 * Since: 0.2.0 */
typedef struct meshlib_config_server meshlib_config_server;

/**
 * Start a config server on 127.0.0.1:|port| (0: an ephemeral port). Until
 * meshlib_config_server_set() it answers 404. A GET gets the config with
 * an `ETag` (the generation, quoted) and a `Last-Modified`; a matching
 * If-None-Match (or, without one, an If-Modified-Since equal to its
 * Last-Modified) gets 304; with `Prefer: wait=N` (N seconds, at most 300) and a
 * matching If-None-Match the request is held until the config changes or
 * N seconds pass, and the response says `Preference-Applied: wait=N`.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM,
 * MESHLIB_ERR_IO (the port is taken or the server cannot start).
 * Ownership: *out is the caller's (meshlib_config_server_free()).
 * Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_config_server_new(meshlib_config_server **out,
                                             int port);

/**
 * Stop serving (held requests are released without a response), free
 * everything. NULL does nothing.
 * Ownership: |s| is freed.
 * Thread-safety: no other call on |s| may run or follow. Since: 0.2.0
 */
MESHLIB_EXTERN void meshlib_config_server_free(meshlib_config_server *s);

/**
 * The port the server listens on (it stays across pauses).
 * Returns: the port, -1 for NULL.
 * Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_config_server_port(meshlib_config_server *s);

/**
 * Serve |len| bytes of |body| from now on as a new generation (a new
 * ETag), and answer the requests held for a change.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_config_server_set(meshlib_config_server *s,
                                             const char *body, size_t len);

/**
 * Require `Authorization: Bearer <token>` (401 otherwise); NULL requires
 * nothing.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_config_server_require_token(meshlib_config_server *s,
                                                       const char *token);

/**
 * Pause (|paused| nonzero: the listening socket closes, so connections are
 * refused, and held requests are dropped) or resume on the same port:
 * an endpoint that goes down and comes back.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_IO (the port
 * could not be taken again).
 * Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_config_server_pause(meshlib_config_server *s,
                                               int paused);

/** What a config server counted since it started. Since: 0.2.0 */
typedef struct meshlib_config_server_stats {
  uint32_t age;          /* 1; later versions add fields at the end */
  uint64_t requests;     /* every request answered */
  uint64_t full;         /* 200 with the config */
  uint64_t not_modified; /* 304 */
  uint64_t unauthorized; /* 401 */
  uint64_t held;         /* requests that waited for a change (long-poll) */
} meshlib_config_server_stats;

/**
 * Copy the counters into *|out|.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Ownership: *|out| is the caller's.
 * Thread-safety: any thread. Since: 0.2.0
 */
MESHLIB_EXTERN int
meshlib_config_server_stats_get(meshlib_config_server *s,
                                meshlib_config_server_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* MESHLIB_CONTROL_H */
