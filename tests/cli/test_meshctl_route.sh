#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `meshctl route` on the seed VirtualService (tests/data): where requests
# go, with which policy, and the exit status for no route and bad input.
# Env: see lib.sh.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EXPECT_LABEL=decision

VS="$DATA/virtualservice-routing.yaml"
DR="$DATA/destinationrule.yaml"

seed=(route -f "$VS" -f "$DR" --namespace production --json)

# Header match: beta users go to v2.
if run 0 "${seed[@]}" -H 'x-user-group: beta' http://myapp/; then
  expect 'd["route"] == "canary-users"'
  expect 'd["virtual_service"] == "production/myapp"'
  expect 'd["host"] == "myapp.production.svc.cluster.local"'
  expect 'len(d["destinations"]) == 1 and d["destinations"][0]["subset"] == "v2"'
  expect 'd["destinations"][0]["host"] == "myapp.production.svc.cluster.local"'
  expect 'd["timeout_ms"] is None and d["retries"] is None'
  expect 'd["response_flags"] == "-"'
fi

# Prefix match with timeout and retries.
if run 0 "${seed[@]}" http://myapp/api/v1/users; then
  expect 'd["route"] == "api-v1"'
  expect 'd["destinations"][0]["subset"] == "v1"'
  expect 'd["timeout_ms"] == 3000'
  expect 'd["retries"]["attempts"] == 3'
  expect 'd["retries"]["per_try_timeout_ms"] == 1000'
  expect 'd["retries"]["retry_on"] == "gateway-error,connect-failure,retriable-4xx"'
fi

# The last rule has no match: everything else.
if run 0 "${seed[@]}" http://myapp/other; then
  expect 'd["route"] == "default" and d["destinations"][0]["subset"] == "v1"'
  expect 'd["timeout_ms"] is None and d["retries"] is None'
fi

# Other spellings of the host, a port, no scheme, options after the URL.
if run 0 route http://myapp.production.svc.cluster.local/other \
    -f "$VS" --filename "$DR" -n production --json; then
  expect 'd["route"] == "default"' "FQDN host"
fi
if run 0 route MyApp.production:8080/api/v1 --json -f "$VS" -f "$DR" \
    --namespace=production; then
  expect 'd["route"] == "api-v1"' "name.namespace:port host"
  expect 'd["port"] == 8080'
fi
if run 0 route -f "$VS" -f "$DR" --namespace production --json \
    http://myapp/ -H 'X-User-Group: beta' -X POST; then
  expect 'd["route"] == "canary-users"' "header names are case-insensitive"
fi
# The header value must match exactly.
if run 0 "${seed[@]}" -H 'x-user-group: betamax' http://myapp/; then
  expect 'd["route"] == "default"'
fi

# A host without a VirtualService routes to itself.
if run 0 "${seed[@]}" http://reviews:9080/ratings; then
  expect 'd["virtual_service"] is None'
  expect 'len(d["destinations"]) == 1'
  expect 'd["destinations"][0]["host"] == "reviews.production.svc.cluster.local"'
  expect 'd["destinations"][0]["subset"] is None'
  expect 'd["response_flags"] == "-"'
fi

# The only rule does not match: no route, exit status 3 (NR).
NR="$DATA/analyze/only-beta.yaml"
if run 3 route -f "$NR" -n production --json http://beta-only/; then
  expect '"NR" in d["response_flags"]'
  expect 'd["virtual_service"] == "production/beta-only" and d["route"] is None'
  expect 'd["destinations"] == []'
fi
run 3 route -f "$NR" -n production http://beta-only/ || true
grep -q 'NR' "$TMP/out" || fail "human output names the NR flag"
if run 0 route -f "$NR" -n production --json -H 'x-user-group: beta' \
    http://beta-only/; then
  expect 'd["route"] == "beta"'
fi

# Human-readable summary.
if run 0 route -f "$VS" -f "$DR" -n production http://myapp/api/v1/x; then
  grep -q 'api-v1' "$TMP/out" || fail "summary names the route"
  grep -q 'subset v1' "$TMP/out" || fail "summary names the subset"
  grep -q '3000 ms' "$TMP/out" || fail "summary shows the timeout"
fi

# Bad input: exit status 2 and a message on stderr.
run 2 route -f "$VS" 'http://' || true
grep -qi 'url' "$TMP/err" || fail "bad URL is explained"
run 2 route -f "$VS" -H 'no colon here' http://myapp/ || true
grep -q 'header' "$TMP/err" || fail "bad header is explained"
run 2 route -f "$VS" -H $'x-a: b\r\nx-b: c' http://myapp/ || true
run 2 route -f "$DATA/does-not-exist.yaml" http://myapp/ || true
grep -q 'does-not-exist.yaml' "$TMP/err" || fail "missing file is named"
run 2 route -f "$DATA/analyze/broken-syntax.yaml" http://myapp/ || true
grep -Eq 'broken-syntax.yaml:[0-9]+:[0-9]+' "$TMP/err" ||
  fail "YAML error has file:line:col"
run 2 route --source-label novalue http://myapp/ || true
run 2 route || true
run 2 route http://a/ http://b/ || true
run 2 route --bogus http://myapp/ || true
run 2 route -f || true
run 0 route --help
grep -q 'Usage: meshctl route' "$TMP/out" || fail "route --help"
run 0 help route
run 0 version
grep -q '^meshctl ' "$TMP/out" || fail "version"
run 2 frobnicate || true

finish "meshctl route"
