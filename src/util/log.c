/* SPDX-License-Identifier: MIT */
#include "util/log.h"
#include <stdio.h>

void ml_vlogf(const ml_logger *l, int level, const char *fmt, va_list ap) {
  if (!l->cb || level > l->level)
    return;
  char line[1024];
  vsnprintf(line, sizeof(line), fmt, ap);
  l->cb(level, line, l->user_data);
}
