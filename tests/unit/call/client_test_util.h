/* SPDX-License-Identifier: MIT */
#ifndef ML_TEST_CLIENT_TEST_UTIL_H
#define ML_TEST_CLIENT_TEST_UTIL_H

/* Shared by the asynchronous client and CURL-path tests: a mesh over
 * three mock upstreams (v1 and v2 speak whatever comes, h2 is reached
 * through a ServiceEntry port of protocol HTTP2, so over h2c), and a
 * small poll() loop that drives a client through its hooks, as an
 * application's event loop would. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"

static inline int64_t tu_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct tu_mesh {
  meshlib_mock *v1, *v2, *h2;
  meshlib *mesh;
} tu_mesh;

static inline const char *tu_yaml(char *buf, size_t len, int p1, int p2,
                                  int p3) {
  snprintf(
      buf, len,
      "apiVersion: networking.istio.io/v1\n"
      "kind: ServiceEntry\n"
      "metadata: {name: myapp, namespace: production}\n"
      "spec:\n"
      "  hosts: [myapp.production.svc.cluster.local]\n"
      "  location: MESH_INTERNAL\n"
      "  resolution: STATIC\n"
      "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
      "  endpoints:\n"
      "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v1}}\n"
      "  - {address: 127.0.0.1, ports: {http: %d}, labels: {version: v2}}\n"
      "---\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: ServiceEntry\n"
      "metadata: {name: h2svc, namespace: production}\n"
      "spec:\n"
      "  hosts: [h2svc.production.svc.cluster.local]\n"
      "  location: MESH_INTERNAL\n"
      "  resolution: STATIC\n"
      "  ports: [{number: 80, name: http2, protocol: HTTP2}]\n"
      "  endpoints:\n"
      "  - {address: 127.0.0.1, ports: {http2: %d}}\n"
      "---\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: DestinationRule\n"
      "metadata: {name: myapp, namespace: production}\n"
      "spec:\n"
      "  host: myapp\n"
      "  subsets:\n"
      "  - {name: v1, labels: {version: v1}}\n"
      "  - {name: v2, labels: {version: v2}}\n"
      "  - {name: v3, labels: {version: v3}}\n"
      "---\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata: {name: myapp, namespace: production}\n"
      "spec:\n"
      "  hosts: [myapp]\n"
      "  http:\n"
      "  - name: direct\n"
      "    match: [{uri: {exact: /direct}}]\n"
      "    directResponse: {status: 418, body: {string: teapot}}\n"
      "  - name: none\n"
      "    match: [{uri: {prefix: /nobody}}]\n"
      "    route: [{destination: {host: myapp, subset: v3}}]\n"
      "  - name: rewrite\n"
      "    match: [{uri: {prefix: /api/v1}}]\n"
      "    rewrite: {uri: /v1, authority: backend.internal}\n"
      "    headers:\n"
      "      request: {set: {x-route: rewrite}, remove: [x-secret]}\n"
      "      response: {add: {x-served-via: meshlib}}\n"
      "    route: [{destination: {host: myapp, subset: v1}}]\n"
      "  - name: beta\n"
      "    match: [{headers: {x-user: {exact: beta}}}]\n"
      "    route: [{destination: {host: myapp, subset: v2}}]\n"
      "  - name: slow\n"
      "    match: [{uri: {prefix: /slow}}]\n"
      "    timeout: 200ms\n"
      "    route: [{destination: {host: myapp, subset: v1}}]\n"
      "  - name: b\n"
      "    match: [{uri: {prefix: /b}}]\n"
      "    route: [{destination: {host: myapp, subset: v2}}]\n"
      "  - name: a\n"
      "    route: [{destination: {host: myapp, subset: v1}}]\n"
      "---\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata: {name: strict, namespace: production}\n"
      "spec:\n"
      "  hosts: [strict]\n"
      "  http:\n"
      "  - match: [{method: {exact: GET}}]\n"
      "    route: [{destination: {host: myapp, subset: v1}}]\n",
      p1, p2, p3);
  return buf;
}

/* Returns 0 on success. */
static inline int tu_mesh_start(tu_mesh *t) {
  memset(t, 0, sizeof(*t));
  if (meshlib_mock_new(&t->v1) || meshlib_mock_new(&t->v2) ||
      meshlib_mock_new(&t->h2))
    return -1;
  meshlib_mock_set_name(t->v1, "v1");
  meshlib_mock_set_name(t->v2, "v2");
  meshlib_mock_set_name(t->h2, "h2");
  meshlib_options *o;
  if (meshlib_options_new(&o))
    return -1;
  meshlib_options_set_namespace(o, "production");
  meshlib_options_set_random_seed(o, 7);
  static char y[8192];
  tu_yaml(y, sizeof(y), meshlib_mock_port(t->v1), meshlib_mock_port(t->v2),
          meshlib_mock_port(t->h2));
  meshlib_options_add_config_string(o, "async.yaml", y, strlen(y));
  int rc = meshlib_new(&t->mesh, o);
  if (rc)
    fprintf(stderr, "%s\n", meshlib_options_errmsg(o));
  meshlib_options_free(o);
  return rc;
}

