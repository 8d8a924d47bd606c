/* SPDX-License-Identifier: MIT */
/* A request as the application builds it: method, URL, headers, body,
 * source labels; and its routing decision on demand. */
#include "call/request.h"

#include <curl/curl.h>
#include <string.h>
#include "telemetry/trace.h"
#include "util/str.h"

static void set_errmsg(meshlib_request *r, const char *msg) {
  ml_free(r->env->mem, r->errmsg);
  r->errmsg = ml_strdup(r->env->mem, msg);
}

static int valid_token(const char *s) {
  if (!s || !*s)
    return 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
      return 0;
  }
  return 1;
}

static int valid_value(const char *s) {
  for (; *s; s++)
    if (*s == '\r' || *s == '\n')
      return 0;
  return 1;
}

/* Split |url| with libcurl's URL parser rather than by hand. */
static int parse_url(meshlib_request *r, const char *url) {
  const ml_mem *mem = r->env->mem;
  CURLU *u = curl_url();
  if (!u)
    return MESHLIB_ERR_NOMEM;
  int rc = MESHLIB_ERR_BAD_URL;
  char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
  if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
      CURLUE_OK)
    goto out;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
    goto out;
  (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
  (void)curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
  int64_t portnum = 0;
  if (port && ml_parse_int64(port, &portnum) != 0)
    goto out;
  if (!port) /* a scheme curl has no default for */
    portnum = ml_strcaseeq(scheme, "https") ? 443 : 80;
  char *explicit_port = NULL;
  (void)curl_url_get(u, CURLUPART_PORT, &explicit_port, 0);

  size_t hl = strlen(host);
  const char *h = host;
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
    h = host + 1;
    hl -= 2;
  }
  r->scheme = ml_strdup(mem, scheme);
  r->host = ml_strndup(mem, h, hl);
  r->path = ml_strdup(mem, path);
  r->query = query ? ml_strdup(mem, query) : NULL;
  {
    ml_buf t;
    ml_buf_init(&t, mem);
    ml_buf_puts(&t, path);
    if (query) {
      ml_buf_putc(&t, '?');
      ml_buf_puts(&t, query);
    }
    r->target = ml_buf_steal(&t);
  }
  r->port = (uint32_t)portnum;
  {
    ml_buf a;
    ml_buf_init(&a, mem);
    ml_buf_puts(&a, host);
    if (explicit_port)
      ml_buf_printf(&a, ":%s", explicit_port);
    r->authority = ml_buf_steal(&a);
  }
  curl_free(explicit_port);
  if (!r->scheme || !r->host || !r->path || (query && !r->query) ||
      !r->authority || !r->target) {
    rc = MESHLIB_ERR_NOMEM;
    goto out;
  }
  ml_str_lower(r->scheme);
  ml_str_lower(r->host);
  /* A trailing dot names the same host (Istio 1.27 accepts both forms). */
  size_t n = strlen(r->host);
  if (n > 1 && r->host[n - 1] == '.')
    r->host[n - 1] = '\0';
  rc = MESHLIB_OK;
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_free(query);
  curl_url_cleanup(u);
  return rc;
}

int ml_request_new(meshlib_request **out, meshlib *m, const ml_call_env *env,
                   uint64_t seed, const char *method, const char *url) {
  *out = NULL;
  if (!method)
    method = "GET";
  if (!valid_token(method))
    return MESHLIB_ERR_INVALID_ARG;
  const ml_mem *mem = env->mem;
  meshlib_request *r = ml_calloc(mem, 1, sizeof(*r));
  if (!r)
    return MESHLIB_ERR_NOMEM;
  r->magic = ML_MAGIC_REQUEST;
  r->mesh = m;
  r->env = env;
  ml_buf_init(&r->decision.text, mem);
  ml_buf_init(&r->decision.host_text, mem);
  ml_xfer_result_init(&r->xfer, mem);
  ml_buf_init(&r->plan.path, mem);
  ml_buf_init(&r->plan.cookie, mem);
  r->details = "";
  r->code_details = NULL;
  ml_rand_seed(&r->rand, seed);
  r->method = ml_strdup(mem, method);
  r->url = ml_strdup(mem, url);
  int rc = (r->method && r->url) ? parse_url(r, url) : MESHLIB_ERR_NOMEM;
  if (rc != MESHLIB_OK) {
    meshlib_request_free(r);
    return rc;
  }
  *out = r;
  return MESHLIB_OK;
}

