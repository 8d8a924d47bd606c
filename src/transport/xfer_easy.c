/* SPDX-License-Identifier: MIT */
/* One exchange on one libcurl easy handle: request setup, the header and
 * body callbacks, and the classification of what happened. */
#include "transport/xfer_easy.h"

#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "meshlib/error.h"
#include "util/str.h"
#include "util/clock.h"

#define ML_XFER_DEFAULT_CONNECT_TIMEOUT_MS 10000
/* Connections one thread's handle keeps open (libcurl's default is 5,
 * too few for a thread that talks to a few services of a few endpoints
 * each). */
#define ML_XFER_MAX_CONNECTS 64L

/* What libcurl 7.88 is told for an idle timeout of |ms|: it stops
 * reusing a connection once its whole seconds idle exceed MAXAGE_CONN,
 * so a connection idle ceil(ms / 1000) s is not reused. */
#define ML_XFER_MAXAGE(ms) ((long)(((ms) + 999) / 1000) - 1)
#define ML_XFER_DEFAULT_MAXAGE ML_XFER_MAXAGE(ML_XFER_DEFAULT_IDLE_TIMEOUT_MS)

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void) {
  /* meshlib_global_init() is to own this; until then the first exchange
   * does it. libcurl counts its inits, so an application that called
   * curl_global_init() itself loses nothing. */
  g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ml_xfer_global_init(void) {
  pthread_once(&g_curl_once, curl_init_once);
  return g_curl_init_rc == CURLE_OK ? 0 : -1;
}

void ml_xfer_result_init(ml_xfer_result *r, const ml_mem *mem) {
  (void)mem;
  /* All zero but the two text buffers (320 bytes), emptied: this runs
   * twice per call. */
  memset(r, 0, offsetof(ml_xfer_result, error));
  r->error[0] = '\0';
  memset(&r->status, 0,
         offsetof(ml_xfer_result, upstream_address) -
             offsetof(ml_xfer_result, status));
  r->upstream_address[0] = '\0';
  memset(&r->trailers, 0, sizeof(*r) - offsetof(ml_xfer_result, trailers));
}

static void free_fields(const ml_mem *mem, ml_header *h, size_t n, int packed) {
  if (!packed) /* one block per field, which its name starts */
    for (size_t i = 0; i < n; i++)
      ml_free(mem, (void *)h[i].name);
  ml_free(mem, h);
}

void ml_xfer_result_free(const ml_mem *mem, ml_xfer_result *r) {
  if (!r)
    return;
  free_fields(mem, r->headers, r->header_count, r->fields_packed);
  free_fields(mem, r->trailers, r->trailer_count, r->fields_packed);
  ml_free(mem, r->body);
  r->headers = r->trailers = NULL;
  r->header_count = r->trailer_count = 0;
  r->body = NULL;
  r->body_len = 0;
}

void ml_xfer_run_destroy(ml_xfer_run *run) {
  ml_buf_free(&run->scratch);
  ml_buf_free(&run->url_set);
  ml_free(NULL, run->block);
  run->block = NULL;
  run->block_cap = 0;
  run->kept_ndefaults = 0;
  run->headers_set = NULL;
  ml_free(NULL, run->field_at);
  run->field_at = NULL;
  run->field_count = run->field_cap = 0;
}

/* ---- response callbacks ------------------------------------------- */

static int is_ows(char c) {
  return c == ' ' || c == '\t';
}

/* Copy the fields in the scratch into one block of the result's
 * allocator: the array, then the text. */
static int fields_pack(ml_xfer_run *run, ml_header **out, size_t *count) {
  size_t n = run->field_count;
  if (n == 0)
    return 0;
  size_t text = run->scratch.len;
  ml_header *h = ml_malloc(run->mem, n * sizeof(*h) + text);
  if (!h)
    return -1;
  char *base = (char *)(h + n);
  memcpy(base, run->scratch.data, text);
  for (size_t i = 0; i < n; i++) {
    h[i].name = base + run->field_at[2 * i];
    h[i].value = base + run->field_at[2 * i + 1];
  }
  *out = h;
  *count = n;
  run->res->fields_packed = 1;
  run->field_count = 0;
  ml_buf_reset(&run->scratch);
  return 0;
}

/* ASCII lower-case copy of |n| bytes, eight at a time: every response
 * header name goes through here. For each byte, 'A'..'Z' (and only
 * those: bytes >= 0x80 are left alone) gains 0x20. */
static void lower_copy(char *d, const char *s, size_t n) {
  const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  size_t i = 0;
  if (n >= 8) {
    for (;; i += 8) {
      if (i + 8 > n)
        i = n - 8; /* the last word overlaps: the same bytes, the same result */
      uint64_t x;
      memcpy(&x, s + i, 8);
      uint64_t low7 = x & ~high;
      uint64_t above_z = low7 + ones * (0x7f - 'Z'); /* high bit: > 'Z' */
      uint64_t from_a = low7 + ones * (0x80 - 'A');  /* high bit: >= 'A' */
      uint64_t upper = (from_a ^ above_z) & ~x & high;
      x |= upper >> 2;
      memcpy(d + i, &x, 8);
      if (i + 8 == n)
        return;
    }
  }
  for (; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    d[i] = (char)(c + ((unsigned)(c - 'A') < 26u ? 32 : 0));
  }
}

/* "Name:  value " -> "name\0value\0" in the scratch. This runs for
 * every header line: one pass copies and lower-cases the name, one copy
 * moves the value, no call but memcpy once the scratch is big enough. */
static int field_add(ml_xfer_run *run, const char *line, size_t nlen,
                     const char *value, size_t vlen) {
  if (run->field_count == run->field_cap) {
    size_t cap = run->field_cap ? run->field_cap * 2 : 16;
    uint32_t *f = ml_realloc(NULL, run->field_at, 2 * cap * sizeof(*f));
    if (!f)
      return -1;
    run->field_at = f;
    run->field_cap = cap;
  }
  ml_buf *b = &run->scratch;
  size_t off = b->len;
  if (off > UINT32_MAX - nlen - vlen - 2)
    return -1;
  size_t need = nlen + vlen + 2;
  if (off + need + 1 > b->cap) {
    /* Grow through ml_buf (its rules, its sticky failure): the line up
     * to the end of the value and one byte hold at least |need| + 1. */
    size_t span = (size_t)(value + vlen - line);
    if (ml_buf_append(b, line, span) || ml_buf_putc(b, '\0'))
      return -1;
    b->len = off;
  }
  char *d = b->data + off;
  lower_copy(d, line, nlen);
  d[nlen] = '\0';
  memcpy(d + nlen + 1, value, vlen);
  d[nlen + 1 + vlen] = '\0';
  b->len = off + need;
  b->data[b->len] = '\0';
  run->field_at[2 * run->field_count] = (uint32_t)off;
  run->field_at[2 * run->field_count + 1] = (uint32_t)(off + nlen + 1);
  run->field_count++;
  return 0;
}

/* An obsolete folded line (RFC 9112 5.2) continues the last value, which
 * ends the scratch. */
static int field_fold(ml_xfer_run *run, const char *more, size_t mlen) {
  ml_buf *b = &run->scratch;
  b->len--; /* its NUL */
  if (ml_buf_putc(b, ' ') || ml_buf_append(b, more, mlen))
    return -1;
  return ml_buf_putc(b, '\0');
}

static int parse_version(const char *p, size_t l) {
  /* "HTTP/1.1", "HTTP/2", "HTTP/1.0", "HTTP/3" */
  if (l >= 6 && p[5] >= '0' && p[5] <= '9') {
    int v = (p[5] - '0') * 10;
    if (l >= 8 && p[6] == '.' && p[7] >= '0' && p[7] <= '9')
      v += p[7] - '0';
    return v;
  }
  return 0;
}

/* What broke a response, named as Envoy's codecs name it. */
typedef enum ml_h1_fault {
  FAULT_HEADERS_TOO_LARGE,
  FAULT_TOO_MANY_HEADERS,
  FAULT_INVALID_STATUS,
  FAULT_INVALID_CHARACTERS,
  FAULT_CODEC,
  FAULT_CHUNKED_CONTENT_LENGTH,
  FAULT_INVALID_CONTENT_LENGTH,
  FAULT_INVALID_TRANSFER_ENCODING
} ml_h1_fault;

static size_t fail(ml_xfer_run *run, ml_h1_fault f) {
  static const char *const text[][2] = {
      {"http1.headers_too_large", "http2.headers_too_large"},
      {"http1.too_many_headers", "http2.too_many_headers"},
      {"http1.invalid_status", "http2.invalid_status"},
      {"http1.invalid_characters", "http2.invalid.header.field"},
      {"http1.codec_error", "http2.codec_error"},
      {"http1.content_length_and_chunked_not_allowed",
       "http2.content_length_and_chunked_not_allowed"},
      {"http1.invalid_content_length", "http2.invalid_content_length"},
      {"http1.invalid_transfer_encoding", "http2.invalid_transfer_encoding"},
  };
  run->failure = text[f][run->res->http_version >= 20];
  return 0; /* to libcurl: stop (CURLE_WRITE_ERROR) */
}

/* RFC 9110 5.6.2 token characters, for field names. */
static int is_tchar(unsigned char c) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c && memchr(extra, c, sizeof(extra) - 1));
}

