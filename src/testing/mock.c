/* SPDX-License-Identifier: MIT */
/* The mock-upstream kit: the shared state (script, default response,
 * records), the listening socket and the acceptor thread. Accepted
 * connections are classified by their first bytes: the HTTP/2 client
 * preface goes to mock_h2.c, anything else to libmicrohttpd (mock_h1.c).
 * One mutex guards everything: this is test tooling, not the hot path. */
#include "testing/mock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meshlib/error.h"
#include "meshlib/testing.h"

#define ML_MOCK_MAGIC 0x6d6f636bU /* "mock" */

/* How long a connection may stay silent before it is taken for HTTP/1.1
 * (a client that connects and waits gets libmicrohttpd's behaviour). */
#define ML_MOCK_CLASSIFY_MS 10000

static const char ml_h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define ML_H2_PREFACE_LEN 24

int64_t ml_mock_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ml_mock_ok(const meshlib_mock *m) {
  return m != NULL && m->magic == ML_MOCK_MAGIC;
}

/* ---- strings ---------------------------------------------------------- */

char *ml_mock_strndup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d == NULL)
    return NULL;
  if (n > 0)
    memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static char ml_mock_tolower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int ml_mock_strcaseeq(const char *a, const char *b) {
  for (; *a != '\0' && *b != '\0'; a++, b++)
    if (ml_mock_tolower(*a) != ml_mock_tolower(*b))
      return 0;
  return *a == *b;
}

void ml_mock_str_lower(char *s) {
  for (; *s != '\0'; s++)
    *s = ml_mock_tolower(*s);
}

/* ---- headers, actions, records ---------------------------------------- */

int ml_mock_hdrs_add(ml_mock_hdrs *h, const char *name, size_t nlen,
                     const char *value, size_t vlen) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 8;
    ml_mock_hdr *v = realloc(h->v, cap * sizeof(*v));
    if (v == NULL)
      return MESHLIB_ERR_NOMEM;
    h->v = v;
    h->cap = cap;
  }
  char *n = ml_mock_strndup(name, nlen);
  char *val = ml_mock_strndup(value, vlen);
  if (n == NULL || val == NULL) {
    free(n);
    free(val);
    return MESHLIB_ERR_NOMEM;
  }
  h->v[h->n].name = n;
  h->v[h->n].value = val;
  h->n++;
  return MESHLIB_OK;
}

void ml_mock_hdrs_free(ml_mock_hdrs *h) {
  for (size_t i = 0; i < h->n; i++) {
    free(h->v[i].name);
    free(h->v[i].value);
  }
  free(h->v);
  h->v = NULL;
  h->n = h->cap = 0;
}

static int ml_mock_hdrs_copy(ml_mock_hdrs *dst, const ml_mock_hdrs *src) {
  for (size_t i = 0; i < src->n; i++) {
    const ml_mock_hdr *x = &src->v[i];
    int rc = ml_mock_hdrs_add(dst, x->name, strlen(x->name), x->value,
                              strlen(x->value));
    if (rc != MESHLIB_OK)
      return rc;
  }
  return MESHLIB_OK;
}

void ml_mock_action_free(ml_mock_action *a) {
  if (a == NULL)
    return;
  ml_mock_hdrs_free(&a->hdrs);
  free(a->body);
  free(a);
}

ml_mock_record *ml_mock_record_new(void) {
  ml_mock_record *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  r->body = malloc(1);
  if (r->body == NULL) {
    free(r);
    return NULL;
  }
  r->body[0] = '\0';
  r->cap = 1;
  return r;
}

void ml_mock_record_free(ml_mock_record *r) {
  if (r == NULL)
    return;
  free(r->method);
  free(r->path);
  ml_mock_hdrs_free(&r->hdrs);
  free(r->body);
  free(r);
}

int ml_mock_record_append_body(ml_mock_record *r, const char *p, size_t n) {
  if (r->len + n + 1 > r->cap) {
    size_t cap = r->cap * 2;
    while (cap < r->len + n + 1)
      cap *= 2;
    char *b = realloc(r->body, cap);
    if (b == NULL)
      return MESHLIB_ERR_NOMEM;
    r->body = b;
    r->cap = cap;
  }
  memcpy(r->body + r->len, p, n);
  r->len += n;
  r->body[r->len] = '\0';
  return MESHLIB_OK;
}

