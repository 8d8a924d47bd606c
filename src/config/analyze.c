/* SPDX-License-Identifier: MIT */
#include "config/analyze.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "meshlib/mesh.h"
#include "util/str.h"

/* Analyzer codes. Where Istio's analyzer has a message for the problem we
 * reuse its code and wording (pkg/config/analysis/msg/messages.yaml), so
 * that people who know `istioctl analyze` recognise them; meshlib's own
 * findings are ML01xx. */
#define CODE_REF_NOT_FOUND "IST0101"   /* ReferencedResourceNotFound */
#define CODE_VS_CONFLICT "IST0109"     /* ConflictingMeshGatewayVSHosts */
#define CODE_PORT_REQUIRED "IST0112"   /* VSDestinationPortSelectorRequired */
#define CODE_NO_CA_DR "IST0128"        /* NoServerCertVerificationDRLevel */
#define CODE_NO_CA_PORT "IST0129"      /* NoServerCertVerificationPortLevel */
#define CODE_UNREACHABLE "IST0130"     /* VirtualServiceUnreachableRule */
#define CODE_INEFFECTIVE "IST0131"     /* VirtualServiceIneffectiveMatch */
#define CODE_SUBSET_NO_PODS "IST0173"  /* DRSubsetNotSelectPods */
#define CODE_SE_PROTOCOL "IST0177"     /* ConflictingServiceEntryProtocol */
#define CODE_UNKNOWN_DR_HOST "IST0174" /* UnknownDestinationRuleHost */
#define CODE_ZERO_WEIGHTS "ML0101"     /* total destination weight = 0 */
#define CODE_DUP_ROUTE_NAME "ML0103"   /* two rules share a name */
#define CODE_DR_SHADOWED "ML0104"      /* merged DR part is ignored */

typedef struct actx {
  const ml_config *c;
  const char *client_ns; /* NULL: every namespace, as istioctl analyze -A */
  const char *suffix;    /* domain suffix, "cluster.local" */
  ml_diags *d;
} actx;

/* ---------------------------------------------------------------- */
/* Small helpers                                                     */

