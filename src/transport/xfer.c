/* SPDX-License-Identifier: MIT */
/* Synchronous exchanges: one libcurl easy handle per thread, kept for the
 * thread's life, whose connection cache serves every endpoint the thread
 * talks to. No lock: nothing here is shared between threads. */
#include <pthread.h>
#include <string.h>

#include "meshlib/error.h"
#include "transport/transport.h"
#include "transport/xfer_easy.h"
#include "util/str.h"

/* Endpoints (hashed) that this thread's handle holds an h2c connection
 * to, as far as we know: a 4-way set-associative table, lossy both ways,
 * and both ways are safe (a stale entry costs one attempt refused before
 * sending; a lost one costs one extra connection, so sets are wide enough
 * that a thread's few h2c endpoints do not push each other out). */
#define ML_XFER_H2C_WAYS 4u
#define ML_XFER_H2C_SETS 64u

typedef struct ml_xfer_thread {
  CURL *easy;
  int ready;       /* |easy| has its shared options (ml_xfer_handle_init) */
  int busy;        /* an exchange runs on |easy| (a body callback may nest) */
  ml_xfer_run run; /* the state of |easy|'s exchanges, at a fixed place */
  uint64_t h2c[ML_XFER_H2C_SETS * ML_XFER_H2C_WAYS];
} ml_xfer_thread;

static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_key_ok;
/* The fast path: no pthread_getspecific() per exchange. The key exists
 * for its destructor, which frees the handles when the thread ends. */
static _Thread_local ml_xfer_thread *t_self;

static void thread_free(void *p) {
  ml_xfer_thread *t = p;
  if (!t)
    return;
  if (t_self == t)
    t_self = NULL;
  if (t->easy)
    curl_easy_cleanup(t->easy);
  ml_xfer_run_destroy(&t->run);
  ml_free(NULL, t);
}

static void key_once(void) {
  g_key_ok = pthread_key_create(&g_key, thread_free) == 0;
}

static ml_xfer_thread *thread_get(void) {
  if (t_self)
    return t_self;
  pthread_once(&g_key_once, key_once);
  /* libc, not a mesh's allocator: the cache outlives any one mesh. */
  ml_xfer_thread *t = ml_calloc(NULL, 1, sizeof(*t));
  if (!t)
    return NULL;
  t->easy = curl_easy_init();
  if (!t->easy) {
    ml_free(NULL, t);
    return NULL;
  }
  if (g_key_ok)
    pthread_setspecific(g_key, t);
  t_self = t;
  return t;
}

void ml_xfer_thread_cleanup(void) {
  ml_xfer_thread *t = t_self;
  if (!t || t->busy)
    return; /* not from inside a body callback */
  if (g_key_ok)
    pthread_setspecific(g_key, NULL);
  thread_free(t);
}

static uint64_t h2c_key(const ml_xfer_req *req) {
  uint64_t h = ml_hash_lower(req->authority, strlen(req->authority));
  h ^= ml_hash(req->connect_host, strlen(req->connect_host)) *
       0x9e3779b97f4a7c15ull;
  h ^= (uint64_t)req->connect_port;
  /* A finaliser (splitmix64's), so the set bits depend on every input:
   * endpoints that differ only in port must spread over the sets. */
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h ? h : 1;
}

static uint64_t *h2c_find(ml_xfer_thread *t, uint64_t key) {
  uint64_t *set = &t->h2c[(key % ML_XFER_H2C_SETS) * ML_XFER_H2C_WAYS];
  for (unsigned i = 0; i < ML_XFER_H2C_WAYS; i++)
    if (set[i] == key)
      return &set[i];
  return NULL;
}

static void h2c_remember(ml_xfer_thread *t, uint64_t key) {
  if (h2c_find(t, key))
    return;
  uint64_t *set = &t->h2c[(key % ML_XFER_H2C_SETS) * ML_XFER_H2C_WAYS];
  for (unsigned i = 0; i < ML_XFER_H2C_WAYS; i++) {
    if (set[i] == 0) {
      set[i] = key;
      return;
    }
  }
  set[(key >> 32) % ML_XFER_H2C_WAYS] = key; /* full: evict one */
}

