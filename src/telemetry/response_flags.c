/* SPDX-License-Identifier: MIT */
/* Envoy's response flags as text (%RESPONSE_FLAGS%): the access log, the
 * response_flags label of the metrics, span tags and decisions. */
#include <stdio.h>
#include <string.h>
#include "meshlib/meshlib.h"

/* Envoy prints flags in this order. */
static const struct {
  uint32_t bit;
  const char *name;
} flag_names[] = {
    {MESHLIB_RF_UH, "UH"}, {MESHLIB_RF_UF, "UF"},   {MESHLIB_RF_UO, "UO"},
    {MESHLIB_RF_NR, "NR"}, {MESHLIB_RF_URX, "URX"}, {MESHLIB_RF_UT, "UT"},
    {MESHLIB_RF_LR, "LR"}, {MESHLIB_RF_UR, "UR"},   {MESHLIB_RF_UC, "UC"},
    {MESHLIB_RF_DI, "DI"}, {MESHLIB_RF_FI, "FI"},   {MESHLIB_RF_RL, "RL"},
    {MESHLIB_RF_SI, "SI"}, {MESHLIB_RF_UPE, "UPE"}, {MESHLIB_RF_NC, "NC"},
    {MESHLIB_RF_DC, "DC"},
};

size_t meshlib_response_flags_str(uint32_t flags, char *buf, size_t len) {
  char text[64] = "-";
  size_t n = flags ? 0 : 1;
  for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
    if (!(flags & flag_names[i].bit))
      continue;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", n ? "," : "",
                          flag_names[i].name);
  }
  if (buf && len) {
    size_t c = n < len ? n : len - 1;
    memcpy(buf, text, c);
    buf[c] = '\0';
  }
  return n;
}
