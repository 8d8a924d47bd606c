/* SPDX-License-Identifier: MIT */
/* meshctl watch: follow config sources the way a service linked with
 * meshlib does (the same watcher, the same validation) and print one line
 * per version: accepted, or rejected with file:line:col and field. */
#include "meshctl.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void usage_watch(FILE *f) {
  fputs("Usage: meshctl watch [-f FILE|DIR]... [--url URL]... [options]\n"
        "\n"
        "Follow Istio config files, directories (a mounted ConfigMap too) and\n"
        "control endpoints as a service linked with meshlib does, and print a\n"
        "line for each version as it happens:\n"
        "\n"
        "  accepted 3 (was 1)\n"
        "  rejected 2: vs.yaml:7:25: spec.http[0].retries.attempts: "
        "expected an\n"
        "  integer (1 stays in force)\n"
        "\n"
        "Options:\n"
        "  -f, --filename PATH    a YAML/JSON file, or a directory of them;\n"
        "                         repeatable\n"
        "      --url URL          a control endpoint (http:// or https://)\n"
        "                         serving the same YAML or JSON; repeatable.\n"
        "                         Sources merge in the order given; a later\n"
        "                         definition of an object wins\n"
        "      --interval DUR     how often to poll endpoints without\n"
        "                         long-poll, and files with --poll (default\n"
        "                         1s; e.g. 500ms, 2s, 1m)\n"
        "      --poll             poll files instead of using inotify\n"
        "      --long-poll DUR    ask endpoints to hold requests until a\n"
        "                         change, up to DUR (Prefer: wait)\n"
        "      --token-file PATH  bearer token for endpoints, re-read when it\n"
        "                         changes\n"
        "      --cacert PATH      CA certificates for https endpoints\n"
        "      --cert PATH, --key PATH  client certificate and key\n"
        "      --count N          exit after N lines (for scripts)\n"
        "      --timeout DUR      exit after DUR\n"
        "  -n, --namespace NS     namespace of the calling workload\n"
        "      --domain-suffix S  cluster domain (default \"cluster.local\")\n"
        "  -h, --help             show this help\n"
        "\n"
        "Exit status: 0 when stopped by --count, --timeout or a signal, and\n"
        "the last version seen was accepted; 1 when it was rejected; 2 on\n"
        "unusable options.\n",
        f);
}

typedef struct watch_args {
  common_args c;
  strvec urls;
  int64_t interval_ms, long_poll_ms, timeout_ms;
  long count;
  int poll;
  const char *token, *cacert, *cert, *key;
} watch_args;

/* "500ms", "2s", "1m", "1h", or plain seconds: milliseconds, -1 if bad. */
static int64_t parse_duration(const char *s) {
  char *end;
  double v = strtod(s, &end);
  double scale = 1000.0;
  if (strcmp(end, "ms") == 0)
    scale = 1.0;
  else if (strcmp(end, "m") == 0)
    scale = 60000.0;
  else if (strcmp(end, "h") == 0)
    scale = 3600000.0;
  else if (*end && strcmp(end, "s") != 0)
    return -1;
  /* NaN, infinities and more than a year would not convert. */
  if (end == s || !(v >= 0) || v * scale > 365.0 * 86400000.0)
    return -1;
  return (int64_t)(v * scale + 0.5);
}

static int duration_opt(const char *name, const char *v, int64_t *out) {
  *out = parse_duration(v);
  if (*out < 0) {
    fprintf(stderr, "meshctl watch: %s: bad duration \"%s\"\n", name, v);
    return -1;
  }
  return 1;
}

