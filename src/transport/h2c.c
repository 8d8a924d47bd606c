/* SPDX-License-Identifier: MIT */
/* h2c with prior knowledge over nghttp2's client session. nghttp2 frames,
 * compresses headers, keeps flow control and validates what the server
 * sends; this file owns the socket: a non-blocking connect, then a poll
 * loop that writes what nghttp2_session_mem_send() serialises and feeds
 * what the socket gives to nghttp2_session_mem_recv(). The mem_* calls
 * (instead of send/recv callbacks) let one write() carry several frames
 * and spare the EAGAIN read that ends every callback-driven recv. */
#include "transport/h2c.h"

#include <arpa/inet.h>
#include <curl/curl.h> /* CURLE_* codes, so messages read alike */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "meshlib/error.h"
#include "transport/xfer_easy.h" /* ml_xfer_apply_keepalive() */
#include "util/str.h"
#include "util/clock.h"

#define ML_H2C_MAX_CONNS 32   /* open sessions per thread */
#define ML_H2C_READ_BUF 16384 /* one socket read */
#define ML_H2C_FLUSH_AT 65536 /* frames gathered before a write */
#define ML_H2C_STREAM_WINDOW (1 << 20)
#define ML_H2C_CONN_WINDOW (8 << 20)
#define ML_H2C_CONNECT_TIMEOUT_MS 10000 /* Istio's default */

typedef struct ml_h2c_xfer ml_h2c_xfer;

typedef struct ml_h2c_conn {
  struct ml_h2c_conn *prev, *next; /* LRU list, most recent first */
  char *host;
  uint32_t port;
  int fd;
  nghttp2_session *s;
  ml_h2c_xfer *cur; /* the exchange in progress, NULL between them */
  uint8_t *out;     /* serialised frames not written yet */
  size_t out_len, out_off, out_cap;
  uint64_t sent, received; /* bytes on the socket, whole life */
  int eof;                 /* the peer closed, or the socket failed */
  int sock_errno;          /* why, 0 for an orderly close */
  int fatal;               /* an nghttp2 error code that ended the session */
  int goaway;              /* the server sent GOAWAY: no new streams */
  int32_t goaway_last_id;
  uint32_t goaway_code;
  int local_goaway; /* we sent GOAWAY (the server broke the protocol) */
  uint32_t local_goaway_code;
  unsigned exchanges;   /* exchanges carried so far */
  char peer[64];        /* "ip:port" from getpeername() */
  int64_t created_us;   /* connected at (monotonic) */
  int64_t last_used_us; /* its last exchange ended at */
  /* The pool rules of its destination, from its last exchange: */
  int64_t idle_us;        /* idle this long: closed; 0: never */
  int64_t life_us;        /* this old: no new exchange; 0: no limit */
  uint64_t max_exchanges; /* exchanges it may carry; 0: unlimited */
} ml_h2c_conn;

struct ml_h2c_xfer {
  const ml_mem *mem;
  const ml_xfer_req *req;
  ml_xfer_result *res;
  int32_t id;
  size_t body_off; /* request body bytes handed to nghttp2 */
  int closed;      /* the stream closed (nghttp2 said so) */
  uint32_t close_code;
  int remote_rst; /* the server reset the stream */
  int invalid;    /* nghttp2 rejected something the server sent on it */
  int got_bytes;  /* a frame of this stream arrived: no silent retry */
  int interim;    /* the header block being read is a 1xx */
  int final_seen; /* a final :status arrived */
  int end_stream; /* the response arrived whole */
  int aborted;    /* the body callback said stop */
  int nomem;
  ml_buf body;
  size_t hdr_cap, trailer_cap; /* room in res->headers, res->trailers */
};

typedef struct ml_h2c_cache {
  ml_h2c_conn *head, *tail;
  size_t n;
  int64_t sweep_at_us; /* when to look for expired sessions next */
} ml_h2c_cache;

/* The cache lives in a thread-local pointer (fast path) registered with
 * a pthread key, whose destructor closes the sessions when the thread
 * ends. No global lock: threads never share a session. */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;
static int key_ok;
static _Thread_local ml_h2c_cache *tls_cache;

/* ---- the connection: output buffer, flush, read ---------------------- */

static int want_write(const ml_h2c_conn *c) {
  return c->out_off < c->out_len || nghttp2_session_want_write(c->s);
}

static int out_reserve(ml_h2c_conn *c, size_t n) {
  if (c->out_len + n <= c->out_cap)
    return 0;
  size_t cap = c->out_cap ? c->out_cap : 4096;
  while (cap < c->out_len + n)
    cap *= 2;
  uint8_t *p = ml_realloc(NULL, c->out, cap);
  if (p == NULL)
    return -1;
  c->out = p;
  c->out_cap = cap;
  return 0;
}

