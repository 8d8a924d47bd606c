/* SPDX-License-Identifier: MIT */
#include "cluster/breaker_wait.h"

#include <errno.h>
#include "util/clock.h"

/* An HTTP/1.1 slot was given back: wake a waiter, if any. A waiter counts
 * itself before it last looks for a slot (both seq_cst), so either it
 * sees the slot freed or we see it here. */
static void wake_one(ml_cluster_state *s) {
  if (!atomic_load(&s->waiters))
    return;
  pthread_mutex_lock(&s->lock);
  pthread_cond_signal(&s->slot_freed);
  pthread_mutex_unlock(&s->lock);
}

int ml_cluster_admit(ml_cluster_state *s, const ml_connection_pool *cp,
                     int http2, int64_t wait_ms) {
  if (!s)
    return ML_BREAKER_OK;
  int freed;
  int r = ml_breaker_try_admit(&s->breaker, cp, http2, wait_ms != 0, &freed);
  if (freed)
    wake_one(s);
  if (r != ML_BREAKER_WAIT)
    return r;

  /* The slow path: wait for a slot, bounded in time and in number (the
   * pending place is taken). */
  struct timespec deadline = {0, 0};
  if (wait_ms > 0)
    ml_deadline_in(&deadline, wait_ms);
  pthread_mutex_lock(&s->lock);
  atomic_fetch_add(&s->waiters, 1);
  for (;;) {
    /* A slot this takes and gives back (max requests reached) needs no
     * wake-up of its own: the one below covers it. */
    r = ml_breaker_pending_retry(&s->breaker, cp, NULL);
    if (r != ML_BREAKER_WAIT)
      break;
    int rc = wait_ms > 0
                 ? pthread_cond_timedwait(&s->slot_freed, &s->lock, &deadline)
                 : pthread_cond_wait(&s->slot_freed, &s->lock);
    if (rc == ETIMEDOUT) {
      r = ml_breaker_pending_retry(&s->breaker, cp, NULL);
      if (r == ML_BREAKER_WAIT) {
        ml_breaker_pending_cancel(&s->breaker);
        r = ML_BREAKER_TIMED_OUT;
      }
      break;
    }
  }
  atomic_fetch_sub(&s->waiters, 1);
  /* A wake-up this thread did not use goes to the next waiter. */
  if (r != ML_BREAKER_OK && atomic_load(&s->waiters))
    pthread_cond_signal(&s->slot_freed);
  pthread_mutex_unlock(&s->lock);
  return r;
}

int ml_cluster_try_admit(ml_cluster_state *s, const ml_connection_pool *cp,
                         int http2) {
  if (!s)
    return ML_BREAKER_OK;
  int freed;
  int r = ml_breaker_try_admit(&s->breaker, cp, http2, 1, &freed);
  if (freed)
    wake_one(s);
  return r;
}

int ml_cluster_pending_retry(ml_cluster_state *s,
                             const ml_connection_pool *cp) {
  if (!s)
    return ML_BREAKER_OK;
  int freed;
  int r = ml_breaker_pending_retry(&s->breaker, cp, &freed);
  if (freed)
    wake_one(s);
  return r;
}

void ml_cluster_release(ml_cluster_state *s, int http2) {
  if (s && ml_breaker_release(&s->breaker, http2))
    wake_one(s);
}