static int watch_option(void *args, int argc, char **argv, int *i) {
  watch_args *a = args;
  const char *v = NULL;
  int r;
  if (opt_flag(argv[*i], NULL, "--poll")) {
    a->poll = 1;
    return 1;
  }
  if ((r = opt_value(argc, argv, i, NULL, "--url", &v)) != 0)
    return r < 0 || strvec_push(&a->urls, v) < 0 ? -1 : 1;
  if ((r = opt_value(argc, argv, i, NULL, "--interval", &v)) != 0)
    return r < 0 ? -1 : duration_opt("--interval", v, &a->interval_ms);
  if ((r = opt_value(argc, argv, i, NULL, "--long-poll", &v)) != 0)
    return r < 0 ? -1 : duration_opt("--long-poll", v, &a->long_poll_ms);
  if ((r = opt_value(argc, argv, i, NULL, "--timeout", &v)) != 0)
    return r < 0 ? -1 : duration_opt("--timeout", v, &a->timeout_ms);
  if ((r = opt_value(argc, argv, i, NULL, "--count", &v)) != 0) {
    if (r < 0)
      return -1;
    char *end;
    a->count = strtol(v, &end, 10);
    if (*end || a->count < 1) {
      fprintf(stderr, "meshctl watch: --count: bad number \"%s\"\n", v);
      return -1;
    }
    return 1;
  }
  if ((r = opt_value(argc, argv, i, NULL, "--token-file", &v)) != 0)
    return r < 0 ? -1 : (a->token = v, 1);
  if ((r = opt_value(argc, argv, i, NULL, "--cacert", &v)) != 0)
    return r < 0 ? -1 : (a->cacert = v, 1);
  if ((r = opt_value(argc, argv, i, NULL, "--cert", &v)) != 0)
    return r < 0 ? -1 : (a->cert = v, 1);
  if ((r = opt_value(argc, argv, i, NULL, "--key", &v)) != 0)
    return r < 0 ? -1 : (a->key = v, 1);
  return 0;
}

static int watch_positional(void *args, const char *arg) {
  watch_args *a = args;
  return strvec_push(&a->c.paths, arg) < 0 ? MESHCTL_USAGE : 0;
}

/* What the callbacks share with the main thread. */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  long lines;
  int last_rejected;
  uint64_t in_force;
} g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

static volatile sig_atomic_t g_signal;

static void on_signal(int sig) {
  g_signal = sig;
}

static void stamp(char *buf, size_t cap) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  localtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, cap, "%H:%M:%S", &tm);
  snprintf(buf + n, cap - n, ".%03ld", ts.tv_nsec / 1000000L);
}

static void on_change(uint64_t old_version, uint64_t new_version, void *ud) {
  (void)ud;
  char t[32];
  stamp(t, sizeof(t));
  pthread_mutex_lock(&g.lock);
  printf("%s accepted %" PRIu64 " (was %" PRIu64 ")\n", t, new_version,
         old_version);
  fflush(stdout);
  g.lines++;
  g.last_rejected = 0;
  g.in_force = new_version;
  pthread_cond_signal(&g.cond);
  pthread_mutex_unlock(&g.lock);
}

static void on_reject(uint64_t version, const char *reason, void *ud) {
  (void)ud;
  char t[32];
  stamp(t, sizeof(t));
  pthread_mutex_lock(&g.lock);
  printf("%s rejected %" PRIu64 ": %s (%" PRIu64 " stays in force)\n", t,
         version, reason, g.in_force);
  fflush(stdout);
  g.lines++;
  g.last_rejected = 1;
  pthread_cond_signal(&g.cond);
  pthread_mutex_unlock(&g.lock);
}

/* meshlib's warnings (an endpoint down, a token file missing) go to
 * stderr: what an operator following a rollout needs to see too. */
static void on_log(int level, const char *message, void *ud) {
  (void)ud;
  char t[32];
  stamp(t, sizeof(t));
  fprintf(stderr, "%s %s: %s\n", t, level_name(level), message);
}

