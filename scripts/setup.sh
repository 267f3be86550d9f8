#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, and nothing twice:
#  - the software Vulkan driver (Mesa lavapipe from bookworm-backports) that Dawn runs on
#    when there is no GPU; bookworm's own Mesa 22 is too old for Dawn;
#  - the npm dependencies (npm ci), when node_modules is missing or older than the lockfile.
# Set RECONVLA_SKIP_APT=1 to skip the apt part (e.g. on a machine with a real GPU driver).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_vulkan() {
  # lavapipe's ICD file and the Vulkan loader, at Mesa >= 24.
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || return 0
  ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || return 0
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
  dpkg --compare-versions "$v" ge 24 || return 0
  return 1
}

if [ "${RECONVLA_SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null && need_vulkan; then
  echo "[setup] installing Mesa lavapipe (mesa-vulkan-drivers, libvulkan1) from bookworm-backports" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci" >&2
  npm ci --no-audit --no-fund >/dev/null
fi

# Dawn needs a writable runtime dir; many containers have none.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -w "${XDG_RUNTIME_DIR}" ]; then
  export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/reconvla-xdg-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
