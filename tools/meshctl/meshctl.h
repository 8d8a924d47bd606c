/* SPDX-License-Identifier: MIT */
#ifndef MESHCTL_H
#define MESHCTL_H

/* meshctl: a command-line front end to meshlib, built on the public API
 * alone (meshlib.h) so that it doubles as a test of that API. */
#include <stddef.h>
#include <stdio.h>
#include "meshlib/meshlib.h"

/* Exit codes, shared by every subcommand. */
enum {
  MESHCTL_OK = 0,       /* clean / a route was found */
  MESHCTL_FINDINGS = 1, /* analyze: an error-level finding */
  MESHCTL_USAGE = 2,    /* bad arguments or unusable input */
  MESHCTL_NO_ROUTE = 3  /* route: the host has rules, none matched (NR) */
};

/* A growable list of borrowed argv strings. */
typedef struct strvec {
  const char **items;
  size_t count;
  size_t cap;
} strvec;

int strvec_push(strvec *v, const char *s);
void strvec_free(strvec *v);

/* Option parsing: when argv[*i] is |short_name| or |long_name| (either may
 * be NULL), store its value (the next argument, the rest of "-fVALUE" or
 * of "--name=VALUE") in *value, advance *i past it and return 1. Returns
 * -1 when the value is missing (after printing an error), 0 when argv[*i]
 * is another option. */
int opt_value(int argc, char **argv, int *i, const char *short_name,
              const char *long_name, const char **value);
/* 1 when argv[i] is |short_name| or |long_name|. */
int opt_flag(const char *arg, const char *short_name, const char *long_name);

/* Write |s| as a JSON string literal; NULL gives null. */
void json_str(FILE *f, const char *s);

/* "Error", "Warning", "Info" for a meshlib_level. */
const char *level_name(int level);

int cmd_analyze(int argc, char **argv);
int cmd_route(int argc, char **argv);
void usage_analyze(FILE *f);
void usage_route(FILE *f);

#endif
