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
static void read_we_ports(ml_loader *L, const ynode *n, ml_kv_list *out) {
  if (!ml_ld_map(L, n))
    return;
  ml_kv *items = ml_ld_alloc(L, n->count + 1, sizeof(*items));
  if (!items)
    return;
  size_t count = 0;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    uint32_t port;
    if (!ml_ld_u32(L, it.v, 1, 65535, &port))
      continue;
    char buf[16];
    int w = snprintf(buf, sizeof(buf), "%u", port);
    items[count].key = ml_ld_dup(L, it.key, it.k->len);
    items[count].value = ml_ld_dup(L, buf, (size_t)w);
    if (!items[count].key || !items[count].value)
      return;
    count++;
  }
  out->items = items;
  out->count = count;
}

void ml_ld_workload_entry_spec(ml_loader *L, const ynode *spec,
                               ml_workload_entry_spec *we) {
  we->weight = -1;
  we->origin = ml_ld_origin(L, spec ? spec : L->obj);
  if (!ml_ld_map_nonnull(L, spec, "must not be null"))
    return;
  ml_miter it;
  ml_miter_init(L, &it, spec);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "address"))
      ml_ld_str(L, it.v, &we->address);
    else if (ml_key(&it, "ports"))
      read_we_ports(L, it.v, &we->ports);
    else if (ml_key(&it, "labels"))
      ml_ld_kv_map(L, it.v, &we->labels);
    else if (ml_key(&it, "network"))
      ml_ld_str(L, it.v, &we->network);
    else if (ml_key(&it, "locality"))
      ml_ld_str(L, it.v, &we->locality);
    else if (ml_key(&it, "weight"))
      ml_ld_int(L, it.v, 0, UINT32_MAX, &we->weight);
    else if (ml_key(&it, "serviceAccount"))
      ml_ld_str(L, it.v, &we->service_account);
    else
      ml_ld_unknown(L, &it);
  }
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

static void read_port(ml_loader *L, const ynode *n, void *item) {
  ml_service_port *p = item;
  if (!ml_ld_map_nonnull(L, n, "port must not be null"))
    return;
  ml_miter it;
  ml_miter_init(L, &it, n);
  while (ml_miter_next(L, &it)) {
    if (ml_key(&it, "number")) {
      ml_ld_u32(L, it.v, 1, 65535, &p->number);
    } else if (ml_key(&it, "protocol")) {
      const char *s = NULL;
      if (ml_ld_str(L, it.v, &s)) {
        upper((char *)s);
        p->protocol = s;
      }
    } else if (ml_key(&it, "name")) {
      ml_ld_str(L, it.v, &p->name);
    } else if (ml_key(&it, "targetPort")) {
      ml_ld_u32(L, it.v, 1, 65535, &p->target_port);
    } else {
      ml_ld_unknown(L, &it);
    }
  }
  if (!p->number && !ml_ld_get(n, "number"))
    ml_ld_field_err(L, "number", n, "is required");
  if (!p->name || !*p->name)
    ml_ld_field_err(L, "name", ml_ld_where(L, n, "name"), "is required");
}

void ml_ld_service_entry(ml_loader *L, const ynode *spec,
                         ml_service_entry *se) {
  static const char *const locations[] = {"MESH_EXTERNAL", "MESH_INTERNAL",
                                          NULL};
  static const char *const resolutions[] = {
      "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS", NULL};
  const ynode *endpoints = NULL, *selector = NULL;
  if (ml_ld_map(L, spec)) {
    ml_miter it;
    ml_miter_init(L, &it, spec);
    while (ml_miter_next(L, &it)) {
      int v;
      if (ml_key(&it, "hosts")) {
        ml_ld_str_list(L, it.v, &se->hosts);
      } else if (ml_key(&it, "addresses")) {
        ml_ld_str_list(L, it.v, &se->addresses);
      } else if (ml_key(&it, "ports")) {
        se->ports = ml_ld_array(L, it.v, sizeof(*se->ports), read_port,
                                &se->port_count);
      } else if (ml_key(&it, "location")) {
        if (ml_ld_enum(L, it.v, locations, &v))
          se->location_internal = v == 1;
      } else if (ml_key(&it, "resolution")) {
        if (ml_ld_enum(L, it.v, resolutions, &v))
          se->resolution = (ml_resolution)v;
      } else if (ml_key(&it, "endpoints")) {
        se->endpoints = ml_ld_array(L, it.v, sizeof(*se->endpoints),
                                    read_endpoint, &se->endpoint_count);
        if (se->endpoints)
          endpoints = it.v;
      } else if (ml_key(&it, "workloadSelector")) {
        if (!ml_ld_map(L, it.v))
          continue;
        selector = it.v;
        se->has_workload_selector = 1;
        ml_miter wi;
        ml_miter_init(L, &wi, it.v);
        while (ml_miter_next(L, &wi)) {
          if (ml_key(&wi, "labels"))
            ml_ld_kv_map(L, wi.v, &se->workload_selector);
          else
            ml_ld_unknown(L, &wi);
        }
      } else if (ml_key(&it, "exportTo")) {
        ml_ld_str_list(L, it.v, &se->export_to);
      } else if (ml_key(&it, "subjectAltNames")) {
        ml_ld_str_list(L, it.v, &se->subject_alt_names);
      } else {
        ml_ld_unknown(L, &it);
      }
    }
  }
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
  if (se->hosts.count == 0)
    ml_ld_field_err(L, "hosts", ml_ld_where(L, spec, "hosts"),
                    "at least one host is required");
  if (endpoints && selector)
    ml_ld_err(L, selector,
              "only one of endpoints or workloadSelector may "
              "be set");
}
