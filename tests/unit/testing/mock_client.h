/* SPDX-License-Identifier: MIT */
/* A small libcurl client for the mock-upstream kit's tests: one call, its
 * status, body and x-mock-name. Header-only, shared by the test programs
 * in this folder. */
#ifndef ML_TEST_MOCK_CLIENT_H
#define ML_TEST_MOCK_CLIENT_H

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct mc_resp {
  CURLcode rc;
  long status;
  long version; /* CURLINFO_HTTP_VERSION */
  char body[4096];
  size_t len;
  char name[64];  /* x-mock-name */
  char extra[64]; /* the header asked for in mc_call(), if any */
  double ms;
} mc_resp;

static size_t mc_write(char *p, size_t size, size_t n, void *user) {
  mc_resp *r = user;
  size_t k = size * n;
  size_t room = sizeof(r->body) - 1 - r->len;
  size_t c = k < room ? k : room;
  memcpy(r->body + r->len, p, c);
  r->len += c;
  r->body[r->len] = '\0';
  return k;
}

static double mc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* One call on |e| (reused by the caller for keep-alive). |h2| selects
 * HTTP/2 with prior knowledge; |post| (may be NULL) makes it a POST;
 * |hdr| is one request header line or NULL; |want| names a response
 * header to copy into r->extra. */
static void mc_call(CURL *e, int port, const char *path, int h2,
                    const char *post, const char *hdr, const char *want,
                    mc_resp *r) {
  char url[256];
  memset(r, 0, sizeof(*r));
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                   h2 ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                      : (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, mc_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  if (post != NULL) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, post);
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
  struct curl_slist *list = NULL;
  if (hdr != NULL)
    list = curl_slist_append(NULL, hdr);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
  double t0 = mc_now_ms();
  r->rc = curl_easy_perform(e);
  r->ms = mc_now_ms() - t0;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(list);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &r->version);
  struct curl_header *h = NULL;
  if (curl_easy_header(e, "x-mock-name", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
    snprintf(r->name, sizeof(r->name), "%s", h->value);
  if (want != NULL &&
      curl_easy_header(e, want, 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
    snprintf(r->extra, sizeof(r->extra), "%s", h->value);
}

/* A call on a fresh handle. */
static void mc_get(int port, const char *path, int h2, mc_resp *r) {
  CURL *e = curl_easy_init();
  mc_call(e, port, path, h2, NULL, NULL, NULL, r);
  curl_easy_cleanup(e);
}

#endif
