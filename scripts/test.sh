#!/usr/bin/env bash
# The test command (README): set up, make sure the broker and database run, lint, test.
set -eu
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure-services.sh
.venv/bin/ruff check shared services hotline bench tests
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
