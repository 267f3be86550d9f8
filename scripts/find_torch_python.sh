# find_torch_python: prints the first python3 that imports torch: $RECONVLA_PYTHON, then the
# candidates in $RECONVLA_PYTHON_CANDIDATES (default: Debian's /usr/bin/python3, where apt's
# python3-torch lives, then the python3 on PATH, which may be a pyenv one without torch).
# Fails (status 1) if none does.
find_torch_python() {
  local p
  for p in "${RECONVLA_PYTHON:-}" ${RECONVLA_PYTHON_CANDIDATES:-/usr/bin/python3 python3}; do
    [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 || continue
    if "$p" -c 'import torch' >/dev/null 2>&1; then command -v "$p"; return 0; fi
  done
  return 1
}
