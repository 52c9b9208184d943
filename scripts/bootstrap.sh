#!/usr/bin/env bash
# Creates .venv with Python 3.10 and the exact dependency set in requirements.lock.
# Re-installs only when requirements.lock or pyproject.toml changed (stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
  local c
  for c in "${PYTHON310:-}" python3.10 "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/"3.10*/bin/python3.10 \
           "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -n "$c" ] || continue
    if "$c" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; then
      command -v "$c" 2>/dev/null || echo "$c"
      return 0
    fi
  done
  return 1
}

stamp=.venv/.installed-lock
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

if ! PY=$(find_python310); then
  echo "error: Python 3.10 was not found (Rasa 3.6 needs exactly 3.10)." >&2
  echo "       Install it (e.g. 'pyenv install 3.10') or set PYTHON310=/path/to/python3.10." >&2
  exit 2
fi
echo "==> using $PY"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)'; then
  rm -rf .venv
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "pip==24.0"
echo "==> installing pinned dependencies (requirements.lock)"
# (grep drops the machine-wide pip config's noise about absent local index folders)
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | { grep -v "is ignored: it is neither" || true; }
.venv/bin/python -m pip check
echo "$want" > "$stamp"
