/* SPDX-License-Identifier: MIT */
#ifndef ML_CONFIG_ANALYZE_H
#define ML_CONFIG_ANALYZE_H

#include "config/diag.h"
#include "config/model.h"

/* Check |c| as `istioctl analyze` does; findings go to |d|. |client_ns|
 * and |domain_suffix| are the mesh's. Returns the number of errors added,
 * or -1 when out of memory. Pure: no I/O. */
int ml_analyze(const ml_config *c, const char *client_ns,
               const char *domain_suffix, ml_diags *d);

#endif
