/* SPDX-License-Identifier: MIT */
/* A control endpoint over libcurl: conditional GETs (If-None-Match with
 * the last ETag, If-Modified-Since with the last Last-Modified, echoed as
 * the server wrote it), optional long-poll (RFC 7240 `Prefer: wait=N`),
 * a bearer token read from a file when it changes, TLS through libcurl's
 * options, and exponential backoff with jitter after failures. The
 * response headers are read with curl_easy_header(): no parsing here. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "control/control.h"
#include "transport/xfer_easy.h"
#include "util/str.h"
#include "util/clock.h"

/* Bodies larger than this are refused (the loader's own limit is 64 MiB;
 * a control endpoint that sends more is broken). */
#define FETCH_MAX_BYTES ((size_t)64 << 20)
/* Validators (ETag, Last-Modified) longer than this are not echoed: a
 * server that sends one would refuse it back, and the source would fail
 * for good; without them each poll costs a full body instead. */
#define VALIDATOR_MAX 1024
/* A long-poll answer that brings nothing new sooner than this was not
 * held: the server ignores `Prefer: wait` whatever it says, and asking
 * again at once would spin. */
#define HELD_MIN_MS 500

struct ml_fetch {
  const ml_mem *mem;
  char *url;
  CURL *easy;
  struct curl_slist *headers; /* of the request in flight */
  ml_buf body;
  int too_big;
  char *etag;
  char *last_modified;
  int in_flight;
  int64_t next_at;
  int64_t started_at; /* of the request in flight */
  int64_t backoff_ms; /* the next failure's delay; 0: no failure yet */
  int failures;
  int long_poll_seen; /* the server said Preference-Applied: wait */
  /* The bearer token and the identity of the file it came from. */
  char *token;
  uint64_t token_sig;
  int token_reread;
  char error[CURL_ERROR_SIZE];
  char last_error[CURL_ERROR_SIZE + 64]; /* why the last request failed */
};

static size_t on_body(char *data, size_t size, size_t n, void *p) {
  ml_fetch *f = p;
  size_t len = size * n;
  if (f->body.len + len > FETCH_MAX_BYTES) {
    f->too_big = 1;
    return 0; /* aborts the transfer */
  }
  return ml_buf_append(&f->body, data, len) ? 0 : len;
}

int ml_fetch_new(ml_control *c, const char *url, ml_fetch **out) {
  if (ml_xfer_global_init() != 0)
    return MESHLIB_ERR_IO;
  ml_fetch *f = ml_calloc(c->mem, 1, sizeof(*f));
  if (!f)
    return MESHLIB_ERR_NOMEM;
  f->mem = c->mem;
  f->url = ml_strdup(c->mem, url);
  f->easy = curl_easy_init();
  ml_buf_init(&f->body, c->mem);
  if (!f->url || !f->easy) {
    ml_fetch_free(f);
    return MESHLIB_ERR_NOMEM;
  }
  *out = f;
  return MESHLIB_OK;
}

void ml_fetch_free(ml_fetch *f) {
  if (!f)
    return;
  if (f->easy)
    curl_easy_cleanup(f->easy);
  curl_slist_free_all(f->headers);
  ml_buf_free(&f->body);
  ml_free(f->mem, f->url);
  ml_free(f->mem, f->etag);
  ml_free(f->mem, f->last_modified);
  ml_free(f->mem, f->token);
  ml_free(f->mem, f);
}

CURL *ml_fetch_easy(ml_fetch *f) {
  return f->easy;
}
int ml_fetch_in_flight(const ml_fetch *f) {
  return f->in_flight;
}
void ml_fetch_set_in_flight(ml_fetch *f, int on) {
  f->in_flight = on;
}
int64_t ml_fetch_next_at(const ml_fetch *f) {
  return f->next_at;
}
void ml_fetch_set_next_at(ml_fetch *f, int64_t at) {
  f->next_at = at;
}

/* The token file's content, read again when the file changed (a rotated
 * Kubernetes token is a new file behind the same path) or after a 401. */
