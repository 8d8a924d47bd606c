#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The calls benchmark (bench/bench_calls.c) and what the machine's noise
# cannot blur: user-space instructions per call (callgrind) and system
# calls per call (strace), plain libcurl against meshlib. See
# docs/performance.md, section "Calls".
#
# Usage: scripts/bench-calls.sh [BUILD_DIR]   (default: build-bench)
# Environment: CALLS (timed calls per side and mode, default 40000),
#   ROUNDS (default 20), K (calls counted by callgrind and strace, default
#   2000), REPS (callgrind runs, default 3), SKIP_TIMED=1 (counts only),
#   SKIP_COUNTS=1 (timings only), BENCH_ARGS (more bench_calls options,
#   e.g. "--resilience", "--tracing 100", "--same-bytes").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build-bench"}
calls=${CALLS:-40000}
rounds=${ROUNDS:-20}
k=${K:-2000}
out="$build/bench-calls"

if ! command -v valgrind >/dev/null || ! command -v strace >/dev/null; then
  "$root/scripts/install-deps.sh"
fi
if [ ! -x "$build/bench_calls" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMESHLIB_WERROR=ON >/dev/null
fi
if ! cmake --build "$build" -j"$(nproc)" --target bench_calls \
  >"$out.build.log" 2>&1; then
  cat "$out.build.log" >&2
  exit 1
fi
bench="$build/bench_calls"
mkdir -p "$out"

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo |
  cut -d: -f2- | sed 's/^ *//'), $(curl-config --version 2>/dev/null)"

if [ "${SKIP_TIMED:-0}" != 1 ]; then
  "$bench" --calls "$calls" --rounds "$rounds" ${BENCH_ARGS:-}
fi
if [ "${SKIP_COUNTS:-0}" = 1 ]; then
  exit 0
fi