static int str_eq(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

static const ml_origin *pick_origin(const ml_origin *a, const ml_origin *b) {
  if (a && a->file)
    return a;
  return b;
}

static void resource_name(char *buf, size_t len, const ml_meta *m,
                          const char *kind) {
  snprintf(buf, len, "%s %s/%s", m->kind ? m->kind : kind,
           m->namespace_ ? m->namespace_ : "default", m->name ? m->name : "");
}

/* How Istio names a rule in IST0130/IST0131: its name quoted, else #n. */
static void rule_label(char *buf, size_t len, const ml_http_route *r,
                       size_t idx) {
  if (r->name && *r->name)
    snprintf(buf, len, "\"%s\"", r->name);
  else
    snprintf(buf, len, "#%zu", idx);
}

static void match_label(char *buf, size_t len, const ml_http_match *m,
                        size_t idx) {
  if (m->name && *m->name)
    snprintf(buf, len, "\"%s\"", m->name);
  else
    snprintf(buf, len, "#%zu", idx);
}

/* Wildcard-aware host match: |pattern| "*.example.com" covers
 * "a.example.com" and "*.b.example.com"; "*" covers everything. Both are
 * lower-case FQDNs. */
static int host_covers(const char *pattern, const char *host) {
  if (!pattern || !host)
    return 0;
  if (strcmp(pattern, host) == 0)
    return 1;
  if (pattern[0] != '*')
    return 0;
  const char *suffix = pattern + 1;
  size_t hn = strlen(host), sn = strlen(suffix);
  return hn > sn && memcmp(host + hn - sn, suffix, sn) == 0;
}

static int hosts_overlap(const char *a, const char *b) {
  return host_covers(a, b) || host_covers(b, a);
}

/* "name.ns.svc.<suffix>": a name Kubernetes DNS gives a Service. We cannot
 * see the cluster, so such a host is assumed to exist (the way meshlib
 * itself passes unknown hosts through). Wildcards that can only cover such
 * names ("*.ns.svc.<suffix>", "*.svc.<suffix>", "*.<suffix>", "*") count
 * too. */
static int is_k8s_host(const char *host, const char *suffix) {
  char tail[256];
  if (!host || !suffix)
    return 0;
  int n = snprintf(tail, sizeof(tail), ".svc.%s", suffix);
  if (n < 0 || (size_t)n >= sizeof(tail))
    return 0;
  int labels = 2; /* "name.ns" before ".svc.<suffix>" */
  if (host[0] == '*') {
    const char *p = host + 1;
    if (ml_ends_with(tail, p))
      return 1; /* "*", "*.svc.cluster.local", "*.cluster.local" */
    if (*p != '.')
      return 0;
    host = p + 1; /* "*.ns.svc.<suffix>": "ns" is left */
    labels = 1;
  }
  if (!ml_ends_with(host, tail))
    return 0;
  size_t prefix = strlen(host) - (size_t)n;
  int count = 1;
  for (size_t i = 0; i < prefix; i++) {
    if (host[i] != '.')
      continue;
    if (i == 0 || i + 1 == prefix || host[i - 1] == '.')
      return 0; /* an empty label */
    count++;
  }
  return prefix > 0 && count == labels;
}

static const char *dest_fqdn(const ml_destination *dst) {
  return dst->fqdn ? dst->fqdn : dst->host;
}

/* |have| includes every label of |want|. */
static int labels_include(const ml_kv_list *have, const ml_kv_list *want) {
  for (size_t i = 0; i < want->count; i++) {
    int found = 0;
    for (size_t j = 0; j < have->count && !found; j++)
      found = str_eq(have->items[j].key, want->items[i].key) &&
              str_eq(have->items[j].value, want->items[i].value);
    if (!found)
      return 0;
  }
  return 1;
}

/* A WorkloadEntry's labels: spec.labels, with the object's metadata labels
 * as a fallback for keys the spec does not set. */
static int we_has_labels(const ml_workload_entry *we, const ml_kv_list *want) {
  for (size_t i = 0; i < want->count; i++) {
    ml_kv_list one = {&want->items[i], 1};
    if (!labels_include(&we->spec.labels, &one) &&
        !labels_include(&we->meta.labels, &one))
      return 0;
  }
  return 1;
}

/* ---------------------------------------------------------------- */
/* exportTo: who sees what                                           */

/* Namespace |ns| sees an object of namespace |obj_ns| exported to
 * |exp|: an empty list or "*" is every namespace, "." the object's own,
 * "~" none (Istio's defaults). */
static int ns_sees(const ml_str_list *exp, const char *obj_ns, const char *ns) {
  if (exp->count == 0)
    return 1;
  for (size_t i = 0; i < exp->count; i++) {
    const char *e = exp->items[i];
    if (str_eq(e, "*") || str_eq(e, ns) ||
        (str_eq(e, ".") && str_eq(obj_ns, ns)))
      return 1;
  }
  return 0;
}

/* The namespaces an object is written for, the ones Istio's analyzers
 * look things up from: those of its exportTo ("." is its own), or its
 * own namespace when it is exported to all of them. Calls |fn| for each
 * until it returns nonzero, and returns that. */
static int for_home_ns(const ml_str_list *exp, const char *obj_ns,
                       int (*fn)(const char *ns, const void *arg),
                       const void *arg) {
  int all = exp->count == 0;
  for (size_t i = 0; i < exp->count; i++) {
    const char *e = exp->items[i];
    if (str_eq(e, "*")) {
      all = 1;
      continue;
    }
    if (str_eq(e, "~"))
      continue;
    int r = fn(str_eq(e, ".") ? obj_ns : e, arg);
    if (r)
      return r;
  }
  return all ? fn(obj_ns, arg) : 0;
}

/* The object is visible where the analysis looks: to the client's
 * namespace, or (every namespace) to anyone at all. */
static int visible(const actx *a, const ml_str_list *exp, const char *obj_ns) {
  if (a->client_ns)
    return ns_sees(exp, obj_ns, a->client_ns);
  if (exp->count == 0)
    return 1;
  for (size_t i = 0; i < exp->count; i++)
    if (!str_eq(exp->items[i], "~"))
      return 1;
  return 0;
}

typedef struct see_arg {
  const ml_str_list *exp;
  const char *obj_ns;
} see_arg;

static int home_sees(const char *ns, const void *arg) {
  const see_arg *s = arg;
  return ns_sees(s->exp, s->obj_ns, ns);
}

/* From the point of view of |from| (a VirtualService or DestinationRule
 * of namespace |from_ns|), object |to| can be referred to: the client
 * sees it, or (every namespace) one of |from|'s home namespaces does. */
static int reachable(const actx *a, const ml_str_list *from_exp,
                     const char *from_ns, const ml_str_list *to_exp,
                     const char *to_ns) {
  if (a->client_ns)
    return ns_sees(to_exp, to_ns, a->client_ns);
  see_arg s = {to_exp, to_ns};
  return for_home_ns(from_exp, from_ns, home_sees, &s);
}

/* Some namespace sees both objects: the client's, or (every namespace)
 * any one. */
static int seen_together(const actx *a, const ml_str_list *x_exp,
                         const char *x_ns, const ml_str_list *y_exp,
                         const char *y_ns) {
  if (a->client_ns)
    return ns_sees(x_exp, x_ns, a->client_ns) &&
           ns_sees(y_exp, y_ns, a->client_ns);
  int x_all = x_exp->count == 0, y_all = y_exp->count == 0;
  for (size_t i = 0; i < x_exp->count; i++)
    x_all = x_all || str_eq(x_exp->items[i], "*");
  for (size_t i = 0; i < y_exp->count; i++)
    y_all = y_all || str_eq(y_exp->items[i], "*");
  if (x_all && y_all)
    return 1;
  if (x_all)
    return visible(a, y_exp, y_ns);
  if (y_all)
    return visible(a, x_exp, x_ns);
  for (size_t i = 0; i < x_exp->count; i++) {
    const char *e = str_eq(x_exp->items[i], ".") ? x_ns : x_exp->items[i];
    if (!str_eq(e, "~") && ns_sees(y_exp, y_ns, e))
      return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* Who defines a host                                                */

/* One of |hosts| (as resolved in |fqdns|, when there) overlaps |host|. */
static int hosts_claim(const ml_str_list *hosts, const char *const *fqdns,
                       const char *host) {
  for (size_t h = 0; h < hosts->count; h++)
    if (hosts_overlap(fqdns ? fqdns[h] : hosts->items[h], host))
      return 1;
  return 0;
}

/* The ServiceEntry that defines |host| for a reference made from an
 * object exported to |from_exp| in |from_ns|: one listing the host
 * exactly first, then one whose wildcard covers it (|overlap|: or that
 * the wildcard |host| covers). NULL when none; *hidden is set when one
 * exists but is not exported where the reference is made. */
static const ml_service_entry *find_se(const actx *a,
                                       const ml_str_list *from_exp,
                                       const char *from_ns, const char *host,
                                       int overlap, int *hidden) {
  const ml_config *c = a->c;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < c->se_count; i++) {
      const ml_service_entry *se = c->service_entries[i];
      int match = 0;
      for (size_t h = 0; h < se->hosts.count && !match; h++) {
        const char *sh =
            se->host_fqdns ? se->host_fqdns[h] : se->hosts.items[h];
        if (pass == 0)
          match = str_eq(sh, host);
        else
          match = overlap ? hosts_overlap(sh, host) : host_covers(sh, host);
      }
      if (!match)
        continue;
      if (reachable(a, from_exp, from_ns, &se->export_to, se->meta.namespace_))
        return se;
      *hidden = 1;
    }
  }
  return NULL;
}

/* The DestinationRule host that applies to |fqdn| for a reference from
 * |vs|: an exact host beats a wildcard, a longer wildcard beats a shorter
 * one (Istio's most specific match). Rules not exported where |vs| is
 * used do not count. NULL when no rule covers it. */
static const char *best_dr_host(const actx *a, const ml_virtual_service *vs,
                                const char *fqdn) {
  const ml_config *c = a->c;
  const char *best = NULL;
  for (size_t i = 0; i < c->dr_count; i++) {
    const ml_destination_rule *dr = c->destination_rules[i];
    const char *h = dr->host_fqdn;
    if (!host_covers(h, fqdn) ||
        !reachable(a, &vs->export_to, vs->meta.namespace_, &dr->export_to,
                   dr->meta.namespace_))
      continue;
    if (!best)
      best = h;
    else if (best[0] == '*' && (h[0] != '*' || strlen(h) > strlen(best)))
      best = h;
  }
  return best;
}

static int subset_defined(const actx *a, const ml_virtual_service *vs,
                          const char *fqdn, const char *subset) {
  const ml_config *c = a->c;
  const char *host = best_dr_host(a, vs, fqdn);
  if (!host)
    return 0;
  for (size_t i = 0; i < c->dr_count; i++) {
    const ml_destination_rule *dr = c->destination_rules[i];
    if (!str_eq(dr->host_fqdn, host) ||
        !reachable(a, &vs->export_to, vs->meta.namespace_, &dr->export_to,
                   dr->meta.namespace_))
      continue;
    for (size_t s = 0; s < dr->subset_count; s++)
      if (str_eq(dr->subsets[s].name, subset))
        return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* VirtualService destinations: IST0101                              */

static void se_port_list(char *buf, size_t len, const ml_service_entry *se) {
  size_t n = 0;
  buf[0] = '\0';
  for (size_t p = 0; p < se->port_count && n < len; p++) {
    int w = snprintf(buf + n, len - n, "%s%u", p ? " " : "",
                     (unsigned)se->ports[p].number);
    if (w < 0)
      break;
    n += (size_t)w;
  }
}

/* Istio's destinationhost analyzer on a ServiceEntry host: the port must
 * be one the entry defines, and a multi-port entry needs a port. */
static void check_se_port(actx *a, const ml_destination *dst,
                          const ml_service_entry *se, const ml_origin *o,
                          const char *field, const char *res) {
  const char *fqdn = dest_fqdn(dst);
  char f[256], ports[256], owner[320];
  resource_name(owner, sizeof(owner), &se->meta, "ServiceEntry");
  se_port_list(ports, sizeof(ports), se);
  if (!dst->port) {
    if (se->port_count < 2)
      return;
    snprintf(f, sizeof(f), "%s.port", field);
    ml_diags_add(a->d, MESHLIB_LEVEL_ERROR, CODE_PORT_REQUIRED, o, f, res,
                 "This VirtualService routes to a service \"%s\" that "
                 "exposes multiple ports [%s]. Specifying a port in the "
                 "destination is required to disambiguate.",
                 fqdn, ports);
    return;
  }
  for (size_t p = 0; p < se->port_count; p++)
    if (se->ports[p].number == dst->port)
      return;
  snprintf(f, sizeof(f), "%s.port", field);
  ml_diags_add(a->d, MESHLIB_LEVEL_ERROR, CODE_REF_NOT_FOUND, o, f, res,
               "Referenced host:port not found: \"%s:%u\" (%s defines "
               "ports [%s])",
               fqdn, (unsigned)dst->port, owner, ports);
}

static void check_destination(actx *a, const ml_virtual_service *vs,
                              const ml_destination *dst,
                              const ml_origin *fallback, const char *field,
                              const char *res) {
  const char *fqdn = dest_fqdn(dst);
  const ml_origin *o = pick_origin(&dst->origin, fallback);
  char f[256];
  if (!fqdn)
    return;
  if (dst->subset && !subset_defined(a, vs, fqdn, dst->subset)) {
    snprintf(f, sizeof(f), "%s.subset", field);
    ml_diags_add(a->d, MESHLIB_LEVEL_ERROR, CODE_REF_NOT_FOUND, o, f, res,
                 "Referenced host+subset in destinationrule not found: "
                 "\"%s+%s\"",
                 fqdn, dst->subset);
  }
  int hidden = 0;
  const ml_service_entry *se =
      find_se(a, &vs->export_to, vs->meta.namespace_, fqdn, 0, &hidden);
  if (se) {
    check_se_port(a, dst, se, o, field, res);
    return;
  }
  if (is_k8s_host(fqdn, a->suffix))
    return;
  /* Istio would fail this as an error: it knows every Service. meshlib
   * sends requests for unknown hosts as written (ALLOW_ANY), so this is
   * only worth a warning. A VirtualService for the host does not make it
   * exist: it only routes what exists. */
  snprintf(f, sizeof(f), "%s.host", field);
  if (hidden)
    ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_REF_NOT_FOUND, o, f, res,
                 "Referenced host not found: \"%s\" (a ServiceEntry defines "
                 "it but is not exported to namespace %s; requests will go "
                 "to it as written)",
                 fqdn, a->client_ns ? a->client_ns : vs->meta.namespace_);
  else
    ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_REF_NOT_FOUND, o, f, res,
                 "Referenced host not found: \"%s\" (no ServiceEntry "
                 "defines it and it is not a Kubernetes service name; "
                 "requests will go to it as written)",
                 fqdn);
}

static void check_weights(actx *a, const ml_http_route *r, size_t ri,
                          const char *res) {
  if (r->route_count < 2)
    return;
  for (size_t k = 0; k < r->route_count; k++)
    if (r->route[k].weight > 0)
      return;
  char f[64];
  snprintf(f, sizeof(f), "spec.http[%zu].route", ri);
  /* Istio's validation refuses it too; a lone destination with weight 0
   * still gets 100 %, so that case is not reported. */
  ml_diags_add(a->d, MESHLIB_LEVEL_ERROR, CODE_ZERO_WEIGHTS, &r->origin, f, res,
               "total destination weight = 0: %zu destinations and none "
               "has a weight above 0, so no request can be sent",
               r->route_count);
}

/* ---------------------------------------------------------------- */
/* Match comparison for IST0130 / IST0131                            */

static int smatch_eq(const ml_string_match *x, const ml_string_match *y) {
  return x->kind == y->kind &&
         (x->kind == ML_MATCH_NONE || x->kind == ML_MATCH_PRESENT ||
          str_eq(x->value, y->value));
}

/* Maps: order does not matter (Istio compares them as JSON objects). */
static int named_list_eq(const ml_named_match_list *x,
                         const ml_named_match_list *y) {
  if (x->count != y->count)
    return 0;
  for (size_t i = 0; i < x->count; i++) {
    int found = 0;
    for (size_t j = 0; j < y->count && !found; j++)
      found = str_eq(x->items[i].name, y->items[j].name) &&
              smatch_eq(&x->items[i].match, &y->items[j].match);
    if (!found)
      return 0;
  }
  return 1;
}

static int kv_list_eq(const ml_kv_list *x, const ml_kv_list *y) {
  return x->count == y->count && labels_include(x, y);
}

static int str_list_eq(const ml_str_list *x, const ml_str_list *y) {
  if (x->count != y->count)
    return 0;
  for (size_t i = 0; i < x->count; i++)
    if (!str_eq(x->items[i], y->items[i]))
      return 0;
  return 1;
}

/* Two matches select the same requests. The match name is left out on
 * purpose: it only labels stats. */
static int match_eq(const ml_http_match *x, const ml_http_match *y) {
  return smatch_eq(&x->uri, &y->uri) && smatch_eq(&x->scheme, &y->scheme) &&
         smatch_eq(&x->method, &y->method) &&
         smatch_eq(&x->authority, &y->authority) &&
         named_list_eq(&x->headers, &y->headers) &&
         named_list_eq(&x->without_headers, &y->without_headers) &&
         named_list_eq(&x->query_params, &y->query_params) &&
         x->ignore_uri_case == y->ignore_uri_case && x->port == y->port &&
         kv_list_eq(&x->source_labels, &y->source_labels) &&
         str_eq(x->source_namespace, y->source_namespace) &&
         str_list_eq(&x->gateways, &y->gateways);
}

/* |x| (an earlier condition) matches whatever |y| does: absent, the
 * same, or a prefix of |y|'s exact text or prefix. */
static int smatch_covers(const ml_string_match *x, const ml_string_match *y) {
  if (x->kind == ML_MATCH_NONE || smatch_eq(x, y))
    return 1;
  if (x->kind == ML_MATCH_PRESENT)
    return y->kind != ML_MATCH_NONE;
  return x->kind == ML_MATCH_PREFIX && x->value && y->value &&
         (y->kind == ML_MATCH_EXACT || y->kind == ML_MATCH_PREFIX) &&
         ml_starts_with(y->value, x->value);
}

/* Each condition of |x| is met by every request |y|'s matches (|neg|:
 * withoutHeaders, where |y| must exclude at least what |x| excludes). */
static int named_covers(const ml_named_match_list *x,
                        const ml_named_match_list *y, int neg) {
  for (size_t i = 0; i < x->count; i++) {
    int found = 0;
    for (size_t j = 0; j < y->count && !found; j++)
      found = str_eq(x->items[i].name, y->items[j].name) &&
              (neg ? smatch_covers(&y->items[j].match, &x->items[i].match)
                   : smatch_covers(&x->items[i].match, &y->items[j].match));
    if (!found)
      return 0;
  }
  return 1;
}

/* Istio's prefix overlap (validation.go coveredValidation): an earlier
 * URI prefix covers a later, longer one and none of the earlier match's
 * other conditions is narrower, so the later match can never be chosen.
 * Only prefix against prefix, as Istio does; unlike Istio an absent
 * method or port matches any (Istio takes GET and compares ports). */
static int match_covers(const ml_http_match *x, const ml_http_match *y) {
  if (x->uri.kind != ML_MATCH_PREFIX || y->uri.kind != ML_MATCH_PREFIX ||
      !x->uri.value || !y->uri.value || str_eq(x->uri.value, y->uri.value) ||
      !ml_starts_with(y->uri.value, x->uri.value))
    return 0;
  if (y->ignore_uri_case && !x->ignore_uri_case)
    return 0;
  return (x->port == 0 || x->port == y->port) &&
         smatch_covers(&x->scheme, &y->scheme) &&
         smatch_covers(&x->method, &y->method) &&
         smatch_covers(&x->authority, &y->authority) &&
         named_covers(&x->headers, &y->headers, 0) &&
         named_covers(&x->query_params, &y->query_params, 0) &&
         named_covers(&x->without_headers, &y->without_headers, 1) &&
         labels_include(&y->source_labels, &x->source_labels) &&
         (!x->source_namespace ||
          str_eq(x->source_namespace, y->source_namespace)) &&
         (x->gateways.count == 0 || str_list_eq(&x->gateways, &y->gateways));
}

/* Istio's IsCatchAllRoute: URI absent, prefix "/" or regex ".*" and no
 * other condition. Source selectors and gateways are conditions too: such
 * a match does not apply to every caller. */
static int match_is_catch_all(const ml_http_match *m) {
  const ml_string_match *u = &m->uri;
  int any_uri = u->kind == ML_MATCH_NONE ||
                (u->kind == ML_MATCH_PREFIX && str_eq(u->value, "/")) ||
                (u->kind == ML_MATCH_REGEX && str_eq(u->value, ".*"));
  return any_uri && m->scheme.kind == ML_MATCH_NONE &&
         m->method.kind == ML_MATCH_NONE &&
         m->authority.kind == ML_MATCH_NONE && m->headers.count == 0 &&
         m->without_headers.count == 0 && m->query_params.count == 0 &&
         m->port == 0 && m->source_labels.count == 0 && !m->source_namespace &&
         m->gateways.count == 0;
}

static int rule_is_catch_all(const ml_http_route *r) {
  if (r->match_count == 0)
    return 1;
  for (size_t j = 0; j < r->match_count; j++)
    if (match_is_catch_all(&r->matches[j]))
      return 1;
  return 0;
}

/* IST0131 for a match that an earlier prefix match covers. */
static void check_overlap(actx *a, const ml_virtual_service *vs, size_t i,
                          size_t j, const char *res) {
  const ml_http_route *r = &vs->http[i];
  const ml_http_match *m = &r->matches[j];
  for (size_t pi = 0; pi <= i; pi++) {
    const ml_http_route *p = &vs->http[pi];
    size_t end = pi == i ? j : p->match_count;
    for (size_t pj = 0; pj < end; pj++) {
      const ml_http_match *pm = &p->matches[pj];
      if (!match_covers(pm, m))
        continue;
      char rl[160], ml[160], dl[160], pl[160], f[96];
      rule_label(rl, sizeof(rl), r, i);
      match_label(ml, sizeof(ml), m, j);
      rule_label(dl, sizeof(dl), p, pi);
      match_label(pl, sizeof(pl), pm, pj);
      snprintf(f, sizeof(f), "spec.http[%zu].match[%zu]", i, j);
      ml_diags_add(a->d, MESHLIB_LEVEL_INFO, CODE_INEFFECTIVE,
                   pick_origin(&m->origin, &r->origin), f, res,
                   "VirtualService rule %s match %s of prefix %s is not used "
                   "(duplicate/overlapping match in rule %s of prefix %s on "
                   "%s).",
                   rl, ml, m->uri.value, pl, pm->uri.value, dl);
      return; /* once, for the first match that covers it */
    }
  }
}

static void check_reachability(actx *a, const ml_virtual_service *vs,
                               const char *res) {
  ptrdiff_t catch_all = -1;
  char rl[160], ml[160], dl[160], f[64];
  for (size_t i = 0; i < vs->http_count; i++) {
    const ml_http_route *r = &vs->http[i];
    rule_label(rl, sizeof(rl), r, i);
    snprintf(f, sizeof(f), "spec.http[%zu]", i);
    if (catch_all >= 0) {
      const ml_http_route *prev = &vs->http[catch_all];
      if (r->match_count == 0 && prev->match_count == 0) {
        ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_UNREACHABLE, &r->origin,
                     f, res,
                     "VirtualService rule %s not used (only the last rule "
                     "can have no matches).",
                     rl);
      } else {
        rule_label(dl, sizeof(dl), prev, (size_t)catch_all);
        ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_UNREACHABLE, &r->origin,
                     f, res,
                     "VirtualService rule %s not used (rule %s before it "
                     "matches every request).",
                     rl, dl);
      }
      continue;
    }
    size_t dups = 0;
    for (size_t j = 0; j < r->match_count; j++) {
      const ml_http_match *m = &r->matches[j];
      ptrdiff_t dup = -1;
      for (size_t pi = 0; pi <= i && dup < 0; pi++) {
        const ml_http_route *p = &vs->http[pi];
        size_t end = pi == i ? j : p->match_count;
        for (size_t pj = 0; pj < end && dup < 0; pj++)
          if (match_eq(&p->matches[pj], m))
            dup = (ptrdiff_t)pi;
      }
      if (dup < 0) {
        check_overlap(a, vs, i, j, res);
        continue;
      }
      dups++;
      char mf[96];
      match_label(ml, sizeof(ml), m, j);
      rule_label(dl, sizeof(dl), &vs->http[dup], (size_t)dup);
      snprintf(mf, sizeof(mf), "spec.http[%zu].match[%zu]", i, j);
      ml_diags_add(a->d, MESHLIB_LEVEL_INFO, CODE_INEFFECTIVE,
                   pick_origin(&m->origin, &r->origin), mf, res,
                   "VirtualService rule %s match %s is not used "
                   "(duplicate/overlapping match in rule %s).",
                   rl, ml, dl);
    }
    if (r->match_count > 0 && dups == r->match_count) {
      ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_UNREACHABLE, &r->origin, f,
                   res,
                   "VirtualService rule %s not used (all matches used by "
                   "prior rules).",
                   rl);
      continue;
    }
    if (rule_is_catch_all(r))
      catch_all = (ptrdiff_t)i;
  }
}

