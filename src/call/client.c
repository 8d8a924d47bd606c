/* SPDX-License-Identifier: MIT */
/* The asynchronous client: one CURLM driven through
 * curl_multi_socket_action() by the application's loop, or through
 * curl_multi_poll() by a thread of the client's own. The call path is
 * the synchronous one cut at the exchange: ml_call_prepare() when the
 * call starts, an easy handle from the pool for the exchange,
 * ml_call_complete() when it ends. h2c exchanges run on worker threads
 * (libcurl 7.88 breaks kept-alive h2c prior-knowledge connections, so
 * they take the blocking nghttp2 path) and come back through an eventfd,
 * which the application's loop watches like any socket. See client.h for
 * which thread touches what. */
#include "call/client.h"
#include "util/clock.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define GOOD_CLIENT(c) ((c) && (c)->magic == ML_MAGIC_CLIENT)

/* ---- queues and the list of calls (under the lock) ------------------ */

static void q_push(ml_call_queue *q, ml_call *k) {
  k->qnext = NULL;
  if (q->tail)
    q->tail->qnext = k;
  else
    q->head = k;
  q->tail = k;
}

static ml_call *q_take_all(ml_call_queue *q) {
  ml_call *h = q->head;
  q->head = q->tail = NULL;
  return h;
}

static ml_call *q_pop(ml_call_queue *q) {
  ml_call *h = q->head;
  if (h) {
    q->head = h->qnext;
    if (!q->head)
      q->tail = NULL;
    h->qnext = NULL;
  }
  return h;
}

static int q_remove(ml_call_queue *q, ml_call *k) {
  ml_call *prev = NULL;
  for (ml_call *x = q->head; x; prev = x, x = x->qnext) {
    if (x != k)
      continue;
    if (prev)
      prev->qnext = x->qnext;
    else
      q->head = x->qnext;
    if (q->tail == x)
      q->tail = prev;
    x->qnext = NULL;
    return 1;
  }
  return 0;
}

static void list_add(meshlib_client *c, ml_call *k) {
  k->prev = NULL;
  k->next = c->calls;
  if (c->calls)
    c->calls->prev = k;
  c->calls = k;
  c->active++;
}

static void list_del(meshlib_client *c, ml_call *k) {
  if (k->prev)
    k->prev->next = k->next;
  else
    c->calls = k->next;
  if (k->next)
    k->next->prev = k->prev;
  k->prev = k->next = NULL;
  c->active--;
}

static ml_call *list_find(meshlib_client *c, const meshlib_request *r) {
  for (ml_call *k = c->calls; k; k = k->next)
    if (k->r == r)
      return k;
  return NULL;
}

/* ---- easy handles --------------------------------------------------- */

static ml_client_slot *slot_get(meshlib_client *c) {
  ml_client_slot *s = c->pool;
  if (s) {
    c->pool = s->next;
    c->pool_count--;
    s->next = NULL;
    return s;
  }
  s = ml_calloc(c->env->mem, 1, sizeof(*s));
  if (!s)
    return NULL;
  s->easy = curl_easy_init();
  if (!s->easy) {
    ml_free(c->env->mem, s);
    return NULL;
  }
  return s;
}

static void slot_destroy(meshlib_client *c, ml_client_slot *s) {
  curl_easy_cleanup(s->easy);
  ml_xfer_run_destroy(&s->run);
  ml_free(c->env->mem, s);
}

static void slot_put(meshlib_client *c, ml_client_slot *s) {
  if (c->pool_count >= ML_CLIENT_POOL_MAX) {
    slot_destroy(c, s);
    return;
  }
  s->next = c->pool;
  c->pool = s;
  c->pool_count++;
}

/* ---- ending calls (driving thread) ---------------------------------- */

static void mark_done(meshlib_client *c, ml_call *k) {
  pthread_mutex_lock(&c->lock);
  k->state = ML_CALL_DONE;
  q_push(&c->done, k);
  pthread_mutex_unlock(&c->lock);
}

/* Complete a call whose exchange did not happen or was dropped, with the
 * outcome |o| (ML_XFER_ABORTED: 499 DC). */
