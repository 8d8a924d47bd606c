#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what is missing, builds meshlib and runs the seed's canary live:
# mock upstreams for myapp v1 and v2 inside one process, the seed's Istio
# rules, a few hundred real calls and a live weight shift
# (examples/canary_demo.c). Then asks `meshctl route` and `meshctl analyze`
# about the seed's files (tests/data). No outside service is used.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
echo "== building meshlib into $root/build"
"$root/scripts/build.sh" "$root/build" >/dev/null
echo

"$root/build/example_canary_demo"

meshctl="$root/build/meshctl"
data="$root/tests/data"
cfg=(-f "$data/virtualservice-routing.yaml" -f "$data/destinationrule.yaml")
echo
echo "== The same rules asked from the command line (nothing is sent):"
echo "\$ meshctl route -f virtualservice-routing.yaml -f destinationrule.yaml -n production -H 'x-user-group: beta' http://myapp/"
"$meshctl" route "${cfg[@]}" -n production -H 'x-user-group: beta' \
  http://myapp/ || true
echo
echo "\$ meshctl analyze -f virtualservice-routing.yaml   # without its DestinationRule"
"$meshctl" analyze -f "$data/virtualservice-routing.yaml" || true
echo
echo "Next: meshctl call and meshctl mock send real calls from the shell;"
echo "see docs/meshctl.md."
