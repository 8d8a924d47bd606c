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
  MESHCTL_OK = 0,         /* clean / a route was found */
  MESHCTL_FINDINGS = 1,   /* analyze: an error-level finding */
  MESHCTL_USAGE = 2,      /* bad arguments or unusable input */
  MESHCTL_NO_ROUTE = 3,   /* route: the host has rules, none matched (NR) */
  MESHCTL_CALL_FAILED = 1 /* call: meshlib gave no response to some call */
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

/* The options that every subcommand takes. */
typedef struct common_args {
  strvec paths;       /* -f/--filename, repeatable */
  const char *ns;     /* -n/--namespace */
  const char *suffix; /* --domain-suffix */
  int json;           /* --json or -o json */
} common_args;

/* What a subcommand adds to the common options. */
typedef struct cmd_parser {
  const char *name; /* "analyze": names the command in messages */
  void (*usage)(FILE *f);
  /* The -o values besides "json" that mean text; NULL-terminated. */
  const char *const *text_formats;
  /* A positional argument (or any after "--"): 0, else the exit code. */
  int (*positional)(void *args, const char *arg);
  /* The command's own option at argv[*i], as opt_value returns: 1 when
   * taken (*i advanced past its value), 0 when not, -1 on an error. */
  int (*option)(void *args, int argc, char **argv, int *i);
  void *args; /* passed to positional and option */
  /* Nonzero: the command's own options are tried before the common ones,
   * so that it may give a common short name another meaning (`meshctl
   * call -n COUNT`, as in `ab -n`; its namespace is --namespace). */
  int command_first;
} cmd_parser;

/* Parses argv[1..] into |c| and, through |p|, the command's own args.
 * Returns 0 to go on, -1 after printing --help, else the exit code. */
int parse_args(const cmd_parser *p, int argc, char **argv, common_args *c);
void common_args_free(common_args *c);

/* Applies the common options to |o|: a meshlib error code. */
int apply_common_args(meshlib_options *o, const common_args *c);
/* Checks that |path| exists, so that a typo is a usage problem rather than
 * a finding: 0, or -1 after printing why not. */
int check_path(const char *cmd, const char *path);
/* Prints why meshlib_options/meshlib setup failed with |rc|. */
void options_error(const char *cmd, const meshlib_options *o, int rc);
/* "Name: value" split: the name (malloc'd) and *value (borrowed from |h|,
 * leading blanks skipped); NULL after saying why on stderr. */
char *split_header(const char *cmd, const char *h, const char **value);
/* Add |c|'s config paths to |o| (taken and freed) and create the mesh;
 * 0, or MESHCTL_USAGE after saying why on stderr. */
int finish_mesh(const char *cmd, meshlib_options *o, const common_args *c,
                meshlib **out);

/* Write |s| as a JSON string literal; NULL gives null. */
void json_str(FILE *f, const char *s);

/* "Error", "Warning", "Info" for a meshlib_level. */
const char *level_name(int level);

int cmd_analyze(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_call(int argc, char **argv);
int cmd_mock(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_proxy_config(int argc, char **argv);
void usage_proxy_config(FILE *f);
void usage_watch(FILE *f);
void usage_analyze(FILE *f);
void usage_route(FILE *f);
void usage_call(FILE *f);
void usage_mock(FILE *f);

#endif
