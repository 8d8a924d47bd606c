#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `meshctl call` through real upstreams: `meshctl mock` runs three of them
# (myapp v1, v2, v3) and the calls go through a ServiceEntry of those
# three STATIC endpoints. Checks that each balancer spreads as it should,
# that the canary split, header matches and hash stickiness hold, and the
# local replies (404 NR, 503 UF). Statistical bounds are 5 standard
# deviations wide: a correct implementation misses them about once in
# two million runs, a wrong one (another weight, a stuck or a cyclic
# pick) misses them always. Env: see lib.sh.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_mocks "$TMP/mocks" --name v1 --name v2 --name v3 \
  --count-file "$TMP/counts"
MAIN_MOCK=$last_pid
P1=$(port_of "$TMP/mocks" v1)
P2=$(port_of "$TMP/mocks" v2)
P3=$(port_of "$TMP/mocks" v3)
# upstream "127.0.0.1:PORT" -> mock name, for the checks below
export MOCKS="127.0.0.1:$P1=v1 127.0.0.1:$P2=v2 127.0.0.1:$P3=v3"

# service_entry FILE: myapp's three endpoints, labelled by version.
service_entry() {
  cat >"$1" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: myapp, namespace: production}
spec:
  hosts: [myapp.production.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 127.0.0.1, ports: {http: $P1}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {http: $P2}, labels: {version: v2}}
  - {address: 127.0.0.1, ports: {http: $P3}, labels: {version: v3}}
EOF
}

# config NAME [LOADBALANCER]: a directory $TMP/NAME holding the
# ServiceEntry and a DestinationRule with subsets v1..v3 and, when given,
# LOADBALANCER (flow YAML) as spec.trafficPolicy.loadBalancer.
config() {
  local dir="$TMP/$1"
  mkdir -p "$dir"
  service_entry "$dir/se.yaml"
  {
    cat <<EOF
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: myapp, namespace: production}
spec:
  host: myapp
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
EOF
    if [ -n "${2:-}" ]; then
      echo "  trafficPolicy:"
      echo "    loadBalancer: $2"
    fi
  } >"$dir/dr.yaml"
}

# observed LABEL: print the spread by upstream (the figures a log shows).
observed() {
  python3 - "$1" "$TMP/out" <<'PY'
import collections, json, os, sys
names = dict(kv.split("=") for kv in os.environ["MOCKS"].split())
L = [json.loads(x) for x in open(sys.argv[2]) if x.strip()]
c = collections.Counter(names.get(d["upstream"], str(d["upstream"]))
                        for d in L)
print("observed %s: %s" % (sys.argv[1],
      " ".join("%s=%d" % kv for kv in sorted(c.items()))))
PY
}

call=(call --namespace production --json)

# --- ROUND_ROBIN: exactly even, one thread or several ------------------
config rr '{simple: ROUND_ROBIN}'
if run 0 "${call[@]}" -f "$TMP/rr" -n 300 http://myapp/; then
  observed "ROUND_ROBIN -c 1"
  check 'len(L) == 300 and all(d["status"] == 200 for d in L)'
  check 'U(L) == {"v1": 100, "v2": 100, "v3": 100}' "ROUND_ROBIN 100/100/100"
  check 'all(d["attempts"] == 1 and d["response_flags"] == "-" for d in L)'
  check 'all(d["route"] is None and d["subset"] is None for d in L)' \
    "no VirtualService: no route name, no subset"
  check 'all(d["cluster"] == "outbound|80||myapp.production.svc.cluster.local" for d in L)'
  check 'all(isinstance(d["duration_ms"], float) and d["duration_ms"] > 0 for d in L)'
  check 'all(L[i]["upstream"] != L[i + 1]["upstream"] for i in range(299))' \
    "ROUND_ROBIN never picks one endpoint twice in a row"
  grep -q 'meshctl call: 300 calls, 300 responses' "$TMP/err" ||
    fail "summary line on stderr"
  grep -q "status 200=300" "$TMP/err" || fail "summary counts by status"
  grep -q "upstream 127.0.0.1:$P1=100 " "$TMP/err" ||
    grep -q "127.0.0.1:$P1=100" "$TMP/err" || fail "summary counts by upstream"
fi
if run 0 "${call[@]}" -f "$TMP/rr" -n 300 -c 6 http://myapp/; then
  observed "ROUND_ROBIN -c 6"
  check 'U(L) == {"v1": 100, "v2": 100, "v3": 100}' \
    "ROUND_ROBIN 100/100/100 with 6 threads sharing one mesh"
  check 'sorted(d["call"] for d in L) == list(range(1, 301))'