/* Field values may hold HTAB, SP, visible ASCII and obs-text; no other
 * control byte (NUL, a bare CR, ESC, DEL), as nghttp2 and Envoy check. */
static int value_ok(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return 0;
  }
  return 1;
}

static int name_ok(const char *s, size_t n) {
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!is_tchar((unsigned char)s[i]))
      return 0;
  return 1;
}

/* A status line: "HTTP/x[.y] SSS[ reason]" with a status of 100..599. */
static int status_of(const char *p, size_t l, const char **sp_out) {
  const char *sp = memchr(p, ' ', l);
  *sp_out = sp;
  if (!sp || (size_t)(p + l - sp) < 4)
    return -1;
  const char *d = sp + 1;
  if (d[0] < '1' || d[0] > '5' || d[1] < '0' || d[1] > '9' || d[2] < '0' ||
      d[2] > '9' || (d + 3 < p + l && d[3] != ' '))
    return -1;
  return (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
}

/* The framing fields of the final block: one Content-Length (repeated
 * only with the same value), a Transfer-Encoding ending in chunked, and
 * never both (RFC 9112 6.1, 6.3; Envoy refuses them as here). */
static int framing_field(ml_xfer_run *run, const char *name, size_t nlen,
                         const char *v, size_t vlen) {
  if (nlen == 14 && strncasecmp(name, "content-length", 14) == 0) {
    uint64_t n = 0;
    int ok = vlen > 0 && vlen <= 19;
    for (size_t i = 0; ok && i < vlen; i++) {
      ok = v[i] >= '0' && v[i] <= '9';
      n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (!ok || (run->content_length && n != run->length)) {
      fail(run, FAULT_INVALID_CONTENT_LENGTH);
      return -1;
    }
    run->content_length = 1;
    run->length = n;
  } else if (nlen == 17 && strncasecmp(name, "transfer-encoding", 17) == 0) {
    size_t t = vlen;
    while (t > 0 && (is_ows(v[t - 1]) || v[t - 1] == ','))
      t--;
    if (t < 7 || strncasecmp(v + t - 7, "chunked", 7) != 0 ||
        (t > 7 && v[t - 8] != ',' && !is_ows(v[t - 8]))) {
      fail(run, FAULT_INVALID_TRANSFER_ENCODING);
      return -1;
    }
    run->chunked = 1;
  } else {
    return 0;
  }
  if (run->content_length && run->chunked) {
    fail(run, FAULT_CHUNKED_CONTENT_LENGTH);
    return -1;
  }
  return 0;
}

/* Counts a field of |bytes| against the block's limits. */
static int within_limits(ml_xfer_run *run, size_t bytes) {
  run->block_bytes += bytes;
  if (++run->block_fields > run->limits->header_count)
    fail(run, FAULT_TOO_MANY_HEADERS);
  else if (run->block_bytes > run->limits->header_bytes)
    fail(run, FAULT_HEADERS_TOO_LARGE);
  return run->failure == NULL;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  ml_xfer_run *run = ud;
  ml_xfer_result *res = run->res;
  size_t len = size * n;
  size_t l = len;
  /* libcurl hands whole lines, LF included; a CR may only precede it. */
  if (l >= 1 && p[l - 1] == '\n')
    l -= l >= 2 && p[l - 2] == '\r' ? 2 : 1;
  if (memchr(p, '\r', l) || memchr(p, '\n', l))
    return fail(run, FAULT_INVALID_CHARACTERS);
  if (l == 0) { /* the blank line that ends a block */
    if (run->final_block && !res->headers_complete) {
      /* Whole before the body starts, so a streaming caller sees them. */
      if (fields_pack(run, &res->headers, &res->header_count)) {
        run->oom = 1;
        return 0;
      }
      res->headers_complete = 1;
    }
    /* The trailers, if any, count apart. */
    run->block_bytes = 0;
    run->block_fields = 0;
    return len;
  }
  if (!res->headers_complete && l > 5 && memcmp(p, "HTTP/", 5) == 0) {
    /* A status line starts a new response: an interim (1xx) one's
     * headers are dropped, only the final response's are kept. */
    run->field_count = 0;
    run->block_bytes = 0;
    run->block_fields = 0;
    ml_buf_reset(&run->scratch);
    const char *sp;
    int status = status_of(p, l, &sp);
    res->http_version = parse_version(p, sp ? (size_t)(sp - p) : l);
    if (status < 0)
      return fail(run, FAULT_INVALID_STATUS);
    res->status = status;
    run->final_block = status >= 200;
    return len;
  }
  if (is_ows(p[0])) {
    /* An obsolete folded line (RFC 9112 5.2) continues the last value. */
    size_t s = 0;
    while (s < l && is_ows(p[s]))
      s++;
    if (run->field_count == 0)
      return fail(run, FAULT_CODEC);
    if (!value_ok(p + s, l - s))
      return fail(run, FAULT_INVALID_CHARACTERS);
    if (s < l && !within_limits(run, l - s + 1))
      return 0;
    if (s < l && field_fold(run, p + s, l - s)) {
      run->oom = 1;
      return 0;
    }
    return len;
  }
  const char *colon = memchr(p, ':', l);
  if (!colon)
    return fail(run, FAULT_CODEC);
  size_t nlen = (size_t)(colon - p);
  const char *v = colon + 1;
  const char *end = p + l;
  while (v < end && is_ows(*v))
    v++;
  while (end > v && is_ows(end[-1]))
    end--;
  size_t vlen = (size_t)(end - v);
  if (!name_ok(p, nlen) || !value_ok(v, vlen))
    return fail(run, FAULT_INVALID_CHARACTERS);
  if (!within_limits(run, nlen + vlen))
    return 0;
  if (run->final_block && !res->headers_complete &&
      framing_field(run, p, nlen, v, vlen))
    return 0;
  if (field_add(run, p, nlen, v, vlen)) {
    run->oom = 1;
    return 0;
  }
  return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
  ml_xfer_run *run = ud;
  size_t len = size * n;
  if (len == 0)
    return 0;
  if (run->req->on_body) {
    if (run->req->on_body(p, len, run->req->body_user_data)) {
      run->aborted = 1;
      return 0; /* anything but |len| stops libcurl: CURLE_WRITE_ERROR */
    }
    return len;
  }
  uint64_t cap = run->limits->body_bytes;
  if (cap && len > cap - run->body.len) {
    run->too_large = 1;
    return 0;
  }
  if (ml_buf_append(&run->body, p, len)) {
    run->oom = 1;
    return 0;
  }
  return len;
}

/* ---- connection pool ---------------------------------------------- */

/* libcurl 7.88 says neither which connection an exchange used nor how
 * many it carried (CURLINFO_CONN_ID is 8.2), but after an exchange it
 * gives the socket of the connection it kept (CURLINFO_ACTIVESOCKET),
 * and CURLINFO_NUM_CONNECTS says whether that connection is new. A
 * socket is one connection while it is open, so the counts are kept by
 * descriptor, in a table of chunks made on first use and kept for the
 * process's life. A descriptor belongs to one connection of one handle,
 * driven by one thread at a time: relaxed atomics only keep descriptor
 * reuse across threads (the kernel orders it) clean for TSan. */
typedef struct ml_conn_slot {
  _Atomic uint32_t requests;  /* exchanges carried; 0: not known */
  _Atomic int64_t created_ms; /* when it was opened; 0: not known */
} ml_conn_slot;

#define ML_CONN_CHUNK_BITS 10
#define ML_CONN_CHUNKS 1024 /* descriptors below 2^20 are tracked */
static _Atomic(ml_conn_slot *) g_conn_chunks[ML_CONN_CHUNKS];

/* The slot of |fd|, made when |make| (NULL when it cannot be). */
static ml_conn_slot *conn_slot(curl_socket_t fd, int make) {
  if (fd < 0 || (fd >> ML_CONN_CHUNK_BITS) >= ML_CONN_CHUNKS)
    return NULL;
  _Atomic(ml_conn_slot *) *pc = &g_conn_chunks[fd >> ML_CONN_CHUNK_BITS];
  ml_conn_slot *c = atomic_load_explicit(pc, memory_order_acquire);
  if (!c && make) {
    /* libc: the table outlives every mesh. */
    ml_conn_slot *n =
        ml_calloc(NULL, (size_t)1 << ML_CONN_CHUNK_BITS, sizeof(*n));
    if (!n)
      return NULL;
    if (atomic_compare_exchange_strong_explicit(pc, &c, n, memory_order_acq_rel,
                                                memory_order_acquire))
      c = n;
    else
      ml_free(NULL, n); /* another thread's chunk won: |c| holds it */
  }
  return c ? &c[fd & ((1 << ML_CONN_CHUNK_BITS) - 1)] : NULL;
}

/* Whole seconds for a TCP keepalive option: rounded up, at least 1. */
static int keepalive_secs(int64_t ms) {
  int64_t s = (ms + 999) / 1000;
  return s < 1 ? 1 : s > INT_MAX ? INT_MAX : (int)s;
}

void ml_xfer_apply_keepalive(int fd, const ml_xfer_pool *pool) {
  if (!pool || !pool->tcp_keepalive)
    return;
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  if (pool->keepalive_time_ms > 0) {
    int v = keepalive_secs(pool->keepalive_time_ms);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
  }
  if (pool->keepalive_interval_ms > 0) {
    int v = keepalive_secs(pool->keepalive_interval_ms);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
  }
  if (pool->keepalive_probes > 0) {
    int v = pool->keepalive_probes > INT_MAX ? INT_MAX
                                             : (int)pool->keepalive_probes;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
  }
}

/* Every new connection's socket, before it connects: the keepalive
 * options (libcurl 7.88 has no TCP_KEEPCNT option), and a fresh count
 * in the table (a descriptor may have served a closed connection). */
static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose) {
  ml_xfer_run *run = ud;
  if (purpose != CURLSOCKTYPE_IPCXN || !run->req)
    return CURL_SOCKOPT_OK;
  const ml_xfer_pool *pool = run->req->pool;
  ml_conn_slot *slot = conn_slot(fd, pool != NULL);
  if (slot) {
    atomic_store_explicit(&slot->requests, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->created_ms, pool ? ml_now_ms() : 0,
                          memory_order_relaxed);
  }
  ml_xfer_apply_keepalive((int)fd, pool);
  return CURL_SOCKOPT_OK;
}

/* After an exchange under a pool that limits requests or age: count it
 * on its connection, and close the connection once it has carried its
 * last exchange or outlived its duration. Closing is a shutdown(): the
 * connection stays in libcurl's cache, which finds it dead before any
 * reuse and closes it. An HTTP/2 connection of a CURLM may carry other
 * streams: left alone (MAXLIFETIME_CONN still ages it out). */
static void pool_after(ml_xfer_run *run, CURL *e, const ml_xfer_pool *pool,
                       long num_connects, curl_off_t total_us) {
  if (run->res->http_version >= 20 && !run->own_connections)
    return;
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(e, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
      fd == CURL_SOCKET_BAD)
    return; /* not kept: closed already */
  ml_conn_slot *slot = conn_slot(fd, 1);
  if (!slot)
    return;
  int64_t now = ml_now_ms();
  uint32_t n = atomic_load_explicit(&slot->requests, memory_order_relaxed);
  int64_t created =
      atomic_load_explicit(&slot->created_ms, memory_order_relaxed);
  if (num_connects > 0 || n == 0) {
    n = 0; /* opened by this exchange, or before counting began */
    if (num_connects > 0 || created == 0)
      created = now - (int64_t)(total_us / 1000);
    atomic_store_explicit(&slot->created_ms, created, memory_order_relaxed);
  }
  n++;
  atomic_store_explicit(&slot->requests, n, memory_order_relaxed);
  if ((pool->max_requests_per_connection > 0 &&
       n >= pool->max_requests_per_connection) ||
      (pool->max_connection_duration_ms > 0 &&
       now - created >= pool->max_connection_duration_ms))
    shutdown(fd, SHUT_RDWR);
}

/* ---- request setup ------------------------------------------------ */

/* Options an exchange set beyond the handle's shared ones. */
enum {
  ML_XFER_SET_HEADERS = 1u << 0,
  ML_XFER_SET_TIMEOUT = 1u << 1,
  ML_XFER_SET_METHOD = 1u << 2, /* NOBODY or CUSTOMREQUEST */
  ML_XFER_SET_BODY = 1u << 3,   /* POSTFIELDS */
  ML_XFER_SET_CUSTOM = 1u << 4, /* CUSTOMREQUEST */
  ML_XFER_SET_IPRESOLVE = 1u << 7,
  ML_XFER_SET_FORBID_REUSE = 1u << 9,
  ML_XFER_SET_TLS = 1u << 8 /* undone by a full reset */
};

/* The length of |s|, or (size_t)-1 when it holds a CR or an LF (or, when
 * |colon|, a ':'): strlen and the checks in one pass, for the strings of
 * every exchange. */
static size_t checked_len(const char *s, int colon) {
  const char *p = s;
  for (;; p++) {
    unsigned char c = (unsigned char)*p;
    if (c > ':')
      continue;
    if (c == '\0')
      return (size_t)(p - s);
    if (c == '\r' || c == '\n' || (colon && c == ':'))
      return (size_t)-1;
  }
}

/* strcmp(s, lit) == 0 for a short literal, without a call: the method
 * and scheme of every exchange. */
static inline int str_is(const char *s, const char *lit) {
  size_t i = 0;
  for (; lit[i]; i++)
    if (s[i] != lit[i])
      return 0;
  return s[i] == '\0';
}

/* Header |i| of the request's list followed by its extra headers. */
static inline const ml_header *header_at(const ml_xfer_req *req, size_t i) {
  return i < req->header_count ? &req->headers[i]
                               : &req->extra_headers[i - req->header_count];
}

static int given(const ml_xfer_req *req, const char *name) {
  return ml_header_find(req->headers, req->header_count, name) ||
         ml_header_find(req->extra_headers, req->extra_header_count, name);
}

/* Whether the block kept from the last exchange holds exactly |req|'s
 * header lines (with |ndefaults| defaults after them): each name of the
 * length it had, then "Name: value" or "Name;" as written then. Equal
 * text was checked when it was written; a string compare per line is
 * cheaper than checking and copying it again. */
static int same_lines(const struct curl_slist *node, const uint32_t *name_len,
                      const ml_header *hs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const ml_header *h = &hs[i];
    if (!h->name || !h->value)
      return 0;
    size_t nl = strlen(h->name);
    const char *d = node[i].data;
    if (nl != name_len[i] || memcmp(d, h->name, nl) != 0)
      return 0;
    if (h->value[0] == '\0' ? d[nl] != ';' || d[nl + 1] != '\0'
                            : d[nl] != ':' || strcmp(d + nl + 2, h->value))
      return 0;
  }
  return 1;
}

