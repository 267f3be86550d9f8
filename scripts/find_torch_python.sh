# find_torch_python: prints the first python3 that imports torch ($RECONVLA_PYTHON, Debian's
# /usr/bin/python3, then the python3 on PATH, which may be a pyenv one without torch); fails if none.
find_torch_python() {
  local p
  for p in "${RECONVLA_PYTHON:-}" /usr/bin/python3 "$(command -v python3 || true)"; do
    [ -n "$p" ] && [ -x "$p" ] || continue
    if "$p" -c 'import torch' >/dev/null 2>&1; then echo "$p"; return 0; fi
  done
  return 1
}
