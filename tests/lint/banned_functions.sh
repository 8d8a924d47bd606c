#!/usr/bin/env bash
# curl's checksrc idea: functions that invite overflows or hidden state.
set -euo pipefail
root=$1
hits=$(grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|rand|srand)\s*\(' \
  "$root/src" "$root/tools" "$root/include" || true)
if [ -n "$hits" ]; then
  echo "banned functions used:"
  echo "$hits"
  exit 1
fi
echo "no banned function in src/, tools/, include/"
