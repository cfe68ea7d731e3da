#!/usr/bin/env bash
# `npm ci` from a clean clone of this work tree (uncommitted changes to what npm reads included)
# succeeds without network, prints no npm warning, and leaves out onnxruntime-node's CUDA provider
# (its postinstall would download it from NuGet on Linux x64; package.json `allowScripts` denies
# that script). Minutes on 2 cores, so not in `npm test`: test/reliability/npm-install.test.ts checks
# the same gate in seconds. Usage: bash tools/ci/check-npm-ci.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

git clone -q "$root" "$tmp/repo"
for f in package.json package-lock.json .npmrc; do
  if [ -e "$root/$f" ]; then cp "$root/$f" "$tmp/repo/$f"; else rm -f "$tmp/repo/$f"; fi
done
cd "$tmp/repo"

echo "npm $(npm --version), from a clean clone in $tmp/repo"
# a proxy that refuses: should onnxruntime-node's script run after all, it fails instead of downloading
if ! GLOBAL_AGENT_HTTPS_PROXY=http://127.0.0.1:9 npm ci --prefer-offline --no-audit --no-fund >"$tmp/npm-ci.log" 2>&1; then
  cat "$tmp/npm-ci.log"
  echo "FAIL: npm ci failed"
  exit 1
fi
if grep -n 'npm warn' "$tmp/npm-ci.log"; then
  echo "FAIL: npm ci printed the warnings above"
  exit 1
fi
if ls node_modules/onnxruntime-node/bin/napi-v6/*/*/libonnxruntime_providers_cuda* >/dev/null 2>&1; then
  echo "FAIL: onnxruntime-node's install script ran and installed its CUDA provider"
  exit 1
fi
echo "OK: npm ci succeeded with no warning, without onnxruntime-node's download"
