#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Starts the test collector on 127.0.0.1, runs the C driver (the
# test_trace_collector program) against it, then stops the collector: the
# test passes when the driver passes and the collector saw no invalid
# payload. Usage: run.sh DRIVER [SCHEMAS_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
driver=$1
schemas=${2:-$here/../../../shared/schemas}
if [ ! -d "$schemas/opentelemetry-proto" ] || [ ! -f "$schemas/zipkin/zipkin2-api.yaml" ]; then
  echo "skipped: the published schemas are not at $schemas"
  exit 77
fi
if ! command -v node >/dev/null; then
  echo "node is missing: run scripts/install-deps.sh" >&2
  exit 1
fi
if [ ! -d "$here/node_modules/protobufjs" ] || [ ! -d "$here/node_modules/ajv" ]; then
  echo "the collector's packages are missing: run scripts/install-deps.sh (npm ci in tests/collector)" >&2
  exit 1
fi
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
node "$here/collector.js" --schemas "$schemas" >"$tmp/out" 2>"$tmp/err" &
pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$tmp/out")
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "the collector did not start:" >&2
  cat "$tmp/err" >&2
  exit 1
fi
driver_rc=0
MESHLIB_COLLECTOR_URL="http://127.0.0.1:$port" "$driver" || driver_rc=$?
kill -TERM "$pid"
collector_rc=0
wait "$pid" || collector_rc=$?
pid=
echo "collector verdict: $(tail -n 1 "$tmp/out")"
cat "$tmp/err" >&2
if [ "$driver_rc" -ne 0 ] || [ "$collector_rc" -ne 0 ]; then
  echo "FAILED: driver exit $driver_rc, collector exit $collector_rc" >&2
  exit 1
fi
echo "1 passed, 0 failed"
