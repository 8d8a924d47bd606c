#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The calls benchmark (bench/bench_calls.c) and what the machine's noise
# cannot blur: user-space instructions per call (callgrind) and system
# calls per call (strace), plain libcurl against meshlib. See
# docs/performance.md, section "Calls".
#
# Usage: scripts/bench-calls.sh [BUILD_DIR]   (default: build-bench)
# Environment: CALLS (timed calls per side and run, default 20000),
#   ROUNDS (default 5), K (calls counted by callgrind and strace, default
#   2000; each is also run with 2*K), SKIP_TIMED=1 (counts only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build-bench"}
calls=${CALLS:-20000}
rounds=${ROUNDS:-5}
k=${K:-2000}
out="$build/bench-calls"

if ! command -v valgrind >/dev/null || ! command -v strace >/dev/null; then
  "$root/scripts/install-deps.sh"
fi
if [ ! -x "$build/bench_calls" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMESHLIB_WERROR=ON >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target bench_calls >/dev/null
bench="$build/bench_calls"
mkdir -p "$out"

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo |
  cut -d: -f2- | sed 's/^ *//'), $(curl-config --version 2>/dev/null)"

if [ "${SKIP_TIMED:-0}" != 1 ]; then
  "$bench" --calls "$calls" --rounds "$rounds"
fi

# Instructions: callgrind counts only inside run_<kind>_calls() (the
# measured loop on the main thread; the mock is another process that
# valgrind does not follow), for K and 2K calls. The difference over K is
# the cost of one call, whatever the warm-up and the loop's first call
# cost.
instr() { # kind calls -> total Ir inside the loop
  local f="$out/callgrind.$1.$2"
  valgrind --tool=callgrind --toggle-collect="run_$1_calls*" \
    --callgrind-out-file="$f" "$bench" --only "$1" --calls "$2" \
    >/dev/null 2>"$f.log"
  awk '/^(summary|totals):/ {print $2; exit}' "$f"
}

# System calls: strace without -f follows the main thread only, which
# makes every call (the mock runs in a child process, and would run in
# other threads with --inproc). Totals for K and 2K calls; the difference
# over K is the count per call.
sysc() { # kind calls -> total system calls of the main thread
  local f="$out/strace.$1.$2"
  strace -c -o "$f" "$bench" --only "$1" --calls "$2" >/dev/null
  awk '$NF == "total" {print $(NF-2)}' "$f"
}

per_call() { # a(K) a(2K) K -> (a(2K) - a(K)) / K
  awk -v a="$1" -v b="$2" -v k="$3" 'BEGIN {printf "%.1f", (b - a) / k}'
}

declare -A ir sc
for kind in plain meshlib fresh; do
  ir[$kind]=$(per_call "$(instr $kind "$k")" "$(instr $kind $((2 * k)))" "$k")
  sc[$kind]=$(per_call "$(sysc $kind "$k")" "$(sysc $kind $((2 * k)))" "$k")
  echo "calls_instr_${kind}_per_call ${ir[$kind]}"
  echo "calls_syscalls_${kind}_per_call ${sc[$kind]}"
done
for kind in meshlib fresh; do
  awk -v m="${ir[$kind]}" -v p="${ir[plain]}" -v ms="${sc[$kind]}" \
    -v ps="${sc[plain]}" -v n="$kind" 'BEGIN {
      printf "calls_instr_%s_added %.0f\n", n, m - p
      printf "calls_instr_%s_added_pct %.2f\n", n, (m - p) * 100 / p
      printf "calls_syscalls_%s_added %.1f\n", n, ms - ps
    }'
done

# Where meshlib's instructions go: inclusive costs of the 2K-call run.
callgrind_annotate --inclusive=yes "$out/callgrind.meshlib.$((2 * k))" \
  >"$out/annotate.meshlib.txt" 2>/dev/null || true
callgrind_annotate --inclusive=yes "$out/callgrind.plain.$((2 * k))" \
  >"$out/annotate.plain.txt" 2>/dev/null || true
echo "# profiles: $out/annotate.{meshlib,plain}.txt," \
  "strace tables: $out/strace.*"
