/* SPDX-License-Identifier: MIT */
/* The config lifecycle: files and directories followed by inotify and by
 * polling (in-place edits, rename swaps, ConfigMap `..data` symlink swaps,
 * deletions, bursts), control endpoints (304, long-poll, down and back,
 * token rotation, JSON), precedence, rejections that keep the last good
 * config, and subscriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "control_test_util.h"
#include "control/events.h"
#include "core/internal.h"
#include "meshlib/testing.h"

/* What the subscribers heard. */
typedef struct heard {
  pthread_mutex_t lock;
  int changes, rejections;
  uint64_t last_old, last_new, rejected_version;
  char reason[512];
} heard;

static void on_change(uint64_t old_version, uint64_t new_version, void *ud) {
  heard *h = ud;
  pthread_mutex_lock(&h->lock);
  h->changes++;
  h->last_old = old_version;
  h->last_new = new_version;
  pthread_mutex_unlock(&h->lock);
}

static void on_reject(uint64_t version, const char *reason, void *ud) {
  heard *h = ud;
  pthread_mutex_lock(&h->lock);
  h->rejections++;
  h->rejected_version = version;
  snprintf(h->reason, sizeof(h->reason), "%s", reason);
  pthread_mutex_unlock(&h->lock);
}

static meshlib *watched_mesh(const char *path, const char *url, int mode,
                             heard *h) {
  meshlib_options *o;
  meshlib *m = NULL;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  if (path)
    assert_int_equal(meshlib_options_add_config_path(o, path), MESHLIB_OK);
  if (url)
    assert_int_equal(meshlib_options_add_config_url(o, url), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_config_watch(o, mode), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_config_debounce_ms(o, 20), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_config_poll_interval_ms(o, 20),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_set_control_backoff_ms(o, 10, 100),
                   MESHLIB_OK);
  if (h)
    assert_int_equal(meshlib_options_on_config(o, on_change, on_reject, h),
                     MESHLIB_OK);
  int rc = meshlib_new(&m, o);
  if (rc != MESHLIB_OK)
    fprintf(stderr, "meshlib_new: %s\n", meshlib_options_errmsg(o));
  assert_int_equal(rc, MESHLIB_OK);
  meshlib_options_free(o);
  return m;
}

static void test_file_edits_in_place_and_by_rename(void **state) {
  (void)state;
  char dir[256], path[300], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/vs.yaml", dir);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v1", 0, 0)), 0);
  heard h = {.lock = PTHREAD_MUTEX_INITIALIZER};
  meshlib *m = watched_mesh(path, NULL, MESHLIB_WATCH_AUTO, &h);
  assert_int_equal(meshlib_config_version(m), 1);
  assert_int_equal(h.changes, 1); /* the first load is heard too */
  assert_int_equal(ct_wait_route(m, "a/v1", 100), 0);

  /* In place. */
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v2", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "a/v2", 5000), 0);
  /* By rename. */
  assert_int_equal(
      ct_write_rename(path, ct_vs(buf, sizeof(buf), "b", "v1", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "b/v1", 5000), 0);
  uint64_t v = meshlib_config_version(m);
  /* A touch changes nothing: no new version. */
  assert_int_equal(
      ct_write_rename(path, ct_vs(buf, sizeof(buf), "b", "v1", 0, 0)), 0);
  ct_sleep_ms(200);
  assert_int_equal(meshlib_config_version(m), v);
  pthread_mutex_lock(&h.lock);
  assert_int_equal(h.last_new, v);
  assert_true(h.last_old < h.last_new);
  assert_int_equal(h.rejections, 0);
  pthread_mutex_unlock(&h.lock);
  meshlib_free(m);
  ct_rm_rf(dir);
}

/* A Kubernetes ConfigMap volume: files are symlinks through "..data" to a
 * timestamped directory; an update writes a new directory, points
 * "..data_tmp" at it and renames that over "..data". */
static void configmap_write(const char *dir, const char *stamp,
                            const char *text, int first) {
  char p[600], q[600];
  snprintf(p, sizeof(p), "%s/..%s", dir, stamp);
  assert_int_equal(mkdir(p, 0755), 0);
  snprintf(p, sizeof(p), "%s/..%s/vs.yaml", dir, stamp);
  assert_int_equal(ct_write(p, text), 0);
  snprintf(p, sizeof(p), "..%s", stamp);
  snprintf(q, sizeof(q), "%s/..data_tmp", dir);
  assert_int_equal(symlink(p, q), 0);
  snprintf(p, sizeof(p), "%s/..data", dir);
  assert_int_equal(rename(q, p), 0);
  if (first) {
    snprintf(q, sizeof(q), "%s/vs.yaml", dir);
    assert_int_equal(symlink("..data/vs.yaml", q), 0);
  }
}