static void refresh_token(ml_control *c, ml_fetch *f) {
  const char *path = c->o.token_file;
  if (!path)
    return;
  struct stat st;
  if (stat(path, &st) != 0) {
    ml_ctl_log(c, MESHLIB_LEVEL_WARNING,
               "config: token file %s: %s; keeping the last token", path,
               strerror(errno));
    return;
  }
  uint64_t sig = ((uint64_t)st.st_ino * 0x100000001b3ull) ^
                 (uint64_t)st.st_size ^ ((uint64_t)st.st_mtim.tv_sec << 20) ^
                 (uint64_t)st.st_mtim.tv_nsec;
  if (f->token && sig == f->token_sig && !f->token_reread)
    return;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return;
  char buf[16384];
  size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
  int more = fgetc(fp) != EOF;
  fclose(fp);
  if (more) {
    ml_ctl_log(c, MESHLIB_LEVEL_WARNING,
               "config: token file %s is larger than %zu bytes; ignored", path,
               sizeof(buf) - 1);
    return;
  }
  buf[n] = '\0';
  char *s = buf, *e = buf + n;
  while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
    s++;
  while (e > s &&
         (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
    e--;
  char *tok = ml_strndup(f->mem, s, (size_t)(e - s));
  if (!tok)
    return;
  if (memchr(tok, '\n', strlen(tok)) || memchr(tok, '\r', strlen(tok))) {
    ml_ctl_log(c, MESHLIB_LEVEL_WARNING,
               "config: token file %s holds more than one line; ignored", path);
    ml_free(f->mem, tok);
    return;
  }
  if (f->token && strcmp(f->token, tok) != 0)
    ml_ctl_log(c, MESHLIB_LEVEL_INFO, "config: token from %s changed", path);
  ml_free(f->mem, f->token);
  f->token = tok;
  f->token_sig = sig;
  f->token_reread = 0;
}

static int add_header(const ml_mem *mem, struct curl_slist **l,
                      const char *name, const char *prefix, const char *value) {
  ml_buf line;
  ml_buf_init(&line, mem);
  ml_buf_printf(&line, "%s: %s%s", name, prefix, value);
  struct curl_slist *nl = line.oom ? NULL : curl_slist_append(*l, line.data);
  ml_buf_free(&line);
  if (!nl)
    return -1;
  *l = nl;
  return 0;
}

int ml_fetch_begin(ml_control *c, ml_fetch *f, int initial) {
  CURL *e = f->easy;
  curl_easy_reset(e);
  curl_slist_free_all(f->headers);
  f->headers = NULL;
  ml_buf_reset(&f->body);
  f->too_big = 0;
  f->error[0] = '\0';
  refresh_token(c, f);

  int64_t wait_s = (c->o.long_poll_ms + 999) / 1000;
  struct curl_slist **h = &f->headers;
  int rc = add_header(f->mem, h, "Accept", "",
                      "application/yaml, application/json;q=0.9, */*;q=0.5");
  if (f->etag)
    rc |= add_header(f->mem, h, "If-None-Match", "", f->etag);
  if (f->last_modified)
    rc |= add_header(f->mem, h, "If-Modified-Since", "", f->last_modified);
  if (f->token)
    rc |= add_header(f->mem, h, "Authorization", "Bearer ", f->token);
  if (!initial && wait_s > 0) {
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)wait_s);
    rc |= add_header(f->mem, h, "Prefer", "wait=", v);
  }
  if (rc)
    return MESHLIB_ERR_NOMEM;
  f->started_at = ml_now_ms();
  /* A held request may last the wait plus a margin; a plain one not. */
  long timeout =
      initial ? (long)c->o.initial_timeout_ms : (long)(wait_s * 1000 + 15000);
  long connect = timeout < 5000 ? timeout : 5000;
  curl_easy_setopt(e, CURLOPT_URL, f->url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->error);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* what libcurl has */
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)FETCH_MAX_BYTES);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_PRIVATE, f);
  if (c->o.ca_file)
    curl_easy_setopt(e, CURLOPT_CAINFO, c->o.ca_file);
  if (c->o.cert_file) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, c->o.cert_file);
    curl_easy_setopt(e, CURLOPT_SSLKEY, c->o.key_file);
  }
  return MESHLIB_OK;
}

/* The first value of response header |name|, or NULL. */
static const char *header(CURL *e, const char *name) {
  struct curl_header *h = NULL;
  if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
    return NULL;
  return h->value;
}

/* A validator to echo, or none (see VALIDATOR_MAX). */
/* Keep validator |v| to echo (none when absent or too long, see
 * VALIDATOR_MAX): nonzero when it is a new one. */
