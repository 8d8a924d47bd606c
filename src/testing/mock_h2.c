/* SPDX-License-Identifier: MIT */
/* The HTTP/2 side of the mock (cleartext, prior knowledge): nghttp2's
 * server session does all the framing; this file moves bytes between it
 * and the socket (poll + nghttp2_session_recv/send) and turns complete
 * requests into scripted responses. One thread per connection; delayed
 * and hanging streams wait on deadlines in the loop, so the other streams
 * of the connection keep flowing. */
#include "testing/mock.h"

#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meshlib/error.h"

/* The gap between the headers and the reset of a truncated response. */
#define ML_H2_TRUNCATE_MS 50

typedef struct ml_h2_stream {
  int32_t id;
  ml_mock_record *rec; /* until the request is complete */
  ml_mock_action *act; /* from then on */
  size_t off;          /* body bytes sent */
  int64_t deadline;    /* a delayed (or, INT64_MAX, hanging) response */
  unsigned gen;
  int no_body; /* HEAD, 204, 304 */
  struct ml_h2_stream *next;
} ml_h2_stream;

typedef struct ml_h2_conn {
  meshlib_mock *m;
  int fd;
  ml_h2_stream *streams;
} ml_h2_conn;

static void ml_h2_stream_free(ml_h2_stream *st) {
  ml_mock_record_free(st->rec);
  ml_mock_action_free(st->act);
  free(st);
}

