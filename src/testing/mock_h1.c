/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 side of the mock: GNU libmicrohttpd parses and answers, so
 * the kit holds no hand-written HTTP parser. The daemon has no listening
 * socket of its own; the acceptor in mock.c hands it the connections that
 * did not open with the HTTP/2 preface. One thread per connection: a
 * delayed or hanging request blocks only its own connection. */
#include "testing/mock.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "meshlib/error.h"

/* Per request, from the request line on (URI log callback) until
 * libmicrohttpd reports it completed. */
typedef struct ml_h1_req {
  ml_mock_record *rec; /* NULL once handed to ml_mock_next() */
  int started;
} ml_h1_req;

/* Called once the request line is read, with the target as sent (query
 * included, not decoded): the access handler's |url| lacks both. */
static void *ml_h1_uri_log(void *cls, const char *uri,
                           struct MHD_Connection *con) {
  (void)cls;
  (void)con;
  ml_h1_req *q = calloc(1, sizeof(*q));
  if (q == NULL)
    return NULL;
  q->rec = ml_mock_record_new();
  if (q->rec != NULL)
    q->rec->path = strdup(uri ? uri : "");
  return q;
}

static void ml_h1_completed(void *cls, struct MHD_Connection *con,
                            void **con_cls,
                            enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)con;
  (void)toe;
  ml_h1_req *q = *con_cls;
  if (q != NULL) {
    ml_mock_record_free(q->rec);
    free(q);
    *con_cls = NULL;
  }
}

static enum MHD_Result ml_h1_collect(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value) {
  (void)kind;
  ml_mock_record *r = cls;
  if (value == NULL)
    value = "";
  if (ml_mock_hdrs_add(&r->hdrs, key, strlen(key), value, strlen(value)) !=
      MESHLIB_OK)
    return MHD_NO;
  return MHD_YES;
}

/* No response: make the close a TCP reset, then let libmicrohttpd drop
 * the connection (an access handler returning MHD_NO does that). */
static enum MHD_Result ml_h1_abort(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (ci != NULL) {
    struct linger lg = {1, 0};
    setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  return MHD_NO;
}

/* The body of a truncated response: fail at the first read, after the
 * headers have gone out; libmicrohttpd then closes the connection. */
static ssize_t ml_h1_fail_body(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)cls;
  (void)pos;
  (void)buf;
  (void)max;
  return MHD_CONTENT_READER_END_WITH_ERROR;
}

static enum MHD_Result ml_h1_act(meshlib_mock *m, struct MHD_Connection *conn,
                                 const ml_mock_action *a, unsigned gen) {
  if (a == NULL)
    return ml_h1_abort(conn);
  struct MHD_Response *resp = NULL;
  switch (a->kind) {
  case ML_MOCK_RESPOND:
    if (a->delay_ms > 0 &&
        ml_mock_wait_until(m, ml_mock_now_ms() + a->delay_ms, gen) != 0)
      return ml_h1_abort(conn);
    resp =
        MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_MUST_COPY);
    break;
  case ML_MOCK_CLOSE_AFTER_HEADERS:
    resp = MHD_create_response_from_callback(a->len > 0 ? a->len : 16, 1024,
                                             ml_h1_fail_body, NULL, NULL);
    break;
  case ML_MOCK_HANG:
    ml_mock_wait_until(m, INT64_MAX, gen);
    return ml_h1_abort(conn);
  default: /* ML_MOCK_RESET, ML_MOCK_REFUSED */
    return ml_h1_abort(conn);
  }
  if (resp == NULL)
    return ml_h1_abort(conn);
  for (size_t i = 0; i < a->hdrs.n; i++) {
    /* Refused names (Content-Length, ...) are the server's business. */
    (void)MHD_add_response_header(resp, a->hdrs.v[i].name, a->hdrs.v[i].value);
  }
  enum MHD_Result r = MHD_queue_response(conn, (unsigned)a->status, resp);
  MHD_destroy_response(resp);
  return r;
}

static enum MHD_Result ml_h1_handler(void *cls, struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     const char *version,
                                     const char *upload_data,
                                     size_t *upload_data_size, void **con_cls) {
  meshlib_mock *m = cls;
  ml_h1_req *q = *con_cls;
  if (q == NULL || q->rec == NULL)
    return ml_h1_abort(conn);
  ml_mock_record *rec = q->rec;
  if (!q->started) {
    /* First call: the headers are complete, the body is still to come. */
    q->started = 1;
    rec->method = strdup(method);
    rec->protocol =
        strcmp(version, MHD_HTTP_VERSION_1_0) == 0 ? "HTTP/1.0" : "HTTP/1.1";
    if (rec->path == NULL)
      rec->path = strdup(url);
    if (rec->method == NULL || rec->path == NULL ||
        MHD_get_connection_values(conn, MHD_HEADER_KIND, ml_h1_collect, rec) <
            0)
      return ml_h1_abort(conn);
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    if (ml_mock_record_append_body(rec, upload_data, *upload_data_size) !=
        MESHLIB_OK)
      return ml_h1_abort(conn);
    *upload_data_size = 0;
    return MHD_YES;
  }
  /* The request is complete: record it and take the next action. */
  q->rec = NULL;
  unsigned gen = 0;
  ml_mock_action *a = ml_mock_next(m, rec, &gen);
  enum MHD_Result r = ml_h1_act(m, conn, a, gen);
  ml_mock_action_free(a);
  return r;
}

int ml_mock_h1_start(meshlib_mock *m) {
  m->mhd = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
          MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_POLL,
      0, NULL, NULL, ml_h1_handler, m, MHD_OPTION_URI_LOG_CALLBACK,
      ml_h1_uri_log, m, MHD_OPTION_NOTIFY_COMPLETED, ml_h1_completed, m,
      MHD_OPTION_END);
  return m->mhd != NULL ? MESHLIB_OK : MESHLIB_ERR_IO;
}

void ml_mock_h1_stop(meshlib_mock *m) {
  if (m->mhd != NULL) {
    MHD_stop_daemon(m->mhd);
    m->mhd = NULL;
  }
}

void ml_mock_h1_add(meshlib_mock *m, int fd, const struct sockaddr *addr,
                    socklen_t addrlen) {
  /* Closes |fd| itself when it fails. */
  (void)MHD_add_connection(m->mhd, fd, addr, addrlen);
}
