/* SPDX-License-Identifier: MIT */
#include "config/hostname.h"

#include <stdio.h>
#include <string.h>

char *ml_host_fqdn(ml_arena *a, const char *host, const char *ns,
                   const char *domain_suffix) {
  if (!host)
    return NULL;
  if (strchr(host, '.') || strchr(host, '*'))
    return ml_arena_strdup_lower(a, host);
  size_t n = strlen(host) + strlen(ns) + strlen(domain_suffix) + 7;
  char *d = ml_arena_alloc(a, n);
  if (!d)
    return NULL;
  snprintf(d, n, "%s.%s.svc.%s", host, ns, domain_suffix);
  for (char *p = d; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  return d;
}
