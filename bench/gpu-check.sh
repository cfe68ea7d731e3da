#!/bin/bash
# The GPU check on a Linux x64 machine with an NVIDIA GPU and no network, from the archive that
# bench/gpu-pack.sh made (.gpu-pack/repozip-gpu-check.tar.gz, carried along). It unpacks the archive,
# brings the Vulkan loader when the machine has none (its .debs unpacked into /, as root: the device
# tool's recipe), points Vulkan at the NVIDIA driver, and runs gpu-check.js (by default a random
# Qwen2.5-Coder-1.5B-shaped model at 8K and 32K context, inside a 450 s budget) while sampling GPU
# memory with nvidia-smi. Options go to gpu-check.js, e.g. `--shape mini --contexts 2048`.
#   bash bench/gpu-check.sh [--device auto|webgpu|cuda] [--shape 1.5b] [--contexts 8192,32768] [--ratio 0.3]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
archive=${GPU_PACK:-$root/.gpu-pack/repozip-gpu-check.tar.gz}
work=${GPU_CHECK_DIR:-/tmp/repozip-gpu-check}
mkdir -p "$work"
tar -xzf "$archive" -C "$work"
pack=$work/repozip-gpu-check

if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  for f in "$pack"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then
      export VK_DRIVER_FILES=$icd
      break
    fi
  done
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work/xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

sampler=
if command -v nvidia-smi >/dev/null; then
  echo "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader | head -n 1) (name, driver, memory, used before the check)"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 >"$work/memory.log" &
  sampler=$!
fi
echo "node $("$pack/node/bin/node" --version), Vulkan driver ${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-(the loader default)}}"

status=0
"$pack/node/bin/node" "$pack/gpu-check.js" --dir "$work/models" --tokenizer "$pack/tokenizer" --json "${OUT:-$work}/gpu-check.json" "$@" || status=$?

if [ -n "$sampler" ]; then
  kill "$sampler" 2>/dev/null || true
  echo "peak GPU memory: $(sort -n "$work/memory.log" | tail -n 1) MiB used on the GPU (nvidia-smi, sampled every 250 ms)"
fi
exit "$status"
