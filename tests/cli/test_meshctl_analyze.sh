#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `meshctl analyze` on the seed YAML (tests/data) and the analyzer
# fixtures (tests/data/analyze): findings, text and JSON output, exit
# status. Env: see lib.sh.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EXPECT_LABEL=findings

VS="$DATA/virtualservice-routing.yaml"
CANARY="$DATA/virtualservice-canary.yaml"
DR="$DATA/destinationrule.yaml"
DR_OUTLIER="$DATA/destinationrule-outlier.yaml"

# The routing VirtualService alone: subsets v1 and v2 are defined nowhere.
if run 1 analyze -f "$VS"; then
  out_has '^Error \[IST0101\] \(VirtualService production/myapp .*virtualservice-routing\.yaml:[0-9]+:[0-9]+\) Referenced host\+subset in destinationrule not found: "myapp\.production\.svc\.cluster\.local\+v2"'
  out_has 'not found: "myapp\.production\.svc\.cluster\.local\+v1"'
fi

# With its DestinationRule: no error (the unknown pendingRequests field
# is only a warning outside strict mode).
if run 0 analyze -f "$VS" -f "$DR"; then
  out_lacks '^Error'
  out_has 'pendingRequests' "the unknown field is reported as a warning"
fi
run 0 analyze "$VS" --filename "$DR" || true

# Both VirtualServices for myapp: IST0109 names both.
if run 1 analyze -f "$VS" -f "$CANARY" -f "$DR"; then
  out_has '^Error \[IST0109\] \(VirtualService production/myapp .*\) The VirtualServices production/myapp,production/myapp-canary associated with mesh'
  out_has '^Error \[IST0109\] \(VirtualService production/myapp-canary '
fi

# Both DestinationRules: the second's trafficPolicy is ignored (ML0104).
if run 0 analyze -f "$VS" -f "$DR" -f "$DR_OUTLIER"; then
  out_has '^Warning \[ML0104\] \(DestinationRule production/myapp-outlier .*destinationrule-outlier\.yaml:[0-9]+:[0-9]+\) trafficPolicy ignored'
fi

# Strict mode: the unknown field is an error with its position.
if run 1 analyze --strict -f "$DR"; then
  out_has '^Error \[[A-Z0-9]+\] .*destinationrule\.yaml:17:[0-9]+\).*pendingRequests' \
    "strict error names pendingRequests at line 17"
fi

# A directory is read whole: all seed files together.
if run 1 analyze -f "$DATA" --json; then
  expect 'isinstance(d, list) and len(d) > 0'
  expect 'any(x["code"] == "IST0109" for x in d)'
  expect 'all(set(x) >= {"code","level","message","resource","file","line","column","field"} for x in d)'
  expect 'all(x["level"] in ("Error","Warning","Info") for x in d)'
  expect 'all(isinstance(x["line"], int) and isinstance(x["column"], int) for x in d)'
fi

# JSON of a single finding.
if run 1 analyze -f "$VS" --json; then
  expect 'len([x for x in d if x["code"] == "IST0101" and x["level"] == "Error"]) == 3'
  expect '[x for x in d if x["code"] == "IST0101"][0]["resource"] == "VirtualService production/myapp"'
  expect '[x for x in d if x["code"] == "IST0101"][0]["file"].endswith("virtualservice-routing.yaml")'
  expect '[x for x in d if x["code"] == "IST0101"][0]["line"] > 0'
  expect '[x for x in d if x["code"] == "IST0101"][0]["field"].startswith("spec.http[")'
fi

# exportTo: what the client's namespace (-n) sees.
EXPORT="$DATA/analyze/export-to.yaml"
if run 0 analyze -f "$EXPORT"; then
  out_has '^Warning \[IST0101\] \(VirtualService billing/pay .*\) Referenced host not found: "api\.payments\.example" \(a ServiceEntry defines it but is not exported to namespace default'
  out_lacks 'IST0109' "pay-staging is kept in staging"
fi
if run 1 analyze -n billing -f "$EXPORT"; then
  out_has '^Error \[IST0112\] \(VirtualService billing/pay .*\) This VirtualService routes to a service "api\.payments\.example" that exposes multiple ports \[443 8443\]'
  out_lacks 'IST0101'
fi
if run 1 analyze -n staging -f "$EXPORT" --json; then
  expect 'sorted(x["resource"] for x in d if x["code"] == "IST0109") == ["VirtualService billing/pay", "VirtualService staging/pay-staging"]'
  expect 'len([x for x in d if x["code"] == "IST0101"]) == 2'
fi

# Clean input: the istioctl sentence, or [] in JSON.
cat >"$TMP/clean.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
YAML
if run 0 analyze -f "$TMP/clean.yaml"; then
  out_has 'No validation issues found when analyzing'
fi
if run 0 analyze -f "$TMP/clean.yaml" -o json; then
  expect 'd == []'
fi

# Warnings only: exit status 0.
if run 0 analyze -f "$DATA/analyze/unreachable.yaml"; then
  out_has '^Warning \[IST0130\] .*rule "never" not used'
  out_has '^Warning \[IST0174\] \(DestinationRule production/ghost '
fi
if run 1 analyze -f "$DATA/analyze/subset-no-pods.yaml"; then
  out_has '^Error \[IST0173\] \(DestinationRule production/legacy .*\) The Subset v2 '
fi

# YAML that is not well-formed is a finding with its position.
if run 1 analyze -f "$DATA/analyze/broken-syntax.yaml"; then
  out_has '^Error \[[A-Z0-9]+\] \(.*broken-syntax\.yaml:[0-9]+:[0-9]+\)'
fi

# Unusable input: exit status 2.
run 2 analyze -f "$DATA/no-such-file.yaml" || true
grep -q 'no-such-file.yaml' "$TMP/err" || fail "missing file is named"
run 2 analyze || true
grep -q 'no input' "$TMP/err" || fail "no input is explained"
run 2 analyze -f || true
run 2 analyze --frobnicate -f "$VS" || true
run 2 analyze -o yaml -f "$VS" || true
run 0 analyze --help
grep -q 'Usage: meshctl analyze' "$TMP/out" || fail "analyze --help"

finish "meshctl analyze"
