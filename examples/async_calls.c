/* SPDX-License-Identifier: MIT */
/* Asynchronous calls through meshlib, driven by the application's own
 * event loop: here a plain poll() loop, the smallest loop there is; a
 * libuv or libev loop plugs in the same two hooks (docs/async.md).
 *
 * Self-contained: with no arguments it starts two mock upstreams (v1 and
 * v2 of "myapp") with the mock-upstream kit and routes a 80/20 canary
 * between them. Against `meshctl mock`, give a config and a URL:
 *
 *   meshctl mock --name v1 --port 8081 --name v2 --port 8082 &
 *   example_async_calls mesh.yaml http://myapp/
 *
 * Build: cc async_calls.c $(pkg-config --cflags --libs meshlib) */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <meshlib/meshlib.h>
#include <meshlib/testing.h>

enum { CALLS = 100, IN_FLIGHT = 10 };

/* ---- the application's event loop ----------------------------------- */

typedef struct app_loop {
  struct pollfd fds[64]; /* what meshlib asked us to watch */
  int nfds;
  long long deadline_ms; /* the client's timer; -1: none */
} app_loop;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* meshlib: "watch |fd| for |what|" (or stop watching it). */
static void on_socket(int fd, int what, void *user_data) {
  app_loop *l = user_data;
  int i = 0;
  while (i < l->nfds && l->fds[i].fd != fd)
    i++;
  if (what == MESHLIB_POLL_REMOVE) {
    if (i < l->nfds)
      l->fds[i] = l->fds[--l->nfds];
    return;
  }
  if (i == l->nfds) {
    if (l->nfds == 64)
      abort(); /* a real loop grows its table */
    l->fds[l->nfds++].fd = fd;
  }
  l->fds[i].events = (short)(((what & MESHLIB_POLL_IN) ? POLLIN : 0) |
                             ((what & MESHLIB_POLL_OUT) ? POLLOUT : 0));
}

/* meshlib: "call me back in |ms| milliseconds" (-1: never mind). */
static void on_timer(int64_t ms, void *user_data) {
  app_loop *l = user_data;
  l->deadline_ms = ms < 0 ? -1 : now_ms() + ms;
}

/* ---- the application's calls ---------------------------------------- */

typedef struct app {
  meshlib *mesh;
  meshlib_client *client;
  const char *url;
  int started, finished;
  int by_status[6]; /* 1xx..5xx */
  int v1, v2;       /* which mock served (self-contained mode) */
} app;

static void call_done(meshlib_request *r, int result, void *user_data);

static void start_call(app *a) {
  meshlib_request *r;
  if (meshlib_request_new(&r, a->mesh, "GET", a->url) != MESHLIB_OK)
    exit(1);
  a->started++;
  /* Returns at once; call_done() runs later, from the loop. */
  if (meshlib_client_perform(a->client, r, call_done, a) != MESHLIB_OK)
    exit(1);
}

/* Runs on the loop's thread, inside meshlib_client_socket_action(). The
 * request is ours again: read the response, free it, start the next. */
static void call_done(meshlib_request *r, int result, void *user_data) {
  app *a = user_data;
  a->finished++;
  if (result == MESHLIB_OK) {
    int32_t status = meshlib_response_status(r);
    if (status >= 100 && status < 600)
      a->by_status[status / 100]++;
    const char *who = meshlib_response_header(r, "x-mock-name");
    if (who && strcmp(who, "v1") == 0)
      a->v1++;
    else if (who && strcmp(who, "v2") == 0)
      a->v2++;
    if (status >= 500) {
      char flags[64];
      meshlib_response_flags_str(meshlib_response_flags(r), flags,
                                 sizeof(flags));
      fprintf(stderr, "call failed: %d %s (%s)\n", status, flags,
              meshlib_response_details(r));
    }
  }
  meshlib_request_free(r);
  if (a->started < CALLS)
    start_call(a);
}