void meshlib_request_free(meshlib_request *r) {
  if (!GOOD_REQUEST(r))
    return;
  if (r->curl_state)
    ml_curl_release(r);
  const ml_mem *mem = r->env->mem;
  ml_decision_release(mem, &r->decision);
  ml_xfer_result_free(mem, &r->xfer);
  ml_free(mem, r->resp_headers);
  ml_free(mem, r->location);
  ml_free(mem, r->body);
  ml_buf_free(&r->plan.path);
  ml_buf_free(&r->plan.cookie);
  ml_free(mem, r->plan.headers);
  ml_free(mem, r->plan.attempts);
  ml_free(mem, r->plan.sent);
  ml_free(mem, r->method);
  ml_free(mem, r->url);
  ml_free(mem, r->scheme);
  ml_free(mem, r->host);
  ml_free(mem, r->authority);
  ml_free(mem, r->path);
  ml_free(mem, r->query);
  ml_free(mem, r->target);
  for (size_t i = 0; i < r->header_count; i++) {
    ml_free(mem, (char *)r->headers[i].name);
    ml_free(mem, (char *)r->headers[i].value);
  }
  ml_free(mem, r->headers);
  for (size_t i = 0; i < r->source_label_count; i++) {
    ml_free(mem, (char *)r->source_labels[i].key);
    ml_free(mem, (char *)r->source_labels[i].value);
  }
  ml_free(mem, r->source_labels);
  ml_free(mem, r->errmsg);
  ml_trace_call_free(mem, r->trace);
  r->magic = 0;
  ml_free(mem, r);
}

int meshlib_request_add_header(meshlib_request *r, const char *name,
                               const char *value) {
  if (!GOOD_REQUEST(r) || !name || !value)
    return MESHLIB_ERR_INVALID_ARG;
  /* HTTP/2 pseudo-headers are not application headers. */
  if (!valid_token(name) || !valid_value(value)) {
    set_errmsg(r, "header name must be a token and values may not hold "
                  "CR or LF");
    return MESHLIB_ERR_BAD_HEADER;
  }
  const ml_mem *mem = r->env->mem;
  if (r->header_count == r->header_cap) {
    size_t cap = r->header_cap ? r->header_cap * 2 : 8;
    ml_header *h = ml_realloc(mem, r->headers, cap * sizeof(*h));
    if (!h)
      return MESHLIB_ERR_NOMEM;
    r->headers = h;
    r->header_cap = cap;
  }
  char *n = ml_strdup(mem, name), *v = ml_strdup(mem, value);
  if (!n || !v) {
    ml_free(mem, n);
    ml_free(mem, v);
    return MESHLIB_ERR_NOMEM;
  }
  ml_str_lower(n);
  r->headers[r->header_count].name = n;
  r->headers[r->header_count].value = v;
  r->header_count++;
  return MESHLIB_OK;
}

int meshlib_request_set_source_label(meshlib_request *r, const char *key,
                                     const char *value) {
  if (!GOOD_REQUEST(r) || !key || !*key || !value)
    return MESHLIB_ERR_INVALID_ARG;
  const ml_mem *mem = r->env->mem;
  char *v = ml_strdup(mem, value);
  if (!v)
    return MESHLIB_ERR_NOMEM;
  for (size_t i = 0; i < r->source_label_count; i++)
    if (strcmp(r->source_labels[i].key, key) == 0) {
      ml_free(mem, (char *)r->source_labels[i].value);
      r->source_labels[i].value = v;
      return MESHLIB_OK;
    }
  char *k = ml_strdup(mem, key);
  ml_kv *kv = k ? ml_realloc(mem, r->source_labels,
                             (r->source_label_count + 1) * sizeof(*kv))
                : NULL;
  if (!kv) {
    ml_free(mem, k);
    ml_free(mem, v);
    return MESHLIB_ERR_NOMEM;
  }
  r->source_labels = kv;
  kv[r->source_label_count].key = k;
  kv[r->source_label_count].value = v;
  r->source_label_count++;
  return MESHLIB_OK;
}

int meshlib_request_set_body(meshlib_request *r, const void *data, size_t len) {
  if (!GOOD_REQUEST(r) || (!data && len))
    return MESHLIB_ERR_INVALID_ARG;
  char *copy = ml_malloc(r->env->mem, len + 1);
  if (!copy)
    return MESHLIB_ERR_NOMEM;
  if (len)
    memcpy(copy, data, len);
  copy[len] = '\0';
  ml_free(r->env->mem, r->body);
  r->body = copy;
  r->body_len = len;
  return MESHLIB_OK;
}

int meshlib_request_set_timeout_ms(meshlib_request *r, int64_t timeout_ms) {
  if (!GOOD_REQUEST(r) || timeout_ms < 0)
    return MESHLIB_ERR_INVALID_ARG;
  r->timeout_ms = timeout_ms;
  return MESHLIB_OK;
}

int meshlib_request_route(meshlib_request *r, const meshlib_decision **out) {
  if (!GOOD_REQUEST(r) || !out)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  int rc = ml_request_route(r);
  if (rc != MESHLIB_OK) {
    set_errmsg(r, meshlib_strerror(rc));
    return rc;
  }
  *out = &r->decision;
  return MESHLIB_OK;
}

const char *meshlib_request_errmsg(const meshlib_request *r) {
  return GOOD_REQUEST(r) && r->errmsg ? r->errmsg : "";
}
