/* SPDX-License-Identifier: MIT */
#ifndef ML_TELEMETRY_ACCESS_LOG_H
#define ML_TELEMETRY_ACCESS_LOG_H

/* Access logs: one line per call in Istio's default text format or its
 * JSON encoding, to a file and/or a callback; off by default. */
#include "telemetry/telemetry.h"
#include "util/mem.h"

typedef struct ml_access_log ml_access_log;

/* Open the log |s| asks for into t->access_log (NULL when off);
 * MESHLIB_ERR_IO, logged, when the file cannot be opened. */
int ml_access_log_open(ml_telemetry *t, const ml_telemetry_settings *s);
void ml_access_log_close(ml_telemetry *t);

/* A call ended: write its access-log line when logging is on. */
void ml_access_log_call_end(ml_telemetry *t, const ml_call_info *info);

/* Format |info| as one line (ending in "\n") into |b|: |json| selects
 * the JSON encoding. |user_agent| and |xff| are the request's headers (or
 * NULL). Exposed for unit tests. */
int ml_access_log_format(ml_buf *b, const ml_call_info *info, int json,
                         const char *user_agent, const char *xff);

#endif
