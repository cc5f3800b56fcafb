#!/usr/bin/env bash
# Create .venv with the project and its test tools installed (once; again when pyproject.toml
# changes). Python 3.11 is required by the pinned nameko stack.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "Python 3.11 is required (found $("$PY" --version)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
stamp=.venv/.installed
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]'
  touch "$stamp"
fi
