/* SPDX-License-Identifier: MIT */
#ifndef ML_TRANSPORT_XFER_EASY_H
#define ML_TRANSPORT_XFER_EASY_H

/* One exchange bound to one libcurl easy handle: the pieces that
 * ml_xfer_perform() drives synchronously, exposed so that an
 * asynchronous client (a CURLM) can drive the same setup and the same
 * classification: handle_init once per handle, then per exchange setup,
 * run the handle however you like, finish, unset, release. Private to
 * the library. */
#include <curl/curl.h>
#include "transport/transport.h"

/* Request headers up to which a kept header block is compared. */
#define ML_XFER_KEPT_HEADERS 16

typedef struct ml_xfer_run {
  const ml_mem *mem;
  const ml_xfer_req *req;
  ml_xfer_result *res;
  struct curl_slist *headers;   /* header nodes in |block|, or NULL */
  struct curl_slist connect_to; /* single node into |block| */
  char errbuf[CURL_ERROR_SIZE];
  ml_buf body;
  unsigned set;    /* ML_XFER_SET_* options to undo */
  int final_block; /* the current header block is final */
  int aborted;     /* the body callback said stop */
  int oom;         /* an allocation failed in a callback */
  int needs_reset; /* a new connection or an error: see unset */
  int ip_literal;  /* connect_host is an IPv4 or IPv6 address */
  int has_body;    /* the request sends a body (POSTFIELDS) */
  /* What the response may bring, and what it brought so far of it: the
   * bytes and fields of the block being received (headers, then
   * trailers), the framing fields of the final block. */
  const ml_xfer_limits *limits;
  uint64_t block_bytes;
  uint32_t block_fields;
  int content_length; /* seen; its value in |length| */
  int chunked;        /* Transfer-Encoding ends with chunked */
  uint64_t length;
  const char *failure; /* set: the response broke a rule (static text) */
  int too_large;       /* the buffered body outgrew its limit */
  /* Kept from one exchange to the next (libc memory, freed by
   * ml_xfer_run_destroy()): the fields of the header block (or the
   * trailers) being received, "name\0value\0"..., and where each
   * starts. A block is copied into the result, packed, once whole. */
  ml_buf scratch;
  uint32_t *field_at; /* per field: name's offset, value's offset */
  size_t field_count;
  size_t field_cap;
  /* Also kept (libc memory, freed by ml_xfer_run_destroy()), so that a
   * kept-alive exchange allocates nothing and sets only what changed:
   * the block of header nodes and text, and what the handle was last
   * given (cleared by ml_xfer_handle_init(), as a reset clears the
   * handle). */
  void *block; /* header nodes, then text */
  size_t block_cap;
  const struct curl_slist *headers_set; /* HTTPHEADER as set, or NULL */
  ml_buf url_set;                       /* URL as set; empty: unknown */
  long connect_timeout_set;             /* -1: unknown */
  long version_set;                     /* -1: unknown */
  long maxage_set;                      /* MAXAGE_CONN; -1: unknown */
  long maxlife_set;                     /* MAXLIFETIME_CONN; -1: unknown */
  long idle_set;                        /* LOW_SPEED_TIME; -1: unknown */
  int proxy_set; /* 1: PROXY "" (environment ignored); 0: unset; -1: unknown */
  /* Set by the owner of the handle: the handle's connections carry its
   * exchanges only, one at a time (a thread's own handle, not a
   * CURLM's), so an HTTP/2 connection may be closed after its last
   * allowed exchange without cutting another's stream. */
  int own_connections;
  /* What the block's header lines are (when they are the request's
   * headers and libcurl's defaults only, at most ML_XFER_KEPT_HEADERS
   * of them), so that the same headers are neither checked nor copied
   * again: kept_ndefaults 0 means nothing to compare against. */
  size_t kept_count;     /* the request's header lines */
  size_t kept_extra;     /* its extra header lines, after them */
  size_t kept_ndefaults; /* defaults considered after them */
  size_t kept_nodes;     /* nodes in all */
  size_t kept_text_end;  /* where the URL's text may start */
  uint32_t kept_name_len[ML_XFER_KEPT_HEADERS];
} ml_xfer_run;

/* A zeroed ml_xfer_run is ready for ml_xfer_handle_init(); this frees
 * what it keeps between exchanges. */
void ml_xfer_run_destroy(ml_xfer_run *run);

/* Set the options every exchange on |e| shares (callbacks and their
 * data, error buffer, CONNECT_TO node, no signals, path as is,
 * connection cache size) on a fresh or reset handle. |run| is where
 * every exchange on |e| keeps its state: it must stay at its address as
 * long as |e| is used with it.
 * Returns MESHLIB_OK or MESHLIB_ERR_NOMEM. */
int ml_xfer_handle_init(CURL *e, ml_xfer_run *run);

/* Validate |req| and set |e| (after ml_xfer_handle_init(e, run)) up for
 * it;
 * |res| must have been initialised and receives the response. The
 * request's strings and body must outlive the exchange.
 * Returns MESHLIB_OK, MESHLIB_ERR_INVALID_ARG or MESHLIB_ERR_NOMEM (then
 * the handle may hold some options: call ml_xfer_run_unset() and
 * ml_xfer_run_release() all the same). */
int ml_xfer_run_setup(ml_xfer_run *run, CURL *e, const ml_mem *mem,
                      const ml_xfer_req *req, ml_xfer_result *res);

/* Fill |run->res| from the handle after the exchange ended with |rc|:
 * outcome, status, headers, sizes, timing, address, buffered body. Adds
 * to the byte counts and duration already there (so attempts can be
 * summed). Returns MESHLIB_OK or MESHLIB_ERR_NOMEM (the outcome is then
 * ML_XFER_LOCAL_ERROR). */
int ml_xfer_run_finish(ml_xfer_run *run, CURL *e, CURLcode rc);

/* Undo the exchange's own options (and drop the handle's pointers into
 * the request) so that the handle is ready for the next setup. Returns 1
 * when it is, 0 when the handle had to be curl_easy_reset() (TLS
 * options, or an exchange that made a new connection or failed: libcurl
 * 7.88 clears its per-handle retry counter only in curl_easy_reset(), so
 * without it retries would add up over the handle's life): call
 * ml_xfer_handle_init() again. */
int ml_xfer_run_unset(ml_xfer_run *run, CURL *e);

/* Free what setup and the callbacks allocated and |res| did not take. */
void ml_xfer_run_release(ml_xfer_run *run);

/* Map a libcurl result to an outcome (|connected|: a connection to the
 * endpoint existed when it ended; |h2|: HTTP/2 was asked for). */
ml_xfer_outcome ml_xfer_classify(CURLcode rc, const char *error, int connected,
                                 int h2, const ml_xfer_req *req);

/* curl_global_init(CURL_GLOBAL_DEFAULT), once per process. Returns 0 on
 * success. */
int ml_xfer_global_init(void);

/* Turn TCP keepalive on for |fd| as |pool| says (nothing when |pool| is
 * NULL or has no tcp_keepalive). Failures are ignored: keepalive is
 * advice. Both transports' sockets go through here. */
void ml_xfer_apply_keepalive(int fd, const ml_xfer_pool *pool);

#endif
