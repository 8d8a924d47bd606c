/* SPDX-License-Identifier: MIT */
/* An application's own CURL easy handle sent through the mesh
 * (include/meshlib/curl.h): the call path's prepare and complete phases
 * around an exchange the application performs. Only the options the
 * mesh decides are set on the handle, and they are returned to libcurl's
 * defaults afterwards; callbacks, body and method stay the
 * application's. */
#include <stdio.h>
#include <string.h>

#include "meshlib/curl.h"
#include "call/request.h"
#include "transport/xfer_easy.h"
#include "util/str.h"

/* Options set on the application's handle, to return to the defaults. */
enum {
  SET_URL = 1u << 0,
  SET_CONNECT_TO = 1u << 1,
  SET_HEADERS = 1u << 2,
  SET_VERSION = 1u << 3,
  SET_TIMEOUT = 1u << 4,
  SET_CONNECT_TIMEOUT = 1u << 5,
  SET_FRESH = 1u << 6 /* FRESH_CONNECT and FORBID_REUSE */
};

/* What a prepared request keeps for its handle: one ml_malloc block,
 * this struct, then the header nodes, then their text, the URL and the
 * CONNECT_TO entry. */
struct ml_curl_state {
  CURL *easy;
  unsigned set;
  struct curl_slist connect_to;
  struct curl_slist *headers;
};

static void restore(CURL *e, unsigned set) {
  if (set & SET_URL)
    curl_easy_setopt(e, CURLOPT_URL, (char *)NULL);
  if (set & SET_CONNECT_TO)
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, (struct curl_slist *)NULL);
  if (set & SET_HEADERS)
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
  if (set & SET_VERSION)
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_NONE);
  if (set & SET_TIMEOUT)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 0L);
  if (set & SET_CONNECT_TIMEOUT)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 0L);
  if (set & SET_FRESH) {
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 0L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 0L);
  }
}

/* libcurl before 8.0.0 cannot reuse an h2c prior-knowledge connection
 * (curl issue 10634). Asked of the libcurl the process runs with. */
static int h2c_reuse_broken(void) {
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  return !v || v->version_num < 0x080000;
}

void ml_curl_release(meshlib_request *r) {
  struct ml_curl_state *s = r->curl_state;
  if (!s)
    return;
  /* The request goes away before meshlib_curl_done(): the handle may be
   * gone too, so it is not touched; the endpoint's count is released. */
  r->curl_state = NULL;
  ml_free(r->env->mem, s);
  if (r->plan.send) {
    r->xfer.outcome = ML_XFER_ABORTED;
    ml_call_complete(r);
  }
}

/* The request's headers, then the attempt's own. */
static const ml_header *header_at(const ml_xfer_req *x, size_t i) {
  return i < x->header_count ? &x->headers[i]
                             : &x->extra_headers[i - x->header_count];
}

int meshlib_curl_add_headers(meshlib_request *r,
                             const struct curl_slist *headers) {
  if (!GOOD_REQUEST(r))
    return MESHLIB_ERR_INVALID_ARG;
  const ml_mem *mem = r->env->mem;
  for (const struct curl_slist *h = headers; h; h = h->next) {
    const char *line = h->data;
    if (!line)
      continue;
    size_t n = strcspn(line, ":;");
    if (line[n] == '\0' || n == 0)
      return MESHLIB_ERR_BAD_HEADER;
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    if (line[n] == ':' && *v == '\0')
      continue; /* "Name:" tells libcurl not to send its own header */
    if (line[n] == ';' && *v != '\0')
      return MESHLIB_ERR_BAD_HEADER;
    char *name = ml_strndup(mem, line, n);
    if (!name)
      return MESHLIB_ERR_NOMEM;
    size_t vl = strlen(v);
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
      vl--;
    char *value = ml_strndup(mem, v, vl);
    int rc =
        value ? meshlib_request_add_header(r, name, value) : MESHLIB_ERR_NOMEM;
    ml_free(mem, name);
    ml_free(mem, value);
    if (rc != MESHLIB_OK)
      return rc;
  }
  return MESHLIB_OK;
}