/* Serialise what nghttp2 has queued and write it until all is written or
 * the socket is full. 0 then; -1 when the socket or the session failed
 * (c->eof or c->fatal says which). */
static int conn_flush(ml_h2c_conn *c) {
  for (;;) {
    if (c->out_off == c->out_len) {
      c->out_off = c->out_len = 0;
      while (c->out_len < ML_H2C_FLUSH_AT) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(c->s, &d);
        if (n < 0) {
          c->fatal = (int)n;
          return -1;
        }
        if (n == 0)
          break;
        if (out_reserve(c, (size_t)n) != 0) {
          c->fatal = NGHTTP2_ERR_NOMEM;
          return -1;
        }
        memcpy(c->out + c->out_len, d, (size_t)n);
        c->out_len += (size_t)n;
      }
      if (c->out_len == 0)
        return 0;
    }
    ssize_t w =
        send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      c->eof = 1;
      c->sock_errno = errno;
      return -1;
    }
    c->out_off += (size_t)w;
    c->sent += (uint64_t)w;
  }
}

/* Read what the socket holds and feed it to nghttp2. 1 when bytes came,
 * 0 when none were waiting, -1 on end of stream, socket or session
 * failure. */
static int conn_read(ml_h2c_conn *c) {
  uint8_t buf[ML_H2C_READ_BUF];
  int got = 0;
  for (;;) {
    ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
    if (r == 0) {
      c->eof = 1;
      return -1;
    }
    if (r < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return got;
      c->eof = 1;
      c->sock_errno = errno;
      return -1;
    }
    c->received += (uint64_t)r;
    got = 1;
    ssize_t p = nghttp2_session_mem_recv(c->s, buf, (size_t)r);
    if (p < 0) {
      c->fatal = (int)p;
      return -1;
    }
    /* A short read drained the socket: no need for a read that says so. */
    if ((size_t)r < sizeof(buf))
      return 1;
  }
}

/* ---- nghttp2 callbacks (user_data: the connection) -------------------- */

static ml_h2c_xfer *xfer_of(void *user_data, int32_t id) {
  ml_h2c_conn *c = user_data;
  return c->cur != NULL && c->cur->id == id ? c->cur : NULL;
}

/* Append a field to the response's headers or, once the header block is
 * complete, its trailers: one block "name\0value\0" per field, the layout
 * ml_xfer_result_free() expects. */
