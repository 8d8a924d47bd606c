/* SPDX-License-Identifier: MIT */
/* ServiceEntry and WorkloadEntry specs -> ml_service_entry and
 * ml_workload_entry_spec. */
#include "config/load_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void upper(char *s) {
  for (; *s; s++)
    if (*s >= 'a' && *s <= 'z')
      *s = (char)(*s - 'a' + 'A');
}

/* WorkloadEntry.ports: map<string, uint32>, kept as text. */
static int read_we_ports(ml_walk *w, const ynode *n, void *dst) {
  ml_loader *L = w->L;
  ml_kv_list *out = dst;
  if (!ml_ld_map(L, n))
    return 0;
  ml_kv *items = ml_ld_alloc(L, n->count + 1, sizeof(*items));
  if (!items)
    return 0;
  size_t count = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    uint32_t port;
    if (!ml_ld_u32(L, it.v, 1, 65535, &port))
      continue;
    char buf[16];
    int len = snprintf(buf, sizeof(buf), "%u", port);
    items[count].key = ml_ld_dup(L, it.key, it.k->len);
    items[count].value = ml_ld_dup(L, buf, (size_t)len);
    if (!items[count].key || !items[count].value)
      return 0;
    count++;
  }
  out->items = items;
  out->count = count;
  return 1;
}

static const ml_field kWorkloadEntry[] = {
    MLF_STR("address", ml_workload_entry_spec, address),
    MLF_CUSTOM("ports", ml_workload_entry_spec, ports, read_we_ports),
    MLF_KV_MAP("labels", ml_workload_entry_spec, labels),
    MLF_STR("network", ml_workload_entry_spec, network),
    MLF_STR("locality", ml_workload_entry_spec, locality),
    MLF_INT("weight", ml_workload_entry_spec, weight, 0, UINT32_MAX),
    MLF_STR("serviceAccount", ml_workload_entry_spec, service_account),
    MLF_END};

/* Istio's validateWorkloadEntry: an IP, a unix:// path (then without
 * ports) or a host name. */
static void check_we_address(ml_loader *L, const ynode *spec,
                             const ml_workload_entry_spec *we) {
  const char *a = we->address;
  const ynode *at = ml_ld_get(spec, "address");
  size_t mark = ml_ld_push(L, "address");
  if (strncmp(a, "unix://", 7) == 0) {
    if (a[7] != '/' && a[7] != '@')
      ml_ld_err(L, at, "unix address \"%.80s\" must be an absolute path", a);
    if (we->ports.count)
      ml_ld_err(L, at, "unix endpoint \"%.80s\" must not include ports", a);
  } else if (!ml_ld_is_ip(a)) {
    ml_ld_check_fqdn(L, at, "endpoint address", a);
  }
  ml_ld_pop(L, mark);
}

void ml_ld_workload_entry_spec(ml_loader *L, const ynode *spec,
                               ml_workload_entry_spec *we) {
  we->weight = -1;
  we->origin = ml_ld_origin(L, spec ? spec : L->obj);
  if (!ml_ld_map_nonnull(L, spec, "must not be null"))
    return;
  ml_ld_walk(L, spec, kWorkloadEntry, we);
  /* Istio: an address is required unless a network is named (the
   * workload then lives behind that network's gateway). */
  if ((!we->address || !*we->address) && (!we->network || !*we->network))
    ml_ld_field_err(L, "address", ml_ld_where(L, spec, "address"),
                    "is required");
  else if (we->address && *we->address)
    check_we_address(L, spec, we);
  const ynode *ports = ml_ld_get(spec, "ports");
  if (ports && ports->type == YN_MAP) {
    size_t mark = ml_ld_push(L, "ports");
    for (size_t i = 0; i < ports->count; i++) {
      const ynode *k = ports->items[2 * i];
      if (k->type == YN_SCALAR && k->value &&
          !ml_ld_is_dns_label(k->value, k->len))
        ml_ld_err(L, k, "invalid port name \"%.80s\"", k->value);
    }
    ml_ld_pop(L, mark);
  }
}

/* ServiceEntry.endpoints[]: WorkloadEntry specs. */
static void read_endpoint(ml_loader *L, const ynode *n, void *item) {
  ml_ld_workload_entry_spec(L, n, item);
}