static void check_route_names(actx *a, const ml_virtual_service *vs,
                              const char *res) {
  char f[64];
  for (size_t i = 0; i < vs->http_count; i++) {
    const char *name = vs->http[i].name;
    if (!name || !*name)
      continue;
    for (size_t j = 0; j < i; j++) {
      if (!str_eq(vs->http[j].name, name))
        continue;
      snprintf(f, sizeof(f), "spec.http[%zu].name", i);
      ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_DUP_ROUTE_NAME,
                   &vs->http[i].origin, f, res,
                   "Duplicate route name \"%s\": rules #%zu and #%zu share "
                   "it, so logs, metrics and decisions cannot tell them "
                   "apart",
                   name, j, i);
      break;
    }
  }
}

static void check_virtual_service(actx *a, const ml_virtual_service *vs) {
  char res[320], f[96];
  if (!visible(a, &vs->export_to, vs->meta.namespace_))
    return; /* not in force where we look: nothing it says matters */
  resource_name(res, sizeof(res), &vs->meta, "VirtualService");
  for (size_t i = 0; i < vs->http_count; i++) {
    const ml_http_route *r = &vs->http[i];
    for (size_t k = 0; k < r->route_count; k++) {
      snprintf(f, sizeof(f), "spec.http[%zu].route[%zu].destination", i, k);
      check_destination(a, vs, &r->route[k].destination, &r->route[k].origin, f,
                        res);
    }
    for (size_t k = 0; k < r->mirror_count; k++) {
      if (r->mirror_count == 1)
        snprintf(f, sizeof(f), "spec.http[%zu].mirror", i);
      else
        snprintf(f, sizeof(f), "spec.http[%zu].mirrors[%zu].destination", i, k);
      check_destination(a, vs, &r->mirrors[k].destination, &r->origin, f, res);
    }
    check_weights(a, r, i, res);
  }
  check_reachability(a, vs, res);
  check_route_names(a, vs, res);
}

