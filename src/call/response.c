/* SPDX-License-Identifier: MIT */
/* The answer of the last perform, and its attempts, as the caller reads
 * them. */
#include "call/request.h"
#include "policy/policy.h"

int32_t meshlib_response_status(const meshlib_request *r) {
  return GOOD_REQUEST(r) ? r->status : 0;
}

uint32_t meshlib_response_flags(const meshlib_request *r) {
  return GOOD_REQUEST(r) ? r->flags : 0;
}

size_t meshlib_response_header_count(const meshlib_request *r) {
  return GOOD_REQUEST(r) ? r->resp_header_count : 0;
}

int meshlib_response_header_at(const meshlib_request *r, size_t i,
                               const char **name, const char **value) {
  if (!GOOD_REQUEST(r) || !name || !value)
    return MESHLIB_ERR_INVALID_ARG;
  if (i >= r->resp_header_count)
    return MESHLIB_ERR_RANGE;
  *name = r->resp_list[i].name;
  *value = r->resp_list[i].value;
  return MESHLIB_OK;
}

const char *meshlib_response_header(const meshlib_request *r,
                                    const char *name) {
  if (!GOOD_REQUEST(r) || !name)
    return NULL;
  return ml_header_find(r->resp_list, r->resp_header_count, name);
}

const char *meshlib_response_body(const meshlib_request *r, size_t *len) {
  if (len)
    *len = 0;
  if (!GOOD_REQUEST(r) || !r->performed)
    return NULL;
  if (r->local_body) {
    if (len)
      *len = r->local_body_len;
    return r->local_body;
  }
  if (len)
    *len = r->xfer.body_len;
  return r->xfer.body ? r->xfer.body : "";
}

const char *meshlib_response_upstream(const meshlib_request *r) {
  return GOOD_REQUEST(r) && r->upstream[0] ? r->upstream : NULL;
}

const char *meshlib_response_cluster(const meshlib_request *r) {
  return GOOD_REQUEST(r) ? r->cluster : NULL;
}

const meshlib_decision *meshlib_response_decision(const meshlib_request *r) {
  return GOOD_REQUEST(r) && r->performed && r->has_decision ? &r->decision
                                                            : NULL;
}

uint32_t meshlib_response_attempts(const meshlib_request *r) {
  return GOOD_REQUEST(r) ? r->attempts : 0;
}

int64_t meshlib_response_duration_us(const meshlib_request *r) {
  return GOOD_REQUEST(r) ? r->duration_us : 0;
}

const char *meshlib_response_details(const meshlib_request *r) {
  return GOOD_REQUEST(r) && r->details ? r->details : "";
}

/* Public getters of the attempts. */

static const ml_attempt_info *attempt_at(const meshlib_request *r, uint32_t i) {
  if (!GOOD_REQUEST(r) || i >= r->attempts)
    return NULL;
  return &r->plan.attempts[i];
}

const char *meshlib_response_attempt_upstream(const meshlib_request *r,
                                              uint32_t i) {
  const ml_attempt_info *a = attempt_at(r, i);
  return a ? a->upstream : NULL;
}

int32_t meshlib_response_attempt_status(const meshlib_request *r, uint32_t i) {
  const ml_attempt_info *a = attempt_at(r, i);
  return a ? a->status : 0;
}

uint32_t meshlib_response_attempt_flags(const meshlib_request *r, uint32_t i) {
  const ml_attempt_info *a = attempt_at(r, i);
  return a ? a->flags : 0;
}

int64_t meshlib_response_attempt_duration_us(const meshlib_request *r,
                                             uint32_t i) {
  const ml_attempt_info *a = attempt_at(r, i);
  return a ? a->duration_us : -1;
}

const char *meshlib_response_attempt_retry_reason(const meshlib_request *r,
                                                  uint32_t i) {
  const ml_attempt_info *a = attempt_at(r, i);
  return a && a->retry_reason ? ml_retry_reason_name(a->retry_reason) : NULL;
}
