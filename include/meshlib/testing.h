/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_TESTING_H
#define MESHLIB_TESTING_H

/* The mock-upstream kit: real HTTP servers on 127.0.0.1 that a test scripts
 * per request and inspects afterwards. Each mock serves HTTP/1.1 (through
 * GNU libmicrohttpd) and HTTP/2 over cleartext with prior knowledge
 * (through nghttp2's server session) on the same port: the first bytes of
 * each connection decide. See docs/testing.md for a walk-through. */

#include <stddef.h>
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * One mock upstream: a listening socket on 127.0.0.1, its server threads,
 * a script of one-shot actions, a default response and the record of the
 * requests it received. Every function below is safe to call from any
 * thread while the server threads serve (one mutex inside); only
 * meshlib_mock_free() must not race with other calls on the same mock.
 */
typedef struct meshlib_mock meshlib_mock;

/**
 * Start a mock on 127.0.0.1 on an ephemeral port (meshlib_mock_port()
 * tells which). It serves at once: by default every request gets status
 * 200, the header `x-mock-name` and the mock's name as body.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (|out| NULL),
 * MESHLIB_ERR_NOMEM, MESHLIB_ERR_IO (a socket, pipe, thread or the HTTP/1.1
 * server could not be created).
 * Ownership: *out is the caller's; free it with meshlib_mock_free().
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_new(meshlib_mock **out);

/**
 * Like meshlib_mock_new(), on |port| (1..65535; 0 means ephemeral).
 * Returns: as meshlib_mock_new(); MESHLIB_ERR_RANGE for a bad port,
 * MESHLIB_ERR_IO when the port is taken.
 * Ownership: as meshlib_mock_new(). Thread-safety: any thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_new_on_port(meshlib_mock **out, int port);

/**
 * Stop serving: close the listening socket and every open connection
 * (requests still delayed or hanging get no response), join every thread
 * the mock started, free everything. Borrowed strings die with it. NULL
 * does nothing.
 * Thread-safety: no other call on |m| may run concurrently or follow.
 * Since: 0.1.0
 */
MESHLIB_EXTERN void meshlib_mock_free(meshlib_mock *m);

/**
 * The TCP port the mock listens on (stays the same across pauses).
 * Returns: the port, or -1 when |m| is NULL.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_port(meshlib_mock *m);

/**
 * Name the mock, e.g. "v1". Every response carries it in the header
 * `x-mock-name` (so a test can count which endpoint served a call), and
 * while meshlib_mock_set_default() has not been called it is also the
 * default body. The initial name is "127.0.0.1:<port>".
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: |name| is copied. Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_set_name(meshlib_mock *m, const char *name);

/**
 * The response given when the script is empty: |status| (200..599) and
 * |len| bytes of |body| (NULL with |len| 0 for none).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_RANGE (status),
 * MESHLIB_ERR_NOMEM.
 * Ownership: |body| is copied. Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_set_default(meshlib_mock *m, int status,
                                            const char *body, size_t len);

/**
 * Add a header to every response, scripted or default (several calls with
 * one name add several values). Content-Length, Transfer-Encoding and
 * Connection are the servers' business and may be ignored.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_BAD_HEADER
 * (empty name, or CR/LF/NUL in name or value), MESHLIB_ERR_NOMEM.
 * Ownership: both are copied. Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_add_default_header(meshlib_mock *m,
                                                   const char *name,
                                                   const char *value);

/* The script: a FIFO of one-shot actions. Each request that the mock has
 * received in full (headers and body) takes the oldest action; when the
 * script is empty the default response applies. */