/* ---------------------------------------------------------------- */
/* IST0109: one host, several VirtualServices on the mesh gateway     */

static int applies_to_mesh(const ml_virtual_service *vs) {
  if (vs->gateways.count == 0)
    return 1;
  for (size_t i = 0; i < vs->gateways.count; i++)
    if (str_eq(vs->gateways.items[i], "mesh"))
      return 1;
  return 0;
}

static const char *vs_host(const ml_virtual_service *vs, size_t h) {
  return vs->host_fqdns ? vs->host_fqdns[h] : vs->hosts.items[h];
}

/* A host of |o| that overlaps |host| (equal, or a wildcard covering the
 * other), or NULL. */
static const char *vs_overlapping_host(const ml_virtual_service *o,
                                       const char *host) {
  for (size_t h = 0; h < o->hosts.count; h++)
    if (hosts_overlap(vs_host(o, h), host))
      return vs_host(o, h);
  return NULL;
}

/* |o| conflicts with |vs| on |host|: both bound to the mesh, both in
 * force in one namespace (the client's; any, when every namespace is
 * analyzed), and one of o's hosts overlaps it. */
static int vs_conflicts(const actx *a, const ml_virtual_service *vs,
                        const ml_virtual_service *o, const char *host) {
  return o != vs && applies_to_mesh(o) &&
         seen_together(a, &vs->export_to, vs->meta.namespace_, &o->export_to,
                       o->meta.namespace_) &&
         vs_overlapping_host(o, host) != NULL;
}

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Istio's ConflictingMeshGatewayHostsAnalyzer: each VirtualService is
 * reported once, for its first conflicting host, naming (sorted) every
 * VirtualService that claims it. exportTo scopes the conflict: two
 * VirtualServices that no namespace sees together do not conflict. */
