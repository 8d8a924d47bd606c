/* SPDX-License-Identifier: MIT */
#ifndef ML_UTIL_RAND_H
#define ML_UTIL_RAND_H

/* A small, fast pseudo-random generator with explicit state:
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64 so that
 * any 64-bit seed, 0 included, gives a good state. Not cryptographic.
 *
 * The state belongs to its caller: the mesh gives each thread its own, so
 * there is no hidden global state and no lock. A state must not be used
 * by two threads at once. */
#include <stdint.h>

typedef struct ml_rand {
  uint64_t s[4];
} ml_rand;

void ml_rand_seed(ml_rand *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t ml_rand_next(ml_rand *r);
/* Uniform in [0, n) without modulo bias (Lemire's multiply-and-reject);
 * 0 when n is 0. */
uint64_t ml_rand_below(ml_rand *r, uint64_t n);
/* Uniform in [0, 1), 53 bits of precision. */
double ml_rand_double(ml_rand *r);

/* splitmix64's step: a good 64-bit mixer on its own (used to seed, and to
 * derive fresh numbers from a counter). */
uint64_t ml_mix64(uint64_t x);

/* The high 64 bits of the 128-bit product a * b; *lo gets the low ones
 * (lo may be NULL). */
uint64_t ml_mul128(uint64_t a, uint64_t b, uint64_t *lo);

#endif
