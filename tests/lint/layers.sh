#!/usr/bin/env bash
# The layers of src/, as docs/design.md writes them down (its ```layers
# block, highest first): a file includes headers of its own folder or of
# folders below it, never above; every folder of src/ has a place; and the
# folders marked (pure) call no clock, lock, sleep or socket, which the
# symbols their objects import show.
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

# What the pure folders may not call, by the symbols their objects import.
banned='^(clock_gettime|clock_nanosleep|time|gettimeofday|nanosleep|usleep|sleep|pthread_(mutex|cond|rwlock|spin)_[a-z]+|sem_[a-z]+|socket|connect|accept4?|bind|listen|send|sendto|sendmsg|recv|recvfrom|recvmsg|poll|ppoll|select|epoll_[a-z]+|getaddrinfo)$'
checked=0
for folder in "${!pure[@]}"; do
  for obj in "$objects"/src/"$folder"/*.o; do
    [ -e "$obj" ] || continue
    checked=$((checked + 1))
    hits=$(nm -u "$obj" | awk '{print $2}' | sed 's/@.*//' | grep -E "$banned" || true)
    if [ -n "$hits" ]; then
      echo "src/$folder/$(basename "$obj" .o) (pure) calls:" $hits
      fail=1
    fi
  done
done
if [ "$checked" -eq 0 ]; then
  echo "no object of a pure folder under $objects/src"
  exit 1
fi

[ "$fail" -eq 0 ] || exit 1
echo "layers hold: $n folders in order; $checked objects of pure folders call no clock, lock, sleep or socket"