static void check_vs_conflicts(actx *a) {
  const ml_config *c = a->c;
  char res[320], f[64];
  for (size_t i = 0; i < c->vs_count; i++) {
    const ml_virtual_service *vs = c->virtual_services[i];
    if (!applies_to_mesh(vs) ||
        !visible(a, &vs->export_to, vs->meta.namespace_))
      continue;
    for (size_t h = 0; h < vs->hosts.count; h++) {
      const char *host = vs_host(vs, h);
      size_t n = 1;
      if (!host)
        continue;
      for (size_t q = 0; q < c->vs_count; q++)
        n += (size_t)vs_conflicts(a, vs, c->virtual_services[q], host);
      if (n < 2)
        continue;
      char **names = ml_malloc(a->d->mem, n * sizeof(*names));
      ml_buf all;
      ml_buf_init(&all, a->d->mem);
      size_t k = 0;
      int oom = names == NULL;
      for (size_t q = 0; q < c->vs_count && !oom; q++) {
        const ml_virtual_service *o = c->virtual_services[q];
        if (o != vs && !vs_conflicts(a, vs, o, host))
          continue;
        ml_buf_reset(&all);
        ml_buf_printf(&all, "%s/%s",
                      o->meta.namespace_ ? o->meta.namespace_ : "default",
                      o->meta.name ? o->meta.name : "");
        names[k] = all.oom ? NULL : ml_strdup(a->d->mem, all.data);
        oom = names[k] == NULL;
        k += !oom;
      }
      ml_buf_reset(&all);
      if (!oom) {
        qsort(names, k, sizeof(*names), cmp_str);
        for (size_t q = 0; q < k; q++)
          ml_buf_printf(&all, "%s%s", q ? "," : "", names[q]);
        oom = all.oom;
      }
      if (oom) {
        a->d->oom = 1;
      } else {
        resource_name(res, sizeof(res), &vs->meta, "VirtualService");
        snprintf(f, sizeof(f), "spec.hosts[%zu]", h);
        ml_diags_add(a->d, MESHLIB_LEVEL_ERROR, CODE_VS_CONFLICT,
                     &vs->meta.origin, f, res,
                     "The VirtualServices %s associated with mesh gateway "
                     "define the same host %s which can lead to undefined "
                     "behavior. This can be fixed by merging the "
                     "conflicting VirtualServices into a single resource.",
                     all.data, host);
      }
      for (size_t q = 0; names && q < k; q++)
        ml_free(a->d->mem, names[q]);
      ml_free(a->d->mem, names);
      ml_buf_free(&all);
      break; /* once per VirtualService, as Istio */
    }
  }
}