fi

# --- RANDOM: even within 5 sd, and not cyclic -------------------------
# 300 calls over 3: 100 expected, sd 8.2. Consecutive repeats: about 100
# for a random pick, 0 for a cyclic one.
config random '{simple: RANDOM}'
if run 0 "${call[@]}" -f "$TMP/random" -n 300 http://myapp/; then
  observed "RANDOM"
  check 'set(U(L)) == {"v1", "v2", "v3"} and all(59 <= n <= 141 for n in U(L).values())' \
    "RANDOM spreads within 5 sd"
  check 'sum(L[i]["upstream"] == L[i + 1]["upstream"] for i in range(299)) >= 50' \
    "RANDOM repeats endpoints as chance does (not round robin)"
fi
# --seed replays the same picks; another seed gives others.
if run 0 "${call[@]}" -f "$TMP/random" -n 60 --seed 7 http://myapp/; then
  cut -d, -f3 "$TMP/out" >"$TMP/seed7a"
fi
if run 0 "${call[@]}" -f "$TMP/random" -n 60 --seed 7 http://myapp/; then
  cut -d, -f3 "$TMP/out" >"$TMP/seed7b"
fi
if run 0 "${call[@]}" -f "$TMP/random" -n 60 --seed 8 http://myapp/; then
  cut -d, -f3 "$TMP/out" >"$TMP/seed8"
fi
cmp -s "$TMP/seed7a" "$TMP/seed7b" || fail "--seed 7 twice: the same upstreams"
cmp -s "$TMP/seed7a" "$TMP/seed8" && fail "--seed 7 and 8: other upstreams"

# --- LEAST_REQUEST (and the default without a policy) -----------------
# Sequential calls leave every endpoint idle, so the two choices tie and
# the pick is random: even within 5 sd. With 4 threads the pick follows
# load, and an endpoint slowed by a busy machine rightly gets less; it
# must still get its part (power of two choices never starves one).
config lr '{simple: LEAST_REQUEST}'
if run 0 "${call[@]}" -f "$TMP/lr" -n 300 -c 1 http://myapp/; then
  observed "LEAST_REQUEST -c 1"
  check 'set(U(L)) == {"v1", "v2", "v3"} and all(59 <= n <= 141 for n in U(L).values())' \
    "LEAST_REQUEST -c 1 spreads within 5 sd"
fi
if run 0 "${call[@]}" -f "$TMP/lr" -n 300 -c 4 http://myapp/; then
  observed "LEAST_REQUEST -c 4"
  check 'set(U(L)) == {"v1", "v2", "v3"} and all(n >= 20 for n in U(L).values())' \
    "LEAST_REQUEST -c 4 serves every endpoint"
fi
config default ''
if run 0 "${call[@]}" -f "$TMP/default" -n 300 http://myapp/; then
  observed "no loadBalancer (LEAST_REQUEST)"
  check 'set(U(L)) == {"v1", "v2", "v3"} and all(59 <= n <= 141 for n in U(L).values())' \
    "default balancer spreads within 5 sd"
fi

# --- the canary: 80/20 between subsets, beta users on v2 --------------
config canary ''
cat >"$TMP/canary/vs.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: myapp, namespace: production}
spec:
  hosts: [myapp]
  http:
  - name: canary-users
    match: [{headers: {x-user-group: {exact: beta}}}]
    route: [{destination: {host: myapp, subset: v2}}]
  - name: canary
    route:
    - {destination: {host: myapp, subset: v1}, weight: 80}
    - {destination: {host: myapp, subset: v2}, weight: 20}
EOF
# 1000 calls: v2 expects 200, sd 12.6, 5 sd = 63. A 90/10 split (100) or
# a 70/30 one (300) falls outside.
if run 0 "${call[@]}" -f "$TMP/canary" -n 1000 -c 4 http://myapp/; then
  observed "canary 80/20"
  check 'U(L)["v3"] == 0 and U(L)["v1"] + U(L)["v2"] == 1000' \
    "the canary uses only subsets v1 and v2"
  check '137 <= U(L)["v2"] <= 263' "80/20 split within 5 sd (v2 expects 200)"
  check 'all(d["route"] == "canary" for d in L)'
  check 'all(d["subset"] == names[d["upstream"]] for d in L)' \
    "subset in JSON is the one whose endpoint served"
  check 'all(d["cluster"] == "outbound|80|%s|myapp.production.svc.cluster.local" % d["subset"] for d in L)'