/* Forget a failed attempt's response, keep its sums. */
static void result_restart(const ml_mem *mem, ml_xfer_result *res) {
  uint64_t sent = res->bytes_sent, received = res->bytes_received;
  int64_t us = res->duration_us;
  ml_xfer_result_free(mem, res);
  ml_xfer_result_init(res, mem);
  res->bytes_sent = sent;
  res->bytes_received = received;
  res->duration_us = us;
}

static int attempt(const ml_mem *mem, CURL *e, ml_xfer_run *run, int *ready,
                   const ml_xfer_req *req, ml_xfer_result *res,
                   ml_xfer_h2c_mode mode, int *tripped) {
  if (!*ready) {
    if (ml_xfer_handle_init(e, run) != MESHLIB_OK)
      return MESHLIB_ERR_NOMEM;
    *ready = 1;
  }
  int rc = ml_xfer_run_setup(run, e, mem, req, res, mode);
  if (rc == MESHLIB_OK) {
    CURLcode cc = curl_easy_perform(e);
    *tripped = run->guard_tripped;
    rc = ml_xfer_run_finish(run, e, cc);
  }
  /* Back to the shared options only: drops the borrowed request
   * pointers, keeps the connections, DNS and TLS session caches. Cheaper
   * than curl_easy_reset() and setting everything again. */
  *ready = ml_xfer_run_unset(run, e);
  ml_xfer_run_release(run);
  return rc;
}

int ml_xfer_perform(const ml_mem *mem, const ml_xfer_req *req,
                    ml_xfer_result *res) {
  if (!req || !res)
    return MESHLIB_ERR_INVALID_ARG;
  ml_xfer_result_init(res, mem);
  if (ml_xfer_global_init())
    return MESHLIB_ERR_NOMEM;
  ml_xfer_thread *t = thread_get();
  if (!t)
    return MESHLIB_ERR_NOMEM;
  CURL *e = t->easy;
  ml_xfer_run *run = &t->run;
  int *ready = &t->ready;
  ml_xfer_run own_run;
  int own_ready = 0;
  int own = t->busy;
  if (own) {
    /* Called from a body callback of this thread's exchange: a handle
     * of its own, without reuse. */
    e = curl_easy_init();
    if (!e)
      return MESHLIB_ERR_NOMEM;
    memset(&own_run, 0, sizeof(own_run));
    run = &own_run;
    ready = &own_ready;
  } else {
    t->busy = 1;
  }

  int h2c = req->version == ML_HTTP_2_PRIOR && req->scheme &&
            strcmp(req->scheme, "http") == 0 && req->authority &&
            req->connect_host;
  uint64_t key = 0;
  int track = h2c && !own;
  ml_xfer_h2c_mode mode = ML_XFER_H2C_PRIOR;
  if (h2c && !own) {
    key = h2c_key(req);
    mode = h2c_find(t, key) ? ML_XFER_H2C_REUSE_ONLY : ML_XFER_H2C_PRIOR_FRESH;
  }
  int tripped = 0;
  int rc = attempt(mem, e, run, ready, req, res, mode, &tripped);
  if (rc == MESHLIB_OK && tripped) {
    /* No live h2c connection after all (closed by the peer, evicted,
     * or refused streams sent libcurl to a new one): nothing was sent
     * on a new connection; start one with prior knowledge. */
    uint64_t *known = h2c_find(t, key);
    if (known)
      *known = 0;
    result_restart(mem, res);
    ml_xfer_req again = *req;
    if (req->timeout_ms > 0) {
      int64_t left = req->timeout_ms - res->duration_us / 1000;
      again.timeout_ms = left > 0 ? left : 1;
    }
    rc = attempt(mem, e, run, ready, &again, res, ML_XFER_H2C_PRIOR_FRESH,
                 &tripped);
  }
  if (track && rc == MESHLIB_OK && res->upstream_address[0] &&
      res->outcome != ML_XFER_CONNECT_FAILURE &&
      res->outcome != ML_XFER_TLS_ERROR)
    h2c_remember(t, key);

  if (own) {
    curl_easy_cleanup(e);
    ml_xfer_run_destroy(&own_run);
  } else {
    t->busy = 0;
  }
  return rc;
}