/* ---------------------------------------------------------------- */
/* DestinationRules                                                  */

/* Endpoints of a ServiceEntry, as far as the config tells. Returns 1 and
 * sets *selected when they are known (listed endpoints, or WorkloadEntries
 * its workloadSelector picks), 0 when not (the Service's pods are out of
 * sight). */
static int se_selects(const ml_config *c, const ml_service_entry *se,
                      const ml_kv_list *labels, int *selected) {
  int known = 0;
  for (size_t e = 0; e < se->endpoint_count; e++) {
    known = 1;
    if (labels_include(&se->endpoints[e].labels, labels))
      *selected = 1;
  }
  if (se->has_workload_selector) {
    for (size_t w = 0; w < c->we_count; w++) {
      const ml_workload_entry *we = c->workload_entries[w];
      if (!str_eq(we->meta.namespace_, se->meta.namespace_) ||
          !we_has_labels(we, &se->workload_selector))
        continue;
      known = 1;
      if (we_has_labels(we, labels))
        *selected = 1;
    }
  }
  return known;
}

static void check_subset_endpoints(actx *a, const ml_destination_rule *dr,
                                   const char *res) {
  const ml_config *c = a->c;
  for (size_t s = 0; s < dr->subset_count; s++) {
    const ml_subset *sub = &dr->subsets[s];
    if (sub->labels.count == 0)
      continue; /* selects every endpoint */
    int known = 0, selected = 0;
    for (size_t i = 0; i < c->se_count && !selected; i++) {
      const ml_service_entry *se = c->service_entries[i];
      if (hosts_claim(&se->hosts, se->host_fqdns, dr->host_fqdn) &&
          reachable(a, &dr->export_to, dr->meta.namespace_, &se->export_to,
                    se->meta.namespace_) &&
          se_selects(c, se, &sub->labels, &selected))
        known = 1;
    }
    if (!known || selected)
      continue;
    char f[64];
    snprintf(f, sizeof(f), "spec.subsets[%zu]", s);
    ml_diags_add(a->d, MESHLIB_LEVEL_ERROR, CODE_SUBSET_NO_PODS,
                 pick_origin(&sub->origin, &dr->meta.origin), f, res,
                 "The Subset %s defined in the DestinationRule does not "
                 "select any pods, which may lead to 503 UH "
                 "(NoHealthyUpstream).",
                 sub->name ? sub->name : "");
  }
}

