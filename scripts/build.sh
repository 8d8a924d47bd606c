#!/usr/bin/env bash
# Configures and builds meshlib into the directory given (default: build).
# Extra arguments go to cmake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-"$root/build"}
shift || true
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMESHLIB_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
