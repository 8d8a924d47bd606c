/* SPDX-License-Identifier: MIT */
#include "meshctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int strvec_push(strvec *v, const char *s) {
  if (v->count == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    const char **items = realloc(v->items, cap * sizeof(*items));
    if (!items) {
      fprintf(stderr, "meshctl: out of memory\n");
      return -1;
    }
    v->items = items;
    v->cap = cap;
  }
  v->items[v->count++] = s;
  return 0;
}

void strvec_free(strvec *v) {
  free(v->items);
  v->items = NULL;
  v->count = v->cap = 0;
}

int opt_flag(const char *arg, const char *short_name, const char *long_name) {
  return (short_name && strcmp(arg, short_name) == 0) ||
         (long_name && strcmp(arg, long_name) == 0);
}

int opt_value(int argc, char **argv, int *i, const char *short_name,
              const char *long_name, const char **value) {
  const char *arg = argv[*i];
  const char *name = NULL;
  if (opt_flag(arg, short_name, long_name)) {
    name = arg;
    if (*i + 1 >= argc) {
      fprintf(stderr, "meshctl: option %s needs a value\n", name);
      return -1;
    }
    *value = argv[++*i];
    return 1;
  }
  /* "--filename=x" */
  if (long_name) {
    size_t n = strlen(long_name);
    if (strncmp(arg, long_name, n) == 0 && arg[n] == '=') {
      *value = arg + n + 1;
      return 1;
    }
  }
  /* "-fx" for one-letter options */
  if (short_name && strlen(short_name) == 2 &&
      strncmp(arg, short_name, 2) == 0 && arg[2] != '\0') {
    *value = arg + 2;
    return 1;
  }
  return 0;
}

/* A common option at argv[*i]: as cmd_parser.option. */
static int common_option(const cmd_parser *p, int argc, char **argv, int *i,
                         common_args *c) {
  const char *v = NULL;
  int r;
  if (opt_flag(argv[*i], NULL, "--json")) {
    c->json = 1;
    return 1;
  }
  if ((r = opt_value(argc, argv, i, "-f", "--filename", &v)) != 0)
    return r < 0 || strvec_push(&c->paths, v) < 0 ? -1 : 1;
  if ((r = opt_value(argc, argv, i, "-n", "--namespace", &v)) != 0) {
    if (r > 0)
      c->ns = v;
    return r;
  }
  if ((r = opt_value(argc, argv, i, NULL, "--domain-suffix", &v)) != 0) {
    if (r > 0)
      c->suffix = v;
    return r;
  }
  if ((r = opt_value(argc, argv, i, "-o", "--output", &v)) != 0) {
    if (r < 0)
      return -1;
    if (strcmp(v, "json") == 0) {
      c->json = 1;
      return 1;
    }
    for (size_t k = 0; p->text_formats[k]; k++)
      if (strcmp(v, p->text_formats[k]) == 0)
        return 1;
    fprintf(stderr,
            "meshctl %s: unknown output format \"%s\" "
            "(json or text)\n",
            p->name, v);
    return -1;
  }
  return 0;
}

int parse_args(const cmd_parser *p, int argc, char **argv, common_args *c) {
  int only_positional = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r;
    if (only_positional || arg[0] != '-' || strcmp(arg, "-") == 0) {
      if ((r = p->positional(p->args, arg)) != 0)
        return r;
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      only_positional = 1;
      continue;
    }
    if (opt_flag(arg, "-h", "--help")) {
      p->usage(stdout);
      return -1;
    }
    if (p->command_first) {
      if ((r = p->option(p->args, argc, argv, &i)) == 0)
        r = common_option(p, argc, argv, &i, c);
    } else if ((r = common_option(p, argc, argv, &i, c)) == 0) {
      r = p->option(p->args, argc, argv, &i);
    }
    if (r < 0)
      return MESHCTL_USAGE;
    if (r > 0)
      continue;
    fprintf(stderr,
            "meshctl %s: unknown option \"%s\"\n"
            "Run `meshctl %s --help` for usage.\n",
            p->name, arg, p->name);
    return MESHCTL_USAGE;
  }
  return 0;
}

void common_args_free(common_args *c) {
  strvec_free(&c->paths);
}

int apply_common_args(meshlib_options *o, const common_args *c) {
  int rc = MESHLIB_OK;
  if (c->ns && (rc = meshlib_options_set_namespace(o, c->ns)) != MESHLIB_OK)
    return rc;
  if (c->suffix)
    rc = meshlib_options_set_domain_suffix(o, c->suffix);
  return rc;
}

int check_path(const char *cmd, const char *path) {
  struct stat st;
  if (stat(path, &st) == 0)
    return 0;
  fprintf(stderr, "meshctl %s: cannot read \"%s\": %s\n", cmd, path,
          strerror(errno));
  return -1;
}

void options_error(const char *cmd, const meshlib_options *o, int rc) {
  const char *msg = o ? meshlib_options_errmsg(o) : "";
  fprintf(stderr, "meshctl %s: %s\n", cmd,
          msg && *msg ? msg : meshlib_strerror(rc));
}

char *split_header(const char *cmd, const char *h, const char **value) {
  const char *colon = strchr(h, ':');
  if (!colon || colon == h) {
    fprintf(stderr, "meshctl %s: bad header \"%s\" (expected 'Name: value')\n",
            cmd, h);
    return NULL;
  }
  size_t n = (size_t)(colon - h);
  char *name = malloc(n + 1);
  if (!name) {
    fprintf(stderr, "meshctl %s: out of memory\n", cmd);
    return NULL;
  }
  memcpy(name, h, n);
  name[n] = '\0';
  const char *v = colon + 1;
  while (*v == ' ' || *v == '\t')
    v++;
  *value = v;
  return name;
}

int finish_mesh(const char *cmd, meshlib_options *o, const common_args *c,
                meshlib **out) {
  int rc = MESHLIB_OK;
  for (size_t i = 0; rc == MESHLIB_OK && i < c->paths.count; i++) {
    if (check_path(cmd, c->paths.items[i]) < 0) {
      meshlib_options_free(o);
      return MESHCTL_USAGE;
    }
    rc = meshlib_options_add_config_path(o, c->paths.items[i]);
  }
  if (rc == MESHLIB_OK)
    rc = meshlib_new(out, o);
  if (rc != MESHLIB_OK)
    options_error(cmd, o, rc);
  meshlib_options_free(o);
  return rc == MESHLIB_OK ? 0 : MESHCTL_USAGE;
}

void json_str(FILE *f, const char *s) {
  if (!s) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    default:
      if (*p < 0x20)
        fprintf(f, "\\u%04x", (unsigned)*p);
      else
        fputc(*p, f);
    }
  }
  fputc('"', f);
}

const char *level_name(int level) {
  switch (level) {
  case MESHLIB_LEVEL_ERROR:
    return "Error";
  case MESHLIB_LEVEL_WARNING:
    return "Warning";
  case MESHLIB_LEVEL_INFO:
    return "Info";
  default:
    return "Debug";
  }
}
