#!/usr/bin/env bash
# A real Prometheus (Debian's `prometheus` package) scrapes meshlib's admin
# listener on 127.0.0.1, and its HTTP query API must return what the calls
# did: 7 responses 200 and 3 responses 503 in istio_requests_total, and
# the latency histogram's buckets (8 calls under 1 s, 2 delayed 1.5 s).
# Prometheus scrapes for the first time about 6 s after it starts even
# with a 1 s interval: the test waits up to 60 s for the answer.
# Usage: test_prometheus.sh PROM_TARGET   (exit 77: skipped)
set -euo pipefail
target=$1

if ! command -v prometheus >/dev/null 2>&1; then
  echo "SKIP: prometheus is not installed (Debian package prometheus;" \
       "scripts/install-deps.sh installs it)"
  exit 77
fi
for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done

tmp=$(mktemp -d /tmp/meshlib-prom.XXXXXX)
target_pid=""
prom_pid=""
cleanup() {
  set +e
  exec 3>&- 2>/dev/null # the target ends when its input closes
  if [ -n "$prom_pid" ]; then
    kill "$prom_pid" 2>/dev/null
    wait "$prom_pid" 2>/dev/null
  fi
  if [ -n "$target_pid" ]; then
    kill "$target_pid" 2>/dev/null
    wait "$target_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
  return 0
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  echo "--- target stderr"; cat "$tmp/target.err" 2>/dev/null || true
  echo "--- prometheus log (tail)"; tail -n 30 "$tmp/prom.log" 2>/dev/null || true
  exit 1
}

# The target serves until its standard input closes: hold a FIFO open.
mkfifo "$tmp/in"
"$target" < "$tmp/in" > "$tmp/target.out" 2> "$tmp/target.err" &
target_pid=$!
exec 3> "$tmp/in"
admin_port=""
for _ in $(seq 1 300); do
  admin_port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$tmp/target.out")
  [ -n "$admin_port" ] && break
  kill -0 "$target_pid" 2>/dev/null || fail "the target exited"
  sleep 0.1
done
[ -n "$admin_port" ] || fail "the target did not start"
curl -fsS "http://127.0.0.1:$admin_port/metrics" > "$tmp/scrape.txt" \
  || fail "the admin listener does not answer"

prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: meshlib
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$admin_port']
YAML
prometheus --config.file="$tmp/prometheus.yml" \
  --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom_port" \
  --log.level=warn > "$tmp/prom.log" 2>&1 &
prom_pid=$!

# query EXPR: the result vector as "labels-json value" lines.
query() {
  local out
  out=$(curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" \
    --data-urlencode "query=$1" 2>/dev/null) || return 1
  echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["status"] == "success", d
for r in d["data"]["result"]:
    print(json.dumps(r["metric"], sort_keys=True), r["value"][1])'
}

by_code=""
for _ in $(seq 1 60); do
  kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited"
  by_code=$(query 'sum by (response_code) (istio_requests_total{job="meshlib"})' || true)
  if echo "$by_code" | grep -q '"503"'; then
    break
  fi
  sleep 1
done
echo "by response_code:"
echo "$by_code"
echo "$by_code" | grep -qx '{"response_code": "200"} 7' || fail "expected 7 responses 200"
echo "$by_code" | grep -qx '{"response_code": "503"} 3' || fail "expected 3 responses 503"

one() { query "$1" | awk '{print $NF}'; }
check() { # EXPR WANT
  got=$(one "$1")
  echo "$1 = $got"
  [ "$got" = "$2" ] || fail "$1: got '$got', want '$2'"
}
check 'sum(istio_requests_total{job="meshlib",reporter="source",source_app="frontend",destination_service_name="reviews",destination_service_namespace="prod",response_flags="-"})' 10
check 'sum(istio_request_duration_milliseconds_bucket{job="meshlib",le="1000"})' 8
check 'sum(istio_request_duration_milliseconds_bucket{job="meshlib",le="2500"})' 10
check 'sum(istio_request_duration_milliseconds_bucket{job="meshlib",le="+Inf"})' 10
check 'sum(istio_request_duration_milliseconds_count{job="meshlib"})' 10
check 'sum(meshlib_attempts_total{job="meshlib"})' 10
check 'up{job="meshlib"}' 1
# The scrape itself raised no error (a malformed exposition would).
health=$(curl -fsS "http://127.0.0.1:$prom_port/api/v1/targets" | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"][0]
print(t["health"], repr(t["lastError"]))')
echo "target: $health"
[ "$health" = "up ''" ] || fail "scrape health: $health"
echo "PASS: Prometheus scraped meshlib and its queries match the calls"
exit 0
