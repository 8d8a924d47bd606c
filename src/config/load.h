/* SPDX-License-Identifier: MIT */
#ifndef ML_CONFIG_LOAD_H
#define ML_CONFIG_LOAD_H

/* YAML (libyaml) -> typed model. No I/O beyond reading the named files. */
#include "config/diag.h"
#include "config/model.h"

typedef struct ml_load_opts {
  const char *domain_suffix; /* "cluster.local" */
  int strict;                /* unknown fields are errors */
} ml_load_opts;

ml_config *ml_config_new(const ml_mem *mem);
void ml_config_free(ml_config *c);

/* Call |cb| with the full path of each config file of directory |path|,
 * as the loader reads them: *.yaml, *.yml and *.json, not hidden, regular
 * files (symlinks followed), not recursive, in name order. Returns 0; the
 * first nonzero value of |cb| (which stops the walk); or -1 with errno set
 * when the directory cannot be opened or memory runs out (ENOMEM). */
int ml_config_dir_each(const ml_mem *mem, const char *path,
                       int (*cb)(const char *file, void *ud), void *ud);

/* Read a file, or every *.yaml, *.yml and *.json file of a directory in
 * name order, appending the objects to |c|. Problems go to |d|; the input
 * is read to its end so that every problem is reported.
 * Returns MESHLIB_OK or the meshlib_error of the first problem found. */
int ml_config_load_path(ml_config *c, const char *path, const ml_load_opts *o,
                        ml_diags *d);
/* The same for |len| bytes of text labelled |name|. */
int ml_config_load_string(ml_config *c, const char *name, const char *data,
                          size_t len, const ml_load_opts *o, ml_diags *d);

#endif
