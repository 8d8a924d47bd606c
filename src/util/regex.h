/* SPDX-License-Identifier: MIT */
#ifndef ML_UTIL_REGEX_H
#define ML_UTIL_REGEX_H

/* Regular expressions with RE2-style semantics on PCRE2: a match regex
 * must match the whole subject (Envoy's safe_regex full match). */
#include <stddef.h>
#include "util/mem.h"

typedef struct ml_regex ml_regex;

enum { ML_REGEX_FULL = 1, ML_REGEX_SEARCH = 0 };

/* Compile |pattern|. On failure returns -1 and writes a message naming the
 * offset into |err|. The regex is linked into |*list| so that its owner
 * frees all of them with ml_regex_free_list(). */
int ml_regex_compile(const ml_mem *mem, const char *pattern, int mode,
                     ml_regex **list, ml_regex **out, char *err, size_t errlen);
/* 1 when |s| (|len| bytes) matches, 0 otherwise. Thread-safe; does not
 * allocate after a thread's first call. */
int ml_regex_match(const ml_regex *re, const char *s, size_t len);
void ml_regex_free_list(const ml_mem *mem, ml_regex *list);

/* Append |s| with every match of |re| replaced by |rewrite| to |out|, as
 * Envoy's regex_rewrite does; \1 to \9 in |rewrite| name capture groups
 * (RE2's syntax). Returns 0, or -1 when the substitution failed (|out|
 * is then unchanged). */
int ml_regex_replace(const ml_regex *re, const char *s, const char *rewrite,
                     ml_buf *out);

#endif
