/* SPDX-License-Identifier: MIT */
#ifndef CONTROL_TEST_UTIL_H
#define CONTROL_TEST_UTIL_H

/* Helpers of the config lifecycle tests: scratch directories, files
 * written the ways editors and Kubernetes write them, and waits with
 * generous bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "meshlib/meshlib.h"

static inline int64_t ct_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void ct_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A fresh directory under /tmp; the caller removes it with ct_rm_rf(). */
static inline void ct_tmpdir(char *out, size_t cap) {
  snprintf(out, cap, "/tmp/meshlib-ctl-XXXXXX");
  if (!mkdtemp(out))
    out[0] = '\0';
}

static inline void ct_rm_rf(const char *dir) {
  char cmd[600];
  if (dir[0] && strncmp(dir, "/tmp/meshlib-ctl-", 17) == 0) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", dir);
  }
}

/* Written in place: truncate and write, as `echo > file` does. */
static inline int ct_write(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  size_t n = strlen(text);
  int ok = fwrite(text, 1, n, f) == n;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* Written beside and renamed over, as editors and `kubectl cp` do. */
static inline int ct_write_rename(const char *path, const char *text) {
  char tmp[600];
  snprintf(tmp, sizeof(tmp), "%s.tmp~", path);
  if (ct_write(tmp, text) != 0)
    return -1;
  return rename(tmp, path);
}

/* A VirtualService "name" for host svc sending everything to |subset|
 * (with weights |w1|/|w2| to v1/v2 when |subset| is NULL). */
static inline const char *ct_vs(char *buf, size_t cap, const char *name,
                                const char *subset, int w1, int w2) {
  if (subset)
    snprintf(buf, cap,
             "apiVersion: networking.istio.io/v1\n"
             "kind: VirtualService\n"
             "metadata: {name: %s, namespace: default}\n"
             "spec:\n"
             "  hosts: [svc]\n"
             "  http:\n"
             "  - route: [{destination: {host: svc, subset: %s}}]\n",
             name, subset);
  else
    snprintf(buf, cap,
             "apiVersion: networking.istio.io/v1\n"
             "kind: VirtualService\n"
             "metadata: {name: %s, namespace: default}\n"
             "spec:\n"
             "  hosts: [svc]\n"
             "  http:\n"
             "  - route:\n"
             "    - {destination: {host: svc, subset: v1}, weight: %d}\n"
             "    - {destination: {host: svc, subset: v2}, weight: %d}\n",
             name, w1, w2);
  return buf;
}

/* Broken at line 7, column 25: retries.attempts is not an integer. */
static const char ct_bad_vs[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: broken, namespace: default}\n"
    "spec:\n"
    "  hosts: [svc]\n"
    "  http:\n"
    "  - retries: {attempts: many}\n"
    "    route: [{destination: {host: svc, subset: v1}}]\n";

/* Wait until the mesh's version is at least |v|: 0 when it is. */
static inline int ct_wait_version(meshlib *m, uint64_t v, int timeout_ms) {
  int64_t end = ct_now_ms() + timeout_ms;
  while (meshlib_config_version(m) < v) {
    if (ct_now_ms() > end)
      return -1;
    ct_sleep_ms(2);
  }
  return 0;
}

static inline int ct_wait_rejected(meshlib *m, uint64_t n, int timeout_ms) {
  int64_t end = ct_now_ms() + timeout_ms;
  while (meshlib_config_rejected_total(m) < n) {
    if (ct_now_ms() > end)
      return -1;
    ct_sleep_ms(2);
  }
  return 0;
}

/* The VirtualService name and first subset a request to svc gets, into
 * |buf| as "name/subset" ("none" without a VirtualService). */
static inline const char *ct_route(meshlib *m, char *buf, size_t cap) {
  meshlib_request *r;
  const meshlib_decision *d;
  snprintf(buf, cap, "error");
  if (meshlib_request_new(&r, m, "GET", "http://svc/") != MESHLIB_OK)
    return buf;
  if (meshlib_request_route(r, &d) == MESHLIB_OK) {
    const char *vs = meshlib_decision_vs_name(d);
    const char *sub = meshlib_decision_destination_count(d)
                          ? meshlib_decision_destination_subset(d, 0)
                          : NULL;
    if (!vs)
      snprintf(buf, cap, "none");
    else
      snprintf(buf, cap, "%s/%s", vs, sub ? sub : "-");
  }
  meshlib_request_free(r);
  return buf;
}

/* Wait until ct_route() says |want|: 0 when it does. */
static inline int ct_wait_route(meshlib *m, const char *want, int timeout_ms) {
  char buf[128];
  int64_t end = ct_now_ms() + timeout_ms;
  while (strcmp(ct_route(m, buf, sizeof(buf)), want) != 0) {
    if (ct_now_ms() > end) {
      fprintf(stderr, "route is %s, waited for %s\n", buf, want);
      return -1;
    }
    ct_sleep_ms(2);
  }
  return 0;
}

#endif
