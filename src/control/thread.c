/* SPDX-License-Identifier: MIT */
/* The control thread: one loop for every source. curl_multi_poll() waits
 * on the endpoints' transfers and on the inotify descriptor at once, with
 * a timeout set by the nearest deadline (a quiet period ending, a poll
 * due, a retry due); curl_multi_wakeup() interrupts it to stop or to serve
 * meshlib_config_reload(). Everything the sources hold is touched by this
 * thread alone once it runs (by meshlib_new()'s thread before). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "control/control.h"
#include "util/clock.h"
#include "util/log.h"

void ml_ctl_log(const ml_control *c, int level, const char *fmt, ...) {
  const ml_control_host *h = &c->host;
  ml_logger l = {h->log_cb, h->log_user_data, h->log_level};
  va_list ap;
  va_start(ap, fmt);
  ml_vlogf(&l, level, fmt, ap);
  va_end(ap);
}

int ml_control_wanted(const ml_control_opts *co) {
  return co && (co->watch != MESHLIB_WATCH_OFF || co->url_count);
}

int ml_control_subscribe(const ml_control_opts *co, const ml_mem *mem,
                         ml_config_events *e) {
  for (size_t i = 0; co && i < co->sub_count; i++) {
    int rc = ml_config_events_add(mem, e, &co->subs[i]);
    if (rc != MESHLIB_OK)
      return rc;
  }
  return MESHLIB_OK;
}

static int copy_opts(const ml_mem *mem, ml_control_opts *dst,
                     const ml_control_opts *src) {
  *dst = *src;
  dst->urls = NULL;
  dst->url_count = 0;
  dst->subs = NULL;
  dst->sub_count = 0;
  dst->ca_file = src->ca_file ? ml_strdup(mem, src->ca_file) : NULL;
  dst->cert_file = src->cert_file ? ml_strdup(mem, src->cert_file) : NULL;
  dst->key_file = src->key_file ? ml_strdup(mem, src->key_file) : NULL;
  dst->token_file = src->token_file ? ml_strdup(mem, src->token_file) : NULL;
  if ((src->ca_file && !dst->ca_file) || (src->cert_file && !dst->cert_file) ||
      (src->key_file && !dst->key_file) ||
      (src->token_file && !dst->token_file))
    return MESHLIB_ERR_NOMEM;
  return MESHLIB_OK;
}

static void control_free(ml_control *c) {
  const ml_mem *mem = c->mem;
  for (size_t i = 0; i < c->count; i++) {
    ml_ctl_source *s = &c->src[i];
    if (s->fetch && c->multi && ml_fetch_in_flight(s->fetch))
      curl_multi_remove_handle(c->multi, ml_fetch_easy(s->fetch));
    ml_fetch_free(s->fetch);
    ml_ctl_content_free(mem, &s->good);
    ml_free(mem, s->where);
  }
  ml_free(mem, c->src);
  if (c->multi)
    curl_multi_cleanup(c->multi);
  ml_ctl_watch_close(c);
  ml_free(mem, c->o.ca_file);
  ml_free(mem, c->o.cert_file);
  ml_free(mem, c->o.key_file);
  ml_free(mem, c->o.token_file);
  pthread_cond_destroy(&c->done_cond);
  pthread_mutex_destroy(&c->lock);
  ml_free(mem, c);
}

static int add_source(ml_control *c, ml_ctl_kind kind, const char *where) {
  ml_ctl_source *s = &c->src[c->count];
  memset(s, 0, sizeof(*s));
  s->kind = kind;
  s->where = ml_strdup(c->mem, where);
  if (!s->where)
    return MESHLIB_ERR_NOMEM;
  c->count++;
  if (kind != ML_CTL_URL)
    return MESHLIB_OK;
  c->url_count++;
  return ml_fetch_new(c, where, &s->fetch);
}

/* The sources in the order the options named them. */
static int build_sources(ml_control *c, const ml_control_opts *co,
                         const ml_ctl_input *in, size_t in_count) {
  size_t total = in_count + co->url_count;
  c->src = ml_calloc(c->mem, total ? total : 1, sizeof(*c->src));
  if (!c->src)
    return MESHLIB_ERR_NOMEM;
  size_t u = 0;
  int rc = MESHLIB_OK;
  for (size_t i = 0; rc == MESHLIB_OK && i <= in_count; i++) {
    for (; rc == MESHLIB_OK && u < co->url_count && co->urls[u].position == i;
         u++)
      rc = add_source(c, ML_CTL_URL, co->urls[u].url);
    if (rc != MESHLIB_OK || i == in_count)
      break;
    const ml_ctl_input *s = &in[i];
    rc = add_source(c, s->path ? ML_CTL_PATH : ML_CTL_TEXT,
                    s->path ? s->path : s->name);
  }
  return rc;
}

