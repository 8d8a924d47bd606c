/* SPDX-License-Identifier: MIT */
#ifndef ML_UTIL_LOG_H
#define ML_UTIL_LOG_H

/* The application's log callback (meshlib_options_set_log) as each layer
 * holds it, and the one place that formats a line for it. */
#include <stdarg.h>
#include "meshlib/mesh.h"

typedef struct ml_logger {
  meshlib_log_cb cb; /* NULL: no log */
  void *user_data;
  int level; /* lines above this MESHLIB_LEVEL_* are dropped */
} ml_logger;

/* One line of at most 1023 bytes, formatted only when it will be logged. */
void ml_vlogf(const ml_logger *l, int level, const char *fmt, va_list ap);

#endif