static void ml_mock_clear_script(meshlib_mock *m) {
  ml_mock_action *a = m->script_head;
  while (a != NULL) {
    ml_mock_action *next = a->next;
    ml_mock_action_free(a);
    a = next;
  }
  m->script_head = m->script_tail = NULL;
}

static void ml_mock_clear_records(meshlib_mock *m) {
  for (size_t i = 0; i < m->nrecords; i++)
    ml_mock_record_free(m->records[i]);
  m->nrecords = 0;
}

/* ---- serving: what a request gets ------------------------------------- */

ml_mock_action *ml_mock_next(meshlib_mock *m, ml_mock_record *rec,
                             unsigned *gen) {
  ml_mock_action *a = NULL;
  pthread_mutex_lock(&m->mu);
  *gen = m->generation;
  if (m->nrecords == m->caprecords) {
    size_t cap = m->caprecords ? m->caprecords * 2 : 16;
    ml_mock_record **v = realloc(m->records, cap * sizeof(*v));
    if (v == NULL)
      goto fail;
    m->records = v;
    m->caprecords = cap;
  }
  m->records[m->nrecords++] = rec;
  rec = NULL;
  pthread_cond_broadcast(&m->cond);

  ml_mock_action *scripted = m->script_head;
  if (scripted != NULL) {
    m->script_head = scripted->next;
    if (m->script_head == NULL)
      m->script_tail = NULL;
  }
  a = calloc(1, sizeof(*a));
  if (a == NULL) {
    ml_mock_action_free(scripted);
    goto fail;
  }
  a->kind = scripted ? scripted->kind : ML_MOCK_RESPOND;
  a->status = scripted ? scripted->status : m->default_status;
  a->delay_ms = scripted ? scripted->delay_ms : 0;
  const char *body = m->default_body ? m->default_body : m->name;
  size_t len = m->default_body ? m->default_len : strlen(m->name);
  if (scripted != NULL && scripted->body != NULL) {
    body = scripted->body;
    len = scripted->len;
  }
  a->body = malloc(len + 1);
  int rc = a->body ? MESHLIB_OK : MESHLIB_ERR_NOMEM;
  if (rc == MESHLIB_OK) {
    if (len > 0)
      memcpy(a->body, body, len);
    a->body[len] = '\0';
    a->len = len;
    rc =
        ml_mock_hdrs_add(&a->hdrs, "x-mock-name", 11, m->name, strlen(m->name));
  }
  if (rc == MESHLIB_OK)
    rc = ml_mock_hdrs_copy(&a->hdrs, &m->default_hdrs);
  if (rc == MESHLIB_OK && scripted != NULL)
    rc = ml_mock_hdrs_copy(&a->hdrs, &scripted->hdrs);
  ml_mock_action_free(scripted);
  if (rc != MESHLIB_OK) {
    ml_mock_action_free(a);
    a = NULL;
  }
fail:
  pthread_mutex_unlock(&m->mu);
  ml_mock_record_free(rec);
  return a;
}

int ml_mock_released(meshlib_mock *m, unsigned gen) {
  pthread_mutex_lock(&m->mu);
  int r = m->stopping || m->generation != gen;
  pthread_mutex_unlock(&m->mu);
  return r;
}

static void ml_mock_abs_time(int64_t ms, struct timespec *ts) {
  ts->tv_sec = (time_t)(ms / 1000);
  ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

int ml_mock_wait_until(meshlib_mock *m, int64_t deadline_ms, unsigned gen) {
  int rc = 0;
  pthread_mutex_lock(&m->mu);
  for (;;) {
    /* A reset releases hanging requests; delayed ones keep their word. */
    if (m->stopping || (deadline_ms == INT64_MAX && m->generation != gen)) {
      rc = -1;
      break;
    }
    if (deadline_ms == INT64_MAX) {
      pthread_cond_wait(&m->cond, &m->mu);
      continue;
    }
    if (ml_mock_now_ms() >= deadline_ms)
      break;
    struct timespec ts;
    ml_mock_abs_time(deadline_ms, &ts);
    pthread_cond_timedwait(&m->cond, &m->mu, &ts);
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}

/* ---- sockets and threads ---------------------------------------------- */

static void ml_mock_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFD);
  if (fl >= 0)
    fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

static int ml_mock_listen(int port, int *out_fd, int *out_port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return MESHLIB_ERR_IO;
  ml_mock_cloexec(fd);
  int one = 1;
  /* Resuming after a pause binds the same port again, while connections
   * from before may sit in TIME_WAIT. */
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof(sa);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      listen(fd, 128) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
    close(fd);
    return MESHLIB_ERR_IO;
  }
  *out_fd = fd;
  *out_port = ntohs(sa.sin_port);
  return MESHLIB_OK;
}

