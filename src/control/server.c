/* SPDX-License-Identifier: MIT */
/* meshlib_config_server: the control endpoint's protocol served from
 * memory, over GNU libmicrohttpd (one thread per connection, so that a
 * held long-poll request blocks only its own). Generation n is served
 * with `ETag: "n"`; a request whose If-None-Match names the current
 * generation gets 304, or with `Prefer: wait=N` waits up to N seconds for
 * the next one. */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "meshlib/control.h"
#include "meshlib/error.h"
#include "util/mem.h"
#include "util/clock.h"

#define MAX_WAIT_S 300

struct meshlib_config_server {
  pthread_mutex_t admin; /* serialises pause and resume */
  pthread_mutex_t lock;
  pthread_cond_t changed; /* CLOCK_MONOTONIC */
  struct MHD_Daemon *daemon;
  int port;
  uint64_t gen; /* 0: nothing to serve yet */
  char *body;
  size_t len;
  char etag[32];
  char last_modified[64];
  char *token;
  int closing; /* held requests leave without a response */
  meshlib_config_server_stats stats;
};

static int wait_seconds(const char *prefer) {
  /* RFC 7240: Prefer: wait=N, possibly among other preferences. */
  const char *p = prefer ? strstr(prefer, "wait=") : NULL;
  if (!p)
    return 0;
  int n = 0;
  for (p += 5; *p >= '0' && *p <= '9' && n <= MAX_WAIT_S; p++)
    n = n * 10 + (*p - '0');
  return n > MAX_WAIT_S ? MAX_WAIT_S : n;
}

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status,
                             const char *body, size_t len, const char *etag,
                             const char *last_modified, int waited) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
  if (!r)
    return MHD_NO;
  if (etag && *etag)
    MHD_add_response_header(r, "ETag", etag);
  if (last_modified && *last_modified)
    MHD_add_response_header(r, "Last-Modified", last_modified);
  if (status == MHD_HTTP_OK)
    MHD_add_response_header(r, "Content-Type", "application/yaml");
  if (status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
  if (waited) {
    char v[32];
    snprintf(v, sizeof(v), "wait=%d", waited);
    MHD_add_response_header(r, "Preference-Applied", v);
  }
  enum MHD_Result ret = MHD_queue_response(con, status, r);
  MHD_destroy_response(r);
  return ret;
}

