/* SPDX-License-Identifier: MIT */
#ifndef ML_CONFIG_HOSTNAME_H
#define ML_CONFIG_HOSTNAME_H

#include "util/mem.h"

/* Istio's short-name rule: a host without a dot ("reviews") means
 * "reviews.<ns>.svc.<suffix>"; a host with a dot or a wildcard is taken
 * as written. The result is lower-cased and lives in |a|. */
char *ml_host_fqdn(ml_arena *a, const char *host, const char *ns,
                   const char *domain_suffix);

#endif
