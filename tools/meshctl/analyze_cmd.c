/* SPDX-License-Identifier: MIT */
#include "meshctl.h"

#include <string.h>

void usage_analyze(FILE *f) {
  fputs("Usage: meshctl analyze [-f FILE|DIR]... [FILE|DIR]... [options]\n"
        "\n"
        "Load Istio VirtualService, DestinationRule, ServiceEntry and\n"
        "WorkloadEntry YAML and report problems the way `istioctl analyze`\n"
        "does: schema errors with file:line:col, missing subsets, hosts that\n"
        "two VirtualServices claim, rules that can never match, ...\n"
        "\n"
        "Options:\n"
        "  -f, --filename PATH   a YAML/JSON file, or a directory of them\n"
        "                        (*.yaml, *.yml, *.json); repeatable\n"
        "  -n, --namespace NS    namespace of the calling workload\n"
        "                        (default \"default\")\n"
        "      --domain-suffix S cluster domain (default \"cluster.local\")\n"
        "      --strict          unknown fields are errors, not warnings\n"
        "      --json            print the findings as a JSON array\n"
        "                        (also: -o json)\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit status: 0 no error (warnings allowed), 1 an error was found,\n"
        "2 unusable input (no file given, a path that cannot be read, bad\n"
        "options).\n",
        f);
}

typedef struct analyze_args {
  common_args c;
  int strict;
} analyze_args;

static int add_path(void *args, const char *arg) {
  analyze_args *a = args;
  return strvec_push(&a->c.paths, arg) < 0 ? MESHCTL_USAGE : 0;
}

static int analyze_option(void *args, int argc, char **argv, int *i) {
  analyze_args *a = args;
  (void)argc;
  if (opt_flag(argv[*i], NULL, "--strict")) {
    a->strict = 1;
    return 1;
  }
  return 0;
}

/* 0 to go on, else the exit code. */
static int parse(int argc, char **argv, analyze_args *a) {
  static const char *const text[] = {"text", "log", NULL};
  const cmd_parser p = {.name = "analyze",
                        .usage = usage_analyze,
                        .text_formats = text,
                        .positional = add_path,
                        .option = analyze_option,
                        .args = a};
  int code = parse_args(&p, argc, argv, &a->c);
  if (code == 0 && a->c.paths.count == 0) {
    fprintf(stderr, "meshctl analyze: no input; give -f FILE or DIR\n"
                    "Run `meshctl analyze --help` for usage.\n");
    return MESHCTL_USAGE;
  }
  return code;
}

/* The loader's own findings carry a field path that the message relies
 * on ("...pendingRequests: unknown field"); the analyzer's messages name
 * what they are about themselves, as istioctl's do. */
static int shows_field(const meshlib_diag *d) {
  const char *code = meshlib_diag_code(d);
  return strcmp(code, "IST0106") == 0 || strncmp(code, "ML000", 5) == 0;
}

static void print_text(const meshlib_config *cfg) {
  size_t n = meshlib_config_diag_count(cfg);
  for (size_t i = 0; i < n; i++) {
    const meshlib_diag *d = meshlib_config_diag(cfg, i);
    const char *res = meshlib_diag_resource(d);
    const char *file = meshlib_diag_file(d);
    const char *field = meshlib_diag_field(d);
    uint32_t line = meshlib_diag_line(d);
    printf("%s [%s]", level_name(meshlib_diag_level(d)), meshlib_diag_code(d));
    if (*res || *file) {
      printf(" (%s", res);
      if (*file) {
        printf("%s%s", *res ? " " : "", file);
        if (line)
          printf(":%u:%u", line, meshlib_diag_column(d));
      }
      putchar(')');
    }
    if (*field && shows_field(d))
      printf(" %s: %s\n", field, meshlib_diag_message(d));
    else
      printf(" %s\n", meshlib_diag_message(d));
  }
}

