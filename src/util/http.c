/* SPDX-License-Identifier: MIT */
#include "util/http.h"
#include "util/str.h"

const char *ml_header_find(const ml_header *h, size_t n, const char *name) {
  /* The first byte, folded (names are letters, digits and '-'), rules out
   * most fields before the comparison: this runs on every call. */
  char first = (char)(name[0] | 0x20);
  for (size_t i = 0; h && i < n; i++)
    if (h[i].name && (char)(h[i].name[0] | 0x20) == first &&
        ml_strcaseeq(h[i].name, name))
      return h[i].value ? h[i].value : "";
  return NULL;
}