static int same_headers(const ml_xfer_run *run, const ml_xfer_req *req,
                        size_t ndefaults) {
  size_t n = req->header_count, x = req->extra_header_count;
  if (run->kept_ndefaults != ndefaults || run->kept_count != n ||
      run->kept_extra != x)
    return 0;
  const struct curl_slist *node = run->block;
  if (!same_lines(node, run->kept_name_len, req->headers, n))
    return 0;
  /* The extra headers' lines follow the request's. */
  return x == 0 ||
         same_lines(node + n, run->kept_name_len + n, req->extra_headers, x);
}

/* The host part of an authority ("[::1]:80" -> "[::1]", "a:8" -> "a"). */
static size_t authority_host_len(const char *a) {
  if (a[0] == '[') {
    const char *rb = strchr(a, ']');
    return rb ? (size_t)(rb - a) + 1 : strlen(a);
  }
  const char *c = strrchr(a, ':');
  return c ? (size_t)(c - a) : strlen(a);
}

static long clamp_ms(int64_t ms) {
  return ms > (int64_t)LONG_MAX ? LONG_MAX : (long)ms;
}

/* Text assembly without printf: this runs on every exchange. */
static char *put(char *p, const char *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}

static char *put_str(char *p, const char *s) {
  return put(p, s, strlen(s));
}

