/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_LOOP_H
#define MESHLIB_LOOP_H

/* The asynchronous client: calls that start at once and complete through
 * a callback, driven either by the application's event loop (libcurl's
 * multi_socket style: meshlib tells which file descriptors to watch and
 * when to fire a timer; the application tells meshlib what happened) or
 * by a thread of meshlib's own. docs/async.md has the walk-through. */
#include <stdint.h>
#include "export.h"
#include "mesh.h"
#include "request.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A non-blocking client: one libcurl multi handle, its connections and
 * the calls in flight on it. Create one per event loop (per thread that
 * runs a loop); several clients may share one mesh.
 * Thread-safety: one thread at a time, the thread that drives it, with
 * the exceptions stated on meshlib_client_perform() and
 * meshlib_client_cancel() for own-thread mode.
 */
typedef struct meshlib_client meshlib_client;

/**
 * Called once per call started with meshlib_client_perform(), when it
 * ends. |result| is MESHLIB_OK when the response getters
 * (meshlib_response_status() and the others) describe the outcome,
 * whatever it is (an upstream 503, a local 404 NR, a 504 UT, a cancelled
 * call's 499 DC), or MESHLIB_ERR_NOMEM when meshlib could not carry the
 * call.
 * From the callback on, |r| is the application's again: it may be freed,
 * or performed again, right there. The callback may call
 * meshlib_client_perform() and meshlib_client_cancel() on the same
 * client; it must not call meshlib_client_socket_action() or
 * meshlib_client_free().
 * Thread-safety: runs on the thread that drives the client: inside
 * meshlib_client_socket_action() (app-driven), or on the client's own
 * thread (meshlib_client_start_thread()); never inside
 * meshlib_client_perform() or meshlib_client_cancel().
 */
typedef void (*meshlib_done_cb)(meshlib_request *r, int result,
                                void *user_data);

/** What the application's loop should watch a descriptor for (the values
 * are libcurl's CURL_POLL_*). */
typedef enum meshlib_poll {
  MESHLIB_POLL_NONE = 0,
  MESHLIB_POLL_IN = 1,    /* readable */
  MESHLIB_POLL_OUT = 2,   /* writable */
  MESHLIB_POLL_INOUT = 3, /* either */
  MESHLIB_POLL_REMOVE = 4 /* stop watching it (it may be closed next) */
} meshlib_poll;

/** What happened on a descriptor, for meshlib_client_socket_action() (the
 * values are libcurl's CURL_CSELECT_*; 0 lets meshlib find out). */
typedef enum meshlib_event {
  MESHLIB_EVENT_IN = 1,  /* readable */
  MESHLIB_EVENT_OUT = 2, /* writable */
  MESHLIB_EVENT_ERR = 4  /* error or hang-up */
} meshlib_event;

/** The |fd| of meshlib_client_socket_action() when the timer fired. */
#define MESHLIB_SOCKET_TIMEOUT (-1)

/**
 * Socket hook: watch |fd| for |what| (a meshlib_poll), replacing what was
 * asked for it before, or stop watching it (MESHLIB_POLL_REMOVE). When it
 * becomes ready, call meshlib_client_socket_action(c, fd, events, ...).
 * The descriptors are the connections' sockets and, once an h2c call has
 * been made, one eventfd of the client's (see meshlib_client_perform()).
 * The hook must not call any meshlib_client_*() function.
 * Thread-safety: called on the thread that drives the client, from inside
 * any meshlib_client_*() function but meshlib_client_new().
 */
typedef void (*meshlib_socket_cb)(int fd, int what, void *user_data);

/**
 * Timer hook: (re)arm the loop's one timer of this client to fire once in
 * |timeout_ms| milliseconds (0: as soon as possible, from the loop, not
 * from inside the hook), or disarm it (-1). When it fires, call
 * meshlib_client_socket_action(c, MESHLIB_SOCKET_TIMEOUT, 0, ...).
 * The hook must not call any meshlib_client_*() function.
 * Thread-safety: as meshlib_socket_cb.
 */
typedef void (*meshlib_timer_cb)(int64_t timeout_ms, void *user_data);

/**
 * Create a client that carries calls of mesh |m|. It does nothing until
 * it is given calls; it is driven by the application's loop (set both
 * hooks) or by its own thread (meshlib_client_start_thread()).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM,
 * MESHLIB_ERR_IO (the eventfd could not be created).
 * Ownership: *out is the caller's; free it with meshlib_client_free()
 * before |m|.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_client_new(meshlib_client **out, meshlib *m);

/**
 * Stop the client and free it. Calls still in flight are cancelled: each
 * callback runs with MESHLIB_RF_DC (499) before this returns, on the
 * calling thread (app-driven) or on the client's thread, which is then
 * joined (own-thread). An h2c exchange already running on a worker thread
 * cannot be interrupted: free waits for it to end (at the latest when
 * its timeout fires) and reports its outcome. The socket hook is told to
 * remove every descriptor. NULL does nothing.
 * Thread-safety: the driving thread (app-driven) or any thread
 * (own-thread); no other call on |c| may run concurrently or follow.
 * Since: 0.1.0
 */