static int header_add(ml_h2c_xfer *x, const uint8_t *name, size_t nl,
                      const uint8_t *value, size_t vl) {
  ml_xfer_result *r = x->res;
  int trailer = r->headers_complete;
  ml_header **list = trailer ? &r->trailers : &r->headers;
  size_t *count = trailer ? &r->trailer_count : &r->header_count;
  size_t *cap = trailer ? &x->trailer_cap : &x->hdr_cap;
  if (*count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    ml_header *v = ml_realloc(x->mem, *list, ncap * sizeof(*v));
    if (v == NULL)
      return -1;
    *list = v;
    *cap = ncap;
  }
  char *block = ml_malloc(x->mem, nl + vl + 2);
  if (block == NULL)
    return -1;
  /* nghttp2 already refuses upper-case names from a server; this keeps
   * the promise of transport.h even if that check is ever relaxed. */
  for (size_t i = 0; i < nl; i++)
    block[i] = ml_tolower((char)name[i]);
  block[nl] = '\0';
  if (vl > 0)
    memcpy(block + nl + 1, value, vl);
  block[nl + 1 + vl] = '\0';
  (*list)[*count].name = block;
  (*list)[*count].value = block + nl + 1;
  (*count)++;
  return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f,
                            void *user_data) {
  (void)s;
  ml_h2c_xfer *x = xfer_of(user_data, f->hd.stream_id);
  if (x != NULL) {
    x->got_bytes = 1;
    x->interim = 0;
  }
  return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f,
                     const uint8_t *name, size_t nl, const uint8_t *value,
                     size_t vl, uint8_t flags, void *user_data) {
  (void)s;
  (void)flags;
  ml_h2c_xfer *x = xfer_of(user_data, f->hd.stream_id);
  if (x == NULL || f->hd.type != NGHTTP2_HEADERS || x->aborted)
    return 0;
  if (nl > 0 && name[0] == ':') {
    /* nghttp2 has checked that :status is three digits. */
    if (nl == 7 && memcmp(name, ":status", 7) == 0 && !x->final_seen &&
        vl == 3) {
      int st =
          (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
      if (st < 200) {
        x->interim = 1; /* 100 Continue, 103 Early Hints: not the answer */
      } else {
        x->final_seen = 1;
        x->res->status = st;
      }
    }
    return 0;
  }
  if (x->interim)
    return 0;
  if (header_add(x, name, nl, value, vl) != 0) {
    x->nomem = 1;
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *user_data) {
  (void)flags;
  ml_h2c_xfer *x = xfer_of(user_data, id);
  if (x == NULL || x->aborted || x->nomem)
    return 0;
  x->got_bytes = 1;
  const ml_xfer_req *req = x->req;
  if (req->on_body != NULL) {
    if (len > 0 &&
        req->on_body((const char *)data, len, req->body_user_data) != 0) {
      x->aborted = 1;
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    return 0;
  }
  if (ml_buf_append(&x->body, (const char *)data, len) != 0) {
    x->nomem = 1;
    nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }
  return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f,
                         void *user_data) {
  (void)s;
  ml_h2c_conn *c = user_data;
  if (f->hd.type == NGHTTP2_GOAWAY) {
    c->goaway = 1;
    c->goaway_last_id = f->goaway.last_stream_id;
    c->goaway_code = f->goaway.error_code;
    return 0;
  }
  ml_h2c_xfer *x = xfer_of(user_data, f->hd.stream_id);
  if (x == NULL)
    return 0;
  switch (f->hd.type) {
  case NGHTTP2_HEADERS:
    if (x->final_seen && !x->interim)
      x->res->headers_complete = 1;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
      x->end_stream = 1;
    break;
  case NGHTTP2_DATA:
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
      x->end_stream = 1;
    break;
  case NGHTTP2_RST_STREAM:
    x->got_bytes = 1;
    x->remote_rst = 1;
    break;
  default:
    break;
  }
  return 0;
}

static int on_invalid_frame(nghttp2_session *s, const nghttp2_frame *f,
                            int lib_error, void *user_data) {
  (void)s;
  (void)lib_error;
  ml_h2c_xfer *x = xfer_of(user_data, f->hd.stream_id);
  if (x != NULL)
    x->invalid = 1;
  return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f,
                         void *user_data) {
  (void)s;
  ml_h2c_conn *c = user_data;
  if (f->hd.type == NGHTTP2_GOAWAY) {
    c->local_goaway = 1;
    c->local_goaway_code = f->goaway.error_code;
  }
  return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code,
                           void *user_data) {
  (void)s;
  ml_h2c_xfer *x = xfer_of(user_data, id);
  if (x != NULL) {
    x->closed = 1;
    x->close_code = code;
  }
  return 0;
}

/* The request body, from req->body (borrowed, so replayable). The source
 * is looked up through the connection rather than held by nghttp2, so a
 * stream that outlives its exchange (cancelled on timeout) can never
 * read a dead request. */
static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf,
                         size_t len, uint32_t *flags, nghttp2_data_source *src,
                         void *user_data) {
  (void)s;
  (void)src;
  ml_h2c_xfer *x = xfer_of(user_data, id);
  if (x == NULL)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t left = x->req->body_len - x->body_off;
  size_t n = left < len ? left : len;
  if (n > 0)
    memcpy(buf, x->req->body + x->body_off, n);
  x->body_off += n;
  if (x->body_off == x->req->body_len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* ---- opening and closing connections ---------------------------------- */

static void err_text(int err, char *buf, size_t len) {
  if (strerror_r(err, buf, len) != 0)
    snprintf(buf, len, "error %d", err);
}

static void conn_free(ml_h2c_conn *c, int graceful) {
  if (c == NULL)
    return;
  if (graceful && c->s != NULL && !c->eof && c->fatal == 0 && c->cur == NULL) {
    /* Tell the server we are going (best effort, never blocks). */
    nghttp2_session_terminate_session(c->s, NGHTTP2_NO_ERROR);
    conn_flush(c);
  }
  if (c->s != NULL)
    nghttp2_session_del(c->s);
  if (c->fd >= 0)
    close(c->fd);
  ml_free(NULL, c->out);
  ml_free(NULL, c->host);
  ml_free(NULL, c);
}

static void cache_unlink(ml_h2c_cache *k, ml_h2c_conn *c) {
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    k->head = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  else
    k->tail = c->prev;
  c->prev = c->next = NULL;
  k->n--;
}

static void cache_push_front(ml_h2c_cache *k, ml_h2c_conn *c) {
  c->prev = NULL;
  c->next = k->head;
  if (k->head != NULL)
    k->head->prev = c;
  else
    k->tail = c;
  k->head = c;
  k->n++;
}

static void cache_destroy(void *p) {
  ml_h2c_cache *k = p;
  if (k == NULL)
    return;
  while (k->head != NULL) {
    ml_h2c_conn *c = k->head;
    cache_unlink(k, c);
    conn_free(c, 1);
  }
  ml_free(NULL, k);
  if (tls_cache == k)
    tls_cache = NULL;
}

static void key_init(void) {
  key_ok = pthread_key_create(&cache_key, cache_destroy) == 0;
}

static ml_h2c_cache *cache_get(void) {
  if (tls_cache != NULL)
    return tls_cache;
  pthread_once(&key_once, key_init);
  if (!key_ok)
    return NULL;
  ml_h2c_cache *k = ml_calloc(NULL, 1, sizeof(*k));
  if (k == NULL)
    return NULL;
  if (pthread_setspecific(cache_key, k) != 0) {
    ml_free(NULL, k);
    return NULL;
  }
  tls_cache = k;
  return k;
}

void ml_h2c_thread_cleanup(void) {
  ml_h2c_cache *k = tls_cache;
  if (k == NULL)
    return;
  for (ml_h2c_conn *c = k->head; c != NULL; c = c->next)
    if (c->cur != NULL)
      return; /* called from a body callback: the exchange goes on */
  pthread_setspecific(cache_key, NULL);
  cache_destroy(k);
  tls_cache = NULL;
}

/* ---- pool rules -------------------------------------------------------- */

static int64_t ms_to_us(int64_t ms) {
  return ms > INT64_MAX / 2000 ? INT64_MAX / 2 : ms * 1000;
}

/* Take the pool rules of |pool| (NULL: Istio's defaults) for |c|. */
static void conn_rules(ml_h2c_conn *c, const ml_xfer_pool *pool) {
  int64_t idle = pool != NULL ? pool->idle_timeout_ms : -1;
  c->idle_us = ms_to_us(idle < 0 ? ML_XFER_DEFAULT_IDLE_TIMEOUT_MS : idle);
  c->life_us = pool != NULL && pool->max_connection_duration_ms > 0
                   ? ms_to_us(pool->max_connection_duration_ms)
                   : 0;
  c->max_exchanges = pool != NULL && pool->max_requests_per_connection > 0
                         ? (uint64_t)pool->max_requests_per_connection
                         : 0;
}

/* Whether |c| may carry no new exchange at |now|: idle too long, too
 * old, or done with its count. */
static int conn_expired(const ml_h2c_conn *c, int64_t now) {
  return (c->idle_us > 0 && now - c->last_used_us >= c->idle_us) ||
         (c->life_us > 0 && now - c->created_us >= c->life_us) ||
         (c->max_exchanges > 0 && c->exchanges >= c->max_exchanges);
}

/* Close the idle sessions whose own rules say so, at most once a
 * second: what Envoy's idle timer does, on the thread's next exchange. */
static void cache_sweep(ml_h2c_cache *k, int64_t now) {
  if (now < k->sweep_at_us)
    return;
  k->sweep_at_us = now + 1000000;
  for (ml_h2c_conn *c = k->head, *next; c != NULL; c = next) {
    next = c->next;
    if (c->cur == NULL && conn_expired(c, now)) {
      cache_unlink(k, c);
      conn_free(c, 1);
    }
  }
}

/* Can |c| carry one more exchange? Reads (without waiting) what the
 * server sent while the session was idle, so that a GOAWAY, a close or a
 * PING is handled before we write on it. */
static int conn_usable(ml_h2c_conn *c) {
  if (c->eof || c->fatal || c->goaway || c->local_goaway)
    return 0;
  if (nghttp2_session_get_next_stream_id(c->s) > INT32_MAX - 2)
    return 0; /* stream ids exhausted: a new connection, as RFC 9113 says */
  if (conn_read(c) < 0 || conn_flush(c) < 0)
    return 0;
  if (c->goaway || c->local_goaway)
    return 0;
  return nghttp2_session_want_read(c->s) || want_write(c);
}

/* The thread's idle session to the request's endpoint, moved to the
 * front, or NULL (a dead or expired one is closed on the way). */
static ml_h2c_conn *cache_take(ml_h2c_cache *k, const ml_xfer_req *req,
                               int64_t now) {
  cache_sweep(k, now);
  for (ml_h2c_conn *c = k->head; c != NULL; c = c->next) {
    if (c->port != req->connect_port || c->cur != NULL ||
        strcmp(c->host, req->connect_host) != 0)
      continue;
    cache_unlink(k, c);
    conn_rules(c, req->pool); /* the rules of the destination it serves */
    if (conn_expired(c, now)) {
      conn_free(c, 1); /* a GOAWAY: done with it */
      return NULL;
    }
    if (!conn_usable(c)) {
      conn_free(c, 0);
      return NULL;
    }
    cache_push_front(k, c);
    return c;
  }
  return NULL;
}

static void peer_name(int fd, char *out, size_t len) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  char ip[INET6_ADDRSTRLEN] = "";
  out[0] = '\0';
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
    return;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    snprintf(out, len, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
  }
}

/* Connect one address without blocking past |until_us|. Returns the
 * socket, or -1 with *err set (ETIMEDOUT when time ran out). */
static int connect_one(const struct addrinfo *ai, int64_t until_us, int *err) {
  int fd = socket(ai->ai_family, SOCK_STREAM, 0);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    *err = errno;
    close(fd);
    return -1;
  }
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
    return fd;
  if (errno != EINPROGRESS && errno != EINTR) {
    *err = errno;
    close(fd);
    return -1;
  }
  for (;;) {
    int64_t left = until_us - ml_now_us();
    if (left <= 0) {
      *err = ETIMEDOUT;
      close(fd);
      return -1;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    int64_t ms = (left + 999) / 1000;
    int n = poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      *err = errno;
      close(fd);
      return -1;
    }
    if (n == 0)
      continue; /* the loop decides whether time is up */
    int so = 0;
    socklen_t sl = sizeof(so);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0)
      so = errno;
    if (so != 0) {
      *err = so;
      close(fd);
      return -1;
    }
    return fd;
  }
}

static void set_error(ml_xfer_result *r, ml_xfer_outcome o, int curl_code,
                      const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void set_error(ml_xfer_result *r, ml_xfer_outcome o, int curl_code,
                      const char *fmt, ...) {
  r->outcome = o;
  r->curl_code = curl_code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof(r->error), fmt, ap);
  va_end(ap);
}

static ml_h2c_conn *session_new(int fd, const char *host, uint32_t port) {
  ml_h2c_conn *c = ml_calloc(NULL, 1, sizeof(*c));
  nghttp2_session_callbacks *cbs = NULL;
  if (c == NULL)
    return NULL;
  c->fd = fd;
  c->port = port;
  c->host = ml_strdup(NULL, host);
  if (c->host == NULL || nghttp2_session_callbacks_new(&cbs) != 0)
    goto fail;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
                                                          on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
      cbs, on_invalid_frame);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  int rv = nghttp2_session_client_new(&c->s, cbs, c);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0)
    goto fail;
  /* No server push; windows large enough that a big response does not
   * wait for WINDOW_UPDATE round trips on loopback. */
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, ML_H2C_STREAM_WINDOW}};
  if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
      nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0,
                                            ML_H2C_CONN_WINDOW) != 0)
    goto fail;
  peer_name(fd, c->peer, sizeof(c->peer));
  return c;
