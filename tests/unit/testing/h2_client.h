/* SPDX-License-Identifier: MIT */
/* A minimal HTTP/2 (h2c, prior knowledge) client on nghttp2's client
 * session, for the tests that need several requests on one connection:
 * Debian 12's libcurl 7.88.1 cannot reuse an h2c prior-knowledge
 * connection (curl issue 10634, fixed in 8.0.0), so libcurl alone cannot
 * show keep-alive or multiplexing against the mock. Header-only. */
#ifndef ML_TEST_H2_CLIENT_H
#define ML_TEST_H2_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct h2c_stream {
  int32_t id;
  int status;
  char name[64]; /* x-mock-name */
  char body[4096];
  size_t len;
  int closed;
  uint32_t error; /* RST_STREAM code, 0 when none */
  double done_ms; /* when it closed, on CLOCK_MONOTONIC */
  const char *upload;
  size_t upload_len, upload_off;
} h2c_stream;

typedef struct h2c {
  int fd;
  nghttp2_session *s;
} h2c;

static double h2c_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static ssize_t h2c_send_cb(nghttp2_session *s, const uint8_t *d, size_t n,
                           int flags, void *u) {
  (void)s;
  (void)flags;
  h2c *c = u;
  ssize_t w = send(c->fd, d, n, MSG_NOSIGNAL);
  if (w < 0)
    return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK
                           : NGHTTP2_ERR_CALLBACK_FAILURE;
  return w;
}

static ssize_t h2c_recv_cb(nghttp2_session *s, uint8_t *b, size_t n, int flags,
                           void *u) {
  (void)s;
  (void)flags;
  h2c *c = u;
  ssize_t r = recv(c->fd, b, n, 0);
  if (r == 0)
    return NGHTTP2_ERR_EOF;
  if (r < 0)
    return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK
                           : NGHTTP2_ERR_CALLBACK_FAILURE;
  return r;
}

static int h2c_header_cb(nghttp2_session *s, const nghttp2_frame *f,
                         const uint8_t *name, size_t nl, const uint8_t *value,
                         size_t vl, uint8_t flags, void *u) {
  (void)flags;
  (void)u;
  h2c_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  if (st == NULL)
    return 0;
  if (nl == 7 && memcmp(name, ":status", 7) == 0) {
    char tmp[8] = {0};
    memcpy(tmp, value, vl < 7 ? vl : 7);
    st->status = (int)strtol(tmp, NULL, 10);
  } else if (nl == 11 && memcmp(name, "x-mock-name", 11) == 0) {
    snprintf(st->name, sizeof(st->name), "%.*s", (int)vl, (const char *)value);
  }
  return 0;
}

static int h2c_data_cb(nghttp2_session *s, uint8_t flags, int32_t id,
                       const uint8_t *d, size_t n, void *u) {
  (void)flags;
  (void)u;
  h2c_stream *st = nghttp2_session_get_stream_user_data(s, id);
  if (st == NULL)
    return 0;
  size_t room = sizeof(st->body) - 1 - st->len;
  size_t k = n < room ? n : room;
  memcpy(st->body + st->len, d, k);
  st->len += k;
  st->body[st->len] = '\0';
  return 0;
}

static int h2c_close_cb(nghttp2_session *s, int32_t id, uint32_t err, void *u) {
  (void)u;
  h2c_stream *st = nghttp2_session_get_stream_user_data(s, id);
  if (st != NULL) {
    st->closed = 1;
    st->error = err;
    st->done_ms = h2c_now_ms();
  }
  return 0;
}

static ssize_t h2c_read_upload(nghttp2_session *s, int32_t id, uint8_t *b,
                               size_t n, uint32_t *flags,
                               nghttp2_data_source *src, void *u) {
  (void)s;
  (void)id;
  (void)u;
  h2c_stream *st = src->ptr;
  size_t left = st->upload_len - st->upload_off;
  size_t k = left < n ? left : n;
  memcpy(b, st->upload + st->upload_off, k);
  st->upload_off += k;
  if (st->upload_off == st->upload_len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)k;
}

/* 0 on success. */
static int h2c_connect(h2c *c, int port) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
    return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, h2c_send_cb);
  nghttp2_session_callbacks_set_recv_callback(cb, h2c_recv_cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, h2c_header_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2c_data_cb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2c_close_cb);
  int rv = nghttp2_session_client_new(&c->s, cb, c);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0)
    return -1;
  return nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, NULL, 0);
}

/* Queue a request on a new stream; |body| may be NULL for none. */
static int h2c_request(h2c *c, int port, const char *method, const char *path,
                       const char *body, h2c_stream *st) {
  memset(st, 0, sizeof(*st));
  char auth[32];
  snprintf(auth, sizeof(auth), "127.0.0.1:%d", port);
#define H2C_NV(n, v)                                                           \
  {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv nva[] = {H2C_NV(":method", method), H2C_NV(":path", path),
                      H2C_NV(":scheme", "http"), H2C_NV(":authority", auth),
                      H2C_NV("x-client", "h2c")};
#undef H2C_NV
  nghttp2_data_provider prd;
  prd.source.ptr = st;
  prd.read_callback = h2c_read_upload;
  if (body != NULL) {
    st->upload = body;
    st->upload_len = strlen(body);
  }
  st->id = nghttp2_submit_request(c->s, NULL, nva, sizeof(nva) / sizeof(*nva),
                                  body ? &prd : NULL, st);
  return st->id > 0 ? 0 : -1;
}

/* Drive the connection until every stream in |v| is closed, the
 * connection ends or |timeout_ms| passes. 0 when all closed. */
static int h2c_run(h2c *c, h2c_stream **v, int n, int timeout_ms) {
  double deadline = h2c_now_ms() + timeout_ms;
  for (;;) {
    int open = 0;
    for (int i = 0; i < n; i++)
      open += !v[i]->closed;
    if (open == 0)
      return 0;
    if (nghttp2_session_send(c->s) != 0)
      return -1;
    if (!nghttp2_session_want_read(c->s) && !nghttp2_session_want_write(c->s))
      return -1;
    double left = deadline - h2c_now_ms();
    if (left <= 0)
      return -1;
    struct pollfd p = {c->fd, POLLIN, 0};
    if (nghttp2_session_want_write(c->s))
      p.events |= POLLOUT;
    if (poll(&p, 1, (int)left) > 0 && (p.revents & (POLLIN | POLLHUP)) &&
        nghttp2_session_recv(c->s) != 0)
      return -1;
  }
}

static void h2c_close(h2c *c) {
  nghttp2_session_del(c->s);
  close(c->fd);
}

#endif