int meshlib_curl_prepare(meshlib_request *r, CURL *easy) {
  if (!GOOD_REQUEST(r) || !easy || r->curl_state)
    return MESHLIB_ERR_INVALID_ARG;
  /* The application performs the exchange, once: no retries here, and a
   * fault's delay blocks this call (docs/resilience.md). */
  r->plan.blocking = 0;
  int rc = ml_call_prepare(r);
  while (rc == MESHLIB_OK && r->plan.step == ML_STEP_WAIT) {
    ml_sleep_ms(r->plan.wait_ms);
    rc = ml_call_resume(r);
  }
  if (rc != MESHLIB_OK) {
    ml_call_abandon(r);
    return rc;
  }
  if (!r->plan.send) {
    ml_call_complete(r);
    return MESHLIB_CURL_LOCAL_REPLY;
  }

  const ml_mem *mem = r->env->mem;
  const ml_xfer_req *x = &r->plan.x;
  const char *path = x->path && x->path[0] ? x->path : "/";
  size_t count = x->header_count + x->extra_header_count;
  size_t bytes = 0;
  for (size_t i = 0; i < count; i++) {
    const ml_header *h = header_at(x, i);
    bytes += strlen(h->name) + strlen(h->value) + 3;
  }
  size_t url_len =
      strlen(x->scheme) + 3 + strlen(x->authority) + strlen(path) + 1;
  size_t ct_len = strlen(x->connect_host) + 16;
  size_t head =
      sizeof(struct ml_curl_state) + count * sizeof(struct curl_slist);
  char *block = ml_malloc(mem, head + bytes + url_len + ct_len);
  if (!block) {
    ml_call_abandon(r);
    return MESHLIB_ERR_NOMEM;
  }
  struct ml_curl_state *s = (struct ml_curl_state *)(void *)block;
  memset(s, 0, sizeof(*s));
  s->easy = easy;
  struct curl_slist *node =
      (struct curl_slist *)(void *)(block + sizeof(struct ml_curl_state));
  char *text = block + head;
  for (size_t i = 0; i < count; i++) {
    const ml_header *h = header_at(x, i);
    node[i].data = text;
    node[i].next = i + 1 < count ? &node[i + 1] : NULL;
    /* "Name;" is libcurl's way to send an empty value. */
    size_t nl = strlen(h->name), vl = strlen(h->value);
    memcpy(text, h->name, nl);
    text += nl;
    if (vl) {
      memcpy(text, ": ", 2);
      memcpy(text + 2, h->value, vl);
      text += 2 + vl;
    } else {
      *text++ = ';';
    }
    *text++ = '\0';
  }
  s->headers = count ? node : NULL;
  char *url = text;
  text += snprintf(text, url_len, "%s://%s%s", x->scheme, x->authority, path);
  text++;
  int v6 = strchr(x->connect_host, ':') != NULL && x->connect_host[0] != '[';
  s->connect_to.data = text;
  s->connect_to.next = NULL;
  snprintf(text, ct_len, v6 ? "::[%s]:%u" : "::%s:%u", x->connect_host,
           x->connect_port);

  int https = strcmp(x->scheme, "https") == 0;
  long version;
  int fresh = 0;
  if (x->version == ML_HTTP_2_PRIOR && !https) {
    version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    fresh = h2c_reuse_broken();
  } else if (x->version != ML_HTTP_1_1 || https) {
    version = CURL_HTTP_VERSION_2TLS;
  } else {
    version = CURL_HTTP_VERSION_1_1;
  }

  CURLcode cc = CURLE_OK;
#define SET(opt, val, flag)                                                    \
  do {                                                                         \
    if (cc == CURLE_OK) {                                                      \
      cc = curl_easy_setopt(easy, opt, val);                                   \
      s->set |= (flag);                                                        \
    }                                                                          \
  } while (0)
  SET(CURLOPT_URL, url, SET_URL);
  SET(CURLOPT_CONNECT_TO, &s->connect_to, SET_CONNECT_TO);
  SET(CURLOPT_HTTPHEADER, s->headers, SET_HEADERS);
  SET(CURLOPT_HTTP_VERSION, version, SET_VERSION);
  if (x->timeout_ms > 0)
    SET(CURLOPT_TIMEOUT_MS, (long)x->timeout_ms, SET_TIMEOUT);
  if (x->connect_timeout_ms > 0)
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)x->connect_timeout_ms,
        SET_CONNECT_TIMEOUT);
  if (fresh) {
    SET(CURLOPT_FRESH_CONNECT, 1L, SET_FRESH);
    SET(CURLOPT_FORBID_REUSE, 1L, SET_FRESH);
  }
#undef SET
  if (cc != CURLE_OK) {
    restore(easy, s->set);
    ml_free(mem, block);
    ml_call_abandon(r);
    return cc == CURLE_OUT_OF_MEMORY ? MESHLIB_ERR_NOMEM
                                     : MESHLIB_ERR_INVALID_ARG;
  }
  r->curl_state = s;
  return MESHLIB_OK;
}

int meshlib_curl_done(meshlib_request *r, CURL *easy, int curlcode) {
  if (!GOOD_REQUEST(r) || !easy || !r->curl_state ||
      r->curl_state->easy != easy)
    return MESHLIB_ERR_INVALID_ARG;
  struct ml_curl_state *s = r->curl_state;
  ml_xfer_result *res = &r->xfer;
  CURLcode rc = (CURLcode)curlcode;
  long status = 0, num_connects = 0, port = 0, hdr_size = 0, req_size = 0;
  long version = 0;
  curl_off_t total_us = 0, connect_us = 0, up = 0, down = 0;
  char *ip = NULL;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &num_connects);
  curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip);
  curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &port);
  curl_easy_getinfo(easy, CURLINFO_HEADER_SIZE, &hdr_size);
  curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &req_size);
  curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
  curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &up);
  curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &down);

  res->curl_code = curlcode;
  res->status = rc == CURLE_OK ? (int)status : 0;
  res->http_version = version == CURL_HTTP_VERSION_2_0   ? 20
                      : version == CURL_HTTP_VERSION_1_0 ? 10
                      : version                          ? 11
                                                         : 0;
  res->headers_complete = status > 0;
  res->bytes_sent =
      (uint64_t)(req_size > 0 ? req_size : 0) + (uint64_t)(up > 0 ? up : 0);
  res->bytes_received =
      (uint64_t)(hdr_size > 0 ? hdr_size : 0) + (uint64_t)(down > 0 ? down : 0);
  res->duration_us = (int64_t)total_us;
  int connected = rc == CURLE_OK || connect_us > 0 || hdr_size > 0 ||
                  (num_connects == 0 && ip && ip[0]);
  res->reused_connection = num_connects == 0 && connected;
  if (ip && ip[0])
    snprintf(res->upstream_address, sizeof(res->upstream_address),
             strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, port);
  res->outcome = ml_xfer_classify(rc, NULL, connected,
                                  r->plan.x.version != ML_HTTP_1_1, &r->plan.x);
  if (res->outcome != ML_XFER_OK)
    snprintf(res->error, sizeof(res->error), "%s", curl_easy_strerror(rc));

  restore(easy, s->set);
  r->curl_state = NULL;
  ml_free(r->env->mem, s);
  return ml_call_complete(r);
}