fail:
  c->fd = -1; /* the caller closes it */
  conn_free(c, 0);
  return NULL;
}

/* Open a session to the request's endpoint, or fill |res| and return
 * NULL (*nomem set when memory ran out). */
static ml_h2c_conn *conn_open(const ml_xfer_req *req, int64_t start_us,
                              int64_t deadline_us, ml_xfer_result *res,
                              int *nomem) {
  char port[16];
  snprintf(port, sizeof(port), "%u", (unsigned)req->connect_port);
  struct addrinfo hints, *ais = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int gai = getaddrinfo(req->connect_host, port, &hints, &ais);
  if (gai != 0) {
    if (gai == EAI_MEMORY)
      *nomem = 1;
    set_error(res, ML_XFER_CONNECT_FAILURE, CURLE_COULDNT_RESOLVE_HOST,
              "Could not resolve host: %s (%s)", req->connect_host,
              gai_strerror(gai));
    return NULL;
  }
  int64_t cto = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                            : ML_H2C_CONNECT_TIMEOUT_MS;
  int64_t until = ml_now_us() + cto * 1000;
  int overall = 0; /* the exchange's deadline comes first */
  if (deadline_us != 0 && deadline_us < until) {
    until = deadline_us;
    overall = 1;
  }
  int fd = -1, err = ECONNREFUSED;
  for (const struct addrinfo *ai = ais; ai != NULL && fd < 0;
       ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    fd = connect_one(ai, until, &err);
    if (err == ETIMEDOUT && fd < 0)
      break;
  }
  freeaddrinfo(ais);
  if (fd < 0) {
    long long ms = (long long)((ml_now_us() - start_us) / 1000);
    if (err == ETIMEDOUT && overall) {
      set_error(res, ML_XFER_TIMEOUT, CURLE_OPERATION_TIMEDOUT,
                "Connection timed out after %lld milliseconds", ms);
    } else {
      char why[128];
      err_text(err, why, sizeof(why));
      set_error(res, ML_XFER_CONNECT_FAILURE,
                err == ETIMEDOUT ? CURLE_OPERATION_TIMEDOUT
                                 : CURLE_COULDNT_CONNECT,
                "Failed to connect to %s port %u after %lld ms: %s",
                req->connect_host, (unsigned)req->connect_port, ms, why);
    }
    return NULL;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ml_xfer_apply_keepalive(fd, req->pool);
  ml_h2c_conn *c = session_new(fd, req->connect_host, req->connect_port);
  if (c == NULL) {
    close(fd);
    *nomem = 1;
    set_error(res, ML_XFER_LOCAL_ERROR, CURLE_OUT_OF_MEMORY, "Out of memory");
    return NULL;
  }
  c->created_us = c->last_used_us = ml_now_us();
  conn_rules(c, req->pool);
  return c;
}

/* ---- one exchange ------------------------------------------------------ */

/* Connection-specific fields must not appear in HTTP/2 (RFC 9113 8.2.2);
 * Host becomes :authority (8.3.1). */
static int skip_request_header(const char *name, const char *value) {
  static const char *const skip[] = {"connection",       "keep-alive",
                                     "proxy-connection", "transfer-encoding",
                                     "upgrade",          "host"};
  for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
    if (ml_strcaseeq(name, skip[i]))
      return 1;
  /* TE may only say "trailers" (gRPC sends it). */
  return ml_strcaseeq(name, "te") &&
         (value == NULL || !ml_strcaseeq(value, "trailers"));
}

static nghttp2_nv make_nv(const char *name, size_t nl, const char *value) {
  nghttp2_nv nv;
  nv.name = (uint8_t *)(uintptr_t)name;
  nv.namelen = nl;
  nv.value = (uint8_t *)(uintptr_t)(value != NULL ? value : "");
  nv.valuelen = value != NULL ? strlen(value) : 0;
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  return nv;
}

/* Queue the request on a new stream of |c|. 0, or an nghttp2 error. */
static int submit(ml_h2c_conn *c, ml_h2c_xfer *x) {
  const ml_xfer_req *req = x->req;
  size_t hc = req->header_count, n = hc + req->extra_header_count;
  size_t cap = 4 + n, names_len = 0;
  for (size_t i = 0; i < n; i++) {
    const ml_header *h =
        i < hc ? &req->headers[i] : &req->extra_headers[i - hc];
    if (h->name != NULL)
      names_len += strlen(h->name) + 1;
  }
  /* One block: the name/value array, then the lower-cased names. */
  nghttp2_nv stack_nv[24];
  char stack_names[512];
  nghttp2_nv *nva = stack_nv;
  char *names = stack_names;
  void *heap = NULL;
  if (cap > sizeof(stack_nv) / sizeof(stack_nv[0]) ||
      names_len > sizeof(stack_names)) {
    heap = ml_malloc(x->mem, cap * sizeof(*nva) + names_len);
    if (heap == NULL)
      return NGHTTP2_ERR_NOMEM;
    nva = heap;
    names = (char *)(nva + cap);
  }
  size_t k = 0;
  const char *path = req->path[0] != '\0' ? req->path : "/";
  nva[k++] = make_nv(":method", 7, req->method);
  nva[k++] = make_nv(":scheme", 7, "http");
  nva[k++] = make_nv(":authority", 10, req->authority);
  nva[k++] = make_nv(":path", 5, path);
  char *np = names;
  for (size_t i = 0; i < n; i++) {
    /* The request's headers, then the attempt's extra ones. */
    const ml_header *h =
        i < hc ? &req->headers[i] : &req->extra_headers[i - hc];
    if (h->name == NULL || h->name[0] == '\0' ||
        skip_request_header(h->name, h->value))
      continue;
    size_t nl = strlen(h->name);
    for (size_t j = 0; j < nl; j++)
      np[j] = ml_tolower(h->name[j]);
    np[nl] = '\0';
    nva[k++] = make_nv(np, nl, h->value);
    np += nl + 1;
  }
  nghttp2_data_provider prd;
  prd.source.ptr = NULL;
  prd.read_callback = read_body;
  c->cur = x;
  x->id = 0;
  int32_t id = nghttp2_submit_request(c->s, NULL, nva, k,
                                      req->body_len > 0 ? &prd : NULL, NULL);
  ml_free(x->mem, heap);
  if (id < 0) {
    c->cur = NULL;
    return id;
  }
  x->id = id;
  return 0;
}

typedef enum run_status {
  RUN_DONE,   /* the stream closed */
  RUN_LOST,   /* the connection ended (or failed) before that */
  RUN_TIMEOUT /* the deadline passed */
} run_status;

static run_status run(ml_h2c_conn *c, ml_h2c_xfer *x, int64_t deadline_us) {
  for (;;) {
    if (conn_flush(c) != 0)
      return x->closed ? RUN_DONE : RUN_LOST;
    if (x->closed)
      return RUN_DONE;
    int ww = want_write(c);
    if (!nghttp2_session_want_read(c->s) && !ww)
      return RUN_LOST;
    int timeout = -1;
    if (deadline_us != 0) {
      int64_t left = deadline_us - ml_now_us();
      if (left <= 0)
        return RUN_TIMEOUT;
      int64_t ms = (left + 999) / 1000;
      timeout = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    struct pollfd p = {c->fd, (short)(POLLIN | (ww ? POLLOUT : 0)), 0};
    int n = poll(&p, 1, timeout);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      c->eof = 1;
      c->sock_errno = errno;
      return RUN_LOST;
    }
    if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) && conn_read(c) < 0)
      return x->closed ? RUN_DONE : RUN_LOST;
  }
}