/* Peek at the first bytes: the HTTP/2 preface or not. Returns 2, 1, or 0
 * when the client went away (or the mock stops) before saying anything. */
static int ml_mock_classify(meshlib_mock *m, int fd) {
  int64_t deadline = ml_mock_now_ms() + ML_MOCK_CLASSIFY_MS;
  for (;;) {
    int64_t left = deadline - ml_mock_now_ms();
    if (left <= 0)
      return 1;
    struct pollfd p[2] = {{fd, POLLIN, 0}, {m->stop_pipe[0], POLLIN, 0}};
    int n = poll(p, 2, (int)left);
    if (n < 0 && errno != EINTR)
      return 0;
    if (p[1].revents)
      return 0;
    if (n <= 0 || !p[0].revents)
      continue;
    char buf[ML_H2_PREFACE_LEN];
    ssize_t got = recv(fd, buf, sizeof(buf), MSG_PEEK);
    if (got <= 0)
      return (got < 0 && (errno == EINTR || errno == EAGAIN)) ? 1 : 0;
    if (memcmp(buf, ml_h2_preface, (size_t)got) != 0)
      return 1;
    if (got == ML_H2_PREFACE_LEN)
      return 2;
    /* A prefix of the preface so far: the rest is in flight. */
    struct timespec ts = {0, 1000000L};
    nanosleep(&ts, NULL);
  }
}

static void *ml_mock_conn_main(void *arg) {
  ml_mock_conn *c = arg;
  meshlib_mock *m = c->m;
  int kind = ml_mock_classify(m, c->fd);
  if (kind == 2) {
    ml_mock_h2_serve(m, c->fd);
    close(c->fd);
  } else if (kind == 1) {
    /* libmicrohttpd owns (and closes) the socket from here. */
    ml_mock_h1_add(m, c->fd, (struct sockaddr *)&c->addr, c->addrlen);
  } else {
    close(c->fd);
  }
  c->fd = -1;
  pthread_mutex_lock(&m->mu);
  c->done = 1;
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

/* Join the connection threads that have finished (all when |all|). */
static void ml_mock_reap(meshlib_mock *m, int all) {
  ml_mock_conn *done = NULL;
  pthread_mutex_lock(&m->mu);
  ml_mock_conn **pp = &m->conns;
  while (*pp != NULL) {
    ml_mock_conn *c = *pp;
    if (all || c->done) {
      *pp = c->next;
      c->next = done;
      done = c;
    } else {
      pp = &c->next;
    }
  }
  pthread_mutex_unlock(&m->mu);
  while (done != NULL) {
    ml_mock_conn *next = done->next;
    pthread_join(done->thread, NULL);
    free(done);
    done = next;
  }
}

static void ml_mock_accept_one(meshlib_mock *m) {
  ml_mock_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->m = m;
  c->addrlen = sizeof(c->addr);
  c->fd = accept(m->listen_fd, (struct sockaddr *)&c->addr, &c->addrlen);
  if (c->fd < 0) {
    free(c);
    return;
  }
  ml_mock_cloexec(c->fd);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  pthread_mutex_lock(&m->mu);
  m->connections++;
  pthread_mutex_unlock(&m->mu);
  if (pthread_create(&c->thread, NULL, ml_mock_conn_main, c) != 0) {
    close(c->fd);
    free(c);
    return;
  }
  pthread_mutex_lock(&m->mu);
  c->next = m->conns;
  m->conns = c;
  pthread_mutex_unlock(&m->mu);
}

/* Apply a requested pause change; the caller waits for |paused| to match
 * |want_paused|. */
static void ml_mock_apply_pause(meshlib_mock *m) {
  pthread_mutex_lock(&m->mu);
  int want = m->want_paused;
  pthread_mutex_unlock(&m->mu);
  int err = MESHLIB_OK;
  if (want && m->listen_fd >= 0) {
    close(m->listen_fd);
    m->listen_fd = -1;
  } else if (!want && m->listen_fd < 0) {
    int port = 0;
    err = ml_mock_listen(m->port, &m->listen_fd, &port);
  }
  pthread_mutex_lock(&m->mu);
  m->pause_err = err;
  m->paused = err == MESHLIB_OK ? want : !want;
  if (err != MESHLIB_OK)
    m->want_paused = m->paused;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->mu);
}

