/* SPDX-License-Identifier: MIT */
/* The admin listener, Envoy's admin interface in miniature: GET only,
 * one libmicrohttpd polling thread, bodies built from the mesh's state
 * at each request. */
#include "telemetry/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "meshlib/meshlib.h"
#include "util/str.h"

#define ADMIN_MAX_CONNECTIONS 256
#define ADMIN_IDLE_TIMEOUT_S 10

struct ml_admin {
  ml_admin_source src;
  struct MHD_Daemon *daemon;
  int fd;
  int port;
};

int ml_admin_parse_address(const char *text, struct sockaddr_storage *out) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  char host[64];
  const char *port_text;
  if (text[0] == '[') {
    const char *end = strchr(text, ']');
    if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host))
      return -1;
    snprintf(host, sizeof(host), "%.*s", (int)(end - text - 1), text + 1);
    port_text = end + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (!colon) {
      snprintf(host, sizeof(host), "127.0.0.1");
      port_text = text;
    } else {
      if ((size_t)(colon - text) >= sizeof(host) || strchr(text, ':') != colon)
        return -1;
      snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
      port_text = colon + 1;
    }
  }
  int64_t port;
  if (!*port_text || ml_parse_int64(port_text, &port) != 0 || port < 0 ||
      port > 65535 || *port_text == '-' || *port_text == '+')
    return -1;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
  } else {
    return -1; /* a name would need a lookup: IP literals only */
  }
  if (out)
    *out = ss;
  return 0;
}

/* ---- serving ------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status,
                             const char *type, const char *body, size_t len) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                          "no-cache, max-age=0");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  enum MHD_Result ret = MHD_queue_response(con, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *con, unsigned status,
                                  const char *text) {
  return reply(con, status, "text/plain; charset=UTF-8", text, strlen(text));
}

/* A body made by the source's allocator, sent and freed. */
static enum MHD_Result reply_owned(struct MHD_Connection *con,
                                   const ml_admin_source *src, const char *type,
                                   char *body, size_t len) {
  if (!body)
    return reply_text(con, 500, "out of memory\n");
  enum MHD_Result ret = reply(con, 200, type, body, len);
  ml_free(src->mem, body);
  return ret;
}

#define JSON_TYPE "application/json"
#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const char index_text[] =
    "meshlib admin\n"
    "  /metrics      Prometheus text format 0.0.4 (istio_* and meshlib_*)\n"
    "  /config_dump  the config in force, with its version (JSON)\n"
    "  /clusters     clusters and endpoints: health, ejection, in flight, "
    "weights (JSON)\n"
    "  /routes       VirtualService routes (JSON)\n"
    "  /ready        200 LIVE when the mesh serves calls\n"
    "  /healthz      200 OK while the listener runs\n";

static enum MHD_Result handle(void *cls, struct MHD_Connection *con,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
  (void)version;
  (void)upload;
  ml_admin *a = cls;
  const ml_admin_source *src = &a->src;
  if (!*con_cls) { /* headers only so far: answer once they are all in */
    *con_cls = a;
    return MHD_YES;
  }
  if (*upload_size) { /* a body we do not read: drop it */
    *upload_size = 0;
    return MHD_YES;
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof("method not allowed\n") - 1, (void *)"method not allowed\n",
        MHD_RESPMEM_PERSISTENT);
    if (!r)
      return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret =
        MHD_queue_response(con, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    MHD_destroy_response(r);
    return ret;
  }
  size_t len = 0;
  if (strcmp(url, "/metrics") == 0 || strcmp(url, "/stats/prometheus") == 0) {
    char *text = src->metrics(src->ctx, &len);
    return reply_owned(con, src, PROM_TYPE, text, len);
  }
  if (strcmp(url, "/config_dump") == 0) {
    char *body = src->config_dump(src->ctx, &len);
    return reply_owned(con, src, JSON_TYPE, body, len);
  }
  if (strcmp(url, "/clusters") == 0) {
    char *body = src->clusters(src->ctx, &len);
    return reply_owned(con, src, JSON_TYPE, body, len);
  }
  if (strcmp(url, "/routes") == 0) {
    char *body = src->routes(src->ctx, &len);
    return reply_owned(con, src, JSON_TYPE, body, len);
  }
  /* The mesh exists and has a config snapshot from meshlib_new() on:
   * it serves calls, as Envoy's LIVE state. */
  if (strcmp(url, "/ready") == 0)
    return reply_text(con, 200, "LIVE\n");
  if (strcmp(url, "/healthz") == 0)
    return reply_text(con, 200, "OK\n");
  if (strcmp(url, "/") == 0)
    return reply_text(con, 200, index_text);
  return reply_text(con, 404, "not found: see / for the admin endpoints\n");
}

static int listen_on(const struct sockaddr_storage *ss, int *port, char *err,
                     size_t err_cap) {
  int family = ss->ss_family;
  socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in)
                                    : sizeof(struct sockaddr_in6);
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, err_cap, "admin listener: socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 64) != 0) {
    snprintf(err, err_cap, "admin listener: cannot listen: %s",
             strerror(errno));
    close(fd);
    return -1;
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
    snprintf(err, err_cap, "admin listener: getsockname: %s", strerror(errno));
    close(fd);
    return -1;
  }
  *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                  : ((struct sockaddr_in6 *)&bound)->sin6_port);
  return fd;
}

int ml_admin_start(const ml_admin_source *src, const char *address,
                   ml_admin **out, char *err, size_t err_cap) {
  *out = NULL;
  struct sockaddr_storage ss;
  if (ml_admin_parse_address(address, &ss) != 0) {
    snprintf(err, err_cap, "admin listener: bad address \"%s\"", address);
    return MESHLIB_ERR_INVALID_ARG;
  }
  ml_admin *a = ml_calloc(src->mem, 1, sizeof(*a));
  if (!a)
    return MESHLIB_ERR_NOMEM;
  a->src = *src;
  a->fd = listen_on(&ss, &a->port, err, err_cap);
  if (a->fd < 0) {
    ml_free(src->mem, a);
    return MESHLIB_ERR_IO;
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  /* Clients that stall mid-request hold a slot until the timeout: enough
   * slots that a few stuck scrapers do not lock Prometheus out, and a
   * timeout shorter than Prometheus' default scrape interval. poll() has
   * no FD_SETSIZE bound. */
  a->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, handle, a, MHD_OPTION_LISTEN_SOCKET, a->fd,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)ADMIN_MAX_CONNECTIONS,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADMIN_IDLE_TIMEOUT_S,
      MHD_OPTION_END);
  if (!a->daemon) {
    snprintf(err, err_cap, "admin listener: the HTTP server did not start");
    close(a->fd);
    ml_free(src->mem, a);
    return MESHLIB_ERR_IO;
  }
  *out = a;
  return MESHLIB_OK;
}

void ml_admin_stop(ml_admin *a) {
  if (!a)
    return;
  /* Quiesced, MHD hands the socket back rather than closing it. */
  MHD_socket fd = MHD_quiesce_daemon(a->daemon);
  MHD_stop_daemon(a->daemon); /* joins its thread */
  if (fd != MHD_INVALID_SOCKET)
    close(fd);
  ml_free(a->src.mem, a);
}

int ml_admin_port(const ml_admin *a) {
  return a ? a->port : -1;
}
