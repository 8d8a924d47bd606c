/* SPDX-License-Identifier: MIT */
/* Synchronous exchanges: one libcurl easy handle per thread, kept for the
 * thread's life, whose connection cache serves every endpoint the thread
 * talks to. No lock: nothing here is shared between threads. */
#include <pthread.h>
#include <string.h>

#include "meshlib/error.h"
#include "transport/h2c.h"
#include "transport/transport.h"
#include "transport/xfer_easy.h"
#include "util/str.h"

const ml_xfer_limits ml_xfer_default_limits = ML_XFER_LIMITS_DEFAULT;

typedef struct ml_xfer_thread {
  CURL *easy;
  int ready;       /* |easy| has its shared options (ml_xfer_handle_init) */
  int busy;        /* an exchange runs on |easy| (a body callback may nest) */
  ml_xfer_run run; /* the state of |easy|'s exchanges, at a fixed place */
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
  t->run.own_connections = 1; /* this thread's handle alone uses them */
  if (g_key_ok)
    pthread_setspecific(g_key, t);
  t_self = t;
  return t;
}

void ml_xfer_thread_cleanup(void) {
  ml_h2c_thread_cleanup();
  ml_xfer_thread *t = t_self;
  if (!t || t->busy)
    return; /* not from inside a body callback */
  if (g_key_ok)
    pthread_setspecific(g_key, NULL);
  thread_free(t);
}

static int attempt(const ml_mem *mem, CURL *e, ml_xfer_run *run, int *ready,
                   const ml_xfer_req *req, ml_xfer_result *res) {
  if (!*ready) {
    if (ml_xfer_handle_init(e, run) != MESHLIB_OK)
      return MESHLIB_ERR_NOMEM;
    *ready = 1;
  }
  int rc = ml_xfer_run_setup(run, e, mem, req, res);
  if (rc == MESHLIB_OK) {
    CURLcode cc = curl_easy_perform(e);
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
  /* h2c goes over nghttp2 directly: libcurl 7.88.1 breaks a kept-alive
   * prior-knowledge connection on its second use (curl issue 10634) and
   * retries refused streams behind our back (docs/design.md). */
  if (req->version == ML_HTTP_2_PRIOR && req->scheme &&
      strcmp(req->scheme, "http") == 0)
    return ml_h2c_perform(mem, req, res);
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
    own_run.own_connections = 1;
    run = &own_run;
    ready = &own_ready;
  } else {
    t->busy = 1;
  }

  int rc = attempt(mem, e, run, ready, req, res);
  if (own) {
    curl_easy_cleanup(e);
    ml_xfer_run_destroy(&own_run);
  } else {
    t->busy = 0;
  }
  return rc;
}