static void *ml_mock_acceptor_main(void *arg) {
  meshlib_mock *m = arg;
  for (;;) {
    struct pollfd p[3] = {{m->stop_pipe[0], POLLIN, 0},
                          {m->ctl_pipe[0], POLLIN, 0},
                          {m->listen_fd, POLLIN, 0}};
    int n = poll(p, m->listen_fd >= 0 ? 3 : 2, -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[0].revents)
      break;
    if (p[1].revents) {
      char b[16];
      ssize_t r = read(m->ctl_pipe[0], b, sizeof(b));
      (void)r;
      ml_mock_apply_pause(m);
      continue;
    }
    if (m->listen_fd >= 0 && p[2].revents) {
      ml_mock_accept_one(m);
      ml_mock_reap(m, 0);
    }
  }
  if (m->listen_fd >= 0) {
    close(m->listen_fd);
    m->listen_fd = -1;
  }
  return NULL;
}

/* ---- public API --------------------------------------------------------- */

static int ml_mock_check_status(int status) {
  return status >= 200 && status <= 599;
}

static int ml_mock_check_header(const char *s, int may_be_empty) {
  if (!may_be_empty && *s == '\0')
    return 0;
  for (; *s; s++)
    if (*s == '\r' || *s == '\n')
      return 0;
  return 1;
}

MESHLIB_EXTERN int meshlib_mock_new(meshlib_mock **out) {
  return meshlib_mock_new_on_port(out, 0);
}

MESHLIB_EXTERN int meshlib_mock_new_on_port(meshlib_mock **out, int port) {
  if (out == NULL)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  if (port < 0 || port > 65535)
    return MESHLIB_ERR_RANGE;
  meshlib_mock *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return MESHLIB_ERR_NOMEM;
  m->magic = ML_MOCK_MAGIC;
  m->listen_fd = m->ctl_pipe[0] = m->ctl_pipe[1] = -1;
  m->stop_pipe[0] = m->stop_pipe[1] = -1;
  m->default_status = 200;
  pthread_mutex_init(&m->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&m->cond, &ca);
  pthread_condattr_destroy(&ca);

  int rc = ml_mock_listen(port, &m->listen_fd, &m->port);
  if (rc == MESHLIB_OK && (pipe(m->ctl_pipe) != 0 || pipe(m->stop_pipe) != 0))
    rc = MESHLIB_ERR_IO;
  for (int i = 0; rc == MESHLIB_OK && i < 2; i++) {
    ml_mock_cloexec(m->ctl_pipe[i]);
    ml_mock_cloexec(m->stop_pipe[i]);
  }
  if (rc == MESHLIB_OK) {
    char name[32];
    snprintf(name, sizeof(name), "127.0.0.1:%d", m->port);
    m->name = strdup(name);
    if (m->name == NULL)
      rc = MESHLIB_ERR_NOMEM;
  }
  if (rc == MESHLIB_OK)
    rc = ml_mock_h1_start(m);
  if (rc == MESHLIB_OK) {
    if (pthread_create(&m->acceptor, NULL, ml_mock_acceptor_main, m) == 0)
      m->acceptor_started = 1;
    else
      rc = MESHLIB_ERR_IO;
  }
  if (rc != MESHLIB_OK) {
    meshlib_mock_free(m);
    return rc;
  }
  *out = m;
  return MESHLIB_OK;
}