static const char *h2_code_name(uint32_t code) {
  return nghttp2_http2_strerror(code);
}

/* Say what happened to the exchange on |c| in |x->res|. */
static void classify(ml_h2c_conn *c, ml_h2c_xfer *x, run_status st,
                     int64_t start_us) {
  ml_xfer_result *r = x->res;
  long long ms = (long long)((ml_now_us() - start_us) / 1000);
  unsigned long long got = (unsigned long long)r->bytes_received;
  if (x->nomem || c->fatal == NGHTTP2_ERR_NOMEM) {
    set_error(r, ML_XFER_LOCAL_ERROR, CURLE_OUT_OF_MEMORY, "Out of memory");
  } else if (x->aborted) {
    set_error(r, ML_XFER_ABORTED, CURLE_WRITE_ERROR,
              "Failure writing output to destination");
  } else if (st == RUN_TIMEOUT) {
    set_error(r, ML_XFER_TIMEOUT, CURLE_OPERATION_TIMEDOUT,
              "Operation timed out after %lld milliseconds with %llu bytes "
              "received",
              ms, got);
  } else if (x->closed && x->end_stream && x->final_seen) {
    r->outcome = ML_XFER_OK; /* even if a NO_ERROR reset followed */
  } else if (x->closed && x->close_code == NGHTTP2_REFUSED_STREAM &&
             !x->remote_rst && c->goaway && x->id > c->goaway_last_id) {
    set_error(r, ML_XFER_REFUSED_STREAM, CURLE_HTTP2_STREAM,
              "HTTP/2 stream %d was not processed: the server sent GOAWAY "
              "(last stream %d, %s)",
              x->id, c->goaway_last_id, h2_code_name(c->goaway_code));
  } else if (x->closed && x->close_code == NGHTTP2_REFUSED_STREAM) {
    set_error(r, ML_XFER_REFUSED_STREAM, CURLE_HTTP2_STREAM,
              "HTTP/2 stream %d was refused by the server (REFUSED_STREAM)",
              x->id);
  } else if (x->invalid ||
             (x->closed && !x->remote_rst &&
              x->close_code == NGHTTP2_PROTOCOL_ERROR) ||
             (c->local_goaway && c->local_goaway_code != NGHTTP2_NO_ERROR) ||
             (c->fatal != 0 && c->fatal != NGHTTP2_ERR_NOMEM)) {
    set_error(r, ML_XFER_PROTOCOL_ERROR, CURLE_HTTP2,
              "Error in the HTTP2 framing layer: stream %d: %s", x->id,
              c->fatal != 0 ? nghttp2_strerror(c->fatal)
                            : "malformed response from the server");
  } else if (x->closed) {
    /* curl's words for the same event. */
    set_error(r, ML_XFER_RESET, CURLE_HTTP2_STREAM,
              "HTTP/2 stream %d was not closed cleanly: %s (err %u)", x->id,
              h2_code_name(x->close_code), (unsigned)x->close_code);
  } else if (c->goaway) {
    set_error(r, ML_XFER_RESET, CURLE_HTTP2,
              "HTTP/2 connection closed by the server: GOAWAY %s (last "
              "stream %d)",
              h2_code_name(c->goaway_code), c->goaway_last_id);
  } else if (c->sock_errno != 0) {
    char why[128];
    err_text(c->sock_errno, why, sizeof(why));
    set_error(r, ML_XFER_RESET, CURLE_RECV_ERROR, "Recv failure: %s", why);
  } else {
    set_error(r, ML_XFER_RESET, CURLE_PARTIAL_FILE,
              "Connection closed by the server before the end of stream %d "
              "(%llu bytes received)",
              x->id, got);
  }
}

