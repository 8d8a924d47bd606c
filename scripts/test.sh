#!/usr/bin/env bash
# Installs what is missing, builds meshlib with warnings as errors and runs
# every test; then again under AddressSanitizer + UndefinedBehaviorSanitizer,
# and the concurrency tests under ThreadSanitizer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
jobs=$(nproc)

echo "== build and test (warnings are errors)"
"$root/scripts/build.sh" "$root/build"
ctest --test-dir "$root/build" --output-on-failure -j"$jobs"

echo "== build and test under ASan + UBSan"
"$root/scripts/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug \
  -DMESHLIB_ASAN=ON -DMESHLIB_UBSAN=ON -DMESHLIB_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure -j"$jobs" -LE install

echo "== concurrency tests under TSan"
"$root/scripts/build.sh" "$root/build-tsan" -DCMAKE_BUILD_TYPE=Debug \
  -DMESHLIB_TSAN=ON -DMESHLIB_BUILD_BENCH=OFF
TSAN_OPTIONS=halt_on_error=1 \
  ctest --test-dir "$root/build-tsan" --output-on-failure -j"$jobs" -L concurrency

echo "== all tests passed"
