/* SPDX-License-Identifier: MIT */
#ifndef ML_LB_HASH_H
#define ML_LB_HASH_H

/* XXH64 (Yann Collet's xxHash, 64-bit), the hash Envoy uses for its ring
 * hash and Maglev tables and for request hash keys. Using the same
 * function and the same per-endpoint key text ("10.0.0.1:8080_3") puts
 * endpoints on the same ring positions as Envoy does. */
#include <stddef.h>
#include <stdint.h>

uint64_t ml_xxh64(const void *data, size_t len, uint64_t seed);

#endif