static int authorized(meshlib_config_server *s, struct MHD_Connection *con) {
  if (!s->token)
    return 1;
  const char *a =
      MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
  return a && strncmp(a, "Bearer ", 7) == 0 && strcmp(a + 7, s->token) == 0;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *con,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **con_cls) {
  (void)url;
  (void)version;
  (void)upload;
  (void)upload_size;
  (void)con_cls;
  meshlib_config_server *s = cls;
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return reply(con, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, 0, NULL, NULL, 0);
  const char *inm =
      MHD_lookup_connection_value(con, MHD_HEADER_KIND, "If-None-Match");
  const char *ims =
      MHD_lookup_connection_value(con, MHD_HEADER_KIND, "If-Modified-Since");
  int wait_s =
      wait_seconds(MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Prefer"));

  pthread_mutex_lock(&s->lock);
  s->stats.requests++;
  if (!authorized(s, con)) {
    s->stats.unauthorized++;
    pthread_mutex_unlock(&s->lock);
    return reply(con, MHD_HTTP_UNAUTHORIZED, NULL, 0, NULL, NULL, 0);
  }
  if (!s->gen) {
    pthread_mutex_unlock(&s->lock);
    return reply(con, MHD_HTTP_NOT_FOUND, NULL, 0, NULL, NULL, 0);
  }
  /* If-None-Match decides when present (RFC 9110 13.1.3). */
  int fresh = inm ? strcmp(inm, s->etag) == 0
                  : ims && strcmp(ims, s->last_modified) == 0;
  if (fresh && inm && wait_s > 0) {
    uint64_t gen = s->gen;
    struct timespec until;
    ml_deadline_in(&until, (int64_t)wait_s * 1000);
    s->stats.held++;
    while (s->gen == gen && !s->closing &&
           pthread_cond_timedwait(&s->changed, &s->lock, &until) != ETIMEDOUT)
      ;
    if (s->closing) {
      pthread_mutex_unlock(&s->lock);
      return MHD_NO; /* dropped: the server goes down */
    }
    fresh = s->gen == gen;
  }
  enum MHD_Result ret;
  if (fresh) {
    s->stats.not_modified++;
    char etag[32], lm[64];
    memcpy(etag, s->etag, sizeof(etag));
    memcpy(lm, s->last_modified, sizeof(lm));
    pthread_mutex_unlock(&s->lock);
    ret = reply(con, MHD_HTTP_NOT_MODIFIED, NULL, 0, etag, lm, wait_s);
  } else {
    s->stats.full++;
    /* Copied by libmicrohttpd under the lock: set() may free it next. */
    ret = reply(con, MHD_HTTP_OK, s->body, s->len, s->etag, s->last_modified,
                wait_s);
    pthread_mutex_unlock(&s->lock);
  }
  return ret;
}

static int start(meshlib_config_server *s, int port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
          MHD_USE_POLL,
      (uint16_t)port, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, &sa,
      MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
  if (!s->daemon)
    return MESHLIB_ERR_IO;
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : port;
  return MESHLIB_OK;
}

static void stop(meshlib_config_server *s) {
  if (!s->daemon)
    return;
  pthread_mutex_lock(&s->lock);
  s->closing = 1;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  MHD_stop_daemon(s->daemon);
  s->daemon = NULL;
  pthread_mutex_lock(&s->lock);
  s->closing = 0;
  pthread_mutex_unlock(&s->lock);
}

int meshlib_config_server_new(meshlib_config_server **out, int port) {
  if (!out || port < 0 || port > 65535)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  meshlib_config_server *s = ml_calloc(NULL, 1, sizeof(*s));
  if (!s)
    return MESHLIB_ERR_NOMEM;
  pthread_mutex_init(&s->admin, NULL);
  pthread_mutex_init(&s->lock, NULL);
  ml_cond_init_monotonic(&s->changed);
  int rc = start(s, port);
  if (rc != MESHLIB_OK) {
    meshlib_config_server_free(s);
    return rc;
  }
  *out = s;
  return MESHLIB_OK;
}

void meshlib_config_server_free(meshlib_config_server *s) {
  if (!s)
    return;
  stop(s);
  ml_free(NULL, s->body);
  ml_free(NULL, s->token);
  pthread_cond_destroy(&s->changed);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->admin);
  ml_free(NULL, s);
}

int meshlib_config_server_port(meshlib_config_server *s) {
  if (!s)
    return -1;
  pthread_mutex_lock(&s->admin); /* a resume writes it */
  int port = s->port;
  pthread_mutex_unlock(&s->admin);
  return port;
}

int meshlib_config_server_set(meshlib_config_server *s, const char *body,
                              size_t len) {
  if (!s || (!body && len))
    return MESHLIB_ERR_INVALID_ARG;
  char *copy = ml_strndup(NULL, body ? body : "", len);
  if (!copy)
    return MESHLIB_ERR_NOMEM;
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  pthread_mutex_lock(&s->lock);
  ml_free(NULL, s->body);
  s->body = copy;
  s->len = len;
  s->gen++;
  snprintf(s->etag, sizeof(s->etag), "\"%llu\"", (unsigned long long)s->gen);
  strftime(s->last_modified, sizeof(s->last_modified),
           "%a, %d %b %Y %H:%M:%S GMT", &tm);
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  return MESHLIB_OK;
}

int meshlib_config_server_require_token(meshlib_config_server *s,
                                        const char *token) {
  if (!s)
    return MESHLIB_ERR_INVALID_ARG;
  char *copy = token ? ml_strdup(NULL, token) : NULL;
  if (token && !copy)
    return MESHLIB_ERR_NOMEM;
  pthread_mutex_lock(&s->lock);
  ml_free(NULL, s->token);
  s->token = copy;
  pthread_mutex_unlock(&s->lock);
  return MESHLIB_OK;
}

int meshlib_config_server_pause(meshlib_config_server *s, int paused) {
  if (!s)
    return MESHLIB_ERR_INVALID_ARG;
  pthread_mutex_lock(&s->admin);
  int rc = MESHLIB_OK;
  if (paused)
    stop(s);
  else if (!s->daemon)
    rc = start(s, s->port);
  pthread_mutex_unlock(&s->admin);
  return rc;
}

int meshlib_config_server_stats_get(meshlib_config_server *s,
                                    meshlib_config_server_stats *out) {
  if (!s || !out)
    return MESHLIB_ERR_INVALID_ARG;
  pthread_mutex_lock(&s->lock);
  *out = s->stats;
  pthread_mutex_unlock(&s->lock);
  out->age = 1;
  return MESHLIB_OK;
}