static char *put_uint(char *p, unsigned long v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    *p++ = tmp[--n];
  return p;
}

int ml_xfer_handle_init(CURL *e, ml_xfer_run *run) {
  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                          \
  do {                                                                         \
    if (rc == CURLE_OK)                                                        \
      rc = curl_easy_setopt(e, opt, val);                                      \
  } while (0)
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_PATH_AS_IS, 1L);
  SET(CURLOPT_MAXCONNECTS, ML_XFER_MAX_CONNECTS);
  SET(CURLOPT_ERRORBUFFER, run->errbuf);
  SET(CURLOPT_CONNECT_TO, &run->connect_to);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, run);
  SET(CURLOPT_WRITEFUNCTION, on_write);
  SET(CURLOPT_WRITEDATA, run);
  SET(CURLOPT_OPENSOCKETDATA, run);
  SET(CURLOPT_SOCKOPTFUNCTION, on_sockopt);
  SET(CURLOPT_SOCKOPTDATA, run);
  SET(CURLOPT_MAXAGE_CONN, ML_XFER_DEFAULT_MAXAGE);
#undef SET
  /* A fresh or reset handle holds none of an exchange's options. */
  run->headers_set = NULL;
  ml_buf_reset(&run->url_set);
  run->connect_timeout_set = -1;
  run->version_set = -1;
  run->maxage_set = rc == CURLE_OK ? ML_XFER_DEFAULT_MAXAGE : -1;
  run->maxlife_set = rc == CURLE_OK ? 0 : -1; /* libcurl's: no limit */
  run->idle_set = 0;
  run->proxy_set = 0;
  return rc == CURLE_OK ? MESHLIB_OK : MESHLIB_ERR_NOMEM;
}

