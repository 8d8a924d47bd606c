/* SPDX-License-Identifier: MIT */
/* meshctl mock: the mock-upstream kit (meshlib/testing.h) from the command
 * line, so that `meshctl call`, a shell test or a curl user has real
 * upstreams to talk to without writing C. */
#include "meshctl.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meshlib/testing.h"

void usage_mock(FILE *f) {
  fputs("Usage: meshctl mock [MOCK OPTIONS]... [--count-file FILE] [-v]\n"
        "\n"
        "Run mock HTTP upstreams on 127.0.0.1 until SIGINT or SIGTERM. Each\n"
        "serves HTTP/1.1 and HTTP/2 over cleartext (prior knowledge) on one\n"
        "port, names itself in the response header x-mock-name and, unless\n"
        "--body says otherwise, answers its name as the body. One line\n"
        "\"listening NAME 127.0.0.1:PORT\" per mock goes to stdout once all\n"
        "listen.\n"
        "\n"
        "Mock options describe one mock; repeating one of them (other than\n"
        "--header) starts the next mock, so `--name v1 --name v2 --name v3`\n"
        "runs three:\n"
        "      --name NAME           its name (default \"127.0.0.1:PORT\")\n"
        "      --port P              its port (default: an ephemeral one)\n"
        "      --status S            the status of every response (default\n"
        "                            200)\n"
        "      --body TEXT           the body of every response (default the\n"
        "                            name)\n"
        "      --header 'N: V'       a header on every response; repeatable\n"
        "      --fail-first N        answer the first N requests with 503\n"
        "      --hang-first N        never answer the first N requests (for\n"
        "                            timeouts; after --fail-first ones)\n"
        "\n"
        "Other options:\n"
        "      --count-file FILE     keep FILE up to date with one line per\n"
        "                            mock: NAME 127.0.0.1:PORT REQUESTS\n"
        "                            CONNECTIONS (rewritten atomically)\n"
        "  -v, --verbose             one line per request received on stderr\n"
        "  -h, --help                show this help\n"
        "\n"
        "Exit status: 0 stopped by a signal, 1 a mock could not start (e.g.\n"
        "the port is taken), 2 bad options.\n",
        f);
}

/* One mock as the command line describes it. */
typedef struct mock_spec {
  const char *name;
  const char *port;
  const char *status;
  const char *body;
  const char *fail_first;
  const char *hang_first;
  strvec headers;
  meshlib_mock *mock;
  int seen; /* requests already reported by --verbose */
} mock_spec;

typedef struct mock_args {
  mock_spec *specs;
  size_t count;
  const char *count_file;
  int verbose;
} mock_args;

static mock_spec *new_spec(mock_args *a) {
  mock_spec *specs = realloc(a->specs, (a->count + 1) * sizeof(*specs));
  if (!specs) {
    fprintf(stderr, "meshctl mock: out of memory\n");
    return NULL;
  }
  a->specs = specs;
  memset(&specs[a->count], 0, sizeof(*specs));
  return &specs[a->count++];
}

static void free_args(mock_args *a) {
  for (size_t i = 0; i < a->count; i++) {
    meshlib_mock_free(a->specs[i].mock);
    strvec_free(&a->specs[i].headers);
  }
  free(a->specs);
}

/* Returns 0 to go on, -1 after --help, else the exit code. */
static int parse(int argc, char **argv, mock_args *a) {
  mock_spec *cur = NULL;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *v = NULL;
    int r;
    if (opt_flag(arg, "-h", "--help")) {
      usage_mock(stdout);
      return -1;
    }
    if (opt_flag(arg, "-v", "--verbose")) {
      a->verbose = 1;
      continue;
    }
    if ((r = opt_value(argc, argv, &i, NULL, "--count-file", &v)) != 0) {
      if (r < 0)
        return MESHCTL_USAGE;
      a->count_file = v;
      continue;
    }
    if (!cur && !(cur = new_spec(a)))
      return MESHCTL_USAGE;
    if ((r = opt_value(argc, argv, &i, NULL, "--header", &v)) != 0) {
      if (r < 0 || strvec_push(&cur->headers, v) < 0)
        return MESHCTL_USAGE;
      continue;
    }
    static const char *const names[] = {"--name",       "--port",
                                        "--status",     "--body",
                                        "--fail-first", "--hang-first"};
    size_t k;
    r = 0;
    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
      if ((r = opt_value(argc, argv, &i, NULL, names[k], &v)) != 0)
        break;
    if (r < 0)
      return MESHCTL_USAGE;
    if (r == 0) {
      fprintf(stderr,
              "meshctl mock: unknown %s \"%s\"\n"
              "Run `meshctl mock --help` for usage.\n",
              arg[0] == '-' ? "option" : "argument", arg);
      return MESHCTL_USAGE;
    }
    const char **slot[] = {&cur->name, &cur->port,       &cur->status,
                           &cur->body, &cur->fail_first, &cur->hang_first};
    if (*slot[k]) { /* repeated: the next mock */
      if (!(cur = new_spec(a)))
        return MESHCTL_USAGE;
      slot[0] = &cur->name;
      slot[1] = &cur->port;
      slot[2] = &cur->status;
      slot[3] = &cur->body;
      slot[4] = &cur->fail_first;
      slot[5] = &cur->hang_first;
    }
    *slot[k] = v;
  }
  if (a->count == 0 && !new_spec(a))
    return MESHCTL_USAGE;
  return 0;
}

