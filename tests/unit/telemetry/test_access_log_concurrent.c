/* SPDX-License-Identifier: MIT */
/* The access-log file under calls on several threads: every call leaves
 * exactly one whole line, even lines longer than PIPE_BUF (one write()
 * per line on an O_APPEND descriptor). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meshlib/meshlib.h"
#include "meshlib/testing.h"

#define THREADS 4
#define PER_THREAD 40
#define PATH_LEN 5000

typedef struct caller {
  meshlib *m;
  const char *url;
  int ok;
} caller;

static void *call_main(void *arg) {
  caller *c = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    meshlib_request *r;
    if (meshlib_request_new(&r, c->m, "GET", c->url) != MESHLIB_OK)
      continue;
    if (meshlib_request_perform(r) == MESHLIB_OK &&
        meshlib_response_status(r) == 200)
      c->ok++;
    meshlib_request_free(r);
  }
  return NULL;
}

static void test_lines_stay_whole(void **state) {
  (void)state;
  meshlib_mock *up;
  assert_int_equal(meshlib_mock_new(&up), MESHLIB_OK);
  char yaml[1024];
  snprintf(yaml, sizeof(yaml),
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: reviews, namespace: default}\n"
           "spec:\n"
           "  hosts: [reviews.default.svc.cluster.local]\n"
           "  location: MESH_INTERNAL\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 9080, name: http, protocol: HTTP}]\n"
           "  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: reviews, namespace: default}\n"
           "spec:\n"
           "  hosts: [reviews]\n"
           "  http:\n"
           "  - name: all\n"
           "    route: [{destination: {host: reviews}}]\n",
           meshlib_mock_port(up));
  char log_path[] = "/tmp/meshlib-access-XXXXXX";
  int fd = mkstemp(log_path);
  assert_true(fd >= 0);
  close(fd);
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(
      meshlib_options_add_config_string(o, "e2e", yaml, strlen(yaml)),
      MESHLIB_OK);
  assert_int_equal(meshlib_options_set_access_log_path(o, log_path),
                   MESHLIB_OK);
  meshlib *m;
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);

  static const char base[] = "http://reviews.default.svc.cluster.local:9080/";
  char *url = malloc(sizeof(base) + PATH_LEN);
  assert_non_null(url);
  memcpy(url, base, sizeof(base) - 1);
  memset(url + sizeof(base) - 1, 'x', PATH_LEN);
  url[sizeof(base) - 1 + PATH_LEN] = '\0';
  pthread_t t[THREADS];
  caller c[THREADS];
  for (int i = 0; i < THREADS; i++) {
    c[i] = (caller){m, url, 0};
    assert_int_equal(pthread_create(&t[i], NULL, call_main, &c[i]), 0);
  }
  int ok = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    ok += c[i].ok;
  }
  assert_int_equal(ok, THREADS * PER_THREAD);
  meshlib_free(m);

  /* One line per call, each with the whole path and ending in the route
   * name. */
  FILE *f = fopen(log_path, "r");
  assert_non_null(f);
  char *want = malloc(PATH_LEN + 32);
  assert_non_null(want);
  snprintf(want, PATH_LEN + 32, "\"GET /%s HTTP/1.1\" 200 ",
           url + sizeof(base) - 1);
  size_t cap = 0;
  char *line = NULL;
  int lines = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    lines++;
    assert_int_equal(line[0], '[');
    assert_non_null(strstr(line, want));
    assert_true(n > 5 && strcmp(line + n - 5, " all\n") == 0);
  }
  assert_int_equal(lines, THREADS * PER_THREAD);
  free(line);
  free(want);
  fclose(f);
  unlink(log_path);
  free(url);
  meshlib_mock_free(up);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lines_stay_whole),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