int ml_xfer_run_setup(ml_xfer_run *run, CURL *e, const ml_mem *mem,
                      const ml_xfer_req *req, ml_xfer_result *res) {
  /* Everything but the scratch kept between exchanges; the error
   * buffer (256 bytes) needs only its first byte cleared. */
  memset(run, 0, offsetof(ml_xfer_run, errbuf));
  run->errbuf[0] = '\0';
  memset(&run->body, 0,
         offsetof(ml_xfer_run, scratch) - offsetof(ml_xfer_run, body));
  run->field_count = 0;
  ml_buf_reset(&run->scratch);
  run->mem = mem;
  run->req = req;
  run->res = res;
  run->limits = req->limits ? req->limits : &ml_xfer_default_limits;
  ml_buf_init(&run->body, mem);
  if (!req->method || !req->method[0] || !req->scheme || !req->authority ||
      !req->authority[0] || !req->connect_host || !req->connect_host[0] ||
      req->connect_port == 0 || req->connect_port > 65535 ||
      (req->header_count && !req->headers) ||
      (req->extra_header_count && !req->extra_headers) ||
      (req->body_len && !req->body))
    return MESHLIB_ERR_INVALID_ARG;
  int https = str_is(req->scheme, "https");
  if (!https && !str_is(req->scheme, "http"))
    return MESHLIB_ERR_INVALID_ARG;
  const char *path = req->path && req->path[0] ? req->path : "/";
  size_t authority_len = checked_len(req->authority, 0);
  size_t path_len = checked_len(path, 0);
  if (checked_len(req->method, 0) == (size_t)-1 ||
      authority_len == (size_t)-1 || path_len == (size_t)-1 ||
      strpbrk(req->connect_host, "\r\n/") != NULL)
    return MESHLIB_ERR_INVALID_ARG;

  int is_post = str_is(req->method, "POST");
  int is_head = str_is(req->method, "HEAD");
  int has_body = !is_head && (req->body_len > 0 || is_post);
  run->has_body = has_body;
  const char *sni = https && req->tls ? req->tls->sni : NULL;
  if (sni && (!sni[0] || strpbrk(sni, "\r\n/:@[]") != NULL))
    return MESHLIB_ERR_INVALID_ARG;

  /* Headers, as given, then libcurl's own defaults switched off unless
   * the caller set them: an Envoy sidecar adds no Accept, no Expect and
   * no form Content-Type. */
  static const char *const defaults[] = {"Accept", "Expect", "Content-Type"};
  size_t ndefaults = has_body ? 3 : 1;
  int host_header = sni != NULL && !given(req, "host");
  size_t lines = req->header_count + req->extra_header_count;
  size_t nodes = lines + ndefaults + (size_t)host_header;
  /* URL "scheme://host[:port]path" and CONNECT_TO "::[host]:port". */
  size_t url_len = strlen(req->scheme) + 3 + authority_len +
                   (sni ? strlen(sni) : 0) + path_len + 1;
  size_t host_len = strlen(req->connect_host);
  size_t tail = url_len + host_len + 16;
  size_t node_bytes = nodes * sizeof(struct curl_slist);
  char *text;
  size_t k;
  if (!host_header && run->block &&
      run->kept_text_end + tail <= run->block_cap &&
      same_headers(run, req, ndefaults)) {
    /* The block already holds these header lines, checked when they
     * were written: only the URL and CONNECT_TO text are written again. */
    text = (char *)run->block + run->kept_text_end;
    k = run->kept_nodes;
  } else {
    size_t bytes = 0;
    /* The lengths measured here are not measured again when copying. */
    size_t lens[2 * ML_XFER_KEPT_HEADERS];
    for (size_t i = 0; i < lines; i++) {
      const ml_header *h = header_at(req, i);
      if (!h->name || !h->value)
        return MESHLIB_ERR_INVALID_ARG;
      size_t nl = checked_len(h->name, 1), vl = checked_len(h->value, 0);
      if (nl == 0 || nl == (size_t)-1 || vl == (size_t)-1)
        return MESHLIB_ERR_INVALID_ARG;
      if (i < ML_XFER_KEPT_HEADERS) {
        lens[2 * i] = nl;
        lens[2 * i + 1] = vl;
      }
      bytes += nl + vl + 3;
    }
    bytes += 13 + 7 + 13; /* the defaults, "Name:" and a NUL each */
    if (host_header)
      bytes += authority_len + 7;
    bytes += tail;
    if (node_bytes + bytes > run->block_cap) {
      /* libc: the block outlives the exchange, and may serve the next
       * mesh's. The handle may still point at the old nodes: set
       * again. */
      size_t cap = (node_bytes + bytes) * 2;
      char *nb = ml_malloc(NULL, cap);
      if (!nb)
        return MESHLIB_ERR_NOMEM;
      ml_free(NULL, run->block);
      run->block = nb;
      run->block_cap = cap;
      run->headers_set = NULL;
      if (curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL) != CURLE_OK)
        return MESHLIB_ERR_INVALID_ARG;
    }
    /* What the block holds is being rewritten: nothing to compare
     * against until it is whole. */
    run->kept_ndefaults = 0;
    char *block = run->block;
    struct curl_slist *node = (struct curl_slist *)(void *)block;
    text = block + node_bytes;
    k = 0;
    for (size_t i = 0; i < lines; i++) {
      const ml_header *h = header_at(req, i);
      int known = i < ML_XFER_KEPT_HEADERS;
      node[k++].data = text;
      text = known ? put(text, h->name, lens[2 * i]) : put_str(text, h->name);
      /* "Name;" is libcurl's way to send a header with an empty value
       * ("Name:" would remove it). */
      if (h->value[0] == '\0') {
        *text++ = ';';
      } else {
        text = put(text, ": ", 2);
        text = known ? put(text, h->value, lens[2 * i + 1])
                     : put_str(text, h->value);
      }
      *text++ = '\0';
    }
    for (size_t i = 0; i < ndefaults; i++) {
      if (given(req, defaults[i]))
        continue;
      node[k++].data = text;
      text = put_str(text, defaults[i]);
      *text++ = ':';
      *text++ = '\0';
    }
    if (host_header) {
      node[k++].data = text;
      text = put(text, "Host: ", 6);
      text = put_str(text, req->authority);
      *text++ = '\0';
    }
    for (size_t i = 0; i + 1 < k; i++)
      node[i].next = &node[i + 1];
    if (k > 0)
      node[k - 1].next = NULL;
    if (!host_header && lines <= ML_XFER_KEPT_HEADERS) {
      for (size_t i = 0; i < lines; i++)
        run->kept_name_len[i] = (uint32_t)lens[2 * i];
      run->kept_count = req->header_count;
      run->kept_extra = req->extra_header_count;
      run->kept_ndefaults = ndefaults;
      run->kept_nodes = k;
      run->kept_text_end = (size_t)(text - block);
    }
  }
  if (k > 0)
    run->headers = (struct curl_slist *)run->block;

  /* The URL keeps the service's authority, so Host/:authority and (by
   * default) SNI name the service; CONNECT_TO pins the endpoint. An
   * explicit SNI takes the URL's host, and Host names the service. */
  char *url = text;
  text = https ? put(text, "https://", 8) : put(text, "http://", 7);
  if (sni) {
    text = put_str(text, sni);
    text = put_str(text, req->authority + authority_host_len(req->authority));
  } else {
    text = put(text, req->authority, authority_len);
  }
  text = put(text, path, path_len);
  size_t ul = (size_t)(text - url);
  *text++ = '\0';
  /* Empty host and port: the pin applies to this URL whatever it is. */
  int v6 =
      strchr(req->connect_host, ':') != NULL && req->connect_host[0] != '[';
  run->ip_literal = v6 || strspn(req->connect_host, "0123456789.") == host_len;
  run->connect_to.data = text;
  run->connect_to.next = NULL;
  text = put(text, v6 ? "::[" : "::", v6 ? 3 : 2);
  text = put(text, req->connect_host, host_len);
  if (v6)
    *text++ = ']';
  *text++ = ':';
  text = put_uint(text, req->connect_port);
  *text = '\0';

  CURLcode rc = CURLE_OK;