static int number(const char *what, const char *text, long min, long max,
                  long *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > max) {
    fprintf(stderr,
            "meshctl mock: bad %s \"%s\" (expected a number from %ld to "
            "%ld)\n",
            what, text, min, max);
    return -1;
  }
  *out = v;
  return 0;
}

/* Checks every spec before any mock starts: 0, or -1 after saying why. */
static int check_specs(const mock_args *a) {
  long v;
  for (size_t i = 0; i < a->count; i++) {
    const mock_spec *s = &a->specs[i];
    if ((s->port && number("port", s->port, 0, 65535, &v) < 0) ||
        (s->status && number("status", s->status, 200, 599, &v) < 0) ||
        (s->fail_first &&
         number("--fail-first", s->fail_first, 0, 1000000, &v) < 0) ||
        (s->hang_first &&
         number("--hang-first", s->hang_first, 0, 1000000, &v) < 0))
      return -1;
    if (s->name && !*s->name) {
      fprintf(stderr, "meshctl mock: empty --name\n");
      return -1;
    }
    for (size_t k = 0; k < s->headers.count; k++) {
      const char *h = s->headers.items[k];
      const char *colon = strchr(h, ':');
      if (!colon || colon == h) {
        fprintf(stderr,
                "meshctl mock: bad header \"%s\" (expected 'Name: value')\n",
                h);
        return -1;
      }
    }
  }
  return 0;
}

/* Starts the mock |s| describes: MESHLIB_OK or an error code (said). */
static int start(mock_spec *s) {
  long port = 0, status = 200, fail = 0, hang = 0;
  if (s->port)
    number("port", s->port, 0, 65535, &port);
  if (s->status)
    number("status", s->status, 200, 599, &status);
  if (s->fail_first)
    number("--fail-first", s->fail_first, 0, 1000000, &fail);
  if (s->hang_first)
    number("--hang-first", s->hang_first, 0, 1000000, &hang);
  int rc = meshlib_mock_new_on_port(&s->mock, (int)port);
  if (rc != MESHLIB_OK) {
    fprintf(stderr, "meshctl mock: cannot listen on 127.0.0.1:%ld: %s\n", port,
            meshlib_strerror(rc));
    return rc;
  }
  char fallback[32];
  snprintf(fallback, sizeof(fallback), "127.0.0.1:%d",
           meshlib_mock_port(s->mock));
  const char *name = s->name ? s->name : fallback;
  rc = meshlib_mock_set_name(s->mock, name);
  if (rc == MESHLIB_OK && (s->status || s->body)) {
    const char *body = s->body ? s->body : name;
    rc = meshlib_mock_set_default(s->mock, (int)status, body, strlen(body));
  }
  for (size_t k = 0; rc == MESHLIB_OK && k < s->headers.count; k++) {
    const char *h = s->headers.items[k];
    const char *colon = strchr(h, ':');
    size_t n = (size_t)(colon - h);
    char *hname = malloc(n + 1);
    if (!hname) {
      rc = MESHLIB_ERR_NOMEM;
      break;
    }
    memcpy(hname, h, n);
    hname[n] = '\0';
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
      value++;
    rc = meshlib_mock_add_default_header(s->mock, hname, value);
    free(hname);
  }
  for (long k = 0; rc == MESHLIB_OK && k < fail; k++) {
    static const char unavailable[] = "scripted failure";
    rc = meshlib_mock_push_response(s->mock, 503, unavailable,
                                    sizeof(unavailable) - 1);
  }
  for (long k = 0; rc == MESHLIB_OK && k < hang; k++)
    rc = meshlib_mock_push_hang(s->mock);
  if (rc != MESHLIB_OK)
    fprintf(stderr, "meshctl mock: cannot set up mock \"%s\": %s\n", name,
            meshlib_strerror(rc));
  return rc;
}