fi
if run 0 "${call[@]}" -f "$TMP/canary" -n 200 -c 4 \
    -H 'x-user-group: beta' http://myapp/; then
  observed "canary, beta users"
  check 'U(L) == {"v2": 200}' "header-matched calls all go to v2"
  check 'all(d["route"] == "canary-users" and d["subset"] == "v2" for d in L)'
fi

# --- consistentHash on a header: one user sticks to one endpoint ------
config hash '{consistentHash: {httpHeaderName: x-user}}'
config maglev '{consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 65537}}}'
for policy in hash maglev; do
  : >"$TMP/picks"
  for user in alice bob carol dave erin frank grace heidi ivan judy ken leo; do
    if run 0 "${call[@]}" -f "$TMP/$policy" -n 20 -c 2 \
        -H "x-user: $user" http://myapp/; then
      check 'len(U(L)) == 1' "$policy: user $user sticks to one endpoint"
      python3 -c 'import json,sys,os
names = dict(kv.split("=") for kv in os.environ["MOCKS"].split())
print(sys.argv[1], names[json.loads(open(sys.argv[2]).readline())["upstream"]])' \
        "$user" "$TMP/out" >>"$TMP/picks"
    fi
  done
  echo "observed $policy: $(tr '\n' ' ' <"$TMP/picks")"
  # 12 users all on one of 3 endpoints: chance 3/3^12.
  [ "$(cut -d' ' -f2 "$TMP/picks" | sort -u | wc -l)" -ge 2 ] ||
    fail "$policy: users spread over more than one endpoint"
  # The same user in another process (a new mesh): the same endpoint.
  if run 0 "${call[@]}" -f "$TMP/$policy" -n 5 -H 'x-user: alice' http://myapp/; then
    want=$(awk '$1 == "alice" { print $2 }' "$TMP/picks")
    check "all(names[d['upstream']] == '$want' for d in L)" \
      "$policy: alice lands on $want again in a new process"
  fi
done

# --- no rule matches: 404 NR, a response from meshlib (exit 0) --------
config nr ''
cat >"$TMP/nr/vs.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: myapp, namespace: production}
spec:
  hosts: [myapp]
  http:
  - name: beta-only
    match: [{headers: {x-user-group: {exact: beta}}}]
    route: [{destination: {host: myapp, subset: v2}}]
EOF
if run 0 "${call[@]}" -f "$TMP/nr" -n 3 http://myapp/; then
  check 'all(d["status"] == 404 and d["response_flags"] == "NR" for d in L)' \
    "no matching rule: 404 NR"
  check 'all(d["upstream"] is None and d["route"] is None and d["attempts"] == 0 for d in L)'
fi

# --- a stopped endpoint: 503 UF for the calls balanced to it ----------
start_mocks "$TMP/mock4" --name v4 --name down --status 503 --body down
VICTIM=$last_pid
P4=$(port_of "$TMP/mock4" v4)
PDOWN=$(port_of "$TMP/mock4" down)
export MOCKS="$MOCKS 127.0.0.1:$P4=v4 127.0.0.1:$PDOWN=down"
mkdir -p "$TMP/uf"
cat >"$TMP/uf/all.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pair, namespace: production}
spec:
  hosts: [pair.production.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 127.0.0.1, ports: {http: $P1}}
  - {address: 127.0.0.1, ports: {http: $P4}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pair, namespace: production}
spec:
  host: pair
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pair, namespace: production}
spec:
  hosts: [pair]
  http:
  - name: no-retries
    retries: {attempts: 0}
    route: [{destination: {host: pair}}]
EOF
if run 0 "${call[@]}" -f "$TMP/uf" -n 100 http://pair/; then
  check 'U(L) == {"v1": 50, "v4": 50}' "both endpoints up: 50/50"
fi
# A mock answering 503 itself: the upstream's status, no flag.
if run 0 call "127.0.0.1:$PDOWN/x"; then
  out_has '^down$' "body printed like curl"
fi
if run 0 "${call[@]}" "http://127.0.0.1:$PDOWN/x"; then
  check 'L[0]["status"] == 503 and L[0]["response_flags"] == "-"' \
    "an upstream's own 503 carries no flag"
  check 'names.get(L[0]["upstream"]) == "down" and L[0]["route"] is None'