/* The first content of every source, read on meshlib_new()'s thread. */
static int initial_contents(ml_control *c, const ml_ctl_input *in,
                            ml_ctl_content *cands, char *err, size_t cap) {
  size_t next_opt = 0; /* in[] in step with the non-URL sources */
  for (size_t i = 0; i < c->count; i++) {
    ml_ctl_source *s = &c->src[i];
    int rc = MESHLIB_OK;
    if (s->kind != ML_CTL_URL) {
      const ml_ctl_input *os = &in[next_opt++];
      rc = os->path ? ml_ctl_read_path(c->mem, os->path, &cands[i])
                    : ml_ctl_content_text(c->mem, os->name, os->text, os->len,
                                          &cands[i]);
    } else {
      ml_fetch *f = s->fetch;
      rc = ml_fetch_begin(c, f, 1);
      if (rc != MESHLIB_OK)
        return rc;
      CURLcode cr = curl_easy_perform(ml_fetch_easy(f));
      ml_fetch_result r = ml_fetch_end(c, i, cr, &cands[i]);
      if (r == ML_FETCH_FAILED && c->o.required) {
        snprintf(err, cap, "%s: no config at start: %s", s->where,
                 ml_fetch_last_error(f));
        return MESHLIB_ERR_CONFIG_IO;
      }
      if (r == ML_FETCH_FAILED)
        ml_ctl_log(c, MESHLIB_LEVEL_WARNING,
                   "config: %s gave no config at start; starting without it",
                   s->where);
      if (r != ML_FETCH_FAILED) /* else the backoff says when */
        ml_fetch_set_next_at(f, ml_now_ms());
    }
    if (rc != MESHLIB_OK)
      return rc;
  }
  return MESHLIB_OK;
}

static void serve_reloads(ml_control *c, int *kick_urls);

static void start_due_fetches(ml_control *c, int64_t now) {
  for (size_t i = 0; i < c->count; i++) {
    ml_fetch *f = c->src[i].fetch;
    if (!f || ml_fetch_in_flight(f) || ml_fetch_next_at(f) > now)
      continue;
    if (ml_fetch_begin(c, f, 0) != MESHLIB_OK ||
        curl_multi_add_handle(c->multi, ml_fetch_easy(f)) != CURLM_OK) {
      ml_fetch_set_next_at(f, now + c->o.backoff_initial_ms);
      continue;
    }
    ml_fetch_set_in_flight(f, 1);
  }
}

static void finish_fetches(ml_control *c) {
  int left;
  CURLMsg *msg;
  while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *e = msg->easy_handle;
    CURLcode rc = msg->data.result;
    curl_multi_remove_handle(c->multi, e);
    for (size_t i = 0; i < c->count; i++) {
      if (!c->src[i].fetch || ml_fetch_easy(c->src[i].fetch) != e)
        continue;
      ml_ctl_content cand;
      if (ml_fetch_end(c, i, rc, &cand) == ML_FETCH_CHANGED) {
        char err[1024];
        if (ml_ctl_apply(c, i, &cand, err, sizeof(err)) != MESHLIB_OK)
          ml_ctl_log(c, MESHLIB_LEVEL_WARNING,
                     "config: %s changed; rejected, its last good content "
                     "stays",
                     c->src[i].where);
      }
      break;
    }
  }
}

