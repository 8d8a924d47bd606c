/* SPDX-License-Identifier: MIT */
#include "lb/select.h"

#include <string.h>

#include "util/rand.h"

/* Istio weights are int32; clamp anyway so that a sum over any number of
 * destinations cannot overflow 64 bits. */
static uint64_t dest_weight(const ml_route_destination *d) {
  if (d->weight <= 0)
    return 0;
  return d->weight > 0xffffffffLL ? 0xffffffffULL : (uint64_t)d->weight;
}

size_t ml_pick_destination(const ml_route_destination *d, size_t n,
                           uint64_t r) {
  if (n <= 1)
    return 0;
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += dest_weight(&d[i]);
  if (total == 0)
    return 0;
  /* The high word of r * total is uniform in [0, total) for uniform r
   * (bias at most total / 2^64), and needs no division. */
  uint64_t x = ml_mul128(r, total, NULL);
  for (size_t i = 0; i < n; i++) {
    uint64_t w = dest_weight(&d[i]);
    if (x < w)
      return i;
    x -= w;
  }
  return n - 1; /* not reached */
}

int ml_destinations_all_zero(const ml_route_destination *d, size_t n) {
  if (n < 2)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (dest_weight(&d[i]) > 0)
      return 0;
  return 1;
}

int ml_labels_select(const ml_kv_list *selector, const ml_kv_list *labels) {
  if (!selector)
    return 1;
  for (size_t i = 0; i < selector->count; i++) {
    const ml_kv *want = &selector->items[i];
    int found = 0;
    for (size_t j = 0; labels && j < labels->count; j++) {
      const ml_kv *have = &labels->items[j];
      if (have->key && want->key && strcmp(have->key, want->key) == 0) {
        found =
            have->value && want->value && strcmp(have->value, want->value) == 0;
        /* Also accept "" == NULL-valued labels written as `key: ""`. */
        if (!found && (!have->value || !*have->value) &&
            (!want->value || !*want->value))
          found = 1;
        break;
      }
    }
    if (!found)
      return 0;
  }
  return 1;
}
