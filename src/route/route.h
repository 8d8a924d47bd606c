/* SPDX-License-Identifier: MIT */
#ifndef ML_ROUTE_ROUTE_H
#define ML_ROUTE_ROUTE_H

/* The routing decision: a pure function of the compiled route table and
 * the request. Shaped like Envoy's model: virtual hosts with every domain
 * form of a service -> ordered routes -> weighted destinations. */
#include <stddef.h>
#include <stdint.h>
#include "config/diag.h"
#include "config/model.h"
#include "util/http.h"

typedef struct ml_route_table ml_route_table;

/* A request as the router sees it. Strings need not outlive the call. */
typedef struct ml_route_input {
  const char *method;    /* "GET" */
  const char *scheme;    /* "http" */
  const char *authority; /* as sent: "Reviews:9080" */
  const char *host;      /* lower-case, without port: "reviews" */
  uint32_t port;         /* explicit or the scheme's default */
  const char *path;      /* without the query: "/api/v1" */
  const char *query;     /* after '?', NULL when none */
  const ml_header *headers;
  size_t header_count;
  const ml_kv *source_labels; /* the calling workload's labels */
  size_t source_label_count;
  const char *source_namespace;
} ml_route_input;

/* The merged DestinationRule view of one host (Istio's merge: the first
 * definition of a subset wins, the first top-level trafficPolicy wins). */
typedef struct ml_dr_view {
  const char *host_fqdn;
  const ml_destination_rule *first;        /* the rule named in output */
  const ml_traffic_policy *traffic_policy; /* NULL when none */
  const ml_subset **subsets;
  size_t subset_count;
} ml_dr_view;

typedef struct ml_route_result {
  const ml_virtual_service *vs; /* NULL: no VirtualService for the host */
  const ml_http_route *route;   /* NULL when none matched */
  int32_t route_index;          /* -1 when none */
  int32_t match_index;          /* the rule's match that held (index in
                                   route->matches); -1 when the rule has
                                   no match or none was chosen */
  const char *host_fqdn;        /* the VS host matched, lower-case; NULL
                                   when no VS applies */
  uint32_t flags;               /* MESHLIB_RF_NR when no rule matched */
} ml_route_result;

typedef struct ml_route_settings {
  const char *client_namespace; /* "default" */
  const char *domain_suffix;    /* "cluster.local" */
} ml_route_settings;

/* Compile |c| (which must outlive the table) into a route table. Conflicts
 * that Istio resolves silently (two VirtualServices for one host: the
 * oldest, here the first loaded, wins) are resolved the same way.
 * Returns MESHLIB_OK or MESHLIB_ERR_NOMEM. */
int ml_route_table_build(const ml_mem *mem, const ml_config *c,
                         const ml_route_settings *s, ml_route_table **out);
void ml_route_table_free(ml_route_table *t);
/* Bytes held by the table's index, for memory figures. */
size_t ml_route_table_bytes(const ml_route_table *t);

/* Decide. Never allocates. Returns MESHLIB_OK.
 * As istiod builds a sidecar's routes: a match whose port differs from
 * the request's, or whose sourceLabels / sourceNamespace do not select
 * the client, does not exist for the request. When no match of a
 * VirtualService is left (every rule filtered out, or no http rule), the
 * VirtualService builds no route and the host keeps its default route:
 * the result is that of a host without a VirtualService (vs NULL, no
 * NR). When some are left and none holds, the result is NR. */
int ml_route_decide(const ml_route_table *t, const ml_route_input *in,
                    ml_route_result *out);

/* The DestinationRule view for a destination host (FQDN, lower-case): the
 * most specific host wins (exact, then the longest wildcard); NULL when
 * none. */
const ml_dr_view *ml_route_table_find_dr(const ml_route_table *t,
                                         const char *fqdn);
/* The subset named |name| in |v|, or NULL. */
const ml_subset *ml_dr_view_subset(const ml_dr_view *v, const char *name);

#endif
