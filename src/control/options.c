/* SPDX-License-Identifier: MIT */
/* The meshlib_options_* of include/meshlib/control.h, on the options'
 * lifecycle part (core/options.c hands over its slot). That part lives in
 * libc memory, as the options struct itself does, so that
 * meshlib_options_set_allocator() never has to move it. */
#include <string.h>
#include "control/control.h"
#include "util/str.h"

/* |*slot|, created on first use; NULL when out of memory. */
static ml_control_opts *opts_get(ml_control_opts **slot) {
  if (!*slot) {
    ml_control_opts *c = ml_calloc(NULL, 1, sizeof(*c));
    if (!c)
      return NULL;
    c->poll_ms = 1000;
    c->debounce_ms = 100;
    c->backoff_initial_ms = 500;
    c->backoff_max_ms = 30000;
    c->initial_timeout_ms = 5000;
    *slot = c;
  }
  return *slot;
}

void ml_control_opts_free(ml_control_opts *c) {
  if (!c)
    return;
  ml_free(NULL, c->ca_file);
  ml_free(NULL, c->cert_file);
  ml_free(NULL, c->key_file);
  ml_free(NULL, c->token_file);
  for (size_t i = 0; i < c->url_count; i++)
    ml_free(NULL, c->urls[i].url);
  ml_free(NULL, c->urls);
  ml_free(NULL, c->subs);
  ml_free(NULL, c);
}

#define GET_OPTS(o, c)                                                         \
  if (!(o))                                                                    \
    return MESHLIB_ERR_INVALID_ARG;                                            \
  ml_control_opts *c = opts_get(o);                                            \
  if (!c)                                                                      \
  return MESHLIB_ERR_NOMEM

int ml_control_opts_set_watch(ml_control_opts **o, int mode) {
  if (mode < MESHLIB_WATCH_OFF || mode > MESHLIB_WATCH_POLL)
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  c->watch = mode;
  return MESHLIB_OK;
}

int ml_control_opts_set_poll_interval(ml_control_opts **o,
                                      int64_t interval_ms) {
  if (interval_ms < 10)
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  c->poll_ms = interval_ms;
  return MESHLIB_OK;
}

int ml_control_opts_set_debounce(ml_control_opts **o, int64_t debounce_ms) {
  if (debounce_ms < 0 || debounce_ms > 60000)
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  c->debounce_ms = debounce_ms;
  return MESHLIB_OK;
}

int ml_control_opts_add_url(ml_control_opts **o, const char *url,
                            size_t position) {
  if (!url ||
      (!ml_starts_with(url, "http://") && !ml_starts_with(url, "https://")))
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  ml_ctl_url_opt *n =
      ml_realloc(NULL, c->urls, (c->url_count + 1) * sizeof(*n));
  if (!n)
    return MESHLIB_ERR_NOMEM;
  c->urls = n;
  n[c->url_count].url = ml_strdup(NULL, url);
  if (!n[c->url_count].url)
    return MESHLIB_ERR_NOMEM;
  n[c->url_count].position = position;
  c->url_count++;
  return MESHLIB_OK;
}

int ml_control_opts_set_long_poll(ml_control_opts **o, int64_t wait_ms) {
  if (wait_ms < 0 || wait_ms > 300000)
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  c->long_poll_ms = wait_ms;
  return MESHLIB_OK;
}

int ml_control_opts_set_backoff(ml_control_opts **o, int64_t initial_ms,
                                int64_t max_ms) {
  if (initial_ms < 1 || max_ms < initial_ms)
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  c->backoff_initial_ms = initial_ms;
  c->backoff_max_ms = max_ms;
  return MESHLIB_OK;
}

static int set_path(char **slot, const char *value) {
  char *copy = NULL;
  if (value && !(copy = ml_strdup(NULL, value)))
    return MESHLIB_ERR_NOMEM;
  ml_free(NULL, *slot);
  *slot = copy;
  return MESHLIB_OK;
}

int ml_control_opts_set_tls(ml_control_opts **o, const char *ca_file,
                            const char *cert_file, const char *key_file) {
  if ((cert_file == NULL) != (key_file == NULL))
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  int rc = set_path(&c->ca_file, ca_file);
  if (rc == MESHLIB_OK)
    rc = set_path(&c->cert_file, cert_file);
  if (rc == MESHLIB_OK)
    rc = set_path(&c->key_file, key_file);
  return rc;
}

int ml_control_opts_set_token_file(ml_control_opts **o, const char *path) {
  if (!path || !*path)
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  return set_path(&c->token_file, path);
}

int ml_control_opts_set_initial_fetch(ml_control_opts **o, int64_t timeout_ms,
                                      int required) {
  if (timeout_ms < 1)
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  c->initial_timeout_ms = timeout_ms;
  c->required = required != 0;
  return MESHLIB_OK;
}

int ml_control_opts_set_allow_bad_start(ml_control_opts **o, int allow) {
  GET_OPTS(o, c);
  c->allow_bad_start = allow != 0;
  return MESHLIB_OK;
}

int ml_control_opts_on_config(ml_control_opts **o,
                              meshlib_config_change_cb changed,
                              meshlib_config_reject_cb rejected,
                              void *user_data) {
  if (!changed && !rejected)
    return MESHLIB_ERR_INVALID_ARG;
  GET_OPTS(o, c);
  ml_config_sub *n = ml_realloc(NULL, c->subs, (c->sub_count + 1) * sizeof(*n));
  if (!n)
    return MESHLIB_ERR_NOMEM;
  c->subs = n;
  n[c->sub_count++] = (ml_config_sub){changed, rejected, user_data};
  return MESHLIB_OK;
}