static void configmap_case(const char *source_suffix) {
  char dir[256], src[300], buf[1024], old[600];
  ct_tmpdir(dir, sizeof(dir));
  configmap_write(dir, "2024_01", ct_vs(buf, sizeof(buf), "cm", "v1", 0, 0), 1);
  snprintf(src, sizeof(src), "%s%s", dir, source_suffix);
  meshlib *m = watched_mesh(src, NULL, MESHLIB_WATCH_AUTO, NULL);
  assert_int_equal(ct_wait_route(m, "cm/v1", 100), 0);
  configmap_write(dir, "2024_02", ct_vs(buf, sizeof(buf), "cm", "v2", 0, 0), 0);
  snprintf(old, sizeof(old), "rm -rf '%s/..2024_01'", dir);
  assert_int_equal(system(old), 0);
  assert_int_equal(ct_wait_route(m, "cm/v2", 5000), 0);
  configmap_write(dir, "2024_03", ct_vs(buf, sizeof(buf), "cm", "v1", 0, 0), 0);
  assert_int_equal(ct_wait_route(m, "cm/v1", 5000), 0);
  assert_int_equal(meshlib_config_rejected_total(m), 0);
  meshlib_free(m);
  ct_rm_rf(dir);
}

static void test_configmap_symlink_swap_dir(void **state) {
  (void)state;
  configmap_case(""); /* the mounted directory */
}

static void test_configmap_symlink_swap_file(void **state) {
  (void)state;
  configmap_case("/vs.yaml"); /* one file of it */
}

static void test_directory_add_and_delete(void **state) {
  (void)state;
  char dir[256], a[300], b[300], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(a, sizeof(a), "%s/a.yaml", dir);
  snprintf(b, sizeof(b), "%s/b.yaml", dir);
  assert_int_equal(ct_write(a, ct_vs(buf, sizeof(buf), "a", "v1", 0, 0)), 0);
  meshlib *m = watched_mesh(dir, NULL, MESHLIB_WATCH_AUTO, NULL);
  assert_int_equal(ct_wait_route(m, "a/v1", 100), 0);
  /* A file deleted from a watched directory takes its objects along. */
  assert_int_equal(unlink(a), 0);
  assert_int_equal(ct_wait_route(m, "none", 5000), 0);
  assert_int_equal(ct_write(b, ct_vs(buf, sizeof(buf), "b", "v2", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "b/v2", 5000), 0);
  /* Files that are not config are not read. */
  snprintf(a, sizeof(a), "%s/notes.txt", dir);
  uint64_t v = meshlib_config_version(m);
  assert_int_equal(ct_write(a, "not yaml: ["), 0);
  ct_sleep_ms(200);
  assert_int_equal(meshlib_config_version(m), v);
  meshlib_free(m);
  ct_rm_rf(dir);
}

static void test_deleted_file_source_keeps_last_good(void **state) {
  (void)state;
  char dir[256], path[300], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/vs.yaml", dir);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v1", 0, 0)), 0);
  heard h = {.lock = PTHREAD_MUTEX_INITIALIZER};
  meshlib *m = watched_mesh(path, NULL, MESHLIB_WATCH_AUTO, &h);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(ct_wait_rejected(m, 1, 5000), 0);
  assert_int_equal(ct_wait_route(m, "a/v1", 10), 0);
  char why[512];
  uint64_t rv = 0;
  assert_int_equal(meshlib_config_last_rejection(m, &rv, why, sizeof(why)),
                   MESHLIB_OK);
  assert_non_null(strstr(why, "vs.yaml"));
  assert_non_null(strstr(why, "No such file"));
  /* It comes back: followed through its directory. */
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v2", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "a/v2", 5000), 0);
  assert_true(meshlib_config_version(m) > rv);
  meshlib_free(m);
  ct_rm_rf(dir);
}

static void test_burst_is_coalesced(void **state) {
  (void)state;
  char dir[256], path[300], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/vs.yaml", dir);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v1", 0, 0)), 0);
  meshlib_options *o;
  meshlib *m;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_add_config_path(o, path);
  meshlib_options_set_config_watch(o, MESHLIB_WATCH_AUTO);
  meshlib_options_set_config_debounce_ms(o, 150);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  /* 30 writes 2 ms apart: well inside one quiet period each. */
  for (int i = 0; i < 30; i++) {
    char name[16];
    snprintf(name, sizeof(name), "n%d", i);
    assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), name, "v2", 0, 0)),
                     0);
    ct_sleep_ms(2);
  }
  assert_int_equal(ct_wait_route(m, "n29/v2", 5000), 0);
  ct_sleep_ms(300);
  /* One reload (two if the burst outlasted ten quiet periods). */
  assert_true(meshlib_config_version(m) <= 3);
  assert_int_equal(meshlib_config_rejected_total(m), 0);
  meshlib_free(m);
  ct_rm_rf(dir);
}

