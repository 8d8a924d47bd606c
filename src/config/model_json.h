/* SPDX-License-Identifier: MIT */
#ifndef ML_CONFIG_MODEL_JSON_H
#define ML_CONFIG_MODEL_JSON_H

/* The config model as JSON, written with util/json.h. One function per
 * model piece, in two shapes:
 *  - ML_MODEL_JSON_ISTIO: Istio's camelCase field names; absent fields
 *    and empty lists and maps left out; durations as Istio writes them
 *    ("2.500s"). The admin listener's /config_dump and /routes.
 *  - ML_MODEL_JSON_FLAT: snake_case names; absent fields written as
 *    null, empty lists and maps as [] and {}; durations as integer
 *    milliseconds in keys ending in _ms. `meshctl route --json`
 *    (meshlib_decision_to_json()).
 * |key| is the member name, NULL inside an array (json.h). A function
 * given a NULL model piece writes nothing (ISTIO) or null (FLAT). */

#include <stdint.h>
#include "config/model.h"
#include "util/json.h"

typedef enum ml_model_json_style {
  ML_MODEL_JSON_ISTIO = 0,
  ML_MODEL_JSON_FLAT
} ml_model_json_style;

/* A duration of |ms| milliseconds (< 0: absent). */
void ml_model_json_duration(ml_json *w, ml_model_json_style st, const char *key,
                            int64_t ms);
void ml_model_json_kvs(ml_json *w, ml_model_json_style st, const char *key,
                       const ml_kv_list *l);
void ml_model_json_strs(ml_json *w, ml_model_json_style st, const char *key,
                        const ml_str_list *l);

/* 1 when |h| sets, adds and removes nothing. */
int ml_model_json_headers_empty(const ml_headers *h);
/* Headers {request, response}; empty ones count as absent. */
void ml_model_json_headers(ml_json *w, ml_model_json_style st, const char *key,
                           const ml_headers *h);

void ml_model_json_rewrite(ml_json *w, ml_model_json_style st, const char *key,
                           const ml_http_rewrite *rw);
void ml_model_json_redirect(ml_json *w, ml_model_json_style st, const char *key,
                            const ml_http_redirect *rd);
void ml_model_json_direct_response(ml_json *w, ml_model_json_style st,
                                   const char *key,
                                   const ml_direct_response *dr);
void ml_model_json_fault(ml_json *w, ml_model_json_style st, const char *key,
                         const ml_fault *f);
/* The members attempts, perTryTimeout and retryOn of HTTPRetry, into
 * the object open in |w|: callers add their own around them. */
void ml_model_json_retry_fields(ml_json *w, ml_model_json_style st,
                                const ml_http_retry *r);

/* Whole resources, Istio's shape only (metadata, apiVersion, kind,
 * source "file:line", spec), each as one array element. */
void ml_model_json_virtual_service(ml_json *w, const ml_virtual_service *vs);
void ml_model_json_destination_rule(ml_json *w, const ml_destination_rule *dr);
void ml_model_json_service_entry(ml_json *w, const ml_service_entry *se);
void ml_model_json_workload_entry(ml_json *w, const ml_workload_entry *we);

#endif