/* Istio merges DestinationRules of one host: the first top-level
 * trafficPolicy wins, and the first definition of each subset. Whatever a
 * later rule loses is reported, since it silently does nothing. */
static void check_dr_merge(actx *a, size_t j, const char *res) {
  const ml_config *c = a->c;
  const ml_destination_rule *dr = c->destination_rules[j];
  char f[64], other[320];
  if (dr->traffic_policy) {
    for (size_t i = 0; i < j; i++) {
      const ml_destination_rule *p = c->destination_rules[i];
      if (!p->traffic_policy || !str_eq(p->host_fqdn, dr->host_fqdn) ||
          !seen_together(a, &p->export_to, p->meta.namespace_, &dr->export_to,
                         dr->meta.namespace_))
        continue;
      snprintf(other, sizeof(other), "%s/%s",
               p->meta.namespace_ ? p->meta.namespace_ : "default",
               p->meta.name ? p->meta.name : "");
      ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_DR_SHADOWED,
                   pick_origin(&dr->traffic_policy->origin, &dr->meta.origin),
                   "spec.trafficPolicy", res,
                   "trafficPolicy ignored: DestinationRule %s, loaded "
                   "earlier, already sets the trafficPolicy of host %s and "
                   "merged DestinationRules keep the first one",
                   other, dr->host_fqdn);
      break;
    }
  }
  for (size_t s = 0; s < dr->subset_count; s++) {
    const ml_subset *sub = &dr->subsets[s];
    const ml_destination_rule *owner = NULL;
    for (size_t i = 0; i <= j && !owner; i++) {
      const ml_destination_rule *p = c->destination_rules[i];
      if (!str_eq(p->host_fqdn, dr->host_fqdn) ||
          !seen_together(a, &p->export_to, p->meta.namespace_, &dr->export_to,
                         dr->meta.namespace_))
        continue;
      size_t end = i == j ? s : p->subset_count;
      for (size_t k = 0; k < end && !owner; k++)
        if (str_eq(p->subsets[k].name, sub->name))
          owner = p;
    }
    if (!owner)
      continue;
    snprintf(f, sizeof(f), "spec.subsets[%zu]", s);
    snprintf(other, sizeof(other), "%s/%s",
             owner->meta.namespace_ ? owner->meta.namespace_ : "default",
             owner->meta.name ? owner->meta.name : "");
    ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_DR_SHADOWED,
                 pick_origin(&sub->origin, &dr->meta.origin), f, res,
                 "subset \"%s\" ignored: DestinationRule %s already defines "
                 "it for host %s and the first definition wins",
                 sub->name ? sub->name : "", other, dr->host_fqdn);
  }
}

/* Istio's CaCertificateAnalyzer: SIMPLE or MUTUAL TLS without
 * caCertificates (a credentialName only counts on a rule with a
 * workloadSelector, as in Istio). Envoy then checks no server certificate
 * at all; meshlib still checks it against libcurl's default CA bundle, so
 * for meshlib this is only information. */
static void check_ca_certs(actx *a, const ml_destination_rule *dr,
                           const char *res) {
  char f[96], port[32];
  const char *ns = dr->meta.namespace_ ? dr->meta.namespace_ : "default";
  const char *name = dr->meta.name ? dr->meta.name : "";
  if (!dr->traffic_policy)
    return;
  for (size_t i = 0; i <= dr->traffic_policy->port_level_count; i++) {
    int top = i == 0;
    const ml_traffic_policy *tp =
        top ? dr->traffic_policy
            : &dr->traffic_policy->port_level_settings[i - 1].policy;
    const ml_client_tls *t = &tp->tls;
    if (!t->present || (t->mode != ML_TLS_SIMPLE && t->mode != ML_TLS_MUTUAL) ||
        (t->ca_certificates && *t->ca_certificates) ||
        (t->credential_name && *t->credential_name &&
         dr->workload_selector.count))
      continue;
    const char *mode = t->mode == ML_TLS_SIMPLE ? "SIMPLE" : "MUTUAL";
    if (top) {
      ml_diags_add(a->d, MESHLIB_LEVEL_INFO, CODE_NO_CA_DR,
                   pick_origin(&tp->origin, &dr->meta.origin),
                   "spec.trafficPolicy.tls", res,
                   "DestinationRule %s/%s in namespace %s has TLS mode set "
                   "to %s but no caCertificates are set to validate server "
                   "identity for host: %s (meshlib uses the default CA "
                   "bundle)",
                   ns, name, ns, mode, dr->host ? dr->host : "");
      continue;
    }
    snprintf(f, sizeof(f), "spec.trafficPolicy.portLevelSettings[%zu].tls",
             i - 1);
    snprintf(port, sizeof(port), "%u",
             (unsigned)dr->traffic_policy->port_level_settings[i - 1].port);
    ml_diags_add(a->d, MESHLIB_LEVEL_INFO, CODE_NO_CA_PORT,
                 pick_origin(&tp->origin, &dr->meta.origin), f, res,
                 "DestinationRule %s/%s in namespace %s has TLS mode set to "
                 "%s but no caCertificates are set to validate server "
                 "identity for host: %s at port %s (meshlib uses the "
                 "default CA bundle)",
                 ns, name, ns, mode, dr->host ? dr->host : "", port);
  }
}

static void check_destination_rules(actx *a) {
  const ml_config *c = a->c;
  char res[320];
  for (size_t j = 0; j < c->dr_count; j++) {
    const ml_destination_rule *dr = c->destination_rules[j];
    const char *host = dr->host_fqdn ? dr->host_fqdn : dr->host;
    resource_name(res, sizeof(res), &dr->meta, "DestinationRule");
    if (!host || !visible(a, &dr->export_to, dr->meta.namespace_))
      continue;
    /* As Istio: a VirtualService for the host does not make it exist. */
    int hidden = 0;
    if (!is_k8s_host(host, a->suffix) &&
        !find_se(a, &dr->export_to, dr->meta.namespace_, host, 1, &hidden))
      ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_UNKNOWN_DR_HOST,
                   &dr->meta.origin, "spec.host", res,
                   "The host \"%s\" defined in the DestinationRule does not "
                   "match any services in the mesh%s.",
                   host,
                   hidden ? " (a ServiceEntry defines it but is not exported "
                            "where the DestinationRule applies)"
                          : "");
    check_subset_endpoints(a, dr, res);
    check_ca_certs(a, dr, res);
    if (dr->host_fqdn)
      check_dr_merge(a, j, res);
  }
}