static inline void tu_mesh_stop(tu_mesh *t) {
  meshlib_free(t->mesh);
  meshlib_mock_free(t->v1);
  meshlib_mock_free(t->v2);
  meshlib_mock_free(t->h2);
}

/* ---- an application's event loop, with poll() ---------------------- */

#define TU_MAX_FDS 512

typedef struct tu_loop {
  meshlib_client *c;
  struct pollfd fds[TU_MAX_FDS];
  int nfds;
  int64_t deadline; /* absolute ms; -1: no timer */
  int running;
  int timer_calls;
  int efd_seen; /* a descriptor that is not a socket was watched */
} tu_loop;

static inline void tu_on_socket(int fd, int what, void *ud) {
  tu_loop *l = ud;
  int i = 0;
  while (i < l->nfds && l->fds[i].fd != fd)
    i++;
  if (what == MESHLIB_POLL_REMOVE) {
    if (i < l->nfds)
      l->fds[i] = l->fds[--l->nfds];
    return;
  }
  if (i == l->nfds) {
    if (l->nfds == TU_MAX_FDS)
      abort();
    l->nfds++;
    l->fds[i].fd = fd;
  }
  l->fds[i].events = (short)(((what & MESHLIB_POLL_IN) ? POLLIN : 0) |
                             ((what & MESHLIB_POLL_OUT) ? POLLOUT : 0));
  l->fds[i].revents = 0;
}

static inline void tu_on_timer(int64_t ms, void *ud) {
  tu_loop *l = ud;
  l->timer_calls++;
  l->deadline = ms < 0 ? -1 : tu_now_ms() + ms;
}

static inline int tu_loop_init(tu_loop *l, meshlib *m) {
  memset(l, 0, sizeof(*l));
  l->deadline = -1;
  int rc = meshlib_client_new(&l->c, m);
  if (rc)
    return rc;
  meshlib_client_set_socket_cb(l->c, tu_on_socket, l);
  return meshlib_client_set_timer_cb(l->c, tu_on_timer, l);
}

/* One turn: wait for a descriptor or the timer (at most |max_wait| ms),
 * then tell the client. */
static inline void tu_loop_once(tu_loop *l, int max_wait) {
  int timeout = max_wait;
  if (l->deadline >= 0) {
    int64_t d = l->deadline - tu_now_ms();
    if (d < 0)
      d = 0;
    if (d < timeout)
      timeout = (int)d;
  }
  struct pollfd ready[TU_MAX_FDS];
  int n = l->nfds;
  memcpy(ready, l->fds, sizeof(ready[0]) * (size_t)n);
  int got = poll(ready, (nfds_t)n, timeout);
  for (int i = 0; got > 0 && i < n; i++) {
    if (!ready[i].revents)
      continue;
    int ev = ((ready[i].revents & POLLIN) ? MESHLIB_EVENT_IN : 0) |
             ((ready[i].revents & POLLOUT) ? MESHLIB_EVENT_OUT : 0) |
             ((ready[i].revents & (POLLERR | POLLHUP)) ? MESHLIB_EVENT_ERR : 0);
    meshlib_client_socket_action(l->c, ready[i].fd, ev, &l->running);
  }
  if (l->deadline >= 0 && tu_now_ms() >= l->deadline) {
    l->deadline = -1; /* one-shot: the action may arm it again */
    meshlib_client_socket_action(l->c, MESHLIB_SOCKET_TIMEOUT, 0, &l->running);
  }
}

/* Turn until |*counter| reaches |target| or |limit_ms| passed; returns
 * *counter. */
static inline int tu_loop_until(tu_loop *l, const int *counter, int target,
                                int limit_ms) {
  int64_t end = tu_now_ms() + limit_ms;
  while (*counter < target && tu_now_ms() < end)
    tu_loop_once(l, 50);
  return *counter;
}

#endif