static int set_validator(const ml_mem *mem, char **slot, const char *v) {
  if (v && (!*v || strlen(v) > VALIDATOR_MAX))
    v = NULL;
  if (v && *slot && strcmp(v, *slot) == 0)
    return 0;
  ml_free(mem, *slot);
  *slot = v ? ml_strdup(mem, v) : NULL;
  return v != NULL;
}

static int64_t jittered(ml_control *c, int64_t ms) {
  /* Between half and all of |ms|: "equal jitter". */
  int64_t half = ms / 2;
  return half + (int64_t)ml_rand_below(&c->rng, (uint64_t)(ms - half) + 1);
}

const char *ml_fetch_last_error(const ml_fetch *f) {
  return f->last_error;
}

static void failed(ml_control *c, ml_fetch *f, const char *why) {
  snprintf(f->last_error, sizeof(f->last_error), "%s", why);
  f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : c->o.backoff_initial_ms;
  if (f->backoff_ms > c->o.backoff_max_ms)
    f->backoff_ms = c->o.backoff_max_ms;
  int64_t delay = jittered(c, f->backoff_ms);
  f->next_at = ml_now_ms() + delay;
  f->failures++;
  /* The first failure and then every tenth: a long outage does not fill
   * the log. */
  if (f->failures == 1 || f->failures % 10 == 0)
    ml_ctl_log(c, MESHLIB_LEVEL_WARNING,
               "config: %s: %s (failure %d; next try in %lld ms; the config in "
               "force stays)",
               f->url, why, f->failures, (long long)delay);
}

/* An answer: |news| when it brought a body or a validator not seen yet. */
static void succeeded(ml_control *c, ml_fetch *f, int news) {
  if (f->failures)
    ml_ctl_log(c, MESHLIB_LEVEL_INFO,
               "config: %s answers again after %d failure(s)", f->url,
               f->failures);
  f->failures = 0;
  f->backoff_ms = 0;
  /* A server that holds requests answers when something changed or its
   * wait ended: ask again at once. Otherwise, or when it only says it
   * holds them, poll. */
  int64_t now = ml_now_ms();
  int held = f->long_poll_seen && (news || now - f->started_at >= HELD_MIN_MS);
  f->next_at = now + (held ? 0 : c->o.poll_ms);
}

ml_fetch_result ml_fetch_end(ml_control *c, size_t i, CURLcode rc,
                             ml_ctl_content *out) {
  ml_ctl_source *s = &c->src[i];
  ml_fetch *f = s->fetch;
  f->in_flight = 0;
  long status = 0;
  curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
  char why[CURL_ERROR_SIZE + 64];
  if (rc != CURLE_OK) {
    snprintf(why, sizeof(why), "%s",
             f->too_big || rc == CURLE_FILESIZE_EXCEEDED
                 ? "config larger than 64 MiB"
             : f->error[0] ? f->error
                           : curl_easy_strerror(rc));
    failed(c, f, why);
    return ML_FETCH_FAILED;
  }
  const char *pa = header(f->easy, "Preference-Applied");
  f->long_poll_seen = c->o.long_poll_ms > 0 && pa && strstr(pa, "wait");
  if (status == 304) {
    succeeded(c, f, 0);
    return ML_FETCH_UNCHANGED;
  }
  if (status != 200) {
    if (status == 401 || status == 403)
      f->token_reread = 1;
    snprintf(why, sizeof(why), "HTTP status %ld", status);
    failed(c, f, why);
    return ML_FETCH_FAILED;
  }
  int nrc = ml_ctl_content_text(c->mem, f->url, f->body.data, f->body.len, out);
  ml_buf_reset(&f->body);
  if (nrc != MESHLIB_OK) { /* the validators stay: asked again in full */
    ml_ctl_content_free(c->mem, out);
    failed(c, f, meshlib_strerror(nrc));
    return ML_FETCH_FAILED;
  }
  int changed = !s->has_seen || out->hash != s->seen_hash;
  int news = set_validator(f->mem, &f->etag, header(f->easy, "ETag"));
  set_validator(f->mem, &f->last_modified, header(f->easy, "Last-Modified"));
  succeeded(c, f, changed || news);
  if (!changed) {
    ml_ctl_content_free(c->mem, out);
    return ML_FETCH_UNCHANGED;
  }
  return ML_FETCH_CHANGED;
}