static void test_bad_file_rejected_and_reported(void **state) {
  (void)state;
  char dir[256], path[300], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/vs.yaml", dir);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v1", 0, 0)), 0);
  heard h = {.lock = PTHREAD_MUTEX_INITIALIZER};
  meshlib *m = watched_mesh(path, NULL, MESHLIB_WATCH_AUTO, &h);
  assert_int_equal(ct_write_rename(path, ct_bad_vs), 0);
  assert_int_equal(ct_wait_rejected(m, 1, 5000), 0);
  /* The last good config stays in force. */
  assert_int_equal(ct_wait_route(m, "a/v1", 10), 0);
  assert_int_equal(meshlib_config_version(m), 1);
  pthread_mutex_lock(&h.lock);
  assert_int_equal(h.rejections, 1);
  assert_int_equal(h.rejected_version, 2); /* attempts take versions */
  char want[400];
  snprintf(want, sizeof(want),
           "%s:7:25: spec.http[0].retries.attempts: expected an integer", path);
  assert_string_equal(h.reason, want);
  pthread_mutex_unlock(&h.lock);
  ml_config_status st;
  ml_config_status_get(m, &st);
  assert_int_equal(st.rejected_total, 1);
  assert_int_equal(st.last_rejected_version, 2);
  assert_int_equal(st.last_applied_version, 1);
  assert_string_equal(st.last_rejected_reason, want);
  /* Fixed: applied as version 3. */
  assert_int_equal(
      ct_write_rename(path, ct_vs(buf, sizeof(buf), "a", "v2", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "a/v2", 5000), 0);
  assert_int_equal(meshlib_config_version(m), 3);
  meshlib_free(m);
  ct_rm_rf(dir);
}

static void test_polling(void **state) {
  (void)state;
  char dir[256], path[300], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/vs.yaml", dir);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v1", 0, 0)), 0);
  meshlib *m = watched_mesh(dir, NULL, MESHLIB_WATCH_POLL, NULL);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v2", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "a/v2", 5000), 0);
  assert_int_equal(
      ct_write_rename(path, ct_vs(buf, sizeof(buf), "p", "v1", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "p/v1", 5000), 0);
  meshlib_free(m);
  ct_rm_rf(dir);
}

static void test_bad_start(void **state) {
  (void)state;
  char dir[256], path[300], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/vs.yaml", dir);
  assert_int_equal(ct_write(path, ct_bad_vs), 0);
  meshlib_options *o;
  meshlib *m = NULL;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_add_config_path(o, path);
  meshlib_options_set_config_watch(o, MESHLIB_WATCH_AUTO);
  /* No last good config: the start fails, and says why. */
  assert_int_equal(meshlib_new(&m, o), MESHLIB_ERR_CONFIG);
  assert_null(m);
  assert_non_null(strstr(meshlib_options_errmsg(o),
                         ":7:25: spec.http[0].retries.attempts"));
  /* A tool may start anyway, on the empty config. */
  meshlib_options_set_config_allow_bad_start(o, 1);
  meshlib_options_set_config_debounce_ms(o, 10);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  assert_int_equal(meshlib_config_version(m), 0);
  assert_int_equal(meshlib_config_rejected_total(m), 1);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v1", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "a/v1", 5000), 0);
  meshlib_free(m);
  ct_rm_rf(dir);
}

static void test_reload_now(void **state) {
  (void)state;
  char dir[256], path[300], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/vs.yaml", dir);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v1", 0, 0)), 0);
  meshlib_options *o;
  meshlib *m;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_add_config_path(o, path);
  /* Polling so slow that only meshlib_config_reload() sees the change. */
  meshlib_options_set_config_watch(o, MESHLIB_WATCH_POLL);
  meshlib_options_set_config_poll_interval_ms(o, 600000);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v2", 0, 0)), 0);
  assert_int_equal(meshlib_config_reload(m), MESHLIB_OK);
  assert_int_equal(ct_wait_route(m, "a/v2", 10), 0);
  assert_int_equal(ct_write(path, ct_bad_vs), 0);
  assert_int_equal(meshlib_config_reload(m), MESHLIB_ERR_CONFIG);
  assert_int_equal(meshlib_config_reload(m), MESHLIB_OK); /* seen already */
  assert_int_equal(ct_wait_route(m, "a/v2", 10), 0);
  meshlib_free(m);
  ct_rm_rf(dir);

  /* A mesh that follows nothing. */
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  assert_int_equal(meshlib_config_reload(m), MESHLIB_ERR_NOT_FOUND);
  meshlib_free(m);
}