static void end_without_exchange(meshlib_client *c, ml_call *k,
                                 ml_xfer_outcome o, int result) {
  meshlib_request *r = k->r;
  ml_xfer_result_free(c->env->mem, &r->xfer);
  ml_xfer_result_init(&r->xfer, c->env->mem);
  r->xfer.outcome = o;
  if (result != MESHLIB_OK) { /* an error, not a response */
    ml_call_abandon(r);
    k->result = result;
  } else {
    k->result = ml_call_complete(r);
  }
  mark_done(c, k);
}

static void start_curl(meshlib_client *c, ml_call *k);
static int h2c_enqueue(meshlib_client *c, ml_call *k);
static int is_h2c(const ml_xfer_req *x);

/* Carry a call on from where its phases left it (driving thread): its
 * next exchange, a wait, or its end. */
static void step_call(meshlib_client *c, ml_call *k, int rc) {
  meshlib_request *r = k->r;
  if (rc != MESHLIB_OK) {
    ml_call_abandon(r);
    k->result = rc;
    mark_done(c, k);
    return;
  }
  if (r->plan.step == ML_STEP_DONE) {
    k->result = ml_call_complete(r);
    mark_done(c, k);
    return;
  }
  if (r->plan.step == ML_STEP_WAIT) {
    pthread_mutex_lock(&c->lock);
    k->due_ms = ml_now_ms() + r->plan.wait_ms;
    k->state = ML_CALL_WAITING;
    q_push(&c->waiting, k);
    pthread_mutex_unlock(&c->lock);
    return;
  }
  if (is_h2c(&r->plan.x)) {
    pthread_mutex_lock(&c->lock);
    rc = h2c_enqueue(c, k);
    pthread_mutex_unlock(&c->lock);
    if (rc != MESHLIB_OK)
      end_without_exchange(c, k, ML_XFER_LOCAL_ERROR, rc);
    return;
  }
  start_curl(c, k);
}

/* Resume the calls whose wait is over; the earliest wait left, as a
 * deadline (-1: none). */
static int64_t resume_due(meshlib_client *c) {
  int64_t now = ml_now_ms(), next = -1;
  ml_call_queue due = {NULL, NULL};
  pthread_mutex_lock(&c->lock);
  for (ml_call *k = c->waiting.head, *n; k; k = n) {
    n = k->qnext;
    if (k->due_ms <= now) {
      q_remove(&c->waiting, k);
      q_push(&due, k);
    } else if (next < 0 || k->due_ms < next) {
      next = k->due_ms;
    }
  }
  pthread_mutex_unlock(&c->lock);
  for (ml_call *k = due.head, *n; k; k = n) {
    n = k->qnext;
    k->qnext = NULL;
    step_call(c, k, ml_call_resume(k->r));
  }
  return due.head ? 0 : next;
}

static void end_curl(meshlib_client *c, ml_client_slot *s, CURLcode cc) {
  ml_call *k = s->call;
  int rc = ml_xfer_run_finish(&s->run, s->easy, cc);
  curl_multi_remove_handle(c->multi, s->easy);
  /* Back to the shared options: the next call on this handle sets its
   * own, the connection stays in the multi's cache. */
  s->ready = ml_xfer_run_unset(&s->run, s->easy);
  ml_xfer_run_release(&s->run);
  s->call = NULL;
  k->slot = NULL;
  slot_put(c, s);
  if (rc != MESHLIB_OK) {
    step_call(c, k, rc);
    return;
  }
  step_call(c, k, ml_call_attempt_end(k->r));
}

static void start_curl(meshlib_client *c, ml_call *k) {
  meshlib_request *r = k->r;
  ml_client_slot *s = slot_get(c);
  int rc = MESHLIB_ERR_NOMEM;
  if (s) {
    if (!s->ready && ml_xfer_handle_init(s->easy, &s->run) == MESHLIB_OK)
      s->ready = 1;
    if (s->ready) {
      rc = ml_xfer_run_setup(&s->run, s->easy, c->env->mem, &r->plan.x,
                             &r->xfer);
      if (rc == MESHLIB_OK &&
          curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (void *)s) == CURLE_OK &&
          curl_multi_add_handle(c->multi, s->easy) == CURLM_OK) {
        s->call = k;
        k->slot = s;
        pthread_mutex_lock(&c->lock);
        k->state = ML_CALL_CURL;
        pthread_mutex_unlock(&c->lock);
        return;
      }
      if (rc == MESHLIB_OK)
        rc = MESHLIB_ERR_NOMEM;
      s->ready = ml_xfer_run_unset(&s->run, s->easy);
      ml_xfer_run_release(&s->run);
    }
    slot_put(c, s);
  }
  end_without_exchange(c, k, ML_XFER_LOCAL_ERROR, rc);
}

