#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shared by the tests/cli/test_*.sh scripts, which source it (it is not a
# test itself: CMake runs only test_*.sh). Checks the environment, makes
# $TMP (removed on exit) and defines the helpers below; a failed check
# counts in $failures and the script goes on, so that one run reports
# every problem. Env: MESHCTL = the binary, DATA = tests/data.
set -euo pipefail
: "${MESHCTL:?set MESHCTL to the meshctl binary}"
: "${DATA:?set DATA to tests/data}"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# run EXPECTED_STATUS ARGS...: run meshctl, keep stdout in $TMP/out and
# stderr in $TMP/err, and check the exit status.
run() {
  local want=$1 rc=0
  shift
  "$MESHCTL" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "meshctl $* exited $rc, expected $want"
    sed 's/^/  stdout: /' "$TMP/out" >&2
    sed 's/^/  stderr: /' "$TMP/err" >&2
    return 1
  fi
}

# out_has REGEX [description]
out_has() {
  grep -Eq -- "$1" "$TMP/out" || {
    fail "${2:-output matches $1}"
    sed 's/^/  stdout: /' "$TMP/out" >&2
  }
}
out_lacks() {
  if grep -Eq -- "$1" "$TMP/out"; then
    fail "${2:-output does not match $1}"
    sed 's/^/  stdout: /' "$TMP/out" >&2
  fi
}

# expect 'PYTHON EXPRESSION over d' [description]: evaluate against the
# JSON in $TMP/out (jq may be absent; python3's json module is not). On
# failure the JSON is shown, labelled $EXPECT_LABEL.
EXPECT_LABEL=json
expect() {
  if ! python3 - "$1" "$TMP/out" "$EXPECT_LABEL" <<'PY'
import json, sys
expr, path, label = sys.argv[1], sys.argv[2], sys.argv[3]
with open(path) as f:
    d = json.load(f)
ok = eval(expr, {"d": d})
if not ok:
    print("  " + label + ": " + json.dumps(d, indent=1), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
  then
    fail "${2:-$1}"
  fi
}

# Mock upstreams (`meshctl mock`) started by a test, stopped on exit.
MOCK_PIDS=()
cleanup() {
  for p in "${MOCK_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# start_mocks OUTFILE ARGS...: run `meshctl mock ARGS` in the background
# and wait until every mock listens; the pid goes to $last_pid.
start_mocks() {
  local out=$1 want
  shift
  "$MESHCTL" mock "$@" >"$out" 2>"$out.err" &
  last_pid=$!
  MOCK_PIDS+=("$last_pid")
  want=$(printf '%s\n' "$@" | grep -c -- '^--name$')
  for _ in $(seq 100); do
    if [ "$(grep -c '^listening ' "$out" || true)" -ge "$want" ]; then
      return 0
    fi
    sleep 0.05
  done
  echo "FAIL: meshctl mock $* did not start" >&2
  cat "$out" "$out.err" >&2
  exit 1
}
# port_of OUTFILE NAME
port_of() {
  awk -v n="$2" '$1 == "listening" && $2 == n { split($3, a, ":"); print a[2] }' "$1"
}

# check 'PYTHON EXPRESSION' [description]: over the JSON lines in
# $TMP/out. L is the list of objects; U(L) counts them by mock name
# (None for no upstream), C(L, key) by any key.
check() {
  if ! python3 - "$1" "$TMP/out" <<'PY'
import collections, json, os, sys
expr, path = sys.argv[1], sys.argv[2]
names = dict(kv.split("=") for kv in os.environ["MOCKS"].split())
L = [json.loads(x) for x in open(path) if x.strip()]
def U(lines):
    return collections.Counter(names.get(d["upstream"], d["upstream"])
                               for d in lines)
def C(lines, key):
    return collections.Counter(d[key] for d in lines)
ok = eval(expr, {"L": L, "U": U, "C": C, "names": names})
if not ok:
    print("  %d lines; by upstream %s; by status %s; by flags %s" %
          (len(L), dict(U(L)), dict(C(L, "status")),
           dict(C(L, "response_flags"))), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
  then
    fail "${2:-$1}"
  fi
}
# finish NAME: the script's exit status and summary line.
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "$1: all checks passed"
}
