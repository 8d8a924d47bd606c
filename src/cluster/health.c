/* SPDX-License-Identifier: MIT */
#include "cluster/health.h"

size_t ml_cluster_ejected_count(const ml_cluster *k) {
  size_t n = 0;
  for (size_t i = 0; k && i < k->endpoint_count; i++)
    n += ml_outlier_is_ejected(&k->states[i]->outlier) != 0;
  return n;
}

void ml_cluster_report_attempt(const ml_cluster *k, size_t endpoint_index,
                               const ml_attempt_result *res, int64_t now_ms) {
  ml_outlier_config c;
  if (!k || !res || endpoint_index >= k->endpoint_count ||
      !ml_outlier_config_of(&k->policy.outlier_detection, &c))
    return;
  ml_outlier_host *h = &k->states[endpoint_index]->outlier;
  unsigned fired = ml_outlier_count(&c, h, res);
  ml_cluster_state *s = k->state;
  if (!fired || !s)
    return;
  /* Each detector that fired, in order, under the lock: an ejection
   * reads how many are ejected, which only ejections and sweeps change. */
  static const unsigned order[] = {ML_OUTLIER_GATEWAY, ML_OUTLIER_5XX,
                                   ML_OUTLIER_LOCAL};
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
    if (!(fired & order[i]))
      continue;
    pthread_mutex_lock(&s->lock);
    size_t ejected = ml_outlier_is_ejected(h) ? 0 : ml_cluster_ejected_count(k);
    ml_outlier_on_consecutive(&c, &s->outlier, h, order[i], ejected,
                              k->endpoint_count, now_ms);
    pthread_mutex_unlock(&s->lock);
  }
}

void ml_cluster_outlier_tick(const ml_cluster *k, int64_t now_ms) {
  if (!k || !k->state || !k->policy.outlier_detection.present)
    return;
  ml_cluster_state *s = k->state;
  ml_outlier_config c;
  if (!ml_outlier_sweep_claim(&s->outlier, &k->policy.outlier_detection, now_ms,
                              &c))
    return;
  pthread_mutex_lock(&s->lock);
  /* Every return first, then every multiplier, as Envoy's sweep. */
  for (size_t i = 0; i < k->endpoint_count; i++)
    ml_outlier_sweep_return(&c, &k->states[i]->outlier, now_ms);
  for (size_t i = 0; i < k->endpoint_count; i++)
    ml_outlier_sweep_relax(&c, &k->states[i]->outlier, now_ms);
  pthread_mutex_unlock(&s->lock);
}