static const char *canary(char *buf, size_t len, int p1, int p2) {
  snprintf(buf, len,
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: myapp}\n"
           "spec:\n"
           "  hosts: [myapp.default.svc.cluster.local]\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints:\n"
           "  - {address: 127.0.0.1, ports: {http: %d}, labels: {v: v1}}\n"
           "  - {address: 127.0.0.1, ports: {http: %d}, labels: {v: v2}}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: DestinationRule\n"
           "metadata: {name: myapp}\n"
           "spec:\n"
           "  host: myapp\n"
           "  subsets:\n"
           "  - {name: v1, labels: {v: v1}}\n"
           "  - {name: v2, labels: {v: v2}}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: myapp}\n"
           "spec:\n"
           "  hosts: [myapp]\n"
           "  http:\n"
           "  - timeout: 2s\n"
           "    route:\n"
           "    - {destination: {host: myapp, subset: v1}, weight: 80}\n"
           "    - {destination: {host: myapp, subset: v2}, weight: 20}\n",
           p1, p2);
  return buf;
}

int main(int argc, char **argv) {
  meshlib_mock *v1 = NULL, *v2 = NULL;
  meshlib_options *o;
  if (meshlib_options_new(&o) != MESHLIB_OK)
    return 1;
  app a;
  memset(&a, 0, sizeof(a));
  static char yaml[4096];
  if (argc == 3) {
    meshlib_options_add_config_path(o, argv[1]);
    a.url = argv[2];
  } else {
    if (meshlib_mock_new(&v1) != MESHLIB_OK ||
        meshlib_mock_new(&v2) != MESHLIB_OK)
      return 1;
    meshlib_mock_set_name(v1, "v1");
    meshlib_mock_set_name(v2, "v2");
    canary(yaml, sizeof(yaml), meshlib_mock_port(v1), meshlib_mock_port(v2));
    meshlib_options_add_config_string(o, "canary.yaml", yaml, strlen(yaml));
    a.url = "http://myapp/";
  }
  if (meshlib_new(&a.mesh, o) != MESHLIB_OK) {
    fprintf(stderr, "%s\n", meshlib_options_errmsg(o));
    return 1;
  }
  meshlib_options_free(o);

  /* One client per event loop, with the loop's two hooks. */
  app_loop loop;
  memset(&loop, 0, sizeof(loop));
  loop.deadline_ms = -1;
  if (meshlib_client_new(&a.client, a.mesh) != MESHLIB_OK)
    return 1;
  meshlib_client_set_socket_cb(a.client, on_socket, &loop);
  meshlib_client_set_timer_cb(a.client, on_timer, &loop);

  long long t0 = now_ms();
  for (int i = 0; i < IN_FLIGHT; i++)
    start_call(&a);

  /* The loop: wait for a descriptor or the timer, tell the client. */
  int running = 1;
  while (running > 0) {
    int timeout = 1000;
    if (loop.deadline_ms >= 0) {
      long long d = loop.deadline_ms - now_ms();
      timeout = d < 0 ? 0 : (int)d;
    }
    struct pollfd ready[64];
    int n = loop.nfds;
    memcpy(ready, loop.fds, sizeof(ready[0]) * (size_t)n);
    poll(ready, (nfds_t)n, timeout);
    for (int i = 0; i < n; i++) {
      if (!ready[i].revents)
        continue;
      int ev =
          ((ready[i].revents & POLLIN) ? MESHLIB_EVENT_IN : 0) |
          ((ready[i].revents & POLLOUT) ? MESHLIB_EVENT_OUT : 0) |
          ((ready[i].revents & (POLLERR | POLLHUP)) ? MESHLIB_EVENT_ERR : 0);
      meshlib_client_socket_action(a.client, ready[i].fd, ev, &running);
    }
    if (loop.deadline_ms >= 0 && now_ms() >= loop.deadline_ms) {
      loop.deadline_ms = -1; /* one-shot; the action may arm it again */
      meshlib_client_socket_action(a.client, MESHLIB_SOCKET_TIMEOUT, 0,
                                   &running);
    }
  }

  printf("%d calls, %d in flight, in %lld ms: %d 2xx, %d 4xx, %d 5xx\n",
         a.finished, IN_FLIGHT, now_ms() - t0, a.by_status[2], a.by_status[4],
         a.by_status[5]);
  if (v1)
    printf("served by v1: %d, by v2: %d (route weights 80/20)\n", a.v1, a.v2);
  meshlib_client_free(a.client);
  meshlib_free(a.mesh);
  meshlib_mock_free(v1);
  meshlib_mock_free(v2);
  return a.finished == CALLS && a.by_status[2] == CALLS ? 0 : 1;
}
