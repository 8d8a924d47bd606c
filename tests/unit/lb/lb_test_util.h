/* SPDX-License-Identifier: MIT */
#ifndef ML_TEST_LB_UTIL_H
#define ML_TEST_LB_UTIL_H

/* Shared by the load-balancing tests (header-only so that the test glob
 * does not take it for a program). */
#include <math.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* |count| of |total| trials should be a share |p|: within five standard
 * deviations of the binomial. With the fixed seeds the tests use this is
 * deterministic, and tight enough that a wrong distribution (off by a
 * percent or two at 100k picks) fails. */
static inline void lbt_assert_share(uint64_t count, uint64_t total, double p) {
  double mean = (double)total * p;
  double sigma = sqrt((double)total * p * (1.0 - p));
  double diff = fabs((double)count - mean);
  if (diff > 5.0 * sigma + 1.0)
    fail_msg("share %llu/%llu = %.4f, expected %.4f (off by %.1f sigma)",
             (unsigned long long)count, (unsigned long long)total,
             (double)count / (double)total, p, diff / (sigma ? sigma : 1));
}

#endif