/* Protocols are compared upper-cased: "http" is HTTP. */
static int read_protocol(ml_walk *w, const ynode *v, void *dst) {
  const char *s = NULL;
  if (!ml_ld_str(w->L, v, &s))
    return 0;
  upper((char *)s);
  *(const char **)dst = s;
  return 1;
}

static const ml_field kServicePort[] = {
    MLF_U32("number", ml_service_port, number, 1, 65535),
    MLF_CUSTOM("protocol", ml_service_port, protocol, read_protocol),
    MLF_STR("name", ml_service_port, name),
    MLF_U32("targetPort", ml_service_port, target_port, 1, 65535), MLF_END};

static void read_port(ml_loader *L, const ynode *n, void *item) {
  ml_service_port *p = item;
  if (!ml_ld_map_nonnull(L, n, "port must not be null"))
    return;
  ml_ld_walk(L, n, kServicePort, p);
  if (!p->number && !ml_ld_get(n, "number"))
    ml_ld_field_err(L, "number", n, "is required");
  if (!p->name || !*p->name)
    ml_ld_field_err(L, "name", ml_ld_where(L, n, "name"), "is required");
}

static int read_location(ml_walk *w, const ynode *v, void *dst) {
  static const char *const locations[] = {"MESH_EXTERNAL", "MESH_INTERNAL",
                                          NULL};
  int i;
  if (!ml_ld_enum(w->L, v, locations, &i))
    return 0;
  *(int *)dst = i == 1;
  return 1;
}

static const char *const kResolutions[] = {
    "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS", NULL};

static const ml_field kSeWorkloadSelector[] = {
    MLF_KV_MAP("labels", ml_service_entry, workload_selector), MLF_END};

static int read_se_workload_selector(ml_walk *w, const ynode *v, void *dst) {
  ml_service_entry *se = dst;
  if (!ml_ld_map(w->L, v))
    return 0;
  se->has_workload_selector = 1;
  ml_ld_walk(w->L, v, kSeWorkloadSelector, se);
  return 1;
}

static const ml_field kServiceEntry[] = {
    MLF_STR_LIST("hosts", ml_service_entry, hosts),
    MLF_STR_LIST("addresses", ml_service_entry, addresses),
    MLF_LIST("ports", ml_service_entry, ports, port_count, read_port),
    MLF_CUSTOM("location", ml_service_entry, location_internal, read_location),
    MLF_ENUM("resolution", ml_service_entry, resolution, kResolutions),
    MLF_LIST("endpoints", ml_service_entry, endpoints, endpoint_count,
             read_endpoint),
    MLF_CUSTOM_OBJ("workloadSelector", read_se_workload_selector),
    MLF_STR_LIST("exportTo", ml_service_entry, export_to),
    MLF_STR_LIST("subjectAltNames", ml_service_entry, subject_alt_names),
    MLF_END};

static const char *const kProtocols[] = {
    "HTTP", "HTTPS", "HTTP2", "GRPC",  "GRPC-WEB", "HTTP_PROXY", "TCP",
    "TLS",  "UDP",   "MONGO", "REDIS", "MYSQL",    NULL};

static int proto_is(const char *p, const char *const *set) {
  for (size_t i = 0; p && set[i]; i++)
    if (strcmp(p, set[i]) == 0)
      return 1;
  return 0;
}

/* The i-th item of the list |key| of |spec|, for errors. */
static const ynode *item_at(const ynode *spec, const char *key, size_t i) {
  const ynode *l = ml_ld_get(spec, key);
  if (l && l->type == YN_SEQ && i < l->count)
    return l->items[i];
  return l ? l : spec;
}

