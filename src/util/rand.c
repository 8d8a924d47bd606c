/* SPDX-License-Identifier: MIT */
#include "util/rand.h"

#include <stddef.h>

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t ml_mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void ml_rand_seed(ml_rand *r, uint64_t seed) {
  /* splitmix64 as the reference seeds xoshiro: consecutive outputs of
   * one stream, so that similar seeds give unrelated states. */
  for (int i = 0; i < 4; i++) {
    seed += 0x9e3779b97f4a7c15ULL;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    r->s[i] = z ^ (z >> 31);
  }
  /* An all-zero state is the one fixed point; splitmix64 cannot produce
   * four zeros in a row, but be explicit about it. */
  if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
    r->s[0] = 1;
}

uint64_t ml_rand_next(ml_rand *r) {
  uint64_t *s = r->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t ml_mul128(uint64_t a, uint64_t b, uint64_t *lo) {
#if defined(__SIZEOF_INT128__)
  __extension__ typedef unsigned __int128 u128;
  u128 p = (u128)a * b;
  if (lo)
    *lo = (uint64_t)p;
  return (uint64_t)(p >> 64);
#else
  uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32;
  uint64_t b_lo = b & 0xffffffffu, b_hi = b >> 32;
  uint64_t p0 = a_lo * b_lo, p1 = a_lo * b_hi;
  uint64_t p2 = a_hi * b_lo, p3 = a_hi * b_hi;
  uint64_t mid = (p0 >> 32) + (p1 & 0xffffffffu) + (p2 & 0xffffffffu);
  if (lo)
    *lo = (mid << 32) | (p0 & 0xffffffffu);
  return p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
#endif
}

uint64_t ml_rand_below(ml_rand *r, uint64_t n) {
  if (n == 0)
    return 0;
  /* Lemire, "Fast Random Integer Generation in an Interval" (2019): the
   * high word of x * n is uniform once the few low words below
   * 2^64 mod n are rejected. */
  uint64_t lo;
  uint64_t hi = ml_mul128(ml_rand_next(r), n, &lo);
  if (lo < n) {
    uint64_t threshold = (0 - n) % n;
    while (lo < threshold)
      hi = ml_mul128(ml_rand_next(r), n, &lo);
  }
  return hi;
}

double ml_rand_double(ml_rand *r) {
  return (double)(ml_rand_next(r) >> 11) * 0x1.0p-53;
}