static void xfer_restart(ml_h2c_xfer *x) {
  /* Nothing of the stream arrived (that is why we may restart), so only
   * the per-stream flags go. */
  x->id = 0;
  x->body_off = 0;
  x->closed = x->remote_rst = x->invalid = x->interim = 0;
  x->final_seen = x->end_stream = 0;
  x->close_code = 0;
  ml_buf_reset(&x->body);
}

int ml_h2c_perform(const ml_mem *mem, const ml_xfer_req *req,
                   ml_xfer_result *res) {
  if (res == NULL)
    return MESHLIB_ERR_INVALID_ARG;
  ml_xfer_result_init(res, mem);
  res->http_version = 20;
  if (req == NULL || req->method == NULL || req->method[0] == '\0' ||
      req->path == NULL || req->authority == NULL ||
      req->connect_host == NULL || req->connect_port == 0 ||
      req->connect_port > 65535 ||
      (req->header_count > 0 && req->headers == NULL) ||
      (req->extra_header_count > 0 && req->extra_headers == NULL) ||
      (req->body_len > 0 && req->body == NULL)) {
    set_error(res, ML_XFER_LOCAL_ERROR, CURLE_BAD_FUNCTION_ARGUMENT,
              "Invalid request");
    return MESHLIB_ERR_INVALID_ARG;
  }
  int64_t start = ml_now_us();
  int64_t deadline = req->timeout_ms > 0 ? start + req->timeout_ms * 1000 : 0;
  ml_h2c_xfer x;
  memset(&x, 0, sizeof(x));
  x.mem = mem;
  x.req = req;
  x.res = res;
  ml_buf_init(&x.body, mem);
  int rc = MESHLIB_OK;
  ml_h2c_cache *k = cache_get();
  if (k == NULL) {
    set_error(res, ML_XFER_LOCAL_ERROR, CURLE_OUT_OF_MEMORY, "Out of memory");
    rc = MESHLIB_ERR_NOMEM;
    goto out;
  }
  for (int attempt = 0;; attempt++) {
    ml_h2c_conn *c = cache_take(k, req, start);
    int reused = c != NULL;
    if (c == NULL) {
      int nomem = 0;
      c = conn_open(req, start, deadline, res, &nomem);
      if (c == NULL) {
        rc = nomem ? MESHLIB_ERR_NOMEM : MESHLIB_OK;
        break;
      }
      cache_push_front(k, c);
      if (k->n > ML_H2C_MAX_CONNS) {
        ml_h2c_conn *old = k->tail;
        cache_unlink(k, old);
        conn_free(old, 1);
      }
    }
    uint64_t sent0 = c->sent, recv0 = c->received;
    run_status st = RUN_LOST;
    int sub = submit(c, &x);
    if (sub == 0)
      st = run(c, &x, deadline);
    res->bytes_sent += c->sent - sent0;
    res->bytes_received += c->received - recv0;
    res->reused_connection = reused;
    snprintf(res->upstream_address, sizeof(res->upstream_address), "%s",
             c->peer);
    int stale = reused && attempt == 0 && !x.got_bytes && !x.nomem &&
                ((sub == 0 && st == RUN_LOST) ||
                 sub == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE ||
                 sub == NGHTTP2_ERR_START_STREAM_NOT_ALLOWED);
    if (stale) {
      /* A kept-alive connection the server had given up on: what any
       * pool does, once, before reporting anything. */
      c->cur = NULL;
      cache_unlink(k, c);
      conn_free(c, 0);
      xfer_restart(&x);
      continue;
    }
    if (sub != 0) {
      if (sub == NGHTTP2_ERR_NOMEM) {
        rc = MESHLIB_ERR_NOMEM;
        set_error(res, ML_XFER_LOCAL_ERROR, CURLE_OUT_OF_MEMORY,
                  "Out of memory");
      } else {
        set_error(res, ML_XFER_LOCAL_ERROR, CURLE_HTTP2,
                  "HTTP/2 request could not be submitted: %s",
                  nghttp2_strerror(sub));
      }
    } else {
      classify(c, &x, st, start);
      if (res->outcome == ML_XFER_LOCAL_ERROR)
        rc = MESHLIB_ERR_NOMEM;
      if (!x.closed && !c->eof && c->fatal == 0) {
        /* Timeout or abort before the stream ended: cancel it, keep the
         * session (the RST goes now if the socket takes it, else with
         * the next exchange). */
        nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, x.id,
                                  NGHTTP2_CANCEL);
        uint64_t s1 = c->sent;
        conn_flush(c);
        res->bytes_sent += c->sent - s1;
      }
    }
    c->cur = NULL;
    c->exchanges++;
    c->last_used_us = ml_now_us();
    if (c->eof || c->fatal != 0 || c->goaway || c->local_goaway ||
        (!nghttp2_session_want_read(c->s) && !want_write(c))) {
      cache_unlink(k, c);
      conn_free(c, 0);
    } else if ((c->max_exchanges > 0 && c->exchanges >= c->max_exchanges) ||
               (c->life_us > 0 &&
                c->last_used_us - c->created_us >= c->life_us)) {
      /* Its last exchange under the pool's rules: GOAWAY, then close. */
      cache_unlink(k, c);
      conn_free(c, 1);
    }
    break;
  }
out:
  if (req->on_body == NULL) {
    res->body_len = x.body.len;
    res->body = ml_buf_steal(&x.body);
    if (res->body == NULL) {
      res->body_len = 0;
      if (res->outcome == ML_XFER_OK) {
        set_error(res, ML_XFER_LOCAL_ERROR, CURLE_OUT_OF_MEMORY,
                  "Out of memory");
        rc = MESHLIB_ERR_NOMEM;
      }
    }
  }
  ml_buf_free(&x.body);
  res->duration_us = ml_now_us() - start;
  return rc;
}