MESHLIB_EXTERN void meshlib_mock_free(meshlib_mock *m) {
  if (!ml_mock_ok(m))
    return;
  /* Order matters: waiting handlers and connection threads see |stopping|
   * (or the stop pipe) first; classifier threads may still hand sockets
   * to libmicrohttpd, so the daemon stops last. */
  pthread_mutex_lock(&m->mu);
  m->stopping = 1;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->mu);
  if (m->stop_pipe[1] >= 0) {
    ssize_t r = write(m->stop_pipe[1], "x", 1);
    (void)r;
  }
  if (m->acceptor_started)
    pthread_join(m->acceptor, NULL);
  ml_mock_reap(m, 1);
  ml_mock_h1_stop(m);
  if (m->listen_fd >= 0)
    close(m->listen_fd);
  for (int i = 0; i < 2; i++) {
    if (m->ctl_pipe[i] >= 0)
      close(m->ctl_pipe[i]);
    if (m->stop_pipe[i] >= 0)
      close(m->stop_pipe[i]);
  }
  ml_mock_clear_script(m);
  ml_mock_clear_records(m);
  free(m->records);
  ml_mock_hdrs_free(&m->default_hdrs);
  free(m->default_body);
  free(m->name);
  pthread_cond_destroy(&m->cond);
  pthread_mutex_destroy(&m->mu);
  m->magic = 0;
  free(m);
}

MESHLIB_EXTERN int meshlib_mock_port(meshlib_mock *m) {
  return ml_mock_ok(m) ? m->port : -1;
}

MESHLIB_EXTERN int meshlib_mock_set_name(meshlib_mock *m, const char *name) {
  if (!ml_mock_ok(m) || name == NULL)
    return MESHLIB_ERR_INVALID_ARG;
  if (!ml_mock_check_header(name, 1))
    return MESHLIB_ERR_BAD_HEADER;
  char *copy = strdup(name);
  if (copy == NULL)
    return MESHLIB_ERR_NOMEM;
  pthread_mutex_lock(&m->mu);
  char *old = m->name;
  m->name = copy;
  pthread_mutex_unlock(&m->mu);
  free(old);
  return MESHLIB_OK;
}

static char *ml_mock_copy_body(const char *body, size_t len) {
  char *b = malloc(len + 1);
  if (b == NULL)
    return NULL;
  if (len > 0)
    memcpy(b, body, len);
  b[len] = '\0';
  return b;
}

MESHLIB_EXTERN int meshlib_mock_set_default(meshlib_mock *m, int status,
                                            const char *body, size_t len) {
  if (!ml_mock_ok(m) || (body == NULL && len > 0))
    return MESHLIB_ERR_INVALID_ARG;
  if (!ml_mock_check_status(status))
    return MESHLIB_ERR_RANGE;
  char *b = ml_mock_copy_body(body, len);
  if (b == NULL)
    return MESHLIB_ERR_NOMEM;
  pthread_mutex_lock(&m->mu);
  char *old = m->default_body;
  m->default_status = status;
  m->default_body = b;
  m->default_len = len;
  pthread_mutex_unlock(&m->mu);
  free(old);
  return MESHLIB_OK;
}

MESHLIB_EXTERN int meshlib_mock_add_default_header(meshlib_mock *m,
                                                   const char *name,
                                                   const char *value) {
  if (!ml_mock_ok(m) || name == NULL || value == NULL)
    return MESHLIB_ERR_INVALID_ARG;
  if (!ml_mock_check_header(name, 0) || !ml_mock_check_header(value, 1))
    return MESHLIB_ERR_BAD_HEADER;
  pthread_mutex_lock(&m->mu);
  int rc = ml_mock_hdrs_add(&m->default_hdrs, name, strlen(name), value,
                            strlen(value));
  pthread_mutex_unlock(&m->mu);
  return rc;
}

static int ml_mock_push(meshlib_mock *m, int kind, int status, int delay_ms,
                        const char *body, size_t len) {
  ml_mock_action *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return MESHLIB_ERR_NOMEM;
  a->kind = kind;
  a->status = status;
  a->delay_ms = delay_ms;
  if (body != NULL) {
    a->body = ml_mock_copy_body(body, len);
    if (a->body == NULL) {
      free(a);
      return MESHLIB_ERR_NOMEM;
    }
    a->len = len;
  }
  pthread_mutex_lock(&m->mu);
  if (m->script_tail != NULL)
    m->script_tail->next = a;
  else
    m->script_head = a;
  m->script_tail = a;
  pthread_mutex_unlock(&m->mu);
  return MESHLIB_OK;
}