#define SET(opt, val, flag)                                                    \
  do {                                                                         \
    if (rc == CURLE_OK) {                                                      \
      rc = curl_easy_setopt(e, opt, val);                                      \
      run->set |= (flag);                                                      \
    }                                                                          \
  } while (0)
  /* What the handle still holds from the last exchange is not set
   * again: libcurl copies a URL on every set, and kept-alive calls to
   * one service repeat the same URL, headers and timeouts. */
  if (ul != run->url_set.len || memcmp(url, run->url_set.data, ul) != 0) {
    ml_buf_reset(&run->url_set);
    if (ml_buf_append(&run->url_set, url, ul))
      ml_buf_reset(&run->url_set);
    SET(CURLOPT_URL, url, 0u);
    if (rc != CURLE_OK)
      ml_buf_reset(&run->url_set);
  }
  if (run->headers != run->headers_set) {
    SET(CURLOPT_HTTPHEADER, run->headers, 0u);
    run->headers_set = rc == CURLE_OK ? run->headers : NULL;
  }
  if (req->timeout_ms > 0)
    SET(CURLOPT_TIMEOUT_MS, clamp_ms(req->timeout_ms), ML_XFER_SET_TIMEOUT);
  long connect_timeout = req->connect_timeout_ms > 0
                             ? clamp_ms(req->connect_timeout_ms)
                             : (long)ML_XFER_DEFAULT_CONNECT_TIMEOUT_MS;
  if (connect_timeout != run->connect_timeout_set) {
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_timeout, 0u);
    run->connect_timeout_set = rc == CURLE_OK ? connect_timeout : -1;
  }

  if (is_head) {
    SET(CURLOPT_NOBODY, 1L, ML_XFER_SET_METHOD);
  } else if (has_body) {
    /* POSTFIELDS borrows the bytes and rereads them on every send, so
     * the same request can be performed again. */
    SET(CURLOPT_POSTFIELDS, req->body ? req->body : "", ML_XFER_SET_BODY);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len, 0u);
    if (!is_post)
      SET(CURLOPT_CUSTOMREQUEST, req->method, ML_XFER_SET_CUSTOM);
  } else if (!str_is(req->method, "GET")) {
    SET(CURLOPT_CUSTOMREQUEST, req->method, ML_XFER_SET_CUSTOM);
  }

  /* Pool settings: what the handle holds is compared, not set again;
   * without a pool, the defaults handle_init() set stay. */
  const ml_xfer_pool *pool = req->pool;
  if (pool || run->maxage_set != ML_XFER_DEFAULT_MAXAGE ||
      run->maxlife_set != 0) {
    int64_t idle = pool ? pool->idle_timeout_ms : -1;
    long maxage = idle < 0    ? ML_XFER_DEFAULT_MAXAGE
                  : idle == 0 ? LONG_MAX
                              : ML_XFER_MAXAGE(idle);
    if (maxage != run->maxage_set) {
      SET(CURLOPT_MAXAGE_CONN, maxage, 0u);
      run->maxage_set = rc == CURLE_OK ? maxage : -1;
    }
    /* 0 is "no limit" to libcurl: a duration of a second or less is
     * then enforced after each exchange only (pool_after()). */
    int64_t life = pool ? pool->max_connection_duration_ms : 0;
    long maxlife = life > 0 ? ML_XFER_MAXAGE(life) : 0;
    if (maxlife != run->maxlife_set) {
      SET(CURLOPT_MAXLIFETIME_CONN, maxlife, 0u);
      run->maxlife_set = rc == CURLE_OK ? maxlife : -1;
    }
    if (pool && pool->max_requests_per_connection == 1) {
      /* No keep-alive: not even a connection another rule left. */
      SET(CURLOPT_FRESH_CONNECT, 1L, ML_XFER_SET_FORBID_REUSE);
      SET(CURLOPT_FORBID_REUSE, 1L, ML_XFER_SET_FORBID_REUSE);
    }
  }

  /* The stream idle timeout: libcurl's low-speed check with a floor of
   * one byte, in whole seconds (0 switches it off). */
  int64_t idle_ms = run->limits->idle_timeout_ms;
  long idle = idle_ms > 0 ? (long)((idle_ms + 999) / 1000) : 0;
  if (idle != run->idle_set) {
    SET(CURLOPT_LOW_SPEED_LIMIT, idle ? 1L : 0L, 0u);
    SET(CURLOPT_LOW_SPEED_TIME, idle, 0u);
    run->idle_set = rc == CURLE_OK ? idle : -1;
  }
  /* An empty proxy makes libcurl ignore http_proxy and the like. */
  int proxy = !req->proxy_from_env;
  if (proxy != run->proxy_set) {
    SET(CURLOPT_PROXY, proxy ? "" : NULL, 0u);
    run->proxy_set = rc == CURLE_OK ? proxy : -1;
  }

  long version;
  switch (req->version) {
  case ML_HTTP_2_PRIOR:
    if (https) {
      version = CURL_HTTP_VERSION_2TLS;
      break;
    }
    version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    /* libcurl lets an HTTP/2 exchange reuse an HTTP/1.1 connection to
     * the same endpoint; pinning the address family on h2c exchanges
     * keeps the two apart (a connection made with another setting is
     * skipped). */
    if (run->ip_literal && !v6)
      SET(CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4, ML_XFER_SET_IPRESOLVE);
    else if (v6)
      SET(CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V6, ML_XFER_SET_IPRESOLVE);
    break;
  case ML_HTTP_2_TLS:
    version = CURL_HTTP_VERSION_2TLS;
    break;
  default:
    version = https ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1;
    break;
  }
  if (version != run->version_set) {
    SET(CURLOPT_HTTP_VERSION, version, 0u);
    run->version_set = rc == CURLE_OK ? version : -1;
  }

  if (https && req->tls) {
    const ml_xfer_tls *t = req->tls;
    if (t->ca_file)
      SET(CURLOPT_CAINFO, t->ca_file, ML_XFER_SET_TLS);
    if (t->cert_file)
      SET(CURLOPT_SSLCERT, t->cert_file, ML_XFER_SET_TLS);
    if (t->key_file)
      SET(CURLOPT_SSLKEY, t->key_file, ML_XFER_SET_TLS);
    if (t->insecure_skip_verify) {
      SET(CURLOPT_SSL_VERIFYPEER, 0L, ML_XFER_SET_TLS);
      SET(CURLOPT_SSL_VERIFYHOST, 0L, ML_XFER_SET_TLS);
    }
  }