static ssize_t ml_h2_send(nghttp2_session *s, const uint8_t *data, size_t len,
                          int flags, void *user_data) {
  (void)s;
  (void)flags;
  ml_h2_conn *c = user_data;
  ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
  if (n < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
               ? NGHTTP2_ERR_WOULDBLOCK
               : NGHTTP2_ERR_CALLBACK_FAILURE;
  return n;
}

static ssize_t ml_h2_recv(nghttp2_session *s, uint8_t *buf, size_t len,
                          int flags, void *user_data) {
  (void)s;
  (void)flags;
  ml_h2_conn *c = user_data;
  ssize_t n = recv(c->fd, buf, len, 0);
  if (n == 0)
    return NGHTTP2_ERR_EOF;
  if (n < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
               ? NGHTTP2_ERR_WOULDBLOCK
               : NGHTTP2_ERR_CALLBACK_FAILURE;
  return n;
}

static int ml_h2_begin_headers(nghttp2_session *s, const nghttp2_frame *f,
                               void *user_data) {
  ml_h2_conn *c = user_data;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  ml_h2_stream *st = calloc(1, sizeof(*st));
  if (st == NULL)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  st->rec = ml_mock_record_new();
  if (st->rec == NULL) {
    free(st);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  st->rec->protocol = "HTTP/2";
  st->id = f->hd.stream_id;
  st->next = c->streams;
  c->streams = st;
  nghttp2_session_set_stream_user_data(s, st->id, st);
  return 0;
}

static int ml_h2_header(nghttp2_session *s, const nghttp2_frame *f,
                        const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user_data) {
  (void)flags;
  (void)user_data;
  ml_h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  if (st == NULL || st->rec == NULL)
    return 0;
  const char *n = (const char *)name;
  const char *v = (const char *)value;
  ml_mock_record *r = st->rec;
  char **slot = NULL;
  if (namelen == 7 && memcmp(n, ":method", 7) == 0)
    slot = &r->method;
  else if (namelen == 5 && memcmp(n, ":path", 5) == 0)
    slot = &r->path;
  if (slot != NULL) {
    free(*slot);
    *slot = ml_mock_strndup(v, valuelen);
    return *slot ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  if (namelen == 10 && memcmp(n, ":authority", 10) == 0) {
    n = "host";
    namelen = 4;
  } else if (namelen > 0 && n[0] == ':') {
    return 0; /* :scheme, :protocol: not headers */
  }
  if (ml_mock_hdrs_add(&r->hdrs, n, namelen, v, valuelen) != MESHLIB_OK)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int ml_h2_data_chunk(nghttp2_session *s, uint8_t flags,
                            int32_t stream_id, const uint8_t *data, size_t len,
                            void *user_data) {
  (void)flags;
  (void)user_data;
  ml_h2_stream *st = nghttp2_session_get_stream_user_data(s, stream_id);
  if (st == NULL || st->rec == NULL)
    return 0;
  if (ml_mock_record_append_body(st->rec, (const char *)data, len) !=
      MESHLIB_OK)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static ssize_t ml_h2_read_body(nghttp2_session *s, int32_t stream_id,
                               uint8_t *buf, size_t len, uint32_t *flags,
                               nghttp2_data_source *src, void *user_data) {
  (void)s;
  (void)stream_id;
  (void)user_data;
  ml_h2_stream *st = src->ptr;
  const ml_mock_action *a = st->act;
  if (a->kind == ML_MOCK_CLOSE_AFTER_HEADERS)
    return NGHTTP2_ERR_DEFERRED; /* the reset comes from ml_h2_timers() */
  size_t left = a->len - st->off;
  size_t n = left < len ? left : len;
  if (n > 0)
    memcpy(buf, a->body + st->off, n);
  st->off += n;
  if (st->off == a->len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* Connection-specific headers have no place in HTTP/2 (RFC 9113 8.2.2),
 * and content-length is ours to set. */
static int ml_h2_skip_header(const char *name) {
  static const char *const skip[] = {"connection",       "keep-alive",
                                     "proxy-connection", "transfer-encoding",
                                     "upgrade",          "content-length"};
  for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
    if (ml_mock_strcaseeq(name, skip[i]))
      return 1;
  return 0;
}

static int ml_h2_respond(nghttp2_session *s, ml_h2_stream *st) {
  const ml_mock_action *a = st->act;
  size_t nh = a->hdrs.n + 2;
  nghttp2_nv *nva = calloc(nh, sizeof(*nva));
  char **names = calloc(a->hdrs.n + 1, sizeof(*names));
  int rv = NGHTTP2_ERR_NOMEM;
  if (nva == NULL || names == NULL)
    goto out;
  char status[8], clen[24];
  snprintf(status, sizeof(status), "%d", a->status);
  size_t body = a->kind == ML_MOCK_CLOSE_AFTER_HEADERS
                    ? (a->len > 0 ? a->len : 16)
                    : a->len;
  if (a->status == 204 || a->status == 304)
    st->no_body = 1;
  if (st->no_body)
    body = 0;
  snprintf(clen, sizeof(clen), "%zu", body);
  size_t n = 0;
  nva[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7,
                          strlen(status), NGHTTP2_NV_FLAG_NONE};
  if (a->status != 204)
    nva[n++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)clen, 14,
                            strlen(clen), NGHTTP2_NV_FLAG_NONE};
  for (size_t i = 0; i < a->hdrs.n; i++) {
    const ml_mock_hdr *h = &a->hdrs.v[i];
    if (ml_h2_skip_header(h->name))
      continue;
    /* HTTP/2 header names are lower case; clients reject others. */
    names[i] = strdup(h->name);
    if (names[i] == NULL)
      goto out;
    ml_mock_str_lower(names[i]);
    nva[n++] =
        (nghttp2_nv){(uint8_t *)names[i], (uint8_t *)h->value, strlen(names[i]),
                     strlen(h->value), NGHTTP2_NV_FLAG_NONE};
  }
  nghttp2_data_provider prd;
  prd.source.ptr = st;
  prd.read_callback = ml_h2_read_body;
  int with_body =
      a->kind == ML_MOCK_CLOSE_AFTER_HEADERS || (!st->no_body && a->len > 0);
  rv = nghttp2_submit_response(s, st->id, nva, n, with_body ? &prd : NULL);
out:
  for (size_t i = 0; names != NULL && i < a->hdrs.n; i++)
    free(names[i]);
  free(names);
  free(nva);
  return rv;
}

static int ml_h2_rst(nghttp2_session *s, ml_h2_stream *st, uint32_t code) {
  return nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id, code);
}

/* The request on |st| is complete: record it, act on the script. */
static int ml_h2_request_done(nghttp2_session *s, ml_h2_conn *c,
                              ml_h2_stream *st) {
  ml_mock_record *rec = st->rec;
  st->rec = NULL;
  if (rec->method != NULL && strcmp(rec->method, "HEAD") == 0)
    st->no_body = 1;
  if (rec->method == NULL)
    rec->method = strdup("");
  if (rec->path == NULL)
    rec->path = strdup("");
  st->act = ml_mock_next(c->m, rec, &st->gen);
  if (st->act == NULL)
    return ml_h2_rst(s, st, NGHTTP2_INTERNAL_ERROR);
  switch (st->act->kind) {
  case ML_MOCK_RESPOND:
    if (st->act->delay_ms > 0) {
      st->deadline = ml_mock_now_ms() + st->act->delay_ms;
      return 0;
    }
    return ml_h2_respond(s, st);
  case ML_MOCK_CLOSE_AFTER_HEADERS:
    /* HEADERS now, RST_STREAM a little later: sent together, a client
     * such as libcurl 7.88 drops the headers with the stream. */
    st->deadline = ml_mock_now_ms() + ML_H2_TRUNCATE_MS;
    return ml_h2_respond(s, st);
  case ML_MOCK_HANG:
    st->deadline = INT64_MAX;
    return 0;
  case ML_MOCK_REFUSED:
    return ml_h2_rst(s, st, NGHTTP2_REFUSED_STREAM);
  default:
    return ml_h2_rst(s, st, NGHTTP2_INTERNAL_ERROR);
  }
}

static int ml_h2_frame_recv(nghttp2_session *s, const nghttp2_frame *f,
                            void *user_data) {
  ml_h2_conn *c = user_data;
  if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
      !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  ml_h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  if (st == NULL || st->rec == NULL)
    return 0;
  int rv = ml_h2_request_done(s, c, st);
  return nghttp2_is_fatal(rv) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int ml_h2_stream_close(nghttp2_session *s, int32_t stream_id,
                              uint32_t error_code, void *user_data) {
  (void)s;
  (void)error_code;
  ml_h2_conn *c = user_data;
  for (ml_h2_stream **pp = &c->streams; *pp != NULL; pp = &(*pp)->next) {
    if ((*pp)->id == stream_id) {
      ml_h2_stream *st = *pp;
      *pp = st->next;
      ml_h2_stream_free(st);
      break;
    }
  }
  return 0;
}

/* Fire the delayed responses that are due and release hangs after a
 * reset; returns the poll timeout until the next deadline (-1: none). */
static int ml_h2_timers(nghttp2_session *s, ml_h2_conn *c) {
  int64_t now = ml_mock_now_ms();
  int timeout = -1;
  for (ml_h2_stream *st = c->streams; st != NULL; st = st->next) {
    if (st->deadline == 0)
      continue;
    if (st->deadline == INT64_MAX) {
      if (ml_mock_released(c->m, st->gen)) {
        st->deadline = 0;
        ml_h2_rst(s, st, NGHTTP2_INTERNAL_ERROR);
      } else if (timeout < 0 || timeout > 50) {
        timeout = 50; /* a reset has no other way to reach us */
      }
      continue;
    }
    if (now >= st->deadline) {
      st->deadline = 0;
      if (st->act->kind == ML_MOCK_CLOSE_AFTER_HEADERS)
        ml_h2_rst(s, st, NGHTTP2_INTERNAL_ERROR);
      else
        ml_h2_respond(s, st);
      continue;
    }
    int left = (int)(st->deadline - now);
    if (timeout < 0 || left < timeout)
      timeout = left;
  }
  return timeout;
}

void ml_mock_h2_serve(meshlib_mock *m, int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
    return;
  ml_h2_conn c = {m, fd, NULL};
  nghttp2_session_callbacks *cbs = NULL;
  nghttp2_session *s = NULL;
  if (nghttp2_session_callbacks_new(&cbs) != 0)
    return;
  nghttp2_session_callbacks_set_send_callback(cbs, ml_h2_send);
  nghttp2_session_callbacks_set_recv_callback(cbs, ml_h2_recv);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
                                                          ml_h2_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, ml_h2_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
                                                            ml_h2_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, ml_h2_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
                                                         ml_h2_stream_close);
  int rv = nghttp2_session_server_new(&s, cbs, &c);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0)
    return;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
  if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, 1) != 0)
    goto done;
  for (;;) {
    int timeout = ml_h2_timers(s, &c);
    if (nghttp2_session_send(s) != 0)
      break;
    int want_w = nghttp2_session_want_write(s);
    if (!nghttp2_session_want_read(s) && !want_w)
      break;
    struct pollfd p[2] = {{fd, (short)(POLLIN | (want_w ? POLLOUT : 0)), 0},
                          {m->stop_pipe[0], POLLIN, 0}};
    int n = poll(p, 2, timeout);
    if (n < 0 && errno != EINTR)
      break;
    if (p[1].revents)
      break;
    if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
        nghttp2_session_recv(s) != 0)
      break;
  }
done:
  nghttp2_session_del(s);
  while (c.streams != NULL) {
    ml_h2_stream *next = c.streams->next;
    ml_h2_stream_free(c.streams);
    c.streams = next;
  }
}
