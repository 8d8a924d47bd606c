#!/usr/bin/env bash
# The layers of src/, as docs/design.md writes them down (its ```layers
# block, highest first): a file includes headers of its own folder or of
# folders below it, never above, and its object calls nothing defined
# above it; every folder of src/ has a place; and the folders marked
# (pure) call no clock, lock, sleep or socket, which the symbols their
# objects import show.
#
# usage: layers.sh <source root> <directory of the library's objects>
set -euo pipefail
root=$1
objects=$2

order=$(awk '/^```layers/ {on = 1; next} /^```/ {on = 0} on && NF {print}' \
  "$root/docs/design.md")
if [ -z "$order" ]; then
  echo "docs/design.md has no \`\`\`layers block"
  exit 1
fi

declare -A rank pure
n=$(printf '%s\n' "$order" | wc -l)
i=0
while read -r folder rest; do
  rank[$folder]=$((n - i)) # the lowest layer ranks 1
  case "$rest" in *"(pure)"*) pure[$folder]=1 ;; esac
  i=$((i + 1))
done <<<"$order"

fail=0
for dir in "$root"/src/*/; do
  folder=$(basename "$dir")
  if [ -z "${rank[$folder]:-}" ]; then
    echo "src/$folder/ has no place in docs/design.md's layers"
    fail=1
  fi
done

# Quoted includes name a folder of src/ (or meshlib/, the public headers).
while IFS=: read -r file line text; do
  from=$(basename "$(dirname "$file")")
  to=$(sed -E 's/.*#include "([^/"]+)\/.*/\1/' <<<"$text")
  [ "$to" = meshlib ] || [ "$to" = "$from" ] && continue
  if [ -z "${rank[$to]:-}" ] || [ -z "${rank[$from]:-}" ]; then
    continue # reported above
  fi
  if [ "${rank[$to]}" -gt "${rank[$from]}" ]; then
    echo "${file#"$root"/}:$line: $from includes $to, a layer above it"
    fail=1
  fi
done < <(grep -rnE '^#include "[^/"]+/' "$root/src" --include='*.[ch]')

# The objects of the library's current sources (a stale object of a moved
# file may linger in the build tree).
objs=()
for obj in "$objects"/src/*/*.o; do
  src=${obj#"$objects"/}
  [ -e "$root/${src%.o}" ] && objs+=("$obj")
done
if [ ${#objs[@]} -eq 0 ]; then
  echo "no object under $objects/src"
  exit 1
fi

# Calls go downward too, public functions included: no object uses a
# symbol that a folder above its own defines.
declare -A home
while read -r sym folder; do
  home[$sym]=$folder
done < <(for obj in "${objs[@]}"; do
  folder=$(basename "$(dirname "$obj")")
  nm --defined-only "$obj" | awk -v f="$folder" '$2 ~ /^[TDBR]$/ {print $3, f}'
done)
for obj in "${objs[@]}"; do
  from=$(basename "$(dirname "$obj")")
  for sym in $(nm -u "$obj" | awk '{print $2}'); do
    to=${home[$sym]:-}
    [ -n "$to" ] && [ -n "${rank[$to]:-}" ] && [ -n "${rank[$from]:-}" ] || continue
    if [ "${rank[$to]}" -gt "${rank[$from]}" ]; then
      echo "src/$from/$(basename "$obj" .o) calls $sym of $to, a layer above it"
      fail=1
    fi
  done
done

# What the pure folders may not call, by the symbols their objects import.
banned='^(clock_gettime|clock_nanosleep|time|gettimeofday|nanosleep|usleep|sleep|pthread_(mutex|cond|rwlock|spin)_[a-z]+|sem_[a-z]+|socket|connect|accept4?|bind|listen|send|sendto|sendmsg|recv|recvfrom|recvmsg|poll|ppoll|select|epoll_[a-z]+|getaddrinfo)$'
checked=0
for obj in "${objs[@]}"; do
  folder=$(basename "$(dirname "$obj")")
  [ -n "${pure[$folder]:-}" ] || continue
  checked=$((checked + 1))
  hits=$(nm -u "$obj" | awk '{print $2}' | sed 's/@.*//' | grep -E "$banned" || true)
  if [ -n "$hits" ]; then
    echo "src/$folder/$(basename "$obj" .o) (pure) calls:" $hits
    fail=1
  fi
done

[ "$fail" -eq 0 ] || exit 1
echo "layers hold: $n folders, ${#objs[@]} objects, includes and calls downward;" \
  "$checked objects of pure folders call no clock, lock, sleep or socket"
