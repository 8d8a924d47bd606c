/* SPDX-License-Identifier: MIT */
/* ServiceEntry and WorkloadEntry specs -> ml_service_entry and
 * ml_workload_entry_spec. */
#include "config/load_internal.h"

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
}
