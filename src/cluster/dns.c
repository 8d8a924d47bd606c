/* SPDX-License-Identifier: MIT */
#include "cluster/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "meshlib/meshlib.h"
#include "util/clock.h"
#include "util/mem.h"

static int system_resolve(const char *name, char ***out, size_t *n) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(name, NULL, &hints, &res) != 0 || !res)
    return -1;
  size_t count = 0;
  for (struct addrinfo *a = res; a; a = a->ai_next)
    count++;
  char **addrs = ml_calloc(NULL, count, sizeof(*addrs));
  size_t k = 0;
  for (struct addrinfo *a = res; addrs && a; a = a->ai_next) {
    char buf[INET_ADDRSTRLEN];
    const struct sockaddr_in *sin = (const struct sockaddr_in *)a->ai_addr;
    if (!inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)))
      continue;
    int dup = 0;
    for (size_t j = 0; j < k; j++)
      dup |= strcmp(addrs[j], buf) == 0;
    if (!dup && (addrs[k] = ml_strdup(NULL, buf)) != NULL)
      k++;
  }
  freeaddrinfo(res);
  if (!addrs || !k) {
    ml_free(NULL, addrs);
    return -1;
  }
  *out = addrs;
  *n = k;
  return 0;
}

static void strv_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    ml_free(NULL, v[i]);
  ml_free(NULL, v);
}

static int same_addrs(const ml_dns_answer *a, char **addrs, size_t n) {
  if (a->count != n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (strcmp(a->addrs[i], addrs[i]) != 0)
      return 0;
  return 1;
}

/* Store a new answer (taking |addrs|) and rebuild the endpoints; the mesh's
 * apply_lock is held. */
static void store_answer(ml_dns *d, const char *name, char **addrs, size_t n) {
  ml_dns_answer *a = NULL;
  for (size_t i = 0; i < d->answer_count; i++)
    if (strcmp(d->answers[i].name, name) == 0)
      a = &d->answers[i];
  if (a && same_addrs(a, addrs, n)) {
    strv_free(addrs, n);
    return;
  }
  if (!a) {
    ml_dns_answer *v =
        ml_realloc(NULL, d->answers, (d->answer_count + 1) * sizeof(*v));
    char *copy = ml_strdup(NULL, name);
    if (!v || !copy) {
      if (v)
        d->answers = v;
      ml_free(NULL, copy);
      strv_free(addrs, n);
      return; /* out of memory: the connection resolves the name */
    }
    d->answers = v;
    a = &v[d->answer_count++];
    a->name = copy;
    a->addrs = NULL;
    a->count = 0;
  }
  strv_free(a->addrs, a->count);
  a->addrs = addrs;
  a->count = n;
  char line[300];
  snprintf(line, sizeof(line), "dns: %.255s has %zu address(es)", name, n);
  d->host.log(d->host.ctx, MESHLIB_LEVEL_DEBUG, line);
  d->host.changed(d->host.ctx);
}

static void *resolver_main(void *p) {
  ml_dns *d = p;
  pthread_mutex_lock(&d->lock);
  while (!d->stop) {
    /* Take a copy of the names so the lookups run without the lock. */
    size_t n = d->name_count;
    char **names = n ? ml_calloc(NULL, n, sizeof(*names)) : NULL;
    for (size_t i = 0; names && i < n; i++)
      names[i] = ml_strdup(NULL, d->names[i]);
    d->wake = 0;
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; names && i < n; i++) {
      char **addrs;
      size_t count;
      if (!names[i] || d->resolve(names[i], &addrs, &count) != 0) {
        /* Envoy keeps the last good answer when a lookup fails. */
        char line[320];
        snprintf(line, sizeof(line),
                 "dns: %.255s did not resolve; keeping the last answer",
                 names[i] ? names[i] : "?");
        d->host.log(d->host.ctx, MESHLIB_LEVEL_WARNING, line);
        continue;
      }
      pthread_mutex_lock(d->host.apply_lock);
      store_answer(d, names[i], addrs, count);
      pthread_mutex_unlock(d->host.apply_lock);
    }
    strv_free(names, names ? n : 0);

    pthread_mutex_lock(&d->lock);
    struct timespec until;
    ml_deadline_in(&until, d->refresh_ms);
    while (!d->stop && !d->wake &&
           pthread_cond_timedwait(&d->wake_cond, &d->lock, &until) != ETIMEDOUT)
      ;
  }
  pthread_mutex_unlock(&d->lock);
  return NULL;
}

int ml_dns_init(ml_dns *d, const ml_dns_host *host, int64_t refresh_ms) {
  memset(d, 0, sizeof(*d));
  d->host = *host;
  d->refresh_ms = refresh_ms;
  d->resolve = system_resolve;
  pthread_mutex_init(&d->lock, NULL);
  ml_cond_init_monotonic(&d->wake_cond);
  return MESHLIB_OK;
}

void ml_dns_destroy(ml_dns *d) {
  if (d->started) {
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_cond_signal(&d->wake_cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
  }
  strv_free(d->names, d->name_count);
  for (size_t i = 0; i < d->answer_count; i++) {
    ml_free(NULL, d->answers[i].name);
    strv_free(d->answers[i].addrs, d->answers[i].count);
  }
  ml_free(NULL, d->answers);
  pthread_cond_destroy(&d->wake_cond);
  pthread_mutex_destroy(&d->lock);
}

typedef struct name_set {
  char **v;
  size_t n;
  int oom;
} name_set;

static int collect(const char *name, void *ud) {
  name_set *s = ud;
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i], name) == 0)
      return 0;
  char **v = ml_realloc(NULL, s->v, (s->n + 1) * sizeof(*v));
  char *copy = ml_strdup(NULL, name);
  if (!v || !copy) {
    if (v)
      s->v = v;
    ml_free(NULL, copy);
    s->oom = 1;
    return -1;
  }
  s->v = v;
  s->v[s->n++] = copy;
  return 0;
}

int ml_dns_config_changed(ml_dns *d, const ml_config *c) {
  if (d->refresh_ms <= 0)
    return MESHLIB_OK;
  name_set s = {0};
  ml_clusters_dns_names(c, collect, &s);
  if (s.oom) {
    strv_free(s.v, s.n);
    return MESHLIB_ERR_NOMEM;
  }
  pthread_mutex_lock(&d->lock);
  strv_free(d->names, d->name_count);
  d->names = s.v;
  d->name_count = s.n;
  d->wake = 1;
  pthread_cond_signal(&d->wake_cond);
  int start = !d->started && s.n;
  pthread_mutex_unlock(&d->lock);
  if (start) {
    if (pthread_create(&d->thread, NULL, resolver_main, d) != 0)
      return MESHLIB_ERR_NOMEM; /* names then resolve at connect */
    d->started = 1;
  }
  return MESHLIB_OK;
}