static void read_infos(meshlib_client *c) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE)
      continue;
    CURLcode cc = m->data.result;
    char *p = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
    if (p)
      end_curl(c, (ml_client_slot *)(void *)p, cc);
  }
}

/* h2c exchanges the workers finished, and calls abandoned before their
 * exchange started. */
static void complete_h2c(meshlib_client *c) {
  pthread_mutex_lock(&c->lock);
  ml_call *k = q_take_all(&c->h2c_ended);
  pthread_mutex_unlock(&c->lock);
  while (k) {
    ml_call *next = k->qnext;
    if (k->cancel)
      end_without_exchange(c, k, ML_XFER_ABORTED, MESHLIB_OK);
    else
      step_call(c, k,
                k->result != MESHLIB_OK ? k->result
                                        : ml_call_attempt_end(k->r));
    k = next;
  }
}

/* Act on meshlib_client_cancel() for calls the driving thread owns. */
static void process_cancels(meshlib_client *c) {
  ml_call_queue due = {NULL, NULL};
  pthread_mutex_lock(&c->lock);
  if (!c->cancel_pending) {
    pthread_mutex_unlock(&c->lock);
    return;
  }
  c->cancel_pending = 0;
  for (ml_call *k = c->calls; k; k = k->next) {
    if (!k->cancel || k->cancel_seen)
      continue;
    if ((k->state == ML_CALL_NEW && q_remove(&c->incoming, k)) ||
        (k->state == ML_CALL_WAITING && q_remove(&c->waiting, k))) {
      k->cancel_seen = 1;
      q_push(&due, k);
    } else if (k->state == ML_CALL_CURL) {
      k->cancel_seen = 1;
      q_push(&due, k);
    }
  }
  pthread_mutex_unlock(&c->lock);
  for (ml_call *k = due.head, *next; k; k = next) {
    next = k->qnext;
    if (k->slot) /* abandoned mid-exchange: libcurl's word for it */
      end_curl(c, k->slot, CURLE_ABORTED_BY_CALLBACK);
    else
      end_without_exchange(c, k, ML_XFER_ABORTED, MESHLIB_OK);
  }
}

/* Run the callbacks of the calls that ended before this point; calls
 * that end meanwhile (a callback's new local reply) wait for the next
 * turn, so that a callback that starts calls cannot keep this loop. */
static void deliver(meshlib_client *c) {
  pthread_mutex_lock(&c->lock);
  ml_call *k = q_take_all(&c->done);
  pthread_mutex_unlock(&c->lock);
  while (k) {
    ml_call *next = k->qnext;
    pthread_mutex_lock(&c->lock);
    list_del(c, k);
    pthread_mutex_unlock(&c->lock);
    meshlib_request *r = k->r;
    meshlib_done_cb cb = k->cb;
    void *ud = k->user_data;
    int result = k->result;
    ml_free(c->env->mem, k);
    cb(r, result, ud);
    k = next;
  }
}

