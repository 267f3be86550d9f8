#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, and nothing twice:
#  - the software Vulkan driver (Mesa lavapipe from bookworm-backports) that Dawn runs on
#    when there is no GPU; bookworm's own Mesa 22 is too old for Dawn;
#  - the npm dependencies (npm ci), when node_modules is missing or differs from the lockfile;
#  - under CI=true, Debian's python3-torch when no python3 has torch (the PyTorch twin's tests).
# When everything is there it reaches no network (test/setup_script.test.ts checks that).
# Set RECONVLA_SKIP_APT=1 to skip the apt part (e.g. on a machine with a real GPU driver).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_vulkan() {
  # lavapipe's ICD file and the Vulkan loader, at Mesa >= 24. No pipelines here: under
  # pipefail, `ldconfig -p | grep -q` fails whenever grep exits first and ldconfig gets
  # SIGPIPE, which would reinstall (and reach the network) on a machine that has everything.
  local icd_dir="${RECONVLA_VULKAN_ICD_DIR:-/usr/share/vulkan/icd.d}" icds libs v
  icds=("$icd_dir"/lvp_icd*.json)
  [ -e "${icds[0]}" ] || return 0
  # ldconfig lives in /sbin, which a non-root PATH may lack.
  libs=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null || true)
  [[ "$libs" == *libvulkan.so.1* ]] || return 0
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
  dpkg --compare-versions "$v" ge 24 || return 0
  return 1
}

# node_modules matches package-lock.json when npm's own record of the install
# (node_modules/.package-lock.json) lists the same packages at the same versions. Compared by
# content, not by mtime: a checkout that merely touches the lockfile must not run npm ci.
need_npm_ci() {
  [ -f node_modules/.package-lock.json ] || return 0
  ! node -e '
    const want = require("./package-lock.json").packages ?? {}, have = require("./node_modules/.package-lock.json").packages ?? {};
    const same = (a, b) => a.version === b.version && a.resolved === b.resolved && !!a.link === !!b.link;
    for (const [k, p] of Object.entries(want)) {
      if (k === "") continue;
      if (!(k in have)) { if (p.optional) continue; process.exit(1); }  // optional: other platforms
      if (!same(p, have[k])) process.exit(1);
    }
    for (const k of Object.keys(have)) if (!(k in want)) process.exit(1);
  ' 2>/dev/null
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

# Under CI=true: Debian's PyTorch (python3-torch), which the fixture reproduction test
# (test/golden_reproducible.test.ts, running the twin in python/) needs and a CI run must not
# skip. Only when no python3 imports torch (scripts/find_torch_python.sh).
source scripts/find_torch_python.sh
if [ "${RECONVLA_SKIP_APT:-0}" != 1 ] && [[ "${CI:-}" == true || "${CI:-}" == 1 ]] && command -v apt-get >/dev/null && ! find_torch_python >/dev/null; then
  echo "[setup] CI=true: installing python3-torch (Debian) for the golden fixture reproduction test" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch >/dev/null
fi

# Under CI=true: Debian's Chromium, which the browser page test (test/browser_page.test.ts,
# examples/browser on the browser's WebGPU) drives headless and a CI run must not skip. Only when
# there is no browser at RECONVLA_CHROMIUM (default /usr/bin/chromium).
if [ "${RECONVLA_SKIP_APT:-0}" != 1 ] && [[ "${CI:-}" == true || "${CI:-}" == 1 ]] && command -v apt-get >/dev/null && [ ! -x "${RECONVLA_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "[setup] CI=true: installing chromium (Debian) for the browser page test" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if need_npm_ci; then
  echo "[setup] npm ci" >&2
  npm ci --no-audit --no-fund >/dev/null
fi

# Dawn needs a writable runtime dir; many containers have none.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -w "${XDG_RUNTIME_DIR}" ]; then
  export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/reconvla-xdg-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