# Instructions: callgrind on the bench's "pair" mode, which makes plain
# and meshlib calls in turn on the main thread, counting only inside
# run_marked() (not the setup, not the warm-up, not the mock, which is
# another process that valgrind does not follow). Each kind's cost is
# the inclusive count of its function (plain_call, meshlib_call) over K;
# the "marked" mode adds fresh calls (fresh_call: a request created,
# performed and freed), counted in one more run. Taking turns matters:
# libcurl's own
# count moves by up to 2,000 instructions a call between runs (how often
# a read finds the response already there changes its loop); in one run
# all kinds meet the same conditions. Median of REPS (default 3) runs.
# "outside libcurl": the same without curl_easy_perform() (but with the
# callbacks each side gives libcurl), which timing does not move.
reps=${REPS:-3}
instr() { # mode rep -> "plain meshlib fresh plain_out meshlib_out"
  local f="$out/callgrind.$1.$2"
  valgrind --tool=callgrind --toggle-collect='run_marked*' \
    --callgrind-out-file="$f" "$bench" --only "$1" --calls "$k" ${BENCH_ARGS:-} \
    >/dev/null 2>"$f.log"
  callgrind_annotate --inclusive=yes --tree=caller --threshold=100 "$f" \
    2>/dev/null | python3 -c '
import re, sys
k = int(sys.argv[1])
callers, cost = [], {}
def fn(line):
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+([<*])\s+(\S+)", line)
    if not m:
        return None
    return int(m.group(1).replace(",", "")), m.group(2), m.group(3)
for line in sys.stdin:
    x = fn(line)
    if not x:
        callers = []
        continue
    ir, kind, name = x
    name = name.split(":", 1)[-1].split(".")[0]
    if kind == "<":
        callers.append((ir, name))
        continue
    for cir, cname in callers:
        cost[(name, cname)] = cost.get((name, cname), 0) + cir
    cost[(name, "*")] = cost.get((name, "*"), 0) + ir
    callers = []
g = lambda *a: cost.get(a, 0)
plain = g("plain_call", "*")
mesh = g("meshlib_call", "run_marked")
fresh = g("fresh_call", "*")
cb = g("on_header", "*") + g("on_write", "*")
curl_m = g("curl_easy_perform", "ml_xfer_perform")
plain_out = plain - g("curl_easy_perform", "plain_call") + g("on_body", "*")
mesh_out = mesh - curl_m + cb  # meaningful in "pair" mode only
print("%.1f %.1f %.1f %.1f %.1f" % (plain / k, mesh / k, fresh / k,
                                    plain_out / k, mesh_out / k))
' "$k"
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# System calls: strace without -f follows the main thread only, which
# makes every call (the mock runs in a child process, and would run in
# other threads with --inproc). The bench's "marked" mode makes plain,
# meshlib and fresh calls in turn, each after a marker system call
# (getppid, getuid, getgid; getegid ends), so that each call's system
# calls are told apart while all kinds meet the same timing. A poll()
# with a timeout is libcurl waiting for a response that is not there
# yet: timing, not the caller; counted apart.
sysc() { # calls -> lines "kind syscalls_per_call waiting_polls_per_call"
  local f="$out/strace.marked.$1"
  strace -o "$f" "$bench" --only marked --calls "$1" ${BENCH_ARGS:-} >/dev/null
  awk '
    /^getppid\(/ { cur = "plain"; n[cur]++; next }
    /^getuid\(/ { cur = "meshlib"; n[cur]++; next }
    /^getgid\(/ { cur = "fresh"; n[cur]++; next }
    /^getegid\(/ { cur = ""; next }
    cur != "" { c[cur]++; if ($0 ~ /^poll\(/ && $0 !~ /, 0\) +=/) w[cur]++ }
    END { for (k in n) printf "%s %.3f %.3f\n", k, c[k] / n[k], w[k] / n[k] }' \
    "$f"
  grep -h -o '^[a-z_0-9]*(' "$f" | sort | uniq -c | sort -rn \
    >"$f.counts"
}

declare -A ir sc po oc
while read -r kind calls polls; do
  sc[$kind]=$calls
  po[$kind]=$polls
done <<<"$(sysc "$k")"
declare -A runs
for r in $(seq "$reps"); do
  read -r a b _ d e <<<"$(instr pair "$r")"
  runs[plain]+="$a " runs[meshlib]+="$b "
  runs[plain_out]+="$d " runs[meshlib_out]+="$e "
done
for kind in plain meshlib plain_out meshlib_out; do
  ir[$kind]=$(printf '%s\n' ${runs[$kind]} | median)
done
# Fresh calls: what creating and freeing the request adds to a meshlib
# call, measured in one run of the three kinds.
read -r a b c _ _ <<<"$(instr marked 1)"
ir[fresh]=$(awk -v f="$c" -v m="$b" -v mm="${ir[meshlib]}" \
  'BEGIN {printf "%.1f", mm + f - m}')
runs[fresh]="$c (meshlib in that run: $b)"
oc[plain]=${ir[plain_out]}
oc[meshlib]=${ir[meshlib_out]}
oc[fresh]=$(awk -v f="${ir[fresh]}" -v m="${ir[meshlib]}" \
  -v o="${ir[meshlib_out]}" 'BEGIN {printf "%.1f", f - m + o}')
for kind in plain meshlib fresh; do
  echo "calls_instr_${kind}_per_call ${ir[$kind]} (runs: ${runs[$kind]% })"
  echo "calls_instr_${kind}_outside_curl_per_call ${oc[$kind]}"
  echo "calls_syscalls_${kind}_per_call ${sc[$kind]}"
  echo "calls_syscalls_${kind}_waiting_polls_per_call ${po[$kind]}"
done
for kind in meshlib fresh; do
  awk -v m="${ir[$kind]}" -v p="${ir[plain]}" -v mo="${oc[$kind]}" \
    -v pl="${oc[plain]}" -v ms="${sc[$kind]}" -v ps="${sc[plain]}" \
    -v mp="${po[$kind]}" -v pp="${po[plain]}" -v n="$kind" 'BEGIN {
      printf "calls_instr_%s_added %.0f\n", n, m - p
      printf "calls_instr_%s_added_pct %.2f\n", n, (m - p) * 100 / p
      printf "calls_instr_%s_added_outside_curl %.0f\n", n, mo - pl
      printf "calls_syscalls_%s_added %.3f\n", n, ms - ps
      printf "calls_syscalls_%s_added_besides_waiting %.3f\n", n,
        (ms - mp) - (ps - pp)
    }'
done

# Where the instructions go, by caller.
callgrind_annotate --inclusive=yes --tree=caller "$out/callgrind.pair.1" \
  >"$out/annotate.txt" 2>/dev/null || true
echo "# profile (callers, inclusive): $out/annotate.txt," \
  "strace log and counts: $out/strace.marked.$k{,.counts}"
