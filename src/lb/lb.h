/* SPDX-License-Identifier: MIT */
#ifndef ML_LB_LB_H
#define ML_LB_LB_H

/* Load balancers: built once per endpoint set and policy, then picked from
 * many times by many threads at once. Strategies sit behind a small
 * vtable, as h2o's balancers do (lb_internal.h).
 *
 * Pure code: no sockets, no clock, no hidden randomness (the caller hands
 * in its generator), no locks. The only state a pick changes is the
 * round-robin cursor, with one relaxed atomic add. Live endpoint state
 * (in-flight requests, ejection) is read through pointers the caller owns
 * and updates with atomics.
 *
 * Every balancer applies the same availability rules:
 *  - ejected endpoints are skipped, unless the balancer is in panic: when
 *    fewer than panic_threshold_percent of the endpoints are not ejected
 *    (Envoy's healthy_panic_threshold, Istio's minHealthPercent; 0 means
 *    never), it balances over all endpoints, ejected or not;
 *  - endpoints listed in ctx->tried (earlier attempts of this request) are
 *    avoided, as Envoy's previous_hosts retry predicate does, unless no
 *    other endpoint can be chosen: then they may be picked again;
 *  - when nothing can be chosen the pick fails (the caller reports UH). */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "config/model.h"
#include "route/route.h"
#include "util/mem.h"
#include "util/rand.h"

typedef struct ml_lb_endpoint {
  const char *address; /* IP literal or host name; with the port, the
                          endpoint's identity on a hash ring */
  uint32_t port;
  uint32_t weight;      /* >= 1; 0 (absent) counts as 1 */
  ml_kv_list labels;    /* for subsets; not used by the balancers */
  const char *locality; /* "region/zone/subzone"; NULL when unknown */
  /* Live state, owned by the caller; NULL reads as 0. */
  const _Atomic uint32_t *in_flight; /* requests outstanding */
  const _Atomic int *ejected;        /* nonzero while ejected */
} ml_lb_endpoint;

typedef enum ml_lb_kind {
  ML_LB_KIND_LEAST_REQUEST = 0, /* Istio's default; LEAST_CONN too */
  ML_LB_KIND_ROUND_ROBIN,
  ML_LB_KIND_RANDOM,
  ML_LB_KIND_PASSTHROUGH,
  ML_LB_KIND_RING_HASH,
  ML_LB_KIND_MAGLEV
} ml_lb_kind;

typedef struct ml_lb_config {
  ml_lb_kind kind;
  uint32_t panic_threshold_percent; /* 0..100; 0: never panic */
  uint64_t ring_size_min;           /* RING_HASH; 0: 1024 (minimumRingSize) */
  uint64_t ring_size_max;           /* RING_HASH; 0: 8M (Envoy's default) */
  uint64_t maglev_table_size;       /* MAGLEV; 0: 65537; must be a prime */
  uint64_t rr_start;                /* ROUND_ROBIN's first slot, so that
                                       processes started together do not all
                                       begin with the same endpoint */
} ml_lb_config;

typedef struct ml_lb ml_lb;

/* Per pick. Lives on the caller's stack. */
typedef struct ml_lb_ctx {
  ml_rand *rand;       /* the calling thread's generator; when NULL the
                          balancer derives numbers from an internal
                          atomic counter (correct but slower) */
  uint64_t hash;       /* the request's hash key (ml_lb_hash_key) */
  int has_hash;        /* 0: a hash balancer picks at random */
  const size_t *tried; /* indices already tried by this request */
  size_t tried_count;
} ml_lb_ctx;

/* Pick results. */
enum {
  ML_LB_PICK_OK = 0,
  /* PASSTHROUGH: no endpoint is chosen; send the request to the address
   * it names itself (Envoy's ORIGINAL_DST). *out is not written. */
  ML_LB_PICK_PASSTHROUGH = 1,
  ML_LB_PICK_NONE = -1 /* nothing can be chosen: no healthy upstream */
};

/* Build a balancer over |n| endpoints. The array is copied; the strings,
 * label lists and live-state counters it points to are not, and must
 * outlive the balancer. |n| may be 0 (every pick then fails, except
 * PASSTHROUGH). Returns MESHLIB_OK, MESHLIB_ERR_NOMEM, or
 * MESHLIB_ERR_INVALID_ARG (Maglev table size not a prime, sizes out of
 * range, more than 2^32 - 1 endpoints). */
int ml_lb_new(const ml_mem *mem, const ml_lb_config *cfg,
              const ml_lb_endpoint *eps, size_t n, ml_lb **out);
void ml_lb_free(ml_lb *lb);

/* Choose an endpoint: ML_LB_PICK_OK with its index in *out,
 * ML_LB_PICK_PASSTHROUGH, or ML_LB_PICK_NONE. Safe from any number of
 * threads at once, each with its own ctx. Never allocates. */
int ml_lb_pick(const ml_lb *lb, ml_lb_ctx *ctx, size_t *out);

ml_lb_kind ml_lb_kind_of(const ml_lb *lb);
size_t ml_lb_count(const ml_lb *lb);
const ml_lb_endpoint *ml_lb_endpoint_at(const ml_lb *lb, size_t i);
/* Entries in the ring or Maglev table, or in the round-robin schedule;
 * 0 for the others. For tests and figures. */
size_t ml_lb_table_size(const ml_lb *lb);
const char *ml_lb_kind_name(ml_lb_kind k);

/* Nonzero when |n| is a prime (Maglev table sizes must be). */
int ml_lb_is_prime(uint64_t n);

/* The request's hash key for a consistentHash policy, from |in| (headers,
 * query) and the caller's |source_ip| (may be NULL):
 *  - httpHeaderName: the header's value (several values: all of them,
 *    order-insensitive); ":authority"/"host", ":path" and ":method" also
 *    read the request line when the header list lacks them;
 *  - httpQueryParameterName: the first value of the parameter, as sent
 *    (not decoded, as Envoy does); "a" and "a=" both give "";
 *  - httpCookie: the cookie's value from the Cookie header(s), with
 *    surrounding double quotes removed; an empty value counts as absent;
 *  - useSourceIp: the source address without port.
 * Returns 1 and sets *out when a key exists, 0 when absent (the balancer
 * then picks at random, as Envoy does). */
int ml_lb_hash_key(const ml_consistent_hash *ch, const ml_route_input *in,
                   const char *source_ip, uint64_t *out);

/* Nonzero when the policy hashes on an httpCookie with a ttl and the
 * request does not carry that cookie: the transport must then generate a
 * value (ml_lb_cookie_value), hash it with ml_lb_hash_str, and set the
 * cookie on the response (name, path, Max-Age from ttl; ttl 0 gives a
 * session cookie). */
int ml_lb_cookie_needed(const ml_consistent_hash *ch, const ml_route_input *in);
/* A cookie value: 16 lower-case hex digits of |r| (random bits), NUL
 * terminated, into |buf| of at least 17 bytes. */
void ml_lb_cookie_value(uint64_t r, char buf[17]);
/* The hash of a key text, as ml_lb_hash_key computes it. */
uint64_t ml_lb_hash_str(const char *s, size_t n);

#endif
