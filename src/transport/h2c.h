/* SPDX-License-Identifier: MIT */
#ifndef ML_TRANSPORT_H2C_H
#define ML_TRANSPORT_H2C_H

/* HTTP/2 over cleartext TCP with prior knowledge (RFC 9113 3.3), carried
 * by nghttp2's client session rather than libcurl: Debian 12's libcurl
 * 7.88.1 fails the second transfer on a reused h2c prior-knowledge
 * connection (curl issue 10634, fixed in 8.0.0), and reuse is the point
 * of a mesh. nghttp2 does all the framing and HPACK; this layer only
 * moves bytes between it and a socket (see docs/design.md).
 *
 * Each thread keeps its own cache of open sessions, keyed by
 * connect_host:connect_port, so there is no lock: an exchange reuses the
 * session its thread opened before to the same endpoint. */
#include "transport/transport.h"

/* ml_xfer_perform() for req->version == ML_HTTP_2_PRIOR, with the same
 * contract: initialises |res|, performs one exchange on the calling
 * thread and returns MESHLIB_OK when |res| describes it (whatever its
 * outcome), MESHLIB_ERR_NOMEM (res->outcome is then ML_XFER_LOCAL_ERROR)
 * or MESHLIB_ERR_INVALID_ARG. req->scheme, req->tls are not used (always
 * "http", never TLS). A stale kept-alive session (closed by the peer
 * before any byte of the response) is replaced once, transparently.
 * Ownership: |req| and everything it points to are borrowed for the call;
 * |res| is the caller's, freed with ml_xfer_result_free(mem, res).
 * Thread-safety: any thread; each thread uses its own sessions. */
int ml_h2c_perform(const ml_mem *mem, const ml_xfer_req *req,
                   ml_xfer_result *res);

/* Close the calling thread's h2c sessions now (GOAWAY, then close) and
 * free its cache; they are also freed when the thread ends. */
void ml_h2c_thread_cleanup(void);

#endif
