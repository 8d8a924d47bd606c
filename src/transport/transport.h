/* SPDX-License-Identifier: MIT */
#ifndef ML_TRANSPORT_TRANSPORT_H
#define ML_TRANSPORT_TRANSPORT_H

/* One HTTP exchange (one attempt) over libcurl. The layers above decide
 * where it goes and under which policy; this one only carries it and
 * classifies what happened in Envoy's terms. Connections are reused per
 * endpoint: synchronous exchanges keep a per-thread handle cache, an
 * asynchronous client keeps one CURLM. */
#include <stddef.h>
#include <stdint.h>
#include "util/http.h"
#include "util/mem.h"

typedef enum ml_http_version {
  ML_HTTP_1_1 = 0,     /* HTTP/1.1 (h2 via ALPN when TLS offers it) */
  ML_HTTP_2_PRIOR = 1, /* h2c with prior knowledge (ports HTTP2, GRPC) */
  ML_HTTP_2_TLS = 2    /* TLS, ALPN h2 preferred */
} ml_http_version;

/* TLS origination; all NULL/0 for plaintext or the system defaults. */
typedef struct ml_xfer_tls {
  const char *ca_file;   /* caCertificates; NULL: the system bundle */
  const char *cert_file; /* clientCertificate (MUTUAL) */
  const char *key_file;  /* privateKey */
  const char *sni;       /* NULL: the request's host */
  int insecure_skip_verify;
} ml_xfer_tls;

/* Called with body bytes as they arrive when the caller streams; return
 * 0 to go on, nonzero to abort the exchange. */
typedef int (*ml_xfer_body_cb)(const char *data, size_t len, void *user_data);

/* Connection-pool settings of a DestinationRule, with Envoy's meaning,
 * applied by both transports to the connections an exchange uses. The
 * fields take the config model's "unset" (-1) directly. A zeroed struct
 * means: unlimited requests, no idle timeout, no maximum duration, no
 * TCP keepalive. */
typedef struct ml_xfer_pool {
  /* http.maxRequestsPerConnection: a connection is closed once it has
   * carried this many exchanges; <= 0: unlimited, 1: no keep-alive. */
  int64_t max_requests_per_connection;
  /* http.idleTimeout: a connection idle this long is not used again and
   * is closed; < 0: Istio's default, 1 h; 0: never. HTTP/1.1 over
   * libcurl 7.88 counts whole seconds (closed once idle ceil(ms/1000) s). */
  int64_t idle_timeout_ms;
  /* tcp.maxConnectionDuration: a connection this old carries no new
   * exchange (closed after the one under way); <= 0: none. */
  int64_t max_connection_duration_ms;
  /* tcp.tcpKeepalive: nonzero turns SO_KEEPALIVE on; then time and
   * interval (TCP_KEEPIDLE, TCP_KEEPINTVL, whole seconds rounded up) and
   * probes (TCP_KEEPCNT), each <= 0 for the system's value (Linux: 7200
   * s, 75 s, 9). */
  int tcp_keepalive;
  int64_t keepalive_time_ms;
  int64_t keepalive_interval_ms;
  int64_t keepalive_probes;
} ml_xfer_pool;

/* Istio's http.idleTimeout when none is given. */
#define ML_XFER_DEFAULT_IDLE_TIMEOUT_MS 3600000

/* What one response may bring, enforced by both transports with the
 * same meaning. Past a header limit the exchange is a protocol error;
 * past the body limit, ML_XFER_BODY_TOO_LARGE; with no byte either way
 * for the idle time, ML_XFER_IDLE_TIMEOUT. Then the connection is
 * closed and what the response held is freed at once. */
typedef struct ml_xfer_limits {
  /* One header block (and the trailers, counted apart): the bytes of
   * its names and values (Envoy's max_response_headers_kb, 60 KiB) and
   * its fields (max_response_headers_count, 100). HTTP/1.1 over libcurl
   * also stops at 100 KiB for one line, libcurl's own limit. */
  uint32_t header_bytes;
  uint32_t header_count;
  /* A body the transport buffers (streamed bodies are the caller's to
   * bound); 0: none. */
  uint64_t body_bytes;
  /* Envoy's stream_idle_timeout (5 min); 0: none. HTTP/1.1 over
   * libcurl counts whole seconds, rounded up. */
  int64_t idle_timeout_ms;
} ml_xfer_limits;