static int reload_files(ml_control *c) {
  /* Watch first: directories may have come or gone, and what changes
   * while the files are read must not be missed. */
  ml_ctl_watch_refresh(c);
  int rc = MESHLIB_OK;
  for (size_t i = 0; i < c->count; i++) {
    if (c->src[i].kind != ML_CTL_PATH)
      continue;
    int r = ml_ctl_reload_path(c, i);
    if (r != MESHLIB_OK && rc == MESHLIB_OK)
      rc = r;
  }
  return rc;
}

/* Path source |i| is polled: always without inotify, and under inotify
 * while none of its directories can be watched. */
static int polled(const ml_control *c, size_t i) {
  return c->o.watch != MESHLIB_WATCH_OFF && c->src[i].kind == ML_CTL_PATH &&
         (c->ifd < 0 || !ml_ctl_watched(c, i));
}

static void poll_files(ml_control *c) {
  for (size_t i = 0; i < c->count; i++) {
    ml_ctl_source *s = &c->src[i];
    if (!polled(c, i))
      continue;
    uint64_t sig = ml_ctl_path_signature(s->where);
    if (sig == s->poll_sig)
      continue;
    s->poll_sig = sig;
    if (c->ifd >= 0)
      ml_ctl_watch_refresh(c); /* its directory may be back */
    ml_ctl_reload_path(c, i);
  }
}

static void serve_reloads(ml_control *c, int *kick_urls) {
  pthread_mutex_lock(&c->lock);
  uint64_t asked = c->reload_asked;
  pthread_mutex_unlock(&c->lock);
  if (asked == c->reload_done)
    return;
  int rc = reload_files(c);
  c->pending = 0;
  *kick_urls = 1;
  pthread_mutex_lock(&c->lock);
  c->reload_done = asked;
  c->reload_rc = rc;
  pthread_cond_broadcast(&c->done_cond);
  pthread_mutex_unlock(&c->lock);
}

static void *control_main(void *p) {
  ml_control *c = p;
  while (!atomic_load(&c->stop)) {
    int64_t now = ml_now_ms();
    int kick = 0;
    serve_reloads(c, &kick);
    if (kick)
      for (size_t i = 0; i < c->count; i++)
        if (c->src[i].fetch && !ml_fetch_in_flight(c->src[i].fetch))
          ml_fetch_set_next_at(c->src[i].fetch, now);
    /* Files: the quiet period over, or a poll due. */
    if (c->pending && now >= c->quiet_until) {
      c->pending = 0;
      reload_files(c);
    }
    if (now >= c->next_poll) {
      c->next_poll = now + c->o.poll_ms;
      poll_files(c);
    }
    start_due_fetches(c, now);

    /* Sleep until the nearest deadline or an event. */
    int64_t until = now + 60000;
    if (c->pending && c->quiet_until < until)
      until = c->quiet_until;
    for (size_t i = 0; i < c->count; i++) {
      ml_fetch *f = c->src[i].fetch;
      if (polled(c, i) && c->next_poll < until)
        until = c->next_poll;
      if (f && !ml_fetch_in_flight(f) && ml_fetch_next_at(f) < until)
        until = ml_fetch_next_at(f);
    }
    int64_t wait = until - now;
    struct curl_waitfd extra = {c->ifd, CURL_WAIT_POLLIN, 0};
    int numfds = 0;
    curl_multi_poll(c->multi, c->ifd >= 0 ? &extra : NULL, c->ifd >= 0 ? 1 : 0,
                    (int)(wait < 0 ? 0 : wait), &numfds);
    int running = 0;
    curl_multi_perform(c->multi, &running);
    finish_fetches(c);
    if (c->ifd >= 0 && ml_ctl_watch_drain(c)) {
      now = ml_now_ms();
      if (!c->pending) {
        c->pending = 1;
        c->pending_since = now;
      }
      /* Trailing edge, bounded: a steady stream still reloads. */
      c->quiet_until = now + c->o.debounce_ms;
      if (c->quiet_until > c->pending_since + 10 * c->o.debounce_ms)
        c->quiet_until = c->pending_since + 10 * c->o.debounce_ms;
    }
  }
  return NULL;
}