/* Rewrites the count file when a count changed since |last| (a string
 * of the previous contents, owned by the caller): 0, or -1 on an error. */
static int write_counts(const mock_args *a, char *last, size_t cap) {
  char buf[8192];
  size_t n = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < a->count && n < sizeof(buf); i++) {
    meshlib_mock *m = a->specs[i].mock;
    int w = snprintf(buf + n, sizeof(buf) - n, "%s 127.0.0.1:%d %d %d\n",
                     a->specs[i].name ? a->specs[i].name : "-",
                     meshlib_mock_port(m), meshlib_mock_request_count(m),
                     meshlib_mock_connection_count(m));
    if (w < 0)
      return -1;
    n += (size_t)w;
  }
  if (strcmp(buf, last) == 0)
    return 0;
  size_t plen = strlen(a->count_file) + 5;
  char *tmp = malloc(plen);
  if (!tmp)
    return -1;
  snprintf(tmp, plen, "%s.tmp", a->count_file);
  FILE *f = fopen(tmp, "w");
  int ok = f && fputs(buf, f) >= 0;
  if (f && fclose(f) != 0)
    ok = 0;
  if (ok && rename(tmp, a->count_file) != 0)
    ok = 0;
  if (!ok)
    fprintf(stderr, "meshctl mock: cannot write \"%s\": %s\n", a->count_file,
            strerror(errno));
  free(tmp);
  if (ok)
    snprintf(last, cap, "%s", buf);
  return ok ? 0 : -1;
}

/* --verbose: the requests received since the last look. */
static void report_requests(mock_args *a) {
  for (size_t i = 0; i < a->count; i++) {
    mock_spec *s = &a->specs[i];
    int n = meshlib_mock_request_count(s->mock);
    for (; s->seen < n; s->seen++) {
      const char *host = meshlib_mock_request_header(s->mock, s->seen, "host");
      fprintf(stderr, "%s: %s %s %s host=%s\n", s->name ? s->name : "mock",
              meshlib_mock_request_method(s->mock, s->seen),
              meshlib_mock_request_path(s->mock, s->seen),
              meshlib_mock_request_protocol(s->mock, s->seen),
              host ? host : "-");
    }
  }
}

static int serve(mock_args *a) {
  /* The signals are blocked before any mock thread starts (threads inherit
   * the mask), so that only sigtimedwait() below receives them: a clean
   * exit that frees every mock. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
    fprintf(stderr, "meshctl mock: cannot block signals\n");
    return MESHCTL_CALL_FAILED;
  }
  for (size_t i = 0; i < a->count; i++)
    if (start(&a->specs[i]) != MESHLIB_OK)
      return MESHCTL_CALL_FAILED;
  for (size_t i = 0; i < a->count; i++) {
    meshlib_mock *m = a->specs[i].mock;
    printf("listening %s 127.0.0.1:%d\n",
           a->specs[i].name ? a->specs[i].name : "-", meshlib_mock_port(m));
  }
  fflush(stdout);

  char last[8192] = "";
  int sig = 0;
  while (sig <= 0) {
    struct timespec tick = {0, 100 * 1000 * 1000};
    sig = sigtimedwait(&set, NULL, &tick);
    if (sig < 0 && errno != EAGAIN && errno != EINTR) {
      fprintf(stderr, "meshctl mock: sigtimedwait: %s\n", strerror(errno));
      break;
    }
    if (a->verbose)
      report_requests(a);
    if (a->count_file)
      write_counts(a, last, sizeof(last));
  }
  for (size_t i = 0; i < a->count; i++) {
    meshlib_mock *m = a->specs[i].mock;
    fprintf(stderr,
            "meshctl mock: %s 127.0.0.1:%d served %d request(s) on %d "
            "connection(s)\n",
            a->specs[i].name ? a->specs[i].name : "-", meshlib_mock_port(m),
            meshlib_mock_request_count(m), meshlib_mock_connection_count(m));
  }
  return MESHCTL_OK;
}

int cmd_mock(int argc, char **argv) {
  mock_args a = {0};
  int code = parse(argc, argv, &a);
  if (code == 0)
    code = check_specs(&a) < 0 ? MESHCTL_USAGE : serve(&a);
  else if (code < 0)
    code = MESHCTL_OK; /* --help */
  free_args(&a);
  return code;
}
