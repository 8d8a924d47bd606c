#!/usr/bin/env bash
# Installs the built tree into a scratch prefix and builds a small program
# against it twice: with pkg-config and with CMake's find_package(). A small
# test program does the same with the mock-upstream kit (libmeshlib-testing:
# pkg-config meshlib-testing, find_package(meshlib COMPONENTS testing)).
set -euo pipefail
src=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name meshlib.pc -printf '%h\n' | head -1)
[ -n "$libdir" ] || { echo "meshlib.pc was not installed"; exit 1; }
libdir=$(dirname "$libdir")
expect="reviews.default.svc.cluster.local v2"
expect_mock="200 v2 1"

# 1. pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# The installed .pc names the prefix it was configured with; point it here.
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs meshlib)
cc -std=c11 -Wall -Werror -o "$work/pc-consumer" \
  "$src/tests/install/consumer/main.c" $flags
out=$(LD_LIBRARY_PATH="$libdir" "$work/pc-consumer")
echo "pkg-config consumer: $out"
case "$out" in *"$expect") ;; *) echo "unexpected output"; exit 1 ;; esac
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs \
  meshlib-testing)
cc -std=c11 -Wall -Werror -o "$work/pc-mock-consumer" \
  "$src/tests/install/consumer/mock_main.c" $flags
out=$(LD_LIBRARY_PATH="$libdir" "$work/pc-mock-consumer")
echo "pkg-config mock consumer: $out"
[ "$out" = "$expect_mock" ] || { echo "unexpected output"; exit 1; }

# 2. CMake find_package
cmake -S "$src/tests/install/consumer" -B "$work/cm" \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cm" >/dev/null
out=$(LD_LIBRARY_PATH="$libdir" "$work/cm/consumer")
echo "find_package consumer: $out"
case "$out" in *"$expect") ;; *) echo "unexpected output"; exit 1 ;; esac
for p in mock_consumer mock_consumer_static; do
  out=$(LD_LIBRARY_PATH="$libdir" "$work/cm/$p")
  echo "find_package $p: $out"
  [ "$out" = "$expect_mock" ] || { echo "unexpected output"; exit 1; }
done
