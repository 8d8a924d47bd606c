/* SPDX-License-Identifier: MIT */
#ifndef ML_CONFIG_ANALYZE_H
#define ML_CONFIG_ANALYZE_H

#include "config/diag.h"
#include "config/model.h"

/* Check |c| as `istioctl analyze` does; findings go to |d|.
 * |client_ns| is the namespace of the calling workload: objects whose
 * exportTo hides them from it are left out, and hosts must be exported
 * to it. NULL, "" or "*" analyzes every namespace (istioctl analyze -A):
 * references are then resolved from the namespaces each object is
 * exported to (its own when exported to all). |domain_suffix| is the
 * mesh's ("cluster.local" when NULL). Returns the number of errors added,
 * or -1 when out of memory. Pure: no I/O. */
int ml_analyze(const ml_config *c, const char *client_ns,
               const char *domain_suffix, ml_diags *d);

#endif
