#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# meshctl proxy-config against a live admin listener (tests/prometheus/
# prom_target --outlier: subsets v1 and v2 of reviews, v2's only endpoint
# refused connections and is ejected), and meshctl call --metrics-out.
# Env: MESHCTL, DATA, PROM_TARGET (the target's binary).
source "$(dirname "$0")/lib.sh"
: "${PROM_TARGET:?set PROM_TARGET to the prom_target binary}"

# The target serves until its standard input closes: hold a FIFO open.
mkfifo "$TMP/in"
"$PROM_TARGET" --outlier <"$TMP/in" >"$TMP/target.out" 2>"$TMP/target.err" &
MOCK_PIDS+=("$!")
exec 3>"$TMP/in"
port=""
for _ in $(seq 300); do
  port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$TMP/target.out")
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL: prom_target --outlier did not start" >&2
  cat "$TMP/target.err" >&2
  exit 1
fi
admin="127.0.0.1:$port"
svc='reviews\.prod\.svc\.cluster\.local'

# --- clusters ---------------------------------------------------------
run 0 proxy-config clusters --admin "$admin"
out_has '^SERVICE FQDN +PORT +SUBSET +DIRECTION +LB +ENDPOINTS' "clusters: header"
out_has "^$svc +80 +v1 +outbound +LEAST_REQUEST +1/1\$" "clusters: v1 healthy"
out_has "^$svc +80 +v2 +outbound +LEAST_REQUEST +0/1\$" "clusters: v2 ejected"
# Each cluster has its own outlier detection, as in Envoy: the whole
# service's cluster was not called, so nothing is ejected in it.
out_has "^$svc +80 +- +outbound +LEAST_REQUEST +2/2\$" "clusters: whole service"
run 0 proxy-config clusters --admin "$admin" --subset v2
out_has " v2 " "clusters --subset: v2"
out_lacks " v1 " "clusters --subset: not v1"
run 0 proxy-config clusters --admin "$admin" --fqdn nothing.example
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "clusters --fqdn: header only"

# --- endpoints --------------------------------------------------------
run 0 proxy-config endpoints --admin "$admin"
out_has '^ENDPOINT +STATUS +OUTLIER CHECK +CLUSTER +WEIGHT +IN FLIGHT$' "endpoints: header"
out_has "^127\.0\.0\.1:[0-9]+ +UNHEALTHY +FAILED +outbound\|80\|v2\|$svc +1 +0\$" \
  "endpoints: v2 ejected"
out_has "^127\.0\.0\.1:[0-9]+ +HEALTHY +OK +outbound\|80\|v1\|$svc +1 +0\$" \
  "endpoints: v1 healthy"
run 0 proxy-config endpoints --admin "$admin" \
  --cluster "outbound|80|v1|reviews.prod.svc.cluster.local"
[ "$(wc -l <"$TMP/out")" -eq 2 ] || fail "endpoints --cluster: one row"

# --- routes -----------------------------------------------------------
run 0 proxy-config routes --admin "$admin"
out_has '^NAME +DOMAINS +MATCH +DESTINATIONS +VIRTUAL SERVICE$' "routes: header"
out_has "^to-v2 +$svc +/v2\\* +$svc\\|v2 100% +reviews\\.prod\$" "routes: to-v2"
out_has "^default +$svc +/\\* +$svc\\|v1 100% +reviews\\.prod\$" "routes: default"

# --- -o json: the listener's body -------------------------------------
run 0 proxy-config clusters --admin "$admin" -o json
expect 'any(e["ejected"] and e["health"] == "UNHEALTHY" and c["subset"] == "v2" for c in d["clusters"] for e in c["endpoints"])' \
  "json: ejected endpoint"
expect 'd["version"] >= 1'
run 0 proxy-config routes --admin "$admin" -o json
expect '[r["name"] for r in d["routes"]] == ["to-v2", "default"]'

# --- errors -----------------------------------------------------------
run 2 proxy-config listeners --admin "$admin"
run 2 proxy-config
run 2 proxy-config routes -o yaml --admin "$admin"
run 2 proxy-config routes --bogus
run 1 proxy-config routes --admin 127.0.0.1:1
grep -q "cannot read http://127.0.0.1:1/routes" "$TMP/err" || fail "unreachable: says so"
run 0 help proxy-config
out_has 'istioctl proxy-config' "help"

# --- meshctl call --metrics-out: the exposition at the end of a run ---
# No config: the host is its own destination (passthrough), here the
# admin listener's /healthz.
run 0 call -n 3 --metrics-out "$TMP/metrics.prom" "http://127.0.0.1:$port/healthz"
grep -Eq '^istio_requests_total\{.*destination_service="127\.0\.0\.1".*response_code="200".*\} 3$' \
  "$TMP/metrics.prom" || { fail "--metrics-out: 3 calls counted"; cat "$TMP/metrics.prom" >&2; }
grep -q '^# TYPE istio_request_duration_milliseconds histogram$' "$TMP/metrics.prom" \
  || fail "--metrics-out: histogram typed"
if command -v promtool >/dev/null 2>&1; then
  # promtool's linter only objects to Istio's own milliseconds name.
  lint=$(promtool check metrics <"$TMP/metrics.prom" 2>&1) || true
  echo "$lint" | grep -v '^istio_request_duration_milliseconds use base unit' |
    grep -q . && fail "--metrics-out: promtool says: $lint"
else
  echo "promtool not installed: exposition not linted"
fi
run 1 call --metrics-out "$TMP/no/such/dir/m.prom" "http://127.0.0.1:$port/healthz" || true
grep -q 'cannot write' "$TMP/err" || fail "--metrics-out: says it cannot write"

exec 3>&-
if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all meshctl proxy-config checks passed"
