/* SPDX-License-Identifier: MIT */
#ifndef ML_CORE_CLIENT_H
#define ML_CORE_CLIENT_H

/* The asynchronous client (include/meshlib/loop.h). One CURLM carries
 * the HTTP/1.1 and TLS exchanges; h2c exchanges go to worker threads that
 * run the blocking nghttp2 path and report through an eventfd.
 *
 * Who touches what: the CURLM, the easy-handle slots and the timer state
 * belong to the driving thread (the application's loop, or the client's
 * own thread). Everything a worker thread or, in own-thread mode, another
 * thread calling meshlib_client_perform() can reach (the list of calls,
 * the queues, a call's state) is under |lock|. A request belongs to the
 * client from perform to its callback; ml_call_prepare() runs on the
 * thread that calls perform, ml_call_complete() on the driving thread. */
#include <pthread.h>
#include <curl/curl.h>
#include "call/request.h"
#include "transport/xfer_easy.h"

#define ML_MAGIC_CLIENT 0x636c6e74u /* "clnt" */
/* h2c exchanges block a thread each; this many run at once per client. */
#define ML_CLIENT_H2C_WORKERS 4
/* Idle easy handles kept for the next calls. */
#define ML_CLIENT_POOL_MAX 64

typedef enum ml_call_state {
  ML_CALL_NEW,         /* own-thread mode: waits to be added to the CURLM */
  ML_CALL_CURL,        /* on an easy handle in the CURLM */
  ML_CALL_H2C_QUEUED,  /* waits for a worker */
  ML_CALL_H2C_RUNNING, /* a worker runs the exchange */
  ML_CALL_H2C_ENDED,   /* exchange over; to complete on the driving thread */
  ML_CALL_ABANDONED,   /* cancelled before sending; to complete likewise */
  ML_CALL_WAITING,     /* a fault's delay or a retry's backoff runs */
  ML_CALL_DONE         /* complete; the callback is due */
} ml_call_state;

typedef struct ml_client_slot {
  CURL *easy;
  int ready; /* the handle has its shared options (ml_xfer_handle_init) */
  ml_xfer_run run;
  struct ml_call *call;
  struct ml_client_slot *next; /* in the pool */
} ml_client_slot;

typedef struct ml_call {
  meshlib_request *r;
  meshlib_done_cb cb;
  void *user_data;
  ml_call_state state;
  int result;      /* for the callback */
  int cancel;      /* meshlib_client_cancel() asked for it */
  int cancel_seen; /* the driving thread acted on |cancel| */
  ml_client_slot *slot;
  int64_t due_ms;              /* ML_CALL_WAITING: when to resume (monotonic) */
  struct ml_call *prev, *next; /* every call of the client */
  struct ml_call *qnext;       /* in one queue at a time */
} ml_call;

typedef struct ml_call_queue {
  ml_call *head, *tail;
} ml_call_queue;

struct meshlib_client {
  uint32_t magic;
  meshlib *mesh; /* opaque: requests must come from it */
  const ml_call_env *env;
  CURLM *multi;
  pthread_mutex_t lock;
  /* Under |lock|. */
  ml_call *calls; /* every call whose callback has not run */
  int active;
  ml_call_queue incoming; /* own-thread: to add to the CURLM */
  ml_call_queue done;     /* complete, callbacks due */
  ml_call_queue h2c_jobs; /* for the workers */
  ml_call_queue h2c_ended;
  ml_call_queue waiting; /* ML_CALL_WAITING, in no order */
  int cancel_pending;    /* some call has cancel && !cancel_seen */
  int closing;           /* meshlib_client_free() runs: perform refuses */
  int stop;              /* own thread and workers: leave */
  pthread_cond_t work;   /* h2c_jobs or stop changed */
  pthread_t workers[ML_CLIENT_H2C_WORKERS];
  int worker_count;
  int worker_idle;
  /* The driving thread's. */
  int efd;         /* eventfd: workers' "an exchange ended" */
  int efd_watched; /* the socket hook was told about |efd| */
  ml_client_slot *pool;
  size_t pool_count;
  meshlib_socket_cb socket_cb;
  void *socket_ud;
  meshlib_timer_cb timer_cb;
  void *timer_ud;
  int64_t app_deadline_ms; /* what the timer hook was last told (absolute,
                              monotonic ms); -1 none, -2 unknown */
  int threaded;
  pthread_t thread;
};

/* A client of the mesh |m| (core's meshlib_client_new() checks it). */
int ml_client_new(meshlib_client **out, meshlib *m, const ml_call_env *env);

#endif