static void print_json(const meshlib_config *cfg) {
  size_t n = meshlib_config_diag_count(cfg);
  fputs("[", stdout);
  for (size_t i = 0; i < n; i++) {
    const meshlib_diag *d = meshlib_config_diag(cfg, i);
    fputs(i ? ",\n  {" : "\n  {", stdout);
    fputs("\"code\": ", stdout);
    json_str(stdout, meshlib_diag_code(d));
    fputs(", \"level\": ", stdout);
    json_str(stdout, level_name(meshlib_diag_level(d)));
    fputs(", \"message\": ", stdout);
    json_str(stdout, meshlib_diag_message(d));
    fputs(", \"resource\": ", stdout);
    json_str(stdout, meshlib_diag_resource(d));
    fputs(", \"file\": ", stdout);
    json_str(stdout, meshlib_diag_file(d));
    printf(", \"line\": %u, \"column\": %u", meshlib_diag_line(d),
           meshlib_diag_column(d));
    fputs(", \"field\": ", stdout);
    json_str(stdout, meshlib_diag_field(d));
    fputs("}", stdout);
  }
  fputs(n ? "\n]\n" : "]\n", stdout);
}

static int run(const analyze_args *a) {
  meshlib_options *o = NULL;
  meshlib *m = NULL;
  meshlib_config *cfg = NULL;
  int code = MESHCTL_USAGE, rc;

  for (size_t i = 0; i < a->c.paths.count; i++)
    if (check_path("analyze", a->c.paths.items[i]) < 0)
      return MESHCTL_USAGE;
  if ((rc = meshlib_options_new(&o)) != MESHLIB_OK ||
      (rc = apply_common_args(o, &a->c)) != MESHLIB_OK ||
      (rc = meshlib_options_set_strict(o, a->strict)) != MESHLIB_OK ||
      (rc = meshlib_new(&m, o)) != MESHLIB_OK ||
      (rc = meshlib_config_new(&cfg, m)) != MESHLIB_OK) {
    options_error("analyze", o, rc);
    goto out;
  }
  int io_error = 0;
  for (size_t i = 0; i < a->c.paths.count; i++) {
    rc = meshlib_config_add_path(cfg, a->c.paths.items[i]);
    if (rc == MESHLIB_ERR_CONFIG_IO)
      io_error = 1;
    else if (rc == MESHLIB_ERR_NOMEM) {
      fprintf(stderr, "meshctl analyze: %s\n", meshlib_strerror(rc));
      goto out;
    }
  }
  if (io_error) {
    /* The files could not all be read: report why, and nothing else, since
     * an analysis of part of the input would mislead. */
    size_t n = meshlib_config_diag_count(cfg);
    for (size_t i = 0; i < n; i++) {
      const meshlib_diag *d = meshlib_config_diag(cfg, i);
      if (meshlib_diag_level(d) == MESHLIB_LEVEL_ERROR)
        fprintf(stderr, "meshctl analyze: %s\n", meshlib_diag_text(d));
    }
    goto out;
  }
  rc = meshlib_config_analyze(cfg);
  if (rc != MESHLIB_OK && rc != MESHLIB_ERR_CONFIG) {
    fprintf(stderr, "meshctl analyze: %s\n", meshlib_strerror(rc));
    goto out;
  }
  size_t n = meshlib_config_diag_count(cfg), errors = 0;
  for (size_t i = 0; i < n; i++)
    if (meshlib_diag_level(meshlib_config_diag(cfg, i)) == MESHLIB_LEVEL_ERROR)
      errors++;
  if (a->c.json) {
    print_json(cfg);
  } else if (n == 0) {
    printf("\u2714 No validation issues found when analyzing ");
    for (size_t i = 0; i < a->c.paths.count; i++)
      printf("%s%s", i ? ", " : "", a->c.paths.items[i]);
    printf(".\n");
  } else {
    print_text(cfg);
  }
  code = errors ? MESHCTL_FINDINGS : MESHCTL_OK;
out:
  meshlib_config_free(cfg);
  meshlib_free(m);
  meshlib_options_free(o);
  return code;
}

int cmd_analyze(int argc, char **argv) {
  analyze_args a = {0};
  int code = parse(argc, argv, &a);
  if (code == 0)
    code = run(&a);
  else if (code < 0)
    code = MESHCTL_OK; /* --help */
  common_args_free(&a.c);
  return code;
}
