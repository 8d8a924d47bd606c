/* SPDX-License-Identifier: MIT */
/* The end of a call: the attempt under way closed, what the call holds
 * given back, the response's header rules applied, and one record of the
 * whole call handed to telemetry (metrics, span, access log). */
#include <string.h>
#include "call/request.h"
#include "telemetry/trace.h"

static const char *grpc_status_of(const meshlib_request *r) {
  const char *v =
      ml_header_find(r->xfer.trailers, r->xfer.trailer_count, "grpc-status");
  return v ? v
           : ml_header_find(r->resp_list, r->resp_header_count, "grpc-status");
}

static void report(meshlib_request *r) {
  const ml_call_plan *p = &r->plan;
  const ml_decision_dest *dest = p->dest;
  const meshlib_decision *d = &r->decision;
  ml_call_info ci;
  memset(&ci, 0, sizeof(ci));
  ci.trace = r->trace;
  ci.headers = r->headers;
  ci.header_count = r->header_count;
  ci.scheme = r->scheme;
  ci.method = r->method;
  ci.authority = p->x.authority ? p->x.authority : r->authority;
  ci.path = r->target;
  ci.protocol = p->grpc ? "grpc" : "http";
  ci.http_version = r->xfer.http_version;
  ci.dest_service = dest ? dest->host : d->host;
  ci.dest_subset = dest ? dest->subset : NULL;
  ci.cluster = r->cluster;
  ci.route_name = d->res.route ? d->res.route->name : NULL;
  ci.vs_name = d->res.vs ? d->res.vs->meta.name : NULL;
  ci.vs_namespace = d->res.vs ? d->res.vs->meta.namespace_ : NULL;
  if (p->cluster && p->has_ep)
    ci.dest_labels = &p->cluster->endpoints[p->ep_index].labels;
  ci.status = r->status;
  ci.grpc_status = grpc_status_of(r);
  ci.flags = r->flags;
  ci.details = r->details ? r->details : "";
  ci.code_details = r->code_details;
  ci.request_bytes = r->attempts ? r->body_len : 0;
  ci.response_bytes =
      r->local_body ? r->local_body_len : (uint64_t)r->xfer.body_len;
  ci.start_us = r->start_us;
  ci.start_wall_us = r->start_wall_us;
  ci.duration_us = r->duration_us;
  ci.upstream = r->upstream;
  ci.request_id = ml_trace_request_id(r->trace);
  ci.attempts = p->attempts;
  ci.attempt_count = r->attempts;
  ml_telemetry_call_end(r->env->telemetry, &ci);
}

void ml_call_abandon(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  if (p->step == ML_STEP_SEND) {
    r->xfer.outcome = ML_XFER_LOCAL_ERROR;
    ml_call_attempt_close(r);
  }
  p->step = ML_STEP_DONE;
  ml_call_release_holds(r);
}

int ml_call_complete(meshlib_request *r) {
  ml_call_plan *p = &r->plan;
  int rc = MESHLIB_OK;
  if (p->step == ML_STEP_SEND) /* the exchange ended without a retry */
    ml_call_attempt_close(r);
  else if (p->step == ML_STEP_WAIT && r->xfer.outcome == ML_XFER_ABORTED)
    ml_call_local_reply(r, 499, MESHLIB_RF_DC, DETAILS_DC, "", 0);
  p->step = ML_STEP_DONE;
  ml_call_release_holds(r);
  if (r->attempts && !r->local_body)
    rc = ml_call_response_headers(r);
  r->flags |= p->call_flags;
  r->duration_us = ml_now_us() - r->start_us;
  if (r->has_decision)
    report(r);
  return rc;
}