static void drain_efd(meshlib_client *c) {
  uint64_t v;
  while (read(c->efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
    ;
}

/* When the earliest waiting call is due (monotonic ms), or -1. */
static int64_t next_wait(meshlib_client *c) {
  int64_t next = -1;
  pthread_mutex_lock(&c->lock);
  for (ml_call *k = c->waiting.head; k; k = k->qnext)
    if (next < 0 || k->due_ms < next)
      next = k->due_ms;
  pthread_mutex_unlock(&c->lock);
  return next;
}

/* Tell the application's timer what the client needs now: 0 when
 * callbacks are due, else libcurl's next deadline. */
static void sync_timer(meshlib_client *c) {
  if (c->threaded || !c->timer_cb)
    return;
  pthread_mutex_lock(&c->lock);
  int due = c->done.head != NULL;
  pthread_mutex_unlock(&c->lock);
  long ms = -1;
  if (due)
    ms = 0;
  else if (curl_multi_timeout(c->multi, &ms) != CURLM_OK)
    ms = -1;
  int64_t wake = next_wait(c);
  if (!due && wake >= 0) {
    int64_t in = wake - ml_now_ms();
    if (in < 0)
      in = 0;
    if (ms < 0 || in < ms)
      ms = (long)in;
  }
  int64_t want = ms < 0 ? -1 : ml_now_ms() + ms;
  int64_t have = c->app_deadline_ms;
  if (want == have ||
      (want >= 0 && have >= 0 && want - have <= 1 && have - want <= 1))
    return;
  c->app_deadline_ms = want;
  c->timer_cb(ms, c->timer_ud);
}

/* One pass over everything that may have ended. */
static void progress(meshlib_client *c) {
  read_infos(c);
  process_cancels(c);
  complete_h2c(c);
  resume_due(c);
  deliver(c);
}

/* ---- h2c workers ---------------------------------------------------- */

static void *worker_main(void *arg) {
  meshlib_client *c = arg;
  pthread_mutex_lock(&c->lock);
  for (;;) {
    while (!c->h2c_jobs.head && !c->stop) {
      c->worker_idle++;
      pthread_cond_wait(&c->work, &c->lock);
      c->worker_idle--;
    }
    ml_call *k = q_pop(&c->h2c_jobs);
    if (!k)
      break; /* stopping, nothing left */
    k->state = ML_CALL_H2C_RUNNING;
    meshlib_request *r = k->r;
    pthread_mutex_unlock(&c->lock);

    int rc = ml_xfer_perform(c->env->mem, &r->plan.x, &r->xfer);
    if (rc != MESHLIB_OK)
      r->xfer.outcome = ML_XFER_LOCAL_ERROR;

    pthread_mutex_lock(&c->lock);
    k->result = rc;
    k->state = ML_CALL_H2C_ENDED;
    q_push(&c->h2c_ended, k);
    pthread_mutex_unlock(&c->lock);
    uint64_t one = 1;
    ssize_t w = write(c->efd, &one, sizeof(one));
    (void)w; /* EAGAIN: the counter is already nonzero */
    pthread_mutex_lock(&c->lock);
  }
  pthread_mutex_unlock(&c->lock);
  ml_xfer_thread_cleanup(); /* this thread's h2c sessions */
  return NULL;
}

/* Queue |k| for a worker, starting one if every worker is busy. Under
 * the lock. Returns MESHLIB_OK, or MESHLIB_ERR_IO when no worker exists
 * and none could be started (|k| is then not queued). */
static int h2c_enqueue(meshlib_client *c, ml_call *k) {
  size_t queued = 0;
  for (ml_call *x = c->h2c_jobs.head; x; x = x->qnext)
    queued++;
  k->state = ML_CALL_H2C_QUEUED;
  if ((size_t)c->worker_idle <= queued &&
      c->worker_count < ML_CLIENT_H2C_WORKERS) {
    if (pthread_create(&c->workers[c->worker_count], NULL, worker_main, c) == 0)
      c->worker_count++;
    else if (c->worker_count == 0)
      return MESHLIB_ERR_IO;
  }
  q_push(&c->h2c_jobs, k);
  pthread_cond_signal(&c->work);
  return MESHLIB_OK;
}

static int is_h2c(const ml_xfer_req *x) {
  return x->version == ML_HTTP_2_PRIOR && x->scheme &&
         strcmp(x->scheme, "http") == 0;
}

/* ---- own thread ----------------------------------------------------- */

/* Cancel every call and run every callback (the client is going away).
 * Driving thread. */
static void shutdown_calls(meshlib_client *c) {
  pthread_mutex_lock(&c->lock);
  c->closing = 1;
  c->stop = 1;
  ml_call *k;
  while ((k = q_pop(&c->h2c_jobs)) != NULL) {
    k->cancel = 1;
    k->state = ML_CALL_ABANDONED;
    q_push(&c->h2c_ended, k);
  }
  pthread_cond_broadcast(&c->work);
  int workers = c->worker_count;
  pthread_mutex_unlock(&c->lock);
  /* An h2c exchange under way cannot be interrupted: wait for it. */
  for (int i = 0; i < workers; i++)
    pthread_join(c->workers[i], NULL);

  ml_call_queue due = {NULL, NULL};
  pthread_mutex_lock(&c->lock);
  c->worker_count = 0;
  ml_call *in = q_take_all(&c->incoming);
  ml_call *waits = q_take_all(&c->waiting);
  for (k = c->calls; k; k = k->next)
    if (k->state == ML_CALL_CURL)
      q_push(&due, k);
  pthread_mutex_unlock(&c->lock);
  for (ml_call *next; in; in = next) {
    next = in->qnext;
    end_without_exchange(c, in, ML_XFER_ABORTED, MESHLIB_OK);
  }
  for (ml_call *next; waits; waits = next) {
    next = waits->qnext;
    end_without_exchange(c, waits, ML_XFER_ABORTED, MESHLIB_OK);
  }
  for (ml_call *next; due.head; due.head = next) {
    next = due.head->qnext;
    end_curl(c, due.head->slot, CURLE_ABORTED_BY_CALLBACK);
  }
  complete_h2c(c);
  for (;;) {
    pthread_mutex_lock(&c->lock);
    int more = c->done.head != NULL;
    pthread_mutex_unlock(&c->lock);
    if (!more)
      break;
    deliver(c);
  }
}

static void *thread_main(void *arg) {
  meshlib_client *c = arg;
  for (;;) {
    pthread_mutex_lock(&c->lock);
    int stop = c->stop;
    ml_call *in = stop ? NULL : q_take_all(&c->incoming);
    pthread_mutex_unlock(&c->lock);
    if (stop)
      break;
    for (ml_call *next; in; in = next) {
      next = in->qnext;
      start_curl(c, in);
    }
    int n = 0;
    curl_multi_perform(c->multi, &n);
    progress(c);

    pthread_mutex_lock(&c->lock);
    int busy = c->done.head || c->incoming.head || c->cancel_pending ||
               c->h2c_ended.head || c->stop;
    pthread_mutex_unlock(&c->lock);
    /* curl_multi_poll() also returns at libcurl's own next deadline, and
     * at once after curl_multi_wakeup() (new calls, cancels). */
    int timeout = busy ? 0 : 1000;
    int64_t wake = next_wait(c);
    if (!busy && wake >= 0) {
      int64_t left = wake - ml_now_ms();
      timeout = left <= 0 ? 0 : left < 1000 ? (int)left : 1000;
    }
    struct curl_waitfd w = {c->efd, CURL_WAIT_POLLIN, 0};
    curl_multi_poll(c->multi, &w, 1, timeout, NULL);
    if (w.revents)
      drain_efd(c);
  }
  shutdown_calls(c);
  return NULL;
}

/* ---- socket hook trampoline ----------------------------------------- */

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp,
                     void *socketp) {
  (void)e;
  (void)socketp;
  meshlib_client *c = userp;
  if (c->socket_cb)
    c->socket_cb((int)s, what, c->socket_ud);
  return 0;
}

/* ---- public API ----------------------------------------------------- */

int ml_client_new(meshlib_client **out, meshlib *m, const ml_call_env *env) {
  *out = NULL;
  if (ml_xfer_global_init())
    return MESHLIB_ERR_NOMEM;
  meshlib_client *c = ml_calloc(env->mem, 1, sizeof(*c));
  if (!c)
    return MESHLIB_ERR_NOMEM;
  c->mesh = m;
  c->env = env;
  c->efd = -1;
  c->app_deadline_ms = -2;
  if (pthread_mutex_init(&c->lock, NULL) != 0) {
    ml_free(env->mem, c);
    return MESHLIB_ERR_NOMEM;
  }
  if (pthread_cond_init(&c->work, NULL) != 0) {
    pthread_mutex_destroy(&c->lock);
    ml_free(env->mem, c);
    return MESHLIB_ERR_NOMEM;
  }
  int rc = MESHLIB_ERR_NOMEM;
  c->multi = curl_multi_init();
  if (c->multi) {
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    rc = c->efd < 0 ? MESHLIB_ERR_IO : MESHLIB_OK;
  }
  if (rc == MESHLIB_OK &&
      (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket) !=
           CURLM_OK ||
       curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, (void *)c) != CURLM_OK))
    rc = MESHLIB_ERR_NOMEM;
  if (rc != MESHLIB_OK) {
    if (c->multi)
      curl_multi_cleanup(c->multi);
    if (c->efd >= 0)
      close(c->efd);
    pthread_cond_destroy(&c->work);
    pthread_mutex_destroy(&c->lock);
    ml_free(env->mem, c);
    return rc;
  }
  c->magic = ML_MAGIC_CLIENT;
  *out = c;
  return MESHLIB_OK;
}