#undef SET
  if (rc != CURLE_OK)
    return rc == CURLE_OUT_OF_MEMORY ? MESHLIB_ERR_NOMEM
                                     : MESHLIB_ERR_INVALID_ARG;
  return MESHLIB_OK;
}

int ml_xfer_run_unset(ml_xfer_run *run, CURL *e) {
  unsigned set = run->set;
  run->set = 0;
  if ((set & ML_XFER_SET_TLS) || run->needs_reset) {
    /* Certificate paths have no "unset" value that means "the default
     * bundle". And libcurl's count of its own retries (a reused
     * connection that died, a refused HTTP/2 stream: each opens a new
     * connection) survives transfers until curl_easy_reset(); five
     * over a handle's life would make the sixth exchange that needs one
     * fail. Both are rare next to kept-alive exchanges: start over. */
    curl_easy_reset(e);
    return 0;
  }
  if (set & ML_XFER_SET_TIMEOUT)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 0L);
  if (set & ML_XFER_SET_CUSTOM)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
  if (set & ML_XFER_SET_BODY) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
  }
  if (set & (ML_XFER_SET_BODY | ML_XFER_SET_METHOD))
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* also clears NOBODY */
  if (set & ML_XFER_SET_IPRESOLVE)
    curl_easy_setopt(e, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_WHATEVER);
  if (set & ML_XFER_SET_FORBID_REUSE) {
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 0L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 0L);
  }
  return 1;
}

void ml_xfer_run_release(ml_xfer_run *run) {
  /* The header nodes, the URL and CONNECT_TO text share one block, kept
   * for the next exchange; the handle may keep pointing at the nodes
   * (they are the run's, not the caller's). */
  run->headers = NULL;
  run->connect_to.data = NULL;
  ml_buf_free(&run->body);
  /* A response that was cut short can leave a big block behind. Only
   * the scratch goes: the handle may still point at the header nodes. */
  if (run->scratch.cap > 65536)
    ml_buf_free(&run->scratch);
}

/* ---- outcome ------------------------------------------------------ */

