#!/usr/bin/env bash
# Installs the Debian 12 packages meshlib builds and tests with, when missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libcurl4-openssl-dev libnghttp2-dev libwolfssl-dev libyaml-dev
  libcmocka-dev libpcre2-dev libmicrohttpd-dev
  python3 valgrind strace clang-format
  curl openssl # the tests' HTTP client and test certificates
  prometheus # promtool and a Prometheus server for tests/prometheus
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm run the test collector (tests/collector): Debian's, unless
# a node with npm is there already (NodeSource's bundles npm and conflicts
# with Debian's npm package).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -ne 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian's package starts a prometheus service; the tests run their own
  # on loopback with a temporary config, so none is left running.
  if printf '%s\n' "${missing[@]}" | grep -qx prometheus; then
    if [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
    elif command -v service >/dev/null; then
      $sudo service prometheus stop >/dev/null 2>&1 || true
    fi
  fi
fi

# The test collector's npm packages (protobufjs, ajv, js-yaml), exactly as
# its package-lock.json pins them.
collector="$(cd "$(dirname "$0")/.." && pwd)/tests/collector"
if [ ! -d "$collector/node_modules/protobufjs" ] ||
   [ ! -d "$collector/node_modules/ajv" ] ||
   [ ! -d "$collector/node_modules/js-yaml" ]; then
  (cd "$collector" && npm ci --no-audit --no-fund)
fi