MESHLIB_EXTERN int meshlib_mock_push_response(meshlib_mock *m, int status,
                                              const char *body, size_t len) {
  if (!ml_mock_ok(m) || (body == NULL && len > 0))
    return MESHLIB_ERR_INVALID_ARG;
  if (!ml_mock_check_status(status))
    return MESHLIB_ERR_RANGE;
  return ml_mock_push(m, ML_MOCK_RESPOND, status, 0, body ? body : "", len);
}

MESHLIB_EXTERN int meshlib_mock_push_delay(meshlib_mock *m, int delay_ms,
                                           int status) {
  if (!ml_mock_ok(m))
    return MESHLIB_ERR_INVALID_ARG;
  if (!ml_mock_check_status(status) || delay_ms < 0)
    return MESHLIB_ERR_RANGE;
  return ml_mock_push(m, ML_MOCK_RESPOND, status, delay_ms, NULL, 0);
}

MESHLIB_EXTERN int meshlib_mock_push_hang(meshlib_mock *m) {
  if (!ml_mock_ok(m))
    return MESHLIB_ERR_INVALID_ARG;
  return ml_mock_push(m, ML_MOCK_HANG, 200, 0, NULL, 0);
}

MESHLIB_EXTERN int meshlib_mock_push_reset(meshlib_mock *m) {
  if (!ml_mock_ok(m))
    return MESHLIB_ERR_INVALID_ARG;
  return ml_mock_push(m, ML_MOCK_RESET, 200, 0, NULL, 0);
}

MESHLIB_EXTERN int meshlib_mock_push_close_after_headers(meshlib_mock *m) {
  if (!ml_mock_ok(m))
    return MESHLIB_ERR_INVALID_ARG;
  return ml_mock_push(m, ML_MOCK_CLOSE_AFTER_HEADERS, 200, 0, NULL, 0);
}

MESHLIB_EXTERN int meshlib_mock_push_refused_stream(meshlib_mock *m) {
  if (!ml_mock_ok(m))
    return MESHLIB_ERR_INVALID_ARG;
  return ml_mock_push(m, ML_MOCK_REFUSED, 200, 0, NULL, 0);
}

MESHLIB_EXTERN int meshlib_mock_push_header(meshlib_mock *m, const char *name,
                                            const char *value) {
  if (!ml_mock_ok(m) || name == NULL || value == NULL)
    return MESHLIB_ERR_INVALID_ARG;
  if (!ml_mock_check_header(name, 0) || !ml_mock_check_header(value, 1))
    return MESHLIB_ERR_BAD_HEADER;
  int rc = MESHLIB_ERR_NOT_FOUND;
  pthread_mutex_lock(&m->mu);
  if (m->script_tail != NULL)
    rc = ml_mock_hdrs_add(&m->script_tail->hdrs, name, strlen(name), value,
                          strlen(value));
  pthread_mutex_unlock(&m->mu);
  return rc;
}

MESHLIB_EXTERN int meshlib_mock_pause(meshlib_mock *m, int paused) {
  if (!ml_mock_ok(m))
    return MESHLIB_ERR_INVALID_ARG;
  paused = paused != 0;
  pthread_mutex_lock(&m->mu);
  m->want_paused = paused;
  pthread_mutex_unlock(&m->mu);
  ssize_t w = write(m->ctl_pipe[1], "p", 1);
  if (w != 1)
    return MESHLIB_ERR_IO;
  pthread_mutex_lock(&m->mu);
  while (m->paused != paused && m->want_paused == paused && !m->stopping)
    pthread_cond_wait(&m->cond, &m->mu);
  int rc = m->paused == paused ? MESHLIB_OK : m->pause_err;
  if (rc == MESHLIB_OK && m->paused != paused)
    rc = MESHLIB_ERR_IO;
  pthread_mutex_unlock(&m->mu);
  return rc;
}