static void item_err(ml_loader *L, const ynode *spec, const char *key, size_t i,
                     const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
static void item_err(ml_loader *L, const ynode *spec, const char *key, size_t i,
                     const char *field, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  size_t mark = ml_ld_push(L, key);
  ml_ld_push_index(L, i);
  const ynode *at = item_at(spec, key, i);
  if (field) {
    ml_ld_push(L, field);
    const ynode *f = at && at->type == YN_MAP ? ml_ld_get(at, field) : NULL;
    at = f ? f : at;
  }
  ml_ld_err(L, at, "%s", msg);
  ml_ld_pop(L, mark);
}

static int has_cidr(const ml_service_entry *se) {
  for (size_t i = 0; i < se->addresses.count; i++)
    if (strchr(se->addresses.items[i], '/'))
      return 1;
  return 0;
}

/* Addresses: IPs or CIDR blocks, blocks only for NONE and STATIC. */
static void check_se_addresses(ml_loader *L, const ynode *spec,
                               const ml_service_entry *se) {
  for (size_t i = 0; i < se->addresses.count; i++)
    if (!ml_ld_is_cidr(se->addresses.items[i]))
      item_err(L, spec, "addresses", i, NULL,
               "\"%.80s\" is not an IP address or CIDR block",
               se->addresses.items[i]);
  if (has_cidr(se) && se->resolution != ML_RESOLUTION_NONE &&
      se->resolution != ML_RESOLUTION_STATIC)
    ml_ld_field_err(L, "addresses", ml_ld_where(L, spec, "addresses"),
                    "CIDR addresses are allowed only with resolution NONE or "
                    "STATIC");
}

/* Ports: unique names and numbers, DNS-label names, known protocols. */
static void check_se_ports(ml_loader *L, const ynode *spec,
                           const ml_service_entry *se) {
  for (size_t i = 0; i < se->port_count; i++) {
    const ml_service_port *p = &se->ports[i];
    if (p->name && *p->name && !ml_ld_is_dns_label(p->name, strlen(p->name)))
      item_err(L, spec, "ports", i, "name", "invalid port name \"%.80s\"",
               p->name);
    if (p->protocol && !proto_is(p->protocol, kProtocols))
      item_err(L, spec, "ports", i, "protocol",
               "unsupported protocol \"%.80s\"", p->protocol);
    for (size_t j = 0; j < i; j++) {
      if (p->name && se->ports[j].name && *p->name &&
          strcmp(p->name, se->ports[j].name) == 0)
        item_err(L, spec, "ports", i, "name",
                 "port name \"%.80s\" is already defined", p->name);
      if (p->number && p->number == se->ports[j].number)
        item_err(L, spec, "ports", i, "number", "port %u is already defined",
                 p->number);
    }
  }
}

static int se_port_named(const ml_service_entry *se, const char *name) {
  for (size_t i = 0; i < se->port_count; i++)
    if (se->ports[i].name && strcmp(se->ports[i].name, name) == 0)
      return 1;
  return 0;
}

/* Istio's per-resolution rules. */
static void check_se_resolution(ml_loader *L, const ynode *spec,
                                const ml_service_entry *se) {
  static const char *const http_tls[] = {
      "HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY", "HTTPS", "TLS", NULL};
  static const char *const dfp[] = {"HTTP", "TLS", "GRPC", "HTTP2", NULL};
  switch (se->resolution) {
  case ML_RESOLUTION_NONE:
    if (se->endpoint_count)
      ml_ld_field_err(L, "endpoints", ml_ld_where(L, spec, "endpoints"),
                      "no endpoints may be given with resolution NONE");
    break;
  case ML_RESOLUTION_STATIC:
    for (size_t i = 0; i < se->endpoint_count; i++) {
      const char *a = se->endpoints[i].address;
      if (a && *a && !ml_ld_is_ip(a) && strncmp(a, "unix://", 7) != 0)
        item_err(L, spec, "endpoints", i, "address",
                 "endpoint address \"%.80s\" is not an IP address "
                 "(resolution STATIC)",
                 a);
    }
    break;
  case ML_RESOLUTION_DNS:
  case ML_RESOLUTION_DNS_ROUND_ROBIN:
    if (!se->endpoint_count)
      for (size_t i = 0; i < se->hosts.count; i++) {
        if (strchr(se->hosts.items[i], '*')) {
          size_t mark = ml_ld_push(L, "hosts");
          ml_ld_push_index(L, i);
          ml_ld_err_pending(L, 0, item_at(spec, "hosts", i),
                            "host \"%.80s\" must be a name without "
                            "wildcards when DNS resolution has no endpoints",
                            se->hosts.items[i]);
          ml_ld_pop(L, mark);
          break;
        }
      }
    if (se->resolution == ML_RESOLUTION_DNS_ROUND_ROBIN &&
        se->endpoint_count > 1)
      ml_ld_field_err(L, "endpoints", ml_ld_where(L, spec, "endpoints"),
                      "resolution DNS_ROUND_ROBIN takes at most one endpoint");
    break;
  case ML_RESOLUTION_DYNAMIC_DNS:
    for (size_t i = 0; i < se->hosts.count; i++)
      if (se->hosts.items[i][0] != '*')
        item_err(L, spec, "hosts", i, NULL,
                 "host \"%.80s\" must be wildcarded for resolution "
                 "DYNAMIC_DNS",
                 se->hosts.items[i]);
    if (se->addresses.count)
      ml_ld_field_err(L, "addresses", ml_ld_where(L, spec, "addresses"),
                      "addresses cannot be set with resolution DYNAMIC_DNS");
    if (se->endpoint_count)
      ml_ld_field_err(L, "endpoints", ml_ld_where(L, spec, "endpoints"),
                      "endpoints cannot be set with resolution DYNAMIC_DNS");
    for (size_t i = 0; i < se->port_count; i++)
      if (!proto_is(se->ports[i].protocol, dfp))
        item_err(L, spec, "ports", i, "protocol", "%s",
                 "only HTTP, TLS, GRPC and HTTP2 are supported with "
                 "resolution DYNAMIC_DNS");
    break;
  default:
    break;
  }
  if (se->resolution != ML_RESOLUTION_NONE)
    for (size_t i = 0; i < se->endpoint_count; i++)
      for (size_t j = 0; j < se->endpoints[i].ports.count; j++)
        if (!se_port_named(se, se->endpoints[i].ports.items[j].key))
          item_err(L, spec, "endpoints", i, "ports",
                   "endpoint port \"%.80s\" is not defined by the service "
                   "entry",
                   se->endpoints[i].ports.items[j].key);
  /* Several hosts cannot share a plain TCP port: nothing tells them
   * apart (unless nothing is resolved). */
  if (se->resolution != ML_RESOLUTION_NONE && se->hosts.count > 1)
    for (size_t i = 0; i < se->port_count; i++)
      if (!proto_is(se->ports[i].protocol, http_tls)) {
        ml_ld_field_err(L, "hosts", ml_ld_where(L, spec, "hosts"),
                        "several hosts need HTTP or TLS ports (port %u is "
                        "not)",
                        se->ports[i].number);
        break;
      }
}

static void item_err_host(ml_loader *L, const ynode *spec, size_t i,
                          const char *host) {
  size_t mark = ml_ld_push(L, "hosts");
  ml_ld_push_index(L, i);
  ml_ld_check_wildcard_domain(L, item_at(spec, "hosts", i), "host", host);
  ml_ld_pop(L, mark);
}

static void resolve_se_hosts(ml_loader *L, const ynode *spec,
                             ml_service_entry *se) {
  se->host_fqdns = ml_ld_alloc(L, se->hosts.count + 1, sizeof(*se->host_fqdns));
  if (!se->host_fqdns)
    return;
  for (size_t i = 0; i < se->hosts.count; i++) {
    if (strcmp(se->hosts.items[i], "*") == 0) {
      size_t mark = ml_ld_push(L, "hosts");
      ml_ld_push_index(L, i);
      ml_ld_err(L, ml_ld_where(L, spec, "hosts"),
                "\"*\" is not allowed as a ServiceEntry host");
      ml_ld_pop(L, mark);
    } else {
      item_err_host(L, spec, i, se->hosts.items[i]);
    }
    se->host_fqdns[i] = ml_ld_host_fqdn(L, se->hosts.items[i]);
  }
}

void ml_ld_service_entry(ml_loader *L, const ynode *spec,
                         ml_service_entry *se) {
  if (ml_ld_map(L, spec))
    ml_ld_walk(L, spec, kServiceEntry, se);
  resolve_se_hosts(L, spec, se);
  if (!se->host_fqdns)
    return;
  if (se->hosts.count == 0)
    ml_ld_field_err(L, "hosts", ml_ld_where(L, spec, "hosts"),
                    "at least one host is required");
  if (se->endpoints && se->has_workload_selector)
    ml_ld_err(L, ml_ld_get(spec, "workloadSelector"),
              "only one of endpoints or workloadSelector may be set");
  check_se_addresses(L, spec, se);
  check_se_ports(L, spec, se);
  check_se_resolution(L, spec, se);
}