MESHLIB_EXTERN void meshlib_client_free(meshlib_client *c);

/**
 * Set the socket hook (see meshlib_socket_cb); NULL removes it. Set both
 * hooks before the first call of an app-driven client.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (NULL client, or a client
 * that runs its own thread).
 * Ownership: |user_data| is the application's; meshlib never frees it.
 * Thread-safety: the driving thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_client_set_socket_cb(meshlib_client *c,
                                                meshlib_socket_cb cb,
                                                void *user_data);

/**
 * Set the timer hook (see meshlib_timer_cb); NULL removes it.
 * Returns/Ownership/Thread-safety: as meshlib_client_set_socket_cb().
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_client_set_timer_cb(meshlib_client *c,
                                               meshlib_timer_cb cb,
                                               void *user_data);

/**
 * Start call |r|: route it, pick a destination and an endpoint, and send
 * it without waiting. |cb| runs exactly once when the call ends (see
 * meshlib_done_cb), never inside this function: a call that meshlib
 * answers itself (404 NR, 503 UH or NC, a direct response, a redirect)
 * completes from the next meshlib_client_socket_action(), for which the
 * timer hook is armed at 0 ms (app-driven), or on the next turn of the
 * client's thread.
 * HTTP/1.1 and TLS calls ride the client's libcurl multi handle.
 * h2c calls (a ServiceEntry port of protocol HTTP2 or GRPC, plain http)
 * are carried by nghttp2 on up to four worker threads of the client,
 * because libcurl 7.88 cannot reuse h2c prior-knowledge connections; a
 * worker signals the end of an exchange through an eventfd that the
 * socket hook is asked to watch like any socket, so the application's
 * loop still sees only descriptors and a timer.
 * Returns: MESHLIB_OK (|cb| will run), MESHLIB_ERR_INVALID_ARG (NULL
 * argument, |r| already in flight, an app-driven client without both
 * hooks, or a client being freed), MESHLIB_ERR_NOMEM; on an error |cb|
 * will not run.
 * Ownership: |r| stays the application's but must stay alive and
 * untouched (not freed, performed or changed) until |cb| runs; the
 * response getters work from |cb| on. |user_data| is never freed.
 * Thread-safety: the driving thread, including from inside a callback;
 * for a client that runs its own thread, any thread, concurrently with
 * other calls of meshlib_client_perform() and meshlib_client_cancel().
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_client_perform(meshlib_client *c, meshlib_request *r,
                                          meshlib_done_cb cb, void *user_data);

/**
 * Cancel call |r|: its exchange is abandoned (the connection closed if
 * the exchange was under way) and its callback runs with status 499 and
 * MESHLIB_RF_DC, from the next meshlib_client_socket_action() or turn of
 * the client's thread, never inside this function. An h2c exchange that
 * a worker is running cannot be interrupted: its callback reports DC
 * once the exchange ends.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOT_FOUND (|r|
 * is not in flight on |c|, or has already ended and its callback is
 * about to run with the real outcome).
 * Thread-safety: as meshlib_client_perform(). Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_client_cancel(meshlib_client *c, meshlib_request *r);

/**
 * Drive an app-driven client: |fd| became ready with |events| (a mask of
 * meshlib_event, or 0 to let meshlib find out), or the timer fired (|fd|
 * MESHLIB_SOCKET_TIMEOUT). Runs the exchanges that can progress, then
 * the callbacks of the calls that ended. *running (when |running| is not
 * NULL) receives the number of calls whose callback has not run yet:
 * the loop may stop once it is 0.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (NULL client, or one that
 * runs its own thread), MESHLIB_ERR_NOMEM.
 * Thread-safety: the driving thread; not from inside a hook or a
 * callback. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_client_socket_action(meshlib_client *c, int fd,
                                                int events, int *running);

/**
 * Run the client on a thread of its own (libcurl's curl_multi_poll()
 * with a wakeup): from then on every callback runs on that thread, the
 * hooks are never called, and meshlib_client_perform() and
 * meshlib_client_cancel() may be called from any thread.
 * meshlib_client_free() stops and joins the thread.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (already started, a hook
 * is set, or calls are in flight), MESHLIB_ERR_IO (no thread).
 * Thread-safety: the thread that created the client, before any call.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_client_start_thread(meshlib_client *c);

/**
 * The number of calls started on |c| whose callback has not run yet.
 * Returns: the count, or 0 when |c| is NULL.
 * Thread-safety: any thread (a snapshot). Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_client_running(meshlib_client *c);

#ifdef __cplusplus
}
#endif
#endif /* MESHLIB_LOOP_H */