int ml_control_start(const ml_control_host *host, const ml_control_opts *co,
                     const ml_ctl_input *in, size_t in_count, ml_control **out,
                     char *err, size_t cap) {
  err[0] = '\0';
  ml_control *c = ml_calloc(host->mem, 1, sizeof(*c));
  if (!c)
    return MESHLIB_ERR_NOMEM;
  c->host = *host;
  c->mem = host->mem;
  c->ifd = -1;
  atomic_init(&c->stop, 0);
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->done_cond, NULL);
  ml_rand_seed(&c->rng, host->seed ^ 0xc0ffee);
  int rc = copy_opts(c->mem, &c->o, co);
  if (rc == MESHLIB_OK)
    rc = build_sources(c, co, in, in_count);
  if (rc == MESHLIB_OK && c->url_count && !(c->multi = curl_multi_init()))
    rc = MESHLIB_ERR_NOMEM;
  ml_ctl_content *cands =
      rc == MESHLIB_OK ? ml_calloc(c->mem, c->count + 1, sizeof(*cands)) : NULL;
  if (rc == MESHLIB_OK && !cands)
    rc = MESHLIB_ERR_NOMEM;
  if (rc == MESHLIB_OK)
    rc = initial_contents(c, in, cands, err, cap);
  /* Watch before applying: a change made meanwhile is not missed. */
  if (rc == MESHLIB_OK)
    ml_ctl_watch_refresh(c);
  if (rc == MESHLIB_OK) {
    rc = ml_ctl_apply_all(c, cands, err, cap); /* takes them if applied */
    if (rc != MESHLIB_OK && c->o.allow_bad_start && rc != MESHLIB_ERR_NOMEM) {
      ml_ctl_log(c, MESHLIB_LEVEL_ERROR,
                 "config: rejected at start (%s); starting on the empty config",
                 err);
      ml_ctl_apply_valid(c, cands);
      rc = MESHLIB_OK;
    }
  }
  if (cands)
    for (size_t i = 0; i < c->count; i++)
      ml_ctl_content_free(c->mem, &cands[i]);
  ml_free(c->mem, cands);
  if (rc == MESHLIB_OK && !c->multi && !(c->multi = curl_multi_init()))
    rc = MESHLIB_ERR_NOMEM; /* the loop waits in curl_multi_poll() */
  if (rc == MESHLIB_OK) {
    c->next_poll = ml_now_ms() + c->o.poll_ms;
    if (pthread_create(&c->thread, NULL, control_main, c) != 0)
      rc = MESHLIB_ERR_IO;
    else
      c->started = 1;
  }
  if (rc != MESHLIB_OK) {
    control_free(c);
    return rc;
  }
  *out = c;
  return MESHLIB_OK;
}

void ml_control_stop(ml_control *c) {
  if (!c)
    return;
  if (c->started) {
    atomic_store(&c->stop, 1);
    curl_multi_wakeup(c->multi);
    pthread_join(c->thread, NULL);
  }
  /* Whoever waits in meshlib_config_reload() must not: no call may run
   * during meshlib_free(). */
  control_free(c);
}

int ml_control_reload(ml_control *c) {
  pthread_mutex_lock(&c->lock);
  uint64_t ticket = ++c->reload_asked;
  pthread_mutex_unlock(&c->lock);
  curl_multi_wakeup(c->multi);
  pthread_mutex_lock(&c->lock);
  while (c->reload_done < ticket)
    pthread_cond_wait(&c->done_cond, &c->lock);
  int rc = c->reload_rc;
  pthread_mutex_unlock(&c->lock);
  return rc;
}