void meshlib_client_free(meshlib_client *c) {
  if (!GOOD_CLIENT(c))
    return;
  if (c->threaded) {
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_mutex_unlock(&c->lock);
    curl_multi_wakeup(c->multi);
    pthread_join(c->thread, NULL); /* it ran shutdown_calls() */
  } else {
    shutdown_calls(c);
  }
  if (c->efd_watched && c->socket_cb)
    c->socket_cb(c->efd, MESHLIB_POLL_REMOVE, c->socket_ud);
  if (!c->threaded && c->timer_cb && c->app_deadline_ms != -1)
    c->timer_cb(-1, c->timer_ud);
  /* Closes the cached connections (the socket hook hears of each). */
  curl_multi_cleanup(c->multi);
  while (c->pool) {
    ml_client_slot *s = c->pool;
    c->pool = s->next;
    slot_destroy(c, s);
  }
  close(c->efd);
  pthread_cond_destroy(&c->work);
  pthread_mutex_destroy(&c->lock);
  c->magic = 0;
  ml_free(c->env->mem, c);
}

int meshlib_client_set_socket_cb(meshlib_client *c, meshlib_socket_cb cb,
                                 void *user_data) {
  if (!GOOD_CLIENT(c) || c->threaded)
    return MESHLIB_ERR_INVALID_ARG;
  c->socket_cb = cb;
  c->socket_ud = user_data;
  return MESHLIB_OK;
}

