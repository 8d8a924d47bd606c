#!/usr/bin/env bash
# Usage: exported_symbols.sh LIBMESHLIB.so [LIBMESHLIB-TESTING.so]
# Fails when libmeshlib exports a symbol without the meshlib_ prefix or any
# of the mock-upstream kit (meshlib_mock_*, which belongs to
# libmeshlib-testing), or when libmeshlib-testing exports anything but
# meshlib_mock_*.
set -euo pipefail
status=0
syms() { nm -D --defined-only "$1" | awk 'NF >= 3 {print $3}'; }

bad=$(syms "$1" | grep -v '^meshlib_' | grep -v '^MESHLIB_' || true)
if [ -n "$bad" ]; then
  echo "$1: symbols exported without the meshlib_ prefix:"
  echo "$bad"
  status=1
fi
bad=$(syms "$1" | grep '^meshlib_mock_' || true)
if [ -n "$bad" ]; then
  echo "$1: mock-upstream kit symbols (belong to libmeshlib-testing):"
  echo "$bad"
  status=1
fi
echo "$1: $(syms "$1" | grep -c '^meshlib_') meshlib_* symbols"

if [ $# -ge 2 ]; then
  bad=$(syms "$2" | grep -v '^meshlib_mock_' | grep -v '^MESHLIB_TESTING_' ||
    true)
  if [ -n "$bad" ]; then
    echo "$2: symbols exported without the meshlib_mock_ prefix:"
    echo "$bad"
    status=1
  fi
  echo "$2: $(syms "$2" | grep -c '^meshlib_mock_') meshlib_mock_* symbols"
fi
exit $status
