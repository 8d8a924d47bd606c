/* SPDX-License-Identifier: MIT */
#ifndef ML_CORE_REQUEST_H
#define ML_CORE_REQUEST_H

#include "core/internal.h"
#include "route/route.h"
#include "transport/transport.h"
#include "util/rand.h"

/* One destination of a decision, resolved against the snapshot. */
typedef struct ml_decision_dest {
  const char *host;
  const char *subset;
  uint32_t port;
  uint32_t weight;
  const ml_route_destination *config; /* NULL for the implicit route */
  const ml_dr_view *dr;
  int missing_subset;
  const struct ml_cluster *cluster; /* of (host, port, subset) in the
                                       snapshot; NULL: none (passthrough)
                                       or a missing subset */
  size_t cluster_off; /* offsets into the decision's text buffer */
  size_t dr_name_off;
} ml_decision_dest;

struct meshlib_decision {
  ml_snapshot *snap; /* held while the decision lives */
  ml_route_result res;
  const char *host; /* FQDN */
  uint32_t port;
  uint32_t flags;
  char route_index_text[16];
  ml_decision_dest *dests;
  size_t dest_count;
  size_t dest_cap;
  ml_buf text;      /* cluster and rule names; reused between decisions */
  ml_buf host_text; /* the FQDN of a host without rules */
  ml_route_destination implicit; /* the route of a host without rules */
  uint32_t dest_flags; /* MESHLIB_RF_NC when a destination lacks its subset */
  int valid; /* dests and text describe (snap, res.vs, res.route, port) */
};

/* One attempt as prepared: what is sent, and where. Buffers are reused
 * from one perform to the next. */
typedef struct ml_call_plan {
  int set_cookie; /* a consistent-hash cookie was made for this call */
  ml_buf cookie;  /* its Set-Cookie value */
  int send;       /* an exchange is prepared (and counted in flight) */
  ml_xfer_req x;
  ml_xfer_tls tls;
  ml_buf path;
  ml_header *headers;
  size_t header_count;
  size_t header_cap;
  const ml_decision_dest *dest;
  const ml_http_route *route;
  struct ml_ep_state *state; /* the endpoint's live state, or NULL */
} ml_call_plan;

struct meshlib_request {
  uint32_t magic;
  meshlib *mesh;
  char *method;
  char *url;
  char *scheme;    /* lower-case */
  char *host;      /* lower-case, without port or brackets */
  char *authority; /* as written in the URL */
  char *path;
  char *query;  /* NULL when the URL has none */
  char *target; /* path, then "?query" when there is one: what is sent
                   when no rewrite applies */
  uint32_t port;
  ml_header *headers; /* names lower-cased; strings owned */
  size_t header_count;
  size_t header_cap;
  ml_kv *source_labels; /* owned strings */
  size_t source_label_count;
  char *errmsg;
  struct meshlib_decision decision;
  int has_decision;
  char *body;
  size_t body_len;
  int64_t timeout_ms; /* the application's deadline; 0: none */
  ml_rand rand;       /* destination and endpoint picks */
  /* The response of the last perform. */
  int performed;
  int32_t status;
  uint32_t flags;
  ml_xfer_result xfer;     /* upstream answer (headers, body) */
  ml_header *resp_headers; /* after the route's header rules; strings
                              borrowed from xfer, the snapshot or
                              |location|; kept between performs */
  size_t resp_header_cap;
  const ml_header *resp_list; /* what the getters read: |resp_headers|,
                                 or xfer.headers when no rule applies */
  size_t resp_header_count;
  char *location;         /* a redirect's Location */
  const char *local_body; /* a local reply's body (snapshot or static) */
  size_t local_body_len;
  const char *details; /* static text */
  const char *cluster; /* borrowed from the decision's snapshot */
  char upstream[80];
  uint32_t attempts;
  int64_t start_us;
  int64_t duration_us;
  ml_call_plan plan;
  struct ml_curl_state *curl_state; /* prepared on an application's CURL
                                       handle (core/curl_path.c) */
};

/* The phases of a call, for the synchronous path, the asynchronous client
 * and applications that send with their own CURL handle:
 * ml_call_prepare() routes and picks (a local reply, such as 404 NR,
 * leaves r->plan.send at 0); the caller performs r->plan.x into r->xfer;
 * ml_call_complete() classifies the outcome and applies response rules. */
int ml_call_prepare(meshlib_request *r);
int ml_call_complete(meshlib_request *r);
int ml_request_perform(meshlib_request *r);
/* Drop what meshlib_curl_prepare() left on |r| (meshlib_request_free()). */
void ml_curl_release(meshlib_request *r);

void ml_decision_release(const ml_mem *mem, struct meshlib_decision *d);
int ml_decision_make(struct meshlib_decision *d, const ml_mem *mem,
                     ml_snapshot *snap, const meshlib_request *r,
                     const meshlib *m);

#endif
