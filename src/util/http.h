/* SPDX-License-Identifier: MIT */
#ifndef ML_UTIL_HTTP_H
#define ML_UTIL_HTTP_H

/* The HTTP vocabulary every layer shares: a header field, the lookup of
 * a field by name, and what an exchange came to. */
#include <stddef.h>

typedef struct ml_header {
  const char *name; /* lower-case in meshlib's own lists */
  const char *value;
} ml_header;

/* The value of the first field of |h| (|n| fields) named |name|, in any
 * case as RFC 9110 says, or NULL. A field without a value gives "". */
const char *ml_header_find(const ml_header *h, size_t n, const char *name);

/* What an exchange came to, in the terms response flags and retry
 * conditions need. */
typedef enum ml_xfer_outcome {
  ML_XFER_OK = 0,          /* a response arrived (any status) */
  ML_XFER_CONNECT_FAILURE, /* connect refused/unreachable/timed out: UF */
  ML_XFER_TIMEOUT,         /* timeout_ms passed before the end: UT */
  ML_XFER_RESET,           /* closed or reset before the headers: UC/UR */
  ML_XFER_REFUSED_STREAM,  /* HTTP/2 REFUSED_STREAM: retriable */
  ML_XFER_PROTOCOL_ERROR,  /* malformed, or past a header limit: UPE */
  ML_XFER_TLS_ERROR,       /* handshake or verification failed: UF */
  ML_XFER_ABORTED,         /* the body callback asked to stop: DC */
  ML_XFER_LOCAL_ERROR,     /* out of memory or curl misuse */
  /* Appended, so that tables indexed by the older values stay right. */
  ML_XFER_RESET_AFTER_HEADERS, /* closed or reset in the body: UC */
  ML_XFER_IDLE_TIMEOUT,        /* no byte either way for the idle time: SI */
  ML_XFER_BODY_TOO_LARGE       /* a buffered body past its limit */
} ml_xfer_outcome;

#endif
