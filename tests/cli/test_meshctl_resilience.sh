#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Resilience through `meshctl call` against `meshctl mock` upstreams, as
# an operator would check it: retries land on other endpoints, a 500 is
# not a gateway error, timeouts end calls with 504 UT, five failures eject
# an endpoint, a pool limit answers 503 UO, a fault aborts with FI and
# `meshctl route` shows the effective policy. Env: see lib.sh.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_mocks "$TMP/mocks" --name bad1 --status 503 --name bad2 --status 503 \
  --name good --name err --status 500 --name hang --hang-first 100
PB1=$(port_of "$TMP/mocks" bad1)
PB2=$(port_of "$TMP/mocks" bad2)
PG=$(port_of "$TMP/mocks" good)
PE=$(port_of "$TMP/mocks" err)
PH=$(port_of "$TMP/mocks" hang)
export MOCKS="127.0.0.1:$PB1=bad1 127.0.0.1:$PB2=bad2 127.0.0.1:$PG=good 127.0.0.1:$PE=err 127.0.0.1:$PH=hang"

# service_entry NAME HOST ENDPOINT...: ENDPOINT is PORT:ROLE; all but the
# role "hang" also carry tier: main.
service_entry() {
  local name=$1 host=$2
  shift 2
  echo "apiVersion: networking.istio.io/v1"
  echo "kind: ServiceEntry"
  echo "metadata: {name: $name, namespace: default}"
  echo "spec:"
  echo "  hosts: [$host]"
  echo "  resolution: STATIC"
  echo "  ports: [{number: 80, name: http, protocol: HTTP}]"
  echo "  endpoints:"
  for e in "$@"; do
    local tier=main
    [ "${e##*:}" = hang ] && tier=slow
    echo "  - {address: 127.0.0.1, ports: {http: ${e%%:*}}, labels: {role: ${e##*:}, tier: $tier}}"
  done
  echo "---"
}

{
  service_entry svc svc.test "$PB1:bad" "$PB2:bad" "$PG:good" "$PE:err" \
    "$PH:hang"
  cat <<EOF2
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc, namespace: default}
spec:
  host: svc.test
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  subsets:
  - {name: flaky, labels: {role: bad}}
  - {name: err, labels: {role: err}}
  - {name: hang, labels: {role: hang}}
  - {name: main, labels: {tier: main}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc, namespace: default}
spec:
  hosts: [svc.test]
  http:
  - name: gateway
    match: [{uri: {prefix: /gateway}}]
    retries: {attempts: 3, retryOn: gateway-error}
    route: [{destination: {host: svc.test, subset: err}}]
  - name: timeout
    match: [{uri: {prefix: /timeout}}]
    timeout: 300ms
    route: [{destination: {host: svc.test, subset: hang}}]
  - name: fault
    match: [{uri: {prefix: /fault}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: svc.test, subset: err}}]
  - name: retry
    match: [{uri: {prefix: /retry}}]
    retries: {attempts: 3, retryOn: "5xx"}
    route: [{destination: {host: svc.test, subset: main}}]
EOF2
} >"$TMP/svc.yaml"

call=(call --json -f "$TMP/svc.yaml")

# 503s from two endpoints and a 500 from a third: retries move on until
# the good one answers, never the same endpoint twice.
if run 0 "${call[@]}" -n 30 http://svc.test/retry; then
  check 'all(d["status"] == 200 and names[d["upstream"]] == "good" for d in L)' \
    "every /retry call ends 200 on good"
  check 'max(d["attempts"] for d in L) == 4 and min(d["attempts"] for d in L) >= 1' \
    "retries take up to every endpoint once"
fi

# gateway-error does not retry a 500.
if run 0 "${call[@]}" -n 3 http://svc.test/gateway; then
  check 'all(d["status"] == 500 and d["attempts"] == 1 for d in L)' \
    "a 500 is not a gateway error"
fi

# The route's timeout: 504 UT after ~300 ms.
if run 0 "${call[@]}" http://svc.test/timeout; then
  check 'L[0]["status"] == 504 and "UT" in L[0]["response_flags"] and 250 <= L[0]["duration_ms"] < 3000' \
    "the route timeout ends the call with 504 UT"
fi

# A fault's abort: 418 FI, nothing sent.
if run 0 "${call[@]}" -n 5 http://svc.test/fault; then
  check 'all(d["status"] == 418 and d["response_flags"] == "FI" and d["attempts"] == 0 for d in L)' \
    "fault abort answers 418 FI"
fi

# Outlier detection: err answers 500; after 3 in a row it is ejected and
# the rest go to good.
{
  service_entry flaky flaky.test "$PE:err" "$PG:good"
  cat <<EOF2
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: flaky, namespace: default}
spec:
  host: flaky.test
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky, namespace: default}
spec:
  hosts: [flaky.test]
  http:
  - retries: {attempts: 0}
    route: [{destination: {host: flaky.test}}]
EOF2
} >"$TMP/flaky.yaml"
if run 0 call --json -f "$TMP/flaky.yaml" -n 30 http://flaky.test/; then
  check 'C(L, "status")[500] == 3 and C(L, "status")[200] == 27' \
    "three 500s eject err; the rest go to good"
fi
run 0 route --json -f "$TMP/flaky.yaml" http://flaky.test/ &&
  EXPECT_LABEL=route expect 'd["effective_policy"]["clusters"][0]["outlier_detection"]["consecutive_5xx_errors"] == 3 and d["effective_policy"]["retries"]["num_retries"] == 0' \
    "meshctl route shows the outlier settings and no retries"

# Pool limits: one connection, one pending request; four calls at once
# to an endpoint that never answers: some overflow at once with 503 UO.
{
  service_entry pool pool.test "$PH:hang"
  cat <<EOF2
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pool, namespace: default}
spec:
  host: pool.test
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pool, namespace: default}
spec:
  hosts: [pool.test]
  http:
  - timeout: 1s
    route: [{destination: {host: pool.test}}]
EOF2
} >"$TMP/pool.yaml"
if run 0 call --json -f "$TMP/pool.yaml" -n 4 -c 4 http://pool.test/; then
  check 'C(L, "response_flags")["UO"] >= 2 and all(d["duration_ms"] < 500 for d in L if d["response_flags"] == "UO")' \
    "calls over the pool limits get 503 UO at once"
fi
run 0 route --json -f "$TMP/pool.yaml" http://pool.test/ &&
  EXPECT_LABEL=route expect 'd["effective_policy"]["clusters"][0]["circuit_breakers"]["max_connections"] == 1 and d["effective_policy"]["retries"]["source"] == "istio-default" and "connect-failure" in d["effective_policy"]["retries"]["retry_on"]' \
    "meshctl route shows the pool limits and Istio's default retries"

run 0 route -f "$TMP/pool.yaml" http://pool.test/ &&
  out_has '^retries: +2 \(istio-default\) on connect-failure' "text: default retries" &&
  out_has 'max_connections 1, max_pending_requests 1' "text: pool limits"

finish test_meshctl_resilience
