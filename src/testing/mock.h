/* SPDX-License-Identifier: MIT */
#ifndef ML_TESTING_MOCK_H
#define ML_TESTING_MOCK_H

/* Internals of the mock-upstream kit (include/meshlib/testing.h), shared
 * by the core (mock.c: script, records, acceptor), the HTTP/1.1 side
 * (mock_h1.c, libmicrohttpd) and the HTTP/2 side (mock_h2.c, nghttp2). */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "meshlib/testing.h"

/* The kit is its own library (libmeshlib-testing) and uses none of
 * libmeshlib's internals: plain libc allocation and these helpers. */

/* |n| bytes of |s| (NUL bytes included) and a NUL; NULL when out of
 * memory. */
char *ml_mock_strndup(const char *s, size_t n);
/* ASCII case-insensitive equality: header names are ASCII, and the C
 * locale's <ctype.h> must not decide what one is. */
int ml_mock_strcaseeq(const char *a, const char *b);
void ml_mock_str_lower(char *s);

/* An ordered list of header lines. */
typedef struct ml_mock_hdr {
  char *name;
  char *value;
} ml_mock_hdr;

typedef struct ml_mock_hdrs {
  ml_mock_hdr *v;
  size_t n, cap;
} ml_mock_hdrs;

int ml_mock_hdrs_add(ml_mock_hdrs *h, const char *name, size_t nlen,
                     const char *value, size_t vlen);
void ml_mock_hdrs_free(ml_mock_hdrs *h);

/* What one request gets. */
enum {
  ML_MOCK_RESPOND = 0, /* status, headers, body; after delay_ms if > 0 */
  ML_MOCK_HANG,        /* nothing until reset/free, then as RESET */
  ML_MOCK_RESET,
  ML_MOCK_CLOSE_AFTER_HEADERS,
  ML_MOCK_REFUSED
};

typedef struct ml_mock_action {
  int kind;
  int status;
  int delay_ms;
  char *body; /* NULL: the default body, filled in by ml_mock_next() */
  size_t len;
  ml_mock_hdrs hdrs;
  struct ml_mock_action *next;
} ml_mock_action;

void ml_mock_action_free(ml_mock_action *a);

/* One received request. */
typedef struct ml_mock_record {
  char *method;
  char *path;
  const char *protocol; /* static string */
  ml_mock_hdrs hdrs;
  char *body; /* NUL-terminated */
  size_t len, cap;
} ml_mock_record;

ml_mock_record *ml_mock_record_new(void);
void ml_mock_record_free(ml_mock_record *r);
int ml_mock_record_append_body(ml_mock_record *r, const char *p, size_t n);

/* A connection thread: classifies the connection, then serves HTTP/2
 * itself or hands the socket to libmicrohttpd. */
typedef struct ml_mock_conn {
  meshlib_mock *m;
  int fd;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  pthread_t thread;
  int done; /* under m->mu */
  struct ml_mock_conn *next;
} ml_mock_conn;

struct MHD_Daemon;

struct meshlib_mock {
  uint32_t magic;
  pthread_mutex_t mu;
  pthread_cond_t cond; /* CLOCK_MONOTONIC; broadcast on every change */
  int port;
  int listen_fd;    /* -1 while paused; owned by the acceptor thread */
  int ctl_pipe[2];  /* wakes the acceptor for a pause change */
  int stop_pipe[2]; /* written once by free(), never drained */
  int want_paused, paused, pause_err;
  int stopping;
  unsigned generation; /* bumped by reset(): releases hanging requests */
  pthread_t acceptor;
  int acceptor_started;
  struct MHD_Daemon *mhd;
  ml_mock_conn *conns;
  char *name;
  int default_status;
  char *default_body; /* NULL: the name */
  size_t default_len;
  ml_mock_hdrs default_hdrs;
  ml_mock_action *script_head, *script_tail;
  ml_mock_record **records;
  size_t nrecords, caprecords;
  int connections;
};

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t ml_mock_now_ms(void);

/* A request has been received in full: keep |rec| (always taken, even on
 * failure) and return the action to take, complete with status, headers
 * (x-mock-name, default ones, scripted ones) and body. *|gen| receives
 * the generation to hand to ml_mock_released(). NULL when out of memory:
 * the caller fails the request as a reset. */
ml_mock_action *ml_mock_next(meshlib_mock *m, ml_mock_record *rec,
                             unsigned *gen);

/* Nonzero when a request taken at |gen| must stop waiting: the mock is
 * stopping or has been reset. Takes the lock. */
int ml_mock_released(meshlib_mock *m, unsigned gen);

/* Block the calling thread until |deadline_ms| (INT64_MAX: forever, a
 * hang) or until the mock stops; a hang also ends when the mock is reset
 * after |gen|. Returns 0 when the deadline passed, -1 when released. */
int ml_mock_wait_until(meshlib_mock *m, int64_t deadline_ms, unsigned gen);

/* HTTP/1.1: start/stop the libmicrohttpd daemon; hand it a socket. */
int ml_mock_h1_start(meshlib_mock *m);
void ml_mock_h1_stop(meshlib_mock *m);
void ml_mock_h1_add(meshlib_mock *m, int fd, const struct sockaddr *addr,
                    socklen_t addrlen);

/* HTTP/2 with prior knowledge: serve |fd| until the client leaves or the
 * mock stops. The caller closes |fd|. */
void ml_mock_h2_serve(meshlib_mock *m, int fd);

#endif