MESHLIB_EXTERN int meshlib_mock_reset(meshlib_mock *m) {
  if (!ml_mock_ok(m))
    return MESHLIB_ERR_INVALID_ARG;
  pthread_mutex_lock(&m->mu);
  ml_mock_clear_script(m);
  ml_mock_clear_records(m);
  m->connections = 0;
  m->generation++;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->mu);
  return MESHLIB_OK;
}

MESHLIB_EXTERN int meshlib_mock_request_count(meshlib_mock *m) {
  if (!ml_mock_ok(m))
    return -1;
  pthread_mutex_lock(&m->mu);
  int n = (int)m->nrecords;
  pthread_mutex_unlock(&m->mu);
  return n;
}

MESHLIB_EXTERN int meshlib_mock_wait_requests(meshlib_mock *m, int count,
                                              int timeout_ms) {
  if (!ml_mock_ok(m))
    return -1;
  int64_t deadline = ml_mock_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  pthread_mutex_lock(&m->mu);
  while ((int)m->nrecords < count && !m->stopping &&
         ml_mock_now_ms() < deadline) {
    struct timespec ts;
    ml_mock_abs_time(deadline, &ts);
    pthread_cond_timedwait(&m->cond, &m->mu, &ts);
  }
  int n = (int)m->nrecords;
  pthread_mutex_unlock(&m->mu);
  return n;
}

MESHLIB_EXTERN int meshlib_mock_connection_count(meshlib_mock *m) {
  if (!ml_mock_ok(m))
    return -1;
  pthread_mutex_lock(&m->mu);
  int n = m->connections;
  pthread_mutex_unlock(&m->mu);
  return n;
}

/* The record |i| or NULL; the caller holds the lock. */
static ml_mock_record *ml_mock_rec(meshlib_mock *m, int i) {
  return (i >= 0 && (size_t)i < m->nrecords) ? m->records[i] : NULL;
}

MESHLIB_EXTERN const char *meshlib_mock_request_method(meshlib_mock *m, int i) {
  if (!ml_mock_ok(m))
    return NULL;
  pthread_mutex_lock(&m->mu);
  ml_mock_record *r = ml_mock_rec(m, i);
  const char *s = r ? r->method : NULL;
  pthread_mutex_unlock(&m->mu);
  return s;
}

MESHLIB_EXTERN const char *meshlib_mock_request_path(meshlib_mock *m, int i) {
  if (!ml_mock_ok(m))
    return NULL;
  pthread_mutex_lock(&m->mu);
  ml_mock_record *r = ml_mock_rec(m, i);
  const char *s = r ? r->path : NULL;
  pthread_mutex_unlock(&m->mu);
  return s;
}

MESHLIB_EXTERN const char *meshlib_mock_request_protocol(meshlib_mock *m,
                                                         int i) {
  if (!ml_mock_ok(m))
    return NULL;
  pthread_mutex_lock(&m->mu);
  ml_mock_record *r = ml_mock_rec(m, i);
  const char *s = r ? r->protocol : NULL;
  pthread_mutex_unlock(&m->mu);
  return s;
}

MESHLIB_EXTERN const char *meshlib_mock_request_header(meshlib_mock *m, int i,
                                                       const char *name) {
  if (!ml_mock_ok(m) || name == NULL)
    return NULL;
  const char *s = NULL;
  pthread_mutex_lock(&m->mu);
  ml_mock_record *r = ml_mock_rec(m, i);
  for (size_t k = 0; r != NULL && k < r->hdrs.n; k++) {
    if (ml_mock_strcaseeq(r->hdrs.v[k].name, name)) {
      s = r->hdrs.v[k].value;
      break;
    }
  }
  pthread_mutex_unlock(&m->mu);
  return s;
}

MESHLIB_EXTERN const char *meshlib_mock_request_body(meshlib_mock *m, int i,
                                                     size_t *len) {
  if (len != NULL)
    *len = 0;
  if (!ml_mock_ok(m))
    return NULL;
  pthread_mutex_lock(&m->mu);
  ml_mock_record *r = ml_mock_rec(m, i);
  const char *s = r ? r->body : NULL;
  if (r != NULL && len != NULL)
    *len = r->len;
  pthread_mutex_unlock(&m->mu);
  return s;
}