/* ---------------------------------------------------------------- */
/* IST0177: one host and port, several protocols                     */

static const char *se_host(const ml_service_entry *se, size_t h) {
  return se->host_fqdns ? se->host_fqdns[h] : se->hosts.items[h];
}

/* The protocol |o| gives |host|:|port| ("" when unset), or NULL when o
 * does not define that host and port. */
static const char *se_protocol_of(const ml_service_entry *o, const char *host,
                                  uint32_t port) {
  int has_host = 0;
  for (size_t h = 0; h < o->hosts.count && !has_host; h++)
    has_host = str_eq(se_host(o, h), host);
  if (!has_host)
    return NULL;
  for (size_t p = 0; p < o->port_count; p++)
    if (o->ports[p].number == port)
      return o->ports[p].protocol ? o->ports[p].protocol : "";
  return NULL;
}

/* Add |item| to the sorted, duplicate-free |list| of |*n| (room for it). */
static void add_sorted(const char **list, size_t *n, const char *item) {
  size_t i = 0;
  while (i < *n && strcmp(list[i], item) < 0)
    i++;
  if (i < *n && strcmp(list[i], item) == 0)
    return;
  memmove(&list[i + 1], &list[i], (*n - i) * sizeof(*list));
  list[i] = item;
  (*n)++;
}

/* Istio's ConflictingServiceEntryProtocolAnalyzer: ServiceEntries seen
 * together (exportTo) that give one host and port different protocols.
 * Which one a call gets is then a matter of load order. Each entry is
 * reported once. */
static void check_se_protocols(actx *a) {
  const ml_config *c = a->c;
  size_t cap = c->se_count + 1;
  const char **names = NULL, **protos = NULL;
  char **owned = NULL;
  for (size_t i = 0; i < c->se_count; i++) {
    const ml_service_entry *se = c->service_entries[i];
    int done = 0;
    if (!visible(a, &se->export_to, se->meta.namespace_))
      continue;
    for (size_t h = 0; h < se->hosts.count && !done; h++) {
      for (size_t p = 0; p < se->port_count && !done; p++) {
        const char *host = se_host(se, h);
        uint32_t port = se->ports[p].number;
        size_t nn = 0, np = 0;
        if (!names) {
          names = ml_malloc(a->d->mem, cap * sizeof(*names));
          protos = ml_malloc(a->d->mem, cap * sizeof(*protos));
          owned = ml_calloc(a->d->mem, c->se_count, sizeof(*owned));
          if (!names || !protos || !owned) {
            a->d->oom = 1;
            goto out;
          }
          for (size_t k = 0; k < c->se_count; k++) {
            const ml_service_entry *o = c->service_entries[k];
            ml_buf b;
            ml_buf_init(&b, a->d->mem);
            ml_buf_printf(&b, "%s/%s",
                          o->meta.namespace_ ? o->meta.namespace_ : "default",
                          o->meta.name ? o->meta.name : "");
            owned[k] = ml_buf_steal(&b);
            if (!owned[k]) {
              a->d->oom = 1;
              goto out;
            }
          }
        }
        for (size_t k = 0; k < c->se_count; k++) {
          const ml_service_entry *o = c->service_entries[k];
          const char *proto = se_protocol_of(o, host, port);
          if (!proto ||
              (o != se && !seen_together(a, &se->export_to, se->meta.namespace_,
                                         &o->export_to, o->meta.namespace_)))
            continue;
          add_sorted(names, &nn, owned[k]);
          add_sorted(protos, &np, proto);
        }
        if (np < 2)
          continue;
        ml_buf nb, pb;
        ml_buf_init(&nb, a->d->mem);
        ml_buf_init(&pb, a->d->mem);
        for (size_t k = 0; k < nn; k++)
          ml_buf_printf(&nb, "%s%s", k ? ", " : "", names[k]);
        for (size_t k = 0; k < np; k++)
          ml_buf_printf(&pb, "%s%s", k ? ", " : "", protos[k]);
        if (nb.oom || pb.oom) {
          a->d->oom = 1;
        } else {
          char res[320], f[64];
          resource_name(res, sizeof(res), &se->meta, "ServiceEntry");
          snprintf(f, sizeof(f), "spec.ports[%zu].protocol", p);
          ml_diags_add(a->d, MESHLIB_LEVEL_WARNING, CODE_SE_PROTOCOL,
                       &se->meta.origin, f, res,
                       "Multiple ServiceEntries (%s) define the same host "
                       "\"%s\" and port %u with conflicting protocols (%s).",
                       nb.data, host, (unsigned)port, pb.data);
        }
        ml_buf_free(&nb);
        ml_buf_free(&pb);
        done = 1;
      }
    }
  }
out:
  for (size_t k = 0; owned && k < c->se_count; k++)
    ml_free(a->d->mem, owned[k]);
  ml_free(a->d->mem, owned);
  ml_free(a->d->mem, names);
  ml_free(a->d->mem, protos);
}

int ml_analyze(const ml_config *c, const char *client_ns,
               const char *domain_suffix, ml_diags *d) {
  if (!c || !d)
    return -1;
  if (client_ns && (!*client_ns || strcmp(client_ns, "*") == 0))
    client_ns = NULL;
  actx a = {c, client_ns, domain_suffix ? domain_suffix : "cluster.local", d};
  size_t before = d->errors;
  for (size_t i = 0; i < c->vs_count; i++)
    check_virtual_service(&a, c->virtual_services[i]);
  check_vs_conflicts(&a);
  check_destination_rules(&a);
  check_se_protocols(&a);
  if (d->oom)
    return -1;
  return (int)(d->errors - before);
}