ml_xfer_outcome ml_xfer_classify(CURLcode rc, const char *error, int connected,
                                 int h2, const ml_xfer_req *req) {
  switch (rc) {
  case CURLE_OK:
    return ML_XFER_OK;
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return ML_XFER_CONNECT_FAILURE;
  case CURLE_OPERATION_TIMEDOUT: {
    if (connected)
      return ML_XFER_TIMEOUT;
    /* Still connecting: the connect timeout fired, unless the whole
     * exchange's deadline was the nearer one. */
    int64_t ct = req->connect_timeout_ms > 0
                     ? req->connect_timeout_ms
                     : ML_XFER_DEFAULT_CONNECT_TIMEOUT_MS;
    return req->timeout_ms > 0 && req->timeout_ms < ct
               ? ML_XFER_TIMEOUT
               : ML_XFER_CONNECT_FAILURE;
  }
  case CURLE_HTTP2_STREAM:
    return error && strstr(error, "REFUSED_STREAM") ? ML_XFER_REFUSED_STREAM
                                                    : ML_XFER_RESET;
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
    /* libcurl 7.88 retries a refused HTTP/2 stream on a new connection by
     * itself; after five retries it gives up with CURLE_RECV_ERROR (or
     * CURLE_SEND_ERROR) and "Connection died, tried 5 times before
     * giving up". Its other retry (a reused connection that died before
     * a byte) happens once, on a new connection, so over HTTP/2 the text
     * means refusals. */
    if (h2 && error && strstr(error, "tried 5 times"))
      return ML_XFER_REFUSED_STREAM;
    return ML_XFER_RESET;
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
    return ML_XFER_RESET;
  case CURLE_HTTP2:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_RANGE_ERROR:
    return ML_XFER_PROTOCOL_ERROR;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_USE_SSL_FAILED:
    return ML_XFER_TLS_ERROR;
  case CURLE_ABORTED_BY_CALLBACK:
    return ML_XFER_ABORTED;
  default:
    return ML_XFER_LOCAL_ERROR;
  }
}

static void put_address(char *out, size_t cap, const char *ip, long port) {
  size_t n = strlen(ip);
  if (n + 10 > cap)
    return;
  int v6 = strchr(ip, ':') != NULL;
  char *p = out;
  if (v6)
    *p++ = '[';
  p = put(p, ip, n);
  if (v6)
    *p++ = ']';
  *p++ = ':';
  p = put_uint(p, port > 0 ? (unsigned long)port : 0);
  *p = '\0';
}

int ml_xfer_run_finish(ml_xfer_run *run, CURL *e, CURLcode rc) {
  ml_xfer_result *res = run->res;
  long num_connects = 0, req_size = 0, hdr_size = 0, port = 0;
  curl_off_t up = 0, down = 0, total_us = 0, connect_us = 0;
  char *ip = NULL;
  /* Status and version come from the status line (on_header). */
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &num_connects);
  curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &req_size);
  curl_easy_getinfo(e, CURLINFO_HEADER_SIZE, &hdr_size);
  if (run->has_body) /* nothing else uploads */
    curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
  curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down);
  curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total_us);
  const char *addr;
  if (run->ip_literal && rc == CURLE_OK) {
    /* Pinned to an address and connected: that address. */
    addr = run->req->connect_host;
    port = (long)run->req->connect_port;
  } else {
    curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &port);
    addr = ip;
  }
  if (rc != CURLE_OK)
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect_us);
  run->needs_reset = rc != CURLE_OK || num_connects > 0;

  /* libcurl 7.88's own limits on what it gathers before our callback
   * sees it: a line over 100 KiB fails as out of memory, 300 KiB of
   * headers in all as a receive error. */
  if (!res->headers_complete && !run->oom && (hdr_size > 0 || connect_us > 0) &&
      (rc == CURLE_OUT_OF_MEMORY ||
       (rc == CURLE_RECV_ERROR &&
        strstr(run->errbuf, "Too large response headers"))))
    fail(run, FAULT_HEADERS_TOO_LARGE);
  /* Fields still in the scratch: trailers, or the headers of a
   * response cut short in its header block; none of a broken one. */
  if (run->failure) {
    run->field_count = 0;
    ml_buf_free(&run->scratch);
  } else if (run->field_count > 0 &&
             fields_pack(run,
                         res->headers_complete ? &res->trailers : &res->headers,
                         res->headers_complete ? &res->trailer_count
                                               : &res->header_count))
    run->oom = 1;
  res->curl_code = (int)rc;
  res->bytes_sent +=
      (uint64_t)(req_size > 0 ? req_size : 0) + (uint64_t)(up > 0 ? up : 0);
  res->bytes_received +=
      (uint64_t)(hdr_size > 0 ? hdr_size : 0) + (uint64_t)(down > 0 ? down : 0);
  res->duration_us += (int64_t)total_us;
  int connected = rc == CURLE_OK || connect_us > 0 || hdr_size > 0 ||
                  (num_connects == 0 && addr && addr[0]);
  res->reused_connection = num_connects == 0 && connected;
  if (addr && addr[0])
    put_address(res->upstream_address, sizeof(res->upstream_address), addr,
                port);

  const ml_xfer_pool *pool = run->req->pool;
  if (pool && rc == CURLE_OK &&
      (pool->max_requests_per_connection > 1 ||
       pool->max_connection_duration_ms > 0))
    pool_after(run, e, pool, num_connects, total_us);

  int nomem = run->oom || (rc == CURLE_OUT_OF_MEMORY && !run->failure);
  const char *msg = NULL;
  if (nomem) {
    res->outcome = ML_XFER_LOCAL_ERROR;
  } else if (run->aborted) {
    res->outcome = ML_XFER_ABORTED;
  } else if (run->failure) {
    res->outcome = ML_XFER_PROTOCOL_ERROR;
    res->failure = msg = run->failure;
  } else if (run->too_large) {
    res->outcome = ML_XFER_BODY_TOO_LARGE;
    msg = "response body over its limit";
  } else {
    res->outcome = ml_xfer_classify(rc, run->errbuf, connected,
                                    run->req->version != ML_HTTP_1_1, run->req);
    if (res->outcome == ML_XFER_TIMEOUT &&
        strncmp(run->errbuf, "Operation too slow", 18) == 0)
      res->outcome = ML_XFER_IDLE_TIMEOUT; /* the low-speed check */
    else if (res->outcome == ML_XFER_RESET && res->headers_complete)
      res->outcome = ML_XFER_RESET_AFTER_HEADERS;
  }
  if (res->outcome != ML_XFER_OK) {
    if (!msg)
      msg = nomem            ? "out of memory"
            : run->errbuf[0] ? run->errbuf
                             : curl_easy_strerror(rc);
    size_t n = strlen(msg);
    if (n >= sizeof(res->error))
      n = sizeof(res->error) - 1;
    memcpy(res->error, msg, n);
    res->error[n] = '\0';
  } else {
    res->error[0] = '\0';
  }
  if (res->outcome == ML_XFER_BODY_TOO_LARGE) {
    ml_buf_free(&run->body); /* at once, not with the request */
  } else if (!run->req->on_body && run->body.len > 0) {
    res->body_len = run->body.len;
    res->body = ml_buf_steal(&run->body);
  }
  return nomem ? MESHLIB_ERR_NOMEM : MESHLIB_OK;
}