static void test_subscriptions(void **state) {
  (void)state;
  meshlib_options *o;
  meshlib *m;
  char buf[1024];
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  heard h = {.lock = PTHREAD_MUTEX_INITIALIZER};
  assert_int_equal(meshlib_on_config(m, NULL, NULL, &h),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_on_config(m, on_change, on_reject, &h), MESHLIB_OK);
  meshlib_config *c;
  meshlib_config_new(&c, m);
  ct_vs(buf, sizeof(buf), "a", "v1", 0, 0);
  meshlib_config_add_string(c, "x.yaml", buf, strlen(buf));
  assert_int_equal(meshlib_config_apply(c), MESHLIB_OK);
  meshlib_config_free(c);
  assert_int_equal(h.changes, 1);
  assert_int_equal(h.last_old, 0);
  assert_int_equal(h.last_new, 1);
  meshlib_config_new(&c, m);
  meshlib_config_add_string(c, "bad.yaml", ct_bad_vs, strlen(ct_bad_vs));
  assert_int_equal(meshlib_config_apply(c), MESHLIB_ERR_CONFIG);
  meshlib_config_free(c);
  assert_int_equal(h.rejections, 1);
  assert_int_equal(h.rejected_version, 2);
  assert_string_equal(
      h.reason, "bad.yaml:7:25: spec.http[0].retries.attempts: expected an "
                "integer");
  uint64_t rv;
  char why[64];
  assert_int_equal(meshlib_config_last_rejection(m, &rv, why, sizeof(why)),
                   MESHLIB_OK);
  assert_int_equal(rv, 2);
  assert_true(strncmp(why, "bad.yaml:7:25", 13) == 0);
  assert_int_equal(meshlib_off_config(m, on_change, on_reject, &h), MESHLIB_OK);
  assert_int_equal(meshlib_off_config(m, on_change, on_reject, &h),
                   MESHLIB_ERR_NOT_FOUND);
  meshlib_config_new(&c, m);
  meshlib_config_add_string(c, "x.yaml", buf, strlen(buf));
  assert_int_equal(meshlib_config_apply(c), MESHLIB_OK);
  meshlib_config_free(c);
  assert_int_equal(h.changes, 1); /* unsubscribed */
  assert_int_equal(meshlib_config_version(m), 3);
  meshlib_free(m);
}

/* Control endpoints. */

static void url_of(meshlib_config_server *s, char *buf, size_t cap) {
  snprintf(buf, cap, "http://127.0.0.1:%d/config",
           meshlib_config_server_port(s));
}

/* A mesh that follows endpoint |url| only, polling every |poll_ms|. */
static meshlib *endpoint_mesh(const char *url, int64_t poll_ms,
                              int64_t long_poll_ms) {
  meshlib_options *o;
  meshlib *m = NULL;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_add_config_url(o, url), MESHLIB_OK);
  assert_int_equal(meshlib_options_set_config_poll_interval_ms(o, poll_ms),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_set_control_long_poll_ms(o, long_poll_ms),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_set_control_backoff_ms(o, 10, 100),
                   MESHLIB_OK);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  return m;
}

static void mock_url(meshlib_mock *k, char *buf, size_t cap) {
  snprintf(buf, cap, "http://127.0.0.1:%d/config", meshlib_mock_port(k));
}

