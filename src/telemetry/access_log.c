/* SPDX-License-Identifier: MIT */
/* Access logs in Istio's default proxy format (pilot/pkg/model/
 * telemetry_logging.go) and its JSON encoding. The caller is the
 * application, so Envoy's "downstream" fields have no value ("-"). */
#include "telemetry/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "meshlib/meshlib.h"
#include "telemetry/trace.h"
#include "util/json.h"
#include "util/log.h"

struct ml_access_log {
  int fd; /* -1: none */
  int json;
  meshlib_access_log_cb cb;
  void *user_data;
};

/* A reader that went away (a log piped into `head`) must not kill the
 * application with SIGPIPE: the signal is blocked on this thread for the
 * write, and one the write raised is taken back, as libcurl does around
 * its sends. */
static ssize_t write_nosigpipe(int fd, const char *p, size_t n) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  ssize_t w = write(fd, p, n);
  int err = errno;
  if (w < 0 && err == EPIPE && !sigismember(&old, SIGPIPE)) {
    struct timespec zero = {0, 0};
    (void)sigtimedwait(&pipe_set, NULL, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return w;
}

/* The mesh's logger (core's ml_log()), for the one line written here. */
static void log_error(const ml_telemetry_settings *st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void log_error(const ml_telemetry_settings *st, const char *fmt, ...) {
  ml_logger l = {st->log_cb, st->log_user_data, st->log_level};
  va_list ap;
  va_start(ap, fmt);
  ml_vlogf(&l, MESHLIB_LEVEL_ERROR, fmt, ap);
  va_end(ap);
}

int ml_access_log_open(ml_telemetry *t, const ml_telemetry_settings *st) {
  const ml_trace_settings *s = st->trace;
  if (!s || (!s->access_log_path && !s->access_log_cb))
    return MESHLIB_OK;
  ml_access_log *l = ml_calloc(st->mem, 1, sizeof(*l));
  if (!l)
    return MESHLIB_ERR_NOMEM;
  l->fd = -1;
  l->json = s->access_log_format == MESHLIB_ACCESS_LOG_JSON;
  l->cb = s->access_log_cb;
  l->user_data = s->access_log_user_data;
  if (s->access_log_path) {
    /* O_NONBLOCK only to open: a FIFO nobody reads fails (ENXIO) instead
     * of holding meshlib_new() forever; writes block as usual. */
    l->fd = open(s->access_log_path,
                 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
    if (l->fd >= 0)
      (void)fcntl(l->fd, F_SETFL, O_APPEND);
    if (l->fd < 0) {
      log_error(st, "access log %s: %s", s->access_log_path, strerror(errno));
      ml_free(st->mem, l);
      return MESHLIB_ERR_IO;
    }
  }
  t->access_log = l;
  return MESHLIB_OK;
}

void ml_access_log_close(ml_telemetry *t) {
  ml_access_log *l = t->access_log;
  if (!l)
    return;
  if (l->fd >= 0)
    close(l->fd);
  ml_free(t->mem, l);
  t->access_log = NULL;
}

/* Envoy's %START_TIME% default: 2024-05-01T12:00:00.123Z (UTC). */
static void start_time(char *out, size_t len, int64_t wall_us) {
  time_t sec = (time_t)(wall_us / 1000000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  char t[32];
  strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, len, "%s.%03dZ", t, (int)((wall_us / 1000) % 1000));
}

/* %RESPONSE_CODE_DETAILS%: Envoy's snake_case reason, from the flags
 * when meshlib answered itself, "via_upstream" for an upstream answer. */
static const char *code_details(const ml_call_info *in) {
  if (in->code_details)
    return in->code_details;
  static const struct {
    uint32_t flag;
    const char *text;
  } map[] = {
      {MESHLIB_RF_NR, "route_not_found"},
      {MESHLIB_RF_NC, "cluster_not_found"},
      {MESHLIB_RF_UH, "no_healthy_upstream"},
      {MESHLIB_RF_UO, "upstream_reset_before_response_started{overflow}"},
      {MESHLIB_RF_UF,
       "upstream_reset_before_response_started{connection_failure}"},
      {MESHLIB_RF_UC,
       "upstream_reset_before_response_started{connection_termination}"},
      {MESHLIB_RF_UR,
       "upstream_reset_before_response_started{remote_refused_stream_reset}"},
      {MESHLIB_RF_UT, "upstream_response_timeout"},
      {MESHLIB_RF_UPE,
       "upstream_reset_before_response_started{protocol_error}"},
      {MESHLIB_RF_SI, "stream_idle_timeout"},
      {MESHLIB_RF_FI, "fault_filter_abort"},
      {MESHLIB_RF_DC, "downstream_remote_disconnect"},
      {MESHLIB_RF_RL, "request_rate_limited"},
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (in->flags & map[i].flag)
      return map[i].text;
  if (in->details && strcmp(in->details, "direct_response") == 0)
    return "direct_response";
  if (in->status > 0 && in->attempt_count > 0)
    return "via_upstream";
  return in->details && *in->details ? in->details : NULL;
}

/* %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%: the last attempt's time to the
 * upstream's answer, when there was one. */
static int64_t upstream_service_ms(const ml_call_info *in) {
  if (!in->attempt_count)
    return -1;
  const ml_attempt_info *a = &in->attempts[in->attempt_count - 1];
  if (a->status <= 0 || !a->upstream[0])
    return -1;
  return a->duration_us / 1000;
}

static const char *dash(const char *s) {
  return s && *s ? s : "-";
}

/* Envoy's JSON: null for a missing or empty value. */
static void str_or_null(ml_json *w, const char *key, const char *v) {
  ml_json_str(w, key, v && *v ? v : NULL);
}

int ml_access_log_format(ml_buf *b, const ml_call_info *in, int json,
                         const char *user_agent, const char *xff) {
  char when[40], flags[64], svc[24];
  start_time(when, sizeof(when), in->start_wall_us);
  meshlib_response_flags_str(in->flags, flags, sizeof(flags));
  int64_t svc_ms = upstream_service_ms(in);
  if (svc_ms >= 0)
    snprintf(svc, sizeof(svc), "%lld", (long long)svc_ms);
  else
    svc[0] = '\0';
  const char *details = code_details(in);
  const char *proto = ml_trace_protocol_text(in->http_version);
  long long duration_ms = (long long)(in->duration_us / 1000);
  if (!json) {
    /* [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%
     * %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%
     * %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%"
     * %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
     * %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%"
     * "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%"
     * "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS%
     * %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
     * %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n */
    ml_buf_printf(
        b, "[%s] \"%s %s %s\" %d %s %s - \"-\" %llu %llu %lld %s ", when,
        dash(in->method), dash(in->path), dash(proto), (int)in->status, flags,
        dash(details), (unsigned long long)in->request_bytes,
        (unsigned long long)in->response_bytes, duration_ms, dash(svc));
    ml_buf_printf(b, "\"%s\" \"%s\" \"%s\" \"%s\" \"%s\" %s - - - - %s\n",
                  dash(xff), dash(user_agent), dash(in->request_id),
                  dash(in->authority), dash(in->upstream), dash(in->cluster),
                  dash(in->route_name));
    return b->oom ? -1 : 0;
  }
  /* Istio's JSON keys, in its order; Envoy writes numbers for codes,
   * bytes and durations, and null for a missing value. */
  ml_json w;
  ml_json_init(&w, b);
  ml_json_obj(&w, NULL);
  str_or_null(&w, "start_time", when);
  str_or_null(&w, "route_name", in->route_name);
  str_or_null(&w, "method", in->method);
  str_or_null(&w, "path", in->path);
  str_or_null(&w, "protocol", proto);
  ml_json_int(&w, "response_code", in->status);
  str_or_null(&w, "response_flags", strcmp(flags, "-") == 0 ? NULL : flags);
  str_or_null(&w, "response_code_details", details);
  ml_json_null(&w, "connection_termination_details");
  ml_json_uint(&w, "bytes_received", in->request_bytes);
  ml_json_uint(&w, "bytes_sent", in->response_bytes);
  ml_json_int(&w, "duration", duration_ms);
  str_or_null(&w, "upstream_service_time", svc);
  str_or_null(&w, "x_forwarded_for", xff);
  str_or_null(&w, "user_agent", user_agent);
  str_or_null(&w, "request_id", in->request_id);
  str_or_null(&w, "authority", in->authority);
  str_or_null(&w, "upstream_host", in->upstream);
  str_or_null(&w, "upstream_cluster", in->cluster);
  ml_json_null(&w, "upstream_local_address");
  ml_json_null(&w, "downstream_local_address");
  ml_json_null(&w, "downstream_remote_address");
  ml_json_null(&w, "requested_server_name");
  ml_json_null(&w, "upstream_transport_failure_reason");
  ml_json_end(&w);
  ml_buf_putc(b, '\n');
  return ml_json_finish(&w) == ML_JSON_OK ? 0 : -1;
}

void ml_access_log_call_end(ml_telemetry *t, const ml_call_info *info) {
  ml_access_log *l = t->access_log;
  if (!l)
    return;
  ml_call_info in = *info;
  if (!in.request_id && in.trace)
    in.request_id = ml_trace_request_id(in.trace);
  ml_buf b;
  ml_buf_init(&b, t->mem);
  if (ml_access_log_format(
          &b, &in, l->json,
          ml_header_find(info->headers, info->header_count, "user-agent"),
          ml_header_find(info->headers, info->header_count,
                         "x-forwarded-for")) == 0) {
    if (l->fd >= 0) {
      /* One write per line: O_APPEND keeps lines of concurrent calls
       * whole. A short write is finished, not dropped. */
      size_t off = 0;
      while (off < b.len) {
        ssize_t w = write_nosigpipe(l->fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
          continue;
        if (w <= 0)
          break;
        off += (size_t)w;
      }
    }
    if (l->cb)
      l->cb(b.data, b.len, l->user_data);
  }
  ml_buf_free(&b);
}