int meshlib_client_set_timer_cb(meshlib_client *c, meshlib_timer_cb cb,
                                void *user_data) {
  if (!GOOD_CLIENT(c) || c->threaded)
    return MESHLIB_ERR_INVALID_ARG;
  c->timer_cb = cb;
  c->timer_ud = user_data;
  c->app_deadline_ms = -2;
  return MESHLIB_OK;
}

int meshlib_client_perform(meshlib_client *c, meshlib_request *r,
                           meshlib_done_cb cb, void *user_data) {
  if (!GOOD_CLIENT(c) || !GOOD_REQUEST(r) || !cb || r->mesh != c->mesh ||
      (!c->threaded && (!c->socket_cb || !c->timer_cb)))
    return MESHLIB_ERR_INVALID_ARG;
  const ml_mem *mem = c->env->mem;
  ml_call *k = ml_calloc(mem, 1, sizeof(*k));
  if (!k)
    return MESHLIB_ERR_NOMEM;
  k->r = r;
  k->cb = cb;
  k->user_data = user_data;
  /* Routing and picking run here, on the caller's thread: the mesh is
   * shared, the request is still the caller's. */
  r->plan.blocking = 0;
  int rc = ml_call_prepare(r);
  if (rc != MESHLIB_OK) {
    ml_call_abandon(r);
    ml_free(mem, k);
    return rc;
  }
  ml_call_step step = r->plan.step;
  if (step == ML_STEP_DONE) /* meshlib answered itself */
    k->result = ml_call_complete(r);
  int send = step == ML_STEP_SEND;
  int h2c = send && is_h2c(&r->plan.x);

  pthread_mutex_lock(&c->lock);
  if (c->closing) {
    pthread_mutex_unlock(&c->lock);
    if (step != ML_STEP_DONE) {
      r->xfer.outcome = ML_XFER_ABORTED;
      ml_call_complete(r); /* releases the endpoint's in-flight count */
    }
    ml_free(mem, k);
    return MESHLIB_ERR_INVALID_ARG;
  }
  list_add(c, k);
  if (step == ML_STEP_DONE) {
    k->state = ML_CALL_DONE;
    q_push(&c->done, k);
  } else if (step == ML_STEP_WAIT) {
    k->due_ms = ml_now_ms() + r->plan.wait_ms;
    k->state = ML_CALL_WAITING;
    q_push(&c->waiting, k);
  } else if (h2c) {
    rc = h2c_enqueue(c, k);
    if (rc != MESHLIB_OK) {
      list_del(c, k);
      pthread_mutex_unlock(&c->lock);
      ml_call_abandon(r);
      ml_free(mem, k);
      return rc;
    }
  } else if (c->threaded) {
    k->state = ML_CALL_NEW;
    q_push(&c->incoming, k);
  } else {
    k->state = ML_CALL_NEW;
  }
  pthread_mutex_unlock(&c->lock);

  if (c->threaded) {
    if (!h2c) /* the workers' eventfd wakes the thread for h2c */
      curl_multi_wakeup(c->multi);
    return MESHLIB_OK;
  }
  if (h2c && !c->efd_watched) {
    c->efd_watched = 1;
    c->socket_cb(c->efd, MESHLIB_POLL_IN, c->socket_ud);
  }
  if (send && !h2c)
    start_curl(c, k);
  sync_timer(c);
  return MESHLIB_OK;
}