static int setup(meshlib_options *o, const watch_args *a) {
  int rc = apply_common_args(o, &a->c);
  if (rc == MESHLIB_OK)
    rc = meshlib_options_set_log_callback(o, MESHLIB_LEVEL_WARNING, on_log,
                                          NULL);
  if (rc == MESHLIB_OK)
    rc = meshlib_options_set_config_watch(o, a->poll ? MESHLIB_WATCH_POLL
                                                     : MESHLIB_WATCH_AUTO);
  if (rc == MESHLIB_OK)
    rc = meshlib_options_set_config_allow_bad_start(o, 1);
  if (rc == MESHLIB_OK)
    rc = meshlib_options_on_config(o, on_change, on_reject, NULL);
  if (rc == MESHLIB_OK && a->interval_ms)
    rc = meshlib_options_set_config_poll_interval_ms(o, a->interval_ms);
  if (rc == MESHLIB_OK && a->long_poll_ms)
    rc = meshlib_options_set_control_long_poll_ms(o, a->long_poll_ms);
  if (rc == MESHLIB_OK && a->token)
    rc = meshlib_options_set_control_token_file(o, a->token);
  if (rc == MESHLIB_OK && (a->cacert || a->cert || a->key))
    rc = meshlib_options_set_control_tls(o, a->cacert, a->cert, a->key);
  for (size_t i = 0; rc == MESHLIB_OK && i < a->urls.count; i++) {
    rc = meshlib_options_add_config_url(o, a->urls.items[i]);
    if (rc == MESHLIB_ERR_INVALID_ARG)
      fprintf(stderr, "meshctl watch: --url: not an http(s) URL: %s\n",
              a->urls.items[i]);
  }
  return rc;
}

int cmd_watch(int argc, char **argv) {
  watch_args a;
  memset(&a, 0, sizeof(a));
  static const char *const text[] = {"text", NULL};
  const cmd_parser p = {.name = "watch",
                        .usage = usage_watch,
                        .text_formats = text,
                        .positional = watch_positional,
                        .option = watch_option,
                        .args = &a};
  int code = parse_args(&p, argc, argv, &a.c);
  if (code == 0 && !a.c.paths.count && !a.urls.count) {
    fprintf(stderr, "meshctl watch: nothing to watch; give -f FILE|DIR or "
                    "--url URL\n");
    code = MESHCTL_USAGE;
  }
  if (code == 0 && !a.cert != !a.key) {
    fprintf(stderr, "meshctl watch: --cert and --key go together\n");
    code = MESHCTL_USAGE;
  }
  if (code != 0) {
    common_args_free(&a.c);
    strvec_free(&a.urls);
    return code < 0 ? MESHCTL_OK : code;
  }
  meshlib_options *o = NULL;
  meshlib *mesh = NULL;
  int rc = meshlib_options_new(&o);
  if (rc == MESHLIB_OK)
    rc = setup(o, &a);
  if (rc != MESHLIB_OK) {
    options_error("watch", o, rc);
    meshlib_options_free(o);
    code = MESHCTL_USAGE;
  } else {
    code = finish_mesh("watch", o, &a.c, &mesh); /* frees o */
  }
  if (code == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct timespec start;
    clock_gettime(CLOCK_REALTIME, &start);
    pthread_mutex_lock(&g.lock);
    for (;;) {
      if (g_signal || (a.count && g.lines >= a.count))
        break;
      struct timespec now, until;
      clock_gettime(CLOCK_REALTIME, &now);
      int64_t spent = (int64_t)(now.tv_sec - start.tv_sec) * 1000 +
                      (now.tv_nsec - start.tv_nsec) / 1000000;
      if (a.timeout_ms && spent >= a.timeout_ms)
        break;
      /* Wake at least every 100 ms to notice a signal. */
      until = now;
      until.tv_nsec += 100000000L;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&g.cond, &g.lock, &until);
    }
    code = g.last_rejected ? MESHCTL_FINDINGS : MESHCTL_OK;
    pthread_mutex_unlock(&g.lock);
    meshlib_free(mesh);
  }
  common_args_free(&a.c);
  strvec_free(&a.urls);
  return code;
}
