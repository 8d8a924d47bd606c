/* SPDX-License-Identifier: MIT */
/* The synchronous driver: a call performed on the calling thread, which
 * sleeps through a fault's delay and a retry's backoff. */
#include "call/request.h"

static int perform(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  p->blocking = 1;
  int rc = ml_call_prepare(r);
  while (rc == MESHLIB_OK && p->step != ML_STEP_DONE) {
    if (p->step == ML_STEP_WAIT) {
      ml_sleep_ms(p->wait_ms);
      rc = ml_call_resume(r);
      continue;
    }
    rc = ml_xfer_perform(r->env->mem, &p->x, &r->xfer);
    if (rc != MESHLIB_OK) {
      r->xfer.outcome = ML_XFER_LOCAL_ERROR;
      break;
    }
    rc = ml_call_attempt_end(r);
  }
  if (rc != MESHLIB_OK) {
    ml_call_abandon(r);
    return rc;
  }
  return ml_call_complete(r);
}

int meshlib_request_perform(meshlib_request *r) {
  if (!GOOD_REQUEST(r))
    return MESHLIB_ERR_INVALID_ARG;
  return perform(r);
}