int meshlib_client_cancel(meshlib_client *c, meshlib_request *r) {
  if (!GOOD_CLIENT(c) || !r)
    return MESHLIB_ERR_INVALID_ARG;
  int rc = MESHLIB_OK;
  pthread_mutex_lock(&c->lock);
  ml_call *k = list_find(c, r);
  if (!k) {
    rc = MESHLIB_ERR_NOT_FOUND;
  } else if (k->cancel) {
    /* already asked */
  } else {
    switch (k->state) {
    case ML_CALL_NEW:
    case ML_CALL_CURL:
    case ML_CALL_WAITING:
      k->cancel = 1;
      c->cancel_pending = 1;
      break;
    case ML_CALL_H2C_QUEUED:
      q_remove(&c->h2c_jobs, k);
      k->cancel = 1;
      k->state = ML_CALL_ABANDONED;
      q_push(&c->h2c_ended, k);
      break;
    case ML_CALL_H2C_RUNNING:
      k->cancel = 1; /* reported as DC when the exchange ends */
      break;
    default: /* ended: its callback reports the real outcome */
      rc = MESHLIB_ERR_NOT_FOUND;
    }
  }
  pthread_mutex_unlock(&c->lock);
  if (rc != MESHLIB_OK)
    return rc;
  if (c->threaded) {
    curl_multi_wakeup(c->multi);
  } else {
    /* The exchange stops now; the callback waits for the next
     * meshlib_client_socket_action() (the timer is armed at 0). */
    process_cancels(c);
    complete_h2c(c);
    sync_timer(c);
  }
  return MESHLIB_OK;
}

int meshlib_client_socket_action(meshlib_client *c, int fd, int events,
                                 int *running) {
  if (running)
    *running = 0;
  if (!GOOD_CLIENT(c) || c->threaded)
    return MESHLIB_ERR_INVALID_ARG;
  int n = 0;
  CURLMcode mc = CURLM_OK;
  if (fd == MESHLIB_SOCKET_TIMEOUT) {
    c->app_deadline_ms = -2; /* the one-shot timer has fired */
    mc = curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &n);
  } else if (fd == c->efd) {
    drain_efd(c);
  } else {
    mc = curl_multi_socket_action(c->multi, (curl_socket_t)fd, events, &n);
  }
  progress(c);
  sync_timer(c);
  if (running) {
    pthread_mutex_lock(&c->lock);
    *running = c->active;
    pthread_mutex_unlock(&c->lock);
  }
  return mc == CURLM_OUT_OF_MEMORY ? MESHLIB_ERR_NOMEM : MESHLIB_OK;
}

int meshlib_client_start_thread(meshlib_client *c) {
  if (!GOOD_CLIENT(c))
    return MESHLIB_ERR_INVALID_ARG;
  pthread_mutex_lock(&c->lock);
  int busy = c->active > 0;
  pthread_mutex_unlock(&c->lock);
  if (c->threaded || c->socket_cb || c->timer_cb || busy)
    return MESHLIB_ERR_INVALID_ARG;
  c->threaded = 1;
  if (pthread_create(&c->thread, NULL, thread_main, c) != 0) {
    c->threaded = 0;
    return MESHLIB_ERR_IO;
  }
  return MESHLIB_OK;
}

int meshlib_client_running(meshlib_client *c) {
  if (!GOOD_CLIENT(c))
    return 0;
  pthread_mutex_lock(&c->lock);
  int n = c->active;
  pthread_mutex_unlock(&c->lock);
  return n;
}