/**
 * Script one response: |status| (200..599) and |len| bytes of |body|.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_RANGE,
 * MESHLIB_ERR_NOMEM.
 * Ownership: |body| is copied. Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_push_response(meshlib_mock *m, int status,
                                              const char *body, size_t len);

/**
 * Script one response with |status| and the default body, sent
 * |delay_ms| milliseconds after the request was received. Only that
 * request waits: other connections and other HTTP/2 streams are served
 * meanwhile.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_RANGE (status,
 * or a negative delay), MESHLIB_ERR_NOMEM.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_push_delay(meshlib_mock *m, int delay_ms,
                                           int status);

/**
 * Script one request that is never answered (for timeout tests). It is
 * released, without a response (as meshlib_mock_push_reset()), by
 * meshlib_mock_reset() or meshlib_mock_free().
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_push_hang(meshlib_mock *m);

/**
 * Script one failure without a response. HTTP/1.1: the connection is
 * closed with a TCP reset. HTTP/2: the stream is reset (RST_STREAM
 * INTERNAL_ERROR); the connection and its other streams live on.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_push_reset(meshlib_mock *m);

/**
 * Script one truncated response: status 200 and the headers (announcing
 * the default body's length, at least 1 byte) are sent, the body is not.
 * HTTP/1.1: the connection is then closed. HTTP/2: the stream is reset
 * (RST_STREAM INTERNAL_ERROR) 50 ms after the HEADERS frame, so that the
 * client has seen the headers; the connection lives on.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_push_close_after_headers(meshlib_mock *m);

/**
 * Script one refusal. HTTP/2: RST_STREAM REFUSED_STREAM, which tells the
 * client that the request was not processed and may be retried (libcurl
 * does so by itself on a new connection, up to 5 times). HTTP/1.1: as
 * meshlib_mock_push_reset().
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_push_refused_stream(meshlib_mock *m);

/**
 * Add a header to the most recently pushed action (sent with its
 * response, after the default headers; ignored by actions that send no
 * headers).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_BAD_HEADER,
 * MESHLIB_ERR_NOT_FOUND (the script is empty), MESHLIB_ERR_NOMEM.
 * Ownership: both are copied. Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_push_header(meshlib_mock *m, const char *name,
                                            const char *value);

/**
 * Pause (|paused| nonzero) or resume the mock. Pausing closes the
 * listening socket, so new connections are refused (ECONNREFUSED: a
 * connect failure); connections already open are still served. Resuming
 * listens again on the same port. Both take effect before the call
 * returns; pausing a paused mock (or resuming a running one) does nothing.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_IO (the port
 * could not be bound again).
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_pause(meshlib_mock *m, int paused);

/**
 * Forget the script and the recorded requests, and zero both counters.
 * Hanging requests are released (as by a reset). The name, the default
 * response and the default headers stay. Strings borrowed from the
 * records are invalid afterwards.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_reset(meshlib_mock *m);

/* Inspection. Request |i| is the i-th request received in full since the
 * start or the last reset, from 0, in the order the requests completed. */

/**
 * The number of requests received in full (scripted or not).
 * Returns: the count, or -1 when |m| is NULL.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_request_count(meshlib_mock *m);

/**
 * Wait until at least |count| requests have been received, or
 * |timeout_ms| milliseconds have passed (useful when the client runs in
 * another thread).
 * Returns: the request count at that moment (>= |count| unless the wait
 * timed out), or -1 when |m| is NULL.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_wait_requests(meshlib_mock *m, int count,
                                              int timeout_ms);

/**
 * The number of TCP connections accepted (HTTP/1.1 and HTTP/2 alike):
 * two requests over one connection count 1, which proves keep-alive.
 * Returns: the count, or -1 when |m| is NULL.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_mock_connection_count(meshlib_mock *m);

/**
 * The method of request |i| ("GET", "POST", ...).
 * Returns: the string, or NULL when |m| is NULL or |i| out of range.
 * Ownership: borrowed until meshlib_mock_reset() or meshlib_mock_free().
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_mock_request_method(meshlib_mock *m, int i);

/**
 * The request target of request |i| as sent: path and query
 * ("/api/v1?x=1"), not decoded.
 * Returns/Ownership/Thread-safety: as meshlib_mock_request_method().
 * Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_mock_request_path(meshlib_mock *m, int i);

/**
 * The protocol of request |i|: "HTTP/1.1" (or "HTTP/1.0") or "HTTP/2".
 * Returns/Ownership/Thread-safety: as meshlib_mock_request_method().
 * Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_mock_request_protocol(meshlib_mock *m,
                                                         int i);

/**
 * The first value of header |name| (case-insensitive) in request |i|.
 * Over HTTP/2 the `:authority` pseudo-header is reported as "host"; other
 * pseudo-headers are not headers (see method and path).
 * Returns: the value, or NULL when absent, |i| is out of range or an
 * argument is NULL.
 * Ownership/Thread-safety: as meshlib_mock_request_method(). Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_mock_request_header(meshlib_mock *m, int i,
                                                       const char *name);

/**
 * The body of request |i|; its length goes to *|len| (when |len| is not
 * NULL). The bytes are followed by a NUL that *|len| does not count.
 * Returns: the body ("" when empty), or NULL (and *|len| 0) when |m| is
 * NULL or |i| out of range.
 * Ownership/Thread-safety: as meshlib_mock_request_method(). Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_mock_request_body(meshlib_mock *m, int i,
                                                     size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* MESHLIB_TESTING_H */
