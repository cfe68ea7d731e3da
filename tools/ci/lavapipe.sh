#!/bin/sh
# Installs Mesa's software Vulkan driver, lavapipe, so the WebGPU tests (npm test -- gpu) run on a
# Debian 12 machine without a GPU, then prints the variables to export. Run as root.
#   bash tools/ci/lavapipe.sh              install (when missing), then print the exports
#   eval "$(bash tools/ci/lavapipe.sh --env)"   only export them (nothing installed)
#
# Bookworm's own Mesa 22.3 lavapipe is rejected by Dawn (onnxruntime's WebGPU); bookworm-backports
# has Mesa 25, which works. The backports entry is derived from the machine's own Debian source
# (same mirror, same keyring): its main-archive stanza with `Suites:` changed, so no host is named
# here and a CI mirror keeps working.
set -eu

print_env() {
  icd=$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n 1)
  if [ -z "$icd" ]; then
    echo "lavapipe.sh: no lvp_icd*.json in /usr/share/vulkan/icd.d: run this script without --env first" >&2
    exit 1
  fi
  runtime=${XDG_RUNTIME_DIR:-/tmp/xdg-runtime}
  mkdir -p "$runtime" && chmod 700 "$runtime"
  echo "export VK_ICD_FILENAMES=$icd"
  echo "export XDG_RUNTIME_DIR=$runtime"
}

if [ "${1:-}" = "--env" ]; then
  print_env
  exit 0
fi

src=/etc/apt/sources.list.d/debian.sources
dst=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -Eqrs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  if [ ! -f "$src" ]; then
    echo "lavapipe.sh: $src not found: this needs Debian 12's deb822 sources" >&2
    exit 1
  fi
  # paragraph mode: the first stanza serving bookworm itself (not -security)
  awk 'BEGIN { RS = ""; ORS = "\n" } /(^|\n)Suites:[^\n]*bookworm/ && !/bookworm-security/ { print; exit }' "$src" |
    sed 's/^Suites:.*/Suites: bookworm-backports/' >"$dst.tmp"
  if ! grep -q '^Suites: bookworm-backports$' "$dst.tmp"; then
    rm -f "$dst.tmp"
    echo "lavapipe.sh: no bookworm stanza in $src" >&2
    exit 1
  fi
  mv "$dst.tmp" "$dst"
fi

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
print_env