fi
kill -TERM "$VICTIM"
rc=0
wait "$VICTIM" || rc=$?
[ "$rc" -eq 0 ] || fail "meshctl mock exits 0 on SIGTERM (got $rc)"
grep -q 'v4 127.0.0.1:[0-9]* served 50 request' "$TMP/mock4.err" ||
  fail "meshctl mock reports what it served on exit"
if run 0 "${call[@]}" -f "$TMP/uf" -n 100 http://pair/; then
  observed "one endpoint stopped"
  check 'len(L) == 100' "every call got a response (exit 0)"
  check '[d for d in L if d["status"] == 200] and all(names.get(d["upstream"]) == "v1" for d in L if d["status"] == 200)'
  check 'C(L, "status") == {200: 50, 503: 50}' "half the calls fail"
  check "all(d['response_flags'] == 'UF' and d['upstream'] in (None, '127.0.0.1:$P4') for d in L if d['status'] == 503)" \
    "the stopped endpoint's calls: 503 UF"
  check 'all(d["details"] and "connect" in d["details"] for d in L if d["status"] == 503)'
fi

# --- the count file, body output and --metrics-out --------------------
# The mock rewrites its count file every 100 ms: wait until it is steady
# (generous, for a loaded machine), then until it shows the new calls.
count_v1() { awk '$1 == "v1" { print $3 }' "$TMP/counts"; }
before1=$(count_v1)
for _ in $(seq 50); do
  sleep 0.2
  now=$(count_v1)
  [ "$now" = "$before1" ] && break
  before1=$now
done
if run 0 call -f "$TMP/rr" --namespace production -n 30 \
    --metrics-out "$TMP/metrics.txt" http://myapp/; then
  [ "$(tr -d '\n' <"$TMP/out" | grep -o 'v[123]' | sort | uniq -c |
    awk '{print $1}' | tr '\n' ' ')" = "10 10 10 " ] ||
    fail "bodies printed like curl: 10 of each mock's name"
  grep -q '^# meshctl call GET http://myapp/: 30 calls, 30 responses' \
    "$TMP/metrics.txt" || fail "--metrics-out: calls"
  grep -q '^# TYPE istio_requests_total counter$' "$TMP/metrics.txt" ||
    fail "--metrics-out: Prometheus text"
  python3 - "$TMP/metrics.txt" <<'PY' || fail "--metrics-out: 30 responses 200"
import sys
n = sum(float(l.rsplit(' ', 1)[1]) for l in open(sys.argv[1])
        if l.startswith('istio_requests_total{') and 'response_code="200"' in l)
sys.exit(0 if n == 30 else 1)
PY
fi
for _ in $(seq 100); do
  after1=$(count_v1)
  [ "$((after1 - before1))" -ge 10 ] && break
  sleep 0.1
done
[ "$((after1 - before1))" -eq 10 ] ||
  fail "count file: v1 received 10 more requests (before $before1, after $after1)"

# A body from a file, a method, more threads than calls.
printf 'hello' >"$TMP/body.txt"
if run 0 call -d @"$TMP/body.txt" -X PUT -c 8 -n 2 "http://127.0.0.1:$P2/upload"; then
  out_has '^v2v2$' "two bodies printed"
fi

# --- bad input: exit 2 -------------------------------------------------
run 2 call -d @"$TMP/missing.txt" "http://127.0.0.1:$P2/" || true
run 2 call -X 'BAD METHOD' http://myapp/ || true
if run 2 call -n 0 http://myapp/; then
  grep -q 'bad count' "$TMP/err" || fail "-n 0: says why"
fi
run 2 call -c x http://myapp/ || true
run 2 call -H 'novalue' http://myapp/ || true
run 2 call http:// || true
run 2 call -f "$TMP/nonexistent.yaml" http://myapp/ || true
run 2 call -f "$DATA/analyze/broken-syntax.yaml" http://myapp/ || true
run 2 call || true
run 2 call --seed -1 http://myapp/ || true
run 2 mock --port 70000 || true
run 2 mock --bogus || true
run 0 call --help && out_has 'meshctl call'
run 0 mock --help && out_has 'meshctl mock'

kill -TERM "$MAIN_MOCK"
rc=0
wait "$MAIN_MOCK" || rc=$?
[ "$rc" -eq 0 ] || fail "meshctl mock exits 0 on SIGTERM (got $rc)"
finish test_meshctl_call
