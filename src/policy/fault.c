/* SPDX-License-Identifier: MIT */
/* Fault injection as Envoy's fault filter applies Istio's `fault`. */
#include <string.h>
#include "policy/policy.h"

int ml_percent_hit(double percent, uint64_t random) {
  if (!(percent > 0)) /* absent (< 0), zero, or NaN */
    return 0;
  if (percent >= 100)
    return 1;
  /* Istio sends FractionalPercent{value * 10000, MILLION}; Envoy draws
   * random % denominator < numerator. */
  uint64_t numerator = (uint64_t)(percent * 10000.0);
  return random % 1000000u < numerator;
}

void ml_fault_decide(const ml_fault *f, uint64_t random_delay,
                     uint64_t random_abort, ml_fault_action *out) {
  memset(out, 0, sizeof(*out));
  if (!f)
    return;
  /* The loader folds the older integer `percent` into the percentage;
   * a fault without either applies to no request. */
  if (f->has_delay && f->delay_fixed_ms > 0 &&
      ml_percent_hit(f->delay_percentage.value, random_delay))
    out->delay_ms = f->delay_fixed_ms;
  if (f->has_abort && ml_percent_hit(f->abort_percentage.value, random_abort)) {
    if (f->abort_grpc_status) {
      /* A gRPC abort answers 200 with grpc-status, as Envoy does. */
      out->abort_status = 200;
      out->abort_grpc_status = f->abort_grpc_status;
    } else if (f->abort_http_status > 0) {
      out->abort_status = f->abort_http_status;
    }
  }
}