#define ML_XFER_LIMITS_DEFAULT                                                 \
  { 60u * 1024u, 100u, (uint64_t)16 << 20, 300000 }

/* The limits of ML_XFER_LIMITS_DEFAULT, for requests that name none. */
extern const ml_xfer_limits ml_xfer_default_limits;

typedef struct ml_xfer_req {
  const char *method;       /* "GET" */
  const char *scheme;       /* "http" or "https" */
  const char *authority;    /* Host / :authority sent: "reviews:9080" */
  const char *path;         /* path and query as sent: "/api?x=1" */
  const char *connect_host; /* endpoint address (IP or name) */
  uint32_t connect_port;
  ml_http_version version;
  const ml_header *headers; /* sent as given (names as given) */
  size_t header_count;
  /* Sent after |headers|, also as given: what one attempt adds
   * (x-envoy-attempt-count, trace context) without a copy of the list.
   * A name in both lists is sent twice. */
  const ml_header *extra_headers;
  size_t extra_header_count;
  const char *body; /* borrowed for the exchange; may be NULL */
  size_t body_len;
  int64_t timeout_ms;           /* whole exchange; <= 0: none */
  int64_t connect_timeout_ms;   /* <= 0: 10 s, Istio's default */
  const ml_xfer_tls *tls;       /* NULL: no client settings */
  const ml_xfer_pool *pool;     /* NULL: Istio's defaults (see above) */
  const ml_xfer_limits *limits; /* NULL: ml_xfer_default_limits */
  /* libcurl may take a proxy from http_proxy and the like; else (0) the
   * environment is ignored and the exchange goes to the endpoint. */
  int proxy_from_env;
  ml_xfer_body_cb on_body; /* NULL: buffer the body in the result */
  void *body_user_data;
} ml_xfer_req;

typedef struct ml_xfer_result {
  ml_xfer_outcome outcome;
  int curl_code; /* CURLcode, for messages */
  /* Envoy's codec detail of a protocol error or limit, static text
   * ("http1.headers_too_large"), or NULL. */
  const char *failure;
  char error[256];    /* curl's error text when outcome != OK */
  int status;         /* 0 when no response */
  int http_version;   /* 11 or 20 as used on the wire */
  ml_header *headers; /* response headers, names lower-cased;
                         owned, freed by ml_xfer_result_free() */
  size_t header_count;
  int headers_complete; /* the header block arrived whole */
  char *body;           /* buffered body (NUL-terminated) unless on_body */
  size_t body_len;
  uint64_t bytes_sent;     /* request bytes on the wire */
  uint64_t bytes_received; /* response bytes on the wire */
  int64_t duration_us;
  int reused_connection;     /* the exchange rode a kept-alive connection */
  char upstream_address[64]; /* "ip:port" actually connected */
  ml_header *trailers;       /* trailer fields (gRPC's grpc-status), as
                                headers; freed by ml_xfer_result_free() */
  size_t trailer_count;
  /* How the two lists are allocated, for ml_xfer_result_free(): 0, one
   * ml_malloc block "name\0value\0" per field (name first) plus the
   * array; 1, one block per list: the array, then all its text. */
  int fields_packed;
} ml_xfer_result;

void ml_xfer_result_init(ml_xfer_result *r, const ml_mem *mem);
void ml_xfer_result_free(const ml_mem *mem, ml_xfer_result *r);

/* Perform |req| on the calling thread, reusing that thread's connections.
 * Returns MESHLIB_OK when |res| describes the exchange (whatever its
 * outcome), or MESHLIB_ERR_NOMEM / MESHLIB_ERR_INVALID_ARG. Thread-safe:
 * each thread has its own handles, freed when the thread ends. */
int ml_xfer_perform(const ml_mem *mem, const ml_xfer_req *req,
                    ml_xfer_result *res);

/* Drop the calling thread's cached handles and connections now (tests,
 * and processes that want to close idle connections). */
void ml_xfer_thread_cleanup(void);

#endif
