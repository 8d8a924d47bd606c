/* SPDX-License-Identifier: MIT */
#include "cluster/effective_policy.h"

#include <string.h>

#include "meshlib/error.h"

/* The port-level entry of |p| for |port|, or NULL (Istio takes the first
 * entry with that number). */
static const ml_traffic_policy *port_level(const ml_traffic_policy *p,
                                           uint32_t port) {
  if (!p || port == 0)
    return NULL;
  for (size_t i = 0; i < p->port_level_count; i++)
    if (p->port_level_settings[i].port == port)
      return &p->port_level_settings[i].policy;
  return NULL;
}

/* Step 1 and the first half of step 2: the policy that |p| gives |port|,
 * into |out| with every group's source. A port-level match replaces the
 * four groups wholesale and drops what a port entry cannot carry. */
static void resolve_port(const ml_traffic_policy *p, uint32_t port,
                         ml_policy_source whole, ml_policy_source at_port,
                         ml_traffic_policy *out, ml_policy_sources *src,
                         int *has_port_level) {
  memset(out, 0, sizeof(*out));
  memset(src, 0, sizeof(*src));
  *has_port_level = 0;
  if (!p)
    return;
  const ml_traffic_policy *pl = port_level(p, port);
  if (pl) {
    *has_port_level = 1;
    out->load_balancer = pl->load_balancer;
    out->connection_pool = pl->connection_pool;
    out->outlier_detection = pl->outlier_detection;
    out->tls = pl->tls;
    out->origin = p->origin;
    src->load_balancer = pl->load_balancer.present ? at_port : 0;
    src->connection_pool = pl->connection_pool.present ? at_port : 0;
    src->outlier_detection = pl->outlier_detection.present ? at_port : 0;
    src->tls = pl->tls.present ? at_port : 0;
    return;
  }
  out->load_balancer = p->load_balancer;
  out->connection_pool = p->connection_pool;
  out->outlier_detection = p->outlier_detection;
  out->tls = p->tls;
  out->retry_budget = p->retry_budget;
  out->origin = p->origin;
  src->load_balancer = p->load_balancer.present ? whole : 0;
  src->connection_pool = p->connection_pool.present ? whole : 0;
  src->outlier_detection = p->outlier_detection.present ? whole : 0;
  src->tls = p->tls.present ? whole : 0;
  src->retry_budget = p->retry_budget.present ? whole : 0;
}

int ml_effective_policy_explain(const ml_dr_view *v, const char *subset,
                                uint32_t port, ml_traffic_policy *out,
                                ml_policy_sources *src) {
  ml_policy_sources ignored;
  if (!src)
    src = &ignored;
  int hp;
  resolve_port(v ? v->traffic_policy : NULL, port, ML_POLICY_DR,
               ML_POLICY_DR_PORT, out, src, &hp);
  if (!subset)
    return MESHLIB_OK;
  const ml_subset *s = ml_dr_view_subset(v, subset);
  if (!s)
    return MESHLIB_ERR_NOT_FOUND;
  if (!s->traffic_policy)
    return MESHLIB_OK;

  ml_traffic_policy sp;
  ml_policy_sources ss;
  int sub_port;
  resolve_port(s->traffic_policy, port, ML_POLICY_SUBSET, ML_POLICY_SUBSET_PORT,
               &sp, &ss, &sub_port);
  /* A group replaces the DR's when the subset sets it, or always when the
   * subset has a port-level entry for this port (which replaces, not
   * merges). retryBudget has no port-level form: only an explicit subset
   * value replaces it. */
#define ML_TAKE(field)                                                         \
  if (sp.field.present || sub_port) {                                          \
    out->field = sp.field;                                                     \
    src->field = ss.field;                                                     \
  }
  ML_TAKE(load_balancer)
  ML_TAKE(connection_pool)
  ML_TAKE(outlier_detection)
  ML_TAKE(tls)
#undef ML_TAKE
  if (sp.retry_budget.present) {
    out->retry_budget = sp.retry_budget;
    src->retry_budget = ss.retry_budget;
  }
  out->origin = s->traffic_policy->origin;
  return MESHLIB_OK;
}

int ml_effective_policy(const ml_dr_view *v, const char *subset, uint32_t port,
                        ml_traffic_policy *out) {
  return ml_effective_policy_explain(v, subset, port, out, NULL);
}

void ml_lb_config_from_policy(const ml_traffic_policy *p, ml_lb_config *out) {
  memset(out, 0, sizeof(*out));
  out->kind = ML_LB_KIND_LEAST_REQUEST;
  if (!p)
    return;
  const ml_load_balancer *lb = &p->load_balancer;
  if (lb->present) {
    if (lb->consistent_hash) {
      const ml_consistent_hash *ch = lb->consistent_hash;
      if (ch->algo == ML_HASH_ALGO_MAGLEV) {
        out->kind = ML_LB_KIND_MAGLEV;
        if (ch->maglev_table_size > 0)
          out->maglev_table_size = (uint64_t)ch->maglev_table_size;
      } else {
        out->kind = ML_LB_KIND_RING_HASH;
        if (ch->minimum_ring_size > 0)
          out->ring_size_min = (uint64_t)ch->minimum_ring_size;
      }
    } else {
      switch (lb->simple) {
      case ML_LB_ROUND_ROBIN:
        out->kind = ML_LB_KIND_ROUND_ROBIN;
        break;
      case ML_LB_RANDOM:
        out->kind = ML_LB_KIND_RANDOM;
        break;
      case ML_LB_PASSTHROUGH:
        out->kind = ML_LB_KIND_PASSTHROUGH;
        break;
      case ML_LB_UNSPECIFIED:
      case ML_LB_LEAST_CONN:
      case ML_LB_LEAST_REQUEST:
      default:
        out->kind = ML_LB_KIND_LEAST_REQUEST;
        break;
      }
    }
  }
  /* Istio sets healthy_panic_threshold only with outlierDetection; Envoy's
   * own default (50 %) never applies. */
  const ml_outlier_detection *od = &p->outlier_detection;
  if (od->present && od->min_health_percent > 0)
    out->panic_threshold_percent =
        od->min_health_percent > 100 ? 100u : (uint32_t)od->min_health_percent;
}
