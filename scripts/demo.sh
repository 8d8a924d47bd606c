#!/usr/bin/env bash
# Installs what is missing, builds meshlib and shows its routing decisions
# over the seed's Istio config (tests/data), with no outside service.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" >/dev/null
meshctl="$root/build/meshctl"
cfg=(-f "$root/tests/data/virtualservice-routing.yaml" -f "$root/tests/data/destinationrule.yaml")

show() {
  echo
  echo "\$ meshctl route $(printf "%q " "$@")"
  "$meshctl" route "${cfg[@]}" --namespace production "$@" || true
}
echo "== meshlib demo: the seed's VirtualService 'myapp', asked as a client in namespace 'production'"
show -H 'x-user-group: beta' http://myapp/
show http://myapp/api/v1/users --json
show http://myapp/other
echo
echo "\$ meshctl analyze (the VirtualService without its DestinationRule)"
"$meshctl" analyze -f "$root/tests/data/virtualservice-routing.yaml" || true
echo
echo "\$ meshctl analyze (with the DestinationRule: the seed's 'pendingRequests' is not an Istio field)"
"$meshctl" analyze "${cfg[@]}" || true
