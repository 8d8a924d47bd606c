#!/usr/bin/env bash
# Fails when the shared library exports a symbol without the meshlib_ prefix.
set -euo pipefail
bad=$(nm -D --defined-only "$1" | awk '{print $3}' | grep -v '^meshlib_' | grep -v '^MESHLIB_' || true)
if [ -n "$bad" ]; then
  echo "symbols exported without the meshlib_ prefix:"
  echo "$bad"
  exit 1
fi
echo "exported: $(nm -D --defined-only "$1" | grep -c ' meshlib_') meshlib_* symbols"