static void test_endpoint_304_and_pushes(void **state) {
  (void)state;
  meshlib_config_server *s;
  char url[128], buf[1024];
  assert_int_equal(meshlib_config_server_new(&s, 0), MESHLIB_OK);
  ct_vs(buf, sizeof(buf), "e", "v1", 0, 0);
  assert_int_equal(meshlib_config_server_set(s, buf, strlen(buf)), MESHLIB_OK);
  url_of(s, url, sizeof(url));
  heard h = {.lock = PTHREAD_MUTEX_INITIALIZER};
  meshlib *m = watched_mesh(NULL, url, MESHLIB_WATCH_OFF, &h);
  assert_int_equal(ct_wait_route(m, "e/v1", 10), 0);
  /* Polled every 20 ms: unchanged costs a 304, and no new version. */
  ct_sleep_ms(300);
  meshlib_config_server_stats st;
  meshlib_config_server_stats_get(s, &st);
  assert_int_equal(st.full, 1);
  assert_true(st.not_modified >= 3);
  assert_int_equal(meshlib_config_version(m), 1);
  /* A push. */
  ct_vs(buf, sizeof(buf), "e", "v2", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  assert_int_equal(ct_wait_route(m, "e/v2", 5000), 0);
  /* A bad push: rejected, named by URL, line and field; last good stays. */
  meshlib_config_server_set(s, ct_bad_vs, strlen(ct_bad_vs));
  assert_int_equal(ct_wait_rejected(m, 1, 5000), 0);
  char want[256];
  snprintf(want, sizeof(want),
           "%s:7:25: spec.http[0].retries.attempts: expected an integer", url);
  pthread_mutex_lock(&h.lock);
  assert_string_equal(h.reason, want);
  pthread_mutex_unlock(&h.lock);
  assert_int_equal(ct_wait_route(m, "e/v2", 10), 0);
  /* The bad body is not fetched again and again. */
  ct_sleep_ms(200);
  assert_int_equal(meshlib_config_rejected_total(m), 1);
  ct_vs(buf, sizeof(buf), "e2", "v1", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  assert_int_equal(ct_wait_route(m, "e2/v1", 5000), 0);
  meshlib_free(m);
  meshlib_config_server_free(s);
}

static void test_endpoint_down_then_back(void **state) {
  (void)state;
  meshlib_config_server *s;
  char url[128], buf[1024];
  assert_int_equal(meshlib_config_server_new(&s, 0), MESHLIB_OK);
  ct_vs(buf, sizeof(buf), "d", "v1", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  url_of(s, url, sizeof(url));
  meshlib *m = watched_mesh(NULL, url, MESHLIB_WATCH_OFF, NULL);
  assert_int_equal(ct_wait_route(m, "d/v1", 10), 0);
  assert_int_equal(meshlib_config_server_pause(s, 1), MESHLIB_OK);
  ct_vs(buf, sizeof(buf), "d", "v2", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  ct_sleep_ms(300); /* down: refused, backing off; the config stays */
  assert_int_equal(ct_wait_route(m, "d/v1", 10), 0);
  assert_int_equal(meshlib_config_rejected_total(m), 0);
  assert_int_equal(meshlib_config_server_pause(s, 0), MESHLIB_OK);
  assert_int_equal(ct_wait_route(m, "d/v2", 5000), 0);
  meshlib_free(m);
  meshlib_config_server_free(s);
}

static void test_endpoint_absent_at_start(void **state) {
  (void)state;
  /* Take a port, then free it: nothing listens there. */
  meshlib_config_server *s;
  char url[128], buf[1024];
  assert_int_equal(meshlib_config_server_new(&s, 0), MESHLIB_OK);
  int port = meshlib_config_server_port(s);
  url_of(s, url, sizeof(url));
  meshlib_config_server_free(s);

  meshlib_options *o;
  meshlib *m = NULL;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_add_config_url(o, url);
  meshlib_options_set_control_backoff_ms(o, 10, 50);
  meshlib_options_set_control_initial_fetch(o, 500, 1);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_ERR_CONFIG_IO);
  assert_non_null(strstr(meshlib_options_errmsg(o), url));
  /* Not required: the mesh starts, and takes the config when it comes. */
  meshlib_options_set_control_initial_fetch(o, 500, 0);
  meshlib_options_set_config_poll_interval_ms(o, 20);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  assert_int_equal(meshlib_config_version(m), 1); /* nothing from it */
  assert_int_equal(meshlib_config_server_new(&s, port), MESHLIB_OK);
  ct_vs(buf, sizeof(buf), "late", "v2", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  assert_int_equal(ct_wait_route(m, "late/v2", 5000), 0);
  meshlib_free(m);
  meshlib_config_server_free(s);
}

static void test_endpoint_long_poll(void **state) {
  (void)state;
  meshlib_config_server *s;
  char url[128], buf[1024];
  assert_int_equal(meshlib_config_server_new(&s, 0), MESHLIB_OK);
  ct_vs(buf, sizeof(buf), "lp", "v1", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  url_of(s, url, sizeof(url));
  /* Polling so slow that only a held request can deliver in time. */
  meshlib *m = endpoint_mesh(url, 600000, 30000);
  meshlib_config_server_stats st;
  int64_t end = ct_now_ms() + 5000;
  do {
    ct_sleep_ms(5);
    meshlib_config_server_stats_get(s, &st);
  } while (st.held < 1 && ct_now_ms() < end);
  assert_int_equal(st.held, 1);
  for (int i = 0; i < 5; i++) {
    /* Push while a request is held (not between two requests), so that
     * only the held request can deliver it. */
    end = ct_now_ms() + 5000;
    while (st.held < (uint64_t)i + 1 && ct_now_ms() < end) {
      ct_sleep_ms(2);
      meshlib_config_server_stats_get(s, &st);
    }
    assert_int_equal(st.held, i + 1);
    ct_vs(buf, sizeof(buf), "lp", i % 2 ? "v1" : "v2", 0, 0);
    int64_t t0 = ct_now_ms();
    meshlib_config_server_set(s, buf, strlen(buf));
    assert_int_equal(ct_wait_route(m, i % 2 ? "lp/v1" : "lp/v2", 5000), 0);
    assert_true(ct_now_ms() - t0 < 5000);
  }
  meshlib_config_server_stats_get(s, &st);
  assert_true(st.held >= 5);
  assert_int_equal(st.full, 6);
  assert_int_equal(st.not_modified, 0); /* no wait ended without news */
  int64_t t0 = ct_now_ms();
  meshlib_free(m); /* a held request does not delay the end */
  assert_true(ct_now_ms() - t0 < 2000);
  meshlib_config_server_free(s);
}

static void test_endpoint_token_rotation(void **state) {
  (void)state;
  char dir[256], tok[300], url[128], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(tok, sizeof(tok), "%s/token", dir);
  assert_int_equal(ct_write(tok, "first-token\n"), 0);
  meshlib_config_server *s;
  assert_int_equal(meshlib_config_server_new(&s, 0), MESHLIB_OK);
  meshlib_config_server_require_token(s, "first-token");
  ct_vs(buf, sizeof(buf), "t", "v1", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  url_of(s, url, sizeof(url));
  meshlib_options *o;
  meshlib *m;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_add_config_url(o, url);
  meshlib_options_set_config_poll_interval_ms(o, 20);
  meshlib_options_set_control_backoff_ms(o, 10, 50);
  meshlib_options_set_control_token_file(o, tok);
  meshlib_options_set_control_initial_fetch(o, 2000, 1);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);
  assert_int_equal(ct_wait_route(m, "t/v1", 10), 0);
  /* The token rotates: the server wants the new one, the file has it. */
  meshlib_config_server_require_token(s, "second-token");
  assert_int_equal(ct_write_rename(tok, "second-token"), 0);
  ct_vs(buf, sizeof(buf), "t", "v2", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  assert_int_equal(ct_wait_route(m, "t/v2", 5000), 0);
  /* The server rotates first: 401s until the file follows. */
  meshlib_config_server_require_token(s, "third-token");
  ct_vs(buf, sizeof(buf), "t", "v1", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  ct_sleep_ms(100);
  meshlib_config_server_stats st;
  meshlib_config_server_stats_get(s, &st);
  assert_true(st.unauthorized >= 1);
  assert_int_equal(ct_wait_route(m, "t/v2", 10), 0);
  assert_int_equal(ct_write(tok, "third-token\n"), 0);
  assert_int_equal(ct_wait_route(m, "t/v1", 5000), 0);
  meshlib_free(m);
  meshlib_config_server_free(s);
  ct_rm_rf(dir);
}

static void test_endpoint_json_list(void **state) {
  (void)state;
  static const char list[] =
      "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n"
      " {\"apiVersion\": \"networking.istio.io/v1\",\n"
      "  \"kind\": \"VirtualService\",\n"
      "  \"metadata\": {\"name\": \"j\", \"namespace\": \"default\"},\n"
      "  \"spec\": {\"hosts\": [\"svc\"], \"http\": [{\"route\": [\n"
      "   {\"destination\": {\"host\": \"svc\", \"subset\": \"v2\"}}]}]}}\n"
      "]}\n";
  meshlib_config_server *s;
  char url[128];
  assert_int_equal(meshlib_config_server_new(&s, 0), MESHLIB_OK);
  meshlib_config_server_set(s, list, strlen(list));
  url_of(s, url, sizeof(url));
  meshlib *m = watched_mesh(NULL, url, MESHLIB_WATCH_OFF, NULL);
  assert_int_equal(ct_wait_route(m, "j/v2", 10), 0);
  meshlib_free(m);
  meshlib_config_server_free(s);
}

/* A server that says it holds requests (Preference-Applied: wait) but
 * answers at once, with nothing new: the client polls it instead of
 * asking again in a loop. */
static void test_endpoint_not_holding_does_not_spin(void **state) {
  (void)state;
  meshlib_mock *k;
  char url[128], buf[1024];
  assert_int_equal(meshlib_mock_new(&k), MESHLIB_OK);
  ct_vs(buf, sizeof(buf), "nh", "v1", 0, 0);
  meshlib_mock_set_default(k, 200, buf, strlen(buf));
  meshlib_mock_add_default_header(k, "Preference-Applied", "wait=30");
  meshlib_mock_add_default_header(k, "ETag", "\"same\"");
  mock_url(k, url, sizeof(url));
  meshlib *m = endpoint_mesh(url, 200, 30000);
  assert_int_equal(ct_wait_route(m, "nh/v1", 10), 0);
  /* The same body again and again; then 304s. */
  for (int round = 0; round < 2; round++) {
    if (round)
      meshlib_mock_set_default(k, 304, NULL, 0);
    ct_sleep_ms(100);
    meshlib_mock_reset(k);
    ct_sleep_ms(1000);
    int n = meshlib_mock_request_count(k);
    assert_true(n >= 2);  /* polled... */
    assert_true(n <= 12); /* ...every 200 ms, not in a loop */
  }
  assert_int_equal(meshlib_config_rejected_total(m), 0);
  meshlib_free(m);
  meshlib_mock_free(k);
}

/* An ETag too long to send back (a server would refuse the request, and
 * the endpoint would never be asked again): not echoed, so changes still
 * come through. */
static void test_endpoint_long_validator(void **state) {
  (void)state;
  meshlib_mock *k;
  char url[128], buf[1024];
  static char etag[20002];
  memset(etag, 'x', sizeof(etag) - 1);
  etag[0] = etag[sizeof(etag) - 2] = '"';
  assert_int_equal(meshlib_mock_new(&k), MESHLIB_OK);
  ct_vs(buf, sizeof(buf), "lv", "v1", 0, 0);
  meshlib_mock_set_default(k, 200, buf, strlen(buf));
  meshlib_mock_add_default_header(k, "ETag", etag);
  mock_url(k, url, sizeof(url));
  meshlib *m = endpoint_mesh(url, 20, 0);
  assert_int_equal(ct_wait_route(m, "lv/v1", 10), 0);
  ct_vs(buf, sizeof(buf), "lv", "v2", 0, 0);
  meshlib_mock_set_default(k, 200, buf, strlen(buf));
  assert_int_equal(ct_wait_route(m, "lv/v2", 5000), 0);
  int i = meshlib_mock_request_count(k) - 1;
  assert_null(meshlib_mock_request_header(k, i, "If-None-Match"));
  meshlib_free(m);
  meshlib_mock_free(k);
}

/* Whatever the endpoint sends (bytes that are not config, a response cut
 * after its headers, a reset, a 500), the last good config stays, and
 * only the body that was config but bad counts as a rejection. */
static void test_endpoint_hostile_answers(void **state) {
  (void)state;
  meshlib_mock *k;
  char url[128], buf[1024];
  static const char garbage[] = "\x01\xff\x00{[:\x00\n\t- - -: ]]}\x7f";
  assert_int_equal(meshlib_mock_new(&k), MESHLIB_OK);
  ct_vs(buf, sizeof(buf), "h", "v1", 0, 0);
  meshlib_mock_set_default(k, 200, buf, strlen(buf));
  mock_url(k, url, sizeof(url));
  meshlib *m = endpoint_mesh(url, 20, 0);
  assert_int_equal(ct_wait_route(m, "h/v1", 10), 0);
  int seen = meshlib_mock_request_count(k);
  meshlib_mock_push_response(k, 200, garbage, sizeof(garbage) - 1);
  meshlib_mock_push_close_after_headers(k);
  meshlib_mock_push_reset(k);
  meshlib_mock_push_response(k, 500, NULL, 0);
  assert_true(meshlib_mock_wait_requests(k, seen + 5, 5000) >= seen + 5);
  assert_int_equal(ct_wait_rejected(m, 1, 5000), 0);
  char why[512];
  assert_int_equal(meshlib_config_last_rejection(m, NULL, why, sizeof(why)),
                   MESHLIB_OK);
  assert_true(strncmp(why, url, strlen(url)) == 0); /* names the source */
  assert_int_equal(ct_wait_route(m, "h/v1", 10), 0);
  ct_vs(buf, sizeof(buf), "h", "v2", 0, 0);
  meshlib_mock_set_default(k, 200, buf, strlen(buf));
  assert_int_equal(ct_wait_route(m, "h/v2", 5000), 0);
  assert_int_equal(meshlib_config_rejected_total(m), 1);
  meshlib_free(m);
  meshlib_mock_free(k);
}

/* A file source whose directory is deleted and made again: no watch can
 * follow it meanwhile, so it is polled until one can. */
static void test_file_source_directory_comes_back(void **state) {
  (void)state;
  char dir[256], sub[300], path[320], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  snprintf(path, sizeof(path), "%s/vs.yaml", sub);
  assert_int_equal(mkdir(sub, 0755), 0);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v1", 0, 0)), 0);
  meshlib *m = watched_mesh(path, NULL, MESHLIB_WATCH_AUTO, NULL);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(sub), 0);
  assert_int_equal(ct_wait_rejected(m, 1, 5000), 0);
  assert_int_equal(ct_wait_route(m, "a/v1", 10), 0);
  assert_int_equal(mkdir(sub, 0755), 0);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "a", "v2", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "a/v2", 5000), 0);
  /* Followed by inotify again: a change shows well before a poll. */
  assert_int_equal(
      ct_write_rename(path, ct_vs(buf, sizeof(buf), "b", "v1", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "b/v1", 5000), 0);
  meshlib_free(m);
  ct_rm_rf(dir);
}

/* Files, then an endpoint: the same VirtualService in both, the later
 * source wins; a bad endpoint push does not block file changes. */
static void test_precedence_and_independent_sources(void **state) {
  (void)state;
  char dir[256], path[300], url[128], buf[1024];
  ct_tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/vs.yaml", dir);
  assert_int_equal(ct_write(path, ct_vs(buf, sizeof(buf), "same", "v1", 0, 0)),
                   0);
  meshlib_config_server *s;
  assert_int_equal(meshlib_config_server_new(&s, 0), MESHLIB_OK);
  ct_vs(buf, sizeof(buf), "same", "v2", 0, 0);
  meshlib_config_server_set(s, buf, strlen(buf));
  url_of(s, url, sizeof(url));
  meshlib *m = watched_mesh(path, url, MESHLIB_WATCH_AUTO, NULL);
  assert_int_equal(ct_wait_route(m, "same/v2", 10), 0); /* the endpoint's */
  /* The endpoint drops it: the file's definition shows through. */
  static const char empty[] = "# nothing\n";
  meshlib_config_server_set(s, empty, strlen(empty));
  assert_int_equal(ct_wait_route(m, "same/v1", 5000), 0);
  /* A bad push to the endpoint... */
  meshlib_config_server_set(s, ct_bad_vs, strlen(ct_bad_vs));
  assert_int_equal(ct_wait_rejected(m, 1, 5000), 0);
  /* ...does not hold back a good file change. */
  assert_int_equal(
      ct_write_rename(path, ct_vs(buf, sizeof(buf), "file", "v2", 0, 0)), 0);
  assert_int_equal(ct_wait_route(m, "file/v2", 5000), 0);
  meshlib_free(m);
  meshlib_config_server_free(s);
  ct_rm_rf(dir);
}

static void test_options_refused(void **state) {
  (void)state;
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_options_add_config_url(o, "ftp://x/"),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_add_config_url(o, NULL),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_config_watch(o, 7),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_config_poll_interval_ms(o, 1),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_control_backoff_ms(o, 100, 10),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_control_tls(o, NULL, "c.pem", NULL),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_control_tls(o, "ca.pem", NULL, NULL),
                   MESHLIB_OK);
  assert_int_equal(meshlib_options_on_config(o, NULL, NULL, NULL),
                   MESHLIB_ERR_INVALID_ARG);
  assert_int_equal(meshlib_options_set_config_watch(NULL, 1),
                   MESHLIB_ERR_INVALID_ARG);
  meshlib_options_free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file_edits_in_place_and_by_rename),
      cmocka_unit_test(test_configmap_symlink_swap_dir),
      cmocka_unit_test(test_configmap_symlink_swap_file),
      cmocka_unit_test(test_directory_add_and_delete),
      cmocka_unit_test(test_deleted_file_source_keeps_last_good),
      cmocka_unit_test(test_burst_is_coalesced),
      cmocka_unit_test(test_bad_file_rejected_and_reported),
      cmocka_unit_test(test_polling),
      cmocka_unit_test(test_bad_start),
      cmocka_unit_test(test_reload_now),
      cmocka_unit_test(test_subscriptions),
      cmocka_unit_test(test_endpoint_304_and_pushes),
      cmocka_unit_test(test_endpoint_down_then_back),
      cmocka_unit_test(test_endpoint_absent_at_start),
      cmocka_unit_test(test_endpoint_long_poll),
      cmocka_unit_test(test_endpoint_token_rotation),
      cmocka_unit_test(test_endpoint_json_list),
      cmocka_unit_test(test_endpoint_not_holding_does_not_spin),
      cmocka_unit_test(test_endpoint_long_validator),
      cmocka_unit_test(test_endpoint_hostile_answers),
      cmocka_unit_test(test_file_source_directory_comes_back),
      cmocka_unit_test(test_precedence_and_independent_sources),
      cmocka_unit_test(test_options_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
