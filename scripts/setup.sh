#!/usr/bin/env bash
# Installs everything qlora-ts needs on a fresh Debian 12 machine with Node 20: the Debian
# packages (Jupyter clients for the kernel tests, chromium for PNG figures, OpenBLAS for the wasm
# backend's matmuls, CPU torch as the benchmark peer) and the npm dependencies, then builds the
# TypeScript and the native addons.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(jupyter-client python3-jupyter-client python3-nbclient python3-nbformat python3-nbconvert jupyter-console
  python3-ipykernel python3-zmq jupyter-notebook python3-jupyter-server chromium libopenblas0-pthread)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
echo "setup: building"
npx tsc -p tsconfig.json
node scripts/build-addon.js
