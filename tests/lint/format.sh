#!/usr/bin/env bash
# The C sources follow .clang-format (Debian 12's clang-format 14).
set -euo pipefail
root=$1
cd "$root"
files=$(find include src tools tests examples bench -name '*.c' -o -name '*.h' | sort)
if ! clang-format --dry-run --Werror $files; then
  echo "run: clang-format -i \$(git ls-files '*.c' '*.h')"
  exit 1
fi
echo "$(echo "$files" | wc -l) files formatted"
